/**
 * The train workflow's logic with stubbed activities: failed fits are recorded and passed to
 * evaluation (never silently dropped), the serving fit follows the gates' verdict (each member of
 * an ensemble), its failure reaches the commit, and promote: false stops after evaluation.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import type { BuildFeaturesResult, ChampionRecord, CommitServingInput, Decision, EvaluateRequest, FitRequest, FitResult, PromotionGates, ResolvedProtocol, TrainingPlan, TrainInput, TrainSeriesInput } from '../../contracts/types';
import { volcastConfig } from '../../temporal.config';
import { train, trainSeries } from '../../workflows';
import { trainResultOf } from '../../cli/pipeline';
import { useStubStack } from './env';

const ref = (key: string) => ({ bucket: 'volcast', key, sha256: 'x'.repeat(64) });
const series = { exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h' };
const gates: PromotionGates = { ...volcastConfig.promotion };
const protocol = { name: 't', description: 't', targets: ['target_gk_1h'], lookbackBars: null, walkForward: { firstTrainBars: 10, testBars: 5, stepBars: 5, window: 'rolling', embargoBars: 0, folds: 3 }, models: [], ensembles: [], seed: 1 } as ResolvedProtocol;
const plan: TrainingPlan = {
  runId: 'r',
  planRef: ref('runs/r/plan.json'),
  specs: [{ name: 'har_x', kind: 'har_x', activity: 'fitModel' }, { name: 'lgbm', kind: 'lightgbm', activity: 'fitModel' }, { name: 'lstm', kind: 'lstm', activity: 'fitNeuralModel' }],
  folds: [{ fold: 0, holdout: false }, { fold: 1, holdout: false }, { fold: 2, holdout: true }],
  ensembles: [{ name: 'ens', method: 'equal', members: ['har_x', 'lstm'] }],
  incumbent: 'har_x',
  span: { firstTs: 0, lastTs: 100 },
};
const champion = { modelId: 'm-old', name: 'har_x', kind: 'har_x', modelRef: ref('models/m-old/model.onnx'), cardRef: ref('models/m-old/card.json'), trainEndTs: 50 } as ChampionRecord;
const fitResult = (r: FitRequest): FitResult => ({ modelId: `m-${r.name}-${r.fold}`, modelRef: ref(`models/m-${r.name}-${r.fold}/model.onnx`), cardRef: ref(`models/m-${r.name}-${r.fold}/card.json`), reused: false, trainRows: 10, testRows: 5, wallSeconds: 1 });
const input = (extra: Partial<TrainSeriesInput> = {}): TrainSeriesInput => ({
  runId: 'r', series, target: 'target_gk_1h', featuresRef: ref('features/f.parquet'), featureSetId: 'fs', featureDefinitionsSha: 'd', featureUniverse: ['binance:BTC-USDT:1h'],
  protocol, gates, promote: true, fitConcurrency: 2, ...extra,
});

describe('train workflow logic (stubbed activities, real dev server)', () => {
  const suite = useStubStack();
  const run = (i: TrainSeriesInput) => suite.execute(trainSeries, i, 't');
  const called = (name: string) => suite.called(name);

  it('a fold whose fit fails is recorded and passed to evaluation; the serving fit follows the verdict and its failure reaches the commit', async () => {
    let decision: Decision = { outcome: 'keep', spec: 'lgbm', challenger: null, incumbent: 'har_x', bestBaseline: 'har_x', reasons: [] };
    suite.stack.stubs = {
      getChampion: async () => champion,
      planTraining: async () => plan,
      fitModel: async (r) => {
        const req = r as FitRequest;
        if (req.name === 'lgbm' && req.fold === 1) throw ApplicationFailure.nonRetryable('too few training rows for lightgbm', 'FitError');
        if (req.name === 'lgbm' && req.fold === null) throw ApplicationFailure.nonRetryable('the serving window has no rows', 'FitError');
        return fitResult(req);
      },
      fitNeuralModel: async (r) => fitResult(r as FitRequest),
      evaluate: async () => ({ runId: 'r', oosRef: ref('o'), metricsRef: ref('runs/r/metrics.json'), reportRef: ref('runs/r/report/index.html'), leaderboard: [], bestBaseline: null, gate: {} as never }),
      dataQualityFlags: async () => [],
      decide: async () => decision,
      commitServing: async (i) => ({ decision: (i as CommitServingInput).decision, serving: { action: 'hold', modelId: 'm-old', reasons: ['held'], championWritten: false, trainEndTs: 50 }, decisionRef: ref('d') }),
    };
    const r = await run(input());
    // Every fold fit was attempted (3 specs × 3 folds), by reference to the plan.
    const foldFits = [...called('fitModel'), ...called('fitNeuralModel')].filter((f) => (f as FitRequest).fold !== null) as FitRequest[];
    assert.equal(foldFits.length, 9);
    assert.ok(foldFits.every((f) => f.plan.key === 'runs/r/plan.json'));
    assert.deepEqual(new Set(foldFits.map((f) => f.index)), new Set([0, 1, 2, 3, 4, 5, 6, 7, 8]));
    // The failure reaches evaluation with its fold; the served artifact is the champion's.
    const ev = called('evaluate')[0] as EvaluateRequest;
    assert.equal(ev.failures.length, 1);
    assert.deepEqual([ev.failures[0]!.name, ev.failures[0]!.fold], ['lgbm', 1]);
    assert.match(ev.failures[0]!.error, /too few training rows for lightgbm/);
    assert.equal(ev.served!.modelId, 'm-old');
    // The serving fit of the verdict's spec (index = folds × specs + its position), its failure passed on.
    const serving = called('fitModel').filter((f) => (f as FitRequest).fold === null) as FitRequest[];
    assert.deepEqual(serving.map((f) => [f.name, f.index]), [['lgbm', 10]]);
    const commit = called('commitServing')[0] as CommitServingInput;
    assert.equal(commit.fits.length, 1);
    assert.equal(commit.fits[0]!.result, null);
    assert.match(commit.fits[0]!.error!, /the serving window has no rows/);
    assert.equal(commit.champion!.modelId, 'm-old');
    assert.equal(r.serving!.action, 'hold');
    assert.equal(r.failureCount, 2);
    assert.equal(r.folds, 3);

    // An ensemble verdict: one serving fit per member, on each member's queue.
    suite.stack.calls.length = 0;
    decision = { ...decision, outcome: 'promote', spec: 'ens' };
    await run(input());
    assert.deepEqual(called('fitModel').filter((f) => (f as FitRequest).fold === null).map((f) => (f as FitRequest).name), ['har_x']);
    assert.deepEqual(called('fitNeuralModel').filter((f) => (f as FitRequest).fold === null).map((f) => (f as FitRequest).name), ['lstm']);
    const commit2 = called('commitServing')[0] as CommitServingInput;
    assert.deepEqual(commit2.fits.map((f) => [f.name, f.result?.modelId]), [['har_x', 'm-har_x-null'], ['lstm', 'm-lstm-null']]);
  });

  it('promote: false evaluates and stops: no champion read, no decision, no serving fit', async () => {
    suite.stack.stubs = {
      planTraining: async () => ({ ...plan, incumbent: null }),
      fitModel: async (r) => fitResult(r as FitRequest),
      fitNeuralModel: async (r) => fitResult(r as FitRequest),
      evaluate: async () => ({ runId: 'r', oosRef: ref('o'), metricsRef: ref('m'), reportRef: ref('rep'), leaderboard: [], bestBaseline: null, gate: {} as never }),
    };
    const r = await run(input({ promote: false }));
    assert.equal(r.decision, null);
    assert.deepEqual(suite.stack.calls.map((c) => c.name).filter((n) => !n.startsWith('fit')), ['planTraining', 'evaluate']);
    assert.equal((called('evaluate')[0] as EvaluateRequest).served, null);
  });

  it('fails clearly, naming the fits, when every fit failed', async () => {
    suite.stack.stubs = {
      getChampion: async () => null,
      planTraining: async () => plan,
      fitModel: async () => {
        throw ApplicationFailure.nonRetryable('no feature rows in its training window', 'TrainingInputError');
      },
      fitNeuralModel: async () => {
        throw ApplicationFailure.nonRetryable('no feature rows in its training window', 'TrainingInputError');
      },
    };
    const err = await run(input()).then(() => assert.fail('expected a failure'), (e: unknown) => e);
    assert.ok(err instanceof WorkflowFailedError);
    // The fits finish in any order (two at a time): the message names them with their folds and errors.
    assert.match(String(err.cause?.message), /^every fit failed for BTC\/USDT target_gk_1h: (\w+#\d: ApplicationFailure: no feature rows in its training window(; )?)+$/);
    assert.equal(called('evaluate').length, 0);
  });
  it('one series × target that fails does not stop the others: the run fails with TrainFailed carrying the finished leaderboards', async () => {
    const eth = { ...series, symbol: 'ETH/USDT' };
    const features: BuildFeaturesResult = {
      ref: ref('features/fs/_manifest.json'), featureSetId: 'fs', rows: 10, columns: [], definitionsSha: 'd', mode: 'full', recomputedRows: 10,
      watermark: { 'binance:BTC-USDT:1h': 100, 'binance:ETH-USDT:1h': 100 },
      series: [{ series, ref: ref('features/fs/btc.parquet') }, { series: eth, ref: ref('features/fs/eth.parquet') }] as BuildFeaturesResult['series'],
    };
    suite.stack.stubs = {
      buildFeatures: async () => features,
      planTraining: async () => ({ ...plan, incumbent: null }),
      fitModel: async (r) => {
        const req = r as FitRequest;
        // Every ETH fit fails (its child fails); BTC's fits succeed. The plan key names the series.
        if (req.plan.key.includes('ETH')) throw ApplicationFailure.nonRetryable('no feature rows in its training window', 'TrainingInputError');
        return fitResult(req);
      },
      fitNeuralModel: async (r) => {
        const req = r as FitRequest;
        if (req.plan.key.includes('ETH')) throw ApplicationFailure.nonRetryable('no feature rows in its training window', 'TrainingInputError');
        return fitResult(req);
      },
      evaluate: async () => ({ runId: 'r', oosRef: ref('o'), metricsRef: ref('m'), reportRef: ref('rep'), leaderboard: [], bestBaseline: null, gate: {} as never }),
    };
    // The plan's key carries the series so the stubs can tell the children apart.
    suite.stack.stubs.planTraining = async (i) => ({ ...plan, incumbent: null, planRef: ref(`runs/${(i as { series: { symbol: string } }).series.symbol}/plan.json`) });
    const trainIn: TrainInput = { exchange: 'binance', symbols: ['BTC/USDT', 'ETH/USDT'], timeframe: '1h', protocol, gates, ingest: false, promote: false, fitConcurrency: 2 };
    const err = await suite.execute(train, trainIn, 'train-partial').then(() => assert.fail('expected TrainFailed'), (e: unknown) => e);
    assert.ok(err instanceof WorkflowFailedError);
    assert.match(String(err.cause?.message), /training failed for 1 of 2 series × target: ETH\/USDT target_gk_1h: .*every fit failed/);
    const r = trainResultOf(err);
    assert.ok(r, 'the failure carries the TrainResult');
    assert.deepEqual(r.results.map((x) => x.series.symbol), ['BTC/USDT']);
    assert.deepEqual(r.failures.map((f) => [f.symbol, f.target]), [['ETH/USDT', 'target_gk_1h']]);
    // BTC's child ran to its end: evaluated once.
    assert.equal(called('evaluate').length, 1);
  });
});
