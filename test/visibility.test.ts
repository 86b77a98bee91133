/**
 * The Temporal Web UI's filters on the real dev server: `volcast dev up` registered volcast's search
 * attributes (registering again adds nothing); a real train (replay exchange, both workers, a tiny
 * protocol) and score set them, so visibility queries on symbol, target, protocol and decision
 * find exactly those runs; the child runs carry a summary, the fits theirs. Then the read API serves
 * that real run: its leaderboard, its champion, and its forecast, stale by the wall clock (the replay's
 * data is historical) and current by the replay's.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { registerSearchAttributes } from '../lib/orchestration/searchAttributes';
import { startReplayExchange, type ReplayExchange } from '../infra/replayExchange';
import { startApi } from '../lib/api/server';
import { searchAttributes, trainSeriesSummary, visibilityQuery } from '../lib/api/visibility';
import { scoreInput as scoreInputOf, trainInput as trainInputOf } from '../lib/orchestration/inputs';
import type { VolcastConfig } from '../lib/platform/config';
import { ArtifactStore } from '../lib/platform/store';
import { connectClient, webUiUrl } from '../lib/platform/temporal';
import { readChampion } from '../lib/promotion/registry';
import type { ResolvedProtocol } from '../lib/training/protocols';
import { startWorker, stopWorker, type LocalWorker } from '../workers/local';
import { backfill, score, train, type ScoreResult, type TrainResult } from '../workflows';
import { eventually, testConfig, uid } from './helpers';

const DAY = 86_400_000;
const HOUR = 3_600_000;
// A symbol no other suite uses: its registry and predictions are this suite's.
const SYMBOL = 'DOT/USDT';
const TARGET = 'target_gk_1h';

const protocol: ResolvedProtocol = {
  name: uid('vis').replace('-', '_'),
  description: 'two 2-day validation folds and a 2-day holdout after 40 days of training',
  targets: [TARGET],
  lookbackBars: null,
  walkForward: { firstTrainBars: 40 * 24, testBars: 48, stepBars: 48, window: 'rolling', embargoBars: 0, folds: 3 },
  models: [
    { name: 'persistence', kind: 'persistence', params: {} },
    { name: 'har_x', kind: 'har_x', params: {} },
  ],
  ensembles: [],
  seed: 7,
};

describe('search attributes and summaries in the Web UI; the read API over a real run (real dev server, workers)', () => {
  let cfg: VolcastConfig;
  let client: Client;
  let store: ArtifactStore;
  let replay: ReplayExchange;
  const workers: LocalWorker[] = [];
  const trainId = uid('vis-train');
  const scoreId = uid('vis-score');
  let trained: TrainResult;
  let scored: ScoreResult;
  const series = { exchange: 'binance', symbol: SYMBOL, timeframe: '1h' };

  before(async () => {
    replay = await startReplayExchange({ port: 0, symbols: [SYMBOL] });
    cfg = { ...testConfig(), exchanges: [{ id: 'binance', urlOverride: replay.url }], symbols: [SYMBOL], targets: [TARGET] };
    store = new ArtifactStore(cfg);
    const env = { VOLCAST_EXCHANGE_URL: replay.url };
    workers.push(await startWorker(cfg, 'cpu', { env }), await startWorker(cfg, 'train', { gpuOnCpu: true, env }));
    client = await connectClient(cfg);
    const now = replay.now();
    await client.workflow.execute(backfill, {
      taskQueue: cfg.taskQueues.cpu, workflowId: uid('vis-backfill'),
      args: [{ symbols: [SYMBOL], timeframe: '1h', from: now - 60 * DAY, now, exchange: 'binance', concurrency: 1, monthsPerActivity: 12 }],
    });
    trained = await client.workflow.execute(train, { taskQueue: cfg.taskQueues.cpu, workflowId: trainId, args: [{ ...trainInputOf(cfg, { symbols: [SYMBOL] }), protocol, now }] });
    scored = await client.workflow.execute(score, { taskQueue: cfg.taskQueues.cpu, workflowId: scoreId, args: [scoreInputOf(cfg, { symbols: [SYMBOL], targets: [TARGET], now: now + 5 * 60_000 })] });
  });

  after(async () => {
    for (const w of workers) await stopWorker(w);
    await client?.connection.close();
    await replay?.close();
  });

  const ids = async (query: string) => {
    const out: string[] = [];
    for await (const w of client.workflow.list({ query })) out.push(w.workflowId);
    return out.sort();
  };

  it('dev up registered the four attributes; registering again adds none', async () => {
    assert.deepEqual(await registerSearchAttributes(cfg), []);
    const { customAttributes } = await client.connection.operatorService.listSearchAttributes({ namespace: cfg.temporal.namespace });
    for (const k of Object.values(searchAttributes)) assert.ok(customAttributes && k.name in customAttributes, k.name);
  });

  it('visibility queries on symbol, target, protocol and decision find the runs (the Web UI filter)', async () => {
    const r = trained.results[0]!;
    const action = r.serving!.action;
    assert.ok(['bootstrap', 'promote'].includes(action), action);
    const child = `${trainId}/DOT-USDT/${TARGET}`;
    // "every train of DOT/USDT target_gk_1h that <action>ed", narrowed to this protocol (other suites train too).
    const q = visibilityQuery({ workflowType: 'trainSeries', symbol: SYMBOL, target: TARGET, decision: action, protocol: protocol.name });
    assert.equal(q, `WorkflowType = 'trainSeries' AND VolcastSymbol = 'DOT/USDT' AND VolcastTarget = 'target_gk_1h' AND VolcastProtocol = '${protocol.name}' AND VolcastDecision = '${action}'`);
    assert.deepEqual(await eventually('the trainSeries run in visibility', async () => ((await ids(q)).length ? ids(q) : null)), [child]);
    assert.deepEqual(await ids(visibilityQuery({ workflowType: 'trainSeries', symbol: SYMBOL, target: TARGET, decision: 'hold', protocol: protocol.name })), []);
    assert.deepEqual(await ids(visibilityQuery({ workflowType: 'trainSeries', symbol: 'BTC/USDT', target: TARGET, protocol: protocol.name })), []);
    // The parent: its symbols, targets, protocol and the decisions of its children.
    assert.deepEqual(await eventually('the train run', async () => {
      const got = await ids(visibilityQuery({ workflowType: 'train', symbol: SYMBOL, protocol: protocol.name, decision: action }));
      return got.length ? got : null;
    }), [trainId]);
    const d = await client.workflow.getHandle(trainId).describe();
    assert.deepEqual(d.typedSearchAttributes.get(searchAttributes.symbol), [SYMBOL]);
    assert.deepEqual(d.typedSearchAttributes.get(searchAttributes.target), [TARGET]);
    assert.equal(d.typedSearchAttributes.get(searchAttributes.protocol), protocol.name);
    assert.deepEqual(d.typedSearchAttributes.get(searchAttributes.decision), [action]);
    // Score runs: by symbol and target.
    assert.ok((await eventually('the score run', async () => {
      const got = await ids(`${visibilityQuery({ workflowType: 'score', symbol: SYMBOL, target: TARGET })} AND WorkflowId = '${scoreId}'`);
      return got.length ? got : null;
    })).includes(scoreId));
  });

  it('the child run carries a summary naming what it does; each fit names its spec and fold', async () => {
    const handle = client.workflow.getHandle(`${trainId}/DOT-USDT/${TARGET}`);
    const d = await handle.describe();
    assert.equal(await d.staticSummary(), trainSeriesSummary({ series, target: TARGET, protocol, promote: true }));
    assert.match((await d.staticSummary())!, /^train DOT\/USDT 1h target_gk_1h · protocol .* \(2 models\) · promotion gates$/);
    const history = await handle.fetchHistory();
    const summaries = (history.events ?? [])
      .filter((e) => e.activityTaskScheduledEventAttributes && e.userMetadata?.summary)
      .map((e) => defaultPayloadConverter.fromPayload<string>(e.userMetadata!.summary!));
    assert.ok(summaries.includes('fit har_x · fold 2 (holdout)'), summaries.join(' | '));
    assert.ok(summaries.includes('fit persistence · fold 0'), summaries.join(' | '));
    assert.ok(summaries.some((s) => /^serving fit (har_x|persistence)$/.test(s)), summaries.join(' | '));
  });

  it('the read API serves the real run: leaderboard, decision, champion, and the forecast, stale by the wall clock', async () => {
    const r = trained.results[0]!;
    const f = scored.forecasts[0]!;
    const wall = await startApi({ cfg, settings: { host: '127.0.0.1', port: 0, dashboardDays: 7, maxPageSize: 5000, token: null, loopback: true } });
    const atReplay = await startApi({ cfg, settings: { host: '127.0.0.1', port: 0, dashboardDays: 7, maxPageSize: 5000, token: null, loopback: true }, now: () => scored.asOf });
    try {
      const get = async (base: string, path: string) => (await fetch(`${base}${path}`)).json() as Promise<any>;
      const run = await get(wall.url, `/v1/runs/${r.runId}`);
      assert.deepEqual(run.leaderboard, r.leaderboard);
      assert.equal(run.decision.serving.action, r.serving!.action);
      assert.equal(run.links.temporal, `${webUiUrl(cfg)}/${encodeURIComponent(`${trainId}/DOT-USDT/${TARGET}`)}`);
      const report = await fetch(`${wall.url}${run.links.report}`);
      assert.equal(report.status, 200);
      assert.match(await report.text(), /<svg/);
      const champion = await get(wall.url, '/v1/champions/DOT-USDT/target_gk_1h');
      assert.deepEqual(champion.champion, await readChampion(store, series, TARGET));
      const history = await get(wall.url, '/v1/champions/DOT-USDT/target_gk_1h/history');
      assert.equal(history.items[0].runId, r.runId);

      const stale = await get(wall.url, '/v1/forecasts/DOT-USDT/target_gk_1h/latest');
      const ageMin = (Date.now() - (f.barTs + HOUR)) / 60_000;
      assert.ok(ageMin > cfg.scoring.maxDataAgeMinutes, 'the replay data is older than the limit');
      assert.equal(stale.status, 'stale');
      assert.equal(stale.forecast, null);
      assert.equal(stale.newest.value, f.value);
      assert.equal(stale.newest.barTs, f.barTs);
      assert.equal(stale.newest.modelId, champion.champion.modelId);
      const current = await get(atReplay.url, '/v1/forecasts/DOT-USDT/target_gk_1h/latest');
      assert.equal(current.status, 'current');
      assert.equal(current.forecast.value, f.value);
      assert.equal(current.forecast.regime, f.regime);
      assert.equal(current.forecast.ageMinutes, 5);
      assert.equal(current.champion.spec.name, r.decision!.spec);
      const page = await get(atReplay.url, `/v1/forecasts/DOT-USDT/target_gk_1h?from=${f.barTs}`);
      assert.deepEqual(page.items.map((i: any) => [i.barTs, i.value, i.realized]), [[f.barTs, f.value, null]]);
    } finally {
      await wall.close();
      await atReplay.close();
    }
  });
});
