/**
 * The score workflow's logic with stubbed activities: the bar to score is the one that closed last
 * at the clock; a late bar is waited for (re-ingesting) for the configured time, then reported;
 * every pair is attempted and each failure reported, with the forecasts that succeeded.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import type { BuildFeaturesResult, ScoreInput, ScoreLatestInput, ScoreResult } from '../../contracts/types';
import { lastClosedBar, score } from '../../workflows/score';
import { useStubStack } from './env';

const H = 3_600_000;
const ref = (key: string) => ({ bucket: 'volcast', key, sha256: 'x'.repeat(64) });
const asOf = Date.UTC(2026, 1, 1, 10, 5);
const expected = Date.UTC(2026, 1, 1, 9);
const input = (extra: Partial<ScoreInput> = {}): ScoreInput => ({
  exchange: 'binance', symbols: ['BTC/USDT', 'ETH/USDT'], timeframe: '1h', targets: ['target_gk_1h', 'target_rv_24h'],
  maxDataAgeMinutes: 120, lateBarWaitMinutes: 0.05, lateBarRetrySeconds: 1, now: asOf, ...extra,
});
const features = (watermark: number): BuildFeaturesResult => ({
  ref: ref('features/fs/_manifest.json'), featureSetId: `fs-${watermark}`, rows: 10, columns: [],
  watermark: { 'binance:BTC-USDT:1h': watermark, 'binance:ETH-USDT:1h': expected },
  series: ['BTC/USDT', 'ETH/USDT'].map((symbol) => ({ series: { exchange: 'binance', symbol, timeframe: '1h' }, ref: ref(`f/${symbol}`), rows: 10, watermark: symbol === 'BTC/USDT' ? watermark : expected })),
  definitionsSha: 'd', mode: 'full', recomputedRows: 10,
});
const record = (i: ScoreLatestInput) => ({ exchange: 'binance', symbol: i.series.symbol, timeframe: '1h', target: i.target, barTs: i.expectedBarTs, value: 0.01, lower80: null, upper80: null, lower95: null, upper95: null, regime: null, modelId: 'm', modelName: 'har_x', featureSetId: i.featureSetId, dataWatermark: i.expectedBarTs });

describe('score workflow logic (stubbed activities, real dev server)', () => {
  const suite = useStubStack();
  const run = (i: ScoreInput) => suite.execute(score, i, 's');
  const called = (name: string) => suite.called(name);

  it('scores the bar that closed last at the clock, waiting (re-ingesting) while the exchange publishes it late', () => {
    assert.equal(lastClosedBar(asOf, H), expected);
    assert.equal(lastClosedBar(Date.UTC(2026, 1, 1, 10), H), expected, 'at the close itself, that bar has closed');
  });

  it('a bar that arrives after two retries is scored; every scoreLatest is told which bar', async () => {
    let builds = 0;
    suite.stack.stubs = {
      ingest: async () => ({}),
      buildFeatures: async () => features(++builds < 3 ? expected - H : expected),
      scoreLatest: async (i) => ({ record: record(i as ScoreLatestInput), predictionsRef: ref('p'), written: true }),
    };
    const r = await run(input());
    assert.equal(builds, 3);
    assert.equal(called('ingest').length, 6, 'both symbols re-ingested on each try');
    assert.equal(r.barTs, expected);
    assert.equal(r.forecasts.length, 4);
    assert.ok((called('scoreLatest') as ScoreLatestInput[]).every((i) => i.expectedBarTs === expected && i.featureSetId === `fs-${expected}`));
    assert.deepEqual((called('scoreLatest')[0] as ScoreLatestInput).featureUniverse, ['binance:BTC-USDT:1h', 'binance:ETH-USDT:1h']);
  });

  it('stops waiting after lateBarWaitMinutes and lets scoring report the late bar; without ingest it does not wait', async () => {
    let builds = 0;
    suite.stack.stubs = {
      ingest: async () => ({}),
      buildFeatures: async () => (builds++, features(expected - H)),
      scoreLatest: async (i) => {
        const s = i as ScoreLatestInput;
        if (s.series.symbol === 'BTC/USDT') throw ApplicationFailure.nonRetryable(`the bar of ${s.series.symbol} is not in the data`, 'LateBarError');
        return { record: record(s), predictionsRef: ref('p'), written: true };
      },
    };
    const err = await run(input()).then(() => assert.fail('expected a failure'), (e: unknown) => e);
    assert.ok(builds >= 3 && builds <= 4, `retried for ~3 s at 1 s intervals: ${builds} builds`);
    assert.ok(err instanceof WorkflowFailedError);
    const f = err.cause as ApplicationFailure;
    assert.equal(f.type, 'ScoreFailed');
    assert.match(f.message, /scoring failed for 2 of 4: BTC\/USDT target_gk_1h: LateBarError: the bar of BTC\/USDT is not in the data/);
    // The forecasts that succeeded are in the failure's details, with each failure.
    const details = f.details![0] as ScoreResult;
    assert.deepEqual(details.forecasts.map((x) => `${x.symbol} ${x.target}`), ['ETH/USDT target_gk_1h', 'ETH/USDT target_rv_24h']);
    assert.deepEqual(details.failures.map((x) => `${x.symbol} ${x.target}`), ['BTC/USDT target_gk_1h', 'BTC/USDT target_rv_24h']);

    builds = 0;
    suite.stack.calls.length = 0;
    await run(input({ ingest: false })).catch(() => undefined);
    assert.equal(builds, 1);
    assert.equal(called('ingest').length, 0);
  });
});
