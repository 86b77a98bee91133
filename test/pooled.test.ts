/**
 * Pooled (panel) tree and LSTM specs end to end on the real stack: replay exchange (real candles of three
 * symbols) → backfill → one train over the three: per fold one pooled booster (cached in MinIO,
 * shared by every series' fit), per series an ONNX with that series' scaling, parity checked by
 * onnxruntime-node in evaluate, leaderboards, gates and the serving step per series as for any spec.
 * A second pooled spec pools over two of the symbols only: the third is scored by a pool that
 * never saw it (the held-out symbol).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import type { PlanDocument } from '../contracts/types';
import { startReplayExchange, type ReplayExchange } from '../infra/replayExchange';
import type { MetricsDocument } from '../lib/evaluation/types';
import { definitionsSha } from '../lib/features/build';
import { scoreInput as scoreInputOf, trainInput as trainInputOf } from '../lib/orchestration/inputs';
import type { VolcastConfig } from '../lib/platform/config';
import { layout } from '../lib/platform/layout';
import { ArtifactStore } from '../lib/platform/store';
import { connectClient } from '../lib/platform/temporal';
import { promoteByHand } from '../lib/promotion/manual';
import { readChampion } from '../lib/promotion/registry';
import type { ResolvedProtocol } from '../lib/training/protocols';
import { startWorker, stopWorker, type LocalWorker } from '../workers/local';
import { backfill, score, train, type TrainResult } from '../workflows';
import { testConfig, uid } from './helpers';

const DAY = 86_400_000;
// Symbols no other suite ingests; the pool of xgboost_pooled leaves HELD_OUT out.
const SYMBOLS = ['BNB/USDT', 'DOGE/USDT', 'TRX/USDT'];
const HELD_OUT = 'TRX/USDT';
const POOL2 = ['BNB/USDT', 'DOGE/USDT'];

const protocol: ResolvedProtocol = {
  name: 'test-pooled',
  description: 'two 3-day validation folds and a 3-day holdout after 60 days of training',
  targets: ['target_rv_24h'],
  lookbackBars: null,
  walkForward: { firstTrainBars: 60 * 24, testBars: 72, stepBars: 72, window: 'rolling', embargoBars: 0, folds: 3 },
  models: [
    { name: 'persistence', kind: 'persistence', params: {} },
    { name: 'lightgbm', kind: 'lightgbm', params: { num_boost_round: 60 } },
    { name: 'lightgbm_pooled', kind: 'lightgbm', params: { num_boost_round: 60, pooled: true } },
    { name: 'xgboost_pooled', kind: 'xgboost', params: { num_boost_round: 60, pooled: { symbols: POOL2 } } },
    { name: 'lstm_pooled', kind: 'lstm', params: { window: 12, hidden: 4, epochs: 2, columns: ['ret_1', 'gk_var_1', 'rv_d', 'rv_w', 'hour_sin', 'hour_cos'], pooled: true } },
  ],
  ensembles: [],
  seed: 7,
};
const POOLED = ['lightgbm_pooled', 'xgboost_pooled', 'lstm_pooled'];

describe('pooled tree and LSTM specs (replay exchange, real workers, real stack)', () => {
  let cfg: VolcastConfig;
  let client: Client;
  let store: ArtifactStore;
  let replay: ReplayExchange;
  const workers: LocalWorker[] = [];
  let trained: TrainResult;

  before(async () => {
    replay = await startReplayExchange({ port: 0, symbols: SYMBOLS });
    // The TRX/BNB/DOGE files share dates up to 2022-10-11: end the clock there.
    replay.setNow(Date.UTC(2022, 9, 1));
    cfg = { ...testConfig(), exchanges: [{ id: 'binance', urlOverride: replay.url }] };
    store = new ArtifactStore(cfg);
    const env = { VOLCAST_EXCHANGE_URL: replay.url };
    workers.push(await startWorker(cfg, 'cpu', { env }), await startWorker(cfg, 'train', { gpuOnCpu: true, env }));
    client = await connectClient(cfg);
    const bf = await client.workflow.execute(backfill, {
      taskQueue: cfg.taskQueues.cpu,
      workflowId: uid('pooled-backfill'),
      args: [{ symbols: SYMBOLS, timeframe: '1h', from: replay.now() - 110 * DAY, now: replay.now(), exchange: 'binance', concurrency: 3, monthsPerActivity: 12 }],
    });
    assert.deepEqual(bf.symbols.map((s) => s.status), ['done', 'done', 'done']);
  });

  after(async () => {
    for (const w of workers) await stopWorker(w);
    await client?.connection.close();
    await replay?.close();
  });

  it('trains pooled specs beside per-series ones: parity passes and every series is evaluated and decided on its own', async () => {
    trained = await client.workflow.execute(train, {
      taskQueue: cfg.taskQueues.cpu,
      workflowId: uid('pooled-train'),
      args: [{ ...trainInputOf(cfg, { symbols: SYMBOLS }), exchange: 'binance', protocol, now: replay.now() }],
    });
    assert.equal(trained.results.length, 3);
    for (const r of trained.results) {
      assert.deepEqual(r.failures, [], `${r.series.symbol}: ${JSON.stringify(r.failures)}`);
      assert.deepEqual(r.leaderboard.map((x) => x.model).sort(), ['lightgbm', 'lightgbm_pooled', 'lstm_pooled', 'persistence', 'xgboost_pooled']);
      for (const m of r.leaderboard) {
        assert.ok(m.complete && m.parityPassed && Number.isFinite(m.validationQlike) && Number.isFinite(m.holdoutQlike), `${r.series.symbol} ${m.model}: ${JSON.stringify(m)}`);
      }
      assert.ok(r.decision && r.serving, `${r.series.symbol}: decided and served`);
      // Each series' evaluation holds its own rows: the metrics name that series only.
      const metrics = JSON.parse((await store.readLatest(r.metricsKey))!.data.toString()) as MetricsDocument;
      assert.deepEqual(metrics.series, r.series);
    }
  });

  it('fits one booster per pool and fold, shared by every series, each series with its own scaling; the held-out symbol is scored by a pool without it', async () => {
    const cards: Record<string, Record<string, unknown>[]> = {};
    const plans: PlanDocument[] = [];
    for (const r of trained.results) {
      const plan = JSON.parse((await store.readLatest(layout.run(r.runId, 'plan.json')))!.data.toString()) as PlanDocument;
      plans.push(plan);
      for (const f of plan.fits.filter((x) => x.purpose === 'fold' && POOLED.includes(x.model.name))) {
        const card = JSON.parse((await store.readLatest(f.keys.card))!.data.toString()) as Record<string, any>;
        assert.equal(card.parity.passed, true, `${r.series.symbol} ${f.model.name}: onnxruntime-node parity`);
        assert.equal(card.fitted.pooled.poolId, f.pooled!.poolId);
        assert.deepEqual(card.series, r.series);
        (cards[`${f.model.name} ${f.train.endTs}`] ??= []).push(card);
      }
    }
    const folds = plans[0]!.folds.length;
    assert.equal(Object.keys(cards).length, POOLED.length * folds);
    for (const [key, cs] of Object.entries(cards)) {
      assert.equal(cs.length, 3, key);
      const c = cs as Record<string, any>[];
      // The same booster for every series of the fold: one poolId, one stored object, the same trees.
      assert.equal(new Set(c.map((x) => x.fitted.pooled.poolId)).size, 1, key);
      assert.equal(new Set(c.map((x) => x.fitted.bestIteration ?? x.fitted.bestEpoch)).size, 1, key);
      assert.ok(await store.head(c[0]!.fitted.pooled.boosterKey), `${key}: booster stored`);
      // Fitted at most once per concurrent trainer slot (the worker runs 2 fits at once), read by the rest.
      assert.ok(c.filter((x) => !x.fitted.pooled.boosterReused).length <= 2, `${key}: booster fitted by at most 2 concurrent fits`);
      // Per series: its own scaling (trees: z-score means; nets: their asinh scaling), its own model.
      assert.equal(new Set(c.map((x) => JSON.stringify(x.scaling.mean ?? x.scaling.mu))).size, 3, key);
      const universe = c[0]!.fitted.pooled.universe.map((u: { symbol: string }) => u.symbol);
      if (key.startsWith('xgboost_pooled')) {
        assert.deepEqual(universe, POOL2);
        for (const x of c) assert.equal(x.fitted.pooled.inPool, x.series.symbol !== HELD_OUT, `${key} ${x.series.symbol}`);
      } else {
        assert.deepEqual(universe, SYMBOLS);
        assert.ok(c.every((x) => x.fitted.pooled.inPool));
      }
      assert.ok(c[0]!.fitted.pooled.universe.every((u: { trainRows: number }) => u.trainRows > 1000), `${key}: rows per series recorded`);
    }
  });

  it('a pooled model serves like any: promoted for the held-out symbol, the score workflow forecasts with it', async () => {
    const r = trained.results.find((x) => x.series.symbol === HELD_OUT)!;
    const plan = JSON.parse((await store.readLatest(layout.run(r.runId, 'plan.json')))!.data.toString()) as PlanDocument;
    const holdout = plan.folds.find((f) => f.holdout)!;
    const fit = plan.fits.find((f) => f.model.name === 'xgboost_pooled' && f.purpose === 'fold' && f.test.startTs === holdout.test.startTs)!;
    await promoteByHand(store, { modelId: fit.modelId, series: r.series, target: r.target, definitionsSha: definitionsSha(), reason: 'test: a pooled champion', decidedAt: new Date().toISOString() });
    assert.equal((await readChampion(store, r.series, r.target))!.modelId, fit.modelId);
    const scored = await client.workflow.execute(score, {
      taskQueue: cfg.taskQueues.cpu,
      workflowId: uid('pooled-score'),
      // The champions' cross-asset features span the three symbols: they are scored together.
      args: [{ ...scoreInputOf(cfg, { symbols: SYMBOLS, targets: ['target_rv_24h'], now: replay.now() + 5 * 60_000 }), exchange: 'binance' }],
    });
    assert.equal(scored.forecasts.length, 3);
    const mine = scored.forecasts.find((f) => f.symbol === HELD_OUT)!;
    assert.equal(mine.modelId, fit.modelId);
    assert.ok(mine.value > 0 && mine.value < 1, JSON.stringify(mine));
  });
});
