/** Evaluates a run's fitted models on volcast-cpu (the train workflow calls the same activity). */
import { proxyActivities } from '@temporalio/workflow';
import type { TsActivities } from '../activities';
import type { EvaluateInput, EvaluateResult } from '../lib/evaluation/types';
import { taskQueues } from '../temporal.config';
import { retryPolicy } from './retry';

const cpu = proxyActivities<TsActivities>({
  taskQueue: taskQueues.cpu,
  startToCloseTimeout: '30 minutes',
  heartbeatTimeout: '30 seconds',
  retry: retryPolicy,
});

export async function evaluateWorkflow(input: EvaluateInput): Promise<EvaluateResult> {
  return cpu.evaluate(input);
}
