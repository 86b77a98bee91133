/**
 * The feature builder core: local candle Parquet files in, one local feature Parquet per series out.
 * No store, no Temporal: the activity (activities/features.ts) wraps it with downloads and uploads,
 * and the bench runs it on local files.
 *
 * Incremental mode: given the previous feature set of the same series, rows whose values cannot
 * have changed are copied from it and only the tail is recomputed. A row's features depend on the
 * MAX_LOOKBACK bars up to it and its targets on the TARGET_HORIZON bars after it, so:
 *   cutoff = min over series of the previous watermark − TARGET_HORIZON bars
 *   rows ts ≤ cutoff: copied; rows ts > cutoff: recomputed from candles with ts ≥ cutoff −
 *   MAX_LOOKBACK bars, plus LAG_DEPTH earlier candles (returns and the bipower product look
 *   1–2 candles further back, whatever the gaps).
 * It relies on the candle lake being append-only before the previous watermark; it checks that the
 * candle count up to the previous watermark equals the previous feature rows and rebuilds in full
 * otherwise.
 */
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { queryRows, sqlString, withDuck, type Duck } from '../platform/duckdb';
import { symbolSegment, type Series } from '../platform/layout';
import { definitionsText, LM_WINDOW, MAX_LOOKBACK, OUTPUT_DEFINITIONS, TARGET_HORIZON } from './definitions';
import { featuresQuery } from './sql';
import { impliedMarks, loadImplied, withImpliedSql, type ImpliedInput } from './implied';
import { barMsOf } from '../../contracts/domain';
import { FeatureInputError } from '../platform/errors';

export { FeatureInputError };

/** Candles before the window start a row's window may still reach through lags (ret_1, bp_term). */
export const LAG_DEPTH = 3;
/**
 * The recomputed slice starts on a multiple of ALIGN candles from the series start. Not needed for
 * correctness: it makes DuckDB's window segment trees (fan-out 16; 256 = two levels, which covers
 * every window up to 720 bars) add the same numbers in the same order as a full rebuild, so the
 * incremental rows are bit-identical instead of equal to the last ulps.
 */
export const ALIGN = 256;

export interface SeriesInput {
  series: Series;
  /** Local candle Parquet files (the monthly objects of the lake). */
  files: string[];
}

export interface PreviousFeatures {
  featureSetId: string;
  /** definitionsSha() of the build that wrote it; another value forces a full rebuild. */
  definitionsSha?: string;
  /** series key -> local feature Parquet file */
  files: Record<string, string>;
  /** series key -> last candle ts (ms) the previous set was built on */
  watermark: Record<string, number>;
  /** series key -> last index open time (ms) its implied columns were built on; absent: built without an index. */
  impliedWatermark?: Record<string, number>;
}

export interface BuildOptions {
  outDir: string;
  previous?: PreviousFeatures;
  threads?: number;
  memoryLimit?: string;
  /** The implied-volatility index of some series (lib/features/implied.ts); the others get NULL there. */
  implied?: ImpliedInput[];
}

export interface SeriesOutput {
  series: Series;
  key: string;
  path: string;
  rows: number;
  firstTs: number;
  watermark: number;
}

export interface BuildResult {
  featureSetId: string;
  columns: string[];
  series: SeriesOutput[];
  rows: number;
  /** series key -> last candle ts (ms) */
  watermark: Record<string, number>;
  /** series key -> last open time of its implied-volatility index (only series with one). */
  impliedWatermark: Record<string, number>;
  /** How the build ran: full, or incremental with the rows recomputed. */
  mode: { kind: 'full'; reason?: string } | { kind: 'incremental'; cutoff: number; recomputed: number; copied: number };
}


export function seriesKey(s: Series): string {
  return `${s.exchange}:${symbolSegment(s.symbol)}:${s.timeframe}`;
}

/** featureSetId: the definitions' text, the timeframe, and per series its watermark and candle count. */
export function featureSetIdOf(barMs: number, marks: Record<string, { watermark: number; rows: number }>): string {
  const h = createHash('sha256');
  h.update(definitionsText());
  h.update(JSON.stringify({ barMs, marks: Object.keys(marks).sort().map((k) => [k, marks[k]!.watermark, marks[k]!.rows]) }));
  return `fs-${h.digest('hex').slice(0, 24)}`;
}

/** Hash of the definitions alone (the previous set must have been built by the same ones). */
export function definitionsSha(): string {
  return createHash('sha256').update(definitionsText()).digest('hex');
}

export const OUTPUT_COLUMNS = ['ts', ...OUTPUT_DEFINITIONS.map((d) => d.name)];

/**
 * The `candles` relation featuresQuery reads (series, exchange, symbol, ts, OHLCV) over the series'
 * local Parquet files, one SELECT per series joined by UNION ALL; `extra(i)` adds columns per input.
 */
export function candlesRelation(inputs: { series: Series; files: string[] }[], extra: (i: number) => string = () => ''): string {
  return inputs
    .map(({ series, files }, i) => {
      if (!files.length) throw new FeatureInputError(`no candle files for ${seriesKey(series)}`);
      return `SELECT ${sqlString(seriesKey(series))} AS series, ${sqlString(series.exchange)} AS exchange, ${sqlString(series.symbol)} AS symbol,
      CAST(ts AS BIGINT) AS ts, CAST(open AS DOUBLE) AS open, CAST(high AS DOUBLE) AS high, CAST(low AS DOUBLE) AS low,
      CAST(close AS DOUBLE) AS close, CAST(volume AS DOUBLE) AS volume${extra(i)}
      FROM read_parquet([${files.map(sqlString).join(', ')}])`;
    })
    .join('\nUNION ALL\n');
}

async function loadCandles(db: Duck, inputs: SeriesInput[], implied: ImpliedInput[], barMs: number): Promise<void> {
  const keys = new Set(inputs.map((i) => seriesKey(i.series)));
  for (const i of implied) if (!keys.has(seriesKey(i.series))) throw new FeatureInputError(`implied volatility for ${seriesKey(i.series)}, which is not a series of the build`);
  await loadImplied(db, implied, seriesKey);
  await db.run(`CREATE TABLE candles_all AS ${withImpliedSql(candlesRelation(inputs), barMs)}`);
  // The lake promises unique, sorted ts; a duplicate would silently double-count in every window.
  const dup = await queryRows<{ series: string; ts: bigint }>(db, 'SELECT series, ts FROM candles_all GROUP BY ALL HAVING count(*) > 1 LIMIT 1');
  if (dup.length) throw new FeatureInputError(`duplicate candle ts ${dup[0]!.ts} in ${dup[0]!.series}`);
}

export async function buildFeatureFiles(inputs: SeriesInput[], opts: BuildOptions): Promise<BuildResult> {
  if (!inputs.length) throw new FeatureInputError('no series to build');
  const tfs = new Set(inputs.map((i) => i.series.timeframe));
  if (tfs.size !== 1) throw new FeatureInputError(`one timeframe per build, got ${[...tfs].join(', ')}`);
  const barMs = barMsOf(inputs[0]!.series.timeframe);
  const keys = inputs.map((i) => seriesKey(i.series));
  if (new Set(keys).size !== keys.length) throw new FeatureInputError('a series is listed twice');
  await mkdir(opts.outDir, { recursive: true });

  const threads = opts.threads ?? 2;
  return withDuck(
    async (db, { connect }) => {
      const implied = opts.implied ?? [];
      await loadCandles(db, inputs, implied, barMs);
      const stats = await queryRows<{ series: string; rows: bigint; first: bigint; last: bigint }>(
        db,
        'SELECT series, count(*) AS rows, min(ts) AS first, max(ts) AS last FROM candles_all GROUP BY series',
      );
      const marks: Record<string, { watermark: number; rows: number }> = {};
      for (const s of stats) marks[s.series] = { watermark: Number(s.last), rows: Number(s.rows) };
      // The index a series reads decides its rows too: which index, its watermark and rows.
      const iv = await impliedMarks(db, implied, seriesKey);
      for (const [key, m] of Object.entries(iv)) marks[`${key}<-implied:${m.index}`] = { watermark: m.watermark, rows: m.rows };
      const featureSetId = featureSetIdOf(barMs, marks);
      const impliedWatermark = Object.fromEntries(Object.entries(iv).map(([k, m]) => [k, m.watermark]));

      const plan = await planIncremental(db, keys, barMs, opts.previous, iv);
      const query = featuresQuery({ barMs, lmWindow: LM_WINDOW, horizon: TARGET_HORIZON, ...(plan.kind === 'incremental' ? { where: `ts > ${plan.cutoff}` } : {}) });
      if (plan.kind === 'incremental') {
        await db.run(`CREATE TABLE candles AS
          WITH idx AS (SELECT *, row_number() OVER (PARTITION BY series ORDER BY ts) AS rn FROM candles_all),
          firsts AS (SELECT series, min(rn) AS f FROM idx WHERE ts >= ${plan.cutoff - MAX_LOOKBACK * barMs} GROUP BY series)
          SELECT idx.* EXCLUDE (rn) FROM idx JOIN firsts USING (series) WHERE rn >= 1 + ${ALIGN} * floor((f - ${LAG_DEPTH} - 1) / ${ALIGN})`);
      } else {
        await db.run('CREATE VIEW candles AS SELECT * FROM candles_all');
      }
      await db.run(`CREATE TABLE feats AS ${query}`);

      // One Parquet per series. A file this size is one row group, which DuckDB writes on one thread:
      // the series are written side by side, one connection per thread (feats is a shared table).
      const outputs: SeriesOutput[] = new Array(inputs.length);
      const counts: { fresh: number; rows: number }[] = new Array(inputs.length);
      const writeOne = async (conn: Duck, k: number): Promise<void> => {
        const input = inputs[k]!;
        const key = seriesKey(input.series);
        const path = join(opts.outDir, `${input.series.exchange}_${symbolSegment(input.series.symbol)}_${input.series.timeframe}.parquet`);
        const fresh = `SELECT * EXCLUDE (series) FROM feats WHERE series = ${sqlString(key)}`;
        const body =
          plan.kind === 'incremental'
            ? `SELECT * FROM read_parquet(${sqlString(opts.previous!.files[key]!)}) WHERE ts <= ${plan.cutoff} UNION ALL ${fresh}`
            : fresh;
        // No dictionary encoding: the columns are doubles with almost no repeated values, so the
        // writer's dictionary attempt per column was ~40% of the write and saved nothing (same file
        // size); zstd level 1 instead of 3: same size here, less CPU.
        await conn.run(`COPY (SELECT * FROM (${body}) ORDER BY ts) TO ${sqlString(path)} (FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, DICTIONARY_SIZE_LIMIT 1)`);
        const [c] = await queryRows<{ rows: bigint; first: bigint; last: bigint; fresh: bigint }>(
          conn,
          `SELECT count(*) AS rows, min(ts) AS first, max(ts) AS last, count(*) FILTER (WHERE ts > ${plan.kind === 'incremental' ? plan.cutoff : -1}) AS fresh FROM read_parquet(${sqlString(path)})`,
        );
        counts[k] = { fresh: Number(c!.fresh), rows: Number(c!.rows) };
        outputs[k] = { series: input.series, key, path, rows: Number(c!.rows), firstTs: Number(c!.first), watermark: Number(c!.last) };
      };
      const conns = [db];
      while (conns.length < Math.min(threads, inputs.length)) conns.push(await connect());
      let next = 0;
      // allSettled: no connection is closed (withDuck's finally) while another still writes.
      const settled = await Promise.allSettled(conns.map(async (conn) => {
        while (next < inputs.length) await writeOne(conn, next++);
      }));
      for (const r of settled) if (r.status === 'rejected') throw r.reason;
      const recomputed = counts.reduce((a, c) => a + c.fresh, 0);
      const copied = counts.reduce((a, c) => a + c.rows - c.fresh, 0);
      return {
        featureSetId,
        columns: OUTPUT_COLUMNS,
        series: outputs,
        rows: outputs.reduce((a, o) => a + o.rows, 0),
        watermark: Object.fromEntries(outputs.map((o) => [o.key, o.watermark])),
        impliedWatermark,
        mode: plan.kind === 'incremental' ? { kind: 'incremental', cutoff: plan.cutoff, recomputed, copied } : plan,
      };
    },
    { threads, memoryLimit: opts.memoryLimit ?? '4GB' },
  );
}

type Plan = { kind: 'full'; reason?: string } | { kind: 'incremental'; cutoff: number };

/** Decides whether the previous feature set can be extended, and from which ts. */
async function planIncremental(db: Duck, keys: string[], barMs: number, prev: PreviousFeatures | undefined, implied: Awaited<ReturnType<typeof impliedMarks>>): Promise<Plan> {
  if (!prev) return { kind: 'full' };
  if (prev.definitionsSha !== undefined && prev.definitionsSha !== definitionsSha()) return { kind: 'full', reason: 'the feature definitions changed' };
  const prevKeys = Object.keys(prev.files).sort();
  if (JSON.stringify(prevKeys) !== JSON.stringify([...keys].sort())) return { kind: 'full', reason: 'the series differ from the previous feature set' };
  for (const key of keys) {
    const wm = prev.watermark[key];
    if (wm === undefined) return { kind: 'full', reason: `no previous watermark for ${key}` };
    const [a] = await queryRows<{ n: bigint }>(db, `SELECT count(*) AS n FROM candles_all WHERE series = ${sqlString(key)} AND ts <= ${wm}`);
    const [b] = await queryRows<{ n: bigint; cols: bigint }>(db, `SELECT count(*) AS n FROM read_parquet(${sqlString(prev.files[key]!)})`);
    if (a!.n !== b!.n) return { kind: 'full', reason: `candles of ${key} up to the previous watermark changed (${a!.n} now, ${b!.n} before)` };
  }
  const cols = await queryRows<{ column_name: string }>(db, `SELECT column_name FROM (DESCRIBE SELECT * FROM read_parquet(${sqlString(Object.values(prev.files)[0]!)}))`);
  if (JSON.stringify(cols.map((c) => c.column_name)) !== JSON.stringify(OUTPUT_COLUMNS)) return { kind: 'full', reason: 'the previous feature set has other columns' };
  let cutoff = Math.min(...keys.map((k) => prev.watermark[k]!)) - TARGET_HORIZON * barMs;
  // The implied columns of a row at ts read index candles closed by ts + bar: rows up to the previous
  // index watermark's close − bar saw every candle they can see (the index is append-only like the
  // lake); later rows may read candles appended since, so they are recomputed.
  const prevIv = prev.impliedWatermark ?? {};
  if (JSON.stringify(Object.keys(prevIv).sort()) !== JSON.stringify(Object.keys(implied).sort())) return { kind: 'full', reason: 'the series with an implied-volatility index differ from the previous feature set' };
  for (const [key, m] of Object.entries(implied)) cutoff = Math.min(cutoff, prevIv[key]! + m.barMs - 2 * barMs);
  return { kind: 'incremental', cutoff };
}
