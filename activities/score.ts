/**
 * scoreLatest (volcast-cpu): the champion's forecast for the newest closed bar of a series, with
 * its interval (when the model predicts uncertainty) and regime, appended to predictions/.
 * Permanent failures say what is wrong: no champion, stale data, features built by other
 * definitions than the champion's, an unscorable newest bar.
 */
import { FeatureMismatchError, FutureBarError, LateBarError, ModelInputError, NoChampionError, StaleDataError } from '../lib/platform/errors';
import { queryRows, sqlString, withDuck } from '../lib/platform/duckdb';
import { combineVol } from '../lib/evaluation/ensemble';
import type { EnsembleCard } from '../lib/evaluation/types';
import { INTERVAL_Z, intervalBounds, regimeOf } from '../lib/metrics';
import { appendPredictions, type PredictionRecord } from '../lib/scoring/predictions';
import { readChampion } from '../lib/promotion/registry';
import { readCard } from '../lib/scoring/cards';
import { scoreModel } from '../lib/scoring';
import type { ArtifactStore, ObjectRef } from '../lib/platform/store';
import type { ScoreLatestInput, ScoreLatestResult } from '../contracts/activities';

export type { ScoreLatestInput, ScoreLatestResult };
import { barMsOf, REGIME_CLASSES } from '../contracts/domain';

export function scoreActivities(store: ArtifactStore) {
  return {
    async scoreLatest(input: ScoreLatestInput): Promise<ScoreLatestResult> {
      const { series, target } = input;
      const name = `${series.exchange} ${series.symbol} ${series.timeframe} ${target}`;
      const champion = await readChampion(store, series, target);
      if (!champion) throw new NoChampionError(`no champion for ${name}: run a training first (volcast train, or the daily schedule)`);
      if (champion.featureDefinitionsSha && champion.featureDefinitionsSha !== input.featureDefinitionsSha) {
        throw new FeatureMismatchError(`the champion ${champion.modelId} of ${name} was trained on other feature definitions (${champion.featureDefinitionsSha.slice(0, 12)}, now ${input.featureDefinitionsSha.slice(0, 12)}): retrain before scoring`);
      }
      const universe = champion.featureUniverse;
      if (universe && universe.join() !== [...input.featureUniverse].sort().join()) {
        throw new FeatureMismatchError(`the champion ${champion.modelId} of ${name} was trained on cross-asset features over ${universe.join(', ')}; this scoring run built ${[...input.featureUniverse].sort().join(', ')}: score the same symbols together (config symbols) or retrain`);
      }
      const featuresPath = await store.getFile(input.featuresRef);
      const [newest] = await withDuck((db) => queryRows<{ ts: bigint | null }>(db, `SELECT max(ts) AS ts FROM read_parquet(${sqlString(featuresPath)})`));
      if (newest?.ts == null) throw new StaleDataError(`no feature rows for ${name}`);
      const barTs = Number(newest.ts);
      const iso = (t: number) => new Date(t).toISOString();
      const bar = barMsOf(series.timeframe);
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
      const [l80, u80] = sigma != null ? intervalBounds(value, sigma, INTERVAL_Z['80']) : [null, null];
      const [l95, u95] = sigma != null ? intervalBounds(value, sigma, INTERVAL_Z['95']) : [null, null];
      const record: PredictionRecord = {
        exchange: series.exchange,
        symbol: series.symbol,
        timeframe: series.timeframe,
        target,
        barTs,
        value,
        lower80: l80,
        upper80: u80,
        lower95: l95,
        upper95: u95,
        regime: champion.regimeThresholds ? REGIME_CLASSES[regimeOf(value, champion.regimeThresholds)] : null,
        modelId: champion.modelId,
        modelName: champion.name,
        featureSetId: input.featureSetId,
        dataWatermark: barTs,
      };
      const appended = await appendPredictions(store, [record]);
      return { record, predictionsRef: appended.ref, written: appended.written };
    },
  };
}
