/**
 * `volcast data cleanup [--dry-run]`: the housekeeping workflow now (the retention policy of
 * temporal.config.ts housekeeping). Prints what would be / was deleted, per kind with sizes and the
 * first groups of each, and a summary of what is kept and why. A second run deletes nothing.
 */
import type { Client } from '@temporalio/client';
import type { HousekeepingResult } from '../contracts/types';
import type { HousekeepingPlan } from '../lib/housekeeping/plan';
import { readHousekeepingPlan } from '../lib/housekeeping/run';
import { housekeepingInput } from '../lib/orchestration/inputs';
import type { VolcastConfig } from '../lib/platform/config';
import { ArtifactStore } from '../lib/platform/store';
import { connectClient, webUiUrl } from '../lib/platform/temporal';
import { housekeeping } from '../workflows';
import { CPU_NEEDS, runWorkflow } from './run';

/** 1234567 -> "1.2 MB" (powers of 1000, as S3 consoles write them). */
export function fmtBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v.toFixed(1)} ${units[i]}`;
}

const KIND_NAMES: Record<string, string> = {
  model: 'models',
  featureSet: 'feature sets',
  run: 'runs',
  candlePartition: 'candle partitions',
  housekeepingPlan: 'housekeeping plans',
  other: 'other prefixes',
};

const SHOWN_PER_KIND = 5;

/** The report: deletions per kind (with the first groups), then what is kept and why. */
export function formatCleanup(result: HousekeepingResult, plan: Pick<HousekeepingPlan, 'groups'> | null): string {
  const { summary, applied, dryRun } = result;
  const lines: string[] = [];
  lines.push(`listed ${summary.listed.objects} objects (${fmtBytes(summary.listed.bytes)}) at ${new Date(summary.asOf).toISOString()}; plan ${result.planRef.key}`);
  const verb = dryRun ? 'would delete' : 'deleted';
  const deleted = dryRun
    ? summary.delete.map((d) => ({ kind: d.kind, reason: d.reason, tally: d.tally }))
    : (applied?.deleted ?? []).map((d) => ({ kind: d.kind, reason: summary.delete.filter((x) => x.kind === d.kind).map((x) => x.reason).join('; '), tally: d.tally }));
  const total = deleted.reduce((s, d) => ({ objects: s.objects + d.tally.objects, bytes: s.bytes + d.tally.bytes }), { objects: 0, bytes: 0 });
  lines.push(`${verb}: ${total.objects} object(s), ${fmtBytes(total.bytes)}${total.objects ? '' : ' (nothing is unreferenced and older than the grace period)'}`);
  for (const d of deleted) {
    lines.push(`  ${(KIND_NAMES[d.kind] ?? d.kind).padEnd(19)} ${String(d.tally.groups).padStart(5)} (${d.tally.objects} objects) ${fmtBytes(d.tally.bytes).padStart(9)}  ${d.reason}`);
    const groups = (plan?.groups ?? []).filter((g) => g.action === 'delete' && g.kind === d.kind);
    for (const g of groups.slice(0, SHOWN_PER_KIND)) lines.push(`      ${g.id}  ${fmtBytes(g.bytes)}`);
    if (groups.length > SHOWN_PER_KIND) lines.push(`      … and ${groups.length - SHOWN_PER_KIND} more (the plan lists them all)`);
  }
  if (applied?.spared.length) {
    lines.push('spared at apply (referenced or written since the plan):');
    for (const s of applied.spared) lines.push(`  ${(KIND_NAMES[s.kind] ?? s.kind).padEnd(19)} ${String(s.objects).padStart(5)} objects  ${s.reason}`);
  }
  lines.push('kept:');
  for (const k of summary.keep) {
    lines.push(`  ${(KIND_NAMES[k.kind] ?? k.kind).padEnd(19)} ${String(k.tally.groups).padStart(5)} (${k.tally.objects} objects) ${fmtBytes(k.tally.bytes).padStart(9)}  ${k.reason}`);
  }
  return lines.join('\n');
}

export async function runCleanup(client: Client, cfg: VolcastConfig, opts: { dryRun: boolean; now?: number; workerCheck?: boolean }, workflowId: string): Promise<HousekeepingResult> {
  const input = housekeepingInput(cfg, { dryRun: opts.dryRun, now: opts.now });
  console.log(`housekeeping ${workflowId}${opts.dryRun ? ' (dry run: nothing is deleted)' : ''}: grace ${cfg.housekeeping.grace}, last ${cfg.housekeeping.keepTrainRuns} evaluated runs per series × target`);
  const result = await runWorkflow(client, cfg, {
    type: 'housekeeping',
    workflow: housekeeping,
    workflowId,
    args: [input],
    needs: CPU_NEEDS,
    workerCheck: opts.workerCheck,
    onStarted: () => console.log(`  Web UI: ${webUiUrl(cfg)}/${encodeURIComponent(workflowId)}`),
  });
  const plan = await readHousekeepingPlan(new ArtifactStore(cfg), result.planRef).catch(() => null);
  console.log(formatCleanup(result, plan));
  return result;
}

export async function cleanupCommand(cfg: VolcastConfig, opts: { dryRun?: boolean; now?: number; workerCheck: boolean }): Promise<void> {
  const client = await connectClient(cfg);
  try {
    await runCleanup(client, cfg, { dryRun: opts.dryRun === true, now: opts.now, workerCheck: opts.workerCheck }, `housekeeping-${new Date().toISOString().replace(/[:.]/g, '')}`);
  } finally {
    await client.connection.close();
  }
}
