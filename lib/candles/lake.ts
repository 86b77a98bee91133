/**
 * The Parquet candle lake (DESIGN.md, Object layout; docs/lake.md): monthly partitions per series
 * plus a manifest, merged idempotently. Every source (ccxt ingest, archives, normalized files)
 * writes through `mergeIntoLake`, so there is one merge rule: unique ts; an identical row is a no-op;
 * a row that differs from the stored bar replaces it only when the caller says so (a fresh exchange
 * fetch, or `volcast data import --replace`), else it is refused and the stored bar kept; an object
 * is put only when its content differs from what is stored (a re-run writes nothing).
 *
 * Any number of writers per series, safely (docs/lake.md):
 * - Partitions are immutable and content-addressed (candles/…/{YYYY-MM}/{sha256}.parquet, created
 *   with If-None-Match): a merge never overwrites an object another reader or writer may use; it
 *   writes a new object for each month it changes.
 * - `_manifest.json` is the only mutable object and the commit point: it is written last, with
 *   If-Match on the ETag of the version the merge read (If-None-Match when there was none). A writer
 *   that loses the race re-reads the manifest and redoes its merge on top of the winner's (bounded,
 *   then WriteConflictError, retryable), so no writer's rows are lost.
 * - Readers go manifest -> partition refs (key + sha256, verified): one GET of the manifest is a
 *   consistent snapshot. A crash before the manifest put leaves the previous manifest and every
 *   object it names intact. Objects no manifest names (a crashed or losing writer's, or months
 *   replaced since) are orphans, harmless: a later housekeeping job may delete unreferenced objects.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { barMsOf } from '../../contracts/domain';
import { monthBounds, monthOf, type Candle, type LakeRow, type RejectReason, type SeriesKind, type ValidatedBatch } from './candle';
import { queryRows, sqlString, withDuck, type Duck } from '../platform/duckdb';
import { CandleInputError, CorruptDocumentError } from '../platform/errors';
import { layout, type Series } from '../platform/layout';
import { sha256Of, type ArtifactStore, type ObjectRef } from '../platform/store';
import type { Gap } from '../../contracts/types';
export type { Gap };

export interface PartitionRef {
  key: string;
  sha256: string;
  rows: number;
}

/**
 * `_manifest.json`. It holds no wall-clock time, so that merging the same data twice yields the same
 * bytes (and no put). Issue lists are sets keyed by open time: seeing the same bad row again on a
 * re-fetch does not count it twice. Version 1 (fixed partition keys, no `changed`/`refused`) is read
 * as version 2 with empty lists; the next merge writes version 2.
 */
export interface CandleManifest {
  version: 2;
  exchange: string;
  symbol: string;
  timeframe: string;
  /**
   * 'index' for an index series (close-only rows valid, no volume; docs/lake.md "Index series").
   * Absent on candle series, so their manifests keep the bytes they had.
   */
  kind?: SeriesKind;
  /** Open time of the last stored candle: ingest resumes at watermark + 1 bar. */
  watermark: number | null;
  first: number | null;
  rows: number;
  /**
   * Open times [from, to] fetched from the exchange without a hole, all closed candles: an
   * incremental ingest starts after `to` and skips this range unless asked to re-fetch.
   */
  covered: { from: number; to: number } | null;
  gaps: Gap[];
  rejected: Partial<Record<RejectReason, number>>;
  rejectedRows: { ts: number | null; reason: RejectReason; raw: string }[];
  /** Open times that came more than once in one input (identical or conflicting). */
  duplicates: number[];
  outOfOrder: number[];
  /** Open times whose stored bar was replaced by different values (a fresh exchange fetch, or import --replace). */
  changed: number[];
  /** Open times of imported rows refused because they differed from the stored bar (the stored bar was kept). */
  refused: number[];
  /** Where rows came from, e.g. "ccxt:binance", "archive:binance", "csv:shared". */
  sources: string[];
  /** Month -> the partition object that holds it. The only way to find a series' data. */
  partitions: Record<string, PartitionRef>;
}

export interface MergeResult {
  /** Objects put by this merge (partitions + manifest); 0 when the data was already stored. */
  objectsWritten: number;
  partitionsWritten: string[];
  manifestWritten: boolean;
  manifest: CandleManifest;
  /** The committed manifest; null only when nothing was ever stored (an empty batch into a new series). */
  manifestRef: ObjectRef | null;
  /** Open times of stored bars this merge replaced with different values. */
  changed: number[];
  /** Open times of rows this merge refused: they differ from the stored bar, and the merge keeps stored bars. */
  refused: number[];
  /** Merge attempts: 1, or more when concurrent writers committed first (each re-read and re-merged). */
  attempts: number;
}

export function emptyManifest(series: Series): CandleManifest {
  return {
    version: 2,
    exchange: series.exchange,
    symbol: series.symbol,
    timeframe: series.timeframe,
    watermark: null,
    first: null,
    rows: 0,
    covered: null,
    gaps: [],
    rejected: {},
    rejectedRows: [],
    duplicates: [],
    outOfOrder: [],
    changed: [],
    refused: [],
    sources: [],
    partitions: {},
  };
}

/** A stored manifest, checked enough that readers cannot trip over it; names the object otherwise. */
export function parseManifest(data: Buffer, series: Series): CandleManifest {
  const where = layout.candlesManifest(series);
  let v: Omit<Partial<CandleManifest>, 'version' | 'partitions'> & { version?: unknown; partitions?: Record<string, Partial<PartitionRef> | null> | null };
  try {
    v = JSON.parse(data.toString('utf8')) as typeof v;
  } catch (err) {
    throw new CorruptDocumentError(`candle manifest ${where} is not valid JSON (${(err as Error).message})`);
  }
  if (typeof v !== 'object' || v === null || (v.version !== 1 && v.version !== 2) || typeof v.partitions !== 'object' || v.partitions === null) {
    throw new CorruptDocumentError(`candle manifest ${where} is not a version 1 or 2 lake manifest with partitions (write candles through the lake: volcast data import or ingest)`);
  }
  for (const [month, p] of Object.entries(v.partitions)) {
    if (typeof p?.key !== 'string' || typeof p.sha256 !== 'string') throw new CorruptDocumentError(`candle manifest ${where}: partition ${month} lacks key or sha256`);
  }
  const base = emptyManifest(series);
  return { ...base, ...v, version: 2, changed: v.changed ?? [], refused: v.refused ?? [], partitions: v.partitions as Record<string, PartitionRef> };
}

/** The manifest as committed now (one GET: a consistent snapshot), its reference and ETag. */
export async function readManifest(store: ArtifactStore, series: Series): Promise<{ manifest: CandleManifest; ref: ObjectRef | null; etag: string | null }> {
  const got = await store.readLatest(layout.candlesManifest(series));
  if (!got) return { manifest: emptyManifest(series), ref: null, etag: null };
  return { manifest: parseManifest(got.data, series), ref: got.ref, etag: got.etag };
}

/** Local, sha256-verified copies of the partitions a manifest names (all, or those months), in month order. */
export async function partitionFiles(store: ArtifactStore, manifest: CandleManifest, months?: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const m of months ?? Object.keys(manifest.partitions).sort()) {
    const p = manifest.partitions[m];
    if (p) files.push(await store.getFile({ bucket: store.bucket, key: p.key, sha256: p.sha256 }));
  }
  return files;
}

const COLUMNS = 'ts BIGINT, open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, volume DOUBLE, quote_volume DOUBLE, trades BIGINT';

async function loadIncoming(db: Duck, rows: LakeRow[]): Promise<void> {
  await db.run(`CREATE TABLE incoming (${COLUMNS})`);
  const app = await db.createAppender('incoming');
  // An index row lacks fields a candle has (volume; open/high/low when close-only): NULL there.
  const dbl = (v: number | null) => (v === null ? app.appendNull() : app.appendDouble(v));
  for (const r of rows) {
    app.appendBigInt(BigInt(r.ts));
    dbl(r.open);
    dbl(r.high);
    dbl(r.low);
    app.appendDouble(r.close);
    dbl(r.volume);
    if (r.quote_volume === null) app.appendNull();
    else app.appendDouble(r.quote_volume);
    if (r.trades === null) app.appendNull();
    else app.appendBigInt(BigInt(r.trades));
    app.endRow();
  }
  app.closeSync();
}

/**
 * The merged month as Parquet bytes: stored rows, overridden by incoming rows with the same ts
 * (those left after refusals), keeping stored optional fields the new source lacks (ccxt has no trades).
 */
async function mergedMonth(db: Duck, dir: string, month: string, existingFile: string | null): Promise<{ buf: Buffer; rows: number }> {
  const { start, end } = monthBounds(month);
  const stored = existingFile ? `SELECT * FROM read_parquet(${sqlString(existingFile)})` : `SELECT * FROM incoming WHERE false`;
  const out = join(dir, `${month}.parquet`);
  await db.run(`COPY (
      SELECT coalesce(n.ts, o.ts) AS ts,
             CASE WHEN n.ts IS NULL THEN o.open ELSE n.open END AS open,
             CASE WHEN n.ts IS NULL THEN o.high ELSE n.high END AS high,
             CASE WHEN n.ts IS NULL THEN o.low ELSE n.low END AS low,
             CASE WHEN n.ts IS NULL THEN o.close ELSE n.close END AS close,
             CASE WHEN n.ts IS NULL THEN o.volume ELSE n.volume END AS volume,
             coalesce(n.quote_volume, o.quote_volume) AS quote_volume,
             coalesce(n.trades, o.trades) AS trades
      FROM (${stored}) o
      FULL OUTER JOIN (SELECT * FROM incoming WHERE ts >= ${start} AND ts < ${end}) n ON n.ts = o.ts
      ORDER BY 1
    ) TO ${sqlString(out)} (FORMAT parquet, COMPRESSION zstd)`);
  const [count] = await queryRows<{ n: bigint }>(db, `SELECT count(*) AS n FROM read_parquet(${sqlString(out)})`);
  return { buf: await readFile(out), rows: Number(count!.n) };
}

/** Rows, first/last and gaps of the whole series, computed from its partitions (exact, never accumulated). */
async function seriesStats(db: Duck, files: string[], barMs: number): Promise<{ rows: number; first: number | null; last: number | null; gaps: Gap[] }> {
  if (files.length === 0) return { rows: 0, first: null, last: null, gaps: [] };
  const src = `read_parquet([${files.map(sqlString).join(', ')}])`;
  const [s] = await queryRows<{ n: bigint; first: bigint | null; last: bigint | null }>(db, `SELECT count(*) AS n, min(ts) AS first, max(ts) AS last FROM ${src}`);
  const gaps = await queryRows<{ prev: bigint; ts: bigint }>(
    db,
    `SELECT prev, ts FROM (SELECT ts, lag(ts) OVER (ORDER BY ts) AS prev FROM ${src}) WHERE ts - prev > ${barMs} ORDER BY ts`,
  );
  return {
    rows: Number(s!.n),
    first: s!.first === null ? null : Number(s!.first),
    last: s!.last === null ? null : Number(s!.last),
    gaps: gaps.map((g) => ({ from: Number(g.prev) + barMs, to: Number(g.ts) - barMs, bars: (Number(g.ts) - Number(g.prev)) / barMs - 1 })),
  };
}

function union<T>(a: T[], b: T[], key: (x: T) => string): T[] {
  const m = new Map<string, T>();
  for (const x of [...a, ...b]) m.set(key(x), x);
  return [...m.values()];
}

const unionTimes = (a: number[], b: number[]) => [...new Set([...a, ...b])].sort((x, y) => x - y);

/** Median ratio bounds of an import's close to the stored close on overlapping bars: outside them it is another instrument (or a unit error). */
export const PLAUSIBLE_CLOSE_RATIO = { min: 0.5, max: 2 } as const;

export interface MergeOptions {
  source: string;
  /** The range this batch fetched from the exchange without a hole ([from, to] open times); widens coverage. */
  fetched?: { from: number; to: number };
  /**
   * A row whose values differ from the stored bar at its ts: 'replace' it (a fresh exchange fetch,
   * or an explicit import --replace; counted in `changed`) or 'keep' the stored bar and refuse the
   * row (counted in `refused`).
   */
  differing: 'replace' | 'keep';
  /**
   * Refuse the whole batch (CandleInputError naming `what`, nothing written) when the median ratio
   * of its close to the stored close on overlapping bars is outside PLAUSIBLE_CLOSE_RATIO.
   */
  plausibility?: { what: string };
  /** What the series holds (default 'candles'); a batch of another kind than the stored series is refused. */
  kind?: SeriesKind;
}

/** Stored optional fields a source lacks are kept, not a difference; anything else that differs is. */
// IS DISTINCT FROM: an index row's NULL open/high/low/volume compares as a value (NULL <> NULL would hide a change).
const DIFFERS = `(n.open IS DISTINCT FROM o.open OR n.high IS DISTINCT FROM o.high OR n.low IS DISTINCT FROM o.low OR n.close <> o.close OR n.volume IS DISTINCT FROM o.volume
  OR (n.quote_volume IS NOT NULL AND o.quote_volume IS NOT NULL AND n.quote_volume <> o.quote_volume)
  OR (n.trades IS NOT NULL AND o.trades IS NOT NULL AND n.trades <> o.trades))`;

/**
 * Merges a validated batch into the series' partitions and manifest; puts only what changed. Safe
 * with concurrent writers of the same series (see the top of this file): the manifest put is
 * conditional on the version this merge started from; on a conflict the merge is redone on top of
 * the newer manifest. An empty batch (no row, nothing rejected, no fetched range) writes nothing.
 */
export async function mergeIntoLake(store: ArtifactStore, series: Series, batch: ValidatedBatch<LakeRow>, opts: MergeOptions): Promise<MergeResult> {
  const barMs = barMsOf(series.timeframe);
  const fetched = opts.fetched && opts.fetched.to >= opts.fetched.from ? opts.fetched : undefined;
  if (batch.rows.length === 0 && batch.rejected.length === 0 && !fetched) {
    const { manifest, ref } = await readManifest(store, series);
    return { objectsWritten: 0, partitionsWritten: [], manifestWritten: false, manifest, manifestRef: ref, changed: [], refused: [], attempts: 0 };
  }
  const months = [...new Set(batch.rows.map((r) => monthOf(r.ts)))].sort();
  const dir = await mkdtemp(join(tmpdir(), 'volcast-lake-'));
  // Per month and base partition (the stored version merged against): what the batch does to it. A
  // retry after a lost race redoes only the months another writer changed, so a long merge racing
  // short ones still converges.
  const compared = new Map<string, { ratios: number[]; differing: number[] }>();
  const mergedParts = new Map<string, PartitionRef | null>(); // null: the merge changes nothing
  const baseOf = (month: string, p: PartitionRef | undefined) => `${month}|${p?.sha256 ?? '-'}`;
  try {
    const up = await store.updateObject(layout.candlesManifest(series), async (current) => {
      const before = current ? parseManifest(current.data, series) : emptyManifest(series);
      const kind = opts.kind ?? 'candles';
      if (current && (before.kind ?? 'candles') !== kind) {
        throw new CandleInputError(`${series.exchange} ${series.symbol} ${series.timeframe} holds ${before.kind ?? 'candles'}, not ${kind}: nothing was written (an index goes in a series of its own, e.g. deribit BTC/DVOL)`);
      }
      const partitions: Record<string, PartitionRef> = { ...before.partitions };
      const partitionsWritten: string[] = [];
      const changed: number[] = [];
      const refused: number[] = [];
      const stats = await withDuck(
        async (db) => {
          await loadIncoming(db, batch.rows);
          const stored = new Map<string, string>();
          for (const month of months) {
            const p = partitions[month];
            if (p) stored.set(month, await store.getFile({ bucket: store.bucket, key: p.key, sha256: p.sha256 }));
            const base = baseOf(month, p);
            if (!p || compared.has(base)) continue;
            const { start, end } = monthBounds(month);
            const overlap = await queryRows<{ ts: bigint; ratio: number; differs: boolean }>(
              db,
              `SELECT n.ts, n.close / o.close AS ratio, ${DIFFERS} AS differs FROM incoming n JOIN read_parquet(${sqlString(stored.get(month)!)}) o ON n.ts = o.ts
               WHERE n.ts >= ${start} AND n.ts < ${end} ORDER BY n.ts`,
            );
            compared.set(base, { ratios: overlap.map((o) => o.ratio), differing: overlap.filter((o) => o.differs).map((o) => Number(o.ts)) });
          }
          const cmp = months.map((m) => compared.get(baseOf(m, partitions[m])) ?? { ratios: [], differing: [] });
          if (opts.plausibility) {
            const ratios = cmp.flatMap((c) => c.ratios).sort((a, b) => a - b);
            const ratio = ratios.length % 2 ? ratios[(ratios.length - 1) / 2]! : (ratios[ratios.length / 2 - 1]! + ratios[ratios.length / 2]!) / 2;
            if (ratios.length && (ratio < PLAUSIBLE_CLOSE_RATIO.min || ratio > PLAUSIBLE_CLOSE_RATIO.max)) {
              throw new CandleInputError(
                `${opts.plausibility.what}: prices implausible for ${series.symbol} ${series.timeframe} (${series.exchange}): its close is ${ratio.toPrecision(3)}x the stored close ` +
                  `(median over ${ratios.length} overlapping bars; plausible ${PLAUSIBLE_CLOSE_RATIO.min}-${PLAUSIBLE_CLOSE_RATIO.max}). Another instrument? Nothing was written; check the file and --symbol`,
              );
            }
          }
          const differing = cmp.flatMap((c) => c.differing);
          if (opts.differing === 'keep') refused.push(...differing);
          else changed.push(...differing);
          if (refused.length) {
            // The stored bar stays: the refused rows take no part in the merge.
            await db.run('CREATE TABLE refused (ts BIGINT)');
            const app = await db.createAppender('refused');
            for (const ts of refused) {
              app.appendBigInt(BigInt(ts));
              app.endRow();
            }
            app.closeSync();
            await db.run('DELETE FROM incoming WHERE ts IN (SELECT ts FROM refused)');
          }
          for (const month of months) {
            const base = baseOf(month, partitions[month]);
            if (!mergedParts.has(base)) {
              const merged = await mergedMonth(db, dir, month, stored.get(month) ?? null);
              const sha256 = sha256Of(merged.buf);
              if (partitions[month]?.sha256 === sha256) {
                mergedParts.set(base, null); // identical content: no put
              } else {
                const key = layout.candlesPartition(series, month, sha256);
                // Create-only: a content-addressed object that exists already holds these very bytes.
                await store.putBufferIf(key, merged.buf, { ifNoneMatch: '*' }, 'application/vnd.apache.parquet');
                mergedParts.set(base, { key, sha256, rows: merged.rows });
              }
            }
            const part = mergedParts.get(base);
            if (!part) continue;
            partitions[month] = part;
            partitionsWritten.push(month);
          }
          const sorted = Object.keys(partitions).sort();
          return seriesStats(db, await partitionFiles(store, { ...before, partitions }, sorted), barMs);
        },
        { threads: 1 }, // one thread: Parquet bytes stay deterministic, so equal content hashes equal
      );

      const rejectedRows = union(before.rejectedRows, batch.rejected, (r) => `${r.ts}|${r.reason}|${r.ts === null ? r.raw : ''}`).sort(
        (a, b) => (a.ts ?? -1) - (b.ts ?? -1) || a.reason.localeCompare(b.reason),
      );
      const rejected: Partial<Record<RejectReason, number>> = {};
      for (const r of rejectedRows) rejected[r.reason] = (rejected[r.reason] ?? 0) + 1;
      let covered = before.covered;
      if (fetched) {
        // Coverage grows only when the fetched range touches it (no hole in between); else it is kept.
        if (!covered) covered = { ...fetched };
        else if (fetched.from <= covered.to + barMs && fetched.to >= covered.from - barMs) covered = { from: Math.min(covered.from, fetched.from), to: Math.max(covered.to, fetched.to) };
      }
      const sortedPartitions: Record<string, PartitionRef> = {};
      for (const m of Object.keys(partitions).sort()) sortedPartitions[m] = partitions[m]!;
      const manifest: CandleManifest = {
        ...before,
        version: 2,
        ...(kind === 'index' ? { kind } : {}),
        watermark: stats.last,
        first: stats.first,
        rows: stats.rows,
        covered,
        gaps: stats.gaps,
        rejected,
        rejectedRows,
        duplicates: unionTimes(before.duplicates, batch.duplicates),
        outOfOrder: unionTimes(before.outOfOrder, batch.outOfOrder),
        changed: unionTimes(before.changed, changed),
        refused: unionTimes(before.refused, refused),
        sources: [...new Set([...before.sources, opts.source])].sort(),
        partitions: sortedPartitions,
      };
      return { body: `${JSON.stringify(manifest, null, 2)}\n`, contentType: 'application/json', result: { manifest, partitionsWritten, changed, refused } };
    });
    const { manifest, partitionsWritten, changed, refused } = up.result;
    return {
      objectsWritten: partitionsWritten.length + (up.written ? 1 : 0),
      partitionsWritten,
      manifestWritten: up.written,
      manifest,
      manifestRef: up.ref,
      changed,
      refused,
      attempts: up.attempts,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Every stored candle of a series, ts-sorted (tests, status, later stages): the partitions the manifest names. */
export async function readSeries(store: ArtifactStore, series: Series): Promise<Candle[]> {
  const { manifest } = await readManifest(store, series);
  const files = await partitionFiles(store, manifest);
  if (files.length === 0) return [];
  return withDuck(async (db) => {
    const rows = await queryRows<Record<string, unknown>>(db, `SELECT * FROM read_parquet([${files.map(sqlString).join(', ')}]) ORDER BY ts`);
    return rows.map((r) => ({
      ts: Number(r.ts),
      open: r.open as number,
      high: r.high as number,
      low: r.low as number,
      close: r.close as number,
      volume: r.volume as number,
      quote_volume: (r.quote_volume as number | null) ?? null,
      trades: r.trades === null || r.trades === undefined ? null : Number(r.trades),
    }));
  });
}
