/**
 * The feature rows scoring needs, computed from the candle tail instead of a stored feature set:
 * the newest `rows` rows of every series of a universe (1 for a tabular model, its window for a
 * sequence model), by the same featuresQuery (sql.ts) a full build runs, so each feature keeps one
 * definition. Nothing is written.
 *
 * How much tail: the reach of the features is derived here from the definitions and the windows'
 * frames (sql.ts windowReachMs), never declared as a number: a row at ts depends on the candles
 * with open time in [ts − reach.ms, ts] plus the reach.rows candles present before them (lag() looks
 * a row back whatever the gap). Cross-asset columns (btc_ret_1, mkt_*) read other series at the same
 * ts, so every series of the universe is read from the earliest row any series needs.
 *
 * Exactness: DuckDB's window segment trees (fan-out 16) add a frame's values in an order set by the
 * row's position from the partition start. The slice starts on a multiple of ALIGN rows from the
 * series' first candle (its global row number: the manifest's per-partition row counts of the months
 * not read), as the incremental build does (build.ts), so the rows are the full build's bits.
 */
import { barMsOf } from '../../contracts/domain';
import { monthBounds } from '../candles/candle';
import { readManifest, type CandleManifest } from '../candles/lake';
import { queryRows, sqlString, withDuck, type Duck } from '../platform/duckdb';
import { FeatureInputError } from '../platform/errors';
import { layout, type Series } from '../platform/layout';
import type { ArtifactStore } from '../platform/store';
import { ALIGN, candlesRelation, definitionsSha, OUTPUT_COLUMNS, seriesKey } from './build';
import { DEFINITIONS, LM_WINDOW, TARGET_COLUMNS, TARGET_HORIZON, type Definition } from './definitions';
import { CANDLE_COLUMNS, featuresQuery, JOINED_COLUMNS, windowReachMs, windowsOf } from './sql';
import { IMPLIED_LAGS, IMPLIED_MAX_AGE_BARS, loadImplied, withImpliedSql, type ImpliedInput } from './implied';

/** Index history (in feature bars) the implied columns read before the oldest row: the longest lag. */
export const IMPLIED_REACH_BARS = Math.max(...IMPLIED_LAGS);

export interface Reach {
  /** Time before ts the windows reach, nested windows added up (ms). */
  ms: number;
  /** Candles present before that time a lag() still reads. */
  rows: number;
}

const byName = new Map(DEFINITIONS.map((d) => [d.name, d]));

/** The definitions (and joined columns) an expression reads. */
function dependencies(d: Definition): string[] {
  const joined = (JOINED_COLUMNS as Record<string, string>)[d.name];
  if (d.sql === '<join>') {
    if (!joined) throw new Error(`${d.name}: a joined column without a source in sql.ts JOINED_COLUMNS`);
    return [joined];
  }
  return DEFINITIONS.filter((c) => c.name !== d.name && new RegExp(`\\b${c.name}\\b(?!\\s*\\()`).test(d.sql)).map((c) => c.name);
}

/**
 * Reach of one definition: the longest frame of the windows it uses plus the longest reach of
 * what it reads (a window over a windowed column, e.g. w9 over macd, adds up). lag(x, k) adds k
 * rows; the derivation counts rows at the candles only, so lag() of a computed column is refused.
 */
function reachOf(d: Definition, barMs: number, memo: Map<string, Reach>): Reach {
  const hit = memo.get(d.name);
  if (hit) return hit;
  const frames = windowReachMs(barMs, LM_WINDOW);
  let ms = 0;
  for (const w of windowsOf(d)) {
    if (!(w in frames)) throw new Error(`${d.name}: window ${w} has no reach in sql.ts windowReachMs`);
    ms = Math.max(ms, frames[w]!);
  }
  let rows = 0;
  for (const m of d.sql.matchAll(/\blag\(\s*(\w+)\s*(?:,\s*(\d+)\s*)?\)/g)) {
    if (!CANDLE_COLUMNS.includes(m[1]!)) throw new Error(`${d.name}: lag() of ${m[1]}, not a candle column: its reach is not derived (lib/features/tail.ts)`);
    rows = Math.max(rows, Number(m[2] ?? 1));
  }
  let depMs = 0;
  for (const dep of dependencies(d)) {
    const r = reachOf(byName.get(dep)!, barMs, memo);
    depMs = Math.max(depMs, r.ms);
    rows = Math.max(rows, r.rows);
  }
  const out = { ms: ms + depMs, rows };
  memo.set(d.name, out);
  return out;
}

/**
 * The reach of every feature column (targets look forward: unknown at the newest rows, NULL there in
 * a full build as in the tail) and of each definition, for a timeframe.
 */
export function featureReach(barMs: number): { all: Reach; byColumn: Record<string, Reach> } {
  const memo = new Map<string, Reach>();
  const byColumn: Record<string, Reach> = {};
  for (const d of DEFINITIONS) byColumn[d.name] = reachOf(d, barMs, memo);
  const features = DEFINITIONS.filter((d) => d.kind === 'feature').map((d) => byColumn[d.name]!);
  return { all: { ms: Math.max(...features.map((r) => r.ms)), rows: Math.max(...features.map((r) => r.rows)) }, byColumn };
}

export interface TailSeriesInput {
  series: Series;
  /** Local candle Parquet files: consecutive months ending with the newest, ts-sorted each. */
  files: string[];
  /** Candles of the series before the first file (the months not read): 0 when it starts the series. */
  rowsBefore: number;
}

export interface TailSeriesRows {
  series: Series;
  key: string;
  /** Open times of the rows, oldest first (at most `rows`; fewer for a series that short). */
  ts: number[];
  /** OUTPUT_COLUMNS (without ts) -> value per row; non-finite values are NULL as in a feature set. */
  values: Record<string, (number | null)[]>;
}

export type TailResult = { kind: 'rows'; series: TailSeriesRows[] } | { kind: 'more'; series: string[] };

async function loadTail(db: Duck, inputs: TailSeriesInput[], barMs: number, implied: ImpliedInput[] = []): Promise<void> {
  // The implied columns are read point in time from the index files given (they must reach back
  // IMPLIED_REACH_BARS before the oldest row; tailFromLake picks the months).
  await loadImplied(db, implied, seriesKey);
  const candles = withImpliedSql(candlesRelation(inputs, (i) => `, ${inputs[i]!.rowsBefore} AS _before`), barMs);
  await db.run(`CREATE TABLE tail_all AS SELECT *, _before + row_number() OVER (PARTITION BY series ORDER BY ts) AS _rn FROM (${candles})`);
  const dup = await queryRows<{ series: string; ts: bigint }>(db, 'SELECT series, ts FROM tail_all GROUP BY series, ts HAVING count(*) > 1 LIMIT 1');
  if (dup.length) throw new FeatureInputError(`duplicate candle ts ${dup[0]!.ts} in ${dup[0]!.series}`);
}

/**
 * The newest `rows` feature rows of every series, from local candle files; `more` names the series
 * whose files start too late for the rows asked (read an earlier month and call again).
 */
export async function tailFeatureRows(inputs: TailSeriesInput[], opts: { rows: number; threads?: number; implied?: ImpliedInput[] }): Promise<TailResult> {
  if (!inputs.length) throw new FeatureInputError('no series to compute features for');
  if (!Number.isInteger(opts.rows) || opts.rows < 1) throw new FeatureInputError(`rows: a positive integer, got ${opts.rows}`);
  const tfs = new Set(inputs.map((i) => i.series.timeframe));
  if (tfs.size !== 1) throw new FeatureInputError(`one timeframe per computation, got ${[...tfs].join(', ')}`);
  const barMs = barMsOf(inputs[0]!.series.timeframe);
  const keys = inputs.map((i) => seriesKey(i.series));
  if (new Set(keys).size !== keys.length) throw new FeatureInputError('a series is listed twice');
  const reach = featureReach(barMs).all;
  return withDuck(
    async (db) => {
      await loadTail(db, inputs, barMs, opts.implied);
      // The oldest row any series needs: the rows-th newest of each, the earliest of those.
      const [oldest] = await queryRows<{ t: bigint | null }>(db, `SELECT min(t) AS t FROM (SELECT series, min(ts) AS t FROM (SELECT series, ts FROM tail_all QUALIFY row_number() OVER (PARTITION BY series ORDER BY ts DESC) <= ${opts.rows}) GROUP BY series)`);
      if (oldest?.t == null) throw new FeatureInputError(`no candles in the files of ${keys.join(', ')}`);
      const need = Number(oldest.t) - reach.ms;
      // Per series: the first candle at or after `need`, reach.rows candles before it, down to a multiple of ALIGN from the series start.
      const starts = await queryRows<{ series: string; start: bigint; first: bigint }>(
        db,
        `SELECT series, greatest(1, 1 + ${ALIGN} * floor((coalesce(min(_rn) FILTER (WHERE ts >= ${need}), max(_rn) + 1) - ${reach.rows} - 1) / ${ALIGN}))::BIGINT AS start, min(_rn) AS first
         FROM tail_all GROUP BY series`,
      );
      const more = starts.filter((s) => s.start < s.first).map((s) => s.series);
      if (more.length) return { kind: 'more', series: more.sort() };
      await db.run(`CREATE TABLE candles AS SELECT t.* EXCLUDE (_before, _rn) FROM tail_all t JOIN (VALUES ${starts.map((s) => `(${sqlString(s.series)}, ${s.start})`).join(', ')}) s(series, start) ON s.series = t.series WHERE t._rn >= s.start`);
      const query = featuresQuery({ barMs, lmWindow: LM_WINDOW, horizon: TARGET_HORIZON, where: `ts >= ${need}` });
      const rows = await db.runAndReadAll(`SELECT * FROM (${query}) QUALIFY row_number() OVER (PARTITION BY series ORDER BY ts DESC) <= ${opts.rows} ORDER BY series, ts`);
      const names = rows.columnNames();
      const cols = rows.getColumnsJS();
      const seriesCol = cols[names.indexOf('series')]! as string[];
      const out = new Map<string, TailSeriesRows>(inputs.map((i) => [seriesKey(i.series), { series: i.series, key: seriesKey(i.series), ts: [], values: Object.fromEntries(OUTPUT_COLUMNS.slice(1).map((c) => [c, []])) }]));
      for (let r = 0; r < seriesCol.length; r++) {
        const o = out.get(seriesCol[r]!)!;
        o.ts.push(Number(cols[names.indexOf('ts')]![r] as bigint));
        for (const c of OUTPUT_COLUMNS.slice(1)) {
          const v = cols[names.indexOf(c)]![r];
          o.values[c]!.push(v === null || v === undefined ? null : Number(v));
        }
      }
      return { kind: 'rows', series: keys.map((k) => out.get(k)!) };
    },
    { threads: opts.threads ?? 2 },
  );
}

export interface PartitionRead {
  key: string;
  sha256: string;
}

export interface TailFromLake {
  series: TailSeriesRows[];
  /** Every candle partition read, of every series: the inputs' lineage. */
  partitions: PartitionRead[];
  definitionsSha: string;
}

/** One monthly candle partition of a series: its row count (null when unknown) and how to get a local copy. */
export interface MonthFile {
  month: string;
  rows: number | null;
  file: () => Promise<string>;
}

/**
 * The month selection and the loop around tailFeatureRows, over any source of monthly files (the
 * lake's partitions, or local files in tests): the months from (oldest newest-ts − rows − reach −
 * lag and alignment slack) on, gaps aside; one more month for a series whose slice turned out too
 * short; every month from the first when a row count before the slice is unknown (the global row
 * numbers would be). `newest` per series: its newest candle ts. Returns the rows and the months read.
 */
export async function tailFromMonths(
  inputs: { series: Series; newest: number; months: MonthFile[] }[],
  opts: { rows: number; implied?: ImpliedMonths[] },
): Promise<{ series: TailSeriesRows[]; read: { series: Series; months: string[] }[] }> {
  if (!inputs.length) throw new FeatureInputError('no series to compute features for');
  const barMs = barMsOf(inputs[0]!.series.timeframe);
  const reach = featureReach(barMs).all;
  const guess = Math.min(...inputs.map((i) => i.newest)) - (opts.rows - 1 + reach.rows + ALIGN) * barMs - reach.ms;
  // The index months: from before the earliest instant an output row's implied columns read (its
  // longest lag, and a stale-check's worth of index bars before that) to the newest.
  const implied: ImpliedInput[] = [];
  const impliedRead: { series: Series; months: string[] }[] = [];
  for (const iv of opts.implied ?? []) {
    const t = barMsOf(iv.index.timeframe);
    const from = guess - IMPLIED_REACH_BARS * barMs - (IMPLIED_MAX_AGE_BARS + 1) * t;
    const months = iv.months.filter((m) => monthBounds(m.month).end > from).sort((a, b) => a.month.localeCompare(b.month));
    if (!months.length) continue; // the index ended before the tail: its columns are NULL, as in a full build (stale)
    implied.push({ series: iv.series, index: iv.index, files: await Promise.all(months.map((m) => m.file())) });
    impliedRead.push({ series: iv.index, months: months.map((m) => m.month) });
  }
  const plans = inputs.map((i) => {
    if (!i.months.length) throw new FeatureInputError(`no candles for ${seriesKey(i.series)}`);
    const months = [...i.months].sort((a, b) => a.month.localeCompare(b.month));
    let first = months.findIndex((x) => monthBounds(x.month).end > guess);
    if (first < 0) first = months.length - 1;
    return { i, months, first };
  });
  const rowsBefore = (p: (typeof plans)[number]): number | null => {
    let n = 0;
    for (const m of p.months.slice(0, p.first)) {
      if (m.rows === null) return null;
      n += m.rows;
    }
    return n;
  };
  for (;;) {
    const local: TailSeriesInput[] = [];
    for (const p of plans) {
      if (rowsBefore(p) === null) p.first = 0;
      local.push({ series: p.i.series, files: await Promise.all(p.months.slice(p.first).map((m) => m.file())), rowsBefore: rowsBefore(p)! });
    }
    const r = await tailFeatureRows(local, { rows: opts.rows, implied });
    if (r.kind === 'rows') return { series: r.series, read: [...plans.map((p) => ({ series: p.i.series, months: p.months.slice(p.first).map((m) => m.month) })), ...impliedRead] };
    for (const p of plans) if (r.series.includes(seriesKey(p.i.series))) p.first = Math.max(0, p.first - 1);
  }
}

/** The monthly files of the implied-volatility index of a candle series (tailFromMonths). */
export interface ImpliedMonths {
  series: Series;
  index: Series;
  months: MonthFile[];
}

export interface LakeTail {
  series: Series;
  manifest: CandleManifest;
}

/** The universe's candle manifests (one GET each: a consistent snapshot per series) and their watermarks. */
export async function readTailManifests(store: ArtifactStore, universe: Series[]): Promise<{ manifests: LakeTail[]; watermarks: Record<string, number | null> }> {
  if (!universe.length) throw new FeatureInputError('no series to compute features for');
  const manifests = await Promise.all(universe.map(async (series) => {
    const { manifest, ref } = await readManifest(store, series);
    if (!Object.keys(manifest.partitions).length || manifest.watermark === null) {
      throw new FeatureInputError(`no candles for ${seriesKey(series)}: ${ref ? 'its manifest names no partition' : 'no manifest'} at ${layout.candlesManifest(series)}`);
    }
    return { series, manifest };
  }));
  return { manifests, watermarks: Object.fromEntries(manifests.map((m) => [seriesKey(m.series), m.manifest.watermark])) };
}

/**
 * The newest `rows` feature rows of each series of the universe from the candle lake (its
 * manifests, readTailManifests): only the last months that hold the tail are read (sha256-verified,
 * cached local copies of the partitions the manifests name).
 */
export async function tailFromLake(store: ArtifactStore, manifests: LakeTail[], opts: { rows: number; implied?: { series: Series; index: Series }[] }): Promise<TailFromLake> {
  const monthsOf = (manifest: CandleManifest) =>
    Object.keys(manifest.partitions).sort().map((month): MonthFile => {
      const p = manifest.partitions[month]!;
      return { month, rows: typeof p.rows === 'number' ? p.rows : null, file: () => store.getFile({ bucket: store.bucket, key: p.key, sha256: p.sha256 }) };
    });
  const inputs = manifests.map(({ series, manifest }) => ({ series, newest: manifest.watermark!, months: monthsOf(manifest) }));
  // The index series of the universe that has one (config features.implied); a missing index series is NULL columns, as in a build.
  const universe = new Set(manifests.map((m) => seriesKey(m.series)));
  const indexManifests: LakeTail[] = [];
  const implied: ImpliedMonths[] = [];
  for (const iv of opts.implied ?? []) {
    if (!universe.has(seriesKey(iv.series))) continue;
    const { manifest } = await readManifest(store, iv.index);
    indexManifests.push({ series: iv.index, manifest });
    implied.push({ ...iv, months: monthsOf(manifest) });
  }
  const r = await tailFromMonths(inputs, { rows: opts.rows, implied });
  const all = [...manifests, ...indexManifests];
  const partitions = r.read.flatMap(({ series, months }) => {
    const m = all.find((x) => seriesKey(x.series) === seriesKey(series))!.manifest;
    return months.map((month) => ({ key: m.partitions[month]!.key, sha256: m.partitions[month]!.sha256 }));
  });
  return { series: r.series, partitions: partitions.sort((a, b) => a.key.localeCompare(b.key)), definitionsSha: definitionsSha() };
}

/**
 * Realized target values (ts -> value, where known) of one series from its candle files, by the
 * same featuresQuery as a build: what the read API shows beside forecasts now that scoring stores
 * no feature set. Targets read only their own series (no cross-asset column), so one series suffices.
 */
export async function realizedTargets(files: string[], series: Series, target: string): Promise<Map<number, number>> {
  if (!TARGET_COLUMNS.includes(target)) throw new FeatureInputError(`target: ${JSON.stringify(target)} is not a target column (${TARGET_COLUMNS.join(', ')})`);
  if (!files.length) return new Map();
  const barMs = barMsOf(series.timeframe);
  return withDuck(async (db) => {
    await loadTail(db, [{ series, files, rowsBefore: 0 }], barMs);
    await db.run('CREATE VIEW candles AS SELECT * EXCLUDE (_before, _rn) FROM tail_all');
    const rows = await queryRows<{ ts: bigint; v: number }>(db, `SELECT ts, ${target} AS v FROM (${featuresQuery({ barMs, lmWindow: LM_WINDOW, horizon: TARGET_HORIZON })}) WHERE ${target} IS NOT NULL ORDER BY ts`);
    return new Map(rows.map((r) => [Number(r.ts), Number(r.v)]));
  });
}
