import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fitIndex, foldFits } from '../../lib/training/planIndex';
import { modelIdFor, planFolds, planTrailingFolds, servingWindow } from '../../lib/training/walkForward';

const H = 3_600_000;
const t0 = Date.UTC(2024, 0, 1);

describe('walk-forward folds', () => {
  it('expanding folds tile forward with the target horizon as embargo', () => {
    const spec = { firstTrainBars: 100, testBars: 24, stepBars: 24, window: 'expanding' as const, embargoBars: 0 };
    const folds = planFolds(spec, { firstTs: t0, lastTs: t0 + 199 * H, barMs: H, target: 'target_rv_24h' });
    // Last known target: row 199-24 = 175, so test windows end at or before row 176.
    assert.deepEqual(folds.map((f) => [(f.test.startTs - t0) / H, (f.test.endTs - t0) / H]), [[100, 124], [124, 148], [148, 172]]);
    for (const f of folds) {
      assert.equal(f.train.startTs, t0);
      // Training rows end 24 bars before the test: the last one's target closes exactly at the test start.
      assert.equal(f.test.startTs - f.train.endTs, 24 * H);
      const lastTrainRow = f.train.endTs - H;
      assert.equal(lastTrainRow + (24 + 1) * H, f.test.startTs);
    }
    assert.deepEqual(folds.map((f) => f.holdout), [false, false, true]);
  });

  it('rolling windows keep their length; a longer configured embargo wins', () => {
    const spec = { firstTrainBars: 50, testBars: 10, stepBars: 10, window: 'rolling' as const, embargoBars: 5 };
    const folds = planFolds(spec, { firstTs: t0, lastTs: t0 + 99 * H, barMs: H, target: 'target_gk_1h' });
    for (const f of folds) {
      assert.equal(f.test.startTs - f.train.startTs, 50 * H);
      assert.equal(f.test.startTs - f.train.endTs, 5 * H);
    }
  });

  it("protocol (a): the holdout is the seed's split (train 170 days, test the last 10), after two validation folds", () => {
    const lastTs = t0 + 400 * 24 * H;
    const spec = { firstTrainBars: 170 * 24, testBars: 240, stepBars: 240, window: 'rolling' as const, embargoBars: 0, folds: 3 };
    const folds = planTrailingFolds(spec, { firstTs: t0, lastTs, barMs: H, target: 'target_gk_1h' });
    assert.deepEqual(folds.map((f) => f.holdout), [false, false, true]);
    const f = folds[2]!;
    assert.equal(f.test.endTs, lastTs); // the last row with a known next-bar target is lastTs - 1h
    assert.equal(f.test.endTs - f.test.startTs, 240 * H);
    assert.equal(f.test.startTs - f.train.startTs, 170 * 24 * H);
    assert.equal(f.train.endTs, f.test.startTs - H);
    // The validation folds are the two 10-day windows before it, each with its own 170 days.
    assert.deepEqual(folds.map((x) => (lastTs - x.test.startTs) / (24 * H)), [30, 20, 10]);
    assert.equal(folds[1]!.test.endTs, f.test.startTs);
    for (const x of folds) assert.equal(x.test.startTs - x.train.startTs, 170 * 24 * H);
  });

  it('the serving fit trains on every row whose target is known, and "tests" on the h newest rows', () => {
    const lastTs = t0 + 400 * 24 * H;
    const rolling = { firstTrainBars: 170 * 24, testBars: 240, stepBars: 240, window: 'rolling' as const, embargoBars: 0 };
    for (const [target, h] of [['target_gk_1h', 1], ['target_rv_24h', 24]] as const) {
      const s = servingWindow(rolling, { firstTs: t0, lastTs, barMs: H, target });
      // The last training row ts has its target's bars ts+1..ts+h in the data: ts + h bars = lastTs.
      assert.equal(s.train.endTs - H + h * H, lastTs, target);
      assert.equal(s.train.endTs - s.train.startTs, 170 * 24 * H);
      assert.deepEqual(s.test, { startTs: s.train.endTs, endTs: lastTs + H });
      assert.equal((s.test.endTs - s.test.startTs) / H, h, `${target}: the h rows without a known target`);
    }
    const expanding = servingWindow({ ...rolling, window: 'expanding' }, { firstTs: t0, lastTs, barMs: H, target: 'target_gk_1h' });
    assert.equal(expanding.train.startTs, t0);
    assert.throws(() => servingWindow(rolling, { firstTs: t0, lastTs: t0, barMs: H, target: 'target_rv_24h' }), /no row with a known target/);
  });

  it('fit indices: fold-major over the specs, then one serving fit per spec', () => {
    const plan = { specs: [{ name: 'a' }, { name: 'b' }, { name: 'c' }], folds: [{ fold: 0 }, { fold: 1 }] };
    assert.deepEqual(foldFits(plan).map((f) => [f.index, f.name, f.fold]), [[0, 'a', 0], [1, 'b', 0], [2, 'c', 0], [3, 'a', 1], [4, 'b', 1], [5, 'c', 1]]);
    assert.equal(fitIndex(plan, 'b', 1), 4);
    assert.equal(fitIndex(plan, 'c', null), 8);
    assert.throws(() => fitIndex(plan, 'z', 0), /spec z is not in the plan/);
  });

  it('testFrom: series that start on other dates are judged on the same test windows, from that date', () => {
    const spec = { firstTrainBars: 100, testBars: 24, stepBars: 24, window: 'expanding' as const, embargoBars: 24, testFrom: '2024-01-10' };
    const from = Date.UTC(2024, 0, 10);
    const lastTs = from + 100 * H;
    const early = planFolds(spec, { firstTs: t0, lastTs, barMs: H, target: 'target_rv_24h' });
    const late = planFolds(spec, { firstTs: t0 + 5 * H, lastTs, barMs: H, target: 'target_rv_24h' });
    assert.deepEqual(early.map((f) => f.test), late.map((f) => f.test));
    assert.equal(early[0]!.test.startTs, from);
    assert.deepEqual(early.map((f) => (f.test.startTs - from) / H), [0, 24, 48]);
    for (const f of early) assert.equal(f.train.endTs, f.test.startTs - 24 * H);
    // A series that starts too late for firstTrainBars before testFrom starts its tests later, as without it.
    const young = planFolds(spec, { firstTs: from - 50 * H, lastTs: from + 200 * H, barMs: H, target: 'target_gk_1h' });
    assert.equal(young[0]!.test.startTs, from + 50 * H);
    // Off the bar grid: the first bar at or after the date.
    const offGrid = planFolds(spec, { firstTs: t0 + 30 * 60_000, lastTs, barMs: H, target: 'target_gk_1h' });
    assert.equal(offGrid[0]!.test.startTs, from + 30 * 60_000);
    assert.throws(() => planFolds(spec, { firstTs: t0, lastTs: from + 10 * H, barMs: H, target: 'target_rv_24h' }),
      /the first test window starts at testFrom 2024-01-10 and needs 48 bars from there/);
  });

  it('refuses to plan without enough history, saying how much is needed', () => {
    const spec = { firstTrainBars: 100, testBars: 24, stepBars: 24, window: 'expanding' as const, embargoBars: 0 };
    assert.throws(() => planFolds(spec, { firstTs: t0, lastTs: t0 + 50 * H, barMs: H, target: 'target_gk_1h' }), /need 125 bars, have 51/);
  });

  it('modelIds depend on spec, feature set, series, target, windows, input columns and purpose, not on key order', () => {
    const base = {
      model: { kind: 'lightgbm', params: { a: 1, b: 2 } }, featureSetId: 'fs1', series: { exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h' }, target: 'target_gk_1h',
      train: { startTs: 1, endTs: 2 }, test: { startTs: 2, endTs: 3 }, columns: ['ret_1', 'rv_d'], purpose: 'fold' as const, seed: 7, trainerVersion: 'v1',
    };
    assert.notEqual(modelIdFor(base), modelIdFor({ ...base, columns: ['ret_1'] }));
    assert.notEqual(modelIdFor(base), modelIdFor({ ...base, purpose: 'serving' }));
    assert.notEqual(modelIdFor(base), modelIdFor({ ...base, test: { startTs: 2, endTs: 4 } }));
    assert.equal(modelIdFor(base), modelIdFor({ ...base, model: { kind: 'lightgbm', params: { b: 2, a: 1 } } }));
    assert.notEqual(modelIdFor(base), modelIdFor({ ...base, train: { startTs: 1, endTs: 3 } }));
    assert.notEqual(modelIdFor(base), modelIdFor({ ...base, featureSetId: 'fs2' }));
    assert.notEqual(modelIdFor(base), modelIdFor({ ...base, trainerVersion: 'v2' }));
    // One feature set holds several symbols: the series is part of the id.
    assert.notEqual(modelIdFor(base), modelIdFor({ ...base, series: { ...base.series, symbol: 'ETH/USDT' } }));
    assert.match(modelIdFor(base), /^m[0-9a-f]{20}$/);
  });
});
