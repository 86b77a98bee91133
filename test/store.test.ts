import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { ArtifactStore, IntegrityError, MissingObjectError, sha256Of } from '../lib/platform/store';
import { layout } from '../lib/platform/layout';
import { testConfig, uid } from './helpers';

describe('artifact store (real MinIO)', () => {
  let store: ArtifactStore;
  before(async () => {
    store = new ArtifactStore(testConfig(), { cacheDir: mkdtempSync(join(tmpdir(), 'volcast-cache-')) });
    await store.ensureBucket();
  });

  it('puts and gets by reference, verifying the sha256', async () => {
    const key = layout.probe(uid('store'), 'a.json');
    const ref = await store.putJson(key, { hello: 'world' });
    assert.equal(ref.key, key);
    assert.equal(ref.sha256, sha256Of(`${JSON.stringify({ hello: 'world' }, null, 2)}\n`));
    assert.deepEqual(await store.getJson(ref), { hello: 'world' });
    assert.deepEqual(await store.head(key), { bucket: ref.bucket, key, sha256: ref.sha256, size: ref.size });
  });

  it('streams a large file up and down and caches it by content hash', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'volcast-big-'));
    const src = join(dir, 'big.bin');
    const data = randomBytes(24 * 1024 * 1024);
    writeFileSync(src, data);
    const fresh = new ArtifactStore(testConfig(), { cacheDir: join(dir, 'cache') });
    const ref = await fresh.putFile(layout.probe(uid('store'), 'big.bin'), src);
    assert.equal(ref.size, data.length);
    const path = await fresh.getFile(ref);
    assert.ok(path.startsWith(join(dir, 'cache')));
    assert.ok(readFileSync(path).equals(data));
    // A second read is served from the cache: removing the object does not matter any more.
    await fresh.remove(ref.key);
    assert.equal(await fresh.getFile(ref), path);
  });

  it('a corrupted object fails with IntegrityError naming both hashes, and is not cached', async () => {
    const key = layout.probe(uid('store'), 'c.bin');
    const cold = new ArtifactStore(testConfig(), { cacheDir: mkdtempSync(join(tmpdir(), 'volcast-cold-')) });
    const ref = await cold.putBuffer(key, Buffer.from('original bytes'));
    // Overwrite behind the store's back, then read through a store whose cache is empty.
    await cold.client.putObject(cold.bucket, key, Buffer.from('tampered bytes'));
    const reader = new ArtifactStore(testConfig(), { cacheDir: mkdtempSync(join(tmpdir(), 'volcast-cold-')) });
    await assert.rejects(reader.getBuffer(ref), (err: unknown) => {
      assert.ok(err instanceof IntegrityError);
      assert.match(err.message, new RegExp(ref.sha256));
      assert.match(err.message, new RegExp(sha256Of('tampered bytes')));
      return true;
    });
    await assert.rejects(reader.getBuffer(ref), IntegrityError);
  });

  it('a missing object fails with MissingObjectError', async () => {
    const ref = { bucket: store.bucket, key: layout.probe(uid('store'), 'none.bin'), sha256: sha256Of('x') };
    await assert.rejects(store.getBuffer(ref), MissingObjectError);
    assert.equal(await store.head(ref.key), null);
    assert.equal(await store.readLatest(ref.key), null);
  });

  it('lists objects under a prefix', async () => {
    const runId = uid('list');
    await store.putBuffer(layout.probe(runId, 'b.txt'), 'b');
    await store.putBuffer(layout.probe(runId, 'a.txt'), 'a');
    const keys = (await store.list(`probes/${runId}/`)).map((o) => o.key);
    assert.deepEqual(keys, [layout.probe(runId, 'a.txt'), layout.probe(runId, 'b.txt')]);
  });
});
