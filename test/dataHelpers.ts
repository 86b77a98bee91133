/** Test helpers for market data: the real source rows of ../shared/data, and object versions in MinIO. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Candle } from '../lib/candles/candle';
import type { ArtifactStore } from '../lib/platform/store';
import { sharedCandlesDir } from '../infra/replayExchange';

const cache = new Map<string, Candle[]>();

/** Every row of BINANCE_{BASE}{QUOTE}_1h.csv.gz as candles (optional fields null when absent). */
export async function sourceRows(symbol: string): Promise<Candle[]> {
  const hit = cache.get(symbol);
  if (hit) return hit;
  const text = gunzipSync(readFileSync(join(sharedCandlesDir, `BINANCE_${symbol.replace('/', '')}_1h.csv.gz`))).toString('utf8');
  const [header, ...lines] = text.trim().split(/\r?\n/);
  const cols = header!.split(',');
  const rows = lines.map((line) => {
    const f = line.split(',');
    const get = (c: string) => (cols.indexOf(c) >= 0 ? Number(f[cols.indexOf(c)]) : null);
    return { ts: get('ts')!, open: get('open')!, high: get('high')!, low: get('low')!, close: get('close')!, volume: get('volume')!, quote_volume: get('quote_volume'), trades: get('trades') };
  });
  cache.set(symbol, rows);
  return rows;
}

/** key -> etag@lastModified of every object under a prefix: equal before and after means nothing was rewritten. */
export async function objectVersions(store: ArtifactStore, prefix: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const stream = store.client.listObjectsV2(store.bucket, prefix, true);
  for await (const o of stream as AsyncIterable<{ name?: string; etag?: string; lastModified?: Date }>) {
    if (o.name) out[o.name] = `${o.etag}@${o.lastModified?.toISOString()}`;
  }
  return out;
}
