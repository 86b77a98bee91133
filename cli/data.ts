/** `volcast data …`: backfill (a workflow on the cluster), import files, lake status, the replay exchange, cleanup (housekeeping). */
import { ApplicationFailure, type Client } from '@temporalio/client';
import type { Command } from 'commander';
import type { BackfillInput } from '../contracts/types';
import { UsageError } from '../lib/platform/errors';
import { rootFailure } from './errors';
import { backfillProgress, CPU_NEEDS, requireWorkers, runWorkflow } from './run';
import { isoTs } from '../lib/candles/candle';
import { importCandleFile, seriesFromFileName } from '../lib/candles/import';
import { indexSeriesFromFileName } from '../lib/candles/indexSeries';
import { basename } from 'node:path';
import { readManifest } from '../lib/candles/lake';
import { loadConfigOrExit, type VolcastConfig } from '../lib/platform/config';
import type { Series } from '../lib/platform/layout';
import { ArtifactStore } from '../lib/platform/store';
import { connectClient, webUiUrl } from '../lib/platform/temporal';
import { startReplayExchange } from '../infra/replayExchange';
import type { BackfillProgress } from '../workflows/backfill';
import { backfillInput, defaultExchange, seriesOf } from '../lib/orchestration/inputs';
import { ackFlags, qualityFlags } from '../lib/candles/quality';
import { layout } from '../lib/platform/layout';
import { CandleInputError } from '../lib/platform/errors';
import { backfill } from '../workflows';
import { cleanupCommand } from './cleanup';

function parseDate(what: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const t = /^\d+$/.test(value) ? Number(value) : Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value);
  if (!Number.isFinite(t)) throw new UsageError(`--${what}: not a date (YYYY-MM-DD, ISO time or ms): ${value}`);
  return t;
}

function progressLine(p: BackfillProgress): string {
  const rows = p.symbols.reduce((s, x) => s + x.storedRows, 0);
  const running = p.symbols.filter((s) => s.status === 'running').map((s) => s.symbol);
  return `${p.done}/${p.total} symbols done, ${p.failed} failed, ${rows} rows stored${running.length ? `; running ${running.join(' ')}` : ''}`;
}

function printProgress(p: BackfillProgress): void {
  for (const s of p.symbols) {
    const rej = Object.entries(s.rejected).map(([r, n]) => `${n} ${r}`).join(', ') || '0';
    console.log(
      `  ${s.symbol.padEnd(11)} ${s.status.padEnd(7)} rows ${String(s.storedRows).padStart(7)}  fetched ${String(s.fetchedRows).padStart(7)}  gaps ${String(s.gaps).padStart(3)}  rejected ${rej}  objects written ${s.objectsWritten}  watermark ${isoTs(s.watermark)}${s.error ? `  ${s.error}` : ''}`,
    );
  }
}

/** The backfill's progress in a BackfillFailedError's details (what each symbol did), if any. */
export function backfillResultOf(err: unknown): BackfillProgress | null {
  const root = rootFailure(err);
  if (!(root instanceof ApplicationFailure) || root.type !== 'BackfillFailedError') return null;
  const p = root.details?.[0] as BackfillProgress | undefined;
  return p && Array.isArray(p.symbols) ? p : null;
}

/** Runs a backfill showing its progress (months done per symbol); prints each symbol's outcome. */
export async function runBackfill(client: Client, cfg: VolcastConfig, input: BackfillInput, workflowId: string, opts: { workerCheck?: boolean; wait?: boolean } = {}): Promise<BackfillProgress | null> {
  console.log(`backfill ${workflowId}: ${input.symbols.length} symbols, ${input.timeframe}, from ${isoTs(input.from)}, concurrency ${input.concurrency}`);
  if (opts.wait === false) {
    if (opts.workerCheck !== false) await requireWorkers(client, cfg, CPU_NEEDS);
    await client.workflow.start(backfill, { taskQueue: cfg.taskQueues.cpu, workflowId, args: [input] });
    console.log(`  started; Web UI: ${webUiUrl(cfg)}/${workflowId}`);
    return null;
  }
  const result = await runWorkflow(client, cfg, {
    type: 'backfill',
    workflow: backfill,
    workflowId,
    args: [input],
    needs: CPU_NEEDS,
    workerCheck: opts.workerCheck,
    onStarted: () => console.log(`  Web UI: ${webUiUrl(cfg)}/${workflowId}`),
    progress: (handle) => backfillProgress(client, handle, input),
    onFailure: (err) => {
      const p = backfillResultOf(err);
      if (!p) return false;
      printProgress(p);
      console.log(progressLine(p));
      return p.done > 0;
    },
  });
  printProgress(result);
  console.log(progressLine(result));
  return result;
}

async function backfillCommand(cfg: VolcastConfig, opts: { symbols?: string; timeframe?: string; from: string; to?: string; now?: string; refetch?: boolean; wait: boolean; workerCheck: boolean }): Promise<void> {
  const symbols = opts.symbols ? opts.symbols.split(',').map((s) => s.trim()) : cfg.symbols;
  const input = backfillInput(cfg, {
    symbols,
    timeframe: opts.timeframe,
    from: parseDate('from', opts.from)!,
    to: parseDate('to', opts.to),
    now: parseDate('now', opts.now),
    refetch: opts.refetch,
  });
  const client = await connectClient(cfg);
  try {
    const workflowId = `backfill-${input.timeframe}-${new Date().toISOString().replace(/[:.]/g, '-')}`;
    await runBackfill(client, cfg, input, workflowId, { workerCheck: opts.workerCheck, wait: opts.wait });
  } finally {
    await client.connection.close();
  }
}

async function statusCommand(cfg: VolcastConfig, opts: { symbols?: string; exchange?: string }): Promise<void> {
  const store = new ArtifactStore(cfg);
  const symbols = opts.symbols ? opts.symbols.split(',').map((s) => s.trim()) : cfg.symbols;
  const exchange = opts.exchange ?? defaultExchange(cfg);
  // duplicates: open times that came more than once in an input; conflicts: of those, the ones whose
  // copies differed (rejected); changed: stored bars replaced by a later fetch or import --replace;
  // refused: imported rows that differed from the stored bar (kept).
  console.log('symbol      tf   first                 last                  rows     gaps (bars)   dups  conflicts  changed  refused  rejected   watermark');
  for (const symbol of symbols) {
    for (const timeframe of cfg.timeframes) {
      const { manifest, ref } = await readManifest(store, { exchange, symbol, timeframe });
      if (!ref) {
        console.log(`${symbol.padEnd(11)} ${timeframe.padEnd(4)} (no data)`);
        continue;
      }
      const bars = manifest.gaps.reduce((s, g) => s + g.bars, 0);
      const rejected = Object.entries(manifest.rejected).map(([r, n]) => `${n} ${r}`).join(', ') || '0';
      const conflicts = manifest.rejected['conflicting duplicate'] ?? 0;
      console.log(
        `${symbol.padEnd(11)} ${timeframe.padEnd(4)} ${isoTs(manifest.first).padEnd(21)} ${isoTs(manifest.watermark).padEnd(21)} ${String(manifest.rows).padStart(7)}  ${`${manifest.gaps.length} (${bars})`.padEnd(12)}  ${String(manifest.duplicates.length).padStart(4)}  ${String(conflicts).padStart(9)}  ${String(manifest.changed.length).padStart(7)}  ${String(manifest.refused.length).padStart(7)}  ${rejected.padEnd(9)}  ${isoTs(manifest.watermark)}`,
      );
    }
  }
}

async function flagsCommand(cfg: VolcastConfig, opts: { symbol: string; timeframe?: string; exchange?: string }): Promise<void> {
  const store = new ArtifactStore(cfg);
  const series = seriesOf(cfg, opts.symbol, opts);
  const flags = await qualityFlags(store, series);
  if (!flags.length) console.log(`${series.symbol} ${series.timeframe}: no rejected rows`);
  for (const f of flags) {
    console.log(`  ${f.ts === null ? '(unparsable time)'.padEnd(20) : isoTs(f.ts).padEnd(20)} ${f.reason.padEnd(26)} ${f.status}${f.note ? ` (${f.note})` : ''}  ${f.raw.slice(0, 80)}`);
  }
}

async function ackCommand(cfg: VolcastConfig, opts: { symbol: string; timeframe?: string; exchange?: string; ts?: string[]; all?: boolean; reason: string }): Promise<void> {
  const store = new ArtifactStore(cfg);
  const series = seriesOf(cfg, opts.symbol, opts);
  const ts = (opts.ts ?? []).map((t) => parseDate('ts', t)!);
  const n = await ackFlags(store, series, { all: opts.all, ts }, opts.reason, new Date().toISOString());
  console.log(`${series.symbol} ${series.timeframe}: ${n} flag(s) acknowledged (${opts.reason}); recorded in ${layout.candlesAcks(series)}`);
}

async function importCommand(cfg: VolcastConfig, files: string[], opts: { symbol?: string; timeframe?: string; exchange?: string; replace?: boolean }): Promise<void> {
  const store = new ArtifactStore(cfg);
  for (const file of files) {
    const exchange = opts.exchange ?? defaultExchange(cfg);
    // A Deribit DVOL file (DERIBIT_BTC_DVOL_1h.csv.gz) names its own series: deribit BTC/DVOL 1h, kind index.
    const series: Series | null = opts.symbol ? seriesOf(cfg, opts.symbol, { exchange, timeframe: opts.timeframe }) : (indexSeriesFromFileName(basename(file)) ?? seriesFromFileName(file, exchange));
    if (!series) throw new CandleInputError(`${file}: cannot tell the symbol from the name; pass --symbol`);
    const t0 = Date.now();
    const r = await importCandleFile(store, file, series, { replace: opts.replace });
    if (r.empty) {
      console.log(`${file}: ${series.symbol} ${series.timeframe}: the file holds no rows; nothing written`);
      continue;
    }
    const rej = Object.entries(r.rejected).map(([k, n]) => `${n} ${k}`).join(', ') || 'none';
    const dups = r.duplicates ? `${r.duplicates} duplicate open time(s) (${r.conflicts} conflicting: rejected, no copy taken)` : 'no duplicates';
    const stored = opts.replace
      ? `${r.changed} stored bars changed`
      : `${r.changed} stored bars changed, ${r.refused} row(s) refused: they differ from the stored bar (kept; --replace replaces them)`;
    console.log(
      `${file}: ${series.symbol} ${series.timeframe} ${r.format}: ${r.sourceRows} rows read, ${r.validRows} valid, rejected ${rej}; ${dups}; ${stored}; series has ${r.storedRows} rows; ${r.objectsWritten} objects written (${Date.now() - t0} ms)`,
    );
  }
}

export function registerData(program: Command): void {
  const data = program.command('data').description('market data: backfill from the exchange, import files, lake status, replay exchange');
  data
    .command('backfill')
    .description('backfill candles for symbols (default: config symbols) as a Temporal workflow; prints progress')
    .requiredOption('--from <date>', 'first open time (YYYY-MM-DD, ISO or ms)')
    .option('--to <date>', 'end, exclusive (default: the last closed candle)')
    .option('--now <date>', "clock for the open candle (default: the exchange's time)")
    .option('--symbols <list>', 'comma-separated, e.g. BTC/USDT,ETH/USDT')
    .option('--timeframe <tf>', 'timeframe (default: the first configured)')
    .option('--refetch', 're-fetch ranges already covered (idempotent: writes only changes)')
    .option('--no-wait', 'start it and return')
    .option('--no-worker-check', 'start even if no worker polls volcast-cpu (it waits for one)')
    .action(async (opts) => backfillCommand(loadConfigOrExit(), opts));
  data
    .command('import <files...>')
    .description("import Binance kline archives (.zip or .csv, ms or µs), normalized .csv.gz files or Deribit DVOL files (DERIBIT_BTC_DVOL_1h.csv.gz: an index series) through validation and the lake merge")
    .option('--symbol <symbol>', 'symbol (default: from the file name)')
    .option('--timeframe <tf>', 'timeframe when --symbol is given (default: the first configured)')
    .option('--exchange <id>', 'exchange id in the lake (default: the first configured)')
    .option('--replace', 'let rows that differ from stored bars replace them (default: refuse them, keep the stored bars); counted as changed')
    .action(async (files: string[], opts) => importCommand(loadConfigOrExit(), files, opts));
  data
    .command('status')
    .description('per symbol and timeframe: first/last bar, rows, gaps, duplicates, conflicts, changed and refused bars, rejected rows, watermark')
    .option('--symbols <list>', 'comma-separated (default: config symbols)')
    .option('--exchange <id>', 'exchange id (default: the first configured)')
    .action(async (opts) => statusCommand(loadConfigOrExit(), opts));
  data
    .command('flags')
    .description("a series' data-quality flags (rows candle validation rejected): open, acknowledged, or resolved by a valid bar stored since")
    .requiredOption('--symbol <symbol>', 'e.g. BTC/USDT')
    .option('--timeframe <tf>', 'default: the first configured')
    .option('--exchange <id>', 'default: the first configured')
    .action(async (opts) => flagsCommand(loadConfigOrExit(), opts));
  data
    .command('ack')
    .description('acknowledge data-quality flags with a reason (recorded), so they stop blocking promotion')
    .requiredOption('--symbol <symbol>', 'e.g. BTC/USDT')
    .requiredOption('--reason <text>', 'why these rows may be ignored (recorded with the acknowledgement)')
    .option('--ts <time...>', 'open time(s) of the flagged rows (ISO or ms)')
    .option('--all', 'every open flag of the series')
    .option('--timeframe <tf>', 'default: the first configured')
    .option('--exchange <id>', 'default: the first configured')
    .action(async (opts) => ackCommand(loadConfigOrExit(), opts));
  data
    .command('cleanup')
    .description('housekeeping now: delete what the retention policy (temporal.config.ts housekeeping) no longer keeps; prints what is deleted and what is kept, and why')
    .option('--dry-run', 'plan only: print what would be deleted, delete nothing')
    .option('--now <date>', 'the clock ages are judged against (default: now); a later one ages everything, so use it on test stacks only')
    .option('--no-worker-check', 'start even if no worker polls volcast-cpu (it waits for one)')
    .action(async (opts: { dryRun?: boolean; now?: string; workerCheck: boolean }) => cleanupCommand(loadConfigOrExit(), { dryRun: opts.dryRun, now: parseDate('now', opts.now), workerCheck: opts.workerCheck }));
  data
    .command('replay')
    .description('run the exchange replay server (Binance spot REST from ../shared/data) in the foreground, on loopback')
    .option('--port <port>', 'port (default VOLCAST_EXCHANGE_PORT or 19100)')
    .option('--now <date>', 'replay clock (default: last bar + 1h)')
    .action(async (opts: { port?: string; now?: string }) => {
      const port = Number(opts.port ?? process.env.VOLCAST_EXCHANGE_PORT ?? 19100);
      const r = await startReplayExchange({ port, now: parseDate('now', opts.now) });
      console.log(`replay exchange on ${r.url} (${r.symbols().length} symbols, clock ${isoTs(r.now())}); point ingest at it with VOLCAST_EXCHANGE_URL=${r.url}`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await r.close();
    });
}
