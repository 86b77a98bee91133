/**
 * The Parquet candle lake (DESIGN.md, Object layout): monthly partitions per series plus a manifest,
 * merged idempotently. Every source (ccxt ingest, archives, normalized files) writes through
 * `mergeIntoLake`, so there is one merge rule: unique ts, the latest fetch wins, an object is put
 * only when its content hash differs from what is stored (a re-run writes nothing).
 *
 * One writer per series at a time: the backfill runs one child workflow per symbol, whose ingest
 * activities run one after another; the CLI import is the only other writer.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { barMsOf } from '../../contracts/domain';
import { monthBounds, monthOf, type Candle, type RejectReason, type ValidatedBatch } from './candle';
import { queryRows, sqlString, withDuck, type Duck } from '../platform/duckdb';
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
 * re-fetch does not count it twice.
 */
export interface CandleManifest {
  version: 1;
  exchange: string;
  symbol: string;
  timeframe: string;
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
  duplicates: number[];
  outOfOrder: number[];
  /** Where rows came from, e.g. "ccxt:binance", "archive:binance", "csv:shared". */
  sources: string[];
  partitions: Record<string, PartitionRef>;
}

export interface MergeResult {
  /** Objects put by this merge (partitions + manifest); 0 when the data was already stored. */
  objectsWritten: number;
  partitionsWritten: string[];
  manifestWritten: boolean;
  manifest: CandleManifest;
  manifestRef: ObjectRef;
}

export function emptyManifest(series: Series): CandleManifest {
  return {
    version: 1,
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
    sources: [],
    partitions: {},
  };
}

export async function readManifest(store: ArtifactStore, series: Series): Promise<{ manifest: CandleManifest; ref: ObjectRef | null }> {
  const got = await store.readLatest(layout.candlesManifest(series));
  if (!got) return { manifest: emptyManifest(series), ref: null };
  return { manifest: JSON.parse(got.data.toString('utf8')) as CandleManifest, ref: got.ref };
}

const COLUMNS = 'ts BIGINT, open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, volume DOUBLE, quote_volume DOUBLE, trades BIGINT';

async function loadIncoming(db: Duck, rows: Candle[]): Promise<void> {
  await db.run(`CREATE TABLE incoming (${COLUMNS})`);
  const app = await db.createAppender('incoming');
  for (const r of rows) {
    app.appendBigInt(BigInt(r.ts));
    app.appendDouble(r.open);
    app.appendDouble(r.high);
    app.appendDouble(r.low);
    app.appendDouble(r.close);
    app.appendDouble(r.volume);
    if (r.quote_volume === null) app.appendNull();
    else app.appendDouble(r.quote_volume);
    if (r.trades === null) app.appendNull();
    else app.appendBigInt(BigInt(r.trades));
    app.endRow();
  }
  app.closeSync();
}

/**
 * The merged month as Parquet bytes: stored rows, overridden by incoming rows with the same ts (the
 * latest fetch wins), keeping stored optional fields the new source lacks (ccxt has no trades).
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

export interface MergeOptions {
  source: string;
  /** The range this batch fetched from the exchange without a hole ([from, to] open times); widens coverage. */
  fetched?: { from: number; to: number };
}

/** Merges a validated batch into the series' partitions and manifest; puts only what changed. */
export async function mergeIntoLake(store: ArtifactStore, series: Series, batch: ValidatedBatch, opts: MergeOptions): Promise<MergeResult> {
  const barMs = barMsOf(series.timeframe);
  const { manifest: before, ref: beforeRef } = await readManifest(store, series);
  const partitions: Record<string, PartitionRef> = { ...before.partitions };
  const months = [...new Set(batch.rows.map((r) => monthOf(r.ts)))].sort();
  const partitionsWritten: string[] = [];
  const dir = await mkdtemp(join(tmpdir(), 'volcast-lake-'));
  try {
    const stats = await withDuck(
      async (db) => {
        await loadIncoming(db, batch.rows);
        for (const month of months) {
          const existing = partitions[month];
          const file = existing ? await store.getFile({ bucket: store.bucket, key: existing.key, sha256: existing.sha256 }) : null;
          const merged = await mergedMonth(db, dir, month, file);
          const sha256 = sha256Of(merged.buf);
          if (existing && existing.sha256 === sha256) continue; // identical content: no put
          const ref = await store.putBuffer(layout.candles(series, month), merged.buf, 'application/vnd.apache.parquet');
          partitions[month] = { key: ref.key, sha256: ref.sha256, rows: merged.rows };
          partitionsWritten.push(month);
        }
        const files: string[] = [];
        for (const month of Object.keys(partitions).sort()) {
          const p = partitions[month]!;
          files.push(await store.getFile({ bucket: store.bucket, key: p.key, sha256: p.sha256 }));
        }
        return seriesStats(db, files, barMs);
      },
      { threads: 1 }, // one thread: Parquet bytes stay deterministic, so equal content hashes equal
    );

    const rejectedRows = union(before.rejectedRows, batch.rejected, (r) => `${r.ts}|${r.reason}|${r.ts === null ? r.raw : ''}`).sort(
      (a, b) => (a.ts ?? -1) - (b.ts ?? -1) || a.reason.localeCompare(b.reason),
    );
    const rejected: Partial<Record<RejectReason, number>> = {};
    for (const r of rejectedRows) rejected[r.reason] = (rejected[r.reason] ?? 0) + 1;
    let covered = before.covered;
    const f = opts.fetched;
    if (f && f.to >= f.from) {
      // Coverage grows only when the fetched range touches it (no hole in between); else it is kept.
      if (!covered) covered = { ...f };
      else if (f.from <= covered.to + barMs && f.to >= covered.from - barMs) covered = { from: Math.min(covered.from, f.from), to: Math.max(covered.to, f.to) };
    }
    const sortedPartitions: Record<string, PartitionRef> = {};
    for (const m of Object.keys(partitions).sort()) sortedPartitions[m] = partitions[m]!;
    const manifest: CandleManifest = {
      ...before,
      version: 1,
      watermark: stats.last,
      first: stats.first,
      rows: stats.rows,
      covered,
      gaps: stats.gaps,
      rejected,
      rejectedRows,
      duplicates: [...new Set([...before.duplicates, ...batch.duplicates])].sort((a, b) => a - b),
      outOfOrder: [...new Set([...before.outOfOrder, ...batch.outOfOrder])].sort((a, b) => a - b),
      sources: [...new Set([...before.sources, opts.source])].sort(),
      partitions: sortedPartitions,
    };
    const body = `${JSON.stringify(manifest, null, 2)}\n`;
    const key = layout.candlesManifest(series);
    let manifestRef: ObjectRef;
    let manifestWritten = false;
    if (beforeRef && beforeRef.sha256 === sha256Of(body)) {
      manifestRef = beforeRef;
    } else {
      manifestRef = await store.putBuffer(key, body, 'application/json');
      manifestWritten = true;
    }
    return { objectsWritten: partitionsWritten.length + (manifestWritten ? 1 : 0), partitionsWritten, manifestWritten, manifest, manifestRef };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Every stored candle of a series, ts-sorted (tests, status, later stages). */
export async function readSeries(store: ArtifactStore, series: Series): Promise<Candle[]> {
  const { manifest } = await readManifest(store, series);
  const files: string[] = [];
  for (const p of Object.values(manifest.partitions)) files.push(await store.getFile({ bucket: store.bucket, key: p.key, sha256: p.sha256 }));
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
