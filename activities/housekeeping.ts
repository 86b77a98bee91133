/**
 * Housekeeping's activities (volcast-cpu): plan the deletions (written to MinIO, passed on by
 * reference) and apply them. Both read the whole bucket's listing and heartbeat while they do.
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ApplyHousekeepingInput, ApplyHousekeepingResult, PlanHousekeepingInput, PlanHousekeepingResult } from '../contracts/types';
import { applyHousekeepingPlan, writeHousekeepingPlan } from '../lib/housekeeping/run';
import type { ArtifactStore } from '../lib/platform/store';

const beat = (what: string) => Context.current().heartbeat({ stage: what });

export function housekeepingActivities(store: ArtifactStore) {
  return {
    async planHousekeeping(input: PlanHousekeepingInput): Promise<PlanHousekeepingResult> {
      try {
        return await writeHousekeepingPlan(store, input, beat);
      } catch (err) {
        // A policy the planner refuses is the input's fault: retrying cannot help.
        if (err instanceof RangeError) throw ApplicationFailure.nonRetryable(err.message, 'HousekeepingInputError');
        throw err;
      }
    },

    async applyHousekeeping(input: ApplyHousekeepingInput): Promise<ApplyHousekeepingResult> {
      return applyHousekeepingPlan(store, input.planRef, beat);
    },
  };
}
