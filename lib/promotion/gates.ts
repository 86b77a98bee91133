/**
 * The promotion decision (docs/lifecycle.md): pure policy over the evaluation's gate report, so
 * every decision and its reasons can be tested and recorded. The statistics are not here: the
 * evaluation chose the challenger on the validation folds and judged it on the holdout rows with
 * the one statistical gate (lib/metrics/gate.ts judgeChallenger: enough independent windows, a
 * margin, a one-sided HLN Diebold-Mariano test, and Hansen's SPA over every eligible candidate).
 *
 * promote: the challenger passed against the incumbent (the champion's spec refitted on the same
 * folds) and the best baseline; keep: it did not (or cannot be judged), the incumbent's spec is
 * refreshed; bootstrap: no champion yet and no challenger passed against the best baseline, which
 * serves; none: nothing can serve. Unacknowledged data-quality flags block promote and bootstrap,
 * not a refresh.
 */
import type { ChampionRecord, Decision, GateReport, GateVerdict } from '../../contracts/types';

function fmt(x: number | null | undefined, digits = 6): string {
  return x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toPrecision(digits);
}

export interface DecideArgs {
  gate: GateReport;
  champion: ChampionRecord | null;
  /** Why the champion's spec could not be refitted in this run (plan.incumbentUnknown). */
  incumbentUnknown?: string | null;
  unresolvedDataFlags: string[];
}

export function decidePromotion(args: DecideArgs): Decision {
  const { gate, champion } = args;
  const reasons: string[] = [];
  const byName = new Map(gate.candidates.map((c) => [c.name, c]));
  for (const c of gate.candidates) if (!c.eligible) reasons.push(`${c.name}: not eligible (${c.why})`);
  const incumbent = gate.incumbent ? (byName.get(gate.incumbent) ?? null) : null;
  const best = gate.bestBaseline ? (byName.get(gate.bestBaseline) ?? null) : null;
  const challenger = gate.challenger ? (byName.get(gate.challenger) ?? null) : null;
  const decision = (outcome: Decision['outcome'], spec: string | null, why: string): Decision => ({
    outcome,
    spec,
    challenger: gate.challenger,
    incumbent: gate.incumbent,
    bestBaseline: gate.bestBaseline,
    reasons: [...reasons, why],
  });
  if (best) reasons.push(`best baseline (validation folds): ${best.name}, validation QLIKE ${fmt(best.validationQlike)}`);
  if (challenger) reasons.push(`challenger (lowest validation QLIKE): ${challenger.name}, ${fmt(challenger.validationQlike)}; holdout QLIKE ${fmt(challenger.holdoutQlike)}`);
  const explain = (v: GateVerdict | null): boolean => {
    if (!v) return true;
    for (const r of v.reasons) reasons.push(`${challenger!.name} vs ${v.reference}: ${r}`);
    return v.passed;
  };

  // No champion yet: the challenger against the best baseline, else the best baseline serves.
  if (!champion) {
    if (args.unresolvedDataFlags.length) return decision('none', null, `data has unresolved quality flags: ${args.unresolvedDataFlags.join('; ')}; no first champion until they are acknowledged (volcast data ack)`);
    if (!best || !best.eligible) return decision('none', null, 'no baseline completed every fold: nothing honest to serve');
    if (!challenger || challenger.name === best.name) return decision('bootstrap', best.name, `no champion yet: the best baseline ${best.name} becomes the first champion`);
    return explain(gate.verdicts.vsBestBaseline)
      ? decision('promote', challenger.name, `no champion yet: ${challenger.name} beat the best baseline ${best.name} and becomes the first champion`)
      : decision('bootstrap', best.name, `no champion yet: ${challenger.name} did not pass the gate, the best baseline ${best.name} becomes the first champion`);
  }

  // A champion whose spec the run could not refit: it keeps serving (nothing to refresh it with).
  if (!incumbent) {
    const why = args.incumbentUnknown ?? `champion ${champion.name} is not among this run's specs`;
    return decision('keep', null, `${why}; the served artifact ${champion.modelId} stays`);
  }
  reasons.push(`incumbent: ${incumbent.name} (the champion's spec refitted on these folds), holdout QLIKE ${fmt(incumbent.holdoutQlike)}`);
  const keep = (why: string) => decision('keep', incumbent.name, `${why}; ${incumbent.name} is kept and refreshed`);
  if (args.unresolvedDataFlags.length) return keep(`data has unresolved quality flags: ${args.unresolvedDataFlags.join('; ')}; no promotion until they are acknowledged (volcast data ack)`);
  if (!gate.incumbentJudged) return keep(`the incumbent has no holdout forecast (${incumbent.why ?? 'its holdout fold failed'}): no challenger can be judged against it`);
  if (!challenger) return keep('no eligible challenger');
  if (incumbent.validationQlike !== null && challenger.validationQlike! >= incumbent.validationQlike) {
    return keep(`the challenger ${challenger.name} is not better than the incumbent on the validation folds (${fmt(challenger.validationQlike)} vs ${fmt(incumbent.validationQlike)})`);
  }
  const passed = [explain(gate.verdicts.vsIncumbent), explain(gate.verdicts.vsBestBaseline)].every(Boolean) && gate.verdicts.vsIncumbent !== null;
  return passed ? decision('promote', challenger.name, `${challenger.name} passed every gate and replaces ${incumbent.name}`) : keep(`${challenger.name} did not pass every gate`);
}
