/**
 * Promotion by hand (`volcast models promote`) against the real MinIO and the real CLI: a card of
 * another series, target or feature definitions, or one without parity, is refused, naming why;
 * a good one becomes the champion with its spec, so the next train refits it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import type { Series } from '../contracts/types';
import { definitionsSha } from '../lib/features/build';
import { layout } from '../lib/platform/layout';
import { repoRoot } from '../lib/platform/paths';
import { ArtifactStore } from '../lib/platform/store';
import { promoteByHand } from '../lib/promotion/manual';
import { readChampion } from '../lib/promotion/registry';
import { testConfig, uid } from './helpers';

describe('manual promotion (real MinIO, the real CLI)', () => {
  let store: ArtifactStore;
  let series: Series;
  const target = 'target_gk_1h';
  before(() => {
    store = new ArtifactStore(testConfig());
    series = { exchange: uid('man').toLowerCase().replace(/[^a-z0-9]/g, ''), symbol: 'BTC/USDT', timeframe: '1h' };
  });

  async function model(extra: Record<string, unknown> = {}): Promise<string> {
    const modelId = uid('m').replace(/[^A-Za-z0-9]/g, '');
    await store.putBuffer(layout.model(modelId, 'model.onnx'), Buffer.from('not read by the checks'));
    await store.putJson(layout.model(modelId, 'card.json'), {
      modelId, name: 'har_x', kind: 'har_x', target, series, featureSetId: 'fs', featureDefinitionsSha: definitionsSha(), featureUniverse: ['x'],
      spec: { name: 'har_x', kind: 'har_x', params: { lags: [1, 6] } }, params: { lags: [1, 6], ridge: 0 }, train: { startTs: 0, endTs: 1000 },
      regime: { q1: 0.1, q2: 0.2, n: 30 }, parity: { passed: true }, ...extra,
    });
    return modelId;
  }
  const promote = async (modelId: string, s = series, t = target) =>
    promoteByHand(store, { modelId, series: s, target: t, definitionsSha: definitionsSha(), reason: 'test', decidedAt: new Date().toISOString() });

  it('refuses a card of another series, another target, other feature definitions, without parity or without a series', async () => {
    await assert.rejects(promote(await model({ series: { ...series, symbol: 'ETH/USDT' } })), /was fitted for .* ETH\/USDT 1h, not .* BTC\/USDT 1h/);
    await assert.rejects(promote(await model({ target: 'target_rv_24h' })), /predicts target_rv_24h, not target_gk_1h/);
    await assert.rejects(promote(await model({ featureDefinitionsSha: 'f'.repeat(64) })), /was built on other feature definitions \(ffffffffffff, now/);
    await assert.rejects(promote(await model({ parity: { passed: false } })), /has not passed ONNX parity \(failed\)/);
    await assert.rejects(promote(await model({ series: undefined })), /has no series in its card .* refit it/);
    await assert.rejects(promote('m-nope'), /no model m-nope in s3:\/\//);
    assert.equal(await readChampion(store, series, target), null, 'nothing written');
  });

  it('refuses an ensemble with a member of another series', async () => {
    const ok = await model();
    const other = await model({ series: { ...series, symbol: 'ETH/USDT' } });
    const ens = uid('e').replace(/[^A-Za-z0-9]/g, '');
    const member = async (id: string) => ({ name: 'har_x', modelId: id, modelRef: (await store.head(layout.model(id, 'model.onnx')))!, cardRef: (await store.head(layout.model(id, 'card.json')))!, weight: 0.5 });
    await store.putJson(layout.model(ens, 'card.json'), { modelId: ens, name: 'ens', kind: 'ensemble', method: 'equal', target, series, featureSetId: 'fs', fold: null, combine: 'variance', members: [await member(ok), await member(other)], weightsFitOn: null, parity: { passed: true, reason: null } });
    await assert.rejects(promote(ens), /member har_x \(.*\) of model .* \(ens\) was fitted for .* ETH\/USDT/);
  });

  it('a good card becomes the champion with its spec (as the run named it) and its training end', async () => {
    const id = await model();
    const r = await promote(id);
    assert.deepEqual(r.spec, { name: 'har_x', kind: 'har_x', params: { lags: [1, 6] } });
    assert.equal(r.trainEndTs, 1000);
    assert.deepEqual(r.regimeThresholds, { q1: 0.1, q2: 0.2 });
    assert.equal((await readChampion(store, series, target))!.modelId, id);
  });

  it('the CLI says why it refuses, with a non-zero exit', async () => {
    const bad = await model({ target: 'target_rv_24h' });
    const env = { ...process.env, VOLCAST_STATE_DIR: testConfig().stateDir };
    const r = spawnSync(process.execPath, [join(repoRoot, 'cli', 'volcast.js'), 'models', 'promote', bad, '--symbol', 'BTC/USDT', '--exchange', series.exchange, '--target', target], { env, encoding: 'utf8', cwd: repoRoot });
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /predicts target_rv_24h, not target_gk_1h/);
  });
});
