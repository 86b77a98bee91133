/**
 * The candle contract of DESIGN.md (Candles) and its validation, shared by every way candles enter
 * the lake (ccxt ingest, Binance archives, the normalized files): one place decides what is valid.
 */
import { barMsOf } from '../../contracts/domain';
import type { Candle, RejectReason, RejectedRow } from '../../contracts/types';
export type { Candle, RejectReason, RejectedRow };

/** A row as a source delivered it, before validation (ccxt may leave unparsable fields undefined). */
export type RawCandle = { [K in keyof Candle]?: unknown };


/**
 * A row of an index series (kind 'index', e.g. Deribit's DVOL; docs/lake.md "Index series"): the
 * index level, close always, open/high/low when the source gives them (all three or none), never a
 * volume. Stored in the candle lake's Parquet schema with NULL where a field does not exist.
 */
export interface IndexRow {
  ts: number;
  open: number | null;
  high: number | null;
  low: number | null;
  close: number;
  volume: null;
  quote_volume: null;
  trades: null;
}

/** What a lake partition row is: a traded candle, or an index level. */
export type LakeRow = Candle | IndexRow;

/** What a series holds: OHLCV candles of a market, or the levels of an index (close-only is valid). */
export type SeriesKind = 'candles' | 'index';

export interface ValidatedBatch<R extends LakeRow = Candle> {
  /**
   * Valid rows, ts-sorted, unique ts. A ts that came more than once with identical values is kept
   * once; with different values no copy is kept (rejected as 'conflicting duplicate': source order
   * does not tell which one is right).
   */
  rows: R[];
  rejected: RejectedRow[];
  /** Open times that came more than once (as valid rows) in this batch, identical or not. */
  duplicates: number[];
  /** Open times that came after a later one in source order. */
  outOfOrder: number[];
}

function num(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && v.trim() !== '') return Number(v);
  return Number.NaN;
}

function optionalNum(v: unknown): number | null | typeof Number.NaN {
  if (v === null || v === undefined || v === '') return null;
  return num(v);
}

/** Reason a row breaks the contract, or null when it is valid. */
export function checkCandle(c: Candle, barMs: number): RejectReason | null {
  const fields = [c.ts, c.open, c.high, c.low, c.close, c.volume];
  if (fields.some((x) => !Number.isFinite(x))) return 'not a number';
  if (c.quote_volume !== null && !Number.isFinite(c.quote_volume)) return 'not a number';
  if (c.trades !== null && !Number.isInteger(c.trades)) return 'not a number';
  if (!Number.isInteger(c.ts) || c.ts % barMs !== 0) return 'ts off the timeframe grid';
  if (c.open <= 0 || c.high <= 0 || c.low <= 0 || c.close <= 0) return 'price <= 0';
  if (c.low > Math.min(c.open, c.close)) return 'low > min(open, close)';
  if (c.high < Math.max(c.open, c.close)) return 'high < max(open, close)';
  if (c.volume < 0) return 'volume < 0';
  return null;
}

const sameCandle = (a: Candle, b: Candle) =>
  a.open === b.open && a.high === b.high && a.low === b.low && a.close === b.close && a.volume === b.volume && a.quote_volume === b.quote_volume && a.trades === b.trades;

/**
 * Validates rows in source order: rejects invalid ones, records duplicates and out-of-order rows;
 * rejects every copy of a ts whose valid copies differ (one rejected row holding all copies). One
 * rule for candles and index rows: `parse` reads a raw row, `check` says why it is invalid, `same`
 * compares two valid copies.
 */
function validateRows<T extends LakeRow>(
  raw: Iterable<RawCandle>,
  timeframe: string,
  parse: (r: RawCandle) => T,
  check: (row: T, barMs: number) => RejectReason | null,
  same: (a: T, b: T) => boolean,
): ValidatedBatch<T> {
  const barMs = barMsOf(timeframe);
  const byTs = new Map<number, { rows: T[]; raw: RawCandle[] }>();
  const rejected: RejectedRow[] = [];
  const duplicates = new Set<number>();
  const outOfOrder = new Set<number>();
  let maxSeen = -Infinity;
  for (const r of raw) {
    const row = parse(r);
    const reason = check(row, barMs);
    if (reason) {
      rejected.push({ ts: Number.isFinite(row.ts) ? row.ts : null, reason, raw: JSON.stringify(r) });
      continue;
    }
    const seen = byTs.get(row.ts);
    if (seen) {
      duplicates.add(row.ts);
      seen.rows.push(row);
      seen.raw.push(r);
    } else {
      if (row.ts < maxSeen) outOfOrder.add(row.ts);
      byTs.set(row.ts, { rows: [row], raw: [r] });
    }
    maxSeen = Math.max(maxSeen, row.ts);
  }
  const rows: T[] = [];
  for (const [ts, { rows: copies, raw: raws }] of byTs) {
    if (copies.every((c) => same(c, copies[0]!))) rows.push(copies[0]!);
    else rejected.push({ ts, reason: 'conflicting duplicate', raw: JSON.stringify(raws) });
  }
  rows.sort((a, b) => a.ts - b.ts);
  const sortNum = (xs: Set<number>) => [...xs].sort((a, b) => a - b);
  return { rows, rejected, duplicates: sortNum(duplicates), outOfOrder: sortNum(outOfOrder) };
}

/** Candles (DESIGN.md, Candles) by validateRows' rules. */
export function validateCandles(raw: Iterable<RawCandle>, timeframe: string): ValidatedBatch {
  const parse = (r: RawCandle): Candle => ({
    ts: num(r.ts),
    open: num(r.open),
    high: num(r.high),
    low: num(r.low),
    close: num(r.close),
    volume: num(r.volume),
    quote_volume: optionalNum(r.quote_volume),
    trades: optionalNum(r.trades),
  });
  return validateRows(raw, timeframe, parse, checkCandle, sameCandle);
}

/** Reason an index row breaks the contract (close > 0 on the grid; open/high/low all or none, consistent), or null. */
export function checkIndexRow(r: IndexRow, barMs: number): RejectReason | null {
  const ohl = [r.open, r.high, r.low];
  if (!Number.isFinite(r.ts) || !Number.isFinite(r.close)) return 'not a number';
  // Some of open/high/low but not all: the row is not a candle and not a close-only level.
  if (ohl.some((x) => x === null) && ohl.some((x) => x !== null)) return 'not a number';
  if (ohl.some((x) => x !== null && !Number.isFinite(x))) return 'not a number';
  if (!Number.isInteger(r.ts) || r.ts % barMs !== 0) return 'ts off the timeframe grid';
  if (r.close <= 0 || ohl.some((x) => x !== null && x <= 0)) return 'price <= 0';
  if (r.open !== null && r.high !== null && r.low !== null) {
    if (r.low > Math.min(r.open, r.close)) return 'low > min(open, close)';
    if (r.high < Math.max(r.open, r.close)) return 'high < max(open, close)';
  }
  return null;
}

const sameIndexRow = (a: IndexRow, b: IndexRow) => a.open === b.open && a.high === b.high && a.low === b.low && a.close === b.close;

/**
 * validateCandles for an index series: the same duplicate, conflict and order rules; a volume is
 * never read (an index has none). A source without open/high/low (the shared hourly DVOL file)
 * gives close-only rows.
 */
export function validateIndexRows(raw: Iterable<RawCandle>, timeframe: string): ValidatedBatch<IndexRow> {
  const parse = (r: RawCandle): IndexRow => ({
    ts: num(r.ts), open: optionalNum(r.open), high: optionalNum(r.high), low: optionalNum(r.low), close: num(r.close), volume: null, quote_volume: null, trades: null,
  });
  return validateRows(raw, timeframe, parse, checkIndexRow, sameIndexRow);
}

/** YYYY-MM of a ms timestamp (UTC): the month partition a candle belongs to. */
export function monthOf(ts: number): string {
  return new Date(ts).toISOString().slice(0, 7);
}

/** [start, end) in ms of a YYYY-MM month. */
export function monthBounds(month: string): { start: number; end: number } {
  const [y, m] = month.split('-').map(Number) as [number, number];
  return { start: Date.UTC(y, m - 1, 1), end: Date.UTC(y, m, 1) };
}

export function isoTs(ts: number | null | undefined): string {
  return ts === null || ts === undefined ? '-' : new Date(ts).toISOString().replace(':00.000Z', 'Z');
}
