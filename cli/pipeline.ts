/**
 * `volcast train` and `volcast score`: start the workflows (workers must be running, see
 * `volcast worker`), wait, print the leaderboard / the forecasts. Shared with the main job.
 */
import { ApplicationFailure, type Client } from '@temporalio/client';
import type { Command } from 'commander';
import { loadConfigOrExit, type VolcastConfig } from '../lib/platform/config';
import { UsageError } from '../lib/platform/errors';
import { scoreInput, trainInput } from '../lib/orchestration/inputs';
import { connectClient, consoleUrl, webUiUrl } from '../lib/platform/temporal';
import type { ScoreInput, ScoreResult, TrainInput, TrainResult, TrainSeriesResult } from '../workflows';
import { score, train } from '../workflows';
import { rootFailure } from './errors';
import { CPU_NEEDS, runWorkflow, trainNeeds, trainProgress } from './run';

export interface RunOptions {
  /** Check that workers poll the queues the run needs before starting it (default true). */
  workerCheck?: boolean;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + ' '.repeat(n - s.length);
}

const fmt = (x: number | null | undefined, d = 4) => (x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d));

export function formatLeaderboard(r: TrainSeriesResult): string {
  const lines = [`${r.series.symbol} ${r.target} — ${r.folds} fold(s) (the last is the holdout), run ${r.runId}`];
  lines.push(`  ${pad('#', 3)}${pad('model', 16)}${pad('kind', 13)}${pad('valid QLIKE', 12)}${pad('hold QLIKE', 12)}${pad('R²', 8)}${pad('DM p vs inc.', 13)}${pad('vs best base', 13)}folds`);
  for (const row of r.leaderboard) {
    const p = (x: { pValue: number | null } | null) => (x?.pValue == null ? '-' : x.pValue.toFixed(3));
    const status = row.complete ? 'ok' : `FAILED ${row.failedFolds.map((f) => `#${f.fold} ${f.reason}`).join('; ')}`;
    lines.push(
      `  ${pad(String(row.rank), 3)}${pad(row.model + (row.role === 'incumbent' ? '*' : ''), 16)}${pad(row.kind, 13)}${pad(fmt(row.validationQlike), 12)}${pad(fmt(row.holdoutQlike), 12)}${pad(fmt(row.r2, 3), 8)}${pad(p(row.dmVsIncumbent), 13)}${pad(p(row.dmVsBestBaseline), 13)}${status}`,
    );
  }
  if (r.leaderboard.some((x) => x.role === 'incumbent')) lines.push('  * the incumbent: the champion\'s spec refitted on these folds');
  if (r.bestBaseline) lines.push(`  best baseline (validation): ${r.bestBaseline.model}`);
  if (r.failureCount) lines.push(`  failed fits: ${r.failureCount}${r.failureCount > r.failures.length ? ` (first ${r.failures.length})` : ''}: ${r.failures.map((f) => `${f.name}#${f.fold ?? 'serving'} ${f.error}`).join('; ')}`);
  if (r.decision) {
    lines.push(`  decision: ${r.decision.outcome}${r.decision.spec ? ` ${r.decision.spec}` : ''}; serving: ${r.serving?.action ?? '-'}${r.serving?.modelId ? ` ${r.serving.modelId}` : ''}${r.serving?.trainEndTs ? ` (trained to ${new Date(r.serving.trainEndTs).toISOString().slice(0, 16)}Z)` : ''}`);
    for (const why of r.decision.reasons) lines.push(`    - ${why}`);
  }
  lines.push(`  report: s3://…/${r.reportKey}`);
  return lines.join('\n');
}

export async function runTrain(client: Client, cfg: VolcastConfig, input: TrainInput, workflowId: string, opts: RunOptions = {}): Promise<TrainResult> {
  const needs = trainNeeds(input);
  console.log(`train ${workflowId}: protocol ${input.protocol.name} (${input.protocol.description}), ${input.symbols.join(', ')}`);
  const t0 = Date.now();
  const result = await runWorkflow(client, cfg, {
    type: 'train',
    workflow: train,
    workflowId,
    args: [input],
    needs,
    workerCheck: opts.workerCheck,
    progress: (handle) => trainProgress(client, handle),
    onStarted: () => console.log(`  follow it in the Web UI: ${webUiUrl(cfg)}/${encodeURIComponent(workflowId)}`),
    onFailure: (err) => {
      const r = trainResultOf(err);
      if (!r) return false;
      printLeaderboards(cfg, r);
      console.log(`not trained (${r.failures.length} of ${r.results.length + r.failures.length}):`);
      for (const f of r.failures) console.log(`  ${f.symbol} ${f.target}: ${f.error}`);
      return r.results.length > 0;
    },
  });
  console.log(`train done in ${((Date.now() - t0) / 1000).toFixed(0)}s (feature set ${result.featureSetId})\n`);
  printLeaderboards(cfg, result);
  return result;
}

function printLeaderboards(cfg: VolcastConfig, result: TrainResult): void {
  for (const r of result.results) console.log(`${formatLeaderboard(r)}\n  console: ${consoleUrl(cfg, r.reportKey)}\n`);
}

/** The TrainResult a partly failed train run carries in its TrainFailed failure's details, if any. */
export function trainResultOf(err: unknown): TrainResult | null {
  const root = rootFailure(err);
  if (!(root instanceof ApplicationFailure) || root.type !== 'TrainFailed') return null;
  const r = root.details?.[0] as TrainResult | undefined;
  return r && Array.isArray(r.results) && Array.isArray(r.failures) ? r : null;
}

export function formatForecasts(r: ScoreResult): string {
  return r.forecasts
    .map((f) => {
      const interval = f.lower80 != null ? `, 80% [${f.lower80.toFixed(5)}, ${f.upper80!.toFixed(5)}], 95% [${f.lower95!.toFixed(5)}, ${f.upper95!.toFixed(5)}]` : '';
      return `  ${f.symbol} ${f.target} at ${new Date(f.barTs).toISOString()}: ${f.value.toFixed(5)}${interval}, regime ${f.regime ?? '-'} (${f.modelName} ${f.modelId})`;
    })
    .join('\n');
}

/** The ScoreResult a failed score run carries in its ScoreFailed failure's details, if any. */
export function scoreResultOf(err: unknown): ScoreResult | null {
  const root = rootFailure(err);
  if (!(root instanceof ApplicationFailure) || root.type !== 'ScoreFailed') return null;
  const r = root.details?.[0] as ScoreResult | undefined;
  return r && Array.isArray(r.forecasts) && Array.isArray(r.failures) ? r : null;
}

/**
 * Runs the score workflow and prints its forecasts. When some pairs fail, the forecasts that were
 * written are printed first, then each failure; the error it throws is partial (exit code 3)
 * when at least one forecast was written.
 */
export async function runScore(client: Client, cfg: VolcastConfig, input: ScoreInput, workflowId: string, opts: RunOptions = {}): Promise<ScoreResult> {
  const result = await runWorkflow(client, cfg, {
    type: 'score',
    workflow: score,
    workflowId,
    args: [input],
    needs: CPU_NEEDS,
    workerCheck: opts.workerCheck,
    onFailure: (err) => {
      const r = scoreResultOf(err);
      if (!r) return false;
      if (r.forecasts.length) console.log(`forecasts made at ${new Date(r.asOf).toISOString()}:\n${formatForecasts(r)}`);
      console.log(`not forecast (${r.failures.length} of ${r.forecasts.length + r.failures.length}):`);
      for (const f of r.failures) console.log(`  ${f.symbol} ${f.target}: ${f.error}`);
      return r.forecasts.length > 0;
    },
  });
  console.log(`forecasts made at ${new Date(result.asOf).toISOString()}:\n${formatForecasts(result)}`);
  return result;
}

function parseTime(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = /^\d+$/.test(v) ? Number(v) : Date.parse(v);
  if (!Number.isFinite(t)) throw new UsageError(`--now: invalid time ${JSON.stringify(v)}: use ISO-8601 or ms`);
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
    .option('--no-worker-check', 'start even if no worker polls a queue the run needs (it waits for one)')
    .action(async (opts: { protocol: string; symbols?: string; models?: string; targets?: string; now?: string; ingest: boolean; promote: boolean; workflowId?: string; workerCheck: boolean }) => {
      const cfg = loadConfigOrExit();
      const now = parseTime(opts.now);
      let input: TrainInput;
      try {
        input = trainInput(cfg, {
          protocol: opts.protocol,
          models: opts.models?.split(','),
          targets: opts.targets?.split(','),
          symbols: opts.symbols?.split(','),
          now,
          ingest: opts.ingest,
          promote: opts.promote,
        });
      } catch (err) {
        // An unknown protocol, model or target: the command line's fault.
        throw new UsageError(err instanceof Error ? err.message : String(err));
      }
      const client = await connectClient(cfg);
      const workflowId = opts.workflowId ?? `train-${opts.protocol}-${new Date().toISOString().replace(/[:.]/g, '')}`;
      try {
        await runTrain(client, cfg, input, workflowId, { workerCheck: opts.workerCheck });
      } finally {
        await client.connection.close();
      }
    });
  program
    .command('score')
    .description("run the score workflow now: the champion's forecast for the newest closed bar; workers must be running")
    .option('--symbols <list>', 'comma-separated (default: config symbols)')
    .option('--now <time>', 'the clock (default: now)')
    .option('--no-ingest', 'use the candles already stored')
    .option('--no-worker-check', 'start even if no worker polls volcast-cpu (it waits for one)')
    .action(async (opts: { symbols?: string; now?: string; ingest: boolean; workerCheck: boolean }) => {
      const cfg = loadConfigOrExit();
      const input = scoreInput(cfg, { symbols: opts.symbols?.split(','), now: parseTime(opts.now), ingest: opts.ingest });
      const client = await connectClient(cfg);
      try {
        await runScore(client, cfg, input, `score-${new Date().toISOString().replace(/[:.]/g, '')}`, { workerCheck: opts.workerCheck });
      } finally {
        await client.connection.close();
      }
    });
}
