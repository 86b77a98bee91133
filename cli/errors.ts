/**
 * How the CLI reports a failure: the exit codes, the root cause of a failed workflow with the chain
 * above it and the workflow id, and connection errors named after the service (Temporal, MinIO),
 * its address and the command that starts it. docs/troubleshooting.md lists the messages.
 */
import {
  ActivityFailure,
  ApplicationFailure,
  CancelledFailure,
  ChildWorkflowFailure,
  ServiceError,
  TerminatedFailure,
  TimeoutFailure,
  WorkflowFailedError,
} from '@temporalio/client';
import { CommanderError } from 'commander';
import type { VolcastConfig } from '../lib/platform/config';
import { ConfigError, NoWorkerError, ServiceUnavailableError, UsageError, WorkflowRunError } from '../lib/platform/errors';
import { temporalHint, webUiUrl } from '../lib/platform/temporal';

/** The exit codes of every volcast command (`volcast --help`, docs/troubleshooting.md). */
export const EXIT = {
  ok: 0,
  /** The command or its workflow failed. */
  failed: 1,
  /** Bad usage: an unknown command or option, a bad option value, an invalid configuration. */
  usage: 2,
  /** Partial: some outputs were written and others failed (score: some forecasts; backfill: some symbols). */
  partial: 3,
  /** Not ready: Temporal or MinIO does not answer, or no worker polls a task queue the run needs. */
  unavailable: 4,
} as const;

export const EXIT_CODES_HELP = `
Exit codes:
  0  ok
  1  failed: the command or its workflow failed (the root cause and the workflow id are printed)
  2  bad usage or configuration: an unknown command or option, a bad value, an invalid config field
  3  partial: some outputs were written, others failed (score: some forecasts; backfill: some symbols)
  4  not ready: Temporal or MinIO does not answer, or no worker polls a task queue the run needs

Troubleshooting: docs/troubleshooting.md`;

function clip(s: string, n = 600): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/** One line per link of a Temporal failure chain, outermost first; the last is the root cause. */
export function failureChain(err: unknown): string[] {
  const out: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && depth < 20; depth++) {
    if (e instanceof WorkflowFailedError) {
      // "Workflow execution failed" says nothing the next links do not.
    } else if (e instanceof ChildWorkflowFailure) {
      out.push(`child workflow ${e.execution?.workflowId ?? '?'} (${e.workflowType}) failed`);
    } else if (e instanceof ActivityFailure) {
      out.push(`activity ${e.activityType} failed${e.retryState && e.retryState !== 'NON_RETRYABLE_FAILURE' ? ` (${e.retryState.toLowerCase().replace(/_/g, ' ')})` : ''}`);
    } else if (e instanceof ApplicationFailure) {
      out.push(`${e.type ?? 'Error'}: ${clip(e.message)}`);
    } else if (e instanceof TimeoutFailure) {
      out.push(`timed out (${e.timeoutType ?? 'timeout'}${e.timeoutType === 'HEARTBEAT' ? ': the worker running it stopped heartbeating, e.g. it died' : ''})`);
    } else if (e instanceof TerminatedFailure) {
      out.push(`terminated${e.message && e.message !== 'Terminated' ? `: ${e.message}` : ''}`);
    } else if (e instanceof CancelledFailure) {
      out.push(`cancelled${e.message ? `: ${e.message}` : ''}`);
    } else if (e instanceof Error) {
      out.push(`${e.name && e.name !== 'Error' ? `${e.name}: ` : ''}${clip(e.message)}`);
    } else {
      out.push(String(e));
    }
    e = (e as { cause?: unknown }).cause;
  }
  return out;
}

/** The deepest failure of the chain (the error an activity or the workflow raised). */
export function rootFailure(err: unknown): unknown {
  let e: unknown = err;
  for (let depth = 0; depth < 20 && (e as { cause?: unknown })?.cause; depth++) e = (e as { cause: unknown }).cause;
  return e;
}

/** A workflow's failure as a WorkflowRunError (its id, type, root cause and chain). */
export function workflowRunError(err: unknown, workflowType: string, workflowId: string, partial = false): WorkflowRunError {
  if (err instanceof WorkflowRunError) return err;
  const chain = failureChain(err);
  const root = chain.at(-1) ?? String(err);
  return new WorkflowRunError(workflowType, workflowId, root, chain, partial);
}

/** Whether the failure is a workflow's own (a run that started and failed) rather than the client's. */
export function isWorkflowFailure(err: unknown): boolean {
  return err instanceof WorkflowFailedError;
}

const NET_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNRESET']);

interface NetError {
  code: string;
  host: string | null;
  port: number | null;
  message: string;
}

function netErrorOf(err: unknown): NetError | null {
  let e: unknown = err;
  for (let depth = 0; e && depth < 10; depth++) {
    const x = e as { code?: unknown; address?: unknown; port?: unknown; message?: unknown; errors?: unknown[]; hostname?: unknown };
    const inner = Array.isArray(x.errors) ? (x.errors[0] as typeof x | undefined) : undefined;
    const code = typeof x.code === 'string' ? x.code : typeof inner?.code === 'string' ? inner.code : null;
    if (code && NET_CODES.has(code)) {
      const message = String(x.message || inner?.message || code);
      const m = /(\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:]+\]|[A-Za-z0-9.-]+):(\d{1,5})/.exec(message);
      const host = typeof x.address === 'string' ? x.address : typeof x.hostname === 'string' ? x.hostname : typeof inner?.address === 'string' ? inner.address : (m?.[1] ?? null);
      const port = typeof x.port === 'number' ? x.port : typeof inner?.port === 'number' ? inner.port : m ? Number(m[2]) : null;
      return { code, host, port, message };
    }
    e = (e as { cause?: unknown }).cause;
  }
  return null;
}

export function minioHint(cfg: VolcastConfig): string {
  return `Is it running? The dev stack starts it: \`volcast dev up\` (\`volcast dev status\` shows it). Elsewhere, set minio.endPoint/minio.port or VOLCAST_S3_ENDPOINT/VOLCAST_S3_PORT to your S3 server (now ${cfg.minio.endPoint}:${cfg.minio.port}, bucket ${cfg.minio.bucket}).`;
}

/** A connection error named after the service it was for, or null when it is not one. */
export function serviceErrorOf(err: unknown, cfg: VolcastConfig | null): ServiceUnavailableError | null {
  if (err instanceof ServiceUnavailableError) return err;
  if (!cfg) return null;
  const net = netErrorOf(err);
  const temporalPort = Number(cfg.temporal.address.slice(cfg.temporal.address.lastIndexOf(':') + 1));
  if (net) {
    const detail = net.code === 'ECONNREFUSED' ? `connection refused (nothing listens there): ${net.message}` : net.message;
    if (net.port === cfg.minio.port) return new ServiceUnavailableError('MinIO', `${cfg.minio.endPoint}:${cfg.minio.port}`, detail, minioHint(cfg));
    if (net.port === temporalPort) return new ServiceUnavailableError('Temporal', cfg.temporal.address, detail, temporalHint(cfg));
    return null;
  }
  // gRPC UNAVAILABLE (14) from a Temporal call after the connection was made: the server went away.
  if (err instanceof ServiceError && /\b14 UNAVAILABLE\b|UNAVAILABLE/.test(`${err.message} ${err.cause?.message ?? ''}`)) {
    return new ServiceUnavailableError('Temporal', cfg.temporal.address, err.cause?.message ?? err.message, temporalHint(cfg));
  }
  return null;
}

/** A connection error quoted in a message (a worker's, as the failure's text): which service. */
export function serviceInText(text: string, cfg: VolcastConfig | null): ServiceUnavailableError | null {
  if (!cfg) return null;
  const m = /\b(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ETIMEDOUT|EHOSTUNREACH|ECONNRESET) (\S+?):(\d{1,5})\b/.exec(text);
  if (!m) return null;
  const e = Object.assign(new Error(m[0]), { code: m[1], port: Number(m[3]) });
  return serviceErrorOf(e, cfg);
}

function indent(s: string): string {
  return s.split('\n').map((l) => `  ${l}`).join('\n');
}

/** Prints an error the way every command reports one and returns the exit code. */
export function reportError(err: unknown, cfg: VolcastConfig | null, write: (s: string) => void = (s) => process.stderr.write(s)): number {
  if (err instanceof CommanderError) {
    // Commander printed its message (and the help) already.
    return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (err instanceof ConfigError || err instanceof UsageError) {
    write(`volcast: ${err.message}\n`);
    return EXIT.usage;
  }
  if (err instanceof WorkflowRunError) {
    const webUi = cfg ? `${webUiUrl(cfg)}/${encodeURIComponent(err.workflowId)}` : null;
    const lines = [`volcast: ${err.partial ? 'partly failed' : 'failed'}: ${err.workflowType} workflow ${err.workflowId}`, `  cause: ${err.rootCause}`];
    // The chain above the root, when it says more than the root (which child, which activity).
    const above = err.chain.slice(0, -1);
    if (above.length) lines.push(`  where: ${above.join(' → ')}`);
    const service = serviceInText(err.rootCause, cfg);
    if (service) lines.push(`  a worker could not reach ${service.service} at ${service.address}: ${service.hint}`);
    if (webUi) lines.push(`  Web UI: ${webUi}`);
    write(`${lines.join('\n')}\n`);
    return err.partial ? EXIT.partial : EXIT.failed;
  }
  if (err instanceof NoWorkerError) {
    write(`volcast: ${err.message}\n  (a trainer busy with long fits on every slot may not show as polling: --no-worker-check starts the run anyway)\n`);
    return EXIT.unavailable;
  }
  const service = serviceErrorOf(err, cfg);
  if (service) {
    write(`volcast: ${service.message}\n`);
    return EXIT.unavailable;
  }
  if (err instanceof WorkflowFailedError) {
    // A workflow failure the command did not wrap (no id known): still the root cause.
    const chain = failureChain(err);
    write(`volcast: workflow failed: ${chain.at(-1) ?? err.message}\n${chain.length > 1 ? `  where: ${chain.slice(0, -1).join(' → ')}\n` : ''}`);
    return EXIT.failed;
  }
  const chain = failureChain(err);
  write(`volcast: ${chain[0] ?? String(err)}\n${chain.length > 1 ? `${indent(chain.slice(1).map((c) => `caused by: ${c}`).join('\n'))}\n` : ''}`);
  return EXIT.failed;
}
