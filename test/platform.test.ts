/**
 * The platform round trip against the real stack: a Temporal dev server, MinIO, the TypeScript
 * worker and the Python trainer worker as separate processes, killed and restarted for real.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ActivityFailure, ApplicationFailure, WorkflowFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { down, up } from '../infra/devStack';
import type { VolcastConfig } from '../lib/platform/config';
import { ArtifactStore, sha256Of } from '../lib/platform/store';
import { layout } from '../lib/platform/layout';
import { connectClient } from '../lib/platform/temporal';
import { startWorker, stopWorker, type LocalWorker } from '../workers/local';
import { taskQueues } from '../temporal.config';
import type { PlatformRoundTripResult } from '../workflows';
import { eventually, testConfig, uid } from './helpers';
import { platformRoundTrip, verifyObject } from '../workflows';

const STARTED = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;

async function activityRunning(handle: WorkflowHandle, activityType: string): Promise<boolean> {
  const d = await handle.describe();
  return (d.raw.pendingActivities ?? []).some((a) => a.activityType?.name === activityType && a.state === STARTED);
}

function byteSum(buf: Buffer): number {
  let s = 0;
  for (const b of buf) s += b;
  return s;
}

describe('platform round trip (real Temporal + MinIO + both workers)', () => {
  let cfg: VolcastConfig;
  let client: Client;
  let store: ArtifactStore;
  const workers: Record<'cpu' | 'train', LocalWorker | undefined> = { cpu: undefined, train: undefined };

  before(async () => {
    cfg = testConfig();
    store = new ArtifactStore(cfg);
    [workers.cpu, workers.train] = await Promise.all([startWorker(cfg, 'cpu'), startWorker(cfg, 'train', { gpuOnCpu: true })]);
    client = await connectClient(cfg);
  });

  after(async () => {
    for (const w of Object.values(workers)) if (w) await stopWorker(w);
    await client?.connection.close();
  });

  async function checkResult(runId: string, r: PlatformRoundTripResult): Promise<void> {
    const written = await store.getBuffer(r.written.ref);
    assert.deepEqual(JSON.parse(written.toString()), { runId, message: `message ${runId}` });
    assert.equal(r.written.ref.key, layout.probe(runId, 'probe.json'));
    assert.equal(r.verified.sourceSha256, r.written.ref.sha256);
    assert.equal(r.verified.bytes, written.length);
    assert.equal(r.verified.byteSum, byteSum(written));
    assert.equal(r.verified.ref.key, layout.probe(runId, 'verified.json'));
    const verified = JSON.parse((await store.getBuffer(r.verified.ref)).toString());
    assert.equal(verified.sourceSha256, sha256Of(written));
    assert.ok(['cpu', 'cuda'].includes(verified.device));
  }

  function start(runId: string, extra: { writeHoldSeconds?: number; verifyHoldSeconds?: number } = {}) {
    return client.workflow.start(platformRoundTrip, {
      taskQueue: taskQueues.cpu,
      workflowId: `test-${runId}`,
      args: [{ runId, message: `message ${runId}`, ...extra }],
    });
  }

  it('a TypeScript activity writes an object, a Python activity on volcast-gpu verifies it by reference', async () => {
    const runId = uid('rt');
    const handle = await start(runId);
    const r = (await handle.result());
    await checkResult(runId, r);
    assert.equal(r.written.attempt, 1);
    assert.equal(r.verified.attempt, 1);
  });

  it('a corrupted object fails at once with a clear non-retryable error', async () => {
    const runId = uid('corrupt');
    const ref = await store.putBuffer(layout.probe(runId, 'input.bin'), 'the real bytes');
    await store.client.putObject(store.bucket, ref.key, Buffer.from('flipped bytes!'));
    const handle = await client.workflow.start(verifyObject, {
      taskQueue: taskQueues.cpu,
      workflowId: `test-${runId}`,
      args: [{ ref, runId }],
    });
    const err = await handle.result().then(
      () => assert.fail('expected the workflow to fail'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError);
    assert.ok(err.cause instanceof ActivityFailure);
    const app = err.cause.cause;
    assert.ok(app instanceof ApplicationFailure);
    assert.equal(app.type, 'IntegrityError');
    assert.equal(app.nonRetryable, true);
    assert.match(app.message, new RegExp(`${ref.key}.*corrupt.*${ref.sha256}`));
    // One attempt only: permanent errors are not retried.
    const history = await handle.fetchHistory();
    const starts = (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes);
    assert.equal(starts.length, 1);
    assert.equal(starts[0]!.activityTaskStartedEventAttributes!.attempt, 1);
  });

  it('the trainer SIGKILLed mid-activity and restarted lets the workflow complete', async () => {
    const runId = uid('killpy');
    const handle = await start(runId, { verifyHoldSeconds: 4 });
    await eventually('verifyProbe running', () => activityRunning(handle, 'verifyProbe'));
    workers.train!.child.kill('SIGKILL');
    await workers.train!.exited;
    workers.train = await startWorker(cfg, 'train', { gpuOnCpu: true });
    const r = (await handle.result());
    await checkResult(runId, r);
    assert.ok(r.verified.attempt >= 2, `expected a retried attempt, got ${r.verified.attempt}`);
  });

  it('the TypeScript worker SIGKILLed mid-activity and restarted lets the workflow complete', async () => {
    const runId = uid('killts');
    const handle = await start(runId, { writeHoldSeconds: 4 });
    await eventually('writeProbe running', () => activityRunning(handle, 'writeProbe'));
    workers.cpu!.child.kill('SIGKILL');
    await workers.cpu!.exited;
    workers.cpu = await startWorker(cfg, 'cpu');
    const r = (await handle.result());
    await checkResult(runId, r);
    assert.ok(r.written.attempt >= 2, `expected a retried attempt, got ${r.written.attempt}`);
  });

  it('the Temporal dev server restarted mid-workflow keeps the workflow (SQLite file)', async () => {
    const runId = uid('restart');
    const handle = await start(runId, { writeHoldSeconds: 3 });
    await eventually('writeProbe running', () => activityRunning(handle, 'writeProbe'));
    await down(cfg, { only: ['temporal'], log: () => {} });
    await up(cfg, { only: ['temporal'], log: () => {} });
    const r: PlatformRoundTripResult = await client.workflow.getHandle<typeof platformRoundTrip>(handle.workflowId).result();
    await checkResult(runId, r);
  });
});
