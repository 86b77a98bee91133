/**
 * Point-forecast losses. Forecasts and actuals arrive in volatility units (the ONNX `vol` output and
 * the target column); variance-based losses square them first.
 *
 * QLIKE (the primary loss, Patton 2011): L(σ², h) = σ²/h − ln(σ²/h) − 1, σ² the realized and h the
 * forecast variance. It is 0 for a perfect forecast, and robust to noise in the volatility proxy.
 * Both variances are floored at VARIANCE_FLOOR first, so a zero forecast or a flat candle (GK = 0)
 * gives a large finite loss instead of ∞/NaN that would poison the mean.
 */
import { assertPaired, mean } from './stats';

/** 1e-12 variance = 1e-6 volatility, four orders below any hourly crypto volatility. */
export const VARIANCE_FLOOR = 1e-12;

export function qlikeTerm(actualVol: number, forecastVol: number): number {
  const s2 = Math.max(actualVol * actualVol, VARIANCE_FLOOR);
  const h = Math.max(forecastVol * forecastVol, VARIANCE_FLOOR);
  const r = s2 / h;
  return r - Math.log(r) - 1;
}

/** Per-row QLIKE losses (the input of the Diebold-Mariano test). */
export function qlikeLosses(actualVol: readonly number[], forecastVol: readonly number[]): number[] {
  assertPaired(actualVol, forecastVol);
  return actualVol.map((a, i) => qlikeTerm(a, forecastVol[i]!));
}

export function qlike(actualVol: readonly number[], forecastVol: readonly number[]): number {
  return mean(qlikeLosses(actualVol, forecastVol));
}

/** Mean squared error of the variance forecast. */
export function mseVariance(actualVol: readonly number[], forecastVol: readonly number[]): number {
  assertPaired(actualVol, forecastVol);
  return mean(actualVol.map((a, i) => (a * a - forecastVol[i]! ** 2) ** 2));
}

export function rmse(actual: readonly number[], forecast: readonly number[]): number {
  assertPaired(actual, forecast);
  return Math.sqrt(mean(actual.map((a, i) => (a - forecast[i]!) ** 2)));
}

export function mae(actual: readonly number[], forecast: readonly number[]): number {
  assertPaired(actual, forecast);
  return mean(actual.map((a, i) => Math.abs(a - forecast[i]!)));
}

/** Mean |a − f| / a over rows with a > 0 (a zero actual has no relative error); NaN if none. */
export function mape(actual: readonly number[], forecast: readonly number[]): number {
  assertPaired(actual, forecast);
  const terms: number[] = [];
  actual.forEach((a, i) => {
    if (a > 0) terms.push(Math.abs(a - forecast[i]!) / a);
  });
  return mean(terms);
}

/** Out-of-sample R² = 1 − SSE / SST, SST around the mean of the actuals (can be negative). */
export function rSquared(actual: readonly number[], forecast: readonly number[]): number {
  assertPaired(actual, forecast);
  const m = mean(actual);
  let sse = 0;
  let sst = 0;
  actual.forEach((a, i) => {
    sse += (a - forecast[i]!) ** 2;
    sst += (a - m) ** 2;
  });
  return sst > 0 ? 1 - sse / sst : Number.NaN;
}
