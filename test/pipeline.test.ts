/**
 * The whole DAG on the real stack: replay exchange (real candles) → backfill → train (walk-forward
 * fits on both trainer queues, evaluate, promote) → score, with both workers as real processes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { WorkflowFailedError, type Client } from '@temporalio/client';
import { startReplayExchange, type ReplayExchange } from '../infra/replayExchange';
import type { VolcastConfig } from '../lib/platform/config';
import { layout } from '../lib/platform/layout';
import { tailPredictions } from '../lib/scoring/predictions';
import type { ResolvedProtocol } from '../lib/training/protocols';
import { readChampion } from '../lib/promotion/registry';
import { scoreModel } from '../lib/scoring';
import { readCard } from '../lib/scoring/cards';
import { ArtifactStore } from '../lib/platform/store';
import { connectClient } from '../lib/platform/temporal';
import { startWorker, stopWorker, type LocalWorker } from '../workers/local';
import type { ScoreInput, ScoreResult, TrainInput, TrainResult } from '../workflows';
import { testConfig, uid } from './helpers';
import { backfill, score, train } from '../workflows';

const DAY = 86_400_000;
const SYMBOL = 'BTC/USDT';

const protocol: ResolvedProtocol = {
  name: 'test',
  description: 'two 3-day folds after 30 days of training',
  targets: ['target_gk_1h', 'target_rv_24h'],
  lookbackBars: null,
  walkForward: { firstTrainBars: 60 * 24, testBars: 72, stepBars: 72, window: 'rolling', embargoBars: 0, folds: 2 },
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

describe('the whole DAG (replay exchange, real workers, real stack)', () => {
  let cfg: VolcastConfig;
  let client: Client;
  let store: ArtifactStore;
  let replay: ReplayExchange;
  let exchange: string;
  const workers: LocalWorker[] = [];
  let trained: TrainResult;

  before(async () => {
    replay = await startReplayExchange({ port: 0, symbols: [SYMBOL] });
    const base = testConfig();
    // A fresh exchange id: this suite's lake, registry and predictions are its own.
    exchange = 'binance';
    cfg = { ...base, exchanges: [{ id: exchange, urlOverride: replay.url }] };
    store = new ArtifactStore(cfg);
    const env = { VOLCAST_EXCHANGE_URL: replay.url };
    workers.push(await startWorker(cfg, 'cpu', { env }), await startWorker(cfg, 'train', { gpuOnCpu: true, env }));
    client = await connectClient(cfg);
    const bf = await client.workflow.execute(backfill, {
      taskQueue: cfg.taskQueues.cpu,
      workflowId: uid('pipe-backfill'),
      args: [{ symbols: [SYMBOL], timeframe: '1h', from: replay.now() - 100 * DAY, now: replay.now(), exchange, concurrency: 1, monthsPerActivity: 12 }],
    });
    assert.equal((bf as { symbols: { status: string }[] }).symbols[0]!.status, 'done');
  });

  after(async () => {
    for (const w of workers) await stopWorker(w);
    await client?.connection.close();
    await replay?.close();
  });

  const scoreInput = (now: number): ScoreInput => ({ exchange, symbols: [SYMBOL], timeframe: '1h', targets: protocol.targets, maxDataAgeMinutes: 120, now });
  const trainInput = (): TrainInput => ({ exchange, symbols: [SYMBOL], timeframe: '1h', protocol, gates: cfg.promotion, now: replay.now() });

  it('scoring before any training fails clearly: no champion', async () => {
    const err = await client.workflow
      .execute('score', { taskQueue: cfg.taskQueues.cpu, workflowId: uid('pipe-score-none'), args: [scoreInput(replay.now() + 5 * 60_000)] })
      .then(() => assert.fail('expected a failure'), (e: unknown) => e);
    assert.ok(err instanceof WorkflowFailedError);
    assert.match(String(err.cause?.message), /no champion for binance BTC\/USDT 1h target_gk_1h: run a training first/);
  });

  it('trains, evaluates every model and the ensemble out of sample, and promotes a first champion', async () => {
    trained = (await client.workflow.execute(train, { taskQueue: cfg.taskQueues.cpu, workflowId: uid('pipe-train'), args: [trainInput()] }));
    assert.equal(trained.results.length, 2);
    for (const r of trained.results) {
      assert.equal(r.folds, 2);
      assert.deepEqual(r.failures, []);
      assert.deepEqual(r.leaderboard.map((x) => x.model).sort(), ['ens_equal', 'garch', 'har_x', 'lightgbm', 'lstm', 'persistence']);
      assert.ok(r.leaderboard.every((x) => x.parityPassed && Number.isFinite(x.qlike) && x.rows > 0));
      assert.ok(r.decision?.promote, JSON.stringify(r.decision));
      const champion = await readChampion(store, { exchange, symbol: SYMBOL, timeframe: '1h' }, r.target);
      assert.equal(champion?.name, r.decision!.candidate);
      assert.ok(champion?.regimeThresholds && champion.regimeThresholds.q1 < champion.regimeThresholds.q2);
      const report = (await store.readLatest(r.reportKey))!.data.toString();
      assert.match(report, /<svg/);
      for (const m of ['har_x', 'lightgbm', 'ens_equal']) assert.ok(report.includes(m));
      const decision = JSON.parse((await store.readLatest(layout.run(r.runId, 'decision.json')))!.data.toString());
      assert.equal(decision.decision.candidate, r.decision!.candidate);
    }
  });

  it('a rerun with the same inputs reuses every modelId and writes no model object', async () => {
    const etags = async () =>
      Promise.all((await store.list('models/')).map(async (o) => `${o.key} ${(await store.client.statObject(store.bucket, o.key)).etag}`));
    const before = await etags();
    const again = (await client.workflow.execute(train, { taskQueue: cfg.taskQueues.cpu, workflowId: uid('pipe-train'), args: [trainInput()] }));
    for (const r of again.results) {
      assert.equal(r.reusedFits, protocol.models.length * 2, `${r.target}: every fit reused`);
      assert.deepEqual(Object.values(r.fitSeconds), protocol.models.map(() => 0));
    }
    // Same keys, same etags: neither the models, their cards (parity) nor the ensembles' cards were rewritten.
    assert.deepEqual(await etags(), before);
  });

  it('scores the newest closed bar with the champion, idempotently', async () => {
    const now = replay.now() + 5 * 60_000;
    const r = (await client.workflow.execute(score, { taskQueue: cfg.taskQueues.cpu, workflowId: uid('pipe-score'), args: [scoreInput(now)] }));
    assert.equal(r.forecasts.length, 2);
    for (const f of r.forecasts) {
      assert.equal(f.barTs, replay.now() - 3_600_000);
      assert.ok(f.value > 0 && f.value < 1);
      assert.ok(['low', 'medium', 'high'].includes(f.regime!));
    }
    const series = { exchange, symbol: SYMBOL, timeframe: '1h' };
    // Scoring builds features from the last three months only; the forecast equals the champion run
    // on the full-history feature set of the training at that bar (finite windows: no difference).
    for (const f of r.forecasts) {
      const champion = (await readChampion(store, series, f.target))!;
      const full = (await store.head(layout.features(trained.featureSetId, series)))!;
      const { card } = await readCard(store, champion.cardRef);
      const scored = await scoreModel({
        modelPath: await store.getFile(champion.modelRef), modelSha256: champion.modelRef.sha256, card,
        featuresPath: await store.getFile(full), window: { startTs: f.barTs, endTs: f.barTs + 1 },
      });
      assert.notEqual(r.featureSetId, trained.featureSetId);
      assert.deepEqual(scored.ts, [f.barTs]);
      assert.equal(scored.vol[0], f.value, `${f.target}: recent-window features give the full-history forecast`);
    }
    const stored = await tailPredictions(store, series, 'target_gk_1h', 5);
    const key = layout.predictions(series, 'target_gk_1h', new Date(replay.now() - 3_600_000).toISOString().slice(0, 7));
    const etag = (await store.client.statObject(store.bucket, key)).etag;
    await client.workflow.execute(score, { taskQueue: cfg.taskQueues.cpu, workflowId: uid('pipe-score'), args: [scoreInput(now)] });
    assert.deepEqual(await tailPredictions(store, series, 'target_gk_1h', 5), stored);
    assert.equal((await store.client.statObject(store.bucket, key)).etag, etag);
  });

  it('refuses to score stale data, saying how old it is', async () => {
    const err = await client.workflow
      .execute('score', { taskQueue: cfg.taskQueues.cpu, workflowId: uid('pipe-score-stale'), args: [{ ...scoreInput(replay.now() + 10 * 3_600_000), ingest: false }] })
      .then(() => assert.fail('expected a failure'), (e: unknown) => e);
    assert.ok(err instanceof WorkflowFailedError);
    assert.match(String(err.cause?.message), /data for binance BTC\/USDT 1h target_gk_1h is stale: the newest closed bar .* closed 600 minutes before/);
  });
});
