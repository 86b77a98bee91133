/**
 * Forecast records, appended idempotently to monthly Parquet files
 * (predictions/{exchange}/{SYMBOL}/{timeframe}/{target}/{YYYY-MM}.parquet). One row per
 * (bar, model): scoring the same bar with the same champion again replaces the row with identical
 * values, so a retried or re-run score writes no duplicate and, when nothing changed, no object.
 * Concurrent writers of one month (two scoring runs, a retry racing its first attempt) both keep
 * their rows: the file is read in one GET and put with If-Match on the version read; a writer that
 * loses re-reads and re-applies its upsert (lib/platform/store.ts updateObject).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queryRows, sqlString, withDuck } from '../platform/duckdb';
import { layout, symbolSegment, type Series } from '../platform/layout';
import type { ArtifactStore, ObjectRef } from '../platform/store';
import type { PredictionRecord } from '../../contracts/types';
export type { PredictionRecord };

const COLUMNS: [keyof PredictionRecord, string][] = [
  ['exchange', 'VARCHAR'], ['symbol', 'VARCHAR'], ['timeframe', 'VARCHAR'], ['target', 'VARCHAR'],
  ['barTs', 'BIGINT'], ['value', 'DOUBLE'], ['lower80', 'DOUBLE'], ['upper80', 'DOUBLE'], ['lower95', 'DOUBLE'], ['upper95', 'DOUBLE'],
  ['regime', 'VARCHAR'], ['modelId', 'VARCHAR'], ['modelName', 'VARCHAR'], ['featureSetId', 'VARCHAR'], ['dataWatermark', 'BIGINT'],
  // Added with tail scoring; files written before lack them and read as NULL (normalize).
  ['inputsSha256', 'VARCHAR'], ['featureDefinitionsSha', 'VARCHAR'],
];

export function monthOf(ts: number): string {
  return new Date(ts).toISOString().slice(0, 7);
}

function literal(v: unknown, type: string): string {
  if (v === null || v === undefined) return `NULL::${type}`;
  if (type === 'VARCHAR') return sqlString(String(v));
  if (type === 'BIGINT') return `${BigInt(v as number)}::BIGINT`;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`prediction field is not a finite number: ${String(v)}`);
  return `${v}::DOUBLE`;
}

function normalize(r: Record<string, unknown>): PredictionRecord {
  const out: Record<string, unknown> = {};
  for (const [k] of COLUMNS) out[k] = typeof r[k] === 'bigint' ? Number(r[k]) : (r[k] ?? null);
  return out as unknown as PredictionRecord;
}

async function recordsIn(file: string): Promise<PredictionRecord[]> {
  return withDuck(async (db) => (await queryRows(db, `SELECT * FROM read_parquet(${sqlString(file)}) ORDER BY barTs, modelId`)).map(normalize));
}

/** The month's records as stored now (one GET of the current version: never a mix of two writers' files). */
export async function readPredictions(store: ArtifactStore, series: Series, target: string, month: string): Promise<PredictionRecord[]> {
  const got = await store.readLatestFile(layout.predictions(series, target, month));
  return got ? recordsIn(got.path) : [];
}

/** Upserts the records (same series, target and month) and writes the file only if it changed. */
export async function appendPredictions(store: ArtifactStore, records: PredictionRecord[]): Promise<{ ref: ObjectRef; written: boolean; rows: number }> {
  if (!records.length) throw new Error('no prediction records to append');
  const first = records[0]!;
  const series: Series = { exchange: first.exchange, symbol: first.symbol, timeframe: first.timeframe };
  const month = monthOf(first.barTs);
  for (const r of records) {
    if (r.exchange !== first.exchange || r.symbol !== first.symbol || r.timeframe !== first.timeframe || r.target !== first.target || monthOf(r.barTs) !== month) {
      throw new Error('appendPredictions takes records of one series, target and month');
    }
  }
  symbolSegment(first.symbol); // validates
  const key = layout.predictions(series, first.target, month);
  const dir = await mkdtemp(join(tmpdir(), 'volcast-pred-'));
  try {
    const up = await store.updateObject(key, async (current, attempt) => {
      // The upsert is re-applied to the version read: on a conflict, to the winner's rows.
      const existing = current ? await recordsIn(await store.fileOf(current)) : [];
      const byKey = new Map(existing.map((r) => [`${r.barTs}|${r.modelId}`, r]));
      let changed = false;
      for (const r of records) {
        const k = `${r.barTs}|${r.modelId}`;
        const before = byKey.get(k);
        if (!before || JSON.stringify(normalize(before as never)) !== JSON.stringify(normalize(r as never))) changed = true;
        byKey.set(k, r);
      }
      if (!changed) return { body: null, result: byKey.size };
      const rows = [...byKey.values()].sort((a, b) => a.barTs - b.barTs || a.modelId.localeCompare(b.modelId));
      const file = join(dir, `${month}.${attempt}.parquet`);
      await withDuck(async (db) => {
        const cols = COLUMNS.map(([name, type]) => `${name} ${type}`).join(', ');
        await db.run(`CREATE TABLE p (${cols})`);
        // Forecast files are small (one row per hour per model): literal inserts keep this simple.
        for (let i = 0; i < rows.length; i += 500) {
          const values = rows
            .slice(i, i + 500)
            .map((r) => `(${COLUMNS.map(([name, type]) => literal(r[name], type)).join(', ')})`)
            .join(',\n');
          await db.run(`INSERT INTO p VALUES ${values}`);
        }
        await db.run(`COPY (SELECT * FROM p ORDER BY barTs, modelId) TO ${sqlString(file)} (FORMAT parquet)`);
      });
      return { body: await readFile(file), contentType: 'application/vnd.apache.parquet', result: rows.length };
    });
    return { ref: up.ref!, written: up.written, rows: up.result };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The newest records of a series and target, across the last months. */
export async function tailPredictions(store: ArtifactStore, series: Series, target: string, n: number): Promise<PredictionRecord[]> {
  const prefix = layout.predictions(series, target, '2000-01').replace(/2000-01\.parquet$/, '');
  const months = (await store.list(prefix)).map((o) => o.key.slice(prefix.length, prefix.length + 7)).sort().reverse();
  const out: PredictionRecord[] = [];
  for (const m of months) {
    out.unshift(...(await readPredictions(store, series, target, m)));
    if (out.length >= n) break;
  }
  return out.slice(-n);
}
