/**
 * The train workflow's own CPU activities: plan the walk-forward (folds, modelIds, fit inputs),
 * look up the champion, and decide promotion. Every decision is written with its reasons.
 */
import type { FitInput } from '../contracts/activities';
import { TrainingInputError } from '../lib/platform/errors';
import { queryRows, sqlString, withDuck } from '../lib/platform/duckdb';
import type { EvaluateResult } from '../lib/evaluation';
import { FEATURE_COLUMNS } from '../lib/features/definitions';
import { fitRegimeThresholds } from '../lib/features/regime';
import { readManifest } from '../lib/candles/lake';
import { layout, type Series } from '../lib/platform/layout';
import { decidePromotion, type Decision } from '../lib/promotion/gates';
import type { ResolvedProtocol } from '../lib/training/protocols';
import { readChampion, setChampion, type ChampionRecord } from '../lib/promotion/registry';
import { trainerVersion } from '../lib/training/trainerVersion';
import type { ArtifactStore, ObjectRef } from '../lib/platform/store';
import { barMsOf, fitActivityFor, horizonBarsOf, isTargetName } from '../contracts/domain';
import { modelIdFor, planFolds, planTrailingFolds, type Fold } from '../lib/training/walkForward';
import type { VolcastConfig } from '../lib/platform/config';
import type { PlanTrainingInput, PlannedFit, TrainingPlan, PromoteInput, PromoteResult } from '../contracts/types';
export type { PlanTrainingInput, PlannedFit, TrainingPlan, PromoteInput, PromoteResult };

/** Raw levels and bookkeeping columns: not model inputs (non-stationary or identifiers). */
const NOT_INPUTS = new Set(['prev_close', 'prev_ts']);
/** A column missing on more than this share of the planned rows is left out of the model inputs. */
const MAX_NULL_SHARE = 0.01;

function permanent(message: string): never {
  throw new TrainingInputError(message);
}

export function trainingActivities(store: ArtifactStore, cfg: VolcastConfig) {
  return {
    async planTraining(input: PlanTrainingInput): Promise<TrainingPlan> {
      const file = await store.getFile(input.featuresRef);
      const barMs = barMsOf(input.series.timeframe);
      return withDuck(async (db) => {
        const src = `read_parquet(${sqlString(file)})`;
        const [span] = await queryRows<{ first: bigint | null; last: bigint | null }>(db, `SELECT min(ts) AS first, max(ts) AS last FROM ${src}`);
        if (span?.first == null || span.last == null) permanent(`feature set ${input.featuresRef.key} has no rows`);
        const lastTs = Number(span.last);
        const lb = input.protocol.lookbackBars;
        // The lookback counts back from the last bar whose target is known (protocol (a): the last
        // 180 days are 170 of training and the 10 test days that end there).
        if (!isTargetName(input.target)) permanent(`unknown target ${input.target}`);
        const h = horizonBarsOf(input.target);
        const lastKnownEnd = lastTs - (h - 1) * barMs;
        const firstTs = lb ? Math.max(Number(span.first), lastKnownEnd - lb * barMs) : Number(span.first);
        const wf = input.protocol.walkForward;
        let folds: Fold[];
        try {
          const opts = { firstTs, lastTs, barMs, target: input.target };
          folds = wf.folds ? planTrailingFolds({ ...wf, folds: wf.folds }, opts) : planFolds(wf, opts);
        } catch (err) {
          permanent(`${input.series.symbol} ${input.target}: ${(err as Error).message}`);
        }
        const from = folds[0]!.train.startTs;
        const to = folds.at(-1)!.test.endTs;

        // Inputs: every feature column present on (nearly) all planned rows.
        const described = await queryRows<{ column_name: string }>(db, `SELECT column_name FROM (DESCRIBE SELECT * FROM ${src})`);
        const present = new Set(described.map((d) => d.column_name));
        if (!present.has(input.target)) permanent(`feature set has no target column ${input.target}`);
        const candidates = FEATURE_COLUMNS.filter((c) => present.has(c) && !NOT_INPUTS.has(c));
        const counts = await queryRows<Record<string, bigint>>(
          db,
          `SELECT count(*) AS n, ${candidates.map((c, i) => `count("${c}") AS c${i}`).join(', ')} FROM ${src} WHERE ts >= ${from} AND ts < ${to}`,
        );
        const n = Number(counts[0]!.n);
        const featureColumns = candidates.filter((_, i) => Number(counts[0]![`c${i}`]) >= n * (1 - MAX_NULL_SHARE));
        const droppedColumns = candidates.filter((c) => !featureColumns.includes(c));

        // Regime thresholds from the latest fold's training window only.
        const last = folds.at(-1)!;
        const rows = await queryRows<{ ts: bigint; y: number | null }>(db, `SELECT ts, "${input.target}" AS y FROM ${src} WHERE ts >= ${last.train.startTs} AND ts < ${last.train.endTs}`);
        const regime = fitRegimeThresholds(rows.map((r) => r.y), rows.map(() => true));

        const fits: PlannedFit[] = [];
        for (const fold of folds) {
          for (const model of input.protocol.models) {
            const modelId = modelIdFor({ model: { kind: model.kind, params: model.params }, featureSetId: input.featureSetId, series: input.series, target: input.target, train: fold.train, seed: input.protocol.seed, trainerVersion: trainerVersion() });
            fits.push({
              name: model.name,
              kind: model.kind,
              fold: fold.fold,
              activity: fitActivityFor(model.kind),
              input: {
                modelId,
                model: { name: model.name, kind: model.kind as FitInput['model']['kind'], params: model.params },
                target: input.target as FitInput['target'],
                features: input.featuresRef,
                featureSetId: input.featureSetId,
                featureColumns,
                train: fold.train,
                test: fold.test,
                seed: input.protocol.seed,
                keys: { model: layout.model(modelId, 'model.onnx'), card: layout.model(modelId, 'card.json') },
              },
            });
          }
        }
        const plan = { runId: input.runId, series: input.series, target: input.target, protocol: input.protocol, folds, featureColumns, droppedColumns, regimeThresholds: { q1: regime.q1, q2: regime.q2 }, span: { firstTs, lastTs }, fits: fits.map((f) => ({ name: f.name, fold: f.fold, modelId: f.input.modelId })) };
        const planRef = await store.putJson(layout.run(input.runId, 'plan.json'), plan);
        return { runId: input.runId, folds, fits, featureColumns, droppedColumns, regimeThresholds: plan.regimeThresholds, span: plan.span, planRef };
      });
    },

    async getChampion(input: { series: Series; target: string }): Promise<ChampionRecord | null> {
      return readChampion(store, input.series, input.target);
    },

    /** Data-quality flags that block promotion: rows the candle validation rejected. */
    async dataQualityFlags(input: { series: Series }): Promise<string[]> {
      const { manifest } = await readManifest(store, input.series);
      const rejected = Object.entries(manifest.rejected).filter(([, n]) => (n ?? 0) > 0);
      return rejected.length ? [`candle validation rejected rows (${rejected.map(([r, n]) => `${r}: ${n}`).join(', ')}); see ${layout.candlesManifest(input.series)}`] : [];
    },

    async promote(input: PromoteInput & { unresolvedDataFlags: string[] }): Promise<PromoteResult> {
      const lb = input.evaluation.leaderboard.filter((r) => r.role !== 'champion');
      const contenders = lb
        .filter((r) => input.latest[r.model])
        .map((r) => ({
          name: r.model,
          kind: r.kind,
          modelId: input.latest[r.model]!.modelId,
          loss: r.qlike,
          parityPassed: r.parityPassed,
          dmPValueVsBestBaseline: r.dmVsBestBaseline?.pValue ?? null,
          dmPValueVsChampion: r.dmVsChampion?.pValue ?? null,
        }));
      const champ = input.champion;
      const champRow = champ ? lb.find((r) => r.model === champ.name) : undefined;
      const decision = decidePromotion({
        contenders,
        champion: champ ? { modelId: champ.modelId, name: champ.name, loss: champRow ? champRow.qlike : null } : null,
        unresolvedDataFlags: input.unresolvedDataFlags,
        gates: { minImprovement: input.gates.minImprovement, dmPValue: input.gates.dmPValue },
        bestBaseline: input.evaluation.bestBaseline?.model ?? null,
      });
      let championWritten = false;
      if (decision.promote && decision.candidate) {
        const chosen = input.latest[decision.candidate]!;
        const row = lb.find((r) => r.model === decision.candidate)!;
        // The card as rewritten by evaluation (with its parity result), for the latest fold.
        const card = input.evaluation.parity.filter((p) => p.name === decision.candidate).sort((a, b) => b.fold - a.fold)[0];
        if (champ?.modelId === chosen.modelId) {
          decision.reasons.push(`${decision.candidate} (${chosen.modelId}) is already the champion: nothing to write`);
        } else {
          const record: ChampionRecord = {
            modelId: chosen.modelId,
            name: decision.candidate,
            kind: chosen.kind,
            target: input.target,
            series: input.series,
            featureSetId: input.featureSetId,
            modelRef: chosen.modelRef,
            cardRef: card?.cardRef ?? chosen.cardRef,
            runId: input.runId,
            decidedAt: input.decidedAt,
            action: decision.bootstrap ? 'bootstrap' : 'promote',
            reasons: decision.reasons,
            loss: row.qlike,
            regimeThresholds: input.regimeThresholds,
            featureDefinitionsSha: input.featureDefinitionsSha,
          };
          championWritten = (await setChampion(store, record)).written;
        }
      }
      const decisionRef = await store.putJson(layout.run(input.runId, 'decision.json'), {
        runId: input.runId,
        series: input.series,
        target: input.target,
        decidedAt: input.decidedAt,
        previousChampion: champ ? { modelId: champ.modelId, name: champ.name } : null,
        decision,
        failures: input.failures,
        unresolvedDataFlags: input.unresolvedDataFlags,
        gates: input.gates,
      });
      return { decision, decisionRef, championWritten };
    },
  };
}
