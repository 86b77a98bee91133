/** Cron fields of the schedules are checked at config load (cron-parser), naming the field. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../lib/platform/config';
import { volcastConfig } from '../../temporal.config';

function withCron(name: 'score' | 'train' | 'housekeeping', cron: string) {
  return { ...volcastConfig, schedules: { ...volcastConfig.schedules, [name]: { ...volcastConfig.schedules[name], cron } } };
}

function issues(name: 'score' | 'train' | 'housekeeping', cron: string): { path: string; message: string }[] {
  try {
    loadConfig({}, withCron(name, cron));
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.issues;
  }
}

describe('schedule cron expressions (config load)', () => {
  it('a value out of a field\'s range fails at load, naming schedules.<name>.cron and the range', () => {
    const [i] = issues('score', '75 * * * *');
    assert.equal(i?.path, 'schedules.score.cron');
    assert.match(i!.message, /invalid cron expression "75 \* \* \* \*": .*75.*0-59/);
    assert.equal(issues('train', '30 24 * * *')[0]?.path, 'schedules.train.cron');
    assert.match(issues('train', '30 24 * * *')[0]!.message, /0-23/);
    for (const bad of ['0 0 0 * *', '0 0 * 13 *', '0 0 * * 8', '*/0 * * * *', '5-1 * * * *', 'a b c d e']) {
      assert.equal(issues('score', bad)[0]?.path, 'schedules.score.cron', bad);
    }
  });

  it('only five fields; characters Temporal reads differently or refuses (L W # ? H) are refused', () => {
    assert.match(issues('score', '5 * * *')[0]!.message, /five-field.*got 4/);
    assert.match(issues('score', '@hourly')[0]!.message, /five-field/);
    for (const bad of ['0 0 L * *', '0 0 1W * *', '0 0 * * 1#2', '0 0 ? * MON', 'H * * * *', '0 0 * * 5L']) {
      assert.match(issues('score', bad)[0]?.message ?? '', /may hold only/, bad);
    }
  });

  it('accepts the declared schedules and ordinary expressions with names, lists, ranges and steps', () => {
    assert.deepEqual(issues('score', volcastConfig.schedules.score.cron), []);
    assert.deepEqual(issues('train', volcastConfig.schedules.train.cron), []);
    assert.deepEqual(issues('housekeeping', volcastConfig.schedules.housekeeping.cron), []);
    assert.equal(issues('housekeeping', '45 3 * * 9')[0]?.path, 'schedules.housekeeping.cron');
    for (const ok of ['*/15 9-17 * JAN-MAR MON-FRI', '0 0 * * 7', '1-5/2 * * * *', '0 0 * * sun', '0,30 */2 1,15 * *']) assert.deepEqual(issues('score', ok), [], ok);
  });
});
