/**
 * ONNX scoring and parity with real models (test/fixtures/make_models.py: onnx.helper graphs and a
 * torch LSTM exported with torch.onnx) stored in the real MinIO, scored by onnxruntime-node.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { parseCard } from '../lib/scoring/modelCard';
import { checkParity, ModelInputError, PARITY_TOLERANCE, scoreModel } from '../lib/scoring';
import { readCard, writeParity } from '../lib/scoring/cards';
import { ArtifactStore, IntegrityError, sha256Of } from '../lib/platform/store';
import { fixtureModels, uploadFixtures, type FixtureManifest, type UploadedModel } from './fixtures/models';
import { testConfig, uid } from './helpers';

describe('ONNX scoring and parity (real MinIO, onnxruntime-node)', () => {
  let store: ArtifactStore;
  let fx: FixtureManifest;
  let models: UploadedModel[];
  let featuresPath: string;

  before(async () => {
    fx = fixtureModels();
    store = new ArtifactStore(testConfig(), { cacheDir: mkdtempSync(join(tmpdir(), 'volcast-score-')) });
    await store.ensureBucket();
    const up = await uploadFixtures(store, fx, uid('score'), 'fs-score');
    models = up.models;
    featuresPath = await store.getFile(up.featuresRef);
  });

  async function score(m: UploadedModel, batchSize?: number) {
    const { card } = await readCard(store, m.cardRef);
    const window = fx.folds[m.fold]!.test;
    const modelPath = await store.getFile(m.modelRef);
    return { card, window, scored: await scoreModel({ modelPath, modelSha256: m.modelRef.sha256, card, featuresPath, window, batchSize }) };
  }

  it('every fixture model (tabular, with sigma, sequence LSTM) matches the Python trainer within 1e-5', async () => {
    for (const m of models) {
      const { card, window, scored } = await score(m);
      const p = checkParity(scored, card, window, m.cardRef.sha256);
      assert.equal(p.passed, true, `${m.name} fold ${m.fold}: ${p.reason}`);
      assert.ok(p.maxRelError! <= PARITY_TOLERANCE);
      assert.equal(p.compared, card.trainerPredictions.ts.length);
      assert.ok(p.compared > 100);
      assert.equal(scored.sigma !== null, m.name === 'log_har');
    }
  });

  it('applies the scorable-row rule: a null feature, a gap, and the window of a sequence', async () => {
    const persist = models.find((m) => m.name === 'persistence' && m.fold === 0)!;
    const { scored, window } = await score(persist);
    const nullTs = Date.UTC(2024, 0, 1) + 800 * 3_600_000; // gk_var_1 is NaN there
    assert.ok(!scored.ts.includes(nullTs));
    assert.equal(scored.ts.length, (window.endTs - window.startTs) / 3_600_000 - 1);
    // The LSTM (W = 12) loses the null row and the 11 rows after it in fold 0.
    const lstm0 = await score(models.find((m) => m.name === 'lstm' && m.fold === 0)!);
    assert.equal(lstm0.scored.ts.length, scored.ts.length + 1 - 12);
    // In fold 1 the 3-bar gap only removes rows (no window spans missing rows; file order is used).
    const lstm1 = await score(models.find((m) => m.name === 'lstm' && m.fold === 1)!);
    assert.equal(lstm1.scored.ts.length, (lstm1.window.endTs - lstm1.window.startTs) / 3_600_000 - 3);
  });

  it('batching does not change the predictions', async () => {
    const lstm = models.find((m) => m.name === 'lstm' && m.fold === 1)!;
    const a = await score(lstm);
    const b = await score(lstm, 7);
    assert.deepEqual(b.scored.vol, a.scored.vol);
  });

  it('a card whose trainer predictions differ fails parity, with the reason', async () => {
    const m = models.find((x) => x.name === 'har_rv' && x.fold === 1)!;
    const { card, window, scored } = await score(m);
    const tampered = parseCard({ ...card, trainerPredictions: { ...card.trainerPredictions, vol: card.trainerPredictions.vol.map((v, i) => (i === 5 ? v * 1.001 : v)) } }, 'test');
    const p = checkParity(scored, tampered, window, m.cardRef.sha256);
    assert.equal(p.passed, false);
    assert.ok(p.maxRelError! > 9e-4 && p.maxRelError! < 1.1e-3);
    assert.match(p.reason!, /max relative error/);
    const dropped = parseCard({ ...card, trainerPredictions: { ts: card.trainerPredictions.ts.slice(1), vol: card.trainerPredictions.vol.slice(1) } }, 'test');
    const q = checkParity(scored, dropped, window, m.cardRef.sha256);
    assert.equal(q.passed, false);
    assert.equal(q.onlyOnnx, 1);
  });

  it('a corrupt model.onnx in MinIO fails with IntegrityError before anything runs', async () => {
    const m = models.find((x) => x.name === 'log_har' && x.fold === 0)!;
    const bytes = readFileSync(m.onnx);
    bytes[bytes.length - 5] = bytes[bytes.length - 5]! ^ 0xff;
    await store.client.putObject(store.bucket, m.modelRef.key, bytes);
    const cold = new ArtifactStore(testConfig(), { cacheDir: mkdtempSync(join(tmpdir(), 'volcast-cold-')) });
    await assert.rejects(cold.getFile(m.modelRef), IntegrityError);
  });

  it('parity is written back into card.json keeping every field, and the rewritten card is still readable by its original ref', async () => {
    const m = models.find((x) => x.name === 'lstm' && x.fold === 0)!;
    const { card, window, scored } = await score(m);
    const parity = checkParity(scored, card, window, m.cardRef.sha256);
    const ref = await writeParity(store, m.cardRef, card, parity);
    assert.notEqual(ref.sha256, m.cardRef.sha256);
    const stored = JSON.parse((await store.getBuffer(ref)).toString());
    const original = JSON.parse(readFileSync(m.card, 'utf8'));
    assert.deepEqual({ ...stored, parity: null }, original);
    assert.equal(stored.parity.passed, true);
    const again = await readCard(store, m.cardRef);
    assert.equal(again.sourceSha256, m.cardRef.sha256);
    assert.deepEqual((await writeParity(store, m.cardRef, again.card, parity)).sha256, ref.sha256);
    // Any other change under the key is corruption.
    await store.client.putObject(store.bucket, m.cardRef.key, Buffer.from(JSON.stringify({ ...original, name: 'x' })));
    await assert.rejects(readCard(store, m.cardRef), IntegrityError);
    assert.equal(sha256Of(readFileSync(m.card)), m.cardRef.sha256);
  });

  it('a feature set without a model column is a clear permanent error', async () => {
    const m = models.find((x) => x.name === 'har_rv' && x.fold === 0)!;
    const { card, window } = await score(m);
    const bad = parseCard({ ...card, input: { ...card.input, columns: ['rv_d', 'nope'] } }, 'test');
    await assert.rejects(
      scoreModel({ modelPath: await store.getFile(m.modelRef), modelSha256: m.modelRef.sha256, card: bad, featuresPath, window }),
      (e: unknown) => e instanceof ModelInputError && /nope/.test(e.message) && e.name === 'ModelInputError',
    );
  });
});
