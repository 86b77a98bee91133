import type { Command } from 'commander';
import { seriesOf } from '../lib/orchestration/inputs';
import { loadConfigOrExit } from '../lib/platform/config';
import { tailPredictions } from '../lib/scoring/predictions';
import { ArtifactStore } from '../lib/platform/store';

export function registerPredictions(program: Command): void {
  const cmd = program.command('predictions').description('the forecasts written by the score workflow');
  cmd
    .command('tail')
    .description('the latest forecasts per symbol and target')
    .option('-n <count>', 'rows per symbol and target', (v) => Number.parseInt(v, 10), 5)
    .option('--symbol <symbol>', 'one symbol (default: all configured)')
    .option('--target <target>', 'one target (default: all configured)')
    .action(async (opts: { n: number; symbol?: string; target?: string }) => {
      const cfg = loadConfigOrExit();
      const store = new ArtifactStore(cfg);
      for (const symbol of opts.symbol ? [opts.symbol] : cfg.symbols) {
        for (const target of opts.target ? [opts.target] : cfg.targets) {
          const series = seriesOf(cfg, symbol);
          const rows = await tailPredictions(store, series, target, opts.n);
          console.log(`\n${series.exchange} ${symbol} ${series.timeframe} ${target}: ${rows.length ? '' : 'no forecasts yet'}`);
          for (const r of rows) {
            const interval = r.lower80 != null ? `  80% [${r.lower80.toFixed(5)}, ${r.upper80!.toFixed(5)}]` : '';
            console.log(`  ${new Date(r.barTs).toISOString()}  ${r.value.toFixed(5)}${interval}  regime ${r.regime ?? '-'}  ${r.modelName} ${r.modelId}`);
          }
        }
      }
    });
}
