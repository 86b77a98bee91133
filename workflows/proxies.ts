/**
 * The one way workflows call activities: each activity proxied with the task queue, timeouts and
 * retry policy its catalog entry declares (contracts/activities.json). Transient failures (network,
 * 5xx, rate limits, a worker that died) retry with backoff; the error types of
 * lib/platform/errors.ts NON_RETRYABLE_ERROR_TYPES fail at once.
 */
import type { RetryPolicy } from '@temporalio/common';
import { proxyActivities, type ActivityOptions } from '@temporalio/workflow';
import { ACTIVITY_NAMES, catalog, retryPolicies, type Activities, type ActivityName } from '../contracts/activities';
import { NON_RETRYABLE_ERROR_TYPES } from '../lib/platform/errors';
import { taskQueues } from '../temporal.config';

export function retryPolicyOf(name: ActivityName): RetryPolicy {
  return { ...retryPolicies[catalog[name].retry], nonRetryableErrorTypes: [...NON_RETRYABLE_ERROR_TYPES] } as RetryPolicy;
}

export function activityOptions(name: ActivityName, overrides: Partial<ActivityOptions> = {}): ActivityOptions {
  const e = catalog[name];
  return {
    taskQueue: taskQueues[e.queue],
    startToCloseTimeout: e.startToClose as ActivityOptions['startToCloseTimeout'],
    ...(e.heartbeat ? { heartbeatTimeout: e.heartbeat as ActivityOptions['heartbeatTimeout'] } : {}),
    retry: retryPolicyOf(name),
    ...overrides,
  };
}

/** One activity with its declared options (overrides: a test's shorter heartbeat, say). */
export function activity<N extends ActivityName>(name: N, overrides?: Partial<ActivityOptions>): Activities[N] {
  return proxyActivities<Activities>(activityOptions(name, overrides))[name];
}

/** Every activity with its declared options. */
export const acts = Object.fromEntries(ACTIVITY_NAMES.map((n) => [n, activity(n)])) as unknown as Activities;
