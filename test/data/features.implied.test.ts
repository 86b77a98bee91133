/**
 * The implied-volatility features (lib/features/implied.ts, definitions.ts source 'implied') on real
 * candles and the real DVOL files: BTC/USDT reads Deribit's hourly BTC DVOL, ETH/USDT the daily ETH
 * DVOL (there is no hourly ETH file), LTC/USDT none. Against a reference written with plain loops
 * over the index rows; point in time (truncating the index after ts, or candles and index, leaves
 * every row ≤ ts identical); the scoring tail's newest row equals the full build's; incremental
 * builds equal full ones.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { join } from 'node:path';
import { buildFeatureFiles, seriesKey, type BuildResult, type SeriesInput } from '../../lib/features/build';
import { FEATURE_COLUMNS, IMPLIED_FEATURES, TARGET_COLUMNS } from '../../lib/features/definitions';
import { IMPLIED_DAYS_PER_YEAR, IMPLIED_MAX_AGE_BARS, type ImpliedInput } from '../../lib/features/implied';
import { tailFromMonths, type MonthFile } from '../../lib/features/tail';
import { dvolSeries } from '../../lib/candles/indexSeries';
import { queryRows, sqlString, withDuck } from '../../lib/platform/duckdb';
import { FeatureInputError } from '../../lib/platform/errors';
import { candleInputs, close, H, indexFiles, indexRows, readRows, series, tempDir, type Row } from '../featureFixtures';

const DAY = 24 * H;
const FROM = '2021-02-01T00:00:00Z'; // before DVOL starts (2021-03-24): the early rows have no index
const TO = '2021-07-01T00:00:00Z';
const CUT = Date.parse('2021-05-20T13:00:00Z'); // the index known up to (open time ≤) CUT
const DVOL_START = Date.parse('2021-03-24T00:00:00Z');
const SYMBOLS = ['BTC/USDT', 'ETH/USDT', 'LTC/USDT'];
const MAP = { 'BTC/USDT': { currency: 'BTC', timeframe: '1h' }, 'ETH/USDT': { currency: 'ETH', timeframe: '1d' } } as const;

type Slice = { from?: string | number; to?: string | number };

async function implied(dir: string, slice: Slice = {}): Promise<ImpliedInput[]> {
  return Promise.all(Object.entries(MAP).map(async ([symbol, m]) => ({ series: series(symbol), index: dvolSeries(m.currency, m.timeframe), files: await indexFiles(join(dir, `${m.currency}-${m.timeframe}`), m.currency, m.timeframe, slice) })));
}

async function build(dir: string, candles: Slice, index: Slice, previous?: BuildResult): Promise<{ result: BuildResult; rows: Map<string, Row[]> }> {
  const inputs: SeriesInput[] = await candleInputs(join(dir, 'candles'), SYMBOLS, { from: FROM, ...candles });
  const result = await buildFeatureFiles(inputs, {
    outDir: join(dir, 'out'),
    implied: await implied(join(dir, 'index'), index),
    ...(previous ? { previous: { featureSetId: previous.featureSetId, files: Object.fromEntries(previous.series.map((s) => [s.key, s.path])), watermark: previous.watermark, impliedWatermark: previous.impliedWatermark } } : {}),
  });
  const rows = new Map<string, Row[]>();
  for (const s of result.series) rows.set(s.series.symbol, await readRows(s.path));
  return { result, rows };
}

/** The reference: the close of the latest index candle with close time ≤ at, unless older than the max age. */
function asOf(index: { ts: number; close: number }[], t: number, at: number): number | null {
  let best: { ts: number; close: number } | null = null;
  for (const r of index) if (r.ts + t <= at && (!best || r.ts > best.ts)) best = r;
  return best && best.ts + t > at - IMPLIED_MAX_AGE_BARS * t ? best.close : null;
}

describe('implied-volatility features (real candles, real DVOL)', () => {
  let full: { result: BuildResult; rows: Map<string, Row[]> };
  const index: Record<string, { ts: number; close: number }[]> = {};

  before(async () => {
    full = await build(tempDir('iv-full'), { to: TO }, {});
    for (const m of Object.values(MAP)) index[m.currency] = await indexRows(m.currency, m.timeframe);
  });

  it('every implied feature equals its formula over the index rows; NULL before DVOL starts and for a series without an index', () => {
    for (const [symbol, m] of Object.entries(MAP)) {
      const t = m.timeframe === '1h' ? H : DAY;
      const idx = index[m.currency]!.filter((r) => r.ts < Date.parse(TO) + DAY);
      let checked = 0;
      for (const row of full.rows.get(symbol)!) {
        const ts = row.ts!;
        const v = asOf(idx, t, ts + H), v24 = asOf(idx, t, ts + H - 24 * H), v168 = asOf(idx, t, ts + H - 168 * H);
        const want: Record<string, number | null> = {
          dvol: v,
          iv_var_1: v === null ? null : (v / 100) ** 2 * (H / (IMPLIED_DAYS_PER_YEAR * DAY)),
          dvol_chg_24: v === null || v24 === null ? null : Math.log(v / v24),
          dvol_chg_168: v === null || v168 === null ? null : Math.log(v / v168),
        };
        want.iv_rv_spread_24 = want.iv_var_1 === null || row.rv_d === null || row.rv_d === 0 ? null : Math.log(want.iv_var_1! / row.rv_d!);
        for (const c of IMPLIED_FEATURES) {
          if (!close(row[c] ?? null, want[c] ?? null)) assert.fail(`${symbol} ${c} at ${new Date(ts).toISOString()}: sql ${row[c]}, reference ${want[c]}`);
        }
        if (ts + H < DVOL_START + t) assert.equal(row.dvol, null, `${symbol}: no index value before its first candle closed`);
        if (v !== null && v168 !== null) checked++;
      }
      assert.ok(checked > 2000, `${symbol}: ${checked} rows with an index value`);
    }
    for (const row of full.rows.get('LTC/USDT')!) for (const c of IMPLIED_FEATURES) assert.equal(row[c], null, `LTC has no index: ${c}`);
  });

  it('the instants read: hourly BTC reads the candle opening at ts; hourly ETH reads the daily close, stamped at its close', () => {
    const at = (symbol: string, iso: string) => full.rows.get(symbol)!.find((r) => r.ts === Date.parse(iso))!;
    const btc = index.BTC!, eth = index.ETH!;
    const close = (rows: { ts: number; close: number }[], iso: string) => rows.find((r) => r.ts === Date.parse(iso))!.close;
    assert.equal(at('BTC/USDT', '2021-05-10T05:00:00Z').dvol, close(btc, '2021-05-10T05:00:00Z'));
    // 05:00 on 2021-05-10: the day 2021-05-10 closes at 24:00, not known yet; the day before is.
    assert.equal(at('ETH/USDT', '2021-05-10T05:00:00Z').dvol, close(eth, '2021-05-09T00:00:00Z'));
    // 23:00: the row's information reaches 24:00, when the day closes.
    assert.equal(at('ETH/USDT', '2021-05-10T23:00:00Z').dvol, close(eth, '2021-05-10T00:00:00Z'));
    assert.equal(at('ETH/USDT', '2021-05-10T22:00:00Z').dvol, close(eth, '2021-05-09T00:00:00Z'));
  });

  it('point in time: the index truncated after ts (open time > ts) leaves every row ≤ ts identical; so do candles and index truncated together', async () => {
    const idxCut = await build(tempDir('iv-idxcut'), { to: TO }, { to: CUT + 1 });
    const both = await build(tempDir('iv-bothcut'), { to: CUT + 1 }, { to: CUT + 1 });
    let compared = 0;
    for (const symbol of SYMBOLS) {
      const want = full.rows.get(symbol)!;
      for (const trunc of [idxCut, both]) {
        const rows = trunc.rows.get(symbol)!;
        for (const [i, row] of rows.entries()) {
          if (row.ts! > CUT) break;
          assert.equal(row.ts, want[i]!.ts);
          for (const c of FEATURE_COLUMNS) {
            if (!Object.is(row[c], want[i]![c])) assert.fail(`${symbol} ${c} at ${new Date(row.ts!).toISOString()}: truncated ${row[c]}, full ${want[i]![c]}`);
          }
          compared++;
        }
      }
    }
    assert.ok(compared > 3 * 2 * 2000);
    // After the cut the index is gone: BTC's value goes stale and then NULL (never a made-up level).
    const after = idxCut.rows.get('BTC/USDT')!.find((r) => r.ts === CUT + 5 * H)!;
    assert.equal(after.dvol, null);
    // The featureSetId follows the index: another index watermark, another set.
    assert.notEqual(idxCut.result.featureSetId, full.result.featureSetId);
  });

  it('appending candles and index recomputes only the tail, and gives the rows of a full build', async () => {
    const dir = tempDir('iv-inc');
    const prev = await build(join(dir, 'a'), { to: CUT + 1 }, { to: CUT + 1 });
    const inc = await build(join(dir, 'b'), { to: TO }, {}, prev.result);
    assert.equal(inc.result.mode.kind, 'incremental');
    assert.equal(inc.result.featureSetId, full.result.featureSetId);
    for (const symbol of SYMBOLS) {
      const rows = inc.rows.get(symbol)!, want = full.rows.get(symbol)!;
      assert.equal(rows.length, want.length);
      for (const [i, row] of rows.entries()) {
        for (const c of [...FEATURE_COLUMNS, ...TARGET_COLUMNS]) {
          if (!Object.is(row[c], want[i]![c])) assert.fail(`${symbol} ${c} at ${new Date(row.ts!).toISOString()}: incremental ${row[c]}, full ${want[i]![c]}`);
        }
      }
    }
    // A previous set built without an index cannot be extended with one: full rebuild.
    const noIv = await buildFeatureFiles(await candleInputs(join(dir, 'c'), SYMBOLS, { from: FROM, to: TO }), {
      outDir: join(dir, 'c-out'),
      implied: await implied(join(dir, 'c-index')),
      previous: { featureSetId: prev.result.featureSetId, files: Object.fromEntries(prev.result.series.map((s) => [s.key, s.path])), watermark: prev.result.watermark },
    });
    assert.deepEqual(noIv.mode, { kind: 'full', reason: 'the series with an implied-volatility index differ from the previous feature set' });
  });

  it("the scoring tail's newest rows equal the full build's, implied columns included, reading only the last index months", async () => {
    const dir = tempDir('iv-tail');
    const monthFiles = async (files: string[]): Promise<MonthFile[]> =>
      withDuck(async (db) => Promise.all(files.map(async (f) => {
        const [c] = await queryRows<{ n: bigint }>(db, `SELECT count(*) AS n FROM read_parquet(${sqlString(f)})`);
        return { month: f.match(/(\d{4}-\d{2})\.parquet$/)![1]!, rows: Number(c!.n), file: async () => f };
      })));
    for (const at of ['2021-06-15T13:00:00Z', '2021-06-01T00:00:00Z', '2021-06-20T23:00:00Z'].map(Date.parse)) {
      const inputs = await candleInputs(join(dir, `c-${at}`), SYMBOLS, { from: FROM, to: at + 1 });
      const iv = await implied(join(dir, `i-${at}`), { to: at + 1 });
      const months = await Promise.all(inputs.map(async (i) => ({ series: i.series, newest: at, months: await monthFiles(i.files) })));
      const { series: rows, read } = await tailFromMonths(months, { rows: 3, implied: await Promise.all(iv.map(async (i) => ({ series: i.series, index: i.index, months: await monthFiles(i.files) }))) });
      const btcIndex = read.find((r) => r.series.symbol === 'BTC/DVOL')!;
      assert.ok(btcIndex.months.length <= 3, `index months read: ${btcIndex.months.join(', ')}`);
      for (const s of rows) {
        const want = new Map(full.rows.get(s.series.symbol)!.map((r) => [r.ts!, r]));
        s.ts.forEach((ts, k) => {
          for (const c of FEATURE_COLUMNS) {
            const got = s.values[c]![k]!, w = want.get(ts)![c]!;
            if (!Object.is(got, w) && !close(got, w)) assert.fail(`${s.key} ${c} at ${new Date(ts).toISOString()}: tail ${got}, full ${w}`);
          }
        });
        if (s.series.symbol !== 'LTC/USDT') assert.notEqual(s.values.dvol!.at(-1), null, `${s.key}: the index is read`);
      }
    }
  });

  it('bad input names what is wrong: an index for a series not in the build, two indexes for one series, no index files', async () => {
    const dir = tempDir('iv-bad');
    const inputs = await candleInputs(join(dir, 'candles'), ['BTC/USDT'], { from: '2021-04-01T00:00:00Z', to: '2021-04-05T00:00:00Z' });
    const iv = await implied(join(dir, 'index'), { from: '2021-04-01T00:00:00Z', to: '2021-04-05T00:00:00Z' });
    const run = (implied: ImpliedInput[]) => buildFeatureFiles(inputs, { outDir: join(dir, 'out'), implied });
    await assert.rejects(run(iv), (e: unknown) => e instanceof FeatureInputError && /implied volatility for binance:ETH-USDT:1h, which is not a series of the build/.test((e as Error).message));
    await assert.rejects(run([iv[0]!, iv[0]!]), /a series has two implied-volatility indexes/);
    await assert.rejects(run([{ ...iv[0]!, files: [] }]), /no index files for deribit BTC\/DVOL 1h \(the implied volatility of binance:BTC-USDT:1h\)/);
    assert.equal(seriesKey(iv[0]!.series), 'binance:BTC-USDT:1h');
  });
});
