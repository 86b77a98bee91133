/**
 * bench:dvol — does implied volatility (Deribit DVOL) improve the forecasts? (issue 11 item 3)
 *
 *   npm run bench:dvol -- [--symbol BTC/USDT] [--targets target_rv_24h,target_gk_1h]
 *        [--models har_x,lightgbm] [--tree-folds N] [--from 2021-03-24] [--out .state/bench-dvol]
 *
 * No stack: the feature build (lib/features/build.ts, with the implied inputs of
 * temporal.config.ts features.implied read from the shared DVOL files), the training plan of the
 * `long` protocol (lib/training/plan.ts planRun: its folds, and per fold the columns kept by the 1%
 * NULL rule), then the trainer's own fit functions on every fold (bench/dvol_fit.py; each fit
 * self-checked against Python onnxruntime as a fit activity is), and QLIKE on the test rows.
 *
 * Pairs compared, on the same test rows:
 *   - HAR-X (har_x) against HAR-X-IV (har_x_iv: + log iv_var_1 and dvol_chg_24);
 *   - LightGBM with the plan's columns against the same without the implied features (--tree-folds N:
 *     only the last N folds, to keep it short on 2 cores).
 * The candles start where DVOL does (--from, default 2021-03-24), both variants alike: with history
 * from 2017 the expanding windows' training rows would miss DVOL on > 1% of rows on every fold, and the
 * plan would leave it out everywhere. Reported: pooled QLIKE per variant, the ratio with/without, the
 * folds won, and a one-sided HLN Diebold-Mariano p-value (with < without) with the gates' LRV.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { horizonBarsOf } from '../contracts/domain';
import type { FitInput } from '../contracts/types';
import { binanceHourlyCsv, csvToMonthlyParquet, dvolCsv, indexCsvToMonthlyParquet } from '../lib/candles/csv';
import { buildFeatureFiles, definitionsSha, seriesKey } from '../lib/features/build';
import { IMPLIED_FEATURES } from '../lib/features/definitions';
import type { ImpliedInput } from '../lib/features/implied';
import { dieboldMariano } from '../lib/metrics/dieboldMariano';
import { qlikeLosses } from '../lib/metrics/loss';
import { loadConfig } from '../lib/platform/config';
import { withDuck } from '../lib/platform/duckdb';
import { repoRoot, venvPython } from '../lib/platform/paths';
import type { Series } from '../lib/platform/layout';
import { planRun } from '../lib/training/plan';
import { resolveProtocol } from '../lib/training/protocols';
import { parseArgs } from './stack';

const args = parseArgs(process.argv.slice(2));
const SYMBOL = String(args.symbol ?? 'BTC/USDT');
const TARGETS = String(args.targets ?? 'target_rv_24h,target_gk_1h').split(',');
const MODELS = String(args.models ?? 'har_x,lightgbm').split(',');
const TREE_FOLDS = args['tree-folds'] !== undefined ? Number(args['tree-folds']) : 12;
const FROM = String(args.from ?? '2021-03-24');
const OUT = String(args.out ?? join(repoRoot, '.state', 'bench-dvol'));
const UNIVERSE = ['BTC/USDT', 'ETH/USDT'];

interface FitOut { tag: string; fold: number; ts: number[]; pred: number[]; y: (number | null)[]; columns: string[]; fitted: Record<string, unknown>; parity: number; seconds: number }

async function main(): Promise<void> {
  const t0 = Date.now();
  const cfg = loadConfig();
  mkdirSync(OUT, { recursive: true });
  const series = (symbol: string): Series => ({ exchange: cfg.exchanges[0]!.id, symbol, timeframe: '1h' });

  // Features: the universe's candles from FROM, each symbol's configured index from the shared files.
  const built = await withDuck(async (db) => {
    const inputs = [];
    for (const s of UNIVERSE) {
      const files = await csvToMonthlyParquet(db, binanceHourlyCsv(s), join(OUT, 'candles', s.replace('/', '-')), { from: `${FROM}T00:00:00Z` });
      inputs.push({ series: series(s), files: files.map((f) => f.path) });
    }
    const implied: ImpliedInput[] = [];
    for (const [symbol, index] of Object.entries(cfg.features.implied)) {
      if (!UNIVERSE.includes(symbol)) continue;
      const currency = index.symbol.split('/')[0]!;
      implied.push({ series: series(symbol), index, files: await indexCsvToMonthlyParquet(db, dvolCsv(currency, index.timeframe), join(OUT, 'index', `${currency}-${index.timeframe}`)) });
    }
    return { inputs, implied };
  }).then(({ inputs, implied }) => buildFeatureFiles(inputs, { outDir: join(OUT, 'features'), implied }));
  const out = built.series.find((s) => s.series.symbol === SYMBOL)!;
  console.log(`features: ${built.featureSetId}, ${out.rows} rows of ${SYMBOL} from ${new Date(out.firstTs).toISOString()} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);

  const results: Record<string, unknown>[] = [];
  for (const target of TARGETS) {
    const protocol = resolveProtocol(cfg, 'long', { models: [...new Set([...MODELS, ...(MODELS.includes('har_x') ? ['har_x_iv'] : [])])], targets: [target] });
    const plan = await withDuck((db) =>
      planRun(db, out.path, {
        runId: `bench-dvol-${target}`, series: out.series, target, protocol, champion: null,
        featuresRef: { bucket: 'local', key: out.path, sha256: '0'.repeat(64) }, featureSetId: built.featureSetId, featureDefinitionsSha: definitionsSha(),
        featureUniverse: built.series.map((s) => seriesKey(s.series)),
      }, { barMs: 3_600_000, trainerVersion: 'bench-dvol' }),
    );
    const folds = plan.folds.length;
    const keptIv = plan.folds.map((f) => f.columns.includes('iv_var_1'));
    console.log(`\n== ${SYMBOL} ${target}: protocol long, ${folds} folds, test ${new Date(plan.folds[0]!.test.startTs).toISOString().slice(0, 10)} → ${new Date(plan.folds.at(-1)!.test.endTs).toISOString().slice(0, 10)}; iv_var_1 kept on ${keptIv.filter(Boolean).length}/${folds} folds`);
    const fits: (FitInput & { tag: string; fold: number })[] = [];
    plan.fits.forEach((f) => {
      if (f.purpose !== 'fold') return;
      const fold = plan.folds.findIndex((x) => x.test.startTs === f.test.startTs);
      const name = f.model.name;
      if (name === 'har_x' || name === 'har_x_iv') fits.push({ ...f, tag: name, fold });
      if (name === 'lightgbm' && fold >= folds - TREE_FOLDS) {
        fits.push({ ...f, tag: 'lightgbm_iv', fold });
        fits.push({ ...f, featureColumns: f.featureColumns.filter((c) => !IMPLIED_FEATURES.includes(c)), tag: 'lightgbm', fold });
      }
    });
    const fitsPath = join(OUT, `fits-${target}.json`);
    const outPath = join(OUT, `preds-${target}.json`);
    writeFileSync(fitsPath, JSON.stringify(fits));
    const tFit = Date.now();
    const py = spawnSync(venvPython, [join(repoRoot, 'bench', 'dvol_fit.py'), out.path, fitsPath, outPath], { stdio: 'inherit', cwd: repoRoot });
    if (py.status !== 0) throw new Error(`bench/dvol_fit.py failed (${py.status})`);
    const preds = JSON.parse(readFileSync(outPath, 'utf8')) as FitOut[];
    const fitSeconds = (Date.now() - tFit) / 1000;

    for (const [without, withIv] of [['har_x', 'har_x_iv'], ['lightgbm', 'lightgbm_iv']] as const) {
      const a = preds.filter((p) => p.tag === without), b = preds.filter((p) => p.tag === withIv);
      if (!a.length) continue;
      const y: number[] = [], fa: number[] = [], fb: number[] = [];
      let wins = 0, foldsCompared = 0;
      for (const pa of a) {
        const pb = b.find((x) => x.fold === pa.fold)!;
        const byTs = new Map(pb.ts.map((t, i) => [t, i]));
        const fy: number[] = [], ffa: number[] = [], ffb: number[] = [];
        pa.ts.forEach((t, i) => {
          const j = byTs.get(t);
          const yi = pa.y[i];
          if (j === undefined || yi === null || yi === undefined || !(yi > 0)) return;
          fy.push(yi); ffa.push(pa.pred[i]!); ffb.push(pb.pred[j]!);
        });
        if (!fy.length) continue;
        foldsCompared++;
        const m = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
        if (m(qlikeLosses(fy, ffb)) < m(qlikeLosses(fy, ffa))) wins++;
        y.push(...fy); fa.push(...ffa); fb.push(...ffb);
      }
      const la = qlikeLosses(y, fa), lb = qlikeLosses(y, fb);
      const mean = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
      const dm = dieboldMariano(lb, la, horizonBarsOf(target));
      const used = b.filter((p) => Array.isArray(p.fitted.extraColumnsUsed) ? (p.fitted.extraColumnsUsed as string[]).length > 0 : p.columns.some((c) => IMPLIED_FEATURES.includes(c))).length;
      const r = {
        symbol: SYMBOL, target, pair: `${withIv} vs ${without}`, folds: foldsCompared, foldsUsingDvol: used, rows: y.length,
        testFrom: new Date(Math.min(...a.map((p) => p.ts[0]!))).toISOString(), testTo: new Date(Math.max(...a.map((p) => p.ts.at(-1)!))).toISOString(),
        qlikeWithout: mean(la), qlikeWith: mean(lb), ratio: mean(lb) / mean(la), foldsWon: wins,
        dmHlnPValueOneSided: dm.robust.hlnPValueOneSided, maxParity: Math.max(...[...a, ...b].map((p) => p.parity)),
      };
      results.push(r);
      console.log(`${r.pair}: ${r.folds} folds (${r.foldsUsingDvol} with DVOL), ${r.rows} rows; QLIKE ${r.qlikeWith.toFixed(5)} vs ${r.qlikeWithout.toFixed(5)}: ratio ${r.ratio.toFixed(4)}; folds won ${wins}/${foldsCompared}; DM one-sided p ${dm.robust.hlnPValueOneSided?.toPrecision(3)}`);
    }
    console.log(`fits: ${preds.length} in ${fitSeconds.toFixed(0)} s`);
  }
  const file = join(OUT, `results-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ symbol: SYMBOL, from: FROM, models: MODELS, treeFolds: TREE_FOLDS, featureSetId: built.featureSetId, results, seconds: (Date.now() - t0) / 1000 }, null, 2));
  console.log(`\nresults: ${file} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
