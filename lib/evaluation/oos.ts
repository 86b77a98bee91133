/** runs/{runId}/oos.parquet: every out-of-sample prediction of every model, sorted by model and ts. */
import { sqlString, withDuck } from '../platform/duckdb';

export interface OosRow {
  ts: number;
  fold: number;
  model: string;
  actual: number | null;
  forecast: number;
  sigma: number | null;
}

export async function writeOosParquet(path: string, rows: OosRow[]): Promise<void> {
  const sorted = [...rows].sort((a, b) => (a.model < b.model ? -1 : a.model > b.model ? 1 : a.ts - b.ts));
  await withDuck(
    async (db) => {
      await db.run('CREATE TABLE oos (ts BIGINT, fold INTEGER, model VARCHAR, actual DOUBLE, forecast DOUBLE, sigma DOUBLE)');
      const app = await db.createAppender('oos');
      for (const r of sorted) {
        app.appendBigInt(BigInt(r.ts));
        app.appendInteger(r.fold);
        app.appendVarchar(r.model);
        if (r.actual === null) app.appendNull();
        else app.appendDouble(r.actual);
        app.appendDouble(r.forecast);
        if (r.sigma === null) app.appendNull();
        else app.appendDouble(r.sigma);
        app.endRow();
      }
      app.closeSync();
      await db.run(`COPY (SELECT * FROM oos ORDER BY model, ts) TO ${sqlString(path)} (FORMAT parquet, COMPRESSION zstd)`);
    },
    { threads: 1 },
  );
}
