/**
 * Conformal intervals (lib/metrics/conformal.ts, lib/evaluation/intervals.ts): the quantile ranks,
 * coverage as a property by simulation (iid and heteroscedastic errors), the sigma-scaled variant,
 * and no look-ahead in the per-fold calibration.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EvalFold } from '../../contracts/types';
import type { PredictionRow } from '../../lib/evaluation/compute';
import { conformalReport } from '../../lib/evaluation/intervals';
import { calibrateConformal, conformalBounds, conformalCoverage, forecastBounds, MIN_CALIBRATION_ROWS, type CalibrationRow } from '../../lib/metrics/conformal';
import { INTERVAL_Z, intervalBounds } from '../../lib/metrics/intervals';

/** Deterministic standard normals (mulberry32 + Box-Muller). */
function normals(seed: number) {
  let a = seed >>> 0;
  const u = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(u() + 1e-300)) * Math.cos(2 * Math.PI * u());
}

/** Rows whose log variance ratio is skewed: e = s·(z + 0.4 z² − 0.5) (realized variance right-skewed). */
function rowsOf(n: number, seed: number, sigmaOf: (i: number) => number = () => 1, withSigma = false): CalibrationRow[] {
  const z = normals(seed);
  return Array.from({ length: n }, (_, i) => {
    const f = 0.004 + 0.002 * Math.sin(i / 50);
    const s = sigmaOf(i);
    const g = z();
    const e = s * (g + 0.4 * g * g - 0.5);
    return { actual: f * Math.exp(e / 2), forecast: f, sigma: withSigma ? s : null };
  });
}

describe('conformal calibration', () => {
  it('takes the ⌊(n+1)(1−p)/2⌋-th and ⌈(n+1)(1+p)/2⌉-th smallest score per level', () => {
    // Scores 1 … 199 (shuffled): ranks for n = 199: 80% → 20 and 180, 95% → 5 and 195.
    const n = 199;
    const order = Array.from({ length: n }, (_, i) => (i * 37) % n);
    const rows = order.map((k) => ({ actual: Math.exp((k + 1) / 2), forecast: 1, sigma: null }));
    const c = calibrateConformal(rows)!;
    assert.equal(c.rows, n);
    assert.equal(c.scaled, false);
    assert.ok(Math.abs(c.levels['80'].lower - 20) < 1e-9 && Math.abs(c.levels['80'].upper - 180) < 1e-9, JSON.stringify(c.levels));
    assert.ok(Math.abs(c.levels['95'].lower - 5) < 1e-9 && Math.abs(c.levels['95'].upper - 195) < 1e-9, JSON.stringify(c.levels));
    const [lo, hi] = conformalBounds(2, null, c, '80');
    assert.ok(Math.abs(lo - 2 * Math.exp(10)) < 1e-6 * lo && Math.abs(hi - 2 * Math.exp(90)) < 1e-6 * hi);
  });

  it('refuses to calibrate on fewer than MIN_CALIBRATION_ROWS usable rows', () => {
    assert.equal(calibrateConformal(rowsOf(MIN_CALIBRATION_ROWS - 1, 1)), null);
    const withBad = [...rowsOf(MIN_CALIBRATION_ROWS - 1, 1), { actual: Number.NaN, forecast: 1, sigma: null }, { actual: 1, forecast: 0, sigma: null }];
    assert.equal(calibrateConformal(withBad), null);
    assert.ok(calibrateConformal(rowsOf(MIN_CALIBRATION_ROWS, 1)));
  });

  it('a zero actual (a flat candle) is a finite score, floored like QLIKE', () => {
    const rows = [...rowsOf(150, 2), { actual: 0, forecast: 0.004, sigma: null }];
    const c = calibrateConformal(rows)!;
    for (const lvl of ['80', '95'] as const) assert.ok(Number.isFinite(c.levels[lvl].lower) && Number.isFinite(c.levels[lvl].upper));
  });

  it('covers the nominal level on fresh rows (simulation: 300 calibrations of 300 rows, skewed errors)', () => {
    const cover = { '80': 0, '95': 0 };
    const reps = 300;
    for (let r = 0; r < reps; r++) {
      const c = calibrateConformal(rowsOf(300, 1000 + r))!;
      const test = conformalCoverage(rowsOf(400, 5000 + r), c)!;
      cover['80'] += test.coverage['80'] / reps;
      cover['95'] += test.coverage['95'] / reps;
    }
    // Split conformal: E[coverage] ≥ p (and ≤ p + 1/(n+1) for continuous scores). Monte-Carlo s.e. < 0.2 points.
    assert.ok(cover['80'] >= 0.795 && cover['80'] <= 0.8 + 1 / 301 + 0.005, `80%: ${cover['80']}`);
    assert.ok(cover['95'] >= 0.947 && cover['95'] <= 0.95 + 1 / 301 + 0.004, `95%: ${cover['95']}`);
  });

  it('the asymmetric quantiles give a right-skewed band around the forecast', () => {
    const c = calibrateConformal(rowsOf(5000, 3))!;
    const [lo, hi] = conformalBounds(1, null, c, '95');
    assert.ok(hi - 1 > 1 - lo, `[${lo}, ${hi}]`);
  });

  it('scaled by sigma: coverage holds in calm and wild rows alike, where the unscaled band does not', () => {
    const sigmaOf = (i: number) => (i % 2 === 0 ? 0.5 : 2);
    const scaled = calibrateConformal(rowsOf(4000, 11, sigmaOf, true))!;
    const plain = calibrateConformal(rowsOf(4000, 11, sigmaOf, false))!;
    assert.equal(scaled.scaled, true);
    assert.equal(plain.scaled, false);
    const test = rowsOf(20000, 12, sigmaOf, true);
    const calm = test.filter((_, i) => i % 2 === 0);
    const wild = test.filter((_, i) => i % 2 === 1);
    for (const part of [calm, wild]) {
      const c = conformalCoverage(part, scaled)!;
      assert.ok(Math.abs(c.coverage['80'] - 0.8) < 0.02, `scaled: ${c.coverage['80']}`);
    }
    const calmPlain = conformalCoverage(calm.map((r) => ({ ...r, sigma: null })), plain)!;
    const wildPlain = conformalCoverage(wild.map((r) => ({ ...r, sigma: null })), plain)!;
    assert.ok(calmPlain.coverage['80'] > 0.9 && wildPlain.coverage['80'] < 0.7, `${calmPlain.coverage['80']} ${wildPlain.coverage['80']}`);
  });

  it('serves the calibration, else the sigma interval (older records), else nothing', () => {
    const c = calibrateConformal(rowsOf(500, 4))!;
    assert.deepEqual(forecastBounds(0.01, null, c, '80'), conformalBounds(0.01, null, c, '80'));
    assert.deepEqual(forecastBounds(0.01, 0.7, null, '95'), intervalBounds(0.01, 0.7, INTERVAL_Z['95']));
    assert.equal(forecastBounds(0.01, null, null, '80'), null);
    const scaled = calibrateConformal(rowsOf(500, 4, () => 1, true))!;
    // A scaled calibration without the forecast's sigma falls back to what the model gives (nothing here).
    assert.equal(forecastBounds(0.01, null, scaled, '80'), null);
    assert.throws(() => conformalBounds(0.01, null, scaled, '80'), /sigma/);
  });
});

describe('conformal report of a run (per fold, no look-ahead)', () => {
  const HOUR = 3_600_000;
  const h = 24;
  const foldBars = 500;
  const folds: EvalFold[] = [0, 1, 2, 3].map((k) => ({ fold: k, test: { startTs: k * foldBars * HOUR, endTs: (k + 1) * foldBars * HOUR }, holdout: k === 3 }));
  const base = rowsOf(4 * foldBars, 21);
  const preds: PredictionRow[] = base.map((r, i) => ({ ts: i * HOUR, fold: Math.floor(i / foldBars), forecast: r.forecast, sigma: null }));
  const actualOf = (rows: CalibrationRow[]) => new Map(rows.map((r, i) => [i * HOUR, r.actual as number | null]));

  it('fold 0 has no calibration; fold k uses the earlier folds rows whose targets were known when it opened', () => {
    const rep = conformalReport({ rows: preds, actual: actualOf(base), folds, horizonBars: h, barMs: HOUR });
    assert.equal(rep.perFold[0]!.calibration, null);
    assert.equal(rep.perFold[0]!.coverage, null);
    // Fold 1 opens at bar 500: rows 0 … 475 have targets known (ts + 24 bars < 500 bars).
    assert.equal(rep.perFold[1]!.calibration!.rows, foldBars - h);
    assert.equal(rep.perFold[3]!.calibration!.rows, 3 * foldBars - h);
    assert.equal(rep.serving!.rows, 4 * foldBars);
    assert.equal(rep.holdout!.rows, foldBars);
    assert.equal(rep.validation!.rows, 2 * foldBars);
    for (const lvl of ['80', '95'] as const) assert.ok(Math.abs(rep.holdout!.coverage[lvl] - Number(lvl) / 100) < 0.06, `${lvl}: ${rep.holdout!.coverage[lvl]}`);
  });

  it("changing the targets a fold could not know (its own, later folds', the last h bars before it) changes none of its calibration", () => {
    const k = 2;
    const opens = folds[k]!.test.startTs;
    const changed = base.map((r, i) => (i * HOUR + h * HOUR >= opens ? { ...r, actual: r.actual * 3 } : r));
    const a = conformalReport({ rows: preds, actual: actualOf(base), folds, horizonBars: h, barMs: HOUR });
    const b = conformalReport({ rows: preds, actual: actualOf(changed), folds, horizonBars: h, barMs: HOUR });
    assert.deepEqual(b.perFold[k]!.calibration, a.perFold[k]!.calibration);
    assert.deepEqual(b.perFold[1]!.calibration, a.perFold[1]!.calibration);
    assert.deepEqual(b.perFold[0]!, a.perFold[0]!);
    // The serving calibration uses every row: it sees the change.
    assert.notDeepEqual(b.serving, a.serving);
  });
});
