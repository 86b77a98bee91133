/** Links the API and the dashboard hand out: the run report (here and in the MinIO console), runs in the Temporal Web UI. */
import type { VolcastConfig } from '../platform/config';
import { layout, symbolSegment, type Series } from '../platform/layout';
import { consoleUrl, webUiUrl } from '../platform/temporal';
import { visibilityQuery } from './visibility';

export function reportPath(runId: string): string {
  return `/v1/runs/${encodeURIComponent(runId)}/report`;
}

export function runPath(runId: string): string {
  return `/v1/runs/${encodeURIComponent(runId)}`;
}

export function reportConsoleUrl(cfg: VolcastConfig, runId: string): string {
  return consoleUrl(cfg, layout.run(runId, 'report/index.html'));
}

/** The Web UI's workflow list filtered by a visibility query over volcast's search attributes. */
export function temporalRunsUrl(cfg: VolcastConfig, f: Parameters<typeof visibilityQuery>[0]): string {
  return `${webUiUrl(cfg)}?query=${encodeURIComponent(visibilityQuery(f))}`;
}

/**
 * The trainSeries workflow that wrote a run, when the run id has the train workflow's shape
 * ({train run id}-{BASE-QUOTE}-{target}, workflow {train workflow id}/{BASE-QUOTE}/{target});
 * null for runs named otherwise (then the series' list is the way in).
 */
export function temporalRunUrl(cfg: VolcastConfig, runId: string | null, series: Series, target: string): string | null {
  if (!runId) return null;
  const suffix = `-${symbolSegment(series.symbol)}-${target}`;
  if (!runId.endsWith(suffix) || runId.length === suffix.length) return null;
  const workflowId = `${runId.slice(0, -suffix.length)}/${symbolSegment(series.symbol)}/${target}`;
  return `${webUiUrl(cfg)}/${encodeURIComponent(workflowId)}`;
}

export interface RunLinks {
  run: string;
  report: string;
  reportConsole: string;
  temporal: string | null;
}

export function runLinks(cfg: VolcastConfig, runId: string, series: Series, target: string): RunLinks {
  return { run: runPath(runId), report: reportPath(runId), reportConsole: reportConsoleUrl(cfg, runId), temporal: temporalRunUrl(cfg, runId, series, target) };
}

/** Per series and target: its trains, its promotions and its scores in the Web UI. */
export function seriesTemporalLinks(cfg: VolcastConfig, series: Series, target: string) {
  return {
    trains: temporalRunsUrl(cfg, { workflowType: 'trainSeries', symbol: series.symbol, target }),
    promotions: temporalRunsUrl(cfg, { workflowType: 'trainSeries', symbol: series.symbol, target, decision: 'promote' }),
    scores: temporalRunsUrl(cfg, { workflowType: 'score', symbol: series.symbol, target }),
  };
}
