/**
 * The whole DAG on the real stack: replay exchange (real candles) → backfill → train (walk-forward
 * fits on both trainer queues, evaluate, decide, serving fit, commit) → score, with both workers as
 * real processes, and the champion lifecycle of docs/lifecycle.md across consecutive trains.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { ChampionRecord, CommitServingInput, Decision, PlanDocument, ScoreResult } from '../contracts/types';
import { startReplayExchange, type ReplayExchange } from '../infra/replayExchange';
import type { EnsembleCard, MetricsDocument } from '../lib/evaluation/types';
import { definitionsSha } from '../lib/features/build';
import { scoreInput as scoreInputOf, trainInput as trainInputOf } from '../lib/orchestration/inputs';
import type { VolcastConfig } from '../lib/platform/config';
import { layout } from '../lib/platform/layout';
import { ArtifactStore } from '../lib/platform/store';
import { connectClient } from '../lib/platform/temporal';
import { promoteByHand } from '../lib/promotion/manual';
import { championHistory, readChampion } from '../lib/promotion/registry';
import { commitServing } from '../lib/promotion/serving';
import { scoreModel } from '../lib/scoring';
import { readCard } from '../lib/scoring/cards';
import { forecastBounds } from '../lib/metrics/conformal';
import { tailPredictions } from '../lib/scoring/predictions';
import type { ResolvedProtocol } from '../lib/training/protocols';
import { startWorker, stopWorker, type LocalWorker } from '../workers/local';
import { backfill, score, train, type TrainInput, type TrainResult } from '../workflows';
import { testConfig, uid } from './helpers';

const DAY = 86_400_000;
const HOUR = 3_600_000;
// A symbol no other suite ingests: this suite's lake, registry and predictions are its own.
const SYMBOL = 'LINK/USDT';

// Two 3-day validation folds and a 3-day holdout, each trained on the 60 days before it.
const protocol: ResolvedProtocol = {
  name: 'test',
  description: 'two 3-day validation folds and a 3-day holdout after 60 days of training',
  targets: ['target_gk_1h', 'target_rv_24h'],
  lookbackBars: null,
  walkForward: { firstTrainBars: 60 * 24, testBars: 72, stepBars: 72, window: 'rolling', embargoBars: 0, folds: 3 },
  models: [
    { name: 'persistence', kind: 'persistence', params: {} },
    { name: 'har_x', kind: 'har_x', params: {} },
    { name: 'garch', kind: 'garch', params: {} },
    { name: 'lightgbm', kind: 'lightgbm', params: { num_boost_round: 60 } },
    { name: 'lstm', kind: 'lstm', params: { window: 12, hidden: 4, epochs: 2, columns: ['ret_1', 'gk_var_1', 'rv_d', 'rv_w', 'hour_sin', 'hour_cos'] } },
  ],
  ensembles: [{ name: 'ens_equal', method: 'equal', members: ['har_x', 'lightgbm'] }],
  seed: 7,
};

describe('the whole DAG and the champion lifecycle (replay exchange, real workers, real stack)', () => {
  let cfg: VolcastConfig;
  let client: Client;
  let store: ArtifactStore;
  let replay: ReplayExchange;
  let exchange: string;
  let end: number; // the replay's clock at the end of the data
  const workers: LocalWorker[] = [];
  let trained: TrainResult;
  const series = () => ({ exchange, symbol: SYMBOL, timeframe: '1h' });

  before(async () => {
    replay = await startReplayExchange({ port: 0, symbols: [SYMBOL] });
    end = replay.now();
    // Start a day before the data ends, so that a later train sees one more day.
    replay.setNow(end - DAY);
    const base = testConfig();
    exchange = 'binance';
    cfg = { ...base, exchanges: [{ id: exchange, urlOverride: replay.url }] };
    store = new ArtifactStore(cfg);
    const env = { VOLCAST_EXCHANGE_URL: replay.url };
    workers.push(await startWorker(cfg, 'cpu', { env }), await startWorker(cfg, 'train', { gpuOnCpu: true, env }));
    client = await connectClient(cfg);
    const bf = await client.workflow.execute(backfill, {
      taskQueue: cfg.taskQueues.cpu,
      workflowId: uid('pipe-backfill'),
      args: [{ symbols: [SYMBOL], timeframe: '1h', from: end - 110 * DAY, now: replay.now(), exchange, concurrency: 1, monthsPerActivity: 12 }],
    });
    assert.equal(bf.symbols[0]!.status, 'done');
  });

  after(async () => {
    for (const w of workers) await stopWorker(w);
    await client?.connection.close();
    await replay?.close();
  });

  const scoreInput = (now: number, extra: Partial<ReturnType<typeof scoreInputOf>> = {}) => ({ ...scoreInputOf(cfg, { symbols: [SYMBOL], targets: protocol.targets, now }), exchange, ...extra });
  const trainInput = (extra: Partial<TrainInput> = {}): TrainInput => ({ ...trainInputOf(cfg, { symbols: [SYMBOL] }), exchange, protocol, now: replay.now(), ...extra });
  const runTrain = (extra: Partial<TrainInput> = {}) => client.workflow.execute(train, { taskQueue: cfg.taskQueues.cpu, workflowId: uid('pipe-train'), args: [trainInput(extra)] });

  it('scoring before any training fails clearly: no champion', async () => {
    const err = await client.workflow
      .execute(score, { taskQueue: cfg.taskQueues.cpu, workflowId: uid('pipe-score-none'), args: [scoreInput(replay.now() + 5 * 60_000)] })
      .then(() => assert.fail('expected a failure'), (e: unknown) => e);
    assert.ok(err instanceof WorkflowFailedError);
    assert.match(String(err.cause?.message), /NoChampionError: no champion for binance LINK\/USDT 1h target_gk_1h: run a training first/);
  });

  it('trains, evaluates every model and the ensemble, and serves a first champion fitted on every row with a known target', async () => {
    trained = await runTrain();
    assert.equal(trained.results.length, 2);
    for (const r of trained.results) {
      assert.equal(r.folds, 3);
      assert.deepEqual(r.failures, []);
      assert.deepEqual(r.leaderboard.map((x) => x.model).sort(), ['ens_equal', 'garch', 'har_x', 'lightgbm', 'lstm', 'persistence']);
      assert.ok(r.leaderboard.every((x) => x.complete && x.parityPassed && Number.isFinite(x.validationQlike) && Number.isFinite(x.holdoutQlike)));
      assert.ok(r.decision && ['bootstrap', 'promote'].includes(r.decision.outcome), JSON.stringify(r.decision));
      assert.equal(r.serving?.action, r.decision.outcome);
      const champion = (await readChampion(store, series(), r.target))!;
      assert.equal(champion.name, r.decision.spec);
      assert.equal(champion.version, 2);
      assert.equal(champion.spec!.name, r.decision.spec);
      // The serving fit: trained on every row whose target is known at the clock (now − 1 bar is
      // the newest closed bar; its target needs h more), not the holdout fold's fit.
      const h = r.target === 'target_rv_24h' ? 24 : 1;
      assert.equal(champion.trainEndTs, replay.now() - HOUR - h * HOUR + HOUR);
      assert.equal(champion.dataWatermark, replay.now() - HOUR);
      const plan = JSON.parse((await store.readLatest(layout.run(r.runId, 'plan.json')))!.data.toString()) as PlanDocument;
      assert.ok(!plan.fits.filter((f) => f.purpose === 'fold').some((f) => f.modelId === champion.modelId), 'not a fold fit');
      assert.ok(champion.regimeThresholds && champion.regimeThresholds.q1 < champion.regimeThresholds.q2);
      assert.deepEqual(champion.featureUniverse, ['binance:LINK-USDT:1h']);
      // Every champion serves an interval: calibrated on the spec's out-of-sample rows of all 3 folds.
      const metricsDoc = JSON.parse((await store.readLatest(r.metricsKey))!.data.toString()) as MetricsDocument;
      const conformal = metricsDoc.models.find((m) => m.name === r.decision!.spec)!.conformal;
      assert.deepEqual(champion.intervals, conformal.serving);
      assert.equal(champion.intervals!.rows, 3 * 72);
      assert.ok(champion.intervals!.levels['95'].lower < champion.intervals!.levels['80'].lower && champion.intervals!.levels['80'].upper < champion.intervals!.levels['95'].upper);
      const servingCard = JSON.parse((await store.readLatest(champion.cardRef.key))!.data.toString()) as { intervals?: unknown };
      assert.deepEqual(servingCard.intervals, champion.intervals, 'the serving card records the interval it serves with');
      // Fold 2 (the holdout) is calibrated on folds 0 and 1 (targets known when it opened): coverage measured there.
      assert.ok(conformal.holdout && conformal.holdout.rows > 0 && conformal.perFold[0]!.calibration === null);
      const report = (await store.readLatest(r.reportKey))!.data.toString();
      assert.match(report, /<svg/);
      for (const m of ['har_x', 'lightgbm', 'ens_equal']) assert.ok(report.includes(m));
      // The tree fits' SHAP importance per fold (models/explain.py, from their cards) reaches metrics and the report.
      const ex = metricsDoc.explanations!.find((e) => e.model === 'lightgbm')!;
      assert.deepEqual(ex.folds.map((f) => f.fold), [0, 1, 2]);
      assert.ok(ex.folds.every((f) => f.rows > 0) && ex.overall.length > 0 && ex.overall[0]!.meanAbs > 0);
      assert.match(report, /Explanations \(tree models\)/);
      const decision = JSON.parse((await store.readLatest(layout.run(r.runId, 'decision.json')))!.data.toString());
      assert.equal(decision.decision.spec, r.decision.spec);
      assert.equal(decision.serving.modelId, champion.modelId);
    }
  });

  it('a rerun with the same inputs reuses every modelId (the serving fit too), writes no model object and keeps the champion', async () => {
    const etags = async () => Promise.all((await store.list('models/')).map(async (o) => `${o.key} ${(await store.client.statObject(store.bucket, o.key)).etag}`));
    const before = await etags();
    const championsBefore = await Promise.all(protocol.targets.map((t) => readChampion(store, series(), t)));
    const again = await runTrain();
    for (const r of again.results) {
      assert.equal(r.reusedFits, protocol.models.length * 3 + (r.decision!.spec === 'ens_equal' ? 2 : 1), `${r.target}: every fit reused`);
      assert.deepEqual(Object.values(r.fitSeconds).filter((s) => s > 0), []);
      assert.equal(r.serving?.action, 'keep', JSON.stringify(r.serving));
      assert.equal(r.decision!.incumbent, championsBefore.find((c) => c!.target === r.target)!.name);
    }
    assert.deepEqual(await etags(), before);
    assert.deepEqual(await Promise.all(protocol.targets.map((t) => readChampion(store, series(), t))), championsBefore);
  });

  it('scores the bar that just closed with the champion, idempotently', async () => {
    const now = replay.now() + 5 * 60_000;
    const r = await client.workflow.execute(score, { taskQueue: cfg.taskQueues.cpu, workflowId: uid('pipe-score'), args: [scoreInput(now)] });
    assert.equal(r.forecasts.length, 2);
    assert.equal(r.barTs, replay.now() - HOUR);
    for (const f of r.forecasts) {
      assert.equal(f.barTs, replay.now() - HOUR);
      assert.ok(f.value > 0 && f.value < 1);
      assert.ok(['low', 'medium', 'high'].includes(f.regime!));
      // Whatever the champion's kind, the forecast comes with its calibrated 80% and 95% intervals.
      const champion = (await readChampion(store, series(), f.target))!;
      assert.deepEqual([f.lower80, f.upper80], forecastBounds(f.value, null, champion.intervals, '80'));
      assert.deepEqual([f.lower95, f.upper95], forecastBounds(f.value, null, champion.intervals, '95'));
      assert.ok(f.lower95! < f.lower80! && f.lower80! < f.upper80! && f.upper80! < f.upper95!, JSON.stringify(f));
    }
    // Scoring computes its rows from the candle tail (no feature set written); the forecast equals the
    // champion run on the full-history feature set of the training at that bar (the same bits).
    assert.equal(r.featureSetId, null);
    for (const f of r.forecasts) {
      assert.match(f.inputsSha256!, /^[0-9a-f]{64}$/);
      assert.equal(f.featureSetId, null);
    }
    for (const f of r.forecasts) {
      const champion = (await readChampion(store, series(), f.target))!;
      const full = (await store.head(layout.features(trained.featureSetId, series())))!;
      const scoreOne = async (modelRef: ChampionRecord['modelRef'], cardRef: ChampionRecord['cardRef']) => {
        const { card } = await readCard(store, cardRef);
        return scoreModel({ modelPath: await store.getFile(modelRef), modelSha256: modelRef.sha256, card, featuresPath: await store.getFile(full), window: { startTs: f.barTs, endTs: f.barTs + 1 } });
      };
      if (champion.kind === 'ensemble') continue;
      const scored = await scoreOne(champion.modelRef, champion.cardRef);
      assert.deepEqual(scored.ts, [f.barTs]);
      assert.equal(scored.vol[0], f.value, `${f.target}: recent-window features give the full-history forecast`);
    }
    const stored = await tailPredictions(store, series(), 'target_gk_1h', 5);
    const key = layout.predictions(series(), 'target_gk_1h', new Date(replay.now() - HOUR).toISOString().slice(0, 7));
    const etag = (await store.client.statObject(store.bucket, key)).etag;
    await client.workflow.execute(score, { taskQueue: cfg.taskQueues.cpu, workflowId: uid('pipe-score'), args: [scoreInput(now)] });
    assert.deepEqual(await tailPredictions(store, series(), 'target_gk_1h', 5), stored);
    assert.equal((await store.client.statObject(store.bucket, key)).etag, etag);
  });

  it('refuses to score stale data, a late bar and a bar that has not closed, saying which', async () => {
    const fail = async (input: ReturnType<typeof scoreInput>) =>
      client.workflow.execute(score, { taskQueue: cfg.taskQueues.cpu, workflowId: uid('pipe-score-bad'), args: [input] }).then(() => assert.fail('expected a failure'), (e: unknown) => e);
    const stale = await fail({ ...scoreInput(replay.now() + 10 * HOUR), ingest: false });
    assert.ok(stale instanceof WorkflowFailedError);
    assert.match(String(stale.cause?.message), /StaleDataError: data for binance LINK\/USDT 1h target_gk_1h is stale: the newest closed bar .* closed 600 minutes before/);
    // One hour on: the bar is late (not published), inside the age limit; with ingest off there is no point waiting.
    const late = await fail({ ...scoreInput(replay.now() + HOUR + 5 * 60_000), ingest: false });
    assert.match(String((late as WorkflowFailedError).cause?.message), /LateBarError: the bar .* of binance LINK\/USDT 1h target_gk_1h, closed at .*, is not in the data/);
    // A clock an hour behind the data: its newest bar had not closed then.
    const future = await fail({ ...scoreInput(replay.now() - HOUR + 5 * 60_000), ingest: false });
    assert.match(String((future as WorkflowFailedError).cause?.message), /FutureBarError: the data of binance LINK\/USDT 1h target_gk_1h holds the bar .* which had not closed at/);
    // Every pair is reported; the failure carries the result (no forecast here).
    const details = ((future as WorkflowFailedError).cause as ApplicationFailure).details?.[0] as ScoreResult;
    assert.deepEqual(details.failures.map((f) => f.target), ['target_gk_1h', 'target_rv_24h']);
  });

  let dayLater: TrainResult;
  it('a day later the next train serves a new artifact of the kept spec, trained up to the newest known target, and shows the served one beside its refit', async () => {
    const before = await Promise.all(protocol.targets.map((t) => readChampion(store, series(), t)));
    replay.setNow(end);
    // Gates no challenger can pass: the incumbent is kept, so the artifact must be a refresh.
    dayLater = await runTrain({ now: end, gates: { ...cfg.promotion, minImprovement: 0.99 } });
    for (const r of dayLater.results) {
      const old = before.find((c) => c!.target === r.target)!;
      assert.equal(r.decision!.outcome, 'keep');
      assert.equal(r.decision!.incumbent, old.name);
      assert.equal(r.serving!.action, 'refresh', JSON.stringify(r.serving));
      const now = (await readChampion(store, series(), r.target))!;
      assert.notEqual(now.modelId, old.modelId);
      assert.equal(now.name, old.name);
      assert.equal(now.action, 'refresh');
      assert.equal(now.trainEndTs! - old.trainEndTs!, DAY, 'trained on one more day');
      assert.equal(now.runId, r.runId);
      const incumbentRow = r.leaderboard.find((x) => x.role === 'incumbent')!;
      assert.equal(incumbentRow.model, old.name);
      const metrics = JSON.parse((await store.readLatest(r.metricsKey))!.data.toString()) as MetricsDocument;
      assert.equal(metrics.served!.name, old.name);
      assert.ok(metrics.served!.holdout!.rows > 0);
      assert.ok(metrics.served!.outOfSample!.rows > 0 && metrics.served!.outOfSample!.rows <= 25, 'only the last day of the holdout is out of its sample');
      const report = (await store.readLatest(r.reportKey))!.data.toString();
      assert.match(report, /The served artifact beside its refit/);
      const history = await championHistory(store, series(), r.target);
      assert.equal(history.at(-1)!.action, 'refresh');
    }
  });

  it('a failed serving fit (or one that fails parity) holds the previous artifact, recorded in the history and decision.json', async () => {
    const r = dayLater.results.find((x) => x.target === 'target_gk_1h')!;
    const current = (await readChampion(store, series(), r.target))!;
    const plan = (await store.readLatest(layout.run(r.runId, 'plan.json')))!.ref;
    const metrics = (await store.readLatest(r.metricsKey))!.ref;
    const decision: Decision = { outcome: 'keep', spec: current.name, challenger: null, incumbent: current.name, bestBaseline: null, reasons: ['test'] };
    const base: CommitServingInput = {
      runId: uid('hold'), planRef: plan, metricsRef: metrics, decision, champion: current, decidedAt: new Date().toISOString(), gates: cfg.promotion, unresolvedDataFlags: [],
      fits: [{ name: current.name, result: null, error: 'FitError: too few training rows for har_x' }],
    };
    const held = await commitServing(store, base);
    assert.equal(held.serving.action, 'hold');
    assert.match(held.serving.reasons.join(' '), /the serving fit of .* failed: FitError: too few training rows .* keeps serving/);
    assert.deepEqual(await readChampion(store, series(), r.target), current, 'champion.json unchanged');
    const history = await championHistory(store, series(), r.target);
    assert.equal(history.at(-1)!.action, 'hold');
    assert.equal(history.at(-1)!.modelId, current.modelId);
    const written = JSON.parse((await store.readLatest(layout.run(base.runId, 'decision.json')))!.data.toString());
    assert.equal(written.serving.action, 'hold');

    // A serving fit whose card no longer matches its graph: parity fails, it holds too.
    if (current.kind !== 'ensemble') {
      const card = JSON.parse((await store.readLatest(current.cardRef.key))!.data.toString());
      const tampered = await store.putJson(layout.model('tampered-serving', 'card.json'), { ...card, modelId: 'tampered-serving', parity: null, trainerPredictions: { ...card.trainerPredictions, vol: card.trainerPredictions.vol.map((v: number) => v * 1.1) } });
      const modelRef = await store.putBuffer(layout.model('tampered-serving', 'model.onnx'), await store.getBuffer(current.modelRef));
      const r2 = await commitServing(store, { ...base, runId: uid('hold'), decidedAt: new Date(Date.now() + 1000).toISOString(), fits: [{ name: current.name, result: { modelId: 'tampered-serving', modelRef, cardRef: tampered, reused: false, trainRows: 1, testRows: 1, wallSeconds: 0 }, error: null }] });
      assert.equal(r2.serving.action, 'hold');
      assert.match(r2.serving.reasons[0]!, /ONNX parity failed on the serving fit's newest rows: max relative error/);
      assert.equal((await readChampion(store, series(), r.target))!.modelId, current.modelId);
    }
  });

  it('an ensemble champion is judged as the incumbent and refreshed as an ensemble of serving fits; scoring serves it', async () => {
    const r = dayLater.results.find((x) => x.target === 'target_rv_24h')!;
    const metrics = JSON.parse((await store.readLatest(r.metricsKey))!.data.toString()) as MetricsDocument;
    const holdoutFold = metrics.folds.find((f) => f.holdout)!.fold;
    const ensId = metrics.ensembles!.find((e) => e.name === 'ens_equal')!.folds.find((f) => f.fold === holdoutFold)!.modelId;
    await promoteByHand(store, { modelId: ensId, series: series(), target: r.target, definitionsSha: definitionsSha(), reason: 'test: an ensemble champion', decidedAt: new Date().toISOString() });
    const next = await runTrain({ now: end, gates: { ...cfg.promotion, minImprovement: 0.99 }, protocol: { ...protocol, targets: [r.target] } });
    const res = next.results[0]!;
    assert.equal(res.decision!.incumbent, 'ens_equal');
    assert.equal(res.decision!.outcome, 'keep');
    assert.equal(res.serving!.action, 'refresh');
    const champion = (await readChampion(store, series(), r.target))!;
    assert.equal(champion.kind, 'ensemble');
    assert.equal(champion.spec!.kind, 'ensemble');
    const card = await store.getJson<EnsembleCard>(champion.cardRef);
    assert.equal(card.fold, null, 'the serving combination');
    for (const m of card.members) {
      const mc = (await readCard(store, m.cardRef)).card as unknown as { purpose: string; parity: { passed: boolean } };
      assert.equal(mc.purpose, 'serving');
      assert.equal(mc.parity.passed, true);
    }
    const scored = await client.workflow.execute(score, { taskQueue: cfg.taskQueues.cpu, workflowId: uid('pipe-score-ens'), args: [scoreInput(end + 5 * 60_000, { targets: [r.target] })] });
    assert.equal(scored.forecasts[0]!.modelId, champion.modelId);
  });

  it("a champion whose spec failed one fold is still judged on the holdout and refreshed", async () => {
    // An expanding protocol whose first fold trains on fewer rows than LightGBM needs (300).
    const first = trained.results.find((x) => x.target === 'target_gk_1h')!;
    const plan = JSON.parse((await store.readLatest(layout.run(first.runId, 'plan.json')))!.data.toString()) as PlanDocument;
    const lgbmFit = plan.fits.find((f) => f.model.name === 'lightgbm' && f.purpose === 'fold')!;
    await promoteByHand(store, { modelId: lgbmFit.modelId, series: series(), target: 'target_gk_1h', definitionsSha: definitionsSha(), reason: 'test: a LightGBM champion', decidedAt: new Date().toISOString() });
    const tight: ResolvedProtocol = {
      ...protocol,
      targets: ['target_gk_1h'],
      lookbackBars: 3 * 48 + 280,
      walkForward: { firstTrainBars: 280, testBars: 48, stepBars: 48, window: 'expanding', embargoBars: 0, folds: 3 },
      models: protocol.models.filter((m) => ['har_x', 'lightgbm'].includes(m.name)),
      ensembles: [],
    };
    const next = await runTrain({ now: end, protocol: tight, gates: { ...cfg.promotion, minImprovement: 0.99 } });
    const res = next.results[0]!;
    const inc = res.leaderboard.find((x) => x.role === 'incumbent')!;
    assert.equal(inc.model, 'lightgbm');
    assert.deepEqual(inc.failedFolds.map((f) => f.fold), [0]);
    assert.match(inc.failedFolds[0]!.reason, /fit failed: .*too few training rows for lightgbm/);
    assert.ok(inc.holdoutQlike !== null, 'judged on the holdout');
    assert.equal(res.decision!.outcome, 'keep');
    assert.equal(res.serving!.action, 'refresh');
    assert.equal((await readChampion(store, series(), 'target_gk_1h'))!.name, 'lightgbm');
  });
});
