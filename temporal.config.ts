/**
 * volcast configuration: the one declared object (docs/design.md, Configuration).
 *
 * This file is plain data so that workflow code can import `taskQueues` without pulling in
 * validation or Node APIs (workflow bundles must stay deterministic and free of I/O).
 * lib/platform/config.ts validates it, applies environment overrides (addresses, credentials) and is the
 * only way programs read configuration. Credentials never live here: they come from the
 * environment, or from the dev stack's generated file in the state folder.
 */
import type { VolcastConfigInput } from './lib/platform/configSchema';

/** Task-queue names: every activity is registered on exactly one of these (activities/catalog.json). */
export const taskQueues = {
  cpu: 'volcast-cpu',
  trainCpu: 'volcast-train-cpu',
  gpu: 'volcast-gpu',
} as const;

export type QueueRole = keyof typeof taskQueues;

// The neural models' inputs: the OHLCV-derived price stream, then a compact engineered stream. Fed
// all ~80 feature columns, the recurrent nets early-stopped at their initial, constant forecast on
// 170 days of hourly data; the trees take every column.
const PRICE_COLUMNS = ['ret_1', 'hl_range', 'oc_range', 'gk_var_1', 'r2_1', 'vol_ratio_24'];
const NEURAL_COLUMNS = [
  ...PRICE_COLUMNS,
  'gk_var_6', 'gk_var_same_hour_7d', 'rv_d', 'rv_w', 'rv_m', 'gk_vol_24', 'pk_vol_24', 'logret_24',
  'hour_sin', 'hour_cos', 'weekday_sin', 'weekday_cos', 'lm_jump',
];

// Ensembles over the strongest families (members must be models of the protocol).
const ENSEMBLE_MEMBERS = ['har_x', 'garch', 'lightgbm', 'xgboost', 'lstm', 'bilstm_attn', 'sph_net'];
const ENSEMBLES: { name: string; method: 'equal' | 'qlike' | 'select'; members: string[] }[] = [
  { name: 'ens_equal', method: 'equal', members: ENSEMBLE_MEMBERS },
  { name: 'ens_qlike', method: 'qlike', members: ENSEMBLE_MEMBERS },
];

export const volcastConfig = {
  temporal: {
    address: '127.0.0.1:7233',
    namespace: 'default',
    uiPort: 8233,
    tls: null,
  },
  taskQueues,
  minio: {
    endPoint: '127.0.0.1',
    port: 9000,
    consolePort: 9001,
    useSSL: false,
    region: 'us-east-1',
    bucket: 'volcast',
  },
  stateDir: '.state/dev',
  exchanges: [{ id: 'binance', urlOverride: null }],
  symbols: ['BTC/USDT', 'ETH/USDT'],
  timeframes: ['1h'],
  ingest: {
    concurrency: 4,
    pageLimit: 1000,
    monthsPerActivity: 12,
    requestTimeoutMs: 10_000,
    rateLimitMs: null,
  },
  targets: ['target_gk_1h', 'target_rv_24h'],
  // Implied volatility (Deribit DVOL, an index series of the lake: docs/lake.md) as a feature input,
  // read point in time (lib/features/implied.ts). BTC/USDT: the hourly BTC DVOL. ETH/USDT: the daily
  // ETH DVOL, known from each day's close (Deribit's hourly ETH DVOL is not in the shared data; a
  // backfill through ccxt can fetch it, then map ETH/USDT to ETH/DVOL 1h). Other coins: none.
  features: {
    implied: {
      'BTC/USDT': { exchange: 'deribit', symbol: 'BTC/DVOL', timeframe: '1h' },
      'ETH/USDT': { exchange: 'deribit', symbol: 'ETH/DVOL', timeframe: '1d' },
    },
  },
  // Temporal Schedules (UTC). Scoring runs 5 minutes after each hourly bar closes, so the exchange
  // has published the bar. Overlap SKIP: a forecast still running when the next hour comes is not
  // doubled; the next run scores the newest bar anyway. Catch-up 1h: after an outage only the most
  // recent missed hour is worth scoring, older forecasts are stale by the time they would run.
  // Training runs daily at 00:30; SKIP because two trainings at once would race for promotion, and
  // a 6h catch-up lets a short outage still retrain the same day.
  // Housekeeping runs daily at 03:45, away from the training's start; SKIP because one run at a
  // time suffices (a second would plan the same deletions); a 12h catch-up: any time of day will do.
  schedules: {
    score: { cron: '5 * * * *', paused: false, overlap: 'SKIP', catchupWindow: '1h' },
    train: { cron: '30 0 * * *', paused: false, overlap: 'SKIP', catchupWindow: '6h' },
    housekeeping: { cron: '45 3 * * *', paused: false, overlap: 'SKIP', catchupWindow: '12h' },
  },
  // Retention (volcast data cleanup and the housekeeping schedule; docs/design.md, Retention). Kept
  // always: what a current champion or any champion-history record names (its model, run, and for
  // the current one its feature set: rollback and the read API need them), predictions, the registry,
  // candle manifests and the partitions they name. Beyond that:
  // - grace: nothing younger is deleted. An in-flight train's plan and fits, or a score's feature
  //   set, are referenced only once the run finishes; 48h covers the longest training by far.
  // - keepTrainRuns: the last 3 evaluated runs per series × target keep their fits and feature set
  //   (the next run reuses the newest one's fits; older ones let a report be re-checked).
  // - historyFeatureSets: false: a past champion's feature set only reproduces that fit; scoring
  //   after a rollback builds fresh features. One per day and series would otherwise be kept forever.
  housekeeping: { grace: '48h', keepTrainRuns: 3, historyFeatureSets: false },
  // A forecast from data older than this fails clearly instead of pretending to be current. The
  // bar that just closed may reach the exchange's API a little late: scoring re-ingests every 30 s
  // for up to 10 minutes before it gives up on that bar (the next hourly run scores the next one).
  scoring: { maxDataAgeMinutes: 120, lateBarWaitMinutes: 10, lateBarRetrySeconds: 30 },
  // Every model the protocols may use: kind and hyper-parameters (the trainer fills in its defaults).
  models: {
    persistence: { kind: 'persistence', params: {} },
    ewma: { kind: 'ewma', params: { lambda: 0.94 } },
    har_rv: { kind: 'har_rv', params: {} },
    log_har: { kind: 'log_har', params: {} },
    har_x: { kind: 'har_x', params: {} },
    // HAR-X with implied volatility: log(iv_var_1), the DVOL level as a per-bar variance, and its 24-bar
    // log change (used on a fold only where the plan keeps them; docs/results.md "DVOL").
    har_x_iv: { kind: 'har_x', params: { extraLogColumns: ['iv_var_1'], extraColumns: ['dvol_chg_24'] } },
    garch: { kind: 'garch', params: {} },
    lightgbm: { kind: 'lightgbm', params: { num_leaves: 15, learning_rate: 0.05, num_boost_round: 400, early_stopping_rounds: 30 } },
    lstm: { kind: 'lstm', params: { window: 24, hidden: 16, epochs: 30, patience: 5, columns: NEURAL_COLUMNS } },
    xgboost: { kind: 'xgboost', params: {} },
    // HAR-X with LightGBM on its residual (models/residual.py): the trees start from HAR-X.
    har_x_gbm: { kind: 'har_x_gbm', params: {} },
    // The same LSTM trained on QLIKE (the evaluation's loss) instead of MSE on the log variance.
    lstm_qlike: { kind: 'lstm', params: { window: 24, hidden: 16, epochs: 30, patience: 5, loss: 'qlike', columns: NEURAL_COLUMNS } },
    // Pooled (panel) trees and LSTM (docs/model-contract.md, Pooled fits): one booster / net per fold over the
    // training rows of every series of the run's feature set, each series normalised with its own
    // training-window statistics; scored, evaluated and promoted per series like any spec.
    lightgbm_pooled: { kind: 'lightgbm', params: { num_leaves: 15, learning_rate: 0.05, num_boost_round: 400, early_stopping_rounds: 30, pooled: true } },
    xgboost_pooled: { kind: 'xgboost', params: { pooled: true } },
    lstm_pooled: { kind: 'lstm', params: { window: 24, hidden: 16, epochs: 30, patience: 5, columns: NEURAL_COLUMNS, pooled: true } },
    lstm_jump: { kind: 'lstm_jump', params: { window: 24, hidden: 16, epochs: 30, patience: 5, jumpWeight: 2, columns: NEURAL_COLUMNS } },
    bilstm_attn: { kind: 'bilstm_attn', params: { window: 24, hidden: 16, epochs: 30, patience: 5, sigma: true, columns: NEURAL_COLUMNS } },
    // SPH-Net sized for a 2-core CPU: window 24 / d_model 16 / 2 heads / 1 layer / 12 epochs fits
    // 170 days in ~16 s (window 48 / 32 / 4 / 2 / 20 epochs took ~200 s, the trainer's defaults of
    // 72 / 128 / 8 / 4 far more); sph_net_full is the full size, for a GPU.
    sph_net: {
      kind: 'sph_net',
      params: { window: 24, dModel: 16, heads: 2, layers: 1, dropout: 0.1, epochs: 12, priceColumns: PRICE_COLUMNS, columns: NEURAL_COLUMNS },
    },
    sph_net_full: {
      kind: 'sph_net',
      params: { window: 72, dModel: 128, heads: 8, layers: 4, dropout: 0.15, priceColumns: PRICE_COLUMNS, columns: NEURAL_COLUMNS },
    },
  },
  protocols: {
    // (a) The seed's protocol: its holdout is the seed's split (train on 170 days, test the last 10),
    // next-bar GK volatility; two 10-day validation folds before it (each with its own 170 days of
    // training) choose the challenger and the best baseline, so choosing and judging use other rows.
    // Ten days are 10 independent day-long windows: too few for the gates to judge on (they need 30),
    // so (a) measures and compares but never promotes; the daily schedule runs `scheduled`.
    a: {
      description: 'seed protocol: holdout = train 170 days, test the last 10; two 10-day validation folds before it; next-bar Garman-Klass volatility',
      targets: ['target_gk_1h'],
      lookbackBars: 200 * 24,
      walkForward: { firstTrainBars: 170 * 24, testBars: 240, stepBars: 240, window: 'rolling', embargoBars: 0, folds: 3 },
      models: ['persistence', 'ewma', 'har_rv', 'log_har', 'har_x', 'garch', 'lightgbm', 'xgboost', 'lstm', 'lstm_jump', 'bilstm_attn', 'sph_net'],
      ensembles: [...ENSEMBLES],
      seed: 7,
    },
    // (b) Multi-year walk-forward on next-24h realized volatility: one-year rolling training
    // windows, 90-day test windows stepping by 90 days over every year of data (quarterly rather than
    // monthly steps, so the neural fits stay within a working day on 2 CPU cores; same rows scored).
    b: {
      description: 'multi-year walk-forward: 1-year rolling train, 90-day test windows every 90 days, next-24h realized volatility',
      targets: ['target_rv_24h'],
      lookbackBars: null,
      walkForward: { firstTrainBars: 365 * 24, testBars: 90 * 24, stepBars: 90 * 24, window: 'rolling', embargoBars: 24 },
      models: ['persistence', 'ewma', 'har_rv', 'log_har', 'har_x', 'garch', 'lightgbm', 'xgboost', 'lstm', 'lstm_jump', 'bilstm_attn', 'sph_net'],
      ensembles: [...ENSEMBLES],
      seed: 7,
    },
    // The long protocol (issue 10): every year of data, expanding training windows refitted every 30
    // days, 30-day test windows from 2020-01-01 (the same windows for every series, ~77 folds to
    // 2026), embargo 24 bars, both targets. Heavy: meant for bench:train with --models, or a GPU.
    long: {
      description: 'long walk-forward: expanding train from the first bar, 30-day test windows every 30 days from 2020-01-01, embargo 24 bars; both targets',
      targets: ['target_gk_1h', 'target_rv_24h'],
      lookbackBars: null,
      walkForward: { firstTrainBars: 365 * 24, testBars: 720, stepBars: 720, window: 'expanding', embargoBars: 24, testFrom: '2020-01-01' },
      // Pooled beside per-series trees: the same folds, the same gates (train it over many symbols).
      models: ['persistence', 'ewma', 'har_rv', 'log_har', 'har_x', 'garch', 'lightgbm', 'xgboost', 'har_x_gbm', 'lightgbm_pooled', 'xgboost_pooled', 'lstm', 'lstm_qlike', 'lstm_pooled', 'lstm_jump', 'bilstm_attn', 'sph_net'],
      // ens_select: per fold, the spec with the lowest QLIKE on the earlier folds' out-of-sample rows.
      ensembles: [...ENSEMBLES, { name: 'ens_select', method: 'select', members: ['har_x', 'har_x_gbm', 'lightgbm', 'xgboost'] }],
      seed: 7,
    },
    // What the daily schedule (and the main job) runs, on both targets: two 30-day validation folds
    // and a 30-day holdout, each trained on the 170 days before it. 30 days is the shortest holdout
    // the gates judge on (promotion.minHoldoutWindows: 30 independent day-long windows); the cost is
    // three fits per model, as with 10-day folds.
    scheduled: {
      description: 'daily retraining: two 30-day validation folds and a 30-day holdout, each trained on the 170 days before it; both targets',
      targets: ['target_gk_1h', 'target_rv_24h'],
      lookbackBars: 260 * 24,
      walkForward: { firstTrainBars: 170 * 24, testBars: 720, stepBars: 720, window: 'rolling', embargoBars: 0, folds: 3 },
      models: ['persistence', 'ewma', 'har_rv', 'log_har', 'har_x', 'garch', 'lightgbm', 'xgboost', 'lstm', 'lstm_jump', 'bilstm_attn', 'sph_net'],
      ensembles: [...ENSEMBLES],
      seed: 7,
    },
  },
  // The read API and dashboard (volcast serve; docs/api.md): loopback only unless a bearer token
  // is set (VOLCAST_API_TOKEN); VOLCAST_API_HOST / VOLCAST_API_PORT override host and port.
  api: { host: '127.0.0.1', port: 8300, dashboardDays: 7, maxPageSize: 5000 },
  // The gates (docs/lifecycle.md, docs/gate-statistics.md; calibrated by simulation in
  // test/calibration/gate.test.ts and bench/gate_study.ts). A challenger must lower the holdout
  // QLIKE by 1%, with a one-sided HLN Diebold-Mariano p below 0.01 against the incumbent and the best
  // baseline, and Hansen's SPA (2000 bootstrap draws) below 0.005 over every eligible candidate, on
  // a holdout of at least 30 independent day-long windows (720 hourly rows). The p-values are strict
  // because both tests over-reject on persistent, overlapping loss differentials: at 5% the simulated
  // nulls were promoted in 6-17% of trials, at these levels in at most 4%.
  promotion: {
    primaryLoss: 'qlike',
    minImprovement: 0.01,
    dmPValue: 0.01,
    spaPValue: 0.005,
    spaReps: 2000,
    minHoldoutWindows: 30,
    seed: 20240601,
  },
} satisfies VolcastConfigInput;
