/**
 * The shared real-data CSVs (../shared/data, MANIFEST.md) turned into candle-lake Parquet: one file
 * per month with the lake's schema (DESIGN.md "Candles"). For tests and the bench, which need real
 * candles in the lake's shape without running ingest; the data itself is never copied into the repo.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { queryRows, sqlString, type Duck } from '../platform/duckdb';
import { repoRoot } from '../platform/paths';

export const sharedData = join(repoRoot, '..', 'shared', 'data');

/** ../shared/data/candles/BINANCE_{BASE}{QUOTE}_1h.csv.gz for 'BTC/USDT'. */
export function binanceHourlyCsv(symbol: string): string {
  return join(sharedData, 'candles', `BINANCE_${symbol.replace('/', '')}_1h.csv.gz`);
}

export interface CsvSlice {
  /** ISO times or ms; inclusive from, exclusive to. */
  from?: string | number;
  to?: string | number;
  /** Candle open times to leave out (artificial gaps). */
  drop?: number[];
}

const ms = (t: string | number) => (typeof t === 'number' ? t : Date.parse(t));

/** Writes {outDir}/{YYYY-MM}.parquet files; returns them in month order. */
export async function csvToMonthlyParquet(db: Duck, csv: string, outDir: string, slice: CsvSlice = {}): Promise<{ month: string; path: string }[]> {
  await mkdir(outDir, { recursive: true });
  const where = [
    slice.from !== undefined ? `ts >= ${ms(slice.from)}` : 'true',
    slice.to !== undefined ? `ts < ${ms(slice.to)}` : 'true',
    slice.drop?.length ? `ts NOT IN (${slice.drop.join(', ')})` : 'true',
  ].join(' AND ');
  const src = `(SELECT CAST(ts AS BIGINT) AS ts, CAST(open AS DOUBLE) AS open, CAST(high AS DOUBLE) AS high, CAST(low AS DOUBLE) AS low,
    CAST(close AS DOUBLE) AS close, CAST(volume AS DOUBLE) AS volume FROM read_csv(${sqlString(csv)}, header = true) WHERE ${where})`;
  await db.run(`CREATE OR REPLACE TEMP TABLE csv_slice AS SELECT *, strftime(epoch_ms(ts), '%Y-%m') AS month FROM ${src}`);
  const months = await queryRows<{ month: string }>(db, 'SELECT DISTINCT month FROM csv_slice ORDER BY month');
  const out: { month: string; path: string }[] = [];
  for (const { month } of months) {
    const path = join(outDir, `${month}.parquet`);
    await db.run(`COPY (SELECT * EXCLUDE (month) FROM csv_slice WHERE month = ${sqlString(month)} ORDER BY ts) TO ${sqlString(path)} (FORMAT parquet)`);
    out.push({ month, path });
  }
  await db.run('DROP TABLE csv_slice');
  return out;
}

/** ../shared/data/dvol/DERIBIT_{CUR}_DVOL_{tf}.csv.gz (Deribit's DVOL index). */
export function dvolCsv(currency: string, timeframe: string): string {
  return join(sharedData, 'dvol', `DERIBIT_${currency}_DVOL_${timeframe}.csv.gz`);
}

/**
 * A DVOL file as monthly index Parquet files of the lake's schema (close always; open/high/low NULL
 * where the file has none, volume NULL): open times in [from, to). Returns them in month order.
 */
export async function indexCsvToMonthlyParquet(db: Duck, csv: string, outDir: string, slice: CsvSlice = {}): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const cols = (await queryRows<{ column_name: string }>(db, `SELECT column_name FROM (DESCRIBE SELECT * FROM read_csv(${sqlString(csv)}, header = true))`)).map((c) => c.column_name);
  const opt = (c: string) => (cols.includes(c) ? `CAST(${c} AS DOUBLE)` : 'NULL::DOUBLE');
  const where = [slice.from !== undefined ? `ts >= ${ms(slice.from)}` : 'true', slice.to !== undefined ? `ts < ${ms(slice.to)}` : 'true'].join(' AND ');
  await db.run(`CREATE OR REPLACE TEMP TABLE index_slice AS SELECT CAST(ts AS BIGINT) AS ts, ${opt('open')} AS open, ${opt('high')} AS high, ${opt('low')} AS low, CAST(close AS DOUBLE) AS close,
    NULL::DOUBLE AS volume, NULL::DOUBLE AS quote_volume, NULL::BIGINT AS trades, strftime(epoch_ms(CAST(ts AS BIGINT)), '%Y-%m') AS month
    FROM read_csv(${sqlString(csv)}, header = true) WHERE ${where}`);
  const months = await queryRows<{ month: string }>(db, 'SELECT DISTINCT month FROM index_slice ORDER BY month');
  const out: string[] = [];
  for (const { month } of months) {
    const path = join(outDir, `${month}.parquet`);
    await db.run(`COPY (SELECT * EXCLUDE (month) FROM index_slice WHERE month = ${sqlString(month)} ORDER BY ts) TO ${sqlString(path)} (FORMAT parquet)`);
    out.push(path);
  }
  await db.run('DROP TABLE index_slice');
  return out;
}
