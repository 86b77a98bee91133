/**
 * lib/metrics against independent references computed in Python (numpy, scipy, statsmodels' OLS and
 * HAC covariance) from the written definitions: test/fixtures/metrics_reference.py.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dieboldMariano, dmLag, forecastMetrics, longRunVariance, LRV_RULES, neweyWestVariance, qlikeLosses, qlikeTerm } from '../../lib/metrics';
import { runPythonJson } from '../fixtures/python';
import { gaussian, rng, volSeries } from '../fixtures/series';

interface Case {
  actual: number[];
  forecast: number[];
  previous: (number | null)[];
  sigma: number[];
  other: number[];
  q1: number;
  q2: number;
  horizon: number;
}

/** Two forecasts of one realized series: a noisy one of the latent vol, and a lagged (persistence-like) one. */
function makeCase(n: number, seed: number, horizon: number): Case {
  const { latent, realized } = volSeries(n + horizon, seed);
  const g = gaussian(rng(seed + 1));
  const actual = realized.slice(horizon);
  const forecast = latent.slice(horizon).map((v) => v * Math.exp(0.1 * g()));
  const other = realized.slice(0, n);
  const previous: (number | null)[] = realized.slice(0, n);
  previous[3] = null; // a gap: direction skips the row
  actual[7] = 0; // a flat candle: QLIKE floors it, MAPE skips it
  const sigma = forecast.map(() => 0.3 + 0.2 * rng(seed + 2)());
  const sorted = [...realized].sort((a, b) => a - b);
  return { actual, forecast, previous, sigma, other, q1: sorted[Math.floor(n / 3)]!, q2: sorted[Math.floor((2 * n) / 3)]!, horizon };
}

function close(actual: number, expected: number, what: string, rel = 1e-9): void {
  const err = Math.abs(actual - expected) / Math.max(Math.abs(expected), 1e-300);
  assert.ok(err <= rel, `${what}: ${actual} vs reference ${expected} (relative error ${err.toExponential(2)})`);
}

describe('metrics vs numpy/scipy/statsmodels references', () => {
  const cases = [makeCase(720, 11, 1), makeCase(2400, 23, 24), makeCase(240, 5, 1)];
  const ref = runPythonJson<{ cases: any[] }>('metrics_reference.py', [], { cases }).cases;

  cases.forEach((c, i) => {
    it(`case ${i}: n=${c.actual.length}, horizon ${c.horizon}`, () => {
      const r = ref[i];
      const m = forecastMetrics(c, { q1: c.q1, q2: c.q2 });
      for (const k of ['qlike', 'mseVariance', 'rmse', 'mae', 'mape', 'r2'] as const) close(m[k], r[k], k);
      for (const k of ['alpha', 'beta', 'r2'] as const) close(m.mincerZarnowitz[k], r.mincerZarnowitz[k], `MZ ${k}`);
      assert.equal(m.direction.rows, r.direction.rows);
      close(m.direction.accuracy, r.direction.accuracy, 'direction');
      m.intervals!.forEach((iv, j) => {
        assert.equal(iv.level, r.intervals[j].level);
        close(iv.coverage, r.intervals[j].coverage, `coverage ${iv.level}`);
        close(iv.meanWidth, r.intervals[j].meanWidth, `width ${iv.level}`);
      });
      assert.deepEqual(m.regime!.confusion, r.regime.confusion);
      close(m.regime!.accuracy, r.regime.accuracy, 'regime accuracy');
      close(m.regime!.macroF1, r.regime.macroF1, 'macro F1');

      const dm = dieboldMariano(qlikeLosses(c.actual, c.forecast), qlikeLosses(c.actual, c.other), c.horizon);
      assert.equal(dm.lag, r.dm.lag);
      for (const k of ['meanDiff', 'longRunVariance', 'statistic', 'pValue', 'pValueOneSided', 'hlnStatistic', 'hlnPValue'] as const) {
        close(dm[k] as number, r.dm[k], `DM ${k}`);
      }
      // The gate's version (Bartlett at max(2h, 48, NW), one-sided HLN t(T − 1)).
      assert.equal(dm.robust.kernel, 'bartlett');
      assert.equal(dm.robust.bandwidth, r.dm.robust.bandwidth);
      for (const k of ['longRunVariance', 'statistic', 'hlnStatistic', 'hlnPValueOneSided'] as const) {
        close(dm.robust[k] as number, r.dm.robust[k], `DM robust ${k}`);
      }
      // The other LRV rules of the study.
      const d = qlikeLosses(c.actual, c.forecast).map((x, j) => x - qlikeLosses(c.actual, c.other)[j]!);
      for (const rule of ['truncated-h', 'parzen-4h-96', 'qs-h-24', 'pw-bartlett-2h'] as const) {
        const est = longRunVariance(d, LRV_RULES[rule](d, c.horizon));
        close(est.value, r.dm.kernels[rule], `LRV ${rule}`);
        if (rule === 'pw-bartlett-2h') close(est.ar1, r.dm.kernels['pw-bartlett-2h-ar1'], 'prewhitening AR(1)');
      }
    });
  });

  it('QLIKE is zero for a perfect forecast, finite for zeros, and asymmetric', () => {
    assert.equal(qlikeTerm(0.01, 0.01), 0);
    assert.ok(Number.isFinite(qlikeTerm(0, 0.01)) && Number.isFinite(qlikeTerm(0.01, 0)));
    assert.ok(qlikeTerm(0.02, 0.01) > qlikeTerm(0.01, 0.02)); // under-prediction costs more
  });

  it('DM lag rule and degenerate inputs', () => {
    assert.equal(dmLag(2400, 24), 23);
    assert.equal(dmLag(2400, 1), 8);
    assert.equal(dmLag(100, 1), 4);
    const same = dieboldMariano([1, 2, 3], [1, 2, 3], 1);
    assert.equal(same.statistic, null);
    assert.equal(neweyWestVariance([1, 1, 1, 1], 2), 0);
    assert.equal(same.robust.hlnPValueOneSided, null);
  });

  it('robust DM: one-sided direction and the truncated kernel\'s PSD fallback', () => {
    const a = [1, 2, 1, 2, 1, 2, 1, 2, 1, 2];
    const better = dieboldMariano(a.map((x) => x - 0.5 + 0.01 * (x % 2)), a, 1);
    assert.ok(better.robust.hlnPValueOneSided! < 0.5 && better.robust.statistic! < 0);
    const worse = dieboldMariano(a, a.map((x) => x - 0.5 + 0.01 * (x % 2)), 1);
    close(worse.robust.hlnPValueOneSided!, 1 - better.robust.hlnPValueOneSided!, 'one-sided symmetry');
    // An alternating series: the rectangular kernel at lag 1 gives γ0 + 2γ1 < 0 → Bartlett fallback.
    const alt = [1, -1, 1, -1, 1, -1, 1, -1];
    const est = longRunVariance(alt, { kernel: 'truncated', bandwidth: 1 });
    assert.equal(est.psdFallback, true);
    assert.ok(est.value >= 0);
  });
});
