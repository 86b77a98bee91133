/** Connections to Temporal built from config (address, namespace, TLS), for clients and workers. */
import { readFileSync } from 'node:fs';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import type { VolcastConfig } from './config';

function tlsOptions(cfg: VolcastConfig) {
  const tls = cfg.temporal.tls;
  if (!tls) return undefined;
  return {
    clientCertPair: { crt: readFileSync(tls.certPath), key: readFileSync(tls.keyPath) },
    serverRootCACertificate: tls.caPath ? readFileSync(tls.caPath) : undefined,
  };
}

export async function connectClient(cfg: VolcastConfig): Promise<Client> {
  const connection = await Connection.connect({ address: cfg.temporal.address, tls: tlsOptions(cfg), connectTimeout: '10s' });
  return new Client({ connection, namespace: cfg.temporal.namespace });
}

export async function connectWorker(cfg: VolcastConfig): Promise<NativeConnection> {
  return NativeConnection.connect({ address: cfg.temporal.address, tls: tlsOptions(cfg) });
}

export function webUiUrl(cfg: VolcastConfig): string {
  const host = cfg.temporal.address.replace(/:\d+$/, '');
  return `http://${host}:${cfg.temporal.uiPort}/namespaces/${cfg.temporal.namespace}/workflows`;
}

export function consoleUrl(cfg: VolcastConfig, key?: string): string {
  const base = `http${cfg.minio.useSSL ? 's' : ''}://${cfg.minio.endPoint}:${cfg.minio.consolePort}/browser/${cfg.minio.bucket}`;
  return key ? `${base}/${encodeURIComponent(key)}` : base;
}
