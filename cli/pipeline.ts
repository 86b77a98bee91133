/**
 * `volcast train` and `volcast score`: start the workflows (workers must be running, see
 * `volcast worker`), wait, print the leaderboard / the forecasts. Shared with the main job.
 */
import type { Client } from '@temporalio/client';
import type { Command } from 'commander';
import { loadConfigOrExit, type VolcastConfig } from '../lib/platform/config';
import { scoreInput, trainInput } from '../lib/orchestration/inputs';
import { connectClient, consoleUrl, webUiUrl } from '../lib/platform/temporal';
import type { ScoreInput, ScoreResult, TrainInput, TrainResult, TrainSeriesResult } from '../workflows';
import { score, train } from '../workflows';

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

export function formatLeaderboard(r: TrainSeriesResult): string {
  const lines = [`${r.series.symbol} ${r.target} — ${r.folds} fold(s), run ${r.runId}`];
  lines.push(`  ${pad('#', 3)}${pad('model', 14)}${pad('kind', 13)}${pad('QLIKE', 10)}${pad('RMSE', 11)}${pad('R²', 8)}${pad('DM p vs best base', 18)}parity`);
  for (const row of r.leaderboard) {
    const dm = row.dmVsBestBaseline?.pValue;
    lines.push(
      `  ${pad(String(row.rank), 3)}${pad(row.model, 14)}${pad(row.kind, 13)}${pad(row.qlike.toFixed(4), 10)}${pad(row.rmse.toExponential(2), 11)}${pad(row.r2.toFixed(3), 8)}${pad(dm == null ? '-' : dm.toFixed(3), 18)}${row.parityPassed ? 'ok' : 'FAILED'}`,
    );
  }
  if (r.bestBaseline) lines.push(`  best baseline: ${r.bestBaseline.model}`);
  if (r.failures.length) lines.push(`  failed fits (excluded): ${r.failures.map((f) => `${f.name}#${f.fold} ${f.error}`).join('; ')}`);
  if (r.decision) {
    lines.push(`  promotion: ${r.decision.promote ? `${r.decision.candidate} promoted${r.decision.bootstrap ? ' (first champion: best baseline)' : ''}` : 'no change'}`);
    for (const why of r.decision.reasons) lines.push(`    - ${why}`);
  }
  lines.push(`  report: s3://…/${r.reportKey}`);
  return lines.join('\n');
}

export async function runTrain(client: Client, cfg: VolcastConfig, input: TrainInput, workflowId: string): Promise<TrainResult> {
  console.log(`train ${workflowId}: protocol ${input.protocol.name} (${input.protocol.description}), ${input.symbols.join(', ')}`);
  console.log(`  follow it in the Web UI: ${webUiUrl(cfg)}/${encodeURIComponent(workflowId)}`);
  const t0 = Date.now();
  const result = (await client.workflow.execute(train, { taskQueue: cfg.taskQueues.cpu, workflowId, args: [input] }));
  console.log(`train done in ${((Date.now() - t0) / 1000).toFixed(0)}s (feature set ${result.featureSetId})\n`);
  for (const r of result.results) console.log(`${formatLeaderboard(r)}\n  console: ${consoleUrl(cfg, r.reportKey)}\n`);
  return result;
}

export function formatForecasts(r: ScoreResult): string {
  return r.forecasts
    .map((f) => {
      const interval = f.lower80 != null ? `, 80% [${f.lower80.toFixed(5)}, ${f.upper80!.toFixed(5)}], 95% [${f.lower95!.toFixed(5)}, ${f.upper95!.toFixed(5)}]` : '';
      return `  ${f.symbol} ${f.target} at ${new Date(f.barTs).toISOString()}: ${f.value.toFixed(5)}${interval}, regime ${f.regime ?? '-'} (${f.modelName} ${f.modelId})`;
    })
    .join('\n');
}

export async function runScore(client: Client, cfg: VolcastConfig, input: ScoreInput, workflowId: string): Promise<ScoreResult> {
  const result = (await client.workflow.execute(score, { taskQueue: cfg.taskQueues.cpu, workflowId, args: [input] }));
  console.log(`forecasts made at ${new Date(result.asOf).toISOString()}:\n${formatForecasts(result)}`);
  return result;
}

function parseTime(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(t)) throw new Error(`invalid time ${JSON.stringify(v)}: use ISO-8601 or ms`);
  return t;
}

export function registerPipeline(program: Command): void {
  program
    .command('train')
    .description('run the train workflow (ingest → features → walk-forward fits → evaluate → promote); workers must be running')
    .option('--protocol <name>', 'a | b | scheduled (temporal.config.ts protocols)', 'scheduled')
    .option('--symbols <list>', 'comma-separated (default: config symbols)')
    .option('--models <list>', "subset of the protocol's models")
    .option('--targets <list>', "override the protocol's targets")
    .option('--now <time>', "clock for ingest (default: the exchange's)")
    .option('--no-ingest', 'use the candles already stored')
    .option('--no-promote', 'evaluate only')
    .option('--workflow-id <id>', 'default: train-<protocol>-<time>')
    .action(async (opts: { protocol: string; symbols?: string; models?: string; targets?: string; now?: string; ingest: boolean; promote: boolean; workflowId?: string }) => {
      const cfg = loadConfigOrExit();
      const input = trainInput(cfg, {
        protocol: opts.protocol,
        models: opts.models?.split(','),
        targets: opts.targets?.split(','),
        symbols: opts.symbols?.split(','),
        now: parseTime(opts.now),
        ingest: opts.ingest,
        promote: opts.promote,
      });
      const client = await connectClient(cfg);
      const workflowId = opts.workflowId ?? `train-${opts.protocol}-${new Date().toISOString().replace(/[:.]/g, '')}`;
      await runTrain(client, cfg, input, workflowId);
      await client.connection.close();
    });
  program
    .command('score')
    .description("run the score workflow now: the champion's forecast for the newest closed bar; workers must be running")
    .option('--symbols <list>', 'comma-separated (default: config symbols)')
    .option('--now <time>', 'the clock (default: now)')
    .option('--no-ingest', 'use the candles already stored')
    .action(async (opts: { symbols?: string; now?: string; ingest: boolean }) => {
      const cfg = loadConfigOrExit();
      const client = await connectClient(cfg);
      const input = scoreInput(cfg, { symbols: opts.symbols?.split(','), now: parseTime(opts.now), ingest: opts.ingest });
      await runScore(client, cfg, input, `score-${new Date().toISOString().replace(/[:.]/g, '')}`);
      await client.connection.close();
    });
}
