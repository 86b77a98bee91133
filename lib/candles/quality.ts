/**
 * Data-quality flags: the rows candle validation rejected (the manifest lists them with reasons).
 * A flag blocks promotion for the runs whose rows it falls in, until it is resolved (a valid candle
 * was stored at that time since, e.g. a re-import) or acknowledged by a person with a reason
 * (`volcast data ack`, recorded in candles/…/_acks.json beside the manifest). `_acks.json` is
 * read-modify-written with a conditional put (If-Match on the version read; re-read and re-applied
 * on a conflict), so two people acknowledging at once both keep their acknowledgements.
 */
import type { RejectReason, Series } from '../../contracts/types';
import { CandleInputError, CorruptDocumentError } from '../platform/errors';
import { queryRows, sqlString, withDuck } from '../platform/duckdb';
import { layout } from '../platform/layout';
import type { ArtifactStore } from '../platform/store';
import { monthOf } from './candle';
import { partitionFiles, readManifest } from './lake';

export interface FlagAck {
  /** Open time of the rejected row; null for a row whose time did not parse (matched by its raw text). */
  ts: number | null;
  reason: RejectReason;
  raw: string | null;
  note: string;
  at: string;
}

export interface AcksDocument {
  version: 1;
  series: Series;
  acks: FlagAck[];
}

export interface QualityFlag {
  ts: number | null;
  reason: RejectReason;
  raw: string;
  status: 'open' | 'acknowledged' | 'resolved';
  note?: string;
}

function parseAcks(data: Buffer | null, series: Series): AcksDocument {
  if (!data) return { version: 1, series, acks: [] };
  try {
    const doc = JSON.parse(data.toString('utf8')) as AcksDocument;
    if (!Array.isArray(doc.acks)) throw new Error('no acks list');
    return doc;
  } catch (err) {
    throw new CorruptDocumentError(`acknowledgements ${layout.candlesAcks(series)} cannot be read (${(err as Error).message})`);
  }
}

async function readAcks(store: ArtifactStore, series: Series): Promise<AcksDocument> {
  return parseAcks((await store.readLatest(layout.candlesAcks(series)))?.data ?? null, series);
}

const acks = (a: Pick<FlagAck, 'ts' | 'reason' | 'raw'>, f: Pick<QualityFlag, 'ts' | 'reason' | 'raw'>) =>
  a.reason === f.reason && (f.ts === null ? a.ts === null && a.raw === f.raw : a.ts === f.ts);

/** Open times (of the flagged ones) that hold a stored, valid candle now. */
async function storedAmong(store: ArtifactStore, series: Series, times: number[]): Promise<Set<number>> {
  if (!times.length) return new Set();
  const { manifest } = await readManifest(store, series);
  const files = await partitionFiles(store, manifest, [...new Set(times.map(monthOf))]);
  if (!files.length) return new Set();
  const rows = await withDuck((db) =>
    queryRows<{ ts: bigint }>(db, `SELECT ts FROM read_parquet([${files.map(sqlString).join(', ')}]) WHERE ts IN (${times.map((t) => String(t)).join(', ')})`),
  );
  return new Set(rows.map((r) => Number(r.ts)));
}

/** Every flag of the series (optionally of rows in [from, to]; rows without a time always count). */
export async function qualityFlags(store: ArtifactStore, series: Series, range?: { from: number; to: number }): Promise<QualityFlag[]> {
  const { manifest } = await readManifest(store, series);
  const rows = manifest.rejectedRows.filter((r) => !range || r.ts === null || (r.ts >= range.from && r.ts <= range.to));
  const doc = await readAcks(store, series);
  const stored = await storedAmong(store, series, rows.map((r) => r.ts).filter((t): t is number => t !== null));
  return rows.map((r) => {
    const ack = doc.acks.find((a) => acks(a, r));
    const status: QualityFlag['status'] = r.ts !== null && stored.has(r.ts) ? 'resolved' : ack ? 'acknowledged' : 'open';
    return { ts: r.ts, reason: r.reason, raw: r.raw, status, ...(ack ? { note: ack.note } : {}) };
  });
}

/** What blocks a promotion: a summary of the open flags in the range, naming how to clear them. */
export async function unresolvedFlags(store: ArtifactStore, series: Series, range: { from: number; to: number }): Promise<string[]> {
  const open = (await qualityFlags(store, series, range)).filter((f) => f.status === 'open');
  if (!open.length) return [];
  const byReason = new Map<string, number>();
  for (const f of open) byReason.set(f.reason, (byReason.get(f.reason) ?? 0) + 1);
  const first = open[0]!;
  return [
    `${open.length} rejected candle row(s) of ${series.symbol} ${series.timeframe} in the run's rows (${[...byReason].map(([r, n]) => `${r}: ${n}`).join(', ')}; first at ${first.ts === null ? 'an unparsable time' : new Date(first.ts).toISOString()}): see ${layout.candlesManifest(series)}; re-import the bars or acknowledge them with \`volcast data ack --symbol ${series.symbol} --all --reason "…"\``,
  ];
}

/** Acknowledges flags (all open ones, or those at the given open times) with a reason; returns how many it recorded. */
export async function ackFlags(store: ArtifactStore, series: Series, sel: { all?: boolean; ts?: number[] }, note: string, at: string): Promise<number> {
  if (!note.trim()) throw new CandleInputError('an acknowledgement needs a reason (--reason)');
  if (!sel.all && !sel.ts?.length) throw new CandleInputError('name the flags to acknowledge: --ts <time> (repeatable) or --all');
  const open = (await qualityFlags(store, series)).filter((f) => f.status === 'open' && (sel.all || (f.ts !== null && sel.ts!.includes(f.ts))));
  if (!sel.all) {
    const unknown = sel.ts!.filter((t) => !open.some((f) => f.ts === t));
    if (unknown.length) throw new CandleInputError(`no open flag of ${series.symbol} ${series.timeframe} at ${unknown.map((t) => new Date(t).toISOString()).join(', ')} (see volcast data status --flags)`);
  }
  if (!open.length) return 0;
  const up = await store.updateObject(layout.candlesAcks(series), async (current) => {
    const doc = parseAcks(current?.data ?? null, series);
    // Re-applied on the version read: an acknowledgement another writer recorded meanwhile is kept, not doubled.
    const fresh = open.filter((f) => !doc.acks.some((a) => acks(a, f)));
    for (const f of fresh) doc.acks.push({ ts: f.ts, reason: f.reason, raw: f.ts === null ? f.raw : null, note, at });
    return { body: fresh.length ? `${JSON.stringify(doc, null, 2)}\n` : null, contentType: 'application/json', result: fresh.length };
  });
  return up.result;
}
