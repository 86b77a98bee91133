/**
 * runs/{runId}/report/index.html: one self-contained page (inline CSS and SVG, no scripts, no
 * network) with the leaderboard, per-fold QLIKE, parity, and the plots.
 */
import { intervalBounds, INTERVAL_Z, qlikeTerm } from '../metrics';
import type { Aligned } from './compute';
import { histogramSpec, intervalSpec, linesSpec, renderSvg, scatterSpec, type BandPoint, type SeriesPoint } from './plots';
import type { CoverageOf, ForecastMetrics } from '../metrics';
import type { MetricsDocument, ModelReport } from './types';

const TEN_DAYS_MS = 10 * 86_400_000;
const MAX_SCATTER = 3000;

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

function num(x: number | null | undefined, digits = 4): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '—';
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? x.toExponential(digits - 1) : x.toFixed(digits);
}

function pct(x: number | null | undefined): string {
  return x === null || x === undefined || !Number.isFinite(x) ? '—' : `${(100 * x).toFixed(1)}%`;
}

function pval(p: number | null | undefined): string {
  if (p === null || p === undefined) return '—';
  return p < 1e-4 ? '<1e-4' : p.toFixed(4);
}

function leaderboardTable(doc: MetricsDocument): string {
  const byName = new Map(doc.models.map((m) => [m.name, m]));
  const head = ['#', 'model', 'kind', 'role', 'validation QLIKE', 'holdout QLIKE', 'all folds QLIKE', 'rows', 'RMSE', 'R²', 'MZ β', 'direction', 'holdout cov 80%', 'holdout cov 95%', 'DM vs incumbent', 'DM vs best baseline', 'DM vs HAR-RV', 'folds'];
  const rows = doc.leaderboard.map((r) => {
    const m = byName.get(r.model)!;
    const o = m.overall ?? m.holdout;
    // Conformal coverage on the holdout (every kind; calibrated on the earlier folds).
    const iv = m.conformal?.holdout;
    const dm = (x: { statistic: number | null; pValue: number | null } | null) => (x ? `${num(x.statistic, 3)} (p ${pval(x.pValue)})` : '—');
    const tags = [
      doc.bestBaseline?.model === r.model ? '<span class="tag">best baseline</span>' : '',
      r.role === 'incumbent' ? '<span class="tag inc">incumbent</span>' : '',
      doc.gate.spa?.benchmark === r.model ? '<span class="tag">SPA benchmark</span>' : '',
    ].join(' ');
    const cls = [doc.bestBaseline?.model === r.model ? 'best-baseline' : '', r.rank === 1 ? 'leader' : '', r.complete ? '' : 'parity-fail'].filter(Boolean).join(' ');
    const status = r.complete
      ? '<span class="ok">all passed</span>'
      : `<span class="bad">FAILED ${r.failedFolds.map((f) => `fold ${f.fold}: ${esc(f.reason)}`).join('; ')}</span>`;
    const cells = [
      String(r.rank),
      `${esc(r.model)} ${tags}`,
      esc(r.kind),
      r.role,
      num(r.validationQlike),
      num(r.holdoutQlike),
      num(r.qlike),
      String(r.rows || r.holdoutRows),
      num(o?.rmse),
      num(o?.r2, 3),
      num(o?.mincerZarnowitz.beta, 3),
      pct(o?.direction.accuracy),
      iv ? pct(iv.coverage['80']) : '—',
      iv ? pct(iv.coverage['95']) : '—',
      dm(r.dmVsIncumbent),
      dm(r.dmVsBestBaseline),
      dm(r.dmVsHarRv),
      status,
    ];
    return `<tr class="${cls}">${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
  });
  return `<table class="board"><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows.join('\n')}</tbody></table>`;
}

function servedTable(doc: MetricsDocument): string {
  const s = doc.served;
  if (!s) return '';
  const refit = doc.models.find((m) => m.role === 'incumbent');
  const row = (what: string, m: ForecastMetrics | null | undefined) =>
    `<tr><td>${esc(what)}</td><td>${m ? m.rows : 0}</td><td>${num(m?.qlike)}</td><td>${num(m?.rmse)}</td><td>${num(m?.r2, 3)}</td></tr>`;
  return `<h2>The served artifact beside its refit (holdout)</h2>
<p class="muted">The model serving before this run (${esc(s.name)}, trained up to ${s.trainEndTs === null ? 'unknown' : esc(new Date(s.trainEndTs).toISOString())}) and its spec refitted on this run's folds. Holdout rows before its training end were in its sample.</p>
<table><thead><tr><th>model</th><th>rows</th><th>QLIKE</th><th>RMSE</th><th>R²</th></tr></thead><tbody>
${row(`served ${s.name}, all holdout rows`, s.holdout)}${row(`served ${s.name}, rows after its training end`, s.outOfSample)}${refit ? row(`refit ${refit.name} (incumbent), holdout common rows`, refit.holdout) : ''}
</tbody></table>`;
}

function gateTable(doc: MetricsDocument): string {
  const g = doc.gate;
  const spa = g.spa ? `SPA over ${g.spa.candidates} eligible candidate(s) against ${esc(g.spa.benchmark)}: p consistent ${pval(g.spa.pConsistent)}.` : 'SPA: not computed (no benchmark or no eligible candidate).';
  const rows = g.candidates.map(
    (c) =>
      `<tr class="${c.eligible ? '' : 'parity-fail'}"><td>${esc(c.name)}</td><td>${c.eligible ? '<span class="ok">eligible</span>' : `<span class="bad">${esc(c.why ?? '')}</span>`}</td><td>${num(c.validationQlike)}</td><td>${num(c.holdoutQlike)}</td><td>${pval(c.dmVsIncumbent?.pValue)}</td><td>${pval(c.dmVsBestBaseline?.pValue)}</td></tr>`,
  );
  return `<h2>What the gates read</h2><p class="muted">${g.validationRows} validation and ${g.holdoutRows} holdout common rows, horizon ${g.horizonBars} bar(s). ${spa}</p>
<table><thead><tr><th>candidate</th><th>eligible</th><th>validation QLIKE</th><th>holdout QLIKE</th><th>one-sided DM p vs incumbent</th><th>vs best baseline</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function foldTable(doc: MetricsDocument): string {
  const head = ['model', ...doc.folds.map((f) => `fold ${f.fold}${f.holdout ? ' (holdout)' : ''}`), 'all folds'];
  const rows = doc.leaderboard.map((r) => {
    const m = doc.models.find((x) => x.name === r.model)!;
    return `<tr><td>${esc(m.name)}</td>${m.perFold.map((p) => `<td>${p.metrics ? num(p.metrics.qlike) : '<span class="bad">failed</span>'}</td>`).join('')}<td><b>${num(m.overall?.qlike)}</b></td></tr>`;
  });
  const counts = `<tr class="muted"><td>common rows</td>${doc.commonRows.perFold.map((p) => `<td>${p.rows}</td>`).join('')}<td>${doc.commonRows.overall}</td></tr>`;
  return `<table><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>${rows.join('')}${counts}</tbody></table>`;
}

/** Conformal intervals per model: coverage and relative width per segment, and the serving calibration. */
function intervalTable(doc: MetricsDocument): string {
  const cov = (c: CoverageOf | null | undefined) =>
    c ? `${pct(c.coverage['80'])} / ${pct(c.coverage['95'])}</td><td>${num(c.meanRelativeWidth['80'], 3)} / ${num(c.meanRelativeWidth['95'], 3)}</td><td>${c.rows}` : '—</td><td>—</td><td>0';
  const rows = doc.leaderboard.map((r) => {
    const m = doc.models.find((x) => x.name === r.model)!;
    const c = m.conformal;
    const s = c?.serving;
    const band = (lvl: '80' | '95') =>
      s!.scaled
        ? `${lvl}% f·exp([${num(s!.levels[lvl].lower, 3)}, ${num(s!.levels[lvl].upper, 3)}]·σ/2)`
        : `${lvl}% [${num(Math.exp(s!.levels[lvl].lower / 2), 3)}, ${num(Math.exp(s!.levels[lvl].upper / 2), 3)}]·f`;
    const serving = s ? `${s.rows} rows: ${band('80')}, ${band('95')}` : '—';
    return `<tr><td>${esc(m.name)}</td><td>${cov(c?.validation)}</td><td>${cov(c?.holdout)}</td><td>${serving}</td></tr>`;
  });
  return `<h2>Forecast intervals (conformal)</h2><p class="muted">${esc(doc.definitions['conformal'] ?? '')}. Width relative to the forecast.</p>
<table><thead><tr><th>model</th><th>validation cov 80% / 95%</th><th>rel. width</th><th>rows</th><th>holdout cov 80% / 95%</th><th>rel. width</th><th>rows</th><th>served with</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** Tree models' SHAP importance (models/explain.py): the top columns averaged over the folds. */
function explanationTable(doc: MetricsDocument): string {
  const ex = doc.explanations ?? [];
  if (!ex.length) return '';
  const rows = ex.map((e) => `<tr><td>${esc(e.model)}</td><td>${e.folds.length}</td><td>${e.overall.slice(0, 8).map((c) => `${esc(c.column)} ${num(c.meanAbs, 3)}`).join(', ')}</td></tr>`);
  return `<h2>Explanations (tree models)</h2><p class="muted">mean |SHAP| per input column on each fold's test rows (TreeSHAP of the booster, log-variance units), averaged over the folds; the contributions of a row sum to the model's raw output (checked in the trainer)</p>
<table><thead><tr><th>model</th><th>folds</th><th>top columns (mean |SHAP|)</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function parityTable(doc: MetricsDocument): string {
  const rows = doc.models.flatMap((m) =>
    m.parity.map(
      (p) =>
        `<tr class="${p.passed ? '' : 'parity-fail'}"><td>${esc(m.name)}</td><td>${p.fold}</td><td><code>${esc(p.modelId)}</code></td><td>${num(p.maxRelError, 3)}</td><td>${p.passed ? '<span class="ok">passed</span>' : `<span class="bad">FAILED</span> ${esc(p.reason ?? '')}`}</td></tr>`,
    ),
  );
  return `<table><thead><tr><th>model</th><th>fold</th><th>modelId</th><th>max rel. error</th><th>parity</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function regimeTables(doc: MetricsDocument): string {
  const withRegime = doc.leaderboard.map((r) => doc.models.find((m) => m.name === r.model)!).filter((m) => (m.overall ?? m.holdout)?.regime);
  if (!withRegime.length) return '';
  const rows = withRegime.map((m) => {
    const g = (m.overall ?? m.holdout)!.regime!;
    const conf = g.confusion.map((row) => row.join(' / ')).join(' | ');
    return `<tr><td>${esc(m.name)}</td><td>${pct(g.accuracy)}</td><td>${num(g.macroF1, 3)}</td><td><code>${conf}</code></td></tr>`;
  });
  return `<h2>Regime class</h2><p class="muted">each fold labelled with its own thresholds; confusion rows = actual low / medium / high, columns = forecast</p><table><thead><tr><th>model</th><th>accuracy</th><th>macro F1</th><th>confusion</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

/** The models the plots focus on: the leader, the best baseline, HAR-RV and the champion. */
function featured(doc: MetricsDocument, al: Aligned): string[] {
  const names = [doc.leaderboard[0]?.model, doc.bestBaseline?.model, doc.incumbent, doc.harRv].filter((x): x is string => !!x);
  return [...new Set(names)].filter((n) => al.byModel.has(n)).slice(0, 4);
}

async function plots(doc: MetricsDocument, al: Aligned): Promise<string[]> {
  const out: string[] = [];
  if (!al.ts.length) return out;
  const names = featured(doc, al);
  if (!names.length) return out;
  const lastTs = al.ts[al.ts.length - 1]!;
  const recent = al.ts.map((t, i) => i).filter((i) => al.ts[i]! > lastTs - TEN_DAYS_MS);
  const pts: SeriesPoint[] = recent.map((i) => ({ ts: al.ts[i]!, series: 'actual', value: al.actual[i]! }));
  for (const n of names) for (const i of recent) pts.push({ ts: al.ts[i]!, series: n, value: al.byModel.get(n)!.forecast[i]! });
  out.push(await renderSvg(linesSpec('Actual vs forecast, last 10 days', pts, 'volatility')));

  const leader = names[0]!;
  const f = al.byModel.get(leader)!.forecast;
  const step = Math.max(1, Math.ceil(al.ts.length / MAX_SCATTER));
  const sc = al.ts.map((_, i) => i).filter((i) => i % step === 0 && al.actual[i]! > 0 && f[i]! > 0).map((i) => ({ actual: al.actual[i]!, forecast: f[i]! }));
  const vals = sc.flatMap((p) => [p.actual, p.forecast]);
  const lo = Math.min(...vals);
  const hi = Math.max(...vals);
  const scatter = sc.length ? await renderSvg(scatterSpec(`Forecast vs realized: ${leader} (log-log, dashed = perfect)`, sc, lo, hi)) : '';
  const hist: { series: string; value: number }[] = [];
  for (const n of names.slice(0, 2)) {
    const fc = al.byModel.get(n)!.forecast;
    al.actual.forEach((a, i) => {
      if (a > 0 && fc[i]! > 0) hist.push({ series: n, value: Math.log(fc[i]! / a) });
    });
  }
  const histogram = hist.length ? await renderSvg(histogramSpec('Forecast error distribution', hist)) : '';
  out.push(`<div class="row">${scatter}${histogram}</div>`);

  const win = Math.min(72, Math.max(1, Math.floor(al.ts.length / 10)));
  const roll: SeriesPoint[] = [];
  for (const n of names) {
    const fc = al.byModel.get(n)!.forecast;
    let s = 0;
    const q = al.actual.map((a, i) => qlikeTerm(a, fc[i]!));
    q.forEach((v, i) => {
      s += v;
      if (i >= win) s -= q[i - win]!;
      if (i >= win - 1) roll.push({ ts: al.ts[i]!, series: n, value: s / win });
    });
  }
  out.push(await renderSvg(linesSpec(`Rolling QLIKE (mean over ${win} rows, all folds; lower is better)`, roll, 'QLIKE')));

  const withSigma = doc.leaderboard.map((r) => r.model).find((n) => al.byModel.get(n)?.sigma);
  if (withSigma) {
    const m = al.byModel.get(withSigma)!;
    const bands: BandPoint[] = recent.map((i) => {
      const [lo80, hi80] = intervalBounds(m.forecast[i]!, m.sigma![i]!, INTERVAL_Z['80']);
      const [lo95, hi95] = intervalBounds(m.forecast[i]!, m.sigma![i]!, INTERVAL_Z['95']);
      return { ts: al.ts[i]!, actual: al.actual[i]!, forecast: m.forecast[i]!, lo80, hi80, lo95, hi95 };
    });
    out.push(await renderSvg(intervalSpec(`${withSigma}: 80% and 95% intervals, last 10 days (dots = realized)`, bands)));
  }
  return out;
}

const CSS = `
body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd;padding-bottom:4px}
table{border-collapse:collapse;font-size:12px;margin:8px 0}th,td{border:1px solid #ddd;padding:4px 7px;text-align:right;white-space:nowrap}
th{background:#f4f4f4}td:nth-child(2),td:first-child{text-align:left}
.board td:nth-child(2),.board td:nth-child(3),.board td:nth-child(4){text-align:left}
tr.leader td{font-weight:bold}tr.best-baseline{background:#fff8e1}tr.parity-fail{background:#fdecea}
.tag.inc{background:#1976d2}.tag{background:#f0ad4e;color:#fff;border-radius:3px;padding:0 4px;font-size:10px;font-weight:normal}
.ok{color:#2e7d32}.bad{color:#c62828;font-weight:bold}.muted{color:#777}
.row{display:flex;gap:24px;flex-wrap:wrap}svg{max-width:100%;height:auto}dl{font-size:12px}dt{font-weight:bold;margin-top:6px}
.scroll{overflow-x:auto}`;

export async function buildReport(doc: MetricsDocument, al: Aligned): Promise<string> {
  const s = doc.series;
  const leader = doc.leaderboard[0];
  const summary = leader
    ? `Best on the validation folds: <b>${esc(leader.model)}</b> (validation QLIKE ${num(leader.validationQlike)}, holdout ${num(leader.holdoutQlike)})${doc.bestBaseline ? `; best baseline <b>${esc(doc.bestBaseline.model)}</b> (validation QLIKE ${num(doc.bestBaseline.qlike)})` : ''}${doc.incumbent ? `; incumbent <b>${esc(doc.incumbent)}</b>` : ''}.`
    : 'No model produced a prediction.';
  const figures = await plots(doc, al);
  const defs = Object.entries(doc.definitions)
    .map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`)
    .join('');
  const failing = doc.models.filter((m: ModelReport) => !m.complete).map((m) => esc(m.name));
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>volcast run ${esc(doc.runId)}</title><style>${CSS}</style></head>
<body>
<h1>volcast evaluation: ${esc(s.exchange)} ${esc(s.symbol)} ${esc(s.timeframe)}, ${esc(doc.target)}</h1>
<p class="muted">run <code>${esc(doc.runId)}</code> · ${doc.folds.length} walk-forward folds (the last is the holdout) · ${doc.commonRows.validation} validation and ${doc.commonRows.holdout} holdout common rows · horizon ${doc.horizonBars} bar(s)</p>
<p>${summary}${failing.length ? ` <span class="bad">Failed on a fold (fit or parity): ${failing.join(', ')}, never promotable.</span>` : ''}</p>
<h2>Leaderboard (ranked by validation QLIKE: the selection; the gates judge on the holdout)</h2>
<div class="scroll">${leaderboardTable(doc)}</div>
<p class="muted">DM on the holdout common rows: HLN statistic (one-sided p-value, H1: the row's model has lower expected QLIKE than the reference); negative = lower QLIKE.</p>
${gateTable(doc)}
${servedTable(doc)}
<h2>Plots</h2>
${figures.join('\n')}
<h2>QLIKE per fold</h2>
${foldTable(doc)}
${intervalTable(doc)}
${explanationTable(doc)}
${regimeTables(doc)}
<h2>ONNX parity</h2>
${parityTable(doc)}
<h2>Definitions</h2>
<dl>${defs}</dl>
</body></html>
`;
}
