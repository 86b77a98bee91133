/**
 * From out-of-sample predictions to metrics and the gates' statistics: pure, no I/O.
 *
 * Segments (docs/lifecycle.md): the validation folds (every fold but the holdout) choose; the
 * holdout fold judges. Within a segment every model is scored on the same "common rows" (a known
 * actual and a forecast from every model that completed that segment), so a model that skips hard
 * rows (a sequence model after a gap) cannot look better for it. A model that failed a fold (its fit
 * failed, or its ONNX parity) keeps its row in the leaderboard, marked with the failed folds; it has
 * no loss on a segment it did not complete and cannot be chosen.
 */
import { isBaselineKind, type RegimeThresholds } from '../../contracts/domain';
import type { DmSummary, EvalFold, GateReport, GateVerdict, LeaderboardRow, ModelRole, PromotionGates } from '../../contracts/types';
import { dieboldMariano, forecastMetrics, qlikeLosses, type DieboldMariano, type ForecastMetrics } from '../metrics';
import { gateSettings, judgeChallenger } from '../metrics/gate';
import { conformalReport } from './intervals';
import type { FoldParity, MetricsDocument, ModelReport } from './types';

export interface PredictionRow {
  ts: number;
  fold: number;
  forecast: number;
  sigma: number | null;
}

export interface FoldStatus {
  fold: number;
  ok: boolean;
  /** Why not (fit failed: …, parity failed: …). */
  reason: string | null;
}

export interface ModelPredictions {
  name: string;
  kind: string;
  role: ModelRole;
  rows: PredictionRow[];
  parity: FoldParity[];
  /** One per fold of the run (a served artifact: the holdout only). */
  folds: FoldStatus[];
}

export interface ComputeInput {
  models: ModelPredictions[];
  /** The served artifact's forecasts on the holdout rows (not part of any comparison). */
  served?: (ModelPredictions & { trainEndTs: number | null }) | null;
  /** The target at every ts of the feature set (null where unknown). */
  actual: Map<number, number | null>;
  folds: EvalFold[];
  horizonBars: number;
  barMs: number;
  /** The incumbent (the champion's spec in this run), when there is one. */
  incumbent: string | null;
  /** The gates the run decides with: the challenger's verdicts are computed with them. */
  gates: PromotionGates;
}

const DAY_MS = 86_400_000;

export const DEFINITIONS: Record<string, string> = {
  qlike: 'mean of σ²/h − ln(σ²/h) − 1, σ² = realized variance (actual²), h = forecast variance (forecast²), both floored at 1e-12',
  segments: 'validation = every fold but the holdout (the last): the challenger and the best baseline are chosen there; holdout = the last fold: the gates judge there only',
  commonRows: "a segment's rows with a known actual and a forecast from every model that completed the segment (fitted and passed ONNX parity on each of its folds)",
  mseVariance: 'mean of (actual² − forecast²)²',
  rmse_mae_mape_r2: 'on volatility; MAPE over rows with actual > 0; R² = 1 − SSE/SST around the mean actual',
  mincerZarnowitz: 'OLS actual² = α + β forecast² (+ ε): α, β, R²',
  dieboldMariano:
    "d = QLIKE(model) − QLIKE(reference) per holdout common row; DM = mean(d)/sqrt(LRV/T) with the gate's long-run variance (docs/gate-statistics.md: kernel and bandwidth cover the target's h-bar overlap and the volatility persistence); HLN-corrected statistic DM·sqrt((T + 1 − 2h + h(h−1)/T)/T); one-sided p-value from Student-t(T − 1), H1: the model has the lower expected loss",
  spa: "Hansen's superior predictive ability test (stationary bootstrap, studentized) of the eligible candidates against the benchmark (the incumbent, else the best baseline) on the holdout common rows; consistent p-value",
  direction:
    'share of rows with sign(forecast − prev) = sign(actual − prev), prev = the target of the row stamped ts − h bars (the last realized value known at ts); rows without prev are skipped',
  conformal:
    "every model kind: split-conformal intervals on the score ln(actual²/forecast²) (divided by sigma for a model with a sigma output); fold k is calibrated on the model's out-of-sample rows of earlier folds whose targets were known when fold k opened (at least 100 rows, else none), bounds f·exp(q·s/2) with q the conformal quantiles at (1 − p)/2 and (1 + p)/2; coverage = share of the fold's actuals inside; serving = calibrated on every fold's rows",
  intervals: 'sigma = std-dev of predicted log variance; interval [f·exp(−zσ/2), f·exp(zσ/2)], z = Φ⁻¹(0.9) for 80%, Φ⁻¹(0.975) for 95%; coverage = share of actuals inside, width in volatility units',
  regime: "classes 0 low (v ≤ q1), 1 medium (q1 < v ≤ q2), 2 high, with each fold's own thresholds (fit on that fold's training rows); forecast class vs actual class; macro F1 over classes present; confusion[actual][forecast]",
  bestBaseline: 'lowest QLIKE on the validation common rows among the baseline kinds that completed every fold',
  parity: 'onnxruntime-node vs card.trainerPredictions on the same test rows: same rows, every value finite, max relative error ≤ 1e-5',
  served: 'the artifact serving before this run, scored on the holdout rows; it may have trained on the earlier of them (rows before its trainEndTs are in its sample)',
};

/** Rows of one segment: indices into the sorted ts of every prediction, with their values. */
export interface Aligned {
  ts: number[];
  fold: number[];
  actual: number[];
  previous: (number | null)[];
  byModel: Map<string, { forecast: number[]; sigma: number[] | null }>;
}

function byTs(m: ModelPredictions): Map<number, PredictionRow> {
  return new Map(m.rows.map((r) => [r.ts, r]));
}

/** Common rows of `folds` over the models that completed them all (those models' values attached). */
function align(input: ComputeInput, folds: Set<number>, models: ModelPredictions[]): Aligned {
  const maps = models.map(byTs);
  const ts: number[] = [];
  const first = maps[0];
  if (first) {
    for (const t of [...first.keys()].sort((a, b) => a - b)) {
      if (!folds.has(first.get(t)!.fold)) continue;
      const a = input.actual.get(t);
      if (a === null || a === undefined || !Number.isFinite(a)) continue;
      if (maps.every((m) => m.get(t) && folds.has(m.get(t)!.fold))) ts.push(t);
    }
  }
  const byModel = new Map<string, { forecast: number[]; sigma: number[] | null }>();
  models.forEach((m, i) => {
    const rows = ts.map((t) => maps[i]!.get(t)!);
    const hasSigma = rows.length > 0 && rows.every((r) => r.sigma !== null);
    byModel.set(m.name, { forecast: rows.map((r) => r.forecast), sigma: hasSigma ? rows.map((r) => r.sigma!) : null });
  });
  const prevOf = (t: number) => {
    const p = input.actual.get(t - input.horizonBars * input.barMs);
    return p === undefined || p === null || !Number.isFinite(p) ? null : p;
  };
  return { ts, fold: ts.map((t) => first!.get(t)!.fold), actual: ts.map((t) => input.actual.get(t)!), previous: ts.map(prevOf), byModel };
}

function completed(m: ModelPredictions, folds: number[]): boolean {
  return folds.length > 0 && folds.every((f) => m.folds.find((s) => s.fold === f)?.ok === true);
}

function metricsOf(al: Aligned, name: string, idx: number[] | null, regimeOf: (fold: number) => RegimeThresholds | null | undefined): ForecastMetrics | null {
  const m = al.byModel.get(name);
  if (!m) return null;
  const I = idx ?? al.ts.map((_, i) => i);
  if (!I.length) return null;
  const pick = <T>(xs: readonly T[]) => I.map((i) => xs[i]!);
  const thresholds = I.map((i) => regimeOf(al.fold[i]!));
  const regime = thresholds.every((t): t is RegimeThresholds => !!t) ? thresholds : null;
  return forecastMetrics({ actual: pick(al.actual), forecast: pick(m.forecast), previous: pick(al.previous), sigma: m.sigma ? pick(m.sigma) : null }, regime);
}

function dmSummary(d: DieboldMariano | null): DmSummary | null {
  return d ? { statistic: d.robust.hlnStatistic, pValue: d.robust.hlnPValueOneSided } : null;
}

export function computeMetrics(input: ComputeInput): Omit<MetricsDocument, 'runId' | 'series' | 'target' | 'featuresRef'> & { aligned: Aligned } {
  const holdoutFold = (input.folds.find((f) => f.holdout) ?? input.folds.at(-1))?.fold;
  const validationFolds = input.folds.map((f) => f.fold).filter((f) => f !== holdoutFold);
  const allFolds = input.folds.map((f) => f.fold);
  const holdoutFolds = holdoutFold === undefined ? [] : [holdoutFold];
  const regimeOf = (fold: number) => input.folds.find((f) => f.fold === fold)?.regime ?? null;

  const validationModels = input.models.filter((m) => completed(m, validationFolds));
  const holdoutModels = input.models.filter((m) => completed(m, holdoutFolds));
  const completeModels = input.models.filter((m) => completed(m, allFolds));
  const val = align(input, new Set(validationFolds), validationModels);
  const hold = align(input, new Set(holdoutFolds), holdoutModels);
  const all = align(input, new Set(allFolds), completeModels);

  const holdLoss = new Map(holdoutModels.map((m) => [m.name, qlikeLosses(hold.actual, hold.byModel.get(m.name)!.forecast)]));
  const dmOn = (name: string, ref: string | null): DieboldMariano | null =>
    ref && ref !== name && holdLoss.has(ref) && holdLoss.has(name) && hold.ts.length > 1 ? dieboldMariano(holdLoss.get(name)!, holdLoss.get(ref)!, input.horizonBars) : null;

  const validationMetrics = new Map(validationModels.map((m) => [m.name, metricsOf(val, m.name, null, regimeOf)]));
  const vq = (name: string) => validationMetrics.get(name)?.qlike ?? null;
  // Chosen on the validation folds among the baselines that completed every fold (so it can be judged on the holdout).
  const bestBaselineModel = completeModels
    .filter((m) => isBaselineKind(m.kind) && Number.isFinite(vq(m.name) ?? Number.NaN))
    .sort((a, b) => vq(a.name)! - vq(b.name)! || a.name.localeCompare(b.name))[0];
  const bestBaseline = bestBaselineModel?.name ?? null;
  const harRv = input.models.find((m) => m.kind === 'har_rv')?.name ?? null;
  const incumbent = input.incumbent && input.models.some((m) => m.name === input.incumbent) ? input.incumbent : null;

  const models: ModelReport[] = input.models.map((m) => {
    const foldIdx = (al: Aligned, f: number) => al.ts.map((_, i) => i).filter((i) => al.fold[i] === f);
    const perFold = input.folds.map(({ fold }) => {
      const seg = fold === holdoutFold ? hold : val;
      return { fold, metrics: m.folds.find((s) => s.fold === fold)?.ok ? metricsOf(seg, m.name, foldIdx(seg, fold), regimeOf) : null };
    });
    return {
      name: m.name,
      kind: m.kind,
      role: m.role,
      complete: completed(m, allFolds),
      folds: m.folds,
      rowsScored: m.rows.length,
      validation: validationMetrics.get(m.name) ?? null,
      holdout: holdLoss.has(m.name) ? metricsOf(hold, m.name, null, regimeOf) : null,
      overall: completed(m, allFolds) ? metricsOf(all, m.name, null, regimeOf) : null,
      perFold,
      parity: m.parity,
      parityPassed: m.parity.length > 0 && m.parity.every((p) => p.passed),
      dm: { vsIncumbent: dmOn(m.name, incumbent), vsBestBaseline: dmOn(m.name, bestBaseline), vsHarRv: dmOn(m.name, harRv) },
      conformal: conformalReport({ rows: m.rows, actual: input.actual, folds: input.folds, horizonBars: input.horizonBars, barMs: input.barMs }),
    };
  });

  // The served artifact on the holdout rows it has a forecast for (out of every comparison).
  let served: MetricsDocument['served'] = null;
  if (input.served) {
    const s = input.served;
    const rows = s.rows.filter((r) => r.fold === holdoutFold && input.actual.get(r.ts) != null && Number.isFinite(input.actual.get(r.ts)!));
    const oos = s.trainEndTs === null ? rows : rows.filter((r) => r.ts >= s.trainEndTs!);
    const m = (rs: PredictionRow[]) =>
      rs.length
        ? forecastMetrics(
            { actual: rs.map((r) => input.actual.get(r.ts)!), forecast: rs.map((r) => r.forecast), previous: rs.map(() => null), sigma: null },
            rs.map((r) => regimeOf(r.fold)).every(Boolean) ? rs.map((r) => regimeOf(r.fold)!) : null,
          )
        : null;
    served = { name: s.name.replace(/^served:/, ''), kind: s.kind, trainEndTs: s.trainEndTs, holdout: m(rows), outOfSample: m(oos), parity: s.parity };
  }

  // The gates' report: every candidate's holdout statistics, and SPA over the eligible ones.
  const report = (name: string) => models.find((x) => x.name === name)!;
  const candidates: GateReport['candidates'] = input.models.map((m) => {
    const r = report(m.name);
    const why = !r.complete
      ? `failed on fold(s) ${m.folds.filter((f) => !f.ok).map((f) => `${f.fold} (${f.reason})`).join('; ')}`
      : !r.parityPassed
        ? 'ONNX parity failed'
        : r.validation === null || r.holdout === null
          ? 'no validation or holdout loss'
          : null;
    return {
      name: m.name,
      kind: m.kind,
      baseline: isBaselineKind(m.kind),
      eligible: why === null,
      why,
      validationQlike: r.validation?.qlike ?? null,
      holdoutQlike: r.holdout?.qlike ?? null,
      dmVsIncumbent: dmSummary(r.dm.vsIncumbent),
      dmVsBestBaseline: dmSummary(r.dm.vsBestBaseline),
    };
  });
  const incumbentJudged = incumbent !== null && holdLoss.has(incumbent);
  // The challenger: chosen on the validation folds only, among the eligible specs but the incumbent.
  const challenger =
    candidates
      .filter((c) => c.eligible && c.name !== incumbent && c.validationQlike !== null)
      .sort((a, b) => a.validationQlike! - b.validationQlike! || a.name.localeCompare(b.name))[0]?.name ?? null;
  // Judged on the holdout rows only (lib/metrics/gate.ts): against the incumbent with Hansen's SPA
  // over every eligible candidate (the guard for "best of N"), and against the best baseline; with
  // no incumbent to judge against, the best baseline carries the SPA. Volatility keeps loss
  // differentials dependent for about a day: that many bars make one independent window.
  const settings = gateSettings(input.gates, Math.max(1, Math.round(DAY_MS / input.barMs)));
  const spaSet = (benchmark: string) => candidates.filter((c) => c.eligible && c.name !== benchmark && c.name !== incumbent && holdLoss.has(c.name)).map((c) => holdLoss.get(c.name)!);
  const verdict = (reference: string | null, withSpa: boolean): GateVerdict | null => {
    if (!challenger || !reference || reference === challenger || !holdLoss.has(reference) || hold.ts.length < 3) return null;
    const set = withSpa ? spaSet(reference) : null;
    const r = judgeChallenger({ challenger: holdLoss.get(challenger)!, reference: holdLoss.get(reference)!, candidates: set?.length ? set : null, horizonBars: input.horizonBars, ...settings });
    return { reference, passed: r.passed, relativeImprovement: Number.isFinite(r.relativeImprovement) ? r.relativeImprovement : null, dmPValue: r.dm.robust.hlnPValueOneSided, spaPValue: r.spa?.pConsistent ?? null, reasons: r.reasons };
  };
  const vsIncumbent = incumbentJudged ? verdict(incumbent, true) : null;
  const vsBestBaseline = bestBaseline && bestBaseline !== incumbent ? verdict(bestBaseline, !incumbentJudged) : null;
  const withSpa = vsIncumbent ?? vsBestBaseline;
  const gate: GateReport = {
    horizonBars: input.horizonBars,
    holdoutRows: hold.ts.length,
    validationRows: val.ts.length,
    holdoutWindows: hold.ts.length / Math.max(input.horizonBars, settings.persistenceBars),
    bestBaseline,
    incumbent,
    incumbentJudged,
    candidates,
    challenger,
    verdicts: { vsIncumbent, vsBestBaseline },
    spa: withSpa && withSpa.spaPValue !== null ? { benchmark: withSpa.reference, candidates: spaSet(withSpa.reference).length, pConsistent: withSpa.spaPValue } : null,
  };

  // Ranked by the selection criterion (validation QLIKE); then those without one, by holdout QLIKE.
  const key = (m: ModelReport) => [m.validation?.qlike ?? Number.POSITIVE_INFINITY, m.holdout?.qlike ?? Number.POSITIVE_INFINITY] as const;
  const ranked = [...models].sort((a, b) => key(a)[0] - key(b)[0] || key(a)[1] - key(b)[1] || a.name.localeCompare(b.name));
  const leaderboard: LeaderboardRow[] = ranked.map((m, i) => ({
    rank: i + 1,
    model: m.name,
    kind: m.kind,
    role: m.role,
    complete: m.complete,
    failedFolds: m.folds.filter((f) => !f.ok).map((f) => ({ fold: f.fold, reason: f.reason ?? 'failed' })),
    validationQlike: m.validation?.qlike ?? null,
    holdoutQlike: m.holdout?.qlike ?? null,
    qlike: m.overall?.qlike ?? null,
    rows: m.overall?.rows ?? 0,
    holdoutRows: m.holdout?.rows ?? 0,
    rmse: (m.overall ?? m.holdout)?.rmse ?? null,
    r2: (m.overall ?? m.holdout)?.r2 ?? null,
    dmVsIncumbent: dmSummary(m.dm.vsIncumbent),
    dmVsBestBaseline: dmSummary(m.dm.vsBestBaseline),
    dmVsHarRv: dmSummary(m.dm.vsHarRv),
    parityPassed: m.parityPassed,
  }));
  const best = bestBaseline ? report(bestBaseline) : null;
  return {
    horizonBars: input.horizonBars,
    folds: input.folds,
    commonRows: {
      validation: val.ts.length,
      holdout: hold.ts.length,
      overall: all.ts.length,
      perFold: input.folds.map(({ fold }) => ({ fold, rows: (fold === holdoutFold ? hold : val).fold.filter((f) => f === fold).length })),
    },
    leaderboard,
    bestBaseline: best ? { model: best.name, kind: best.kind, qlike: best.validation?.qlike ?? null } : null,
    harRv,
    incumbent,
    served,
    models,
    gate,
    definitions: DEFINITIONS,
    aligned: all.ts.length ? all : hold,
  };
}
