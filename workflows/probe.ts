/** Platform round trip: TypeScript writes an object on volcast-cpu, Python verifies it on volcast-gpu. */
import type { ObjectRef, VerifyProbeResult } from '../contracts/activities';
import { layout } from '../lib/platform/layout';
import { acts } from './proxies';
import type { PlatformRoundTripInput, PlatformRoundTripResult } from '../contracts/types';
export type { PlatformRoundTripInput, PlatformRoundTripResult };

export async function platformRoundTrip(input: PlatformRoundTripInput): Promise<PlatformRoundTripResult> {
  const written = await acts.writeProbe({ runId: input.runId, message: input.message, holdSeconds: input.writeHoldSeconds });
  const verified = await acts.verifyProbe({
    ref: written.ref,
    resultKey: layout.probe(input.runId, 'verified.json'),
    holdSeconds: input.verifyHoldSeconds,
  });
  return { written, verified };
}

/** Verifies an existing object by reference (used to show what a corrupt artifact does). */
export async function verifyObject(input: { ref: ObjectRef; runId: string }): Promise<VerifyProbeResult> {
  return acts.verifyProbe({ ref: input.ref, resultKey: layout.probe(input.runId, 'verified.json') });
}
