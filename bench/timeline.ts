/**
 * Where a run's wall time goes: activity spans read from workflow histories (a parent and the
 * children it started), and the split of the wall time into "a fit activity running",
 * "only other activities running" and "nothing running" (orchestration: workflow tasks, timers,
 * queue waits, scheduling). Used by bench:train; the split itself is pure (tested in test/unit).
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';

const ET = temporal.api.enums.v1.EventType;

export interface ActivitySpan {
  type: string;
  workflowId: string;
  scheduled: number;
  started: number;
  closed: number;
  /** Closed by a completion (not a failure, time-out or cancellation). */
  completed: boolean;
}

function tsMs(t: { seconds?: unknown; nanos?: number | null } | null | undefined): number {
  if (!t) return NaN;
  return Number(String(t.seconds ?? 0)) * 1000 + (t.nanos ?? 0) / 1e6;
}

/** Every activity attempt that closed (completed, failed, timed out, cancelled) in the workflow and its children, recursively. */
export async function activitySpans(client: Client, workflowId: string): Promise<ActivitySpan[]> {
  const spans: ActivitySpan[] = [];
  const queue = [workflowId];
  while (queue.length) {
    const id = queue.shift()!;
    const history = await client.workflow.getHandle(id).fetchHistory();
    const scheduled = new Map<string, { type: string; at: number }>();
    const started = new Map<string, number>();
    for (const e of history.events ?? []) {
      const at = tsMs(e.eventTime);
      switch (e.eventType) {
        case ET.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
          scheduled.set(String(e.eventId), { type: e.activityTaskScheduledEventAttributes?.activityType?.name ?? '?', at });
          break;
        case ET.EVENT_TYPE_ACTIVITY_TASK_STARTED:
          started.set(String(e.activityTaskStartedEventAttributes?.scheduledEventId), at);
          break;
        case ET.EVENT_TYPE_CHILD_WORKFLOW_EXECUTION_STARTED: {
          const child = e.childWorkflowExecutionStartedEventAttributes?.workflowExecution?.workflowId;
          if (child) queue.push(child);
          break;
        }
        default: {
          const completed = e.activityTaskCompletedEventAttributes;
          const closed = completed ?? e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes ?? e.activityTaskCanceledEventAttributes;
          if (!closed) break;
          const key = String(closed.scheduledEventId);
          const s = scheduled.get(key);
          // Started events of retried activities are written when they close: a missing start is the close.
          if (s) spans.push({ type: s.type, workflowId: id, scheduled: s.at, started: started.get(key) ?? at, closed: at, completed: Boolean(completed) });
        }
      }
    }
  }
  return spans;
}

/** Length of the union of [start, end) intervals, clipped to [from, to). */
function unionMs(intervals: [number, number][], from: number, to: number): number {
  const xs = intervals.map(([a, b]) => [Math.max(a, from), Math.min(b, to)] as [number, number]).filter(([a, b]) => b > a).sort((p, q) => p[0] - q[0]);
  let total = 0;
  let cur: [number, number] | null = null;
  for (const x of xs) {
    if (cur && x[0] <= cur[1]) cur[1] = Math.max(cur[1], x[1]);
    else {
      if (cur) total += cur[1] - cur[0];
      cur = [x[0], x[1]];
    }
  }
  return cur ? total + cur[1] - cur[0] : total;
}

export interface WallSplit {
  wallMs: number;
  /** At least one fit activity running. */
  fitActivityMs: number;
  /** Other activities only (features, plan, evaluate, promotion…). */
  otherActivityMs: number;
  /** Nothing running: workflow tasks, scheduling, queue waits. */
  orchestrationMs: number;
  /** Summed fit activity time over the time one ran: how many ran at once on average. */
  meanFitsInFlight: number;
}

/** The split of [from, to) by which activities were running (fit types: `isFit`). */
export function wallSplit(spans: ActivitySpan[], from: number, to: number, isFit: (type: string) => boolean): WallSplit {
  const fits = spans.filter((s) => isFit(s.type)).map((s) => [s.started, s.closed] as [number, number]);
  const all = spans.map((s) => [s.started, s.closed] as [number, number]);
  const wallMs = to - from;
  const fitActivityMs = unionMs(fits, from, to);
  const anyMs = unionMs(all, from, to);
  const fitSum = fits.reduce((a, [s, e]) => a + Math.max(0, Math.min(e, to) - Math.max(s, from)), 0);
  return { wallMs, fitActivityMs, otherActivityMs: anyMs - fitActivityMs, orchestrationMs: wallMs - anyMs, meanFitsInFlight: fitActivityMs ? fitSum / fitActivityMs : 0 };
}
