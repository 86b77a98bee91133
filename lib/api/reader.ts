/**
 * What the read API and the dashboard read, from MinIO through the ArtifactStore: forecasts
 * (predictions/…/{YYYY-MM}.parquet), the champion and its history (registry/), a run's metrics,
 * decision and report (runs/{runId}/), realized values (the target column of the newest scoring
 * feature set). Every object is looked up by key (one HEAD: its sha256) and parsed once per
 * sha256: the bytes come from the store's verified on-disk cache, the parsed document from memory.
 * A forecast whose data is older than scoring.maxDataAgeMinutes is marked stale and never served as
 * the current one.
 */
import { barMsOf, horizonBarsOf, TARGETS, type TargetName } from '../../contracts/domain';
import type { ChampionRecord, Decision, PredictionRecord, ServingOutcome } from '../../contracts/types';
import type { MetricsDocument } from '../evaluation/types';
import { queryRows, sqlString, withDuck } from '../platform/duckdb';
import { layout, type Series } from '../platform/layout';
import type { ArtifactStore, ObjectRef } from '../platform/store';
import { parseRecord } from '../promotion/registry';
import { createHash } from 'node:crypto';
import { readManifest } from '../candles/lake';
import { monthOf } from '../candles/candle';
import { realizedTargets } from '../features/tail';

/** A bounded map, least recently used out first. */
export class Lru<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly max: number) {}
  get(k: K): V | undefined {
    const v = this.map.get(k);
    if (v !== undefined) {
      this.map.delete(k);
      this.map.set(k, v);
    }
    return v;
  }
  set(k: K, v: V): void {
    this.map.delete(k);
    this.map.set(k, v);
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value as K);
  }
  get size(): number {
    return this.map.size;
  }
}

export interface Forecast {
  /** Open time of the bar the forecast was made at (ms); its close is the forecast's origin. */
  barTs: number;
  barTime: string;
  /** The forecast's origin: the close of that bar (ISO); it covers the next horizonBars bars. */
  asOf: string;
  /** When the predictions object holding it was written (ISO; the newest forecast's write time). */
  madeAt: string | null;
  horizonBars: number;
  units: string;
  value: number;
  interval80: { lower: number; upper: number } | null;
  interval95: { lower: number; upper: number } | null;
  regime: 'low' | 'medium' | 'high' | null;
  modelId: string;
  modelName: string;
  /** The feature set the forecast's row came from; null for forecasts scored from the candle tail (no feature set stored). */
  featureSetId: string | null;
  /** sha256 over the candle partitions, feature definitions and feature values the forecast was made from; null on older records. */
  inputsSha256: string | null;
  /** The newest candle the forecast's features used (open time, ms). */
  dataWatermark: number;
  dataWatermarkTime: string;
  /** Minutes from the close of the data watermark's bar to the server's clock. */
  ageMinutes: number;
  stale: boolean;
}

export interface ChampionSummary {
  modelId: string;
  name: string;
  kind: string;
  spec: ChampionRecord['spec'] | null;
  action: ChampionRecord['action'];
  decidedAt: string;
  runId: string | null;
  trainEndTs: number | null;
  dataWatermark: number | null;
  loss: number | null;
}

export interface LatestForecast {
  exchange: string;
  symbol: string;
  timeframe: string;
  target: string;
  /** current: fresh, in `forecast`; stale: the newest is older than the limit (only in `newest`); none: no forecast yet. */
  status: 'current' | 'stale' | 'none';
  /** The current forecast: null unless status is current. */
  forecast: Forecast | null;
  /** The newest stored forecast whatever its age (status stale: this one, marked stale). */
  newest: Forecast | null;
  maxDataAgeMinutes: number;
  champion: ChampionSummary | null;
}

export interface HistoryItem extends Forecast {
  /** The realized value of the target, once known (null before, or outside the newest feature set). */
  realized: number | null;
}

export interface HistoryPage {
  exchange: string;
  symbol: string;
  timeframe: string;
  target: string;
  from: number;
  to: number;
  items: HistoryItem[];
  /** Pass as `cursor` for the next page; null on the last. */
  nextCursor: string | null;
}

export interface DecisionDocument {
  runId: string;
  series: Series;
  target: string;
  decidedAt: string;
  previousChampion: { modelId: string; name: string; trainEndTs: number | null } | null;
  decision: Decision;
  serving: ServingOutcome;
}

export interface RunView {
  runId: string;
  series: Series;
  target: string;
  horizonBars: number;
  folds: { fold: number; holdout: boolean; test: { startTs: number; endTs: number } }[];
  leaderboard: MetricsDocument['leaderboard'];
  bestBaseline: MetricsDocument['bestBaseline'];
  incumbent: string | null;
  decision: { decidedAt: string; outcome: Decision['outcome']; spec: string | null; reasons: string[]; serving: ServingOutcome } | null;
  reportKey: string;
}

export const iso = (t: number): string => new Date(t).toISOString();

function monthsBetween(from: number, to: number): string[] {
  const out: string[] = [];
  const d = new Date(Date.UTC(new Date(from).getUTCFullYear(), new Date(from).getUTCMonth(), 1));
  while (d.getTime() < to) {
    out.push(d.toISOString().slice(0, 7));
    d.setUTCMonth(d.getUTCMonth() + 1);
  }
  return out;
}

function isNotFound(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'NoSuchKey' || code === 'NotFound' || code === 'NoSuchBucket';
}

/** Runs fn over items, at most n at once, results in order. */
async function mapLimit<T, R>(items: T[], n: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!);
      }
    }),
  );
  return out;
}

export function encodeCursor(r: { barTs: number; modelId: string }): string {
  return Buffer.from(JSON.stringify([r.barTs, r.modelId])).toString('base64url');
}

export function decodeCursor(c: string): { barTs: number; modelId: string } | null {
  try {
    const v = JSON.parse(Buffer.from(c, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && Number.isInteger(v[0]) && typeof v[1] === 'string') return { barTs: v[0] as number, modelId: v[1] };
  } catch {
    /* below */
  }
  return null;
}

export class ApiReader {
  /** sha256 -> parsed document (JSON, prediction rows, realized values). */
  private readonly parsed = new Lru<string, unknown>(500);
  private readonly barMs: (tf: string) => number = barMsOf;

  constructor(
    readonly store: ArtifactStore,
    readonly maxDataAgeMinutes: number,
    readonly now: () => number = Date.now,
  ) {}

  /** Cache statistics for /health. */
  get cachedDocuments(): number {
    return this.parsed.size;
  }

  /** The reference of what is stored under key now (sha256 from its metadata) and when it was written. */
  private async stat(key: string): Promise<{ ref: ObjectRef; lastModified: Date | null } | null> {
    try {
      const st = await this.store.client.statObject(this.store.bucket, key);
      const meta = st.metaData as Record<string, string>;
      const sha256 = meta['sha256'] ?? meta['x-amz-meta-sha256'];
      if (sha256) return { ref: { bucket: this.store.bucket, key, sha256, size: st.size }, lastModified: st.lastModified ?? null };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
    // Written without volcast's sha256 metadata: read it to know its hash.
    const got = await this.store.readLatest(key);
    return got ? { ref: got.ref, lastModified: null } : null;
  }

  /** The parsed form of the referenced bytes, parsed once per sha256 (and view, e.g. one target's column). */
  private async cached<T>(ref: ObjectRef, parse: (ref: ObjectRef) => Promise<T>, view = ''): Promise<T> {
    const key = view ? `${ref.sha256}:${view}` : ref.sha256;
    const hit = this.parsed.get(key) as T | undefined;
    if (hit !== undefined) return hit;
    const v = await parse(ref);
    this.parsed.set(key, v);
    return v;
  }

  async json<T>(key: string): Promise<{ ref: ObjectRef; doc: T } | null> {
    const st = await this.stat(key);
    if (!st) return null;
    return { ref: st.ref, doc: await this.cached(st.ref, async (ref) => JSON.parse((await this.store.getBuffer(ref)).toString('utf8')) as T) };
  }

  private async championAt(key: string): Promise<ChampionRecord | null> {
    const st = await this.stat(key);
    if (!st) return null;
    return this.cached(st.ref, async (ref) => parseRecord(await this.store.getBuffer(ref), `s3://${ref.bucket}/${ref.key}`));
  }

  async champion(series: Series, target: string): Promise<ChampionRecord | null> {
    return this.championAt(layout.champion(series, target));
  }

  /** Every decision recorded for the series and target, newest first (promote, bootstrap, refresh, manual, rollback, hold). */
  async championHistory(series: Series, target: string, limit = 50): Promise<{ total: number; items: ChampionRecord[] }> {
    const keys = (await this.store.list(layout.championHistoryPrefix(series, target))).map((o) => o.key).sort().reverse();
    const items = await mapLimit(keys.slice(0, limit), 16, (k) => this.championAt(k));
    return { total: keys.length, items: items.filter((r): r is ChampionRecord => r !== null) };
  }

  private async predictionFile(series: Series, target: string, month: string): Promise<{ rows: PredictionRecord[]; lastModified: Date | null } | null> {
    const st = await this.stat(layout.predictions(series, target, month));
    if (!st) return null;
    const rows = await this.cached(st.ref, async (ref) => {
      const file = await this.store.getFile(ref);
      const raw = await withDuck((db) => queryRows<Record<string, unknown>>(db, `SELECT * FROM read_parquet(${sqlString(file)}) ORDER BY barTs, modelId`));
      return raw.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'bigint' ? Number(v) : v])) as unknown as PredictionRecord);
    });
    return { rows, lastModified: st.lastModified };
  }

  /** Months that hold forecasts of the series and target, oldest first. */
  async months(series: Series, target: string): Promise<string[]> {
    const prefix = layout.predictions(series, target, '2000-01').replace(/2000-01\.parquet$/, '');
    return (await this.store.list(prefix)).map((o) => o.key.slice(prefix.length)).filter((k) => /^\d{4}-\d{2}\.parquet$/.test(k)).map((k) => k.slice(0, 7)).sort();
  }

  forecastOf(r: PredictionRecord, madeAt: Date | null): Forecast {
    const bar = this.barMs(r.timeframe);
    const ageMinutes = (this.now() - (r.dataWatermark + bar)) / 60_000;
    return {
      barTs: r.barTs,
      barTime: iso(r.barTs),
      asOf: iso(r.barTs + bar),
      madeAt: madeAt ? madeAt.toISOString() : null,
      horizonBars: horizonBarsOf(r.target),
      units: TARGETS[r.target as TargetName]?.units ?? '',
      value: r.value,
      interval80: r.lower80 != null && r.upper80 != null ? { lower: r.lower80, upper: r.upper80 } : null,
      interval95: r.lower95 != null && r.upper95 != null ? { lower: r.lower95, upper: r.upper95 } : null,
      regime: r.regime,
      modelId: r.modelId,
      modelName: r.modelName,
      featureSetId: r.featureSetId ?? null,
      inputsSha256: r.inputsSha256 ?? null,
      dataWatermark: r.dataWatermark,
      dataWatermarkTime: iso(r.dataWatermark),
      ageMinutes: Math.round(ageMinutes * 10) / 10,
      stale: ageMinutes > this.maxDataAgeMinutes,
    };
  }

  static summary(c: ChampionRecord | null): ChampionSummary | null {
    if (!c) return null;
    return {
      modelId: c.modelId, name: c.name, kind: c.kind, spec: c.spec ?? null, action: c.action, decidedAt: c.decidedAt, runId: c.runId,
      trainEndTs: c.trainEndTs ?? null, dataWatermark: c.dataWatermark ?? null, loss: c.loss,
    };
  }

  /** The newest forecast of a series and target (of the serving champion when it scored that bar too). */
  async latest(series: Series, target: string): Promise<LatestForecast> {
    const [months, champion] = await Promise.all([this.months(series, target), this.champion(series, target)]);
    const out = (status: LatestForecast['status'], forecast: Forecast | null, newest: Forecast | null): LatestForecast => ({
      exchange: series.exchange, symbol: series.symbol, timeframe: series.timeframe, target, status, forecast, newest,
      maxDataAgeMinutes: this.maxDataAgeMinutes, champion: ApiReader.summary(champion),
    });
    for (const month of [...months].reverse()) {
      const file = await this.predictionFile(series, target, month);
      if (!file?.rows.length) continue;
      const newestTs = file.rows[file.rows.length - 1]!.barTs;
      const atNewest = file.rows.filter((r) => r.barTs === newestTs);
      const row = atNewest.find((r) => r.modelId === champion?.modelId) ?? atNewest[atNewest.length - 1]!;
      const f = this.forecastOf(row, file.lastModified);
      return f.stale ? out('stale', null, f) : out('current', f, f);
    }
    return out('none', null, null);
  }

  /** Realized target values (ts -> value) of a feature set's series, where known. */
  async realized(featureSetId: string, series: Series, target: string): Promise<Map<number, number>> {
    const st = await this.stat(layout.features(featureSetId, series));
    if (!st) return new Map();
    return this.cached(st.ref, async (ref) => {
      const file = await this.store.getFile(ref);
      const col = `"${target.replace(/"/g, '')}"`;
      const rows = await withDuck((db) => queryRows<{ ts: bigint; v: number }>(db, `SELECT ts, ${col} AS v FROM read_parquet(${sqlString(file)}) WHERE ${col} IS NOT NULL ORDER BY ts`));
      return new Map(rows.map((r) => [Number(r.ts), r.v]));
    }, target);
  }

  /**
   * Realized target values of a series (ts -> value) over [from, to), from the candle lake: the
   * months holding that range plus one before (vol-up reads 24 bars back) and after (the horizon),
   * computed by the feature definitions' own SQL; parsed once per set of partitions.
   */
  async realizedFromCandles(series: Series, target: string, from: number, to: number): Promise<Map<number, number>> {
    const st = await this.stat(layout.candlesManifest(series));
    if (!st) return new Map();
    const { manifest } = await readManifest(this.store, series);
    const horizon = horizonBarsOf(target) * this.barMs(series.timeframe);
    const months = Object.keys(manifest.partitions).sort().filter((m) => m >= monthOf(from - 32 * 86_400_000) && m <= monthOf(to + horizon));
    const parts = months.map((m) => manifest.partitions[m]!);
    const view = createHash('sha256').update(JSON.stringify([target, parts.map((p) => p.sha256)])).digest('hex');
    return this.cached({ bucket: this.store.bucket, key: 'realized', sha256: view }, async () => {
      const files = await Promise.all(parts.map((p) => this.store.getFile({ bucket: this.store.bucket, key: p.key, sha256: p.sha256 })));
      return realizedTargets(files, series, target);
    });
  }

  /**
   * Forecasts with barTs in [from, to), oldest first, at most `limit`, after the cursor; each with
   * its realized value when the newest scoring feature set knows it.
   */
  async history(series: Series, target: string, q: { from: number; to: number; limit: number; after?: { barTs: number; modelId: string } | null }): Promise<HistoryPage> {
    const listed = new Set(await this.months(series, target));
    const start = q.after ? Math.max(q.from, q.after.barTs) : q.from;
    const items: HistoryItem[] = [];
    let more = false;
    for (const month of monthsBetween(start, q.to).filter((m) => listed.has(m))) {
      const file = await this.predictionFile(series, target, month);
      if (!file) continue;
      for (const r of file.rows) {
        if (r.barTs < start || r.barTs >= q.to) continue;
        if (q.after && (r.barTs < q.after.barTs || (r.barTs === q.after.barTs && r.modelId <= q.after.modelId))) continue;
        if (items.length === q.limit) {
          more = true;
          break;
        }
        items.push({ ...this.forecastOf(r, null), realized: null });
      }
      if (more) break;
    }
    // Realized values: the target column of the newest feature set scored (it holds the most known
    // targets) for forecasts made on stored feature sets; from the candles for those made from the tail.
    const newestFs = (await this.latest(series, target)).newest?.featureSetId ?? null;
    if (items.length) {
      const realized = newestFs ? await this.realized(newestFs, series, target) : await this.realizedFromCandles(series, target, items[0]!.barTs, items[items.length - 1]!.barTs + 1);
      for (const it of items) it.realized = realized.get(it.barTs) ?? null;
    }
    return {
      exchange: series.exchange, symbol: series.symbol, timeframe: series.timeframe, target, from: q.from, to: q.to, items,
      nextCursor: more ? encodeCursor(items[items.length - 1]!) : null,
    };
  }

  async run(runId: string): Promise<RunView | null> {
    const metrics = await this.json<MetricsDocument>(layout.run(runId, 'metrics.json'));
    if (!metrics) return null;
    const decision = await this.json<DecisionDocument>(layout.run(runId, 'decision.json'));
    const m = metrics.doc;
    const d = decision?.doc;
    return {
      runId,
      series: m.series,
      target: m.target,
      horizonBars: m.horizonBars,
      folds: m.folds.map((f, i) => ({ fold: f.fold, holdout: f.holdout ?? i === m.folds.length - 1, test: f.test })),
      leaderboard: m.leaderboard,
      bestBaseline: m.bestBaseline,
      incumbent: m.incumbent,
      decision: d ? { decidedAt: d.decidedAt, outcome: d.decision.outcome, spec: d.decision.spec, reasons: d.decision.reasons, serving: d.serving } : null,
      reportKey: layout.run(runId, 'report/index.html'),
    };
  }

  async report(runId: string): Promise<Buffer | null> {
    const st = await this.stat(layout.run(runId, 'report/index.html'));
    return st ? this.store.getBuffer(st.ref) : null;
  }

  /** MinIO answers and the bucket exists (for /health). */
  async ping(): Promise<{ ok: boolean; ms: number; error: string | null }> {
    const t0 = performance.now();
    try {
      const ok = await this.store.client.bucketExists(this.store.bucket);
      return { ok, ms: Math.round((performance.now() - t0) * 10) / 10, error: ok ? null : `bucket ${this.store.bucket} does not exist` };
    } catch (err) {
      return { ok: false, ms: Math.round((performance.now() - t0) * 10) / 10, error: (err as Error).message };
    }
  }
}
