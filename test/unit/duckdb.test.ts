import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { queryRows, sqlString, withDuck } from '../../lib/platform/duckdb';

describe('duckdb helper', () => {
  it('writes and reads Parquet through real DuckDB, quoting paths safely', async () => {
    const file = join(mkdtempSync(join(tmpdir(), "volcast duck '")), 'x.parquet');
    const rows = await withDuck(async (db) => {
      await db.run(`COPY (SELECT range::BIGINT AS ts, range * 0.5 AS v FROM range(3)) TO ${sqlString(file)} (FORMAT parquet)`);
      return queryRows<{ ts: bigint; v: number }>(db, `SELECT ts, v FROM read_parquet(${sqlString(file)}) WHERE v > $1 ORDER BY ts`, [0.2]);
    });
    assert.deepEqual(rows, [
      { ts: 1n, v: 0.5 },
      { ts: 2n, v: 1 },
    ]);
  });
});
