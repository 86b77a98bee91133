/**
 * The score workflow (hourly schedule): latest candles → features → the champion's forecast for
 * the newest closed bar of every symbol and target → predictions/. Every pair is attempted; the
 * run then fails, naming each pair that could not be scored (no champion, stale data, …).
 */
import { ActivityFailure, ApplicationFailure, proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { TsActivities } from '../activities';
import type { ScoreLatestResult } from '../activities/score';
import type { Series } from '../lib/platform/layout';
import { taskQueues } from '../temporal.config';
import { retryPolicy } from './retry';

const cpu = proxyActivities<TsActivities>({
  taskQueue: taskQueues.cpu,
  startToCloseTimeout: '20 minutes',
  heartbeatTimeout: '2 minutes',
  retry: retryPolicy,
});

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

export async function score(input: ScoreInput): Promise<ScoreResult> {
  const asOf = input.now ?? workflowInfo().runStartTime.getTime();
  const series: Series[] = input.symbols.map((symbol) => ({ exchange: input.exchange, symbol, timeframe: input.timeframe }));
  if (input.ingest !== false) {
    await Promise.all(series.map((s) => cpu.ingest({ exchange: s.exchange, symbol: s.symbol, timeframe: s.timeframe, now: asOf })));
  }
  // Three monthly partitions hold well over the longest feature window (720 bars) before the newest bar.
  const features = await cpu.buildFeatures({ series, recentMonths: 3 });
  const featureDefinitionsSha = await cpu.featureDefinitionsSha();
  const forecasts: ScoreLatestResult['record'][] = [];
  const failures: string[] = [];
  await Promise.all(
    features.series.flatMap((fs) =>
      input.targets.map(async (target) => {
        try {
          const r = await cpu.scoreLatest({ series: fs.series, target, featuresRef: fs.ref, featureSetId: features.featureSetId, featureDefinitionsSha, asOf, maxDataAgeMinutes: input.maxDataAgeMinutes });
          forecasts.push(r.record);
        } catch (err) {
          const cause = err instanceof ActivityFailure && err.cause ? err.cause.message : String(err);
          failures.push(`${fs.series.symbol} ${target}: ${cause}`);
        }
      }),
    ),
  );
  if (failures.length) {
    throw ApplicationFailure.nonRetryable(`scoring failed for ${failures.length} of ${series.length * input.targets.length}: ${failures.join(' | ')}`, 'ScoreFailed');
  }
  forecasts.sort((a, b) => a.symbol.localeCompare(b.symbol) || a.target.localeCompare(b.target));
  return { asOf, featureSetId: features.featureSetId, forecasts };
}
