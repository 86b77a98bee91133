/**
 * The evaluate activity (volcast-cpu): the run's plan and fit outcomes by reference, resolved into
 * the evaluate stage's explicit input (lib/evaluation/run.ts), with heartbeats.
 */
import { Context } from '@temporalio/activity';
import type { EvalModel, EvaluateInput, EvaluateRequest, EvaluateResult, FitFailure, PlanDocument } from '../contracts/types';
import { evaluateRun } from '../lib/evaluation';
import type { ArtifactStore } from '../lib/platform/store';
import { foldFits } from '../lib/training/planIndex';

/** The explicit evaluate input of a plan: every fold fit that left its artifacts, and the failures. */
export async function evaluateInputOf(store: ArtifactStore, plan: PlanDocument, req: Omit<EvaluateRequest, 'planRef'>): Promise<EvaluateInput> {
  const models: EvalModel[] = [];
  const failures: FitFailure[] = req.failures.filter((f) => f.fold !== null);
  for (const { index, name, fold } of foldFits(plan)) {
    if (failures.some((f) => f.name === name && f.fold === fold)) continue;
    const fit = plan.fits[index]!;
    const [modelRef, cardRef] = await Promise.all([store.head(fit.keys.model), store.head(fit.keys.card)]);
    if (!modelRef || !cardRef) {
      failures.push({ name, fold, error: `no artifacts under models/${fit.modelId}/ (the fit did not finish)` });
      continue;
    }
    models.push({ name, kind: fit.model.kind, fold, modelId: fit.modelId, modelRef, cardRef });
  }
  return {
    runId: req.runId,
    gates: req.gates,
    series: plan.series,
    target: plan.target,
    featuresRef: plan.featuresRef,
    featureSetId: plan.featureSetId,
    folds: plan.folds.map((f) => ({ fold: f.fold, test: f.test, train: f.train, holdout: f.holdout, regime: f.regime })),
    models,
    failures,
    incumbent: plan.incumbent,
    served: req.served,
    ensembles: plan.ensembles,
  };
}

export function evaluateActivities(store: ArtifactStore) {
  return {
    async evaluate(req: EvaluateRequest): Promise<EvaluateResult> {
      const ctx = Context.current();
      // Heartbeat at most every second: scoring loops call this per batch.
      let last = 0;
      const beat = (detail: Record<string, unknown>) => {
        const now = Date.now();
        if (now - last >= 1000) {
          last = now;
          ctx.heartbeat(detail);
        }
      };
      const plan = await store.getJson<PlanDocument>(req.planRef);
      return evaluateRun(store, await evaluateInputOf(store, plan, req), beat);
    },
  };
}
