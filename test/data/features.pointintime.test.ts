/**
 * No look-ahead and exact incremental rebuilds, on real candles (BTC + ETH built together, so the
 * cross-asset columns are covered too).
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { join } from 'node:path';
import { buildFeatureFiles, type BuildResult, type SeriesInput } from '../../lib/features/build';
import { FEATURE_COLUMNS, MAX_LOOKBACK, TARGET_COLUMNS, TARGET_HORIZON } from '../../lib/features/definitions';
import { candleInputs, H, readRows, tempDir, type Row } from '../featureFixtures';

const FROM = '2020-01-01T00:00:00Z';
const TO = '2020-04-01T00:00:00Z';
const CUT = Date.parse('2020-03-01T00:00:00Z'); // history known up to (not including) CUT
const SYMBOLS = ['BTC/USDT', 'ETH/USDT'];

async function build(dir: string, to: string | number, previous?: BuildResult): Promise<{ result: BuildResult; rows: Row[][] }> {
  const inputs: SeriesInput[] = await candleInputs(join(dir, 'candles'), SYMBOLS, { from: FROM, to });
  const result = await buildFeatureFiles(inputs, {
    outDir: join(dir, 'out'),
    ...(previous
      ? { previous: { featureSetId: previous.featureSetId, files: Object.fromEntries(previous.series.map((s) => [s.key, s.path])), watermark: previous.watermark } }
      : {}),
  });
  return { result, rows: await Promise.all(result.series.map((s) => readRows(s.path))) };
}

describe('point in time and incremental builds (real candles)', () => {
  let full: { result: BuildResult; rows: Row[][] };
  let truncated: { result: BuildResult; rows: Row[][] };

  before(async () => {
    full = await build(tempDir('pit-full'), TO);
    truncated = await build(tempDir('pit-trunc'), CUT);
  });

  it('every feature of every row before the cut is identical with and without the later candles', () => {
    for (const [k, rows] of truncated.rows.entries()) {
      const fullRows = full.rows[k]!;
      assert.ok(rows.length > 1400);
      for (const [i, row] of rows.entries()) {
        const other = fullRows[i]!;
        assert.equal(row.ts, other.ts);
        for (const c of FEATURE_COLUMNS) {
          if (!Object.is(row[c], other[c])) assert.fail(`${SYMBOLS[k]} ${c} at ${new Date(row.ts!).toISOString()}: truncated ${row[c]}, full ${other[c]}`);
        }
      }
    }
  });

  it('targets are NULL where their horizon passes the cut, and equal the full build where it does not', () => {
    let nulls = 0;
    for (const [k, rows] of truncated.rows.entries()) {
      const fullRows = full.rows[k]!;
      for (const [i, row] of rows.entries()) {
        const horizonEnd = row.ts! + TARGET_HORIZON * H;
        for (const c of TARGET_COLUMNS) {
          const needs = c === 'target_gk_1h' || c === 'target_atr_1h' ? row.ts! + H : horizonEnd;
          if (needs >= CUT) {
            assert.equal(row[c], null, `${c} at ${new Date(row.ts!).toISOString()} must be unknown`);
            nulls++;
          } else {
            assert.ok(Object.is(row[c], fullRows[i]![c]), `${c} at ${new Date(row.ts!).toISOString()}`);
          }
        }
      }
      // In the full build the same rows do have targets.
      assert.notEqual(fullRows[rows.length - 1]!.target_gk_1h, null);
    }
    assert.ok(nulls >= 2 * (TARGET_HORIZON * 2 + 2));
  });

  it('appending candles recomputes only the tail and gives the rows of a full rebuild', async () => {
    const inc = await build(tempDir('pit-inc'), TO, truncated.result);
    assert.equal(inc.result.mode.kind, 'incremental');
    if (inc.result.mode.kind !== 'incremental') return;
    assert.equal(inc.result.mode.cutoff, CUT - H - TARGET_HORIZON * H);
    // Only the appended month plus the target horizon is recomputed, per series.
    const appended = full.rows.reduce((a, r) => a + r.filter((x) => x.ts! >= CUT).length, 0);
    assert.equal(inc.result.mode.recomputed, appended + SYMBOLS.length * TARGET_HORIZON);
    assert.equal(inc.result.featureSetId, full.result.featureSetId);
    for (const [k, rows] of inc.rows.entries()) {
      assert.equal(rows.length, full.rows[k]!.length);
      for (const [i, row] of rows.entries()) {
        const other = full.rows[k]![i]!;
        for (const c of [...FEATURE_COLUMNS, ...TARGET_COLUMNS, 'ts']) {
          // Bit-identical: the slice is aligned so DuckDB sums windows in the same order (build.ts ALIGN).
          const a = row[c]!, b = other[c]!;
          const same = Object.is(a, b);
          if (!same) assert.fail(`${SYMBOLS[k]} ${c} at ${new Date(row.ts!).toISOString()}: incremental ${a}, full ${b}`);
        }
      }
    }
    assert.ok(MAX_LOOKBACK >= 720);
  });

  it('a changed candle before the previous watermark forces a full rebuild', async () => {
    const dir = tempDir('pit-changed');
    const inputs = await candleInputs(join(dir, 'candles'), SYMBOLS, { from: FROM, to: TO }, { 'ETH/USDT': [Date.parse('2020-02-10T05:00:00Z')] });
    const r = await buildFeatureFiles(inputs, {
      outDir: join(dir, 'out'),
      previous: { featureSetId: truncated.result.featureSetId, files: Object.fromEntries(truncated.result.series.map((s) => [s.key, s.path])), watermark: truncated.result.watermark },
    });
    assert.equal(r.mode.kind, 'full');
  });
});
