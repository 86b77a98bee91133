/**
 * An exchange replay server for tests, the bench and the offline demo: answers the Binance spot REST
 * calls ccxt makes for markets, time and OHLCV (`/api/v3/exchangeInfo`, `/api/v3/time`,
 * `/api/v3/ping`, `/api/v3/klines`) from the real candles in ../shared/data, so the real ccxt code
 * path runs against it. Loopback only.
 *
 * Its clock is controllable: candles whose open time is after "now" do not exist yet, and the one
 * that opened last is still open (served, like Binance does). Faults are injected per request
 * (HTTP errors, 429 with Retry-After, requests that never answer) or per symbol on the data
 * (malformed rows, gaps, duplicated and out-of-order candles, delisted symbols).
 *
 * It also answers Deribit's public REST calls for the DVOL index (`/api/v2/public/get_time`,
 * `/api/v2/public/get_volatility_index_data`) from ../shared/data/dvol, so ccxt's deribit exchange
 * runs its real path too: candles [timestamp, open, high, low, close] of the candles that opened by
 * "now", at most `indexPageLimit` per response, the newest ones, with `continuation` (the next
 * end_timestamp) when older ones remain, as Deribit pages. The hourly file holds the close only: the
 * replay serves null for its open/high/low rather than inventing them.
 *
 * Control: POST /_control with JSON {reset?, now?, faults?} (appends faults); GET /_control for the
 * state and request counts. In-process users call the same methods on the returned handle.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { barMsOf } from '../contracts/domain';
import { repoRoot } from '../lib/platform/paths';

export const sharedCandlesDir = join(repoRoot, '..', 'shared', 'data', 'candles');
export const sharedDvolDir = join(repoRoot, '..', 'shared', 'data', 'dvol');

export type Endpoint = 'klines' | 'exchangeInfo' | 'time' | 'ping' | 'volatility_index' | 'deribit_time';

export type ReplayFault =
  /** The next `times` matching requests answer `status` (429/418 with Retry-After seconds when given). */
  | { kind: 'http'; status: number; times: number; retryAfterS?: number; endpoint?: Endpoint; symbol?: string }
  /** The next `times` matching requests never answer (the client times out). */
  | { kind: 'hang'; times: number; endpoint?: Endpoint; symbol?: string }
  /** The candle at `ts` is served broken. */
  | { kind: 'malformed'; symbol: string; ts: number; how: 'negative-price' | 'high-below-low' | 'not-a-number' | 'off-grid' }
  /** Candles with open time in [from, to] are missing (an outage). */
  | { kind: 'gap'; symbol: string; from: number; to: number }
  /** The candle at `ts` is sent twice, the second copy with close changed by `closeDelta` (latest wins). */
  | { kind: 'duplicate'; symbol: string; ts: number; closeDelta?: number }
  /** The candle at `ts` is sent after the next one. */
  | { kind: 'swap'; symbol: string; ts: number }
  /** The symbol is gone from exchangeInfo and klines answers "Invalid symbol". */
  | { kind: 'delist'; symbol: string };

/** A kline as Binance sends it: strings for decimals, numbers for times and counts. */
type Kline = [number, string, string, string, string, string, number, string, number, string, string, string];

interface SymbolData {
  id: string; // BTCUSDT
  base: string;
  quote: string;
  file: string;
  ts?: Float64Array;
  rows?: string[][]; // [ts, open, high, low, close, volume, quote_volume?, trades?]
}

export interface ReplayOptions {
  port?: number; // 0 or absent: ephemeral
  host?: '127.0.0.1' | '::1' | 'localhost';
  dataDir?: string;
  /** Replay clock in ms; default: the last bar of the data + 1 bar (every stored candle has closed). */
  now?: number;
  faults?: ReplayFault[];
  /** Only these symbols (ccxt form BTC/USDT or id BTCUSDT); default every hourly file. */
  symbols?: string[];
  /** Where the DERIBIT_{CUR}_DVOL_{1h,1d}.csv.gz files are (default ../shared/data/dvol). */
  dvolDir?: string;
  /** Candles per get_volatility_index_data response (default 1000). */
  indexPageLimit?: number;
}

export interface ReplayExchange {
  url: string; // http://127.0.0.1:PORT (ccxt's api.public is url + '/api/v3')
  port: number;
  now(): number;
  setNow(now: number | null): void;
  addFaults(faults: ReplayFault[]): void;
  reset(): void;
  requests(): Record<string, number>;
  /** Symbols served, ccxt form. */
  symbols(): string[];
  close(): Promise<void>;
}

// The replay serves the hourly files of ../shared/data: one bar is an hour.
const HOUR = barMsOf('1h');
const MAX_BODY = 64 * 1024;

function discoverSymbols(dataDir: string, only?: string[]): Map<string, SymbolData> {
  const wanted = only ? new Set(only.map((s) => s.replace('/', ''))) : null;
  const out = new Map<string, SymbolData>();
  for (const f of readdirSync(dataDir).sort()) {
    const m = /^BINANCE_([A-Z0-9]+?)(USDT)_1h\.csv\.gz$/.exec(f);
    if (!m) continue;
    const id = `${m[1]}${m[2]}`;
    if (wanted && !wanted.has(id)) continue;
    out.set(id, { id, base: m[1]!, quote: m[2]!, file: join(dataDir, f) });
  }
  return out;
}

/** A DVOL file: currency and resolution -> its rows [ts, open|null, high|null, low|null, close]. */
interface IndexData {
  file: string;
  ts?: Float64Array;
  rows?: (number | null)[][];
}

const RESOLUTION_TF: Record<string, string> = { '3600': '1h', '60': '1h', '1D': '1d', '86400': '1d' };

function discoverIndexes(dir: string): Map<string, IndexData> {
  const out = new Map<string, IndexData>();
  let names: string[] = [];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return out; // no DVOL files: the Deribit endpoints answer "no data"
  }
  for (const f of names) {
    const m = /^DERIBIT_([A-Z0-9]+)_DVOL_(1h|1d)\.csv\.gz$/.exec(f);
    if (m) out.set(`${m[1]}:${m[2]}`, { file: join(dir, f) });
  }
  return out;
}

function loadIndex(d: IndexData): Required<IndexData> {
  if (!d.rows) {
    const lines = gunzipSync(readFileSync(d.file)).toString('utf8').split(/\r?\n/).filter(Boolean);
    const cols = lines[0]!.split(',');
    const at = (c: string) => cols.indexOf(c);
    const idx = ['ts', 'open', 'high', 'low', 'close'].map(at);
    d.rows = lines.slice(1).map((line) => {
      const f = line.split(',');
      return idx.map((i) => (i < 0 ? null : Number(f[i])));
    });
    d.ts = Float64Array.from(d.rows, (r) => r[0]!);
  }
  return d as Required<IndexData>;
}

function load(s: SymbolData): Required<SymbolData> {
  if (!s.rows) {
    const lines = gunzipSync(readFileSync(s.file)).toString('utf8').split(/\r?\n/);
    const rows: string[][] = [];
    for (const line of lines.slice(1)) if (line) rows.push(line.split(','));
    s.rows = rows;
    s.ts = Float64Array.from(rows, (r) => Number(r[0]));
  }
  return s as Required<SymbolData>;
}

/** Last open time in a file, read cheaply from its tail (for the default clock). */
function lastTs(s: SymbolData): number {
  const d = load(s);
  return d.ts[d.ts.length - 1]!;
}

function lowerBound(a: Float64Array, x: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function toKline(r: string[], barMs: number): Kline {
  const ts = Number(r[0]);
  return [ts, r[1]!, r[2]!, r[3]!, r[4]!, r[5]!, ts + barMs - 1, r[6] ?? '0', r[7] !== undefined ? Number(r[7]) : 0, '0', '0', '0'];
}

function binanceError(res: ServerResponse, status: number, code: number, msg: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ code, msg }));
}

export async function startReplayExchange(opts: ReplayOptions = {}): Promise<ReplayExchange> {
  const host = opts.host ?? '127.0.0.1';
  if (!['127.0.0.1', '::1', 'localhost'].includes(host)) throw new Error(`replay exchange listens on loopback only, not ${host}`);
  const data = discoverSymbols(opts.dataDir ?? sharedCandlesDir, opts.symbols);
  if (data.size === 0) throw new Error(`no BINANCE_*_1h.csv.gz files in ${opts.dataDir ?? sharedCandlesDir}`);
  let defaultNow: number | undefined;
  const clock = { override: opts.now ?? null };
  const now = () => clock.override ?? (defaultNow ??= Math.max(...[...data.values()].map(lastTs)) + HOUR);
  const indexes = discoverIndexes(opts.dvolDir ?? sharedDvolDir);
  const indexPageLimit = opts.indexPageLimit ?? 1000;
  let faults: ReplayFault[] = [...(opts.faults ?? [])];
  const counts: Record<string, number> = {};
  const weights: { at: number; w: number }[] = [];
  const hanging = new Set<ServerResponse>();

  function usedWeight(w: number): number {
    const t = Date.now();
    weights.push({ at: t, w });
    while (weights.length && weights[0]!.at < t - 60_000) weights.shift();
    return weights.reduce((s, x) => s + x.w, 0);
  }

  function delisted(id: string): boolean {
    return faults.some((f) => f.kind === 'delist' && f.symbol.replace('/', '') === id);
  }

  /** Takes the first request fault that matches this request, consuming one of its `times`. */
  function requestFault(endpoint: Endpoint, symbolId: string | null) {
    for (const f of faults) {
      if ((f.kind === 'http' || f.kind === 'hang') && f.times > 0 && (!f.endpoint || f.endpoint === endpoint) && (!f.symbol || f.symbol.replace('/', '') === symbolId)) {
        f.times -= 1;
        return f;
      }
    }
    return null;
  }

  function klines(s: Required<SymbolData>, barMs: number, startTime: number | null, endTime: number | null, limit: number): Kline[] {
    // Only candles that have opened by "now" exist; the last of them is still open.
    const visibleEnd = lowerBound(s.ts, now() + 1);
    const hi = Math.min(visibleEnd, endTime !== null ? lowerBound(s.ts, endTime + 1) : visibleEnd);
    // With startTime: the first `limit` candles from it; without: the most recent `limit` up to endTime.
    const lo = startTime !== null ? lowerBound(s.ts, startTime) : Math.max(0, hi - limit);
    const sym = s.id;
    const symFaults = faults.filter((f) => 'symbol' in f && f.kind !== 'http' && f.kind !== 'hang' && f.symbol.replace('/', '') === sym);
    const out: Kline[] = [];
    let served = 0;
    for (let i = lo; i < hi && served < limit; i++) {
      const ts = s.ts[i]!;
      // An outage: the candles do not exist, so the page fills up with later ones (as on Binance).
      if (symFaults.some((f) => f.kind === 'gap' && ts >= f.from && ts <= f.to)) continue;
      served++;
      const k = toKline(s.rows[i]!, barMs);
      const mal = symFaults.find((f) => f.kind === 'malformed' && f.ts === ts);
      if (mal && mal.kind === 'malformed') {
        if (mal.how === 'negative-price') k[1] = `-${k[1]}`;
        if (mal.how === 'high-below-low') k[2] = String(Number(k[3]) / 2);
        if (mal.how === 'not-a-number') k[4] = 'garbage';
        if (mal.how === 'off-grid') k[0] = ts + 1234;
      }
      out.push(k);
      const dup = symFaults.find((f) => f.kind === 'duplicate' && f.ts === ts);
      if (dup && dup.kind === 'duplicate') {
        const again = [...k] as Kline;
        again[4] = String(Number(k[4]) + (dup.closeDelta ?? 0));
        // keep the copy valid: widen high/low to contain the changed close
        again[2] = String(Math.max(Number(k[2]), Number(again[4])));
        again[3] = String(Math.min(Number(k[3]), Number(again[4])));
        out.push(again);
      }
    }
    for (const f of symFaults) {
      if (f.kind !== 'swap') continue;
      const i = out.findIndex((k) => k[0] === f.ts);
      if (i >= 0 && i + 1 < out.length) [out[i], out[i + 1]] = [out[i + 1]!, out[i]!];
    }
    return out;
  }

  async function control(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'POST') {
      let body = '';
      for await (const chunk of req) {
        body += chunk;
        if (body.length > MAX_BODY) return binanceError(res, 413, -1, 'control body too large');
      }
      const msg = (body ? JSON.parse(body) : {}) as { reset?: boolean; now?: number | null; faults?: ReplayFault[] };
      if (msg.reset) handle.reset();
      if (msg.now !== undefined) clock.override = msg.now;
      if (msg.faults) faults.push(...msg.faults);
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ now: now(), faults, requests: counts }));
  }

  function serve(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://replay');
    if (url.pathname === '/_control') {
      control(req, res).catch((err: unknown) => binanceError(res, 400, -1, String(err)));
      return;
    }
    const d = /^\/api\/v2\/public\/(get_time|get_volatility_index_data)$/.exec(url.pathname);
    if (d && req.method === 'GET') return serveDeribit(d[1] === 'get_time' ? 'deribit_time' : 'volatility_index', url, res);
    const m = /^\/api\/v3\/(klines|exchangeInfo|time|ping)$/.exec(url.pathname);
    if (!m || req.method !== 'GET') return binanceError(res, 404, -1, `not served by the replay exchange: ${req.method} ${url.pathname}`);
    const endpoint = m[1] as Endpoint;
    counts[endpoint] = (counts[endpoint] ?? 0) + 1;
    const symbolId = url.searchParams.get('symbol');
    const weight = endpoint === 'klines' ? 2 : endpoint === 'exchangeInfo' ? 20 : 1;
    const headers = { 'x-mbx-used-weight': '0', 'x-mbx-used-weight-1m': String(usedWeight(weight)) };
    const fault = requestFault(endpoint, symbolId);
    if (fault?.kind === 'hang') return hang(res);
    if (fault?.kind === 'http') {
      const retry = retryAfter(fault);
      const msg = fault.status === 429 ? 'Too many requests; current limit of IP is 6000 request weight per 1 MINUTE.' : 'Service unavailable (replay fault).';
      return binanceError(res, fault.status, fault.status === 429 ? -1003 : -1001, msg, { ...headers, ...retry });
    }
    const json = (value: unknown) => {
      res.writeHead(200, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(value));
    };
    if (endpoint === 'ping') return json({});
    if (endpoint === 'time') return json({ serverTime: now() });
    if (endpoint === 'exchangeInfo') {
      const symbols = [...data.values()]
        .filter((s) => !delisted(s.id))
        .map((s) => ({
          symbol: s.id,
          status: 'TRADING',
          baseAsset: s.base,
          baseAssetPrecision: 8,
          quoteAsset: s.quote,
          quotePrecision: 8,
          quoteAssetPrecision: 8,
          orderTypes: ['LIMIT', 'MARKET'],
          isSpotTradingAllowed: true,
          isMarginTradingAllowed: false,
          filters: [
            { filterType: 'PRICE_FILTER', minPrice: '0.00000001', maxPrice: '1000000.00000000', tickSize: '0.00000001' },
            { filterType: 'LOT_SIZE', minQty: '0.00000001', maxQty: '90000000.00000000', stepSize: '0.00000001' },
          ],
          permissions: ['SPOT'],
        }));
      return json({ timezone: 'UTC', serverTime: now(), rateLimits: [{ rateLimitType: 'REQUEST_WEIGHT', interval: 'MINUTE', intervalNum: 1, limit: 6000 }], exchangeFilters: [], symbols });
    }
    // klines
    const s = symbolId ? data.get(symbolId) : undefined;
    if (!s || delisted(s.id)) return binanceError(res, 400, -1121, 'Invalid symbol.', headers);
    const interval = url.searchParams.get('interval') ?? '';
    if (interval !== '1h') return binanceError(res, 400, -1120, `Invalid interval (the replay serves 1h): ${interval}`, headers);
    const limitRaw = url.searchParams.get('limit');
    const limit = limitRaw === null ? 500 : Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) return binanceError(res, 400, -1130, "Data sent for parameter 'limit' is not valid.", headers);
    const num = (k: string) => (url.searchParams.get(k) === null ? null : Number(url.searchParams.get(k)));
    return json(klines(load(s), HOUR, num('startTime'), num('endTime'), limit));
  }

  /** Deribit's JSON-RPC envelope over REST: {jsonrpc, result} or {jsonrpc, error: {code, message}}. */
  function deribitReply(res: ServerResponse, status: number, body: Record<string, unknown>, headers: Record<string, string> = {}): void {
    const t = now() * 1000;
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify({ jsonrpc: '2.0', ...body, usIn: t, usOut: t, usDiff: 0, testnet: false }));
  }

  /** A hanging fault: never answer; the socket is destroyed when the server closes. */
  function hang(res: ServerResponse): void {
    hanging.add(res);
    res.once('close', () => hanging.delete(res));
  }

  /** The retry-after header of an HTTP fault that sets one. */
  function retryAfter(fault: { retryAfterS?: number }): Record<string, string> {
    return fault.retryAfterS !== undefined ? { 'retry-after': String(fault.retryAfterS) } : {};
  }

  function serveDeribit(endpoint: Endpoint, url: URL, res: ServerResponse): void {
    counts[endpoint] = (counts[endpoint] ?? 0) + 1;
    const currency = url.searchParams.get('currency');
    const fault = requestFault(endpoint, currency);
    if (fault?.kind === 'hang') return hang(res);
    if (fault?.kind === 'http') {
      const retry = retryAfter(fault);
      // 10028 too_many_requests is Deribit's rate-limit error; 5xx an outage.
      const code = fault.status === 429 ? 10028 : 11097;
      return deribitReply(res, fault.status, { error: { code, message: fault.status === 429 ? 'too_many_requests' : 'temporarily_unavailable' } }, retry);
    }
    if (endpoint === 'deribit_time') return deribitReply(res, 200, { result: now() });
    const bad = (message: string) => deribitReply(res, 400, { error: { code: -32602, message: 'Invalid params', data: { reason: message } } });
    const tf = RESOLUTION_TF[url.searchParams.get('resolution') ?? ''];
    if (!tf) return bad(`resolution: the replay serves 3600 (1h) and 1D, got ${url.searchParams.get('resolution')}`);
    const data = currency ? indexes.get(`${currency}:${tf}`) : undefined;
    if (!data) return bad(`currency: no ${tf} volatility index for ${currency}`);
    const start = Number(url.searchParams.get('start_timestamp'));
    const end = Number(url.searchParams.get('end_timestamp'));
    if (!Number.isFinite(start) || !Number.isFinite(end)) return bad('start_timestamp and end_timestamp are required (ms)');
    const d = loadIndex(data);
    // Candles that opened by "now" exist (the last one still open); the newest page first.
    const hi = Math.min(lowerBound(d.ts, now() + 1), lowerBound(d.ts, end + 1));
    const lo = lowerBound(d.ts, start);
    const from = Math.max(lo, hi - indexPageLimit);
    const rows = d.rows.slice(from, Math.max(from, hi));
    return deribitReply(res, 200, { result: { data: rows, continuation: from > lo ? rows[0]![0] : null } });
  }

  const server = createServer(serve);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const handle: ReplayExchange = {
    url: `http://${host === '::1' ? '[::1]' : host}:${port}`,
    port,
    now,
    setNow: (t) => {
      clock.override = t;
    },
    addFaults: (f) => {
      faults.push(...structuredClone(f));
    },
    reset: () => {
      faults = [];
      clock.override = opts.now ?? null;
      for (const k of Object.keys(counts)) delete counts[k];
    },
    requests: () => ({ ...counts }),
    symbols: () => [...data.values()].map((s) => `${s.base}/${s.quote}`),
    close: async () => {
      for (const r of hanging) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return handle;
}
