/** The evaluate activity's input and output, and the shape of runs/{runId}/metrics.json. */
import type { Series } from '../platform/layout';
import type { ForecastMetrics, DieboldMariano, RegimeThresholds } from '../metrics';
import type { ObjectRef } from '../platform/store';
import type { EnsembleMethod, EnsembleSpec } from './ensemble';
import type { TestWindow, EvalFold, EvalModel, EvalChampion, EvaluateInput, ModelRole, LeaderboardRow, EvaluateResult } from '../../contracts/types';
export type { TestWindow, EvalFold, EvalModel, EvalChampion, EvaluateInput, ModelRole, LeaderboardRow, EvaluateResult };

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

