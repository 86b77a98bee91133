/**
 * The dashboard at /: server-rendered HTML, one section per series × target: the latest forecast
 * (or why there is none current), the last days of forecasts against realized values with the
 * interval bands and the regime (a Vega-Lite chart rendered to SVG here, no script in the page),
 * the champion and its decision history, the latest leaderboard, and links to the run report (this
 * server and the MinIO console) and to the runs in the Temporal Web UI. Every number comes from the
 * same reader the JSON routes use.
 */
import { createHash } from 'node:crypto';
import type { ChampionRecord } from '../../contracts/types';
import { renderSvg, type Spec } from '../evaluation/plots';
import type { VolcastConfig } from '../platform/config';
import { symbolSegment, type Series } from '../platform/layout';
import { webUiUrl } from '../platform/temporal';
import { esc, fmtAge, fmtLoss, fmtP, fmtTime, fmtVol } from './format';
import { reportConsoleUrl, reportPath, runPath, seriesTemporalLinks, temporalRunUrl } from './links';
import { Lru, type ApiReader, type HistoryItem, type LatestForecast, type RunView } from './reader';

const DAY = 86_400_000;

export interface SectionData {
  series: Series;
  target: string;
  latest: LatestForecast;
  history: HistoryItem[];
  window: { from: number; to: number } | null;
  decisions: { total: number; items: ChampionRecord[] };
  run: RunView | null;
}

/** What one section shows: the chart covers the last `days` days up to the newest forecast (stale or not). */
export async function sectionData(reader: ApiReader, series: Series, target: string, days: number): Promise<SectionData> {
  const [latest, decisions] = await Promise.all([reader.latest(series, target), reader.championHistory(series, target, 20)]);
  let history: HistoryItem[] = [];
  let window: SectionData['window'] = null;
  if (latest.newest) {
    const to = latest.newest.barTs + 1;
    window = { from: to - days * DAY, to };
    history = (await reader.history(series, target, { ...window, limit: days * 24 * 60 * 4 })).items;
  }
  // The latest leaderboard: the newest run that decided (the newest history entry), else the champion's.
  const runId = decisions.items.find((d) => d.runId)?.runId ?? latest.champion?.runId ?? null;
  const run = runId ? await reader.run(runId) : null;
  return { series, target, latest, history, window, decisions, run };
}

const charts = new Lru<string, string>(200);

export function chartSpec(title: string, items: HistoryItem[]): Spec {
  const values = items.map((h) => ({
    ts: h.barTs, forecast: h.value, realized: h.realized, regime: h.regime ?? 'n/a',
    lo80: h.interval80?.lower ?? null, hi80: h.interval80?.upper ?? null, lo95: h.interval95?.lower ?? null, hi95: h.interval95?.upper ?? null,
  }));
  const x = { field: 'ts', type: 'temporal', title: null, scale: { type: 'utc' }, axis: { format: '%b %d %H:%M', labelAngle: 0, labelOverlap: 'greedy' } };
  const y = (field: string) => ({ field, type: 'quantitative', title: 'volatility', scale: { zero: false } });
  return {
    title,
    width: 880,
    height: 220,
    data: { values },
    layer: [
      { transform: [{ filter: 'isValid(datum.lo95)' }], mark: { type: 'area', color: '#c6dbef', opacity: 0.6 }, encoding: { x, y: y('lo95'), y2: { field: 'hi95' } } },
      { transform: [{ filter: 'isValid(datum.lo80)' }], mark: { type: 'area', color: '#6baed6', opacity: 0.55 }, encoding: { x, y: y('lo80'), y2: { field: 'hi80' } } },
      { mark: { type: 'line', color: '#08306b', strokeWidth: 1.4 }, encoding: { x, y: y('forecast') } },
      {
        mark: { type: 'circle', size: 16, opacity: 0.9 },
        encoding: {
          x,
          y: y('forecast'),
          color: { field: 'regime', type: 'nominal', title: 'regime', scale: { domain: ['low', 'medium', 'high', 'n/a'], range: ['#2b8a3e', '#f08c00', '#c92a2a', '#adb5bd'] } },
        },
      },
      { transform: [{ filter: 'isValid(datum.realized)' }], mark: { type: 'point', shape: 'diamond', color: '#111', size: 14, filled: true, opacity: 0.75 }, encoding: { x, y: y('realized') } },
    ],
  };
}

async function chart(title: string, items: HistoryItem[]): Promise<string> {
  if (!items.length) return '<p class="muted">no forecasts in this window</p>';
  const spec = chartSpec(title, items);
  const key = createHash('sha256').update(JSON.stringify(spec)).digest('hex');
  let svg = charts.get(key);
  if (!svg) {
    svg = await renderSvg(spec);
    charts.set(key, svg);
  }
  return svg;
}

const td = (field: string, text: string, cls = '') => `<td data-field="${field}"${cls ? ` class="${cls}"` : ''}>${esc(text)}</td>`;
const link = (href: string | null, text: string) => (href ? `<a href="${esc(href)}">${esc(text)}</a>` : '');

function latestBlock(s: SectionData): string {
  const l = s.latest;
  const f = l.newest;
  if (!f) {
    return `<div class="latest none" data-status="none"><p><b>No forecast yet.</b> ${l.champion ? 'A champion serves: the next score run writes one.' : 'No champion: run a training first (volcast train, or the daily schedule).'}</p></div>`;
  }
  const banner = l.status === 'stale'
    ? `<p class="stale-banner" data-field="stale"><b>STALE</b>: the newest forecast is from data ${fmtAge(f.ageMinutes)} old (limit ${l.maxDataAgeMinutes} min); it is shown, not served as current. Check the score schedule and ingest.</p>`
    : '';
  return `<div class="latest ${l.status}" data-status="${l.status}">
  ${banner}
  <table class="kv">
    <tr><th>${l.status === 'current' ? 'forecast' : 'last forecast'}</th><td class="big" data-field="value">${esc(fmtVol(f.value))}</td>
        <th>80% interval</th><td><span data-field="lower80">${esc(fmtVol(f.interval80?.lower))}</span> – <span data-field="upper80">${esc(fmtVol(f.interval80?.upper))}</span></td>
        <th>95% interval</th><td><span data-field="lower95">${esc(fmtVol(f.interval95?.lower))}</span> – <span data-field="upper95">${esc(fmtVol(f.interval95?.upper))}</span></td></tr>
    <tr><th>regime</th>${td('regime', f.regime ?? '–', `regime-${f.regime ?? 'na'}`)}
        <th>bar (open)</th>${td('barTime', fmtTime(f.barTs))}
        <th>as of (bar close)</th>${td('asOf', fmtTime(f.asOf))}</tr>
    <tr><th>horizon</th><td>${f.horizonBars} bar${f.horizonBars > 1 ? 's' : ''}</td>
        <th>data watermark</th>${td('dataWatermark', fmtTime(f.dataWatermark))}
        <th>age</th>${td('age', fmtAge(f.ageMinutes))}</tr>
    <tr><th>model</th><td colspan="3"><span data-field="modelName">${esc(f.modelName)}</span> <code data-field="modelId">${esc(f.modelId)}</code></td>
        <th>written</th>${td('madeAt', fmtTime(f.madeAt))}</tr>
  </table>
  <p class="muted units">${esc(f.units)}</p>
</div>`;
}

function championBlock(cfg: VolcastConfig, s: SectionData): string {
  const c = s.latest.champion;
  if (!c) return '<p class="muted">no champion</p>';
  const spec = c.spec ? JSON.stringify(c.spec.kind === 'ensemble' && 'members' in c.spec ? { kind: 'ensemble', method: c.spec.method, members: c.spec.members.map((m) => m.name) } : c.spec) : '–';
  const wf = temporalRunUrl(cfg, c.runId, s.series, s.target);
  return `<table class="kv champion">
    <tr><th>champion</th><td data-field="championName">${esc(c.name)}</td><th>kind</th><td>${esc(c.kind)}</td><th>action</th>${td('championAction', c.action, `action-${c.action}`)}</tr>
    <tr><th>serving model</th><td colspan="3"><code data-field="championModelId">${esc(c.modelId)}</code></td><th>decided</th>${td('championDecidedAt', fmtTime(c.decidedAt))}</tr>
    <tr><th>trained to</th>${td('trainEndTs', fmtTime(c.trainEndTs))}<th>data watermark</th>${td('championWatermark', fmtTime(c.dataWatermark))}<th>holdout QLIKE</th>${td('championLoss', fmtLoss(c.loss))}</tr>
    <tr><th>spec</th><td colspan="5"><code class="spec">${esc(spec)}</code></td></tr>
    <tr><th>run</th><td colspan="5">${c.runId ? `<code>${esc(c.runId)}</code> ${link(reportPath(c.runId), 'report')} · ${link(reportConsoleUrl(cfg, c.runId), 'in the MinIO console')}${wf ? ` · ${link(wf, 'workflow in the Temporal Web UI')}` : ''}` : 'manual (no run)'}</td></tr>
  </table>`;
}

function historyBlock(s: SectionData): string {
  const { items, total } = s.decisions;
  if (!items.length) return '<p class="muted">no decisions recorded</p>';
  const rows = items
    .map((d) => `<tr data-action="${esc(d.action)}">${td('decidedAt', fmtTime(d.decidedAt))}${td('action', d.action, `action-${d.action}`)}<td>${esc(d.name)} <code>${esc(d.modelId)}</code></td><td>${d.runId ? link(reportPath(d.runId), d.runId) : '–'}</td><td class="reasons"><ul>${d.reasons.map((r) => `<li>${esc(r)}</li>`).join('')}</ul></td></tr>`)
    .join('\n');
  return `<table class="grid history"><thead><tr><th>decided</th><th>action</th><th>model</th><th>run</th><th>reasons</th></tr></thead><tbody>${rows}</tbody></table>${total > items.length ? `<p class="muted">${total - items.length} older decisions: /v1/champions/…/history</p>` : ''}`;
}

function leaderboardBlock(cfg: VolcastConfig, s: SectionData): string {
  const r = s.run;
  if (!r) return '<p class="muted">no run</p>';
  const rows = r.leaderboard
    .map((x) => `<tr data-model="${esc(x.model)}" class="${x.role}">${td('rank', String(x.rank))}<td>${esc(x.model)}${x.role === 'incumbent' ? ' *' : ''}</td><td>${esc(x.kind)}</td><td>${esc(x.role)}</td>${td('validationQlike', fmtLoss(x.validationQlike))}${td('holdoutQlike', fmtLoss(x.holdoutQlike))}${td('r2', fmtP(x.r2))}${td('dmVsIncumbent', fmtP(x.dmVsIncumbent?.pValue))}${td('dmVsBestBaseline', fmtP(x.dmVsBestBaseline?.pValue))}<td>${x.complete ? 'ok' : `failed ${x.failedFolds.map((f) => `#${f.fold}`).join(' ')}`}</td></tr>`)
    .join('\n');
  const wf = temporalRunUrl(cfg, r.runId, s.series, s.target);
  const d = r.decision;
  return `<p>run <code data-field="runId">${esc(r.runId)}</code>: ${r.folds.length} folds (the last is the holdout) · ${link(reportPath(r.runId), 'report')} · ${link(reportConsoleUrl(cfg, r.runId), 'in the MinIO console')}${wf ? ` · ${link(wf, 'workflow in the Temporal Web UI')}` : ''} · ${link(runPath(r.runId), 'JSON')}</p>
  ${d ? `<p>decision: <b data-field="decisionOutcome">${esc(d.outcome)}</b>${d.spec ? ` ${esc(d.spec)}` : ''}; serving: <b>${esc(d.serving.action)}</b></p>` : ''}
  <table class="grid leaderboard"><thead><tr><th>#</th><th>model</th><th>kind</th><th>role</th><th>valid QLIKE</th><th>holdout QLIKE</th><th>R²</th><th>DM p vs inc.</th><th>vs best base</th><th>folds</th></tr></thead><tbody>${rows}</tbody></table>`;
}

async function section(cfg: VolcastConfig, s: SectionData): Promise<string> {
  const id = `${symbolSegment(s.series.symbol)}-${s.target}`;
  const t = seriesTemporalLinks(cfg, s.series, s.target);
  const days = s.window ? Math.round((s.window.to - s.window.from) / DAY) : 0;
  const svg = s.history.length ? await chart(`${s.series.symbol} ${s.target}: forecast (line, dots by regime), 80% / 95% intervals (bands), realized (black)`, s.history) : '';
  const api = `/v1/forecasts/${symbolSegment(s.series.symbol)}/${s.target}`;
  return `<section class="series" id="${esc(id)}" data-symbol="${esc(s.series.symbol)}" data-target="${esc(s.target)}" data-status="${s.latest.status}">
  <h2>${esc(s.series.symbol)} <span class="muted">${esc(s.series.exchange)} ${esc(s.series.timeframe)}</span> · ${esc(s.target)} <span class="badge ${s.latest.status}">${s.latest.status}</span></h2>
  ${latestBlock(s)}
  ${s.history.length ? `<h3>Last ${days} days</h3>
  <div class="chart">${svg}</div>
  <p class="muted">${s.history.length} forecasts, ${s.history.filter((h) => h.realized !== null).length} with a realized value · JSON: <a href="${esc(api)}/latest">${esc(api)}/latest</a>, <a href="${esc(api)}">${esc(api)}</a></p>` : `<p class="muted">JSON: <a href="${esc(api)}/latest">${esc(api)}/latest</a></p>`}
  <h3>Champion</h3>
  ${championBlock(cfg, s)}
  <h3>Decision history</h3>
  ${historyBlock(s)}
  <h3>Latest leaderboard</h3>
  ${leaderboardBlock(cfg, s)}
  <p class="links">Temporal Web UI: ${link(t.trains, 'trains of this series')} · ${link(t.promotions, 'its promotions')} · ${link(t.scores, 'its scores')}</p>
</section>`;
}

const CSS = `
body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{margin:0 0 4px}h2{margin:32px 0 8px;border-top:2px solid #ddd;padding-top:16px}h3{margin:18px 0 6px;font-size:15px}
.muted{color:#777}code{font-size:12px;background:#f4f4f4;padding:1px 4px;border-radius:3px}
table{border-collapse:collapse;font-size:13px}th{text-align:left;color:#555;font-weight:normal;padding:3px 10px 3px 0}td{padding:3px 14px 3px 0}
table.grid th,table.grid td{border-bottom:1px solid #eee;padding:4px 10px 4px 0;vertical-align:top}
table.grid td[data-field$=Qlike],table.grid td[data-field^=dm],table.grid td[data-field=r2]{text-align:right;font-variant-numeric:tabular-nums}
.big{font-size:22px;font-weight:bold}.badge{font-size:12px;padding:2px 8px;border-radius:10px;vertical-align:middle;color:#fff}
.badge.current{background:#2b8a3e}.badge.stale{background:#c92a2a}.badge.none{background:#868e96}
.stale-banner{background:#fff0f0;border:1px solid #e03131;padding:6px 10px;color:#a61e1e}
.latest.stale .big{color:#999;text-decoration:line-through}
.regime-low{color:#2b8a3e}.regime-medium{color:#e8590c}.regime-high{color:#c92a2a;font-weight:bold}
.action-promote,.action-bootstrap{color:#2b8a3e;font-weight:bold}.action-hold{color:#e8590c;font-weight:bold}.action-rollback{color:#c92a2a;font-weight:bold}
td.reasons ul{margin:0;padding-left:16px}td.reasons li{max-width:520px}
tr.incumbent td{background:#fff9db}.overview td,.overview th{border-bottom:1px solid #eee;padding:4px 12px 4px 0}
code.spec{white-space:pre-wrap;word-break:break-all}
`;

function overview(sections: SectionData[]): string {
  const rows = sections
    .map((s) => {
      const f = s.latest.newest;
      const id = `${symbolSegment(s.series.symbol)}-${s.target}`;
      return `<tr data-symbol="${esc(s.series.symbol)}" data-target="${esc(s.target)}"><td><a href="#${esc(id)}">${esc(s.series.symbol)}</a></td><td>${esc(s.target)}</td><td><span class="badge ${s.latest.status}">${s.latest.status}</span></td><td data-field="value">${esc(fmtVol(f?.value))}</td><td>${f?.interval80 ? `${esc(fmtVol(f.interval80.lower))} – ${esc(fmtVol(f.interval80.upper))}` : '–'}</td><td class="regime-${f?.regime ?? 'na'}">${esc(f?.regime ?? '–')}</td><td>${esc(fmtTime(f?.barTs))}</td><td>${esc(s.latest.champion?.name ?? '–')}</td><td>${f ? esc(fmtAge(f.ageMinutes)) : '–'}</td></tr>`;
    })
    .join('\n');
  return `<table class="overview"><thead><tr><th>symbol</th><th>target</th><th>status</th><th>forecast</th><th>80% interval</th><th>regime</th><th>bar (open, UTC)</th><th>champion</th><th>data age</th></tr></thead><tbody>${rows}</tbody></table>`;
}

export async function renderDashboard(cfg: VolcastConfig, sections: SectionData[], now: number): Promise<string> {
  const body = [];
  for (const s of sections) body.push(await section(cfg, s));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>volcast: volatility forecasts</title><meta name="viewport" content="width=device-width, initial-scale=1"><style>${CSS}</style></head>
<body>
<h1>volcast</h1>
<p class="muted">Volatility forecasts of the champions, at <span data-field="now">${esc(fmtTime(now))}</span>. A forecast whose data is older than ${cfg.scoring.maxDataAgeMinutes} min is stale, never current. <a href="/openapi.json">API (OpenAPI)</a> · <a href="${esc(webUiUrl(cfg))}">Temporal Web UI</a></p>
${overview(sections)}
${body.join('\n')}
</body></html>`;
}
