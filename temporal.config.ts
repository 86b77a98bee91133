/**
 * volcast configuration: the one declared object (DESIGN.md, Configuration).
 *
 * This file is plain data so that workflow code can import `taskQueues` without pulling in
 * validation or Node APIs (workflow bundles must stay deterministic and free of I/O).
 * lib/config.ts validates it, applies environment overrides (addresses, credentials) and is the
 * only way programs read configuration. Credentials never live here: they come from the
 * environment, or from the dev stack's generated file in the state folder.
 */
import type { VolcastConfigInput } from './lib/configSchema';

/** Task-queue names: every activity is registered on exactly one of these (activities/catalog.json). */
export const taskQueues = {
  cpu: 'volcast-cpu',
  trainCpu: 'volcast-train-cpu',
  gpu: 'volcast-gpu',
} as const;

export type QueueRole = keyof typeof taskQueues;

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
  targets: ['target_gk_1h', 'target_rv_24h'],
  // Temporal Schedules (UTC). Scoring runs 5 minutes after each hourly bar closes, so the exchange
  // has published the bar. Overlap SKIP: a forecast still running when the next hour comes is not
  // doubled; the next run scores the newest bar anyway. Catch-up 1h: after an outage only the most
  // recent missed hour is worth scoring, older forecasts are stale by the time they would run.
  // Training runs daily at 00:30; SKIP because two trainings at once would race for promotion, and
  // a 6h catch-up lets a short outage still retrain the same day.
  schedules: {
    score: { cron: '5 * * * *', paused: false, overlap: 'SKIP', catchupWindow: '1h' },
    train: { cron: '30 0 * * *', paused: false, overlap: 'SKIP', catchupWindow: '6h' },
  },
  // A forecast from data older than this fails clearly instead of pretending to be current.
  scoring: { maxDataAgeMinutes: 120 },
  walkForward: {
    firstTrainBars: 24 * 170,
    testBars: 240,
    stepBars: 240,
    window: 'expanding',
    embargoBars: 24,
  },
  promotion: {
    primaryLoss: 'qlike',
    minImprovement: 0.01,
    dmPValue: 0.1,
  },
} satisfies VolcastConfigInput;
