/** Builds a feature set from the candle lake (one activity on volcast-cpu; bulk data stays in MinIO). */
import { proxyActivities } from '@temporalio/workflow';
import type { TsActivities } from '../activities';
import type { BuildFeaturesInput, BuildFeaturesResult } from '../activities/catalog';
import { taskQueues } from '../temporal.config';
import { retryPolicy } from './retry';

const cpu = proxyActivities<TsActivities>({
  taskQueue: taskQueues.cpu,
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '2 minutes',
  retry: retryPolicy,
});

export async function buildFeaturesWorkflow(input: BuildFeaturesInput): Promise<BuildFeaturesResult> {
  return cpu.buildFeatures(input);
}
