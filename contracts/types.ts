/**
 * The types that cross a stage boundary (activity inputs and results, stored records), declared
 * once. Stages import them from here; contracts/activities.ts binds them to the activities.
 * Pure types: no runtime code, no imports from lib/.
 */
import type { ModelKind, RegimeThresholds, TargetName } from './domain';


// ---- Shared references ----
/** An object in the store: bucket, key and the sha256 of its bytes (verified on every read). */
export interface ObjectRef {
  bucket: string;
  key: string;
  sha256: string;
  size?: number;
}

/** One candle series: exchange, symbol as ccxt writes it (BTC/USDT), timeframe. */
export interface Series {
  exchange: string;
  symbol: string;
  timeframe: string;
}

// ---- Platform probe (issue 2's round trip) ----
export interface WriteProbeInput {
  runId: string;
  message: string;
  /** Keep the activity busy (heartbeating) this long; used to test crash recovery. */
  holdSeconds?: number;
}
export interface WriteProbeResult {
  ref: ObjectRef;
  attempt: number;
}
export interface VerifyProbeInput {
  ref: ObjectRef;
  /** Where to write the result (built by lib/platform/layout.ts: Python never builds keys). */
  resultKey: string;
  holdSeconds?: number;
}
export interface VerifyProbeResult {
  ref: ObjectRef;
  sourceSha256: string;
  bytes: number;
  byteSum: number;
  device: string;
  torch: string;
  attempt: number;
}

// ---- Model fits (issue 5; docs/model-contract.md) ----
/** fitModel serves the statistical and tree kinds; fitNeuralModel serves the PyTorch kinds
 *  (contracts/domain.json fitActivity). A kind sent to the wrong one fails non-retryably, naming the right one. */

export interface FitInput {
  /** Hash of model spec + featureSetId + training window (made in TS). */
  modelId: string;
  model: { name: string; kind: ModelKind; params: Record<string, unknown> };
  target: TargetName;
  /** The feature-set Parquet of one series. */
  features: ObjectRef;
  featureSetId: string;
  /** Candidate inputs for models that use "all features" (lightgbm, xgboost, the neural kinds). */
  featureColumns: string[];
  /** Training rows: startTs <= ts < endTs (embargo already applied). */
  train: { startTs: number; endTs: number };
  /** Out-of-sample rows: startTs <= ts < endTs. */
  test: { startTs: number; endTs: number };
  seed: number;
  /** Where to write (built by lib/platform/layout.ts). */
  keys: { model: string; card: string };
}
export interface FitResult {
  modelId: string;
  modelRef: ObjectRef;
  cardRef: ObjectRef;
  reused: boolean;
  trainRows: number;
  testRows: number;
  wallSeconds: number;
}

// ---- Features (issue 4) ----
export interface BuildFeaturesInput {
  /** Series built together (cross-asset features span them); one timeframe. */
  series: Series[];
  /** The manifest of an earlier feature set of the same series: only the tail is recomputed. */
  previous?: ObjectRef;
  /**
   * Build from the last N monthly candle partitions only (scoring: every feature has a finite
   * window of at most 720 bars, so rows more than that after the first candle read are identical
   * to a full build's, and an hourly score does not rewrite years of history).
   */
  recentMonths?: number;
}
export interface FeatureSeriesOutput {
  series: Series;
  ref: ObjectRef;
  rows: number;
  /** Last candle ts (ms) of the series. */
  watermark: number;
}
export interface BuildFeaturesResult {
  /** The feature set's manifest (features/{featureSetId}/_manifest.json). */
  ref: ObjectRef;
  featureSetId: string;
  rows: number;
  columns: string[];
  /** series key (exchange:BASE-QUOTE:timeframe) -> last candle ts (ms) */
  watermark: Record<string, number>;
  series: FeatureSeriesOutput[];
  /** sha256 of the feature definitions that built it (lib/features/build.ts definitionsSha). */
  definitionsSha: string;
  mode: 'full' | 'incremental';
  recomputedRows: number;
}
/** The manifest object of a feature set. */
export interface FeatureSetManifest {
  featureSetId: string;
  definitionsSha: string;
  columns: string[];
  rows: number;
  watermark: Record<string, number>;
  series: (FeatureSeriesOutput & { key: string })[];
}

// ---- Market data ----
export interface IngestInput {
  /** ccxt exchange id; default the first configured exchange. */
  exchange?: string;
  symbol: string; // BTC/USDT
  timeframe: string;
  /** First open time wanted (ms). Default: right after the stored coverage, else the exchange's first candle. */
  since?: number;
  /** End of the window, exclusive (open time, ms). Default: now. */
  until?: number;
  /** The clock (ms): candles with ts + 1 bar > now are still open and skipped. Default: the exchange's time. */
  now?: number;
  /** Re-fetch ranges the manifest says are covered (default: skip them). */
  refetch?: boolean;
  /** Candles per request (default config ingest.pageLimit). */
  pageLimit?: number;
  /** Merge into the lake every this many fetched candles (default 10 pages). */
  flushRows?: number;
}

export interface IngestResult {
  exchange: string;
  symbol: string;
  timeframe: string;
  /** Open-time window fetched, [from, to); null when nothing was left to fetch. */
  window: { from: number; to: number } | null;
  pages: number;
  fetchedRows: number;
  /** Rows in the series after this ingest. */
  storedRows: number;
  skippedOpen: number;
  rejected: Partial<Record<RejectReason, number>>;
  rejectedRows: { ts: number | null; reason: RejectReason; raw: string }[];
  duplicates: number[];
  outOfOrder: number[];
  /** Gaps of the series inside the fetched window. */
  gaps: Gap[];
  /** Gaps in the whole series (manifest). */
  gapsTotal: number;
  /** The effective end of the window (exclusive): min(until, start of the candle open at now). */
  end: number;
  watermark: number | null;
  objectsWritten: number;
  partitionsWritten: string[];
  manifest: ObjectRef | null;
  attempt: number;
}


// ---- Scoring ----
export interface ScoreLatestInput {
  series: Series;
  target: string;
  featuresRef: ObjectRef;
  featureSetId: string;
  featureDefinitionsSha: string;
  /** The clock (ms) the forecast is made at: the workflow's, or the replay's in the demo. */
  asOf: number;
  maxDataAgeMinutes: number;
}

export interface ScoreLatestResult {
  record: PredictionRecord;
  predictionsRef: ObjectRef;
  written: boolean;
}



// ---- Candles (DESIGN: Candles) ----
/** A stored candle: ts = open time in ms UTC; optional fields are null when the source lacks them. */
export interface Candle {
  ts: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
  quote_volume: number | null;
  trades: number | null;
}

/** Why a row was rejected; the manifest counts rows per reason. */
export type RejectReason =
  | 'not a number'
  | 'price <= 0'
  | 'low > min(open, close)'
  | 'high < max(open, close)'
  | 'volume < 0'
  | 'ts off the timeframe grid';

export interface RejectedRow {
  /** Open time when it parsed, else null. */
  ts: number | null;
  reason: RejectReason;
  /** The row as received, so the manifest says exactly what was dropped. */
  raw: string;
}

// ---- The candle lake ----
export interface Gap {
  /** First missing open time. */
  from: number;
  /** Last missing open time. */
  to: number;
  bars: number;
}

// ---- Predictions (predictions/…/{YYYY-MM}.parquet rows) ----
export interface PredictionRecord {
  exchange: string;
  symbol: string;
  timeframe: string;
  target: string;
  barTs: number; // the bar the forecast is made at (its close is the forecast time)
  value: number; // predicted volatility in the target's units
  lower80: number | null;
  upper80: number | null;
  lower95: number | null;
  upper95: number | null;
  regime: 'low' | 'medium' | 'high' | null;
  modelId: string;
  modelName: string;
  featureSetId: string;
  dataWatermark: number; // the newest candle the features used
}

// ---- The registry (registry/…/champion.json) ----
export interface ChampionRecord {
  modelId: string;
  name: string;
  kind: string;
  target: string;
  series: Series;
  featureSetId: string;
  modelRef: ObjectRef;
  cardRef: ObjectRef;
  runId: string | null;
  decidedAt: string; // ISO time of the decision (from the workflow clock: deterministic on replay)
  action: 'promote' | 'bootstrap' | 'manual' | 'rollback';
  reasons: string[];
  loss: number | null;
  /** Regime thresholds fit on the model's training window (volatility units): low <= q1 < medium <= q2 < high. */
  regimeThresholds?: { q1: number; q2: number } | null;
  /** The feature definitions the model was trained on: scoring refuses features built by others. */
  featureDefinitionsSha?: string | null;
}

// ---- Promotion decisions ----
/** The gates a challenger must pass (temporal.config.ts promotion; resolved into each run's input). */
export interface PromotionGates {
  primaryLoss: 'qlike' | 'mse';
  /** Relative: 0.01 = the challenger's loss must be at least 1% lower. */
  minImprovement: number;
  dmPValue: number;
}

export interface Decision {
  promote: boolean;
  candidate: string | null; // name
  modelId: string | null;
  bootstrap: boolean;
  reasons: string[];
}

// ---- Walk-forward ----
export interface WalkForwardSpec {
  firstTrainBars: number;
  testBars: number;
  stepBars: number;
  window: 'expanding' | 'rolling';
  embargoBars: number;
}

export interface Window {
  startTs: number; // inclusive
  endTs: number; // exclusive
}

export interface Fold {
  fold: number;
  train: Window;
  test: Window;
  /** The last fold is the final holdout; the others are validation folds. */
  holdout: boolean;
}

// ---- Ensembles ----
export type EnsembleMethod = 'equal' | 'qlike';

export interface EnsembleSpec {
  name: string;
  method: EnsembleMethod;
  members: string[];
}

// ---- Protocols (resolved from config) ----
export interface ModelSpec {
  name: string;
  kind: string;
  params: Record<string, unknown>;
}

export interface ResolvedProtocol {
  name: string;
  description: string;
  targets: string[];
  lookbackBars: number | null;
  walkForward: WalkForwardSpec & { folds?: number };
  models: ModelSpec[];
  ensembles: EnsembleSpec[];
  seed: number;
}

// ---- Evaluation ----
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

export interface EvaluateResult {
  runId: string;
  oosRef: ObjectRef;
  metricsRef: ObjectRef;
  reportRef: ObjectRef;
  leaderboard: LeaderboardRow[];
  bestBaseline: { model: string; kind: string; qlike: number } | null;
  /** Ensembles built, per fold: their recorded-combination cards. */
  ensembles: { name: string; fold: number; modelId: string; cardRef: ObjectRef; weights: Record<string, number> }[];
  /** card.json references after parity was written into them, per model and fold. */
  parity: { name: string; fold: number; modelId: string; cardRef: ObjectRef; passed: boolean }[];
}

// ---- Training plan and promotion ----
export interface PlanTrainingInput {
  runId: string;
  series: Series;
  target: string;
  featuresRef: ObjectRef;
  featureSetId: string;
  protocol: ResolvedProtocol;
}

export interface PlannedFit {
  name: string;
  kind: string;
  fold: number;
  activity: 'fitModel' | 'fitNeuralModel';
  input: FitInput;
}

export interface TrainingPlan {
  runId: string;
  folds: Fold[];
  fits: PlannedFit[];
  featureColumns: string[];
  droppedColumns: string[];
  regimeThresholds: { q1: number; q2: number };
  span: { firstTs: number; lastTs: number };
  planRef: ObjectRef;
}

export interface PromoteInput {
  runId: string;
  series: Series;
  target: string;
  decidedAt: string;
  featureSetId: string;
  featureDefinitionsSha: string | null;
  evaluation: Pick<EvaluateResult, 'leaderboard' | 'bestBaseline' | 'parity'>;
  /** The model of the latest fold per spec name: the one that would serve. */
  latest: Record<string, { modelId: string; modelRef: ObjectRef; cardRef: ObjectRef; kind: string }>;
  champion: ChampionRecord | null;
  regimeThresholds: { q1: number; q2: number } | null;
  /** Fits that failed (excluded from the run), recorded with the decision. */
  failures: { name: string; fold: number; error: string }[];
  gates: PromotionGates;
}

export interface PromoteResult {
  decision: Decision;
  decisionRef: ObjectRef;
  championWritten: boolean;
}

// ---- Workflow inputs and results: backfill ----
export interface BackfillInput {
  symbols: string[];
  timeframe: string;
  /** First open time (ms, UTC). */
  from: number;
  /** End, exclusive (ms); default: up to the last closed candle. */
  to?: number;
  /** Clock for "still open" (ms); default: the exchange's time, read by the activity. */
  now?: number;
  exchange?: string;
  /** From config ingest.concurrency (workflow code cannot read config). */
  concurrency: number;
  /** From config ingest.monthsPerActivity. */
  monthsPerActivity: number;
  refetch?: boolean;
}

export interface SymbolProgress {
  symbol: string;
  status: 'pending' | 'running' | 'done' | 'failed';
  workflowId?: string;
  chunksDone: number;
  chunksTotal: number;
  fetchedRows: number;
  storedRows: number;
  rejected: Record<string, number>;
  gaps: number;
  objectsWritten: number;
  watermark: number | null;
  error?: string;
}

export interface BackfillProgress {
  total: number;
  done: number;
  running: number;
  failed: number;
  symbols: SymbolProgress[];
}

export interface BackfillSymbolInput {
  symbol: string;
  timeframe: string;
  exchange?: string;
  now?: number;
  refetch?: boolean;
  from: number;
  /** End, exclusive; absent: until the activity reports it reached the exchange's "now". */
  to?: number;
  monthsPerActivity: number;
  /** Start of the next chunk (continue-as-new carries it). */
  cursor: number;
  acc: SymbolProgress | null;
}

// ---- Workflow inputs and results: score ----
export interface ScoreInput {
  exchange: string;
  symbols: string[];
  timeframe: string;
  targets: string[];
  maxDataAgeMinutes: number;
  /** The clock (ms); default the workflow's start time. The demo passes the replay's time. */
  now?: number;
  /** Fetch new candles first (default true). */
  ingest?: boolean;
}

export interface ScoreResult {
  asOf: number;
  featureSetId: string;
  forecasts: ScoreLatestResult['record'][];
}

// ---- Workflow inputs and results: train ----
export interface TrainInput {
  exchange: string;
  symbols: string[];
  timeframe: string;
  protocol: ResolvedProtocol;
  /** The promotion gates this run decides with (resolved from config by lib/orchestration/inputs.ts). */
  gates: PromotionGates;
  /** Default: derived from the workflow id. */
  runId?: string;
  /** The clock for ingest (ms); default the exchange's. The demo sets it to the replay's time. */
  now?: number;
  /** Fetch new candles first (default true). */
  ingest?: boolean;
  /** Apply the promotion gates (default true). */
  promote?: boolean;
  /** Fits running at once (default 4; the trainers' own concurrency bounds real parallelism). */
  fitConcurrency?: number;
  /** How long a fit may go without a heartbeat before it is retried elsewhere (default: the catalog's). */
  fitHeartbeatSeconds?: number;
}

export interface TrainSeriesInput {
  runId: string;
  series: Series;
  target: string;
  featuresRef: ObjectRef;
  featureSetId: string;
  featureDefinitionsSha: string | null;
  protocol: ResolvedProtocol;
  gates: PromotionGates;
  promote: boolean;
  fitConcurrency: number;
  fitHeartbeatSeconds?: number;
}

export interface TrainSeriesResult {
  runId: string;
  series: Series;
  target: string;
  folds: number;
  leaderboard: LeaderboardRow[];
  bestBaseline: { model: string; qlike: number } | null;
  reportKey: string;
  metricsKey: string;
  decision: PromoteResult['decision'] | null;
  failures: { name: string; fold: number; error: string }[];
  /** Sum of fit wall times per model (seconds), and how many fits were reused. */
  fitSeconds: Record<string, number>;
  reusedFits: number;
}

export interface TrainResult {
  runId: string;
  featureSetId: string;
  results: TrainSeriesResult[];
}

// ---- Workflow inputs and results: platform probe ----
export interface PlatformRoundTripInput {
  runId: string;
  message: string;
  writeHoldSeconds?: number;
  verifyHoldSeconds?: number;
}

export interface PlatformRoundTripResult {
  written: WriteProbeResult;
  verified: VerifyProbeResult;
}
