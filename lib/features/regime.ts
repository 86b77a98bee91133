/**
 * The 3-class volatility regime (low / medium / high). Its thresholds are fit on a training window
 * only and stored with the model (never computed on the whole series, which would leak the future
 * into the labels of the past):
 *   fitRegimeThresholds(values, trainMask) -> { q1, q2 }: the 1/3 and 2/3 quantiles of the finite
 *     values where trainMask is true, linear interpolation between order statistics
 *     (numpy.quantile's default: position p·(n−1) in the sorted values).
 *   labelRegime(values, t) -> 0 (low, v ≤ q1), 1 (medium, q1 < v ≤ q2), 2 (high, v > q2);
 *     null where the value is null or not finite.
 * Typically applied to target_rv_24h (the regime of the next day) with the fold's training mask.
 */

import { REGIME_QUANTILES, regimeOf, type Regime, type RegimeThresholds } from '../../contracts/domain';

export type { Regime, RegimeThresholds };

function quantileSorted(sorted: number[], p: number): number {
  const pos = p * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  const a = sorted[lo]!;
  const b = sorted[hi]!;
  return a + (b - a) * (pos - lo);
}

export function fitRegimeThresholds(values: (number | null)[], trainMask: boolean[]): RegimeThresholds & { n: number } {
  if (values.length !== trainMask.length) throw new Error(`values (${values.length}) and trainMask (${trainMask.length}) differ in length`);
  const train = values.filter((v, i): v is number => trainMask[i] === true && v !== null && Number.isFinite(v)).sort((a, b) => a - b);
  if (train.length < 3) throw new Error(`need at least 3 finite training values to fit regime thresholds, got ${train.length}`);
  return { q1: quantileSorted(train, REGIME_QUANTILES[0]), q2: quantileSorted(train, REGIME_QUANTILES[1]), n: train.length };
}

export function labelRegime(values: (number | null)[], t: RegimeThresholds): (Regime | null)[] {
  return values.map((v) => regimeOf(v, t));
}
