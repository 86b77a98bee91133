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

/**
 * The top-level prefixes of the bucket, declared once: the builders below and `classifyKey` (what
 * housekeeping reads a listing with) both use them.
 */
export const ROOTS = {
  candles: 'candles',
  features: 'features',
  models: 'models',
  runs: 'runs',
  registry: 'registry',
  predictions: 'predictions',
  probes: 'probes',
  /** Housekeeping's deletion plans (lib/housekeeping). */
  housekeeping: 'housekeeping',
  /** Pooled tree boosters, content-addressed by poolId (models/pooled.py). */
  pooled: 'pooled',
} as const;

export const layout = {
  candlesPrefix: (s: Series) => `${objectKey(['root', ROOTS.candles], ...seriesSegments(s))}/`,
  /** The fixed monthly key of version-1 lakes (mutable; still read where an old manifest names it). */
  candles: (s: Series, month: string) =>
    objectKey(['root', ROOTS.candles], ...seriesSegments(s), ['month', `${monthSegment(month)}.parquet`]),
  /**
   * A candle partition: immutable and content-addressed (docs/lake.md). A merge writes a new object
   * for a changed month; the manifest names the one that counts.
   */
  candlesPartition: (s: Series, month: string, sha256: string) =>
    objectKey(['root', ROOTS.candles], ...seriesSegments(s), ['month', monthSegment(month)], ['file', `${sha256Segment(sha256)}.parquet`]),
  candlesManifest: (s: Series) => objectKey(['root', ROOTS.candles], ...seriesSegments(s), ['file', '_manifest.json']),
  /** Acknowledged data-quality flags of a series (volcast data ack). */
  candlesAcks: (s: Series) => objectKey(['root', ROOTS.candles], ...seriesSegments(s), ['file', '_acks.json']),
  features: (featureSetId: string, s: Series) =>
    objectKey(['root', ROOTS.features], ['featureSetId', featureSetId], ['exchange', s.exchange], ['symbol', symbolSegment(s.symbol)], [
      'timeframe',
      `${s.timeframe}.parquet`,
    ]),
  /** What a feature set holds: per series its object, rows and watermark (written last). */
  featuresManifest: (featureSetId: string) => objectKey(['root', ROOTS.features], ['featureSetId', featureSetId], ['file', '_manifest.json']),
  model: (modelId: string, file: 'model.onnx' | 'card.json') => objectKey(['root', ROOTS.models], ['modelId', modelId], ['file', file]),
  run: (runId: string, file: 'oos.parquet' | 'metrics.json' | 'report/index.html' | 'decision.json' | 'plan.json') =>
    file === 'report/index.html'
      ? objectKey(['root', ROOTS.runs], ['runId', runId], ['dir', 'report'], ['file', 'index.html'])
      : objectKey(['root', ROOTS.runs], ['runId', runId], ['file', file]),
  registryPrefix: () => `${ROOTS.registry}/`,
  championHistoryPrefix: (s: Series, target: string) =>
    `${objectKey(['root', ROOTS.registry], ...seriesSegments(s), ['target', target], ['dir', 'history'])}/`,
  champion: (s: Series, target: string) => objectKey(['root', ROOTS.registry], ...seriesSegments(s), ['target', target], ['file', 'champion.json']),
  championHistory: (s: Series, target: string, time: string) =>
    objectKey(['root', ROOTS.registry], ...seriesSegments(s), ['target', target], ['dir', 'history'], ['file', `${time}.json`]),
  predictions: (s: Series, target: string, month: string) =>
    objectKey(['root', ROOTS.predictions], ...seriesSegments(s), ['target', target], ['month', `${monthSegment(month)}.parquet`]),
  /** Platform round-trip objects (the smoke test of issue 2). */
  probe: (runId: string, file: string) => objectKey(['root', ROOTS.probes], ['runId', runId], ['file', file]),
  /** A pooled booster (models/pooled.py): content-addressed, so every series' fit of a fold shares it. */
  pooledBooster: (poolId: string) => objectKey(['root', ROOTS.pooled], ['poolId', poolId], ['file', 'booster.json']),
  /** A housekeeping run's deletion plan (read by reference by applyHousekeeping and the CLI). */
  housekeepingPlan: (planId: string) => objectKey(['root', ROOTS.housekeeping], ['planId', planId], ['file', 'plan.json']),
};

/**
 * What a key is, read back from the layout above (housekeeping groups a listing by it). Anything
 * that does not match a builder's shape exactly is `unknown`: never guessed at, never deleted.
 */
export type KeyClass =
  | { kind: 'candlePartition'; seriesPrefix: string; month: string; sha256: string }
  | { kind: 'candleManifest'; seriesPrefix: string }
  | { kind: 'candleAcks'; seriesPrefix: string }
  | { kind: 'candleLegacyMonth'; seriesPrefix: string; month: string }
  | { kind: 'featureSet'; featureSetId: string; file: string }
  | { kind: 'model'; modelId: string; file: 'model.onnx' | 'card.json' }
  | { kind: 'run'; runId: string; file: string }
  | { kind: 'registry'; record: 'champion' | 'history' | null }
  | { kind: 'predictions'; exchange: string; symbol: string; timeframe: string; target: string; month: string }
  | { kind: 'probe'; runId: string }
  | { kind: 'housekeepingPlan'; planId: string }
  | { kind: 'unknown' };

const SEG = '[A-Za-z0-9_][A-Za-z0-9._\\-]{0,127}';
const SYM = '[A-Z0-9]{2,15}-[A-Z0-9]{2,15}';
const MONTH = '\\d{4}-(?:0[1-9]|1[0-2])';
const re = (root: string, rest: string) => new RegExp(`^${root}/${rest}$`);
const SERIES = `(${SEG}/${SYM}/${SEG})`;
const KEY_SHAPES: [RegExp, (m: RegExpExecArray) => KeyClass][] = [
  [re(ROOTS.candles, `${SERIES}/(${MONTH})/([0-9a-f]{64})\\.parquet`), (m) => ({ kind: 'candlePartition', seriesPrefix: `${ROOTS.candles}/${m[1]}/`, month: m[2]!, sha256: m[3]! })],
  [re(ROOTS.candles, `${SERIES}/_manifest\\.json`), (m) => ({ kind: 'candleManifest', seriesPrefix: `${ROOTS.candles}/${m[1]}/` })],
  [re(ROOTS.candles, `${SERIES}/_acks\\.json`), (m) => ({ kind: 'candleAcks', seriesPrefix: `${ROOTS.candles}/${m[1]}/` })],
  [re(ROOTS.candles, `${SERIES}/(${MONTH})\\.parquet`), (m) => ({ kind: 'candleLegacyMonth', seriesPrefix: `${ROOTS.candles}/${m[1]}/`, month: m[2]! })],
  [re(ROOTS.features, `(${SEG})/(_manifest\\.json|${SEG}/${SYM}/${SEG}\\.parquet)`), (m) => ({ kind: 'featureSet', featureSetId: m[1]!, file: m[2]! })],
  [re(ROOTS.models, `(${SEG})/(model\\.onnx|card\\.json)`), (m) => ({ kind: 'model', modelId: m[1]!, file: m[2] as 'model.onnx' | 'card.json' })],
  [re(ROOTS.runs, `(${SEG})/(oos\\.parquet|metrics\\.json|report/index\\.html|decision\\.json|plan\\.json)`), (m) => ({ kind: 'run', runId: m[1]!, file: m[2]! })],
  [re(ROOTS.registry, `${SERIES}/${SEG}/champion\\.json`), () => ({ kind: 'registry', record: 'champion' })],
  [re(ROOTS.registry, `${SERIES}/${SEG}/history/${SEG}\\.json`), () => ({ kind: 'registry', record: 'history' })],
  [re(ROOTS.registry, '.+'), () => ({ kind: 'registry', record: null })],
  [
    re(ROOTS.predictions, `(${SEG})/(${SYM})/(${SEG})/(${SEG})/(${MONTH})\\.parquet`),
    (m) => ({ kind: 'predictions', exchange: m[1]!, symbol: symbolFromSegment(m[2]!), timeframe: m[3]!, target: m[4]!, month: m[5]! }),
  ],
  [re(ROOTS.probes, `(${SEG})/.+`), (m) => ({ kind: 'probe', runId: m[1]! })],
  [re(ROOTS.housekeeping, `(${SEG})/plan\\.json`), (m) => ({ kind: 'housekeepingPlan', planId: m[1]! })],
];

export function classifyKey(key: string): KeyClass {
  if (key.includes('..')) return { kind: 'unknown' };
  for (const [shape, of] of KEY_SHAPES) {
    const m = shape.exec(key);
    if (m) return of(m);
  }
  return { kind: 'unknown' };
}
