/**
 * Loads and validates configuration: temporal.config.ts, then environment overrides for
 * addresses and credentials. An invalid value throws ConfigError naming the field; entry points
 * print it and exit before doing anything else.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { volcastConfig } from '../../temporal.config';
import { configSchema, type VolcastConfig } from './configSchema';
import { ConfigError } from './errors';
import { repoRoot } from './paths';

export { ConfigError };

export type { VolcastConfig } from './configSchema';


type Env = Record<string, string | undefined>;

/** Environment variables that override the declared config, and the field each one sets. */
export const envOverrides = {
  VOLCAST_TEMPORAL_ADDRESS: 'temporal.address',
  VOLCAST_TEMPORAL_NAMESPACE: 'temporal.namespace',
  VOLCAST_TEMPORAL_UI_PORT: 'temporal.uiPort',
  VOLCAST_TEMPORAL_TLS_CERT: 'temporal.tls.certPath',
  VOLCAST_TEMPORAL_TLS_KEY: 'temporal.tls.keyPath',
  VOLCAST_TEMPORAL_TLS_CA: 'temporal.tls.caPath',
  VOLCAST_S3_ENDPOINT: 'minio.endPoint',
  VOLCAST_S3_PORT: 'minio.port',
  VOLCAST_S3_CONSOLE_PORT: 'minio.consolePort',
  VOLCAST_S3_USE_SSL: 'minio.useSSL',
  VOLCAST_S3_REGION: 'minio.region',
  VOLCAST_BUCKET: 'minio.bucket',
  VOLCAST_S3_ACCESS_KEY: 'minio.accessKey',
  VOLCAST_S3_SECRET_KEY: 'minio.secretKey',
  VOLCAST_STATE_DIR: 'stateDir',
  VOLCAST_EXCHANGE_URL: 'exchanges.0.urlOverride',
  VOLCAST_INGEST_RATE_LIMIT_MS: 'ingest.rateLimitMs',
  VOLCAST_INGEST_TIMEOUT_MS: 'ingest.requestTimeoutMs',
} as const;

const numericFields = new Set(['temporal.uiPort', 'minio.port', 'minio.consolePort', 'ingest.rateLimitMs', 'ingest.requestTimeoutMs']);
const booleanFields = new Set(['minio.useSSL']);

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node: Record<string, unknown> = target;
  for (const part of parts.slice(0, -1)) {
    if (node[part] === null || node[part] === undefined) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts[parts.length - 1]!] = value;
}

function coerce(path: string, raw: string): unknown {
  // Leave unparsable values as strings so the schema reports them against the right field.
  if (numericFields.has(path)) return /^\d+$/.test(raw) ? Number(raw) : raw;
  if (booleanFields.has(path)) return raw === 'true' ? true : raw === 'false' ? false : raw;
  return raw;
}

/** Reads KEY=VALUE lines (the dev stack's generated credentials file). */
export function readEnvFile(file: string): Env {
  if (!existsSync(file)) return {};
  const out: Env = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

export function credentialsFile(stateDir: string): string {
  return join(stateDir, 'credentials.env');
}

export function resolveStateDir(stateDir: string): string {
  return isAbsolute(stateDir) ? stateDir : join(repoRoot, stateDir);
}

/** Validates a raw config object (already merged with overrides). Throws ConfigError. */
export function parseConfig(raw: unknown): VolcastConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message })),
    );
  }
  const cfg = result.data;
  return { ...cfg, stateDir: resolveStateDir(cfg.stateDir) };
}

/**
 * The config every program uses: declared values, then environment overrides, then credentials
 * (environment first, else the dev stack's generated file in the state folder).
 */
export function loadConfig(env: Env = process.env, declared: unknown = volcastConfig): VolcastConfig {
  const raw = structuredClone(declared) as Record<string, unknown>;
  for (const [name, path] of Object.entries(envOverrides)) {
    const value = env[name];
    if (value !== undefined && value !== '') setPath(raw, path, coerce(path, value));
  }
  const cfg = parseConfig(raw);
  if (!cfg.minio.accessKey || !cfg.minio.secretKey) {
    const file = readEnvFile(credentialsFile(cfg.stateDir));
    return parseConfig({
      ...cfg,
      minio: {
        ...cfg.minio,
        accessKey: cfg.minio.accessKey ?? file.VOLCAST_S3_ACCESS_KEY,
        secretKey: cfg.minio.secretKey ?? file.VOLCAST_S3_SECRET_KEY,
      },
    });
  }
  return cfg;
}

/** Credentials or a clear error saying where they come from. */
export function requireCredentials(cfg: VolcastConfig): { accessKey: string; secretKey: string } {
  const { accessKey, secretKey } = cfg.minio;
  if (!accessKey || !secretKey) {
    throw new ConfigError([
      {
        path: 'minio.accessKey/secretKey',
        message: `no S3 credentials: set VOLCAST_S3_ACCESS_KEY and VOLCAST_S3_SECRET_KEY, or start the dev stack (volcast dev up) which writes ${credentialsFile(cfg.stateDir)}`,
      },
    ]);
  }
  return { accessKey, secretKey };
}

/** For entry points: load config or print the problem and exit non-zero before doing anything. */
export function loadConfigOrExit(env: Env = process.env): VolcastConfig {
  try {
    return loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`volcast: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}
