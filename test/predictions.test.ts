import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { appendPredictions, readPredictions, tailPredictions, type PredictionRecord } from '../lib/scoring/predictions';
import { layout } from '../lib/platform/layout';
import { ArtifactStore } from '../lib/platform/store';
import { testConfig, uid } from './helpers';

describe('prediction records (real MinIO + DuckDB)', () => {
  let store: ArtifactStore;
  let exchange: string;
  before(() => {
    store = new ArtifactStore(testConfig());
    exchange = uid('pred').replace('-', '');
  });
  const H = 3_600_000;
  const rec = (barTs: number, value: number, modelId = 'm1'): PredictionRecord => ({
    exchange, symbol: 'ETH/USDT', timeframe: '1h', target: 'target_gk_1h', barTs, value,
    lower80: value * 0.8, upper80: value * 1.2, lower95: null, upper95: null, regime: 'medium',
    modelId, modelName: 'har_rv', featureSetId: 'fs1', dataWatermark: barTs,
  });

  it('appends idempotently: the same record again writes nothing; a new bar adds a row', async () => {
    const t = Date.UTC(2026, 1, 1, 5);
    const a = await appendPredictions(store, [rec(t, 0.01)]);
    assert.equal(a.written, true);
    const again = await appendPredictions(store, [rec(t, 0.01)]);
    assert.equal(again.written, false);
    assert.equal(again.ref.sha256, a.ref.sha256);
    await appendPredictions(store, [rec(t + H, 0.02)]);
    const rows = await readPredictions(store, { exchange, symbol: 'ETH/USDT', timeframe: '1h' }, 'target_gk_1h', '2026-02');
    assert.deepEqual(rows.map((r) => [r.barTs, r.value, r.regime, r.lower95]), [[t, 0.01, 'medium', null], [t + H, 0.02, 'medium', null]]);
    assert.ok(a.ref.key === layout.predictions({ exchange, symbol: 'ETH/USDT', timeframe: '1h' }, 'target_gk_1h', '2026-02'));
  });

  it('tail reads across months, newest last', async () => {
    await appendPredictions(store, [rec(Date.UTC(2026, 2, 1, 0), 0.03)]);
    const tail = await tailPredictions(store, { exchange, symbol: 'ETH/USDT', timeframe: '1h' }, 'target_gk_1h', 2);
    assert.deepEqual(tail.map((r) => r.value), [0.02, 0.03]);
  });

  it('refuses records of mixed months and non-finite values', async () => {
    await assert.rejects(appendPredictions(store, [rec(Date.UTC(2026, 0, 31, 23), 0.1), rec(Date.UTC(2026, 1, 1, 0), 0.1)]), /one series, target and month/);
    await assert.rejects(appendPredictions(store, [rec(Date.UTC(2026, 3, 1), Number.NaN)]), /not a finite number/);
  });
});
