/**
 * Request parameters of the read API, checked against the config: every bad request is a 4xx whose
 * message names the parameter (400: malformed; 404: well-formed but not served here).
 */
import type { VolcastConfig } from '../platform/config';
import { checkSegment, type Series } from '../platform/layout';
import { decodeCursor } from './reader';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly parameter: string | null = null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

type Query = Record<string, unknown>;

const bad = (parameter: string, message: string) => new ApiError(400, `${parameter}: ${message}`, parameter);
const unknown = (parameter: string, message: string) => new ApiError(404, `${parameter}: ${message}`, parameter);

/** Rejects parameters the route does not take (a typo would otherwise be ignored silently). */
export function onlyParams(q: Query, allowed: string[]): void {
  for (const k of Object.keys(q)) {
    if (!allowed.includes(k)) {
      throw new ApiError(400, `${k}: unknown parameter; this route takes ${allowed.length ? allowed.join(', ') : 'no parameters'}`, k);
    }
  }
}

function single(q: Query, name: string): string | undefined {
  const v = q[name];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) throw bad(name, 'given more than once');
  return String(v);
}

/** BTC/USDT or BTC-USDT (the layout's form, handy in paths) -> BTC/USDT, if configured. */
export function parseSymbol(cfg: VolcastConfig, raw: string, parameter = 'symbol'): string {
  const m = /^([A-Za-z0-9]{2,15})[/-]([A-Za-z0-9]{2,15})$/.exec(raw);
  if (!m) throw bad(parameter, `${JSON.stringify(raw)} is not a symbol: expected BASE/QUOTE or BASE-QUOTE, e.g. BTC/USDT or BTC-USDT`);
  const symbol = `${m[1]!.toUpperCase()}/${m[2]!.toUpperCase()}`;
  if (!cfg.symbols.includes(symbol)) throw unknown(parameter, `unknown symbol ${symbol}: this API serves ${cfg.symbols.join(', ')}`);
  return symbol;
}

export function parseTarget(cfg: VolcastConfig, raw: string, parameter = 'target'): string {
  if (!/^[a-z][a-z0-9_]{0,63}$/.test(raw)) throw bad(parameter, `${JSON.stringify(raw)} is not a target name, e.g. ${cfg.targets[0]}`);
  if (!cfg.targets.includes(raw as never)) throw unknown(parameter, `unknown target ${raw}: this API serves ${cfg.targets.join(', ')}`);
  return raw;
}

/** The series of a request: the symbol, and the exchange and timeframe (default: the first configured). */
export function parseSeries(cfg: VolcastConfig, symbolRaw: string, q: Query): Series {
  const symbol = parseSymbol(cfg, symbolRaw);
  const exchange = single(q, 'exchange') ?? cfg.exchanges[0]!.id;
  if (!cfg.exchanges.some((e) => e.id === exchange)) throw unknown('exchange', `unknown exchange ${JSON.stringify(exchange)}: this API serves ${cfg.exchanges.map((e) => e.id).join(', ')}`);
  const timeframe = single(q, 'timeframe') ?? cfg.timeframes[0]!;
  if (!cfg.timeframes.includes(timeframe as never)) throw unknown('timeframe', `unknown timeframe ${JSON.stringify(timeframe)}: this API serves ${cfg.timeframes.join(', ')}`);
  return { exchange, symbol, timeframe };
}

/** Optional filters of list routes: symbol and target, checked like the path ones. */
export function parseFilters(cfg: VolcastConfig, q: Query): { series: Series[]; targets: string[] } {
  const symbolRaw = single(q, 'symbol');
  const targetRaw = single(q, 'target');
  const symbols = symbolRaw !== undefined ? [parseSymbol(cfg, symbolRaw)] : cfg.symbols;
  const targets = targetRaw !== undefined ? [parseTarget(cfg, targetRaw)] : [...cfg.targets];
  return { series: symbols.map((s) => parseSeries(cfg, s, q)), targets };
}

/** ISO-8601 (2026-01-02, 2026-01-02T03:00:00Z) or epoch milliseconds. */
export function parseTime(q: Query, name: string): number | undefined {
  const raw = single(q, name);
  if (raw === undefined) return undefined;
  let t = Number.NaN;
  if (/^\d{1,15}$/.test(raw)) t = Number(raw);
  else if (/^\d{4}-\d{2}-\d{2}([T ][0-9:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(raw)) t = Date.parse(raw.length === 10 ? `${raw}T00:00:00Z` : raw);
  if (!Number.isFinite(t)) throw bad(name, `invalid time ${JSON.stringify(raw)}: expected ISO-8601 (2026-01-02T03:00:00Z) or epoch milliseconds`);
  return t;
}

export function parseLimit(q: Query, name: string, def: number, max: number): number {
  const raw = single(q, name);
  if (raw === undefined) return def;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > max) throw bad(name, `invalid ${name} ${JSON.stringify(raw)}: expected an integer from 1 to ${max}`);
  return Number(raw);
}

export function parseCursor(q: Query): { barTs: number; modelId: string } | null {
  const raw = single(q, 'cursor');
  if (raw === undefined || raw === '') return null;
  const c = decodeCursor(raw);
  if (!c) throw bad('cursor', 'not a cursor this API issued: pass nextCursor of the previous page as it is');
  return c;
}

/** A time range [from, to): to defaults to now, from to `defaultDays` before to. */
export function parseRange(q: Query, now: number, defaultDays: number): { from: number; to: number } {
  const to = parseTime(q, 'to') ?? now;
  const from = parseTime(q, 'from') ?? to - defaultDays * 86_400_000;
  if (from >= to) throw bad('from', `the range is empty: from (${new Date(from).toISOString()}) must be before to (${new Date(to).toISOString()})`);
  return { from, to };
}

export function parseRunId(raw: string): string {
  try {
    return checkSegment('runId', raw);
  } catch {
    throw bad('runId', `${JSON.stringify(raw)} is not a run id: letters, digits, '.', '_', '-'`);
  }
}

export function parseBoolean(q: Query, name: string): boolean | undefined {
  const raw = single(q, name);
  if (raw === undefined) return undefined;
  if (raw === 'true' || raw === '1') return true;
  if (raw === 'false' || raw === '0') return false;
  throw bad(name, `invalid ${name} ${JSON.stringify(raw)}: expected true or false`);
}
