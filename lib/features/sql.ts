/**
 * Turns DEFINITIONS into one DuckDB query: one CTE per stage, each adding its columns to the
 * previous stage's, with the named windows the expressions use. Reads a relation `candles`
 * (series, exchange, symbol, ts, open, high, low, close, volume) and yields ts + output columns.
 */
import { BENCHMARK_SYMBOL, DEFINITIONS, OUTPUT_DEFINITIONS, STAGES, type Definition } from './definitions';
import { sqlString } from '../duckdb';

const N_WINDOWS = [6, 9, 12, 14, 20, 24, 26, 168, 720];
const HOUR_MS = 3_600_000;

/** The named windows, for a timeframe of `barMs` milliseconds. */
export function windowClause(barMs: number, lmWindow: number, horizon: number): string {
  const bySeries = 'PARTITION BY series ORDER BY ts';
  const w = [
    `w_lag AS (${bySeries})`,
    ...N_WINDOWS.map((n) => `w${n} AS (${bySeries} RANGE BETWEEN ${(n - 1) * barMs} PRECEDING AND CURRENT ROW)`),
    `w_lm AS (${bySeries} RANGE BETWEEN ${lmWindow * barMs} PRECEDING AND ${barMs} PRECEDING)`,
    `w_fwd24 AS (${bySeries} RANGE BETWEEN ${barMs} FOLLOWING AND ${horizon * barMs} FOLLOWING)`,
    // Same UTC hour on the 7 days ending at ts: partition by hour, a 6-day time range.
    `w_hour7d AS (PARTITION BY series, hour ORDER BY ts RANGE BETWEEN ${144 * HOUR_MS} PRECEDING AND CURRENT ROW)`,
    `w_mkt AS (PARTITION BY exchange, ts)`,
  ];
  return `WINDOW ${w.join(',\n  ')}`;
}

function expr(d: Definition, barMs: number): string {
  return `${d.sql.replaceAll('{bar}', String(barMs))} AS ${d.name}`;
}

/** Output expression: non-finite doubles become NULL (definitions.ts, gap rule). */
function outputExpr(d: Definition): string {
  return d.type === 'DOUBLE' ? `CASE WHEN isfinite(${d.name}) THEN ${d.name} END AS ${d.name}` : d.name;
}

export function featuresQuery(opts: { barMs: number; lmWindow: number; horizon: number; where?: string }): string {
  const windows = windowClause(opts.barMs, opts.lmWindow, opts.horizon);
  const ctes: string[] = [];
  let prev = 'candles';
  for (const stage of STAGES) {
    const defs = DEFINITIONS.filter((d) => d.stage === stage && d.sql !== '<join>');
    if (stage === 'window') {
      // The benchmark's return joined by (exchange, ts): the input of corr/beta.
      ctes.push(`s_join AS (
SELECT p.*, b.ret_1 AS btc_ret_1 FROM ${prev} p
LEFT JOIN (SELECT exchange, ts, ret_1 FROM ${prev} WHERE symbol = ${sqlString(BENCHMARK_SYMBOL)}) b ON b.exchange = p.exchange AND b.ts = p.ts)`);
      prev = 's_join';
    }
    ctes.push(`s_${stage} AS (
SELECT *,
  ${defs.map((d) => expr(d, opts.barMs)).join(',\n  ')}
FROM ${prev}
${windows})`);
    prev = `s_${stage}`;
  }
  return `WITH ${ctes.join(',\n')}
SELECT series, ts,
  ${OUTPUT_DEFINITIONS.map(outputExpr).join(',\n  ')}
FROM ${prev}${opts.where ? `\nWHERE ${opts.where}` : ''}`;
}
