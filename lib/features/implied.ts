/**
 * Implied volatility as a feature input (issue 11 item 3): the DVOL index of a series' underlying,
 * read point in time and joined to the candles before the feature stages, as columns of the
 * `candles` relation (IMPLIED_COLUMNS); the definitions (definitions.ts, "Implied volatility") turn
 * them into features.
 *
 * Point in time. An index candle opening at o closes at o + T (T = the index timeframe; Deribit
 * stamps candles with their open time, lib/candles/indexSeries.ts), and only then is its close known.
 * A feature row stamped ts reads candles with open time ≤ ts, i.e. what is known at ts + bar (the
 * close of the candle at ts). So the index value of the row at ts is the close of the latest index
 * candle whose close time o + T ≤ ts + bar:
 *   - hourly DVOL for hourly rows: the candle opening at ts (it closes with the candle at ts);
 *   - daily DVOL for hourly rows: the day that closed last, i.e. the day opening at ≤ ts + bar − 1d
 *     (an ETH hourly row between 00:00 and 22:00 reads the previous day's close; the row at 23:00
 *     reads the close of the day it belongs to, known at 24:00 = ts + bar).
 * `implied_{k}` is the same read at ts − k bars (for the changes). A value older than
 * IMPLIED_MAX_AGE_BARS index bars (close time before ts + bar − IMPLIED_MAX_AGE_BARS·T) is NULL
 * (the index stopped): a stale level would pass for a current one. Before the index starts
 * (DVOL: 2021-03-24) and for series without an index (every coin but those configured) the columns
 * are NULL; the training plan then leaves the features out of a fold whose training rows miss them
 * on more than 1% of rows (lib/training/plan.ts MAX_NULL_SHARE).
 *
 * Which series gets which index is configuration (temporal.config.ts features.implied); a build or a
 * tail is given the index's local Parquet files per candle series.
 */
import { barMsOf } from '../../contracts/domain';
import { queryRows, sqlString, type Duck } from '../platform/duckdb';
import { FeatureInputError } from '../platform/errors';
import type { Series } from '../platform/layout';

/** Columns the join adds to the candles relation: the index level at ts, ts − 24 bars and ts − 168 bars. */
export const IMPLIED_LAGS = [0, 24, 168] as const;
export const IMPLIED_COLUMNS = IMPLIED_LAGS.map((k) => (k === 0 ? 'implied' : `implied_${k}`));
/** An index value older than this many index bars (by its close time) is NULL: the index stopped. */
export const IMPLIED_MAX_AGE_BARS = 2;
/** Calendar days per year of the index's annualization: DVOL annualizes with 365 days (crypto trades every day). */
export const IMPLIED_DAYS_PER_YEAR = 365;

export interface ImpliedInput {
  /** The candle series whose rows get the index. */
  series: Series;
  /** The index series (deribit BTC/DVOL 1h). */
  index: Series;
  /** Local Parquet files of the index (the lake's partitions), any order. */
  files: string[];
}

/** Creates `implied_index` (series: the candle series key, close_ts, close, max_age) from the inputs. */
export async function loadImplied(db: Duck, implied: ImpliedInput[], keyOf: (s: Series) => string): Promise<void> {
  const parts = implied.map(({ series, index, files }) => {
    if (!files.length) throw new FeatureInputError(`no index files for ${index.exchange} ${index.symbol} ${index.timeframe} (the implied volatility of ${keyOf(series)})`);
    const t = barMsOf(index.timeframe);
    return `SELECT ${sqlString(keyOf(series))} AS series, CAST(ts AS BIGINT) + ${t} AS close_ts, CAST(close AS DOUBLE) AS close, ${IMPLIED_MAX_AGE_BARS * t} AS max_age
      FROM read_parquet([${files.map(sqlString).join(', ')}])`;
  });
  const keys = implied.map((i) => keyOf(i.series));
  if (new Set(keys).size !== keys.length) throw new FeatureInputError(`a series has two implied-volatility indexes: ${keys.join(', ')}`);
  await db.run(`CREATE TABLE implied_index AS ${parts.length ? parts.join('\nUNION ALL\n') : 'SELECT NULL::VARCHAR AS series, NULL::BIGINT AS close_ts, NULL::DOUBLE AS close, NULL::BIGINT AS max_age WHERE false'}`);
  const dup = await queryRows<{ series: string; close_ts: bigint }>(db, 'SELECT series, close_ts FROM implied_index GROUP BY ALL HAVING count(*) > 1 LIMIT 1');
  if (dup.length) throw new FeatureInputError(`duplicate index candle closing at ${dup[0]!.close_ts} for ${dup[0]!.series}`);
}

/**
 * `SELECT c.*, implied, implied_24, implied_168 FROM (candles) c` with the point-in-time ASOF joins
 * on implied_index (loadImplied first). An ASOF LEFT JOIN matches at most one index row per candle:
 * the latest close_ts ≤ the instant.
 */
export function withImpliedSql(candles: string, barMs: number): string {
  const joins = IMPLIED_LAGS.map((k, i) => {
    const at = `c.ts + ${barMs - k * barMs}`;
    return `ASOF LEFT JOIN implied_index i${i} ON i${i}.series = c.series AND i${i}.close_ts <= ${at}`;
  });
  const cols = IMPLIED_LAGS.map((k, i) => `CASE WHEN i${i}.close_ts > c.ts + ${barMs - k * barMs} - i${i}.max_age THEN i${i}.close END AS ${IMPLIED_COLUMNS[i]}`);
  return `SELECT c.*, ${cols.join(', ')} FROM (${candles}) c ${joins.join(' ')}`;
}

/** Per candle series key: the index's last open time and rows (what the featureSetId hashes). */
export async function impliedMarks(db: Duck, implied: ImpliedInput[], keyOf: (s: Series) => string): Promise<Record<string, { index: string; watermark: number; rows: number; barMs: number }>> {
  const stats = await queryRows<{ series: string; last: bigint; rows: bigint }>(db, 'SELECT series, max(close_ts) AS last, count(*) AS rows FROM implied_index GROUP BY series');
  const out: Record<string, { index: string; watermark: number; rows: number; barMs: number }> = {};
  for (const i of implied) {
    const key = keyOf(i.series);
    const s = stats.find((x) => x.series === key);
    const t = barMsOf(i.index.timeframe);
    out[key] = { index: `${i.index.exchange}:${i.index.symbol}:${i.index.timeframe}`, watermark: s ? Number(s.last) - t : -1, rows: s ? Number(s.rows) : 0, barMs: t };
  }
  return out;
}

/** The configured implied-volatility index (temporal.config.ts features.implied) of each series of a universe that has one. */
export function impliedFor(implied: Record<string, Series>, universe: Series[]): { series: Series; index: Series }[] {
  return universe.filter((s) => implied[s.symbol]).map((s) => ({ series: s, index: implied[s.symbol]! }));
}
