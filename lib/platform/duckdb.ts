/**
 * DuckDB for every stage that reads or writes Parquet: an in-process database per job. httpfs is not
 * available, so objects are fetched from MinIO to local files (lib/platform/store.ts) and queried there.
 */
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';

export type Duck = DuckDBConnection;

/**
 * Opens an in-memory database, runs `fn`, always closes it. `connect` opens another connection to the
 * same database (e.g. to run independent statements side by side); those are closed with it.
 */
export async function withDuck<T>(
  fn: (db: Duck, more: { connect: () => Promise<Duck> }) => Promise<T>,
  opts: { threads?: number; memoryLimit?: string } = {},
): Promise<T> {
  const instance = await DuckDBInstance.create(':memory:', {
    threads: String(opts.threads ?? 2),
    ...(opts.memoryLimit ? { memory_limit: opts.memoryLimit } : {}),
  });
  const db = await instance.connect();
  const extra: Duck[] = [];
  const connect = async () => {
    const c = await instance.connect();
    extra.push(c);
    return c;
  };
  try {
    return await fn(db, { connect });
  } finally {
    for (const c of extra) c.closeSync();
    db.closeSync();
    instance.closeSync();
  }
}

/** Rows as plain JS objects (BIGINT as bigint, DOUBLE as number). */
export async function queryRows<T = Record<string, unknown>>(db: Duck, sql: string, params?: DuckDBValue[] | Record<string, DuckDBValue>): Promise<T[]> {
  const reader = await db.runAndReadAll(sql, params);
  return reader.getRowObjectsJS() as T[];
}

/** SQL string literal (for file paths in COPY / read_parquet, which cannot be bound parameters). */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}
