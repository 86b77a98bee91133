/** How the dashboard writes numbers and times (the browser test reads them back with the same rules). */

/** A volatility: 4 significant digits (0.004567), '–' for none. */
export function fmtVol(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toPrecision(4);
}

/** A loss (QLIKE, RMSE): 4 decimals. */
export function fmtLoss(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(4);
}

/** A p-value or R²: 3 decimals. */
export function fmtP(v: number | null | undefined): string {
  return v === null || v === undefined || !Number.isFinite(v) ? '–' : v.toFixed(3);
}

/** 2026-03-01T05:00:00.000Z -> 2026-03-01 05:00Z */
export function fmtTime(t: number | string | null | undefined): string {
  if (t === null || t === undefined) return '–';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? '–' : `${d.toISOString().slice(0, 16).replace('T', ' ')}Z`;
}

/** Minutes as "42 min", "5.2 h", "3.1 d". */
export function fmtAge(min: number): string {
  if (min < 90) return `${Math.round(min)} min`;
  if (min < 48 * 60) return `${(min / 60).toFixed(1)} h`;
  return `${(min / 1440).toFixed(1)} d`;
}

export function esc(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}
