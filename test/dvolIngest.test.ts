/**
 * DVOL (Deribit's implied-volatility index) as a series of the lake (docs/lake.md "Index series"):
 * ingest through ccxt's deribit exchange against the replay exchange (which serves the shared DVOL
 * files through Deribit's get_volatility_index_data), `volcast data import` of the csv.gz, validation,
 * manifest and gaps, on real MinIO and DuckDB.
 */
import assert from 'node:assert/strict';
import { gunzipSync, gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { validateIndexRows } from '../lib/candles/candle';
import { importCandleFile } from '../lib/candles/import';
import { dvolSeries, indexSeriesFromFileName, ingestIndex } from '../lib/candles/indexSeries';
import { mergeIntoLake, readManifest, readSeries } from '../lib/candles/lake';
import { getExchange, type ExchangeSettings } from '../lib/candles/exchange';
import { layout } from '../lib/platform/layout';
import { ArtifactStore } from '../lib/platform/store';
import { sharedDvolDir, startReplayExchange, type ReplayExchange } from '../infra/replayExchange';
import { featureActivities } from '../activities/features';
import { tailFromLake } from '../lib/features/tail';
import { IMPLIED_FEATURES } from '../lib/features/definitions';
import { impliedFor } from '../lib/features/implied';
import { binanceHourlyCsv } from '../lib/candles/csv';
import type { FeatureSetImplied } from '../contracts/types';
import type { FeatureSetManifest } from '../contracts/activities';
import { readRows } from './featureFixtures';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ingestActivities } from '../activities/ingest';
import { testConfig, uid } from './helpers';

const H = 3_600_000;
const DAY = 24 * H;
const FIRST = Date.parse('2021-03-24T00:00:00Z');

function fileRows(name: string): string[][] {
  const lines = gunzipSync(readFileSync(join(sharedDvolDir, name))).toString('utf8').split('\n').filter(Boolean);
  return lines.slice(1).map((l) => l.split(','));
}

describe('index rows: validation', () => {
  it('close-only and OHLC rows are valid; partial OHLC, a bad close, off-grid and inconsistent rows are rejected with a reason', () => {
    const b = validateIndexRows(
      [
        { ts: 0, close: '80.5' },
        { ts: H, open: 80, high: 82, low: 79, close: 81 },
        { ts: 2 * H, open: 80, close: 81 }, // open without high/low
        { ts: 3 * H, close: 'x' },
        { ts: 4 * H, close: -1 },
        { ts: 5 * H + 7, close: 80 },
        { ts: 6 * H, open: 80, high: 79, low: 78, close: 80 },
        { ts: 0, close: '80.5' }, // an exact duplicate: kept once
      ],
      '1h',
    );
    assert.deepEqual(b.rows, [
      { ts: 0, open: null, high: null, low: null, close: 80.5, volume: null, quote_volume: null, trades: null },
      { ts: H, open: 80, high: 82, low: 79, close: 81, volume: null, quote_volume: null, trades: null },
    ]);
    assert.deepEqual(b.rejected.map((r) => r.reason), ['not a number', 'not a number', 'price <= 0', 'ts off the timeframe grid', 'high < max(open, close)']);
    assert.deepEqual(b.duplicates, [0]);
  });

  it('names DVOL files after Deribit: deribit BTC/DVOL 1h (an index), nothing for other names', () => {
    assert.deepEqual(indexSeriesFromFileName('DERIBIT_BTC_DVOL_1h.csv.gz'), { exchange: 'deribit', symbol: 'BTC/DVOL', timeframe: '1h' });
    assert.deepEqual(indexSeriesFromFileName('DERIBIT_ETH_DVOL_1d.csv.gz'), { exchange: 'deribit', symbol: 'ETH/DVOL', timeframe: '1d' });
    assert.equal(indexSeriesFromFileName('BINANCE_BTCUSDT_1h.csv.gz'), null);
    assert.equal(layout.candlesManifest(dvolSeries('BTC', '1h')), 'candles/deribit/BTC-DVOL/1h/_manifest.json');
  });
});

describe('DVOL in the lake (real MinIO, ccxt deribit against the replay exchange)', () => {
  let store: ArtifactStore;
  let replay: ReplayExchange;
  let settings: ExchangeSettings;
  let dir: string;
  const cfg = testConfig();

  before(async () => {
    // Only BTC candles (the replay needs one market); the DVOL files are all served. Small pages, so
    // Deribit's continuation is followed within each window.
    replay = await startReplayExchange({ port: 0, symbols: ['BTC/USDT'], indexPageLimit: 300 });
    store = new ArtifactStore({ ...cfg, minio: { ...cfg.minio, bucket: uid('dvol').toLowerCase() } });
    await store.ensureBucket();
    settings = { id: 'deribit', urlOverride: replay.url, timeoutMs: 5000, rateLimitMs: 1 };
    dir = await mkdtemp(join(tmpdir(), 'volcast-dvol-'));
  });
  after(async () => {
    await replay?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('ingests hourly BTC DVOL through ccxt: every closed candle of the file, paged, close-only, the open one not stored; a rerun fetches nothing', async () => {
    const ex = getExchange(settings);
    const until = FIRST + 60 * DAY + 5 * H + 30 * 60_000; // mid-bar: the 05:00 candle is still open
    replay.setNow(until);
    const r = await ingestIndex(store, ex, settings, { currency: 'BTC', timeframe: '1h', since: FIRST, pageBars: 1000 });
    const want = fileRows('DERIBIT_BTC_DVOL_1h.csv.gz').filter((f) => Number(f[0]) + H <= until);
    assert.equal(r.storedRows, want.length);
    assert.equal(r.watermark, Math.floor(until / H) * H - H, 'the 05:00 candle, still open, is not stored');
    assert.ok(r.requests > Math.ceil(want.length / 1000), `continuation followed: ${r.requests} requests`);
    const stored = await readSeries(store, r.series);
    assert.deepEqual(stored.map((c) => [c.ts, c.close]), want.map((f) => [Number(f[0]), Number(f[1])]));
    assert.ok(stored.every((c) => c.open === null && c.high === null && c.low === null && c.volume === null), 'close-only: nothing invented');
    const { manifest } = await readManifest(store, r.series);
    assert.equal(manifest.kind, 'index');
    assert.deepEqual(manifest.sources, ['ccxt:deribit']);
    assert.deepEqual(manifest.gaps, []);
    assert.deepEqual(manifest.covered, { from: FIRST, to: Math.floor(until / H) * H - H });

    const again = await ingestIndex(store, ex, settings, { currency: 'BTC', timeframe: '1h' });
    assert.equal(again.requests, 0);
    assert.equal(again.merge, null);
    // The clock moves on a day: only the new candles are fetched and merged.
    replay.setNow(until + DAY);
    const next = await ingestIndex(store, ex, settings, { currency: 'BTC', timeframe: '1h' });
    assert.equal(next.storedRows, want.length + 24);
    assert.equal(next.window!.from, Math.floor(until / H) * H);
  });

  it('daily ETH DVOL keeps its OHLC; a 429 from Deribit is a retryable rate-limit error, an unknown currency a permanent one', async () => {
    const ex = getExchange(settings);
    replay.setNow(FIRST + 100 * DAY);
    const r = await ingestIndex(store, ex, settings, { currency: 'ETH', timeframe: '1d', since: FIRST });
    const want = fileRows('DERIBIT_ETH_DVOL_1d.csv.gz').filter((f) => Number(f[0]) + DAY <= FIRST + 100 * DAY);
    assert.equal(r.storedRows, 100);
    const stored = await readSeries(store, r.series);
    assert.deepEqual(stored.map((c) => [c.ts, c.open, c.high, c.low, c.close]), want.map((f) => f.map(Number)));

    replay.addFaults([{ kind: 'http', status: 429, times: 1, endpoint: 'volatility_index', retryAfterS: 2 }]);
    await assert.rejects(ingestIndex(store, ex, settings, { currency: 'ETH', timeframe: '1d', since: FIRST, now: FIRST + 101 * DAY }), (e: Error & { type?: string; nonRetryable?: boolean }) => {
      assert.equal(e.type, 'ExchangeRateLimitError');
      assert.equal(e.nonRetryable, false);
      return true;
    });
    await assert.rejects(ingestIndex(store, ex, settings, { currency: 'XRP', timeframe: '1h', since: FIRST }), (e: Error & { type?: string; nonRetryable?: boolean }) => {
      assert.equal(e.type, 'ExchangeRequestError');
      assert.equal(e.nonRetryable, true);
      assert.match(e.message, /no 1h volatility index for XRP/);
      return true;
    });
    await assert.rejects(ingestIndex(store, ex, settings, { currency: 'BTC', timeframe: '4h' }), /timeframe 4h has no Deribit volatility-index resolution/);
  });

  it('imports the shared daily BTC DVOL csv.gz into its own series; an index never lands in a candle series and vice versa; a gap is recorded', async () => {
    const file = join(sharedDvolDir, 'DERIBIT_BTC_DVOL_1d.csv.gz');
    const r = await importCandleFile(store, file);
    assert.deepEqual(r.series, dvolSeries('BTC', '1d'));
    assert.equal(r.format, 'index-csv');
    assert.equal(r.validRows, fileRows('DERIBIT_BTC_DVOL_1d.csv.gz').length);
    assert.equal(r.storedRows, r.validRows);
    const again = await importCandleFile(store, file);
    assert.equal(again.objectsWritten, 0, 'idempotent');

    // A candle batch into the index series: refused, nothing written.
    const candle = { ts: FIRST, open: 1, high: 1, low: 1, close: 1, volume: 1, quote_volume: null, trades: null };
    await assert.rejects(mergeIntoLake(store, dvolSeries('BTC', '1d'), { rows: [candle], rejected: [], duplicates: [], outOfOrder: [] }, { source: 'test', differing: 'keep' }), /holds index, not candles/);

    // A hole in an imported file is a gap of the series, as for candles; a missing close is rejected.
    const lines = gunzipSync(readFileSync(join(sharedDvolDir, 'DERIBIT_BTC_DVOL_1h.csv.gz'))).toString('utf8').split('\n').slice(0, 50);
    const holed = [lines[0], ...lines.slice(1, 10), ...lines.slice(13, 50).filter(Boolean), `${FIRST + 60 * H},`].join('\n');
    const path = join(dir, 'DERIBIT_SOL_DVOL_1h.csv.gz');
    await writeFile(path, gzipSync(holed));
    const s = await importCandleFile(store, path);
    assert.deepEqual(s.series, dvolSeries('SOL', '1h'));
    assert.deepEqual(s.rejected, { 'not a number': 1 });
    const { manifest } = await readManifest(store, s.series);
    assert.deepEqual(manifest.gaps, [{ from: FIRST + 9 * H, to: FIRST + 11 * H, bars: 3 }]);
    // A file without a close column names the file and the column.
    const bad = join(dir, 'DERIBIT_ADA_DVOL_1h.csv.gz');
    await writeFile(bad, gzipSync('ts,value\n1616544000000,80\n'));
    await assert.rejects(importCandleFile(store, bad), (e: Error) => e.message.includes(bad) && /lacks column close/.test(e.message));
  });
});

describe('DVOL through the buildFeatures activity and the scoring tail (real MinIO)', () => {
  const cfg = testConfig();
  let store: ArtifactStore;
  let dir: string;
  const btc = { exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h' };
  const eth = { exchange: 'binance', symbol: 'ETH/USDT', timeframe: '1h' };

  before(async () => {
    store = new ArtifactStore({ ...cfg, minio: { ...cfg.minio, bucket: uid('dvolfeat').toLowerCase() } });
    await store.ensureBucket();
    dir = await mkdtemp(join(tmpdir(), 'volcast-dvolfeat-'));
    // Three months of real BTC and ETH candles (a slice of the shared files) and all of BTC's hourly DVOL.
    for (const s of ['BTC/USDT', 'ETH/USDT']) {
      const lines = gunzipSync(readFileSync(binanceHourlyCsv(s))).toString('utf8').split('\n');
      const from = Date.parse('2021-03-01T00:00:00Z'), to = Date.parse('2021-06-01T00:00:00Z');
      const keep = [lines[0], ...lines.slice(1).filter((l) => l && Number(l.split(',')[0]) >= from && Number(l.split(',')[0]) < to)];
      const path = join(dir, `BINANCE_${s.replace('/', '')}_1h.csv.gz`);
      await writeFile(path, gzipSync(keep.join('\n')));
      await importCandleFile(store, path);
    }
    await importCandleFile(store, join(sharedDvolDir, 'DERIBIT_BTC_DVOL_1h.csv.gz'));
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('buildFeatures reads the configured index from the lake (BTC), leaves NULL where the lake lacks it (ETH daily not imported), and the tail reads it the same way', async () => {
    assert.deepEqual(cfg.features.implied['BTC/USDT'], { exchange: 'deribit', symbol: 'BTC/DVOL', timeframe: '1h' });
    const r = await featureActivities(store, cfg).buildFeatures({ series: [btc, eth] });
    const manifest = await store.getJson<FeatureSetManifest & FeatureSetImplied>(r.ref);
    assert.deepEqual(manifest.implied, { 'binance:BTC-USDT:1h': { index: 'deribit:BTC/DVOL:1h', watermark: Date.parse('2026-02-28T23:00:00Z') } });
    const rows = await readRows(await store.getFile(r.series.find((s) => s.series.symbol === 'BTC/USDT')!.ref));
    const ethRows = await readRows(await store.getFile(r.series.find((s) => s.series.symbol === 'ETH/USDT')!.ref));
    const after = rows.filter((x) => x.ts! >= Date.parse('2021-03-24T00:00:00Z'));
    assert.ok(after.length > 1500 && after.every((x) => x.dvol !== null), 'BTC rows from DVOL start read the index');
    assert.ok(rows.filter((x) => x.ts! < Date.parse('2021-03-24T00:00:00Z')).every((x) => x.dvol === null));
    assert.ok(ethRows.every((x) => IMPLIED_FEATURES.every((c) => x[c] === null)), 'ETH: its index is not in this lake');

    // The scoring tail (what the score activity reads) from the same lake: the newest row, implied columns included.
    const manifests = await Promise.all([btc, eth].map(async (series) => ({ series, manifest: (await readManifest(store, series)).manifest })));
    const tail = await tailFromLake(store, manifests, { rows: 1, implied: impliedFor(cfg.features.implied, [btc, eth]) });
    const newest = rows.at(-1)!;
    const t = tail.series.find((s) => s.series.symbol === 'BTC/USDT')!;
    assert.deepEqual(t.ts, [newest.ts]);
    for (const c of IMPLIED_FEATURES) assert.equal(t.values[c]![0], newest[c], c);
    assert.ok(tail.partitions.some((p) => p.key.startsWith('candles/deribit/BTC-DVOL/1h/')), 'the index partitions are in the lineage');
  });
});

describe('the ingest activity brings the symbol\'s DVOL up to date after its candles (real MinIO, ccxt against the replay)', () => {
  const cfg = testConfig();
  let replay: ReplayExchange;
  let store: ArtifactStore;

  before(async () => {
    replay = await startReplayExchange({ port: 0, symbols: ['BTC/USDT', 'ADA/USDT'] });
    store = new ArtifactStore({ ...cfg, minio: { ...cfg.minio, bucket: uid('dvolingest').toLowerCase() } });
    await store.ensureBucket();
  });
  after(async () => {
    await replay?.close();
  });

  // The activity's own code in a mock activity context (heartbeats, attempt), the real store and ccxt.
  type Ingest = ReturnType<typeof ingestActivities>['ingest'];
  const run = (c: typeof cfg, input: Parameters<Ingest>[0]) => new MockActivityEnvironment().run(ingestActivities(store, c).ingest, input) as ReturnType<Ingest>;

  it('BTC/USDT with deribit configured: the candles, then BTC DVOL over the same window; a rerun fetches no new index rows; a Deribit outage is reported, the candles still stored', async () => {
    const now = replay.now();
    const c = { ...cfg, exchanges: [{ id: 'binance', urlOverride: replay.url }, { id: 'deribit', urlOverride: replay.url }] };
    const r = await run(c, { exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', since: now - 10 * DAY, now });
    assert.equal(r.storedRows, 240);
    assert.deepEqual(r.implied, { index: 'deribit:BTC/DVOL:1h', fetchedRows: 240, storedRows: 240, watermark: now - H });
    const again = await run(c, { exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', now });
    assert.equal(again.implied!.fetchedRows, 0);

    replay.addFaults([{ kind: 'http', status: 503, times: 50, endpoint: 'volatility_index' }]);
    const later = now + 2 * H;
    replay.setNow(later);
    const out = await run(c, { exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', now: later });
    assert.match(out.implied!.error!, /temporarily_unavailable/);
    assert.equal(out.storedRows, 240, 'the candle ingest went through (the replay has no later candles)');
    assert.equal(out.implied!.index, 'deribit:BTC/DVOL:1h');
    replay.reset();
  });

  it('without deribit among the exchanges the index is skipped with the reason; a symbol without an index reports nothing', async () => {
    const now = replay.now();
    const c = { ...cfg, exchanges: [{ id: 'binance', urlOverride: replay.url }] };
    const r = await run(c, { exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h', since: now - 2 * DAY, now });
    assert.deepEqual(r.implied, { index: 'deribit:BTC/DVOL:1h', skipped: 'exchange deribit is not configured (exchanges in temporal.config.ts)' });
    const ada = await run({ ...c, exchanges: [{ id: 'binance', urlOverride: replay.url }, { id: 'deribit', urlOverride: replay.url }] }, { exchange: 'binance', symbol: 'ADA/USDT', timeframe: '1h', since: now - 2 * DAY, now });
    assert.equal(ada.implied, undefined);
    assert.ok(ada.storedRows > 0, 'its candles are stored');
  });
});
