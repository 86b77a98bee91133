/**
 * The promotion stage's activities (volcast-cpu): the champion, the data-quality flags that block a
 * promotion, the gates' decision, and the serving commit (docs/lifecycle.md).
 */
import type { ChampionRecord, CommitServingInput, CommitServingResult, DecideInput, Decision, PlanDocument, Series } from '../contracts/types';
import { unresolvedFlags } from '../lib/candles/quality';
import type { MetricsDocument } from '../lib/evaluation/types';
import type { ArtifactStore } from '../lib/platform/store';
import { decidePromotion } from '../lib/promotion/gates';
import { readChampion } from '../lib/promotion/registry';
import { commitServing } from '../lib/promotion/serving';

export function promotionActivities(store: ArtifactStore) {
  return {
    async getChampion(input: { series: Series; target: string }): Promise<ChampionRecord | null> {
      return readChampion(store, input.series, input.target);
    },

    /** Unacknowledged quality flags of the rows a run uses ([from, to] open times). */
    async dataQualityFlags(input: { series: Series; from: number; to: number }): Promise<string[]> {
      return unresolvedFlags(store, input.series, { from: input.from, to: input.to });
    },

    async decide(input: DecideInput): Promise<Decision> {
      const [metrics, plan] = await Promise.all([store.getJson<MetricsDocument>(input.metricsRef), store.getJson<PlanDocument>(input.planRef)]);
      return decidePromotion({ gate: metrics.gate, champion: input.champion, incumbentUnknown: plan.incumbentUnknown ?? null, unresolvedDataFlags: input.unresolvedDataFlags });
    },

    async commitServing(input: CommitServingInput): Promise<CommitServingResult> {
      return commitServing(store, input);
    },
  };
}
