/** The platform probe: a TypeScript activity that writes an object and returns its reference. */
import { Context } from '@temporalio/activity';
import type { WriteProbeInput, WriteProbeResult } from '../contracts/activities';
import { layout } from '../lib/platform/layout';
import type { ArtifactStore } from '../lib/platform/store';
import { holdWithHeartbeat } from './heartbeat';

export function probeActivities(store: ArtifactStore) {
  return {
    async writeProbe(input: WriteProbeInput): Promise<WriteProbeResult> {
      const ctx = Context.current();
      await holdWithHeartbeat(input.holdSeconds ?? 0);
      // Same input, same bytes, same key: a retried attempt rewrites an identical object.
      const body = JSON.stringify({ runId: input.runId, message: input.message });
      const ref = await store.putBuffer(layout.probe(input.runId, 'probe.json'), body, 'application/json');
      return { ref, attempt: ctx.info.attempt };
    },
  };
}
