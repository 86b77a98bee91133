import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { modelIdFor, planFolds, planTrailingFolds } from '../../lib/training/walkForward';

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

  it('protocol (a): the last 180 days, train on the first 170, test on the last 10', () => {
    const lastTs = t0 + 400 * 24 * H;
    const spec = { firstTrainBars: 170 * 24, testBars: 240, stepBars: 240, window: 'rolling' as const, embargoBars: 0, folds: 1 };
    const [f] = planTrailingFolds(spec, { firstTs: t0, lastTs, barMs: H, target: 'target_gk_1h' });
    assert.ok(f);
    assert.equal(f.test.endTs, lastTs); // the last row with a known next-bar target is lastTs - 1h
    assert.equal(f.test.endTs - f.test.startTs, 240 * H);
    assert.equal(f.test.startTs - f.train.startTs, 170 * 24 * H);
    assert.equal(f.train.endTs, f.test.startTs - H);
    assert.equal(f.holdout, true);
  });

  it('refuses to plan without enough history, saying how much is needed', () => {
    const spec = { firstTrainBars: 100, testBars: 24, stepBars: 24, window: 'expanding' as const, embargoBars: 0 };
    assert.throws(() => planFolds(spec, { firstTs: t0, lastTs: t0 + 50 * H, barMs: H, target: 'target_gk_1h' }), /need 125 bars, have 51/);
  });

  it('modelIds depend on spec, feature set, series, target and window, not on key order', () => {
    const base = { model: { kind: 'lightgbm', params: { a: 1, b: 2 } }, featureSetId: 'fs1', series: { exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h' }, target: 'target_gk_1h', train: { startTs: 1, endTs: 2 }, seed: 7, trainerVersion: 'v1' };
    assert.equal(modelIdFor(base), modelIdFor({ ...base, model: { kind: 'lightgbm', params: { b: 2, a: 1 } } }));
    assert.notEqual(modelIdFor(base), modelIdFor({ ...base, train: { startTs: 1, endTs: 3 } }));
    assert.notEqual(modelIdFor(base), modelIdFor({ ...base, featureSetId: 'fs2' }));
    assert.notEqual(modelIdFor(base), modelIdFor({ ...base, trainerVersion: 'v2' }));
    // One feature set holds several symbols: the series is part of the id.
    assert.notEqual(modelIdFor(base), modelIdFor({ ...base, series: { ...base.series, symbol: 'ETH/USDT' } }));
    assert.match(modelIdFor(base), /^m[0-9a-f]{20}$/);
  });
});
