/**
 * scoreLatest (volcast-cpu): the champion's forecast for the newest closed bar of a series, with
 * its interval (when the model predicts uncertainty) and regime, appended to predictions/.
 * Permanent failures say what is wrong: no champion, stale data, features built by other
 * definitions than the champion's, an unscorable newest bar.
 */
import { FeatureMismatchError, FutureBarError, LateBarError, ModelInputError, NoChampionError, PermanentError, StaleDataError } from '../lib/platform/errors';
import { queryRows, sqlString, withDuck } from '../lib/platform/duckdb';
import { combineVol } from '../lib/evaluation/ensemble';
import type { EnsembleCard } from '../lib/evaluation/types';
import { forecastBounds, regimeOf } from '../lib/metrics';
import { appendPredictions, type PredictionRecord } from '../lib/scoring/predictions';
import { readChampion } from '../lib/promotion/registry';
import { readCard } from '../lib/scoring/cards';
import { inputsFromRows, runModel, scoreModel } from '../lib/scoring';
import type { ArtifactStore, ObjectRef } from '../lib/platform/store';
import type { ChampionRecord, ScoreBarInput, ScoreBarResult, ScoreLatestInput, ScoreLatestResult, Series } from '../contracts/activities';
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import { definitionsSha, FeatureInputError, seriesKey } from '../lib/features/build';
import { readTailManifests, tailFromLake, type TailFromLake } from '../lib/features/tail';
import { impliedFor } from '../lib/features/implied';
import type { VolcastConfig } from '../lib/platform/config';
import { inputsSha256 } from '../lib/scoring/lineage';
import type { ModelCard } from '../lib/scoring/modelCard';
import { LayoutError } from '../lib/platform/layout';

export type { ScoreBarInput, ScoreBarResult, ScoreLatestInput, ScoreLatestResult };
import { barMsOf, REGIME_CLASSES } from '../contracts/domain';

/** Heartbeats inside an activity; a no-op when the same code runs elsewhere. */
function beat(details: unknown): void {
  try {
    Context.current().heartbeat(details);
  } catch {
    /* not in an activity */
  }
}

const iso = (t: number) => new Date(t).toISOString();

/** The champion of a pair, if it may score features of these definitions over this universe. */
function checkChampion(champion: ChampionRecord | null, name: string, definitionsSha: string, featureUniverse: string[]): ChampionRecord {
  if (!champion) throw new NoChampionError(`no champion for ${name}: run a training first (volcast train, or the daily schedule)`);
  if (champion.featureDefinitionsSha && champion.featureDefinitionsSha !== definitionsSha) {
    throw new FeatureMismatchError(`the champion ${champion.modelId} of ${name} was trained on other feature definitions (${champion.featureDefinitionsSha.slice(0, 12)}, now ${definitionsSha.slice(0, 12)}): retrain before scoring`);
  }
  const universe = champion.featureUniverse;
  if (universe && universe.join() !== [...featureUniverse].sort().join()) {
    throw new FeatureMismatchError(`the champion ${champion.modelId} of ${name} was trained on cross-asset features over ${universe.join(', ')}; this scoring run built ${[...featureUniverse].sort().join(', ')}: score the same symbols together (config symbols) or retrain`);
  }
  return champion;
}

/** The newest bar of the data must be the one that closed last at asOf: not a future one, not a stale or late one. */
function checkNewestBar(name: string, barTs: number, timeframe: string, input: { asOf: number; expectedBarTs: number; maxDataAgeMinutes: number }): void {
  const bar = barMsOf(timeframe);
  if (barTs > input.expectedBarTs) {
    throw new FutureBarError(`the data of ${name} holds the bar ${iso(barTs)}, which had not closed at ${iso(input.asOf)} (it closes at ${iso(barTs + bar)}): check the clock of the run and of the source`);
  }
  if (barTs < input.expectedBarTs) {
    const ageMin = (input.asOf - (barTs + bar)) / 60_000;
    if (ageMin > input.maxDataAgeMinutes) {
      throw new StaleDataError(`data for ${name} is stale: the newest closed bar ${iso(barTs)} closed ${ageMin.toFixed(0)} minutes before ${iso(input.asOf)} (limit ${input.maxDataAgeMinutes}); check ingest`);
    }
    throw new LateBarError(`the bar ${iso(input.expectedBarTs)} of ${name}, closed at ${iso(input.expectedBarTs + bar)}, is not in the data at ${iso(input.asOf)} (the newest is ${iso(barTs)}): the exchange has not published it; the next run scores the next bar`);
  }
}

/** The interval bounds (the champion's calibration, lib/metrics/conformal.ts) and regime of a forecast. */
function recordOf(champion: ChampionRecord, series: Series, target: string, barTs: number, value: number, sigma: number | null, lineage: Pick<PredictionRecord, 'featureSetId' | 'inputsSha256' | 'featureDefinitionsSha'>): PredictionRecord {
  const [l80, u80] = forecastBounds(value, sigma, champion.intervals, '80') ?? [null, null];
  const [l95, u95] = forecastBounds(value, sigma, champion.intervals, '95') ?? [null, null];
  return {
    exchange: series.exchange, symbol: series.symbol, timeframe: series.timeframe, target, barTs, value,
    lower80: l80, upper80: u80, lower95: l95, upper95: u95,
    regime: champion.regimeThresholds ? REGIME_CLASSES[regimeOf(value, champion.regimeThresholds)] : null,
    modelId: champion.modelId, modelName: champion.name, dataWatermark: barTs, ...lineage,
  };
}

/** Runs `fn` over the items, at most `limit` at a time. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  }));
  return out;
}

export function scoreActivities(store: ArtifactStore, cfg?: VolcastConfig) {
  // Cards by the sha256 the champion names: what scoring reads of them (input, output) never changes
  // (evaluation only adds parity), so one parse per worker.
  const cards = new Map<string, Promise<ModelCard>>();
  const cardOf = (ref: ObjectRef): Promise<ModelCard> => {
    let hit = cards.get(ref.sha256);
    if (!hit) {
      hit = readCard(store, ref).then((c) => c.card);
      hit.catch(() => cards.delete(ref.sha256));
      cards.set(ref.sha256, hit);
      if (cards.size > 256) cards.delete(cards.keys().next().value as string);
    }
    return hit;
  };
  const ensembleOf = (ref: ObjectRef) => store.getJson<EnsembleCard>(ref);
  return {
    async scoreLatest(input: ScoreLatestInput): Promise<ScoreLatestResult> {
      const { series, target } = input;
      const name = `${series.exchange} ${series.symbol} ${series.timeframe} ${target}`;
      const champion = checkChampion(await readChampion(store, series, target), name, input.featureDefinitionsSha, input.featureUniverse);
      const featuresPath = await store.getFile(input.featuresRef);
      const [newest] = await withDuck((db) => queryRows<{ ts: bigint | null }>(db, `SELECT max(ts) AS ts FROM read_parquet(${sqlString(featuresPath)})`));
      if (newest?.ts == null) throw new StaleDataError(`no feature rows for ${name}`);
      const barTs = Number(newest.ts);
      checkNewestBar(name, barTs, series.timeframe, input);
      const window = { startTs: barTs, endTs: barTs + 1 };
      const scoreOne = async (modelRef: ObjectRef, cardRef: ObjectRef, what: string) => {
        const { card } = await readCard(store, cardRef);
        const scored = await scoreModel({ modelPath: await store.getFile(modelRef), modelSha256: modelRef.sha256, card, featuresPath, window });
        const i = scored.ts.indexOf(barTs);
        if (i < 0) throw new ModelInputError(`the newest bar ${new Date(barTs).toISOString()} of ${name} is not scorable: an input of ${what} is missing`);
        return { vol: scored.vol[i]!, sigma: scored.sigma?.[i] ?? null };
      };
      let value: number;
      let sigma: number | null = null;
      if (champion.kind === 'ensemble') {
        // A recorded combination: score each member, combine as evaluation did.
        const card = await store.getJson<EnsembleCard>(champion.cardRef);
        const vols: number[] = [];
        for (const m of card.members) vols.push((await scoreOne(m.modelRef, m.cardRef, `${champion.name} member ${m.name}`)).vol);
        value = combineVol(card.members.map((m) => m.weight), vols);
      } else {
        ({ vol: value, sigma } = await scoreOne(champion.modelRef, champion.cardRef, champion.name));
      }
      const record = recordOf(champion, series, target, barTs, value, sigma, { featureSetId: input.featureSetId });
      const appended = await appendPredictions(store, [record]);
      return { record, predictionsRef: appended.ref, written: appended.written };
    },

    async scoreBar(input: ScoreBarInput): Promise<ScoreBarResult> {
      if (!input.series.length || !input.targets.length) throw ApplicationFailure.nonRetryable('scoreBar: no series or no targets to score', 'ModelInputError');
      let lake: Awaited<ReturnType<typeof readTailManifests>>;
      try {
        lake = await readTailManifests(store, input.series);
      } catch (err) {
        if (err instanceof FeatureInputError || err instanceof LayoutError) throw ApplicationFailure.nonRetryable(err.message, err.name);
        throw err;
      }
      const { watermarks } = lake;
      const late = input.series.some((s) => (watermarks[seriesKey(s)] ?? -Infinity) < input.expectedBarTs);
      if (late && !input.scoreLate) return { watermarks, scored: false, records: [], failures: [], written: 0 };

      const definitions = definitionsSha();
      const universe = input.series.map(seriesKey);
      const pairs = input.series.flatMap((series) => input.targets.map((target) => ({ series, target, name: `${series.exchange} ${series.symbol} ${series.timeframe} ${target}` })));
      // Champions and the cards they score with first: the tail must hold the longest sequence window.
      type Member = { modelRef: ObjectRef; card: ModelCard; what: string; weight: number };
      const plans = await Promise.all(pairs.map(async (p) => {
        try {
          const champion = checkChampion(await readChampion(store, p.series, p.target), p.name, definitions, universe);
          const members: Member[] = [];
          if (champion.kind === 'ensemble') {
            // A recorded combination: score each member, combine as evaluation did.
            const card = await ensembleOf(champion.cardRef);
            for (const m of card.members) members.push({ modelRef: m.modelRef, card: await cardOf(m.cardRef), what: `${champion.name} member ${m.name}`, weight: m.weight });
          } else {
            members.push({ modelRef: champion.modelRef, card: await cardOf(champion.cardRef), what: champion.name, weight: 1 });
          }
          return { ...p, champion, members, error: null };
        } catch (err) {
          if (!(err instanceof PermanentError)) throw err;
          return { ...p, champion: null, members: [] as Member[], error: err };
        }
      }));
      const windowOf = (ms: Member[]) => Math.max(1, ...ms.map((m) => (m.card.input.kind === 'sequence' ? m.card.input.window : 1)));
      let tail: TailFromLake;
      try {
        // The implied-volatility index of the series configured with one (features.implied), as in the build.
        tail = await tailFromLake(store, lake.manifests, { rows: windowOf(plans.flatMap((p) => p.members)), implied: impliedFor(cfg?.features.implied ?? {}, input.series) });
      } catch (err) {
        if (err instanceof FeatureInputError || err instanceof LayoutError) throw ApplicationFailure.nonRetryable(err.message, err.name);
        throw err;
      }
      beat({ computed: tail.series.length });
      const rowsOf = new Map(tail.series.map((s) => [s.key, s]));

      type Outcome = { record: PredictionRecord; written: boolean } | { failure: ScoreBarResult['failures'][number] };
      const outcomes = await pool(plans, 4, async (p): Promise<Outcome> => {
        try {
          if (p.error) throw p.error;
          const champion = p.champion!;
          const rows = rowsOf.get(seriesKey(p.series))!;
          const barTs = rows.ts[rows.ts.length - 1];
          if (barTs === undefined) throw new StaleDataError(`no feature rows for ${p.name}`);
          checkNewestBar(p.name, barTs, p.series.timeframe, input);
          const window = { startTs: barTs, endTs: barTs + 1 };
          const vols: number[] = [];
          let sigma: number | null = null;
          for (const m of p.members) {
            const inputs = inputsFromRows(rows.ts, rows.values, m.card.input, window, `the feature rows of ${p.name}`);
            const scored = await runModel({ modelPath: await store.getFile(m.modelRef), modelSha256: m.modelRef.sha256, card: m.card, inputs });
            if (scored.ts[0] !== barTs) throw new ModelInputError(`the newest bar ${iso(barTs)} of ${p.name} is not scorable: an input of ${m.what} is missing`);
            vols.push(scored.vol[0]!);
            sigma = scored.sigma?.[0] ?? null;
          }
          const value = champion.kind === 'ensemble' ? combineVol(p.members.map((m) => m.weight), vols) : vols[0]!;
          if (champion.kind === 'ensemble') sigma = null;
          // The rows this pair's models read: the last `w` of the series' tail.
          const w = windowOf(p.members);
          const used = { ts: rows.ts.slice(-w), values: Object.fromEntries(Object.entries(rows.values).map(([c, v]) => [c, v.slice(-w)])) };
          const record = recordOf(champion, p.series, p.target, barTs, value, sigma, {
            featureSetId: null,
            featureDefinitionsSha: tail.definitionsSha,
            inputsSha256: inputsSha256({ definitionsSha: tail.definitionsSha, partitions: tail.partitions, ...used }),
          });
          const appended = await appendPredictions(store, [record]);
          return { record, written: appended.written };
        } catch (err) {
          // Permanent: this pair's failure, reported with the others; anything else retries the attempt (appends are idempotent).
          if (!(err instanceof PermanentError)) throw err;
          return { failure: { symbol: p.series.symbol, target: p.target, error: `${err.name}: ${err.message}` } };
        }
      });
      return {
        watermarks,
        scored: true,
        records: outcomes.flatMap((o) => ('record' in o ? [o.record] : [])),
        failures: outcomes.flatMap((o) => ('failure' in o ? [o.failure] : [])),
        written: outcomes.filter((o) => 'record' in o && o.written).length,
      };
    },
  };
}
