/**
 * The promotion gates (docs/lifecycle.md), one pure function of the evaluation's gate report, so
 * every decision and its reasons can be tested and recorded.
 *
 * 1. The challenger is chosen on the validation folds only: the eligible spec (every fold fitted,
 *    ONNX parity passed) other than the incumbent with the lowest validation QLIKE.
 * 2. It is judged on the holdout rows only, against the incumbent (the champion's spec refitted on
 *    the same folds) and the best baseline (chosen on the validation folds): a relative margin on
 *    the holdout QLIKE, a one-sided HLN Diebold-Mariano test (long-run variance covering the
 *    target's overlap), and Hansen's SPA over every eligible candidate as the best-of-N guard.
 * 3. promote: it passed; keep: it did not, the incumbent's spec is refreshed; bootstrap: no champion
 *    yet and no challenger passed against the best baseline, which serves; none: nothing can serve.
 * Data with unacknowledged quality flags blocks promote and bootstrap (the incumbent is still refreshed).
 */
import type { ChampionRecord, Decision, GateReport, PromotionGates } from '../../contracts/types';

type Candidate = GateReport['candidates'][number];

function fmt(x: number | null | undefined, digits = 6): string {
  return x === null || x === undefined || !Number.isFinite(x) ? 'n/a' : x.toPrecision(digits);
}

function pv(p: number | null | undefined): string {
  return p === null || p === undefined || !Number.isFinite(p) ? 'n/a' : p < 1e-4 ? '<1e-4' : p.toFixed(4);
}

export interface DecideArgs {
  gate: GateReport;
  champion: ChampionRecord | null;
  /** Why the champion's spec could not be refitted in this run (plan.incumbentUnknown). */
  incumbentUnknown?: string | null;
  gates: PromotionGates;
  unresolvedDataFlags: string[];
}

/** The checks a challenger must pass against one reference on the holdout rows. */
function judge(ch: Candidate, ref: Candidate, p: number | null, gates: PromotionGates): [boolean, string][] {
  const margin = ch.holdoutQlike !== null && ref.holdoutQlike !== null && ch.holdoutQlike <= ref.holdoutQlike * (1 - gates.minImprovement);
  const rel = ch.holdoutQlike !== null && ref.holdoutQlike !== null && ref.holdoutQlike > 0 ? 1 - ch.holdoutQlike / ref.holdoutQlike : null;
  return [
    [margin, `holdout QLIKE ${fmt(ch.holdoutQlike)} vs ${ref.name} ${fmt(ref.holdoutQlike)}: ${rel === null ? 'n/a' : `${(100 * rel).toFixed(2)}%`} lower (needs ≥ ${(100 * gates.minImprovement).toFixed(1)}%)`],
    [p !== null && p < gates.dmPValue, `one-sided HLN-DM p vs ${ref.name} ${pv(p)} (needs < ${gates.dmPValue})`],
  ];
}

export function decidePromotion(args: DecideArgs): Decision {
  const { gate, champion, gates } = args;
  const reasons: string[] = [];
  const byName = new Map(gate.candidates.map((c) => [c.name, c]));
  for (const c of gate.candidates) if (!c.eligible) reasons.push(`${c.name}: not eligible (${c.why})`);
  const incumbent = gate.incumbent ? byName.get(gate.incumbent) ?? null : null;
  const best = gate.bestBaseline ? byName.get(gate.bestBaseline) ?? null : null;
  const decision = (outcome: Decision['outcome'], spec: string | null, challenger: string | null, why: string): Decision => ({
    outcome,
    spec,
    challenger,
    incumbent: gate.incumbent,
    bestBaseline: gate.bestBaseline,
    reasons: [...reasons, why],
  });
  if (best) reasons.push(`best baseline (validation folds): ${best.name}, validation QLIKE ${fmt(best.validationQlike)}`);

  const challenger =
    gate.candidates
      .filter((c) => c.eligible && c.name !== gate.incumbent && c.validationQlike !== null)
      .sort((a, b) => a.validationQlike! - b.validationQlike! || a.name.localeCompare(b.name))[0] ?? null;
  if (challenger) reasons.push(`challenger (lowest validation QLIKE): ${challenger.name}, ${fmt(challenger.validationQlike)}`);

  const spaCheck = (): [boolean, string] => {
    const s = gate.spa;
    return [!!s && s.pConsistent < gates.spaPValue, s ? `SPA (best of ${s.candidates} vs ${s.benchmark}) consistent p ${pv(s.pConsistent)} (needs < ${gates.spaPValue})` : 'SPA not computed'];
  };
  const verdict = (checks: [boolean, string][]): boolean => {
    for (const [ok, what] of checks) reasons.push(`${challenger!.name}: ${ok ? 'pass' : 'FAIL'} ${what}`);
    return checks.every(([ok]) => ok);
  };

  // No champion yet: the challenger against the best baseline, else the best baseline serves.
  if (!champion) {
    if (args.unresolvedDataFlags.length) return decision('none', null, challenger?.name ?? null, `data has unresolved quality flags: ${args.unresolvedDataFlags.join('; ')}; no first champion until they are acknowledged (volcast data ack)`);
    if (!best || !best.eligible) return decision('none', null, challenger?.name ?? null, 'no baseline completed every fold: nothing honest to serve');
    if (!challenger || challenger.name === best.name) return decision('bootstrap', best.name, challenger?.name ?? null, `no champion yet: the best baseline ${best.name} becomes the first champion`);
    const passed = verdict([...judge(challenger, best, challenger.dmVsBestBaseline?.pValue ?? null, gates), spaCheck()]);
    return passed
      ? decision('promote', challenger.name, challenger.name, `no champion yet: ${challenger.name} beat the best baseline ${best.name} and becomes the first champion`)
      : decision('bootstrap', best.name, challenger.name, `no champion yet: the best baseline ${best.name} becomes the first champion`);
  }

  // A champion whose spec the run could not refit: it keeps serving (nothing to refresh it with).
  if (!incumbent) {
    const why = args.incumbentUnknown ?? `champion ${champion.name} is not among this run's specs`;
    return decision('keep', null, challenger?.name ?? null, `${why}; the served artifact ${champion.modelId} stays`);
  }
  reasons.push(`incumbent: ${incumbent.name} (the champion's spec refitted on these folds), holdout QLIKE ${fmt(incumbent.holdoutQlike)}`);
  const keep = (why: string) => decision('keep', incumbent.name, challenger?.name ?? null, `${why}; ${incumbent.name} is kept and refreshed`);
  if (args.unresolvedDataFlags.length) return keep(`data has unresolved quality flags: ${args.unresolvedDataFlags.join('; ')}; no promotion until they are acknowledged (volcast data ack)`);
  if (!gate.incumbentJudged) return keep(`the incumbent has no holdout forecast (${incumbent.why ?? 'its holdout fold failed'}): no challenger can be judged against it`);
  if (!challenger) return keep('no eligible challenger');
  if (incumbent.validationQlike !== null && challenger.validationQlike! >= incumbent.validationQlike) {
    return keep(`the challenger ${challenger.name} is not better than the incumbent on the validation folds (${fmt(challenger.validationQlike)} vs ${fmt(incumbent.validationQlike)})`);
  }
  const checks = judge(challenger, incumbent, challenger.dmVsIncumbent?.pValue ?? null, gates);
  if (best && best.name !== incumbent.name && best.name !== challenger.name) checks.push(...judge(challenger, best, challenger.dmVsBestBaseline?.pValue ?? null, gates));
  checks.push(spaCheck());
  return verdict(checks)
    ? decision('promote', challenger.name, challenger.name, `${challenger.name} passed every gate and replaces ${incumbent.name}`)
    : keep(`${challenger.name} did not pass every gate`);
}
