/**
 * The typed view of contracts/domain.json: timeframes, targets, model kinds and the regime rule.
 * Pure (no Node APIs), so workflow code may import it too. Every other module asks here; nothing
 * redeclares a horizon, a bar length or a list of kinds (test/contracts.test.ts checks).
 */
import domain from './domain.json';

export type Timeframe = keyof typeof domain.timeframes;
export type TargetName = keyof typeof domain.targets;
export type ModelKind = keyof typeof domain.modelKinds;
export type FitActivity = 'fitModel' | 'fitNeuralModel';
export type InputKind = 'tabular' | 'sequence';
export type TargetKind = 'regression' | 'classification';

export interface TargetSpec {
  horizonBars: number;
  kind: TargetKind;
  trainable: boolean;
  units: string;
  description: string;
}
export interface ModelKindSpec {
  fitActivity: FitActivity;
  baseline: boolean;
  input: InputKind;
  /** A spec of this kind may be pooled (params.pooled): one fit over many series (models/pooled.py). */
  poolable?: boolean;
}

export const TIMEFRAMES = Object.keys(domain.timeframes) as [Timeframe, ...Timeframe[]];
export const TARGETS = domain.targets as Record<TargetName, TargetSpec>;
export const TARGET_NAMES = Object.keys(domain.targets) as [TargetName, ...TargetName[]];
/** The targets the trainer's models predict (volatility in the target's units). */
export const TRAINABLE_TARGETS = TARGET_NAMES.filter((t) => TARGETS[t].trainable) as [TargetName, ...TargetName[]];
export const MODEL_KINDS = domain.modelKinds as Record<ModelKind, ModelKindSpec>;
export const MODEL_KIND_NAMES = Object.keys(domain.modelKinds) as [ModelKind, ...ModelKind[]];
export const BASELINE_KINDS = MODEL_KIND_NAMES.filter((k) => MODEL_KINDS[k].baseline);

export class UnknownDomainNameError extends Error {
  constructor(what: string, value: string, known: readonly string[]) {
    super(`unknown ${what} ${JSON.stringify(value)}: contracts/domain.json declares ${known.join(', ')}`);
    this.name = 'UnknownDomainNameError';
  }
}

export function isTimeframe(tf: string): tf is Timeframe {
  return Object.hasOwn(domain.timeframes, tf);
}
export function isTargetName(t: string): t is TargetName {
  return Object.hasOwn(domain.targets, t);
}
export function isModelKind(k: string): k is ModelKind {
  return Object.hasOwn(domain.modelKinds, k);
}

/** Bar length of a timeframe in ms. */
export function barMsOf(timeframe: string): number {
  if (!isTimeframe(timeframe)) throw new UnknownDomainNameError('timeframe', timeframe, TIMEFRAMES);
  return domain.timeframes[timeframe].barMs;
}

/** How many bars after ts a target looks at (its row's target is known when bar ts + h closes). */
export function horizonBarsOf(target: string): number {
  if (!isTargetName(target)) throw new UnknownDomainNameError('target', target, TARGET_NAMES);
  return TARGETS[target].horizonBars;
}

/** Whether a kind's specs may be pooled across series (contracts/domain.json `poolable`). */
export function isPoolableKind(kind: string): boolean {
  return isModelKind(kind) && MODEL_KINDS[kind].poolable === true;
}

export function isBaselineKind(kind: string): boolean {
  return isModelKind(kind) && MODEL_KINDS[kind].baseline;
}

/** The activity that fits a kind: neural kinds on the GPU queue (fitNeuralModel), the rest on train-cpu. */
export function fitActivityFor(kind: string): FitActivity {
  if (!isModelKind(kind)) throw new UnknownDomainNameError('model kind', kind, MODEL_KIND_NAMES);
  return MODEL_KINDS[kind].fitActivity;
}

// ---- The regime rule (3 classes from two thresholds fit on a training window) ----

export type RegimeLabel = 'low' | 'medium' | 'high';
export type Regime = 0 | 1 | 2;
export const REGIME_CLASSES = domain.regime.classes as [RegimeLabel, RegimeLabel, RegimeLabel];
export const REGIME_QUANTILES = domain.regime.quantiles as [number, number];

/** Volatility thresholds: low ≤ q1 < medium ≤ q2 < high (volatility units). */
export interface RegimeThresholds {
  q1: number;
  q2: number;
  /** Training values the thresholds were fit on (absent in older records). */
  n?: number;
}

/** The class of v under the rule; null where v is null or not finite. */
export function regimeOf(v: number | null | undefined, t: RegimeThresholds): Regime | null {
  if (v === null || v === undefined || !Number.isFinite(v)) return null;
  return v <= t.q1 ? 0 : v <= t.q2 ? 1 : 2;
}
