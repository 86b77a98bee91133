import type { Command } from 'commander';
import { TRAINABLE_TARGETS } from '../contracts/domain';
import { seriesOf } from '../lib/orchestration/inputs';
import { loadConfigOrExit } from '../lib/platform/config';
import { layout } from '../lib/platform/layout';
import { listChampions, readChampion, rollbackChampion } from '../lib/promotion/registry';
import { promoteByHand } from '../lib/promotion/manual';
import { definitionsSha } from '../lib/features/build';
import { ArtifactStore } from '../lib/platform/store';

interface SeriesOpts {
  exchange?: string;
  symbol: string;
  timeframe?: string;
  target: string;
}

function withSeriesOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--symbol <symbol>', 'e.g. BTC/USDT')
    .requiredOption('--target <target>', TRAINABLE_TARGETS.join(' | '))
    .option('--exchange <id>', 'default: the first configured exchange')
    .option('--timeframe <tf>', 'default: the first configured timeframe');
}

export function registerModels(program: Command): void {
  const cmd = program.command('models').description('champions, model cards, manual promotion and rollback');
  cmd
    .command('list')
    .description('the champion of every series and target, and the models stored')
    .option('--all', 'also list every stored model card')
    .action(async (opts: { all?: boolean }) => {
      const store = new ArtifactStore(loadConfigOrExit());
      const champions = await listChampions(store);
      if (!champions.length) console.log('no champions yet: run a training (`volcast demo` or `volcast train`)');
      for (const row of champions) {
        if (!row.ok) {
          console.log(`${row.key}: UNREADABLE: ${row.error}`);
          continue;
        }
        const c = row.record;
        const trained = c.trainEndTs ? `  trained to ${new Date(c.trainEndTs).toISOString().slice(0, 16)}Z` : '';
        console.log(
          `${c.series.exchange} ${c.series.symbol} ${c.series.timeframe} ${c.target.padEnd(14)} ${c.name.padEnd(12)} ${c.modelId}  ${c.action} ${c.decidedAt}${trained}${c.loss != null ? `  holdout QLIKE ${c.loss.toPrecision(5)}` : ''}`,
        );
      }
      if (opts.all) {
        const cards = (await store.list('models/')).filter((o) => o.key.endsWith('/card.json'));
        console.log(`\n${cards.length} stored models:`);
        for (const o of cards) {
          const got = await store.readLatest(o.key);
          const card = JSON.parse(got!.data.toString()) as { modelId: string; name: string; target: string; test?: { startTs: number; endTs: number }; parity?: { passed: boolean } | null };
          const test = card.test ? `${new Date(card.test.startTs).toISOString().slice(0, 10)}..${new Date(card.test.endTs).toISOString().slice(0, 10)}` : '';
          console.log(`  ${card.modelId}  ${card.name.padEnd(12)} ${card.target.padEnd(14)} test ${test}  parity ${card.parity ? (card.parity.passed ? 'ok' : 'FAILED') : 'unchecked'}`);
        }
      }
    });
  cmd
    .command('show <modelId>')
    .description("print a model's card")
    .action(async (modelId: string) => {
      const store = new ArtifactStore(loadConfigOrExit());
      const got = await store.readLatest(layout.model(modelId, 'card.json'));
      if (!got) throw new Error(`no model ${modelId} (no ${layout.model(modelId, 'card.json')})`);
      const card = JSON.parse(got.data.toString()) as Record<string, unknown>;
      // The trainer's predictions are long; the rest of the card is what a reader wants.
      if (card.trainerPredictions) card.trainerPredictions = `(${(card.trainerPredictions as { ts: unknown[] }).ts.length} rows)`;
      console.log(JSON.stringify(card, null, 2));
    });
  withSeriesOptions(cmd.command('promote <modelId>').description('make a model (or recorded ensemble) the champion by hand: its card must be of that series and target, on the current feature definitions, with ONNX parity passed'))
    .option('--reason <text>', 'why', 'manual promotion from the CLI')
    .action(async (modelId: string, opts: SeriesOpts & { reason: string }) => {
      const cfg = loadConfigOrExit();
      const store = new ArtifactStore(cfg);
      const series = seriesOf(cfg, opts.symbol, opts);
      const record = await promoteByHand(store, { modelId, series, target: opts.target, definitionsSha: definitionsSha(), reason: opts.reason, decidedAt: new Date().toISOString() });
      const card = { name: record.name };
      console.log(`${modelId} (${card.name}) is now the champion for ${series.symbol} ${series.timeframe} ${opts.target}`);
    });
  withSeriesOptions(cmd.command('rollback').description('restore the previous champion'))
    .option('--reason <text>', 'why', 'rollback from the CLI')
    .action(async (opts: SeriesOpts & { reason: string }) => {
      const cfg = loadConfigOrExit();
      const store = new ArtifactStore(cfg);
      const series = seriesOf(cfg, opts.symbol, opts);
      const before = await readChampion(store, series, opts.target);
      const after = await rollbackChampion(store, series, opts.target, new Date().toISOString(), opts.reason);
      console.log(`rolled back ${series.symbol} ${opts.target}: ${before?.name} ${before?.modelId} -> ${after.name} ${after.modelId}`);
    });
}
