/**
 * From out-of-sample predictions to metrics: pure, no I/O. All models are compared on the same
 * "common rows" (ts with a known actual and a forecast from every model), so a model that skips
 * hard rows (a sequence model after a gap) cannot look better for it.
 */
import { dieboldMariano, forecastMetrics, qlikeLosses, type DieboldMariano, type ForecastMetrics, type RegimeThresholds } from '../metrics';
import { BASELINE_KINDS, isBaselineKind } from '../../contracts/domain';
import type { EvalFold, FoldParity, LeaderboardRow, MetricsDocument, ModelReport, ModelRole } from './types';

export interface PredictionRow {
  ts: number;
  fold: number;
  forecast: number;
  sigma: number | null;
}

export interface ModelPredictions {
  name: string;
  kind: string;
  role: ModelRole;
  rows: PredictionRow[];
  parity: FoldParity[];
}

export interface ComputeInput {
  models: ModelPredictions[];
  /** The target at every ts of the feature set (null where unknown). */
  actual: Map<number, number | null>;
  folds: EvalFold[];
  horizonBars: number;
  barMs: number;
  /** Model names of HAR-RV and the champion, when present. */
  harRv: string | null;
  champion: string | null;
  regimeThresholds?: RegimeThresholds | null;
}

export const DEFINITIONS: Record<string, string> = {
  qlike: 'mean of σ²/h − ln(σ²/h) − 1, σ² = realized variance (actual²), h = forecast variance (forecast²), both floored at 1e-12',
  mseVariance: 'mean of (actual² − forecast²)²',
  rmse_mae_mape_r2: 'on volatility; MAPE over rows with actual > 0; R² = 1 − SSE/SST around the mean actual',
  mincerZarnowitz: 'OLS actual² = α + β forecast² (+ ε): α, β, R²',
  dieboldMariano:
    'd = QLIKE(model) − QLIKE(reference) per common row; DM = mean(d)/sqrt(LRV/T), LRV Newey-West with Bartlett weights and lag L = max(h − 1, floor(4 (T/100)^(2/9))), h = horizon in bars; two-sided normal p-value; HLN-corrected statistic with Student-t(T − 1) p-value also reported; negative DM = the model is more accurate',
  direction:
    'share of rows with sign(forecast − prev) = sign(actual − prev), prev = the target of the row stamped ts − h bars (the last realized value known at ts); rows without prev are skipped',
  intervals: 'sigma = std-dev of predicted log variance; interval [f·exp(−zσ/2), f·exp(zσ/2)], z = Φ⁻¹(0.9) for 80%, Φ⁻¹(0.975) for 95%; coverage = share of actuals inside, width in volatility units',
  regime: 'classes 0 low (v ≤ q1), 1 medium (q1 < v ≤ q2), 2 high; forecast class vs actual class; macro F1 over classes present; confusion[actual][forecast]',
  bestBaseline: `lowest QLIKE on the validation folds (all but the last; the only fold when there is one) among kinds ${BASELINE_KINDS.join(', ')}`,
  parity: 'onnxruntime-node vs card.trainerPredictions on the same test rows: same rows and max relative error ≤ 1e-5',
};

interface Aligned {
  ts: number[];
  fold: number[];
  actual: number[];
  previous: (number | null)[];
  byModel: Map<string, { forecast: number[]; sigma: number[] | null }>;
}

function align(input: ComputeInput): Aligned {
  const maps = input.models.map((m) => new Map(m.rows.map((r) => [r.ts, r])));
  const first = maps[0];
  const ts: number[] = [];
  if (first) {
    for (const t of [...first.keys()].sort((a, b) => a - b)) {
      const a = input.actual.get(t);
      if (a === null || a === undefined || !Number.isFinite(a)) continue;
      if (maps.every((m) => m.has(t))) ts.push(t);
    }
  }
  const byModel = new Map<string, { forecast: number[]; sigma: number[] | null }>();
  input.models.forEach((m, i) => {
    const rows = ts.map((t) => maps[i]!.get(t)!);
    const hasSigma = rows.length > 0 && rows.every((r) => r.sigma !== null);
    byModel.set(m.name, { forecast: rows.map((r) => r.forecast), sigma: hasSigma ? rows.map((r) => r.sigma!) : null });
  });
  const prevOf = (t: number) => {
    const p = input.actual.get(t - input.horizonBars * input.barMs);
    return p === undefined || p === null || !Number.isFinite(p) ? null : p;
  };
  return {
    ts,
    fold: ts.map((t) => first!.get(t)!.fold),
    actual: ts.map((t) => input.actual.get(t)!),
    previous: ts.map(prevOf),
    byModel,
  };
}

function subset<T>(xs: readonly T[], idx: number[]): T[] {
  return idx.map((i) => xs[i]!);
}

function metricsOn(al: Aligned, name: string, idx: number[], thresholds?: RegimeThresholds | null): ForecastMetrics {
  const m = al.byModel.get(name)!;
  return forecastMetrics(
    { actual: subset(al.actual, idx), forecast: subset(m.forecast, idx), previous: subset(al.previous, idx), sigma: m.sigma ? subset(m.sigma, idx) : null },
    thresholds,
  );
}

export function computeMetrics(input: ComputeInput): Omit<MetricsDocument, 'runId' | 'series' | 'target' | 'featuresRef'> {
  const al = align(input);
  const all = al.ts.map((_, i) => i);
  const foldIdx = input.folds.map((f) => ({ fold: f.fold, idx: all.filter((i) => al.fold[i] === f.fold) }));
  const losses = new Map(input.models.map((m) => [m.name, qlikeLosses(al.actual, al.byModel.get(m.name)!.forecast)]));
  const dmVs = (name: string, ref: string | null): DieboldMariano | null =>
    ref && ref !== name && losses.has(ref) ? dieboldMariano(losses.get(name)!, losses.get(ref)!, input.horizonBars) : null;

  // DESIGN.md: the best baseline is the one with the lowest primary loss on the validation folds
  // (every fold but the last, the final holdout); with a single fold, on that fold.
  const validation = foldIdx.length > 1 ? foldIdx.slice(0, -1).flatMap((f) => f.idx) : all;
  const validationLoss = (name: string) => {
    const l = losses.get(name)!;
    return validation.length ? validation.reduce((acc, i) => acc + l[i]!, 0) / validation.length : Number.NaN;
  };
  const bestBaselineSpec = input.models
    .filter((m) => isBaselineKind(m.kind) && m.role !== 'champion' && Number.isFinite(validationLoss(m.name)))
    .sort((a, b) => validationLoss(a.name) - validationLoss(b.name) || a.name.localeCompare(b.name))[0];
  const bestBaselineName = bestBaselineSpec?.name ?? null;

  const models: ModelReport[] = input.models.map((m) => ({
    name: m.name,
    kind: m.kind,
    role: m.role,
    rowsScored: m.rows.length,
    overall: metricsOn(al, m.name, all, input.regimeThresholds),
    perFold: foldIdx.map(({ fold, idx }) => ({ fold, metrics: metricsOn(al, m.name, idx, input.regimeThresholds) })),
    parity: m.parity,
    parityPassed: m.parity.length > 0 && m.parity.every((p) => p.passed),
    dm: { vsHarRv: dmVs(m.name, input.harRv), vsChampion: dmVs(m.name, input.champion), vsBestBaseline: dmVs(m.name, bestBaselineName) },
  }));

  // NaN (no rows) sorts last.
  const byLoss = [...models].sort((a, b) => (Number.isNaN(a.overall.qlike) ? 1 : 0) - (Number.isNaN(b.overall.qlike) ? 1 : 0) || a.overall.qlike - b.overall.qlike || a.name.localeCompare(b.name));
  const leaderboard: LeaderboardRow[] = byLoss.map((m, i) => ({
    rank: i + 1,
    model: m.name,
    kind: m.kind,
    role: m.role,
    rows: m.overall.rows,
    qlike: m.overall.qlike,
    rmse: m.overall.rmse,
    r2: m.overall.r2,
    dmVsHarRv: m.dm.vsHarRv ? { statistic: m.dm.vsHarRv.statistic, pValue: m.dm.vsHarRv.pValue } : null,
    dmVsChampion: m.dm.vsChampion ? { statistic: m.dm.vsChampion.statistic, pValue: m.dm.vsChampion.pValue } : null,
    dmVsBestBaseline: m.dm.vsBestBaseline ? { statistic: m.dm.vsBestBaseline.statistic, pValue: m.dm.vsBestBaseline.pValue } : null,
    parityPassed: m.parityPassed,
  }));
  const best = models.find((m) => m.name === bestBaselineName);
  return {
    horizonBars: input.horizonBars,
    folds: input.folds,
    commonRows: { overall: al.ts.length, perFold: foldIdx.map(({ fold, idx }) => ({ fold, rows: idx.length })) },
    leaderboard,
    bestBaseline: best ? { model: best.name, kind: best.kind, qlike: best.overall.qlike } : null,
    harRv: input.harRv,
    champion: input.champion,
    models,
    definitions: DEFINITIONS,
  };
}

/** The aligned common rows, for the report's plots. */
export function commonRows(input: ComputeInput): Aligned {
  return align(input);
}
export type { Aligned };
