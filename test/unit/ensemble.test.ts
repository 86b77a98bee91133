import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { combineVol, ensembleModelId, ensembleQlike, fitQlikeWeights } from '../../lib/evaluation/ensemble';

// Deterministic pseudo-random series (no Math.random: reproducible).
function lcg(seed: number): () => number {
  let x = seed;
  return () => ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648);
}

describe('ensembles', () => {
  const rnd = lcg(7);
  const T = 400;
  const truth = Array.from({ length: T }, (_, t) => 0.01 * (1 + 0.5 * Math.sin(t / 20)) * (0.8 + 0.4 * rnd()));
  const good = truth.map((v) => v * (0.95 + 0.1 * rnd()));
  const biased = truth.map((v) => v * 1.8);
  const flat = truth.map(() => 0.01);

  it('combines in variance space', () => {
    assert.equal(combineVol([0.5, 0.5], [0.01, 0.03]), Math.sqrt(0.5 * 1e-4 + 0.5 * 9e-4));
    assert.equal(combineVol([1, 0], [0.02, 0.5]), 0.02);
  });

  it('QLIKE weights put the mass on the accurate member and beat equal weights and every member', () => {
    const f = [good, biased, flat];
    const w = fitQlikeWeights(truth, f);
    assert.ok(Math.abs(w.reduce((a, b) => a + b, 0) - 1) < 1e-12);
    assert.ok(w.every((x) => x >= 0));
    assert.ok(w[0]! > 0.8, `weight on the good member ${w[0]}`);
    const fitted = ensembleQlike(truth, f, w);
    assert.ok(fitted <= ensembleQlike(truth, f, [1 / 3, 1 / 3, 1 / 3]));
    for (let i = 0; i < f.length; i++) assert.ok(fitted <= ensembleQlike(truth, f, f.map((_, j) => (j === i ? 1 : 0))) + 1e-12);
  });

  it('reaches the optimum of a two-member problem found by a grid search', () => {
    const f = [good, biased];
    const w = fitQlikeWeights(truth, f, 4000);
    let best = { w: 0, l: Infinity };
    for (let k = 0; k <= 10_000; k++) {
      const l = ensembleQlike(truth, f, [k / 10_000, 1 - k / 10_000]);
      if (l < best.l) best = { w: k / 10_000, l };
    }
    assert.ok(Math.abs(w[0]! - best.w) < 2e-3, `EG ${w[0]} vs grid ${best.w}`);
  });

  it('ids are stable and depend on members and weights', () => {
    const a = ensembleModelId('qlike', [{ modelId: 'm1', weight: 0.25 }, { modelId: 'm2', weight: 0.75 }]);
    assert.equal(a, ensembleModelId('qlike', [{ modelId: 'm1', weight: 0.25 }, { modelId: 'm2', weight: 0.75 }]));
    assert.notEqual(a, ensembleModelId('equal', [{ modelId: 'm1', weight: 0.25 }, { modelId: 'm2', weight: 0.75 }]));
    assert.notEqual(a, ensembleModelId('qlike', [{ modelId: 'm1', weight: 0.5 }, { modelId: 'm2', weight: 0.5 }]));
  });
});
