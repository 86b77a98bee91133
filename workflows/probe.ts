/** Platform round trip: TypeScript writes an object on volcast-cpu, Python verifies it on volcast-gpu. */
import { proxyActivities } from '@temporalio/workflow';
import type { TsActivities } from '../activities';
import type { PythonActivities, VerifyProbeResult, WriteProbeResult } from '../activities/catalog';
import type { ObjectRef } from '../lib/platform/store';
import { taskQueues } from '../temporal.config';
import { retryPolicy } from './retry';
import { layout } from '../lib/platform/layout';

const cpu = proxyActivities<TsActivities>({
  taskQueue: taskQueues.cpu,
  startToCloseTimeout: '5 minutes',
  heartbeatTimeout: '5 seconds',
  retry: retryPolicy,
});

const gpu = proxyActivities<PythonActivities>({
  taskQueue: taskQueues.gpu,
  startToCloseTimeout: '10 minutes',
  heartbeatTimeout: '5 seconds',
  retry: retryPolicy,
});

export interface PlatformRoundTripInput {
  runId: string;
  message: string;
  writeHoldSeconds?: number;
  verifyHoldSeconds?: number;
}
export interface PlatformRoundTripResult {
  written: WriteProbeResult;
  verified: VerifyProbeResult;
}

export async function platformRoundTrip(input: PlatformRoundTripInput): Promise<PlatformRoundTripResult> {
  const written = await cpu.writeProbe({ runId: input.runId, message: input.message, holdSeconds: input.writeHoldSeconds });
  const verified = await gpu.verifyProbe({
    ref: written.ref,
    resultKey: layout.probe(input.runId, 'verified.json'),
    holdSeconds: input.verifyHoldSeconds,
  });
  return { written, verified };
}

/** Verifies an existing object by reference (used to show what a corrupt artifact does). */
export async function verifyObject(input: { ref: ObjectRef; runId: string }): Promise<VerifyProbeResult> {
  return gpu.verifyProbe({ ref: input.ref, resultKey: layout.probe(input.runId, 'verified.json') });
}
