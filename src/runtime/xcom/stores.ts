/**
 * Object stores for offloaded XComs: the workspace's XCom directory and
 * `file://` directory buckets (LocalDirStore), and `s3://bucket/prefix`
 * through @aws-sdk/client-s3 (S3Store).
 *
 * Paths are relative to the store, organised as
 * `<dag>/<run>/<task>/<map index>/<key>.<unique>.<ext>` with every segment
 * encoded (see encodeSegment), and checked on every access: an absolute path or
 * one climbing out of the store (a tampered database) is refused.
 */
import { Buffer } from 'node:buffer';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, opendir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { S3Location, classifyS3Error, parseS3Url } from '../s3.ts';
import type { S3Api } from '../s3.ts';
import type { XComLocation } from './types.ts';
import { XComError } from './errors.ts';

/** Piece size of overlapped local writes, and of reads (smaller: a read has nothing else to overlap with the hash). */
const STABLE_PIECE = 1 << 20;
const READ_PIECE = 256 << 10;

/** Bytes to store: one buffer, or chunks (streamed, never held whole). */
export type BlobSource = Uint8Array | AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>;

export interface PutResult {
  readonly size: number;
  /** `sha256:<hex>` */
  readonly checksum: string;
}

export interface StoredObject {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
}

export interface PutOptions {
  /**
   * The source never reuses a chunk's memory after yielding it (chunks from encodeChunks, slices of one
   * buffer): a local store may then write one chunk while the next is hashed and produced.
   */
  readonly stableChunks?: boolean;
}

export interface BlobStore {
  /** `xcom-root`, `file:///abs/dir` or `s3://bucket/prefix`: recorded in envelopes. */
  readonly url: string;
  /** Codec name in chains: `file` or `s3`. */
  readonly codec: 'file' | 's3';
  put(loc: XComLocation, path: string, source: BlobSource, opts?: PutOptions): Promise<PutResult>;
  get(loc: XComLocation, path: string): Promise<Buffer>;
  /** A stream of the object's bytes (not verified; see openXComFile for a verifying reader). */
  stream(loc: XComLocation, path: string): Promise<Readable | AsyncIterable<Uint8Array>>;
  /** Removes an object; a missing one is not an error. Returns the bytes freed when known (0 if missing or unknown). */
  delete(path: string): Promise<number>;
  list(): AsyncIterable<StoredObject>;
  close?(): void;
}

const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;

/**
 * Encodes one path segment: keeps A-Z a-z 0-9 _ - and inner dots, percent-encodes
 * everything else (UTF-8), so `/`, `\`, `..`, NUL and leading dots can never
 * reach the file system. Long segments are cut and suffixed with a hash.
 */
export function encodeSegment(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_.-]/.test(c) ? c : '%' + byte.toString(16).toUpperCase().padStart(2, '0');
  }
  if (out === '') out = '%00empty';
  if (out.startsWith('.')) out = '%2E' + out.slice(1);
  if (out.endsWith('.')) out = out.slice(0, -1) + '%2E';
  if (WINDOWS_RESERVED.test(out)) out = '%' + out.charCodeAt(0).toString(16).toUpperCase() + out.slice(1);
  if (out.length > 120) out = out.slice(0, 80).replace(/%[0-9A-F]?$/, '') + '~' + createHash('sha256').update(s).digest('hex').slice(0, 16);
  return out;
}

/** `<dag>/<run>/<task>/<map index>/<key>.<unique>.<ext>`, unique so a re-push never overwrites the value being replaced. */
export function objectPath(loc: XComLocation, ext: string): string {
  const unique = `${Date.now().toString(36)}-${randomBytes(5).toString('hex')}`;
  return [encodeSegment(loc.dagId), encodeSegment(loc.runId), encodeSegment(loc.taskId), String(loc.mapIndex), `${encodeSegment(loc.key)}.${unique}.${ext}`].join('/');
}

/** Refuses absolute paths, `..`, empty segments, backslashes and NUL: a reference must stay inside its store. */
export function assertSafeRelative(loc: XComLocation | undefined, p: string): void {
  const bad =
    typeof p !== 'string' ||
    p === '' ||
    p.includes('\0') ||
    p.includes('\\') ||
    p.startsWith('/') ||
    isAbsolute(p) ||
    /^[A-Za-z]:/.test(p) ||
    p.split('/').some((s) => s === '' || s === '.' || s === '..');
  if (bad) throw new XComError('unsafe-path', loc, `refers to ${JSON.stringify(p)}, outside the XCom store (absolute or climbing path refused; tampered database?)`);
}

function hashOf(h: ReturnType<typeof createHash>): string {
  return 'sha256:' + h.digest('hex');
}

/** The source's bytes as chunks; with `piece`, chunks larger than it are cut into pieces (views, no copy). */
async function* chunksOf(source: BlobSource, piece?: number): AsyncIterable<Uint8Array> {
  const cut = function* (c: Uint8Array): Generator<Uint8Array> {
    if (piece === undefined || c.byteLength <= piece) yield c;
    else for (let i = 0; i < c.byteLength; i += piece) yield c.subarray(i, Math.min(c.byteLength, i + piece));
  };
  if (source instanceof Uint8Array) {
    yield* cut(source);
    return;
  }
  for await (const c of source as AsyncIterable<Uint8Array | string>) yield* cut(typeof c === 'string' ? Buffer.from(c, 'utf8') : c);
}

/** A directory of objects: the workspace's XCom root, or a `file://` bucket. */
export class LocalDirStore implements BlobStore {
  readonly url: string;
  readonly codec = 'file' as const;
  readonly root: string;

  constructor(root: string, url = 'xcom-root') {
    this.root = resolve(root);
    this.url = url;
  }

  static fromUrl(url: string): LocalDirStore {
    return new LocalDirStore(fileURLToPath(url), url);
  }

  private abs(loc: XComLocation | undefined, p: string): string {
    assertSafeRelative(loc, p);
    const full = resolve(this.root, ...p.split('/'));
    const r = relative(this.root, full);
    if (r.startsWith('..') || isAbsolute(r)) assertSafeRelative(loc, '..');
    return full;
  }

  async put(loc: XComLocation, path: string, source: BlobSource, opts: PutOptions = {}): Promise<PutResult> {
    const full = this.abs(loc, path);
    const dir = full.slice(0, full.lastIndexOf(sep));
    const tmp = `${full}.tmp-${randomBytes(4).toString('hex')}`;
    const h = createHash('sha256');
    let size = 0;
    let fh;
    try {
      await mkdirWhy(dir);
      fh = await open(tmp, 'wx', 0o600);
    } catch (err) {
      // A full disk, a read-only folder: the message names the file (node's error has its path).
      throw new XComError('unavailable', loc, `could not be written to ${this.url === 'xcom-root' ? 'the XCom directory' : this.url} (${(err as Error).message})`, { cause: err });
    }
    const writeAll = async (chunk: Uint8Array): Promise<void> => {
      let off = 0;
      while (off < chunk.byteLength) {
        const { bytesWritten } = await fh.write(chunk, off, chunk.byteLength - off);
        off += bytesWritten;
      }
    };
    let writing: Promise<void> | null = null;
    try {
      for await (const chunk of chunksOf(source, opts.stableChunks ? STABLE_PIECE : undefined)) {
        if (opts.stableChunks) {
          // One write in flight (thread pool) while this chunk is hashed and the next produced (main thread).
          if (writing) await writing;
          writing = writeAll(chunk);
          writing.catch(() => undefined);
          h.update(chunk);
          size += chunk.byteLength;
        } else {
          h.update(chunk);
          size += chunk.byteLength;
          await writeAll(chunk);
        }
      }
      if (writing) await writing;
      await fh.sync();
      await fh.close();
      await rename(tmp, full);
    } catch (err) {
      if (writing) await writing.catch(() => {});
      await fh.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      throw new XComError('unavailable', loc, `could not be written to ${this.url === 'xcom-root' ? 'the XCom directory' : this.url} (${(err as Error).message})`, { cause: err });
    }
    // Persist the rename itself (best effort: not every platform can fsync a directory).
    try {
      const d = await open(dir, 'r');
      await d.sync().finally(() => d.close());
    } catch {
      /* ignore */
    }
    return { size, checksum: hashOf(h) };
  }

  async get(loc: XComLocation, path: string): Promise<Buffer> {
    const full = this.abs(loc, path);
    try {
      return await readFile(full);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new XComError('missing', loc, `its file ${path} is missing from ${this.describe()}`);
      throw new XComError('unavailable', loc, `its file ${path} cannot be read (${(err as Error).message})`);
    }
  }

  /**
   * The whole file and its SHA-256, read in pieces into one buffer with the next piece's read (thread
   * pool) in flight while the last one is hashed (main thread): about the cost of the slower of the two,
   * not of both.
   */
  async getHashed(loc: XComLocation, path: string): Promise<{ bytes: Buffer; checksum: string }> {
    const full = this.abs(loc, path);
    let fh;
    try {
      fh = await open(full, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new XComError('missing', loc, `its file ${path} is missing from ${this.describe()}`);
      throw new XComError('unavailable', loc, `its file ${path} cannot be read (${(err as Error).message})`);
    }
    try {
      const size = (await fh.stat()).size;
      const bytes = Buffer.allocUnsafe(size);
      const h = createHash('sha256');
      const readAt = async (pos: number): Promise<number> => {
        const want = Math.min(READ_PIECE, size - pos);
        let got = 0;
        while (got < want) {
          const { bytesRead } = await fh.read(bytes, pos + got, want - got, pos + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        return got;
      };
      let pos = 0;
      let next = size > 0 ? readAt(0) : Promise.resolve(0);
      while (pos < size) {
        const n = await next;
        if (n === 0) break; // the file shrank while read: the caller's size check says so
        const start = pos;
        pos += n;
        next = pos < size ? readAt(pos) : Promise.resolve(0);
        next.catch(() => undefined);
        h.update(bytes.subarray(start, pos));
      }
      return { bytes: pos === size ? bytes : bytes.subarray(0, pos), checksum: hashOf(h) };
    } catch (err) {
      if (err instanceof XComError) throw err;
      throw new XComError('unavailable', loc, `its file ${path} cannot be read (${(err as Error).message})`);
    } finally {
      await fh.close().catch(() => {});
    }
  }

  async stream(loc: XComLocation, path: string): Promise<Readable> {
    const full = this.abs(loc, path);
    try {
      await stat(full);
    } catch {
      throw new XComError('missing', loc, `its file ${path} is missing from ${this.describe()}`);
    }
    return createReadStream(full);
  }

  /**
   * The object's bytes in chunks read into one reused buffer: each chunk is valid
   * only until the next is asked for (for readers that consume it at once).
   */
  async *readReusing(loc: XComLocation, path: string, bufferSize = 1 << 20): AsyncIterable<Uint8Array> {
    const full = this.abs(loc, path);
    let fh;
    try {
      fh = await open(full, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new XComError('missing', loc, `its file ${path} is missing from ${this.describe()}`);
      throw new XComError('unavailable', loc, `its file ${path} cannot be read (${(err as Error).message})`);
    }
    try {
      const buf = Buffer.allocUnsafe(bufferSize);
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.byteLength, null);
        if (bytesRead === 0) return;
        yield buf.subarray(0, bytesRead);
      }
    } finally {
      await fh.close();
    }
  }

  async delete(path: string): Promise<number> {
    const full = this.abs(undefined, path);
    let size: number;
    try {
      size = (await stat(full)).size;
      await unlink(full);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
    // Remove directories left empty, up to the root.
    let dir = full.slice(0, full.lastIndexOf(sep));
    while (dir.length > this.root.length && dir.startsWith(this.root + sep)) {
      try {
        await rm(dir, { recursive: false });
      } catch {
        break;
      }
      dir = dir.slice(0, dir.lastIndexOf(sep));
    }
    return size;
  }

  async *list(): AsyncIterable<StoredObject> {
    const walk = async function* (root: string, dir: string): AsyncIterable<StoredObject> {
      let d;
      try {
        d = await opendir(dir);
      } catch {
        return;
      }
      for await (const e of d) {
        const full = join(dir, e.name);
        if (e.isDirectory()) yield* walk(root, full);
        else if (e.isFile()) {
          const s = await stat(full).catch(() => undefined);
          if (s) yield { path: relative(root, full).split(sep).join('/'), size: s.size, mtimeMs: s.mtimeMs };
        }
      }
    };
    yield* walk(this.root, this.root);
  }

  describe(): string {
    return this.url === 'xcom-root' ? `the XCom directory ${this.root}` : this.url;
  }
}

export interface S3StoreOptions {
  /** `s3://bucket/optional/prefix` */
  readonly url: string;
  /** Endpoint of an S3-compatible server, e.g. http://127.0.0.1:4568. */
  readonly endpoint?: string;
  readonly region?: string;
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string };
  /** Path-style addressing (needed by most S3-compatible servers); default true when an endpoint is given. */
  readonly forcePathStyle?: boolean;
  /** Bound on one request, connection included (default 30 s); the error names the endpoint. */
  readonly timeoutMs?: number;
  /** Connection timeout (default 5 s). */
  readonly connectTimeoutMs?: number;
  /** Values above this use multipart upload (default 16 MiB). */
  readonly multipartThreshold?: number;
  /** Multipart part size (default 8 MiB, at least 5 MiB as S3 requires). */
  readonly partSize?: number;
  /** Attempts per request (default 2). */
  readonly maxAttempts?: number;
}

/** An `s3://bucket/prefix` store. */
export class S3Store implements BlobStore {
  readonly url: string;
  readonly codec = 's3' as const;
  readonly bucket: string;
  readonly prefix: string;
  private readonly s3: S3Location;
  private readonly opts: S3StoreOptions;

  constructor(opts: S3StoreOptions) {
    const parsed = parseS3Url(opts.url);
    if (!parsed) throw new XComError('config', undefined, `XCom object store URL ${JSON.stringify(opts.url)} is not s3://bucket[/prefix]`);
    this.bucket = parsed.bucket;
    this.prefix = parsed.prefix;
    this.url = parsed.url;
    this.opts = opts;
    this.s3 = new S3Location(() => ({
      endpoint: opts.endpoint,
      region: opts.region,
      credentials: opts.credentials,
      forcePathStyle: opts.forcePathStyle,
      maxAttempts: opts.maxAttempts ?? 2,
      timeoutMs: opts.timeoutMs ?? 30_000,
      connectTimeoutMs: opts.connectTimeoutMs,
    }));
  }

  close(): void {
    this.s3.close();
  }

  private key(loc: XComLocation | undefined, p: string): string {
    assertSafeRelative(loc, p);
    return this.prefix ? `${this.prefix}/${p}` : p;
  }

  private where(): string {
    return `${this.url}${this.opts.endpoint ? ` at ${this.opts.endpoint}` : ''}`;
  }

  /** Runs one S3 call with an overall deadline, turning network failures into clear errors. */
  private async call<T>(loc: XComLocation | undefined, what: string, fn: (signal: AbortSignal, s3: S3Api) => Promise<T>): Promise<T> {
    const budget = (this.opts.timeoutMs ?? 30_000) * (this.opts.maxAttempts ?? 2) + 1000;
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), budget);
    try {
      return await fn(ac.signal, await this.s3.api());
    } catch (err) {
      if (err instanceof XComError) throw err;
      const f = classifyS3Error(err, ac.signal.aborted);
      if (f.kind === 'missing') throw new XComError('missing', loc, `its object is missing from ${this.where()} (${what})`);
      if (f.kind === 'unreachable') {
        throw new XComError(
          'unavailable',
          loc,
          `S3 endpoint ${this.where()} unreachable during ${what} (${ac.signal.aborted ? `no answer within ${budget} ms` : f.reason})`,
        );
      }
      throw new XComError('unavailable', loc, `S3 ${what} on ${this.where()} failed: ${f.reason}`);
    } finally {
      clearTimeout(timer);
    }
  }

  async put(loc: XComLocation, path: string, source: BlobSource): Promise<PutResult> {
    const Key = this.key(loc, path);
    const threshold = this.opts.multipartThreshold ?? 16 << 20;
    const partSize = Math.max(5 << 20, this.opts.partSize ?? 8 << 20);
    const h = createHash('sha256');
    if (source instanceof Uint8Array && source.byteLength <= threshold) {
      h.update(source);
      await this.call(loc, 'upload', (abortSignal, s3) =>
        s3.client.send(new s3.S.PutObjectCommand({ Bucket: this.bucket, Key, Body: source, ContentLength: source.byteLength }), { abortSignal }),
      );
      return { size: source.byteLength, checksum: hashOf(h) };
    }
    // Multipart: parts of partSize, at most two uploads in flight.
    let uploadId: string | undefined;
    const parts: { ETag: string; PartNumber: number }[] = [];
    let size = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const inflight = new Set<Promise<void>>();
    let nextPart = 1;
    let firstError: unknown;
    const send = async (body: Buffer, PartNumber: number): Promise<void> => {
      const r = await this.call(loc, `upload of part ${PartNumber}`, (abortSignal, s3) =>
        s3.client.send(new s3.S.UploadPartCommand({ Bucket: this.bucket, Key, UploadId: uploadId, PartNumber, Body: body, ContentLength: body.byteLength }), { abortSignal }),
      );
      parts.push({ ETag: r.ETag!, PartNumber });
    };
    const flush = async (final: boolean): Promise<void> => {
      while (pendingBytes >= partSize || (final && pendingBytes > 0)) {
        const all = Buffer.concat(pending, pendingBytes);
        const body = all.subarray(0, Math.min(partSize, all.byteLength));
        const rest = all.subarray(body.byteLength);
        pending = rest.byteLength ? [rest] : [];
        pendingBytes = rest.byteLength;
        if (!uploadId) {
          if (final && parts.length === 0 && inflight.size === 0 && rest.byteLength === 0) {
            // Small streamed value: a single PUT.
            await this.call(loc, 'upload', (abortSignal, s3) =>
              s3.client.send(new s3.S.PutObjectCommand({ Bucket: this.bucket, Key, Body: body, ContentLength: body.byteLength }), { abortSignal }),
            );
            uploadId = '';
            return;
          }
          const c = await this.call(loc, 'multipart upload start', (abortSignal, s3) =>
            s3.client.send(new s3.S.CreateMultipartUploadCommand({ Bucket: this.bucket, Key }), { abortSignal }),
          );
          uploadId = c.UploadId!;
        }
        const p: Promise<void> = send(Buffer.from(body), nextPart++)
          .catch((e) => {
            firstError ??= e;
          })
          .finally(() => inflight.delete(p));
        inflight.add(p);
        if (inflight.size >= 2) await Promise.race(inflight);
        if (firstError) throw firstError;
      }
    };
    try {
      for await (const chunk of chunksOf(source)) {
        h.update(chunk);
        size += chunk.byteLength;
        pending.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        pendingBytes += chunk.byteLength;
        await flush(false);
      }
      if (size === 0) {
        await this.call(loc, 'upload', (abortSignal, s3) => s3.client.send(new s3.S.PutObjectCommand({ Bucket: this.bucket, Key, Body: Buffer.alloc(0) }), { abortSignal }));
        return { size, checksum: hashOf(h) };
      }
      await flush(true);
      await Promise.all(inflight);
      if (firstError) throw firstError;
      if (uploadId) {
        parts.sort((a, b) => a.PartNumber - b.PartNumber);
        await this.call(loc, 'multipart upload completion', (abortSignal, s3) =>
          s3.client.send(new s3.S.CompleteMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: uploadId, MultipartUpload: { Parts: parts } }), { abortSignal }),
        );
      }
    } catch (err) {
      if (uploadId) {
        const s3 = await this.s3.api();
        await s3.client.send(new s3.S.AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: uploadId })).catch(() => {});
      }
      throw err;
    }
    return { size, checksum: hashOf(h) };
  }

  async get(loc: XComLocation, path: string): Promise<Buffer> {
    const Key = this.key(loc, path);
    return this.call(loc, 'download', async (abortSignal, s3) => {
      const r = await s3.client.send(new s3.S.GetObjectCommand({ Bucket: this.bucket, Key }), { abortSignal });
      const bytes = await r.Body!.transformToByteArray();
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    });
  }

  async stream(loc: XComLocation, path: string): Promise<AsyncIterable<Uint8Array>> {
    const Key = this.key(loc, path);
    const r = await this.call(loc, 'download', (abortSignal, s3) => s3.client.send(new s3.S.GetObjectCommand({ Bucket: this.bucket, Key }), { abortSignal }));
    return r.Body as unknown as AsyncIterable<Uint8Array>;
  }

  async delete(path: string): Promise<number> {
    const Key = this.key(undefined, path);
    await this.call(undefined, `delete of ${path}`, (abortSignal, s3) => s3.client.send(new s3.S.DeleteObjectCommand({ Bucket: this.bucket, Key }), { abortSignal }));
    return 0;
  }

  async *list(): AsyncIterable<StoredObject> {
    let token: string | undefined;
    const Prefix = this.prefix ? this.prefix + '/' : undefined;
    do {
      const r = await this.call(undefined, 'listing', (abortSignal, s3) =>
        s3.client.send(new s3.S.ListObjectsV2Command({ Bucket: this.bucket, Prefix, ContinuationToken: token }), { abortSignal }),
      );
      for (const o of r.Contents ?? []) {
        if (!o.Key) continue;
        yield { path: Prefix ? o.Key.slice(Prefix.length) : o.Key, size: o.Size ?? 0, mtimeMs: o.LastModified?.getTime() ?? 0 };
      }
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
  }
}

/**
 * mkdir -p whose error says why: Node's recursive mkdir reports ENOENT for the leaf when an ancestor
 * cannot be made (a read-only or full disk); then the folders are made one by one for the real error.
 */
async function mkdirWhy(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const parts: string[] = [];
    for (let d = dir; dirname(d) !== d; d = dirname(d)) parts.unshift(d);
    for (const d of parts) {
      try {
        await mkdir(d);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
    }
    throw err;
  }
}
