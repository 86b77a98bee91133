/**
 * Bulk import of candle files through the same validation and merge path as ingest:
 * - Binance's public monthly kline archives (data.binance.vision): CSV without header, columns open
 *   time, open, high, low, close, volume, close time, quote volume, trades, taker buy base, taker
 *   buy quote, ignore; zipped or plain; open times in ms or µs (newer archives), told by magnitude.
 * - The normalized files of ../shared/data/candles: gzip CSV with header
 *   ts,open,high,low,close,volume[,quote_volume,trades].
 *
 * An import never changes a stored bar silently: a row that differs from the stored bar is refused
 * (the stored bar kept) unless `replace` is asked for, and a file whose prices do not fit the stored
 * series at all (another instrument) is refused as a whole. Every error names the file.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { unzipSync } from 'fflate';
import { validateCandles, validateIndexRows, type RawCandle } from './candle';
import { indexSeriesFromFileName, isIndexSeries, parseIndexText } from './indexSeries';
import { mergeIntoLake, type MergeResult } from './lake';
import { CandleInputError } from '../platform/errors';
import type { Series } from '../platform/layout';
import type { ArtifactStore } from '../platform/store';

export type CandleFileFormat = 'binance-archive' | 'normalized-csv' | 'index-csv';

/** Open times above this are µs (1e14 ms is the year 5138; 1e14 µs is 1973). */
const MICROS_THRESHOLD = 1e14;

function toMs(raw: string): number {
  const n = Number(raw);
  return Number.isFinite(n) && Math.abs(n) >= MICROS_THRESHOLD ? Math.floor(n / 1000) : n;
}

/** The text of a file: unzipped (every .csv entry), gunzipped or as is. A file that cannot be read is a CandleInputError naming it. */
export async function readCandleText(path: string): Promise<string> {
  let buf: Buffer;
  try {
    buf = await readFile(path);
  } catch (err) {
    throw new CandleInputError(`${path}: cannot read the file (${(err as Error).message})`);
  }
  const name = basename(path).toLowerCase();
  const isZip = buf[0] === 0x50 && buf[1] === 0x4b;
  const isGzip = buf[0] === 0x1f && buf[1] === 0x8b;
  if (isZip) {
    let entries: Record<string, Uint8Array>;
    try {
      entries = unzipSync(new Uint8Array(buf), { filter: (f) => f.name.toLowerCase().endsWith('.csv') });
    } catch (err) {
      throw new CandleInputError(`${path}: not a readable zip archive (${(err as Error).message}); is it truncated or damaged?`);
    }
    const names = Object.keys(entries).sort();
    if (names.length === 0) throw new CandleInputError(`${path}: zip archive holds no .csv file`);
    return names.map((n) => Buffer.from(entries[n]!).toString('utf8')).join('\n');
  }
  if (isGzip) {
    try {
      return gunzipSync(buf).toString('utf8');
    } catch (err) {
      throw new CandleInputError(`${path}: not a readable gzip file (${(err as Error).message}); is it truncated or damaged?`);
    }
  }
  if (buf.length > 0 && name.endsWith('.zip')) throw new CandleInputError(`${path}: named .zip but is not a zip archive`);
  if (buf.length > 0 && name.endsWith('.gz')) throw new CandleInputError(`${path}: named .gz but is not a gzip file`);
  return buf.toString('utf8');
}

/**
 * Rows of a candle file as raw candles, in file order. A header line, when present, names the
 * columns; `source` (the file) is named in errors.
 */
export function parseCandleText(text: string, source = 'candle file'): { format: CandleFileFormat; rows: RawCandle[] } {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length === 0) return { format: 'binance-archive', rows: [] };
  const first = lines[0]!.split(',');
  const hasHeader = Number.isNaN(Number(first[0]));
  if (hasHeader) {
    const cols = first.map((c) => c.trim());
    const idx = (name: string) => cols.indexOf(name);
    for (const need of ['ts', 'open', 'high', 'low', 'close', 'volume']) {
      if (idx(need) < 0) throw new CandleInputError(`${source}: the header lacks column ${need} (want ts,open,high,low,close,volume[,quote_volume,trades], or no header for a Binance archive): ${lines[0]!.slice(0, 200)}`);
    }
    const [t, o, h, l, c, v, q, n] = ['ts', 'open', 'high', 'low', 'close', 'volume', 'quote_volume', 'trades'].map(idx) as number[];
    const rows = lines.slice(1).map((line) => {
      const f = line.split(',');
      return { ts: toMs(f[t!]!), open: f[o!], high: f[h!], low: f[l!], close: f[c!], volume: f[v!], quote_volume: q! >= 0 ? f[q!] : null, trades: n! >= 0 ? f[n!] : null };
    });
    return { format: 'normalized-csv', rows };
  }
  const rows = lines.map((line) => {
    const f = line.split(',');
    return { ts: toMs(f[0]!), open: f[1], high: f[2], low: f[3], close: f[4], volume: f[5], quote_volume: f[7] ?? null, trades: f[8] ?? null };
  });
  return { format: 'binance-archive', rows };
}

/** Series named by a file: BINANCE_BTCUSDT_1h.csv.gz (shared data) or BTCUSDT-1h-2024-01.zip (archive). */
export function seriesFromFileName(path: string, exchange = 'binance', quotes = ['USDT', 'USDC', 'BUSD', 'BTC', 'ETH', 'BNB']): Series | null {
  const name = basename(path);
  const m = /^(?:BINANCE_)?([A-Z0-9]+)[-_](1m|5m|15m|1h|4h|1d)(?:[-_.]|$)/.exec(name);
  if (!m) return null;
  const pair = m[1]!;
  const quote = quotes.find((q) => pair.endsWith(q) && pair.length > q.length);
  if (!quote) return null;
  return { exchange, symbol: `${pair.slice(0, -quote.length)}/${quote}`, timeframe: m[2]! };
}

export interface ImportResult {
  file: string;
  series: Series;
  format: CandleFileFormat;
  sourceRows: number;
  validRows: number;
  /** Rows rejected per reason, 'conflicting duplicate' included (one per open time). */
  rejected: Record<string, number>;
  /** Open times that came more than once in the file (identical or conflicting). */
  duplicates: number;
  /** Open times that came more than once with different values: rejected, no copy taken. */
  conflicts: number;
  outOfOrder: number;
  /** Stored bars this import replaced with different values (only with `replace`). */
  changed: number;
  /** Rows refused because they differ from the stored bar (without `replace`; the stored bar kept). */
  refused: number;
  /** The file held no rows: nothing was written, no source added. */
  empty: boolean;
  storedRows: number;
  objectsWritten: number;
  merge: MergeResult;
}

export interface ImportOptions {
  /** Let rows that differ from the stored bars replace them (volcast data import --replace); default: refuse them. */
  replace?: boolean;
}

/**
 * Validates one file and merges it into the lake (idempotent: importing it again writes nothing).
 * Refuses (CandleInputError naming the file, nothing written) a file that cannot be read or whose
 * prices are implausible for the stored series.
 */
export async function importCandleFile(store: ArtifactStore, path: string, series?: Series, opts: ImportOptions = {}): Promise<ImportResult> {
  const s = series ?? indexSeriesFromFileName(basename(path)) ?? seriesFromFileName(path);
  if (!s) throw new CandleInputError(`cannot tell the series from the file name ${basename(path)}; name it like BTCUSDT-1h-2024-01.zip or DERIBIT_BTC_DVOL_1h.csv.gz, or pass the symbol`);
  const text = await readCandleText(path);
  // An index (DVOL): ts,close or ts,open,high,low,close, no volume; stored as a series of kind index.
  const index = isIndexSeries(s);
  const { format, rows } = index ? { format: 'index-csv' as const, rows: parseIndexText(text, path) } : parseCandleText(text, path);
  const batch = index ? validateIndexRows(rows, s.timeframe) : validateCandles(rows, s.timeframe);
  const merge = await mergeIntoLake(store, s, batch, {
    source: format === 'binance-archive' ? `archive:${s.exchange}` : format === 'index-csv' ? 'csv:index' : 'csv:normalized',
    differing: opts.replace ? 'replace' : 'keep',
    plausibility: { what: path },
    kind: index ? 'index' : 'candles',
  });
  const rejected: Record<string, number> = {};
  for (const r of batch.rejected) rejected[r.reason] = (rejected[r.reason] ?? 0) + 1;
  return {
    file: path,
    series: s,
    format,
    sourceRows: rows.length,
    validRows: batch.rows.length,
    rejected,
    duplicates: batch.duplicates.length,
    conflicts: rejected['conflicting duplicate'] ?? 0,
    outOfOrder: batch.outOfOrder.length,
    changed: merge.changed.length,
    refused: merge.refused.length,
    empty: rows.length === 0,
    storedRows: merge.manifest.rows,
    objectsWritten: merge.objectsWritten,
    merge,
  };
}
