/**
 * Every feature and target of a feature set, in one place: name, what it means, the formula in words,
 * the DuckDB SQL expression that computes it, how many bars of history it reads, and the reference
 * implementation (plain loops, lib/features/reference.ts) the tests hold the SQL to.
 *
 * ## Conventions
 * - `bar` = the series timeframe (1h for hourly candles). "N bars" = N·bar of time.
 * - ln = natural log. r_t = ln(close_t / close_prev) where close_prev is the previous candle PRESENT.
 * - A row stamped ts uses candles with open time ≤ ts only (docs/design.md "Point in time"); targets look
 *   forward and are the only columns that do.
 *
 * ## The gap rule (missing bars) — one rule for every feature
 * Windows are defined in TIME, not in rows: the N-bar window of the row at ts holds the candles
 * PRESENT with open time in [ts − (N−1)·bar, ts] (DuckDB `RANGE BETWEEN (N−1)·bar PRECEDING AND
 * CURRENT ROW` on the ms timestamp). Statistics are computed on the bars present; nothing is ever
 * interpolated. `n_bars_6/24/168/720` (and `n_same_hour_7d`) count the bars present so a consumer sees
 * an incomplete window. A return across a gap is the log change since the previous available close,
 * and `gap_before` says how many bars are missing right before the row (0 normally, NULL on the
 * series' first row).
 * Targets are stricter, because a target must mean the same thing on every row: a target is NULL
 * unless every bar of its forward horizon is present — which also makes it NULL wherever the future
 * is not yet known (the last rows of a series).
 * Division by zero and any other non-finite result give NULL (never NaN or ±Inf in the output), and so
 * does an expression with an undefined input (DuckDB's greatest() would skip a NULL: guarded by CASE).
 *
 * ## Sessions (fixed UTC hours, start inclusive, end exclusive; no daylight-saving shifts)
 * Sydney 21–06, Tokyo 00–09, London 08–17, New York 13–22. Overlaps: Sydney–Tokyo 00–06,
 * Tokyo–London 08–09, London–New York 13–17.
 *
 * ## Finite windows only
 * Every feature reads a bounded window (no infinite-memory recursions such as Wilder's or EMA
 * smoothing): that is what makes point-in-time rows exact and an incremental rebuild of the tail
 * give the rows a full rebuild gives. So RSI is Cutler's (simple means of up/down moves), ATR is the
 * simple mean of true range, and MACD uses simple moving averages (12, 26, signal 9).
 *
 * ## Regime (3 classes)
 * Not a column: thresholds must be fit on a training window only. See lib/features/regime.ts
 * (`fitRegimeThresholds(values, trainMask)`: the 1/3 and 2/3 quantiles, linear interpolation
 * between order statistics, of the finite values where trainMask is true; `labelRegime(values,
 * thresholds)`: 0 = low (v ≤ q1), 1 = medium (q1 < v ≤ q2), 2 = high (v > q2), null where v is null).
 */
import { horizonBarsOf, TARGET_NAMES } from '../../contracts/domain';
import * as R from './reference';
import { IMPLIED_COLUMNS, IMPLIED_DAYS_PER_YEAR, IMPLIED_MAX_AGE_BARS } from './implied';
import type { Ref, RefContext } from './reference';

/** Bump when a definition's meaning changes in a way the text below would not show. */
export const FEATURES_VERSION = 1;
/** The cross-asset benchmark: correlation and beta are to this symbol on the same exchange. */
export const BENCHMARK_SYMBOL = 'BTC/USDT';
/** Lee–Mykland: local volatility window (bars before ts, excluding ts) and significance level. */
export const LM_WINDOW = 168;
export const LM_ALPHA = 0.01;
/** Bars after ts the targets read: the longest target horizon of the contract (target_rv_24h's window). */
export const TARGET_HORIZON = Math.max(...TARGET_NAMES.map(horizonBarsOf));

/** The stages of the SQL pipeline, in order; an expression may use columns of earlier stages only. */
export type Stage = 'bar' | 'bar2' | 'bar3' | 'window' | 'post';
export type ColumnType = 'DOUBLE' | 'INTEGER';

export interface Definition {
  name: string;
  /** helper columns feed other definitions and are not written to the feature set. */
  kind: 'feature' | 'target' | 'helper';
  type: ColumnType;
  stage: Stage;
  description: string;
  formula: string;
  /** DuckDB expression; named windows: w_lag, w{N} (N-bar time window), w_lm, w_fwd24, w_hour7d, w_mkt. */
  sql: string;
  /** Bars of history (ts included) the value depends on, nested windows added up; targets: 1. */
  lookback: number;
  reference?: Ref;
  /**
   * 'implied': reads the implied-volatility index joined to the candles (lib/features/implied.ts),
   * NULL for series without one; its reference is test/data/features.implied.test.ts's (plain loops
   * over the index rows), not a `reference` hook over candles.
   */
  source?: 'implied';
}

// Lee–Mykland (2008) critical values for n = LM_WINDOW: a jump when (|L| − C_n)/S_n > β*.
const LM_C = Math.sqrt(2 / Math.PI);
const lmLogN = Math.log(LM_WINDOW);
export const LM_CN = Math.sqrt(2 * lmLogN) / LM_C - (Math.log(Math.PI) + Math.log(lmLogN)) / (2 * LM_C * Math.sqrt(2 * lmLogN));
export const LM_SN = 1 / (LM_C * Math.sqrt(2 * lmLogN));
export const LM_BETA = -Math.log(-Math.log(1 - LM_ALPHA));

export const SESSIONS = {
  sydney: { start: 21, end: 6 },
  tokyo: { start: 0, end: 9 },
  london: { start: 8, end: 17 },
  newyork: { start: 13, end: 22 },
} as const;
export const OVERLAPS = {
  sydney_tokyo: { start: 0, end: 6 },
  tokyo_london: { start: 8, end: 9 },
  london_newyork: { start: 13, end: 17 },
} as const;
type Hours = { start: number; end: number };
const inHours = (h: number, w: Hours) => (w.start < w.end ? h >= w.start && h < w.end : h >= w.start || h < w.end);
const hoursSql = (w: Hours) =>
  w.start < w.end ? `CAST(hour >= ${w.start} AND hour < ${w.end} AS INTEGER)` : `CAST(hour >= ${w.start} OR hour < ${w.end} AS INTEGER)`;

// ---- reference helpers over the context (formulas restated with loops) ----
const S = (ctx: RefContext) => ctx.s;
const win = (ctx: RefContext, i: number, n: number) => R.windowIdx(ctx, i, n);
const meanOf = (ctx: RefContext, i: number, n: number, f: (j: number) => number | null) => R.mean(R.values(win(ctx, i, n), f));
const sumOf = (ctx: RefContext, i: number, n: number, f: (j: number) => number | null) => {
  const xs = R.values(win(ctx, i, n), f);
  return xs.length ? R.sum(xs) : null;
};
const ret = (ctx: RefContext) => (j: number) => R.logRet(S(ctx), j);
const r2 = (ctx: RefContext) => (j: number) => {
  const r = R.logRet(S(ctx), j);
  return r === null ? null : r * r;
};
const gk = (ctx: RefContext) => (j: number) => R.gkVar(S(ctx), j);
const bpTerm = (ctx: RefContext) => (j: number) => {
  const a = R.logRet(S(ctx), j), b = j > 0 ? R.logRet(S(ctx), j - 1) : null;
  return a === null || b === null ? null : Math.abs(a) * Math.abs(b);
};
const close = (ctx: RefContext) => (j: number) => S(ctx).close[j]!;
const vol = (ctx: RefContext) => (j: number) => S(ctx).volume[j]!;
const gkVolN = (ctx: RefContext, i: number, n: number) => R.sqrtOrNull(meanOf(ctx, i, n, gk(ctx)));
const rvN = (ctx: RefContext, i: number, n: number) => R.sqrtOrNull(sumOf(ctx, i, n, r2(ctx)));
const macdRef = (ctx: RefContext, i: number) => R.div(R.mean(R.values(win(ctx, i, 12), close(ctx)))! - R.mean(R.values(win(ctx, i, 26), close(ctx)))!, S(ctx).close[i]!);
const lmStat = (ctx: RefContext, i: number) => {
  const idx = R.windowIdx(ctx, i, LM_WINDOW + 1, 1);
  return R.div(R.logRet(S(ctx), i), R.sqrtOrNull(R.mean(R.values(idx, bpTerm(ctx)))));
};
const btcRetAt = (ctx: RefContext, ts: number) => {
  const b = ctx.btc;
  const j = b?.at.get(ts);
  return b === undefined || j === undefined ? null : R.logRet(b, j);
};
const targetRv = (ctx: RefContext, i: number) => {
  const idx = R.forwardIdx(ctx, i, 1, TARGET_HORIZON);
  return idx.length === TARGET_HORIZON ? Math.sqrt(R.sum(R.values(idx, r2(ctx)))) : null;
};
const nextBar = (ctx: RefContext, i: number) => (S(ctx).ts[i + 1] === S(ctx).ts[i]! + ctx.barMs ? i + 1 : null);
const mktGkVol24 = (ctx: RefContext, i: number) => {
  const ts = S(ctx).ts[i]!;
  const vs: number[] = [];
  for (const s of ctx.all) {
    if (s.exchange !== S(ctx).exchange) continue;
    const j = s.at.get(ts);
    if (j === undefined) continue;
    const v = gkVolN({ ...ctx, s }, j, 24);
    if (v !== null) vs.push(v);
  }
  return R.mean(vs);
};

// ---- families over the standard windows ----
const VOL_WINDOWS = [6, 24, 168] as const;
const COUNT_WINDOWS = [6, 24, 168, 720] as const;

function rangeEstimator(
  short: 'gk' | 'pk' | 'rs',
  label: string,
  formula: string,
  varRef: (s: R.RefSeries, j: number) => number,
): Definition[] {
  return VOL_WINDOWS.map((n) => ({
    name: `${short}_vol_${n}`,
    kind: 'feature' as const,
    type: 'DOUBLE' as const,
    stage: 'window' as const,
    description: `${label} volatility over the last ${n} bars (per bar, not annualized)`,
    formula: `sqrt(mean over the window of the per-bar ${label} variance ${formula})`,
    sql: `sqrt(avg(${short}_var_1) OVER w${n})`,
    lookback: n,
    reference: (ctx, i) => R.sqrtOrNull(meanOf(ctx, i, n, (j) => varRef(S(ctx), j))),
  }));
}

export const DEFINITIONS: Definition[] = [
  // ---------------- stage bar: one candle and its predecessor ----------------
  { name: 'prev_close', kind: 'helper', type: 'DOUBLE', stage: 'bar', description: 'close of the previous candle present', formula: 'close_prev', sql: 'lag(close) OVER w_lag', lookback: 2 },
  { name: 'prev2_close', kind: 'helper', type: 'DOUBLE', stage: 'bar', description: 'close of the candle present before the previous one', formula: 'close_prev_prev', sql: 'lag(close, 2) OVER w_lag', lookback: 3 },
  { name: 'prev_ts', kind: 'helper', type: 'DOUBLE', stage: 'bar', description: 'open time of the previous candle present', formula: 'ts_prev', sql: 'lag(ts) OVER w_lag', lookback: 2 },
  {
    name: 'hour', kind: 'feature', type: 'INTEGER', stage: 'bar', description: 'UTC hour of the candle open (0–23)', formula: 'hour(ts UTC)',
    sql: 'CAST(hour(epoch_ms(ts)) AS INTEGER)', lookback: 1, reference: (ctx, i) => R.hourOf(S(ctx), i),
  },
  {
    name: 'weekday', kind: 'feature', type: 'INTEGER', stage: 'bar', description: 'UTC weekday of the candle open, 0 = Monday … 6 = Sunday', formula: 'isodow(ts UTC) − 1',
    sql: 'CAST(isodow(epoch_ms(ts)) - 1 AS INTEGER)', lookback: 1, reference: (ctx, i) => R.weekdayOf(S(ctx), i),
  },
  {
    name: 'gk_var_1', kind: 'feature', type: 'DOUBLE', stage: 'bar', description: 'Garman–Klass variance of the candle at ts',
    formula: '0.5·ln(H/L)² − (2·ln2 − 1)·ln(C/O)²', sql: '0.5 * pow(ln(high / low), 2) - (2 * ln(2) - 1) * pow(ln(close / open), 2)', lookback: 1,
    reference: (ctx, i) => R.gkVar(S(ctx), i),
  },
  { name: 'pk_var_1', kind: 'helper', type: 'DOUBLE', stage: 'bar', description: 'Parkinson variance of one candle', formula: 'ln(H/L)² / (4·ln2)', sql: 'pow(ln(high / low), 2) / (4 * ln(2))', lookback: 1 },
  { name: 'rs_var_1', kind: 'helper', type: 'DOUBLE', stage: 'bar', description: 'Rogers–Satchell variance of one candle', formula: 'ln(H/C)·ln(H/O) + ln(L/C)·ln(L/O)', sql: 'ln(high / close) * ln(high / open) + ln(low / close) * ln(low / open)', lookback: 1 },
  {
    name: 'hl_range', kind: 'feature', type: 'DOUBLE', stage: 'bar', description: 'high–low range of the candle (log)', formula: 'ln(H/L)',
    sql: 'ln(high / low)', lookback: 1, reference: (ctx, i) => Math.log(S(ctx).high[i]! / S(ctx).low[i]!),
  },
  {
    name: 'oc_range', kind: 'feature', type: 'DOUBLE', stage: 'bar', description: 'open–close move of the candle (log, signed)', formula: 'ln(C/O)',
    sql: 'ln(close / open)', lookback: 1, reference: (ctx, i) => R.openClose(S(ctx), i),
  },
  // ---- implied volatility (lib/features/implied.ts): the index's point-in-time level, NULL without an index ----
  {
    name: 'dvol', kind: 'feature', type: 'DOUBLE', stage: 'bar', source: 'implied',
    description: "implied volatility index known at ts (Deribit DVOL: 30-day implied volatility, annualized, percent): the close of the latest index candle closed by ts + bar; NULL without an index, before it starts, or when its last close is older than 2 index bars",
    formula: 'DVOL close, latest with close time ≤ ts + bar', sql: 'implied', lookback: 1,
  },
  {
    name: 'iv_var_1', kind: 'feature', type: 'DOUBLE', stage: 'bar', source: 'implied',
    description: 'implied variance per bar: the DVOL level as a per-bar variance (the units of gk_var_1 and rv_d), 365-day annualization',
    formula: `(dvol/100)² · bar / ${IMPLIED_DAYS_PER_YEAR} days`, sql: `pow(implied / 100, 2) * {bar} / ${IMPLIED_DAYS_PER_YEAR * 86_400_000}`, lookback: 1,
  },
  ...([24, 168] as const).map((k): Definition => ({
    name: `dvol_chg_${k}`, kind: 'feature', type: 'DOUBLE', stage: 'bar', source: 'implied',
    description: `log change of the implied volatility index over ${k} bars: the level known at ts over the level known at ts − ${k} bars`,
    formula: `ln(dvol_t / dvol_{t−${k}·bar})`, sql: `ln(implied / implied_${k})`, lookback: 1,
  })),
  { name: 'tpv', kind: 'helper', type: 'DOUBLE', stage: 'bar', description: 'typical price × volume', formula: '(H+L+C)/3 · V', sql: '(high + low + close) / 3 * volume', lookback: 1 },

  // ---------------- stage bar2 ----------------
  {
    name: 'gap_before', kind: 'feature', type: 'INTEGER', stage: 'bar2', description: 'bars missing between the previous candle present and this one (NULL on the first row)',
    formula: '(ts − ts_prev)/bar − 1', sql: 'CAST((ts - prev_ts) / {bar} - 1 AS INTEGER)', lookback: 2,
    reference: (ctx, i) => (i > 0 ? (S(ctx).ts[i]! - S(ctx).ts[i - 1]!) / ctx.barMs - 1 : null),
  },
  {
    name: 'ret_1', kind: 'feature', type: 'DOUBLE', stage: 'bar2', description: 'log close-to-close return of the bar at ts (across a gap: since the previous available close)',
    formula: 'ln(C_t / C_prev)', sql: 'ln(close / prev_close)', lookback: 2, reference: (ctx, i) => R.logRet(S(ctx), i),
  },
  { name: 'on_ret', kind: 'helper', type: 'DOUBLE', stage: 'bar2', description: '"overnight" return: previous close to this open', formula: 'ln(O_t / C_prev)', sql: 'ln(open / prev_close)', lookback: 2 },
  { name: 'tr', kind: 'helper', type: 'DOUBLE', stage: 'bar2', description: 'true range', formula: 'max(H, C_prev) − min(L, C_prev); H − L on the first row', sql: 'greatest(high, coalesce(prev_close, high)) - least(low, coalesce(prev_close, low))', lookback: 2 },
  { name: 'up_move', kind: 'helper', type: 'DOUBLE', stage: 'bar2', description: 'close rise', formula: 'max(C_t − C_prev, 0)', sql: 'CASE WHEN prev_close IS NOT NULL THEN greatest(close - prev_close, 0) END', lookback: 2 },
  { name: 'down_move', kind: 'helper', type: 'DOUBLE', stage: 'bar2', description: 'close fall', formula: 'max(C_prev − C_t, 0)', sql: 'CASE WHEN prev_close IS NOT NULL THEN greatest(prev_close - close, 0) END', lookback: 2 },
  {
    name: 'gk_vol_1', kind: 'feature', type: 'DOUBLE', stage: 'bar2', description: 'Garman–Klass volatility of the candle at ts', formula: 'sqrt(gk_var_1)',
    sql: 'sqrt(gk_var_1)', lookback: 1, reference: (ctx, i) => Math.sqrt(R.gkVar(S(ctx), i)),
  },
  {
    name: 'pk_vol_1', kind: 'feature', type: 'DOUBLE', stage: 'bar2', description: 'Parkinson volatility of the candle at ts', formula: 'sqrt(ln(H/L)² / (4·ln2))',
    sql: 'sqrt(pk_var_1)', lookback: 1, reference: (ctx, i) => Math.sqrt(R.pkVar(S(ctx), i)),
  },
  {
    name: 'rs_vol_1', kind: 'feature', type: 'DOUBLE', stage: 'bar2', description: 'Rogers–Satchell volatility of the candle at ts', formula: 'sqrt(ln(H/C)·ln(H/O) + ln(L/C)·ln(L/O))',
    sql: 'sqrt(rs_var_1)', lookback: 1, reference: (ctx, i) => Math.sqrt(R.rsVar(S(ctx), i)),
  },
  {
    name: 'hour_sin', kind: 'feature', type: 'DOUBLE', stage: 'bar2', description: 'hour of day, cyclical (sine)', formula: 'sin(2π·hour/24)',
    sql: 'sin(2 * pi() * hour / 24)', lookback: 1, reference: (ctx, i) => Math.sin((2 * Math.PI * R.hourOf(S(ctx), i)) / 24),
  },
  {
    name: 'hour_cos', kind: 'feature', type: 'DOUBLE', stage: 'bar2', description: 'hour of day, cyclical (cosine)', formula: 'cos(2π·hour/24)',
    sql: 'cos(2 * pi() * hour / 24)', lookback: 1, reference: (ctx, i) => Math.cos((2 * Math.PI * R.hourOf(S(ctx), i)) / 24),
  },
  {
    name: 'weekday_sin', kind: 'feature', type: 'DOUBLE', stage: 'bar2', description: 'weekday, cyclical (sine)', formula: 'sin(2π·weekday/7)',
    sql: 'sin(2 * pi() * weekday / 7)', lookback: 1, reference: (ctx, i) => Math.sin((2 * Math.PI * R.weekdayOf(S(ctx), i)) / 7),
  },
  {
    name: 'weekday_cos', kind: 'feature', type: 'DOUBLE', stage: 'bar2', description: 'weekday, cyclical (cosine)', formula: 'cos(2π·weekday/7)',
    sql: 'cos(2 * pi() * weekday / 7)', lookback: 1, reference: (ctx, i) => Math.cos((2 * Math.PI * R.weekdayOf(S(ctx), i)) / 7),
  },
  ...Object.entries({ ...SESSIONS, ...OVERLAPS }).map(([name, w]): Definition => ({
    name: `sess_${name}`, kind: 'feature', type: 'INTEGER', stage: 'bar2',
    description: `1 when the candle opens in the ${name.replace('_', '–')} ${name.includes('_') ? 'overlap' : 'session'} (UTC ${w.start}:00–${w.end}:00), else 0`,
    formula: `hour in [${w.start}, ${w.end})${w.start > w.end ? ' (wrapping midnight)' : ''}`, sql: hoursSql(w), lookback: 1,
    reference: (ctx, i) => (inHours(R.hourOf(S(ctx), i), w) ? 1 : 0),
  })),

  // ---------------- stage bar3 ----------------
  {
    name: 'r2_1', kind: 'feature', type: 'DOUBLE', stage: 'bar3', description: 'squared log return of the bar at ts', formula: 'ret_1²',
    sql: 'ret_1 * ret_1', lookback: 2, reference: (ctx, i) => r2(ctx)(i),
  },
  {
    name: 'rv_1', kind: 'feature', type: 'DOUBLE', stage: 'bar3', description: 'close-to-close realized volatility over 1 bar', formula: '|ret_1|',
    sql: 'abs(ret_1)', lookback: 2, reference: (ctx, i) => { const r = R.logRet(S(ctx), i); return r === null ? null : Math.abs(r); },
  },
  { name: 'bp_term', kind: 'helper', type: 'DOUBLE', stage: 'bar3', description: 'bipower product of adjacent returns', formula: '|r_t|·|r_prev|', sql: 'abs(ret_1) * abs(ln(prev_close / prev2_close))', lookback: 3 },
  { name: 'obv_flow', kind: 'helper', type: 'DOUBLE', stage: 'bar3', description: 'on-balance-volume increment', formula: 'sign(r_t)·V_t', sql: 'sign(ret_1) * volume', lookback: 2 },
  { name: 'btc_ret_1', kind: 'helper', type: 'DOUBLE', stage: 'bar3', description: 'the benchmark return at the same ts (joined in sql.ts)', formula: 'ret_1 of BTC/USDT at ts', sql: '<join>', lookback: 2 },

  // ---------------- stage window: time windows over the bars present ----------------
  ...COUNT_WINDOWS.map((n): Definition => ({
    name: `n_bars_${n}`, kind: 'feature', type: 'INTEGER', stage: 'window', description: `candles present in the ${n}-bar window (${n} when complete)`,
    formula: `count of bars with open time in [ts − ${n - 1}·bar, ts]`, sql: `CAST(count(*) OVER w${n} AS INTEGER)`, lookback: n,
    reference: (ctx, i) => win(ctx, i, n).length,
  })),
  ...rangeEstimator('gk', 'Garman–Klass', '0.5·ln(H/L)² − (2ln2−1)·ln(C/O)²', R.gkVar),
  ...rangeEstimator('pk', 'Parkinson', 'ln(H/L)²/(4ln2)', R.pkVar),
  ...rangeEstimator('rs', 'Rogers–Satchell', 'ln(H/C)ln(H/O) + ln(L/C)ln(L/O)', R.rsVar),
  ...VOL_WINDOWS.map((n): Definition => ({
    name: `yz_vol_${n}`, kind: 'feature', type: 'DOUBLE', stage: 'window', description: `Yang–Zhang volatility over the last ${n} bars (needs ≥ 2 bars; no 1-bar version exists)`,
    formula: 'sqrt(σ²_o + k·σ²_c + (1−k)·σ²_rs), σ²_o = sample variance of ln(O_t/C_prev), σ²_c = sample variance of ln(C/O), σ²_rs = mean RS variance, k = 0.34/(1.34 + (m+1)/(m−1)), m = bars present',
    sql: `sqrt(var_samp(on_ret) OVER w${n} + (0.34 / (1.34 + (count(*) OVER w${n} + 1.0) / (count(*) OVER w${n} - 1.0))) * var_samp(oc_range) OVER w${n} + (1 - 0.34 / (1.34 + (count(*) OVER w${n} + 1.0) / (count(*) OVER w${n} - 1.0))) * avg(rs_var_1) OVER w${n})`,
    lookback: n,
    reference: (ctx, i) => {
      const idx = win(ctx, i, n);
      const m = idx.length;
      const vo = R.varSamp(R.values(idx, (j) => R.overnight(S(ctx), j)));
      const vc = R.varSamp(R.values(idx, (j) => R.openClose(S(ctx), j)));
      const rs = R.mean(R.values(idx, (j) => R.rsVar(S(ctx), j)));
      if (vo === null || vc === null || rs === null || m < 2) return null;
      const k = 0.34 / (1.34 + (m + 1) / (m - 1));
      return Math.sqrt(vo + k * vc + (1 - k) * rs);
    },
  })),
  ...VOL_WINDOWS.map((n): Definition => ({
    name: `rv_${n}`, kind: 'feature', type: 'DOUBLE', stage: 'window', description: `close-to-close realized volatility over the last ${n} bars`,
    formula: 'sqrt(Σ r²) over the window', sql: `sqrt(sum(r2_1) OVER w${n})`, lookback: n, reference: (ctx, i) => rvN(ctx, i, n),
  })),
  {
    name: 'gk_var_6', kind: 'feature', type: 'DOUBLE', stage: 'window', description: 'mean Garman–Klass variance over the last 6 bars', formula: 'mean(gk_var_1) over 6 bars',
    sql: 'avg(gk_var_1) OVER w6', lookback: 6, reference: (ctx, i) => meanOf(ctx, i, 6, gk(ctx)),
  },
  {
    name: 'gk_var_same_hour_7d', kind: 'feature', type: 'DOUBLE', stage: 'window',
    description: 'mean Garman–Klass variance of the bars at the same UTC hour over the last 7 days: the bars at ts, ts−24h, …, ts−144h that are present',
    formula: 'mean(gk_var_1 at ts − 24h·k), k = 0…6', sql: 'avg(gk_var_1) OVER w_hour7d', lookback: 145,
    reference: (ctx, i) => R.mean(R.values([0, 1, 2, 3, 4, 5, 6].map((k) => S(ctx).at.get(S(ctx).ts[i]! - k * 24 * 3_600_000) ?? -1).filter((j) => j >= 0), gk(ctx))),
  },
  {
    name: 'n_same_hour_7d', kind: 'feature', type: 'INTEGER', stage: 'window', description: 'bars present among ts, ts−24h, …, ts−144h (7 when complete)',
    formula: 'count', sql: 'CAST(count(*) OVER w_hour7d AS INTEGER)', lookback: 145,
    reference: (ctx, i) => [0, 1, 2, 3, 4, 5, 6].filter((k) => S(ctx).at.has(S(ctx).ts[i]! - k * 24 * 3_600_000)).length,
  },
  ...([['rv_d', 24, 'daily'], ['rv_w', 168, 'weekly'], ['rv_m', 720, 'monthly']] as const).map(([name, n, label]): Definition => ({
    name, kind: 'feature', type: 'DOUBLE', stage: 'window', description: `HAR ${label} component: realized variance as the mean squared return over ${n} bars`,
    formula: `mean(r²) over ${n} bars`, sql: `avg(r2_1) OVER w${n}`, lookback: n, reference: (ctx, i) => meanOf(ctx, i, n, r2(ctx)),
  })),
  ...([24, 168] as const).map((n): Definition => ({
    name: `volvol_${n}`, kind: 'feature', type: 'DOUBLE', stage: 'window', description: `volatility of volatility: sample std of the per-bar Garman–Klass volatility over ${n} bars`,
    formula: `stddev_samp(gk_vol_1) over ${n} bars`, sql: `stddev_samp(gk_vol_1) OVER w${n}`, lookback: n,
    reference: (ctx, i) => R.sqrtOrNull(R.varSamp(R.values(win(ctx, i, n), (j) => Math.sqrt(R.gkVar(S(ctx), j))))),
  })),
  {
    name: 'bv_24', kind: 'feature', type: 'DOUBLE', stage: 'window', description: 'bipower variation over 24 bars (jump-robust variance)',
    formula: '(π/2)·Σ |r_t|·|r_{t−1}| over the window', sql: 'pi() / 2 * sum(bp_term) OVER w24', lookback: 24 + 2,
    reference: (ctx, i) => { const s = sumOf(ctx, i, 24, bpTerm(ctx)); return s === null ? null : (Math.PI / 2) * s; },
  },
  {
    name: 'rel_jump_24', kind: 'feature', type: 'DOUBLE', stage: 'window', description: 'relative jump: share of 24-bar realized variance not explained by bipower variation',
    formula: 'max(RV − BV, 0)/RV, RV = Σ r², BV = bv_24', sql: 'CASE WHEN sum(bp_term) OVER w24 IS NOT NULL THEN greatest(sum(r2_1) OVER w24 - pi() / 2 * sum(bp_term) OVER w24, 0) / sum(r2_1) OVER w24 END', lookback: 24 + 2,
    reference: (ctx, i) => {
      const rv = sumOf(ctx, i, 24, r2(ctx)), bv = sumOf(ctx, i, 24, bpTerm(ctx));
      return rv === null || bv === null ? null : R.div(Math.max(rv - (Math.PI / 2) * bv, 0), rv);
    },
  },
  {
    name: 'lm_stat', kind: 'feature', type: 'DOUBLE', stage: 'window', description: `Lee–Mykland statistic: the return over local bipower volatility of the ${LM_WINDOW} bars before ts (ts excluded)`,
    formula: `L = r_t / sqrt(mean |r_j||r_{j−1}| over open times in [ts − ${LM_WINDOW}·bar, ts − bar])`, sql: 'ret_1 / sqrt(avg(bp_term) OVER w_lm)', lookback: LM_WINDOW + 3,
    reference: lmStat,
  },
  {
    name: 'macd', kind: 'feature', type: 'DOUBLE', stage: 'window', description: 'MACD line (simple moving averages), normalized by price',
    formula: '(SMA12(C) − SMA26(C)) / C', sql: '(avg(close) OVER w12 - avg(close) OVER w26) / close', lookback: 26, reference: macdRef,
  },
  ...([6, 24, 168] as const).map((n): Definition => ({
    name: `logret_${n}`, kind: 'feature', type: 'DOUBLE', stage: 'window', description: `log return over ${n} bars: since the last close available at or before ts − ${n}·bar`,
    formula: `Σ r over the ${n}-bar window`, sql: `sum(ret_1) OVER w${n}`, lookback: n + 1, reference: (ctx, i) => sumOf(ctx, i, n, ret(ctx)),
  })),
  ...([24, 168] as const).map((n): Definition => ({
    name: `mom_${n}`, kind: 'feature', type: 'DOUBLE', stage: 'window', description: `momentum: close against its ${n}-bar simple moving average (log)`,
    formula: `ln(C / SMA${n}(C))`, sql: `ln(close / avg(close) OVER w${n})`, lookback: n, reference: (ctx, i) => Math.log(S(ctx).close[i]! / meanOf(ctx, i, n, close(ctx))!),
  })),
  {
    name: 'rsi_14', kind: 'feature', type: 'DOUBLE', stage: 'window', description: "RSI over 14 bars (Cutler's: simple sums of up and down moves), 0–100",
    formula: '100·Σup / (Σup + Σdown)', sql: '100 * sum(up_move) OVER w14 / (sum(up_move) OVER w14 + sum(down_move) OVER w14)', lookback: 15,
    reference: (ctx, i) => {
      const up = sumOf(ctx, i, 14, (j) => (j > 0 ? Math.max(S(ctx).close[j]! - S(ctx).close[j - 1]!, 0) : null));
      const dn = sumOf(ctx, i, 14, (j) => (j > 0 ? Math.max(S(ctx).close[j - 1]! - S(ctx).close[j]!, 0) : null));
      return up === null || dn === null ? null : R.div(100 * up, up + dn);
    },
  },
  {
    name: 'bb_width_20', kind: 'feature', type: 'DOUBLE', stage: 'window', description: 'Bollinger bandwidth (20 bars, ±2 population std) relative to the middle band',
    formula: '4·σ20(C) / SMA20(C)', sql: '4 * stddev_pop(close) OVER w20 / avg(close) OVER w20', lookback: 20,
    reference: (ctx, i) => { const xs = R.values(win(ctx, i, 20), close(ctx)); return R.div(4 * Math.sqrt(R.varPop(xs)!), R.mean(xs)); },
  },
  {
    name: 'bb_pos_20', kind: 'feature', type: 'DOUBLE', stage: 'window', description: 'position of the close in the Bollinger band: 0 at the lower band, 1 at the upper',
    formula: '(C − (SMA20 − 2σ20)) / (4·σ20)', sql: '(close - (avg(close) OVER w20 - 2 * stddev_pop(close) OVER w20)) / (4 * stddev_pop(close) OVER w20)', lookback: 20,
    reference: (ctx, i) => {
      const xs = R.values(win(ctx, i, 20), close(ctx));
      const sd = Math.sqrt(R.varPop(xs)!);
      return R.div(S(ctx).close[i]! - (R.mean(xs)! - 2 * sd), 4 * sd);
    },
  },
  {
    name: 'atr_14', kind: 'feature', type: 'DOUBLE', stage: 'window', description: 'average true range over 14 bars (simple mean), normalized by the close',
    formula: 'mean(TR over 14 bars) / C', sql: 'avg(tr) OVER w14 / close', lookback: 15,
    reference: (ctx, i) => R.div(meanOf(ctx, i, 14, (j) => R.trueRange(S(ctx), j)), S(ctx).close[i]!),
  },
  {
    name: 'obv_mom_24', kind: 'feature', type: 'DOUBLE', stage: 'window', description: 'OBV momentum: the 24-bar change of on-balance volume over the volume traded, in [−1, 1]',
    formula: 'Σ sign(r)·V / Σ V over 24 bars', sql: 'sum(obv_flow) OVER w24 / sum(volume) OVER w24', lookback: 25,
    reference: (ctx, i) => R.div(sumOf(ctx, i, 24, (j) => { const r = R.logRet(S(ctx), j); return r === null ? null : Math.sign(r) * S(ctx).volume[j]!; }), sumOf(ctx, i, 24, vol(ctx))),
  },
  {
    name: 'vwap_dev_24', kind: 'feature', type: 'DOUBLE', stage: 'window', description: 'deviation of the close from the 24-bar VWAP (typical price), log',
    formula: 'ln(C / (Σ TP·V / Σ V)), TP = (H+L+C)/3', sql: 'ln(close / (sum(tpv) OVER w24 / sum(volume) OVER w24))', lookback: 24,
    reference: (ctx, i) => {
      const s = S(ctx);
      const vwap = R.div(sumOf(ctx, i, 24, (j) => ((s.high[j]! + s.low[j]! + s.close[j]!) / 3) * s.volume[j]!), sumOf(ctx, i, 24, vol(ctx)));
      return vwap === null ? null : Math.log(s.close[i]! / vwap);
    },
  },
  {
    name: 'vol_ratio_24', kind: 'feature', type: 'DOUBLE', stage: 'window', description: 'volume of the bar over its 24-bar mean', formula: 'V / mean(V over 24 bars)',
    sql: 'volume / avg(volume) OVER w24', lookback: 24, reference: (ctx, i) => R.div(S(ctx).volume[i]!, meanOf(ctx, i, 24, vol(ctx))),
  },
  {
    name: 'vol_ratio_168', kind: 'feature', type: 'DOUBLE', stage: 'window', description: '24-bar mean volume over the 168-bar mean', formula: 'mean(V, 24) / mean(V, 168)',
    sql: 'avg(volume) OVER w24 / avg(volume) OVER w168', lookback: 168, reference: (ctx, i) => R.div(meanOf(ctx, i, 24, vol(ctx)), meanOf(ctx, i, 168, vol(ctx))),
  },
  ...Object.entries(SESSIONS).map(([name, w]): Definition => ({
    name: `sess_vol_${name}_168`, kind: 'feature', type: 'DOUBLE', stage: 'window',
    description: `Garman–Klass volatility of the bars of the ${name} session (UTC ${w.start}–${w.end}) within the last 168 bars`,
    formula: `sqrt(mean gk_var_1 over the 168-bar window, bars with sess_${name} = 1 only)`, sql: `sqrt(avg(CASE WHEN sess_${name} = 1 THEN gk_var_1 END) OVER w168)`, lookback: 168,
    reference: (ctx, i) => R.sqrtOrNull(meanOf(ctx, i, 168, (j) => (inHours(R.hourOf(S(ctx), j), w) ? R.gkVar(S(ctx), j) : null))),
  })),
  {
    name: 'corr_btc_168', kind: 'feature', type: 'DOUBLE', stage: 'window', description: `rolling correlation of ret_1 with ${BENCHMARK_SYMBOL}'s ret_1 over 168 bars (bars where both are present; NULL if BTC is not in the build)`,
    formula: 'Pearson corr(r, r_btc) over the window', sql: 'CASE WHEN regr_count(ret_1, btc_ret_1) OVER w168 >= 2 THEN corr(ret_1, btc_ret_1) OVER w168 END', lookback: 169,
    reference: (ctx, i) => {
      const [x, y] = R.pairs(win(ctx, i, 168), ret(ctx), (j) => btcRetAt(ctx, S(ctx).ts[j]!));
      if (x.length < 2) return null;
      return R.div(R.covPop(x, y), Math.sqrt(R.varPop(x)! * R.varPop(y)!));
    },
  },
  {
    name: 'beta_btc_168', kind: 'feature', type: 'DOUBLE', stage: 'window', description: `rolling beta of ret_1 to ${BENCHMARK_SYMBOL} over 168 bars`,
    formula: 'cov(r, r_btc) / var(r_btc) over the window', sql: 'regr_slope(ret_1, btc_ret_1) OVER w168', lookback: 169,
    reference: (ctx, i) => { const [x, y] = R.pairs(win(ctx, i, 168), ret(ctx), (j) => btcRetAt(ctx, S(ctx).ts[j]!)); return R.div(R.covPop(x, y), R.varPop(y)); },
  },
  // targets that only need forward windows
  {
    name: 'target_gk_1h', kind: 'target', type: 'DOUBLE', stage: 'window', description: 'Garman–Klass volatility of the next bar (NULL if the bar at ts + 1 bar is missing or not yet known)',
    formula: 'sqrt(gk_var_1 at ts + bar)', sql: 'CASE WHEN lead(ts) OVER w_lag = ts + {bar} THEN sqrt(lead(gk_var_1) OVER w_lag) END', lookback: 1,
    reference: (ctx, i) => { const j = nextBar(ctx, i); return j === null ? null : Math.sqrt(R.gkVar(S(ctx), j)); },
  },
  {
    name: 'target_rv_24h', kind: 'target', type: 'DOUBLE', stage: 'window', description: 'realized volatility of the next 24 bars (NULL unless all 24 are present)',
    formula: 'sqrt(Σ r² over open times ts + 1·bar … ts + 24·bar)', sql: `CASE WHEN count(*) OVER w_fwd24 = ${TARGET_HORIZON} THEN sqrt(sum(r2_1) OVER w_fwd24) END`, lookback: 1,
    reference: targetRv,
  },
  {
    name: 'target_atr_1h', kind: 'target', type: 'DOUBLE', stage: 'window', description: 'true range of the next bar normalized by the close at ts (NULL if that bar is missing)',
    formula: '(max(H_{t+1}, C_t) − min(L_{t+1}, C_t)) / C_t', sql: 'CASE WHEN lead(ts) OVER w_lag = ts + {bar} THEN (greatest(lead(high) OVER w_lag, close) - least(lead(low) OVER w_lag, close)) / close END', lookback: 1,
    reference: (ctx, i) => { const j = nextBar(ctx, i); return j === null ? null : R.trueRange(S(ctx), j) / S(ctx).close[i]!; },
  },

  // ---------------- stage post: functions of window columns ----------------
  {
    name: 'macd_hist', kind: 'feature', type: 'DOUBLE', stage: 'post', description: 'MACD histogram: MACD line minus its 9-bar simple mean (signal)',
    formula: 'macd − SMA9(macd)', sql: 'macd - avg(macd) OVER w9', lookback: 26 + 8,
    reference: (ctx, i) => { const m = macdRef(ctx, i); const sig = meanOf(ctx, i, 9, (j) => macdRef(ctx, j)); return m === null || sig === null ? null : m - sig; },
  },
  {
    name: 'lm_jump', kind: 'feature', type: 'INTEGER', stage: 'post', description: `Lee–Mykland jump flag at ${LM_ALPHA * 100}% (n = ${LM_WINDOW})`,
    formula: `1 if (|L| − C_n)/S_n > −ln(−ln(1 − α)); C_n = sqrt(2 ln n)/c − (ln π + ln ln n)/(2c·sqrt(2 ln n)), S_n = 1/(c·sqrt(2 ln n)), c = sqrt(2/π)`,
    sql: `CASE WHEN isfinite(lm_stat) THEN CAST((abs(lm_stat) - ${LM_CN}) / ${LM_SN} > ${LM_BETA} AS INTEGER) END`, lookback: LM_WINDOW + 3,
    reference: (ctx, i) => { const l = lmStat(ctx, i); return l === null || !Number.isFinite(l) ? null : (Math.abs(l) - LM_CN) / LM_SN > LM_BETA ? 1 : 0; },
  },
  {
    name: 'mkt_gk_vol_24', kind: 'feature', type: 'DOUBLE', stage: 'post', description: 'market-wide volatility: mean gk_vol_24 across the symbols of the build at ts (same exchange)',
    formula: 'mean over symbols of gk_vol_24 at ts', sql: 'avg(gk_vol_24) OVER w_mkt', lookback: 24, reference: mktGkVol24,
  },
  {
    name: 'mkt_spread_24', kind: 'feature', type: 'DOUBLE', stage: 'post', description: "the symbol's spread to the market volatility", formula: 'gk_vol_24 − mkt_gk_vol_24',
    sql: 'gk_vol_24 - avg(gk_vol_24) OVER w_mkt', lookback: 24,
    reference: (ctx, i) => { const m = mktGkVol24(ctx, i); const v = gkVolN(ctx, i, 24); return m === null || v === null ? null : v - m; },
  },
  {
    name: 'iv_rv_spread_24', kind: 'feature', type: 'DOUBLE', stage: 'post', source: 'implied',
    description: 'implied–realized spread: log of the implied per-bar variance over the realized per-bar variance of the last 24 bars (a variance-risk-premium proxy; > 0 when options price more volatility than the last day realized)',
    formula: 'ln(iv_var_1 / rv_d)', sql: 'ln(iv_var_1 / rv_d)', lookback: 24,
  },
  {
    name: 'target_vol_up_24h', kind: 'target', type: 'INTEGER', stage: 'post',
    description: 'whether volatility rises: 1 if the next-24-bar realized volatility exceeds the last-24-bar one (rv_24), else 0; NULL if either window is incomplete',
    formula: '1[target_rv_24h > rv_24], NULL unless n_bars_24 = 24 and target_rv_24h is known', sql: 'CASE WHEN target_rv_24h IS NULL OR n_bars_24 < 24 OR rv_24 IS NULL THEN NULL WHEN target_rv_24h > rv_24 THEN 1 ELSE 0 END', lookback: 24,
    reference: (ctx, i) => {
      const t = targetRv(ctx, i), past = rvN(ctx, i, 24);
      if (t === null || past === null || win(ctx, i, 24).length < 24) return null;
      return t > past ? 1 : 0;
    },
  },
];

export const STAGES: Stage[] = ['bar', 'bar2', 'bar3', 'window', 'post'];
/** Written columns after ts: features, then targets. */
export const OUTPUT_DEFINITIONS = [...DEFINITIONS.filter((d) => d.kind === 'feature'), ...DEFINITIONS.filter((d) => d.kind === 'target')];
export const FEATURE_COLUMNS = DEFINITIONS.filter((d) => d.kind === 'feature').map((d) => d.name);
export const TARGET_COLUMNS = DEFINITIONS.filter((d) => d.kind === 'target').map((d) => d.name);
/** The features that read the implied-volatility index (NULL for series without one). */
export const IMPLIED_FEATURES = DEFINITIONS.filter((d) => d.source === 'implied').map((d) => d.name);
/** The longest history any feature reads (bars, ts included). */
export const MAX_LOOKBACK = Math.max(...DEFINITIONS.map((d) => d.lookback));

/** The text the featureSetId hashes: everything that decides a value. */
export function definitionsText(): string {
  return JSON.stringify({
    version: FEATURES_VERSION,
    benchmark: BENCHMARK_SYMBOL,
    implied: { columns: IMPLIED_COLUMNS, maxAgeBars: IMPLIED_MAX_AGE_BARS },
    definitions: DEFINITIONS.map(({ name, kind, type, stage, formula, sql, lookback }) => ({ name, kind, type, stage, formula, sql, lookback })),
  });
}
