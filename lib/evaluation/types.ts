/** The evaluate activity's input and output, and the shape of runs/{runId}/metrics.json. */
import type { Series } from '../platform/layout';
import type { ForecastMetrics, DieboldMariano, RegimeThresholds } from '../metrics';
import type { ObjectRef } from '../platform/store';
import type { EnsembleMethod, EnsembleSpec } from './ensemble';

export interface TestWindow {
  /** startTs <= ts < endTs, ms */
  startTs: number;
  endTs: number;
}

export interface EvalFold {
  fold: number;
  test: TestWindow;
  /** The fold's training window; ensembles fit their weights on its last part. */
  train?: TestWindow;
}

/** One fitted artifact (a FitResult of the train workflow) for one model on one fold. */
export interface EvalModel {
  /** The model spec's name, the same on every fold (e.g. "har_rv", "lightgbm_default"). */
  name: string;
  kind: string;
  fold: number;
  modelId: string;
  modelRef: ObjectRef;
  cardRef: ObjectRef;
}

/**
 * The current champion, for the Diebold-Mariano test against it. Either the name of one of the run's
 * models (the champion's spec refit on every fold, the usual case), or its own per-fold artifacts,
 * each fit on that fold's training window (they join the leaderboard as "champion:<name>").
 */
export interface EvalChampion {
  name: string;
  models?: Omit<EvalModel, 'name'>[];
}

export interface EvaluateInput {
  runId: string;
  series: Series;
  target: string;
  featuresRef: ObjectRef;
  folds: EvalFold[];
  models: EvalModel[];
  champion?: EvalChampion | null;
  /** Volatility thresholds (lib/features/regime.ts fitRegimeThresholds) for the regime metrics. */
  regimeThresholds?: RegimeThresholds | null;
  /** Ensembles over the run's models (lib/evaluation/ensemble.ts), judged like every model. */
  ensembles?: EnsembleSpec[];
  featureSetId?: string;
}

export interface EnsembleMember {
  name: string;
  modelId: string;
  modelRef: ObjectRef;
  cardRef: ObjectRef;
  weight: number;
}

/** models/{modelId}/card.json of an ensemble: the recorded combination, per fold. */
export interface EnsembleCard {
  modelId: string;
  name: string;
  kind: 'ensemble';
  method: EnsembleMethod;
  target: string;
  featureSetId: string | null;
  fold: number;
  combine: 'variance';
  members: EnsembleMember[];
  validation: { startTs: number; endTs: number; rows: number; qlike: number } | null;
  parity: { passed: boolean; reason: string | null };
}

/** By kind; 'champion' only for the champion's own artifacts (EvalChampion.models). */
export type ModelRole = 'baseline' | 'challenger' | 'champion';

export interface LeaderboardRow {
  rank: number;
  model: string;
  kind: string;
  role: ModelRole;
  rows: number;
  qlike: number;
  rmse: number;
  r2: number;
  /** Two-sided DM p-value vs HAR-RV (null for HAR-RV itself or without one); negative stat = better. */
  dmVsHarRv: { statistic: number | null; pValue: number | null } | null;
  dmVsChampion: { statistic: number | null; pValue: number | null } | null;
  /** Two-sided DM p-value vs the best baseline (a promotion gate). */
  dmVsBestBaseline: { statistic: number | null; pValue: number | null } | null;
  parityPassed: boolean;
}

export interface FoldParity {
  fold: number;
  modelId: string;
  cardRef: ObjectRef;
  passed: boolean;
  maxRelError: number | null;
  reason: string | null;
}

export interface ModelReport {
  name: string;
  kind: string;
  role: ModelRole;
  /** Rows this model predicted (all folds), and how many of them had a known actual. */
  rowsScored: number;
  overall: ForecastMetrics;
  perFold: { fold: number; metrics: ForecastMetrics }[];
  parity: FoldParity[];
  parityPassed: boolean;
  dm: { vsHarRv: DieboldMariano | null; vsChampion: DieboldMariano | null; vsBestBaseline: DieboldMariano | null };
}

export interface MetricsDocument {
  runId: string;
  series: Series;
  target: string;
  horizonBars: number;
  featuresRef: ObjectRef;
  folds: EvalFold[];
  /** Every metric is computed on the common rows: known actual and a forecast from every model. */
  commonRows: { overall: number; perFold: { fold: number; rows: number }[] };
  leaderboard: LeaderboardRow[];
  bestBaseline: { model: string; kind: string; qlike: number } | null;
  harRv: string | null;
  champion: string | null;
  models: ModelReport[];
  definitions: Record<string, string>;
  /** Ensemble weights per fold (the recorded combinations). */
  ensembles?: { name: string; fold: number; modelId: string; weights: Record<string, number> }[];
}

export interface EvaluateResult {
  runId: string;
  oosRef: ObjectRef;
  metricsRef: ObjectRef;
  reportRef: ObjectRef;
  leaderboard: LeaderboardRow[];
  bestBaseline: MetricsDocument['bestBaseline'];
  /** Ensembles built, per fold: their recorded-combination cards. */
  ensembles: { name: string; fold: number; modelId: string; cardRef: ObjectRef; weights: Record<string, number> }[];
  /** card.json references after parity was written into them, per model and fold. */
  parity: { name: string; fold: number; modelId: string; cardRef: ObjectRef; passed: boolean }[];
}
