/**
 * bench/features_profile: profiles the generated feature query on one or more candle Parquet files
 * (default: the bench's BTC full history) and prints the slowest operators.
 * Run: node --import tsx bench/features_profile.ts [file.parquet ...]
 */
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { sqlString, withDuck } from '../lib/platform/duckdb';
import { LM_WINDOW, TARGET_HORIZON } from '../lib/features/definitions';
import { featuresQuery } from '../lib/features/sql';
import { repoRoot } from '../lib/platform/paths';

interface Node { operator_name?: string; operator_timing?: number; operator_cardinality?: number; extra_info?: unknown; children?: Node[] }

async function main(): Promise<void> {
  const files = process.argv.slice(2);
  if (!files.length) files.push(join(repoRoot, '.cache', 'bench-features', 'candles', 'BTC.parquet'));
  const prof = join(repoRoot, '.cache', 'features-profile.json');
  await withDuck(async (db) => {
    await db.run(`CREATE TABLE candles AS ${files
      .map((f, i) => `SELECT 'binance:S${i}:1h' AS series, 'binance' AS exchange, ${i === 0 ? "'BTC/USDT'" : `'S${i}/USDT'`} AS symbol, CAST(ts AS BIGINT) AS ts,
        CAST(open AS DOUBLE) AS open, CAST(high AS DOUBLE) AS high, CAST(low AS DOUBLE) AS low, CAST(close AS DOUBLE) AS close, CAST(volume AS DOUBLE) AS volume
        FROM read_parquet(${sqlString(f)})`)
      .join(' UNION ALL ')}`);
    const q = featuresQuery({ barMs: 3_600_000, lmWindow: LM_WINDOW, horizon: TARGET_HORIZON });
    await db.run(`PRAGMA enable_profiling = 'json'`);
    await db.run(`PRAGMA profiling_output = ${sqlString(prof)}`);
    const t0 = Date.now();
    await db.run(`CREATE TABLE feats AS ${q}`);
    console.log(`query: ${((Date.now() - t0) / 1000).toFixed(2)} s`);
  }, { threads: 2, memoryLimit: '6GB' });
  const root = JSON.parse(readFileSync(prof, 'utf8')) as Node;
  const rows: [string, number, number, string][] = [];
  const walk = (n: Node, depth: number) => {
    if (n.operator_name) rows.push([`${'  '.repeat(depth)}${n.operator_name}`, n.operator_timing ?? 0, n.operator_cardinality ?? 0, JSON.stringify(n.extra_info ?? '').slice(0, 100000)]);
    for (const c of n.children ?? []) walk(c, depth + 1);
  };
  walk(root, 0);
  for (const [name, t, card, info] of rows) console.log(`${t.toFixed(3).padStart(8)} s ${String(card).padStart(9)}  ${name}  ${info}`);
  rmSync(prof, { force: true });
}
main().catch((e: unknown) => { console.error(e); process.exit(1); });
