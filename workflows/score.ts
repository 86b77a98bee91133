/**
 * The score workflow (hourly schedule): latest candles → features → the champion's forecast for
 * the newest closed bar of every symbol and target → predictions/. Every pair is attempted; the
 * run then fails, naming each pair that could not be scored (no champion, stale data, …).
 */
import { ActivityFailure, ApplicationFailure, workflowInfo } from '@temporalio/workflow';
import type { ScoreLatestResult, Series } from '../contracts/activities';
import { acts } from './proxies';
import type { ScoreInput, ScoreResult } from '../contracts/types';
export type { ScoreInput, ScoreResult };

export async function score(input: ScoreInput): Promise<ScoreResult> {
  const asOf = input.now ?? workflowInfo().runStartTime.getTime();
  const series: Series[] = input.symbols.map((symbol) => ({ exchange: input.exchange, symbol, timeframe: input.timeframe }));
  if (input.ingest !== false) {
    await Promise.all(series.map((s) => acts.ingest({ exchange: s.exchange, symbol: s.symbol, timeframe: s.timeframe, now: asOf })));
  }
  // Three monthly partitions hold well over the longest feature window (720 bars) before the newest bar.
  const features = await acts.buildFeatures({ series, recentMonths: 3 });
  const featureDefinitionsSha = features.definitionsSha;
  const forecasts: ScoreLatestResult['record'][] = [];
  const failures: string[] = [];
  await Promise.all(
    features.series.flatMap((fs) =>
      input.targets.map(async (target) => {
        try {
          const r = await acts.scoreLatest({ series: fs.series, target, featuresRef: fs.ref, featureSetId: features.featureSetId, featureDefinitionsSha, asOf, maxDataAgeMinutes: input.maxDataAgeMinutes });
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
