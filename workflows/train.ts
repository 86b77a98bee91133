/**
 * The train workflow (DESIGN.md): ingest → buildFeatures → walk-forward fits fanned out over
 * folds × models, each on its queue → evaluate → promote. One child workflow per series and target
 * keeps each history small. A model whose fit fails on any fold is left out of the run (every
 * model must be judged on the same folds) and the failure is recorded with the decision.
 */
import { ActivityFailure, ApplicationFailure, executeChild, workflowInfo } from '@temporalio/workflow';
import type { FitInput, FitResult } from '../contracts/activities';
import type { PlannedFit, PromoteResult } from '../activities/training';
import type { EvalModel, LeaderboardRow } from '../lib/evaluation/types';
import { symbolSegment, type Series } from '../lib/platform/layout';
import type { ResolvedProtocol } from '../lib/training/protocols';
import type { ObjectRef } from '../lib/platform/store';
import { acts, activity } from './proxies';
import type { TrainInput, TrainSeriesInput, TrainSeriesResult, TrainResult } from '../contracts/types';
export type { TrainInput, TrainSeriesInput, TrainSeriesResult, TrainResult };

// Fits heartbeat per stage or epoch; a dead trainer is noticed within the heartbeat timeout (the
// catalog's, or the run's override) and the fit restarts on another (its writes are idempotent).
function fitActivities(heartbeatSeconds?: number) {
  const o = heartbeatSeconds ? { heartbeatTimeout: heartbeatSeconds * 1000 } : {};
  return { fitModel: activity('fitModel', o), fitNeuralModel: activity('fitNeuralModel', o) };
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
  if (err instanceof ActivityFailure && err.cause) return `${err.cause.name}: ${err.cause.message}`;
  return err instanceof Error ? err.message : String(err);
}

export async function train(input: TrainInput): Promise<TrainResult> {
  const info = workflowInfo();
  const runId = safeId(input.runId ?? info.workflowId);
  const series: Series[] = input.symbols.map((symbol) => ({ exchange: input.exchange, symbol, timeframe: input.timeframe }));
  if (input.ingest !== false) {
    await Promise.all(series.map((s) => acts.ingest({ exchange: s.exchange, symbol: s.symbol, timeframe: s.timeframe, now: input.now })));
  }
  const features = await acts.buildFeatures({ series });
  const featureDefinitionsSha = features.definitionsSha;
  const children = features.series.flatMap((fs) =>
    input.protocol.targets.map((target) => {
      const childRunId = safeId(`${runId}-${symbolSegment(fs.series.symbol)}-${target}`);
      return executeChild(trainSeries, {
        workflowId: `${info.workflowId}/${symbolSegment(fs.series.symbol)}/${target}`,
        args: [
          {
            runId: childRunId,
            series: fs.series,
            target,
            featuresRef: fs.ref,
            featureSetId: features.featureSetId,
            featureDefinitionsSha,
            protocol: input.protocol,
            gates: input.gates,
            promote: input.promote !== false,
            fitConcurrency: input.fitConcurrency ?? 4,
            fitHeartbeatSeconds: input.fitHeartbeatSeconds,
          } satisfies TrainSeriesInput,
        ],
      });
    }),
  );
  const results = await Promise.all(children);
  return { runId, featureSetId: features.featureSetId, results };
}

export async function trainSeries(input: TrainSeriesInput): Promise<TrainSeriesResult> {
  const plan = await acts.planTraining({
    runId: input.runId,
    series: input.series,
    target: input.target,
    featuresRef: input.featuresRef,
    featureSetId: input.featureSetId,
    protocol: input.protocol,
  });
  const champion = await acts.getChampion({ series: input.series, target: input.target });

  const fits = fitActivities(input.fitHeartbeatSeconds);
  const fitted: (EvalModel & { result: FitResult })[] = [];
  const failures: { name: string; fold: number; error: string }[] = [];
  await pool(plan.fits, input.fitConcurrency, async (f: PlannedFit) => {
    const call: (i: FitInput) => Promise<FitResult> = fits[f.activity];
    try {
      const r = await call(f.input);
      fitted.push({ name: f.name, kind: f.kind, fold: f.fold, modelId: r.modelId, modelRef: r.modelRef, cardRef: r.cardRef, result: r });
    } catch (err) {
      failures.push({ name: f.name, fold: f.fold, error: describeFailure(err) });
    }
  });
  const failedNames = new Set(failures.map((f) => f.name));
  const models = fitted
    .filter((m) => !failedNames.has(m.name))
    .sort((a, b) => a.name.localeCompare(b.name) || a.fold - b.fold)
    .map(({ result: _r, ...m }) => m);
  if (!models.length) {
    throw ApplicationFailure.nonRetryable(`every fit failed for ${input.series.symbol} ${input.target}: ${failures.map((f) => `${f.name}#${f.fold}: ${f.error}`).join('; ')}`, 'TrainingFailed');
  }
  const evaluation = await acts.evaluate({
    runId: input.runId,
    series: input.series,
    target: input.target,
    featuresRef: input.featuresRef,
    folds: plan.folds.map((f) => ({ fold: f.fold, test: f.test, train: f.train })),
    models,
    champion: champion && models.some((m) => m.name === champion.name) ? { name: champion.name } : null,
    regimeThresholds: plan.regimeThresholds,
    ensembles: input.protocol.ensembles.filter((e) => e.members.every((m) => models.some((x) => x.name === m))),
    featureSetId: input.featureSetId,
  });

  let decision: PromoteResult['decision'] | null = null;
  if (input.promote) {
    const lastFold = plan.folds.at(-1)!.fold;
    const latest: Record<string, { modelId: string; modelRef: ObjectRef; cardRef: ObjectRef; kind: string }> = {};
    for (const m of models) if (m.fold === lastFold) latest[m.name] = { modelId: m.modelId, modelRef: m.modelRef, cardRef: m.cardRef, kind: m.kind };
    // An ensemble's artifact is its recorded combination (card.json naming members and weights).
    for (const e of evaluation.ensembles) if (e.fold === lastFold) latest[e.name] = { modelId: e.modelId, modelRef: e.cardRef, cardRef: e.cardRef, kind: 'ensemble' };
    const flags = await acts.dataQualityFlags({ series: input.series });
    const promoted = await acts.promote({
      runId: input.runId,
      series: input.series,
      target: input.target,
      decidedAt: new Date(workflowInfo().runStartTime.getTime()).toISOString(),
      featureSetId: input.featureSetId,
      featureDefinitionsSha: input.featureDefinitionsSha,
      evaluation: { leaderboard: evaluation.leaderboard, bestBaseline: evaluation.bestBaseline, parity: evaluation.parity },
      latest,
      champion,
      regimeThresholds: plan.regimeThresholds,
      failures,
      gates: input.gates,
      unresolvedDataFlags: flags,
    });
    decision = promoted.decision;
  }
  const fitSeconds: Record<string, number> = {};
  let reusedFits = 0;
  for (const m of fitted) {
    fitSeconds[m.name] = (fitSeconds[m.name] ?? 0) + (m.result.reused ? 0 : m.result.wallSeconds);
    if (m.result.reused) reusedFits++;
  }
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
    failures,
    fitSeconds,
    reusedFits,
  };
}
