/**
 * bench/tree_parity helper (node side), two modes:
 *   features OUT_DIR   BTC/USDT + ETH/USDT hourly features with the project's own builder
 *                      (lib/features/build.ts, DuckDB) from ../shared/data, written to OUT_DIR
 *                      (a git-ignored .cache folder); prints {files, featureColumns} as JSON.
 *   score DIR          scores every model of DIR/manifest.json ([{id, model, x, rows, cols}], x raw
 *                      little-endian float32 [rows, cols]) with onnxruntime-node in ONE process, the
 *                      scorer's session options (single-threaded), writing DIR/{id}.vol.f32.
 * Run by bench/tree_parity.py and test/trainer/test_tree_parity.py: node --import tsx bench/tree_parity_node.ts ...
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sharedData } from '../lib/candles/csv';
import { sqlString, withDuck } from '../lib/platform/duckdb';
import { buildFeatureFiles } from '../lib/features/build';
import { FEATURE_COLUMNS } from '../lib/features/definitions';
import { onnxRuntimeVersion, ort } from '../lib/scoring/session';

const SYMBOLS = ['BTC', 'ETH'];

async function features(outDir: string): Promise<void> {
  const candles = join(outDir, 'candles');
  mkdirSync(candles, { recursive: true });
  await withDuck(async (db) => {
    for (const base of SYMBOLS) {
      const out = join(candles, `${base}.parquet`);
      if (existsSync(out)) continue;
      const csv = join(sharedData, 'candles', `BINANCE_${base}USDT_1h.csv.gz`);
      await db.run(`COPY (SELECT CAST(ts AS BIGINT) AS ts, CAST(open AS DOUBLE) AS open, CAST(high AS DOUBLE) AS high, CAST(low AS DOUBLE) AS low,
        CAST(close AS DOUBLE) AS close, CAST(volume AS DOUBLE) AS volume FROM read_csv(${sqlString(csv)}, header = true) ORDER BY ts)
        TO ${sqlString(out)} (FORMAT parquet)`);
    }
  });
  const r = await buildFeatureFiles(
    SYMBOLS.map((b) => ({ series: { exchange: 'binance', symbol: `${b}/USDT`, timeframe: '1h' }, files: [join(candles, `${b}.parquet`)] })),
    { outDir: join(outDir, 'features'), threads: 2, memoryLimit: '4GB' },
  );
  const files = Object.fromEntries(r.series.map((s) => [s.series.symbol, s.path]));
  process.stdout.write(JSON.stringify({ files, featureColumns: FEATURE_COLUMNS, rows: r.rows }) + '\n');
}

interface Entry {
  id: string;
  model: string;
  x: string;
  rows: number;
  cols: number;
}

async function score(dir: string): Promise<void> {
  const entries = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Entry[];
  for (const e of entries) {
    const session = await ort.InferenceSession.create(join(dir, e.model), { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
    const buf = readFileSync(join(dir, e.x));
    const x = new Float32Array(buf.buffer, buf.byteOffset, e.rows * e.cols);
    const out = await session.run({ x: new ort.Tensor('float32', x, [e.rows, e.cols]) });
    const vol = out.vol!;
    if (vol.type !== 'float32' || vol.dims.join(',') !== `${e.rows},1`) throw new Error(`${e.id}: vol is ${vol.type} [${vol.dims.join(', ')}]`);
    const data = vol.data as Float32Array;
    writeFileSync(join(dir, `${e.id}.vol.f32`), Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    await session.release();
  }
  process.stdout.write(JSON.stringify({ runtime: onnxRuntimeVersion, scored: entries.length }) + '\n');
}

async function main(): Promise<void> {
  const [mode, arg] = process.argv.slice(2);
  if (mode === 'features' && arg) return features(arg);
  if (mode === 'score' && arg) return score(arg);
  throw new Error('usage: tree_parity_node.ts features OUT_DIR | score DIR');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
