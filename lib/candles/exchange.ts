/**
 * ccxt exchanges built from config, and the mapping of their errors onto Temporal's retry model:
 * transient ones (network, timeouts, 429, 5xx) are retryable (the workflow's retry policy backs
 * off, honouring Retry-After); a symbol the exchange does not list is permanent.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { ApplicationFailure } from '@temporalio/common';
import * as ccxt from 'ccxt';
import type { VolcastConfig } from '../platform/config';

export type Exchange = ccxt.Exchange;

export interface ExchangeSettings {
  id: string;
  urlOverride: string | null;
  timeoutMs: number;
  rateLimitMs: number | null;
}

export function exchangeSettings(cfg: VolcastConfig, id?: string): ExchangeSettings {
  const ex = id ? cfg.exchanges.find((e) => e.id === id) : cfg.exchanges[0];
  if (!ex) throw ApplicationFailure.nonRetryable(`exchange ${id} is not configured (exchanges in temporal.config.ts)`, 'ConfigError');
  return { id: ex.id, urlOverride: ex.urlOverride, timeoutMs: cfg.ingest.requestTimeoutMs, rateLimitMs: cfg.ingest.rateLimitMs };
}

// One instance per exchange and endpoint in a worker process, so ccxt's rate limiter (enableRateLimit)
// throttles all concurrent activities together, as the exchange counts them per IP.
const instances = new Map<string, Exchange>();

export function getExchange(s: ExchangeSettings): Exchange {
  const key = JSON.stringify(s);
  let ex = instances.get(key);
  if (ex) return ex;
  const Ctor = (ccxt as unknown as Record<string, new (opts: object) => Exchange>)[s.id];
  if (typeof Ctor !== 'function') throw ApplicationFailure.nonRetryable(`ccxt has no exchange ${JSON.stringify(s.id)}`, 'ConfigError');
  ex = new Ctor({
    enableRateLimit: true,
    timeout: s.timeoutMs,
    ...(s.rateLimitMs !== null ? { rateLimit: s.rateLimitMs } : {}),
    // Spot only: volcast reads spot candles, and the replay server serves only the spot API.
    options: { fetchMarkets: { types: ['spot'] }, defaultType: 'spot' },
  });
  if (s.urlOverride) {
    const base = s.urlOverride.replace(/\/+$/, '');
    const api = ex.urls['api'] as Record<string, string>;
    if ('rest' in api) {
      // Deribit (DVOL): one REST root; ccxt appends /api/v2/public/<method>.
      api['rest'] = base;
    } else {
      api['public'] = `${base}/api/v3`;
      api['v1'] = `${base}/api/v1`;
    }
  }
  instances.set(key, ex);
  return ex;
}

/** The exchange does not list the symbol: permanent, named. */
export function unknownSymbol(symbol: string, exchange: string, detail?: string): ApplicationFailure {
  return ApplicationFailure.nonRetryable(
    `symbol ${symbol} is not listed on ${exchange}${detail ? ` (${detail})` : ''}`,
    'UnknownSymbolError',
  );
}

function retryAfterSeconds(ex: Exchange | undefined): number | null {
  const headers = (ex?.last_response_headers ?? {}) as Record<string, string | undefined>;
  const raw = headers['retry-after'] ?? headers['Retry-After'];
  if (raw === undefined) return null;
  const s = Number(raw);
  if (Number.isFinite(s)) return Math.max(0, Math.min(s, 300));
  const at = Date.parse(raw);
  return Number.isFinite(at) ? Math.max(0, Math.min((at - Date.now()) / 1000, 300)) : null;
}

/**
 * What an activity throws for a ccxt error: BadSymbol is permanent; network errors, timeouts,
 * rate limits (429/418) and exchange outages (5xx) are retryable, with Retry-After as the next delay.
 */
export function toActivityError(err: unknown, ctx: { symbol: string; exchange: string; ex?: Exchange }): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof ccxt.BadSymbol) return unknownSymbol(ctx.symbol, ctx.exchange, (err as Error).message);
  // OperationFailed is NetworkError's parent: Binance's -1001 "internal error" (with a 5xx) lands there.
  if (err instanceof ccxt.OperationFailed) {
    const kind = err instanceof ccxt.RequestTimeout ? 'ExchangeTimeoutError' : err instanceof ccxt.DDoSProtection || err instanceof ccxt.RateLimitExceeded ? 'ExchangeRateLimitError' : 'ExchangeUnavailableError';
    const after = kind === 'ExchangeRateLimitError' ? retryAfterSeconds(ctx.ex) : null;
    return ApplicationFailure.create({
      message: `${ctx.exchange} ${ctx.symbol}: ${(err as Error).message.slice(0, 500)}`,
      type: kind,
      nonRetryable: false,
      ...(after !== null ? { nextRetryDelay: `${Math.ceil(after * 1000)} ms` } : {}),
    });
  }
  return err;
}

// ccxt sorts every OHLCV response by time before returning it, which hides out-of-order rows from
// the exchange. To record them (DESIGN.md: out-of-order rows go in the manifest), the raw open times
// of each response are captured where ccxt parses them, per call through AsyncLocalStorage (the
// instance is shared by concurrent activities).
const rawOpenTimes = new AsyncLocalStorage<number[][]>();
const wrapped = new WeakSet<Exchange>();

function captureRawOrder(ex: Exchange): void {
  if (wrapped.has(ex)) return;
  const parse = ex.parseOHLCVs.bind(ex);
  ex.parseOHLCVs = ((ohlcvs: unknown, ...rest: unknown[]) => {
    const sink = rawOpenTimes.getStore();
    if (sink && Array.isArray(ohlcvs)) sink.push(ohlcvs.map((k) => Number(Array.isArray(k) ? k[0] : Number.NaN)));
    return (parse as (...a: unknown[]) => ccxt.OHLCV[])(ohlcvs, ...rest);
  }) as Exchange['parseOHLCVs'];
  wrapped.add(ex);
}

/** One page of candles (ccxt fetchOHLCV), plus the open times in the order the exchange sent them. */
export async function fetchOHLCVPage(
  ex: Exchange,
  symbol: string,
  timeframe: string,
  since: number,
  limit: number,
  params: Record<string, unknown>,
): Promise<{ candles: ccxt.OHLCV[]; rawOpenTimes: number[] }> {
  captureRawOrder(ex);
  const sink: number[][] = [];
  const candles = await rawOpenTimes.run(sink, () => ex.fetchOHLCV(symbol, timeframe, since, limit, params));
  return { candles, rawOpenTimes: sink.flat() };
}

/** Open times that arrived after a later one. */
export function outOfOrderTimes(openTimes: number[]): number[] {
  const out = new Set<number>();
  let max = -Infinity;
  for (const t of openTimes) {
    if (t < max) out.add(t);
    max = Math.max(max, t);
  }
  return [...out];
}
