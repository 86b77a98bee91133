/**
 * How the CLI runs a workflow: it first checks that a worker polls every task queue the run needs
 * (and names the `volcast worker …` command to start otherwise: it never waits silently), starts
 * it, shows its progress from workflow queries while it runs (one updating line on a TTY, periodic
 * lines otherwise), and turns a failure into a WorkflowRunError carrying the workflow id and the
 * root cause.
 */
import { WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { Workflow } from '@temporalio/common';
import { catalog } from '../contracts/activities';
import { fitActivityFor } from '../contracts/domain';
import type { BackfillInput, BackfillProgress, SymbolProgress, TrainInput } from '../contracts/types';
import type { VolcastConfig } from '../lib/platform/config';
import { NoWorkerError } from '../lib/platform/errors';
import { pollersOf } from '../lib/platform/temporal';
import type { QueueRole } from '../temporal.config';
import { progressQuery, symbolProgressQuery, trainProgressQuery, trainSeriesProgressQuery, type TrainSeriesProgress } from '../workflows';
import { workflowRunError } from './errors';

// ---- Workers ----

export interface QueueNeed {
  role: QueueRole;
  /** What the run needs it for (the message names it). */
  needs: string;
}

const WORKER_COMMAND: Record<QueueRole, { command: string; note?: string }> = {
  cpu: { command: 'volcast worker cpu' },
  trainCpu: { command: 'volcast worker train' },
  gpu: { command: 'volcast worker train', note: 'on a machine with CUDA, or `volcast worker train --gpu-on-cpu` to fit the neural models on CPU' },
};

/** The queues a train run needs: volcast-cpu, and the trainer queue of each of its models' kinds. */
export function trainNeeds(input: TrainInput): QueueNeed[] {
  const byRole = new Map<QueueRole, string[]>();
  for (const m of input.protocol.models) {
    const role = catalog[fitActivityFor(m.kind)].queue;
    byRole.set(role, [...(byRole.get(role) ?? []), m.name]);
  }
  const out: QueueNeed[] = [{ role: 'cpu', needs: 'the workflows, ingest, features, evaluation' }];
  for (const [role, models] of byRole) out.push({ role, needs: `${role === 'gpu' ? 'fitNeuralModel' : 'fitModel'}: ${models.join(', ')}` });
  return out;
}

export const CPU_NEEDS: QueueNeed[] = [{ role: 'cpu', needs: 'the workflow and its activities' }];

/**
 * Fails with NoWorkerError, naming the command to start, when a needed queue has no poller. The
 * server remembers pollers for a few minutes; a trainer whose every slot has been busy for longer
 * does not poll and looks absent (`--no-worker-check` starts the run anyway).
 */
export async function requireWorkers(client: Client, cfg: VolcastConfig, needs: QueueNeed[]): Promise<void> {
  const missing: NoWorkerError['missing'] = [];
  for (const n of needs) {
    const queue = cfg.taskQueues[n.role];
    // The cpu worker runs the workflows: its workflow pollers are the ones a run needs first.
    const pollers = await pollersOf(client, queue, n.role === 'cpu' ? 'workflow' : 'activity');
    if (!pollers.length) missing.push({ queue, needs: n.needs, ...WORKER_COMMAND[n.role] });
  }
  if (missing.length) throw new NoWorkerError(missing);
}

// ---- Progress display ----

export interface ProgressView {
  /** One line (the TTY's updating line). */
  line: string;
  /** The periodic lines instead: a head line (default `line`) and details under it (per model). */
  head?: string;
  detail?: string[];
}

function envSeconds(name: string): number | null {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : null;
}

/** TTY: one line rewritten in place; otherwise a line when something changed, at most every interval. */
export class ProgressPrinter {
  private last = '';
  private lastAt = 0;
  private shown = false;
  readonly tty: boolean;
  readonly intervalMs: number;

  constructor(private readonly out: NodeJS.WriteStream = process.stdout) {
    this.tty = Boolean(out.isTTY) && process.env.VOLCAST_PROGRESS !== 'lines';
    this.intervalMs = (envSeconds('VOLCAST_PROGRESS_SECONDS') ?? (this.tty ? 1 : 30)) * 1000;
  }

  show(v: ProgressView): void {
    const now = Date.now();
    if (this.tty) {
      const width = Math.max(20, (this.out.columns || 100) - 1);
      const text = v.line.length > width ? `${v.line.slice(0, width - 1)}…` : v.line;
      this.out.write(`\r\x1b[2K${text}`);
      this.shown = true;
      return;
    }
    const text = [v.head ?? v.line, ...(v.detail ?? []).map((d) => `    ${d}`)].join('\n');
    // Unchanged progress is repeated every 5 minutes, so a long quiet stage still shows it is alive.
    if (text === this.last && now - this.lastAt < 300_000) return;
    this.out.write(`  … ${text}\n`);
    this.last = text;
    this.lastAt = now;
  }

  /** Ends the TTY line before other output. */
  end(): void {
    if (this.tty && this.shown) this.out.write('\r\x1b[2K');
    this.shown = false;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | null> {
  return Promise.race([p.catch(() => null), new Promise<null>((r) => setTimeout(() => r(null), ms).unref())]);
}

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

// ---- Running a workflow ----

export interface RunSpec<W extends Workflow> {
  /** Its type, as printed ("train", "score", …). */
  type: string;
  workflow: W;
  workflowId: string;
  args: Parameters<W>;
  needs: QueueNeed[];
  /** Check the workers first (default true). */
  workerCheck?: boolean;
  progress?: (handle: WorkflowHandle<W>) => Promise<ProgressView | null>;
  /** Called once the run has started (to print where to follow it). */
  onStarted?: () => void;
  /** Called with the failure before it is reported; returns whether part of the run's output was written. */
  onFailure?: (err: unknown) => boolean;
}

export async function runWorkflow<W extends Workflow>(client: Client, cfg: VolcastConfig, spec: RunSpec<W>): Promise<Awaited<ReturnType<W>>> {
  if (spec.workerCheck !== false) await requireWorkers(client, cfg, spec.needs);
  const handle = (await client.workflow.start(spec.workflow, { taskQueue: cfg.taskQueues.cpu, workflowId: spec.workflowId, args: spec.args } as never)) as WorkflowHandle<W>;
  spec.onStarted?.();
  const result = handle.result().then(
    (r) => ({ ok: true as const, r: r as Awaited<ReturnType<W>> }),
    (e: unknown) => ({ ok: false as const, e }),
  );
  const printer = new ProgressPrinter();
  let done: Awaited<typeof result> | undefined;
  if (spec.progress) {
    // The first look comes soon (a fast run prints none); then every interval.
    let wait = Math.min(2000, printer.intervalMs);
    while (!done) {
      done = await Promise.race([result, new Promise<undefined>((r) => setTimeout(() => r(undefined), wait))]);
      if (done) break;
      wait = printer.intervalMs;
      const view = await withTimeout(spec.progress(handle), 10_000);
      if (view) printer.show(view);
    }
    printer.end();
  } else {
    done = await result;
  }
  if (done.ok) return done.r;
  // The client's own trouble (Temporal went away while it waited) is not the run's failure.
  if (!(done.e instanceof WorkflowFailedError)) throw done.e;
  const partial = spec.onFailure ? spec.onFailure(done.e) : false;
  throw workflowRunError(done.e, spec.type, spec.workflowId, partial);
}

// ---- Train progress (queries of the train workflow and its trainSeries children) ----

export async function trainProgress(client: Client, handle: WorkflowHandle): Promise<ProgressView | null> {
  const parent = await withTimeout(handle.query(trainProgressQuery), 5000);
  if (!parent) return null;
  if (parent.stage === 'ingest') return { line: 'train: ingesting the newest candles' };
  if (parent.stage === 'features') return { line: 'train: building features' };
  const children = await Promise.all(
    parent.children.map(async (c) => ({ c, p: await withTimeout(client.workflow.getHandle(c.workflowId).query(trainSeriesProgressQuery), 5000) })),
  );
  const known = children.filter((x): x is { c: (typeof x)['c']; p: TrainSeriesProgress } => x.p !== null);
  let planned = 0;
  let finished = 0;
  let failed = 0;
  let running = 0;
  let startedAt = Infinity;
  for (const { p } of known) {
    for (const m of p.models) {
      planned += m.planned;
      finished += m.done + m.failed;
      failed += m.failed;
      running += m.running;
    }
    if (p.fitsStartedAt !== null) startedAt = Math.min(startedAt, p.fitsStartedAt);
  }
  const elapsed = Date.now() - startedAt;
  const eta = finished > 0 && Number.isFinite(startedAt) && finished < planned ? `, ETA ${duration((elapsed / finished) * (planned - finished))}` : '';
  const bySeries = known.map(({ p }) => {
    const d = p.models.reduce((s, m) => s + m.done + m.failed, 0);
    const n = p.models.reduce((s, m) => s + m.planned, 0);
    return `${p.symbol} ${p.target} ${d}/${n} (${p.stage})`;
  });
  const pending = parent.children.length - known.length;
  const head = planned
    ? `train: fits ${finished}/${planned} done (${Math.floor((100 * finished) / planned)}%), ${running} running${failed ? `, ${failed} failed` : ''}${eta}`
    : 'train: planning the fits';
  const line = `${head} · ${bySeries.join(' · ')}${pending ? ` · ${pending} series starting` : ''}`;
  const detail = known.map(({ p }) => `${p.symbol} ${p.target} [${p.stage}]: ${p.models.map((m) => `${m.name} ${m.done}/${m.planned}${m.running ? ` (${m.running} running)` : ''}${m.failed ? ` (${m.failed} failed)` : ''}`).join(', ')}`);
  return { line, head: `${head}${pending ? `, ${pending} series starting` : ''}`, detail };
}

// ---- Backfill progress (the parent's `progress` query; a running child's last heartbeat) ----

function monthIndex(ts: number): number {
  const d = new Date(ts);
  return d.getUTCFullYear() * 12 + d.getUTCMonth();
}

/** Calendar months of [from, end) and how many of them lie before `cursor`. */
export function monthsOf(from: number, end: number, cursor: number | null): { done: number; total: number } {
  const total = Math.max(1, monthIndex(end - 1) - monthIndex(from) + 1);
  if (cursor === null || cursor <= from) return { done: 0, total };
  if (cursor >= end) return { done: total, total };
  return { done: Math.min(total, Math.max(0, monthIndex(cursor) - monthIndex(from))), total };
}

async function childCursor(client: Client, p: SymbolProgress): Promise<number | null> {
  if (!p.workflowId) return null;
  const h = client.workflow.getHandle(p.workflowId);
  const [live, desc] = await Promise.all([withTimeout(h.query(symbolProgressQuery), 5000), withTimeout(h.describe(), 5000)]);
  let cursor = live?.watermark != null ? live.watermark + 1 : null;
  const payload = desc?.raw.pendingActivities?.[0]?.heartbeatDetails?.payloads?.[0];
  if (payload) {
    try {
      const beat = defaultPayloadConverter.fromPayload<{ cursor?: number }>(payload);
      if (typeof beat?.cursor === 'number') cursor = Math.max(cursor ?? 0, beat.cursor);
    } catch {
      /* not ours */
    }
  }
  return cursor;
}

export async function backfillProgress(client: Client, handle: WorkflowHandle, input: BackfillInput): Promise<ProgressView | null> {
  const p: BackfillProgress | null = await withTimeout(handle.query(progressQuery), 5000);
  if (!p) return null;
  const end = input.to ?? input.now ?? Date.now();
  const parts = await Promise.all(
    p.symbols.map(async (s) => {
      if (s.status === 'pending') return `${s.symbol} pending`;
      if (s.status === 'failed') return `${s.symbol} FAILED`;
      const cursor = s.status === 'done' ? end : await childCursor(client, s);
      const m = monthsOf(input.from, end, cursor);
      return `${s.symbol} ${m.done}/${m.total} months${s.status === 'done' ? ' done' : ''}`;
    }),
  );
  const line = `backfill: ${p.done}/${p.total} symbols done, ${p.running} running${p.failed ? `, ${p.failed} failed` : ''}`;
  return { line: `${line} · ${parts.join(' · ')}` };
}
