/**
 * The ingest activity and the backfill workflow against the real stack: Temporal dev server, MinIO,
 * the TypeScript worker as a process, real ccxt pointed at the replay exchange (in this process).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, beforeEach, describe, it } from 'node:test';
import { ActivityFailure, ApplicationFailure, WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { IngestInput, IngestResult } from '../activities/ingest';
import { importCandleFile } from '../lib/candles/import';
import { readManifest, readSeries } from '../lib/candles/lake';
import type { VolcastConfig } from '../lib/platform/config';
import { layout, type Series } from '../lib/platform/layout';
import { ArtifactStore } from '../lib/platform/store';
import { connectClient } from '../lib/platform/temporal';
import { startReplayExchange, type ReplayExchange } from '../infra/replayExchange';
import { taskQueues } from '../temporal.config';
import type { BackfillInput } from '../workflows';
import { startWorker, stopWorker, type LocalWorker } from '../workers/local';
import { objectVersions, sourceRows } from './dataHelpers';
import { eventually, testConfig, uid } from './helpers';
import { backfill, ingestSeries, progressQuery } from '../workflows';

const STARTED = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;
const SYMBOLS = ['BTC/USDT', 'ETH/USDT', 'SOL/USDT', 'FTT/USDT'];

describe('ingest and backfill (real Temporal + MinIO + ccxt against the replay exchange)', () => {
  let cfg: VolcastConfig;
  let client: Client;
  let store: ArtifactStore;
  let replay: ReplayExchange;
  let worker: LocalWorker | undefined;
  const workerEnv = () => ({ VOLCAST_EXCHANGE_URL: replay.url, VOLCAST_INGEST_TIMEOUT_MS: '1500' });

  before(async () => {
    cfg = testConfig();
    store = new ArtifactStore(cfg);
    replay = await startReplayExchange({ symbols: SYMBOLS });
    worker = await startWorker(cfg, 'cpu', { env: workerEnv() });
    client = await connectClient(cfg);
  });
  after(async () => {
    if (worker) await stopWorker(worker);
    await client?.connection.close();
    await replay?.close();
  });
  beforeEach(() => replay.reset());

  function ingest(input: Omit<IngestInput, 'exchange'> & { heartbeatTimeoutS?: number }, tag: string): Promise<WorkflowHandle> {
    return client.workflow.start(ingestSeries, { taskQueue: taskQueues.cpu, workflowId: uid(`test-ingest-${tag}`), args: [input] });
  }
  async function ingestResult(input: Omit<IngestInput, 'exchange'> & { heartbeatTimeoutS?: number }, tag: string): Promise<IngestResult> {
    return (await ingest(input, tag)).result();
  }
  // The lake is keyed by exchange id ('binance'); tests use distinct symbols/windows to stay apart,
  // and wipe what they use first.
  async function wipe(series: Series): Promise<void> {
    for (const o of await store.list(layout.candlesPrefix(series))) await store.remove(o.key);
  }
  const series = (symbol: string): Series => ({ exchange: 'binance', symbol, timeframe: '1h' });
  const inWindow = async (symbol: string, from: number, to: number) => (await sourceRows(symbol)).filter((r) => r.ts >= from && r.ts < to);
  const ohlcv = (rows: { ts: number; open: number; high: number; low: number; close: number; volume: number }[]) =>
    rows.map((r) => [r.ts, r.open, r.high, r.low, r.close, r.volume]);

  it('ingests a window exactly, incrementally from the watermark, and never stores the open candle', async () => {
    const s = series('ETH/USDT');
    await wipe(s);
    const from = Date.UTC(2024, 0, 1);
    const nowMid = Date.UTC(2024, 0, 20, 5, 30); // the 05:00 candle is open
    replay.setNow(nowMid);
    const r1 = await ingestResult({ symbol: s.symbol, timeframe: '1h', since: from }, 'open');
    const expected = await inWindow(s.symbol, from, Date.UTC(2024, 0, 20, 5));
    assert.equal(r1.watermark, Date.UTC(2024, 0, 20, 4));
    assert.equal(r1.storedRows, expected.length);
    assert.deepEqual(ohlcv(await readSeries(store, s)), ohlcv(expected));
    // Later: incremental from the watermark (no since), with "now" as an input.
    replay.setNow(Date.UTC(2024, 1, 1));
    const r2 = await ingestResult({ symbol: s.symbol, timeframe: '1h', now: Date.UTC(2024, 1, 1) }, 'incr');
    assert.equal(r2.window!.from, Date.UTC(2024, 0, 20, 5));
    const all = await inWindow(s.symbol, from, Date.UTC(2024, 1, 1));
    assert.equal(r2.storedRows, all.length);
    assert.deepEqual(ohlcv(await readSeries(store, s)), ohlcv(all));
    // The same window again, re-fetched: nothing is written, no object changes.
    const versions = await objectVersions(store, layout.candlesPrefix(s));
    const r3 = await ingestResult({ symbol: s.symbol, timeframe: '1h', since: from, until: Date.UTC(2024, 1, 1), refetch: true }, 'again');
    assert.ok(r3.fetchedRows >= all.length);
    assert.equal(r3.objectsWritten, 0);
    assert.deepEqual(await objectVersions(store, layout.candlesPrefix(s)), versions);
  });

  it('records malformed, gap, duplicate and out-of-order candles in the result and the manifest', async () => {
    const s = series('SOL/USDT');
    await wipe(s);
    const from = Date.UTC(2023, 4, 1);
    const to = Date.UTC(2023, 4, 8);
    const t = (d: number, h: number) => Date.UTC(2023, 4, d, h);
    replay.addFaults([
      { kind: 'malformed', symbol: s.symbol, ts: t(2, 1), how: 'negative-price' },
      { kind: 'malformed', symbol: s.symbol, ts: t(2, 2), how: 'high-below-low' },
      { kind: 'malformed', symbol: s.symbol, ts: t(2, 3), how: 'not-a-number' },
      { kind: 'malformed', symbol: s.symbol, ts: t(2, 4), how: 'off-grid' },
      { kind: 'gap', symbol: s.symbol, from: t(4, 0), to: t(4, 5) },
      { kind: 'duplicate', symbol: s.symbol, ts: t(5, 10), closeDelta: 0.5 },
      { kind: 'swap', symbol: s.symbol, ts: t(6, 7) },
    ]);
    const r = await ingestResult({ symbol: s.symbol, timeframe: '1h', since: from, until: to, pageLimit: 50 }, 'faults');
    // The exchange sent 05-05 10:00 twice with different closes: neither copy is taken (not resolved by order).
    assert.deepEqual(r.rejected, { 'price <= 0': 1, 'high < max(open, close)': 1, 'not a number': 1, 'ts off the timeframe grid': 1, 'conflicting duplicate': 1 });
    assert.deepEqual(r.duplicates, [t(5, 10)]);
    assert.deepEqual(r.outOfOrder, [t(6, 7)]);
    assert.deepEqual(r.gaps.filter((g) => g.from === t(2, 1) || g.from === t(4, 0)).map((g) => [g.from, g.to, g.bars]), [
      [t(2, 1), t(2, 4), 4],
      [t(4, 0), t(4, 5), 6],
    ]);
    const source = await inWindow(s.symbol, from, to);
    const stored = await readSeries(store, s);
    assert.equal(stored.length, source.length - 4 - 6 - 1);
    assert.equal(stored.find((c) => c.ts === t(5, 10)), undefined);
    assert.deepEqual(r.rejectedRows.find((x) => x.reason === 'conflicting duplicate')?.ts, t(5, 10));
    const { manifest } = await readManifest(store, s);
    assert.deepEqual(manifest.rejected, r.rejected);
    assert.deepEqual(manifest.duplicates, [t(5, 10)]);
    assert.deepEqual(manifest.outOfOrder, [t(6, 7)]);
    assert.ok(manifest.gaps.some((g) => g.from === t(4, 0) && g.bars === 6));
  });

  it('a fresh fetch replaces stored bars that differ from the exchange, counted as changed', async () => {
    const s = series('BTC/USDT');
    await wipe(s);
    const from = Date.UTC(2020, 1, 1);
    const to = Date.UTC(2020, 1, 3);
    const source = await inWindow(s.symbol, from, to);
    const wrongTs = [source[5]!.ts, source[17]!.ts, source[30]!.ts];
    const wrong = source.map((r) => (wrongTs.includes(r.ts) ? { ...r, volume: r.volume * 2 } : r));
    const dir = await mkdtemp(join(tmpdir(), 'volcast-ingest-'));
    const file = join(dir, 'BINANCE_BTCUSDT_1h.csv.gz');
    await writeFile(file, gzipSync(`ts,open,high,low,close,volume\n${wrong.map((r) => [r.ts, r.open, r.high, r.low, r.close, r.volume].join(',')).join('\n')}\n`));
    await importCandleFile(store, file, s);
    await rm(dir, { recursive: true, force: true });
    const r = await ingestResult({ symbol: s.symbol, timeframe: '1h', since: from, until: to }, 'changed');
    assert.deepEqual(r.changed, wrongTs);
    assert.deepEqual(ohlcv(await readSeries(store, s)), ohlcv(source));
    assert.deepEqual((await readManifest(store, s)).manifest.changed, wrongTs);
  });

  for (const fault of [
    { name: '5xx', f: { kind: 'http', status: 503, times: 1, endpoint: 'klines' }, type: 'ExchangeUnavailableError', minDelayMs: 0 },
    { name: '429 with Retry-After', f: { kind: 'http', status: 429, times: 1, retryAfterS: 3, endpoint: 'klines' }, type: 'ExchangeRateLimitError', minDelayMs: 3000 },
    { name: 'a timeout', f: { kind: 'hang', times: 1, endpoint: 'klines' }, type: 'ExchangeTimeoutError', minDelayMs: 0 },
  ] as const) {
    it(`retries ${fault.name} with backoff through the retry policy and completes`, async () => {
      const s = series('BTC/USDT');
      await wipe(s);
      replay.addFaults([fault.f]);
      const from = Date.UTC(2022, 5, 1);
      const to = Date.UTC(2022, 5, 3);
      const handle = await ingest({ symbol: s.symbol, timeframe: '1h', since: from, until: to }, 'retry');
      const t0 = Date.now();
      const r = (await handle.result());
      assert.equal(r.attempt, 2);
      assert.equal(r.storedRows, (await inWindow(s.symbol, from, to)).length);
      const history = await handle.fetchHistory();
      const failed = (history.events ?? []).find((e) => e.activityTaskStartedEventAttributes?.attempt === 2)?.activityTaskStartedEventAttributes?.lastFailure;
      assert.equal(failed?.applicationFailureInfo?.type, fault.type);
      assert.ok(Date.now() - t0 >= fault.minDelayMs, 'Retry-After honoured');
    });
  }

  it('fails at once, non-retryably, for a symbol the exchange does not list', async () => {
    replay.addFaults([{ kind: 'delist', symbol: 'FTT/USDT' }]);
    const handle = await ingest({ symbol: 'FTT/USDT', timeframe: '1h', since: Date.UTC(2021, 0, 1), until: Date.UTC(2021, 0, 2) }, 'unknown');
    const err = await handle.result().then(
      () => assert.fail('expected a failure'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError && err.cause instanceof ActivityFailure);
    const app = err.cause.cause;
    assert.ok(app instanceof ApplicationFailure);
    assert.equal(app.type, 'UnknownSymbolError');
    assert.equal(app.nonRetryable, true);
    assert.match(app.message, /FTT\/USDT.*binance/);
    const starts = ((await handle.fetchHistory()).events ?? []).filter((e) => e.activityTaskStartedEventAttributes);
    assert.equal(starts.length, 1);
  });

  it('resumes after the worker is SIGKILLed mid-ingest with no gap and no duplicate', async () => {
    const s = series('ETH/USDT');
    await wipe(s);
    const from = Date.UTC(2021, 0, 1);
    const to = Date.UTC(2021, 2, 1);
    replay.setNow(Date.UTC(2021, 5, 1));
    const handle = await ingest({ symbol: s.symbol, timeframe: '1h', since: from, until: to, pageLimit: 100, flushRows: 200, heartbeatTimeoutS: 3 }, 'crash');
    // Let a few pages land, then stall the next request and kill the worker while it waits.
    await eventually('some pages fetched', async () => (replay.requests()['klines'] ?? 0) >= 5, 30_000);
    replay.addFaults([{ kind: 'hang', times: 1, endpoint: 'klines' }]);
    await eventually('ingest running', async () => {
      const d = await handle.describe();
      return (d.raw.pendingActivities ?? []).some((a) => a.state === STARTED);
    });
    const stored = (await readManifest(store, s)).manifest.rows;
    worker!.child.kill('SIGKILL');
    await worker!.exited;
    worker = await startWorker(cfg, 'cpu', { env: workerEnv() });
    const r = (await handle.result());
    assert.ok(r.attempt >= 2);
    const expected = await inWindow(s.symbol, from, to);
    assert.ok(stored > 0, 'the first attempt stored part of the window');
    assert.ok(r.fetchedRows <= expected.length - stored + 100, `resumed from the watermark (fetched ${r.fetchedRows})`);
    const got = await readSeries(store, s);
    assert.deepEqual(ohlcv(got), ohlcv(expected));
  });

  it('backfills many symbols with bounded concurrency, shows progress, and a second backfill writes nothing', async () => {
    const symbols = ['BTC/USDT', 'ETH/USDT', 'SOL/USDT'];
    for (const sym of symbols) await wipe(series(sym));
    const from = Date.UTC(2022, 0, 1);
    const to = Date.UTC(2022, 3, 1);
    const input: BackfillInput = { symbols, timeframe: '1h', from, to, concurrency: 2, monthsPerActivity: 1 };
    const handle = await client.workflow.start(backfill, { taskQueue: taskQueues.cpu, workflowId: uid('test-backfill'), args: [input] });
    const seen = await eventually('progress with a running symbol', async () => {
      const p = await handle.query(progressQuery);
      return p.running > 0 ? p : null;
    });
    assert.ok(seen.running <= 2);
    const result = (await handle.result());
    assert.equal(result.done, 3);
    const memo = (await handle.describe()).memo as { progress?: string };
    assert.match(memo.progress ?? '', /3\/3 symbols done/);
    for (const p of result.symbols) {
      const expected = await inWindow(p.symbol, from, to);
      assert.equal(p.storedRows, expected.length, p.symbol);
      assert.deepEqual(ohlcv(await readSeries(store, series(p.symbol))), ohlcv(expected));
      assert.equal(p.chunksDone, 3);
    }
    const versions = await Promise.all(symbols.map((sym) => objectVersions(store, layout.candlesPrefix(series(sym)))));
    const second = (await client.workflow.execute(backfill, { taskQueue: taskQueues.cpu, workflowId: uid('test-backfill2'), args: [{ ...input, refetch: true }] }));
    assert.deepEqual(second.symbols.map((p) => p.objectsWritten), [0, 0, 0]);
    assert.deepEqual(await Promise.all(symbols.map((sym) => objectVersions(store, layout.candlesPrefix(series(sym))))), versions);
  });
});
