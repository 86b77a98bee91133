import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { layout, type Series } from '../lib/platform/layout';
import { championHistory, listChampions, readChampion, rollbackChampion, setChampion, type ChampionRecord } from '../lib/promotion/registry';
import { ArtifactStore } from '../lib/platform/store';
import { testConfig, uid } from './helpers';

describe('model registry (real MinIO)', () => {
  let store: ArtifactStore;
  let series: Series;
  const target = 'target_gk_1h';
  before(() => {
    store = new ArtifactStore(testConfig());
    series = { exchange: uid('reg').replace('-', ''), symbol: 'BTC/USDT', timeframe: '1h' };
  });
  const rec = (modelId: string, minute: number, action: ChampionRecord['action'] = 'promote'): ChampionRecord => ({
    modelId, name: modelId, kind: 'har_rv', target, series, featureSetId: 'fs', runId: 'r1',
    modelRef: { bucket: 'volcast', key: layout.model(modelId, 'model.onnx'), sha256: 'a'.repeat(64) },
    cardRef: { bucket: 'volcast', key: layout.model(modelId, 'card.json'), sha256: 'b'.repeat(64) },
    decidedAt: new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString(), action, reasons: ['test'], loss: 0.3,
  });

  it('promotes with history, re-running the same decision writes nothing, and rollback walks back', async () => {
    assert.equal(await readChampion(store, series, target), null);
    assert.deepEqual(await setChampion(store, rec('m1', 1, 'bootstrap')), { written: true });
    assert.deepEqual(await setChampion(store, rec('m1', 1, 'bootstrap')), { written: false });
    await setChampion(store, rec('m2', 2));
    await setChampion(store, rec('m3', 3));
    assert.equal((await readChampion(store, series, target))!.modelId, 'm3');
    assert.deepEqual((await championHistory(store, series, target)).map((h) => h.modelId), ['m1', 'm2', 'm3']);

    const back1 = await rollbackChampion(store, series, target, new Date(Date.UTC(2026, 0, 1, 0, 4)).toISOString(), 'bad forecasts');
    assert.equal(back1.modelId, 'm2');
    assert.equal((await readChampion(store, series, target))!.action, 'rollback');
    const back2 = await rollbackChampion(store, series, target, new Date(Date.UTC(2026, 0, 1, 0, 5)).toISOString(), 'still bad');
    assert.equal(back2.modelId, 'm1');
    await assert.rejects(
      rollbackChampion(store, series, target, new Date(Date.UTC(2026, 0, 1, 0, 6)).toISOString(), 'again'),
      /no earlier champion/,
    );
    assert.ok((await listChampions(store)).some((c) => c.series.exchange === series.exchange && c.modelId === 'm1'));
  });
});
