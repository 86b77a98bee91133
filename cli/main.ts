/** volcast CLI: `volcast --help`. Every command loads and validates the config before anything else. */
import { Command } from 'commander';
import { registerDev } from './dev';
import { registerFeatures } from './features';
import { registerWorker } from './worker';

async function main(argv: string[]): Promise<void> {
  const program = new Command('volcast')
    .description('Durable, scheduled pipelines that forecast crypto volatility (Temporal + MinIO).')
    .showHelpAfterError();
  registerDev(program);
  registerWorker(program);
  registerFeatures(program);
  await program.parseAsync(argv);
}

main(process.argv).catch((err: unknown) => {
  process.stderr.write(`volcast: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
