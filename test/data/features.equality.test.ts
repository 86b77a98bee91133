/**
 * The feature build against the query as it was before the issue-14 speed work (a frozen copy in
 * test/reference/featuresQueryV0.ts), on every output column of several real series built together:
 * real exchange gaps (BTC, ETH and LTC miss bars in 2020–2021, MANIFEST), an artificial 30-bar
 * gap in LTC, a series that starts later (AAVE, listed 2020-10-15).
 * Within 1e-9 relative, with the absolute floor of 1e-12 near 0 of test/featureFixtures (a value
 * that is a sum of terms of either sign can be ~0 while its terms are not; 1e-12 is far below any
 * feature's resolution and far above float summation noise on these magnitudes).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { join } from 'node:path';
import { buildFeatureFiles, OUTPUT_COLUMNS, seriesKey, type SeriesInput } from '../../lib/features/build';
import { IMPLIED_FEATURES, LM_WINDOW, TARGET_HORIZON } from '../../lib/features/definitions';
import { IMPLIED_COLUMNS } from '../../lib/features/implied';
import { queryRows, sqlString, withDuck } from '../../lib/platform/duckdb';
import { featuresQuery as featuresQueryV0 } from '../reference/featuresQueryV0';
import { candleInputs, close, H, readRows, tempDir, type Row } from '../featureFixtures';

const SYMBOLS = ['BTC/USDT', 'ETH/USDT', 'LTC/USDT', 'AAVE/USDT'];
const FROM = '2020-01-01T00:00:00Z';
const TO = '2021-03-01T00:00:00Z';
const LTC_GAP = Array.from({ length: 30 }, (_, k) => Date.parse('2020-07-04T05:00:00Z') + k * H);

/** The reference values: today's build's candle relation (build.ts loadCandles) through the V0 query. */
async function referenceRows(inputs: SeriesInput[]): Promise<Map<string, Row[]>> {
  return withDuck(async (db) => {
    await db.run(`CREATE TABLE candles AS ${inputs
      .map(({ series, files }) => `SELECT ${sqlString(seriesKey(series))} AS series, ${sqlString(series.exchange)} AS exchange, ${sqlString(series.symbol)} AS symbol,
        CAST(ts AS BIGINT) AS ts, CAST(open AS DOUBLE) AS open, CAST(high AS DOUBLE) AS high, CAST(low AS DOUBLE) AS low,
        CAST(close AS DOUBLE) AS close, CAST(volume AS DOUBLE) AS volume, ${IMPLIED_COLUMNS.map((c) => `NULL::DOUBLE AS ${c}`).join(', ')} FROM read_parquet([${files.map(sqlString).join(', ')}])`)
      .join('\nUNION ALL\n')}`);
    const q = featuresQueryV0({ barMs: H, lmWindow: LM_WINDOW, horizon: TARGET_HORIZON });
    const rows = await queryRows<Record<string, unknown>>(db, `SELECT * FROM (${q}) ORDER BY series, ts`);
    const out = new Map<string, Row[]>();
    for (const r of rows) {
      const row: Row = Object.fromEntries(Object.entries(r).filter(([k]) => k !== 'series').map(([k, v]) => [k, v === null ? null : typeof v === 'bigint' ? Number(v) : (v as number)]));
      const key = r.series as string;
      if (!out.has(key)) out.set(key, []);
      out.get(key)!.push(row);
    }
    return out;
  });
}

describe('feature build equals the pre-issue-14 query (real candles, every column)', () => {
  const got = new Map<string, Row[]>();
  let want: Map<string, Row[]>;

  before(async () => {
    const dir = tempDir('feat-eq');
    const inputs = await candleInputs(join(dir, 'candles'), SYMBOLS, { from: FROM, to: TO }, { 'LTC/USDT': LTC_GAP });
    const built = await buildFeatureFiles(inputs, { outDir: join(dir, 'out') });
    for (const s of built.series) got.set(s.key, await readRows(s.path));
    want = await referenceRows(inputs);
  });

  it('the same rows (one per candle present, no made-up bars), in ts order', () => {
    assert.equal(got.size, SYMBOLS.length);
    for (const [key, rows] of got) {
      assert.deepEqual(rows.map((r) => r.ts), want.get(key)!.map((r) => r.ts), key);
      assert.ok(rows.length > 3000, key);
    }
    const ltc = got.get('binance:LTC-USDT:1h')!;
    assert.equal(ltc.find((r) => r.ts === LTC_GAP.at(-1)! + H)!.gap_before, 30);
  });

  // The implied-volatility features are NULL here (no index before 2021-03-24; the V0 query had none):
  // test/data/features.implied.test.ts holds them to their reference.
  for (const col of OUTPUT_COLUMNS.filter((c) => c !== 'ts' && !IMPLIED_FEATURES.includes(c))) {
    it(`${col}: within 1e-9 relative on every row`, () => {
      let nonNull = 0;
      let worst = 0;
      for (const [key, rows] of got) {
        const ref = want.get(key)!;
        for (const [i, row] of rows.entries()) {
          const a = row[col] ?? null, b = ref[i]![col] ?? null;
          if (!close(a, b)) assert.fail(`${col} ${key} at ${new Date(row.ts!).toISOString()}: now ${a}, before ${b}`);
          if (a !== null && b !== null) {
            nonNull++;
            if (a !== b) worst = Math.max(worst, Math.abs(a - b) / Math.max(Math.abs(a), Math.abs(b)));
          }
        }
      }
      assert.ok(nonNull > 1000, `${col}: only ${nonNull} non-null values compared`);
      assert.ok(worst <= 1e-9, `${col}: worst relative difference ${worst}`);
    });
  }
});
