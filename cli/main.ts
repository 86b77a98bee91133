/** volcast CLI: `volcast --help`. Every command loads and validates the config before anything else. */
import { Command } from 'commander';
import { loadConfig, type VolcastConfig } from '../lib/platform/config';
import { registerData } from './data';
import { registerDev } from './dev';
import { EXIT_CODES_HELP, reportError } from './errors';
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
    .showHelpAfterError()
    // Usage errors throw (every subcommand inherits this), so that they exit with code 2.
    .exitOverride()
    .addHelpText('after', EXIT_CODES_HELP);
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

function configOrNull(): VolcastConfig | null {
  try {
    return loadConfig();
  } catch {
    return null;
  }
}

main(process.argv).catch((err: unknown) => {
  process.exit(reportError(err, configOrNull()));
});
