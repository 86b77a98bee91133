import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fitRegimeThresholds, labelRegime } from '../../lib/features/regime';

describe('regime thresholds (fit on the training window only)', () => {
  it('uses only the masked values and interpolates like numpy.quantile', () => {
    const values = [1, 2, 3, 4, 5, 6, 7, null, 100, 200];
    const mask = [true, true, true, true, true, true, true, true, false, false];
    const t = fitRegimeThresholds(values, mask);
    // numpy.quantile([1..7], [1/3, 2/3]) = [3, 5]
    assert.equal(t.n, 7);
    assert.ok(Math.abs(t.q1 - 3) < 1e-12 && Math.abs(t.q2 - 5) < 1e-12);
    assert.deepEqual(labelRegime(values, t), [0, 0, 0, 1, 1, 2, 2, null, 2, 2]);
  });

  it('future values do not move thresholds fit on the past', () => {
    const past = Array.from({ length: 50 }, (_, i) => Math.sin(i) + 2);
    const mask = [...past.map(() => true), ...past.map(() => false)];
    const a = fitRegimeThresholds([...past, ...past.map(() => 0)], mask);
    const b = fitRegimeThresholds([...past, ...past.map(() => 1e9)], mask);
    assert.deepEqual(a, b);
  });

  it('refuses too few training values', () => {
    assert.throws(() => fitRegimeThresholds([1, null, 3], [true, true, true]), /at least 3/);
  });
});
