/**
 * Ensembles over fitted members, scored as a recorded combination (the members' ONNX outputs,
 * combined here and at scoring time by the same function). Members are combined in variance
 * space: forecast variance = Σ wᵢ·volᵢ², forecast = sqrt of it.
 *  - equal: wᵢ = 1/n;
 *  - qlike: weights on the simplex minimizing QLIKE on the members' out-of-sample forecasts of
 *    earlier folds (lib/evaluation/run.ts picks the rows), found by exponentiated gradient from
 *    equal weights (deterministic);
 *  - select: all the weight on the member with the lowest QLIKE on those rows (ties: the earlier
 *    member): a choice among specs — feature sets, hyper-parameters — made on validation rows only,
 *    fold by fold, with the same no-look-ahead rule as the weights.
 */
import { createHash } from 'node:crypto';
import { qlike, VARIANCE_FLOOR } from '../metrics/loss';
import type { EnsembleMethod, EnsembleSpec } from '../../contracts/types';
export type { EnsembleMethod, EnsembleSpec };

export function combineVol(weights: readonly number[], memberVols: readonly number[]): number {
  let v = 0;
  for (let i = 0; i < weights.length; i++) v += weights[i]! * memberVols[i]! ** 2;
  return Math.sqrt(Math.max(v, VARIANCE_FLOOR));
}

/**
 * Simplex weights minimizing mean QLIKE(actual, combineVol(w, f)); forecasts[i][t] is member i at
 * row t. Exponentiated gradient keeps weights positive and summing to one.
 */
export function fitQlikeWeights(actual: readonly number[], forecasts: readonly (readonly number[])[], iterations = 2000, rate = 0.5): number[] {
  const n = forecasts.length;
  const T = actual.length;
  if (!n || !T) throw new Error('fitQlikeWeights needs members and rows');
  let w = new Array<number>(n).fill(1 / n);
  const a2 = actual.map((a) => Math.max(a * a, VARIANCE_FLOOR));
  const f2 = forecasts.map((f) => f.map((x) => Math.max(x * x, VARIANCE_FLOOR)));
  for (let it = 0; it < iterations; it++) {
    const g = new Array<number>(n).fill(0);
    for (let t = 0; t < T; t++) {
      let h = 0;
      for (let i = 0; i < n; i++) h += w[i]! * f2[i]![t]!;
      // d/dh of a²/h - ln(a²/h) - 1 is 1/h - a²/h²
      const d = 1 / h - a2[t]! / (h * h);
      for (let i = 0; i < n; i++) g[i]! += (d * f2[i]![t]!) / T;
    }
    // Scale-free step: gradients are in units of 1/variance × variance.
    const m = Math.max(...g.map(Math.abs)) || 1;
    const next = w.map((wi, i) => wi * Math.exp((-rate * g[i]!) / m));
    const s = next.reduce((x, y) => x + y, 0);
    w = next.map((x) => x / s);
  }
  return w;
}

/** One-hot weights on the member with the lowest QLIKE (the first on ties). */
export function selectBest(actual: readonly number[], forecasts: readonly (readonly number[])[]): number[] {
  if (!forecasts.length || !actual.length) throw new Error('selectBest needs members and rows');
  const losses = forecasts.map((f) => qlike(actual, f));
  let best = 0;
  losses.forEach((l, i) => {
    if (l < losses[best]!) best = i;
  });
  return forecasts.map((_, i) => (i === best ? 1 : 0));
}

export function ensembleQlike(actual: readonly number[], forecasts: readonly (readonly number[])[], weights: readonly number[]): number {
  const combined = actual.map((_, t) => combineVol(weights, forecasts.map((f) => f[t]!)));
  return qlike(actual, combined);
}

/** A stable id for an ensemble: its method, members' modelIds and weights. */
export function ensembleModelId(method: EnsembleMethod, members: { modelId: string; weight: number }[]): string {
  const text = JSON.stringify({ method, members: members.map((m) => [m.modelId, Number(m.weight.toPrecision(12))]) });
  return `e${createHash('sha256').update(text).digest('hex').slice(0, 20)}`;
}
