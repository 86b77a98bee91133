/** Real candles from ../shared/data as local lake-layout Parquet, and feature rows read back. */
import { mkdtempSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { binanceHourlyCsv, csvToMonthlyParquet, sharedData, type CsvSlice } from '../lib/candles/csv';
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

/** ../shared/data/dvol/DERIBIT_{CUR}_DVOL_{tf}.csv.gz */
export const dvolCsv = (currency: string, timeframe: string) => join(sharedData, 'dvol', `DERIBIT_${currency}_DVOL_${timeframe}.csv.gz`);

/**
 * A DVOL file as monthly index Parquet files of the lake's schema (close always; open/high/low NULL
 * where the file has none, volume NULL): open times in [from, to).
 */
export async function indexFiles(dir: string, currency: string, timeframe: string, slice: { from?: string | number; to?: string | number } = {}): Promise<string[]> {
  const ms = (t: string | number) => (typeof t === 'number' ? t : Date.parse(t));
  return withDuck(async (db) => {
    await mkdir(dir, { recursive: true });
    const csv = dvolCsv(currency, timeframe);
    const cols = (await queryRows<{ column_name: string }>(db, `SELECT column_name FROM (DESCRIBE SELECT * FROM read_csv(${sqlString(csv)}, header = true))`)).map((c) => c.column_name);
    const opt = (c: string) => (cols.includes(c) ? `CAST(${c} AS DOUBLE)` : 'NULL::DOUBLE');
    await db.run(`CREATE TABLE idx AS SELECT CAST(ts AS BIGINT) AS ts, ${opt('open')} AS open, ${opt('high')} AS high, ${opt('low')} AS low, CAST(close AS DOUBLE) AS close,
      NULL::DOUBLE AS volume, NULL::DOUBLE AS quote_volume, NULL::BIGINT AS trades, strftime(epoch_ms(CAST(ts AS BIGINT)), '%Y-%m') AS month
      FROM read_csv(${sqlString(csv)}, header = true) WHERE ${slice.from !== undefined ? `ts >= ${ms(slice.from)}` : 'true'} AND ${slice.to !== undefined ? `ts < ${ms(slice.to)}` : 'true'}`);
    const months = await queryRows<{ month: string }>(db, 'SELECT DISTINCT month FROM idx ORDER BY month');
    const out: string[] = [];
    for (const { month } of months) {
      const path = join(dir, `${month}.parquet`);
      await db.run(`COPY (SELECT * EXCLUDE (month) FROM idx WHERE month = ${sqlString(month)} ORDER BY ts) TO ${sqlString(path)} (FORMAT parquet)`);
      out.push(path);
    }
    return out;
  });
}

/** The DVOL rows of a file: open time and close. */
export async function indexRows(currency: string, timeframe: string): Promise<{ ts: number; close: number }[]> {
  const rows = await withDuck((db) => queryRows<{ ts: bigint; close: number }>(db, `SELECT CAST(ts AS BIGINT) AS ts, CAST(close AS DOUBLE) AS close FROM read_csv(${sqlString(dvolCsv(currency, timeframe))}, header = true) ORDER BY ts`));
  return rows.map((r) => ({ ts: Number(r.ts), close: r.close }));
}
