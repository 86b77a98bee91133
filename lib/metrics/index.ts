/**
 * Forecast evaluation metrics (docs/design.md "Evaluation and promotion"), pure functions over paired
 * arrays in volatility units. `forecastMetrics` bundles what the leaderboard reports for one model
 * on one set of rows.
 */
import { directionAccuracy, type DirectionAccuracy } from './direction';
import { intervalMetrics, type IntervalMetrics } from './intervals';
import { mae, mape, mseVariance, qlike, rmse, rSquared } from './loss';
import { mincerZarnowitz, type MincerZarnowitz } from './mincerZarnowitz';
import { regimeMetrics, type RegimeMetrics, type RegimeThresholds } from './regime';

export * from './dieboldMariano';
export * from './direction';
export * from './gate';
export * from './conformal';
export * from './intervals';
export * from './loss';
export * from './mincerZarnowitz';
export * from './regime';
export { createRng, deriveSeed, type Rng } from './random';
export * from './spa';
export { MetricInputError } from './stats';

export interface ForecastMetrics {
  rows: number;
  qlike: number;
  mseVariance: number;
  rmse: number;
  mae: number;
  mape: number;
  r2: number;
  mincerZarnowitz: MincerZarnowitz;
  direction: DirectionAccuracy;
  intervals: IntervalMetrics[] | null;
  regime: RegimeMetrics | null;
}

export interface MetricRows {
  actual: readonly number[];
  forecast: readonly number[];
  /** Last realized value known at forecast time (see direction.ts); null where unknown. */
  previous: readonly (number | null)[];
  /** Present when the model predicts uncertainty. */
  sigma?: readonly number[] | null;
}

export function forecastMetrics(rows: MetricRows, regimeThresholds?: RegimeThresholds | readonly RegimeThresholds[] | null): ForecastMetrics {
  const { actual, forecast } = rows;
  return {
    rows: actual.length,
    qlike: qlike(actual, forecast),
    mseVariance: mseVariance(actual, forecast),
    rmse: rmse(actual, forecast),
    mae: mae(actual, forecast),
    mape: mape(actual, forecast),
    r2: rSquared(actual, forecast),
    mincerZarnowitz: mincerZarnowitz(actual, forecast),
    direction: directionAccuracy(actual, forecast, rows.previous),
    intervals: rows.sigma ? intervalMetrics(actual, forecast, rows.sigma) : null,
    regime: regimeThresholds ? regimeMetrics(actual, forecast, regimeThresholds) : null,
  };
}
