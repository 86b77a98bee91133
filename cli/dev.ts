import { join } from 'node:path';
import type { Command } from 'commander';
import { down, status, up } from '../infra/devStack';
import { loadConfigOrExit } from '../lib/platform/config';
import { consoleUrl, webUiUrl } from '../lib/platform/temporal';
import { runDemo } from './demo';
import { ensureInstalled } from './setup';

export function registerDev(program: Command): void {
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

  program
    .command('demo')
    .description('the main job: replay exchange → backfill → train → evaluate → promote → score on the dev stack')
    .action(async () => {
      await runDemo(loadConfigOrExit());
    });
}
