/**
 * bench:ingest — one command (`npm run bench:ingest`): starts its own stack (Temporal dev server +
 * MinIO on VOLCAST_BENCH_PORT_BASE, default 24000, state in .state/bench), the replay exchange and
 * a CPU worker, then measures:
 *   1. a backfill of every hourly symbol in ../shared/data through ccxt into MinIO Parquet
 *      (candles/s), checking stored rows = source rows − rows validation rejected (with reasons);
 *   2. a second backfill with --refetch: objects written (must be 0);
 *   3. bulk import rates: the normalized files, and Binance-layout monthly zip archives.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { zipSync } from 'fflate';
import { loadConfig } from '../lib/platform/config';
import { importCandleFile } from '../lib/candles/import';
import { readManifest } from '../lib/candles/lake';
import { ArtifactStore } from '../lib/platform/store';
import { connectClient } from '../lib/platform/temporal';
import { down, up } from '../infra/devStack';
import { sharedCandlesDir, startReplayExchange } from '../infra/replayExchange';
import { startWorker, stopWorker } from '../workers/local';
import type { BackfillInput } from '../workflows/backfill';
import { benchEnv } from './stack';
import { backfill } from '../workflows';

benchEnv(Number(process.env.VOLCAST_BENCH_PORT_BASE ?? 24000), join('.state', 'bench'));

function sourceRowCount(file: string): number {
  return gunzipSync(readFileSync(join(sharedCandlesDir, file))).toString('utf8').trim().split(/\r?\n/).length - 1;
}

async function main(): Promise<void> {
  const log = (m: string) => console.log(m);
  await down(loadConfig(), { log: () => {} }).catch(() => {});
  await rm(process.env.VOLCAST_STATE_DIR!, { recursive: true, force: true });
  const cfg = await up(loadConfig(), { log });
  const store = new ArtifactStore(cfg);
  const replay = await startReplayExchange({ port: Number(process.env.VOLCAST_EXCHANGE_PORT ?? 0) || 0 });
  const worker = await startWorker(cfg, 'cpu', { env: { VOLCAST_EXCHANGE_URL: replay.url } });
  const client = await connectClient(cfg);
  try {
    const files = readdirSync(sharedCandlesDir).filter((f) => /^BINANCE_[A-Z0-9]+USDT_1h\.csv\.gz$/.test(f)).sort();
    const symbols = files.map((f) => `${/^BINANCE_([A-Z0-9]+)USDT/.exec(f)![1]}/USDT`);
    const sourceRows = Object.fromEntries(files.map((f, i) => [symbols[i]!, sourceRowCount(f)]));
    const totalSource = Object.values(sourceRows).reduce((a, b) => a + b, 0);
    const input: BackfillInput = {
      symbols,
      timeframe: '1h',
      from: Date.UTC(2017, 0, 1),
      concurrency: cfg.ingest.concurrency,
      monthsPerActivity: cfg.ingest.monthsPerActivity,
    };
    log(`\n== backfill: ${symbols.length} symbols, ${totalSource} source rows, concurrency ${input.concurrency}, ${input.monthsPerActivity} months per activity, replay clock ${new Date(replay.now()).toISOString()}`);
    let t0 = Date.now();
    const first = (await client.workflow.execute(backfill, { taskQueue: cfg.taskQueues.cpu, workflowId: `bench-backfill-${Date.now()}`, args: [input] }));
    const secs1 = (Date.now() - t0) / 1000;
    let stored = 0;
    let rejectedTotal = 0;
    const reasons: Record<string, number> = {};
    let mismatches = 0;
    for (const p of first.symbols) {
      const { manifest } = await readManifest(store, { exchange: 'binance', symbol: p.symbol, timeframe: '1h' });
      const rejected = Object.values(manifest.rejected).reduce((a, b) => a + (b ?? 0), 0);
      for (const [r, n] of Object.entries(manifest.rejected)) reasons[r] = (reasons[r] ?? 0) + (n ?? 0);
      stored += manifest.rows;
      rejectedTotal += rejected;
      const ok = manifest.rows === sourceRows[p.symbol]! - rejected;
      if (!ok) mismatches++;
      log(`  ${p.symbol.padEnd(11)} source ${String(sourceRows[p.symbol]).padStart(6)}  stored ${String(manifest.rows).padStart(6)}  rejected ${rejected}  gaps ${manifest.gaps.length} (${manifest.gaps.reduce((s, g) => s + g.bars, 0)} bars)  ${ok ? 'ok' : 'MISMATCH'}`);
    }
    log(`backfill: ${totalSource} source rows, ${stored} stored, ${rejectedTotal} rejected ${JSON.stringify(reasons)}, ${mismatches} mismatches`);
    log(`backfill through ccxt: ${secs1.toFixed(1)} s, ${Math.round(stored / secs1)} candles/s`);

    const before = await store.list('candles/binance/');
    t0 = Date.now();
    const second = (await client.workflow.execute(backfill, { taskQueue: cfg.taskQueues.cpu, workflowId: `bench-backfill2-${Date.now()}`, args: [{ ...input, refetch: true }] }));
    const secs2 = (Date.now() - t0) / 1000;
    const written = second.symbols.reduce((s, p) => s + p.objectsWritten, 0);
    const fetched2 = second.symbols.reduce((s, p) => s + p.fetchedRows, 0);
    const after = await store.list('candles/binance/');
    log(`second backfill (re-fetch everything): ${fetched2} candles fetched in ${secs2.toFixed(1)} s (${Math.round(fetched2 / secs2)} candles/s), objects written ${written}, object count ${before.length} -> ${after.length}`);

    // Import rates: the normalized files, then Binance-layout monthly zip archives made from them.
    t0 = Date.now();
    let imported = 0;
    for (const f of files) imported += (await importCandleFile(store, join(sharedCandlesDir, f), { exchange: 'benchcsv', symbol: `${/^BINANCE_([A-Z0-9]+)USDT/.exec(f)![1]}/USDT`, timeframe: '1h' })).sourceRows;
    const secs3 = (Date.now() - t0) / 1000;
    log(`import normalized csv.gz: ${imported} rows in ${secs3.toFixed(1)} s, ${Math.round(imported / secs3)} rows/s`);

    const dir = await mkdtemp(join(tmpdir(), 'volcast-bench-'));
    try {
      const lines = gunzipSync(readFileSync(join(sharedCandlesDir, 'BINANCE_BTCUSDT_1h.csv.gz'))).toString('utf8').trim().split(/\r?\n/).slice(1);
      const byMonth = new Map<string, string[]>();
      for (const line of lines) {
        const f = line.split(',');
        const ts = Number(f[0]);
        const month = new Date(ts).toISOString().slice(0, 7);
        const row = [ts, f[1], f[2], f[3], f[4], f[5], ts + 3_599_999, 0, 0, 0, 0, 0].join(',');
        byMonth.set(month, [...(byMonth.get(month) ?? []), row]);
      }
      const zips: string[] = [];
      for (const [month, rows] of byMonth) {
        const name = `BTCUSDT-1h-${month}`;
        const path = join(dir, `${name}.zip`);
        await writeFile(path, zipSync({ [`${name}.csv`]: new TextEncoder().encode(rows.join('\n') + '\n') }));
        zips.push(path);
      }
      t0 = Date.now();
      let n = 0;
      for (const z of zips) n += (await importCandleFile(store, z, { exchange: 'benchzip', symbol: 'BTC/USDT', timeframe: '1h' })).sourceRows;
      const secs4 = (Date.now() - t0) / 1000;
      log(`import Binance monthly zip archives: ${zips.length} files, ${n} rows in ${secs4.toFixed(1)} s, ${Math.round(n / secs4)} rows/s`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    if (mismatches > 0 || written > 0) process.exitCode = 1;
  } finally {
    await client.connection.close();
    await stopWorker(worker);
    await replay.close();
    await down(cfg, { log: () => {} });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
