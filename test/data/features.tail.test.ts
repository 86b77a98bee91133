/**
 * Scoring's feature rows from the candle tail (lib/features/tail.ts) against a full build, on real
 * candles (BTC, ETH and LTC together: the cross-asset columns btc_ret_1 / mkt_* over three series),
 * at several bars: mid-month, the first bar of a month, the bar right after a real exchange outage
 * and the one after it. Every output column of the newest row, exactly; targets NULL (unknown at ts).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { join } from 'node:path';
import { buildFeatureFiles, OUTPUT_COLUMNS, seriesKey } from '../../lib/features/build';
import { DEFINITIONS, FEATURE_COLUMNS, TARGET_COLUMNS } from '../../lib/features/definitions';
import { featureReach, tailFeatureRows, tailFromMonths, type MonthFile } from '../../lib/features/tail';
import { queryRows, sqlString, withDuck } from '../../lib/platform/duckdb';
import { FeatureInputError } from '../../lib/platform/errors';
import { candleInputs, H, readRows, series, tempDir, type Row } from '../featureFixtures';

const FROM = '2019-10-01T00:00:00Z';
const TO = '2020-07-01T00:00:00Z';
const SYMBOLS = ['BTC/USDT', 'ETH/USDT', 'LTC/USDT'];
const AT = [
  '2020-06-15T13:00:00Z', // mid-month
  '2020-05-01T00:00:00Z', // first bar of a month: the tail reaches two months back
  '2020-06-28T05:00:00Z', // first bar after a 3-bar outage (2020-06-28 02:00–04:00 missing in BTC and ETH)
  '2020-06-28T06:00:00Z',
  '2020-04-25T04:00:00Z', // after a 2-bar outage
].map(Date.parse);

/** 1e-12 relative (the brief's bound); the rows are expected to be the same bits. */
function same(a: number | null, b: number | null): boolean {
  if (a === null || b === null) return a === b;
  return Object.is(a, b) || Math.abs(a - b) <= 1e-12 * Math.max(Math.abs(a), Math.abs(b));
}

async function monthFiles(files: string[]): Promise<MonthFile[]> {
  return withDuck(async (db) => {
    const out: MonthFile[] = [];
    for (const f of files) {
      const [c] = await queryRows<{ n: bigint }>(db, `SELECT count(*) AS n FROM read_parquet(${sqlString(f)})`);
      out.push({ month: f.match(/(\d{4}-\d{2})\.parquet$/)![1]!, rows: Number(c!.n), file: async () => f });
    }
    return out;
  });
}

describe('feature rows from the candle tail equal the full build (real candles)', () => {
  const full = new Map<string, Map<number, Row>>();

  before(async () => {
    const dir = tempDir('tail-full');
    const built = await buildFeatureFiles(await candleInputs(join(dir, 'candles'), SYMBOLS, { from: FROM, to: TO }), { outDir: join(dir, 'out') });
    for (const s of built.series) full.set(s.key, new Map((await readRows(s.path)).map((r) => [r.ts!, r])));
  });

  it('the reach is derived from the windows: 720 bars (w720) with two candles of lag; it covers every declared lookback', () => {
    const { all, byColumn } = featureReach(H);
    assert.deepEqual(all, { ms: 719 * H, rows: 2 });
    assert.equal(byColumn.macd_hist!.ms, (8 + 25) * H, 'w9 over macd (w26) adds up');
    assert.equal(byColumn.lm_stat!.ms, 168 * H);
    assert.equal(byColumn.gk_var_same_hour_7d!.ms, 144 * H);
    for (const d of DEFINITIONS.filter((x) => x.kind === 'feature')) {
      const r = byColumn[d.name]!;
      assert.ok(r.ms / H + r.rows >= d.lookback - 1, `${d.name}: derived reach ${r.ms / H} bars + ${r.rows} rows < declared lookback ${d.lookback}`);
    }
  });

  for (const at of AT) {
    it(`the newest row at ${new Date(at).toISOString()}: every column, from the last months only`, async () => {
      const dir = tempDir('tail-at');
      const inputs = await candleInputs(join(dir, 'candles'), SYMBOLS, { from: FROM, to: at + 1 });
      const months = await Promise.all(inputs.map(async (i) => ({ series: i.series, newest: at, months: await monthFiles(i.files) })));
      const { series: rows, read } = await tailFromMonths(months, { rows: 1 });
      for (const r of read) assert.ok(r.months.length <= 3, `${r.series.symbol}: read ${r.months.join(', ')}`);
      for (const s of rows) {
        assert.deepEqual(s.ts, [at], `${s.key}: the newest row`);
        const want = full.get(s.key)!.get(at)!;
        for (const c of FEATURE_COLUMNS) {
          if (!same(s.values[c]![0]!, want[c]!)) assert.fail(`${s.key} ${c} at ${new Date(at).toISOString()}: tail ${s.values[c]![0]}, full ${want[c]}`);
        }
        for (const c of TARGET_COLUMNS) assert.equal(s.values[c]![0], null, `${c} is not known at ts`);
        assert.deepEqual(Object.keys(s.values), OUTPUT_COLUMNS.slice(1));
      }
    });
  }

  it('a sequence window: the newest 24 rows, across the outage, each equal to the full build', async () => {
    const at = Date.parse('2020-06-28T10:00:00Z');
    const dir = tempDir('tail-seq');
    const inputs = await candleInputs(join(dir, 'candles'), SYMBOLS, { from: FROM, to: at + 1 });
    const months = await Promise.all(inputs.map(async (i) => ({ series: i.series, newest: at, months: await monthFiles(i.files) })));
    const { series: rows } = await tailFromMonths(months, { rows: 24 });
    for (const s of rows) {
      assert.equal(s.ts.length, 24);
      assert.ok(s.ts[0]! < at - 24 * H + H, `${s.key}: 24 rows present span the gap`);
      s.ts.forEach((ts, i) => {
        for (const c of FEATURE_COLUMNS) if (!same(s.values[c]![i]!, full.get(s.key)!.get(ts)![c]!)) assert.fail(`${s.key} ${c} at ${new Date(ts).toISOString()}`);
      });
    }
  });

  it('a slice that starts too late asks for an earlier month; bad input names what is wrong', async () => {
    const at = Date.parse('2020-06-15T13:00:00Z');
    const dir = tempDir('tail-short');
    const inputs = await candleInputs(join(dir, 'candles'), SYMBOLS, { from: FROM, to: at + 1 });
    const last = inputs.map((i) => ({ series: i.series, files: i.files.slice(-1), rowsBefore: 1000 }));
    const r = await tailFeatureRows(last, { rows: 1 });
    assert.deepEqual(r, { kind: 'more', series: SYMBOLS.map((s) => seriesKey(series(s))).sort() });
    await assert.rejects(tailFeatureRows([], { rows: 1 }), (e: unknown) => e instanceof FeatureInputError && /no series/.test((e as Error).message));
    await assert.rejects(tailFeatureRows(last, { rows: 0 }), /rows: a positive integer, got 0/);
    await assert.rejects(tailFeatureRows([last[0]!, last[0]!], { rows: 1 }), /a series is listed twice/);
    await assert.rejects(tailFeatureRows([{ ...last[0]!, files: [] }], { rows: 1 }), /no candle files for binance:BTC-USDT:1h/);
    await assert.rejects(tailFromMonths([{ series: series('BTC/USDT'), newest: at, months: [] }], { rows: 1 }), /no candles for binance:BTC-USDT:1h/);
  });
});
