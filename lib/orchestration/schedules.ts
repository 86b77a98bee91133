/**
 * The Temporal Schedules declared in temporal.config.ts: hourly scoring, daily training and housekeeping.
 * `applySchedules` is idempotent: it creates what is missing and updates what exists to match.
 */
import { ScheduleNotFoundError, type Client, type ScheduleOptions } from '@temporalio/client';
import type { Duration } from '@temporalio/common';
import type { VolcastConfig } from '../platform/config';
import { housekeepingInput, scoreInput, trainInput } from './inputs';

export type ScheduleName = keyof VolcastConfig['schedules'];
export const SCHEDULE_NAMES: ScheduleName[] = ['score', 'train', 'housekeeping'];

function argsOf(cfg: VolcastConfig, name: ScheduleName): unknown[] {
  if (name === 'score') return [scoreInput(cfg)];
  if (name === 'train') return [trainInput(cfg, { protocol: 'scheduled' })];
  return [housekeepingInput(cfg)];
}

export interface ScheduleSpec {
  name: ScheduleName;
  scheduleId: string;
  workflowType: string;
  args: unknown[];
  cron: string;
  paused: boolean;
  overlap: VolcastConfig['schedules']['score']['overlap'];
  catchupWindow: string;
}

/** The workflow input each schedule starts with, derived from config (workflow code cannot read it). */
export function scheduleSpecs(cfg: VolcastConfig, idPrefix = 'volcast'): ScheduleSpec[] {
  return SCHEDULE_NAMES.map((name) => {
    const s = cfg.schedules[name];
    return {
      name,
      scheduleId: `${idPrefix}-${name}`,
      workflowType: name,
      // The workflow type by name: lib/ never imports workflow code (the CLI starts runs by reference).
      args: argsOf(cfg, name),
      cron: s.cron,
      paused: s.paused,
      overlap: s.overlap,
      catchupWindow: s.catchupWindow,
    };
  });
}

function options(cfg: VolcastConfig, spec: ScheduleSpec): ScheduleOptions {
  return {
    scheduleId: spec.scheduleId,
    spec: { cronExpressions: [spec.cron] },
    action: {
      type: 'startWorkflow',
      workflowType: spec.workflowType,
      args: spec.args,
      taskQueue: cfg.taskQueues.cpu,
      // One run per fire time; the schedule appends the time, so re-runs of a fire are not doubled.
      workflowId: `${spec.scheduleId}-run`,
    },
    policies: { overlap: spec.overlap, catchupWindow: spec.catchupWindow as Duration, pauseOnFailure: false },
    state: { paused: spec.paused, note: spec.paused ? 'paused in temporal.config.ts' : undefined },
    memo: { declaredIn: 'temporal.config.ts' },
  };
}

export async function applySchedules(client: Client, cfg: VolcastConfig, idPrefix?: string): Promise<{ id: string; action: 'created' | 'updated' }[]> {
  const out: { id: string; action: 'created' | 'updated' }[] = [];
  for (const spec of scheduleSpecs(cfg, idPrefix)) {
    const opts = options(cfg, spec);
    const handle = client.schedule.getHandle(spec.scheduleId);
    try {
      await handle.describe();
    } catch (err) {
      if (!(err instanceof ScheduleNotFoundError)) throw err;
      await client.schedule.create(opts);
      out.push({ id: spec.scheduleId, action: 'created' });
      continue;
    }
    await handle.update((prev) => ({
      ...prev,
      spec: opts.spec,
      action: { ...prev.action, ...opts.action } as typeof prev.action,
      policies: { ...prev.policies, overlap: spec.overlap, catchupWindow: spec.catchupWindow as Duration },
      state: { ...prev.state, paused: spec.paused },
    }));
    out.push({ id: spec.scheduleId, action: 'updated' });
  }
  return out;
}

export interface ScheduleRow {
  id: string;
  paused: boolean;
  cron: string[];
  nextActionTimes: Date[];
  recentActions: number;
  note?: string;
}

export async function listSchedules(client: Client, idPrefix = 'volcast'): Promise<ScheduleRow[]> {
  const rows: ScheduleRow[] = [];
  for await (const s of client.schedule.list()) {
    if (!s.scheduleId.startsWith(`${idPrefix}-`)) continue;
    const d = await client.schedule.getHandle(s.scheduleId).describe();
    rows.push({
      id: s.scheduleId,
      paused: d.state.paused,
      cron: d.spec.calendars?.length ? d.spec.calendars.map((c) => JSON.stringify(c)) : (d.raw.schedule?.spec?.cronString ?? []),
      nextActionTimes: d.info.nextActionTimes,
      recentActions: d.info.recentActions.length,
      note: d.state.note,
    });
  }
  return rows.sort((a, b) => a.id.localeCompare(b.id));
}

export async function pauseSchedule(client: Client, id: string, paused: boolean, note?: string): Promise<void> {
  const h = client.schedule.getHandle(id);
  if (paused) await h.pause(note ?? 'paused from the volcast CLI');
  else await h.unpause(note ?? 'unpaused from the volcast CLI');
}

export async function triggerSchedule(client: Client, id: string): Promise<void> {
  await client.schedule.getHandle(id).trigger();
}
