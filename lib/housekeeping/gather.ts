/**
 * Reads what the planner needs from the bucket: the listing, and the facts of every document that
 * references other objects (champion records and their history, runs' plan/metrics/decision,
 * candle manifests, ensemble cards, the newest forecast of each series × target). A document that
 * cannot be read stops housekeeping (CorruptDocumentError naming it): deleting on a partial view
 * could delete what the unreadable document names.
 */
import type { ChampionRecord, PlanDocument } from '../../contracts/types';
import type { EnsembleCard, MetricsDocument } from '../evaluation/types';
import { CorruptDocumentError } from '../platform/errors';
import { classifyKey, layout, type KeyClass } from '../platform/layout';
import type { ArtifactStore, ListedObject } from '../platform/store';
import { parseRecord } from '../promotion/registry';
import { readPredictions } from '../scoring/predictions';
import type { RecordFacts, RunFacts, StoreFacts } from './plan';

async function readJson<T>(store: ArtifactStore, key: string): Promise<T | null> {
  const got = await store.readLatest(key);
  if (!got) return null; // deleted since the listing: nothing to learn from it
  try {
    return JSON.parse(got.data.toString('utf8')) as T;
  } catch (err) {
    throw new CorruptDocumentError(`housekeeping cannot read s3://${store.bucket}/${key}: not valid JSON (${(err as Error).message}); nothing was deleted: fix or remove that object, then run it again`);
  }
}

function recordFacts(r: ChampionRecord, where: string): RecordFacts {
  return { where, modelId: r.modelId, featureSetId: r.featureSetId ?? null, runId: r.runId ?? null };
}

const seriesTarget = (s: { exchange: string; symbol: string; timeframe: string } | undefined, target: string | undefined) =>
  s && target ? `${s.exchange} ${s.symbol} ${s.timeframe} ${target}` : null;

export async function gatherFacts(store: ArtifactStore, beat: (what: string) => void = () => undefined): Promise<{ listing: ListedObject[]; facts: StoreFacts }> {
  const listing = await store.list('');
  beat(`listed ${listing.length} objects`);
  const classes = listing.map((o) => ({ o, c: classifyKey(o.key) }));
  const of = <K extends KeyClass['kind']>(kind: K) => classes.filter((x): x is { o: ListedObject; c: Extract<KeyClass, { kind: K }> } => x.c.kind === kind);
  const facts: StoreFacts = { champions: [], history: [], runs: [], manifests: [], ensembles: {}, newestForecasts: [] };

  for (const { o, c } of of('registry')) {
    if (!c.record) continue;
    const got = await store.readLatest(o.key);
    if (!got) continue;
    let r: ChampionRecord;
    try {
      r = parseRecord(got.data, `s3://${store.bucket}/${o.key}`);
    } catch (err) {
      throw new CorruptDocumentError(`housekeeping cannot read ${(err as Error).message}; nothing was deleted`);
    }
    (c.record === 'champion' ? facts.champions : facts.history).push(recordFacts(r, o.key));
  }
  beat(`read ${facts.champions.length} champions, ${facts.history.length} history records`);

  const runs = new Map<string, Set<string>>();
  for (const { c } of of('run')) runs.set(c.runId, (runs.get(c.runId) ?? new Set()).add(c.file));
  for (const [runId, files] of runs) {
    const run: RunFacts = { runId, seriesTarget: null, evaluated: files.has('metrics.json'), modelIds: [], featureSetId: null };
    if (files.has('plan.json')) {
      const plan = await readJson<PlanDocument>(store, layout.run(runId, 'plan.json'));
      if (plan) {
        run.seriesTarget = seriesTarget(plan.series, plan.target);
        run.featureSetId = plan.featureSetId ?? null;
        for (const f of plan.fits ?? []) if (f.modelId) run.modelIds.push(f.modelId);
      }
    }
    if (files.has('metrics.json')) {
      const m = await readJson<MetricsDocument>(store, layout.run(runId, 'metrics.json'));
      if (m) {
        run.seriesTarget ??= seriesTarget(m.series, m.target);
        for (const model of m.models ?? []) for (const p of model.parity ?? []) run.modelIds.push(p.modelId);
        for (const e of m.ensembles ?? []) for (const f of e.folds ?? []) run.modelIds.push(f.modelId);
      }
    }
    if (files.has('decision.json')) {
      const d = await readJson<{ serving?: { modelId?: string | null } }>(store, layout.run(runId, 'decision.json'));
      if (d?.serving?.modelId) run.modelIds.push(d.serving.modelId);
    }
    run.modelIds = [...new Set(run.modelIds)].sort();
    facts.runs.push(run);
  }
  beat(`read ${facts.runs.length} runs`);

  for (const { o } of of('candleManifest')) {
    const m = await readJson<{ partitions?: Record<string, { key?: string } | null> }>(store, o.key);
    if (!m) continue;
    if (typeof m.partitions !== 'object' || m.partitions === null) {
      throw new CorruptDocumentError(`housekeeping cannot read s3://${store.bucket}/${o.key}: no partitions; nothing was deleted: repair the lake (volcast data import) first`);
    }
    facts.manifests.push({ key: o.key, partitionKeys: Object.values(m.partitions).flatMap((p) => (p?.key ? [p.key] : [])) });
  }

  // An ensemble stores only its card (no model.onnx): its members are other models.
  const onnx = new Set(of('model').filter((x) => x.c.file === 'model.onnx').map((x) => x.c.modelId));
  for (const { o, c } of of('model')) {
    if (c.file !== 'card.json' || onnx.has(c.modelId)) continue;
    const card = await readJson<Partial<EnsembleCard>>(store, o.key);
    if (card?.kind === 'ensemble') facts.ensembles[c.modelId] = (card.members ?? []).map((m) => m.modelId);
  }

  // The newest month of each series × target's forecasts; its newest rows name the feature set the read API reads realized values from.
  const newestMonth = new Map<string, Extract<KeyClass, { kind: 'predictions' }>>();
  for (const { c } of of('predictions')) {
    const k = `${c.exchange} ${c.symbol} ${c.timeframe} ${c.target}`;
    const cur = newestMonth.get(k);
    if (!cur || cur.month < c.month) newestMonth.set(k, c);
  }
  for (const c of newestMonth.values()) {
    const rows = await readPredictions(store, { exchange: c.exchange, symbol: c.symbol, timeframe: c.timeframe }, c.target, c.month);
    const last = rows.length ? rows[rows.length - 1]!.barTs : null;
    for (const id of new Set(rows.filter((r) => r.barTs === last).map((r) => r.featureSetId))) {
      if (id) facts.newestForecasts.push({ where: `${c.exchange} ${c.symbol} ${c.timeframe} ${c.target} ${c.month}`, featureSetId: id });
    }
  }
  beat('read manifests, ensembles and the newest forecasts');
  return { listing, facts };
}
