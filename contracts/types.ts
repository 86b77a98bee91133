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
  /** Hash of the model spec, feature set, series, target, training window, input columns, seed and trainer code (made in TS). */
  modelId: string;
  model: { name: string; kind: ModelKind; params: Record<string, unknown> };
  target: TargetName;
  /** The series the model is for (one feature set holds several). */
  series: Series;
  /** The feature-set Parquet of that series. */
  features: ObjectRef;
  featureSetId: string;
  /** sha256 of the feature definitions, and the series built together (cross-asset features span them). */
  featureDefinitionsSha: string;
  featureUniverse: string[];
  /** Candidate inputs for models that use "all features" (lightgbm, xgboost, the neural kinds), chosen on the training rows. */
  featureColumns: string[];
  /** Training rows: startTs <= ts < endTs (embargo already applied). */
  train: { startTs: number; endTs: number };
  /** Rows predicted (out of sample; for a serving fit, the newest rows whose targets are unknown): startTs <= ts < endTs. */
  test: { startTs: number; endTs: number };
  /** A walk-forward fold's fit, or the serving fit (trained on every row with a known target). */
  purpose: 'fold' | 'serving';
  /** Regime thresholds of the target on the training rows (recorded in the card; scoring labels with them). */
  regime: RegimeThresholds & { n: number };
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
  /** Open times that came more than once in one fetch (identical copies kept once; differing ones rejected). */
  duplicates: number[];
  outOfOrder: number[];
  /** Open times of stored bars this fetch replaced with different values (a fresh exchange fetch wins). */
  changed: number[];
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
  /** The bar that closed last at asOf (open time): the one to forecast from; the activity refuses another. */
  expectedBarTs: number;
  /** The series the scoring feature set was built over (cross-asset features depend on them). */
  featureUniverse: string[];
  maxDataAgeMinutes: number;
}

export interface ScoreLatestResult {
  record: PredictionRecord;
  predictionsRef: ObjectRef;
  written: boolean;
}

/**
 * scoreBar: every pair (series × target) of a run in one activity, on feature rows computed from
 * the candle tail (lib/features/tail.ts; no feature set is written).
 */
export interface ScoreBarInput {
  /** The universe, scored together: cross-asset features are computed over exactly these series. */
  series: Series[];
  targets: string[];
  /** The clock (ms) the forecast is made at: the workflow's, or the replay's in the demo. */
  asOf: number;
  /** The bar that closed last at asOf (open time): the one to forecast from; another is refused. */
  expectedBarTs: number;
  maxDataAgeMinutes: number;
  /**
   * false: when a series' newest candle is older than expectedBarTs, return at once with
   * `scored: false` (the workflow re-ingests and retries); true: score anyway, reporting the late pairs.
   */
  scoreLate: boolean;
}

export interface ScoreBarResult {
  /** series key (exchange:BASE-QUOTE:timeframe) -> newest candle ts in the lake. */
  watermarks: Record<string, number | null>;
  /** false: a series was late and scoreLate was false; nothing was scored or written. */
  scored: boolean;
  records: PredictionRecord[];
  /** Pairs not scored, with the permanent error (`Type: message`); transient errors fail the attempt (retried). */
  failures: { symbol: string; target: string; error: string }[];
  /** Prediction objects written (0 when a re-score found the same records). */
  written: number;
}



// ---- Candles (docs/design.md: Candles) ----
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
  | 'ts off the timeframe grid'
  /** The same open time more than once in one input with different values: no copy is taken (none is known to be right). */
  | 'conflicting duplicate';

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
  /** The stored feature set the row came from; null since scoring computes its rows from the candle tail (nothing stored). */
  featureSetId: string | null;
  dataWatermark: number; // the newest candle the features used
  /**
   * Lineage of the inputs (null on records written before it existed): sha256 over the candle
   * partitions read (key + sha256, every series of the universe), the feature definitions' sha
   * and the feature rows the model read (lib/scoring/lineage.ts).
   */
  inputsSha256?: string | null;
  /** sha256 of the feature definitions that computed the row (lib/features/build.ts definitionsSha). */
  featureDefinitionsSha?: string | null;
}

// ---- Protocols and model specs (resolved from config) ----
export interface ModelSpec {
  name: string;
  kind: string;
  params: Record<string, unknown>;
}

/** How an ensemble combines its members (lib/evaluation/ensemble.ts). */
export type EnsembleMethod = 'equal' | 'qlike' | 'select';

export interface EnsembleSpec {
  name: string;
  method: EnsembleMethod;
  /** Names of the run's model specs. */
  members: string[];
}

/** What a champion is: one model spec, or an ensemble of specs (recorded so any later run can refit it). */
export type ChampionSpec =
  | { name: string; kind: string; params: Record<string, unknown> }
  | { name: string; kind: 'ensemble'; method: EnsembleMethod; members: ModelSpec[] };

export interface WalkForwardSpec {
  firstTrainBars: number;
  testBars: number;
  stepBars: number;
  window: 'expanding' | 'rolling';
  embargoBars: number;
  /** Anchor this many test windows at the end of the data (the last is the holdout) instead of tiling from the start. */
  folds?: number;
  /** Tiling from the start: the first test window starts on this UTC date (YYYY-MM-DD) or later, so every series is judged on the same windows. */
  testFrom?: string;
}

export interface ResolvedProtocol {
  name: string;
  description: string;
  targets: string[];
  lookbackBars: number | null;
  walkForward: WalkForwardSpec;
  models: ModelSpec[];
  ensembles: EnsembleSpec[];
  seed: number;
}

// ---- Walk-forward ----
export interface Window {
  startTs: number; // inclusive
  endTs: number; // exclusive
}

export interface Fold {
  fold: number;
  train: Window;
  test: Window;
  /** The last fold is the holdout (judging); the others are validation folds (choosing). */
  holdout: boolean;
}

/**
 * The serving fit's rows: training on every row whose target is known at run time (ts + h bars ≤
 * the newest bar), "test" rows = the h newest rows, whose targets are still unknown: the rows
 * scoring will forecast, used for the fit's parity check.
 */
export interface ServingWindow {
  train: Window;
  test: Window;
}

// ---- The training plan (runs/{runId}/plan.json) ----
/** Per fold (and for the serving fit): what was chosen from that fold's training rows only. */
export interface FoldInputs {
  /** Feature columns with at most the allowed null share on the training rows. */
  columns: string[];
  droppedColumns: string[];
  /** Regime thresholds of the target on the training rows (the fold's regime metrics use them). */
  regime: RegimeThresholds & { n: number };
}

export interface PlannedSpec extends ModelSpec {
  activity: 'fitModel' | 'fitNeuralModel';
  baseline: boolean;
  /** candidate: a protocol model; incumbent: added because it is the champion's (or a member of its ensemble). */
  origin: 'protocol' | 'incumbent';
}

/** One series × target of a train run: what it is trained on. */
export interface SeriesRun {
  runId: string;
  series: Series;
  target: string;
  featuresRef: ObjectRef;
  featureSetId: string;
  featureDefinitionsSha: string;
  /** The series built into the feature set (cross-asset features span them). */
  featureUniverse: string[];
  protocol: ResolvedProtocol;
}

export interface PlanTrainingInput extends SeriesRun {
  /** The current champion: its spec joins the run (refitted on the same folds) if the protocol lacks it. */
  champion: ChampionRecord | null;
}

/** runs/{runId}/plan.json: every fit of the run, in order (fits[i] is the input of fit request i). */
export interface PlanDocument {
  version: 2;
  runId: string;
  series: Series;
  target: string;
  protocol: { name: string; description: string; walkForward: WalkForwardSpec; seed: number };
  featuresRef: ObjectRef;
  featureSetId: string;
  featureDefinitionsSha: string;
  featureUniverse: string[];
  span: { firstTs: number; lastTs: number };
  specs: PlannedSpec[];
  ensembles: EnsembleSpec[];
  /** The champion's spec name in this run (a spec or an ensemble), null without a champion. */
  incumbent: string | null;
  /** Why a champion exists but its spec could not be refitted (then incumbent is null). */
  incumbentUnknown?: string;
  folds: (Fold & FoldInputs)[];
  serving: ServingWindow & FoldInputs;
  /** folds × specs (fold-major), then one serving fit per spec: see fitIndex(). */
  fits: FitInput[];
}

/** What the workflow needs of the plan (small at any protocol size: O(folds + specs)). */
export interface TrainingPlan {
  runId: string;
  planRef: ObjectRef;
  specs: { name: string; kind: string; activity: 'fitModel' | 'fitNeuralModel' }[];
  folds: { fold: number; holdout: boolean }[];
  ensembles: EnsembleSpec[];
  incumbent: string | null;
  span: { firstTs: number; lastTs: number };
}

/** A fit activity's input: one fit of a plan, by reference (the trainer reads plan.fits[index]). */
export interface FitRequest {
  plan: ObjectRef;
  index: number;
  /** For the Web UI and a consistency check: the spec's name and fold (null: the serving fit). */
  name: string;
  fold: number | null;
}

export interface FitFailure {
  name: string;
  /** null: the serving fit. */
  fold: number | null;
  error: string;
}

// ---- Evaluation ----
/** One fitted artifact for one model spec on one fold. */
export interface EvalModel {
  /** The model spec's name, the same on every fold. */
  name: string;
  kind: string;
  fold: number;
  modelId: string;
  modelRef: ObjectRef;
  cardRef: ObjectRef;
}

export interface EvalFold {
  fold: number;
  test: Window;
  train?: Window;
  /** Default: the last fold. */
  holdout?: boolean;
  /** This fold's regime thresholds (fit on its training rows). */
  regime?: RegimeThresholds | null;
}

/** The artifact serving now: scored on the new holdout beside its refit (it may have trained on part of it). */
export interface ServedArtifact {
  name: string;
  kind: string;
  modelId: string;
  modelRef: ObjectRef;
  cardRef: ObjectRef;
  /** End (exclusive) of its training rows: holdout rows at or after it are out of its sample. */
  trainEndTs: number | null;
}

/** The evaluate stage's own input (lib/evaluation/run.ts): explicit artifacts, no plan needed. */
export interface EvaluateInput {
  runId: string;
  /** The gates the run decides with (their statistics are computed here, on the holdout). */
  gates: PromotionGates;
  series: Series;
  target: string;
  featuresRef: ObjectRef;
  folds: EvalFold[];
  models: EvalModel[];
  /** Fits that produced no artifact: the spec is shown failed on that fold, never dropped. */
  failures?: FitFailure[];
  /** The champion's spec name in this run (the incumbent), when it has one. */
  incumbent?: string | null;
  served?: ServedArtifact | null;
  ensembles?: EnsembleSpec[];
  featureSetId?: string;
}

/** The evaluate activity's input: everything by reference to the plan. */
export interface EvaluateRequest {
  runId: string;
  gates: PromotionGates;
  planRef: ObjectRef;
  failures: FitFailure[];
  served: ServedArtifact | null;
}

export type ModelRole = 'baseline' | 'challenger' | 'incumbent' | 'served';

export interface DmSummary {
  statistic: number | null;
  /** One-sided: H1 the row's model has lower expected loss than the reference (HLN statistic, t(T−1)). */
  pValue: number | null;
}

export interface LeaderboardRow {
  rank: number;
  model: string;
  kind: string;
  role: ModelRole;
  /** Every fold fitted and passed ONNX parity. */
  complete: boolean;
  failedFolds: { fold: number; reason: string }[];
  /** QLIKE on the validation folds' common rows (selection), on the holdout's (judging), on all folds. */
  validationQlike: number | null;
  holdoutQlike: number | null;
  qlike: number | null;
  rows: number;
  holdoutRows: number;
  rmse: number | null;
  r2: number | null;
  /** On the holdout rows: vs the incumbent, the best baseline, HAR-RV. */
  dmVsIncumbent: DmSummary | null;
  dmVsBestBaseline: DmSummary | null;
  dmVsHarRv: DmSummary | null;
  parityPassed: boolean;
}

/** One application of the statistical gate (lib/metrics/gate.ts judgeChallenger) to the challenger. */
export interface GateVerdict {
  reference: string;
  passed: boolean;
  relativeImprovement: number | null;
  /** One-sided HLN-DM p-value (the gate's long-run variance). */
  dmPValue: number | null;
  /** SPA consistent p-value over every eligible candidate (when this verdict carries the best-of-N guard). */
  spaPValue: number | null;
  reasons: string[];
}

/** What the gates read (metrics.json gate): the holdout statistics, the challenger and its verdicts. */
export interface GateReport {
  horizonBars: number;
  holdoutRows: number;
  validationRows: number;
  /** Independent windows in the holdout: rows / max(h, one day of bars). */
  holdoutWindows: number;
  bestBaseline: string | null;
  incumbent: string | null;
  /** Whether the incumbent has a holdout forecast to be judged on. */
  incumbentJudged: boolean;
  /** The eligible spec other than the incumbent with the lowest validation QLIKE. */
  challenger: string | null;
  /** The challenger judged on the holdout against the incumbent (with SPA) and the best baseline. */
  verdicts: { vsIncumbent: GateVerdict | null; vsBestBaseline: GateVerdict | null };
  candidates: {
    name: string;
    kind: string;
    baseline: boolean;
    /** Selectable: complete, parity passed, a validation and a holdout loss. */
    eligible: boolean;
    why: string | null;
    validationQlike: number | null;
    holdoutQlike: number | null;
    dmVsIncumbent: DmSummary | null;
    dmVsBestBaseline: DmSummary | null;
  }[];
  /** Hansen's SPA over the eligible candidates against the benchmark (the incumbent, else the best baseline). */
  spa: { benchmark: string; candidates: number; pConsistent: number } | null;
}

export interface EvaluateResult {
  runId: string;
  oosRef: ObjectRef;
  metricsRef: ObjectRef;
  reportRef: ObjectRef;
  leaderboard: LeaderboardRow[];
  bestBaseline: { model: string; kind: string; qlike: number | null } | null;
  gate: GateReport;
}

// ---- The registry (registry/…/champion.json) ----
export type ChampionAction = 'promote' | 'bootstrap' | 'refresh' | 'manual' | 'rollback' | 'hold';

export interface ChampionRecord {
  /** 2: records the spec, the serving fit's rows and the data it saw. Absent on older records. */
  version?: 2;
  /** The serving artifact. */
  modelId: string;
  name: string;
  kind: string;
  target: string;
  series: Series;
  /** What it is, so any later run refits the same spec (absent on older records: found by name in config). */
  spec?: ChampionSpec;
  featureSetId: string;
  modelRef: ObjectRef;
  cardRef: ObjectRef;
  /** The evaluation run that decided it (null for a manual promotion). */
  runId: string | null;
  decidedAt: string; // ISO time of the decision (from the workflow clock: deterministic on replay)
  action: ChampionAction;
  reasons: string[];
  /** The spec's holdout QLIKE in that run. */
  loss: number | null;
  /** End (exclusive) of the serving fit's training rows: every row before it had a known target. */
  trainEndTs?: number | null;
  /** The newest candle the serving fit's feature set was built on. */
  dataWatermark?: number | null;
  /** The series the feature set was built over (cross-asset features depend on them). */
  featureUniverse?: string[] | null;
  /** Regime thresholds fit on the serving fit's training rows (volatility units): low <= q1 < medium <= q2 < high. */
  regimeThresholds?: { q1: number; q2: number } | null;
  /** The feature definitions the model was trained on: scoring refuses features built by others. */
  featureDefinitionsSha?: string | null;
  /**
   * The interval every forecast is served with, calibrated on the run's out-of-sample rows of this
   * spec (absent on older records: only a model with a sigma output then gives an interval).
   */
  intervals?: IntervalCalibration | null;
}

/** A forecast interval's calibration (lib/metrics/conformal.ts): score quantiles per level. */
export interface IntervalCalibration {
  method: string;
  /** Scores were divided by the model's sigma: bounds need the forecast's sigma. */
  scaled: boolean;
  /** Out-of-sample rows it was calibrated on. */
  rows: number;
  /** Bounds f·exp(lower·s/2), f·exp(upper·s/2), s = sigma (scaled) or 1. */
  levels: Record<'80' | '95', { lower: number; upper: number }>;
}

// ---- Promotion decisions ----
/** The gates a challenger must pass (temporal.config.ts promotion; resolved into each run's input). */
export interface PromotionGates {
  primaryLoss: 'qlike' | 'mse';
  /** Relative: 0.01 = the challenger's holdout loss must be at least 1% lower. */
  minImprovement: number;
  /** One-sided HLN-DM p-value the challenger must beat against the incumbent and the best baseline. */
  dmPValue: number;
  /** Hansen's SPA (consistent) p-value over all eligible candidates: the best-of-N guard. */
  spaPValue: number;
  spaReps: number;
  /** The holdout must hold at least this many independent windows of max(h, one day of bars) rows. */
  minHoldoutWindows: number;
  /** The SPA bootstrap's seed: the same run decides the same way. */
  seed: number;
}

/**
 * The gates' verdict: which spec should serve next. `promote`: a new spec (the challenger);
 * `keep`: the incumbent's spec (refitted: a refresh); `bootstrap`: no champion yet, the best
 * baseline serves; `none`: nothing can serve (reasons say why).
 */
export interface Decision {
  outcome: 'promote' | 'keep' | 'bootstrap' | 'none';
  /** The spec to fit for serving. */
  spec: string | null;
  challenger: string | null;
  incumbent: string | null;
  bestBaseline: string | null;
  reasons: string[];
}

export interface DecideInput {
  runId: string;
  planRef: ObjectRef;
  metricsRef: ObjectRef;
  champion: ChampionRecord | null;
  gates: PromotionGates;
  unresolvedDataFlags: string[];
}

/** The serving fit's outcome and what was written: the champion changed (promote/bootstrap/refresh), stayed (keep), or held. */
export interface ServingOutcome {
  action: 'promote' | 'bootstrap' | 'refresh' | 'keep' | 'hold' | 'none';
  modelId: string | null;
  reasons: string[];
  championWritten: boolean;
  trainEndTs: number | null;
}

export interface CommitServingInput {
  runId: string;
  planRef: ObjectRef;
  metricsRef: ObjectRef;
  decision: Decision;
  /** Results of the serving fit (one per spec: the spec, or each member of an ensemble). */
  fits: { name: string; result: FitResult | null; error: string | null }[];
  champion: ChampionRecord | null;
  decidedAt: string;
  gates: PromotionGates;
  unresolvedDataFlags: string[];
}

export interface CommitServingResult {
  decision: Decision;
  serving: ServingOutcome;
  decisionRef: ObjectRef;
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
  /** A bar not yet published at asOf: re-ingest every lateBarRetrySeconds for up to lateBarWaitMinutes, then fail it clearly. */
  lateBarWaitMinutes: number;
  lateBarRetrySeconds: number;
  /** The clock (ms); default the workflow's start time. The demo passes the replay's time. */
  now?: number;
  /** Fetch new candles first (default true). */
  ingest?: boolean;
}

export interface ScoreResult {
  asOf: number;
  /** The bar scored (open time): the last one closed at asOf. */
  barTs: number;
  /** The feature set the run built (runs before scoring computed its rows from the candle tail); null now. */
  featureSetId: string | null;
  forecasts: ScoreLatestResult['record'][];
  /** Pairs that could not be scored, with why (the workflow fails after writing the others when any). */
  failures: { symbol: string; target: string; error: string }[];
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

export interface TrainSeriesInput extends SeriesRun {
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
  bestBaseline: { model: string; qlike: number | null } | null;
  reportKey: string;
  metricsKey: string;
  /** The gates' verdict and what serving did (null with promote: false). */
  decision: Decision | null;
  serving: ServingOutcome | null;
  /** Failed fits (the first 50), and how many there were. */
  failures: FitFailure[];
  failureCount: number;
  /** Sum of fit wall times per model (seconds), and how many fits were reused. */
  fitSeconds: Record<string, number>;
  reusedFits: number;
}

export interface TrainResult {
  runId: string;
  featureSetId: string;
  results: TrainSeriesResult[];
  /** Series × targets whose child failed (the others finished; a TrainFailed failure then carries this result). */
  failures: { symbol: string; target: string; error: string }[];
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

// ---- Housekeeping (lib/housekeeping, docs/design.md Retention) ----
/** The retention policy (temporal.config.ts housekeeping), resolved into each run's input. */
export interface RetentionPolicy {
  /** Objects younger than this (ms, against the run's clock) are never deleted: an in-flight run's objects are not referenced yet. */
  graceMs: number;
  /** Evaluated train runs kept per series × target, newest first (with their models and feature set). */
  keepTrainRuns: number;
  /** Keep the feature set each champion-history record names too (its model and run are always kept). */
  historyFeatureSets: boolean;
}

/** What housekeeping may delete, by group: a model, a feature set, a run, one candle partition, an old housekeeping plan. */
export type HousekeepingKind = 'model' | 'featureSet' | 'run' | 'candlePartition' | 'housekeepingPlan';

export interface HousekeepingTally {
  groups: number;
  objects: number;
  bytes: number;
}

/** A plan's totals: small at any bucket size (the groups and keys are in the plan object). */
export interface HousekeepingSummary {
  planId: string;
  /** The clock the plan judged ages against (ms). */
  asOf: number;
  listed: { objects: number; bytes: number };
  /** What the plan deletes, per kind. */
  delete: { kind: HousekeepingKind; reason: string; tally: HousekeepingTally }[];
  /** What it keeps, per kind and reason. */
  keep: { kind: string; reason: string; tally: HousekeepingTally }[];
}

export interface PlanHousekeepingInput {
  planId: string;
  asOf: number;
  policy: RetentionPolicy;
}

export interface PlanHousekeepingResult {
  /** housekeeping/{planId}/plan.json: every group with its reason, the keys to delete. */
  planRef: ObjectRef;
  summary: HousekeepingSummary;
}

export interface ApplyHousekeepingInput {
  planRef: ObjectRef;
}

export interface ApplyHousekeepingResult {
  /** Deleted now, per kind. */
  deleted: { kind: HousekeepingKind; tally: HousekeepingTally }[];
  /** Planned but kept after all: re-planned at apply time, they were referenced or written since (with why). */
  spared: { kind: HousekeepingKind; reason: string; objects: number }[];
}

export interface HousekeepingInput {
  policy: RetentionPolicy;
  /** Plan only: write the plan, delete nothing. */
  dryRun: boolean;
  /** The clock ages are judged against (ms); default: the run's start time. */
  now?: number;
}

export interface HousekeepingResult {
  dryRun: boolean;
  planRef: ObjectRef;
  summary: HousekeepingSummary;
  applied: ApplyHousekeepingResult | null;
}

// ---- Pooled (panel) fits: one tree booster over many series (models/pooled.py, docs/model-contract.md) ----

/**
 * A spec's `params.pooled`: true pools every series of the run's feature set; `{ symbols }` pools
 * those series only (each must be in the feature set; the series trained need not be one of them:
 * a held-out symbol is scored by a pool that never saw it). Only kinds `poolable` in
 * contracts/domain.json accept it (config validation).
 */
export type PooledParam = boolean | { symbols: string[] };

/** What a pooled fit reads besides its own series (the plan builds it per fold). */
export interface PooledFitInput {
  /** Hash of everything the pool's booster depends on: every series of the fold shares it. */
  poolId: string;
  /** Where the booster is cached (layout.pooledBooster(poolId)): the first fit writes it, the others read it. */
  boosterKey: string;
  /** The pool's training rows (every series): ends with the fit's own train window; see lib/training/plan.ts. */
  train: { startTs: number; endTs: number };
  /** The pooled series and their feature-set objects, by symbol. */
  universe: { series: Series; features: ObjectRef }[];
}

// Declaration merging: FitInput (above) gains the pooled fit's input, present only on pooled specs' fits.
export interface FitInput {
  pooled?: PooledFitInput;
}

// ---- implied volatility (DVOL) in feature sets: issue 11 (lib/features/implied.ts) ----

/** What a feature set's manifest adds when some series read an implied-volatility index (written by buildFeatures). */
export interface FeatureSetImplied {
  /** candle series key -> the index series it read ("deribit:BTC/DVOL:1h") and the index's last open time; a series configured with an index the lake lacks is absent (its implied features are NULL). */
  implied?: Record<string, { index: string; watermark: number }>;
}

/** The ingest activity's report on the symbol's implied-volatility index (features.implied), brought up to date after its candles. */
export interface IngestImplied {
  /** "deribit:BTC/DVOL:1h" */
  index: string;
  fetchedRows?: number;
  storedRows?: number;
  watermark?: number | null;
  /** Not fetched: why (its exchange is not configured). */
  skipped?: string;
  /** The fetch failed (the candle ingest did not): the error. */
  error?: string;
}
