/** Local-directory source and destination (same contract as the SFTP ones). */
import { randomBytes } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { link, mkdir, open, readdir, rename, stat, unlink, utimes } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { ChangedWhileReadError, HealthCheckError, SyncError, errorMessage } from './errors.ts';
import { isInternalName, tempNames, validatePointId } from './sftp.ts';
import type { Cursor, DataPoint, Destination, DestinationWrite, PointInfo, ReadOptions, Source } from './types.ts';
import { isAfter, sortPoints } from './types.ts';

function toNative(id: string): string {
  return id.split('/').join(sep);
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | null)?.code;
}

export interface LocalSourceOptions {
  root: string;
}

export class LocalSource implements Source {
  readonly description: string;
  readonly #root: string;

  constructor(options: LocalSourceOptions) {
    if (typeof options.root !== 'string' || options.root === '') throw new SyncError('local source: root path is empty');
    this.#root = resolve(options.root);
    this.description = `file://${this.#root}`;
  }

  async connect(): Promise<void> {}

  async healthCheck(): Promise<void> {
    try {
      await readdir(this.#root);
    } catch (err) {
      throw new HealthCheckError('source', `source health check failed for ${this.description}: cannot list "${this.#root}" (${code(err) ?? errorMessage(err)})`, { cause: err });
    }
  }

  async list(after: Cursor | null): Promise<DataPoint[]> {
    const out: DataPoint[] = [];
    const walk = async (rel: string): Promise<void> => {
      const abs = rel === '' ? this.#root : join(this.#root, toNative(rel));
      let entries;
      try {
        entries = await readdir(abs, { withFileTypes: true });
      } catch (err) {
        throw new SyncError(`cannot list local source directory "${abs}": ${code(err) ?? errorMessage(err)}`, { cause: err });
      }
      for (const e of entries) {
        if (isInternalName(e.name)) continue;
        const id = rel === '' ? e.name : `${rel}/${e.name}`;
        if (e.isDirectory()) {
          await walk(id);
        } else if (e.isFile()) {
          const path = join(abs, e.name);
          const st = await stat(path);
          const point = new LocalDataPoint(path, id, st.size, Math.floor(st.mtimeMs));
          if (isAfter(point, after)) out.push(point);
        }
      }
    };
    await walk('');
    return sortPoints(out);
  }

  async close(): Promise<void> {}
}

class LocalDataPoint implements DataPoint {
  readonly id: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly #path: string;

  constructor(path: string, id: string, size: number, mtimeMs: number) {
    this.#path = path;
    this.id = id;
    this.size = size;
    this.mtimeMs = mtimeMs;
  }

  async *read(options: ReadOptions): AsyncGenerator<Uint8Array> {
    const fh = await open(this.#path, 'r');
    try {
      let total = 0;
      const size = Math.max(1, options.chunkSize);
      for (;;) {
        const buf = Buffer.allocUnsafe(size);
        const { bytesRead } = await fh.read(buf, 0, size, total);
        if (bytesRead === 0) break;
        total += bytesRead;
        yield buf.subarray(0, bytesRead);
      }
      const st = await fh.stat();
      if (st.size !== this.size || Math.floor(st.mtimeMs) !== this.mtimeMs || total !== this.size) {
        throw new ChangedWhileReadError(
          `file "${this.id}" changed while it was read (size ${this.size} -> ${st.size}, read ${total} bytes); not committed, retried next run`,
        );
      }
    } finally {
      await fh.close();
    }
  }
}

export interface LocalDestinationOptions {
  root: string;
  /** Set the destination file's mtime to the source's (default true). */
  preserveMtime?: boolean;
}

export class LocalDestination implements Destination {
  readonly description: string;
  readonly #root: string;
  readonly #preserveMtime: boolean;

  constructor(options: LocalDestinationOptions) {
    if (typeof options.root !== 'string' || options.root === '') throw new SyncError('local destination: root path is empty');
    this.#root = resolve(options.root);
    this.description = `file://${this.#root}`;
    this.#preserveMtime = options.preserveMtime ?? true;
  }

  async connect(): Promise<void> {}

  async healthCheck(): Promise<void> {
    try {
      await readdir(this.#root);
      const id = `.hangar-healthcheck-${randomBytes(6).toString('hex')}`;
      const w = await this.begin({ id, size: 2, mtimeMs: Date.now() });
      try {
        await w.write(Buffer.from('ok'));
        await w.commit();
      } catch (err) {
        await w.revert().catch(() => undefined);
        throw err;
      }
      await w.release();
      await this.remove(id);
    } catch (err) {
      throw new HealthCheckError('destination', `destination health check failed for ${this.description}: ${code(err) ?? errorMessage(err)}`, { cause: err });
    }
  }

  async begin(point: PointInfo): Promise<DestinationWrite> {
    validatePointId(point.id);
    const finalPath = join(this.#root, toNative(point.id));
    await mkdir(dirname(finalPath), { recursive: true });
    const { tmp, bak } = tempNames(finalPath.split(sep).join('/'));
    const fh = await open(toNative(tmp), 'w');
    return new LocalWrite(point, finalPath, toNative(tmp), toNative(bak), fh, this.#preserveMtime);
  }

  async remove(id: string): Promise<void> {
    validatePointId(id);
    await unlink(join(this.#root, toNative(id))).catch((err: unknown) => {
      if (code(err) !== 'ENOENT') throw err;
    });
  }

  async close(): Promise<void> {}
}

async function unlinkIfExists(path: string): Promise<void> {
  await unlink(path).catch((err: unknown) => {
    if (code(err) !== 'ENOENT') throw err;
  });
}

class LocalWrite implements DestinationWrite {
  bytesWritten = 0;
  readonly #point: PointInfo;
  readonly #final: string;
  readonly #tmp: string;
  readonly #bak: string;
  readonly #fh: FileHandle;
  readonly #preserveMtime: boolean;
  #state: 'open' | 'committed' | 'reverted' | 'released' | 'failed' = 'open';
  #fhOpen = true;
  #hadPrevious = false;

  constructor(point: PointInfo, finalPath: string, tmp: string, bak: string, fh: FileHandle, preserveMtime: boolean) {
    this.#point = point;
    this.#final = finalPath;
    this.#tmp = tmp;
    this.#bak = bak;
    this.#fh = fh;
    this.#preserveMtime = preserveMtime;
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.#state !== 'open') throw new SyncError(`write to "${this.#final}" after ${this.#state}`);
    let off = 0;
    while (off < chunk.byteLength) {
      const { bytesWritten } = await this.#fh.write(chunk, off, chunk.byteLength - off);
      off += bytesWritten;
    }
    this.bytesWritten += chunk.byteLength;
  }

  async commit(): Promise<void> {
    if (this.#state !== 'open') throw new SyncError(`commit of "${this.#final}" after ${this.#state}`);
    try {
      await this.#fh.sync();
      this.#fhOpen = false;
      await this.#fh.close();
      if (this.#preserveMtime) {
        const t = new Date(this.#point.mtimeMs);
        await utimes(this.#tmp, t, t);
      }
      try {
        await link(this.#final, this.#bak);
        this.#hadPrevious = true;
      } catch (err) {
        if (code(err) === 'EEXIST') {
          await unlinkIfExists(this.#bak);
          await link(this.#final, this.#bak);
          this.#hadPrevious = true;
        } else if (code(err) !== 'ENOENT') {
          throw err;
        }
      }
      await rename(this.#tmp, this.#final);
      this.#state = 'committed';
    } catch (err) {
      this.#state = 'failed';
      throw err;
    }
  }

  async revert(): Promise<void> {
    const state = this.#state;
    if (state === 'reverted' || state === 'released') return;
    this.#state = 'reverted';
    if (state === 'committed') {
      if (this.#hadPrevious) await rename(this.#bak, this.#final);
      else await unlinkIfExists(this.#final);
      return;
    }
    if (this.#fhOpen) {
      this.#fhOpen = false;
      await this.#fh.close().catch(() => undefined);
    }
    await unlinkIfExists(this.#tmp);
  }

  async release(): Promise<void> {
    if (this.#state !== 'committed') return;
    this.#state = 'released';
    if (this.#hadPrevious) await unlinkIfExists(this.#bak);
  }
}
