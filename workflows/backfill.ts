/**
 * Backfill: a date range for many symbols. The parent runs one child workflow per symbol, at most
 * `concurrency` at once; each child ingests its range one chunk of months at a time (one activity
 * per chunk: the unit of retry and progress), in order, so exactly one writer touches a series.
 *
 * Progress: the `progress` query (CLI) and the memo (Web UI) on parent and children. Histories
 * stay small: a child continues-as-new after a number of chunks. Deterministic: no I/O, no clock;
 * "now" comes in as input (or the activity asks the exchange).
 */
import {
  ApplicationFailure,
  continueAsNew,
  defineQuery,
  executeChild,
  setHandler,
  upsertMemo,
  workflowInfo,
} from '@temporalio/workflow';
import type { IngestInput, IngestResult } from '../contracts/activities';
import { acts, activity } from './proxies';
import type { BackfillInput, SymbolProgress, BackfillProgress, BackfillSymbolInput } from '../contracts/types';
export type { BackfillInput, SymbolProgress, BackfillProgress, BackfillSymbolInput };

export const progressQuery = defineQuery<BackfillProgress>('progress');
export const symbolProgressQuery = defineQuery<SymbolProgress>('symbolProgress');

/** Start of the calendar month `months` after the one holding `ts` (UTC): chunk boundaries. */
export function addMonths(ts: number, months: number): number {
  const d = new Date(ts);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + months, 1);
}

/** Number of chunks in [from, to), when the end is known. */
export function countChunks(from: number, to: number, months: number): number {
  let n = 0;
  for (let t = from; t < to && n < 100_000; t = addMonths(t, months)) n++;
  return n;
}

function summarize(symbols: SymbolProgress[]): BackfillProgress {
  const count = (s: SymbolProgress['status']) => symbols.filter((p) => p.status === s).length;
  return { total: symbols.length, done: count('done'), running: count('running'), failed: count('failed'), symbols };
}

function childId(symbol: string): string {
  return `${workflowInfo().workflowId}--${symbol.replace('/', '-')}`;
}

export async function backfill(input: BackfillInput): Promise<BackfillProgress> {
  const progress = new Map<string, SymbolProgress>();
  for (const symbol of input.symbols) {
    progress.set(symbol, { symbol, status: 'pending', chunksDone: 0, chunksTotal: 0, fetchedRows: 0, storedRows: 0, rejected: {}, gaps: 0, objectsWritten: 0, watermark: null });
  }
  const snapshot = () => summarize([...progress.values()]);
  setHandler(progressQuery, snapshot);
  const memo = () => {
    const s = snapshot();
    upsertMemo({ progress: `${s.done}/${s.total} symbols done, ${s.running} running, ${s.failed} failed` });
  };
  memo();

  const runOne = async (symbol: string) => {
    const p = progress.get(symbol)!;
    p.status = 'running';
    p.workflowId = childId(symbol);
    memo();
    try {
      const r = await executeChild(backfillSymbol, {
        workflowId: p.workflowId,
        args: [
          {
            symbol,
            timeframe: input.timeframe,
            exchange: input.exchange,
            now: input.now,
            refetch: input.refetch,
            from: input.from,
            to: input.to,
            monthsPerActivity: input.monthsPerActivity,
            cursor: input.from,
            acc: null,
          },
        ],
      });
      Object.assign(p, r, { status: 'done', workflowId: p.workflowId });
    } catch (err) {
      p.status = 'failed';
      // The root cause (e.g. UnknownSymbolError) sits under the child and activity failures.
      let e: unknown = err;
      while ((e as { cause?: unknown }).cause) e = (e as { cause: unknown }).cause;
      p.error = e instanceof Error ? `${(e as { type?: string }).type ?? e.name}: ${e.message}` : String(e);
    }
    memo();
  };

  const queue = [...input.symbols];
  const running = new Set<Promise<void>>();
  while (queue.length > 0 || running.size > 0) {
    while (running.size < Math.max(1, input.concurrency) && queue.length > 0) {
      const job: Promise<void> = runOne(queue.shift()!).finally(() => running.delete(job));
      running.add(job);
    }
    await Promise.race(running);
  }
  const result = snapshot();
  if (result.failed > 0) {
    const failures = result.symbols.filter((s) => s.status === 'failed').map((s) => `${s.symbol}: ${s.error}`);
    throw ApplicationFailure.nonRetryable(`backfill failed for ${result.failed} of ${result.total} symbols:\n${failures.join('\n')}`, 'BackfillFailedError', result);
  }
  return result;
}

// Each chunk adds ~8 events (activity + memo); continue-as-new well before histories grow large.
const CHUNKS_PER_RUN = 100;

export async function backfillSymbol(input: BackfillSymbolInput): Promise<SymbolProgress> {
  const end = input.to ?? input.now;
  const p: SymbolProgress = input.acc ?? {
    symbol: input.symbol,
    status: 'running',
    chunksDone: 0,
    chunksTotal: end !== undefined ? countChunks(input.from, end, input.monthsPerActivity) : 0,
    fetchedRows: 0,
    storedRows: 0,
    rejected: {},
    gaps: 0,
    objectsWritten: 0,
    watermark: null,
  };
  setHandler(symbolProgressQuery, () => p);
  let ranHere = 0;
  let cursor = input.cursor;
  // Bounded by the window (or by the exchange's clock, which the activity reports through `end`).
  for (;;) {
    if (end !== undefined && cursor >= end) break;
    if (ranHere >= CHUNKS_PER_RUN || workflowInfo().continueAsNewSuggested) {
      await continueAsNew<typeof backfillSymbol>({ ...input, cursor, acc: p });
    }
    const next = addMonths(cursor, input.monthsPerActivity);
    const until = end !== undefined ? Math.min(next, end) : next;
    const r: IngestResult = await acts.ingest({
      exchange: input.exchange,
      symbol: input.symbol,
      timeframe: input.timeframe,
      since: cursor,
      until,
      now: input.now,
      refetch: input.refetch,
    });
    ranHere++;
    p.chunksDone += 1;
    if (end === undefined) p.chunksTotal = p.chunksDone + (r.end < until ? 0 : 1);
    p.fetchedRows += r.fetchedRows;
    p.storedRows = r.storedRows;
    p.objectsWritten += r.objectsWritten;
    p.watermark = r.watermark;
    p.gaps = r.gapsTotal;
    for (const [reason, n] of Object.entries(r.rejected)) p.rejected[reason] = (p.rejected[reason] ?? 0) + (n ?? 0);
    upsertMemo({ progress: `${p.chunksDone}/${p.chunksTotal} chunks, ${p.storedRows} rows, watermark ${p.watermark ?? '-'}` });
    cursor = until;
    if (r.end < until) break; // reached the exchange's "now": nothing newer has closed
  }
  p.status = 'done';
  return p;
}

/** One ingest of one series (the CLI's incremental update, tests): a single activity with its retries. */
export async function ingestSeries(input: IngestInput & { heartbeatTimeoutS?: number }): Promise<IngestResult> {
  const { heartbeatTimeoutS, ...args } = input;
  const ingest = heartbeatTimeoutS ? activity('ingest', { heartbeatTimeout: `${heartbeatTimeoutS} seconds` }) : acts.ingest;
  return ingest(args);
}
