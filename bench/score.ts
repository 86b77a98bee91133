/**
 * bench:score — `npm run bench:score [-- --runs 30 --calls 200 --build-calls 50 --batch 1024 --fresh]`
 *
 * Its own stack (ports from VOLCAST_BENCH_PORT_BASE, default 30000; state .state/bench-score, kept
 * between runs so a re-run reuses the fitted models), the replay exchange, both workers (trainer
 * with --gpu-on-cpu), a 240-day backfill of BTC/USDT and ETH/USDT, one `train` with protocol
 * `scheduled` (creates the champions), then:
 *   1. end-to-end latency of the score workflow (client start → result), --runs times with
 *      ingest against the replay and `now` = replay clock + 5 min (as the main job), and --runs
 *      times without ingest, alternating; plus the mean time of each activity (scheduled → completed, from history);
 *   2. per model kind, the last fold's model of the BTC/USDT target_gk_1h run (card + ONNX from
 *      MinIO, the run's feature Parquet), through lib/scoring: one-row latency on a cached
 *      onnxruntime-node session (input tensor prepared), the same including buildInputs, and batch
 *      throughput over the whole feature file (pure session.run, and scoreModel end to end).
 *   3. (unless --skip-25) the same end-to-end latency for 25 symbols × 2 targets (--runs-25 runs
 *      each, default 10), on a second stack (ports VOLCAST_BENCH_PORT_BASE + 500, state
 *      .state/bench-score-25) whose replay clock is 2022-10-11 11:00 UTC (the last bar all 25
 *      symbols of ../shared/data share); its train fits har_x only (a baseline, cheap), so the
 *      champions are har_x: the scoring cost does not depend on the model beyond its ONNX run.
 * Prints tables and writes .state/bench-score/results.json.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { layout, type Series } from '../lib/platform/layout';
import { readCard } from '../lib/scoring/cards';
import { buildInputs, scoreModel, sessionFor } from '../lib/scoring';
import { ort } from '../lib/scoring/session';
import { queryRows, sqlString, withDuck } from '../lib/platform/duckdb';
import type { ObjectRef } from '../lib/platform/store';
import { formatForecasts, runTrain } from '../cli/pipeline';
import type { PlanDocument } from '../contracts/types';
import type { ScoreInput, ScoreResult } from '../workflows';
import { backfill, DAY, pad, parseArgs, startBenchStack, stats, type BenchStack, type Stats } from './stack';
import { activitySpans } from './timeline';
import { score } from '../workflows';
import { scoreInput, trainInput } from '../lib/orchestration/inputs';

const args = parseArgs(process.argv.slice(2));
const RUNS = Number(args.runs ?? 30);
const CALLS = Number(args.calls ?? 200);
const BUILD_CALLS = Number(args['build-calls'] ?? 50);
const BATCH = Number(args.batch ?? 1024);
const DAYS = Number(args.days ?? 300);
const PORT_BASE = Number(args['port-base'] ?? process.env.VOLCAST_BENCH_PORT_BASE ?? 30000);
const STATE = '.state/bench-score';
const SYMBOLS = ['BTC/USDT', 'ETH/USDT'];
const RUNS_25 = Number(args['runs-25'] ?? 10);
const SKIP_25 = args['skip-25'] === true;
/** Every symbol of ../shared/data; all have candles up to 2022-10-11 10:00 UTC. */
const SYMBOLS_25 = ['AAVE', 'ADA', 'AVAX', 'BCH', 'BNB', 'BTC', 'CHZ', 'DOGE', 'DOT', 'EOS', 'ETC', 'ETH', 'FTM', 'FTT', 'LINK', 'LTC', 'MANA', 'MATIC', 'NEAR', 'SAND', 'SOL', 'TRX', 'VET', 'XLM', 'XRP'].map((b) => `${b}/USDT`);
const CLOCK_25 = Date.parse('2022-10-11T11:00:00Z');
/** Goals of issue 14 (end to end, client start → result). */
const GOALS = { p50: 150, p99: 400, p50at25: 1000 };

/** Activity type → durations (ms, scheduled → completed) of one workflow's history. */
async function activitySplit(stack: BenchStack, workflowId: string): Promise<Record<string, number[]>> {
  const out: Record<string, number[]> = {};
  for (const a of await activitySpans(stack.client, workflowId)) if (a.completed) (out[a.type] ??= []).push(a.closed - a.scheduled);
  return out;
}

interface ScoreLatency {
  ingest: boolean;
  runs: number;
  ms: Stats;
  /** Mean ms per activity type (scheduled → completed; several per run are averaged together). */
  activitiesMeanMs: Record<string, number>;
}

/**
 * Runs the score workflow `runs` times with ingest and `runs` times without, alternating (so drift
 * in the machine's load hits both alike), after one warm-up of each (first sessions, caches).
 */
async function scoreLatencies(stack: BenchStack, runs: number, symbols: string[] = SYMBOLS): Promise<[ScoreLatency, ScoreLatency]> {
  const { cfg, client, replay } = stack;
  const input = (ingest: boolean): ScoreInput => scoreInput(cfg, { symbols, now: replay.now() + 5 * 60_000, ingest });
  const times: Record<'true' | 'false', number[]> = { true: [], false: [] };
  const ids: Record<'true' | 'false', string[]> = { true: [], false: [] };
  const last: Record<'true' | 'false', ScoreResult | null> = { true: null, false: null };
  for (let i = -1; i < runs; i++) {
    for (const ingest of [true, false]) {
      const k = String(ingest) as 'true' | 'false';
      const workflowId = `bench-score-${symbols.length}-${ingest ? 'ingest' : 'noingest'}-${Date.now()}-${i}`;
      const t0 = performance.now();
      last[k] = (await client.workflow.execute(score, { taskQueue: cfg.taskQueues.cpu, workflowId, args: [input(ingest)] }));
      const ms = performance.now() - t0;
      if (i >= 0) {
        times[k].push(ms);
        ids[k].push(workflowId);
      }
    }
  }
  const out: ScoreLatency[] = [];
  for (const k of ['true', 'false'] as const) {
    const split: Record<string, number[]> = {};
    for (const id of ids[k]) for (const [a, v] of Object.entries(await activitySplit(stack, id))) (split[a] ??= []).push(...v);
    const activitiesMeanMs = Object.fromEntries(Object.entries(split).map(([a, v]) => [a, v.reduce((x, y) => x + y, 0) / v.length]));
    const shown = { ...last[k]!, forecasts: last[k]!.forecasts.slice(0, 4) };
    console.log(`  score (ingest ${k}) last result, as of ${new Date(last[k]!.asOf).toISOString()}${last[k]!.forecasts.length > 4 ? ` (4 of ${last[k]!.forecasts.length} forecasts)` : ''}:\n${formatForecasts(shown)}`);
    out.push({ ingest: k === 'true', runs, ms: stats(times[k]), activitiesMeanMs });
  }
  return [out[0]!, out[1]!];
}

interface KindResult {
  name: string;
  kind: string;
  modelId: string;
  input: string;
  onnxBytes: number;
  rows: number;
  singleRowMs: Stats;
  singleRowWithBuildInputsMs: Stats;
  batchRowsPerSec: number;
  scoreModelRowsPerSec: number;
  sessionCreateMs: number;
}

async function onnxBench(stack: BenchStack, runId: string, featureSetId: string, series: Series): Promise<{ featureRows: number; kinds: KindResult[] }> {
  const { store } = stack;
  const planLatest = await store.readLatest(layout.run(runId, 'plan.json'));
  if (!planLatest) throw new Error(`no plan.json for run ${runId}`);
  const plan = JSON.parse(planLatest.data.toString('utf8')) as PlanDocument;
  // The holdout fold's fits (fold-major: its specs are the last block before the serving fits).
  const holdout = plan.folds.length - 1;
  const fits = plan.fits.slice(holdout * plan.specs.length, (holdout + 1) * plan.specs.length).map((f) => ({ name: f.model.name, modelId: f.modelId }));
  const featuresRef = await store.head(layout.features(featureSetId, series));
  if (!featuresRef) throw new Error(`no features for ${featureSetId}`);
  const featuresPath = await store.getFile(featuresRef);
  const [span] = await withDuck((db) => queryRows<{ lo: bigint; hi: bigint; n: bigint }>(db, `SELECT min(ts) AS lo, max(ts) AS hi, count(*) AS n FROM read_parquet(${sqlString(featuresPath)})`));
  const all = { startTs: Number(span!.lo), endTs: Number(span!.hi) + 1 };
  const featureRows = Number(span!.n);
  const out: KindResult[] = [];
  for (const fit of fits) {
    const modelRef = (await store.head(layout.model(fit.modelId, 'model.onnx'))) as ObjectRef;
    const cardRef = (await store.head(layout.model(fit.modelId, 'card.json'))) as ObjectRef;
    const { card } = await readCard(store, cardRef);
    const modelPath = await store.getFile(modelRef);
    let t0 = performance.now();
    const session = await sessionFor(modelPath, modelRef.sha256);
    const sessionCreateMs = performance.now() - t0;
    const outputs = session.outputNames.includes('sigma') ? ['vol', 'sigma'] : ['vol'];
    const inputs = await buildInputs(featuresPath, card.input, all);
    const n = inputs.ts.length;
    const perRow = inputs.dims.slice(1).reduce((a, b) => a * b, 1);
    const tail = inputs.dims.slice(1);
    // 1. one row (the newest scorable one), tensor prepared outside the timing.
    const one = new ort.Tensor('float32', inputs.x.subarray((n - 1) * perRow, n * perRow), [1, ...tail]);
    for (let i = 0; i < 10; i++) await session.run({ x: one }, outputs);
    const single: number[] = [];
    for (let i = 0; i < CALLS; i++) {
      t0 = performance.now();
      await session.run({ x: one }, outputs);
      single.push(performance.now() - t0);
    }
    // 2. one row including buildInputs (DuckDB read of the row and its window) and the tensor.
    const lastTs = inputs.ts[n - 1]!;
    const withBuild: number[] = [];
    for (let i = 0; i < BUILD_CALLS; i++) {
      t0 = performance.now();
      const r = await buildInputs(featuresPath, card.input, { startTs: lastTs, endTs: lastTs + 1 });
      await session.run({ x: new ort.Tensor('float32', r.x, r.dims) }, outputs);
      withBuild.push(performance.now() - t0);
    }
    // 3. batch throughput: every scorable row of the file in batches of BATCH (tensors prepared).
    const batches: ort.Tensor[] = [];
    for (let s = 0; s < n; s += BATCH) {
      const rows = Math.min(BATCH, n - s);
      batches.push(new ort.Tensor('float32', inputs.x.subarray(s * perRow, (s + rows) * perRow), [rows, ...tail]));
    }
    await session.run({ x: batches[0]! }, outputs);
    t0 = performance.now();
    for (const x of batches) await session.run({ x }, outputs);
    const batchSecs = (performance.now() - t0) / 1000;
    // 4. scoreModel end to end (buildInputs over the file + batched inference).
    t0 = performance.now();
    const scored = await scoreModel({ modelPath, modelSha256: modelRef.sha256, card, featuresPath, window: all, batchSize: BATCH });
    const scoreSecs = (performance.now() - t0) / 1000;
    const r: KindResult = {
      name: fit.name,
      kind: card.kind,
      modelId: fit.modelId,
      input: `${card.input.kind} [${inputs.dims.slice(1).join('×')}]`,
      onnxBytes: (await store.list(layout.model(fit.modelId, 'model.onnx')))[0]?.size ?? 0,
      rows: n,
      singleRowMs: stats(single),
      singleRowWithBuildInputsMs: stats(withBuild),
      batchRowsPerSec: n / batchSecs,
      scoreModelRowsPerSec: scored.ts.length / scoreSecs,
      sessionCreateMs,
    };
    console.log(`  ${r.name}: one row p50 ${r.singleRowMs.p50.toFixed(3)} ms, with buildInputs p50 ${r.singleRowWithBuildInputsMs.p50.toFixed(1)} ms, batch ${Math.round(r.batchRowsPerSec)} rows/s`);
    out.push(r);
  }
  return { featureRows, kinds: out };
}

function f(x: number, d = 2): string {
  return Number.isFinite(x) ? x.toFixed(d) : '-';
}

function latencyTable(title: string, rows: ScoreLatency[]): void {
  console.log(`\n== ${title}`);
  console.log(`  ${pad('ingest', 8)}${pad('runs', 6, true)}${pad('min', 9, true)}${pad('p50', 9, true)}${pad('p99', 9, true)}${pad('max', 9, true)}${pad('mean', 9, true)}`);
  for (const s of rows) {
    console.log(`  ${pad(String(s.ingest), 8)}${pad(String(s.runs), 6, true)}${pad(f(s.ms.min, 0), 9, true)}${pad(f(s.ms.p50, 0), 9, true)}${pad(f(s.ms.p99, 0), 9, true)}${pad(f(s.ms.max, 0), 9, true)}${pad(f(s.ms.mean, 0), 9, true)}`);
  }
  console.log('  mean activity time (scheduled → completed), ms:');
  for (const s of rows) console.log(`    ingest ${s.ingest}: ${Object.entries(s.activitiesMeanMs).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}`);
}

const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');

/** 25 symbols × 2 targets on a stack of their own (see the header). */
async function bench25(): Promise<{ train: { seconds: number; champions: string[] }; score: [ScoreLatency, ScoreLatency] }> {
  const stack = await startBenchStack({ portBase: PORT_BASE + 500, state: `${STATE}-25`, symbols: SYMBOLS_25, fresh: args.fresh === true, replayNow: CLOCK_25 });
  try {
    const { cfg, client, replay } = stack;
    const now = replay.now();
    console.log(`\n== 25 symbols: backfill ${DAYS} days to ${new Date(now).toISOString()}`);
    await backfill(stack, SYMBOLS_25, now - DAYS * DAY);
    console.log('\n== 25 symbols: train, protocol scheduled, har_x only (cheap; a re-run reuses the fits)');
    const t0 = Date.now();
    const trained = await runTrain(client, cfg, trainInput(cfg, { symbols: SYMBOLS_25, now, models: ['har_x'] }), `bench-score-25-train-${Date.now()}`);
    const seconds = (Date.now() - t0) / 1000;
    console.log(`\n== 25 symbols: score workflow latency, ${RUNS_25} runs each with and without ingest, alternating (+1 warm-up each)`);
    const score = await scoreLatencies(stack, RUNS_25, SYMBOLS_25);
    return { train: { seconds, champions: [...new Set(trained.results.map((r) => r.decision?.spec ?? '-'))] }, score };
  } finally {
    await stack.close();
  }
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const stack = await startBenchStack({ portBase: PORT_BASE, state: STATE, symbols: SYMBOLS, fresh: args.fresh === true });
  const { cfg, client, replay } = stack;
  let closed = false;
  try {
    const now = replay.now();
    console.log(`\n== backfill ${SYMBOLS.join(', ')}: ${DAYS} days`);
    await backfill(stack, SYMBOLS, now - DAYS * DAY);

    console.log('\n== train, protocol scheduled (creates the champions; a re-run reuses the fits)');
    const tTrain = Date.now();
    const trained = await runTrain(client, cfg, trainInput(cfg, { symbols: SYMBOLS, now }), `bench-score-train-${Date.now()}`);
    const trainSecs = (Date.now() - tTrain) / 1000;

    console.log(`\n== score workflow latency, ${RUNS} runs each with and without ingest, alternating (+1 warm-up each)`);
    const [withIngest, withoutIngest] = await scoreLatencies(stack, RUNS);

    const btc = trained.results.find((r) => r.series.symbol === 'BTC/USDT' && r.target === 'target_gk_1h')!;
    console.log(`\n== ONNX inference per model kind: last fold of ${btc.runId}`);
    const onnx = await onnxBench(stack, btc.runId, trained.featureSetId, btc.series);

    // The 25-symbol case needs its own stack (another replay clock); this one is closed first.
    await stack.close();
    closed = true;
    const at25 = SKIP_25 ? null : await bench25();

    // Tables.
    latencyTable(`score workflow, end to end (client start → result), ms; ${SYMBOLS.length} symbols × ${cfg.targets.length} targets per run`, [withIngest, withoutIngest]);
    if (at25) latencyTable(`score workflow, end to end, ms; 25 symbols × ${cfg.targets.length} targets per run (har_x champions only: a cheap train keeps the bench short)`, at25.score);
    console.log(`\n== goals (issue 14): 2×2 p50 ≤ ${GOALS.p50} ms and p99 ≤ ${GOALS.p99} ms; 25×2 p50 ≤ ${GOALS.p50at25} ms`);
    for (const s of [withIngest, withoutIngest]) console.log(`  2×2 ingest ${s.ingest}: p50 ${f(s.ms.p50, 0)} ms ${verdict(s.ms.p50 <= GOALS.p50)}, p99 ${f(s.ms.p99, 0)} ms ${verdict(s.ms.p99 <= GOALS.p99)}`);
    for (const s of at25?.score ?? []) console.log(`  25×2 ingest ${s.ingest}: p50 ${f(s.ms.p50, 0)} ms ${verdict(s.ms.p50 <= GOALS.p50at25)}`);
    console.log(`\n== ONNX inference (onnxruntime-node, 1 intra-op thread, cached session), BTC/USDT target_gk_1h, ${onnx.featureRows} feature rows`);
    console.log(`  one row: ${CALLS} calls (input prepared) and ${BUILD_CALLS} calls including buildInputs; batch: ${BATCH} rows per run over every scorable row`);
    console.log(`  ${pad('model', 13)}${pad('input', 16)}${pad('onnx KB', 9, true)}${pad('1-row p50', 11, true)}${pad('p99 ms', 9, true)}${pad('+build p50', 12, true)}${pad('p99 ms', 9, true)}${pad('rows', 7, true)}${pad('batch rows/s', 14, true)}${pad('scoreModel rows/s', 19, true)}`);
    for (const k of onnx.kinds) {
      console.log(
        `  ${pad(k.name, 13)}${pad(k.input, 16)}${pad(f(k.onnxBytes / 1024, 0), 9, true)}${pad(f(k.singleRowMs.p50, 3), 11, true)}${pad(f(k.singleRowMs.p99, 3), 9, true)}${pad(f(k.singleRowWithBuildInputsMs.p50, 1), 12, true)}${pad(f(k.singleRowWithBuildInputsMs.p99, 1), 9, true)}${pad(String(k.rows), 7, true)}${pad(f(k.batchRowsPerSec, 0), 14, true)}${pad(f(k.scoreModelRowsPerSec, 0), 19, true)}`,
      );
    }
    const results = {
      at: new Date().toISOString(),
      machine: { cpus: (await import('node:os')).cpus().length, node: process.version },
      options: { runs: RUNS, calls: CALLS, buildCalls: BUILD_CALLS, batch: BATCH, days: DAYS, symbols: SYMBOLS },
      train: { seconds: trainSecs, featureSetId: trained.featureSetId, reusedFits: trained.results.reduce((a, r) => a + r.reusedFits, 0), fitSeconds: Object.fromEntries(trained.results.map((r) => [`${r.series.symbol} ${r.target}`, r.fitSeconds])), champions: trained.results.map((r) => ({ symbol: r.series.symbol, target: r.target, decision: r.decision })) },
      score: { withIngest, withoutIngest },
      score25: at25 ? { symbols: SYMBOLS_25, clock: new Date(CLOCK_25).toISOString(), train: at25.train, withIngest: at25.score[0], withoutIngest: at25.score[1] } : null,
      onnx,
      totalSeconds: (Date.now() - t0) / 1000,
    };
    const file = join(cfg.stateDir, 'results.json');
    writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\nresults: ${file} (bench:score took ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
  } finally {
    if (!closed) await stack.close();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
