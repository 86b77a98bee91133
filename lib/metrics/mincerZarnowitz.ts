/**
 * Mincer-Zarnowitz regression on variance: OLS of realized σ² on forecast h, σ²_t = α + β h_t + ε_t.
 * An unbiased forecast has α = 0, β = 1; R² measures how much of the realized variance it explains.
 */
import { assertPaired, mean } from './stats';

export interface MincerZarnowitz {
  alpha: number;
  beta: number;
  r2: number;
}

export function mincerZarnowitz(actualVol: readonly number[], forecastVol: readonly number[]): MincerZarnowitz {
  assertPaired(actualVol, forecastVol);
  const y = actualVol.map((a) => a * a);
  const x = forecastVol.map((f) => f * f);
  const my = mean(y);
  const mx = mean(x);
  let sxx = 0;
  let sxy = 0;
  let syy = 0;
  for (let i = 0; i < y.length; i++) {
    const dx = x[i]! - mx;
    const dy = y[i]! - my;
    sxx += dx * dx;
    sxy += dx * dy;
    syy += dy * dy;
  }
  // A constant forecast (e.g. over one row) has no slope: undefined rather than a division by zero.
  if (!(sxx > 0)) return { alpha: Number.NaN, beta: Number.NaN, r2: Number.NaN };
  const beta = sxy / sxx;
  const alpha = my - beta * mx;
  // With an intercept, R² = 1 − SSR/SST equals the squared correlation.
  const r2 = syy > 0 ? (sxy * sxy) / (sxx * syy) : Number.NaN;
  return { alpha, beta, r2 };
}
