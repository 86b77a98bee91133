/**
 * Every error volcast raises on purpose, in one module. An error's `name` is its Temporal failure
 * type: the workflows' retry policy (workflows/proxies.ts) treats the PERMANENT ones as
 * non-retryable (bad input, corrupt data, bad config: a retry cannot help, so the run fails at once
 * saying what is wrong); anything else (network, 5xx, rate limits, a dead worker) retries with
 * backoff. Pure (no Node APIs): workflow code imports the list of types.
 */
import type { ObjectRef } from '../../contracts/activities';
import { UnknownDomainNameError } from '../../contracts/domain';

export { UnknownDomainNameError };

/** Base of the errors a retry cannot mend. */
export class PermanentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** An invalid configuration value; `issues` name each field. */
export class ConfigError extends PermanentError {
  constructor(readonly issues: { path: string; message: string }[]) {
    super(`invalid volcast configuration:\n${issues.map((i) => `  - ${i.path}: ${i.message}`).join('\n')}`);
  }
}

/** A name that would escape the object layout (lib/platform/layout.ts). */
export class LayoutError extends PermanentError {}

/** The stored bytes do not match the reference. */
export class IntegrityError extends PermanentError {
  constructor(
    readonly ref: ObjectRef,
    readonly actual: string,
  ) {
    super(`object s3://${ref.bucket}/${ref.key} is corrupt: sha256 ${actual} does not match the reference ${ref.sha256}`);
  }
}

/** The object a reference names does not exist. */
export class MissingObjectError extends PermanentError {
  constructor(
    readonly bucket: string,
    readonly key: string,
  ) {
    super(`object s3://${bucket}/${key} does not exist`);
  }
}

/** A stored JSON document (card, champion record, manifest) that does not parse or validate. */
export class CorruptDocumentError extends PermanentError {}

/** The exchange does not list the symbol. */
export class UnknownSymbolError extends PermanentError {}

/** Candle input that cannot be stored (a file that cannot be read, conflicting rows, a wrong instrument). */
export class CandleInputError extends PermanentError {}

/** A feature build without usable candles (none stored, duplicates, several timeframes). */
export class FeatureInputError extends PermanentError {}

/** A model input the feature set cannot provide (a missing column). */
export class ModelInputError extends PermanentError {}

/** A model graph whose outputs break the model contract. */
export class ModelOutputError extends PermanentError {}

/** A model card that breaks docs/model-contract.md. */
export class CardValidationError extends PermanentError {}

/** Bad input to a training plan (no rows, not enough history for a fold). */
export class TrainingInputError extends PermanentError {}

/** Bad input to the evaluate stage. */
export class EvaluationInputError extends PermanentError {}

/** Inputs a metric cannot be computed on (unpaired, empty). */
export class MetricInputError extends PermanentError {}

/** Scoring asked for a series and target that has no champion. */
export class NoChampionError extends PermanentError {}

/** The newest closed bar is older than scoring.maxDataAgeMinutes. */
export class StaleDataError extends PermanentError {}

/** The bar that closed last at the scoring clock was not published in time (after the configured wait). */
export class LateBarError extends PermanentError {}

/** The data holds a bar that had not closed at the scoring clock (a wrong clock or a bad source). */
export class FutureBarError extends PermanentError {}

/** Features built by other definitions (or another symbol set) than the model was trained on. */
export class FeatureMismatchError extends PermanentError {}

/** A manual registry action that is not allowed (a card of another series, no parity, …). */
export class RegistryError extends PermanentError {}

/**
 * A read-modify-write (manifest, predictions file, champion record) that kept losing its conditional
 * put to concurrent writers beyond the bounded retry. Not permanent: a later attempt re-reads and
 * re-merges, so the retry policy retries it with backoff. Nothing of the losing attempt is visible.
 */
export class WriteConflictError extends Error {
  constructor(
    readonly target: string,
    readonly attempts: number,
  ) {
    super(`${target} changed under ${attempts} attempts in a row (concurrent writers); nothing was committed, run it again`);
    this.name = 'WriteConflictError';
  }
}

// ---- Errors of the command line (never Temporal failure types: they do not cross a worker) ----

/** A command-line value that cannot be used (an unparsable time, say): exit code 2, like a usage error. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A service volcast needs does not answer: names it, its address, and how to start it. */
export class ServiceUnavailableError extends Error {
  constructor(
    readonly service: 'Temporal' | 'MinIO',
    readonly address: string,
    readonly detail: string,
    readonly hint: string,
  ) {
    super(`cannot reach ${service} at ${address}: ${detail}\n  ${hint}`);
    this.name = new.target.name;
  }
}

/** No worker polls a task queue a run needs; `missing` says which and the command that starts one. */
export class NoWorkerError extends Error {
  constructor(readonly missing: { queue: string; needs: string; command: string; note?: string }[]) {
    super(
      `no worker is polling ${missing.map((m) => m.queue).join(', ')}; the run would wait until one does:\n` +
        missing.map((m) => `  - ${m.queue} (${m.needs}): start \`${m.command}\`${m.note ? ` ${m.note}` : ''}`).join('\n'),
    );
    this.name = new.target.name;
  }
}

/**
 * A workflow run that failed, or failed in part (`partial`: some of its outputs were written):
 * its id and type, the root cause (the error an activity raised) and the chain above it.
 */
export class WorkflowRunError extends Error {
  constructor(
    readonly workflowType: string,
    readonly workflowId: string,
    readonly rootCause: string,
    readonly chain: string[],
    readonly partial = false,
  ) {
    super(`${workflowType} ${workflowId} failed: ${rootCause}`);
    this.name = new.target.name;
  }
}

/** Types that retrying cannot mend: the retry policy's nonRetryableErrorTypes. */
export const NON_RETRYABLE_ERROR_TYPES = [
  'ConfigError', 'LayoutError', 'IntegrityError', 'MissingObjectError', 'CorruptDocumentError', 'UnknownSymbolError',
  'UnknownDomainNameError', 'CandleInputError', 'FeatureInputError', 'ModelInputError', 'ModelOutputError',
  'CardValidationError', 'TrainingInputError', 'EvaluationInputError', 'MetricInputError', 'NoChampionError',
  'StaleDataError', 'LateBarError', 'FutureBarError', 'FeatureMismatchError', 'RegistryError',
] as const;

export function isPermanent(err: unknown): boolean {
  return err instanceof PermanentError || err instanceof UnknownDomainNameError;
}
