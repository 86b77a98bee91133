/**
 * bench:train — wall time of a walk-forward protocol per model.
 *
 *   npm run bench:train -- [--protocol b] [--symbols BTC/USDT,ETH/USDT] [--models persistence,lstm]
 *                          [--days N] [--folds N] [--no-ingest] [--no-promote] [--no-neural-bench] [--fresh]
 *
 * Its own stack (ports from --port-base or VOLCAST_BENCH_PORT_BASE, default 32000; state
 * .state/bench-train or --state, kept between runs so a second run with more models reuses the
 * fits already done), the replay exchange, both workers (trainer with --gpu-on-cpu), a backfill of
 * the full history of the symbols (or the last --days), then one `train` with the protocol (default
 * b, every model of it unless --models). Prints per series × target and model: folds, fits run,
 * fits reused, total fit seconds (the workflow's fitSeconds), seconds per fit; the workflow's wall
 * time and the leaderboards (--folds N: only the last N folds, a timing sample for slow models); then the neural trainer's throughput (bench/train_neural.py: samples/s
 * on CPU, and on the GPU when CUDA is present). Then per model kind: fits run, fit seconds, fits/s
 * (per core: fits over their own seconds), and where the train's wall time went (bench/timeline.ts):
 * a fit activity running, other activities only (features, plan, evaluate, promote), or nothing
 * (orchestration: workflow tasks, queue waits), with the fits' own seconds against their activities'
 * (the rest: loading rows, ONNX export and parity, uploads).
 * Figures also go to <state>/results-<protocol>-<time>.json.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { layout } from '../lib/platform/layout';
import { repoRoot, venvPython } from '../lib/platform/paths';
import { formatLeaderboard } from '../cli/pipeline';
import type { PlanDocument } from '../contracts/types';
import { pooledCoverage } from '../lib/evaluation/intervals';
import type { MetricsDocument } from '../lib/evaluation/types';
import type { TrainResult } from '../workflows';
import { backfill, DAY, pad, parseArgs, startBenchStack } from './stack';
import { activitySpans, wallSplit } from './timeline';
import { train } from '../workflows';
import { trainInput } from '../lib/orchestration/inputs';

const args = parseArgs(process.argv.slice(2));
const PROTOCOL = String(args.protocol ?? 'b');
const SYMBOLS = String(args.symbols ?? 'BTC/USDT').split(',');
const MODELS = typeof args.models === 'string' ? args.models.split(',') : undefined;
const PORT_BASE = Number(args['port-base'] ?? process.env.VOLCAST_BENCH_PORT_BASE ?? 32000);
const STATE = String(args.state ?? '.state/bench-train');
const FULL_HISTORY_FROM = Date.UTC(2017, 0, 1);

interface ModelTiming {
  model: string;
  folds: number;
  fits: number;
  reused: number;
  fitSeconds: number;
  secondsPerFit: number | null;
}

async function main(): Promise<void> {
  const t0 = Date.now();
  const stack = await startBenchStack({ portBase: PORT_BASE, state: STATE, symbols: SYMBOLS, fresh: args.fresh === true });
  const { cfg, client, replay, store } = stack;
  let trained: TrainResult | null = null;
  try {
    const now = replay.now();
    const from = args.days !== undefined ? now - Number(args.days) * DAY : FULL_HISTORY_FROM;
    console.log(`\n== backfill ${SYMBOLS.join(', ')} from ${new Date(from).toISOString().slice(0, 10)}`);
    await backfill(stack, SYMBOLS, from);

    const base = trainInput(cfg, { protocol: PROTOCOL, models: MODELS, symbols: SYMBOLS, now, ingest: args.ingest !== false, promote: args.promote !== false });
    const resolved = base.protocol;
    // --folds N: only the protocol's last N folds (trailing, same window sizes): a timing sample
    // for models too slow to fit on every fold; not the protocol's evaluation.
    const protocol = args.folds !== undefined ? { ...resolved, description: `${resolved.description} (last ${Number(args.folds)} folds only)`, walkForward: { ...resolved.walkForward, folds: Number(args.folds) } } : resolved;
    // Models already stored before the run: their fits are reused (cached by modelId).
    const modelsPrefix = layout.model('X', 'card.json').replace(/X\/card\.json$/, '');
    const before = new Set((await store.list(modelsPrefix)).filter((o) => o.key.endsWith('/card.json')).map((o) => o.key));
    console.log(`\n== train, protocol ${protocol.name}: ${protocol.models.map((m) => m.name).join(', ')}; ${before.size} models already stored`);
    const tTrain = Date.now();
    const workflowId = `bench-train-${protocol.name}-${Date.now()}`;
    trained = (await client.workflow.execute(train, {
      taskQueue: cfg.taskQueues.cpu,
      workflowId,
      args: [{ ...base, protocol }],
    }));
    const wallSeconds = (Date.now() - tTrain) / 1000;

    const perSeries: { symbol: string; target: string; folds: number; reusedFits: number; models: ModelTiming[]; leaderboard: unknown; decision: unknown; failures: unknown }[] = [];
    for (const r of trained.results) {
      const planLatest = await store.readLatest(layout.run(r.runId, 'plan.json'));
      const plan = JSON.parse(planLatest!.data.toString('utf8')) as PlanDocument;
      const models: ModelTiming[] = protocol.models.map((m) => {
        const fits = plan.fits.filter((f) => f.model.name === m.name && f.purpose === 'fold');
        const reused = fits.filter((f) => before.has(layout.model(f.modelId, 'card.json'))).length;
        const run = fits.length - reused;
        const secs = r.fitSeconds[m.name] ?? 0;
        return { model: m.name, folds: r.folds, fits: run, reused, fitSeconds: secs, secondsPerFit: run ? secs / run : null };
      });
      perSeries.push({ symbol: r.series.symbol, target: r.target, folds: r.folds, reusedFits: r.reusedFits, models, leaderboard: r.leaderboard, decision: r.decision, failures: r.failures });
    }

    console.log(`\n== train wall time: ${wallSeconds.toFixed(0)} s (workflow ${workflowId}, protocol ${protocol.name}, feature set ${trained.featureSetId})`);
    for (const s of perSeries) {
      console.log(`\n${s.symbol} ${s.target}: ${s.folds} folds, ${s.reusedFits} fits reused`);
      console.log(`  ${pad('model', 14)}${pad('folds', 6, true)}${pad('fits run', 10, true)}${pad('reused', 8, true)}${pad('fit s total', 13, true)}${pad('s / fit', 10, true)}`);
      for (const m of s.models) {
        console.log(`  ${pad(m.model, 14)}${pad(String(m.folds), 6, true)}${pad(String(m.fits), 10, true)}${pad(String(m.reused), 8, true)}${pad(m.fitSeconds.toFixed(1), 13, true)}${pad(m.secondsPerFit == null ? '-' : m.secondsPerFit.toFixed(2), 10, true)}`);
      }
    }
    // Per kind over every series × target: fits run and their own seconds.
    const kinds = new Map<string, { fits: number; seconds: number }>();
    for (const sr of perSeries) for (const m of sr.models) {
      const kind = protocol.models.find((x) => x.name === m.model)!.kind;
      const k = kinds.get(kind) ?? { fits: 0, seconds: 0 };
      kinds.set(kind, { fits: k.fits + m.fits, seconds: k.seconds + m.fitSeconds });
    }
    console.log(`\n== fits per model kind (all series × targets; fits/s = fits over their own seconds, one core each)`);
    console.log(`  ${pad('kind', 14)}${pad('fits run', 10, true)}${pad('fit s', 10, true)}${pad('s / fit', 10, true)}${pad('fits/s', 10, true)}`);
    for (const [kind, k] of kinds) {
      console.log(`  ${pad(kind, 14)}${pad(String(k.fits), 10, true)}${pad(k.seconds.toFixed(1), 10, true)}${pad(k.fits ? (k.seconds / k.fits).toFixed(2) : '-', 10, true)}${pad(k.seconds ? (k.fits / k.seconds).toFixed(3) : '-', 10, true)}`);
    }
    const spans = await activitySpans(client, workflowId);
    const isFit = (t: string) => t === 'fitModel' || t === 'fitNeuralModel';
    const split = wallSplit(spans, tTrain, tTrain + wallSeconds * 1000, isFit);
    const fitActivitySeconds = spans.filter((x) => isFit(x.type)).reduce((a, x) => a + (x.closed - x.started) / 1000, 0);
    const fitOwnSeconds = [...kinds.values()].reduce((a, k) => a + k.seconds, 0);
    const pct = (ms: number) => `${((100 * ms) / split.wallMs).toFixed(1)}%`;
    console.log(`\n== where the train's ${wallSeconds.toFixed(0)} s went (${spans.length} activity attempts in the workflow and its children)`);
    console.log(`  a fit activity running:         ${(split.fitActivityMs / 1000).toFixed(1)} s  ${pct(split.fitActivityMs)}  (${split.meanFitsInFlight.toFixed(2)} fits at once on average)`);
    console.log(`  other activities only:          ${(split.otherActivityMs / 1000).toFixed(1)} s  ${pct(split.otherActivityMs)}  (features, plan, evaluate, promotion)`);
    console.log(`  nothing running:                ${(split.orchestrationMs / 1000).toFixed(1)} s  ${pct(split.orchestrationMs)}  (orchestration: workflow tasks, queue waits)`);
    console.log(`  inside the fit activities:      ${fitOwnSeconds.toFixed(1)} s of fitting of ${fitActivitySeconds.toFixed(1)} s (${fitActivitySeconds ? ((100 * fitOwnSeconds) / fitActivitySeconds).toFixed(1) : '-'}%; the rest loads rows, exports and checks ONNX, uploads)`);
    const timing = { kinds: Object.fromEntries(kinds), split, fitActivitySeconds, fitOwnSeconds };

    console.log('\n== leaderboards');
    for (const r of trained.results) console.log(`${formatLeaderboard(r)}\n`);

    // Forecast intervals: conformal coverage per model over every fold that had a calibration (each
    // calibrated on the earlier folds only), the spread over folds, and the served spec marked.
    console.log('== forecast intervals (split-conformal; fold k calibrated on folds < k; nominal 80% / 95%)');
    const intervals: Record<string, unknown>[] = [];
    for (const r of trained.results) {
      const doc = JSON.parse((await store.readLatest(r.metricsKey))!.data.toString('utf8')) as MetricsDocument;
      console.log(`\n${r.series.symbol} ${r.target}  (* = the spec that serves)`);
      console.log(`  ${pad('model', 16)}${pad('folds', 7, true)}${pad('rows', 8, true)}${pad('cov 80%', 9, true)}${pad('cov 95%', 9, true)}${pad('fold 80% min–max', 20, true)}${pad('rel. width 80/95', 18, true)}`);
      for (const m of doc.models) {
        const parts = m.conformal.perFold.filter((f) => f.coverage);
        const all = pooledCoverage(parts.map((f) => f.coverage!));
        if (!all) continue;
        const per80 = parts.map((f) => f.coverage!.coverage['80']);
        const star = m.name === r.decision?.spec ? '*' : ' ';
        console.log(`${star} ${pad(m.name, 16)}${pad(String(parts.length), 7, true)}${pad(String(all.rows), 8, true)}${pad((100 * all.coverage['80']).toFixed(1), 9, true)}${pad((100 * all.coverage['95']).toFixed(1), 9, true)}${pad(`${(100 * Math.min(...per80)).toFixed(0)}–${(100 * Math.max(...per80)).toFixed(0)}`, 20, true)}${pad(`${all.meanRelativeWidth['80'].toFixed(2)} / ${all.meanRelativeWidth['95'].toFixed(2)}`, 18, true)}`);
        intervals.push({ symbol: r.series.symbol, target: r.target, model: m.name, serves: m.name === r.decision?.spec, folds: parts.length, ...all, holdout: m.conformal.holdout });
      }
    }

    const file = join(cfg.stateDir, `results-${protocol.name}-${new Date().toISOString().replace(/[:.]/g, '')}.json`);
    writeFileSync(file, `${JSON.stringify({ at: new Date().toISOString(), protocol: protocol.name, symbols: SYMBOLS, models: protocol.models.map((m) => m.name), workflowId, wallSeconds, featureSetId: trained.featureSetId, timing, series: perSeries, intervals }, null, 2)}\n`);
    console.log(`results: ${file}`);
  } finally {
    await stack.close();
  }

  if (args['neural-bench'] !== false) {
    console.log('\n== neural trainer throughput: .venv/bin/python bench/train_neural.py');
    const r = spawnSync(venvPython, [join(repoRoot, 'bench', 'train_neural.py')], { cwd: repoRoot, stdio: 'inherit' });
    if (r.status !== 0) console.log(`bench/train_neural.py exited with ${r.status ?? r.signal}`);
  } else {
    console.log('\nneural trainer throughput: skipped (run .venv/bin/python bench/train_neural.py)');
  }
  console.log(`\nbench:train took ${((Date.now() - t0) / 1000).toFixed(0)} s`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
