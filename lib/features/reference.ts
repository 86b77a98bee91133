/**
 * Building blocks of the reference implementation: plain loops over one series' arrays, written
 * from the formulas in definitions.ts and sharing no code with the SQL. Each feature's `reference`
 * hook (definitions.ts) composes these; the tests compare the two on real candles.
 *
 * Windows follow the gap rule of definitions.ts: an N-bar window at row i holds the bars present
 * with open time in [ts_i - (N-1)·bar, ts_i]; "previous" always means the previous bar present.
 */

export interface RefSeries {
  key: string;
  exchange: string;
  symbol: string;
  ts: number[];
  open: number[];
  high: number[];
  low: number[];
  close: number[];
  volume: number[];
  /** ts -> row index */
  at: Map<number, number>;
}

export interface RefContext {
  s: RefSeries;
  /** Every series built together (market-wide features). */
  all: RefSeries[];
  /** The BTC series of the same exchange, when it is part of the build. */
  btc: RefSeries | undefined;
  barMs: number;
}

export type Ref = (ctx: RefContext, i: number) => number | null;

export function makeRefSeries(
  key: string,
  exchange: string,
  symbol: string,
  rows: { ts: number; open: number; high: number; low: number; close: number; volume: number }[],
): RefSeries {
  const s: RefSeries = { key, exchange, symbol, ts: [], open: [], high: [], low: [], close: [], volume: [], at: new Map() };
  rows.forEach((r, i) => {
    s.ts.push(r.ts);
    s.open.push(r.open);
    s.high.push(r.high);
    s.low.push(r.low);
    s.close.push(r.close);
    s.volume.push(r.volume);
    s.at.set(r.ts, i);
  });
  return s;
}

const g = (a: number[], i: number): number => a[i]!;

// ---- one bar ----
export const logRet = (s: RefSeries, i: number): number | null => (i > 0 ? Math.log(g(s.close, i) / g(s.close, i - 1)) : null);
export const gkVar = (s: RefSeries, i: number): number => {
  const hl = Math.log(g(s.high, i) / g(s.low, i));
  const co = Math.log(g(s.close, i) / g(s.open, i));
  return 0.5 * hl * hl - (2 * Math.log(2) - 1) * co * co;
};
export const pkVar = (s: RefSeries, i: number): number => Math.log(g(s.high, i) / g(s.low, i)) ** 2 / (4 * Math.log(2));
export const rsVar = (s: RefSeries, i: number): number => {
  const h = g(s.high, i), l = g(s.low, i), o = g(s.open, i), c = g(s.close, i);
  return Math.log(h / c) * Math.log(h / o) + Math.log(l / c) * Math.log(l / o);
};
export const overnight = (s: RefSeries, i: number): number | null => (i > 0 ? Math.log(g(s.open, i) / g(s.close, i - 1)) : null);
export const openClose = (s: RefSeries, i: number): number => Math.log(g(s.close, i) / g(s.open, i));
export const trueRange = (s: RefSeries, i: number): number => {
  const h = g(s.high, i), l = g(s.low, i);
  if (i === 0) return h - l;
  const pc = g(s.close, i - 1);
  return Math.max(h - l, Math.abs(h - pc), Math.abs(l - pc));
};
export const hourOf = (s: RefSeries, i: number): number => new Date(g(s.ts, i)).getUTCHours();
/** 0 = Monday … 6 = Sunday */
export const weekdayOf = (s: RefSeries, i: number): number => (new Date(g(s.ts, i)).getUTCDay() + 6) % 7;

// ---- windows ----
/** Row indices of the N-bar time window ending at row i (bars present only), oldest first. */
export function windowIdx(ctx: RefContext, i: number, nBars: number, endOffsetBars = 0): number[] {
  const { s, barMs } = ctx;
  const hi = g(s.ts, i) - endOffsetBars * barMs;
  const lo = g(s.ts, i) - (nBars - 1) * barMs;
  const out: number[] = [];
  for (let j = i; j >= 0 && g(s.ts, j) >= lo; j--) if (g(s.ts, j) <= hi) out.push(j);
  return out.reverse();
}

/** Row indices with open time in [ts_i + from·bar, ts_i + to·bar]. */
export function forwardIdx(ctx: RefContext, i: number, from: number, to: number): number[] {
  const { s, barMs } = ctx;
  const out: number[] = [];
  for (let j = i; j < s.ts.length && g(s.ts, j) <= g(s.ts, i) + to * barMs; j++) if (g(s.ts, j) >= g(s.ts, i) + from * barMs) out.push(j);
  return out;
}

export function values(idx: number[], f: (j: number) => number | null): number[] {
  const out: number[] = [];
  for (const j of idx) {
    const v = f(j);
    if (v !== null) out.push(v);
  }
  return out;
}

export const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);
export const mean = (xs: number[]): number | null => (xs.length ? sum(xs) / xs.length : null);
export function varSamp(xs: number[]): number | null {
  if (xs.length < 2) return null;
  const m = sum(xs) / xs.length;
  return sum(xs.map((x) => (x - m) ** 2)) / (xs.length - 1);
}
export function varPop(xs: number[]): number | null {
  if (xs.length < 1) return null;
  const m = sum(xs) / xs.length;
  return sum(xs.map((x) => (x - m) ** 2)) / xs.length;
}
export const sqrtOrNull = (x: number | null): number | null => (x === null ? null : Math.sqrt(x));
export const div = (a: number | null, b: number | null): number | null => (a === null || b === null || b === 0 ? null : a / b);

/** Pairs (x, y) on the rows of `idx` where both are defined. */
export function pairs(idx: number[], fx: (j: number) => number | null, fy: (j: number) => number | null): [number[], number[]] {
  const xs: number[] = [];
  const ys: number[] = [];
  for (const j of idx) {
    const x = fx(j), y = fy(j);
    if (x !== null && y !== null) {
      xs.push(x);
      ys.push(y);
    }
  }
  return [xs, ys];
}
export function covPop(xs: number[], ys: number[]): number | null {
  if (!xs.length) return null;
  const mx = sum(xs) / xs.length, my = sum(ys) / ys.length;
  return sum(xs.map((x, k) => (x - mx) * (ys[k]! - my))) / xs.length;
}
