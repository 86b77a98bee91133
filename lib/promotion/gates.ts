/**
 * Promotion gates (DESIGN.md, Evaluation and promotion), as one pure function so every decision
 * and its reasons can be tested and recorded. A challenger is promoted only if it passed ONNX
 * parity, its data has no unresolved quality flags, and it beats both the best baseline and the
 * current champion on the primary loss by the configured margin, with a Diebold-Mariano p-value
 * below the configured level.
 *
 * Bootstrapping: with no champion yet, the best baseline that passed parity becomes the first
 * champion (recorded as such), so scoring has an honest model from the first run; any model must
 * then beat it through the full gates.
 */
import { isBaselineKind as isBaseline } from '../../contracts/domain';
import type { Decision } from '../../contracts/types';
export type { Decision };

export interface Contender {
  name: string;
  kind: string;
  modelId: string; // the model of the latest fold: the one that would serve
  loss: number; // primary loss over the run's out-of-sample rows
  parityPassed: boolean;
  /** DM p-value of this model against the best baseline / the champion (two-sided). */
  dmPValueVsBestBaseline?: number | null;
  dmPValueVsChampion?: number | null;
}

export interface GateConfig {
  minImprovement: number; // relative: 0.01 = 1% lower loss
  dmPValue: number;
}

export function decidePromotion(input: {
  contenders: Contender[];
  champion: { modelId: string; name: string; loss: number | null } | null;
  unresolvedDataFlags: string[];
  gates: GateConfig;
  /** The evaluation's best baseline (chosen on the validation folds); default: the lowest loss. */
  bestBaseline?: string | null;
}): Decision {
  const { contenders, champion, unresolvedDataFlags, gates } = input;
  const reasons: string[] = [];
  const eligible = contenders.filter((c) => Number.isFinite(c.loss));
  const failedParity = eligible.filter((c) => !c.parityPassed);
  for (const c of failedParity) reasons.push(`${c.name}: excluded, ONNX parity failed`);
  const ranked = eligible.filter((c) => c.parityPassed).sort((a, b) => a.loss - b.loss);
  const none = (why: string): Decision => ({ promote: false, candidate: null, modelId: null, bootstrap: false, reasons: [...reasons, why] });

  if (unresolvedDataFlags.length) return none(`data has unresolved quality flags: ${unresolvedDataFlags.join('; ')}`);
  if (!ranked.length) return none('no model passed parity with a finite loss');

  const baselines = ranked.filter((c) => isBaseline(c.kind));
  const bestBaseline = baselines.find((b) => b.name === input.bestBaseline) ?? baselines[0];
  const best = ranked[0]!;
  if (!bestBaseline) return none('no baseline passed parity: nothing to judge a challenger against');
  reasons.push(`best baseline: ${bestBaseline.name} (loss ${bestBaseline.loss.toPrecision(6)})`);

  if (!champion && best === bestBaseline) {
    return { promote: true, candidate: best.name, modelId: best.modelId, bootstrap: true, reasons: [...reasons, `no champion yet: the best baseline ${best.name} becomes the first champion`] };
  }
  const challenger = ranked.find((c) => !isBaseline(c.kind));
  if (!challenger) {
    return none(champion ? `no non-baseline challenger passed parity; champion ${champion.name} stays` : 'no challenger');
  }
  const cand = challenger;
  const beats = (other: number) => cand.loss <= other * (1 - gates.minImprovement);
  const checks: [boolean, string][] = [
    [beats(bestBaseline.loss), `loss ${cand.loss.toPrecision(6)} vs best baseline ${bestBaseline.loss.toPrecision(6)} (needs ≥ ${(gates.minImprovement * 100).toFixed(1)}% lower)`],
    [
      cand.dmPValueVsBestBaseline != null && cand.dmPValueVsBestBaseline < gates.dmPValue,
      `DM p-value vs best baseline ${cand.dmPValueVsBestBaseline ?? 'n/a'} (needs < ${gates.dmPValue})`,
    ],
  ];
  if (champion) {
    if (champion.loss === null) {
      checks.push([false, `champion ${champion.name} could not be scored on this run's data`]);
    } else {
      checks.push([beats(champion.loss), `loss vs champion ${champion.name} ${champion.loss.toPrecision(6)} (needs ≥ ${(gates.minImprovement * 100).toFixed(1)}% lower)`]);
      checks.push([
        cand.dmPValueVsChampion != null && cand.dmPValueVsChampion < gates.dmPValue,
        `DM p-value vs champion ${cand.dmPValueVsChampion ?? 'n/a'} (needs < ${gates.dmPValue})`,
      ]);
    }
  }
  for (const [ok, what] of checks) reasons.push(`${cand.name}: ${ok ? 'pass' : 'FAIL'} ${what}`);
  const promote = checks.every(([ok]) => ok);
  if (!promote && !champion) {
    // No champion and the challenger failed: the best baseline serves.
    return { promote: true, candidate: bestBaseline.name, modelId: bestBaseline.modelId, bootstrap: true, reasons: [...reasons, `no champion yet: the best baseline ${bestBaseline.name} becomes the first champion`] };
  }
  return { promote, candidate: cand.name, modelId: cand.modelId, bootstrap: false, reasons };
}
