/**
 * The evaluate stage: scores every fitted model's ONNX on its fold's test rows, records parity into
 * each card, builds the ensembles (weights from earlier folds only), scores the served artifact on
 * the holdout, computes metrics and the gates' statistics, and writes runs/{runId}/oos.parquet,
 * metrics.json and report/index.html. Deterministic: the same input writes the same objects (no
 * clock in any output), so a retried activity is harmless.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { barMsOf, horizonBarsOf, isBaselineKind } from '../../contracts/domain';
import type { EnsembleSpec, EvalFold, EvalModel, EvaluateInput, EvaluateResult, ModelRole, ServedArtifact } from '../../contracts/types';
import { queryRows, sqlString, withDuck } from '../platform/duckdb';
import { EvaluationInputError } from '../platform/errors';
import { layout } from '../platform/layout';
import type { ArtifactStore } from '../platform/store';
import { checkParity, scoreModel } from '../scoring';
import { readCard, writeParity } from '../scoring/cards';
import { computeMetrics, type FoldStatus, type ModelPredictions } from './compute';
import { combineVol, ensembleModelId, ensembleQlike, fitQlikeWeights, selectBest } from './ensemble';
import { targetKnownBy } from './intervals';
import { writeOosParquet, type OosRow } from './oos';
import { buildReport } from './report';
import type { EnsembleCard, EnsembleMember, EnsembleRecord, FoldParity, MetricsDocument, ModelExplanation } from './types';

export type Beat = (detail: Record<string, unknown>) => void;

function validate(input: EvaluateInput): void {
  const folds = new Set(input.folds.map((f) => f.fold));
  if (folds.size !== input.folds.length) throw new EvaluationInputError('fold numbers must be unique');
  if (!input.folds.length) throw new EvaluationInputError('no fold to evaluate');
  for (const f of input.folds) {
    if (!(f.test.startTs < f.test.endTs)) throw new EvaluationInputError(`fold ${f.fold}: test.startTs must be < test.endTs`);
  }
  if (input.folds.filter((f) => f.holdout).length > 1) throw new EvaluationInputError('more than one holdout fold');
  if (!input.models.length && !(input.failures ?? []).length) throw new EvaluationInputError('no model to evaluate');
  const seen = new Set<string>();
  const kinds = new Map<string, string>();
  for (const m of input.models) {
    if (!folds.has(m.fold)) throw new EvaluationInputError(`model ${m.name}: fold ${m.fold} is not one of the run's folds`);
    const k = `${m.name}\u0000${m.fold}`;
    if (seen.has(k)) throw new EvaluationInputError(`model ${m.name} appears twice for fold ${m.fold}`);
    seen.add(k);
    if (kinds.has(m.name) && kinds.get(m.name) !== m.kind) throw new EvaluationInputError(`model ${m.name} has two kinds: ${kinds.get(m.name)}, ${m.kind}`);
    kinds.set(m.name, m.kind);
  }
}

async function readActual(featuresPath: string, target: string): Promise<Map<number, number | null>> {
  return withDuck(async (db) => {
    const cols = (await queryRows<{ column_name: string }>(db, `DESCRIBE SELECT * FROM read_parquet(${sqlString(featuresPath)})`)).map((r) => r.column_name);
    if (!cols.includes(target)) throw new EvaluationInputError(`the feature set has no target column ${target}`);
    const reader = await db.runAndReadAll(`SELECT ts, CAST("${target.replaceAll('"', '""')}" AS DOUBLE) FROM read_parquet(${sqlString(featuresPath)}) ORDER BY ts`);
    const [ts, v] = reader.getColumnsJS() as [bigint[], (number | null)[]];
    return new Map(ts.map((t, i) => [Number(t), v[i] ?? null]));
  });
}

const roleOf = (kind: string, name: string, incumbent: string | null | undefined): ModelRole =>
  name === incumbent ? 'incumbent' : isBaselineKind(kind) ? 'baseline' : 'challenger';

interface Scored {
  name: string;
  kind: string;
  byFold: Map<number, { model: EvalModel; rows: { ts: number; forecast: number; sigma: number | null }[]; parity: FoldParity; shap: { rows: number; meanAbs: Record<string, number> } | null }>;
}

/** Scores one artifact on a window and checks its parity, writing the result into its card. */
async function scoreArtifact(store: ArtifactStore, m: Pick<EvalModel, 'modelId' | 'modelRef' | 'cardRef'>, target: string, featuresPath: string, window: { startTs: number; endTs: number }, fold: number, beat?: Beat) {
  const { card, sourceSha256 } = await readCard(store, m.cardRef);
  if (card.target !== target) throw new EvaluationInputError(`model ${m.modelId} predicts ${card.target}, the run evaluates ${target}`);
  const scored = await scoreModel({
    modelPath: await store.getFile(m.modelRef),
    modelSha256: m.modelRef.sha256,
    card,
    featuresPath,
    window,
    onBatch: beat ? (done, total) => beat({ stage: 'score', modelId: m.modelId, rows: done, of: total }) : undefined,
  });
  const parity = checkParity(scored, card, window, sourceSha256);
  const cardRef = await writeParity(store, m.cardRef, card, parity);
  const rows = scored.ts.map((ts, i) => ({ ts, forecast: scored.vol[i]!, sigma: scored.sigma ? scored.sigma[i]! : null }));
  const fp: FoldParity = { fold, modelId: m.modelId, cardRef, passed: parity.passed, maxRelError: parity.maxRelError, reason: parity.reason };
  const shap = (card as { fitted?: { shap?: { rows?: number; meanAbs?: Record<string, number> } } }).fitted?.shap;
  return { rows, parity: fp, shap: shap?.meanAbs ? { rows: shap.rows ?? 0, meanAbs: shap.meanAbs } : null };
}

export async function evaluateRun(store: ArtifactStore, input: EvaluateInput, beat: Beat = () => {}): Promise<EvaluateResult> {
  validate(input);
  const bar = barMsOf(input.series.timeframe);
  const horizon = horizonBarsOf(input.target);
  const folds: EvalFold[] = input.folds.map((f, i) => ({ ...f, holdout: f.holdout ?? i === input.folds.length - 1 }));
  const holdout = folds.find((f) => f.holdout)!;
  const featuresPath = await store.getFile(input.featuresRef);
  const actual = await readActual(featuresPath, input.target);

  // Every fitted model on its fold.
  const scored = new Map<string, Scored>();
  for (const [n, m] of input.models.entries()) {
    beat({ stage: 'score', model: m.name, fold: m.fold, done: n, of: input.models.length });
    const f = folds.find((x) => x.fold === m.fold)!;
    const r = await scoreArtifact(store, m, input.target, featuresPath, f.test, m.fold);
    const entry = scored.get(m.name) ?? { name: m.name, kind: m.kind, byFold: new Map() };
    entry.byFold.set(m.fold, { model: m, ...r });
    scored.set(m.name, entry);
  }
  for (const f of input.failures ?? []) {
    if (f.fold !== null && !scored.has(f.name)) scored.set(f.name, { name: f.name, kind: input.models.find((m) => m.name === f.name)?.kind ?? 'unknown', byFold: new Map() });
  }
  const failureOf = (name: string, fold: number) => (input.failures ?? []).find((x) => x.name === name && x.fold === fold);
  const statusOf = (s: Scored, fold: number): FoldStatus => {
    const got = s.byFold.get(fold);
    if (got) return { fold, ok: got.parity.passed, reason: got.parity.passed ? null : `parity failed: ${got.parity.reason}` };
    const failed = failureOf(s.name, fold);
    return { fold, ok: false, reason: failed ? `fit failed: ${failed.error}` : 'not fitted' };
  };
  const predictions: ModelPredictions[] = [...scored.values()].map((s) => ({
    name: s.name,
    kind: s.kind,
    role: roleOf(s.kind, s.name, input.incumbent),
    rows: [...s.byFold.entries()].flatMap(([fold, v]) => (v.parity.passed ? v.rows.map((r) => ({ ...r, fold })) : [])).sort((a, b) => a.ts - b.ts),
    parity: [...s.byFold.values()].map((v) => v.parity).sort((a, b) => a.fold - b.fold),
    folds: folds.map((f) => statusOf(s, f.fold)),
  }));

  const ens = await buildEnsembles(store, input, folds, predictions, scored, actual, horizon, bar, beat);
  predictions.push(...ens.predictions);
  const served = input.served ? await scoreServed(store, input, input.served, holdout, featuresPath, beat) : null;

  beat({ stage: 'metrics' });
  const computed = computeMetrics({ models: predictions, served, actual, folds, horizonBars: horizon, barMs: bar, incumbent: input.incumbent ?? null, gates: input.gates });
  const { aligned, ...metrics } = computed;
  const doc: MetricsDocument = { runId: input.runId, series: input.series, target: input.target, featuresRef: input.featuresRef, ...metrics, ensembles: ens.records, explanations: explanationsOf(scored) };

  beat({ stage: 'write' });
  const dir = await mkdtemp(join(tmpdir(), 'volcast-eval-'));
  try {
    const all = served ? [...predictions, served] : predictions;
    const oos: OosRow[] = all.flatMap((m) => m.rows.map((r) => ({ ts: r.ts, fold: r.fold, model: m.name, actual: actual.get(r.ts) ?? null, forecast: r.forecast, sigma: r.sigma })));
    const oosPath = join(dir, 'oos.parquet');
    await writeOosParquet(oosPath, oos);
    const oosRef = await store.putFile(layout.run(input.runId, 'oos.parquet'), oosPath, 'application/vnd.apache.parquet');
    const metricsRef = await store.putJson(layout.run(input.runId, 'metrics.json'), doc);
    beat({ stage: 'report' });
    const html = await buildReport(doc, aligned);
    const reportRef = await store.putBuffer(layout.run(input.runId, 'report/index.html'), html, 'text/html; charset=utf-8');
    return { runId: input.runId, oosRef, metricsRef, reportRef, leaderboard: doc.leaderboard, bestBaseline: doc.bestBaseline, gate: doc.gate };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The SHAP importance the tree fits recorded in their cards, per fold and averaged over the folds. */
function explanationsOf(scored: Map<string, Scored>): ModelExplanation[] {
  const out: ModelExplanation[] = [];
  for (const s of scored.values()) {
    const folds = [...s.byFold.entries()].flatMap(([fold, v]) => (v.shap ? [{ fold, ...v.shap }] : [])).sort((a, b) => a.fold - b.fold);
    if (!folds.length) continue;
    const sum = new Map<string, number>();
    for (const f of folds) for (const [c, v] of Object.entries(f.meanAbs)) sum.set(c, (sum.get(c) ?? 0) + v);
    const overall = [...sum.entries()].map(([column, v]) => ({ column, meanAbs: v / folds.length })).sort((a, b) => b.meanAbs - a.meanAbs || a.column.localeCompare(b.column));
    out.push({ model: s.name, kind: s.kind, folds, overall });
  }
  return out.sort((a, b) => a.model.localeCompare(b.model));
}

/**
 * The served artifact on the holdout's test rows (an ensemble: its members, combined as recorded).
 * Its parity was checked on its own rows when it began to serve; here it is only scored.
 */
async function scoreServed(store: ArtifactStore, input: EvaluateInput, s: ServedArtifact, holdout: EvalFold, featuresPath: string, beat: Beat): Promise<ModelPredictions & { trainEndTs: number | null }> {
  beat({ stage: 'served', model: s.name });
  const forecasts = async (m: Pick<EvalModel, 'modelRef' | 'cardRef'>) => {
    const { card } = await readCard(store, m.cardRef);
    if (card.target !== input.target) throw new EvaluationInputError(`the served model ${card.modelId} predicts ${card.target}, the run evaluates ${input.target}`);
    const scored = await scoreModel({ modelPath: await store.getFile(m.modelRef), modelSha256: m.modelRef.sha256, card, featuresPath, window: holdout.test });
    return new Map(scored.ts.map((t, i) => [t, scored.vol[i]!]));
  };
  let rows: ModelPredictions['rows'];
  if (s.kind === 'ensemble') {
    const card = await store.getJson<EnsembleCard>(s.cardRef);
    const maps: Map<number, number>[] = [];
    for (const m of card.members) maps.push(await forecasts(m));
    const ts = [...maps[0]!.keys()].filter((t) => maps.every((m) => m.has(t))).sort((a, b) => a - b);
    rows = ts.map((t) => ({ ts: t, fold: holdout.fold, forecast: combineVol(card.members.map((m) => m.weight), maps.map((m) => m.get(t)!)), sigma: null }));
  } else {
    const map = await forecasts(s);
    rows = [...map.keys()].sort((a, b) => a - b).map((t) => ({ ts: t, fold: holdout.fold, forecast: map.get(t)!, sigma: null }));
  }
  return { name: `served:${s.name}`, kind: s.kind, role: 'served', trainEndTs: s.trainEndTs, rows, parity: [], folds: [{ fold: holdout.fold, ok: true, reason: null }] };
}

/**
 * Ensembles per fold over members that completed that fold. Weights: equal, or QLIKE-optimal on the
 * members' out-of-sample forecasts of the EARLIER folds whose targets were known when this fold's
 * test window opened (fold 0, or no such rows: equal weights), never on a model's in-sample fit.
 * Each fold's combination is recorded as models/{ensembleId}/card.json; the serving weights use
 * every fold's out-of-sample rows (all known at run time).
 */
async function buildEnsembles(
  store: ArtifactStore,
  input: EvaluateInput,
  folds: EvalFold[],
  preds: ModelPredictions[],
  scored: Map<string, Scored>,
  actual: Map<number, number | null>,
  horizon: number,
  bar: number,
  beat: Beat,
): Promise<{ predictions: ModelPredictions[]; records: EnsembleRecord[] }> {
  const out: ModelPredictions[] = [];
  const records: EnsembleRecord[] = [];
  const byName = new Map(preds.map((p) => [p.name, p]));
  for (const spec of input.ensembles ?? []) {
    if (byName.has(spec.name)) throw new EvaluationInputError(`ensemble ${spec.name} has the name of a model`);
    const members = spec.members.map((n) => byName.get(n));
    const entry: ModelPredictions = { name: spec.name, kind: 'ensemble', role: spec.name === input.incumbent ? 'incumbent' : 'challenger', rows: [], parity: [], folds: [] };
    const record: EnsembleRecord = { name: spec.name, method: spec.method, members: [...spec.members], folds: [], serving: null };
    for (const fold of folds) {
      beat({ stage: 'ensemble', ensemble: spec.name, fold: fold.fold });
      const missing = spec.members.filter((n, i) => !members[i]?.folds.find((f) => f.fold === fold.fold)?.ok);
      if (missing.length) {
        entry.folds.push({ fold: fold.fold, ok: false, reason: `member(s) ${missing.join(', ')} failed on this fold` });
        continue;
      }
      const earlier = (r: { ts: number; fold: number }) => r.fold !== fold.fold && targetKnownBy(r.ts, horizon, bar, fold.test.startTs) && folds.findIndex((f) => f.fold === r.fold) < folds.indexOf(fold);
      const fit = weightsOn(spec, members as ModelPredictions[], actual, earlier);
      const rowsOf = (m: ModelPredictions) => new Map(m.rows.filter((r) => r.fold === fold.fold).map((r) => [r.ts, r.forecast]));
      const memberRows = (members as ModelPredictions[]).map(rowsOf);
      const ts = [...memberRows[0]!.keys()].filter((t) => memberRows.every((m) => m.has(t))).sort((a, b) => a - b);
      for (const t of ts) entry.rows.push({ ts: t, fold: fold.fold, forecast: combineVol(fit.weights, memberRows.map((m) => m.get(t)!)), sigma: null });
      const recorded: EnsembleMember[] = spec.members.map((n, i) => {
        const v = scored.get(n)!.byFold.get(fold.fold)!;
        return { name: n, modelId: v.model.modelId, modelRef: v.model.modelRef, cardRef: v.parity.cardRef, weight: fit.weights[i]! };
      });
      const modelId = ensembleModelId(spec.method, recorded);
      const card: EnsembleCard = {
        modelId, name: spec.name, kind: 'ensemble', method: spec.method, target: input.target, series: input.series, featureSetId: input.featureSetId ?? null,
        fold: fold.fold, combine: 'variance', members: recorded, weightsFitOn: fit.on, parity: { passed: true, reason: 'every member passed ONNX parity on this fold' },
      };
      const cardRef = await store.putJson(layout.model(modelId, 'card.json'), card);
      entry.parity.push({ fold: fold.fold, modelId, cardRef, passed: true, maxRelError: null, reason: card.parity.reason });
      entry.folds.push({ fold: fold.fold, ok: true, reason: null });
      record.folds.push({ fold: fold.fold, modelId, weights: Object.fromEntries(recorded.map((m) => [m.name, m.weight])), weightsFitOn: fit.on });
    }
    if (members.every(Boolean)) {
      const all = weightsOn(spec, members as ModelPredictions[], actual, () => true);
      record.serving = { weights: Object.fromEntries(spec.members.map((n, i) => [n, all.weights[i]!])), rows: all.on?.rows ?? 0, qlike: all.on?.qlike ?? null };
    }
    entry.rows.sort((a, b) => a.ts - b.ts);
    out.push(entry);
    records.push(record);
  }
  return { predictions: out, records };
}

/** Equal weights, or QLIKE weights on the rows `use` selects where every member has a forecast. */
function weightsOn(spec: EnsembleSpec, members: ModelPredictions[], actual: Map<number, number | null>, use: (r: { ts: number; fold: number }) => boolean): { weights: number[]; on: EnsembleCard['weightsFitOn'] } {
  // select: the first member is the default choice (before any earlier rows exist).
  const equal = { weights: spec.members.map((_, i) => (spec.method === 'select' ? (i === 0 ? 1 : 0) : 1 / spec.members.length)), on: null };
  if (spec.method === 'equal') return equal;
  const maps = members.map((m) => new Map(m.rows.filter(use).map((r) => [r.ts, r])));
  const ts = [...maps[0]!.keys()].filter((t) => actual.get(t) != null && Number.isFinite(actual.get(t)!) && maps.every((m) => m.has(t))).sort((a, b) => a - b);
  // Too few rows to fit on (fold 0 has none): equal weights (select: the first member).
  if (ts.length < 24) return equal;
  const a = ts.map((t) => actual.get(t)!);
  const f = maps.map((m) => ts.map((t) => m.get(t)!.forecast));
  const weights = spec.method === 'select' ? selectBest(a, f) : fitQlikeWeights(a, f);
  return { weights, on: { folds: [...new Set(ts.map((t) => maps[0]!.get(t)!.fold))].sort((x, y) => x - y), rows: ts.length, qlike: ensembleQlike(a, f, weights) } };
}
