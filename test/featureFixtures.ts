/** Real candles from ../shared/data as local lake-layout Parquet, and feature rows read back. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binanceHourlyCsv, csvToMonthlyParquet, dvolCsv, indexCsvToMonthlyParquet, type CsvSlice } from '../lib/candles/csv';
import { queryRows, sqlString, withDuck } from '../lib/platform/duckdb';
import type { Series } from '../lib/platform/layout';
import type { SeriesInput } from '../lib/features/build';
import { makeRefSeries, type RefSeries } from '../lib/features/reference';

export const H = 3_600_000;
export const series = (symbol: string): Series => ({ exchange: 'binance', symbol, timeframe: '1h' });

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `volcast-${prefix}-`));
}

/** Monthly candle Parquet files for each symbol over the slice (per-symbol drops for artificial gaps). */
export async function candleInputs(dir: string, symbols: string[], slice: CsvSlice, drops: Record<string, number[]> = {}): Promise<SeriesInput[]> {
  return withDuck(async (db) => {
    const out: SeriesInput[] = [];
    for (const symbol of symbols) {
      const files = await csvToMonthlyParquet(db, binanceHourlyCsv(symbol), join(dir, symbol.replace('/', '-')), { ...slice, drop: drops[symbol] ?? [] });
      out.push({ series: series(symbol), files: files.map((f) => f.path) });
    }
    return out;
  });
}

export type Row = Record<string, number | null>;

/** All rows of a Parquet file, BIGINT columns as numbers, ordered by ts. */
export async function readRows(path: string): Promise<Row[]> {
  const rows = await withDuck((db) => queryRows<Record<string, unknown>>(db, `SELECT * FROM read_parquet(${sqlString(path)}) ORDER BY ts`));
  return rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === null ? null : typeof v === 'bigint' ? Number(v) : (v as number)])));
}

export async function refSeries(input: SeriesInput): Promise<RefSeries> {
  const rows = await withDuck((db) =>
    queryRows<{ ts: bigint; open: number; high: number; low: number; close: number; volume: number }>(
      db,
      `SELECT ts, open, high, low, close, volume FROM read_parquet([${input.files.map(sqlString).join(', ')}]) ORDER BY ts`,
    ),
  );
  return makeRefSeries(input.series.symbol, input.series.exchange, input.series.symbol, rows.map((r) => ({ ...r, ts: Number(r.ts) })));
}

/** 1e-9 relative, with an absolute floor of 1e-12 for values near 0 (documented in the report). */
export const REL_TOL = 1e-9;
export const ABS_FLOOR = 1e-12;
export function close(a: number | null, b: number | null): boolean {
  if (a === null || b === null) return a === b;
  return Math.abs(a - b) <= Math.max(REL_TOL * Math.max(Math.abs(a), Math.abs(b)), ABS_FLOOR);
}

/** A DVOL file of ../shared/data as monthly index Parquet files (lib/candles/csv.ts), open times in [from, to). */
export async function indexFiles(dir: string, currency: string, timeframe: string, slice: { from?: string | number; to?: string | number } = {}): Promise<string[]> {
  return withDuck((db) => indexCsvToMonthlyParquet(db, dvolCsv(currency, timeframe), dir, slice));
}

/** The DVOL rows of a file: open time and close. */
export async function indexRows(currency: string, timeframe: string): Promise<{ ts: number; close: number }[]> {
  const rows = await withDuck((db) => queryRows<{ ts: bigint; close: number }>(db, `SELECT CAST(ts AS BIGINT) AS ts, CAST(close AS DOUBLE) AS close FROM read_csv(${sqlString(dvolCsv(currency, timeframe))}, header = true) ORDER BY ts`));
  return rows.map((r) => ({ ts: Number(r.ts), close: r.close }));
}
