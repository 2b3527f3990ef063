/**
 * The distributed executor's objects in S3: compiled DAG bundles (content-addressed) and
 * task logs. Credentials and endpoint come from a connection (HANGAR_CONN_<ID>) or the
 * default AWS chain; every failure names the location and the endpoint, never a secret.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RemoteLocation } from '../config.ts';
import { getConnection, s3AccessOf } from '../connections.ts';
import type { S3Access } from '../connections.ts';
import { S3Location, classifyS3Error, parseS3Url as parseS3 } from '../s3.ts';
import type { S3Api } from '../s3.ts';

export class RemoteError extends Error {
  /** `missing` (no such object), `unavailable` (the server did not answer), `tampered` (a bundle's hash differs). */
  readonly code: 'missing' | 'unavailable' | 'tampered' | 'config';
  constructor(code: RemoteError['code'], message: string) {
    super(message);
    this.name = 'RemoteError';
    this.code = code;
  }
}

/** `s3://bucket/a/b` → bucket and key prefix. */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const parsed = parseS3(url);
  if (!parsed) throw new RemoteError('config', `${JSON.stringify(url)} is not s3://bucket[/prefix]`);
  return parsed;
}

export class RemoteObjects {
  readonly url: string;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly location: RemoteLocation;
  private readonly s3: S3Location;
  private access: S3Access | undefined;

  constructor(location: RemoteLocation, connections: Readonly<Record<string, string>> = {}) {
    this.location = location;
    const { bucket, prefix } = parseS3Url(location.url);
    this.bucket = bucket;
    this.prefix = prefix;
    this.url = location.url;
    this.s3 = new S3Location(() => {
      if (location.connection) {
        try {
          this.access = s3AccessOf(getConnection(location.connection, connections));
        } catch (err) {
          throw new RemoteError('config', `S3 ${this.url}: ${(err as Error).message}`);
        }
      }
      return {
        endpoint: this.endpoint(),
        region: location.region ?? this.access?.region,
        credentials: this.access?.credentials,
        maxAttempts: 3,
        timeoutMs: 30_000,
      };
    });
  }

  private endpoint(): string | undefined {
    return this.location.endpoint ?? this.access?.endpoint;
  }

  private where(): string {
    const e = this.endpoint();
    return `${this.url}${e ? ` at ${e}` : ''}`;
  }

  /** The key of a path under this location. */
  key(path: string): string {
    if (path.split('/').some((s) => s === '..' || s === '.' || s === ''))
      throw new RemoteError('config', `unsafe object path ${JSON.stringify(path)}`);
    return this.prefix ? `${this.prefix}/${path}` : path;
  }

  /** The s3:// URL of a path under this location. */
  urlOf(path: string): string {
    return `s3://${this.bucket}/${this.key(path)}`;
  }

  private async call<T>(what: string, fn: (api: S3Api, signal: AbortSignal) => Promise<T>): Promise<T> {
    const api = await this.s3.api();
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), 100_000);
    try {
      return await fn(api, ac.signal);
    } catch (err) {
      const f = classifyS3Error(err, ac.signal.aborted);
      if (f.kind === 'missing')
        throw new RemoteError('missing', `${what}: no such object in ${this.where()}`);
      if (f.kind === 'unreachable')
        throw new RemoteError('unavailable', `${what}: S3 ${this.where()} unreachable (${f.reason})`);
      throw new RemoteError('unavailable', `${what}: S3 ${this.where()} failed: ${f.reason}`);
    } finally {
      clearTimeout(timer);
    }
  }

  async put(path: string, body: Uint8Array | string, what = `upload of ${path}`): Promise<void> {
    const Key = this.key(path);
    const Body = typeof body === 'string' ? Buffer.from(body) : body;
    await this.call(what, ({ S, client }, abortSignal) =>
      client.send(
        new S.PutObjectCommand({ Bucket: this.bucket, Key, Body, ContentLength: Body.byteLength }),
        { abortSignal },
      ),
    );
  }

  async get(path: string, what = `download of ${path}`): Promise<Buffer> {
    const Key = this.key(path);
    return this.call(what, async ({ S, client }, abortSignal) => {
      const r = await client.send(new S.GetObjectCommand({ Bucket: this.bucket, Key }), { abortSignal });
      const bytes = await r.Body!.transformToByteArray();
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    });
  }

  async exists(path: string): Promise<boolean> {
    const Key = this.key(path);
    try {
      await this.call(`lookup of ${path}`, ({ S, client }, abortSignal) =>
        client.send(new S.HeadObjectCommand({ Bucket: this.bucket, Key }), { abortSignal }),
      );
      return true;
    } catch (err) {
      if (err instanceof RemoteError && err.code === 'missing') return false;
      throw err;
    }
  }

  close(): void {
    this.s3.close();
  }
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Where a bundle lives under the bundles location. */
export function bundlePath(hash: string): string {
  if (!/^[0-9a-f]{64}$/.test(hash))
    throw new RemoteError('config', `not a bundle hash: ${JSON.stringify(hash)}`);
  return `${hash}.mjs`;
}

/**
 * Publishes compiled DAG files by content hash (Airflow 3's DAG versions): a try names the
 * hash it must run, so a worker anywhere runs exactly what the scheduler parsed.
 */
export class BundlePublisher {
  private readonly remote: RemoteObjects;
  private readonly done = new Map<string, Promise<void>>();

  constructor(remote: RemoteObjects) {
    this.remote = remote;
  }

  /** Uploads the bundle once per hash (a bundle already there is left as it is). */
  publish(localPath: string, hash: string): Promise<void> {
    let p = this.done.get(hash);
    if (!p) {
      p = (async () => {
        const path = bundlePath(hash);
        if (await this.remote.exists(path)) return;
        const bytes = readFileSync(localPath);
        if (sha256(bytes) !== hash)
          throw new RemoteError(
            'tampered',
            `the compiled DAG file ${localPath} changed since it was parsed (hash ${hash.slice(0, 12)}…)`,
          );
        await this.remote.put(path, bytes, `publishing DAG bundle ${hash.slice(0, 12)}`);
      })();
      this.done.set(hash, p);
      p.catch(() => this.done.delete(hash));
    }
    return p;
  }
}

/** A worker's local copies of bundles, by hash: fetched once, verified before they are written. */
export class BundleCache {
  private readonly remote: RemoteObjects;
  private readonly dir: string;
  private readonly pending = new Map<string, Promise<string>>();

  constructor(remote: RemoteObjects, dir: string) {
    this.remote = remote;
    this.dir = dir;
  }

  /** The local path of a bundle, fetched if needed; throws `tampered` when the object's hash is not its name. */
  get(hash: string): Promise<string> {
    let p = this.pending.get(hash);
    if (!p) {
      p = (async () => {
        const file = join(this.dir, bundlePath(hash));
        if (existsSync(file) && sha256(readFileSync(file)) === hash) return file;
        const bytes = await this.remote.get(bundlePath(hash), `fetching DAG bundle ${hash.slice(0, 12)}`);
        const got = sha256(bytes);
        if (got !== hash) {
          throw new RemoteError(
            'tampered',
            `DAG bundle ${this.remote.urlOf(bundlePath(hash))} was changed after it was published: its sha256 is ${got}, not ${hash}; refusing to run it`,
          );
        }
        mkdirSync(this.dir, { recursive: true });
        const tmp = `${file}.${process.pid}.tmp`;
        writeFileSync(tmp, bytes);
        renameSync(tmp, file);
        return file;
      })();
      this.pending.set(hash, p);
      p.catch(() => this.pending.delete(hash));
    }
    return p;
  }
}

/**
 * The text of a try's log wherever it is kept: a local file, or (distributed executor) an
 * s3:// URL under the workspace's `logs.remote`. Undefined when there is no log (yet).
 */
export async function readTryLog(
  config: {
    remoteLogs: RemoteLocation | undefined;
    connections: Readonly<Record<string, string>>;
    root: string;
  },
  path: string,
): Promise<string | undefined> {
  if (!path.startsWith('s3://')) return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
  const loc = config.remoteLogs;
  if (!loc || !path.startsWith(loc.url + '/')) {
    throw new RemoteError(
      'config',
      `This log is kept in S3 (${path}); to read it, set "logs": {"remote": "${path.slice(0, path.indexOf('/', 5) > 0 ? path.indexOf('/', 5) : path.length)}…", "connection": …} in ${join(config.root, 'hangar.json')}`,
    );
  }
  const remote = new RemoteObjects(loc, config.connections);
  try {
    return (await remote.get(path.slice(loc.url.length + 1), `reading the log ${path}`)).toString('utf8');
  } catch (err) {
    if (err instanceof RemoteError && err.code === 'missing') return undefined;
    throw err;
  } finally {
    remote.close();
  }
}
