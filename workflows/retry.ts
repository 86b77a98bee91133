import type { RetryPolicy } from '@temporalio/common';

/**
 * Transient failures (network, 5xx, rate limits, a worker that died) retry with backoff; activities
 * raise permanent ones (bad input, corrupt data, bad config) as non-retryable errors.
 */
export const retryPolicy: RetryPolicy = {
  initialInterval: '1 second',
  backoffCoefficient: 2,
  maximumInterval: '1 minute',
  maximumAttempts: 8,
  nonRetryableErrorTypes: ['IntegrityError', 'ConfigError', 'LayoutError', 'ValidationError', 'UnknownSymbolError'],
};
