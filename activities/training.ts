/**
 * planTraining (volcast-cpu): the walk-forward plan of one series × target (lib/training/plan.ts),
 * written as runs/{runId}/plan.json; the workflow receives only its summary (O(folds + specs)).
 */
import { barMsOf } from '../contracts/domain';
import type { PlanTrainingInput, TrainingPlan } from '../contracts/types';
import { withDuck } from '../lib/platform/duckdb';
import { layout } from '../lib/platform/layout';
import type { ArtifactStore } from '../lib/platform/store';
import { planRun } from '../lib/training/plan';
import { trainerVersion } from '../lib/training/trainerVersion';

export function trainingActivities(store: ArtifactStore) {
  return {
    async planTraining(input: PlanTrainingInput): Promise<TrainingPlan> {
      const file = await store.getFile(input.featuresRef);
      const plan = await withDuck((db) => planRun(db, file, input, { barMs: barMsOf(input.series.timeframe), trainerVersion: trainerVersion() }));
      const planRef = await store.putJson(layout.run(input.runId, 'plan.json'), plan);
      return {
        runId: input.runId,
        planRef,
        specs: plan.specs.map((s) => ({ name: s.name, kind: s.kind, activity: s.activity })),
        folds: plan.folds.map((f) => ({ fold: f.fold, holdout: f.holdout })),
        ensembles: plan.ensembles,
        incumbent: plan.incumbent,
        span: plan.span,
      };
    },
  };
}
