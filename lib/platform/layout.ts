/**
 * The object layout of docs/design.md. Every key in the bucket is built here, through `objectKey`,
 * which rejects any segment that could escape the layout ("..", slashes, control characters).
 */

import { LayoutError } from './errors';
import type { Series } from '../../contracts/activities';

export { LayoutError };

// A segment is one path component: letters, digits and a few separators, never "." or "..".
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9._\-]{0,127}$/;

export function checkSegment(what: string, value: string): string {
  if (typeof value !== 'string' || !SEGMENT.test(value) || value.includes('..')) {
    throw new LayoutError(`invalid ${what} for an object key: ${JSON.stringify(value)}`);
  }
  return value;
}

/** Joins validated segments; the only way a key is made. */
export function objectKey(...segments: [what: string, value: string][]): string {
  return segments.map(([what, value]) => checkSegment(what, value)).join('/');
}

/** BTC/USDT -> BTC-USDT. Anything but exactly one slash between two tickers is rejected. */
export function symbolSegment(symbol: string): string {
  const m = /^([A-Z0-9]{2,15})\/([A-Z0-9]{2,15})$/.exec(symbol);
  if (!m) throw new LayoutError(`invalid symbol ${JSON.stringify(symbol)}: expected BASE/QUOTE, e.g. BTC/USDT`);
  return `${m[1]}-${m[2]}`;
}

export function symbolFromSegment(segment: string): string {
  const m = /^([A-Z0-9]{2,15})-([A-Z0-9]{2,15})$/.exec(segment);
  if (!m) throw new LayoutError(`invalid symbol segment ${JSON.stringify(segment)}`);
  return `${m[1]}/${m[2]}`;
}

function monthSegment(month: string): string {
  if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(month)) throw new LayoutError(`invalid month ${JSON.stringify(month)}: expected YYYY-MM`);
  return month;
}

function sha256Segment(sha256: string): string {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new LayoutError(`invalid sha256 ${JSON.stringify(sha256)}: expected 64 lowercase hex digits`);
  return sha256;
}

export type { Series };

function seriesSegments(s: Series): [string, string][] {
  return [
    ['exchange', s.exchange],
    ['symbol', symbolSegment(s.symbol)],
    ['timeframe', s.timeframe],
  ];
}

export const layout = {
  candlesPrefix: (s: Series) => `${objectKey(['root', 'candles'], ...seriesSegments(s))}/`,
  /** The fixed monthly key of version-1 lakes (mutable; still read where an old manifest names it). */
  candles: (s: Series, month: string) =>
    objectKey(['root', 'candles'], ...seriesSegments(s), ['month', `${monthSegment(month)}.parquet`]),
  /**
   * A candle partition: immutable and content-addressed (docs/lake.md). A merge writes a new object
   * for a changed month; the manifest names the one that counts.
   */
  candlesPartition: (s: Series, month: string, sha256: string) =>
    objectKey(['root', 'candles'], ...seriesSegments(s), ['month', monthSegment(month)], ['file', `${sha256Segment(sha256)}.parquet`]),
  candlesManifest: (s: Series) => objectKey(['root', 'candles'], ...seriesSegments(s), ['file', '_manifest.json']),
  /** Acknowledged data-quality flags of a series (volcast data ack). */
  candlesAcks: (s: Series) => objectKey(['root', 'candles'], ...seriesSegments(s), ['file', '_acks.json']),
  features: (featureSetId: string, s: Series) =>
    objectKey(['root', 'features'], ['featureSetId', featureSetId], ['exchange', s.exchange], ['symbol', symbolSegment(s.symbol)], [
      'timeframe',
      `${s.timeframe}.parquet`,
    ]),
  /** What a feature set holds: per series its object, rows and watermark (written last). */
  featuresManifest: (featureSetId: string) => objectKey(['root', 'features'], ['featureSetId', featureSetId], ['file', '_manifest.json']),
  model: (modelId: string, file: 'model.onnx' | 'card.json') => objectKey(['root', 'models'], ['modelId', modelId], ['file', file]),
  run: (runId: string, file: 'oos.parquet' | 'metrics.json' | 'report/index.html' | 'decision.json' | 'plan.json') =>
    file === 'report/index.html'
      ? objectKey(['root', 'runs'], ['runId', runId], ['dir', 'report'], ['file', 'index.html'])
      : objectKey(['root', 'runs'], ['runId', runId], ['file', file]),
  registryPrefix: () => 'registry/',
  championHistoryPrefix: (s: Series, target: string) =>
    `${objectKey(['root', 'registry'], ...seriesSegments(s), ['target', target], ['dir', 'history'])}/`,
  champion: (s: Series, target: string) => objectKey(['root', 'registry'], ...seriesSegments(s), ['target', target], ['file', 'champion.json']),
  championHistory: (s: Series, target: string, time: string) =>
    objectKey(['root', 'registry'], ...seriesSegments(s), ['target', target], ['dir', 'history'], ['file', `${time}.json`]),
  predictions: (s: Series, target: string, month: string) =>
    objectKey(['root', 'predictions'], ...seriesSegments(s), ['target', target], ['month', `${monthSegment(month)}.parquet`]),
  /** Platform round-trip objects (the smoke test of issue 2). */
  probe: (runId: string, file: string) => objectKey(['root', 'probes'], ['runId', runId], ['file', file]),
};
