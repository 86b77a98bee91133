/**
 * Interval coverage for models that output `sigma`, the standard deviation of the predicted log
 * variance (contract). With the forecast volatility f as the center in log space, the central
 * interval at level p for the realized variance is exp(ln f² ± z σ), z = Φ⁻¹((1 + p)/2), i.e. in
 * volatility units [f·exp(−zσ/2), f·exp(+zσ/2)]. Coverage is the share of rows whose realized
 * volatility lies inside (bounds included); width is the mean upper − lower in volatility units.
 */
import { assertPaired } from './stats';

/** The nominal levels every forecast's interval is given at (percent). */
export const INTERVAL_LEVELS = ['80', '95'] as const;
export type IntervalLevel = (typeof INTERVAL_LEVELS)[number];

/** Φ⁻¹(0.9) and Φ⁻¹(0.975) to double precision. */
export const INTERVAL_Z: Record<IntervalLevel, number> = { '80': 1.2815515655446004, '95': 1.959963984540054 };

export interface IntervalMetrics {
  level: number;
  coverage: number;
  meanWidth: number;
}

export function intervalBounds(forecastVol: number, sigma: number, z: number): [number, number] {
  return [forecastVol * Math.exp((-z * sigma) / 2), forecastVol * Math.exp((z * sigma) / 2)];
}

export function intervalMetrics(actualVol: readonly number[], forecastVol: readonly number[], sigma: readonly number[]): IntervalMetrics[] {
  assertPaired(actualVol, forecastVol);
  assertPaired(actualVol, sigma);
  const n = actualVol.length;
  return INTERVAL_LEVELS.map((lvl) => {
    let inside = 0;
    let width = 0;
    actualVol.forEach((a, i) => {
      const [lo, hi] = intervalBounds(forecastVol[i]!, sigma[i]!, INTERVAL_Z[lvl]);
      if (a >= lo && a <= hi) inside++;
      width += hi - lo;
    });
    return { level: Number(lvl) / 100, coverage: n ? inside / n : Number.NaN, meanWidth: n ? width / n : Number.NaN };
  });
}
