/**
 * After the gates: the winning spec's serving fit (trained on every row whose target is known at
 * run time) is checked for ONNX parity on the rows it will forecast, then it serves (promote,
 * bootstrap, refresh), or, if the fit or its parity failed, the previous artifact keeps serving
 * (hold) and the reason is recorded. Writes the champion (registry), the history and
 * runs/{runId}/decision.json.
 */
import type {
  ChampionRecord, ChampionSpec, CommitServingInput, CommitServingResult, Decision, IntervalCalibration, ModelSpec, ObjectRef, PlanDocument, ServingOutcome,
} from '../../contracts/types';
import { ensembleModelId } from '../evaluation/ensemble';
import type { EnsembleCard, EnsembleMember, MetricsDocument } from '../evaluation/types';
import { layout } from '../platform/layout';
import type { ArtifactStore } from '../platform/store';
import { checkParity, scoreModel } from '../scoring';
import { readCard, writeParity } from '../scoring/cards';
import { recordHold, setChampion } from './registry';

interface Served {
  modelId: string;
  modelRef: ObjectRef;
  cardRef: ObjectRef;
  kind: string;
}

/** The spec as a champion records it: a model spec, or an ensemble with its members' specs. */
export function championSpecOf(plan: PlanDocument, name: string): ChampionSpec {
  const e = plan.ensembles.find((x) => x.name === name);
  const spec = (n: string): ModelSpec => {
    const s = plan.specs.find((x) => x.name === n);
    if (!s) throw new Error(`spec ${n} is not in the plan of ${plan.runId}`);
    return { name: s.name, kind: s.kind, params: s.params };
  };
  return e ? { name: e.name, kind: 'ensemble', method: e.method, members: e.members.map(spec) } : spec(name);
}

/** Members of the spec to fit for serving (the spec itself, or an ensemble's members). */
export function servingMembers(plan: Pick<PlanDocument, 'ensembles'>, name: string): string[] {
  return plan.ensembles.find((x) => x.name === name)?.members ?? [name];
}

async function checkServingFit(store: ArtifactStore, plan: PlanDocument, fit: NonNullable<CommitServingInput['fits'][number]['result']>, intervals: IntervalCalibration | null): Promise<string | null> {
  const { card, sourceSha256 } = await readCard(store, fit.cardRef);
  const window = plan.serving.test;
  const scored = await scoreModel({ modelPath: await store.getFile(fit.modelRef), modelSha256: fit.modelRef.sha256, card, featuresPath: await store.getFile(plan.featuresRef), window });
  const parity = checkParity(scored, card, window, sourceSha256);
  await writeParity(store, fit.cardRef, card, parity, { intervals });
  return parity.passed ? null : `ONNX parity failed on the serving fit's newest rows: ${parity.reason}`;
}

export async function commitServing(store: ArtifactStore, input: CommitServingInput): Promise<CommitServingResult> {
  const { decision, champion } = input;
  const plan = await store.getJson<PlanDocument>(input.planRef);
  const metrics = await store.getJson<MetricsDocument>(input.metricsRef);
  const reasons: string[] = [];
  let serving: ServingOutcome;
  // The interval the spec serves with: calibrated on this run's out-of-sample rows of the spec (an
  // ensemble: of the combination). A metrics document from before intervals existed has none.
  const intervalsOf = (name: string): IntervalCalibration | null => metrics.models.find((m) => m.name === name)?.conformal?.serving ?? null;

  const hold = async (why: string): Promise<ServingOutcome> => {
    if (!champion) return { action: 'none', modelId: null, reasons: [why, 'no champion: nothing serves yet'], championWritten: false, trainEndTs: null };
    await recordHold(store, champion, { decidedAt: input.decidedAt, runId: input.runId, reasons: [...decision.reasons, why] });
    return { action: 'hold', modelId: champion.modelId, reasons: [why, `the previous artifact ${champion.modelId} (${champion.name}) keeps serving`], championWritten: false, trainEndTs: champion.trainEndTs ?? null };
  };

  if (!decision.spec) {
    serving = decision.outcome === 'none' && !champion
      ? { action: 'none', modelId: null, reasons: ['nothing can serve'], championWritten: false, trainEndTs: null }
      : await hold('no spec to fit for serving');
  } else {
    const members = servingMembers(plan, decision.spec);
    const problems: string[] = [];
    const fits: Record<string, Served> = {};
    for (const name of members) {
      const f = input.fits.find((x) => x.name === name);
      if (!f?.result) {
        problems.push(`the serving fit of ${name} failed: ${f?.error ?? 'it did not run'}`);
        continue;
      }
      const bad = await checkServingFit(store, plan, f.result, intervalsOf(name));
      if (bad) problems.push(`${name}: ${bad}`);
      else fits[name] = { modelId: f.result.modelId, modelRef: f.result.modelRef, cardRef: f.result.cardRef, kind: plan.specs.find((s) => s.name === name)!.kind };
    }
    if (problems.length) {
      serving = await hold(problems.join('; '));
    } else {
      const ens = plan.ensembles.find((e) => e.name === decision.spec);
      let artifact: Served;
      if (ens) {
        const weights = metrics.ensembles?.find((e) => e.name === ens.name)?.serving?.weights ?? Object.fromEntries(ens.members.map((m) => [m, 1 / ens.members.length]));
        const recorded: EnsembleMember[] = ens.members.map((m) => ({ name: m, modelId: fits[m]!.modelId, modelRef: fits[m]!.modelRef, cardRef: fits[m]!.cardRef, weight: weights[m] ?? 1 / ens.members.length }));
        const modelId = ensembleModelId(ens.method, recorded);
        const fitOn = metrics.ensembles?.find((e) => e.name === ens.name)?.serving;
        const card: EnsembleCard = {
          modelId, name: ens.name, kind: 'ensemble', method: ens.method, target: plan.target, series: plan.series, featureSetId: plan.featureSetId, fold: null,
          combine: 'variance', members: recorded, weightsFitOn: ens.method !== 'equal' && fitOn?.qlike != null ? { folds: plan.folds.map((f) => f.fold), rows: fitOn.rows, qlike: fitOn.qlike } : null,
          parity: { passed: true, reason: "every member's serving fit passed ONNX parity" },
          intervals: intervalsOf(ens.name),
        };
        const cardRef = await store.putJson(layout.model(modelId, 'card.json'), card);
        artifact = { modelId, modelRef: cardRef, cardRef, kind: 'ensemble' };
      } else {
        artifact = fits[decision.spec]!;
      }
      const action: ChampionRecord['action'] = decision.outcome === 'promote' ? 'promote' : decision.outcome === 'bootstrap' ? 'bootstrap' : 'refresh';
      if (champion && champion.modelId === artifact.modelId) {
        serving = { action: 'keep', modelId: artifact.modelId, reasons: [`${artifact.modelId} already serves (the same spec on the same rows): nothing to write`], championWritten: false, trainEndTs: plan.serving.train.endTs };
      } else {
        const loss = metrics.gate.candidates.find((c) => c.name === decision.spec)?.holdoutQlike ?? null;
        const record: ChampionRecord = {
          version: 2,
          modelId: artifact.modelId,
          name: decision.spec,
          kind: artifact.kind,
          target: plan.target,
          series: plan.series,
          spec: championSpecOf(plan, decision.spec),
          featureSetId: plan.featureSetId,
          modelRef: artifact.modelRef,
          cardRef: artifact.cardRef,
          runId: input.runId,
          decidedAt: input.decidedAt,
          action,
          reasons: [...decision.reasons, `serving fit ${artifact.modelId}: trained on rows up to ${new Date(plan.serving.train.endTs).toISOString()} (every known target), parity passed`],
          loss,
          trainEndTs: plan.serving.train.endTs,
          dataWatermark: plan.span.lastTs,
          featureUniverse: plan.featureUniverse,
          regimeThresholds: { q1: plan.serving.regime.q1, q2: plan.serving.regime.q2 },
          featureDefinitionsSha: plan.featureDefinitionsSha,
          intervals: intervalsOf(decision.spec),
        };
        const { written } = await setChampion(store, record);
        serving = { action, modelId: artifact.modelId, reasons: [`${decision.spec} ${artifact.modelId} serves (${action})`], championWritten: written, trainEndTs: plan.serving.train.endTs };
      }
    }
  }
  reasons.push(...serving.reasons);
  const final: Decision = { ...decision, reasons: [...decision.reasons, ...reasons] };
  const decisionRef = await store.putJson(layout.run(input.runId, 'decision.json'), {
    runId: input.runId,
    series: plan.series,
    target: plan.target,
    decidedAt: input.decidedAt,
    previousChampion: champion ? { modelId: champion.modelId, name: champion.name, trainEndTs: champion.trainEndTs ?? null } : null,
    decision: final,
    serving,
    gate: metrics.gate,
    gates: input.gates,
    unresolvedDataFlags: input.unresolvedDataFlags,
  });
  return { decision: final, serving, decisionRef };
}
