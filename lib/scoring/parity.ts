/**
 * ONNX parity: onnxruntime-node's predictions against the trainer's own (card.trainerPredictions) on
 * the same test rows. Passes iff both sides predicted exactly the same rows and the largest relative
 * error (vol, and sigma where both have it) is ≤ PARITY_TOLERANCE, with every value finite. A model
 * that fails is flagged and
 * can never be promoted.
 */
import type { ModelCard, ParityResult } from './modelCard';
import type { TsWindow } from './inputs';
import { onnxRuntimeVersion } from './session';

export const PARITY_TOLERANCE = 1e-5;

export interface Scored {
  ts: number[];
  vol: number[];
  sigma: number[] | null;
}

function relError(a: number, b: number): number {
  return Math.abs(a - b) / Math.max(Math.abs(b), 1e-12);
}

export function checkParity(scored: Scored, card: ModelCard, window: TsWindow, sourceCardSha256: string): ParityResult {
  const tp = card.trainerPredictions;
  const trainer = new Map<number, number>();
  tp.ts.forEach((t, i) => {
    if (t >= window.startTs && t < window.endTs) trainer.set(t, i);
  });
  let compared = 0;
  let onlyOnnx = 0;
  let maxRel = 0;
  let nonFinite = 0;
  // Any NaN or ±Inf, on either side, fails: Math.max would swallow a NaN and `NaN > tolerance` is false.
  const worse = (a: number, b: number) => {
    const e = relError(a, b);
    if (!Number.isFinite(a) || !Number.isFinite(b) || !Number.isFinite(e)) nonFinite++;
    else maxRel = Math.max(maxRel, e);
  };
  scored.ts.forEach((t, i) => {
    const j = trainer.get(t);
    if (j === undefined) {
      onlyOnnx++;
      return;
    }
    compared++;
    worse(scored.vol[i]!, tp.vol[j]!);
    if (scored.sigma && tp.sigma) worse(scored.sigma[i]!, tp.sigma[j]!);
  });
  const onlyTrainer = trainer.size - compared;
  const reasons: string[] = [];
  if (compared === 0) reasons.push('no test row to compare');
  if (onlyOnnx || onlyTrainer) reasons.push(`scorable rows differ: ${onlyOnnx} only in onnxruntime-node, ${onlyTrainer} only in the trainer`);
  if (nonFinite) reasons.push(`${nonFinite} value(s) not finite (NaN or ±Inf) in onnxruntime-node's or the trainer's predictions`);
  if (maxRel > PARITY_TOLERANCE) reasons.push(`max relative error ${maxRel.toExponential(3)} > ${PARITY_TOLERANCE}`);
  if (card.output.sigma && !scored.sigma) reasons.push('card declares a sigma output the graph does not produce');
  return {
    passed: reasons.length === 0,
    maxRelError: compared && !nonFinite ? maxRel : null,
    tolerance: PARITY_TOLERANCE,
    compared,
    onlyOnnx,
    onlyTrainer,
    runtime: onnxRuntimeVersion,
    sourceCardSha256,
    reason: reasons.length ? reasons.join('; ') : null,
  };
}
