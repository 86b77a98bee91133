/**
 * Housekeeping's two steps over the store: plan (gather, plan, write housekeeping/{planId}/plan.json)
 * and apply (delete what the plan names). Apply plans again at the plan's clock and deletes only
 * what both plans delete: anything referenced or written since the plan (a manual promotion, a run
 * that reused an old fit) is spared. Deleting what is gone already is a no-op, so apply is idempotent.
 */
import type { ApplyHousekeepingResult, HousekeepingKind, ObjectRef, PlanHousekeepingInput, PlanHousekeepingResult } from '../../contracts/types';
import { layout } from '../platform/layout';
import type { ArtifactStore } from '../platform/store';
import { gatherFacts } from './gather';
import { deletionOrder, planHousekeeping, type HousekeepingPlan } from './plan';

export async function writeHousekeepingPlan(store: ArtifactStore, input: PlanHousekeepingInput, beat?: (what: string) => void): Promise<PlanHousekeepingResult> {
  const { listing, facts } = await gatherFacts(store, beat);
  const plan = planHousekeeping({ planId: input.planId, asOf: input.asOf, policy: input.policy, listing, facts });
  const planRef = await store.putJson(layout.housekeepingPlan(input.planId), plan);
  return { planRef, summary: plan.summary };
}

export async function readHousekeepingPlan(store: ArtifactStore, ref: ObjectRef): Promise<HousekeepingPlan> {
  return store.getJson<HousekeepingPlan>(ref);
}

export async function applyHousekeepingPlan(store: ArtifactStore, planRef: ObjectRef, beat?: (what: string) => void): Promise<ApplyHousekeepingResult> {
  const plan = await readHousekeepingPlan(store, planRef);
  const { listing, facts } = await gatherFacts(store, beat);
  const again = planHousekeeping({ planId: plan.planId, asOf: plan.asOf, policy: plan.policy, listing, facts });
  const stillDeleted = new Set(again.groups.filter((g) => g.action === 'delete').map((g) => `${g.kind}:${g.id}`));
  const now = new Map(again.groups.map((g) => [`${g.kind}:${g.id}`, g]));
  const planned = plan.groups.filter((g) => g.action === 'delete');
  const go = planned.filter((g) => stillDeleted.has(`${g.kind}:${g.id}`));
  const spared = new Map<string, { kind: HousekeepingKind; reason: string; objects: number }>();
  for (const g of planned) {
    if (stillDeleted.has(`${g.kind}:${g.id}`)) continue;
    const reason = now.get(`${g.kind}:${g.id}`)?.reason ?? 'gone already';
    const k = `${g.kind}:${reason}`;
    const s = spared.get(k) ?? { kind: g.kind as HousekeepingKind, reason, objects: 0 };
    s.objects += g.objects;
    spared.set(k, s);
  }
  // Only keys the second listing still holds (the rest are gone already: nothing to count).
  const listed = new Map(listing.map((o) => [o.key, o.size]));
  const groups = go.map((g) => ({ ...g, keys: (g.keys ?? []).filter((k) => listed.has(k)) })).filter((g) => g.keys.length);
  const { first, then } = deletionOrder({ groups });
  await store.removeMany(first);
  beat?.(`deleted ${first.length} commit points`);
  await store.removeMany(then);
  beat?.(`deleted ${then.length} objects`);
  const byKind = new Map<HousekeepingKind, { groups: number; objects: number; bytes: number }>();
  for (const g of groups) {
    const t = byKind.get(g.kind as HousekeepingKind) ?? { groups: 0, objects: 0, bytes: 0 };
    t.groups++;
    t.objects += g.keys.length;
    t.bytes += g.keys.reduce((s, k) => s + (listed.get(k) ?? 0), 0);
    byKind.set(g.kind as HousekeepingKind, t);
  }
  return {
    deleted: [...byKind.entries()].map(([kind, tally]) => ({ kind, tally })).sort((a, b) => a.kind.localeCompare(b.kind)),
    spared: [...spared.values()].sort((a, b) => a.kind.localeCompare(b.kind) || a.reason.localeCompare(b.reason)),
  };
}
