/**
 * Every feature and target against the reference implementation written from its formula (plain
 * loops, lib/features/reference.ts), on real BTC and ETH candles with real exchange gaps and
 * artificial ones, within 1e-9 relative (absolute floor 1e-12 near 0).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { join } from 'node:path';
import { buildFeatureFiles, OUTPUT_COLUMNS, type BuildResult } from '../../lib/features/build';
import { OUTPUT_DEFINITIONS } from '../../lib/features/definitions';
import type { RefContext, RefSeries } from '../../lib/features/reference';
import { candleInputs, close, H, readRows, refSeries, tempDir, type Row } from '../featureFixtures';

const FROM = '2020-01-15T00:00:00Z';
const TO = '2020-03-15T00:00:00Z';
// Artificial gaps: 5 ETH bars (ETH and BTC then disagree on which bars exist) and 1 BTC bar.
const ETH_GAP = [0, 1, 2, 3, 4].map((k) => Date.parse('2020-02-26T10:00:00Z') + k * H);
const BTC_GAP = [Date.parse('2020-03-10T07:00:00Z')];
// Real gap (MANIFEST): both symbols miss 5 bars after 2020-02-19 11:00.
const REAL_GAP_AFTER = Date.parse('2020-02-19T11:00:00Z');

describe('features against the reference implementation (real candles)', () => {
  let built: BuildResult;
  const rows: Record<string, Row[]> = {};
  const refs: Record<string, RefSeries> = {};

  before(async () => {
    const dir = tempDir('feat-ref');
    const inputs = await candleInputs(dir, ['BTC/USDT', 'ETH/USDT'], { from: FROM, to: TO }, { 'ETH/USDT': ETH_GAP, 'BTC/USDT': BTC_GAP });
    built = await buildFeatureFiles(inputs, { outDir: join(dir, 'out') });
    for (const [k, input] of inputs.entries()) {
      rows[input.series.symbol] = await readRows(built.series[k]!.path);
      refs[input.series.symbol] = await refSeries(input);
    }
  });

  it('writes one row per candle present, the declared columns, in ts order', () => {
    for (const sym of ['BTC/USDT', 'ETH/USDT']) {
      assert.equal(rows[sym]!.length, refs[sym]!.ts.length);
      assert.deepEqual(Object.keys(rows[sym]![0]!), OUTPUT_COLUMNS);
      assert.deepEqual(rows[sym]!.map((r) => r.ts), refs[sym]!.ts);
    }
    assert.match(built.featureSetId, /^fs-[0-9a-f]{24}$/);
  });

  // The implied-volatility features read the index, not the candles: test/data/features.implied.test.ts.
  for (const def of OUTPUT_DEFINITIONS.filter((d) => d.source !== 'implied')) {
    it(`${def.name} matches its formula`, () => {
      assert.ok(def.reference, `${def.name} has no reference implementation`);
      const all = Object.values(refs);
      let checked = 0;
      for (const sym of ['BTC/USDT', 'ETH/USDT']) {
        const ctx: RefContext = { s: refs[sym]!, all, btc: refs['BTC/USDT'], barMs: H };
        for (const [i, row] of rows[sym]!.entries()) {
          let want = def.reference(ctx, i);
          if (want !== null && !Number.isFinite(want)) want = null;
          const got = row[def.name]!;
          if (!close(got, want)) assert.fail(`${def.name} ${sym} at ${new Date(row.ts!).toISOString()}: sql ${got}, reference ${want}`);
          if (want !== null) checked++;
        }
      }
      // Guard against a column that is NULL everywhere "matching" a reference that is NULL too.
      assert.ok(checked > 1000, `${def.name}: only ${checked} non-null values checked`);
    });
  }

  it('gap rule: windows over a real 5-bar exchange gap count the bars present, returns span the gap', () => {
    for (const sym of ['BTC/USDT', 'ETH/USDT']) {
      const r = rows[sym]!;
      const k = r.findIndex((x) => x.ts === REAL_GAP_AFTER + 6 * H);
      assert.ok(k > 0, 'the row after the gap exists');
      assert.equal(r[k - 1]!.ts, REAL_GAP_AFTER, 'no rows were made up for missing bars');
      assert.equal(r[k]!.gap_before, 5);
      const s = refs[sym]!;
      assert.ok(close(r[k]!.ret_1 ?? null, Math.log(s.close[k]! / s.close[k - 1]!)));
      assert.equal(r[k]!.n_bars_6, 1);
      assert.equal(r[k]!.n_bars_24, 19);
      // Targets never span a gap: the 24 rows before the gap whose horizon reaches into it are NULL.
      for (let j = k - 24; j < k; j++) assert.equal(r[j]!.target_rv_24h, null, `target_rv_24h at ${new Date(r[j]!.ts!).toISOString()}`);
      assert.equal(r[k - 1]!.target_gk_1h, null);
      assert.notEqual(r[k - 25]!.target_rv_24h, null);
    }
  });

  it('gap rule: an artificial ETH gap shows in gap_before, counts and correlation pairs', () => {
    const r = rows['ETH/USDT']!;
    const k = r.findIndex((x) => x.ts === ETH_GAP[4]! + H);
    assert.equal(r[k]!.gap_before, 5);
    assert.equal(r[k]!.n_bars_24, 19);
    assert.equal(r[k]!.n_bars_6, 1);
    assert.equal(r.findIndex((x) => ETH_GAP.includes(x.ts!)), -1);
    // BTC keeps those bars: its own counts are complete there.
    const b = rows['BTC/USDT']!.find((x) => x.ts === ETH_GAP[4]! + H)!;
    assert.equal(b.n_bars_24, 24);
  });

  it('targets are NULL where the future is not known (the last 24 rows)', () => {
    for (const sym of ['BTC/USDT', 'ETH/USDT']) {
      const r = rows[sym]!;
      const last = r.at(-1)!;
      assert.equal(last.target_gk_1h, null);
      assert.equal(last.target_atr_1h, null);
      for (const x of r.slice(-24)) {
        assert.equal(x.target_rv_24h, null);
        assert.equal(x.target_vol_up_24h, null);
      }
    }
  });
});
