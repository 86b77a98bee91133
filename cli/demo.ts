/**
 * The main job on the embedded stack with the bundled real data: replay exchange (real candles from
 * ../shared/data behind the Binance REST API, so the real ccxt path runs) → backfill → train
 * (walk-forward, evaluate, promote) → schedules → score, printing the leaderboards, the reports and
 * the latest forecasts. The dev stack keeps running afterwards for the Web UI, the console and the
 * read API with its dashboard (`volcast serve`, started by `up`).
 */
import type { VolcastConfig } from '../lib/platform/config';
import { status, up } from '../infra/devStack';
import { apiSettings, apiUrl } from '../lib/api/settings';
import { startReplayExchange } from '../infra/replayExchange';
import { backfillInput, scoreInput, trainInput, withExchangeUrl } from '../lib/orchestration/inputs';
import { applySchedules } from '../lib/orchestration/schedules';
import { connectClient, consoleUrl, webUiUrl } from '../lib/platform/temporal';
import { startWorker, stopWorker, type LocalWorker } from '../workers/local';
import { runBackfill } from './data';
import { runScore, runTrain } from './pipeline';

const DAY = 86_400_000;

export interface DemoOptions {
  symbols?: string[];
  protocol?: string;
  /** Days of history to backfill (the scheduled protocol needs 260 days plus 30 of feature warm-up). */
  days?: number;
}

export async function runDemo(cfgIn: VolcastConfig, opts: DemoOptions = {}): Promise<void> {
  const t0 = Date.now();
  const symbols = opts.symbols ?? cfgIn.symbols;
  const replayPort = Number(process.env.VOLCAST_EXCHANGE_PORT ?? 19100);
  const replay = await startReplayExchange({ port: replayPort, symbols });
  const cfg = await up(withExchangeUrl(cfgIn, replay.url));
  const exchangeEnv = { VOLCAST_EXCHANGE_URL: replay.url };
  console.log(`replay exchange ${replay.url}: real Binance candles of ${symbols.join(', ')} up to ${new Date(replay.now()).toISOString()}`);
  const workers: LocalWorker[] = [];
  try {
    console.log('starting workers: cpu, train --gpu-on-cpu …');
    workers.push(await startWorker(cfg, 'cpu', { env: exchangeEnv }));
    // Under its launcher: a trainer that dies mid-run is restarted and its fits retried.
    workers.push(await startWorker(cfg, 'train', { gpuOnCpu: true, env: exchangeEnv, supervised: true }));
    const client = await connectClient(cfg);
    const stamp = new Date(replay.now()).toISOString().slice(0, 13).replace(/[-T:]/g, '');
    const now = replay.now();

    // 1. Backfill through ccxt (idempotent: a second run writes nothing).
    const from = now - (opts.days ?? 300) * DAY;
    await runBackfill(client, cfg, backfillInput(cfg, { symbols, from, now }), `demo-backfill-${stamp}-${Date.now()}`);

    // 2. Train: walk-forward fits of every model, evaluation, promotion.
    const train = trainInput(cfg, { protocol: opts.protocol, symbols, now });
    const trained = await runTrain(client, cfg, train, `demo-train-${stamp}-${Date.now()}`);

    // 3. Schedules, paused: the replay's data is historical, so an hourly run against the real clock
    //    would (rightly) fail as stale. `volcast schedules unpause score` against a live exchange.
    await applySchedules(client, { ...cfg, schedules: { score: { ...cfg.schedules.score, paused: true }, train: { ...cfg.schedules.train, paused: true }, housekeeping: { ...cfg.schedules.housekeeping, paused: true } } });
    console.log('schedules volcast-score (hourly), volcast-train and volcast-housekeeping (daily) applied, paused for the historical demo data');

    // 4. Score: the champion's forecast for the newest closed bar, 5 minutes after it closed.
    await runScore(client, cfg, scoreInput(cfg, { symbols, targets: train.protocol.targets, now: now + 5 * 60_000 }), `demo-score-${stamp}-${Date.now()}`);

    const api = (await status(cfg)).find((s) => s.name === 'api');
    const dashboard = api?.running && api.healthy
      ? `${apiUrl(apiSettings(cfg))}/  (read API: /openapi.json, docs/api.md; the replay's forecasts are historical, so they show as stale)`
      : `not running (see "api:" above); start it with: node cli/volcast.js serve`;
    console.log(`\nmain job done in ${((Date.now() - t0) / 1000).toFixed(0)}s. Where to look:
  dashboard:        ${dashboard}
  Temporal Web UI:  ${webUiUrl(cfg)}  (filter by VolcastSymbol, VolcastTarget, VolcastProtocol, VolcastDecision; or .tools/bin/temporal workflow list --address ${cfg.temporal.address})
  MinIO console:    ${consoleUrl(cfg)}  (user/password in ${cfg.stateDir}/credentials.env)
  reports:          ${trained.results.map((r) => r.reportKey).join('\n                    ')}
  CLI:              node cli/volcast.js models list | predictions tail | schedules list | data status`);
    await client.connection.close();
  } finally {
    for (const w of workers) await stopWorker(w);
    await replay.close();
  }
}
