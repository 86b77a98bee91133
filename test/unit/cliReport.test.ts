/** How the CLI reports failures (pure: errors built in memory, output captured). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, WorkflowFailedError } from '@temporalio/client';
import { EXIT, failureChain, reportError, workflowRunError } from '../../cli/errors';
import { monthsOf, ProgressPrinter } from '../../cli/run';
import { loadConfig } from '../../lib/platform/config';
import { ConfigError, NoWorkerError, UsageError } from '../../lib/platform/errors';

const cfg = loadConfig({});

function report(err: unknown): { code: number; text: string } {
  let text = '';
  const code = reportError(err, cfg, (s) => (text += s));
  return { code, text };
}

describe('CLI failure reports', () => {
  const root = ApplicationFailure.create({ message: 'no champion for binance BTC/USDT 1h target_gk_1h: run a training first', type: 'NoChampionError', nonRetryable: true });
  const activity = new ActivityFailure('activity failed', 'scoreLatest', '7', 'NON_RETRYABLE_FAILURE', 'w@h', root);
  const child = new ChildWorkflowFailure('default', { workflowId: 'train-x/BTC-USDT/target_gk_1h', runId: 'r' }, 'trainSeries', 'NON_RETRYABLE_FAILURE', activity);
  const failed = new WorkflowFailedError('Workflow execution failed', child, 'NON_RETRYABLE_FAILURE');

  it('the chain from the child and the activity down to the root cause', () => {
    assert.deepEqual(failureChain(failed), [
      'child workflow train-x/BTC-USDT/target_gk_1h (trainSeries) failed',
      'activity scoreLatest failed',
      'NoChampionError: no champion for binance BTC/USDT 1h target_gk_1h: run a training first',
    ]);
    const { code, text } = report(workflowRunError(failed, 'train', 'train-x'));
    assert.equal(code, EXIT.failed);
    assert.match(text, /^volcast: failed: train workflow train-x\n {2}cause: NoChampionError: no champion for/);
    assert.match(text, /where: child workflow train-x\/BTC-USDT\/target_gk_1h \(trainSeries\) failed → activity scoreLatest failed/);
    assert.match(text, /Web UI: http:\/\/127\.0\.0\.1:8233\/namespaces\/default\/workflows\/train-x/);
    assert.equal(report(workflowRunError(failed, 'score', 's-1', true)).code, EXIT.partial);
  });

  it('exit codes: usage and config 2, no worker 4, a connection refused by MinIO 4 naming it', () => {
    assert.equal(report(new UsageError('--now: bad')).code, EXIT.usage);
    assert.equal(report(new ConfigError([{ path: 'schedules.score.cron', message: 'bad' }])).code, EXIT.usage);
    const noWorker = report(new NoWorkerError([{ queue: 'volcast-cpu', needs: 'the workflow', command: 'volcast worker cpu' }]));
    assert.equal(noWorker.code, EXIT.unavailable);
    assert.match(noWorker.text, /volcast-cpu \(the workflow\): start `volcast worker cpu`/);
    const refused = Object.assign(new Error(`connect ECONNREFUSED 127.0.0.1:${cfg.minio.port}`), { code: 'ECONNREFUSED', address: '127.0.0.1', port: cfg.minio.port });
    const minio = report(refused);
    assert.equal(minio.code, EXIT.unavailable);
    assert.match(minio.text, new RegExp(`cannot reach MinIO at 127\\.0\\.0\\.1:${cfg.minio.port}: connection refused.*\\n.*volcast dev up`));
    // A worker's connection error quoted in a run's cause is named too.
    const viaWorker = ApplicationFailure.create({ message: `connect ECONNREFUSED 127.0.0.1:${cfg.minio.port}`, type: 'Error' });
    assert.match(report(workflowRunError(new WorkflowFailedError('x', viaWorker, 'MAXIMUM_ATTEMPTS_REACHED'), 'score', 's')).text, /a worker could not reach MinIO at/);
    assert.equal(report(new Error('something else')).code, EXIT.failed);
  });
});

describe('progress helpers', () => {
  it('months of a backfill window done before the cursor', () => {
    const from = Date.UTC(2024, 0, 1);
    const end = Date.UTC(2025, 2, 1);
    assert.deepEqual(monthsOf(from, end, null), { done: 0, total: 14 });
    assert.deepEqual(monthsOf(from, end, Date.UTC(2024, 5, 10)), { done: 5, total: 14 });
    assert.deepEqual(monthsOf(from, end, end), { done: 14, total: 14 });
  });

  it('periodic lines (not a TTY): printed when changed, not repeated while unchanged', () => {
    let out = '';
    const stream = { isTTY: false, write: (s: string) => ((out += s), true) } as unknown as NodeJS.WriteStream;
    const p = new ProgressPrinter(stream);
    p.show({ line: 'train: fits 1/6 done', detail: ['BTC/USDT target_gk_1h [fit]: har_x 1/3'] });
    p.show({ line: 'train: fits 1/6 done', detail: ['BTC/USDT target_gk_1h [fit]: har_x 1/3'] });
    p.show({ line: 'train: fits 2/6 done' });
    assert.equal(out, '  … train: fits 1/6 done\n    BTC/USDT target_gk_1h [fit]: har_x 1/3\n  … train: fits 2/6 done\n');
  });
});
