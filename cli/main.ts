/** volcast CLI: `volcast --help`. Every command loads and validates the config before anything else. */
import { Command } from 'commander';
import { registerData } from './data';
import { registerDev } from './dev';
import { registerModels } from './models';
import { registerPipeline } from './pipeline';
import { registerPredictions } from './predictions';
import { registerSchedules } from './schedules';
import { registerServe } from './serve';
import { registerFeatures } from './features';
import { registerWorker } from './worker';

async function main(argv: string[]): Promise<void> {
  const program = new Command('volcast')
    .description('Durable, scheduled pipelines that forecast crypto volatility (Temporal + MinIO).')
    .showHelpAfterError();
  registerDev(program);
  registerWorker(program);
  registerSchedules(program);
  registerModels(program);
  registerPipeline(program);
  registerPredictions(program);
  registerData(program);
  registerFeatures(program);
  registerServe(program);
  await program.parseAsync(argv);
}

main(process.argv).catch((err: unknown) => {
  process.stderr.write(`volcast: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
