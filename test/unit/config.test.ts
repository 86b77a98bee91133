import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, parseConfig } from '../../lib/platform/config';
import { volcastConfig } from '../../temporal.config';
import { durationMs } from '../../lib/platform/configSchema';
import { retentionPolicy } from '../../lib/orchestration/inputs';

const noEnv = {};

function issuePaths(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.issues.map((i) => i.path);
  }
  assert.fail('expected a ConfigError');
}

describe('config', () => {
  it('the declared config is valid and resolves the state folder to an absolute path', () => {
    const cfg = loadConfig(noEnv);
    assert.equal(cfg.taskQueues.cpu, 'volcast-cpu');
    assert.equal(cfg.taskQueues.trainCpu, 'volcast-train-cpu');
    assert.equal(cfg.taskQueues.gpu, 'volcast-gpu');
    assert.ok(cfg.stateDir.startsWith('/'));
  });

  it('environment overrides set addresses, ports and credentials', () => {
    const cfg = loadConfig({
      VOLCAST_TEMPORAL_ADDRESS: 'temporal.internal:7233',
      VOLCAST_S3_PORT: '9100',
      VOLCAST_S3_USE_SSL: 'true',
      VOLCAST_S3_ACCESS_KEY: 'ak-test',
      VOLCAST_S3_SECRET_KEY: 'sk-test-123456',
      VOLCAST_STATE_DIR: '/tmp/volcast-x',
    });
    assert.equal(cfg.temporal.address, 'temporal.internal:7233');
    assert.equal(cfg.minio.port, 9100);
    assert.equal(cfg.minio.useSSL, true);
    assert.equal(cfg.minio.accessKey, 'ak-test');
    assert.equal(cfg.stateDir, '/tmp/volcast-x');
  });

  it('credentials come from the state folder file when the environment has none', () => {
    const dir = mkdtempSync(join(tmpdir(), 'volcast-cfg-'));
    writeFileSync(join(dir, 'credentials.env'), 'VOLCAST_S3_ACCESS_KEY=from-file\nVOLCAST_S3_SECRET_KEY=secret-from-file\n');
    const cfg = loadConfig({ VOLCAST_STATE_DIR: dir });
    assert.equal(cfg.minio.accessKey, 'from-file');
    assert.equal(cfg.minio.secretKey, 'secret-from-file');
  });

  it('an invalid environment value names the field it sets', () => {
    assert.deepEqual(issuePaths(() => loadConfig({ VOLCAST_S3_PORT: 'nine-thousand' })), ['minio.port']);
    assert.deepEqual(issuePaths(() => loadConfig({ VOLCAST_TEMPORAL_ADDRESS: 'no-port' })), ['temporal.address']);
    assert.deepEqual(issuePaths(() => loadConfig({ VOLCAST_S3_USE_SSL: 'yes' })), ['minio.useSSL']);
    assert.deepEqual(issuePaths(() => loadConfig({ VOLCAST_BUCKET: 'Bad_Bucket' })), ['minio.bucket']);
  });

  it('invalid declared values are reported with their path', () => {
    const bad = structuredClone(volcastConfig) as unknown as Record<string, any>;
    bad.symbols = ['BTC/USDT', 'btcusdt'];
    bad.timeframes = ['7m'];
    bad.schedules.score.cron = 'every hour';
    bad.protocols.a.walkForward.testBars = 0;
    bad.taskQueues.gpu = 'volcast-cpu';
    bad.surprise = true;
    const paths = issuePaths(() => parseConfig(bad));
    for (const p of ['symbols.1', 'timeframes.0', 'schedules.score.cron', 'protocols.a.walkForward.testBars', '(root)']) {
      assert.ok(paths.includes(p), `missing ${p} in ${paths.join(', ')}`);
    }
    for (const [testFrom, extra] of [['2020-13-01', {}], ['2020-02-30', {}], ['1 Jan 2020', {}], ['2020-01-01', { folds: 3 }]] as const) {
      const wf = structuredClone(volcastConfig) as unknown as Record<string, any>;
      Object.assign(wf.protocols.b.walkForward, { testFrom, ...extra });
      assert.deepEqual(issuePaths(() => parseConfig(wf)), ['protocols.b.walkForward.testFrom'], testFrom);
    }
    const dup = structuredClone(volcastConfig) as unknown as Record<string, any>;
    dup.taskQueues.gpu = 'volcast-cpu';
    assert.deepEqual(issuePaths(() => parseConfig(dup)), ['taskQueues']);
  });

  it('the message lists every problem with its field', () => {
    try {
      loadConfig({ VOLCAST_S3_PORT: '0', VOLCAST_TEMPORAL_UI_PORT: '70000' });
      assert.fail('expected ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /minio\.port/);
      assert.match(err.message, /temporal\.uiPort/);
    }
  });
});

describe('the retention policy (housekeeping)', () => {
  const paths = (change: (h: Record<string, unknown>) => void) => {
    const c = structuredClone(volcastConfig) as unknown as Record<string, any>;
    change(c.housekeeping);
    try {
      parseConfig(c);
      return [];
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.issues.map((i) => `${i.path}: ${i.message}`);
    }
  };

  it('the declared policy loads and resolves into the planner\'s units', () => {
    const cfg = parseConfig(structuredClone(volcastConfig));
    assert.deepEqual(retentionPolicy(cfg), { graceMs: 48 * 3_600_000, keepTrainRuns: 3, historyFeatureSets: false });
    assert.equal(durationMs('90m'), 5_400_000);
    assert.equal(durationMs('2d'), 172_800_000);
  });

  it('a bad value names its field', () => {
    assert.match(paths((h) => (h.grace = '2 days')).join(), /^housekeeping\.grace: expected a duration/);
    assert.match(paths((h) => (h.grace = '1h')).join(), /^housekeeping\.grace: must be at least 6h/);
    assert.match(paths((h) => (h.keepTrainRuns = 0)).join(), /^housekeeping\.keepTrainRuns: at least 1/);
    assert.match(paths((h) => (h.keepTrainRuns = 2.5)).join(), /^housekeeping\.keepTrainRuns: /);
    assert.match(paths((h) => (h.historyFeatureSets = 'no')).join(), /^housekeeping\.historyFeatureSets: /);
    assert.match(paths((h) => (h.keepForever = true)).join(), /^housekeeping: .*keepForever/);
    assert.deepEqual(paths((h) => (h.grace = '6h')), []);
  });
});
