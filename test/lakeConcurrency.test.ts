/**
 * Many writers of one series at once, against the real stack: imports in this process and ingests
 * in the cpu worker (real ccxt against the replay exchange), racing into one new series, trial after
 * trial; a writer killed between its partition puts and its manifest put; two people acknowledging
 * flags at once. Every row must be there and every object the manifest names must exist with its
 * sha256 (read through a store with an empty cache, so each one is downloaded and verified).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import type { Candle } from '../lib/candles/candle';
import { importCandleFile } from '../lib/candles/import';
import { readManifest, readSeries } from '../lib/candles/lake';
import { ackFlags, qualityFlags } from '../lib/candles/quality';
import type { VolcastConfig } from '../lib/platform/config';
import { layout, type Series } from '../lib/platform/layout';
import { repoRoot } from '../lib/platform/paths';
import { ArtifactStore } from '../lib/platform/store';
import { connectClient } from '../lib/platform/temporal';
import { startReplayExchange, type ReplayExchange } from '../infra/replayExchange';
import { taskQueues } from '../temporal.config';
import { startWorker, stopWorker, type LocalWorker } from '../workers/local';
import { ingestSeries } from '../workflows';
import { objectVersions, sourceRows } from './dataHelpers';
import { testConfig, uid } from './helpers';

const SYMBOL = 'DOT/USDT'; // no other suite writes it
const TRIALS = Number(process.env.VOLCAST_LAKE_TRIALS ?? 20);
const utc = (y: number, m: number, d = 1) => Date.UTC(y, m - 1, d);
const ohlcv = (rows: Candle[]) => rows.map((r) => [r.ts, r.open, r.high, r.low, r.close, r.volume]);
const csv = (rows: Candle[]) => gzipSync(`ts,open,high,low,close,volume\n${rows.map((r) => [r.ts, r.open, r.high, r.low, r.close, r.volume].join(',')).join('\n')}\n`);

describe('concurrent writers of one series (real Temporal + MinIO + ccxt against the replay exchange)', () => {
  let cfg: VolcastConfig;
  let store: ArtifactStore;
  let client: Client;
  let replay: ReplayExchange;
  let worker: LocalWorker | undefined;
  let dir: string;
  const series: Series = { exchange: 'binance', symbol: SYMBOL, timeframe: '1h' };

  before(async () => {
    cfg = testConfig();
    store = new ArtifactStore(cfg);
    dir = await mkdtemp(join(tmpdir(), 'volcast-lakeconc-'));
    replay = await startReplayExchange({ symbols: [SYMBOL] });
    worker = await startWorker(cfg, 'cpu', { env: { VOLCAST_EXCHANGE_URL: replay.url } });
    client = await connectClient(cfg);
  });
  after(async () => {
    if (worker) await stopWorker(worker);
    await client?.connection.close();
    await replay?.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function wipe(s: Series): Promise<void> {
    for (const o of await store.list(layout.candlesPrefix(s))) await store.remove(o.key);
  }
  const rowsIn = async (from: number, to: number) => (await sourceRows(SYMBOL)).filter((r) => r.ts >= from && r.ts < to);

  /** Every partition the manifest names, downloaded by a store with an empty cache: exists, and its bytes have the sha256. */
  async function assertReferencedObjectsIntact(s: Series): Promise<void> {
    const cold = new ArtifactStore(cfg, { cacheDir: await mkdtemp(join(dir, 'cold-')) });
    const { manifest } = await readManifest(cold, s);
    for (const [month, p] of Object.entries(manifest.partitions)) {
      await cold.getFile({ bucket: cold.bucket, key: p.key, sha256: p.sha256 }).catch((err: unknown) => {
        throw new Error(`partition ${month} (${p.key}) named by the manifest is not intact: ${(err as Error).message}`);
      });
    }
  }

  it(`${TRIALS} trials of 3 imports and 2 ingests racing into one new series: every row present, every referenced object intact`, async () => {
    // June and July as files, a file overlapping July and August, August and the first half of
    // September from the exchange (identical values where they overlap: the same real data).
    const files = [
      { name: 'june.csv.gz', from: utc(2023, 6), to: utc(2023, 7) },
      { name: 'july.csv.gz', from: utc(2023, 7), to: utc(2023, 8) },
      { name: 'mid.csv.gz', from: utc(2023, 7, 15), to: utc(2023, 8, 15) },
    ];
    for (const f of files) await writeFile(join(dir, f.name), csv(await rowsIn(f.from, f.to)));
    const ingests = [
      { since: utc(2023, 8), until: utc(2023, 9) },
      { since: utc(2023, 9), until: utc(2023, 9, 15) },
    ];
    const expected = await rowsIn(utc(2023, 6), utc(2023, 9, 15));
    const started = Date.now();
    const attempts: number[] = [];
    for (let trial = 1; trial <= TRIALS; trial++) {
      await wipe(series);
      const t0 = Date.now();
      const handles = await Promise.all(
        ingests.map((w, i) =>
          client.workflow.start(ingestSeries, {
            taskQueue: taskQueues.cpu,
            workflowId: uid(`lakeconc-${trial}-${i}`),
            // Small pages and flushes: each ingest merges several times while the imports run.
            args: [{ symbol: SYMBOL, timeframe: '1h', since: w.since, until: w.until, pageLimit: 100, flushRows: 200 }],
          }),
        ),
      );
      const [imports, ingested] = await Promise.all([
        Promise.all(files.map((f) => importCandleFile(store, join(dir, f.name), series))),
        Promise.all(handles.map((h) => h.result())),
      ]);
      attempts.push(...imports.map((r) => (r.merge as { attempts?: number }).attempts ?? 1));
      const stored = await readSeries(store, series);
      const missing = expected.filter((r) => !stored.some((s) => s.ts === r.ts)).length;
      assert.equal(missing, 0, `trial ${trial}: ${missing} of ${expected.length} rows lost (stored ${stored.length}; imports reported ${imports.map((r) => r.storedRows).join(', ')}, ingests ${ingested.map((r) => r.storedRows).join(', ')})`);
      assert.deepEqual(ohlcv(stored), ohlcv(expected), `trial ${trial}: stored rows differ from the source`);
      const { manifest } = await readManifest(store, series);
      assert.equal(manifest.rows, expected.length, `trial ${trial}: manifest row count`);
      assert.deepEqual(Object.keys(manifest.partitions), ['2023-06', '2023-07', '2023-08', '2023-09'], `trial ${trial}: partitions`);
      assert.deepEqual(manifest.sources, ['ccxt:binance', 'csv:normalized'], `trial ${trial}: sources`);
      await assertReferencedObjectsIntact(series);
      console.log(`# trial ${trial}: ${Date.now() - t0} ms`);
    }
    const conflicts = attempts.filter((a) => a > 1).length;
    console.log(`# ${TRIALS} trials in ${Date.now() - started} ms; ${conflicts} of ${attempts.length} imports lost a race and re-merged (max ${Math.max(...attempts)} attempts)`);
  });

  it('a writer killed between its partition puts and its manifest put leaves the series readable and intact', async () => {
    // Twelve months stored; then a child process re-imports them with every volume changed (--replace)
    // and is SIGKILLed as soon as a partition object changes, before its manifest put.
    const s: Series = { exchange: uid('crash').toLowerCase().replace(/[^a-z0-9]/g, ''), symbol: SYMBOL, timeframe: '1h' };
    const v1 = await rowsIn(utc(2022, 1), utc(2023, 1));
    const v2 = v1.map((r) => ({ ...r, volume: r.volume + 1 }));
    await writeFile(join(dir, 'v1.csv.gz'), csv(v1));
    await writeFile(join(dir, 'v2.csv.gz'), csv(v2));
    await importCandleFile(store, join(dir, 'v1.csv.gz'), s);
    const manifestKey = layout.candlesManifest(s);
    let landed = 0;
    let rounds = 0;
    for (let round = 1; round <= 5 && landed === 0; round++) {
      rounds = round;
      const baseline = await objectVersions(store, layout.candlesPrefix(s));
      const script = `const { importCandleFile } = require('./lib/candles/import'); const { ArtifactStore } = require('./lib/platform/store'); const { loadConfig } = require('./lib/platform/config');
        importCandleFile(new ArtifactStore(loadConfig()), ${JSON.stringify(join(dir, 'v2.csv.gz'))}, ${JSON.stringify(s)}, { replace: true }).then(() => console.log('committed'));`;
      const child = spawn(process.execPath, ['--import', 'tsx', '-e', script], { cwd: repoRoot, env: process.env, stdio: ['ignore', 'pipe', 'inherit'] });
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      let killedMidWrite = false;
      for (;;) {
        const now = await objectVersions(store, layout.candlesPrefix(s));
        const partitionChanged = Object.entries(now).some(([k, v]) => k !== manifestKey && baseline[k] !== v);
        if (partitionChanged || child.exitCode !== null) {
          child.kill('SIGKILL');
          killedMidWrite = partitionChanged && now[manifestKey] === baseline[manifestKey];
          break;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      await exited;
      const manifestAfter = (await objectVersions(store, layout.candlesPrefix(s)))[manifestKey];
      if (killedMidWrite && manifestAfter === baseline[manifestKey] && !output.includes('committed')) landed += 1;
      // Whatever the timing, the series reads back whole: the old rows, or (committed) the new ones.
      const stored = await readSeries(store, s);
      assert.ok(JSON.stringify(ohlcv(stored)) === JSON.stringify(ohlcv(v1)) || JSON.stringify(ohlcv(stored)) === JSON.stringify(ohlcv(v2)), `round ${round}: the series is neither version`);
      await assertReferencedObjectsIntact(s);
      if (!landed) await importCandleFile(store, join(dir, 'v1.csv.gz'), s, { replace: true }); // back to v1 for another round
    }
    assert.ok(landed > 0, 'the kill never landed between a partition put and the manifest put');
    console.log(`# the kill landed between a partition put and the manifest put in round ${rounds}`);
    assert.deepEqual(ohlcv(await readSeries(store, s)), ohlcv(v1), 'the killed writer changed nothing visible');
    // The same import, run again to the end, commits; what the killed one left is not referenced.
    const again = await importCandleFile(store, join(dir, 'v2.csv.gz'), s, { replace: true });
    assert.equal(again.changed, v1.length);
    assert.deepEqual(ohlcv(await readSeries(store, s)), ohlcv(v2));
    await assertReferencedObjectsIntact(s);
  });

  it('two acknowledgements at once both stay recorded (_acks.json is written conditionally)', async () => {
    const s: Series = { exchange: uid('acks').toLowerCase().replace(/[^a-z0-9]/g, ''), symbol: SYMBOL, timeframe: '1h' };
    const rows = await rowsIn(utc(2023, 3), utc(2023, 3, 3));
    const bad = rows.slice(0, 8).map((r) => r.ts);
    // Eight bars with high below low: eight open flags.
    const lines = rows.map((r) => [r.ts, r.open, bad.includes(r.ts) ? r.low / 2 : r.high, r.low, r.close, r.volume].join(','));
    await writeFile(join(dir, 'acks.csv.gz'), gzipSync(`ts,open,high,low,close,volume\n${lines.join('\n')}\n`));
    await importCandleFile(store, join(dir, 'acks.csv.gz'), s);
    const counts = await Promise.all(bad.map((t, i) => ackFlags(store, s, { ts: [t] }, `checked by person ${i}`, new Date(Date.UTC(2026, 0, 1, 0, i)).toISOString())));
    assert.deepEqual(counts, bad.map(() => 1));
    const flags = await qualityFlags(store, s);
    assert.deepEqual(flags.map((f) => f.status), bad.map(() => 'acknowledged'));
    assert.deepEqual(flags.map((f) => f.note), bad.map((_, i) => `checked by person ${i}`));
  });
});
