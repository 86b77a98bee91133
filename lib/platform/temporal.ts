/** Connections to Temporal built from config (address, namespace, TLS), for clients and workers. */
import { readFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { Client, Connection } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { NativeConnection } from '@temporalio/worker';
import type { VolcastConfig } from './config';
import { ServiceUnavailableError } from './errors';

function tlsOptions(cfg: VolcastConfig) {
  const tls = cfg.temporal.tls;
  if (!tls) return undefined;
  return {
    clientCertPair: { crt: readFileSync(tls.certPath), key: readFileSync(tls.keyPath) },
    serverRootCACertificate: tls.caPath ? readFileSync(tls.caPath) : undefined,
  };
}

/** What to do when Temporal does not answer at the configured address. */
export function temporalHint(cfg: VolcastConfig): string {
  return `Is it running? The dev stack starts it: \`volcast dev up\` (\`volcast dev status\` shows it). Elsewhere, set temporal.address or VOLCAST_TEMPORAL_ADDRESS to your server (now ${cfg.temporal.address}, namespace ${cfg.temporal.namespace}).`;
}

function unavailable(cfg: VolcastConfig, err: unknown): ServiceUnavailableError {
  const detail = err instanceof Error ? err.message : String(err);
  return new ServiceUnavailableError('Temporal', cfg.temporal.address, detail, temporalHint(cfg));
}

/**
 * A quick TCP look at the address: a refused connection or an unknown host is reported at once
 * (the gRPC connect would wait for its deadline first). Anything else (a slow network) is left to it.
 */
async function reachable(address: string): Promise<{ ok: true } | { ok: false; detail: string }> {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(i + 1));
  return new Promise((resolve) => {
    const sock = createConnection({ host, port });
    const done = (r: { ok: true } | { ok: false; detail: string }) => {
      sock.destroy();
      resolve(r);
    };
    sock.setTimeout(2000, () => done({ ok: true }));
    sock.once('connect', () => done({ ok: true }));
    sock.once('error', (err: NodeJS.ErrnoException) => {
      const code = err.code ?? (err as { errors?: NodeJS.ErrnoException[] }).errors?.[0]?.code;
      if (code === 'ECONNREFUSED') done({ ok: false, detail: 'connection refused (nothing listens there)' });
      else if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') done({ ok: false, detail: `unknown host ${host}` });
      else done({ ok: true });
    });
  });
}

export async function connectClient(cfg: VolcastConfig, opts: { connectTimeout?: Duration } = {}): Promise<Client> {
  const probe = await reachable(cfg.temporal.address);
  if (!probe.ok) throw new ServiceUnavailableError('Temporal', cfg.temporal.address, probe.detail, temporalHint(cfg));
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: cfg.temporal.address, tls: tlsOptions(cfg), connectTimeout: opts.connectTimeout ?? '10s' });
  } catch (err) {
    throw unavailable(cfg, err);
  }
  return new Client({ connection, namespace: cfg.temporal.namespace });
}

export async function connectWorker(cfg: VolcastConfig): Promise<NativeConnection> {
  const probe = await reachable(cfg.temporal.address);
  if (!probe.ok) throw new ServiceUnavailableError('Temporal', cfg.temporal.address, probe.detail, temporalHint(cfg));
  try {
    return await NativeConnection.connect({ address: cfg.temporal.address, tls: tlsOptions(cfg) });
  } catch (err) {
    throw unavailable(cfg, err);
  }
}

export interface Poller {
  identity: string;
  lastAccessTime: Date | null;
}

/**
 * The workers that polled a task queue recently (DescribeTaskQueue: the server remembers a poller
 * for a few minutes after its last poll). `kind`: workflow or activity tasks.
 */
export async function pollersOf(client: Client, queue: string, kind: 'workflow' | 'activity'): Promise<Poller[]> {
  const { TaskQueueType, TaskQueueKind } = temporal.api.enums.v1;
  const res = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: queue, kind: TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: kind === 'workflow' ? TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW : TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
  });
  return (res.pollers ?? []).map((p) => {
    const t = p.lastAccessTime;
    const ms = t ? Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6) : null;
    return { identity: p.identity ?? '', lastAccessTime: ms === null ? null : new Date(ms) };
  });
}

export function webUiUrl(cfg: VolcastConfig): string {
  const host = cfg.temporal.address.replace(/:\d+$/, '');
  return `http://${host}:${cfg.temporal.uiPort}/namespaces/${cfg.temporal.namespace}/workflows`;
}

export function consoleUrl(cfg: VolcastConfig, key?: string): string {
  const base = `http${cfg.minio.useSSL ? 's' : ''}://${cfg.minio.endPoint}:${cfg.minio.consolePort}/browser/${cfg.minio.bucket}`;
  return key ? `${base}/${encodeURIComponent(key)}` : base;
}
