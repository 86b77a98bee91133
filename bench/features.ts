/**
 * bench/features: full feature rebuilds, DuckDB (lib/features/build.ts) against a pandas
 * implementation of the same feature list (bench/features_pandas.py), side by side:
 *   1. every hourly symbol in ../shared/data (real series as they are);
 *   2. 50 symbols × 5 years: the real series that cover the last 5 years, replicated under new names
 *      (e.g. BTCR1/USDT is a copy of BTC/USDT) until there are 50.
 * Each implementation runs in its own process so each peak RSS (high-water) is its own; times
 * cover reading the candle Parquet, computing and writing the feature Parquet.
 * Run: npm run bench:features   (works on local files; no stack needed)
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedData } from '../lib/candles/csv';
import { queryRows, sqlString, withDuck } from '../lib/platform/duckdb';
import { buildFeatureFiles, type SeriesInput } from '../lib/features/build';
import { repoRoot, venvPython } from '../lib/platform/paths';

const WORK = join(repoRoot, '.cache', 'bench-features');
const FIVE_YEARS_FROM = Date.parse('2021-03-01T00:00:00Z');
const FIVE_YEARS_TO = Date.parse('2026-03-01T00:00:00Z');

interface CaseSpec {
  name: string;
  note: string;
  series: { symbol: string; file: string }[];
}

interface Measured {
  seconds: number;
  /** user + system CPU seconds of the timed part: less sensitive than wall time to other jobs on shared cores. */
  cpuSeconds: number;
  rows: number;
  maxRssMb: number;
  columns: number;
}

/** One Parquet per real symbol (the whole CSV), and its last-5-years slice. */
async function prepare(): Promise<{ all: CaseSpec; fifty: CaseSpec }> {
  mkdirSync(join(WORK, 'candles'), { recursive: true });
  const csvs = readdirSync(join(sharedData, 'candles')).filter((f) => /^BINANCE_[A-Z0-9]+USDT_1h\.csv\.gz$/.test(f)).sort();
  const all: CaseSpec['series'] = [];
  const long: CaseSpec['series'] = [];
  await withDuck(async (db) => {
    for (const f of csvs) {
      const base = /^BINANCE_([A-Z0-9]+)USDT_1h/.exec(f)![1]!;
      const full = join(WORK, 'candles', `${base}.parquet`);
      const five = join(WORK, 'candles', `${base}_5y.parquet`);
      if (!existsSync(full)) {
        await db.run(`COPY (SELECT CAST(ts AS BIGINT) AS ts, CAST(open AS DOUBLE) AS open, CAST(high AS DOUBLE) AS high, CAST(low AS DOUBLE) AS low,
          CAST(close AS DOUBLE) AS close, CAST(volume AS DOUBLE) AS volume FROM read_csv(${sqlString(join(sharedData, 'candles', f))}, header = true) ORDER BY ts)
          TO ${sqlString(full)} (FORMAT parquet)`);
        await db.run(`COPY (SELECT * FROM read_parquet(${sqlString(full)}) WHERE ts >= ${FIVE_YEARS_FROM} AND ts < ${FIVE_YEARS_TO}) TO ${sqlString(five)} (FORMAT parquet)`);
      }
      all.push({ symbol: `${base}/USDT`, file: full });
      const [c] = await queryRows<{ first: bigint; last: bigint }>(db, `SELECT min(ts) AS first, max(ts) AS last FROM read_parquet(${sqlString(five)})`);
      // Only series that span the whole 5 years (several stop in 2022).
      if (c && Number(c.first) === FIVE_YEARS_FROM && Number(c.last) === FIVE_YEARS_TO - 3_600_000) long.push({ symbol: `${base}/USDT`, file: five });
    }
  });
  const fifty: CaseSpec['series'] = [];
  for (let k = 0; fifty.length < 50; k++) {
    for (const s of long) {
      if (fifty.length === 50) break;
      fifty.push(k === 0 ? s : { symbol: s.symbol.replace('/', `R${k}/`), file: s.file });
    }
  }
  return {
    all: { name: 'all hourly symbols', note: `${all.length} real series, full history`, series: all },
    fifty: {
      name: '50 symbols x 5 years',
      note: `${long.length} real series covering 2021-03..2026-02 (${long.map((s) => s.symbol.split('/')[0]).join(', ')}), replicated under new names (e.g. BTCR1/USDT = BTC/USDT) to 50`,
      series: fifty,
    },
  };
}

/** The DuckDB side, in its own process: `bench/features.ts --duckdb spec.json out.json`. */
async function duckdbWorker(specPath: string, outPath: string): Promise<void> {
  const spec = JSON.parse(readFileSync(specPath, 'utf8')) as CaseSpec;
  const inputs: SeriesInput[] = spec.series.map((s) => ({ series: { exchange: 'binance', symbol: s.symbol, timeframe: '1h' }, files: [s.file] }));
  const outDir = join(WORK, 'out-duckdb');
  rmSync(outDir, { recursive: true, force: true });
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  // 2 cores, 24 GiB machine shared with others: 2 threads, 6 GB before DuckDB spills to disk.
  const r = await buildFeatureFiles(inputs, { outDir, threads: 2, memoryLimit: '6GB' });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  const m: Measured = { seconds, cpuSeconds: (c.user + c.system) / 1e6, rows: r.rows, columns: r.columns.length, maxRssMb: process.resourceUsage().maxRSS / 1024 };
  writeFileSync(outPath, JSON.stringify(m));
}

function runChild(cmd: string, args: string[]): void {
  const p = spawnSync(cmd, args, { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
  if (p.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed with ${p.status}`);
}

async function main(): Promise<void> {
  const [mode, a, b] = process.argv.slice(2);
  if (mode === '--duckdb') return duckdbWorker(a!, b!);
  const cases = await prepare();
  const results: { spec: CaseSpec; duck: Measured; pandas: Measured }[] = [];
  for (const spec of [cases.all, cases.fifty]) {
    console.log(`\n== ${spec.name}: ${spec.note}`);
    const specPath = join(WORK, 'spec.json');
    writeFileSync(specPath, JSON.stringify(spec));
    runChild(process.execPath, ['--import', 'tsx', join(repoRoot, 'bench', 'features.ts'), '--duckdb', specPath, join(WORK, 'duck.json')]);
    const duck = JSON.parse(readFileSync(join(WORK, 'duck.json'), 'utf8')) as Measured;
    console.log(`duckdb: ${duck.rows} rows x ${duck.columns} columns in ${duck.seconds.toFixed(2)} s (${duck.cpuSeconds.toFixed(2)} CPU s), peak RSS ${duck.maxRssMb.toFixed(0)} MB`);
    runChild(venvPython, [join(repoRoot, 'bench', 'features_pandas.py'), specPath, join(WORK, 'pandas.json'), join(WORK, 'out-duckdb')]);
    const pandas = JSON.parse(readFileSync(join(WORK, 'pandas.json'), 'utf8')) as Measured;
    console.log(`pandas: ${pandas.rows} rows x ${pandas.columns} columns in ${pandas.seconds.toFixed(2)} s (${pandas.cpuSeconds.toFixed(2)} CPU s), peak RSS ${pandas.maxRssMb.toFixed(0)} MB`);
    results.push({ spec, duck, pandas });
  }
  console.log('\ncase                      engine      rows      seconds    rows/s  CPU s  rows/CPU-s  peak RSS MB');
  for (const r of results) {
    for (const [name, m] of [['duckdb', r.duck], ['pandas', r.pandas]] as const) {
      console.log(`${r.spec.name.padEnd(25)} ${name.padEnd(7)} ${String(m.rows).padStart(9)} ${m.seconds.toFixed(2).padStart(10)} ${Math.round(m.rows / m.seconds).toString().padStart(10)} ${m.cpuSeconds.toFixed(1).padStart(6)} ${Math.round(m.rows / m.cpuSeconds).toString().padStart(11)} ${m.maxRssMb.toFixed(0).padStart(12)}`);
    }
    const speed = r.duck.rows / r.duck.seconds / (r.pandas.rows / r.pandas.seconds);
    const perCpu = r.pandas.cpuSeconds / r.duck.cpuSeconds;
    console.log(`${''.padEnd(25)} ratio: duckdb ${speed.toFixed(2)}x the rows/s of pandas (wall), ${perCpu.toFixed(2)}x its rows per CPU second, ${(r.duck.maxRssMb / r.pandas.maxRssMb).toFixed(2)}x its peak RSS`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
