/**
 * Walk-forward folds (docs/design.md, Walk-forward), defined in time on the timeframe grid so gaps in
 * the data never shift a window. Every model sees the same folds. A fit for a test window starting
 * at T uses rows whose target is fully known at T: with a target of horizon h bars, the target of
 * the row at ts is known when bar ts + h closes, at ts + (h+1) bars, so training rows end at
 * ts < T - h bars (the embargo; the config may ask for a longer one).
 */
import { createHash } from 'node:crypto';

import { horizonBarsOf } from '../../contracts/domain';
import type { Fold, ServingWindow, WalkForwardSpec, Window } from '../../contracts/types';
import { TrainingInputError } from '../platform/errors';

export type { Fold, ServingWindow, WalkForwardSpec, Window };

export interface SpanOptions {
  /** First and last bar of the span the protocol uses (ms). */
  firstTs: number;
  lastTs: number;
  barMs: number;
  target: string;
}

/** The protocol's folds: anchored at the end of the data (spec.folds) or tiled from the start. */
export function planWalkForward(spec: WalkForwardSpec, opts: SpanOptions): Fold[] {
  return spec.folds ? planTrailingFolds({ ...spec, folds: spec.folds }, opts) : planFolds(spec, opts);
}

/**
 * The serving fit's rows (docs/design.md: the winning spec is fitted once more on every row whose target is
 * known at run time). Row ts has a known target iff bars ts + 1 … ts + h are in, i.e. ts + h bars ≤
 * lastTs, so training ends (exclusive) at lastTs − h bars + 1 bar; a rolling window keeps the
 * protocol's training length. Its "test" rows are the h newest rows (targets unknown): the rows
 * scoring forecasts next, on which its parity is checked. No embargo: nothing is judged on them.
 */
export function servingWindow(spec: WalkForwardSpec, opts: SpanOptions): ServingWindow {
  const h = horizonBarsOf(opts.target);
  const endTs = opts.lastTs - h * opts.barMs + opts.barMs;
  const startTs = spec.window === 'rolling' ? Math.max(opts.firstTs, endTs - spec.firstTrainBars * opts.barMs) : opts.firstTs;
  if (!(startTs < endTs)) throw new TrainingInputError(`no row with a known target between ${new Date(opts.firstTs).toISOString()} and ${new Date(opts.lastTs).toISOString()}`);
  return { train: { startTs, endTs }, test: { startTs: endTs, endTs: opts.lastTs + opts.barMs } };
}

/**
 * Folds over [firstTs, lastTs] (the first and last bar of the feature set). Test windows are full
 * (testBars long) and tile forward by stepBars; the last one ends at or before the last bar whose
 * target is known. The first starts after firstTrainBars of history, and not before testFrom (on the
 * bar grid) when the protocol names a date: series that start at different dates are then judged
 * on the same windows.
 */
export function planFolds(spec: WalkForwardSpec, opts: SpanOptions): Fold[] {
  const h = horizonBarsOf(opts.target);
  const embargo = Math.max(spec.embargoBars, h) * opts.barMs;
  // The last row with a known target is lastTs - h bars; test windows must end after it by no more than one bar.
  const lastKnownEnd = opts.lastTs - h * opts.barMs + opts.barMs;
  const folds: Fold[] = [];
  let testStart = opts.firstTs + spec.firstTrainBars * opts.barMs;
  if (spec.testFrom) {
    const from = Date.parse(`${spec.testFrom}T00:00:00Z`);
    if (from > testStart) testStart = opts.firstTs + Math.ceil((from - opts.firstTs) / opts.barMs) * opts.barMs;
  }
  while (testStart + spec.testBars * opts.barMs <= lastKnownEnd) {
    const trainStart = spec.window === 'expanding' ? opts.firstTs : testStart - spec.firstTrainBars * opts.barMs;
    folds.push({
      fold: folds.length,
      train: { startTs: trainStart, endTs: testStart - embargo },
      test: { startTs: testStart, endTs: testStart + spec.testBars * opts.barMs },
      holdout: false,
    });
    testStart += spec.stepBars * opts.barMs;
  }
  if (!folds.length) {
    throw new TrainingInputError(
      spec.testFrom && testStart > opts.firstTs + spec.firstTrainBars * opts.barMs
        ? `not enough history for one fold: the first test window starts at testFrom ${spec.testFrom} and needs ${spec.testBars + h} bars from there; the data ends ${new Date(opts.lastTs).toISOString()}`
        : `not enough history for one fold: need ${spec.firstTrainBars + spec.testBars + h} bars, have ${Math.floor((opts.lastTs - opts.firstTs) / opts.barMs) + 1}`,
    );
  }
  folds[folds.length - 1]!.holdout = true;
  return folds;
}

/**
 * Folds anchored at the end of the data: `folds` test windows of testBars, the last one ending at
 * the last known target, stepping back by stepBars. Protocol (a) is one such fold with a rolling
 * training window (train on the first 170 days of the last 180, test on the last 10).
 */
export function planTrailingFolds(spec: WalkForwardSpec & { folds: number }, opts: SpanOptions): Fold[] {
  const h = horizonBarsOf(opts.target);
  const embargo = Math.max(spec.embargoBars, h) * opts.barMs;
  const lastKnownEnd = opts.lastTs - h * opts.barMs + opts.barMs;
  const folds: Fold[] = [];
  for (let i = spec.folds - 1; i >= 0; i--) {
    const testEnd = lastKnownEnd - i * spec.stepBars * opts.barMs;
    const testStart = testEnd - spec.testBars * opts.barMs;
    const trainStart = spec.window === 'rolling' ? testStart - spec.firstTrainBars * opts.barMs : opts.firstTs;
    if (testStart - spec.firstTrainBars * opts.barMs < opts.firstTs) {
      throw new TrainingInputError(`not enough history for fold ${spec.folds - 1 - i}: its training window would start before the first bar`);
    }
    folds.push({ fold: folds.length, train: { startTs: trainStart, endTs: testStart - embargo }, test: { startTs: testStart, endTs: testEnd }, holdout: i === 0 });
  }
  return folds;
}

/**
 * modelId: a hash of the model spec, the feature set, the series (one feature set holds several
 * symbols built together), the target, the training and predicted windows, the input columns, the
 * purpose, the seed and the trainer's code version.
 */
export function modelIdFor(input: {
  model: { kind: string; params: Record<string, unknown> };
  featureSetId: string;
  series: { exchange: string; symbol: string; timeframe: string };
  target: string;
  train: Window;
  /** The rows it predicts (recorded in its card for parity): part of what the artifact is. */
  test: Window;
  /** The input columns offered to the model (chosen on its training rows). */
  columns: string[];
  purpose: 'fold' | 'serving';
  seed: number;
  /** lib/training/trainerVersion.ts: the model code that fits it. */
  trainerVersion: string;
}): string {
  const canonical = JSON.stringify(input, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b))) : v,
  );
  return `m${createHash('sha256').update(canonical).digest('hex').slice(0, 20)}`;
}
