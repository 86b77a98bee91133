/**
 * Promotion by hand (`volcast models promote`): a stored model (or recorded ensemble) becomes the
 * champion of a series and target, after the same checks the loop applies to what it serves: the
 * card is of that series and target, was built on the current feature definitions, and passed ONNX
 * parity (every member, for an ensemble).
 */
import type { ChampionRecord, ChampionSpec, IntervalCalibration, ObjectRef, Series } from '../../contracts/types';
import type { EnsembleCard } from '../evaluation/types';
import { RegistryError } from '../platform/errors';
import { layout } from '../platform/layout';
import type { ArtifactStore } from '../platform/store';
import { setChampion } from './registry';

interface StoredCard {
  modelId: string;
  name: string;
  kind: string;
  target: string;
  series?: Series;
  featureSetId: string;
  featureDefinitionsSha?: string;
  featureUniverse?: string[];
  params?: Record<string, unknown>;
  /** The spec as the run named it (cards written since specs are recorded). */
  spec?: { name: string; kind: string; params: Record<string, unknown> };
  train?: { startTs: number; endTs: number };
  regime?: { q1: number; q2: number } | null;
  parity?: { passed: boolean } | null;
  /** A serving fit's interval calibration (a fold's card has none: its forecasts then come without one). */
  intervals?: IntervalCalibration | null;
}

function sameSeries(a: Series, b: Series): boolean {
  return a.exchange === b.exchange && a.symbol === b.symbol && a.timeframe === b.timeframe;
}

async function cardOf(store: ArtifactStore, modelId: string): Promise<{ card: StoredCard; cardRef: ObjectRef }> {
  const cardRef = await store.head(layout.model(modelId, 'card.json'));
  if (!cardRef) throw new RegistryError(`no model ${modelId} in s3://${store.bucket}/models/`);
  return { card: await store.getJson<StoredCard>(cardRef), cardRef };
}

/** Throws a RegistryError naming what does not fit; returns the champion record to write. */
export async function manualRecord(
  store: ArtifactStore,
  args: { modelId: string; series: Series; target: string; definitionsSha: string; reason: string; decidedAt: string },
): Promise<ChampionRecord> {
  const { card, cardRef } = await cardOf(store, args.modelId);
  const where = `model ${args.modelId} (${card.name})`;
  const check = (c: StoredCard, what: string) => {
    if (c.target !== args.target) throw new RegistryError(`${what} predicts ${c.target}, not ${args.target}`);
    if (!c.series) throw new RegistryError(`${what} has no series in its card (fitted before cards recorded it): refit it with volcast train`);
    if (!sameSeries(c.series, args.series)) throw new RegistryError(`${what} was fitted for ${c.series.exchange} ${c.series.symbol} ${c.series.timeframe}, not ${args.series.exchange} ${args.series.symbol} ${args.series.timeframe}`);
  };
  check(card, where);
  let spec: ChampionSpec;
  let modelRef: ObjectRef;
  let definitionsSha = card.featureDefinitionsSha;
  let universe = card.featureUniverse;
  let regime = card.regime ?? null;
  let trainEnd = card.train?.endTs ?? null;
  if (card.kind === 'ensemble') {
    const e = card as unknown as EnsembleCard;
    const members = [];
    for (const m of e.members) {
      const { card: mc } = await cardOf(store, m.modelId);
      check(mc, `member ${m.name} (${m.modelId}) of ${where}`);
      if (!mc.parity?.passed) throw new RegistryError(`member ${m.name} (${m.modelId}) of ${where} has not passed ONNX parity: it cannot be promoted`);
      members.push(mc.spec ?? { name: m.name, kind: mc.kind, params: mc.params ?? {} });
      definitionsSha = mc.featureDefinitionsSha;
      universe = mc.featureUniverse;
      regime ??= mc.regime ?? null;
      trainEnd = Math.min(trainEnd ?? Number.POSITIVE_INFINITY, mc.train?.endTs ?? Number.POSITIVE_INFINITY);
    }
    spec = { name: e.name, kind: 'ensemble', method: e.method, members };
    modelRef = cardRef;
  } else {
    if (!card.parity?.passed) throw new RegistryError(`${where} has not passed ONNX parity (${card.parity ? 'failed' : 'never checked'}): it cannot be promoted`);
    const onnx = await store.head(layout.model(args.modelId, 'model.onnx'));
    if (!onnx) throw new RegistryError(`${where} has no model.onnx`);
    modelRef = onnx;
    spec = card.spec ?? { name: card.name, kind: card.kind, params: card.params ?? {} };
  }
  if (definitionsSha !== args.definitionsSha) {
    throw new RegistryError(`${where} was built on other feature definitions (${(definitionsSha ?? 'unrecorded').slice(0, 12)}, now ${args.definitionsSha.slice(0, 12)}): retrain instead`);
  }
  return {
    version: 2,
    modelId: args.modelId,
    name: card.name,
    kind: card.kind,
    target: args.target,
    series: args.series,
    spec,
    featureSetId: card.featureSetId,
    modelRef,
    cardRef,
    runId: null,
    decidedAt: args.decidedAt,
    action: 'manual',
    reasons: [args.reason],
    loss: null,
    trainEndTs: Number.isFinite(trainEnd ?? Number.NaN) ? trainEnd : null,
    dataWatermark: null,
    featureUniverse: universe ?? null,
    regimeThresholds: regime ? { q1: regime.q1, q2: regime.q2 } : null,
    featureDefinitionsSha: definitionsSha ?? null,
    intervals: card.intervals ?? null,
  };
}

export async function promoteByHand(store: ArtifactStore, args: Parameters<typeof manualRecord>[1]): Promise<ChampionRecord> {
  const record = await manualRecord(store, args);
  await setChampion(store, record);
  return record;
}
