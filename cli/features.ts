/** `volcast features build|show`: build a feature set from the candle lake, inspect one. */
import type { Command } from 'commander';
import { randomUUID } from 'node:crypto';
import { featureActivities } from '../activities/features';
import type { BuildFeaturesInput, BuildFeaturesResult, FeatureSetManifest } from '../contracts/activities';
import { loadConfigOrExit } from '../lib/platform/config';
import { queryRows, sqlString, withDuck } from '../lib/platform/duckdb';
import { layout } from '../lib/platform/layout';
import { ArtifactStore } from '../lib/platform/store';
import { connectClient } from '../lib/platform/temporal';
import { CPU_NEEDS, runWorkflow } from './run';
import { buildFeaturesWorkflow } from '../workflows';
import { seriesOf } from '../lib/orchestration/inputs';

interface BuildOpts {
  symbols?: string;
  exchange?: string;
  timeframe?: string;
  previous?: string;
  inline?: boolean;
}

/** Column names, null counts, first and last rows of one feature Parquet file. */
export async function describeFeatureFile(path: string): Promise<string> {
  return withDuck(async (db) => {
    const src = `read_parquet(${sqlString(path)})`;
    const cols = await queryRows<{ column_name: string; column_type: string }>(db, `DESCRIBE SELECT * FROM ${src}`);
    const nulls = await queryRows<Record<string, bigint>>(db, `SELECT count(*) AS __rows, ${cols.map((c) => `count(*) - count(${c.column_name}) AS ${c.column_name}`).join(', ')} FROM ${src}`);
    const n = nulls[0]!;
    const edge = await queryRows<Record<string, unknown>>(db, `(SELECT * FROM ${src} ORDER BY ts LIMIT 1) UNION ALL (SELECT * FROM ${src} ORDER BY ts DESC LIMIT 1)`);
    const fmt = (v: unknown) => (v === null ? 'NULL' : typeof v === 'number' && !Number.isInteger(v) ? v.toPrecision(6) : String(v));
    const lines = [`rows ${n.__rows}, ${cols.length} columns`, `${'column'.padEnd(24)} ${'type'.padEnd(8)} ${'nulls'.padStart(7)}  ${'first row'.padStart(14)}  ${'last row'.padStart(14)}`];
    for (const c of cols) {
      lines.push(`${c.column_name.padEnd(24)} ${c.column_type.padEnd(8)} ${String(n[c.column_name]).padStart(7)}  ${fmt(edge[0]?.[c.column_name]).padStart(14)}  ${fmt(edge[1]?.[c.column_name]).padStart(14)}`);
    }
    return lines.join('\n');
  });
}

export function registerFeatures(program: Command): void {
  const features = program.command('features').description('features and targets (DuckDB) from the candle lake');
  features
    .command('build')
    .description('build a feature set for the configured (or given) symbols; runs the buildFeatures workflow on the cluster, or in this process with --inline')
    .option('--symbols <list>', 'comma-separated, e.g. BTC/USDT,ETH/USDT (default: config symbols)')
    .option('--exchange <id>', 'exchange (default: the first configured)')
    .option('--timeframe <tf>', 'timeframe (default: the first configured)')
    .option('--previous <featureSetId>', 'extend this earlier feature set (recompute only the tail)')
    .option('--inline', 'run the activity code here instead of on a worker')
    .action(async (opts: BuildOpts) => {
      const cfg = loadConfigOrExit();
      const symbols = opts.symbols ? opts.symbols.split(',').map((s) => s.trim()) : cfg.symbols;
      const store = new ArtifactStore(cfg);
      const input: BuildFeaturesInput = { series: symbols.map((symbol) => seriesOf(cfg, symbol, opts)) };
      if (opts.previous) {
        const prev = await store.head(layout.featuresManifest(opts.previous));
        if (!prev) throw new Error(`no feature set ${opts.previous}`);
        input.previous = prev;
      }
      let result: BuildFeaturesResult;
      if (opts.inline) {
        result = await featureActivities(store, cfg).buildFeatures(input);
      } else {
        const client = await connectClient(cfg);
        try {
          result = await runWorkflow(client, cfg, { type: 'features', workflow: buildFeaturesWorkflow, workflowId: `features-${randomUUID().slice(0, 8)}`, args: [input], needs: CPU_NEEDS });
        } finally {
          await client.connection.close();
        }
      }
      console.log(`featureSetId ${result.featureSetId} (${result.mode}, ${result.recomputedRows} rows computed)`);
      for (const s of result.series) console.log(`  s3://${s.ref.bucket}/${s.ref.key}  ${s.rows} rows, watermark ${new Date(s.watermark).toISOString()}`);
      console.log(`manifest s3://${result.ref.bucket}/${result.ref.key}; ${result.columns.length} columns`);
    });
  features
    .command('show')
    .argument('<featureSetId>', 'a feature set id (fs-…)')
    .option('--file <path>', 'describe a local feature Parquet file instead')
    .description('columns, null counts, first/last rows and the featureSetId of a feature set')
    .action(async (featureSetId: string, opts: { file?: string }) => {
      if (opts.file) {
        console.log(await describeFeatureFile(opts.file));
        return;
      }
      const cfg = loadConfigOrExit();
      const store = new ArtifactStore(cfg);
      const found = await store.readLatest(layout.featuresManifest(featureSetId));
      if (!found) throw new Error(`no feature set ${featureSetId} (no ${layout.featuresManifest(featureSetId)})`);
      const m = JSON.parse(found.data.toString('utf8')) as FeatureSetManifest;
      console.log(`featureSetId ${m.featureSetId}: ${m.series.length} series, ${m.rows} rows, ${m.columns.length} columns`);
      for (const s of m.series) {
        console.log(`\n== ${s.key} (watermark ${new Date(s.watermark).toISOString()}) s3://${s.ref.bucket}/${s.ref.key}`);
        console.log(await describeFeatureFile(await store.getFile(s.ref)));
      }
    });
}
