/**
 * Diebold-Mariano test of equal predictive accuracy on a loss differential d_t = L(a)_t − L(b)_t
 * (here the QLIKE losses of two models on the same rows; negative mean ⇒ `a` is better).
 *
 *   DM = mean(d) / sqrt(LRV / T)
 *   LRV = γ0 + 2 Σ_{k=1..L} (1 − k/(L+1)) γk,   γk = (1/T) Σ_{t=k+1..T} (d_t − d̄)(d_{t−k} − d̄)
 *
 * the Newey-West (Bartlett kernel) long-run variance. Lag rule (dmLag): L = max(h − 1,
 * floor(4 (T/100)^(2/9))): an h-bar-ahead target overlaps h − 1 later rows (MA(h−1) errors), and the
 * Newey-West rule of thumb covers the serial correlation that volatility clustering puts in the
 * losses even for h = 1.
 * p-values: two-sided and one-sided (H1: `a` more accurate, mean d < 0) from the standard normal;
 * plus the Harvey-Leybourne-Newbold (1997) small-sample version DM* = DM·sqrt((T + 1 − 2h +
 * h(h−1)/T) / T) with a Student-t(T − 1) two-sided p-value.
 */
import { mean, MetricInputError, phi, studentT } from './stats';

export interface DieboldMariano {
  n: number;
  lag: number;
  meanDiff: number;
  longRunVariance: number;
  statistic: number | null;
  pValue: number | null;
  pValueOneSided: number | null;
  hlnStatistic: number | null;
  hlnPValue: number | null;
}

export function dmLag(n: number, horizonBars: number): number {
  return Math.max(horizonBars - 1, Math.floor(4 * (n / 100) ** (2 / 9)));
}

/** Newey-West long-run variance of `d` (Bartlett weights, `lag` autocovariances, 1/T normalization). */
export function neweyWestVariance(d: readonly number[], lag: number): number {
  const n = d.length;
  const m = mean(d);
  const u = d.map((x) => x - m);
  const gamma = (k: number) => {
    let s = 0;
    for (let t = k; t < n; t++) s += u[t]! * u[t - k]!;
    return s / n;
  };
  let lrv = gamma(0);
  for (let k = 1; k <= Math.min(lag, n - 1); k++) lrv += 2 * (1 - k / (lag + 1)) * gamma(k);
  return lrv;
}

export function dieboldMariano(lossA: readonly number[], lossB: readonly number[], horizonBars: number): DieboldMariano {
  if (lossA.length !== lossB.length) throw new MetricInputError(`DM needs losses on the same rows: ${lossA.length} vs ${lossB.length}`);
  const d = lossA.map((a, i) => a - lossB[i]!);
  const n = d.length;
  const lag = dmLag(n, horizonBars);
  const meanDiff = mean(d);
  const none = { statistic: null, pValue: null, pValueOneSided: null, hlnStatistic: null, hlnPValue: null };
  if (n < 2) return { n, lag, meanDiff, longRunVariance: Number.NaN, ...none };
  const lrv = neweyWestVariance(d, lag);
  // Identical forecasts (d ≡ 0) carry no evidence either way.
  if (!(lrv > 0)) return { n, lag, meanDiff, longRunVariance: lrv, ...none };
  const statistic = meanDiff / Math.sqrt(lrv / n);
  const h = horizonBars;
  const hlnStatistic = statistic * Math.sqrt((n + 1 - 2 * h + (h * (h - 1)) / n) / n);
  return {
    n,
    lag,
    meanDiff,
    longRunVariance: lrv,
    statistic,
    pValue: 2 * phi(-Math.abs(statistic)),
    pValueOneSided: phi(statistic),
    hlnStatistic,
    hlnPValue: 2 * studentT(-Math.abs(hlnStatistic), n - 1),
  };
}
