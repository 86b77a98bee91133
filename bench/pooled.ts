/**
 * bench/pooled.ts — pooled (panel) vs per-series trees on a few folds of the `long` protocol
 * (docs/results.md, "pooled (panel) vs per-series trees").
 *
 *   node --import tsx bench/pooled.ts [--series BTC/USDT,ETH/USDT] [--held-out XLM/USDT] [--pool A/USDT,…]
 *     [--now 2020-04-01T12:00:00Z] [--test-from YYYY-MM-DD] [--targets target_rv_24h,target_gk_1h]
 *     [--port-base N] [--fresh]
 *
 * Its own stack (bench/stack.ts; state .state/bench-pooled), the replay exchange with its clock at
 * --now (so the long protocol's tiled test windows from 2020-01-01 give a few folds), a backfill
 * of the full history of the pool, the series and the held-out symbol, and one feature set over
 * all of them. --test-from: the long protocol's walk-forward with its test windows tiled from that
 * date instead of 2020-01-01 (a few folds at a later time). Then for each series trained, one after
 * the other (so each fold's pooled booster is fitted once and read by the next series), and each
 * target: a trainSeries workflow with lightgbm, xgboost and their pooled twins (pooled over
 * --pool, which leaves the held-out symbol out). Prints per series × target × model the QLIKE per
 * fold on the evaluation's common rows (oos.parquet), their mean, and the evaluation's validation
 * and holdout QLIKE.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BuildFeaturesResult, TrainSeriesInput, TrainSeriesResult } from '../contracts/types';
import { trainInput } from '../lib/orchestration/inputs';
import { queryRows, sqlString, withDuck } from '../lib/platform/duckdb';
import { layout, symbolSegment } from '../lib/platform/layout';
import { buildFeaturesWorkflow, trainSeries } from '../workflows';
import { backfill, pad, parseArgs, startBenchStack } from './stack';

const args = parseArgs(process.argv.slice(2));
const list = (v: unknown, d: string) => String(v ?? d).split(',').map((s) => s.trim()).filter(Boolean);
const SERIES = list(args.series, 'BTC/USDT,ETH/USDT');
const HELD_OUT = list(args['held-out'], 'XLM/USDT');
const POOL = list(args.pool, 'BTC/USDT,ETH/USDT,BNB/USDT,LTC/USDT,ADA/USDT,XRP/USDT,EOS/USDT,TRX/USDT,ETC/USDT,VET/USDT');
const TARGETS = list(args.targets, 'target_rv_24h,target_gk_1h');
const NOW = Date.parse(String(args.now ?? '2020-04-01T12:00:00Z'));
const TEST_FROM = typeof args['test-from'] === 'string' ? args['test-from'] : undefined;
const PORT_BASE = Number(args['port-base'] ?? process.env.VOLCAST_BENCH_PORT_BASE ?? 32000);
const STATE = String(args.state ?? '.state/bench-pooled');
const MODELS = ['lightgbm', 'xgboost', 'lightgbm_pooled', 'xgboost_pooled'];

async function main(): Promise<void> {
  const t0 = Date.now();
  for (const h of HELD_OUT) if (POOL.includes(h)) throw new Error(`held-out symbol ${h} is in the pool`);
  const symbols = [...new Set([...POOL, ...SERIES, ...HELD_OUT])];
  const trained = [...SERIES, ...HELD_OUT];
  const stack = await startBenchStack({ portBase: PORT_BASE, state: STATE, symbols, fresh: args.fresh === true, replayNow: NOW });
  const { cfg, client, store } = stack;
  const out: { symbol: string; target: string; heldOut: boolean; runId: string; perFold: Record<string, (number | null)[]>; mean: Record<string, number | null>; leaderboard: TrainSeriesResult['leaderboard']; fitSeconds: Record<string, number> }[] = [];
  try {
    console.log(`\n== backfill ${symbols.join(', ')} (full history to ${new Date(NOW).toISOString()})`);
    await backfill(stack, symbols, Date.UTC(2017, 0, 1));
    const base = trainInput(cfg, { protocol: 'long', models: MODELS, symbols, now: NOW, promote: false });
    // The pooled twins pool over POOL (the held-out symbol is scored by a pool that never saw it).
    const protocol = {
      ...base.protocol,
      targets: TARGETS,
      ...(TEST_FROM ? { description: `${base.protocol.description} (test windows from ${TEST_FROM})`, walkForward: { ...base.protocol.walkForward, testFrom: TEST_FROM } } : {}),
      models: base.protocol.models.map((m) => (m.params.pooled ? { ...m, params: { ...m.params, pooled: { symbols: POOL } } } : m)),
      ensembles: [],
    };
    const series = symbols.map((symbol) => ({ exchange: base.exchange, symbol, timeframe: base.timeframe }));
    const tf = Date.now();
    const features = (await client.workflow.execute(buildFeaturesWorkflow, { taskQueue: cfg.taskQueues.cpu, workflowId: `bench-pooled-features-${Date.now()}`, args: [{ series }] })) as BuildFeaturesResult;
    console.log(`features ${features.featureSetId}: ${features.rows} rows over ${symbols.length} series in ${((Date.now() - tf) / 1000).toFixed(0)} s`);
    const universe = Object.keys(features.watermark).sort();
    const runTag = Date.now().toString(36);
    for (const symbol of trained) {
      const fs = features.series.find((s) => s.series.symbol === symbol)!;
      const results = await Promise.all(
        TARGETS.map((target) => {
          const input: TrainSeriesInput = {
            runId: `bench-pooled-${runTag}-${symbolSegment(symbol)}-${target}`,
            series: fs.series, target, featuresRef: fs.ref, featureSetId: features.featureSetId,
            featureDefinitionsSha: features.definitionsSha, featureUniverse: universe, protocol,
            gates: base.gates, promote: false, fitConcurrency: 2,
          };
          return client.workflow.execute(trainSeries, { taskQueue: cfg.taskQueues.cpu, workflowId: input.runId, args: [input] });
        }),
      );
      for (const r of results) {
        const oos = await store.readLatest(layout.run(r.runId, 'oos.parquet'));
        const file = await store.fileOf(oos!);
        // QLIKE per fold on the rows every model forecast with a known actual (variance ratio form).
        const rows = await withDuck((db) =>
          queryRows<{ fold: number; model: string; qlike: number; n: bigint }>(
            db,
            `WITH o AS (SELECT * FROM read_parquet(${sqlString(file)}) WHERE actual IS NOT NULL AND actual > 0 AND forecast > 0),
                  common AS (SELECT fold, ts FROM o GROUP BY fold, ts HAVING count(DISTINCT model) = ${MODELS.length})
             SELECT o.fold, o.model, avg(pow(actual / forecast, 2) - ln(pow(actual / forecast, 2)) - 1) AS qlike, count(*) AS n
             FROM o JOIN common USING (fold, ts) GROUP BY o.fold, o.model ORDER BY o.fold, o.model`,
          ),
        );
        const folds = [...new Set(rows.map((x) => x.fold))].sort((a, b) => a - b);
        const perFold = Object.fromEntries(MODELS.map((m) => [m, folds.map((f) => rows.find((x) => x.fold === f && x.model === m)?.qlike ?? null)]));
        const mean = Object.fromEntries(MODELS.map((m) => {
          const v = perFold[m]!.filter((x): x is number => x !== null);
          return [m, v.length === folds.length ? v.reduce((a, b) => a + b, 0) / v.length : null];
        }));
        out.push({ symbol, target: r.target, heldOut: HELD_OUT.includes(symbol), runId: r.runId, perFold, mean, leaderboard: r.leaderboard, fitSeconds: r.fitSeconds });
        const n = folds.map((f) => Number(rows.find((x) => x.fold === f)?.n ?? 0));
        console.log(`\n${symbol} ${r.target}${HELD_OUT.includes(symbol) ? ' (held out of the pool)' : ''}: ${folds.length} folds, common rows per fold ${n.join(' / ')}; failures ${r.failureCount}`);
        console.log(`  ${pad('model', 17)}${folds.map((f) => pad(`fold ${f}`, 9, true)).join('')}${pad('mean', 9, true)}${pad('valid', 9, true)}${pad('holdout', 9, true)}${pad('fit s', 8, true)}`);
        for (const m of MODELS) {
          const lb = r.leaderboard.find((x) => x.model === m);
          const f4 = (v: number | null | undefined) => pad(v == null ? '-' : v.toFixed(4), 9, true);
          console.log(`  ${pad(m, 17)}${perFold[m]!.map(f4).join('')}${f4(mean[m])}${f4(lb?.validationQlike)}${f4(lb?.holdoutQlike)}${pad((r.fitSeconds[m] ?? 0).toFixed(0), 8, true)}`);
        }
      }
    }
    const file = join(cfg.stateDir, `results-pooled-${new Date().toISOString().replace(/[:.]/g, '')}.json`);
    writeFileSync(file, `${JSON.stringify({ at: new Date().toISOString(), now: new Date(NOW).toISOString(), testFrom: TEST_FROM ?? protocol.walkForward.testFrom, pool: POOL, series: SERIES, heldOut: HELD_OUT, targets: TARGETS, featureSetId: features.featureSetId, results: out }, null, 2)}\n`);
    console.log(`\nresults: ${file}`);
  } finally {
    await stack.close();
  }
  console.log(`bench/pooled.ts took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
