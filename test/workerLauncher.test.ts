/**
 * `volcast worker train`, run as the real CLI: its Python trainer is SIGKILLed in the middle of an
 * activity; the launcher logs the death (signal, restart count) and restarts it, the restarted
 * trainer polls again and the activity is retried on it once its heartbeat times out; SIGTERM then
 * stops launcher and trainer cleanly.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { VolcastConfig } from '../lib/platform/config';
import { repoRoot } from '../lib/platform/paths';
import { connectClient, pollersOf } from '../lib/platform/temporal';
import { startWorker, stopWorker, type LocalWorker } from '../workers/local';
import { platformRoundTrip } from '../workflows';
import { eventually, testConfig, uid } from './helpers';

const STARTED = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('volcast worker train: the launcher restarts a dead trainer (real CLI, real stack)', () => {
  let cfg: VolcastConfig;
  let client: Client;
  let cpu: LocalWorker | undefined;
  let launcher: ChildProcess | undefined;
  let output = '';

  before(async () => {
    cfg = testConfig();
    client = await connectClient(cfg);
    cpu = await startWorker(cfg, 'cpu');
  });

  after(async () => {
    // The launcher leads its own process group: whatever is left of it and its trainers goes.
    try {
      if (launcher?.pid) process.kill(-launcher.pid, 'SIGKILL');
    } catch {
      /* none left */
    }
    for (const m of output.matchAll(/trainer started \(pid (\d+)\)/g)) if (alive(Number(m[1]))) process.kill(Number(m[1]), 'SIGKILL');
    if (cpu) await stopWorker(cpu);
    await client?.connection.close();
  });

  const pids = () => [...output.matchAll(/trainer started \(pid (\d+)\)/g)].map((m) => Number(m[1]));
  const readyCount = () => output.match(/volcast trainer: ready/g)?.length ?? 0;

  it('logs the death, restarts the trainer, which serves again; SIGTERM stops both', async () => {
    launcher = spawn(process.execPath, [join(repoRoot, 'cli', 'volcast.js'), 'worker', 'train', '--gpu-on-cpu'], {
      cwd: repoRoot,
      env: { ...process.env, VOLCAST_STATE_DIR: cfg.stateDir },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const exited = new Promise<number | null>((r) => launcher!.once('exit', (code) => r(code)));
    launcher.stdout!.on('data', (b: Buffer) => (output += b.toString()));
    launcher.stderr!.on('data', (b: Buffer) => (output += b.toString()));
    await eventually('the trainer ready', async () => readyCount() >= 1, 120_000);
    const [first] = pids();
    assert.ok(first && alive(first));

    // An activity on the trainer, long enough to be caught running (heartbeat timeout 5 s).
    const runId = uid('launcher');
    const handle = await client.workflow.start(platformRoundTrip, {
      taskQueue: cfg.taskQueues.cpu,
      workflowId: runId,
      args: [{ runId, message: `message ${runId}`, verifyHoldSeconds: 12 }],
    });
    await eventually(
      'verifyProbe running on the trainer',
      async () => ((await handle.describe()).raw.pendingActivities ?? []).some((a) => a.activityType?.name === 'verifyProbe' && a.state === STARTED),
      60_000,
    );
    const t0 = Date.now();
    process.kill(first, 'SIGKILL');

    await eventually('the restart logged', async () => /was killed by SIGKILL after [\d.]+s; restarting in 1s \(restart 1\)/.test(output), 20_000);
    assert.match(output, new RegExp(`trainer \\(pid ${first}\\) was killed by SIGKILL`));
    await eventually('the trainer restarted and ready', async () => readyCount() >= 2, 120_000);
    const second = pids()[1]!;
    assert.ok(second && second !== first && alive(second));
    assert.match(output, new RegExp(`trainer started \\(pid ${second}\\), restart 1`));

    // The new process polls the trainer queues (the server names pollers pid@host).
    for (const queue of [cfg.taskQueues.gpu, cfg.taskQueues.trainCpu]) {
      await eventually(`a poller of ${queue} from pid ${second}`, async () => (await pollersOf(client, queue, 'activity')).some((p) => p.identity.startsWith(`${second}@`)), 30_000);
    }
    // The activity the dead trainer held is retried on the restarted one and the run completes.
    const result = await handle.result();
    assert.ok(result.verified.attempt >= 2, `verifyProbe attempt ${result.verified.attempt}`);
    console.log(`  trainer killed → run completed on the restarted trainer in ${((Date.now() - t0) / 1000).toFixed(1)}s`);

    launcher.kill('SIGTERM');
    const code = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 30_000))]);
    assert.equal(code, 0, output.slice(-2000));
    assert.match(output, /SIGTERM: stopping the trainer/);
    assert.match(output, /volcast trainer: stopped/);
    assert.ok(!alive(second), 'the trainer is gone with its launcher');
  });
});
