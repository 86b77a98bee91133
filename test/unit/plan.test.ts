/**
 * No look-ahead in the plan: what a fold's fits may use (feature columns, regime thresholds, the
 * fit inputs themselves) is chosen on that fold's training rows only, so changing anything at or
 * after a fold's test window changes nothing of that fold. DuckDB over a local Parquet, no stack.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { PlanTrainingInput } from '../../contracts/types';
import { sqlString, withDuck } from '../../lib/platform/duckdb';
import { planRun } from '../../lib/training/plan';
import { fitIndex } from '../../lib/training/planIndex';

const H = 3_600_000;
const T0 = Date.UTC(2025, 0, 1);
const ROWS = 60 * 24;

/** A feature Parquet: ts, a few feature columns, both targets; `mutate` may change rows from `from` on. */
async function features(path: string, mutate: { from: number } | null): Promise<void> {
  await withDuck(async (db) => {
    const after = (expr: string, alt: string) => (mutate ? `CASE WHEN ts >= ${mutate.from} THEN ${alt} ELSE ${expr} END` : expr);
    await db.run(`COPY (
      SELECT ts,
        ${after('sin(i / 7.0) * 0.01', 'NULL')} AS ret_1,
        ${after('0.0001 + (i % 13) * 1e-5', '99.0')} AS gk_var_1,
        -- hl_range is null in the last 20 days: dropped from the folds whose training rows see it missing
        CASE WHEN i >= ${ROWS - 20 * 24} THEN NULL ELSE 0.01 + (i % 5) * 1e-3 END AS hl_range,
        ${after('(i % 24)', '(i % 24)')} AS hour,
        ${after('0.005 + (i % 17) * 1e-4', '5.0')} AS target_gk_1h,
        ${after('0.02 + (i % 29) * 1e-4', '5.0')} AS target_rv_24h
      FROM (SELECT i, ${T0} + i * ${H} AS ts FROM range(${ROWS}) t(i))
    ) TO ${sqlString(path)} (FORMAT parquet)`);
  });
}

const input = (path: string): PlanTrainingInput => ({
  runId: 'r',
  series: { exchange: 'binance', symbol: 'BTC/USDT', timeframe: '1h' },
  target: 'target_gk_1h',
  featuresRef: { bucket: 'b', key: path, sha256: 'x' },
  featureSetId: 'fs-same',
  featureDefinitionsSha: 'd',
  featureUniverse: ['binance:BTC-USDT:1h'],
  protocol: {
    name: 'p', description: 'p', targets: ['target_gk_1h'], lookbackBars: null, seed: 1, ensembles: [],
    walkForward: { firstTrainBars: 30 * 24, testBars: 7 * 24, stepBars: 7 * 24, window: 'expanding', embargoBars: 0 },
    models: [{ name: 'har_x', kind: 'har_x', params: {} }, { name: 'lgbm', kind: 'lightgbm', params: {} }],
  },
  champion: null,
});

describe('the training plan', () => {
  it("chooses each fold's columns and regime thresholds on its training rows only: the future changes nothing of a fold", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'volcast-plan-'));
    const clean = join(dir, 'clean.parquet');
    await features(clean, null);
    const a = await withDuck((db) => planRun(db, clean, input(clean), { barMs: H, trainerVersion: 'v' }));
    assert.ok(a.folds.length >= 3, `${a.folds.length} folds`);
    // hl_range is missing only in the last 20 days: the folds that train on them drop it, the others keep it.
    const withHl = a.folds.map((f) => f.columns.includes('hl_range'));
    assert.equal(withHl[0], true);
    assert.ok(a.serving.droppedColumns.includes('hl_range'));

    // Change everything from fold 1's test window on (features and targets): folds 0 and 1 stay the same.
    const k = 1;
    const changed = join(dir, 'changed.parquet');
    await features(changed, { from: a.folds[k]!.test.startTs });
    const b = await withDuck((db) => planRun(db, changed, { ...input(changed), featuresRef: input(clean).featuresRef }, { barMs: H, trainerVersion: 'v' }));
    for (const f of [0, 1]) {
      assert.deepEqual(b.folds[f]!.columns, a.folds[f]!.columns, `fold ${f} columns`);
      assert.deepEqual(b.folds[f]!.regime, a.folds[f]!.regime, `fold ${f} regime thresholds`);
      for (const name of ['har_x', 'lgbm']) {
        const i = fitIndex(a, name, f);
        assert.deepEqual(b.fits[i], a.fits[i], `fold ${f} ${name}: the same fit input and modelId`);
      }
    }
    // A later fold trains on the changed rows: it must see them (the test is not vacuous).
    assert.notDeepEqual(b.folds[2]!.regime, a.folds[2]!.regime);
    assert.notDeepEqual(b.folds[2]!.columns, a.folds[2]!.columns);
  });
});
