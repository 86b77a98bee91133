/** ONNX parity (lib/scoring/parity.ts) as a pure function: NaN and ±Inf fail, whichever side has them. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkParity } from '../../lib/scoring/parity';
import type { ModelCard } from '../../lib/scoring/modelCard';

const card = (vol: number[], sigma?: number[]) =>
  ({ modelId: 'm', name: 'x', kind: 'har_x', target: 'target_gk_1h', featureSetId: 'fs', input: { kind: 'tabular', columns: ['a'], window: 1, dtype: 'float32' }, output: { name: 'vol', sigma: !!sigma }, trainerPredictions: { ts: [1, 2, 3], vol, ...(sigma ? { sigma } : {}) } }) as unknown as ModelCard;
const window = { startTs: 0, endTs: 10 };

describe('ONNX parity', () => {
  it('passes equal predictions and fails a relative error above 1e-5', () => {
    assert.equal(checkParity({ ts: [1, 2, 3], vol: [0.01, 0.02, 0.03], sigma: null }, card([0.01, 0.02, 0.03]), window, 's').passed, true);
    const off = checkParity({ ts: [1, 2, 3], vol: [0.01, 0.02, 0.0301], sigma: null }, card([0.01, 0.02, 0.03]), window, 's');
    assert.equal(off.passed, false);
    assert.match(off.reason!, /max relative error 3\.333e-3 > 0.00001/);
  });

  it('fails on NaN or ±Inf on either side (a NaN once slipped through Math.max)', () => {
    for (const [onnx, trainer] of [
      [[0.01, Number.NaN, 0.03], [0.01, 0.02, 0.03]],
      [[0.01, 0.02, 0.03], [0.01, Number.NaN, 0.03]],
      [[0.01, Number.POSITIVE_INFINITY, 0.03], [0.01, 0.02, 0.03]],
      [[Number.NaN, Number.NaN, Number.NaN], [Number.NaN, Number.NaN, Number.NaN]],
    ] as [number[], number[]][]) {
      const p = checkParity({ ts: [1, 2, 3], vol: onnx, sigma: null }, card(trainer), window, 's');
      assert.equal(p.passed, false, `${onnx} vs ${trainer}`);
      assert.match(p.reason!, /not finite/);
      assert.equal(p.maxRelError, null);
    }
    const sigma = checkParity({ ts: [1, 2, 3], vol: [0.01, 0.02, 0.03], sigma: [1, Number.NaN, 1] }, card([0.01, 0.02, 0.03], [1, 1, 1]), window, 's');
    assert.equal(sigma.passed, false);
  });
});
