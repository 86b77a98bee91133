/**
 * The score workflow (hourly schedule): latest candles → the champion's forecast for the bar that
 * closed last at the run's clock, for every symbol and target → predictions/. One scoreBar activity
 * computes the newest feature rows from the candle tail (lib/features/tail.ts; no feature set is
 * written) and scores every pair; runs started before SCORE_TAIL_PATCH replay their old command
 * sequence (buildFeatures over three months, one scoreLatest per pair).
 *
 * The bar must be exactly that one: a bar the exchange has not published yet is waited for
 * (re-ingesting every lateBarRetrySeconds, up to lateBarWaitMinutes), then reported late; a bar that
 * had not closed is refused. Every pair is attempted; if any fails, the run fails after writing the
 * others, naming each failure, with the written forecasts in the failure's details.
 */
import { ActivityFailure, ApplicationFailure, patched, setCurrentDetails, sleep, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import { barMsOf } from '../contracts/domain';
import type { BuildFeaturesResult, ScoreBarResult, ScoreInput, ScoreLatestResult, ScoreResult, Series } from '../contracts/types';
import { SEARCH_ATTRIBUTES_PATCH, searchAttributes as SA, scoreSummary } from '../lib/api/visibility';
import { acts } from './proxies';

export type { ScoreInput, ScoreResult };

/**
 * Patch id of the tail score path (scoreBar). The workflow runs hourly, so a run may be in flight
 * across a deploy: one started before replays buildFeatures + scoreLatest, kept below unchanged.
 */
export const SCORE_TAIL_PATCH = 'volcast-score-tail-v1';

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
  const retryMs = input.lateBarRetrySeconds * 1000;
  if (patched(SCORE_TAIL_PATCH)) {
    let r: ScoreBarResult;
    for (let waited = 0; ; waited += retryMs) {
      if (ingest) await Promise.all(series.map((s) => acts.ingest({ exchange: s.exchange, symbol: s.symbol, timeframe: s.timeframe, now: asOf })));
      // Waiting helps only when the exchange may still publish the bar (ingest on, within the wait):
      // until then scoreBar returns without scoring when a series is late; the last try scores and reports it.
      const last = !ingest || waited + retryMs > waitMs;
      r = await acts.scoreBar({ series, targets: input.targets, asOf, expectedBarTs: barTs, maxDataAgeMinutes: input.maxDataAgeMinutes, scoreLate: last });
      if (r.scored) break;
      await sleep(retryMs);
    }
    return finish({ asOf, barTs, featureSetId: null, forecasts: r.records, failures: r.failures }, series.length * input.targets.length);
  }
  const keyOf = (s: Series, f: BuildFeaturesResult) => f.series.find((x) => x.series.symbol === s.symbol)?.watermark ?? null;

  let features: BuildFeaturesResult;
  for (let waited = 0; ; waited += retryMs) {
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
  return finish({ asOf, barTs, featureSetId: features.featureSetId, forecasts, failures }, series.length * input.targets.length);
}

/** Sorted forecasts and failures; any failure fails the run, with the written forecasts in its details. */
function finish(r: ScoreResult, pairs: number): ScoreResult {
  const byPair = (a: { symbol: string; target: string }, b: { symbol: string; target: string }) => a.symbol.localeCompare(b.symbol) || a.target.localeCompare(b.target);
  const result: ScoreResult = { ...r, forecasts: [...r.forecasts].sort(byPair), failures: [...r.failures].sort(byPair) };
  if (result.failures.length) {
    throw ApplicationFailure.nonRetryable(
      `scoring failed for ${result.failures.length} of ${pairs}: ${result.failures.map((f) => `${f.symbol} ${f.target}: ${f.error}`).join(' | ')}`,
      'ScoreFailed',
      result,
    );
  }
  return result;
}
