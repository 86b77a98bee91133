/**
 * scoreLatest (volcast-cpu): the champion's forecast for the newest closed bar of a series, with
 * its interval (when the model predicts uncertainty) and regime, appended to predictions/.
 * Permanent failures say what is wrong: no champion, stale data, features built by other
 * definitions than the champion's, an unscorable newest bar.
 */
import { FeatureMismatchError, ModelInputError, NoChampionError, StaleDataError } from '../lib/platform/errors';
import { queryRows, sqlString, withDuck } from '../lib/platform/duckdb';
import { combineVol } from '../lib/evaluation/ensemble';
import type { EnsembleCard } from '../lib/evaluation/types';
import { INTERVAL_Z, intervalBounds, regimeOf } from '../lib/metrics';
import { appendPredictions, type PredictionRecord } from '../lib/scoring/predictions';
import { readChampion } from '../lib/promotion/registry';
import { readCard } from '../lib/scoring/cards';
import { scoreModel } from '../lib/scoring';
import type { Series } from '../lib/platform/layout';
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
      const featuresPath = await store.getFile(input.featuresRef);
      const [newest] = await withDuck((db) => queryRows<{ ts: bigint | null }>(db, `SELECT max(ts) AS ts FROM read_parquet(${sqlString(featuresPath)})`));
      if (newest?.ts == null) throw new StaleDataError(`no feature rows for ${name}`);
      const barTs = Number(newest.ts);
      const closedAt = barTs + barMsOf(series.timeframe);
      const ageMin = (input.asOf - closedAt) / 60_000;
      if (ageMin > input.maxDataAgeMinutes) {
        throw new StaleDataError(`data for ${name} is stale: the newest closed bar ${new Date(barTs).toISOString()} closed ${ageMin.toFixed(0)} minutes before ${new Date(input.asOf).toISOString()} (limit ${input.maxDataAgeMinutes}); check ingest`);
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
