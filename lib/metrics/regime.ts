/**
 * Regime classification metrics. The regime of a volatility v with thresholds (q1, q2), fit on a
 * training window by the features stage (lib/features/regime.ts, fitRegimeThresholds), is
 *   0 = low (v ≤ q1), 1 = medium (q1 < v ≤ q2), 2 = high (v > q2)
 * — the rule of contracts/domain.json (regime), the same as labelRegime there. The forecast's class is the regime of the forecast volatility,
 * the true class the regime of the realized one.
 */
import { regimeOf as regimeClass, type Regime, type RegimeThresholds } from '../../contracts/domain';
import { assertPaired, MetricInputError } from './stats';

export type { RegimeThresholds };

export interface RegimeMetrics {
  rows: number;
  accuracy: number;
  /** Mean of the per-class F1 over the classes present in the actual or forecast labels. */
  macroF1: number;
  /** confusion[actual][forecast], classes 0 = low, 1 = medium, 2 = high. */
  confusion: number[][];
}

/** The class of a finite volatility under the contract's rule (contracts/domain.json, regime). */
export function regimeOf(v: number, t: RegimeThresholds): Regime {
  const c = regimeClass(v, t);
  if (c === null) throw new MetricInputError(`regime of a non-finite volatility ${v}`);
  return c;
}

/**
 * Thresholds: one pair for every row, or one pair per row (walk-forward folds each label their rows
 * with the thresholds fit on their own training window).
 */
export function regimeMetrics(actualVol: readonly number[], forecastVol: readonly number[], thresholds: RegimeThresholds | readonly RegimeThresholds[]): RegimeMetrics {
  assertPaired(actualVol, forecastVol);
  const perRow = Array.isArray(thresholds) ? (thresholds as readonly RegimeThresholds[]) : null;
  if (perRow && perRow.length !== actualVol.length) throw new MetricInputError(`regime thresholds for ${perRow.length} rows, ${actualVol.length} values`);
  for (const t of perRow ?? [thresholds as RegimeThresholds]) {
    if (!(t.q1 <= t.q2)) throw new MetricInputError(`regime thresholds must satisfy q1 <= q2, got ${t.q1}, ${t.q2}`);
  }
  const at = (i: number): RegimeThresholds => (perRow ? perRow[i]! : (thresholds as RegimeThresholds));
  const confusion = [0, 1, 2].map(() => [0, 0, 0]);
  actualVol.forEach((a, i) => confusion[regimeOf(a, at(i))]![regimeOf(forecastVol[i]!, at(i))]!++);
  const n = actualVol.length;
  const correct = confusion[0]![0]! + confusion[1]![1]! + confusion[2]![2]!;
  const f1s: number[] = [];
  for (let c = 0; c < 3; c++) {
    const tp = confusion[c]![c]!;
    const actualC = confusion[c]!.reduce((s, x) => s + x, 0);
    const predC = confusion.reduce((s, row) => s + row[c]!, 0);
    if (actualC + predC === 0) continue;
    f1s.push((2 * tp) / (actualC + predC));
  }
  return {
    rows: n,
    accuracy: n ? correct / n : Number.NaN,
    macroF1: f1s.length ? f1s.reduce((s, x) => s + x, 0) / f1s.length : Number.NaN,
    confusion,
  };
}
