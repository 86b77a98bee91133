/**
 * The artifact store every stage uses: objects in MinIO (S3 API) addressed by {bucket, key, sha256}.
 * Reads verify the sha256 and are cached locally by content hash, so a worker on any machine
 * downloads each object once. Large objects stream from and to disk.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Client } from 'minio';
import { requireCredentials, type VolcastConfig } from './config';
import { IntegrityError, MissingObjectError } from './errors';
import type { ObjectRef } from '../../contracts/activities';

export { IntegrityError, MissingObjectError };

export type { ObjectRef };


export function sha256Of(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

function isNotFound(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'NoSuchKey' || code === 'NotFound' || code === 'NoSuchBucket';
}

export class ArtifactStore {
  readonly client: Client;
  readonly bucket: string;
  readonly cacheDir: string;

  constructor(cfg: VolcastConfig, opts: { cacheDir?: string } = {}) {
    const { accessKey, secretKey } = requireCredentials(cfg);
    this.client = new Client({
      endPoint: cfg.minio.endPoint,
      port: cfg.minio.port,
      useSSL: cfg.minio.useSSL,
      region: cfg.minio.region,
      accessKey,
      secretKey,
    });
    this.bucket = cfg.minio.bucket;
    this.cacheDir = opts.cacheDir ?? join(cfg.stateDir, 'cache', 'objects');
  }

  /** Creates the bucket if missing (idempotent). */
  async ensureBucket(region?: string): Promise<void> {
    if (!(await this.client.bucketExists(this.bucket))) {
      try {
        await this.client.makeBucket(this.bucket, region);
      } catch (err) {
        // Another process may have created it between the check and the call.
        if ((err as { code?: string }).code !== 'BucketAlreadyOwnedByYou') throw err;
      }
    }
  }

  private cachePath(sha256: string): string {
    return join(this.cacheDir, sha256.slice(0, 2), sha256);
  }

  async putBuffer(key: string, data: Buffer | string, contentType = 'application/octet-stream'): Promise<ObjectRef> {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    const sha256 = sha256Of(buf);
    await this.client.putObject(this.bucket, key, buf, buf.length, { 'Content-Type': contentType, 'x-amz-meta-sha256': sha256 });
    await this.remember(sha256, buf);
    return { bucket: this.bucket, key, sha256, size: buf.length };
  }

  async putJson(key: string, value: unknown): Promise<ObjectRef> {
    return this.putBuffer(key, `${JSON.stringify(value, null, 2)}\n`, 'application/json');
  }

  /** Streams a local file up; hashes it first so the reference is known before the upload. */
  async putFile(key: string, path: string, contentType = 'application/octet-stream'): Promise<ObjectRef> {
    const sha256 = await sha256OfFile(path);
    const { size } = await stat(path);
    await this.client.fPutObject(this.bucket, key, path, { 'Content-Type': contentType, 'x-amz-meta-sha256': sha256 });
    return { bucket: this.bucket, key, sha256, size };
  }

  /** The reference of what is stored now under `key`, or null if nothing is. */
  async head(key: string): Promise<ObjectRef | null> {
    try {
      const st = await this.client.statObject(this.bucket, key);
      const meta = st.metaData as Record<string, string>;
      const sha256 = meta['sha256'] ?? meta['x-amz-meta-sha256'];
      if (!sha256) return null;
      return { bucket: this.bucket, key, sha256, size: st.size };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  private async remember(sha256: string, buf: Buffer): Promise<void> {
    const path = this.cachePath(sha256);
    await mkdir(join(path, '..'), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    await writeFile(tmp, buf);
    await rename(tmp, path);
  }

  /**
   * A local file holding exactly the referenced bytes: from the cache when present, else downloaded
   * (streamed to disk), verified and cached. Throws IntegrityError when the bytes do not match.
   */
  async getFile(ref: ObjectRef): Promise<string> {
    const path = this.cachePath(ref.sha256);
    try {
      await stat(path);
      return path;
    } catch {
      /* not cached */
    }
    await mkdir(join(path, '..'), { recursive: true });
    const tmp = `${path}.${process.pid}.${Date.now()}.download`;
    try {
      const stream = await this.client.getObject(ref.bucket, ref.key);
      await pipeline(stream, createWriteStream(tmp));
    } catch (err) {
      await rm(tmp, { force: true });
      if (isNotFound(err)) throw new MissingObjectError(ref.bucket, ref.key);
      throw err;
    }
    const actual = await sha256OfFile(tmp);
    if (actual !== ref.sha256) {
      await rm(tmp, { force: true });
      throw new IntegrityError(ref, actual);
    }
    await rename(tmp, path);
    return path;
  }

  async getBuffer(ref: ObjectRef): Promise<Buffer> {
    return readFile(await this.getFile(ref));
  }

  async getJson<T>(ref: ObjectRef): Promise<T> {
    return JSON.parse((await this.getBuffer(ref)).toString('utf8')) as T;
  }

  /** Reads whatever is stored under key now (no reference yet, e.g. a manifest); null if absent. */
  async readLatest(key: string): Promise<{ ref: ObjectRef; data: Buffer } | null> {
    let data: Buffer;
    try {
      const stream = await this.client.getObject(this.bucket, key);
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      data = Buffer.concat(chunks);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
    return { ref: { bucket: this.bucket, key, sha256: sha256Of(data), size: data.length }, data };
  }

  async list(prefix: string): Promise<{ key: string; size: number }[]> {
    const out: { key: string; size: number }[] = [];
    const stream = this.client.listObjectsV2(this.bucket, prefix, true);
    for await (const item of stream as AsyncIterable<{ name?: string; size: number }>) {
      if (item.name) out.push({ key: item.name, size: item.size });
    }
    return out.sort((a, b) => a.key.localeCompare(b.key));
  }

  async remove(key: string): Promise<void> {
    await this.client.removeObject(this.bucket, key);
  }
}
