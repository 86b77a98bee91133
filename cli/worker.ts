import { Option, type Command } from 'commander';
import { loadConfigOrExit } from '../lib/platform/config';
import { runCpuWorker } from '../workers/cpu';
import { superviseTrainer } from '../workers/trainer';
import { ensureInstalled } from './setup';

export function registerWorker(program: Command): void {
  const worker = program.command('worker').description('run a worker in the foreground (Ctrl-C stops it gracefully)');
  worker
    .command('cpu')
    .description('the TypeScript worker: workflows and CPU activities on the volcast-cpu queue')
    .action(async () => {
      await runCpuWorker(loadConfigOrExit());
    });
  worker
    .command('train')
    .description('the Python trainer: volcast-train-cpu, and volcast-gpu when CUDA is present; restarted with backoff if it dies')
    .option('--gpu-on-cpu', 'serve the GPU queue on CPU (development and CI)')
    .addOption(new Option('--only <role>', 'serve one queue role only').choices(['trainCpu', 'gpu']))
    .option('--concurrency <n>', 'activities at once per queue served, each in a fit process of its own (default 2)', (v) => Number.parseInt(v, 10))
    .action(async (opts: { gpuOnCpu?: boolean; only?: 'trainCpu' | 'gpu'; concurrency?: number }) => {
      const cfg = loadConfigOrExit();
      ensureInstalled('python');
      // A trainer that dies is restarted with backoff and its death logged; Ctrl-C/SIGTERM stop it
      // gracefully (a second one kills it).
      const trainer = superviseTrainer(cfg, opts);
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => trainer.stop(sig));
      process.exit(await trainer.done);
    });
}
