/**
 * The score workflow's logic with stubbed activities: the bar to score is the one that closed last
 * at the clock; a late bar is waited for (re-ingesting) for the configured time, then reported;
 * every pair is attempted and each failure reported, with the forecasts that succeeded.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import type { ScoreBarInput, ScoreBarResult, ScoreInput, ScoreResult } from '../../contracts/types';
import { lastClosedBar, score } from '../../workflows/score';
import { useStubStack } from './env';

const H = 3_600_000;
const asOf = Date.UTC(2026, 1, 1, 10, 5);
const expected = Date.UTC(2026, 1, 1, 9);
const input = (extra: Partial<ScoreInput> = {}): ScoreInput => ({
  exchange: 'binance', symbols: ['BTC/USDT', 'ETH/USDT'], timeframe: '1h', targets: ['target_gk_1h', 'target_rv_24h'],
  maxDataAgeMinutes: 120, lateBarWaitMinutes: 0.05, lateBarRetrySeconds: 1, now: asOf, ...extra,
});
const KEYS = ['binance:BTC-USDT:1h', 'binance:ETH-USDT:1h'];
const record = (symbol: string, target: string) => ({ exchange: 'binance', symbol, timeframe: '1h', target, barTs: expected, value: 0.01, lower80: null, upper80: null, lower95: null, upper95: null, regime: null, modelId: 'm', modelName: 'har_x', featureSetId: null, dataWatermark: expected, inputsSha256: 'i'.repeat(64), featureDefinitionsSha: 'd'.repeat(64) });
/** scoreBar as the activity answers: nothing scored while BTC is late and scoreLate is false; else every pair, BTC's failing as late. */
const scoreBar = (btcWatermark: number) => async (i: unknown): Promise<ScoreBarResult> => {
  const s = i as ScoreBarInput;
  const watermarks = { [KEYS[0]!]: btcWatermark, [KEYS[1]!]: expected };
  if (btcWatermark < s.expectedBarTs && !s.scoreLate) return { watermarks, scored: false, records: [], failures: [], written: 0 };
  const pairs = s.series.flatMap((x) => s.targets.map((target) => ({ symbol: x.symbol, target })));
  const late = (p: { symbol: string }) => p.symbol === 'BTC/USDT' && btcWatermark < s.expectedBarTs;
  return {
    watermarks, scored: true, written: 0,
    records: pairs.filter((p) => !late(p)).map((p) => record(p.symbol, p.target)),
    failures: pairs.filter(late).map((p) => ({ ...p, error: `LateBarError: the bar of ${p.symbol} is not in the data` })),
  };
};

describe('score workflow logic (stubbed activities, real dev server)', () => {
  const suite = useStubStack();
  const run = (i: ScoreInput) => suite.execute(score, i, 's');
  const called = (name: string) => suite.called(name);

  it('scores the bar that closed last at the clock, waiting (re-ingesting) while the exchange publishes it late', () => {
    assert.equal(lastClosedBar(asOf, H), expected);
    assert.equal(lastClosedBar(Date.UTC(2026, 1, 1, 10), H), expected, 'at the close itself, that bar has closed');
  });

  it('a bar that arrives after two retries is scored; one scoreBar per try scores every pair of the universe, told which bar', async () => {
    let tries = 0;
    suite.stack.stubs = {
      ingest: async () => ({}),
      scoreBar: async (i) => scoreBar(++tries < 3 ? expected - H : expected)(i),
    };
    const r = await run(input());
    assert.equal(tries, 3);
    assert.equal(called('ingest').length, 6, 'both symbols re-ingested on each try');
    assert.equal(called('buildFeatures').length + called('scoreLatest').length, 0, 'no feature set is built, no per-pair activity');
    assert.equal(r.barTs, expected);
    assert.equal(r.featureSetId, null);
    assert.equal(r.forecasts.length, 4);
    const calls = called('scoreBar') as ScoreBarInput[];
    assert.deepEqual(calls.map((c) => c.scoreLate), [false, false, false], 'within the wait: late series are not scored yet');
    assert.ok(calls.every((c) => c.expectedBarTs === expected && c.asOf === asOf && c.maxDataAgeMinutes === 120));
    assert.deepEqual(calls[0]!.series.map((x) => x.symbol), ['BTC/USDT', 'ETH/USDT']);
    assert.deepEqual(calls[0]!.targets, ['target_gk_1h', 'target_rv_24h']);
  });

  it('stops waiting after lateBarWaitMinutes and lets scoring report the late bar; without ingest it does not wait', async () => {
    let tries = 0;
    suite.stack.stubs = {
      ingest: async () => ({}),
      scoreBar: async (i) => (tries++, scoreBar(expected - H)(i)),
    };
    const err = await run(input()).then(() => assert.fail('expected a failure'), (e: unknown) => e);
    assert.ok(tries >= 3 && tries <= 4, `retried for ~3 s at 1 s intervals: ${tries} tries`);
    assert.equal((called('scoreBar') as ScoreBarInput[]).at(-1)!.scoreLate, true, 'the last try scores and reports');
    assert.ok(err instanceof WorkflowFailedError);
    const f = err.cause as ApplicationFailure;
    assert.equal(f.type, 'ScoreFailed');
    assert.match(f.message, /scoring failed for 2 of 4: BTC\/USDT target_gk_1h: LateBarError: the bar of BTC\/USDT is not in the data/);
    // The forecasts that succeeded are in the failure's details, with each failure.
    const details = f.details![0] as ScoreResult;
    assert.deepEqual(details.forecasts.map((x) => `${x.symbol} ${x.target}`), ['ETH/USDT target_gk_1h', 'ETH/USDT target_rv_24h']);
    assert.deepEqual(details.failures.map((x) => `${x.symbol} ${x.target}`), ['BTC/USDT target_gk_1h', 'BTC/USDT target_rv_24h']);

    tries = 0;
    suite.stack.calls.length = 0;
    await run(input({ ingest: false })).catch(() => undefined);
    assert.equal(tries, 1);
    assert.equal((called('scoreBar') as ScoreBarInput[])[0]!.scoreLate, true);
    assert.equal(called('ingest').length, 0);
  });

  it('a scoreBar failure (bad input for the whole run) fails the run with its cause', async () => {
    suite.stack.stubs = { ingest: async () => ({}), scoreBar: async () => { throw ApplicationFailure.nonRetryable('no candles for binance:BTC-USDT:1h: no manifest', 'FeatureInputError'); } };
    const err = await run(input({ ingest: false })).then(() => assert.fail('expected a failure'), (e: unknown) => e);
    assert.ok(err instanceof WorkflowFailedError);
    assert.match(String((err.cause as Error & { cause?: Error }).cause?.message), /no candles for binance:BTC-USDT:1h/);
  });
});
