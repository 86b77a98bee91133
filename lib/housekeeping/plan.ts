/**
 * The housekeeping planner (docs/design.md, Retention): pure. Given the bucket's listing (key, size,
 * last write) and the facts read from the documents that reference objects (champions, their
 * history, runs' plans and metrics, candle manifests, ensemble cards, the newest forecasts), it
 * decides per group (a model, a feature set, a run, one candle partition, an old plan) whether to
 * delete it, and why either way.
 *
 * Safe by construction: a group is deleted only when its kind is one housekeeping manages, nothing
 * kept names it, and every object in it is older than the grace period. Predictions, the registry,
 * candle manifests and acks, probes and any key the layout does not know are never deleted.
 */
import type { HousekeepingKind, HousekeepingSummary, HousekeepingTally, RetentionPolicy } from '../../contracts/types';
import { classifyKey, type KeyClass } from '../platform/layout';
import type { ListedObject } from '../platform/store';

export type { ListedObject, RetentionPolicy };

/** What a champion record (current or in the history) names. */
export interface RecordFacts {
  /** The record's key, for the reasons. */
  where: string;
  modelId: string;
  featureSetId: string | null;
  runId: string | null;
}

/** A run, as its plan.json / metrics.json / decision.json describe it. */
export interface RunFacts {
  runId: string;
  /** "exchange SYMBOL timeframe target" (null: no document says). */
  seriesTarget: string | null;
  /** metrics.json exists: the run was evaluated (the runs counted towards keepTrainRuns). */
  evaluated: boolean;
  /** Every model the run planned, fitted, evaluated or served. */
  modelIds: string[];
  featureSetId: string | null;
}

export interface StoreFacts {
  champions: RecordFacts[];
  history: RecordFacts[];
  runs: RunFacts[];
  /** Each candle manifest's key and the partition keys it names. */
  manifests: { key: string; partitionKeys: string[] }[];
  /** Ensemble modelId -> its members' modelIds (an ensemble's card is its only object). */
  ensembles: Record<string, string[]>;
  /** The feature set of each series × target's newest forecast (the read API's realized values come from it). */
  newestForecasts: { where: string; featureSetId: string }[];
}

/** Why a group is kept. */
export const KEEP = {
  champion: 'named by a current champion',
  history: 'named by a champion history record',
  recentRun: 'one of the last N evaluated runs of its series × target, or named by one',
  inFlight: 'named by a run still within the grace period (in flight: not evaluated yet)',
  newestForecast: "the feature set of a series' newest forecast (the read API's realized values)",
  manifest: 'named by its candle manifest',
  young: 'younger than the grace period',
  manifestChanged: 'its series\' manifest changed within the grace period (a reader may still follow the previous version)',
  forever: 'never deleted (predictions, the registry, candle manifests and acks)',
  notManaged: 'not managed by housekeeping (platform probes)',
  unknown: 'unknown key: not a layout the planner knows, never deleted',
} as const;

/** Why a group is deleted. */
export const DELETE = {
  model: 'no champion, history record or kept run names it',
  featureSet: 'no champion, kept run or newest forecast names it',
  oldRun: 'not among the last N evaluated runs of its series × target, and no champion or history record names it',
  incompleteRun: 'never evaluated (no metrics.json) and older than the grace period: a crashed or abandoned run',
  candlePartition: 'an orphan: its manifest does not name it (a losing or crashed lake writer left it)',
  housekeepingPlan: 'an earlier housekeeping plan, older than the grace period',
} as const;

export interface PlannedGroup {
  kind: HousekeepingKind | 'other';
  /** modelId, featureSetId, runId, the partition's key, planId; for other: the top-level prefix. */
  id: string;
  action: 'keep' | 'delete';
  reason: string;
  /** The record or run that made it kept, when one did. */
  by?: string;
  objects: number;
  bytes: number;
  /** Newest last write in the group (ms). */
  newest: number;
  /** The keys (for deletions only: what apply removes). */
  keys?: string[];
}

export interface HousekeepingPlan {
  version: 1;
  planId: string;
  asOf: number;
  policy: RetentionPolicy;
  summary: HousekeepingSummary;
  groups: PlannedGroup[];
}

function groupOf(key: string, c: KeyClass): { kind: HousekeepingKind | 'other'; id: string; keep?: string } {
  switch (c.kind) {
    case 'model':
      return { kind: 'model', id: c.modelId };
    case 'featureSet':
      return { kind: 'featureSet', id: c.featureSetId };
    case 'run':
      return { kind: 'run', id: c.runId };
    case 'candlePartition':
      return { kind: 'candlePartition', id: key };
    case 'housekeepingPlan':
      return { kind: 'housekeepingPlan', id: c.planId };
    case 'registry':
    case 'predictions':
    case 'candleManifest':
    case 'candleAcks':
    case 'candleLegacyMonth':
      return { kind: 'other', id: key.split('/')[0]!, keep: KEEP.forever };
    case 'probe':
      return { kind: 'other', id: key.split('/')[0]!, keep: KEEP.notManaged };
    default:
      return { kind: 'other', id: key.split('/')[0] ?? key, keep: KEEP.unknown };
  }
}

/** Every group a reference keeps, with the first reason found (most important first). */
class Refs {
  readonly byGroup = new Map<string, { reason: string; by: string }>();
  add(kind: HousekeepingKind, id: string | null | undefined, reason: string, by: string): void {
    if (!id) return;
    const k = `${kind}:${id}`;
    if (!this.byGroup.has(k)) this.byGroup.set(k, { reason, by });
  }
  get(kind: HousekeepingKind, id: string) {
    return this.byGroup.get(`${kind}:${id}`);
  }
}

function checkPolicy(p: RetentionPolicy): void {
  // The workflow input is not validated by the config schema: the planner refuses nonsense itself.
  if (!Number.isFinite(p.graceMs) || p.graceMs < 0) throw new RangeError(`policy.graceMs: expected a non-negative number of ms, got ${p.graceMs}`);
  if (!Number.isInteger(p.keepTrainRuns) || p.keepTrainRuns < 1) throw new RangeError(`policy.keepTrainRuns: expected an integer ≥ 1, got ${p.keepTrainRuns}`);
}

export function planHousekeeping(args: { planId: string; asOf: number; policy: RetentionPolicy; listing: ListedObject[]; facts: StoreFacts }): HousekeepingPlan {
  const { planId, asOf, policy, listing, facts } = args;
  checkPolicy(policy);
  const young = (t: number) => asOf - t < policy.graceMs;

  // Group the listing.
  const groups = new Map<string, { kind: HousekeepingKind | 'other'; id: string; keep?: string; keys: string[]; bytes: number; newest: number; cls: KeyClass[] }>();
  const manifestWritten = new Map<string, number>(); // series prefix -> the manifest's last write
  const runStart = new Map<string, number>(); // runId -> plan.json's last write (else its oldest object)
  for (const o of listing) {
    const c = classifyKey(o.key);
    if (c.kind === 'candleManifest') manifestWritten.set(c.seriesPrefix, o.lastModified);
    const g = groupOf(o.key, c);
    const gk = `${g.kind}:${g.id}${g.keep ? `:${g.keep}` : ''}`;
    const cur = groups.get(gk) ?? { ...g, keys: [], bytes: 0, newest: -Infinity, cls: [] };
    cur.keys.push(o.key);
    cur.bytes += o.size;
    cur.newest = Math.max(cur.newest, o.lastModified);
    cur.cls.push(c);
    groups.set(gk, cur);
    if (c.kind === 'run') {
      const prev = runStart.get(c.runId);
      if (c.file === 'plan.json') runStart.set(c.runId, o.lastModified);
      else if (prev === undefined) runStart.set(c.runId, o.lastModified);
    }
  }
  const runNewest = (runId: string) => groups.get(`run:${runId}`)?.newest ?? -Infinity;

  // References, most important first (the first reason found is the one reported).
  const refs = new Refs();
  const modelRefs: { id: string; reason: string; by: string }[] = [];
  const model = (id: string | null | undefined, reason: string, by: string) => {
    if (id) modelRefs.push({ id, reason, by });
  };
  for (const c of facts.champions) {
    model(c.modelId, KEEP.champion, c.where);
    refs.add('featureSet', c.featureSetId, KEEP.champion, c.where);
    refs.add('run', c.runId, KEEP.champion, c.where);
  }
  for (const h of facts.history) {
    model(h.modelId, KEEP.history, h.where);
    if (policy.historyFeatureSets) refs.add('featureSet', h.featureSetId, KEEP.history, h.where);
    refs.add('run', h.runId, KEEP.history, h.where);
  }
  for (const f of facts.newestForecasts) refs.add('featureSet', f.featureSetId, KEEP.newestForecast, f.where);
  // The last N evaluated runs of each series × target keep themselves, their models and feature set;
  // a run in flight (not evaluated, within the grace period) keeps what its plan names, so a fit it
  // reused from an older run is not deleted under it.
  const bySeries = new Map<string, RunFacts[]>();
  for (const r of facts.runs) {
    if (r.evaluated && r.seriesTarget) bySeries.set(r.seriesTarget, [...(bySeries.get(r.seriesTarget) ?? []), r]);
  }
  const keptRuns: { run: RunFacts; reason: string }[] = [];
  for (const runs of bySeries.values()) {
    runs.sort((a, b) => (runStart.get(b.runId) ?? 0) - (runStart.get(a.runId) ?? 0) || b.runId.localeCompare(a.runId));
    for (const r of runs.slice(0, policy.keepTrainRuns)) keptRuns.push({ run: r, reason: KEEP.recentRun });
  }
  for (const r of facts.runs) if (!r.evaluated && young(runNewest(r.runId))) keptRuns.push({ run: r, reason: KEEP.inFlight });
  for (const { run, reason } of keptRuns) {
    const by = `run ${run.runId}`;
    refs.add('run', run.runId, reason, by);
    refs.add('featureSet', run.featureSetId, reason, by);
    for (const m of run.modelIds) model(m, reason, by);
  }
  // Models, then the members of the ensembles among them (their card is all an ensemble stores).
  for (let i = 0; i < modelRefs.length; i++) {
    const m = modelRefs[i]!;
    if (refs.get('model', m.id)) continue;
    refs.add('model', m.id, m.reason, m.by);
    for (const member of facts.ensembles[m.id] ?? []) modelRefs.push({ id: member, reason: m.reason, by: `${m.by} (ensemble ${m.id})` });
  }
  const named = new Map<string, string>();
  for (const mf of facts.manifests) for (const k of mf.partitionKeys) named.set(k, mf.key);

  // Decide per group.
  const planned: PlannedGroup[] = [];
  for (const g of groups.values()) {
    const base = { kind: g.kind, id: g.id, objects: g.keys.length, bytes: g.bytes, newest: g.newest };
    const keep = (reason: string, by?: string) => planned.push({ ...base, action: 'keep', reason, ...(by ? { by } : {}) });
    if (g.kind === 'other') {
      keep(g.keep!);
      continue;
    }
    if (g.kind === 'candlePartition') {
      const by = named.get(g.id);
      if (by) keep(KEEP.manifest, by);
      else if (young(g.newest)) keep(KEEP.young);
      else {
        const c = g.cls[0] as Extract<KeyClass, { kind: 'candlePartition' }>;
        const mw = manifestWritten.get(c.seriesPrefix);
        if (mw !== undefined && young(mw)) keep(KEEP.manifestChanged, `${c.seriesPrefix}_manifest.json`);
        else planned.push({ ...base, action: 'delete', reason: DELETE.candlePartition, keys: g.keys });
      }
      continue;
    }
    const ref = g.kind === 'housekeepingPlan' ? (g.id === planId ? { reason: 'this plan', by: planId } : undefined) : refs.get(g.kind, g.id);
    if (ref) keep(ref.reason, ref.by);
    else if (young(g.newest)) keep(KEEP.young);
    else {
      const reason =
        g.kind === 'run'
          ? facts.runs.find((r) => r.runId === g.id)?.evaluated
            ? DELETE.oldRun
            : DELETE.incompleteRun
          : DELETE[g.kind];
      planned.push({ ...base, action: 'delete', reason, keys: g.keys });
    }
  }
  planned.sort((a, b) => a.kind.localeCompare(b.kind) || a.id.localeCompare(b.id));
  return { version: 1, planId, asOf, policy, summary: summarize(planId, asOf, listing, planned), groups: planned };
}

const tally = (gs: PlannedGroup[]): HousekeepingTally => ({ groups: gs.length, objects: gs.reduce((s, g) => s + g.objects, 0), bytes: gs.reduce((s, g) => s + g.bytes, 0) });

function byKindReason(gs: PlannedGroup[]): { kind: string; reason: string; tally: HousekeepingTally }[] {
  const m = new Map<string, PlannedGroup[]>();
  for (const g of gs) m.set(`${g.kind}\u0000${g.reason}`, [...(m.get(`${g.kind}\u0000${g.reason}`) ?? []), g]);
  return [...m.entries()].map(([k, v]) => ({ kind: k.split('\u0000')[0]!, reason: k.split('\u0000')[1]!, tally: tally(v) })).sort((a, b) => a.kind.localeCompare(b.kind) || a.reason.localeCompare(b.reason));
}

function summarize(planId: string, asOf: number, listing: ListedObject[], planned: PlannedGroup[]): HousekeepingSummary {
  return {
    planId,
    asOf,
    listed: { objects: listing.length, bytes: listing.reduce((s, o) => s + o.size, 0) },
    delete: byKindReason(planned.filter((g) => g.action === 'delete')) as HousekeepingSummary['delete'],
    keep: byKindReason(planned.filter((g) => g.action === 'keep')),
  };
}

/** The keys a plan deletes, commit points first (a feature set's manifest, a model's card, a run's plan), so a crash midway leaves no group that looks complete. */
export function deletionOrder(plan: Pick<HousekeepingPlan, 'groups'>): { first: string[]; then: string[] } {
  const first: string[] = [];
  const then: string[] = [];
  for (const g of plan.groups) {
    if (g.action !== 'delete') continue;
    for (const k of g.keys ?? []) (/\/(_manifest|card|plan)\.json$/.test(k) ? first : then).push(k);
  }
  return { first, then };
}
