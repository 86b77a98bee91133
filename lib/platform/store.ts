/**
 * The artifact store every stage uses: objects in MinIO (S3 API) addressed by {bucket, key, sha256}.
 * Reads verify the sha256 and are cached locally by content hash, so a worker on any machine
 * downloads each object once. Large objects stream from and to disk.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Client } from 'minio';
import { requireCredentials, type VolcastConfig } from './config';
import { IntegrityError, MissingObjectError, WriteConflictError } from './errors';
import type { ObjectRef } from '../../contracts/activities';

export { IntegrityError, MissingObjectError, WriteConflictError };

export type { ObjectRef };

/** One object of a listing. */
export interface ListedObject {
  key: string;
  size: number;
  /** When it was last written (ms since the epoch, the store's clock). */
  lastModified: number;
}

/** What a key holds now, read in one GET: the bytes, their reference and the ETag a conditional put names. */
export interface CurrentObject {
  ref: ObjectRef;
  data: Buffer;
  etag: string;
}

/** The precondition of a conditional put: replace exactly the version read (If-Match), or create only (If-None-Match: *). */
export type PutCondition = { ifMatch: string } | { ifNoneMatch: '*' };

/** Condition that a put replaces `current` (or creates the key when nothing was there). */
export function conditionOn(current: { etag: string } | null): PutCondition {
  return current ? { ifMatch: current.etag } : { ifNoneMatch: '*' };
}

/** An S3 answer saying a precondition did not hold: 412, S3's 409 for a concurrent conditional write, or the key gone under If-Match. */
function isConflict(err: unknown, cond: PutCondition): boolean {
  const e = err as { code?: string; statusCode?: number };
  if (e.code === 'PreconditionFailed' || e.code === 'ConditionalRequestConflict' || e.statusCode === 412) return true;
  return 'ifMatch' in cond && isNotFound(err);
}

const unquote = (etag: string) => etag.replace(/^"|"$/g, '');

/** The most bytes a conditional put sends: minio-js's default part size, below which a put is a single PUT. */
const CONDITIONAL_PUT_MAX = 64 * 1024 * 1024;


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

/** Jittered, growing pause before a writer that lost a conditional put re-reads (10 ms … ~1 s). */
function backoff(attempt: number): Promise<void> {
  const ms = Math.min(1000, 10 * 2 ** Math.min(attempt, 7)) * (0.5 + Math.random());
  return new Promise((r) => setTimeout(r, ms));
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

  /**
   * A conditional put (one PUT request, so the condition and the write are one atomic step in S3):
   * `{ ifMatch: etag }` replaces exactly the version read, `{ ifNoneMatch: '*' }` creates the key only
   * if nothing is there. Returns null when the condition did not hold (another writer got there
   * first): the caller re-reads and decides again. Nothing is written then.
   */
  async putBufferIf(key: string, data: Buffer | string, cond: PutCondition, contentType = 'application/octet-stream'): Promise<{ ref: ObjectRef; etag: string } | null> {
    const buf = typeof data === 'string' ? Buffer.from(data) : data;
    // minio-js sends up to one part size (64 MiB by default) as one PUT, which carries the
    // precondition; a multipart upload would not. Every conditional object here is far smaller.
    if (buf.length > CONDITIONAL_PUT_MAX) throw new Error(`conditional put of ${key}: ${buf.length} bytes is more than one PUT carries (${CONDITIONAL_PUT_MAX})`);
    const sha256 = sha256Of(buf);
    const headers: Record<string, string> = { 'Content-Type': contentType, 'x-amz-meta-sha256': sha256 };
    if ('ifMatch' in cond) headers['If-Match'] = cond.ifMatch;
    else headers['If-None-Match'] = '*';
    let etag: string;
    try {
      ({ etag } = await this.client.putObject(this.bucket, key, buf, buf.length, headers));
    } catch (err) {
      if (isConflict(err, cond)) return null;
      throw err;
    }
    await this.remember(sha256, buf);
    return { ref: { bucket: this.bucket, key, sha256, size: buf.length }, etag: unquote(etag) };
  }

  /**
   * Read-modify-write of one object, safe with any number of concurrent writers: reads the current
   * version, lets `change` compute the new bytes from it (null: nothing to write), and puts them only
   * if the object is still the version read; when another writer got there first it re-reads and
   * calls `change` again, up to `attempts` times (jittered backoff), then throws WriteConflictError
   * (retryable). `change` must derive everything from what it is given: it may run several times.
   */
  async updateObject<T>(
    key: string,
    change: (current: CurrentObject | null, attempt: number) => Promise<{ body: Buffer | string | null; contentType?: string; result: T }>,
    opts: { attempts?: number } = {},
  ): Promise<{ result: T; ref: ObjectRef | null; written: boolean; attempts: number }> {
    const attempts = opts.attempts ?? 12;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const current = await this.readLatest(key);
      const { body, contentType, result } = await change(current, attempt);
      if (body === null) return { result, ref: current?.ref ?? null, written: false, attempts: attempt };
      const buf = typeof body === 'string' ? Buffer.from(body) : body;
      if (current && current.ref.sha256 === sha256Of(buf)) return { result, ref: current.ref, written: false, attempts: attempt };
      const put = await this.putBufferIf(key, buf, conditionOn(current), contentType ?? 'application/octet-stream');
      if (put) return { result, ref: put.ref, written: true, attempts: attempt };
      await backoff(attempt);
    }
    throw new WriteConflictError(`s3://${this.bucket}/${key}`, attempts);
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
    const tmp = `${path}.${process.pid}.${randomUUID()}.tmp`; // unique: concurrent writers of one hash in one process
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
    const tmp = `${path}.${process.pid}.${randomUUID()}.download`;
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

  /**
   * Reads whatever is stored under key now (no reference yet, e.g. a manifest); null if absent. One
   * GET: bytes, sha256 and ETag are of the same version even while others write. Bytes that do not
   * match the sha256 they were written with fail with IntegrityError.
   */
  async readLatest(key: string): Promise<CurrentObject | null> {
    let data: Buffer;
    let headers: Record<string, string | string[] | undefined>;
    try {
      const stream = await this.client.getObject(this.bucket, key);
      headers = (stream as unknown as { headers?: Record<string, string | string[] | undefined> }).headers ?? {};
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      data = Buffer.concat(chunks);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
    const ref = { bucket: this.bucket, key, sha256: sha256Of(data), size: data.length };
    const written = headers['x-amz-meta-sha256'];
    if (typeof written === 'string' && written !== ref.sha256) throw new IntegrityError({ ...ref, sha256: written }, ref.sha256);
    const etag = headers['etag'];
    return { ref, data, etag: typeof etag === 'string' ? unquote(etag) : '' };
  }

  /** The current version of `key` as a local, verified file (cached by hash), with its ETag; null if absent. */
  async readLatestFile(key: string): Promise<{ ref: ObjectRef; path: string; etag: string } | null> {
    const got = await this.readLatest(key);
    return got ? { ref: got.ref, path: await this.fileOf(got), etag: got.etag } : null;
  }

  /** A local file holding the bytes of an object read with readLatest (cached by hash). */
  async fileOf(current: CurrentObject): Promise<string> {
    await this.remember(current.ref.sha256, current.data);
    return this.cachePath(current.ref.sha256);
  }

  /** Every object under `prefix`, by key: its size and when it was last written (ms, the server's clock). */
  async list(prefix: string): Promise<ListedObject[]> {
    const out: ListedObject[] = [];
    const stream = this.client.listObjectsV2(this.bucket, prefix, true);
    for await (const item of stream as AsyncIterable<{ name?: string; size: number; lastModified?: Date }>) {
      if (item.name) out.push({ key: item.name, size: item.size, lastModified: item.lastModified ? item.lastModified.getTime() : 0 });
    }
    return out.sort((a, b) => a.key.localeCompare(b.key));
  }

  async remove(key: string): Promise<void> {
    await this.client.removeObject(this.bucket, key);
  }

  /**
   * Deletes the keys (S3 multi-object delete, 1000 a request). A key that does not exist counts as
   * deleted (S3 answers so), which makes a repeated delete idempotent; any other per-key error fails.
   */
  async removeMany(keys: string[]): Promise<void> {
    if (!keys.length) return;
    // minio-js 8 answers with the <Error> elements of the reply only (its type says { Error: … }; both read here).
    type DeleteError = { Code?: string; Message?: string; Key?: string };
    const answers = (await this.client.removeObjects(this.bucket, keys)) as unknown as (DeleteError & { Error?: DeleteError })[];
    const failed = answers
      .map((a) => a?.Error ?? a)
      .filter((e): e is DeleteError => Boolean(e?.Code) && e.Code !== 'NoSuchKey')
      .map((e) => `${e.Key ?? '?'}: ${e.Code} ${e.Message ?? ''}`.trim());
    if (failed.length) throw new Error(`could not delete ${failed.length} of ${keys.length} object(s) from ${this.bucket}: ${failed.slice(0, 5).join('; ')}`);
  }
}
