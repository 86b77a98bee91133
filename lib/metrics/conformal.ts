/**
 * Split-conformal intervals for every model kind, on the log variance ratio.
 *
 * The score of a row is e = ln(a²) − ln(f²) (realized over forecast variance, both floored like
 * QLIKE), divided by the row's sigma when the model predicts one (normalized conformal: the nets'
 * sigma then sets the shape, the calibration its scale). Why the log ratio: it is scale-free, so
 * one calibration holds across calm and turbulent months (an error in volatility units would give
 * calm hours the width of a crash); and realized variance around its forecast is right-skewed, so
 * the two tails get their own quantiles instead of a symmetric ± band. Why conformal rather than
 * quantile models: it needs nothing from the model (baselines, trees, ensembles and nets alike),
 * its calibration rows are the out-of-sample errors evaluation already has, and with n
 * calibration rows it covers at least the nominal level when errors are exchangeable; volatility
 * errors are not quite (they cluster), which is why coverage is measured per fold on rows the
 * calibration never saw.
 *
 * The interval at level p: [f·exp(q_lo·s/2), f·exp(q_hi·s/2)], s = sigma or 1, q_lo and q_hi the
 * conformal quantiles of the scores at (1 − p)/2 and (1 + p)/2: the ⌊(n + 1)(1 − p)/2⌋-th and the
 * ⌈(n + 1)(1 + p)/2⌉-th smallest of n scores (Vovk et al.; Lei et al. 2018, split conformal).
 */
import type { IntervalCalibration } from '../../contracts/types';
import { INTERVAL_LEVELS, INTERVAL_Z, intervalBounds, type IntervalLevel } from './intervals';

/** Floor of a variance before its logarithm (QLIKE's). */
const VARIANCE_FLOOR = 1e-12;
/** The 95% bounds need the 2.5% tails: below ~80 rows a quantile would be a sample extreme or infinite. */
export const MIN_CALIBRATION_ROWS = 100;
export const CONFORMAL_METHOD = 'split-conformal on ln(actual²/forecast²)';

/** The contract type (contracts/types.ts): what a champion record and a card carry. */
export type ConformalCalibration = IntervalCalibration;

export interface CalibrationRow {
  actual: number;
  forecast: number;
  sigma: number | null;
}

const logVar = (vol: number) => Math.log(Math.max(vol * vol, VARIANCE_FLOOR));

function scoreOf(r: CalibrationRow, scaled: boolean): number {
  const e = logVar(r.actual) - logVar(r.forecast);
  return scaled ? e / r.sigma! : e;
}

/**
 * The calibration from out-of-sample rows (the caller picks rows whose targets were known before
 * the window it will be used on). Null with fewer than MIN_CALIBRATION_ROWS usable rows. Scaled
 * when every row has a positive finite sigma.
 */
export function calibrateConformal(rows: readonly CalibrationRow[]): ConformalCalibration | null {
  const usable = rows.filter((r) => Number.isFinite(r.actual) && r.actual >= 0 && Number.isFinite(r.forecast) && r.forecast > 0);
  if (usable.length < MIN_CALIBRATION_ROWS) return null;
  const scaled = usable.every((r) => r.sigma !== null && Number.isFinite(r.sigma) && r.sigma > 0);
  const scores = usable.map((r) => scoreOf(r, scaled)).sort((a, b) => a - b);
  const n = scores.length;
  // With n ≥ MIN_CALIBRATION_ROWS both ranks fall inside 1…n (no infinite bound reaches JSON).
  const at = (rank: number) => scores[Math.min(n, Math.max(1, rank)) - 1]!;
  const levels = Object.fromEntries(
    INTERVAL_LEVELS.map((lvl) => {
      // Integer arithmetic: (n + 1)(1 − p)/2 with p in percent, so 80% of 199 rows is rank 20, not 19.999….
      const p = Number(lvl);
      return [lvl, { lower: at(Math.floor(((n + 1) * (100 - p)) / 200)), upper: at(Math.ceil(((n + 1) * (100 + p)) / 200)) }];
    }),
  ) as ConformalCalibration['levels'];
  return { method: CONFORMAL_METHOD, scaled, rows: n, levels };
}

/** The interval of one forecast in volatility units. */
export function conformalBounds(forecastVol: number, sigma: number | null, calibration: ConformalCalibration, level: IntervalLevel): [number, number] {
  const s = calibration.scaled ? sigma : 1;
  if (s === null || !Number.isFinite(s) || s <= 0) throw new RangeError('a scaled calibration needs the forecast\'s sigma');
  const q = calibration.levels[level];
  return [forecastVol * Math.exp((q.lower * s) / 2), forecastVol * Math.exp((q.upper * s) / 2)];
}

export interface CoverageOf {
  rows: number;
  /** Share of rows whose actual lies inside (bounds included), per level. */
  coverage: Record<IntervalLevel, number>;
  /** Mean upper − lower, volatility units. */
  meanWidth: Record<IntervalLevel, number>;
  /** Mean (upper − lower) / forecast: the width relative to the forecast. */
  meanRelativeWidth: Record<IntervalLevel, number>;
}

/** Coverage and width of a calibration's intervals on rows it was not calibrated on. */
export function conformalCoverage(rows: readonly CalibrationRow[], calibration: ConformalCalibration): CoverageOf | null {
  const usable = rows.filter((r) => Number.isFinite(r.actual) && Number.isFinite(r.forecast) && r.forecast > 0 && (!calibration.scaled || (r.sigma !== null && r.sigma > 0)));
  if (!usable.length) return null;
  const per = (fn: (lvl: IntervalLevel) => number) => Object.fromEntries(INTERVAL_LEVELS.map((l) => [l, fn(l)])) as Record<IntervalLevel, number>;
  const inside = per(() => 0);
  const width = per(() => 0);
  const rel = per(() => 0);
  for (const r of usable) {
    for (const lvl of INTERVAL_LEVELS) {
      const [lo, hi] = conformalBounds(r.forecast, r.sigma, calibration, lvl);
      if (r.actual >= lo && r.actual <= hi) inside[lvl]++;
      width[lvl] += hi - lo;
      rel[lvl] += (hi - lo) / r.forecast;
    }
  }
  const n = usable.length;
  return { rows: n, coverage: per((l) => inside[l] / n), meanWidth: per((l) => width[l] / n), meanRelativeWidth: per((l) => rel[l] / n) };
}

/**
 * The interval a forecast is served with: the conformal calibration when there is one (a scaled one
 * needs the forecast's sigma), else the model's own sigma interval (records from before
 * calibrations), else none.
 */
export function forecastBounds(forecastVol: number, sigma: number | null, calibration: ConformalCalibration | null | undefined, level: IntervalLevel): [number, number] | null {
  if (calibration && (!calibration.scaled || (sigma !== null && sigma > 0))) return conformalBounds(forecastVol, sigma, calibration, level);
  if (sigma !== null && Number.isFinite(sigma)) return intervalBounds(forecastVol, sigma, INTERVAL_Z[level]);
  return null;
}
