/**
 * The activity catalog (activities/catalog.json) with the types of every activity's input and
 * output, so workflows call Python activities as typed as TypeScript ones.
 */
import catalogJson from './catalog.json';
import type { QueueRole } from '../temporal.config';
import type { ObjectRef } from '../lib/platform/store';
import type { Series } from '../lib/platform/layout';

export type Language = 'typescript' | 'python';
export interface CatalogEntry {
  queue: QueueRole;
  language: Language;
}

export const catalog = catalogJson.activities as Record<string, CatalogEntry>;

export function activitiesFor(language: Language, queue?: QueueRole): string[] {
  return Object.entries(catalog)
    .filter(([, e]) => e.language === language && (queue === undefined || e.queue === queue))
    .map(([name]) => name)
    .sort();
}

/** Fails when the implementations a worker registers differ from what the catalog declares. */
export function checkImplementations(language: Language, implemented: string[]): void {
  const declared = activitiesFor(language);
  const missing = declared.filter((n) => !implemented.includes(n));
  const extra = implemented.filter((n) => !declared.includes(n));
  if (missing.length || extra.length) {
    throw new Error(
      `activity catalog mismatch for ${language}: missing implementations [${missing.join(', ')}], not in activities/catalog.json [${extra.join(', ')}]`,
    );
  }
}

// ---- Platform probe (issue 2's round trip) ----
export interface WriteProbeInput {
  runId: string;
  message: string;
  /** Keep the activity busy (heartbeating) this long; used to test crash recovery. */
  holdSeconds?: number;
}
export interface WriteProbeResult {
  ref: ObjectRef;
  attempt: number;
}
export interface VerifyProbeInput {
  ref: ObjectRef;
  /** Where to write the result (built by lib/platform/layout.ts: Python never builds keys). */
  resultKey: string;
  holdSeconds?: number;
}
export interface VerifyProbeResult {
  ref: ObjectRef;
  sourceSha256: string;
  bytes: number;
  byteSum: number;
  device: string;
  torch: string;
  attempt: number;
}

// ---- Model fits (issue 5; docs/model-contract.md) ----
/** fitModel serves the statistical and tree kinds; fitNeuralModel serves the PyTorch kinds
 *  (neuralModelKinds). A kind sent to the wrong one fails non-retryably, naming the right one. */
export type ModelKind =
  | 'persistence' | 'ewma' | 'har_rv' | 'log_har' | 'har_x' | 'garch' | 'lightgbm' | 'xgboost'
  | 'lstm' | 'lstm_jump' | 'bilstm_attn' | 'sph_net';
export type FitTarget = 'target_gk_1h' | 'target_rv_24h';
export const neuralModelKinds: readonly ModelKind[] = ['lstm', 'lstm_jump', 'bilstm_attn', 'sph_net'];

export interface FitInput {
  /** Hash of model spec + featureSetId + training window (made in TS). */
  modelId: string;
  model: { name: string; kind: ModelKind; params: Record<string, unknown> };
  target: FitTarget;
  /** The feature-set Parquet of one series. */
  features: ObjectRef;
  featureSetId: string;
  /** Candidate inputs for models that use "all features" (lightgbm, xgboost, the neural kinds). */
  featureColumns: string[];
  /** Training rows: startTs <= ts < endTs (embargo already applied). */
  train: { startTs: number; endTs: number };
  /** Out-of-sample rows: startTs <= ts < endTs. */
  test: { startTs: number; endTs: number };
  seed: number;
  /** Where to write (built by lib/platform/layout.ts). */
  keys: { model: string; card: string };
}
export interface FitResult {
  modelId: string;
  modelRef: ObjectRef;
  cardRef: ObjectRef;
  reused: boolean;
  trainRows: number;
  testRows: number;
  wallSeconds: number;
}

/** Activities implemented in Python (workers/trainer.py), typed for workflow code. */
export interface PythonActivities {
  verifyProbe(input: VerifyProbeInput): Promise<VerifyProbeResult>;
  /** Statistical and tree models, on the train-cpu queue. */
  fitModel(input: FitInput): Promise<FitResult>;
  /** Neural models (lstm, lstm_jump, bilstm_attn, sph_net), on the gpu queue. */
  fitNeuralModel(input: FitInput): Promise<FitResult>;
}

// ---- Features (issue 4) ----
export interface BuildFeaturesInput {
  /** Series built together (cross-asset features span them); one timeframe. */
  series: Series[];
  /** The manifest of an earlier feature set of the same series: only the tail is recomputed. */
  previous?: ObjectRef;
  /**
   * Build from the last N monthly candle partitions only (scoring: every feature has a finite
   * window of at most 720 bars, so rows more than that after the first candle read are identical
   * to a full build's, and an hourly score does not rewrite years of history).
   */
  recentMonths?: number;
}
export interface FeatureSeriesOutput {
  series: Series;
  ref: ObjectRef;
  rows: number;
  /** Last candle ts (ms) of the series. */
  watermark: number;
}
export interface BuildFeaturesResult {
  /** The feature set's manifest (features/{featureSetId}/_manifest.json). */
  ref: ObjectRef;
  featureSetId: string;
  rows: number;
  columns: string[];
  /** series key (exchange:BASE-QUOTE:timeframe) -> last candle ts (ms) */
  watermark: Record<string, number>;
  series: FeatureSeriesOutput[];
  mode: 'full' | 'incremental';
  recomputedRows: number;
}
/** The manifest object of a feature set. */
export interface FeatureSetManifest {
  featureSetId: string;
  definitionsSha: string;
  columns: string[];
  rows: number;
  watermark: Record<string, number>;
  series: (FeatureSeriesOutput & { key: string })[];
}
