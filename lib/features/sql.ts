/**
 * Turns DEFINITIONS into one DuckDB query: one CTE per stage, each adding its columns to the
 * previous stage's, with the named windows the expressions use. Reads a relation `candles`
 * (series, exchange, symbol, ts, open, high, low, close, volume) and yields ts + output columns.
 *
 * Performance (bench/features_profile.ts): a window operator sorts and carries every column of its
 * input, so a window over another partition (w_hour7d, w_mkt) or a second pass (w9 over macd) on
 * the wide stage costs as much as dozens of aggregates. Those windows are evaluated on a narrow
 * projection (series, ts, their partition keys and the columns they read) and joined back on
 * (series, ts), which is unique per row. The expressions and their frames are the same, so the values
 * are the same bits.
 */
import { BENCHMARK_SYMBOL, DEFINITIONS, OUTPUT_DEFINITIONS, STAGES, type Definition } from './definitions';
import { sqlString } from '../platform/duckdb';
import { IMPLIED_COLUMNS } from './implied';

const N_WINDOWS = [6, 9, 12, 14, 20, 24, 26, 168, 720];
const HOUR_MS = 3_600_000;
/** 2^64: the fixed-point scale of the exact market sums (w_mkt). */
const FIXED_SCALE = '18446744073709551616.0';
/** w_hour7d: the same UTC hour on the 7 days ending at ts = a 6-day (144 h) time range. */
const HOUR7D_MS = 144 * HOUR_MS;
/** The columns of the `candles` relation: the candles, then the implied-volatility index read point in time (implied.ts). */
export const CANDLE_COLUMNS = ['series', 'exchange', 'symbol', 'ts', 'open', 'high', 'low', 'close', 'volume', ...IMPLIED_COLUMNS];
/** Columns joined from another series rather than computed by an expression: name -> the benchmark's column. */
export const JOINED_COLUMNS = { btc_ret_1: 'ret_1' } as const;

/**
 * How far before ts (ms) each named window's frame reaches, for a timeframe of `barMs`: the one
 * place the frames' lengths live besides windowClause below, which is built from the same
 * constants. w_lag reaches rows, not time (lag(x, k): the k-th candle present before; see
 * lib/features/tail.ts); w_fwd24 looks forward only and w_mkt reads the same ts of other series.
 */
export function windowReachMs(barMs: number, lmWindow: number): Record<string, number> {
  return {
    w_lag: 0,
    ...Object.fromEntries(N_WINDOWS.map((n) => [`w${n}`, (n - 1) * barMs])),
    w_lm: lmWindow * barMs,
    w_fwd24: 0,
    w_hour7d: HOUR7D_MS,
    w_mkt: 0,
  };
}

/** The named windows, for a timeframe of `barMs` milliseconds. */
export function windowClause(barMs: number, lmWindow: number, horizon: number): string {
  const bySeries = 'PARTITION BY series ORDER BY ts';
  const w = [
    `w_lag AS (${bySeries})`,
    ...N_WINDOWS.map((n) => `w${n} AS (${bySeries} RANGE BETWEEN ${(n - 1) * barMs} PRECEDING AND CURRENT ROW)`),
    `w_lm AS (${bySeries} RANGE BETWEEN ${lmWindow * barMs} PRECEDING AND ${barMs} PRECEDING)`,
    `w_fwd24 AS (${bySeries} RANGE BETWEEN ${barMs} FOLLOWING AND ${horizon * barMs} FOLLOWING)`,
    // Same UTC hour on the 7 days ending at ts: partition by hour, a 6-day time range.
    `w_hour7d AS (PARTITION BY series, hour ORDER BY ts RANGE BETWEEN ${HOUR7D_MS} PRECEDING AND CURRENT ROW)`,
    `w_mkt AS (PARTITION BY exchange, ts)`,
  ];
  return `WINDOW ${w.join(',\n  ')}`;
}

/**
 * The main window pass with ROWS frames instead of RANGE: DuckDB searches a RANGE frame's bounds per
 * expression and row (about 40% of the pass); a ROWS frame with per-row offsets is read directly.
 * The offsets are counted once per window in the first stage, with count(*) over the RANGE frame
 * itself (cheap: no segment tree), so each frame holds exactly the rows the RANGE frame holds (ts is
 * unique per series, rows sorted by ts) and every aggregate adds the same numbers in the same order.
 *   w{N}:    RANGE (N−1)·bar PRECEDING .. CURRENT ROW       = ROWS _kN PRECEDING .. CURRENT ROW
 *   w_lm:    RANGE lm·bar PRECEDING .. bar PRECEDING         = ROWS _k_lm_a PRECEDING .. _k_lm_b PRECEDING
 *   w_fwd24: RANGE bar FOLLOWING .. horizon·bar FOLLOWING    = ROWS _k_fwd_a FOLLOWING .. _k_fwd_b FOLLOWING
 * (an empty RANGE frame gives start after end, an empty ROWS frame, as before).
 */
function frameCounts(barMs: number, lmWindow: number, horizon: number): string[] {
  const c = (frame: string) => `count(*) OVER (PARTITION BY series ORDER BY ts RANGE BETWEEN ${frame})`;
  return [
    ...N_WINDOWS.map((n) => `${c(`${(n - 1) * barMs} PRECEDING AND CURRENT ROW`)} - 1 AS _k${n}`),
    `${c(`${lmWindow * barMs} PRECEDING AND CURRENT ROW`)} - 1 AS _k_lm_a`,
    `${c(`${barMs - 1} PRECEDING AND CURRENT ROW`)} AS _k_lm_b`,
    `${c(`CURRENT ROW AND ${barMs - 1} FOLLOWING`)} AS _k_fwd_a`,
    `${c(`CURRENT ROW AND ${horizon * barMs} FOLLOWING`)} - 1 AS _k_fwd_b`,
  ];
}

/** windowClause with the ROWS frames of frameCounts (for the stage whose input has the _k columns). */
export function rowsWindowClause(): string {
  const bySeries = 'PARTITION BY series ORDER BY ts';
  const w = [
    `w_lag AS (${bySeries})`,
    ...N_WINDOWS.map((n) => `w${n} AS (${bySeries} ROWS BETWEEN _k${n} PRECEDING AND CURRENT ROW)`),
    `w_lm AS (${bySeries} ROWS BETWEEN _k_lm_a PRECEDING AND _k_lm_b PRECEDING)`,
    `w_fwd24 AS (${bySeries} ROWS BETWEEN _k_fwd_a FOLLOWING AND _k_fwd_b FOLLOWING)`,
  ];
  return `WINDOW ${w.join(',\n  ')}`;
}

/** The per-row offset columns (frameCounts) each ROWS window of rowsWindowClause reads. */
const ROWS_KEYS: Record<string, string[]> = {
  w_lag: [],
  ...Object.fromEntries(N_WINDOWS.map((n) => [`w${n}`, [`_k${n}`]])),
  w_lm: ['_k_lm_a', '_k_lm_b'],
  w_fwd24: ['_k_fwd_a', '_k_fwd_b'],
};

/** Columns a window's PARTITION BY / ORDER BY read (besides series and ts). */
const WINDOW_KEYS: Record<string, string[]> = { w_hour7d: ['hour'], w_mkt: ['exchange'] };
/** Windows evaluated on a narrow projection instead of the wide stage. */
const NARROW_WINDOWS = new Set(['w_hour7d']);

export function windowsOf(d: Definition): string[] {
  return [...d.sql.matchAll(/\bOVER\s+(\w+)/g)].map((m) => m[1]!);
}

/** The input columns an expression reads (candle columns and earlier definitions). */
function columnsOf(defs: Definition[]): string[] {
  const known = [...CANDLE_COLUMNS, ...DEFINITIONS.map((d) => d.name)];
  const cols = new Set(['series', 'ts']);
  for (const d of defs) {
    for (const w of windowsOf(d)) for (const k of WINDOW_KEYS[w] ?? []) cols.add(k);
    // A name followed by '(' is a function call (e.g. hour(...)), not the column.
    for (const c of known) if (new RegExp(`\\b${c}\\b(?!\\s*\\()`).test(d.sql)) cols.add(c);
  }
  return [...cols];
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
      // The benchmark's return joined by (exchange, ts): the input of corr/beta. Not materialized:
      // the (materialized) previous stage is read by each narrow projection, joined again cheaply.
      ctes.push(`s_join AS NOT MATERIALIZED (
SELECT p.*, b.${JOINED_COLUMNS.btc_ret_1} AS btc_ret_1 FROM ${prev} p
LEFT JOIN (SELECT exchange, ts, ${JOINED_COLUMNS.btc_ret_1} FROM ${prev} WHERE symbol = ${sqlString(BENCHMARK_SYMBOL)}) b ON b.exchange = p.exchange AND b.ts = p.ts)`);
      prev = 's_join';
    }
    // Definitions with a window over another partition, or any window in the stage after the main
    // window pass: narrow. The others: on the wide stage.
    const narrow = defs.filter((d) => windowsOf(d).length > 0 && (stage === 'post' || windowsOf(d).some((w) => NARROW_WINDOWS.has(w))));
    if (narrow.length && stage !== 'window' && stage !== 'post') throw new Error(`narrow windows in stage ${stage}`);
    const wide = defs.filter((d) => !narrow.includes(d));
    let input = prev;
    if (narrow.length) {
      let src = stage === 'post' ? 's_join' : prev;
      const need = columnsOf(narrow);
      // The window-stage columns the post windows read (macd, gk_vol_24) are computed again on a
      // narrow projection, with the same expressions and frames (same bits), instead of keeping the
      // whole window stage in memory to read it twice.
      const again = DEFINITIONS.filter((d) => d.stage === 'window' && need.includes(d.name));
      if (stage === 'post' && again.length) {
        for (const d of again) if (windowsOf(d).some((w) => !(w in ROWS_KEYS))) throw new Error(`${d.name}: not on the main window pass`);
        const keys = [...new Set(again.flatMap((d) => windowsOf(d).flatMap((w) => ROWS_KEYS[w]!)))];
        const passThrough = need.filter((c) => !again.some((d) => d.name === c));
        ctes.push(`s_${stage}_src AS (
SELECT ${passThrough.join(', ')},
  ${again.map((d) => expr(d, opts.barMs)).join(',\n  ')}
FROM (SELECT ${[...new Set([...passThrough, ...columnsOf(again), ...keys])].join(', ')} FROM ${src})
${rowsWindowClause()})`);
        src = `s_${stage}_src`;
      }
      // w_mkt (the mean over the symbols at ts): grouped by (exchange, ts). A float sum in hash order
      // could differ in the last bit between two runs (the window over the (exchange, ts) partition
      // summed in arrival order), and list(x ORDER BY series) made it deterministic at the price of an
      // ordered aggregate (~1/6 of the query). The sum is now exact in fixed point, 2^-64 resolution
      // in a HUGEINT (|x| < 2^56: volatilities), so it does not depend on the order at all; the mean is
      // that sum rounded once, divided by the count (NULLs skipped like avg; a NaN or ±Inf input gives
      // NULL, as avg's NaN did through outputExpr).
      const mkt = [...new Set(narrow.flatMap((d) => [...d.sql.matchAll(/\b(\w+)\(([^()]*)\) OVER w_mkt\b/g)].map((m) => m[0])))];
      let from = `(SELECT ${need.join(', ')} FROM ${src})`;
      let exprs = narrow.map((d) => expr(d, opts.barMs));
      if (mkt.length) {
        const aggs = mkt.map((call, i) => {
          const [, fn, arg] = /^(\w+)\((.*)\) OVER w_mkt$/.exec(call)!;
          if (fn !== 'avg') throw new Error(`${call}: only avg over w_mkt is supported`);
          return `CASE WHEN bool_and(isfinite(${arg})) IS NOT FALSE THEN CAST(sum(CAST(${arg} * ${FIXED_SCALE} AS HUGEINT)) AS DOUBLE) / ${FIXED_SCALE} / count(${arg}) END AS _mkt${i}`;
        });
        ctes.push(`s_${stage}_mkt AS (
SELECT exchange, ts, ${aggs.join(', ')} FROM ${from} GROUP BY exchange, ts)`);
        from = `(SELECT x.*, ${mkt.map((_, i) => `m._mkt${i}`).join(', ')} FROM ${from} x JOIN s_${stage}_mkt m ON m.exchange = x.exchange AND m.ts = x.ts)`;
        exprs = exprs.map((e) => mkt.reduce((acc, call, i) => acc.replaceAll(call, `_mkt${i}`), e));
      }
      ctes.push(`s_${stage}_narrow AS (
SELECT series, ts,
  ${exprs.join(',\n  ')}
FROM ${from}
${windows})`);
      ctes.push(`s_${stage}_in AS (
SELECT p.*, n.* EXCLUDE (series, ts) FROM ${prev} p JOIN s_${stage}_narrow n ON n.series = p.series AND n.ts = p.ts)`);
      input = `s_${stage}_in`;
    }
    const usesWindow = wide.some((d) => windowsOf(d).length > 0);
    const cols = wide.map((d) => expr(d, opts.barMs));
    if (stage === 'bar') cols.push(...frameCounts(opts.barMs, opts.lmWindow, opts.horizon));
    // The last stage before the benchmark join is read several times (the join, the narrow
    // projections): materialized once, as DuckDB would for a CTE read twice.
    ctes.push(`s_${stage} AS${stage === 'bar3' ? ' MATERIALIZED' : ''} (
SELECT *,
  ${cols.join(',\n  ')}
FROM ${input}${usesWindow ? `\n${stage === 'window' ? rowsWindowClause() : windows}` : ''})`);
    prev = `s_${stage}`;
  }
  return `WITH ${ctes.join(',\n')}
SELECT series, ts,
  ${OUTPUT_DEFINITIONS.map(outputExpr).join(',\n  ')}
FROM ${prev}${opts.where ? `\nWHERE ${opts.where}` : ''}`;
}
