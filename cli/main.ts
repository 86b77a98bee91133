/** volcast CLI: `volcast --help`. Every command loads and validates the config before anything else. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Command, Option } from 'commander';
import { loadConfigOrExit } from '../lib/config';
import { repoRoot } from '../lib/paths';
import { down, status, up } from '../infra/devStack';
import { consoleUrl, webUiUrl } from '../lib/temporal';
import { runCpuWorker } from '../workers/cpu';
import { spawnTrainer } from '../workers/trainer';
import { runDemo } from './demo';

function ensureInstalled(part: 'go' | 'python'): void {
  const r = spawnSync('bash', [join(repoRoot, 'infra', 'setup.sh'), part], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

async function main(argv: string[]): Promise<void> {
  const program = new Command('volcast')
    .description('Durable, scheduled pipelines that forecast crypto volatility (Temporal + MinIO).')
    .showHelpAfterError();

  const dev = program.command('dev').description('the embedded dev stack: Temporal dev server + MinIO on loopback');
  dev
    .command('up')
    .description('install what is missing, start the Temporal dev server and MinIO, create the bucket (idempotent)')
    .action(async () => {
      const cfg = loadConfigOrExit();
      ensureInstalled('go');
      await up(cfg);
      console.log(`\nTemporal Web UI: ${webUiUrl(cfg)}\nMinIO console:   ${consoleUrl(cfg)} (credentials in ${join(cfg.stateDir, 'credentials.env')})`);
    });
  dev
    .command('down')
    .description('stop the dev stack (data stays in the state folder)')
    .action(async () => {
      await down(loadConfigOrExit());
    });
  dev
    .command('status')
    .description('whether each service runs and answers')
    .action(async () => {
      const rows = await status(loadConfigOrExit());
      for (const r of rows) {
        console.log(`${r.name.padEnd(9)} ${r.running ? `running (pid ${r.pid})` : 'stopped'}${r.running ? (r.healthy ? ', healthy' : ', NOT answering') : ''}  ${r.url}`);
      }
      if (rows.some((r) => !r.healthy)) process.exitCode = 1;
    });

  const worker = program.command('worker').description('run a worker in the foreground (Ctrl-C stops it gracefully)');
  worker
    .command('cpu')
    .description('the TypeScript worker: workflows and CPU activities on the volcast-cpu queue')
    .action(async () => {
      const cfg = loadConfigOrExit();
      await runCpuWorker(cfg);
    });
  worker
    .command('train')
    .description('the Python trainer: volcast-train-cpu, and volcast-gpu when CUDA is present')
    .option('--gpu-on-cpu', 'serve the GPU queue on CPU (development and CI)')
    .addOption(new Option('--only <role>', 'serve one queue role only').choices(['trainCpu', 'gpu']))
    .option('--concurrency <n>', 'activities at once', (v) => Number.parseInt(v, 10))
    .action(async (opts: { gpuOnCpu?: boolean; only?: 'trainCpu' | 'gpu'; concurrency?: number }) => {
      const cfg = loadConfigOrExit();
      ensureInstalled('python');
      const child = spawnTrainer(cfg, opts);
      // The child gets SIGINT/SIGTERM from the terminal's process group or from us, and shuts down gracefully.
      for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
      child.on('exit', (code) => process.exit(code ?? 1));
    });

  program
    .command('demo')
    .description('the main job on the dev stack (today: the platform round trip TypeScript -> MinIO -> Python)')
    .action(async () => {
      const cfg = loadConfigOrExit();
      await runDemo(cfg);
    });

  await program.parseAsync(argv);
}

main(process.argv).catch((err: unknown) => {
  process.stderr.write(`volcast: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
