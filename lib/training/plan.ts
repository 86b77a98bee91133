/**
 * The training plan of one series × target (docs/lifecycle.md): the folds, the specs (the
 * protocol's, plus the incumbent's when the protocol lacks it), what each fold may use (feature
 * columns and regime thresholds chosen on that fold's training rows only), the serving fit's rows,
 * and every fit's input. Written as runs/{runId}/plan.json; fits and evaluation read it by reference,
 * so no list that grows with the protocol travels through workflow history.
 */
import { createHash } from 'node:crypto';
import { fitActivityFor, horizonBarsOf, isBaselineKind, isPoolableKind, isTargetName, type ModelKind, type TargetName } from '../../contracts/domain';
import type { ChampionRecord, ChampionSpec, EnsembleSpec, FitInput, FoldInputs, ModelSpec, ObjectRef, PlanDocument, PlannedSpec, PlanTrainingInput, PooledFitInput, PooledParam, Series } from '../../contracts/types';
import { fitRegimeThresholds } from '../features/regime';
import { FEATURE_COLUMNS } from '../features/definitions';
import { queryRows, sqlString, type Duck } from '../platform/duckdb';
import { TrainingInputError } from '../platform/errors';
import { layout } from '../platform/layout';
import { planWalkForward, servingWindow, modelIdFor, type Window } from './walkForward';

/** Raw levels and bookkeeping columns: not model inputs (non-stationary or identifiers). */
export const NOT_INPUTS = new Set(['prev_close', 'prev_ts']);
/** A column missing on more than this share of a fold's training rows is left out of that fold's inputs. */
export const MAX_NULL_SHARE = 0.01;

function sameSpec(a: { kind: string; params: Record<string, unknown> }, b: { kind: string; params: Record<string, unknown> }): boolean {
  const canon = (v: unknown): string =>
    JSON.stringify(v, (_k, x: unknown) => (x && typeof x === 'object' && !Array.isArray(x) ? Object.fromEntries(Object.entries(x as Record<string, unknown>).sort(([p], [q]) => p.localeCompare(q))) : x));
  return a.kind === b.kind && canon(a.params) === canon(b.params);
}

/**
 * The champion's spec as the run knows it: recorded in the champion (version 2), else, for a record
 * from before specs were recorded, the protocol's spec of the same name (and, for an ensemble, the
 * protocol's ensemble of that name). null when it cannot be known, with the reason.
 */
export function incumbentSpec(champion: ChampionRecord, protocol: { models: ModelSpec[]; ensembles: EnsembleSpec[] }): { spec: ChampionSpec | null; why: string | null } {
  if (champion.spec) return { spec: champion.spec, why: null };
  if (champion.kind === 'ensemble') {
    const e = protocol.ensembles.find((x) => x.name === champion.name);
    const members = e?.members.map((m) => protocol.models.find((x) => x.name === m));
    if (e && members?.every(Boolean)) return { spec: { name: e.name, kind: 'ensemble', method: e.method, members: members as ModelSpec[] }, why: null };
    return { spec: null, why: `champion ${champion.name} is an ensemble recorded without its members' specs, and the run has no ensemble of that name to refit` };
  }
  const m = protocol.models.find((x) => x.name === champion.name);
  if (m) return { spec: m, why: null };
  return { spec: null, why: `champion ${champion.name} (${champion.kind}) was recorded without its spec and the run has no model of that name to refit` };
}

/**
 * The run's specs: the protocol's, plus the incumbent's (and its ensemble members) when absent. A
 * recorded spec whose name the protocol uses for other parameters joins as `<name>@champion`.
 */
export function runSpecs(
  protocol: { models: ModelSpec[]; ensembles: EnsembleSpec[] },
  incumbent: ChampionSpec | null,
): { specs: PlannedSpec[]; ensembles: EnsembleSpec[]; incumbent: string | null } {
  const specs: PlannedSpec[] = protocol.models.map((m) => planned(m, 'protocol'));
  const ensembles = protocol.ensembles.map((e) => ({ ...e, members: [...e.members] }));
  const add = (m: ModelSpec): string => {
    const same = specs.find((s) => s.name === m.name);
    if (same && sameSpec(same, m)) return same.name;
    const taken = specs.find((s) => sameSpec(s, m));
    if (taken) return taken.name;
    const name = same ? `${m.name}@champion` : m.name;
    specs.push(planned({ ...m, name }, 'incumbent'));
    return name;
  };
  if (!incumbent) return { specs, ensembles, incumbent: null };
  if (incumbent.kind !== 'ensemble' || !('members' in incumbent)) {
    return { specs, ensembles, incumbent: add(incumbent as ModelSpec) };
  }
  const members = incumbent.members.map(add);
  const same = ensembles.find((e) => e.name === incumbent.name);
  if (same && same.method === incumbent.method && same.members.join() === members.join()) return { specs, ensembles, incumbent: same.name };
  const name = same ? `${incumbent.name}@champion` : incumbent.name;
  ensembles.push({ name, method: incumbent.method, members });
  return { specs, ensembles, incumbent: name };
}

function planned(m: ModelSpec, origin: PlannedSpec['origin']): PlannedSpec {
  return { name: m.name, kind: m.kind, params: m.params, activity: fitActivityFor(m.kind), baseline: isBaselineKind(m.kind), origin };
}

/** Columns usable on a window's rows, and the target's regime thresholds there. */
async function windowInputs(db: Duck, src: string, target: string, candidates: string[], w: Window, what: string): Promise<FoldInputs> {
  const [c] = await queryRows<Record<string, bigint>>(
    db,
    `SELECT count(*) AS n, ${candidates.map((col, i) => `count("${col}") AS c${i}`).join(', ')} FROM ${src} WHERE ts >= ${w.startTs} AND ts < ${w.endTs}`,
  );
  const n = Number(c!.n);
  if (n === 0) throw new TrainingInputError(`${what}: no feature rows in its training window`);
  const columns = candidates.filter((_, i) => Number(c![`c${i}`]) >= n * (1 - MAX_NULL_SHARE));
  const rows = await queryRows<{ y: number | null }>(db, `SELECT "${target}" AS y FROM ${src} WHERE ts >= ${w.startTs} AND ts < ${w.endTs}`);
  const values = rows.map((r) => r.y);
  let regime;
  try {
    regime = fitRegimeThresholds(values, values.map(() => true));
  } catch (err) {
    throw new TrainingInputError(`${what}: ${(err as Error).message}`);
  }
  return { columns, droppedColumns: candidates.filter((x) => !columns.includes(x)), regime };
}

/** The series of a feature set and their objects (its manifest), for pooled specs. */
export type FeatureSeries = { series: Series; features: ObjectRef }[];

/**
 * A pooled spec's universe (docs/model-contract.md, Pooled tree fits): every series of the run's
 * feature set (`pooled: true`) or the configured symbols, by symbol; null for a spec that is not pooled.
 */
export function pooledUniverse(spec: { name: string; kind: string; params: Record<string, unknown> }, all: FeatureSeries, featureSetId: string): FeatureSeries | null {
  const p = spec.params.pooled as PooledParam | undefined;
  if (p === undefined || p === false) return null;
  if (!isPoolableKind(spec.kind)) throw new TrainingInputError(`model ${spec.name}: kind ${spec.kind} cannot be pooled`);
  const bySymbol = new Map(all.map((s) => [s.series.symbol, s]));
  const chosen =
    p === true
      ? all
      : p.symbols.map((sym) => {
          const s = bySymbol.get(sym);
          if (!s) throw new TrainingInputError(`model ${spec.name}: pooled symbol ${sym} is not in feature set ${featureSetId} (built over ${[...bySymbol.keys()].sort().join(', ')})`);
          return s;
        });
  return [...chosen].sort((a, b) => a.series.symbol.localeCompare(b.series.symbol));
}

/**
 * poolId: a hash of everything a pooled booster depends on (kind, params, target, the pool's
 * window, input columns, each member's features object, seed, trainer code). Every series of a fold
 * whose fit has the same poolId shares one booster.
 */
export function poolIdFor(input: {
  model: { kind: string; params: Record<string, unknown> };
  target: string;
  train: Window;
  columns: string[];
  universe: FeatureSeries;
  seed: number;
  trainerVersion: string;
}): string {
  const canonical = JSON.stringify({ ...input, universe: input.universe.map((u) => ({ ...u.series, sha256: u.features.sha256 })) }, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
  return `p${createHash('sha256').update(canonical).digest('hex').slice(0, 24)}`;
}

/** Plans a run from the features file (a local Parquet path): folds, inputs per fold, every fit.
 * `featureSeries` loads the feature set's series (its manifest): read only when a spec is pooled. */
export async function planRun(
  db: Duck,
  featuresPath: string,
  input: PlanTrainingInput,
  opts: { barMs: number; trainerVersion: string; featureSeries?: () => Promise<FeatureSeries> },
): Promise<PlanDocument> {
  const { series, target, protocol } = input;
  const what = `${series.symbol} ${target}`;
  if (!isTargetName(target)) throw new TrainingInputError(`${what}: unknown target ${target}`);
  const src = `read_parquet(${sqlString(featuresPath)})`;
  const [span] = await queryRows<{ first: bigint | null; last: bigint | null }>(db, `SELECT min(ts) AS first, max(ts) AS last FROM ${src}`);
  if (span?.first == null || span.last == null) throw new TrainingInputError(`feature set ${input.featuresRef.key} has no rows`);
  const barMs = opts.barMs;
  const lastTs = Number(span.last);
  const h = horizonBarsOf(target);
  // The lookback counts back from the last bar whose target is known (protocol (a): the last 200
  // days are the three 10-day test windows and the 170 days before the first).
  const lastKnownEnd = lastTs - (h - 1) * barMs;
  const lb = protocol.lookbackBars;
  const firstTs = lb ? Math.max(Number(span.first), lastKnownEnd - lb * barMs) : Number(span.first);
  const spanOpts = { firstTs, lastTs, barMs, target };
  const folds = planWalkForward(protocol.walkForward, spanOpts);
  const serving = servingWindow(protocol.walkForward, spanOpts);

  const described = await queryRows<{ column_name: string }>(db, `SELECT column_name FROM (DESCRIBE SELECT * FROM ${src})`);
  const present = new Set(described.map((d) => d.column_name));
  if (!present.has(target)) throw new TrainingInputError(`feature set has no target column ${target}`);
  const candidates = FEATURE_COLUMNS.filter((c) => present.has(c) && !NOT_INPUTS.has(c));
  const foldInputs: (typeof folds[number] & FoldInputs)[] = [];
  for (const f of folds) foldInputs.push({ ...f, ...(await windowInputs(db, src, target, candidates, f.train, `${what} fold ${f.fold}`)) });
  const servingInputs = { ...serving, ...(await windowInputs(db, src, target, candidates, serving.train, `${what} serving fit`)) };

  const inc = input.champion ? incumbentSpec(input.champion, protocol) : { spec: null, why: null };
  const { specs, ensembles, incumbent } = runSpecs(protocol, inc.spec);

  // Pooled specs: their universes (the feature set's series, read once).
  let allSeries: FeatureSeries | null = null;
  const universes = new Map<string, FeatureSeries>();
  for (const s of specs) {
    if (s.params.pooled === undefined || s.params.pooled === false) continue;
    if (!allSeries) {
      if (!opts.featureSeries) throw new TrainingInputError(`model ${s.name} is pooled but the plan was given no feature-set series to pool over`);
      allSeries = await opts.featureSeries();
    }
    universes.set(s.name, pooledUniverse(s, allSeries, input.featureSetId)!);
  }
  // The pool's window ends where the series' training does (the same embargo before the test
  // window for every series); an expanding window over all of history starts at the first row of
  // any series, so the booster does not depend on when the series trained began (a young symbol is
  // scored by a pool of every older one).
  const poolWindow = (train: Window): Window => (protocol.walkForward.window === 'expanding' && !lb ? { startTs: 0, endTs: train.endTs } : train);
  const pooledInput = (spec: PlannedSpec, train: Window, columns: string[]): PooledFitInput | undefined => {
    const universe = universes.get(spec.name);
    if (!universe) return undefined;
    const window = poolWindow(train);
    const poolId = poolIdFor({ model: { kind: spec.kind, params: spec.params }, target, train: window, columns, universe, seed: protocol.seed, trainerVersion: opts.trainerVersion });
    return { poolId, boosterKey: layout.pooledBooster(poolId), train: window, universe };
  };

  const fitInput = (spec: PlannedSpec, train: Window, test: Window, columns: string[], regime: FoldInputs['regime'], purpose: FitInput['purpose']): FitInput => {
    const modelId = modelIdFor({
      model: { kind: spec.kind, params: spec.params }, featureSetId: input.featureSetId, series, target, train, test, columns, purpose,
      seed: protocol.seed, trainerVersion: opts.trainerVersion,
    });
    return {
      modelId,
      model: { name: spec.name, kind: spec.kind as ModelKind, params: spec.params },
      target: target as TargetName,
      series,
      features: input.featuresRef,
      featureSetId: input.featureSetId,
      featureDefinitionsSha: input.featureDefinitionsSha,
      featureUniverse: input.featureUniverse,
      featureColumns: columns,
      train,
      test,
      purpose,
      regime,
      seed: protocol.seed,
      keys: { model: layout.model(modelId, 'model.onnx'), card: layout.model(modelId, 'card.json') },
      ...(universes.has(spec.name) ? { pooled: pooledInput(spec, train, columns) } : {}),
    };
  };
  const fits: FitInput[] = [];
  for (const f of foldInputs) for (const s of specs) fits.push(fitInput(s, f.train, f.test, f.columns, f.regime, 'fold'));
  for (const s of specs) fits.push(fitInput(s, servingInputs.train, servingInputs.test, servingInputs.columns, servingInputs.regime, 'serving'));
  return {
    version: 2,
    runId: input.runId,
    series,
    target,
    protocol: { name: protocol.name, description: protocol.description, walkForward: protocol.walkForward, seed: protocol.seed },
    featuresRef: input.featuresRef,
    featureSetId: input.featureSetId,
    featureDefinitionsSha: input.featureDefinitionsSha,
    featureUniverse: input.featureUniverse,
    span: { firstTs, lastTs },
    specs,
    ensembles,
    incumbent,
    ...(inc.why ? { incumbentUnknown: inc.why } : {}),
    folds: foldInputs,
    serving: servingInputs,
    fits,
  };
}
