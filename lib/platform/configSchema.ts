/** The schema of volcast's configuration. Every program validates against it before doing anything. */
import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';
import { isPoolableKind, MODEL_KIND_NAMES, MODEL_KINDS, TIMEFRAMES, TRAINABLE_TARGETS } from '../../contracts/domain';

const hostPort = z
  .string()
  .regex(/^[A-Za-z0-9.\-\[\]:]+:\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:7233');
const port = z.number().int().min(1).max(65535);
const queueName = z.string().regex(/^[a-z0-9][a-z0-9.\-]*$/, 'lower-case letters, digits, "." and "-"');
// Symbols as ccxt writes them (BTC/USDT); the layout stores them without the slash.
const symbol = z.string().regex(/^[A-Z0-9]{2,15}\/[A-Z0-9]{2,15}$/, 'expected BASE/QUOTE, e.g. BTC/USDT');
const timeframe = z.enum(TIMEFRAMES);
// Five-field cron (minute hour day-of-month month day-of-week, UTC), checked by cron-parser: each
// field's range (minute 0-59, hour 0-23, day 1-31, month 1-12 or JAN-DEC, weekday 0-7 or SUN-SAT)
// and syntax (*, lists, ranges, steps). Characters Temporal Schedules read differently or refuse
// (L, W, #, ?, H) are refused here, so that a config that loads is one `schedules apply` accepts.
const CRON_FIELDS = ['minute', 'hour', 'day of month', 'month', 'day of week'];
const CRON_NAMES = /JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC|SUN|MON|TUE|WED|THU|FRI|SAT/gi;
const cron = z.string().superRefine((v, ctx) => {
  const fields = v.trim().split(/\s+/);
  if (fields.length !== 5) {
    ctx.addIssue({ code: 'custom', message: `expected a five-field cron expression (${CRON_FIELDS.join(' ')}), got ${fields.length} field(s) in ${JSON.stringify(v)}` });
    return;
  }
  for (const [i, f] of fields.entries()) {
    // Month and weekday may be named; nothing else but digits and * , - /.
    if (!/^[0-9*,/\-]+$/.test(i >= 3 ? f.replace(CRON_NAMES, '0') : f)) {
      ctx.addIssue({ code: 'custom', message: `invalid cron expression ${JSON.stringify(v)}: the ${CRON_FIELDS[i]} field ${JSON.stringify(f)} may hold only digits, *, ',', '-', '/'${i >= 3 ? ' and names (JAN-DEC, SUN-SAT)' : ''}` });
      return;
    }
  }
  try {
    CronExpressionParser.parse(v, { tz: 'UTC' });
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `invalid cron expression ${JSON.stringify(v)}: ${err instanceof Error ? err.message : String(err)}` });
  }
});
// A model's params.pooled (contracts/types.ts PooledParam): true pools every series of the run's
// feature set, { symbols } a configured universe.
const pooledParam = z.union([
  z.boolean(),
  z.object({ symbols: z.array(symbol).min(1, 'at least one symbol to pool over') }).strict(),
]);
const POOLABLE = MODEL_KIND_NAMES.filter((k) => MODEL_KINDS[k].poolable);
const DURATION = /^(\d+)(ms|s|m|h|d)$/;
const duration = z.string().regex(DURATION, 'expected a duration such as 30m, 1h, 2d');
const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** A config duration ("30m", "48h", "2d") in ms. */
export function durationMs(v: string): number {
  const m = DURATION.exec(v);
  if (!m) throw new RangeError(`expected a duration such as 30m, 1h, 2d, got ${JSON.stringify(v)}`);
  return Number(m[1]) * UNIT_MS[m[2] as keyof typeof UNIT_MS];
}

// An in-flight run's objects are referenced only once it is evaluated (a train's plan.json and fits
// before its metrics.json; a score's feature set before its forecast): nothing younger than the
// grace period is deleted. Six hours is the floor (a fit may run that long: contracts/activities.json);
// the grace should exceed the longest a whole training takes.
const MIN_GRACE = '6h';
const retention = z
  .object({
    grace: duration.refine((v) => !DURATION.test(v) || durationMs(v) >= durationMs(MIN_GRACE), `must be at least ${MIN_GRACE}: a run in flight (a fit may run 6 hours) has objects nothing references yet`),
    keepTrainRuns: z.number().int().min(1, 'at least 1: the newest evaluated run of each series × target holds the fits the next run reuses').max(1000),
    historyFeatureSets: z.boolean(),
  })
  .strict();
const schedule = z
  .object({
    cron,
    paused: z.boolean(),
    overlap: z.enum(['SKIP', 'BUFFER_ONE', 'BUFFER_ALL', 'CANCEL_OTHER', 'TERMINATE_OTHER', 'ALLOW_ALL']),
    catchupWindow: duration,
  })
  .strict();
const walkForward = z
  .object({
    firstTrainBars: z.number().int().positive(),
    testBars: z.number().int().positive(),
    stepBars: z.number().int().positive(),
    window: z.enum(['expanding', 'rolling']),
    embargoBars: z.number().int().nonnegative(),
    /** Anchor `folds` test windows at the end of the data instead of tiling from the start (the last is the holdout). */
    folds: z.number().int().min(2, 'at least 2: the validation folds choose, the last (the holdout) judges; one fold cannot do both').optional(),
    /** Tiled folds: the first test window starts on this UTC date or later (the same windows for every series). */
    testFrom: z
      .string()
      .refine((d) => /^\d{4}-\d{2}-\d{2}$/.test(d) && !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d),
        'expected a calendar date YYYY-MM-DD (UTC), e.g. 2020-01-01')
      .optional(),
  })
  .strict()
  .refine((w) => !(w.folds && w.testFrom), { message: 'testFrom tiles test windows from a date; folds anchors them at the end of the data: use one', path: ['testFrom'] });

/** The read API and dashboard (volcast serve). Env overrides: VOLCAST_API_HOST, VOLCAST_API_PORT (lib/api/settings.ts). */
export const apiSchema = z
  .object({
    /** Interface to bind: loopback by default; any other needs a bearer token (VOLCAST_API_TOKEN). */
    host: z.string().regex(/^[A-Za-z0-9.\-:]+$/, 'expected a host name or IP address, e.g. 127.0.0.1'),
    port,
    /** Days of forecasts the dashboard charts per series and target. */
    dashboardDays: z.number().int().min(1).max(90),
    /** Rows one page of forecast history holds at most (the limit parameter's ceiling). */
    maxPageSize: z.number().int().min(1).max(100_000),
  })
  .strict();

export const configSchema = z
  .object({
    temporal: z
      .object({
        address: hostPort,
        namespace: z.string().min(1),
        uiPort: port,
        tls: z
          .object({ certPath: z.string().min(1), keyPath: z.string().min(1), caPath: z.string().optional() })
          .nullable(),
      })
      .strict(),
    taskQueues: z.object({ cpu: queueName, trainCpu: queueName, gpu: queueName }).strict(),
    minio: z
      .object({
        endPoint: z.string().min(1),
        port,
        consolePort: port,
        useSSL: z.boolean(),
        region: z.string().min(1),
        bucket: z.string().regex(/^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$/, 'not a valid S3 bucket name'),
        accessKey: z.string().min(3).optional(),
        secretKey: z.string().min(8).optional(),
      })
      .strict(),
    stateDir: z.string().min(1),
    exchanges: z
      .array(z.object({ id: z.string().regex(/^[a-z0-9]+$/), urlOverride: z.string().url().nullable() }).strict())
      .min(1),
    symbols: z.array(symbol).min(1),
    timeframes: z.array(timeframe).min(1),
    ingest: z
      .object({
        /** Symbols a backfill ingests at once (child workflows running together). */
        concurrency: z.number().int().min(1).max(64),
        /** Candles per exchange request (Binance: at most 1000). */
        pageLimit: z.number().int().min(1).max(1000),
        /** Months one ingest activity covers in a backfill (its unit of retry and progress). */
        monthsPerActivity: z.number().int().min(1).max(120),
        requestTimeoutMs: z.number().int().min(100).max(120_000),
        /** ccxt's delay between requests in ms; null keeps the exchange's own (binance: 50 ms per weight). */
        rateLimitMs: z.number().int().min(0).max(60_000).nullable(),
      })
      .strict(),
    targets: z.array(z.enum(TRAINABLE_TARGETS)).min(1),
    /**
     * Feature inputs beyond a series' own candles. implied: per symbol, the implied-volatility index
     * series of the lake its rows read point in time (lib/features/implied.ts); symbols without one
     * get NULL implied features (the plan then leaves them out).
     */
    features: z
      .object({
        implied: z.record(symbol, z.object({ exchange: z.string().regex(/^[a-z0-9]+$/), symbol, timeframe }).strict()).default({}),
      })
      .strict()
      .default({ implied: {} }),
    schedules: z.object({ score: schedule, train: schedule, housekeeping: schedule }).strict(),
    /** What housekeeping (volcast data cleanup, the daily schedule) keeps; docs/design.md Retention. */
    housekeeping: retention,
    scoring: z
      .object({
        maxDataAgeMinutes: z.number().int().positive(),
        /** How long scoring waits for the bar that just closed to be published, re-ingesting. */
        lateBarWaitMinutes: z.number().min(0).max(60),
        lateBarRetrySeconds: z.number().int().min(1).max(600),
      })
      .strict(),
    models: z.record(
      z.string().regex(/^[a-z][a-z0-9_]*$/, 'model names: lower-case letters, digits, _'),
      z.object({ kind: z.enum(MODEL_KIND_NAMES), params: z.record(z.string(), z.unknown()) }).strict(),
    ),
    protocols: z.record(
      z.string().regex(/^[a-z][a-z0-9_]*$/),
      z
        .object({
          description: z.string(),
          targets: z.array(z.enum(TRAINABLE_TARGETS)).min(1),
          /** Use only the last N bars of history (null: all of it). */
          lookbackBars: z.number().int().positive().nullable(),
          walkForward,
          models: z.array(z.string()).min(1),
          /** Ensembles over the protocol's models, judged like every model. */
          ensembles: z
            .array(z.object({ name: z.string().regex(/^[a-z][a-z0-9_]*$/), method: z.enum(['equal', 'qlike', 'select']), members: z.array(z.string()).min(2) }).strict())
            .default([]),
          seed: z.number().int().nonnegative(),
        })
        .strict(),
    ),
    api: apiSchema.default({ host: '127.0.0.1', port: 8300, dashboardDays: 7, maxPageSize: 5000 }),
    promotion: z
      .object({
        primaryLoss: z.enum(['qlike', 'mse']),
        minImprovement: z.number().min(0).max(1),
        dmPValue: z.number().gt(0).lt(1),
        spaPValue: z.number().gt(0).lte(1),
        spaReps: z.number().int().min(100).max(100_000),
        /** A holdout shorter than this many independent windows (max(h, a day of bars) rows each) cannot promote. */
        minHoldoutWindows: z.number().min(0),
        seed: z.number().int().nonnegative(),
      })
      .strict(),
  })
  .strict()
  .superRefine((c, ctx) => {
    const names = Object.values(c.taskQueues);
    if (new Set(names).size !== names.length) {
      ctx.addIssue({ code: 'custom', path: ['taskQueues'], message: 'task queue names must be distinct' });
    }
    for (const [name, m] of Object.entries(c.models)) {
      if (!('pooled' in m.params)) continue;
      const path = ['models', name, 'params', 'pooled'];
      const parsed = pooledParam.safeParse(m.params.pooled);
      if (!parsed.success) {
        ctx.addIssue({ code: 'custom', path, message: `expected true, false or { symbols: [BASE/QUOTE, …] }: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'value'}: ${i.message}`).join('; ')}` });
      } else if (parsed.data !== false && !isPoolableKind(m.kind)) {
        ctx.addIssue({ code: 'custom', path, message: `model kind ${m.kind} cannot be pooled (poolable kinds: ${POOLABLE.join(', ')})` });
      }
    }
    for (const [name, p] of Object.entries(c.protocols)) {
      p.models.forEach((m, i) => {
        if (!(m in c.models)) ctx.addIssue({ code: 'custom', path: ['protocols', name, 'models', i], message: `unknown model ${m} (not in models)` });
      });
      p.ensembles.forEach((e, i) => {
        e.members.forEach((m, j) => {
          if (!p.models.includes(m)) ctx.addIssue({ code: 'custom', path: ['protocols', name, 'ensembles', i, 'members', j], message: `ensemble member ${m} is not one of the protocol's models` });
        });
        if (p.models.includes(e.name)) ctx.addIssue({ code: 'custom', path: ['protocols', name, 'ensembles', i, 'name'], message: `ensemble ${e.name} has the name of a model` });
      });
    }
    if (!('scheduled' in c.protocols)) {
      ctx.addIssue({ code: 'custom', path: ['protocols'], message: 'a "scheduled" protocol is required: the daily training schedule runs it' });
    }
    if (c.minio.port === c.minio.consolePort) {
      ctx.addIssue({ code: 'custom', path: ['minio', 'consolePort'], message: 'must differ from minio.port' });
    }
  });

export type VolcastConfigInput = z.input<typeof configSchema>;
export type VolcastConfig = z.output<typeof configSchema>;
