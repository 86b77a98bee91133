/** The housekeeping planner (lib/housekeeping/plan.ts): pure, over a listing and the facts of the referencing documents. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DELETE, KEEP, deletionOrder, planHousekeeping, type ListedObject, type RunFacts, type StoreFacts } from '../../lib/housekeeping/plan';
import { classifyKey, layout } from '../../lib/platform/layout';

const HOUR = 3_600_000;
const NOW = Date.UTC(2026, 2, 1);
const OLD = NOW - 30 * 24 * HOUR;
const btc = { exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h' };
const sha = (c: string) => c.repeat(64);
const policy = { graceMs: 48 * HOUR, keepTrainRuns: 2, historyFeatureSets: false };

const obj = (key: string, lastModified = OLD, size = 100): ListedObject => ({ key, size, lastModified });
const model = (id: string, t = OLD) => [obj(layout.model(id, 'model.onnx'), t, 1000), obj(layout.model(id, 'card.json'), t, 10)];
const ensemble = (id: string, t = OLD) => [obj(layout.model(id, 'card.json'), t, 10)];
const featureSet = (id: string, t = OLD) => [obj(layout.features(id, btc), t, 5000), obj(layout.featuresManifest(id), t, 50)];
const run = (id: string, t = OLD, evaluated = true) => [
  obj(layout.run(id, 'plan.json'), t),
  ...(evaluated ? [obj(layout.run(id, 'metrics.json'), t + HOUR), obj(layout.run(id, 'oos.parquet'), t + HOUR), obj(layout.run(id, 'report/index.html'), t + HOUR)] : []),
];
const runFacts = (runId: string, modelIds: string[], featureSetId: string, evaluated = true): RunFacts => ({ runId, seriesTarget: 'binance BTC/USDT 1h target_gk_1h', evaluated, modelIds, featureSetId });
const noFacts = (): StoreFacts => ({ champions: [], history: [], runs: [], manifests: [], ensembles: {}, newestForecasts: [] });

const plan = (listing: ListedObject[], facts: StoreFacts, p = policy) => planHousekeeping({ planId: 'p1', asOf: NOW, policy: p, listing, facts });
const groupOf = (pl: ReturnType<typeof plan>, kind: string, id: string) => {
  const g = pl.groups.find((x) => x.kind === kind && x.id === id);
  assert.ok(g, `no group ${kind}:${id}`);
  return g;
};
const deletedIds = (pl: ReturnType<typeof plan>) => pl.groups.filter((g) => g.action === 'delete').map((g) => `${g.kind}:${g.id}`).sort();

describe('housekeeping planner', () => {
  it("keeps the champion's model, its feature set and its run; deletes what nothing names", () => {
    const listing = [...model('m-champ'), ...model('m-stray'), ...featureSet('fs-champ'), ...featureSet('fs-stray'), ...run('r-champ'), ...run('r-stray', OLD, false)];
    const facts = noFacts();
    facts.champions.push({ where: layout.champion(btc, 'target_gk_1h'), modelId: 'm-champ', featureSetId: 'fs-champ', runId: 'r-champ' });
    const pl = plan(listing, facts);
    for (const [kind, id] of [['model', 'm-champ'], ['featureSet', 'fs-champ'], ['run', 'r-champ']] as const) {
      const g = groupOf(pl, kind, id);
      assert.equal(g.action, 'keep');
      assert.equal(g.reason, KEEP.champion);
      assert.equal(g.by, layout.champion(btc, 'target_gk_1h'));
    }
    assert.deepEqual(deletedIds(pl), ['featureSet:fs-stray', 'model:m-stray', 'run:r-stray']);
    assert.equal(groupOf(pl, 'model', 'm-stray').reason, DELETE.model);
    assert.equal(groupOf(pl, 'run', 'r-stray').reason, DELETE.incompleteRun);
    // Byte totals: per group, and per kind in the summary.
    assert.equal(groupOf(pl, 'model', 'm-stray').bytes, 1010);
    assert.deepEqual(pl.summary.delete.find((d) => d.kind === 'model')?.tally, { groups: 1, objects: 2, bytes: 1010 });
    assert.equal(pl.summary.listed.objects, listing.length);
    assert.equal(pl.summary.listed.bytes, listing.reduce((s, o) => s + o.size, 0));
  });

  it("keeps an ensemble champion's members (its card is all the ensemble stores)", () => {
    const listing = [...ensemble('ens-1'), ...model('m-a'), ...model('m-b'), ...model('m-c')];
    const facts = noFacts();
    facts.champions.push({ where: 'c', modelId: 'ens-1', featureSetId: null, runId: null });
    facts.ensembles['ens-1'] = ['m-a', 'm-b'];
    const pl = plan(listing, facts);
    assert.deepEqual(deletedIds(pl), ['model:m-c']);
    assert.equal(groupOf(pl, 'model', 'm-a').by, 'c (ensemble ens-1)');
  });

  it("keeps every history record's model and run; its feature set only when the policy says so", () => {
    const listing = [...model('m-old'), ...run('r-old'), ...featureSet('fs-old')];
    const facts = noFacts();
    facts.history.push({ where: 'h1', modelId: 'm-old', featureSetId: 'fs-old', runId: 'r-old' });
    const pl = plan(listing, facts);
    assert.equal(groupOf(pl, 'model', 'm-old').reason, KEEP.history);
    assert.equal(groupOf(pl, 'run', 'r-old').reason, KEEP.history);
    assert.deepEqual(deletedIds(pl), ['featureSet:fs-old']);
    assert.deepEqual(deletedIds(plan(listing, facts, { ...policy, historyFeatureSets: true })), []);
  });

  it('keeps the last N evaluated runs per series × target with their models and feature set; older runs go', () => {
    const t = (d: number) => OLD + d * 24 * HOUR;
    const listing = [
      ...run('r1', t(1)), ...run('r2', t(2)), ...run('r3', t(3)),
      ...model('m1', t(1)), ...model('m2', t(2)), ...model('m3', t(3)), ...model('shared', t(1)),
      ...featureSet('fs1', t(1)), ...featureSet('fs2', t(2)), ...featureSet('fs3', t(3)),
    ];
    const facts = noFacts();
    // r3 reuses a fit first made by r1: it stays while r3 is kept.
    facts.runs.push(runFacts('r1', ['m1', 'shared'], 'fs1'), runFacts('r2', ['m2'], 'fs2'), runFacts('r3', ['m3', 'shared'], 'fs3'));
    const pl = plan(listing, facts);
    assert.deepEqual(deletedIds(pl), ['featureSet:fs1', 'model:m1', 'run:r1']);
    assert.equal(groupOf(pl, 'run', 'r1').reason, DELETE.oldRun);
    for (const id of ['r2', 'r3']) assert.equal(groupOf(pl, 'run', id).reason, KEEP.recentRun);
    assert.equal(groupOf(pl, 'model', 'shared').by, 'run r3');
    // Runs of another series × target count separately.
    facts.runs.push({ ...runFacts('r1', ['m1', 'shared'], 'fs1'), seriesTarget: 'binance BTC/USDT 1h target_rv_24h' });
    facts.runs.splice(0, 1);
    assert.deepEqual(deletedIds(plan(listing, facts)), []);
  });

  it('keeps anything younger than the grace period, and what an in-flight run names', () => {
    const young = NOW - HOUR;
    const listing = [...model('m-new', young), ...featureSet('fs-new', young), ...run('r-inflight', young, false), ...model('m-reused'), ...featureSet('fs-old')];
    const facts = noFacts();
    facts.runs.push(runFacts('r-inflight', ['m-new', 'm-reused'], 'fs-old', false));
    const pl = plan(listing, facts);
    assert.deepEqual(deletedIds(pl), []);
    assert.equal(groupOf(pl, 'featureSet', 'fs-new').reason, KEEP.young);
    assert.equal(groupOf(pl, 'model', 'm-reused').reason, KEEP.inFlight);
    // A group is as young as its newest object: one fresh object keeps the whole feature set.
    const mixed = plan([obj(layout.features('fs-mixed', btc), OLD), obj(layout.featuresManifest('fs-mixed'), young)], noFacts());
    assert.deepEqual(deletedIds(mixed), []);
    // Past the grace period the same run is abandoned.
    assert.deepEqual(deletedIds(planHousekeeping({ planId: 'p1', asOf: NOW + 72 * HOUR, policy, listing, facts })).sort(), ['featureSet:fs-new', 'featureSet:fs-old', 'model:m-new', 'model:m-reused', 'run:r-inflight']);
  });

  it("keeps the newest forecast's feature set (the read API's realized values)", () => {
    const facts = noFacts();
    facts.newestForecasts.push({ where: 'binance BTC/USDT 1h target_gk_1h 2026-02', featureSetId: 'fs-score' });
    const pl = plan([...featureSet('fs-score'), ...featureSet('fs-older-score')], facts);
    assert.equal(groupOf(pl, 'featureSet', 'fs-score').reason, KEEP.newestForecast);
    assert.deepEqual(deletedIds(pl), ['featureSet:fs-older-score']);
  });

  it('deletes orphan candle partitions older than the grace period; keeps named, young, and those of a recently changed manifest', () => {
    const named = layout.candlesPartition(btc, '2026-01', sha('a'));
    const orphan = layout.candlesPartition(btc, '2026-01', sha('b'));
    const youngOrphan = layout.candlesPartition(btc, '2026-02', sha('c'));
    const manifest = layout.candlesManifest(btc);
    const facts = noFacts();
    facts.manifests.push({ key: manifest, partitionKeys: [named] });
    const listing = [obj(named), obj(orphan), obj(youngOrphan, NOW - HOUR), obj(manifest), obj(layout.candlesAcks(btc)), obj(layout.candles(btc, '2025-12'))];
    const pl = plan(listing, facts);
    assert.deepEqual(deletedIds(pl), [`candlePartition:${orphan}`]);
    assert.equal(groupOf(pl, 'candlePartition', orphan).reason, DELETE.candlePartition);
    assert.equal(groupOf(pl, 'candlePartition', named).reason, KEEP.manifest);
    assert.equal(groupOf(pl, 'candlePartition', youngOrphan).reason, KEEP.young);
    // The manifest just replaced a month: a reader of its previous version may still read the old partition.
    const changed = plan([obj(named), obj(orphan), obj(manifest, NOW - HOUR)], facts);
    assert.deepEqual(deletedIds(changed), []);
    assert.equal(groupOf(changed, 'candlePartition', orphan).reason, KEEP.manifestChanged);
  });

  it('never deletes predictions, the registry, candle manifests, probes or unknown prefixes, however old', () => {
    const listing = [
      obj(layout.predictions(btc, 'target_gk_1h', '2020-01')),
      obj(layout.champion(btc, 'target_gk_1h')),
      obj(layout.championHistory(btc, 'target_gk_1h', '20200101T000000000Z')),
      obj(layout.candlesManifest(btc)),
      obj(layout.probe('p', 'probe.json')),
      obj('backups/2020/dump.tar'),
      obj('models/odd/extra.bin'),
      obj('runs/r/notes.txt'),
      obj('features/fs/../escape.parquet'),
      obj('README'),
    ];
    const pl = plan(listing, noFacts());
    assert.deepEqual(deletedIds(pl), []);
    const reasons = new Set(pl.groups.map((g) => g.reason));
    assert.deepEqual([...reasons].sort(), [KEEP.forever, KEEP.notManaged, KEEP.unknown].sort());
    for (const k of ['backups/2020/dump.tar', 'models/odd/extra.bin', 'runs/r/notes.txt', 'README']) assert.equal(classifyKey(k).kind, 'unknown', k);
  });

  it('deletes earlier housekeeping plans past the grace period, never the current one', () => {
    const pl = plan([obj(layout.housekeepingPlan('p0')), obj(layout.housekeepingPlan('p1'), OLD)], noFacts());
    assert.deepEqual(deletedIds(pl), ['housekeepingPlan:p0']);
  });

  it('is idempotent: planning again over what is left deletes nothing', () => {
    const listing = [...model('m-stray'), ...featureSet('fs-stray'), ...run('r-stray', OLD, false), ...model('m-champ')];
    const facts = noFacts();
    facts.champions.push({ where: 'c', modelId: 'm-champ', featureSetId: null, runId: null });
    const first = plan(listing, facts);
    const gone = new Set(first.groups.flatMap((g) => g.keys ?? []));
    assert.equal(gone.size, 5);
    assert.deepEqual(deletedIds(plan(listing.filter((o) => !gone.has(o.key)), facts)), []);
  });

  it('orders deletions commit points first (manifest, card, plan), so a crash leaves no group that looks complete', () => {
    const pl = plan([...featureSet('fs'), ...model('m'), ...run('r', OLD, false)], noFacts());
    const { first, then } = deletionOrder(pl);
    assert.deepEqual(first.sort(), [layout.featuresManifest('fs'), layout.model('m', 'card.json'), layout.run('r', 'plan.json')].sort());
    assert.deepEqual(then.sort(), [layout.features('fs', btc), layout.model('m', 'model.onnx')].sort());
  });

  it('refuses a policy it cannot apply, naming the field', () => {
    assert.throws(() => plan([], noFacts(), { ...policy, graceMs: -1 }), /policy\.graceMs/);
    assert.throws(() => plan([], noFacts(), { ...policy, keepTrainRuns: 0 }), /policy\.keepTrainRuns/);
  });
});

describe('classifyKey reads back every key the layout builds', () => {
  it('round-trips', () => {
    assert.deepEqual(classifyKey(layout.candlesPartition(btc, '2026-01', sha('d'))), { kind: 'candlePartition', seriesPrefix: layout.candlesPrefix(btc), month: '2026-01', sha256: sha('d') });
    assert.deepEqual(classifyKey(layout.candlesManifest(btc)), { kind: 'candleManifest', seriesPrefix: layout.candlesPrefix(btc) });
    assert.deepEqual(classifyKey(layout.candlesAcks(btc)), { kind: 'candleAcks', seriesPrefix: layout.candlesPrefix(btc) });
    assert.deepEqual(classifyKey(layout.candles(btc, '2024-03')), { kind: 'candleLegacyMonth', seriesPrefix: layout.candlesPrefix(btc), month: '2024-03' });
    assert.deepEqual(classifyKey(layout.features('fs1', btc)), { kind: 'featureSet', featureSetId: 'fs1', file: 'binance/BTC-USDT/1h.parquet' });
    assert.deepEqual(classifyKey(layout.featuresManifest('fs1')), { kind: 'featureSet', featureSetId: 'fs1', file: '_manifest.json' });
    assert.deepEqual(classifyKey(layout.model('m1', 'model.onnx')), { kind: 'model', modelId: 'm1', file: 'model.onnx' });
    for (const f of ['oos.parquet', 'metrics.json', 'report/index.html', 'decision.json', 'plan.json'] as const) assert.deepEqual(classifyKey(layout.run('r1', f)), { kind: 'run', runId: 'r1', file: f });
    assert.deepEqual(classifyKey(layout.champion(btc, 'target_gk_1h')), { kind: 'registry', record: 'champion' });
    assert.deepEqual(classifyKey(layout.championHistory(btc, 'target_gk_1h', '20260101T000000000Z')), { kind: 'registry', record: 'history' });
    assert.deepEqual(classifyKey(layout.predictions(btc, 'target_rv_24h', '2026-02')), { kind: 'predictions', exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', target: 'target_rv_24h', month: '2026-02' });
    assert.deepEqual(classifyKey(layout.probe('r', 'probe.json')), { kind: 'probe', runId: 'r' });
    assert.deepEqual(classifyKey(layout.housekeepingPlan('p')), { kind: 'housekeepingPlan', planId: 'p' });
  });
});
