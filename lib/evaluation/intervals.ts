/**
 * Conformal intervals per model in a run (lib/metrics/conformal.ts): fold k's intervals are
 * calibrated on the model's out-of-sample rows of the EARLIER folds whose targets were known when
 * fold k's test window opened (the rule ensemble weights follow), so each fold's coverage is
 * measured on rows its calibration never saw; fold 0, or a fold with fewer than
 * MIN_CALIBRATION_ROWS such rows, has none. The serving calibration uses every fold's
 * out-of-sample rows (all known at run time): the champion serves it with every forecast.
 */
import type { EvalFold } from '../../contracts/types';
import { calibrateConformal, CONFORMAL_METHOD, conformalCoverage, type CalibrationRow, type ConformalCalibration, type CoverageOf } from '../metrics/conformal';
import type { PredictionRow } from './compute';

export interface ConformalReport {
  method: typeof CONFORMAL_METHOD;
  perFold: { fold: number; calibration: ConformalCalibration | null; coverage: CoverageOf | null }[];
  /** Over the validation folds that had a calibration. */
  validation: CoverageOf | null;
  holdout: CoverageOf | null;
  /** Every fold's out-of-sample rows: what a forecast of this spec is served with. */
  serving: ConformalCalibration | null;
}

export interface ConformalInput {
  rows: readonly PredictionRow[];
  actual: Map<number, number | null>;
  folds: readonly EvalFold[];
  horizonBars: number;
  barMs: number;
}

/** A row's target is known once bar ts + h has closed, i.e. by the time the row ts + h bars is forecast. */
export const targetKnownBy = (ts: number, horizonBars: number, barMs: number, at: number) => ts + horizonBars * barMs < at;

function withActual(rows: readonly PredictionRow[], actual: Map<number, number | null>): (CalibrationRow & { ts: number; fold: number })[] {
  return rows.flatMap((r) => {
    const a = actual.get(r.ts);
    return a === null || a === undefined || !Number.isFinite(a) ? [] : [{ ts: r.ts, fold: r.fold, actual: a, forecast: r.forecast, sigma: r.sigma }];
  });
}

/** Coverage of the pooled rows of several folds, weighted by rows. */
export function pooledCoverage(parts: (CoverageOf | null)[]): CoverageOf | null {
  const got = parts.filter((p): p is CoverageOf => p !== null && p.rows > 0);
  if (!got.length) return null;
  const n = got.reduce((s, p) => s + p.rows, 0);
  const mean = (f: (p: CoverageOf) => Record<string, number>) => {
    const keys = Object.keys(f(got[0]!));
    return Object.fromEntries(keys.map((k) => [k, got.reduce((s, p) => s + f(p)[k]! * p.rows, 0) / n]));
  };
  return { rows: n, coverage: mean((p) => p.coverage) as CoverageOf['coverage'], meanWidth: mean((p) => p.meanWidth) as CoverageOf['meanWidth'], meanRelativeWidth: mean((p) => p.meanRelativeWidth) as CoverageOf['meanRelativeWidth'] };
}

export function conformalReport(input: ConformalInput): ConformalReport {
  const rows = withActual(input.rows, input.actual);
  const order = new Map(input.folds.map((f, i) => [f.fold, i]));
  const perFold = input.folds.map((fold, k) => {
    const calibration = calibrateConformal(
      rows.filter((r) => (order.get(r.fold) ?? Infinity) < k && targetKnownBy(r.ts, input.horizonBars, input.barMs, fold.test.startTs)),
    );
    const own = rows.filter((r) => r.fold === fold.fold);
    return { fold: fold.fold, calibration, coverage: calibration && own.length ? conformalCoverage(own, calibration) : null };
  });
  const holdoutFold = input.folds.find((f) => f.holdout) ?? input.folds.at(-1);
  return {
    method: CONFORMAL_METHOD,
    perFold,
    validation: pooledCoverage(perFold.filter((f) => f.fold !== holdoutFold?.fold).map((f) => f.coverage)),
    holdout: perFold.find((f) => f.fold === holdoutFold?.fold)?.coverage ?? null,
    serving: calibrateConformal(rows),
  };
}
