/**
 * Validation, the Parquet candle lake and bulk import against real MinIO and DuckDB, with archive
 * files (zip and plain, ms and µs open times) made in a temp dir from real rows of ../shared/data.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { zipSync } from 'fflate';
import { validateCandles } from '../lib/candles/candle';
import { importCandleFile, parseCandleText, readCandleText, seriesFromFileName } from '../lib/candles/import';
import { readManifest, readSeries } from '../lib/candles/lake';
import { qualityFlags } from '../lib/candles/quality';
import type { Candle } from '../lib/candles/candle';
import { repoRoot } from '../lib/platform/paths';
import { layout, type Series } from '../lib/platform/layout';
import { ArtifactStore } from '../lib/platform/store';
import { sharedCandlesDir } from '../infra/replayExchange';
import { objectVersions, sourceRows } from './dataHelpers';
import { testConfig, uid } from './helpers';

const H = 3_600_000;

describe('candle validation (DESIGN.md, Candles)', () => {
  it('rejects invalid rows with a reason, keeps an exact duplicate once, rejects a conflicting one, records out-of-order rows', () => {
    const ok = (ts: number, close = 10) => ({ ts, open: 10, high: 12, low: 9, close, volume: 1 });
    const b = validateCandles(
      [
        ok(0),
        ok(2 * H),
        ok(H), // out of order
        ok(2 * H, 11), // a conflicting duplicate: neither copy is taken
        ok(0), // an exact duplicate: kept once
        { ...ok(3 * H), open: -1 },
        { ...ok(4 * H), low: 11 },
        { ...ok(5 * H), high: 9.5 },
        { ...ok(6 * H), volume: -2 },
        { ...ok(7 * H), ts: 7 * H + 5 },
        { ...ok(8 * H), close: 'x' },
      ],
      '1h',
    );
    assert.deepEqual(b.rows.map((r) => r.ts), [0, H]);
    assert.deepEqual(b.duplicates, [0, 2 * H]);
    assert.deepEqual(b.outOfOrder, [H]);
    assert.deepEqual(
      b.rejected.map((r) => r.reason),
      ['price <= 0', 'low > min(open, close)', 'high < max(open, close)', 'volume < 0', 'ts off the timeframe grid', 'not a number', 'conflicting duplicate'],
    );
    const conflict = b.rejected.at(-1)!;
    assert.equal(conflict.ts, 2 * H);
    assert.deepEqual((JSON.parse(conflict.raw) as { close: number }[]).map((c) => c.close), [10, 11]); // both copies, as received
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
    assert.equal(manifest.partitions['2021-01']!.key, layout.candlesPartition(series, '2021-01', manifest.partitions['2021-01']!.sha256));
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

describe('an import changes nothing silently (real MinIO + DuckDB, the real CLI)', () => {
  let store: ArtifactStore;
  let dir: string;
  before(async () => {
    store = new ArtifactStore(testConfig());
    dir = await mkdtemp(join(tmpdir(), 'volcast-import-safe-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const cli = (args: string[]) =>
    spawnSync(process.execPath, [join(repoRoot, 'cli', 'volcast.js'), ...args], { env: { ...process.env, VOLCAST_STATE_DIR: testConfig().stateDir }, encoding: 'utf8', cwd: repoRoot });
  const newSeries = (symbol = 'BTC/USDT'): Series => ({ exchange: uid('safe').toLowerCase().replace(/[^a-z0-9]/g, ''), symbol, timeframe: '1h' });
  const line = (r: Candle) => [r.ts, r.open, r.high, r.low, r.close, r.volume].join(',');
  async function gz(name: string, lines: string[], header = 'ts,open,high,low,close,volume'): Promise<string> {
    const file = join(dir, name);
    await writeFile(file, gzipSync(`${header}\n${lines.join('\n')}\n`));
    return file;
  }
  const rowsOf = async (symbol: string, from: number, to: number) => (await sourceRows(symbol)).filter((r) => r.ts >= from && r.ts < to);
  const ohlcv = (rows: Candle[]) => rows.map((r) => [r.ts, r.open, r.high, r.low, r.close, r.volume]);
  /** The row of `data status` for the 1h series. */
  const statusRow = (s: Series) => {
    const out = cli(['data', 'status', '--symbols', s.symbol, '--exchange', s.exchange]);
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout.split('\n')[0]!, /dups\s+conflicts\s+changed\s+refused\s+rejected/);
    return out.stdout.split('\n').find((l) => l.startsWith(s.symbol) && / 1h /.test(l))!;
  };

  it('a conflicting duplicate in one file is rejected with a reason, never resolved by order; the output and data status show it', async () => {
    const s = newSeries();
    const rows = await rowsOf('BTC/USDT', Date.UTC(2024, 2, 1), Date.UTC(2024, 2, 1, 6));
    const x = rows[3]!;
    const inflated = { ...x, high: x.high * 1.5, close: x.close * 1.5 };
    const file = await gz('BTCUSDT-conflict.csv.gz', [...rows.map(line), line(inflated), line(rows[1]!)]); // and an exact duplicate of row 1
    const out = cli(['data', 'import', '--symbol', 'BTC/USDT', '--exchange', s.exchange, file]);
    assert.equal(out.status, 0, out.stderr);
    assert.match(out.stdout, /8 rows read, 5 valid, rejected 1 conflicting duplicate; 2 duplicate open time\(s\) \(1 conflicting: rejected, no copy taken\)/);
    const stored = await readSeries(store, s);
    assert.deepEqual(ohlcv(stored), ohlcv(rows.filter((r) => r.ts !== x.ts)), 'neither copy of the conflicting bar is stored; the exact duplicate once');
    const { manifest } = await readManifest(store, s);
    assert.deepEqual(manifest.rejected, { 'conflicting duplicate': 1 });
    assert.deepEqual(manifest.duplicates, [rows[1]!.ts, x.ts]);
    assert.deepEqual((await qualityFlags(store, s)).map((f) => [f.ts, f.reason, f.status]), [[x.ts, 'conflicting duplicate', 'open']]);
    assert.match(statusRow(s), /\s2\s+1\s+0\s+0\s+1 conflicting duplicate\s/);

    // With the good bar stored, the same file leaves it as it is (and the flag resolves).
    await importCandleFile(store, await gz('good.csv.gz', rows.map(line)), s);
    await importCandleFile(store, file, s);
    assert.deepEqual(ohlcv(await readSeries(store, s)), ohlcv(rows));
    assert.deepEqual((await qualityFlags(store, s)).map((f) => f.status), ['resolved']);
  });

  it('a row that differs from the stored bar is refused and the bar kept; with --replace it replaces it, counted as changed', async () => {
    const s = newSeries();
    const rows = await rowsOf('BTC/USDT', Date.UTC(2024, 2, 1), Date.UTC(2024, 2, 3));
    await importCandleFile(store, await gz('orig.csv.gz', rows.map(line)), s);
    const revisedTs = rows.filter((_, i) => i % 8 === 3).map((r) => r.ts);
    const revised = rows.map((r) => (revisedTs.includes(r.ts) ? { ...r, close: r.close * 1.01, high: Math.max(r.high, r.close * 1.01) } : r));
    const file = await gz('revised.csv.gz', revised.map(line));

    const kept = cli(['data', 'import', '--symbol', 'BTC/USDT', '--exchange', s.exchange, file]);
    assert.equal(kept.status, 0, kept.stderr);
    assert.match(kept.stdout, /0 stored bars changed, 6 row\(s\) refused: they differ from the stored bar \(kept; --replace replaces them\)/);
    assert.deepEqual(ohlcv(await readSeries(store, s)), ohlcv(rows), 'the stored bars are kept');
    assert.deepEqual((await readManifest(store, s)).manifest.refused, revisedTs);

    const replaced = cli(['data', 'import', '--replace', '--symbol', 'BTC/USDT', '--exchange', s.exchange, file]);
    assert.equal(replaced.status, 0, replaced.stderr);
    assert.match(replaced.stdout, /6 stored bars changed;/);
    assert.deepEqual(ohlcv(await readSeries(store, s)), ohlcv(revised));
    const { manifest } = await readManifest(store, s);
    assert.deepEqual(manifest.changed, revisedTs);
    assert.match(statusRow(s), /\s0\s+0\s+6\s+6\s+0\s/);
    // Again: nothing differs any more, nothing is written.
    assert.equal((await importCandleFile(store, file, s, { replace: true })).objectsWritten, 0);
  });

  it('an import whose prices do not fit the stored series (another instrument) is refused as a whole, naming the file and symbol; nothing written', async () => {
    const s = newSeries('BTC/USDT');
    const btc = await rowsOf('BTC/USDT', Date.UTC(2021, 4, 1), Date.UTC(2021, 4, 8));
    await importCandleFile(store, await gz('btc.csv.gz', btc.map(line)), s);
    const versions = await objectVersions(store, layout.candlesPrefix(s));
    const eth = await gz('BINANCE_ETHUSDT_1h.csv.gz', (await rowsOf('ETH/USDT', Date.UTC(2021, 4, 3), Date.UTC(2021, 4, 10))).map(line));
    const out = cli(['data', 'import', '--symbol', 'BTC/USDT', '--exchange', s.exchange, eth]);
    assert.notEqual(out.status, 0, out.stdout);
    assert.ok(out.stderr.includes(eth), out.stderr);
    assert.match(out.stderr, /prices implausible for BTC\/USDT 1h .*median over 120 overlapping bars/);
    await assert.rejects(importCandleFile(store, eth, s, { replace: true }), (e: unknown) => e instanceof Error && e.name === 'CandleInputError' && /prices implausible/.test(e.message));
    assert.deepEqual(await objectVersions(store, layout.candlesPrefix(s)), versions, 'nothing written');
    assert.deepEqual(ohlcv(await readSeries(store, s)), ohlcv(btc));
  });

  it('a file that cannot be read is an error naming it; an empty file writes nothing and adds no source', async () => {
    const s = newSeries();
    const rows = await rowsOf('BTC/USDT', Date.UTC(2024, 0, 1), Date.UTC(2024, 0, 3));
    const whole = gzipSync(`ts,open,high,low,close,volume\n${rows.map(line).join('\n')}\n`);
    const truncated = join(dir, 'BTCUSDT-1h-truncated.csv.gz');
    await writeFile(truncated, whole.subarray(0, Math.floor(whole.length / 2)));
    const out = cli(['data', 'import', '--symbol', 'BTC/USDT', '--exchange', s.exchange, truncated]);
    assert.notEqual(out.status, 0);
    assert.ok(out.stderr.includes(`${truncated}: not a readable gzip file (unexpected end of file)`), out.stderr);
    const zipped = zipSync({ 'BTCUSDT-1h-2024-01.csv': new TextEncoder().encode(rows.map((r) => [r.ts, r.open, r.high, r.low, r.close, r.volume, r.ts + H - 1].join(',')).join('\n')) });
    const damaged = join(dir, 'BTCUSDT-1h-2024-01.zip');
    await writeFile(damaged, zipped.subarray(0, zipped.length - 30));
    await assert.rejects(importCandleFile(store, damaged, s), (e: unknown) => e instanceof Error && e.name === 'CandleInputError' && e.message.startsWith(`${damaged}: not a readable zip archive`));
    const badHeader = await gz('bad-header.csv.gz', rows.map(line), 'time,open,high,low,close,volume');
    await assert.rejects(importCandleFile(store, badHeader, s), (e: unknown) => e instanceof Error && e.name === 'CandleInputError' && e.message.startsWith(`${badHeader}: the header lacks column ts`));
    assert.deepEqual(await store.list(layout.candlesPrefix(s)), [], 'nothing written by the failed imports');

    const empty = join(dir, 'BTCUSDT-1h-2024-02.csv');
    await writeFile(empty, '');
    const headerOnly = await gz('header-only.csv.gz', []);
    const e1 = cli(['data', 'import', '--symbol', 'BTC/USDT', '--exchange', s.exchange, empty, headerOnly]);
    assert.equal(e1.status, 0, e1.stderr);
    assert.match(e1.stdout, /holds no rows; nothing written/);
    assert.deepEqual(await store.list(layout.candlesPrefix(s)), [], 'an empty file into a new series writes nothing');
    await importCandleFile(store, await gz('good.csv.gz', rows.map(line)), s);
    const versions = await objectVersions(store, layout.candlesPrefix(s));
    const r = await importCandleFile(store, empty, s);
    assert.equal(r.objectsWritten, 0);
    assert.equal((await importCandleFile(store, headerOnly, s)).objectsWritten, 0);
    assert.deepEqual(await objectVersions(store, layout.candlesPrefix(s)), versions);
    assert.deepEqual((await readManifest(store, s)).manifest.sources, ['csv:normalized']);
  });
});
