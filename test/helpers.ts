/** Shared test setup: the config of the test stack (infra/test.sh starts it on its own ports). */
import { randomUUID } from 'node:crypto';
import { loadConfig, type VolcastConfig } from '../lib/platform/config';

export function testConfig(): VolcastConfig {
  const cfg = loadConfig();
  if (!cfg.minio.accessKey) {
    throw new Error('no test stack: run the tests with `npm test` (infra/test.sh starts Temporal and MinIO)');
  }
  return cfg;
}

export function uid(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`;
}

export async function eventually<T>(what: string, fn: () => Promise<T | undefined | null | false>, timeoutMs = 30_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
