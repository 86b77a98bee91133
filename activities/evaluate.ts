/** The evaluate activity (volcast-cpu): lib/evaluation/run.ts with heartbeats. */
import { Context } from '@temporalio/activity';
import { evaluateRun, type EvaluateInput, type EvaluateResult } from '../lib/evaluation';
import type { ArtifactStore } from '../lib/platform/store';

export function evaluateActivities(store: ArtifactStore) {
  return {
    async evaluate(input: EvaluateInput): Promise<EvaluateResult> {
      const ctx = Context.current();
      // Heartbeat at most every second: scoring loops call this per batch.
      let last = 0;
      return evaluateRun(store, input, (detail) => {
        const now = Date.now();
        if (now - last >= 1000) {
          last = now;
          ctx.heartbeat(detail);
        }
      });
    },
  };
}
