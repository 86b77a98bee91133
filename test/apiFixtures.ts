/**
 * Records for the read API and dashboard tests, written to the real MinIO with the library
 * functions under an exchange of their own: real BTC and ETH candles of ../shared/data shifted so
 * that the newest bar closed last at the fixture's clock; realized targets computed from them
 * (Garman-Klass next bar, realized volatility of the next 24 bars) in a feature-set object; EWMA
 * forecasts with log-normal intervals and regimes; champions with a decision history (bootstrap,
 * promote, hold, refresh; a rollback); each deciding run's metrics.json, decision.json and report.
 *
 *   BTC/USDT target_gk_1h   current (newest bar = the last closed one)
 *   BTC/USDT target_rv_24h  current, champion rolled back
 *   ETH/USDT target_gk_1h   stale (newest forecast 5 hours old)
 *   ETH/USDT target_rv_24h  none (no champion, no forecast)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChampionRecord, LeaderboardRow, PredictionRecord } from '../contracts/types';
import { INTERVAL_Z, intervalBounds } from '../lib/metrics';
import type { VolcastConfig } from '../lib/platform/config';
import { queryRows, sqlString, withDuck } from '../lib/platform/duckdb';
import { layout, type Series } from '../lib/platform/layout';
import type { ArtifactStore } from '../lib/platform/store';
import { championHistory, readChampion, recordHold, rollbackChampion, setChampion } from '../lib/promotion/registry';
import { appendPredictions, monthOf, readPredictions } from '../lib/scoring/predictions';
import { sourceRows } from './dataHelpers';
import { uid } from './helpers';

export const H = 3_600_000;
const DAY = 24 * H;
const SIGMA = 0.45;

export interface SeriesFixture {
  series: Series;
  target: string;
  records: PredictionRecord[];
  realized: Map<number, number>;
  champion: ChampionRecord | null;
  /** Newest first, as the API returns it. */
  history: ChampionRecord[];
  runIds: string[];
}

export interface ApiFixture {
  /** The config to serve them with (its own exchange; BTC/USDT and ETH/USDT; both targets). */
  cfg: VolcastConfig;
  exchange: string;
  now: number;
  featureSetId: string;
  btcGk: SeriesFixture;
  btcRv: SeriesFixture;
  ethGk: SeriesFixture;
  ethRv: SeriesFixture;
}

function gk(c: { open: number; high: number; low: number; close: number }): number {
  const hl = Math.log(c.high / c.low);
  const co = Math.log(c.close / c.open);
  return Math.sqrt(Math.max(0.5 * hl * hl - (2 * Math.LN2 - 1) * co * co, 1e-12));
}

/** Candles of the symbol's last `bars` hours of data, shifted so that the newest opens at `newestTs`. */
async function shiftedCandles(symbol: string, bars: number, newestTs: number) {
  const rows = (await sourceRows(symbol)).slice(-bars);
  const shift = newestTs - rows[rows.length - 1]!.ts;
  return rows.map((r) => ({ ...r, ts: r.ts + shift }));
}

/** Realized targets at each ts (null where the future bars are not there yet). */
function targets(candles: { ts: number; open: number; high: number; low: number; close: number }[]) {
  const gkNext = candles.map((_, i) => (i + 1 < candles.length ? gk(candles[i + 1]!) : null));
  const rv24 = candles.map((_, i) => {
    if (i + 24 >= candles.length) return null;
    let s = 0;
    for (let k = 1; k <= 24; k++) s += Math.log(candles[i + k]!.close / candles[i + k - 1]!.close) ** 2;
    return Math.sqrt(s);
  });
  return { gkNext, rv24 };
}

/** RiskMetrics-style EWMA forecasts of both targets at each ts (from bars up to ts). */
function ewmaForecasts(candles: { open: number; high: number; low: number; close: number }[], lambda = 0.94) {
  let v = gk(candles[0]!) ** 2;
  const gkF: number[] = [];
  const rvF: number[] = [];
  let r2 = 0;
  for (let i = 0; i < candles.length; i++) {
    v = lambda * v + (1 - lambda) * gk(candles[i]!) ** 2;
    if (i > 0) r2 = lambda * r2 + (1 - lambda) * Math.log(candles[i]!.close / candles[i - 1]!.close) ** 2;
    gkF.push(Math.sqrt(v));
    rvF.push(Math.sqrt(24 * (r2 || v)));
  }
  return { gkF, rvF };
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

function leaderboard(champion: string, incumbent: string | null): LeaderboardRow[] {
  const models: [string, string, number, number][] = [
    ['har_x', 'har_x', -7.912, -7.874], ['lightgbm', 'lightgbm', -7.901, -7.861], ['ewma', 'ewma', -7.853, -7.842],
    ['har_rv', 'har_rv', -7.848, -7.839], ['persistence', 'persistence', -7.511, -7.498],
  ];
  return models.map(([model, kind, v, h], i) => ({
    rank: i + 1, model, kind, role: model === incumbent ? 'incumbent' : ['persistence', 'ewma', 'har_rv'].includes(model) ? 'baseline' : 'challenger',
    complete: true, failedFolds: [], validationQlike: v, holdoutQlike: model === champion ? h - 0.01 : h, qlike: (v + h) / 2, rows: 720, holdoutRows: 240,
    rmse: 0.0011 + i * 0.0001, r2: 0.31 - i * 0.04,
    dmVsIncumbent: incumbent && model !== incumbent ? { statistic: 1.2 - i * 0.3, pValue: 0.11 + i * 0.1 } : null,
    dmVsBestBaseline: { statistic: 2.1 - i * 0.4, pValue: 0.018 + i * 0.07 }, dmVsHarRv: null, parityPassed: true,
  }));
}

async function writeRun(store: ArtifactStore, runId: string, series: Series, target: string, rec: ChampionRecord, incumbent: string | null): Promise<void> {
  await store.putJson(layout.run(runId, 'metrics.json'), {
    runId, series, target, horizonBars: target === 'target_rv_24h' ? 24 : 1,
    folds: [0, 1, 2].map((fold) => ({ fold, holdout: fold === 2, test: { startTs: Date.parse(rec.decidedAt) - (3 - fold) * 10 * DAY, endTs: Date.parse(rec.decidedAt) - (2 - fold) * 10 * DAY } })),
    leaderboard: leaderboard(rec.name, incumbent), bestBaseline: { model: 'ewma', kind: 'ewma', qlike: -7.853 }, incumbent,
  });
  await store.putJson(layout.run(runId, 'decision.json'), {
    runId, series, target, decidedAt: rec.decidedAt, previousChampion: null,
    decision: { outcome: rec.action === 'promote' ? 'promote' : rec.action === 'bootstrap' ? 'bootstrap' : 'keep', spec: rec.name, challenger: null, incumbent, bestBaseline: 'ewma', reasons: rec.reasons },
    serving: { action: rec.action, modelId: rec.modelId, reasons: [`${rec.name} ${rec.modelId} serves (${rec.action})`], championWritten: true, trainEndTs: rec.trainEndTs ?? null },
  });
  await store.putBuffer(layout.run(runId, 'report/index.html'), `<!doctype html><html><body><h1>Run ${runId}</h1><p>${series.symbol} ${target}</p></body></html>`, 'text/html');
}

export async function writeApiFixture(store: ArtifactStore, base: VolcastConfig, now = Date.now()): Promise<ApiFixture> {
  const exchange = uid('api').toLowerCase().replace(/[^a-z0-9]/g, '');
  const cfg: VolcastConfig = { ...base, exchanges: [{ id: exchange, urlOverride: null }], symbols: ['BTC/USDT', 'ETH/USDT'], targets: ['target_gk_1h', 'target_rv_24h'] };
  const newestBar = Math.floor(now / H) * H - H; // the bar that closed last at `now`
  const featureSetId = uid('fs-api');
  const bars = 9 * 24;

  const fixtures: Record<string, SeriesFixture> = {};
  const inputs = new Map<SeriesFixture, { values: number[]; ts: number[] }>();
  const featureRows: Record<string, { ts: number; target_gk_1h: number | null; target_rv_24h: number | null }[]> = {};
  for (const symbol of ['BTC/USDT', 'ETH/USDT']) {
    const series: Series = { exchange, symbol, timeframe: '1h' };
    // ETH's data stops five hours early: its newest forecast is stale.
    const last = symbol === 'ETH/USDT' ? newestBar - 5 * H : newestBar;
    const candles = await shiftedCandles(symbol, bars, last);
    const { gkNext, rv24 } = targets(candles);
    const { gkF, rvF } = ewmaForecasts(candles);
    featureRows[symbol] = candles.map((c, i) => ({ ts: c.ts, target_gk_1h: gkNext[i]!, target_rv_24h: rv24[i]! }));
    for (const [target, values, realized] of [['target_gk_1h', gkF, gkNext], ['target_rv_24h', rvF, rv24]] as const) {
      const f: SeriesFixture = {
        series, target, records: [], realized: new Map(candles.flatMap((c, i) => (realized[i] != null ? [[c.ts, realized[i]!] as [number, number]] : []))),
        champion: null, history: [], runIds: [],
      };
      fixtures[`${symbol} ${target}`] = f;
      inputs.set(f, { values: [...values], ts: candles.map((c) => c.ts) });
    }
  }

  // The feature set scoring built last (only ts and the targets: what the API reads of it).
  const dir = await mkdtemp(join(tmpdir(), 'volcast-apifx-'));
  try {
    for (const [symbol, rows] of Object.entries(featureRows)) {
      const file = join(dir, `${symbol.replace('/', '-')}.parquet`);
      await withDuck(async (db) => {
        await db.run('CREATE TABLE f (ts BIGINT, target_gk_1h DOUBLE, target_rv_24h DOUBLE)');
        const lit = (v: number | null) => (v === null ? 'NULL' : String(v));
        await db.run(`INSERT INTO f VALUES ${rows.map((r) => `(${r.ts}, ${lit(r.target_gk_1h)}, ${lit(r.target_rv_24h)})`).join(',')}`);
        await db.run(`COPY (SELECT * FROM f ORDER BY ts) TO ${sqlString(file)} (FORMAT parquet)`);
        // As stored (DuckDB may round a literal's last bit): the realized values the API must return.
        const stored = await queryRows<{ ts: bigint; gk: number | null; rv: number | null }>(db, `SELECT ts, target_gk_1h AS gk, target_rv_24h AS rv FROM read_parquet(${sqlString(file)})`);
        for (const [target, col] of [['target_gk_1h', 'gk'], ['target_rv_24h', 'rv']] as const) {
          fixtures[`${symbol} ${target}`]!.realized = new Map(stored.filter((r) => r[col] !== null).map((r) => [Number(r.ts), r[col]!]));
        }
      });
      await store.putFile(layout.features(featureSetId, { exchange, symbol, timeframe: '1h' }), file);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  const ref = (modelId: string, file: 'model.onnx' | 'card.json') => ({ bucket: store.bucket, key: layout.model(modelId, file), sha256: (file === 'card.json' ? 'c' : 'a').repeat(64) });
  const record = (f: SeriesFixture, name: string, kind: string, modelId: string, decidedAt: number, action: ChampionRecord['action'], reasons: string[], runId: string | null, q: { q1: number; q2: number }): ChampionRecord => ({
    version: 2, modelId, name, kind, target: f.target, series: f.series, spec: { name, kind, params: kind === 'lightgbm' ? { num_leaves: 15 } : {} }, featureSetId,
    modelRef: ref(modelId, 'model.onnx'), cardRef: ref(modelId, 'card.json'), runId, decidedAt: new Date(decidedAt).toISOString(), action, reasons,
    loss: -7.88, trainEndTs: decidedAt - 2 * H, dataWatermark: decidedAt - 2 * H, featureUniverse: [`${exchange}:BTC-USDT:1h`, `${exchange}:ETH-USDT:1h`],
    regimeThresholds: q, featureDefinitionsSha: 'f'.repeat(64),
  });

  /** Champions deciding at the given times; forecasts of each bar by the champion serving then. */
  async function lifecycle(f: SeriesFixture, steps: { at: number; name: string; kind: string; action: ChampionRecord['action']; reasons: string[] }[], forecastFrom: number) {
    const x = inputs.get(f)!;
    const q = { q1: quantile(x.values, 1 / 3), q2: quantile(x.values, 2 / 3) };
    const serving: { from: number; rec: ChampionRecord }[] = [];
    for (const [i, s] of steps.entries()) {
      const runId = `${uid('apirun')}-${f.series.symbol.replace('/', '-')}-${f.target}`;
      if (s.action === 'hold') {
        const current = serving.at(-1)!.rec;
        await recordHold(store, current, { decidedAt: new Date(s.at).toISOString(), runId, reasons: s.reasons });
        await writeRun(store, runId, f.series, f.target, { ...current, action: 'hold', decidedAt: new Date(s.at).toISOString(), reasons: s.reasons, runId }, current.name);
      } else if (s.action === 'rollback') {
        const back = await rollbackChampion(store, f.series, f.target, new Date(s.at).toISOString(), s.reasons[0]!);
        serving.push({ from: s.at, rec: back });
        continue;
      } else {
        const rec = record(f, s.name, s.kind, `${s.name}-${uid('m')}-${i}`, s.at, s.action, s.reasons, runId, q);
        await setChampion(store, rec);
        await writeRun(store, runId, f.series, f.target, rec, serving.at(-1)?.rec.name ?? null);
        serving.push({ from: s.at, rec });
      }
      f.runIds.push(runId);
    }
    const z80 = INTERVAL_Z['80'];
    const z95 = INTERVAL_Z['95'];
    for (let i = 0; i < x.ts.length; i++) {
      const barTs = x.ts[i]!;
      if (barTs < forecastFrom) continue;
      const rec = [...serving].reverse().find((s) => s.from <= barTs + H)?.rec ?? serving[0]!.rec;
      const v = x.values[i]!;
      const [l80, u80] = intervalBounds(v, SIGMA, z80);
      const [l95, u95] = intervalBounds(v, SIGMA, z95);
      f.records.push({
        exchange, symbol: f.series.symbol, timeframe: '1h', target: f.target, barTs, value: v, lower80: l80, upper80: u80, lower95: l95, upper95: u95,
        regime: v < q.q1 ? 'low' : v < q.q2 ? 'medium' : 'high', modelId: rec.modelId, modelName: rec.name, featureSetId, dataWatermark: barTs,
      });
    }
    const byMonth = new Map<string, PredictionRecord[]>();
    for (const r of f.records) byMonth.set(monthOf(r.barTs), [...(byMonth.get(monthOf(r.barTs)) ?? []), r]);
    for (const rows of byMonth.values()) await appendPredictions(store, rows);
    // As stored (DuckDB may round a literal's last bit): the values the API must return.
    f.records = (await Promise.all([...byMonth.keys()].sort().map((m) => readPredictions(store, f.series, f.target, m)))).flat();
  }

  const btcGk = fixtures['BTC/USDT target_gk_1h']!;
  const btcRv = fixtures['BTC/USDT target_rv_24h']!;
  const ethGk = fixtures['ETH/USDT target_gk_1h']!;
  const ethRv = fixtures['ETH/USDT target_rv_24h']!;
  const t0 = newestBar - 7 * DAY;
  await lifecycle(btcGk, [
    { at: t0 - DAY, name: 'ewma', kind: 'ewma', action: 'bootstrap', reasons: ['no champion yet: the best baseline ewma serves'] },
    { at: t0 + 2 * DAY, name: 'har_x', kind: 'har_x', action: 'promote', reasons: ['har_x beats ewma on the holdout: QLIKE -7.884 vs -7.842 (-0.5%), HLN-DM p 0.012, SPA p 0.031'] },
    { at: t0 + 4 * DAY, name: 'har_x', kind: 'har_x', action: 'hold', reasons: ['the serving fit of har_x failed: FitError: the solver did not converge', 'the previous artifact keeps serving'] },
    { at: t0 + 5 * DAY, name: 'har_x', kind: 'har_x', action: 'refresh', reasons: ['no challenger passes the gates: har_x is kept, refitted on one more day'] },
  ], t0);
  await lifecycle(btcRv, [
    { at: t0 - DAY, name: 'ewma', kind: 'ewma', action: 'bootstrap', reasons: ['no champion yet: the best baseline ewma serves'] },
    { at: t0 + 3 * DAY, name: 'lightgbm', kind: 'lightgbm', action: 'promote', reasons: ['lightgbm beats ewma on the holdout: HLN-DM p 0.02, SPA p 0.04'] },
    { at: t0 + 6 * DAY, name: 'ewma', kind: 'ewma', action: 'rollback', reasons: ['lightgbm forecasts drifted: rolled back by hand'] },
  ], t0);
  await lifecycle(ethGk, [{ at: t0 - DAY, name: 'har_rv', kind: 'har_rv', action: 'bootstrap', reasons: ['no champion yet: the best baseline har_rv serves'] }], t0);
  for (const f of [btcGk, btcRv, ethGk]) {
    f.champion = await readChampion(store, f.series, f.target);
    f.history = (await championHistory(store, f.series, f.target)).reverse();
  }
  return { cfg, exchange, now, featureSetId, btcGk, btcRv, ethGk, ethRv };
}
