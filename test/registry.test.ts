import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { layout, type Series } from '../lib/platform/layout';
import { championHistory, listChampions, readChampion, recordHold, rollbackChampion, setChampion, type ChampionRecord } from '../lib/promotion/registry';
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
    await setChampion(store, rec('m3', 3, 'refresh'));
    // A failed serving fit holds: recorded in the history, champion.json untouched.
    await recordHold(store, (await readChampion(store, series, target))!, { decidedAt: new Date(Date.UTC(2026, 0, 1, 0, 3, 30)).toISOString(), runId: 'r2', reasons: ['the serving fit of m4 failed'] });
    assert.equal((await readChampion(store, series, target))!.modelId, 'm3');
    assert.equal((await readChampion(store, series, target))!.action, 'refresh');
    assert.deepEqual((await championHistory(store, series, target)).map((h) => `${h.modelId} ${h.action}`), ['m1 bootstrap', 'm2 promote', 'm3 refresh', 'm3 hold']);

    const back1 = await rollbackChampion(store, series, target, new Date(Date.UTC(2026, 0, 1, 0, 4)).toISOString(), 'bad forecasts');
    assert.equal(back1.modelId, 'm2');
    assert.equal((await readChampion(store, series, target))!.action, 'rollback');
    const back2 = await rollbackChampion(store, series, target, new Date(Date.UTC(2026, 0, 1, 0, 5)).toISOString(), 'still bad');
    assert.equal(back2.modelId, 'm1');
    await assert.rejects(
      rollbackChampion(store, series, target, new Date(Date.UTC(2026, 0, 1, 0, 6)).toISOString(), 'again'),
      /no earlier champion/,
    );
    assert.ok((await listChampions(store)).some((c) => c.ok && c.record.series.exchange === series.exchange && c.record.modelId === 'm1'));
  });

  it('a truncated or incomplete champion.json is a permanent error naming the object; the listing reports it and goes on', async () => {
    const other: Series = { ...series, symbol: 'ETH/USDT' };
    const key = layout.champion(other, target);
    await store.putBuffer(key, '{"modelId": "m9", "name": "har', 'application/json');
    await assert.rejects(readChampion(store, other, target), (e: unknown) => e instanceof Error && e.name === 'CorruptDocumentError' && e.message.includes(`s3://${store.bucket}/${key} is not valid JSON`));
    const listed = await listChampions(store);
    const bad = listed.find((c) => c.key === key);
    assert.ok(bad && !bad.ok && /not valid JSON/.test(bad.error));
    assert.ok(listed.some((c) => c.ok && c.record.series.exchange === series.exchange));
    await store.putJson(key, { modelId: 'm9', name: 'har_x' });
    await assert.rejects(readChampion(store, other, target), /lacks kind, target, series, modelRef, cardRef, decidedAt, action/);
  });
});
