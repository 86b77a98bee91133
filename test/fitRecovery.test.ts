/** A trainer SIGKILLed in the middle of a fit: the fit restarts on the restarted worker and the run completes. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { startReplayExchange, type ReplayExchange } from '../infra/replayExchange';
import type { VolcastConfig } from '../lib/platform/config';
import type { ResolvedProtocol } from '../lib/training/protocols';
import { connectClient } from '../lib/platform/temporal';
import { startWorker, stopWorker, type LocalWorker } from '../workers/local';
import { eventually, testConfig, uid } from './helpers';
import { backfill, train } from '../workflows';

const STARTED = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;

describe('fit recovery (real trainer process killed mid-fit)', () => {
  let cfg: VolcastConfig;
  let client: Client;
  let replay: ReplayExchange;
  const workers: Partial<Record<'cpu' | 'train', LocalWorker>> = {};

  before(async () => {
    replay = await startReplayExchange({ port: 0, symbols: ['BTC/USDT'] });
    cfg = { ...testConfig(), exchanges: [{ id: 'binance', urlOverride: replay.url }] };
    const env = { VOLCAST_EXCHANGE_URL: replay.url };
    workers.cpu = await startWorker(cfg, 'cpu', { env });
    workers.train = await startWorker(cfg, 'train', { gpuOnCpu: true, env });
    client = await connectClient(cfg);
    await client.workflow.execute(backfill, {
      taskQueue: cfg.taskQueues.cpu,
      workflowId: uid('rec-backfill'),
      args: [{ symbols: ['BTC/USDT'], timeframe: '1h', from: replay.now() - 100 * 86_400_000, now: replay.now(), exchange: 'binance', concurrency: 1, monthsPerActivity: 12 }],
    });
  });

  after(async () => {
    for (const w of Object.values(workers)) if (w) await stopWorker(w);
    await client?.connection.close();
    await replay?.close();
  });

  it('the LSTM fit is retried after its worker died and the evaluation completes', async () => {
    // A fit long enough to be caught running: no early stopping, many epochs; a seed of its own so
    // that no earlier run's model is reused.
    const protocol: ResolvedProtocol = {
      name: 'recovery',
      description: 'one fold, one slow neural fit',
      targets: ['target_gk_1h'],
      lookbackBars: null,
      walkForward: { firstTrainBars: 60 * 24, testBars: 48, stepBars: 48, window: 'rolling', embargoBars: 0, folds: 1 },
      models: [
        { name: 'har_x', kind: 'har_x', params: {} },
        { name: 'lstm', kind: 'lstm', params: { window: 24, hidden: 8, epochs: 60, patience: 60, columns: ['ret_1', 'gk_var_1', 'rv_d', 'rv_w'] } },
      ],
      ensembles: [],
      seed: Date.now() % 100_000,
    };
    const workflowId = uid('rec-train');
    const handle = await client.workflow.start(train, {
      taskQueue: cfg.taskQueues.cpu,
      workflowId,
      args: [{ exchange: 'binance', symbols: ['BTC/USDT'], timeframe: '1h', protocol, gates: cfg.promotion, now: replay.now(), ingest: false, promote: false, fitHeartbeatSeconds: 4 }],
    });
    const child = client.workflow.getHandle(`${workflowId}/BTC-USDT/target_gk_1h`);
    await eventually(
      'the LSTM fit running',
      async () => {
        try {
          const d = await child.describe();
          return (d.raw.pendingActivities ?? []).some((a) => a.activityType?.name === 'fitNeuralModel' && a.state === STARTED);
        } catch {
          return false; // the child is not started yet
        }
      },
      120_000,
    );
    workers.train!.child.kill('SIGKILL');
    await workers.train!.exited;
    workers.train = await startWorker(cfg, 'train', { gpuOnCpu: true, env: { VOLCAST_EXCHANGE_URL: replay.url } });
    const result = (await handle.result());
    const r = result.results[0]!;
    assert.deepEqual(r.failures, []);
    assert.deepEqual(r.leaderboard.map((x) => x.model).sort(), ['har_x', 'lstm']);
    assert.ok(r.leaderboard.every((x) => x.parityPassed));
    const history = await child.fetchHistory();
    const attempts = (history.events ?? [])
      .filter((e) => e.activityTaskStartedEventAttributes)
      .map((e) => e.activityTaskStartedEventAttributes!.attempt ?? 1);
    assert.ok(Math.max(...attempts) >= 2, `a fit was retried (attempts ${attempts.join(',')})`);
  });
});
