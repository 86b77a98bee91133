/**
 * A bench's own stack: Temporal dev server + MinIO on a port base and a state folder of its own
 * (so the dev stack, the tests and other benches are untouched), the replay exchange with the real
 * candles of ../shared/data, both workers (the trainer with --gpu-on-cpu) and a backfill through
 * ccxt. The state folder is kept between runs (models are cached by modelId, so a re-run reuses
 * fits); `fresh` wipes it first. `close()` stops everything it started.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from '@temporalio/client';
import { loadConfig, type VolcastConfig } from '../lib/platform/config';
import { repoRoot } from '../lib/platform/paths';
import { ArtifactStore } from '../lib/platform/store';
import { connectClient } from '../lib/platform/temporal';
import { down, up } from '../infra/devStack';
import { startReplayExchange, type ReplayExchange } from '../infra/replayExchange';
import { startWorker, stopWorker, type LocalWorker } from '../workers/local';
import { backfill as backfillWorkflow } from '../workflows';
import { backfillInput, withExchangeUrl } from '../lib/orchestration/inputs';

export const DAY = 86_400_000;

export interface BenchStack {
  cfg: VolcastConfig;
  store: ArtifactStore;
  replay: ReplayExchange;
  client: Client;
  close(): Promise<void>;
}

/** Points this process (and the workers it spawns) at the bench's ports and state folder. */
export function benchEnv(portBase: number, state: string): void {
  Object.assign(process.env, {
    VOLCAST_STATE_DIR: join(repoRoot, state),
    VOLCAST_TEMPORAL_ADDRESS: `127.0.0.1:${portBase + 233}`,
    VOLCAST_TEMPORAL_UI_PORT: String(portBase + 1233),
    VOLCAST_S3_PORT: String(portBase + 2000),
    VOLCAST_S3_CONSOLE_PORT: String(portBase + 2001),
  });
  delete process.env.VOLCAST_S3_ACCESS_KEY;
  delete process.env.VOLCAST_S3_SECRET_KEY;
  delete process.env.VOLCAST_EXCHANGE_URL;
}

export async function startBenchStack(opts: { portBase: number; state: string; symbols: string[]; fresh?: boolean; replayNow?: number; log?: (m: string) => void }): Promise<BenchStack> {
  const log = opts.log ?? ((m: string) => console.log(m));
  benchEnv(opts.portBase, opts.state);
  if (opts.fresh) {
    await down(loadConfig(), { log: () => {} }).catch(() => {});
    await rm(process.env.VOLCAST_STATE_DIR!, { recursive: true, force: true });
  }
  const replay = await startReplayExchange({ port: opts.portBase + 100, symbols: opts.symbols, ...(opts.replayNow !== undefined ? { now: opts.replayNow } : {}) });
  const cfgIn = loadConfig();
  const workers: LocalWorker[] = [];
  let cfg: VolcastConfig | null = null;
  let client: Client | null = null;
  const close = async () => {
    await client?.connection.close().catch(() => {});
    for (const w of workers.reverse()) await stopWorker(w);
    await replay.close();
    if (cfg) await down(cfg, { log: () => {} });
  };
  try {
    cfg = await up(withExchangeUrl(cfgIn, replay.url), { log: () => {} });
    log(`stack: Temporal ${cfg.temporal.address}, MinIO :${cfg.minio.port}, state ${cfg.stateDir}; replay exchange ${replay.url} (clock ${new Date(replay.now()).toISOString()})`);
    const env = { VOLCAST_EXCHANGE_URL: replay.url };
    workers.push(await startWorker(cfg, 'cpu', { env }));
    workers.push(await startWorker(cfg, 'train', { gpuOnCpu: true, env }));
    client = await connectClient(cfg);
    return { cfg, store: new ArtifactStore(cfg), replay, client, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/** Backfill `symbols` from `from` (ms) up to the replay clock; prints a line per symbol. */
export async function backfill(stack: BenchStack, symbols: string[], from: number): Promise<number> {
  const { cfg, client, replay } = stack;
  const input = backfillInput(cfg, { symbols, from, now: replay.now() });
  const t0 = Date.now();
  const progress = (await client.workflow.execute(backfillWorkflow, { taskQueue: cfg.taskQueues.cpu, workflowId: `bench-backfill-${Date.now()}`, args: [input] }));
  const secs = (Date.now() - t0) / 1000;
  for (const s of progress.symbols) console.log(`  backfill ${s.symbol} from ${new Date(from).toISOString().slice(0, 10)}: ${s.status}, ${s.fetchedRows} candles fetched, ${s.storedRows} stored`);
  console.log(`  backfill took ${secs.toFixed(1)} s`);
  return secs;
}

/** Minimal flag parsing: --name value, --flag, --no-flag. */
export function parseArgs(argv: string[]): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const [k, inline] = a.slice(2).split('=', 2) as [string, string | undefined];
    if (inline !== undefined) out[k] = inline;
    else if (k.startsWith('no-')) out[k.slice(3)] = false;
    else if (i + 1 < argv.length && !argv[i + 1]!.startsWith('--')) out[k] = argv[++i]!;
    else out[k] = true;
  }
  return out;
}

export function quantile(sorted: number[], q: number): number {
  if (!sorted.length) return NaN;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export interface Stats {
  n: number;
  min: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

export function stats(values: number[]): Stats {
  const s = [...values].sort((a, b) => a - b);
  return { n: s.length, min: s[0] ?? NaN, p50: quantile(s, 0.5), p99: quantile(s, 0.99), max: s.at(-1) ?? NaN, mean: s.reduce((a, b) => a + b, 0) / (s.length || 1) };
}

export function pad(s: string, n: number, right = false): string {
  if (s.length >= n) return s;
  return right ? ' '.repeat(n - s.length) + s : s + ' '.repeat(n - s.length);
}
