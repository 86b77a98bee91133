/** The shape of runs/{runId}/metrics.json and of an ensemble's recorded card (stage-internal formats). */
import type { EnsembleMethod, EvalFold, IntervalCalibration, GateReport, LeaderboardRow, ModelRole, ObjectRef, Series, Window } from '../../contracts/types';
import type { DieboldMariano, ForecastMetrics } from '../metrics';
import type { ConformalReport } from './intervals';

export type { EvalFold, EvalModel, EvaluateInput, EvaluateResult, LeaderboardRow, ModelRole } from '../../contracts/types';

export interface EnsembleMember {
  name: string;
  modelId: string;
  modelRef: ObjectRef;
  cardRef: ObjectRef;
  weight: number;
}

/** models/{modelId}/card.json of an ensemble: the recorded combination (of one fold, or the serving fits). */
export interface EnsembleCard {
  modelId: string;
  name: string;
  kind: 'ensemble';
  method: EnsembleMethod;
  target: string;
  series?: Series;
  featureSetId: string | null;
  /** The fold it combines on (null: the serving combination). */
  fold: number | null;
  combine: 'variance';
  members: EnsembleMember[];
  /** The out-of-sample rows its weights were fit on (qlike: earlier folds' test rows; null: equal weights). */
  weightsFitOn: { folds: number[]; rows: number; qlike: number } | null;
  parity: { passed: boolean; reason: string | null };
  /** The serving combination's interval calibration (absent on fold cards). */
  intervals?: IntervalCalibration | null;
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
  /** Fitted and passed parity on every fold. */
  complete: boolean;
  folds: { fold: number; ok: boolean; reason: string | null }[];
  /** Rows this model predicted (all folds it completed). */
  rowsScored: number;
  /** On each segment's common rows; null where the model did not complete the segment. */
  validation: ForecastMetrics | null;
  holdout: ForecastMetrics | null;
  overall: ForecastMetrics | null;
  perFold: { fold: number; metrics: ForecastMetrics | null }[];
  parity: FoldParity[];
  parityPassed: boolean;
  /** On the holdout common rows. */
  dm: { vsIncumbent: DieboldMariano | null; vsBestBaseline: DieboldMariano | null; vsHarRv: DieboldMariano | null };
  /** Conformal intervals: coverage per fold (calibrated on earlier folds), and the serving calibration. */
  conformal: ConformalReport;
}

export interface EnsembleRecord {
  name: string;
  method: EnsembleMethod;
  members: string[];
  folds: { fold: number; modelId: string; weights: Record<string, number>; weightsFitOn: EnsembleCard['weightsFitOn'] }[];
  /** Weights for a serving combination: fit on every fold's out-of-sample rows (all known at run time). */
  serving: { weights: Record<string, number>; rows: number; qlike: number | null } | null;
}

/** Mean |SHAP| per input column (log-variance units) of one model: per fold on its test rows, and averaged over the folds. */
export interface ModelExplanation {
  model: string;
  kind: string;
  folds: { fold: number; rows: number; meanAbs: Record<string, number> }[];
  /** Mean over the folds of each column's mean |SHAP| (0 where a fold did not list it), largest first. */
  overall: { column: string; meanAbs: number }[];
}

export interface MetricsDocument {
  runId: string;
  series: Series;
  target: string;
  horizonBars: number;
  featuresRef: ObjectRef;
  folds: EvalFold[];
  commonRows: { validation: number; holdout: number; overall: number; perFold: { fold: number; rows: number }[] };
  leaderboard: LeaderboardRow[];
  bestBaseline: { model: string; kind: string; qlike: number | null } | null;
  harRv: string | null;
  incumbent: string | null;
  /** The artifact serving before this run, on the holdout (all its rows; those after its training end). */
  served: { name: string; kind: string; trainEndTs: number | null; holdout: ForecastMetrics | null; outOfSample: ForecastMetrics | null; parity: FoldParity[] } | null;
  models: ModelReport[];
  /** Tree models' SHAP importance per fold (card.fitted.shap, models/explain.py), and over the folds. */
  explanations?: ModelExplanation[];
  gate: GateReport;
  ensembles?: EnsembleRecord[];
  definitions: Record<string, string>;
}

export type { Window };
export type { ConformalReport };
