/**
 * Workflow inputs built from config, in one place: the CLI, the schedules, the main job and the
 * benches all start train, score and backfill runs through these functions. Workflow code cannot
 * read config, so everything a run decides with (protocol, promotion gates, scoring limits) is
 * resolved here into its input: a run's decisions depend on its input alone, and the Web UI shows it.
 */
import type { BackfillInput, HousekeepingInput, RetentionPolicy, ScoreInput, Series, TrainInput } from '../../contracts/types';
import type { VolcastConfig } from '../platform/config';
import { durationMs } from '../platform/configSchema';
import { resolveProtocol } from '../training/protocols';

/** The exchange runs use when none is named: the first configured one. */
export function defaultExchange(cfg: VolcastConfig): string {
  return cfg.exchanges[0]!.id;
}

/** The timeframe runs use when none is named: the first configured one. */
export function defaultTimeframe(cfg: VolcastConfig): string {
  return cfg.timeframes[0]!;
}

/** A series of the configured defaults, with whatever the caller names instead. */
export function seriesOf(cfg: VolcastConfig, symbol: string, opts: { exchange?: string; timeframe?: string } = {}): Series {
  return { exchange: opts.exchange ?? defaultExchange(cfg), symbol, timeframe: opts.timeframe ?? defaultTimeframe(cfg) };
}

/** cfg with the default exchange served from another URL (the replay exchange of the main job and tests). */
export function withExchangeUrl(cfg: VolcastConfig, url: string): VolcastConfig {
  return { ...cfg, exchanges: cfg.exchanges.map((e, i) => (i === 0 ? { ...e, urlOverride: url } : e)) };
}

export interface TrainOptions {
  protocol?: string;
  symbols?: string[];
  models?: string[];
  targets?: string[];
  exchange?: string;
  timeframe?: string;
  now?: number;
  ingest?: boolean;
  promote?: boolean;
  runId?: string;
}

export function trainInput(cfg: VolcastConfig, opts: TrainOptions = {}): TrainInput {
  const protocol = resolveProtocol(cfg, opts.protocol ?? 'scheduled', { models: opts.models, targets: opts.targets });
  return {
    exchange: opts.exchange ?? defaultExchange(cfg),
    symbols: opts.symbols ?? cfg.symbols,
    timeframe: opts.timeframe ?? defaultTimeframe(cfg),
    protocol,
    gates: { ...cfg.promotion },
    ...(opts.now !== undefined ? { now: opts.now } : {}),
    ...(opts.ingest !== undefined ? { ingest: opts.ingest } : {}),
    ...(opts.promote !== undefined ? { promote: opts.promote } : {}),
    ...(opts.runId !== undefined ? { runId: opts.runId } : {}),
  };
}

export interface ScoreOptions {
  symbols?: string[];
  targets?: string[];
  exchange?: string;
  timeframe?: string;
  now?: number;
  ingest?: boolean;
}

export function scoreInput(cfg: VolcastConfig, opts: ScoreOptions = {}): ScoreInput {
  return {
    exchange: opts.exchange ?? defaultExchange(cfg),
    symbols: opts.symbols ?? cfg.symbols,
    timeframe: opts.timeframe ?? defaultTimeframe(cfg),
    targets: opts.targets ?? cfg.targets,
    maxDataAgeMinutes: cfg.scoring.maxDataAgeMinutes,
    lateBarWaitMinutes: cfg.scoring.lateBarWaitMinutes,
    lateBarRetrySeconds: cfg.scoring.lateBarRetrySeconds,
    ...(opts.now !== undefined ? { now: opts.now } : {}),
    ...(opts.ingest !== undefined ? { ingest: opts.ingest } : {}),
  };
}

export interface BackfillOptions {
  symbols?: string[];
  exchange?: string;
  timeframe?: string;
  from: number;
  to?: number;
  now?: number;
  refetch?: boolean;
}

export function backfillInput(cfg: VolcastConfig, opts: BackfillOptions): BackfillInput {
  return {
    symbols: opts.symbols ?? cfg.symbols,
    timeframe: opts.timeframe ?? defaultTimeframe(cfg),
    exchange: opts.exchange ?? defaultExchange(cfg),
    from: opts.from,
    concurrency: cfg.ingest.concurrency,
    monthsPerActivity: cfg.ingest.monthsPerActivity,
    ...(opts.to !== undefined ? { to: opts.to } : {}),
    ...(opts.now !== undefined ? { now: opts.now } : {}),
    ...(opts.refetch !== undefined ? { refetch: opts.refetch } : {}),
  };
}

/** The retention policy of temporal.config.ts housekeeping, in the units the planner reads. */
export function retentionPolicy(cfg: VolcastConfig): RetentionPolicy {
  const h = cfg.housekeeping;
  return { graceMs: durationMs(h.grace), keepTrainRuns: h.keepTrainRuns, historyFeatureSets: h.historyFeatureSets };
}

export function housekeepingInput(cfg: VolcastConfig, opts: { dryRun?: boolean; now?: number } = {}): HousekeepingInput {
  return { policy: retentionPolicy(cfg), dryRun: opts.dryRun ?? false, ...(opts.now !== undefined ? { now: opts.now } : {}) };
}
