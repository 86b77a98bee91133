/**
 * The train workflow (docs/lifecycle.md): ingest → buildFeatures → one child per series × target:
 *   planTraining (folds, specs incl. the incumbent's, plan.json) → every fold fit, on its queue →
 *   evaluate (validation folds choose, the holdout judges) → decide (the gates) → the winning spec's
 *   serving fit → commitServing (parity; promote, bootstrap, refresh, or hold).
 * Fits and evaluation read the plan by reference: no payload grows with the protocol. A fit that
 * fails is recorded and its spec shown failed on that fold; the run goes on without it.
 */
import { ActivityFailure, ApplicationFailure, defineQuery, executeChild, patched, setCurrentDetails, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { FitFailure, FitRequest, FitResult, ServedArtifact, TrainingPlan, TrainInput, TrainResult, TrainSeriesInput, TrainSeriesResult } from '../contracts/types';
import { SEARCH_ATTRIBUTES_PATCH, searchAttributes as SA, trainSeriesSummary, trainSummary } from '../lib/api/visibility';
import { symbolSegment, type Series } from '../lib/platform/layout';
import { fitIndex, foldFits } from '../lib/training/planIndex';
import { acts, activity } from './proxies';

export type { TrainInput, TrainResult, TrainSeriesInput, TrainSeriesResult };

/**
 * Progress, for the CLI (`volcast train` shows it live): the parent's stage and its children's
 * workflow ids; each child's fits done / planned per model. Read-only views of the workflow's own
 * state (queries are not recorded in history: replay is unaffected).
 */
export interface TrainProgress {
  stage: 'ingest' | 'features' | 'series' | 'done';
  /** The trainSeries children, one per series × target (known once the features are built). */
  children: { workflowId: string; symbol: string; target: string }[];
}
export interface TrainSeriesProgress {
  symbol: string;
  target: string;
  stage: 'plan' | 'fit' | 'evaluate' | 'decide' | 'serving' | 'commit' | 'done';
  /** Workflow time (ms) the fold fits began; null before. */
  fitsStartedAt: number | null;
  /** Per spec: fits planned (folds, plus the serving fit once chosen), finished (reused included), failed, running. */
  models: { name: string; planned: number; done: number; failed: number; running: number }[];
}
export const trainProgressQuery = defineQuery<TrainProgress>('progress');
export const trainSeriesProgressQuery = defineQuery<TrainSeriesProgress>('progress');

/** Failures kept in the workflow's result (the full list is in runs/{runId}/decision.json's evaluation). */
const REPORTED_FAILURES = 50;

// Fits heartbeat from a thread and per stage or epoch; a dead trainer is noticed within the
// heartbeat timeout (the catalog's, or the run's override) and the fit restarts elsewhere. Each
// fit carries a one-line summary (the Web UI's event history names the spec and fold).
function fitActivity(kind: 'fitModel' | 'fitNeuralModel', heartbeatSeconds: number | undefined, summary: string) {
  return activity(kind, { ...(heartbeatSeconds ? { heartbeatTimeout: heartbeatSeconds * 1000 } : {}), summary });
}

/** The serving actions of a run's series, once each, in order (the VolcastDecision attribute). */
function decisionsOf(results: { serving: { action: string } | null }[]): string[] {
  return [...new Set(results.flatMap((r) => (r.serving ? [r.serving.action] : [])))].sort();
}

/** Object-key-safe run ids: letters, digits, '-', '_', '.'. */
function safeId(s: string): string {
  return s.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[^A-Za-z0-9]+/, '').slice(0, 100);
}

/** Runs fn over items with at most n in flight (deterministic: replays in the same order). */
async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  });
  await Promise.all(lanes);
}

function describeFailure(err: unknown): string {
  const text = err instanceof ActivityFailure && err.cause ? `${err.cause.name}: ${err.cause.message}` : err instanceof Error ? err.message : String(err);
  return text.length > 400 ? `${text.slice(0, 400)}…` : text;
}

export async function train(input: TrainInput): Promise<TrainResult> {
  const info = workflowInfo();
  const runId = safeId(input.runId ?? info.workflowId);
  const series: Series[] = input.symbols.map((symbol) => ({ exchange: input.exchange, symbol, timeframe: input.timeframe }));
  // Web UI filters (lib/api/visibility.ts); runs started before the patch replay without them.
  const tagged = patched(SEARCH_ATTRIBUTES_PATCH);
  if (tagged) upsertSearchAttributes([{ key: SA.symbol, value: [...input.symbols] }, { key: SA.target, value: [...input.protocol.targets] }, { key: SA.protocol, value: input.protocol.name }]);
  setCurrentDetails(trainSummary(input));
  const progress: TrainProgress = { stage: input.ingest !== false ? 'ingest' : 'features', children: [] };
  setHandler(trainProgressQuery, () => progress);
  if (input.ingest !== false) {
    await Promise.all(series.map((s) => acts.ingest({ exchange: s.exchange, symbol: s.symbol, timeframe: s.timeframe, now: input.now })));
  }
  progress.stage = 'features';
  const features = await acts.buildFeatures({ series });
  // The series built together (the feature set's keys): cross-asset features depend on them.
  const universe = Object.keys(features.watermark).sort();
  const childId = (symbol: string, target: string) => `${info.workflowId}/${symbolSegment(symbol)}/${target}`;
  progress.children = features.series.flatMap((fs) => input.protocol.targets.map((target) => ({ workflowId: childId(fs.series.symbol, target), symbol: fs.series.symbol, target })));
  progress.stage = 'series';
  const children = features.series.flatMap((fs) =>
    input.protocol.targets.map((target) =>
      executeChild(trainSeries, {
        workflowId: childId(fs.series.symbol, target),
        staticSummary: trainSeriesSummary({ series: fs.series, target, protocol: input.protocol, promote: input.promote !== false }),
        args: [
          {
            runId: safeId(`${runId}-${symbolSegment(fs.series.symbol)}-${target}`),
            series: fs.series,
            target,
            featuresRef: fs.ref,
            featureSetId: features.featureSetId,
            featureDefinitionsSha: features.definitionsSha,
            featureUniverse: universe,
            protocol: input.protocol,
            gates: input.gates,
            promote: input.promote !== false,
            fitConcurrency: input.fitConcurrency ?? 4,
            fitHeartbeatSeconds: input.fitHeartbeatSeconds,
          } satisfies TrainSeriesInput,
        ],
      }),
    ),
  );
  // Every series × target runs to its end: one that fails does not stop (or terminate) the others.
  const settled = await Promise.allSettled(children);
  const results = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failures = settled.flatMap((s, i) => (s.status === 'rejected' ? [{ symbol: progress.children[i]!.symbol, target: progress.children[i]!.target, error: describeFailure(rootOf(s.reason)) }] : []));
  const decisions = decisionsOf(results);
  if (tagged && decisions.length) upsertSearchAttributes([{ key: SA.decision, value: decisions }]);
  setCurrentDetails(`${trainSummary(input)}\n\n${results.map((r) => `${r.series.symbol} ${r.target}: ${r.serving?.action ?? 'evaluated'}${r.decision?.spec ? ` ${r.decision.spec}` : ''}`).join('\n')}`);
  progress.stage = 'done';
  const result: TrainResult = { runId, featureSetId: features.featureSetId, results, failures };
  if (failures.length) {
    throw ApplicationFailure.nonRetryable(
      `training failed for ${failures.length} of ${settled.length} series × target: ${failures.map((f) => `${f.symbol} ${f.target}: ${f.error}`).join(' | ')}`,
      'TrainFailed',
      result,
    );
  }
  return result;
}

/** The innermost cause of a child's failure (the activity's own error, under the child and activity failures). */
function rootOf(err: unknown): unknown {
  let e = err;
  while (e && typeof e === 'object' && (e as { cause?: unknown }).cause) e = (e as { cause: unknown }).cause;
  return e;
}

export async function trainSeries(input: TrainSeriesInput): Promise<TrainSeriesResult> {
  const tagged = patched(SEARCH_ATTRIBUTES_PATCH);
  if (tagged) upsertSearchAttributes([{ key: SA.symbol, value: [input.series.symbol] }, { key: SA.target, value: [input.target] }, { key: SA.protocol, value: input.protocol.name }]);
  setCurrentDetails(trainSeriesSummary(input));
  const progress: TrainSeriesProgress = { symbol: input.series.symbol, target: input.target, stage: 'plan', fitsStartedAt: null, models: [] };
  setHandler(trainSeriesProgressQuery, () => progress);
  const champion = input.promote ? await acts.getChampion({ series: input.series, target: input.target }) : null;
  const plan: TrainingPlan = await acts.planTraining({
    runId: input.runId,
    series: input.series,
    target: input.target,
    featuresRef: input.featuresRef,
    featureSetId: input.featureSetId,
    featureDefinitionsSha: input.featureDefinitionsSha,
    featureUniverse: input.featureUniverse,
    protocol: input.protocol,
    champion,
  });

  const activityOf = new Map(plan.specs.map((s) => [s.name, s.activity]));
  progress.models = plan.specs.map((s) => ({ name: s.name, planned: plan.folds.length, done: 0, failed: 0, running: 0 }));
  const modelProgress = new Map(progress.models.map((m) => [m.name, m]));
  const failures: FitFailure[] = [];
  const fitSeconds: Record<string, number> = {};
  let reusedFits = 0;
  const runFit = async (name: string, fold: number | null): Promise<FitResult | null> => {
    const req: FitRequest = { plan: plan.planRef, index: fitIndex(plan, name, fold), name, fold };
    const mp = modelProgress.get(name);
    if (mp) mp.running++;
    try {
      const summary = fold === null ? `serving fit ${name}` : `fit ${name} · fold ${fold}${plan.folds.find((f) => f.fold === fold)?.holdout ? ' (holdout)' : ''}`;
      const r = await fitActivity(activityOf.get(name)!, input.fitHeartbeatSeconds, summary)(req);
      fitSeconds[name] = (fitSeconds[name] ?? 0) + (r.reused ? 0 : r.wallSeconds);
      if (r.reused) reusedFits++;
      if (mp) mp.done++;
      return r;
    } catch (err) {
      failures.push({ name, fold, error: describeFailure(err) });
      if (mp) mp.failed++;
      return null;
    } finally {
      if (mp) mp.running--;
    }
  };
  progress.stage = 'fit';
  progress.fitsStartedAt = Date.now();
  await pool(foldFits(plan), input.fitConcurrency, async (f) => {
    await runFit(f.name, f.fold);
  });
  const foldFailures = failures.filter((f) => f.fold !== null);
  if (foldFailures.length === plan.specs.length * plan.folds.length) {
    throw ApplicationFailure.nonRetryable(
      `every fit failed for ${input.series.symbol} ${input.target}: ${foldFailures.slice(0, 5).map((f) => `${f.name}#${f.fold}: ${f.error}`).join('; ')}`,
      'TrainingFailed',
    );
  }

  const served: ServedArtifact | null = champion
    ? { name: champion.name, kind: champion.kind, modelId: champion.modelId, modelRef: champion.modelRef, cardRef: champion.cardRef, trainEndTs: champion.trainEndTs ?? null }
    : null;
  progress.stage = 'evaluate';
  const evaluation = await acts.evaluate({ runId: input.runId, planRef: plan.planRef, failures: foldFailures, served, gates: input.gates });

  let decision: TrainSeriesResult['decision'] = null;
  let serving: TrainSeriesResult['serving'] = null;
  if (input.promote) {
    progress.stage = 'decide';
    const flags = await acts.dataQualityFlags({ series: input.series, from: plan.span.firstTs, to: plan.span.lastTs });
    const verdict = await acts.decide({ runId: input.runId, planRef: plan.planRef, metricsRef: evaluation.metricsRef, champion, gates: input.gates, unresolvedDataFlags: flags });
    // The serving fit: the winning spec once more on every row whose target is known now.
    const members = verdict.spec ? (plan.ensembles.find((e) => e.name === verdict.spec)?.members ?? [verdict.spec]) : [];
    const servingFits: { name: string; result: FitResult | null; error: string | null }[] = [];
    progress.stage = 'serving';
    for (const name of members) {
      const m = modelProgress.get(name);
      if (m) m.planned++;
    }
    for (const name of members) {
      const result = await runFit(name, null);
      servingFits.push({ name, result, error: result ? null : (failures.find((f) => f.name === name && f.fold === null)?.error ?? 'failed') });
    }
    progress.stage = 'commit';
    const committed = await acts.commitServing({
      runId: input.runId,
      planRef: plan.planRef,
      metricsRef: evaluation.metricsRef,
      decision: verdict,
      fits: servingFits,
      champion,
      decidedAt: new Date(workflowInfo().runStartTime.getTime()).toISOString(),
      gates: input.gates,
      unresolvedDataFlags: flags,
    });
    decision = committed.decision;
    serving = committed.serving;
    if (tagged) upsertSearchAttributes([{ key: SA.decision, value: [serving.action] }]);
    setCurrentDetails(`${trainSeriesSummary(input)}\n\n${serving.action}${decision.spec ? ` ${decision.spec}` : ''}: ${serving.reasons.join('; ')}`);
  }
  progress.stage = 'done';
  return {
    runId: input.runId,
    series: input.series,
    target: input.target,
    folds: plan.folds.length,
    leaderboard: evaluation.leaderboard,
    bestBaseline: evaluation.bestBaseline ? { model: evaluation.bestBaseline.model, qlike: evaluation.bestBaseline.qlike } : null,
    reportKey: evaluation.reportRef.key,
    metricsKey: evaluation.metricsRef.key,
    decision,
    serving,
    failures: failures.slice(0, REPORTED_FAILURES),
    failureCount: failures.length,
    fitSeconds,
    reusedFits,
  };
}
