/**
 * The score workflow (hourly schedule): latest candles → features → the champion's forecast for the
 * bar that closed last at the run's clock, for every symbol and target → predictions/.
 *
 * The bar must be exactly that one: a bar the exchange has not published yet is waited for
 * (re-ingesting every lateBarRetrySeconds, up to lateBarWaitMinutes), then reported late; a bar that
 * had not closed is refused. Every pair is attempted; if any fails, the run fails after writing the
 * others, naming each failure, with the written forecasts in the failure's details.
 */
import { ActivityFailure, ApplicationFailure, patched, setCurrentDetails, sleep, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { barMsOf } from '../contracts/domain';
import type { BuildFeaturesResult, ScoreInput, ScoreLatestResult, ScoreResult, Series } from '../contracts/types';
import { SEARCH_ATTRIBUTES_PATCH, searchAttributes as SA, scoreSummary } from '../lib/api/visibility';
import { acts } from './proxies';

export type { ScoreInput, ScoreResult };

/** Open time of the bar that closed last at `asOf` (its close ≤ asOf). */
export function lastClosedBar(asOf: number, barMs: number): number {
  return Math.floor(asOf / barMs) * barMs - barMs;
}

export async function score(input: ScoreInput): Promise<ScoreResult> {
  const asOf = input.now ?? workflowInfo().runStartTime.getTime();
  const barTs = lastClosedBar(asOf, barMsOf(input.timeframe));
  const series: Series[] = input.symbols.map((symbol) => ({ exchange: input.exchange, symbol, timeframe: input.timeframe }));
  const ingest = input.ingest !== false;
  const waitMs = input.lateBarWaitMinutes * 60_000;
  // Web UI filters (lib/api/visibility.ts); runs started before the patch replay without them.
  if (patched(SEARCH_ATTRIBUTES_PATCH)) upsertSearchAttributes([{ key: SA.symbol, value: [...input.symbols] }, { key: SA.target, value: [...input.targets] }]);
  setCurrentDetails(scoreSummary(input));
  const keyOf = (s: Series, f: BuildFeaturesResult) => f.series.find((x) => x.series.symbol === s.symbol)?.watermark ?? null;

  let features: BuildFeaturesResult;
  for (let waited = 0; ; waited += input.lateBarRetrySeconds * 1000) {
    if (ingest) await Promise.all(series.map((s) => acts.ingest({ exchange: s.exchange, symbol: s.symbol, timeframe: s.timeframe, now: asOf })));
    // Three monthly partitions hold well over the longest feature window (720 bars) before the newest bar.
    features = await acts.buildFeatures({ series, recentMonths: 3 });
    const late = series.filter((s) => (keyOf(s, features) ?? -Infinity) < barTs);
    // Waiting helps only when the exchange may still publish the bar (ingest on, within the wait).
    if (!late.length || !ingest || waited + input.lateBarRetrySeconds * 1000 > waitMs) break;
    await sleep(input.lateBarRetrySeconds * 1000);
  }

  const featureUniverse = Object.keys(features.watermark).sort();
  const forecasts: ScoreLatestResult['record'][] = [];
  const failures: ScoreResult['failures'] = [];
  await Promise.all(
    features.series.flatMap((fs) =>
      input.targets.map(async (target) => {
        try {
          const r = await acts.scoreLatest({
            series: fs.series, target, featuresRef: fs.ref, featureSetId: features.featureSetId, featureDefinitionsSha: features.definitionsSha,
            featureUniverse, asOf, expectedBarTs: barTs, maxDataAgeMinutes: input.maxDataAgeMinutes,
          });
          forecasts.push(r.record);
        } catch (err) {
          const cause = err instanceof ActivityFailure && err.cause ? `${err.cause.name === 'ApplicationFailure' ? ((err.cause as ApplicationFailure).type ?? 'Error') : err.cause.name}: ${err.cause.message}` : String(err);
          failures.push({ symbol: fs.series.symbol, target, error: cause });
        }
      }),
    ),
  );
  forecasts.sort((a, b) => a.symbol.localeCompare(b.symbol) || a.target.localeCompare(b.target));
  failures.sort((a, b) => a.symbol.localeCompare(b.symbol) || a.target.localeCompare(b.target));
  const result: ScoreResult = { asOf, barTs, featureSetId: features.featureSetId, forecasts, failures };
  if (failures.length) {
    throw ApplicationFailure.nonRetryable(
      `scoring failed for ${failures.length} of ${series.length * input.targets.length}: ${failures.map((f) => `${f.symbol} ${f.target}: ${f.error}`).join(' | ')}`,
      'ScoreFailed',
      result,
    );
  }
  return result;
}
