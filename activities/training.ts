/**
 * planTraining (volcast-cpu): the walk-forward plan of one series × target (lib/training/plan.ts),
 * written as runs/{runId}/plan.json; the workflow receives only its summary (O(folds + specs)).
 */
import { barMsOf } from '../contracts/domain';
import type { FeatureSetManifest, PlanTrainingInput, TrainingPlan } from '../contracts/types';
import { TrainingInputError } from '../lib/platform/errors';
import { withDuck } from '../lib/platform/duckdb';
import { layout } from '../lib/platform/layout';
import type { ArtifactStore } from '../lib/platform/store';
import { planRun } from '../lib/training/plan';
import { trainerVersion } from '../lib/training/trainerVersion';

export function trainingActivities(store: ArtifactStore) {
  return {
    async planTraining(input: PlanTrainingInput): Promise<TrainingPlan> {
      const file = await store.getFile(input.featuresRef);
      // Pooled specs pool over the feature set's series: its manifest names their objects.
      const featureSeries = async () => {
        const m = await store.readLatest(layout.featuresManifest(input.featureSetId));
        if (!m) throw new TrainingInputError(`feature set ${input.featureSetId} has no manifest (${layout.featuresManifest(input.featureSetId)}): a pooled spec cannot find its series`);
        return (JSON.parse(m.data.toString('utf8')) as FeatureSetManifest).series.map((s) => ({ series: s.series, features: s.ref }));
      };
      const plan = await withDuck((db) => planRun(db, file, input, { barMs: barMsOf(input.series.timeframe), trainerVersion: trainerVersion(), featureSeries }));
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
