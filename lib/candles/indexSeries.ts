/**
 * Index series in the candle lake (docs/lake.md "Index series"): Deribit's DVOL, the 30-day implied
 * volatility index of BTC and ETH options (annualized, in percent).
 *
 * Naming: exchange `deribit`, symbol `{CURRENCY}/DVOL` (lake segment `BTC-DVOL`), timeframe `1h` or
 * `1d`, manifest kind `index`: candles/deribit/BTC-DVOL/1h/. The rows use the candle lake's Parquet
 * schema: close always, open/high/low when the source gives them, volume NULL (an index has none).
 *
 * Time stamps: Deribit's `public/get_volatility_index_data` returns candles
 * [timestamp, open, high, low, close] per resolution, timestamp = the candle's OPEN time (checked on
 * the shared files: the hourly close stamped d + 23h equals the daily close stamped d, every day). So
 * an index candle stamped t closes, and its close is known, at t + 1 index bar, exactly like a Binance
 * candle; lib/features reads it point in time by that close time.
 *
 * Ingest goes through ccxt's deribit exchange and its implicit `publicGetGetVolatilityIndexData`
 * (ccxt's `fetchVolatilityHistory` is another endpoint: `get_historical_volatility`, realized
 * volatility, not DVOL). The candle still open at "now" is never stored.
 */
import { ApplicationFailure } from '@temporalio/common';
import * as ccxt from 'ccxt';
import { barMsOf } from '../../contracts/domain';
import { validateIndexRows, type RawCandle } from './candle';
import { mergeIntoLake, readManifest, type MergeResult } from './lake';
import { toActivityError, type Exchange, type ExchangeSettings } from './exchange';
import { CandleInputError } from '../platform/errors';
import type { Series } from '../platform/layout';
import type { ArtifactStore } from '../platform/store';

export const INDEX_EXCHANGE = 'deribit';
/** Deribit publishes DVOL from this day on (the shared files' first candle): an index ingest never asks for earlier candles. */
export const DVOL_FIRST_TS = Date.UTC(2021, 2, 24);
/** The quote part of an index symbol: BTC/DVOL is Deribit's BTC DVOL. */
export const DVOL = 'DVOL';
/** The resolutions Deribit's volatility index offers, in seconds (a day is the keyword 1D). */
const DERIBIT_RESOLUTION_SECONDS = new Set([1, 60, 3600, 43200, 86400]);

/** Deribit's `resolution` for a timeframe (full seconds, or 1D), null when it offers none. */
export function deribitResolution(timeframe: string): string | null {
  const s = barMsOf(timeframe) / 1000;
  if (!DERIBIT_RESOLUTION_SECONDS.has(s)) return null;
  return s === 86400 ? '1D' : String(s);
}
/** Candles asked per request (Deribit pages longer spans with `continuation`, which is followed too). */
export const INDEX_PAGE_BARS = 1000;

export function dvolSeries(currency: string, timeframe: string): Series {
  return { exchange: INDEX_EXCHANGE, symbol: `${currency}/${DVOL}`, timeframe };
}

/** True for a series that holds an index (symbol …/DVOL) rather than a market's candles. */
export function isIndexSeries(s: Series): boolean {
  return s.symbol.endsWith(`/${DVOL}`);
}

/** DERIBIT_BTC_DVOL_1h.csv.gz (the shared files) -> deribit BTC/DVOL 1h; null for another name. */
export function indexSeriesFromFileName(name: string): Series | null {
  const m = /^DERIBIT_([A-Z0-9]{2,15})_DVOL_(1m|1h|1d)\.csv(?:\.gz)?$/.exec(name);
  return m ? dvolSeries(m[1]!, m[2]!) : null;
}

/**
 * Rows of an index CSV with a header: ts and close required, open/high/low optional (all three or
 * none per row), a leading symbol column ignored. `source` (the file) is named in errors.
 */
export function parseIndexText(text: string, source: string): RawCandle[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) return [];
  const cols = lines[0]!.split(',').map((c) => c.trim());
  for (const need of ['ts', 'close']) {
    if (!cols.includes(need)) throw new CandleInputError(`${source}: the header lacks column ${need} (an index file has ts,close or ts,open,high,low,close): ${lines[0]!.slice(0, 200)}`);
  }
  const at = (name: string) => cols.indexOf(name);
  const [t, o, h, l, c] = ['ts', 'open', 'high', 'low', 'close'].map(at) as number[];
  return lines.slice(1).map((line) => {
    const f = line.split(',');
    const opt = (i: number) => (i >= 0 ? f[i] : null);
    return { ts: f[t!], open: opt(o!), high: opt(h!), low: opt(l!), close: f[c!] };
  });
}

/** One Deribit response page: the candles and the continuation (the next end_timestamp, or null). */
interface IndexPage {
  data: unknown[][];
  continuation: number | null;
}

function parsePage(body: unknown, what: string): IndexPage {
  const result = (body as { result?: { data?: unknown; continuation?: unknown } } | null)?.result;
  if (!result || !Array.isArray(result.data)) throw ApplicationFailure.nonRetryable(`${what}: the response has no result.data array`, 'ExchangeResponseError');
  const c = result.continuation;
  return { data: result.data as unknown[][], continuation: typeof c === 'number' && Number.isFinite(c) ? c : null };
}

export interface IndexIngestInput {
  currency: string;
  timeframe: string;
  /** Open times from (inclusive); default: after the manifest's coverage, or 0. */
  since?: number;
  /** The clock (ms); default: the exchange's (deribit public/get_time). */
  now?: number;
  /** Candles per request (at most INDEX_PAGE_BARS). */
  pageBars?: number;
}

export interface IndexIngestResult {
  series: Series;
  window: { from: number; to: number } | null;
  requests: number;
  fetchedRows: number;
  storedRows: number;
  /** The candle still open at now: not stored. */
  skippedOpen: number;
  rejected: Record<string, number>;
  watermark: number | null;
  gaps: number;
  merge: MergeResult | null;
}

/**
 * DVOL through ccxt into the lake: every closed index candle after the stored coverage, in windows of
 * `pageBars` candles, each window's Deribit pages followed by `continuation` (it pages backwards:
 * the next request's end_timestamp). One merge at the end (an index series is small: ~44k hourly rows
 * over five years); a fresh fetch may replace a stored value the exchange revised.
 */
export async function ingestIndex(store: ArtifactStore, ex: Exchange, settings: ExchangeSettings, input: IndexIngestInput, beat: (d: unknown) => void = () => {}): Promise<IndexIngestResult> {
  const series = dvolSeries(input.currency, input.timeframe);
  const resolution = deribitResolution(input.timeframe);
  if (!resolution) throw ApplicationFailure.nonRetryable(`timeframe ${input.timeframe} has no Deribit volatility-index resolution (seconds ${[...DERIBIT_RESOLUTION_SECONDS].join(', ')})`, 'ConfigError');
  const barMs = barMsOf(input.timeframe);
  const pageBars = Math.min(input.pageBars ?? INDEX_PAGE_BARS, INDEX_PAGE_BARS);
  const what = `${settings.id} ${series.symbol} ${input.timeframe}`;
  const call = (ex as unknown as { publicGetGetVolatilityIndexData?: (p: Record<string, unknown>) => Promise<unknown> }).publicGetGetVolatilityIndexData;
  if (typeof call !== 'function') throw ApplicationFailure.nonRetryable(`ccxt exchange ${settings.id} has no get_volatility_index_data endpoint (DVOL is Deribit's)`, 'ConfigError');
  try {
    const now = input.now ?? (await ex.fetchTime());
    if (now === undefined) throw new Error(`${settings.id} did not return its time`);
    const { manifest } = await readManifest(store, series);
    const start = input.since ?? (manifest.covered ? manifest.covered.to + barMs : 0);
    // Open times < end are closed candles (ts + 1 bar <= now).
    const end = Math.floor(now / barMs) * barMs;
    const result: IndexIngestResult = { series, window: start < end ? { from: start, to: end } : null, requests: 0, fetchedRows: 0, storedRows: manifest.rows, skippedOpen: 0, rejected: {}, watermark: manifest.watermark, gaps: manifest.gaps.length, merge: null };
    if (start >= end) return result;
    const rows: RawCandle[] = [];
    const seen = new Set<number>();
    for (let from = start; from < end; from += pageBars * barMs) {
      const to = Math.min(from + pageBars * barMs, end) - 1;
      let upTo = to;
      // Bounded: each page moves upTo back, and a window holds at most pageBars candles.
      for (let pages = 0; pages < pageBars + 1; pages++) {
        const body = await call.call(ex, { currency: input.currency, start_timestamp: from, end_timestamp: upTo, resolution });
        result.requests += 1;
        const page = parsePage(body, what);
        // A ts an earlier page returned is the continuation's overlap: skipped. A ts twice within one
        // page is the exchange's duplicate: kept, so validation records it (or rejects a conflict).
        const inPage = new Set<number>();
        for (const k of page.data) {
          const ts = Number(k[0]);
          result.fetchedRows += 1;
          if (ts >= end) {
            if (ts + barMs > now) result.skippedOpen += 1;
            continue;
          }
          if (ts < from || ts > to || seen.has(ts)) continue;
          inPage.add(ts);
          rows.push({ ts: k[0], open: k[1], high: k[2], low: k[3], close: k[4] });
        }
        for (const ts of inPage) seen.add(ts);
        beat({ from, upTo, fetched: result.fetchedRows });
        if (page.continuation === null || page.continuation <= from || page.continuation >= upTo) break;
        upTo = page.continuation;
      }
    }
    // Deribit sends a page oldest first, the pages newest first: order by time before validating
    // (validation records rows that come after a later one as out of order, a fact about the source;
    // here the order is an artifact of the paging).
    rows.sort((a, b) => Number(a.ts) - Number(b.ts));
    const batch = validateIndexRows(rows, input.timeframe);
    for (const r of batch.rejected) result.rejected[r.reason] = (result.rejected[r.reason] ?? 0) + 1;
    const merged = await mergeIntoLake(store, series, batch, { source: `ccxt:${settings.id}`, fetched: { from: start, to: end - barMs }, differing: 'replace', kind: 'index' });
    return { ...result, storedRows: merged.manifest.rows, watermark: merged.manifest.watermark, gaps: merged.manifest.gaps.length, merge: merged };
  } catch (err) {
    if (err instanceof ccxt.BadRequest) throw ApplicationFailure.nonRetryable(`${what}: ${(err as Error).message.slice(0, 500)}`, 'ExchangeRequestError');
    throw toActivityError(err, { symbol: series.symbol, exchange: settings.id, ex });
  }
}
