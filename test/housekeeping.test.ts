/**
 * Housekeeping on the real stack (Temporal dev server, MinIO, both workers as processes, the replay
 * exchange): after a train, several scores and a second train, cleanup deletes what nothing
 * references, and afterwards scoring and the read API still work: nothing a champion or the API
 * needs was deleted. A dry run deletes nothing; a second run deletes nothing. The suite has its own
 * bucket: cleanup judges the whole bucket, and other suites' objects are not its business.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import type { HousekeepingResult } from '../contracts/types';
import { startReplayExchange, type ReplayExchange } from '../infra/replayExchange';
import { createApi } from '../lib/api/server';
import { housekeepingInput, scoreInput as scoreInputOf, trainInput as trainInputOf } from '../lib/orchestration/inputs';
import type { VolcastConfig } from '../lib/platform/config';
import { layout } from '../lib/platform/layout';
import { repoRoot } from '../lib/platform/paths';
import { ArtifactStore, sha256Of } from '../lib/platform/store';
import { connectClient } from '../lib/platform/temporal';
import { championHistory, readChampion } from '../lib/promotion/registry';
import { readCard } from '../lib/scoring/cards';
import type { ResolvedProtocol } from '../lib/training/protocols';
import { startWorker, stopWorker, type LocalWorker } from '../workers/local';
import { housekeeping, score, train, backfill, type TrainResult } from '../workflows';
import { testConfig, uid } from './helpers';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const SYMBOL = 'LINK/USDT';
const TARGET = 'target_gk_1h';

// Cheap models only: two 3-day validation folds and a 3-day holdout after 60 days of training.
const protocol: ResolvedProtocol = {
  name: 'test',
  description: 'housekeeping: persistence and har_x, 3 folds of 3 days',
  targets: [TARGET],
  lookbackBars: null,
  walkForward: { firstTrainBars: 60 * 24, testBars: 72, stepBars: 72, window: 'rolling', embargoBars: 0, folds: 3 },
  models: [
    { name: 'persistence', kind: 'persistence', params: {} },
    { name: 'har_x', kind: 'har_x', params: {} },
  ],
  ensembles: [],
  seed: 7,
};

describe('housekeeping on the real stack: train, scores, train again, cleanup', () => {
  let cfg: VolcastConfig;
  let client: Client;
  let store: ArtifactStore;
  let replay: ReplayExchange;
  let end: number;
  let env: Record<string, string>;
  const workers: LocalWorker[] = [];
  const trains: TrainResult[] = [];
  const series = { exchange: 'binance', symbol: SYMBOL, timeframe: '1h' };
  const orphan = layout.candlesPartition(series, '2020-01', sha256Of('a losing writer'));
  const crashedPlan = layout.run('crashed-run', 'plan.json');
  const stranger = 'scratch/notes.txt';

  before(async () => {
    replay = await startReplayExchange({ port: 0, symbols: [SYMBOL] });
    end = replay.now();
    replay.setNow(end - DAY);
    const base = testConfig();
    const bucket = uid('hk').toLowerCase();
    cfg = { ...base, minio: { ...base.minio, bucket }, exchanges: [{ id: 'binance', urlOverride: replay.url }] };
    store = new ArtifactStore(cfg);
    await store.ensureBucket(cfg.minio.region);
    env = { VOLCAST_EXCHANGE_URL: replay.url, VOLCAST_BUCKET: bucket };
    workers.push(await startWorker(cfg, 'cpu', { env }), await startWorker(cfg, 'train', { gpuOnCpu: true, env }));
    client = await connectClient(cfg);
    const bf = await client.workflow.execute(backfill, {
      taskQueue: cfg.taskQueues.cpu,
      workflowId: uid('hk-backfill'),
      args: [{ symbols: [SYMBOL], timeframe: '1h', from: end - 100 * DAY, now: replay.now(), exchange: 'binance', concurrency: 1, monthsPerActivity: 12 }],
    });
    assert.equal(bf.symbols[0]!.status, 'done');
  });

  after(async () => {
    for (const w of workers) await stopWorker(w);
    await client?.connection.close();
    await replay?.close();
  });

  const runTrain = async () => {
    const input = { ...trainInputOf(cfg, { symbols: [SYMBOL] }), protocol, now: replay.now() };
    const r = await client.workflow.execute(train, { taskQueue: cfg.taskQueues.cpu, workflowId: uid('hk-train'), args: [input] });
    trains.push(r);
    return r;
  };
  const runScore = (now: number) =>
    client.workflow.execute(score, { taskQueue: cfg.taskQueues.cpu, workflowId: uid('hk-score'), args: [{ ...scoreInputOf(cfg, { symbols: [SYMBOL], targets: [TARGET], now }) }] });
  // The test's policy: the last run only, a 1-hour grace, judged at `cutoff` + 1 hour: everything
  // written before the cutoff is old, everything after it (the plans, later scores) young. The CLI
  // runs with the config's policy (48h, 3 runs) at `cutoff` + 48h: the same cutoff.
  let cutoff: number;
  const policy = () => ({ ...housekeepingInput(cfg).policy, graceMs: HOUR, keepTrainRuns: 1 });
  const runCleanup = (dryRun: boolean): Promise<HousekeepingResult> =>
    client.workflow.execute(housekeeping, {
      taskQueue: cfg.taskQueues.cpu,
      workflowId: uid('hk-cleanup'),
      args: [{ policy: policy(), dryRun, now: cutoff + HOUR }],
    });
  const cliNow = () => String(cutoff + 48 * HOUR);
  const keys = async () => new Set((await store.list('')).map((o) => o.key));
  const deletedObjects = (r: HousekeepingResult) => (r.applied?.deleted ?? []).reduce((s, d) => s + d.tally.objects, 0);

  function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [join(repoRoot, 'cli', 'volcast.js'), ...args], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      child.once('exit', (status) => resolve({ status, stdout, stderr }));
    });
  }

  it('a train, three scores, an orphan partition, a crashed run and a second train a day later', async () => {
    const first = await runTrain();
    assert.ok(first.results[0]!.serving && ['bootstrap', 'promote'].includes(first.results[0]!.serving.action), JSON.stringify(first.results[0]!.serving));
    for (let h = 0; h < 3; h++) {
      replay.setNow(end - DAY + h * HOUR);
      const r = await runScore(replay.now() + 5 * 60_000);
      assert.equal(r.forecasts.length, 1);
    }
    // What a losing lake writer leaves (a partition its manifest never named), a run that died after
    // planning, and an object of nobody's layout.
    await store.putBuffer(orphan, 'not really parquet');
    await store.putJson(crashedPlan, { runId: 'crashed-run', series, target: TARGET, featureSetId: first.featureSetId, fits: [] });
    await store.putBuffer(stranger, 'mine');
    replay.setNow(end);
    const second = await runTrain();
    assert.equal(second.results[0]!.serving?.action, 'refresh', JSON.stringify(second.results[0]!.serving));
    assert.notEqual(second.featureSetId, first.featureSetId);
    // Listings carry MinIO's last-modified time (whole seconds): a margin keeps the cutoff clear of them.
    await new Promise((r) => setTimeout(r, 1500));
    cutoff = Date.now() - 1000;
  });

  let listedBefore: Set<string>;
  it('a dry run plans the deletions and deletes nothing', async () => {
    listedBefore = await keys();
    const r = await runCleanup(true);
    assert.equal(r.dryRun, true);
    assert.equal(r.applied, null);
    const kinds = r.summary.delete.map((d) => d.kind).sort();
    for (const k of ['candlePartition', 'featureSet', 'model', 'run']) assert.ok(kinds.includes(k as never), `${k} in ${kinds.join(', ')}`);
    const after = await keys();
    // Nothing deleted; the plan itself is the one object added.
    assert.deepEqual([...listedBefore].filter((k) => !after.has(k)), []);
    assert.deepEqual([...after].filter((k) => !listedBefore.has(k)), [r.planRef.key]);
    // The CLI prints the same plan grouped by kind with sizes, and what is kept and why.
    const out = await cli(['data', 'cleanup', '--dry-run', '--now', cliNow()]);
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, /would delete: \d+ object\(s\), [\d.]+ [kMG]?B/);
    // (The config keeps the last 3 runs: the first train's fits stay there.)
    for (const k of ['feature sets', 'runs', 'candle partitions']) assert.match(out.stdout, new RegExp(`\\n  ${k} +\\d+ \\(\\d+ objects\\) +[\\d.]+ [kMG]?B  `), k);
    assert.match(out.stdout, /kept:\n(.*\n)*.*named by a current champion/);
    assert.match(out.stdout, /never deleted \(predictions, the registry/);
    console.log(out.stdout);
  });

  it('cleanup deletes what nothing references and keeps what champions, history, the last run and the newest forecast name', async () => {
    const listed = await store.list('');
    const t0 = Date.now();
    const r = await runCleanup(false);
    const seconds = (Date.now() - t0) / 1000;
    const gone = [...(await keys())];
    const left = new Set(gone);
    const deleted = listed.filter((o) => !left.has(o.key));
    const bytes = deleted.reduce((s, o) => s + o.size, 0);
    console.log(`housekeeping: ${listed.length} objects (${listed.reduce((s, o) => s + o.size, 0)} bytes) listed, ${deleted.length} deleted (${bytes} bytes) in ${seconds.toFixed(1)}s: ${JSON.stringify(r.applied?.deleted)}`);
    assert.equal(deletedObjects(r), deleted.length);
    assert.equal(r.applied!.deleted.reduce((s, d) => s + d.tally.bytes, 0), bytes);
    assert.ok(deleted.length > 0);
    // The workflow carries the plan's reference and totals, never the listing.
    const payload = Buffer.byteLength(JSON.stringify(r));
    console.log(`housekeeping result payload: ${payload} bytes; plan object ${r.planRef.size} bytes`);
    assert.ok(payload < 8 * 1024, `${payload} bytes`);

    const champion = (await readChampion(store, series, TARGET))!;
    const history = await championHistory(store, series, TARGET);
    assert.ok(history.length >= 2);
    // The champion's model, card, feature set and run; every history record's model and run.
    for (const k of [layout.model(champion.modelId, 'model.onnx'), layout.model(champion.modelId, 'card.json'), layout.featuresManifest(champion.featureSetId), layout.features(champion.featureSetId, series)]) assert.ok(left.has(k), k);
    for (const h of history) {
      assert.ok(left.has(layout.model(h.modelId, 'model.onnx')), `history model ${h.modelId}`);
      assert.ok(left.has(layout.run(h.runId!, 'metrics.json')), `history run ${h.runId}`);
    }
    // The last run with every fit it made.
    const lastRun = trains[1]!.results[0]!.runId;
    for (const f of ['plan.json', 'metrics.json', 'decision.json', 'report/index.html', 'oos.parquet'] as const) assert.ok(left.has(layout.run(lastRun, f)), f);
    // Deleted: the orphan partition, the crashed run, the first train's feature set (only history names it), older scores' feature sets, first-run fold fits.
    assert.ok(!left.has(orphan));
    assert.ok(!left.has(crashedPlan));
    assert.ok(!left.has(layout.featuresManifest(trains[0]!.featureSetId)));
    assert.ok(deleted.some((o) => o.key.startsWith('models/')));
    // Never deleted: predictions, the registry, candle manifests and named partitions, unknown keys.
    for (const o of listed) if (/^(predictions|registry)\//.test(o.key) || o.key.endsWith('_manifest.json') && o.key.startsWith('candles/')) assert.ok(left.has(o.key), o.key);
    assert.ok(left.has(stranger));
  });

  it('a second cleanup deletes nothing (the workflow and the CLI)', async () => {
    const r = await runCleanup(false);
    // The same cutoff: what the first run kept is kept again, what it deleted is gone, its plan is young.
    assert.equal(deletedObjects(r), 0, JSON.stringify(r.summary.delete));
    const out = await cli(['data', 'cleanup', '--now', cliNow()]);
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, /deleted: 0 object\(s\)/);
  });
  it('afterwards scoring, the model card and the read API still work', async () => {
    const champion = (await readChampion(store, series, TARGET))!;
    const { card } = await readCard(store, champion.cardRef);
    assert.equal(card.modelId, champion.modelId);
    const r = await runScore(replay.now() + 5 * 60_000);
    assert.equal(r.forecasts[0]!.modelId, champion.modelId);
    const { app } = createApi({ cfg: { ...cfg, symbols: [SYMBOL] }, store, now: () => replay.now() + 10 * 60_000 });
    try {
      const latest = await app.inject({ method: 'GET', url: `/v1/forecasts/LINK-USDT/${TARGET}/latest` });
      assert.equal(latest.statusCode, 200, latest.body);
      assert.equal(latest.json().status, 'current');
      const card = await app.inject({ method: 'GET', url: `/v1/champions/LINK-USDT/${TARGET}` });
      assert.equal(card.statusCode, 200, card.body);
      assert.equal(card.json().champion.modelId, champion.modelId);
      const runView = await app.inject({ method: 'GET', url: `/v1/runs/${champion.runId}` });
      assert.equal(runView.statusCode, 200, runView.body);
      const hist = await app.inject({ method: 'GET', url: `/v1/champions/LINK-USDT/${TARGET}/history` });
      for (const item of hist.json().items as { runId: string }[]) {
        const v = await app.inject({ method: 'GET', url: `/v1/runs/${item.runId}` });
        assert.equal(v.statusCode, 200, `history run ${item.runId}`);
      }
      const page = await app.inject({ method: 'GET', url: `/v1/forecasts/LINK-USDT/${TARGET}?from=${end - 2 * DAY}&to=${end + DAY}` });
      assert.equal(page.statusCode, 200, page.body);
      // Realized values come from the newest forecast's feature set: it was kept.
      assert.ok((page.json().items as { realized: number | null }[]).some((i) => i.realized !== null), page.body);
    } finally {
      await app.close();
    }
  });

});
