/**
 * Where a fit sits in a plan's `fits` (runs/{runId}/plan.json): fold-major over the specs, then one
 * serving fit per spec. Pure, so the workflow (which holds only the plan's summary) and the planner
 * agree on every index without the list travelling through workflow history.
 */
export interface PlanShape {
  specs: { name: string }[];
  folds: { fold: number }[];
}

/** Index of spec `name` on fold `fold` (null: its serving fit). */
export function fitIndex(plan: PlanShape, name: string, fold: number | null): number {
  const s = plan.specs.findIndex((x) => x.name === name);
  if (s < 0) throw new Error(`spec ${name} is not in the plan`);
  if (fold === null) return plan.folds.length * plan.specs.length + s;
  const f = plan.folds.findIndex((x) => x.fold === fold);
  if (f < 0) throw new Error(`fold ${fold} is not in the plan`);
  return f * plan.specs.length + s;
}

/** Every fold fit of the plan, in index order. */
export function foldFits(plan: PlanShape): { index: number; name: string; fold: number }[] {
  return plan.folds.flatMap((f, fi) => plan.specs.map((s, si) => ({ index: fi * plan.specs.length + si, name: s.name, fold: f.fold })));
}
