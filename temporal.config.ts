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
  ingest: {
    concurrency: 4,
    pageLimit: 1000,
    monthsPerActivity: 12,
    requestTimeoutMs: 10_000,
    rateLimitMs: null,
  },
  schedules: {
    score: { cron: '5 * * * *', paused: false },
    train: { cron: '30 0 * * *', paused: false },
  },
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
