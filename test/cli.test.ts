/**
 * The CLI's reporting, run as the real `volcast` process against the real stack: exit codes, the
 * root cause and workflow id of every failed run (not "Workflow execution failed"), a partial
 * score that prints the forecasts it wrote before the failures, connection errors that name the
 * service and `volcast dev up`, the worker check before a run (never a silent wait), and live
 * progress of backfill and train.
 *
 * Isolated: a namespace of its own (so no other suite's workers poll its task queues) and a bucket
 * of its own (its lake and registry start empty); the replay exchange serves real candles.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { startReplayExchange, type ReplayExchange } from '../infra/replayExchange';
import { loadConfig, type VolcastConfig } from '../lib/platform/config';
import { repoRoot } from '../lib/platform/paths';
import { ArtifactStore } from '../lib/platform/store';
import { connectClient } from '../lib/platform/temporal';
import { startWorker, stopWorker, type LocalWorker } from '../workers/local';
import { testConfig } from './helpers';

const DAY = 86_400_000;
const SYMBOL = 'DOT/USDT';

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

describe('the volcast CLI: exit codes, failure causes, partial results, worker check, progress (real stack)', () => {
  let cfg: VolcastConfig;
  let env: NodeJS.ProcessEnv;
  /** What the workers get on top of their own environment: the namespace, bucket and exchange. */
  let workerEnv: Record<string, string>;
  let client: Client;
  let replay: ReplayExchange;
  let end: number;
  const workers: LocalWorker[] = [];

  before(async () => {
    const base = testConfig();
    replay = await startReplayExchange({ port: 0, symbols: [SYMBOL] });
    end = replay.now();
    const namespace = `cli-${randomUUID().slice(0, 8)}`;
    const bucket = `volcast-cli-${randomUUID().slice(0, 8)}`;
    workerEnv = { VOLCAST_STATE_DIR: base.stateDir, VOLCAST_TEMPORAL_NAMESPACE: namespace, VOLCAST_BUCKET: bucket, VOLCAST_EXCHANGE_URL: replay.url };
    env = { ...process.env, ...workerEnv, VOLCAST_PROGRESS_SECONDS: '1' };
    cfg = loadConfig(env);
    const admin = await connectClient(base);
    await admin.workflowService.registerNamespace({ namespace, workflowExecutionRetentionPeriod: msToTs('1 day') });
    await admin.connection.close();
    await new ArtifactStore(cfg).ensureBucket();
    client = await connectClient(cfg);
  });

  after(async () => {
    for (const w of workers) await stopWorker(w);
    await client?.connection.close();
    await replay?.close();
  });

  /**
   * The real CLI as a child process (asynchronous: the test's own workers keep running meanwhile).
   * A command that waits silently is killed after the limit and reported as such.
   */
  function cli(args: string[], extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> {
    const t0 = Date.now();
    const limitS = Number(process.env.VOLCAST_TEST_CLI_LIMIT_S ?? 300);
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [join(repoRoot, 'cli', 'volcast.js'), ...args], { cwd: repoRoot, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      const timer = setTimeout(() => {
        stderr += `\n[test: still running after ${limitS}s, killed]`;
        child.kill('SIGKILL');
      }, limitS * 1000);
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
      child.once('exit', (status) => {
        clearTimeout(timer);
        resolve({ status, stdout, stderr, seconds: (Date.now() - t0) / 1000 });
      });
    });
  }
  const show = (r: Run) => `exit ${r.status} after ${r.seconds.toFixed(1)}s\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`;

  it('--help documents the exit codes; bad usage exits 2', async () => {
    const help = await cli(['--help']);
    assert.equal(help.status, 0);
    assert.match(help.stdout, /Exit codes:\n\s+0\s+ok\n\s+1\s+failed.*\n\s+2\s+bad usage.*\n\s+3\s+partial.*\n\s+4\s+not ready/);
    const unknown = await cli(['nosuch']);
    assert.equal(unknown.status, 2, show(unknown));
    assert.match(unknown.stderr, /unknown command 'nosuch'/);
    const badTime = await cli(['score', '--now', 'yesterday-ish']);
    assert.equal(badTime.status, 2, show(badTime));
    assert.match(badTime.stderr, /--now: invalid time "yesterday-ish"/);
    const badProtocol = await cli(['train', '--protocol', 'nope']);
    assert.equal(badProtocol.status, 2, show(badProtocol));
    assert.match(badProtocol.stderr, /unknown protocol "nope"/);
  });

  it('a service that does not answer is named, with its address and `volcast dev up`; exit 4', async () => {
    const temporal = await cli(['score'], { VOLCAST_TEMPORAL_ADDRESS: '127.0.0.1:1' });
    assert.equal(temporal.status, 4, show(temporal));
    assert.match(temporal.stderr, /cannot reach Temporal at 127\.0\.0\.1:1: connection refused/);
    assert.match(temporal.stderr, /volcast dev up/);
    assert.ok(temporal.seconds < 8, `reported at once, not after the connect deadline (${temporal.seconds}s)`);
    const minio = await cli(['data', 'status', '--symbols', SYMBOL], { VOLCAST_S3_PORT: '1' });
    assert.equal(minio.status, 4, show(minio));
    assert.match(minio.stderr, /cannot reach MinIO at 127\.0\.0\.1:1: connection refused/);
    assert.match(minio.stderr, /volcast dev up/);
  });

  it('with no worker polling volcast-cpu, score and backfill say which worker to start instead of waiting', async () => {
    try {
      const score = await cli(['score', '--no-ingest']);
      assert.equal(score.status, 4, show(score));
      assert.match(score.stderr, /no worker is polling volcast-cpu/);
      assert.match(score.stderr, /start `volcast worker cpu`/);
      const bf = await cli(['data', 'backfill', '--symbols', SYMBOL, '--from', '2024-01-01']);
      assert.equal(bf.status, 4, show(bf));
      assert.match(bf.stderr, /start `volcast worker cpu`/);
    } finally {
      // The tests after this one run with the cpu worker.
      workers.push(await startWorker(cfg, 'cpu', { env: workerEnv }));
    }
  });

  it('train without a trainer names `volcast worker train` for the model kinds it needs', async () => {
    const r = await cli(['train', '--protocol', 'a', '--symbols', SYMBOL, '--models', 'persistence,har_x', '--no-ingest']);
    assert.equal(r.status, 4, show(r));
    assert.match(r.stderr, /no worker is polling volcast-train-cpu/);
    assert.match(r.stderr, /volcast-train-cpu \(fitModel: persistence, har_x\): start `volcast worker train`/);
    assert.doesNotMatch(r.stderr, /volcast-cpu \(/);
  });

  it('backfill shows months done while it runs; one symbol not listed: its cause, the other stored, exit 3', async () => {
    const r = await cli(['data', 'backfill', '--symbols', `${SYMBOL},FOO/USDT`, '--from', String(end - 420 * DAY), '--now', String(end)], { VOLCAST_PROGRESS_SECONDS: '0.3' });
    assert.equal(r.status, 3, show(r));
    assert.match(r.stdout, /… backfill: \d\/2 symbols done.*DOT\/USDT \d+\/1[45] months/);
    assert.match(r.stdout, /DOT\/USDT\s+done/);
    assert.match(r.stdout, /FOO\/USDT\s+failed .*symbol FOO\/USDT is not listed on binance/);
    assert.match(r.stderr, /volcast: partly failed: backfill workflow backfill-1h-\S+/);
    assert.match(r.stderr, /cause: BackfillFailedError: backfill failed for 1 of 2 symbols:\nFOO\/USDT: UnknownSymbolError: symbol FOO\/USDT is not listed on binance/);
    assert.doesNotMatch(r.stderr, /^volcast: Workflow execution failed$/m);
  });

  it('score before any training: every pair fails with its own cause and the workflow id, exit 1', async () => {
    const r = await cli(['score', '--symbols', SYMBOL, '--no-ingest', '--now', String(end + 5 * 60_000)]);
    assert.equal(r.status, 1, show(r));
    assert.match(r.stdout, /not forecast \(2 of 2\):\n\s+DOT\/USDT target_gk_1h: NoChampionError: no champion for binance DOT\/USDT 1h target_gk_1h/);
    assert.match(r.stdout, /DOT\/USDT target_rv_24h: NoChampionError: no champion for/);
    assert.match(r.stderr, /volcast: failed: score workflow score-\S+\n\s+cause: ScoreFailed: scoring failed for 2 of 2/);
    assert.match(r.stderr, /Web UI: http:\/\/127\.0\.0\.1:\d+\/namespaces\/cli-[^/]+\/workflows\/score-/);
  });

  it('a train that fails prints the root cause (the symbol is not listed), not "Workflow execution failed"', async () => {
    workers.push(await startWorker(cfg, 'train', { env: workerEnv }));
    const r = await cli(['train', '--protocol', 'a', '--symbols', 'FOO/USDT', '--models', 'persistence', '--now', String(end)]);
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, /volcast: failed: train workflow train-a-\S+\n\s+cause: UnknownSymbolError: symbol FOO\/USDT is not listed on binance/);
    assert.match(r.stderr, /where: activity ingest failed/);
  });

  it('train shows fits done / planned per series and model with an ETA, then the leaderboard', async () => {
    const r = await cli(['train', '--protocol', 'a', '--symbols', SYMBOL, '--models', 'persistence,har_x', '--no-ingest', '--now', String(end)]);
    assert.equal(r.status, 0, show(r));
    // Planned: 3 folds × 2 models, then the winner's serving fit.
    assert.match(r.stdout, /… train: fits \d+\/[67] done \(\d+%\), \d+ running/);
    assert.match(r.stdout, /\n {4}DOT\/USDT target_gk_1h \[\w+\]: persistence \d\/[34].*, har_x \d\/[34]/);
    // While some fits are done and some are not, the line says when the rest should be (a run this
    // small may go from none to all between two looks).
    for (const m of r.stdout.matchAll(/… train: fits (\d+)\/(\d+) done[^\n]*/g)) {
      if (Number(m[1]) > 0 && Number(m[1]) < Number(m[2])) assert.match(m[0], /, ETA \d+(s|m\d+s)$/);
    }
    assert.match(r.stdout, /DOT\/USDT target_gk_1h — 3 fold\(s\)/);
    assert.match(r.stdout, /decision: bootstrap/);
    console.log(`  train (6 fold fits + serving) through the CLI: ${r.seconds.toFixed(0)}s`);
  });

  it('score with one target served and one not: the forecast is printed, then the failure; exit 3', async () => {
    const r = await cli(['score', '--symbols', SYMBOL, '--no-ingest', '--now', String(end + 5 * 60_000)]);
    assert.equal(r.status, 3, show(r));
    assert.match(r.stdout, /forecasts made at [^\n]+:\n\s+DOT\/USDT target_gk_1h at \S+: \d\.\d{5}/);
    assert.match(r.stdout, /not forecast \(1 of 2\):\n\s+DOT\/USDT target_rv_24h: NoChampionError: no champion for/);
    assert.ok(r.stdout.indexOf('forecasts made at') < r.stdout.indexOf('not forecast'));
    assert.match(r.stderr, /volcast: partly failed: score workflow score-\S+\n\s+cause: ScoreFailed: scoring failed for 1 of 2/);
  });

  it('score on data too old for the clock: "data … is stale" is shown, exit 1', async () => {
    const r = await cli(['score', '--symbols', SYMBOL, '--no-ingest', '--now', String(end + 3 * DAY)]);
    assert.equal(r.status, 1, show(r));
    assert.match(r.stdout, /DOT\/USDT target_gk_1h: StaleDataError: data for binance DOT\/USDT 1h target_gk_1h is stale/);
  });

  it('on a terminal, progress is one line rewritten in place', { skip: spawnSync('script', ['--version']).status !== 0 && 'no `script` to give the CLI a terminal' }, async () => {
    // `script` runs the CLI on a pseudo-terminal; a refetch of the same range redoes every chunk.
    const cmd = [process.execPath, join(repoRoot, 'cli', 'volcast.js'), 'data', 'backfill', '--symbols', SYMBOL, '--refetch', '--from', String(end - 420 * DAY), '--now', String(end)]
      .map((a) => `'${a}'`)
      .join(' ');
    // Not spawnSync: the replay exchange answers from this process.
    const r = await new Promise<{ status: number | null; stdout: string }>((resolve) => {
      const child = spawn('script', ['-qfec', cmd, '/dev/null'], { cwd: repoRoot, env: { ...env, VOLCAST_PROGRESS_SECONDS: '0.3' }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
      child.stderr.on('data', (b: Buffer) => (stdout += b.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), 300_000);
      child.once('exit', (status) => {
        clearTimeout(timer);
        resolve({ status, stdout });
      });
    });
    assert.equal(r.status, 0, r.stdout);
    assert.match(r.stdout, /\r\x1b\[2Kbackfill: [01]\/1 symbols done, [01] running · DOT\/USDT \d+\/1[45] months/);
    assert.doesNotMatch(r.stdout, /… backfill:/);
  });
});
