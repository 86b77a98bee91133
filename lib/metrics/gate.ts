/**
 * The statistical promotion gate: does a challenger's holdout evidence justify replacing the
 * reference (the champion, or the best baseline)? Pure; see docs/gate-statistics.md.
 *
 * Inputs are per-row QLIKE losses on the same holdout rows. The challenger passes iff ALL of:
 *   1. enough independent evidence: T ≥ minWindows · max(h, persistenceBars) rows. Overlapping h-bar
 *      targets make T rows worth about T/h independent windows, and persistent volatility makes even
 *      h = 1 differentials dependent over about a day (persistenceBars = 24 hourly bars). Below
 *      ~30 such windows no long-run-variance or bootstrap estimate is reliable (docs/gate-statistics.md):
 *      the gate refuses rather than trust a p-value it cannot calibrate;
 *   2. economic size: relative improvement 1 − mean(challenger)/mean(reference) ≥ minImprovement;
 *   3. Diebold-Mariano: the one-sided HLN p-value with the robust long-run variance
 *      (lib/metrics/dieboldMariano.ts, `robust`) < dmPValue, H1: the challenger's expected loss is lower;
 *   4. best-of-N guard, when `candidates` (every eligible model's losses, the challenger among them)
 *      are given: Hansen's SPA consistent p-value (lib/metrics/spa.ts; benchmark = the reference)
 *      < spaPValue. The challenger was picked as the lowest loss among the candidates on these
 *      rows, so its own DM p-value overstates the evidence; SPA asks whether ANY candidate beats
 *      the reference once the search is accounted for.
 * The defaults (DEFAULT_GATE: temporal.config.ts promotion, declared there once) are calibrated by simulation (bench/gate_study.ts, docs/gate-statistics.md;
 * checked by test/gateCalibration.test.ts). The p-value thresholds are far below 5% because both tests
 * over-reject at their nominal level on persistent, overlapping loss differentials (the long-run
 * variance and the stationary bootstrap see only part of the persistence on a few thousand rows):
 * with DM and SPA at 5% the simulated nulls were promoted in 6-17% of trials; with DM < 1% and
 * SPA < 0.5% in at most 2.3% of the study's trials (4% of the calibration test's seeds) at T ≥ 720,
 * while a challenger with a 10% lower expected QLIKE (from row-level noise) over 2,000 rows is
 * promoted in 95-99% of trials.
 */
import { dieboldMariano, type DieboldMariano, type LrvRuleName, type LrvSpec } from './dieboldMariano';
import { spaTest } from './spa';
import { mean, MetricInputError } from './stats';
import type { PromotionGates } from '../../contracts/types';
import { volcastConfig } from '../../temporal.config';

export interface GateSettings {
  /** Relative: 0.01 = the challenger's mean loss must be ≥ 1% lower. */
  minImprovement: number;
  /** One-sided HLN-DM p-value must be below this. */
  dmPValue: number;
  /** SPA consistent p-value must be below this (only with candidates). */
  spaPValue: number;
  /** Bootstrap replications of the SPA. */
  spaReps: number;
  /** Minimum holdout length in independent windows: T ≥ minWindows · max(h, persistenceBars). */
  minWindows: number;
  /** Bars over which volatility persistence keeps differentials dependent (24 hourly bars = a day). */
  persistenceBars: number;
  seed: number;
}

/** The gates a run decides with, as judgeChallenger takes them (persistence: one day of bars). */
export function gateSettings(gates: PromotionGates, persistenceBars: number): GateSettings {
  return {
    minImprovement: gates.minImprovement,
    dmPValue: gates.dmPValue,
    spaPValue: gates.spaPValue,
    spaReps: gates.spaReps,
    minWindows: gates.minHoldoutWindows,
    persistenceBars,
    seed: gates.seed,
  };
}

/** The declared gates (temporal.config.ts promotion) on hourly bars: what the simulations calibrate. */
export const DEFAULT_GATE: GateSettings = gateSettings(volcastConfig.promotion, 24);

export interface GateInput extends Partial<GateSettings> {
  challenger: readonly number[];
  reference: readonly number[];
  /** Losses of every eligible candidate on the same rows (the challenger among them). */
  candidates?: readonly (readonly number[])[] | null;
  horizonBars: number;
  /** Override of the DM long-run variance rule (studies only). */
  lrv?: LrvRuleName | LrvSpec;
  /** Override of the SPA mean block length (studies only). */
  spaBlockLength?: number;
  /**
   * Skip the SPA bootstrap when an earlier check already failed: the decision is the same, `spa` is
   * null and the reasons say so (simulations). Default false: every check is computed and reported.
   */
  lazy?: boolean;
}

export interface GateResult {
  passed: boolean;
  relativeImprovement: number;
  dm: DieboldMariano;
  spa: { pLower: number; pConsistent: number; pUpper: number } | null;
  reasons: string[];
}

const fmt = (x: number | null) => (x === null || !Number.isFinite(x) ? String(x) : x < 1e-3 ? x.toExponential(2) : x.toFixed(4));

export function judgeChallenger(input: GateInput): GateResult {
  const s: GateSettings = {
    minImprovement: input.minImprovement ?? DEFAULT_GATE.minImprovement,
    dmPValue: input.dmPValue ?? DEFAULT_GATE.dmPValue,
    spaPValue: input.spaPValue ?? DEFAULT_GATE.spaPValue,
    spaReps: input.spaReps ?? DEFAULT_GATE.spaReps,
    minWindows: input.minWindows ?? DEFAULT_GATE.minWindows,
    persistenceBars: input.persistenceBars ?? DEFAULT_GATE.persistenceBars,
    seed: input.seed ?? DEFAULT_GATE.seed,
  };
  const { challenger, reference, horizonBars: h } = input;
  if (challenger.length !== reference.length) throw new MetricInputError(`gate needs losses on the same rows: ${challenger.length} vs ${reference.length}`);
  if (!(Number.isInteger(h) && h >= 1)) throw new MetricInputError(`horizonBars must be a positive integer, got ${h}`);
  const n = challenger.length;
  const reasons: string[] = [];
  const check = (ok: boolean, what: string) => {
    reasons.push(`${ok ? 'pass' : 'FAIL'} ${what}`);
    return ok;
  };

  const span = Math.max(h, s.persistenceBars);
  const windows = n / span;
  const enough = check(windows >= s.minWindows, `holdout ${n} rows = ${windows.toFixed(1)} independent ${span}-bar windows (max(h = ${h}, persistence ${s.persistenceBars}); needs ≥ ${s.minWindows})`);

  const mc = mean(challenger);
  const mr = mean(reference);
  const relativeImprovement = mr > 0 ? 1 - mc / mr : Number.NaN;
  const improves = check(
    Number.isFinite(relativeImprovement) && relativeImprovement >= s.minImprovement,
    `mean loss ${fmt(mc)} vs reference ${fmt(mr)}: ${(relativeImprovement * 100).toFixed(2)}% lower (needs ≥ ${(s.minImprovement * 100).toFixed(1)}%)`,
  );

  const dm = dieboldMariano(challenger, reference, h, input.lrv ? { lrv: input.lrv } : {});
  const p = dm.robust.hlnPValueOneSided;
  const dmOk = check(
    p !== null && p < s.dmPValue,
    `one-sided HLN-DM p ${fmt(p)} (${dm.robust.prewhiten ? 'prewhitened ' : ''}${dm.robust.kernel}, bandwidth ${dm.robust.bandwidth.toFixed(1)}; needs < ${s.dmPValue})`,
  );

  let spa: GateResult['spa'] = null;
  let spaOk = true;
  if (input.lazy && !(enough && improves && dmOk)) {
    reasons.push('skip SPA: an earlier check failed');
  } else if (input.candidates && input.candidates.length > 0 && n >= 3) {
    const r = spaTest(reference, input.candidates, { horizonBars: h, reps: s.spaReps, seed: s.seed, blockLength: input.spaBlockLength });
    spa = { pLower: r.pLower, pConsistent: r.pConsistent, pUpper: r.pUpper };
    spaOk = check(r.pConsistent < s.spaPValue, `SPA over ${input.candidates.length} candidates: consistent p ${fmt(r.pConsistent)} (block ${r.blockLength}; needs < ${s.spaPValue})`);
  } else {
    reasons.push('skip SPA: no candidate set given (no best-of-N guard)');
  }
  return { passed: enough && improves && dmOk && spaOk, relativeImprovement, dm, spa, reasons };
}
