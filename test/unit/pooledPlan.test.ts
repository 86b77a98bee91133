/**
 * Pooled specs (params.pooled) in config and in the plan: only poolable kinds, a universe from the
 * feature set's series, one poolId per fold shared by every series of the run, and a pool window
 * that ends where the fold's training rows do (the same embargo before the test window for every
 * series). DuckDB over a local Parquet, no stack.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { horizonBarsOf } from '../../contracts/domain';
import type { PlanTrainingInput } from '../../contracts/types';
import { ConfigError, parseConfig } from '../../lib/platform/config';
import { sqlString, withDuck } from '../../lib/platform/duckdb';
import { TrainingInputError } from '../../lib/platform/errors';
import { layout } from '../../lib/platform/layout';
import { planRun, type FeatureSeries } from '../../lib/training/plan';
import { fitIndex } from '../../lib/training/planIndex';
import { volcastConfig } from '../../temporal.config';

const H = 3_600_000;
const T0 = Date.UTC(2025, 0, 1);
const ROWS = 60 * 24;

async function features(path: string): Promise<void> {
  await withDuck((db) =>
    db.run(`COPY (
      SELECT ts, sin(i / 7.0) * 0.01 AS ret_1, 0.0001 + (i % 13) * 1e-5 AS gk_var_1, (i % 24) AS hour,
        0.005 + (i % 17) * 1e-4 AS target_gk_1h, 0.02 + (i % 29) * 1e-4 AS target_rv_24h
      FROM (SELECT i, ${T0} + i * ${H} AS ts FROM range(${ROWS}) t(i))
    ) TO ${sqlString(path)} (FORMAT parquet)`),
  );
}

const SYMBOLS = ['SOL/USDT', 'BTC/USDT', 'ETH/USDT'];
const series = (symbol: string) => ({ exchange: 'binance', symbol, timeframe: '1h' });
const ALL: FeatureSeries = SYMBOLS.map((symbol, i) => ({ series: series(symbol), features: { bucket: 'b', key: `features/fs/${i}`, sha256: `${i}`.repeat(64) } }));

function input(path: string, symbol: string, models: PlanTrainingInput['protocol']['models'], window: 'expanding' | 'rolling' = 'expanding'): PlanTrainingInput {
  return {
    runId: `r-${symbol}`,
    series: series(symbol),
    target: 'target_rv_24h',
    featuresRef: { bucket: 'b', key: path, sha256: 'x' },
    featureSetId: 'fs',
    featureDefinitionsSha: 'd',
    featureUniverse: SYMBOLS,
    protocol: {
      name: 'p', description: 'p', targets: ['target_rv_24h'], lookbackBars: null, seed: 1, ensembles: [],
      walkForward: { firstTrainBars: 30 * 24, testBars: 7 * 24, stepBars: 7 * 24, window, embargoBars: 0 },
      models,
    },
    champion: null,
  };
}

const MODELS = [
  { name: 'lgbm', kind: 'lightgbm', params: {} },
  { name: 'lgbm_pooled', kind: 'lightgbm', params: { pooled: true } },
  { name: 'xgb_pool2', kind: 'xgboost', params: { pooled: { symbols: ['ETH/USDT', 'SOL/USDT'] } } },
];

describe('pooled specs', () => {
  it('config accepts pooled trees and refuses a pooled kind that cannot be, or a malformed universe', () => {
    const issues = (models: Record<string, unknown>): { path: string; message: string }[] => {
      try {
        parseConfig({ ...volcastConfig, models: { ...volcastConfig.models, ...models } });
      } catch (err) {
        assert.ok(err instanceof ConfigError, String(err));
        return err.issues;
      }
      return [];
    };
    assert.deepEqual(issues({}), []);
    assert.deepEqual(issues({ p: { kind: 'xgboost', params: { pooled: { symbols: ['BTC/USDT'] } } } }), []);
    const har = issues({ har_pooled: { kind: 'har_rv', params: { pooled: true } } });
    assert.deepEqual(har.map((i) => i.path), ['models.har_pooled.params.pooled']);
    assert.equal(issues({ s: { kind: 'sph_net', params: { pooled: true } } })[0]?.path, 'models.s.params.pooled');
    assert.match(har[0]!.message, /kind har_rv cannot be pooled \(poolable kinds: lightgbm, xgboost, lstm, lstm_jump, bilstm_attn\)/);
    const bad = issues({ p: { kind: 'lightgbm', params: { pooled: { symbols: ['btc'] } } } });
    assert.deepEqual(bad.map((i) => i.path), ['models.p.params.pooled']);
    assert.match(bad[0]!.message, /symbols\.0: expected BASE\/QUOTE/);
    assert.equal(issues({ p: { kind: 'lightgbm', params: { pooled: 'yes' } } })[0]?.path, 'models.p.params.pooled');
  });

  it('plans one pool per fold, shared by every series, ending the same embargo before the test window', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'volcast-pooled-plan-'));
    const path = join(dir, 'f.parquet');
    await features(path);
    let loads = 0;
    const featureSeries = async () => {
      loads++;
      return ALL;
    };
    const plans = await withDuck(async (db) => [
      await planRun(db, path, input(path, 'BTC/USDT', MODELS), { barMs: H, trainerVersion: 'v', featureSeries }),
      await planRun(db, path, input(path, 'ETH/USDT', MODELS), { barMs: H, trainerVersion: 'v', featureSeries }),
    ]);
    assert.equal(loads, 2, 'the feature set series are read once per plan');
    const [btc, eth] = plans as [typeof plans[0], typeof plans[0]];
    const h = horizonBarsOf('target_rv_24h');
    assert.ok(btc.folds.length >= 3);
    const poolIds = new Set<string>();
    for (const f of btc.folds) {
      const plain = btc.fits[fitIndex(btc, 'lgbm', f.fold)]!;
      assert.equal(plain.pooled, undefined, 'a spec that is not pooled has no pool');
      const a = btc.fits[fitIndex(btc, 'lgbm_pooled', f.fold)]!;
      const b = eth.fits[fitIndex(eth, 'lgbm_pooled', f.fold)]!;
      assert.ok(a.pooled && b.pooled);
      assert.deepEqual(a.pooled.universe.map((u) => u.series.symbol), ['BTC/USDT', 'ETH/USDT', 'SOL/USDT']);
      assert.equal(a.pooled.poolId, b.pooled.poolId, `fold ${f.fold}: BTC and ETH share the booster`);
      assert.equal(a.pooled.boosterKey, layout.pooledBooster(a.pooled.poolId));
      assert.notEqual(a.modelId, b.modelId, 'each series still has its own model');
      // Expanding over all history: the pool starts at 0; it ends with the fold's training rows.
      assert.deepEqual(a.pooled.train, { startTs: 0, endTs: f.train.endTs });
      assert.ok(a.pooled.train.endTs <= f.test.startTs - h * H, 'every series ends the embargo before the test window');
      poolIds.add(a.pooled.poolId);
      const sub = btc.fits[fitIndex(btc, 'xgb_pool2', f.fold)]!;
      assert.deepEqual(sub.pooled!.universe.map((u) => u.series.symbol), ['ETH/USDT', 'SOL/USDT'], 'a configured universe without the series trained');
    }
    assert.equal(poolIds.size, btc.folds.length, 'one pool per fold');
    const serving = btc.fits[fitIndex(btc, 'lgbm_pooled', null)]!;
    assert.equal(serving.pooled!.train.endTs, btc.serving.train.endTs);

    // A rolling window: the pool uses the fold's own window.
    const rolling = await withDuck((db) => planRun(db, path, input(path, 'BTC/USDT', MODELS, 'rolling'), { barMs: H, trainerVersion: 'v', featureSeries }));
    for (const f of rolling.folds) assert.deepEqual(rolling.fits[fitIndex(rolling, 'lgbm_pooled', f.fold)]!.pooled!.train, f.train);
  });

  it('refuses a universe symbol outside the feature set, and a pooled spec without the feature set series', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'volcast-pooled-plan-'));
    const path = join(dir, 'f.parquet');
    await features(path);
    const featureSeries = async () => ALL;
    const unknown = [{ name: 'p', kind: 'lightgbm', params: { pooled: { symbols: ['DOGE/USDT'] } } }];
    await assert.rejects(
      withDuck((db) => planRun(db, path, input(path, 'BTC/USDT', unknown), { barMs: H, trainerVersion: 'v', featureSeries })),
      (err: unknown) => err instanceof TrainingInputError && /model p: pooled symbol DOGE\/USDT is not in feature set fs \(built over BTC\/USDT, ETH\/USDT, SOL\/USDT\)/.test(err.message),
    );
    await assert.rejects(
      withDuck((db) => planRun(db, path, input(path, 'BTC/USDT', MODELS), { barMs: H, trainerVersion: 'v' })),
      (err: unknown) => err instanceof TrainingInputError && /model lgbm_pooled is pooled but the plan was given no feature-set series/.test(err.message),
    );
    // Without a pooled spec, no feature-set series are needed.
    await withDuck((db) => planRun(db, path, input(path, 'BTC/USDT', [MODELS[0]!]), { barMs: H, trainerVersion: 'v' }));
  });
});
