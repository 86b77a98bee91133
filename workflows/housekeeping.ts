/**
 * The housekeeping workflow (daily schedule, `volcast data cleanup`): plan the deletions of the
 * retention policy (docs/design.md, Retention), then, unless a dry run, apply them. The plan lives
 * in MinIO (housekeeping/{planId}/plan.json); the workflow carries its reference and totals only.
 */
import { setCurrentDetails, workflowInfo } from '@temporalio/workflow';
import type { HousekeepingInput, HousekeepingResult } from '../contracts/types';
import { acts } from './proxies';

export type { HousekeepingInput, HousekeepingResult };

/** 2026-11-21T08:15:00.000Z + the run's id -> 20261121T081500Z-1a2b3c4d: sortable, unique per run, a valid key segment. */
export function planIdOf(asOf: number, runId: string): string {
  return `${new Date(asOf).toISOString().replace(/[-:]|\.\d{3}/g, '')}-${runId.replace(/[^A-Za-z0-9]/g, '').slice(0, 8)}`;
}

export async function housekeeping(input: HousekeepingInput): Promise<HousekeepingResult> {
  const info = workflowInfo();
  const asOf = input.now ?? info.runStartTime.getTime();
  const planId = planIdOf(asOf, info.runId);
  setCurrentDetails(`housekeeping ${planId}${input.dryRun ? ' (dry run)' : ''}: planning`);
  const { planRef, summary } = await acts.planHousekeeping({ planId, asOf, policy: input.policy });
  const planned = summary.delete.reduce((s, d) => s + d.tally.objects, 0);
  if (input.dryRun) {
    setCurrentDetails(`housekeeping ${planId} (dry run): would delete ${planned} object(s); plan ${planRef.key}`);
    return { dryRun: true, planRef, summary, applied: null };
  }
  const applied = planned ? await acts.applyHousekeeping({ planRef }) : { deleted: [], spared: [] };
  const deleted = applied.deleted.reduce((s, d) => s + d.tally.objects, 0);
  setCurrentDetails(`housekeeping ${planId}: deleted ${deleted} object(s); plan ${planRef.key}`);
  return { dryRun: false, planRef, summary, applied };
}
