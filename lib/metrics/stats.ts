/** Small numeric helpers shared by the metrics, plus the normal and Student-t CDFs (stdlib). */
import normalCdf from '@stdlib/stats-base-dists-normal-cdf';
import tCdf from '@stdlib/stats-base-dists-t-cdf';

export { MetricInputError } from '../platform/errors';
import { MetricInputError } from '../platform/errors';

export function assertPaired(a: readonly number[], b: readonly number[]): void {
  if (a.length !== b.length) throw new MetricInputError(`paired series differ in length: ${a.length} vs ${b.length}`);
}

/** Arithmetic mean; NaN for an empty series (a metric over no rows is undefined, not 0). */
export function mean(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

/** Standard normal CDF. */
export function phi(x: number): number {
  return normalCdf(x, 0, 1);
}

/** Student-t CDF with `df` degrees of freedom. */
export function studentT(x: number, df: number): number {
  return tCdf(x, df);
}
