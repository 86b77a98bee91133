/**
 * The cron check at config load agrees with the real Temporal server: an expression the config
 * refuses is one Temporal refuses at `schedules apply` (so it now fails at load, naming the field,
 * instead), and one it accepts, Temporal accepts with the same fire times as cron-parser computes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@temporalio/client';
import { CronExpressionParser } from 'cron-parser';
import { ConfigError, loadConfig } from '../lib/platform/config';
import { applySchedules, scheduleSpecs } from '../lib/orchestration/schedules';
import { connectClient } from '../lib/platform/temporal';
import { volcastConfig } from '../temporal.config';
import { testConfig, uid } from './helpers';

function configWith(cron: string) {
  return { ...volcastConfig, schedules: { ...volcastConfig.schedules, score: { ...volcastConfig.schedules.score, cron, paused: true } } };
}

describe('schedule crons: config load and the Temporal server agree', () => {
  let client: Client;
  const prefix = uid('cron');
  before(async () => {
    client = await connectClient(testConfig());
  });
  after(async () => {
    for (const s of scheduleSpecs(testConfig(), prefix)) await client.schedule.getHandle(s.scheduleId).delete().catch(() => undefined);
    await client.connection.close();
  });

  it('"75 * * * *": Temporal refuses it at schedules apply; the config refuses it at load, naming schedules.score.cron', async () => {
    const cfg = testConfig();
    // What `schedules apply` sent before: Temporal's own refusal, which names no config field.
    await assert.rejects(
      client.schedule.create({ scheduleId: `${prefix}-raw`, spec: { cronExpressions: ['75 * * * *'] }, action: { type: 'startWorkflow', workflowType: 'score', args: [], taskQueue: cfg.taskQueues.cpu }, state: { paused: true } }),
      /Minute is not in range/,
    );
    assert.throws(
      () => loadConfig({ VOLCAST_STATE_DIR: cfg.stateDir }, configWith('75 * * * *')),
      (e: unknown) => e instanceof ConfigError && e.issues.some((i) => i.path === 'schedules.score.cron' && /0-59/.test(i.message)),
    );
  });

  it('an accepted expression is applied by Temporal with the fire times cron-parser computes', async () => {
    const base = testConfig();
    for (const cron of ['*/20 9-17 * JAN-MAR,OCT-DEC MON-FRI', '0 6 1,15 * *', '30 0 * * 7']) {
      const cfg = { ...loadConfig({ VOLCAST_STATE_DIR: base.stateDir }, configWith(cron)), temporal: base.temporal, minio: base.minio };
      await applySchedules(client, cfg, prefix);
      const d = await client.schedule.getHandle(`${prefix}-score`).describe();
      const next = d.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString());
      const fires = CronExpressionParser.parse(cron, { tz: 'UTC', currentDate: new Date(d.info.nextActionTimes[0]!.getTime() - 1000) });
      const expected = [0, 1, 2].map(() => fires.next().toDate().toISOString());
      assert.deepEqual(next, expected, cron);
    }
  });
});
