/**
 * The embedded dev stack on loopback: Temporal dev server (SQLite file in the state folder, Web UI,
 * volcast's search attributes registered), a MinIO server (data in the state folder, console on)
 * and the read API with its dashboard (`volcast serve`). `up` is idempotent: a service that
 * already answers is left alone; a port held by something else is reported, never fought over
 * (for the API, which nothing else needs, that is a message and the rest starts).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { apiSettings, apiUrl } from '../lib/api/settings';
import { SEARCH_ATTRIBUTE_TYPES } from '../lib/api/visibility';
import { registerSearchAttributes } from '../lib/orchestration/searchAttributes';
import { credentialsFile, loadConfig, readEnvFile, type VolcastConfig } from '../lib/platform/config';
import { repoRoot, toolsBin } from '../lib/platform/paths';
import { ArtifactStore } from '../lib/platform/store';
import { consoleUrl, webUiUrl } from '../lib/platform/temporal';

export type ServiceName = 'temporal' | 'minio' | 'api';

interface ServiceSpec {
  name: ServiceName;
  binary: string;
  args: string[];
  env: Record<string, string>;
  ports: { host: string; port: number; what: string }[];
  healthy: () => Promise<boolean>;
}

function splitHostPort(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(address.slice(i + 1)) };
}

export function stackPaths(cfg: VolcastConfig) {
  const state = cfg.stateDir;
  return {
    state,
    logs: join(state, 'logs'),
    run: join(state, 'run'),
    temporalDb: join(state, 'temporal', 'temporal.db'),
    minioData: join(state, 'minio'),
  };
}

/** Dev credentials: generated once per state folder, kept outside git, mode 600. */
export function ensureDevCredentials(cfg: VolcastConfig): { accessKey: string; secretKey: string } {
  const file = credentialsFile(cfg.stateDir);
  const existing = readEnvFile(file);
  if (existing.VOLCAST_S3_ACCESS_KEY && existing.VOLCAST_S3_SECRET_KEY) {
    return { accessKey: existing.VOLCAST_S3_ACCESS_KEY, secretKey: existing.VOLCAST_S3_SECRET_KEY };
  }
  const creds = { accessKey: `volcast-${randomBytes(4).toString('hex')}`, secretKey: randomBytes(24).toString('base64url') };
  mkdirSync(cfg.stateDir, { recursive: true });
  writeFileSync(file, `VOLCAST_S3_ACCESS_KEY=${creds.accessKey}\nVOLCAST_S3_SECRET_KEY=${creds.secretKey}\n`, { mode: 0o600 });
  return creds;
}

export function portOpen(host: string, port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('connect', () => done(true));
    sock.once('error', () => done(false));
  });
}

async function httpOk(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
    return res.ok;
  } catch {
    return false;
  }
}

function apiSpec(cfg: VolcastConfig): ServiceSpec {
  const api = apiSettings(cfg);
  return {
    name: 'api',
    binary: process.execPath,
    args: [join(repoRoot, 'cli', 'volcast.js'), 'serve'],
    env: { VOLCAST_STATE_DIR: cfg.stateDir },
    ports: [{ host: api.host, port: api.port, what: 'volcast read API (api.port, VOLCAST_API_PORT)' }],
    healthy: () => httpOk(`${apiUrl(api)}/health`),
  };
}

function specs(cfg: VolcastConfig, creds: { accessKey: string; secretKey: string }): ServiceSpec[] {
  const p = stackPaths(cfg);
  const t = splitHostPort(cfg.temporal.address);
  const s3 = `${cfg.minio.endPoint}:${cfg.minio.port}`;
  return [
    {
      name: 'temporal',
      binary: join(toolsBin, 'temporal'),
      args: [
        'server', 'start-dev',
        '--ip', t.host,
        '--port', String(t.port),
        '--ui-port', String(cfg.temporal.uiPort),
        '--db-filename', p.temporalDb,
        '--namespace', cfg.temporal.namespace,
        '--log-level', 'warn',
      ],
      env: {},
      ports: [
        { host: t.host, port: t.port, what: 'Temporal frontend (temporal.address)' },
        { host: t.host, port: cfg.temporal.uiPort, what: 'Temporal Web UI (temporal.uiPort)' },
      ],
      // The UI answers only once the frontend is up and serving the namespace.
      healthy: async () => (await portOpen(t.host, t.port)) && (await httpOk(`http://${t.host}:${cfg.temporal.uiPort}/api/v1/namespaces/${cfg.temporal.namespace}`)),
    },
    {
      name: 'minio',
      binary: join(toolsBin, 'minio'),
      args: ['server', p.minioData, '--address', s3, '--console-address', `${cfg.minio.endPoint}:${cfg.minio.consolePort}`, '--quiet'],
      env: { MINIO_ROOT_USER: creds.accessKey, MINIO_ROOT_PASSWORD: creds.secretKey, MINIO_BROWSER: 'on' },
      ports: [
        { host: cfg.minio.endPoint, port: cfg.minio.port, what: 'MinIO S3 API (minio.port)' },
        { host: cfg.minio.endPoint, port: cfg.minio.consolePort, what: 'MinIO console (minio.consolePort)' },
      ],
      healthy: () => httpOk(`http://${s3}/minio/health/live`),
    },
  ];
}

function pidFile(cfg: VolcastConfig, name: ServiceName): string {
  return join(stackPaths(cfg).run, `${name}.pid`);
}

function readPid(cfg: VolcastConfig, name: ServiceName): number | null {
  const f = pidFile(cfg, name);
  if (!existsSync(f)) return null;
  const pid = Number(readFileSync(f, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : null;
}

function alive(pid: number | null): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number, logFile: string): Promise<void> {
  const start = Date.now();
  while (Date.now() - start < timeoutMs) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what} did not become healthy within ${timeoutMs / 1000}s; see ${logFile}`);
}

async function startService(cfg: VolcastConfig, spec: ServiceSpec, log: (m: string) => void): Promise<void> {
  const p = stackPaths(cfg);
  const logFile = join(p.logs, `${spec.name}.log`);
  const pid = readPid(cfg, spec.name);
  if (alive(pid) && (await spec.healthy())) {
    log(`${spec.name}: already running (pid ${pid})`);
    return;
  }
  if (alive(pid)) {
    // Ours, but still starting (or wedged): give it the usual time before judging.
    await waitFor(spec.name, spec.healthy, 60_000, logFile);
    log(`${spec.name}: running (pid ${pid})`);
    return;
  }
  for (const port of spec.ports) {
    if (await portOpen(port.host, port.port)) {
      throw new Error(
        `port ${port.host}:${port.port} (${port.what}) is taken by another process. Stop that process, or point volcast elsewhere (see README, Configuration).`,
      );
    }
  }
  if (!existsSync(spec.binary)) {
    throw new Error(`${spec.binary} is missing: run \`bash infra/setup.sh go\` to install it.`);
  }
  mkdirSync(p.logs, { recursive: true });
  mkdirSync(p.run, { recursive: true });
  mkdirSync(join(p.temporalDb, '..'), { recursive: true });
  mkdirSync(p.minioData, { recursive: true });
  const fd = openSync(logFile, 'a');
  const child = spawn(spec.binary, spec.args, {
    detached: true,
    stdio: ['ignore', fd, fd],
    env: { ...process.env, ...spec.env },
  });
  child.unref();
  writeFileSync(pidFile(cfg, spec.name), String(child.pid));
  const t0 = Date.now();
  await waitFor(
    spec.name,
    async () => {
      if (!alive(child.pid ?? null)) throw new Error(`${spec.name} exited during start; see ${logFile}`);
      return spec.healthy();
    },
    90_000,
    logFile,
  );
  log(`${spec.name}: started (pid ${child.pid}) in ${((Date.now() - t0) / 1000).toFixed(1)}s, log ${logFile}`);
}

async function stopService(cfg: VolcastConfig, name: ServiceName, log: (m: string) => void): Promise<void> {
  const pid = readPid(cfg, name);
  if (!alive(pid)) {
    log(`${name}: not running`);
    return;
  }
  process.kill(pid!, 'SIGTERM');
  const start = Date.now();
  while (alive(pid) && Date.now() - start < 15_000) await new Promise((r) => setTimeout(r, 100));
  if (alive(pid)) process.kill(pid!, 'SIGKILL');
  log(`${name}: stopped (pid ${pid})`);
}

export interface UpOptions {
  only?: ServiceName[];
  log?: (m: string) => void;
}

export { registerSearchAttributes };

/** The API is a convenience: a taken port or a bad api setting is reported, and the stack still comes up. */
async function startApi(cfg: VolcastConfig, log: (m: string) => void): Promise<void> {
  let spec: ServiceSpec;
  try {
    spec = apiSpec(cfg);
  } catch (err) {
    log(`api: not started: ${(err as Error).message}`);
    return;
  }
  const url = apiUrl(apiSettings(cfg));
  try {
    await startService(cfg, spec, log);
    log(`api: dashboard and read API on ${url}/ (OpenAPI ${url}/openapi.json)`);
  } catch (err) {
    log(`api: not started: ${(err as Error).message}`);
  }
}

export async function up(cfg: VolcastConfig = loadConfig(), opts: UpOptions = {}): Promise<VolcastConfig> {
  const log = opts.log ?? ((m: string) => console.log(m));
  const creds = ensureDevCredentials(cfg);
  // Reload so the generated credentials are part of the config from here on.
  const full: VolcastConfig = { ...cfg, minio: { ...cfg.minio, accessKey: cfg.minio.accessKey ?? creds.accessKey, secretKey: cfg.minio.secretKey ?? creds.secretKey } };
  const wanted = (name: ServiceName) => !opts.only || opts.only.includes(name);
  for (const spec of specs(full, creds)) {
    if (!wanted(spec.name)) continue;
    await startService(full, spec, log);
    if (spec.name === 'temporal') {
      const added = await registerSearchAttributes(full);
      log(`temporal: search attributes ${Object.keys(SEARCH_ATTRIBUTE_TYPES).join(', ')} ${added.length ? `registered (${added.join(', ')} added)` : 'registered'}`);
    }
  }
  if (wanted('minio')) {
    const store = new ArtifactStore(full);
    await store.ensureBucket(full.minio.region);
    log(`minio: bucket ${full.minio.bucket} ready`);
  }
  if (wanted('api')) await startApi(full, log);
  return full;
}

export async function down(cfg: VolcastConfig = loadConfig(), opts: UpOptions = {}): Promise<void> {
  const log = opts.log ?? ((m: string) => console.log(m));
  for (const name of ['api', 'temporal', 'minio'] as ServiceName[]) {
    if (opts.only && !opts.only.includes(name)) continue;
    await stopService(cfg, name, log);
  }
}

export interface ServiceStatus {
  name: ServiceName;
  pid: number | null;
  running: boolean;
  healthy: boolean;
  url: string;
}

export async function status(cfg: VolcastConfig = loadConfig()): Promise<ServiceStatus[]> {
  const creds = ensureDevCredentials(cfg);
  const out: ServiceStatus[] = [];
  const all = [...specs(cfg, creds)];
  try {
    all.push(apiSpec(cfg));
  } catch {
    /* a bad api setting: `up` reports it */
  }
  for (const spec of all) {
    const pid = readPid(cfg, spec.name);
    out.push({
      name: spec.name,
      pid,
      running: alive(pid),
      healthy: await spec.healthy(),
      url: spec.name === 'temporal' ? webUiUrl(cfg) : spec.name === 'minio' ? consoleUrl(cfg) : `${apiUrl(apiSettings(cfg))}/`,
    });
  }
  return out;
}
