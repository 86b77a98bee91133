/**
 * Direction accuracy of the volatility change. For a row stamped t with horizon h bars, `previous`
 * is the last realized value of the same target known at t: the target of the row stamped t − h bars
 * (target_gk_1h: the GK volatility of the candle at t; target_rv_24h: the realized volatility of the
 * 24 bars ending with the candle at t). A row counts as correct when
 *   sign(forecast − previous) = sign(actual − previous)      (sign ∈ {−1, 0, +1}).
 * Rows whose previous value is unknown (gap, null) are left out; NaN when no row is left.
 */
import { assertPaired } from './stats';

export interface DirectionAccuracy {
  rows: number;
  accuracy: number;
}

export function directionAccuracy(
  actual: readonly number[],
  forecast: readonly number[],
  previous: readonly (number | null)[],
): DirectionAccuracy {
  assertPaired(actual, forecast);
  assertPaired(actual, previous as number[]);
  let rows = 0;
  let hits = 0;
  for (let i = 0; i < actual.length; i++) {
    const p = previous[i];
    if (p === null || p === undefined || !Number.isFinite(p)) continue;
    rows++;
    if (Math.sign(forecast[i]! - p) === Math.sign(actual[i]! - p)) hits++;
  }
  return { rows, accuracy: rows ? hits / rows : Number.NaN };
}
