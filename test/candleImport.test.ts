/**
 * Validation, the Parquet candle lake and bulk import against real MinIO and DuckDB, with archive
 * files (zip and plain, ms and µs open times) made in a temp dir from real rows of ../shared/data.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { zipSync } from 'fflate';
import { validateCandles } from '../lib/candles/candle';
import { importCandleFile, parseCandleText, readCandleText, seriesFromFileName } from '../lib/candles/import';
import { readManifest, readSeries } from '../lib/candles/lake';
import { layout, type Series } from '../lib/platform/layout';
import { ArtifactStore } from '../lib/platform/store';
import { sharedCandlesDir } from '../infra/replayExchange';
import { objectVersions, sourceRows } from './dataHelpers';
import { testConfig, uid } from './helpers';

const H = 3_600_000;

describe('candle validation (DESIGN.md, Candles)', () => {
  it('rejects invalid rows with a reason, keeps the latest duplicate, records out-of-order rows', () => {
    const ok = (ts: number, close = 10) => ({ ts, open: 10, high: 12, low: 9, close, volume: 1 });
    const b = validateCandles(
      [
        ok(0),
        ok(2 * H),
        ok(H), // out of order
        ok(2 * H, 11), // duplicate: the later one wins
        { ...ok(3 * H), open: -1 },
        { ...ok(4 * H), low: 11 },
        { ...ok(5 * H), high: 9.5 },
        { ...ok(6 * H), volume: -2 },
        { ...ok(7 * H), ts: 7 * H + 5 },
        { ...ok(8 * H), close: 'x' },
      ],
      '1h',
    );
    assert.deepEqual(b.rows.map((r) => r.ts), [0, H, 2 * H]);
    assert.equal(b.rows[2]!.close, 11);
    assert.deepEqual(b.duplicates, [2 * H]);
    assert.deepEqual(b.outOfOrder, [H]);
    assert.deepEqual(
      b.rejected.map((r) => r.reason),
      ['price <= 0', 'low > min(open, close)', 'high < max(open, close)', 'volume < 0', 'ts off the timeframe grid', 'not a number'],
    );
  });

  it('names the series after Binance archive and shared-data file names', () => {
    assert.deepEqual(seriesFromFileName('/x/BTCUSDT-1h-2024-01.zip'), { exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h' });
    assert.deepEqual(seriesFromFileName('BINANCE_ADAUSDT_1h.csv.gz'), { exchange: 'binance', symbol: 'ADA/USDT', timeframe: '1h' });
  });
});

describe('bulk import into the Parquet lake (real MinIO + DuckDB)', () => {
  let store: ArtifactStore;
  let dir: string;
  before(async () => {
    store = new ArtifactStore(testConfig());
    dir = await mkdtemp(join(tmpdir(), 'volcast-import-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** Real ADA rows (they carry quote_volume and trades) of two months, as Binance archive lines. */
  async function archiveLines(months: [number, number][], micros: boolean): Promise<{ lines: string[]; ts: number[] }> {
    const rows = await sourceRows('ADA/USDT');
    const lines: string[] = [];
    const ts: number[] = [];
    for (const [y, m] of months) {
      for (const r of rows.filter((r) => r.ts >= Date.UTC(y, m - 1, 1) && r.ts < Date.UTC(y, m, 1))) {
        const t = micros ? r.ts * 1000 : r.ts;
        const close = micros ? (r.ts + H) * 1000 - 1 : r.ts + H - 1;
        lines.push([t, r.open, r.high, r.low, r.close, r.volume, close, r.quote_volume, r.trades, 0, 0, 0].join(','));
        ts.push(r.ts);
      }
    }
    return { lines, ts };
  }

  it('imports zipped and plain archives with ms and µs times; a re-import writes nothing', async () => {
    const exchange = uid('imp').toLowerCase().replace(/[^a-z0-9]/g, '');
    const series: Series = { exchange, symbol: 'ADA/USDT', timeframe: '1h' };
    const a = await archiveLines([[2021, 1]], false);
    const b = await archiveLines([[2021, 2]], true);
    const zipped = join(dir, 'ADAUSDT-1h-2021-01.zip');
    await writeFile(zipped, zipSync({ 'ADAUSDT-1h-2021-01.csv': new TextEncoder().encode(a.lines.join('\n') + '\n') }));
    const plain = join(dir, 'ADAUSDT-1h-2021-02.csv');
    await writeFile(plain, b.lines.join('\n') + '\n');
    assert.equal(parseCandleText(await readCandleText(plain)).rows[0]!.ts, b.ts[0]); // µs read as ms

    const r1 = await importCandleFile(store, zipped, series);
    const r2 = await importCandleFile(store, plain, series);
    assert.equal(r1.format, 'binance-archive');
    assert.deepEqual(r1.rejected, {});
    assert.equal(r2.storedRows, a.ts.length + b.ts.length);
    const stored = await readSeries(store, series);
    const source = (await sourceRows('ADA/USDT')).filter((r) => r.ts >= Date.UTC(2021, 0, 1) && r.ts < Date.UTC(2021, 2, 1));
    assert.deepEqual(stored, source);
    const { manifest } = await readManifest(store, series);
    assert.deepEqual(Object.keys(manifest.partitions), ['2021-01', '2021-02']);
    assert.equal(manifest.partitions['2021-01']!.key, layout.candles(series, '2021-01'));
    assert.equal(manifest.watermark, source.at(-1)!.ts);

    const versions = await objectVersions(store, layout.candlesPrefix(series));
    const again = [await importCandleFile(store, zipped, series), await importCandleFile(store, plain, series)];
    assert.deepEqual(again.map((r) => r.objectsWritten), [0, 0]);
    assert.deepEqual(await objectVersions(store, layout.candlesPrefix(series)), versions);
  });

  it('imports a normalized shared-data file; invalid rows are rejected and counted in the manifest', async () => {
    const exchange = uid('csv').toLowerCase().replace(/[^a-z0-9]/g, '');
    const series: Series = { exchange, symbol: 'BTC/USDT', timeframe: '1h' };
    const rows = (await sourceRows('BTC/USDT')).filter((r) => r.ts >= Date.UTC(2020, 2, 1) && r.ts < Date.UTC(2020, 3, 1));
    const lines = rows.map((r) => [r.ts, r.open, r.high, r.low, r.close, r.volume].join(','));
    lines.push(lines[10]!.replace(/^(\d+),[^,]+/, '$1,0')); // a later copy of row 10 with open 0: rejected, row 10 kept
    const bad = rows[20]!;
    lines[20] = [bad.ts, bad.open, bad.low / 2, bad.low, bad.close, bad.volume].join(','); // high below low
    const file = join(dir, 'BINANCE_BTCUSDT_1h.csv.gz');
    const { gzipSync } = await import('node:zlib');
    await writeFile(file, gzipSync(`ts,open,high,low,close,volume\n${lines.join('\n')}\n`));
    const r = await importCandleFile(store, file, series);
    assert.equal(r.format, 'normalized-csv');
    assert.deepEqual(r.rejected, { 'price <= 0': 1, 'high < max(open, close)': 1 });
    assert.equal(r.storedRows, rows.length - 1);
    const { manifest } = await readManifest(store, series);
    assert.deepEqual(manifest.rejected, { 'price <= 0': 1, 'high < max(open, close)': 1 });
    assert.deepEqual(manifest.rejectedRows.map((x) => x.ts).sort(), [rows[10]!.ts, bad.ts].sort());
    assert.equal((await importCandleFile(store, file, series)).objectsWritten, 0);
    assert.ok(sharedCandlesDir.endsWith(join('shared', 'data', 'candles')));
  });
});
