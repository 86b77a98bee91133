/**
 * The model input tensor from a local feature-set Parquet (docs/model-contract.md): tabular [N, F]
 * with F = card.input.columns in order, or sequence [N, W, F] (the row and its W − 1 predecessors in
 * file order, oldest first). A row is scorable iff every value it needs is present: non-null and
 * finite (NaN/±Inf count as missing, as pandas' isna and a float32 cast would make them useless).
 */
import { queryRows, sqlString, withDuck, type Duck } from '../platform/duckdb';
import type { CardInput } from './modelCard';
import { ModelInputError } from '../platform/errors';

export { ModelInputError };

export interface TsWindow {
  /** startTs <= ts < endTs, ms (bar open time, UTC). */
  startTs: number;
  endTs: number;
}

export interface ModelInputs {
  /** ts of each scorable row in the window, ascending. */
  ts: number[];
  /** Row-major float32 values, rows × window × columns. */
  x: Float32Array;
  /** [rows, F] or [rows, W, F] */
  dims: number[];
}


function ident(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

async function checkColumns(db: Duck, path: string, columns: string[]): Promise<void> {
  const have = new Set((await queryRows<{ column_name: string }>(db, `DESCRIBE SELECT * FROM read_parquet(${sqlString(path)})`)).map((r) => r.column_name));
  const missing = ['ts', ...columns].filter((c) => !have.has(c));
  if (missing.length) throw new ModelInputError(`feature set ${path} lacks the model input column(s) ${missing.join(', ')}`);
}

/** ts and the input columns (as DOUBLE) of the window's rows plus the W − 1 rows before it. */
async function readRows(path: string, input: CardInput, window: TsWindow): Promise<{ ts: number[]; cols: (number | null)[][] }> {
  return withDuck(async (db) => {
    await checkColumns(db, path, input.columns);
    const casts = input.columns.map((c, i) => `CAST(${ident(c)} AS DOUBLE) AS c${i}`).join(', ');
    const w = input.kind === 'sequence' ? input.window : 1;
    const reader = await db.runAndReadAll(
      `WITH f AS (SELECT ts, ${casts} FROM read_parquet(${sqlString(path)}))
       SELECT * FROM f
       WHERE ts < $end AND ts >= coalesce((SELECT min(ts) FROM (SELECT ts FROM f WHERE ts < $start ORDER BY ts DESC LIMIT ${w - 1})), $start)
       ORDER BY ts`,
      { start: BigInt(window.startTs), end: BigInt(window.endTs) },
    );
    const columns = reader.getColumnsJS();
    const ts = (columns[0] ?? []).map((v) => Number(v as bigint));
    return { ts, cols: columns.slice(1) as (number | null)[][] };
  });
}

export async function buildInputs(featuresPath: string, input: CardInput, window: TsWindow): Promise<ModelInputs> {
  const { ts, cols } = await readRows(featuresPath, input, window);
  return inputsFromColumns(ts, cols, input, window);
}

/**
 * The tensor from rows already in memory (scoring's tail rows, lib/features/tail.ts): `ts` ascending,
 * `values` column name -> value per row; the same scorable-row rule as a feature-set file.
 */
export function inputsFromRows(ts: number[], values: Record<string, (number | null)[]>, input: CardInput, window: TsWindow, where: string): ModelInputs {
  const missing = input.columns.filter((c) => !(c in values));
  if (missing.length) throw new ModelInputError(`${where} lacks the model input column(s) ${missing.join(', ')}`);
  return inputsFromColumns(ts, input.columns.map((c) => values[c]!), input, window);
}

/** The scorable rows of `ts`/`cols` (cols in card.input.columns order) in the window, as a tensor. */
function inputsFromColumns(ts: number[], cols: (number | null)[][], input: CardInput, window: TsWindow): ModelInputs {
  const F = input.columns.length;
  const W = input.kind === 'sequence' ? input.window : 1;
  const n = ts.length;
  // bad[i] = number of rows ≤ i with a missing value: a window (i−W, i] is clean iff bad is flat over it.
  const bad = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) {
    let ok = true;
    for (let c = 0; c < F; c++) {
      const v = cols[c]![i];
      if (v === null || v === undefined || !Number.isFinite(v)) ok = false;
    }
    bad[i + 1] = bad[i]! + (ok ? 0 : 1);
  }
  const picked: number[] = [];
  for (let i = W - 1; i < n; i++) {
    if (ts[i]! >= window.startTs && ts[i]! < window.endTs && bad[i + 1] === bad[i + 1 - W]) picked.push(i);
  }
  const x = new Float32Array(picked.length * W * F);
  picked.forEach((i, r) => {
    for (let k = 0; k < W; k++) {
      const row = i - W + 1 + k;
      for (let c = 0; c < F; c++) x[(r * W + k) * F + c] = cols[c]![row] as number;
    }
  });
  return { ts: picked.map((i) => ts[i]!), x, dims: input.kind === 'sequence' ? [picked.length, W, F] : [picked.length, F] };
}
