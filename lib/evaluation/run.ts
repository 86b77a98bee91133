/**
 * The evaluate stage: scores every model's ONNX on its fold's test rows, records parity into each
 * card, computes metrics over the concatenated out-of-sample predictions, and writes
 * runs/{runId}/oos.parquet, metrics.json and report/index.html. Deterministic: the same input writes
 * the same objects (no clocks in any output), so a retried activity is harmless.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queryRows, sqlString, withDuck } from '../platform/duckdb';
import { layout } from '../platform/layout';
import { checkParity, scoreModel } from '../scoring';
import { readCard, writeParity } from '../scoring/cards';
import type { ArtifactStore } from '../platform/store';
import { commonRows, computeMetrics, type ModelPredictions } from './compute';
import { barMsOf, horizonBarsOf, isBaselineKind } from '../../contracts/domain';
import { EvaluationInputError } from '../platform/errors';
import { writeOosParquet, type OosRow } from './oos';
import { buildReport } from './report';
import { combineVol, ensembleModelId, ensembleQlike, fitQlikeWeights, VALIDATION_SHARE } from './ensemble';
import type { EnsembleCard, EnsembleMember, EvalModel, EvaluateInput, EvaluateResult, MetricsDocument, ModelRole } from './types';

export type Beat = (detail: Record<string, unknown>) => void;

interface Job extends EvalModel {
  role: ModelRole;
}

function validate(input: EvaluateInput): Job[] {
  const folds = new Set(input.folds.map((f) => f.fold));
  if (folds.size !== input.folds.length) throw new EvaluationInputError('fold numbers must be unique');
  for (const f of input.folds) {
    if (!(f.test.startTs < f.test.endTs)) throw new EvaluationInputError(`fold ${f.fold}: test.startTs must be < test.endTs`);
  }
  if (!input.models.length) throw new EvaluationInputError('no model to evaluate');
  const championName = input.champion?.models?.length ? `champion:${input.champion.name}` : null;
  const jobs: Job[] = [
    ...input.models.map((m) => ({ ...m, role: (isBaselineKind(m.kind) ? 'baseline' : 'challenger') as ModelRole })),
    ...(input.champion?.models ?? []).map((m) => ({ ...m, name: championName!, role: 'champion' as const })),
  ];
  const seen = new Set<string>();
  for (const j of jobs) {
    if (!folds.has(j.fold)) throw new EvaluationInputError(`model ${j.name}: fold ${j.fold} is not one of the run's folds`);
    const k = `${j.name}\u0000${j.fold}`;
    if (seen.has(k)) throw new EvaluationInputError(`model ${j.name} appears twice for fold ${j.fold}`);
    seen.add(k);
  }
  const kinds = new Map<string, string>();
  for (const j of jobs) {
    if (kinds.has(j.name) && kinds.get(j.name) !== j.kind) throw new EvaluationInputError(`model ${j.name} has two kinds: ${kinds.get(j.name)}, ${j.kind}`);
    kinds.set(j.name, j.kind);
  }
  if (input.champion && !championName && !input.models.some((m) => m.name === input.champion!.name)) {
    throw new EvaluationInputError(`champion ${input.champion.name} is neither a model of the run nor given with its own artifacts`);
  }
  return jobs;
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

export async function evaluateRun(store: ArtifactStore, input: EvaluateInput, beat: Beat = () => {}): Promise<EvaluateResult> {
  const jobs = validate(input);
  const bar = barMsOf(input.series.timeframe);
  const horizon = horizonBarsOf(input.target);
  const featuresPath = await store.getFile(input.featuresRef);
  const actual = await readActual(featuresPath, input.target);
  const windows = new Map(input.folds.map((f) => [f.fold, f.test]));

  const byName = new Map<string, ModelPredictions>();
  const parityOut: EvaluateResult['parity'] = [];
  for (const [n, job] of jobs.entries()) {
    beat({ stage: 'score', model: job.name, fold: job.fold, done: n, of: jobs.length });
    const { card, sourceSha256 } = await readCard(store, job.cardRef);
    if (card.target !== input.target) throw new EvaluationInputError(`model ${job.name} fold ${job.fold} predicts ${card.target}, the run evaluates ${input.target}`);
    const window = windows.get(job.fold)!;
    const modelPath = await store.getFile(job.modelRef);
    const scored = await scoreModel({
      modelPath,
      modelSha256: job.modelRef.sha256,
      card,
      featuresPath,
      window,
      onBatch: (done, total) => beat({ stage: 'score', model: job.name, fold: job.fold, rows: done, of: total }),
    });
    const parity = checkParity(scored, card, window, sourceSha256);
    const cardRef = await writeParity(store, job.cardRef, card, parity);
    parityOut.push({ name: job.name, fold: job.fold, modelId: job.modelId, cardRef, passed: parity.passed });
    const entry = byName.get(job.name) ?? { name: job.name, kind: job.kind, role: job.role, rows: [], parity: [] };
    scored.ts.forEach((ts, i) => entry.rows.push({ ts, fold: job.fold, forecast: scored.vol[i]!, sigma: scored.sigma ? scored.sigma[i]! : null }));
    entry.parity.push({ fold: job.fold, modelId: job.modelId, cardRef, passed: parity.passed, maxRelError: parity.maxRelError, reason: parity.reason });
    byName.set(job.name, entry);
  }
  for (const m of byName.values()) m.rows.sort((a, b) => a.ts - b.ts);
  const ensembles = await buildEnsembles(store, input, jobs, byName, actual, featuresPath, beat);
  for (const e of ensembles.predictions) byName.set(e.name, e);
  parityOut.push(...ensembles.parity);
  const models = [...byName.values()];

  beat({ stage: 'metrics' });
  const harRv = models.find((m) => m.name === 'har_rv')?.name ?? models.find((m) => m.kind === 'har_rv')?.name ?? null;
  const champion = input.champion ? (input.champion.models?.length ? `champion:${input.champion.name}` : input.champion.name) : null;
  const computeInput = { models, actual, folds: input.folds, horizonBars: horizon, barMs: bar, harRv, champion, regimeThresholds: input.regimeThresholds };
  const doc: MetricsDocument = {
    runId: input.runId,
    series: input.series,
    target: input.target,
    featuresRef: input.featuresRef,
    ...computeMetrics(computeInput),
    ensembles: ensembles.built.map(({ name, fold, modelId, weights }) => ({ name, fold, modelId, weights })),
  };

  beat({ stage: 'write' });
  const dir = await mkdtemp(join(tmpdir(), 'volcast-eval-'));
  try {
    const oos: OosRow[] = models.flatMap((m) => m.rows.map((r) => ({ ts: r.ts, fold: r.fold, model: m.name, actual: actual.get(r.ts) ?? null, forecast: r.forecast, sigma: r.sigma })));
    const oosPath = join(dir, 'oos.parquet');
    await writeOosParquet(oosPath, oos);
    const oosRef = await store.putFile(layout.run(input.runId, 'oos.parquet'), oosPath, 'application/vnd.apache.parquet');
    const metricsRef = await store.putJson(layout.run(input.runId, 'metrics.json'), doc);
    beat({ stage: 'report' });
    const html = await buildReport(doc, commonRows(computeInput));
    const reportRef = await store.putBuffer(layout.run(input.runId, 'report/index.html'), html, 'text/html; charset=utf-8');
    return { runId: input.runId, oosRef, metricsRef, reportRef, leaderboard: doc.leaderboard, bestBaseline: doc.bestBaseline, parity: parityOut, ensembles: ensembles.built };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Ensembles per fold over members that passed parity on that fold: weights (equal, or QLIKE on the
 * validation span at the end of the fold's training window), the combined test forecasts, and the
 * recorded combination written as models/{ensembleId}/card.json.
 */
async function buildEnsembles(
  store: ArtifactStore,
  input: EvaluateInput,
  jobs: Job[],
  byName: Map<string, ModelPredictions>,
  actual: Map<number, number | null>,
  featuresPath: string,
  beat: Beat,
): Promise<{ predictions: ModelPredictions[]; parity: EvaluateResult['parity']; built: EvaluateResult['ensembles'] }> {
  const predictions: ModelPredictions[] = [];
  const parity: EvaluateResult['parity'] = [];
  const built: EvaluateResult['ensembles'] = [];
  for (const spec of input.ensembles ?? []) {
    if (byName.has(spec.name)) throw new EvaluationInputError(`ensemble ${spec.name} has the name of a model`);
    const entry: ModelPredictions = { name: spec.name, kind: 'ensemble', role: 'challenger', rows: [], parity: [] };
    let complete = true;
    for (const fold of input.folds) {
      const members = spec.members.map((name) => jobs.find((j) => j.name === name && j.fold === fold.fold && j.role !== 'champion'));
      const preds = spec.members.map((name) => byName.get(name));
      const failed = spec.members.filter((name, i) => !members[i] || !preds[i]?.parity.find((p) => p.fold === fold.fold)?.passed);
      if (failed.length) {
        complete = false; // a member missing or failing parity on a fold: the ensemble is not judged
        break;
      }
      let weights = spec.members.map(() => 1 / spec.members.length);
      let validation: EnsembleCard['validation'] = null;
      if (spec.method === 'qlike') {
        if (!fold.train) throw new EvaluationInputError(`ensemble ${spec.name}: fold ${fold.fold} has no training window to fit weights on`);
        const len = fold.train.endTs - fold.train.startTs;
        const bar = barMsOf(input.series.timeframe);
        const win = { startTs: fold.train.endTs - Math.floor((len * VALIDATION_SHARE) / bar) * bar, endTs: fold.train.endTs };
        beat({ stage: 'ensemble', ensemble: spec.name, fold: fold.fold });
        const vals: Map<number, number>[] = [];
        for (const m of members) {
          const { card } = await readCard(store, m!.cardRef);
          const scored = await scoreModel({ modelPath: await store.getFile(m!.modelRef), modelSha256: m!.modelRef.sha256, card, featuresPath, window: win });
          vals.push(new Map(scored.ts.map((t, i) => [t, scored.vol[i]!])));
        }
        const ts = [...vals[0]!.keys()].filter((t) => actual.get(t) != null && vals.every((v) => v.has(t))).sort((a, b) => a - b);
        if (ts.length < 24) throw new EvaluationInputError(`ensemble ${spec.name}: only ${ts.length} validation rows on fold ${fold.fold}`);
        const a = ts.map((t) => actual.get(t)!);
        const f = vals.map((v) => ts.map((t) => v.get(t)!));
        weights = fitQlikeWeights(a, f);
        validation = { ...win, rows: ts.length, qlike: ensembleQlike(a, f, weights) };
      }
      // Test forecasts where every member has one.
      const memberRows = preds.map((p) => new Map(p!.rows.filter((r) => r.fold === fold.fold).map((r) => [r.ts, r.forecast])));
      const ts = [...memberRows[0]!.keys()].filter((t) => memberRows.every((m) => m.has(t))).sort((x, y) => x - y);
      for (const t of ts) entry.rows.push({ ts: t, fold: fold.fold, forecast: combineVol(weights, memberRows.map((m) => m.get(t)!)), sigma: null });
      const recorded: EnsembleMember[] = members.map((m, i) => ({ name: m!.name, modelId: m!.modelId, modelRef: m!.modelRef, cardRef: latestCardRef(byName, m!), weight: weights[i]! }));
      const modelId = ensembleModelId(spec.method, recorded);
      const card: EnsembleCard = {
        modelId, name: spec.name, kind: 'ensemble', method: spec.method, target: input.target, featureSetId: input.featureSetId ?? null,
        fold: fold.fold, combine: 'variance', members: recorded, validation, parity: { passed: true, reason: 'every member passed ONNX parity on this fold' },
      };
      const cardRef = await store.putJson(layout.model(modelId, 'card.json'), card);
      entry.parity.push({ fold: fold.fold, modelId, cardRef, passed: true, maxRelError: null, reason: card.parity.reason });
      parity.push({ name: spec.name, fold: fold.fold, modelId, cardRef, passed: true });
      built.push({ name: spec.name, fold: fold.fold, modelId, cardRef, weights: Object.fromEntries(recorded.map((m) => [m.name, m.weight])) });
    }
    if (complete) predictions.push(entry);
  }
  return { predictions, parity: onlyJudged(parity, predictions), built: built.filter((b) => predictions.some((p) => p.name === b.name)) };
}

/** The member's card as rewritten with its parity (what scoring reads), else the fit's reference. */
function latestCardRef(byName: Map<string, ModelPredictions>, m: Job): EnsembleMember['cardRef'] {
  return byName.get(m.name)?.parity.find((p) => p.fold === m.fold)?.cardRef ?? m.cardRef;
}

function onlyJudged(parity: EvaluateResult['parity'], predictions: ModelPredictions[]): EvaluateResult['parity'] {
  return parity.filter((p) => predictions.some((e) => e.name === p.name));
}
