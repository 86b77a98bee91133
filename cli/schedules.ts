import type { Command } from 'commander';
import { loadConfigOrExit } from '../lib/platform/config';
import { applySchedules, listSchedules, pauseSchedule, scheduleSpecs, triggerSchedule } from '../lib/orchestration/schedules';
import { connectClient } from '../lib/platform/temporal';

function scheduleId(name: string): string {
  return name.includes('-') ? name : `volcast-${name}`;
}

export function registerSchedules(program: Command): void {
  const cmd = program.command('schedules').description('the Temporal Schedules declared in temporal.config.ts');
  cmd
    .command('apply')
    .description('create or update the schedules to match the config (idempotent)')
    .action(async () => {
      const cfg = loadConfigOrExit();
      const client = await connectClient(cfg);
      for (const r of await applySchedules(client, cfg)) console.log(`${r.id}: ${r.action}`);
      for (const s of scheduleSpecs(cfg)) console.log(`  ${s.scheduleId}: cron "${s.cron}" (UTC) → ${s.workflowType}, overlap ${s.overlap}, catch-up ${s.catchupWindow}${s.paused ? ', paused' : ''}`);
      await client.connection.close();
    });
  cmd
    .command('list')
    .description('schedules, whether paused, next run times')
    .action(async () => {
      const cfg = loadConfigOrExit();
      const client = await connectClient(cfg);
      const rows = await listSchedules(client);
      if (!rows.length) console.log('no volcast schedules: run `volcast schedules apply`');
      for (const r of rows) {
        const next = r.nextActionTimes.slice(0, 2).map((d) => d.toISOString()).join(', ');
        console.log(`${r.id.padEnd(16)} ${r.paused ? 'PAUSED' : 'active'}  next: ${next || '-'}  recent runs: ${r.recentActions}${r.note ? `  note: ${r.note}` : ''}`);
      }
      await client.connection.close();
    });
  cmd
    .command('pause <name>')
    .description('pause a schedule (score | train)')
    .option('--note <text>', 'why')
    .action(async (name: string, opts: { note?: string }) => {
      const cfg = loadConfigOrExit();
      const client = await connectClient(cfg);
      await pauseSchedule(client, scheduleId(name), true, opts.note);
      console.log(`${scheduleId(name)}: paused`);
      await client.connection.close();
    });
  cmd
    .command('unpause <name>')
    .description('resume a paused schedule')
    .action(async (name: string) => {
      const cfg = loadConfigOrExit();
      const client = await connectClient(cfg);
      await pauseSchedule(client, scheduleId(name), false);
      console.log(`${scheduleId(name)}: active`);
      await client.connection.close();
    });
  cmd
    .command('trigger <name>')
    .description('run a schedule now (its overlap policy applies)')
    .action(async (name: string) => {
      const cfg = loadConfigOrExit();
      const client = await connectClient(cfg);
      await triggerSchedule(client, scheduleId(name));
      console.log(`${scheduleId(name)}: triggered; see the Web UI or \`temporal workflow list\``);
      await client.connection.close();
    });
}
