/**
 * Payloads stay small at any protocol size: a train of more than 600 fits on one series (cheap
 * baselines on 200 daily folds) on the real stack, then every payload of the train workflow's and
 * its child's histories (workflow input and result, every activity input, result and heartbeat
 * detail) is measured: none may exceed 256 KB (Temporal warns at 512 KB and fails at 2 MB).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { startReplayExchange, type ReplayExchange } from '../infra/replayExchange';
import { trainInput } from '../lib/orchestration/inputs';
import type { VolcastConfig } from '../lib/platform/config';
import { connectClient } from '../lib/platform/temporal';
import type { ResolvedProtocol } from '../lib/training/protocols';
import { startWorker, stopWorker, type LocalWorker } from '../workers/local';
import { backfill, train } from '../workflows';
import { testConfig, uid } from './helpers';

const DAY = 86_400_000;
// A symbol no other suite uses: this suite's lake and registry are its own.
const SYMBOL = 'AVAX/USDT';
const LIMIT = 256 * 1024;

/** Sizes of every Payloads (a list of payloads sent together) found anywhere in a history. */
function payloadSizes(node: unknown, path: string, out: { path: string; bytes: number }[]): void {
  if (!node || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    node.forEach((x, i) => payloadSizes(x, `${path}[${i}]`, out));
    return;
  }
  const o = node as Record<string, unknown>;
  if (Array.isArray(o.payloads) && o.payloads.every((p) => p && typeof p === 'object' && 'data' in (p as object))) {
    const bytes = (o.payloads as { data?: Uint8Array | null; metadata?: Record<string, Uint8Array> }[]).reduce(
      (s, p) => s + (p.data?.length ?? 0) + Object.values(p.metadata ?? {}).reduce((m, v) => m + (v?.length ?? 0), 0),
      0,
    );
    out.push({ path, bytes });
    return;
  }
  for (const [k, v] of Object.entries(o)) payloadSizes(v, `${path}.${k}`, out);
}

describe('payloads by reference (a 600-fit protocol on the real stack)', () => {
  let cfg: VolcastConfig;
  let client: Client;
  let replay: ReplayExchange;
  const workers: LocalWorker[] = [];

  before(async () => {
    replay = await startReplayExchange({ port: 0, symbols: [SYMBOL] });
    cfg = { ...testConfig(), exchanges: [{ id: 'binance', urlOverride: replay.url }] };
    const env = { VOLCAST_EXCHANGE_URL: replay.url };
    workers.push(await startWorker(cfg, 'cpu', { env }), await startWorker(cfg, 'train', { env }));
    client = await connectClient(cfg);
    await client.workflow.execute(backfill, {
      taskQueue: cfg.taskQueues.cpu,
      workflowId: uid('pay-backfill'),
      args: [{ symbols: [SYMBOL], timeframe: '1h', from: replay.now() - 250 * DAY, now: replay.now(), exchange: 'binance', concurrency: 1, monthsPerActivity: 12 }],
    });
  });
  after(async () => {
    for (const w of workers) await stopWorker(w);
    await client?.connection.close();
    await replay?.close();
  });

  it('no payload over 256 KB in the histories of a train with more than 600 fits on one series', async () => {
    const protocol: ResolvedProtocol = {
      name: 'payloads',
      description: '200 one-day folds after a week of training',
      targets: ['target_gk_1h'],
      lookbackBars: 200 * 24 + 7 * 24,
      walkForward: { firstTrainBars: 7 * 24, testBars: 24, stepBars: 24, window: 'rolling', embargoBars: 0 },
      models: [
        { name: 'persistence', kind: 'persistence', params: {} },
        { name: 'ewma', kind: 'ewma', params: { lambda: 0.94 } },
        { name: 'log_har', kind: 'log_har', params: {} },
      ],
      ensembles: [],
      seed: 3,
    };
    const workflowId = uid('pay-train');
    const t0 = Date.now();
    const r = await client.workflow.execute(train, {
      taskQueue: cfg.taskQueues.cpu,
      workflowId,
      args: [{ ...trainInput(cfg, { symbols: [SYMBOL], now: replay.now() }), protocol, fitConcurrency: 8 }],
    });
    const res = r.results[0]!;
    assert.ok(res.folds >= 199, `${res.folds} folds`);
    assert.deepEqual(res.failures, []);
    const fits = res.folds * protocol.models.length + 1;
    assert.ok(fits >= 600, `${fits} fits`);
    assert.ok(res.serving && ['bootstrap', 'promote'].includes(res.serving.action), JSON.stringify(res.serving));

    const sizes: { path: string; bytes: number }[] = [];
    for (const id of [workflowId, `${workflowId}/AVAX-USDT/target_gk_1h`]) {
      const history = await client.workflow.getHandle(id).fetchHistory();
      history.events?.forEach((e, i) => payloadSizes(e, `${id}#${i}:${e.eventType}`, sizes));
    }
    const largest = [...sizes].sort((a, b) => b.bytes - a.bytes).slice(0, 3);
    console.log(`payloads: ${sizes.length} in the two histories; largest ${largest.map((x) => `${(x.bytes / 1024).toFixed(1)} KB at ${x.path}`).join(', ')}; ${fits} fits in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    assert.ok(sizes.length > 2 * fits, 'every fit request and result was seen');
    assert.ok(largest[0]!.bytes <= LIMIT, `largest payload ${largest[0]!.bytes} bytes > ${LIMIT}`);
  });
});
