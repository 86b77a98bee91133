/**
 * The other read-modify-write objects under concurrent writers, against the real MinIO: a monthly
 * predictions file (two scoring runs, a retry racing its first attempt) and the registry's
 * champion.json (concurrent decisions and rollbacks) with its create-only history.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { layout, type Series } from '../lib/platform/layout';
import { championHistory, readChampion, recordHold, rollbackChampion, setChampion, type ChampionRecord } from '../lib/promotion/registry';
import { appendPredictions, readPredictions, type PredictionRecord } from '../lib/scoring/predictions';
import { ArtifactStore } from '../lib/platform/store';
import { testConfig, uid } from './helpers';

const H = 3_600_000;

describe('predictions and registry writers under concurrency (real MinIO)', () => {
  let store: ArtifactStore;
  before(() => {
    store = new ArtifactStore(testConfig());
  });

  const exchangeId = (p: string) => uid(p).toLowerCase().replace(/[^a-z0-9]/g, '');
  const pred = (exchange: string, barTs: number, value: number, modelId = 'm1'): PredictionRecord => ({
    exchange, symbol: 'ETH/USDT', timeframe: '1h', target: 'target_gk_1h', barTs, value,
    lower80: value * 0.8, upper80: value * 1.2, lower95: null, upper95: null, regime: 'medium',
    modelId, modelName: 'har_rv', featureSetId: 'fs1', dataWatermark: barTs,
  });

  it('8 concurrent appends to one month keep every row (5 trials); the same record twice at once is written once', async () => {
    const t = Date.UTC(2026, 1, 2);
    for (let trial = 1; trial <= 5; trial++) {
      const exchange = exchangeId('predc');
      const results = await Promise.all(Array.from({ length: 8 }, (_, i) => appendPredictions(store, [pred(exchange, t + i * H, 0.01 * (i + 1))])));
      assert.ok(results.every((r) => r.written));
      const rows = await readPredictions(store, { exchange, symbol: 'ETH/USDT', timeframe: '1h' }, 'target_gk_1h', '2026-02');
      assert.deepEqual(rows.map((r) => r.barTs), Array.from({ length: 8 }, (_, i) => t + i * H), `trial ${trial}: rows lost`);
      // A retried score racing its first attempt: one put, the other finds it stored.
      const twice = await Promise.all([appendPredictions(store, [pred(exchange, t + 9 * H, 0.5)]), appendPredictions(store, [pred(exchange, t + 9 * H, 0.5)])]);
      assert.deepEqual(twice.map((r) => r.written).sort(), [false, true], `trial ${trial}: the same record was put twice`);
      assert.equal(twice[0]!.ref.sha256, twice[1]!.ref.sha256);
    }
  });

  const target = 'target_gk_1h';
  const rec = (series: Series, modelId: string, minute: number, action: ChampionRecord['action'] = 'promote'): ChampionRecord => ({
    modelId, name: modelId, kind: 'har_rv', target, series, featureSetId: 'fs', runId: 'r1',
    modelRef: { bucket: 'volcast', key: layout.model(modelId, 'model.onnx'), sha256: 'a'.repeat(64) },
    cardRef: { bucket: 'volcast', key: layout.model(modelId, 'card.json'), sha256: 'b'.repeat(64) },
    decidedAt: new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString(), action, reasons: ['test'], loss: 0.3,
  });

  it('a decision committed twice at once is written once; two rollbacks at once go two steps back (5 trials)', async () => {
    for (let trial = 1; trial <= 5; trial++) {
      const series: Series = { exchange: exchangeId('regc'), symbol: 'BTC/USDT', timeframe: '1h' };
      const first = rec(series, 'm1', 1, 'bootstrap');
      const both = await Promise.all([setChampion(store, first), setChampion(store, first)]);
      assert.deepEqual(both.map((b) => b.written).sort(), [false, true], `trial ${trial}: the same decision was written twice`);
      await setChampion(store, rec(series, 'm2', 2));
      await setChampion(store, rec(series, 'm3', 3, 'refresh'));
      const at = (m: number) => new Date(Date.UTC(2026, 0, 1, 0, m)).toISOString();
      const [a, b] = await Promise.all([rollbackChampion(store, series, target, at(4), 'bad'), rollbackChampion(store, series, target, at(5), 'still bad')]);
      // Serialized: one retired m3 (back to m2), the other then retired m2 (back to m1).
      assert.deepEqual([a.modelId, b.modelId].sort(), ['m1', 'm2'], `trial ${trial}: both rollbacks restored the same champion`);
      assert.equal((await readChampion(store, series, target))!.modelId, 'm1', `trial ${trial}: champion after two rollbacks`);
      const history = await championHistory(store, series, target);
      assert.deepEqual(history.map((h) => `${h.modelId} ${h.action}`).slice(0, 3), ['m1 bootstrap', 'm2 promote', 'm3 refresh']);
      assert.deepEqual(history.slice(3).flatMap((h) => h.reasons.filter((r) => r.startsWith('retired '))).sort(), ['retired m2', 'retired m3']);
    }
  });

  it('concurrent decisions each land in the history; an entry is never overwritten by another decision', async () => {
    const series: Series = { exchange: exchangeId('regh'), symbol: 'BTC/USDT', timeframe: '1h' };
    await setChampion(store, rec(series, 'm1', 1, 'bootstrap'));
    await Promise.all([setChampion(store, rec(series, 'm4', 4)), setChampion(store, rec(series, 'm5', 5)), setChampion(store, rec(series, 'm6', 6))]);
    assert.ok(['m4', 'm5', 'm6'].includes((await readChampion(store, series, target))!.modelId));
    assert.deepEqual((await championHistory(store, series, target)).map((h) => h.modelId), ['m1', 'm4', 'm5', 'm6']);
    const champion = (await readChampion(store, series, target))!;
    await recordHold(store, champion, { decidedAt: new Date(Date.UTC(2026, 0, 1, 0, 7)).toISOString(), runId: 'r2', reasons: ['serving fit failed'] });
    // Another decision at the very time of that hold: refused before champion.json changes.
    await assert.rejects(setChampion(store, rec(series, 'm9', 7)), (e: unknown) => e instanceof Error && e.name === 'RegistryError' && /another decision is recorded at/.test(e.message));
    assert.equal((await readChampion(store, series, target))!.modelId, champion.modelId);
    assert.equal((await championHistory(store, series, target)).at(-1)!.action, 'hold');
    // The same hold again (a retried activity) is a no-op.
    await recordHold(store, champion, { decidedAt: new Date(Date.UTC(2026, 0, 1, 0, 7)).toISOString(), runId: 'r2', reasons: ['serving fit failed'] });
    assert.equal((await championHistory(store, series, target)).length, 5);
  });
});
