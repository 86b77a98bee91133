/** Schedules against the real dev server (the time-skipping test server does not run schedules). */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import type { VolcastConfig } from '../lib/platform/config';
import { applySchedules, listSchedules, pauseSchedule, scheduleSpecs, triggerSchedule } from '../lib/orchestration/schedules';
import { connectClient } from '../lib/platform/temporal';
import { eventually, testConfig, uid } from './helpers';

describe('schedules (real Temporal dev server)', () => {
  let cfg: VolcastConfig;
  let client: Client;
  const prefix = uid('sched');
  before(async () => {
    cfg = testConfig();
    client = await connectClient(cfg);
  });
  after(async () => {
    for (const s of scheduleSpecs(cfg, prefix)) await client.schedule.getHandle(s.scheduleId).delete().catch(() => undefined);
    await client.connection.close();
  });

  it('apply creates the declared schedules, then updates them idempotently', async () => {
    assert.deepEqual(
      (await applySchedules(client, cfg, prefix)).map((r) => r.action),
      ['created', 'created', 'created'],
    );
    assert.deepEqual(
      (await applySchedules(client, cfg, prefix)).map((r) => r.action),
      ['updated', 'updated', 'updated'],
    );
    const d = await client.schedule.getHandle(`${prefix}-score`).describe();
    assert.equal(d.policies.overlap, 'SKIP');
    assert.equal(d.policies.catchupWindow, 3_600_000);
    assert.equal(d.action.type, 'startWorkflow');
    assert.equal(d.action.type === 'startWorkflow' && d.action.workflowType, 'score');
    assert.equal(d.action.type === 'startWorkflow' && d.action.taskQueue, cfg.taskQueues.cpu);
    // Hourly at minute 5: the next fire times are an hour apart, at :05.
    const next = d.info.nextActionTimes;
    assert.ok(next.length >= 2);
    assert.equal(next[0]!.getUTCMinutes(), 5);
    assert.equal(next[1]!.getTime() - next[0]!.getTime(), 3_600_000);
    // The daily training runs the `scheduled` protocol: every model kind and the ensembles, same gates.
    const t = await client.schedule.getHandle(`${prefix}-train`).describe();
    assert.ok(t.action.type === 'startWorkflow');
    const trainArgs = (t.action.type === 'startWorkflow' ? (t.action.args ?? []) : [])[0] as { protocol: { models: { kind: string }[]; ensembles: { name: string }[] } };
    assert.deepEqual(
      [...new Set(trainArgs.protocol.models.map((m) => m.kind))].sort(),
      ['bilstm_attn', 'ewma', 'garch', 'har_rv', 'har_x', 'lightgbm', 'log_har', 'lstm', 'lstm_jump', 'persistence', 'sph_net', 'xgboost'],
    );
    assert.deepEqual(trainArgs.protocol.ensembles.map((e) => e.name), ['ens_equal', 'ens_qlike']);
    // Daily housekeeping with the config's retention policy, resolved into its input.
    const h = await client.schedule.getHandle(`${prefix}-housekeeping`).describe();
    assert.equal(h.action.type === 'startWorkflow' && h.action.workflowType, 'housekeeping');
    assert.deepEqual((h.action.type === 'startWorkflow' ? (h.action.args ?? []) : [])[0], { policy: { graceMs: 48 * 3_600_000, keepTrainRuns: cfg.housekeeping.keepTrainRuns, historyFeatureSets: cfg.housekeeping.historyFeatureSets }, dryRun: false });
    assert.equal(h.info.nextActionTimes[0]!.getUTCHours(), 3);
    const rows = await listSchedules(client, prefix);
    assert.deepEqual(rows.map((r) => r.id), [`${prefix}-housekeeping`, `${prefix}-score`, `${prefix}-train`]);
  });

  it('pause and unpause are visible in describe', async () => {
    await pauseSchedule(client, `${prefix}-train`, true, 'test pause');
    let d = await client.schedule.getHandle(`${prefix}-train`).describe();
    assert.equal(d.state.paused, true);
    assert.equal(d.state.note, 'test pause');
    await pauseSchedule(client, `${prefix}-train`, false);
    d = await client.schedule.getHandle(`${prefix}-train`).describe();
    assert.equal(d.state.paused, false);
  });

  it('trigger starts a workflow run of the declared type with the config-derived input', async () => {
    await triggerSchedule(client, `${prefix}-score`);
    const run = await eventually('a scheduled run', async () => {
      for await (const w of client.workflow.list({ query: `TemporalScheduledById = "${prefix}-score"` })) return w;
      return undefined;
    });
    assert.equal(run.type, 'score');
    assert.equal(run.taskQueue, cfg.taskQueues.cpu);
    const handle = client.workflow.getHandle(run.workflowId, run.runId);
    const history = await handle.fetchHistory();
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    assert.ok(started?.input?.payloads?.length === 1);
    const input = JSON.parse(Buffer.from(started.input.payloads[0]!.data!).toString());
    assert.deepEqual(input.symbols, cfg.symbols);
    assert.equal(input.maxDataAgeMinutes, cfg.scoring.maxDataAgeMinutes);
    // No worker serves `score` in this test; stop the run we started.
    await handle.terminate('test over');
  });
});
