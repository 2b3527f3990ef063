/**
 * SFTP source and destination. Reads and writes keep several requests in
 * flight (like `fastGet`/`fastPut`), so a streaming pipeline runs near
 * OpenSSH's speed.
 */
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { FileEntryWithStats, Stats } from 'ssh2';
import { ChangedWhileReadError, HealthCheckError, SyncError, errorMessage } from './errors.ts';
import { SFTP_STATUS, SftpSession, sftpLabel, sftpStatusOf, validateSftpOptions } from './sftp-connection.ts';
import type { SftpConnectionOptions } from './sftp-connection.ts';
import type { Cursor, DataPoint, Destination, DestinationWrite, PointInfo, ReadOptions, Source, SyncLogger } from './types.ts';
import { isAfter, sortPoints } from './types.ts';

/** Names the pipeline itself writes next to destination files; never listed as data points. */
export function isInternalName(name: string): boolean {
  return name.startsWith('.hangar-') || /\.hangar-(tmp|bak)$/.test(name);
}

function normalizeRoot(root: string, what: string): string {
  if (typeof root !== 'string' || root === '') throw new SyncError(`${what}: root path is empty`);
  const n = posix.normalize(root);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

export function validatePointId(id: string): void {
  if (id === '' || id.startsWith('/') || id.split('/').some((p) => p === '' || p === '.' || p === '..')) {
    throw new SyncError(`invalid data point id "${id}": must be a relative path without "." or ".." segments`);
  }
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;

function maxReadLen(session: SftpSession): number {
  const v = (session.sftp as unknown as { _maxReadLen?: number })._maxReadLen;
  return typeof v === 'number' && v > 0 ? v : 32 * 1024;
}

function maxWriteLen(session: SftpSession): number {
  const v = (session.sftp as unknown as { _maxWriteLen?: number })._maxWriteLen;
  return typeof v === 'number' && v > 0 ? v : 32 * 1024;
}

function hasExtension(session: SftpSession, name: string): boolean {
  const ext = (session.sftp as unknown as { _extensions?: Record<string, string> })._extensions;
  return ext !== undefined && Object.prototype.hasOwnProperty.call(ext, name);
}

// ---------------------------------------------------------------- session helpers

function sOpen(s: SftpSession, path: string, flags: 'r' | 'w'): Promise<Buffer> {
  return s.op<Buffer>(flags === 'r' ? 'open' : 'create', path, (cb) => s.sftp.open(path, flags, cb));
}
function sClose(s: SftpSession, path: string, h: Buffer): Promise<void> {
  return s.op('close', path, (cb) => s.sftp.close(h, cb));
}
function sFstat(s: SftpSession, path: string, h: Buffer): Promise<Stats> {
  return s.op<Stats>('fstat', path, (cb) => s.sftp.fstat(h, cb));
}
function sStat(s: SftpSession, path: string): Promise<Stats> {
  return s.op<Stats>('stat', path, (cb) => s.sftp.stat(path, cb));
}
function sReaddir(s: SftpSession, path: string): Promise<FileEntryWithStats[]> {
  return s.op<FileEntryWithStats[]>('readdir', path, (cb) => s.sftp.readdir(path, cb));
}
function sUnlink(s: SftpSession, path: string): Promise<void> {
  return s.op('remove', path, (cb) => s.sftp.unlink(path, cb));
}
function sMkdir(s: SftpSession, path: string): Promise<void> {
  return s.op('mkdir', path, (cb) => s.sftp.mkdir(path, cb));
}
function sRename(s: SftpSession, from: string, to: string): Promise<void> {
  if (hasExtension(s, 'posix-rename@openssh.com')) {
    return s.op('posix-rename', `${from}" -> "${to}`, (cb) => s.sftp.ext_openssh_rename(from, to, cb));
  }
  return s.op('rename', `${from}" -> "${to}`, (cb) => s.sftp.rename(from, to, cb));
}
function sHardlink(s: SftpSession, existing: string, link: string): Promise<void> {
  return s.op('hardlink', `${existing}" -> "${link}`, (cb) => s.sftp.ext_openssh_hardlink(existing, link, cb));
}
async function unlinkIfExists(s: SftpSession, path: string): Promise<void> {
  try {
    await sUnlink(s, path);
  } catch (err) {
    if (sftpStatusOf(err) !== SFTP_STATUS.NO_SUCH_FILE) throw err;
  }
}

// ---------------------------------------------------------------- source

export interface SftpSourceOptions {
  connection: SftpConnectionOptions;
  /** Directory whose files (recursively) are the data points. */
  root: string;
  log?: SyncLogger;
  /** Bytes of read requests kept in flight per file (default 4 MiB). */
  readAheadBytes?: number;
  /** Directories listed concurrently (default 8). */
  listConcurrency?: number;
}

export class SftpSource implements Source {
  readonly description: string;
  readonly #o: SftpSourceOptions;
  readonly #root: string;
  #session: SftpSession | null = null;

  constructor(options: SftpSourceOptions) {
    validateSftpOptions(options.connection);
    this.#o = options;
    this.#root = normalizeRoot(options.root, `SFTP source ${sftpLabel(options.connection)}`);
    this.description = `sftp://${sftpLabel(options.connection)}${this.#root.startsWith('/') ? '' : '/'}${this.#root}`;
  }

  get session(): SftpSession {
    if (this.#session === null || this.#session.closed) {
      throw new SyncError(`SFTP source ${this.description} is not connected`);
    }
    return this.#session;
  }

  async connect(): Promise<void> {
    if (this.#session !== null && !this.#session.closed) return;
    this.#session = await SftpSession.connect(this.#o.connection, this.#o.log);
  }

  async healthCheck(): Promise<void> {
    try {
      await this.connect();
      await sReaddir(this.session, this.#root);
    } catch (err) {
      throw new HealthCheckError('source', `source health check failed for ${this.description}: ${errorMessage(err)}`, { cause: err });
    }
  }

  async list(after: Cursor | null): Promise<DataPoint[]> {
    const s = this.session;
    const out: DataPoint[] = [];
    const dirs: string[] = [''];
    const concurrency = Math.max(1, this.#o.listConcurrency ?? 8);
    const readAhead = this.#o.readAheadBytes ?? 4 * 1024 * 1024;
    let failure: unknown = null;
    const worker = async (): Promise<void> => {
      while (dirs.length > 0 && failure === null) {
        const rel = dirs.shift()!;
        const abs = rel === '' ? this.#root : posix.join(this.#root, rel);
        let entries: FileEntryWithStats[];
        try {
          entries = await sReaddir(s, abs);
        } catch (err) {
          failure ??= new SyncError(`cannot list SFTP source directory "${abs}" on ${s.label}: ${errorMessage(err)}`, { cause: err });
          return;
        }
        for (const e of entries) {
          if (e.filename === '.' || e.filename === '..' || isInternalName(e.filename)) continue;
          const id = rel === '' ? e.filename : `${rel}/${e.filename}`;
          const kind = e.attrs.mode & S_IFMT;
          if (kind === S_IFDIR) {
            dirs.push(id);
          } else if (kind === S_IFREG) {
            const point: SftpDataPoint = new SftpDataPoint(s, posix.join(this.#root, id), id, e.attrs.size, e.attrs.mtime * 1000, readAhead);
            if (isAfter(point, after)) out.push(point);
          }
        }
      }
    };
    // Directories are discovered while listing: keep running workers until none is left.
    while (dirs.length > 0 && failure === null) {
      await Promise.all(Array.from({ length: Math.min(concurrency, dirs.length) }, worker));
    }
    if (failure !== null) throw failure;
    return sortPoints(out);
  }

  async close(): Promise<void> {
    const s = this.#session;
    this.#session = null;
    if (s !== null) await s.close();
  }
}

class SftpDataPoint implements DataPoint {
  readonly id: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly #s: SftpSession;
  readonly #path: string;
  readonly #readAheadBytes: number;

  constructor(s: SftpSession, path: string, id: string, size: number, mtimeMs: number, readAheadBytes: number) {
    this.#s = s;
    this.#path = path;
    this.id = id;
    this.size = size;
    this.mtimeMs = mtimeMs;
    this.#readAheadBytes = readAheadBytes;
  }

  async *read(options: ReadOptions): AsyncGenerator<Uint8Array> {
    const s = this.#s;
    const path = this.#path;
    const reqSize = Math.max(1, Math.min(options.chunkSize, maxReadLen(s)));
    const depth = Math.max(1, Math.floor(this.#readAheadBytes / reqSize));
    const handle = await sOpen(s, path, 'r');
    // With reuseBuffers, a yielded buffer returns to the pool when the consumer asks for the next chunk.
    const pool: Buffer[] = [];
    const reuse = options.reuseBuffers === true;
    type Pending = { offset: number; len: number; buf: Buffer; p: Promise<Buffer> };
    const queue: Pending[] = [];
    let nextOffset = 0;
    let total = 0;
    // OpenSSH's sftp-server answers requests in order, and requests on one handle are
    // processed in order by any server: an fstat sent right after the last read
    // describes the file as it was after that read, without waiting a round trip.
    let statP: Promise<Stats> | null = null;
    const issue = (): void => {
      while (queue.length < depth && nextOffset < this.size) {
        const offset = nextOffset;
        const len = Math.min(reqSize, this.size - offset);
        nextOffset += len;
        // Never a buffer larger than the file: 10,000 small files each with a 256 KiB buffer was 2.5 GB of
        // external memory, and V8 answered with a full GC every ~50 ms.
        const buf = reuse ? (pool.pop() ?? Buffer.allocUnsafe(Math.min(reqSize, this.size))) : Buffer.allocUnsafe(len);
        const p = s.op<Buffer>('read', path, (cb) =>
          s.sftp.read(handle, buf, 0, len, offset, (err, n) => (err ? cb(err) : cb(undefined, buf.subarray(0, n)))),
        );
        p.catch(() => undefined);
        queue.push({ offset, len, buf, p });
      }
      if (statP === null && nextOffset >= this.size) {
        statP = sFstat(s, path, handle);
        statP.catch(() => undefined);
      }
    };
    try {
      issue();
      while (queue.length > 0) {
        const head = queue.shift()!;
        const data = await head.p;
        if (data.length === 0) {
          throw new ChangedWhileReadError(
            `file "${this.id}" changed while it was read: it ended at ${total} bytes, expected ${this.size}; not committed, retried next run`,
          );
        }
        total += data.length;
        if (data.length < head.len) {
          // Short read: discard the requests already issued past it and continue from here.
          await Promise.allSettled(queue.map((q) => q.p));
          queue.length = 0;
          nextOffset = total;
          statP = null;
        }
        issue();
        yield data;
        if (reuse) pool.push(head.buf);
      }
      const st = await (statP ?? sFstat(s, path, handle));
      if (st.size !== this.size || st.mtime * 1000 !== this.mtimeMs || total !== this.size) {
        throw new ChangedWhileReadError(
          `file "${this.id}" changed while it was read (size ${this.size} -> ${st.size}, mtime ${this.mtimeMs / 1000} -> ${st.mtime}); not committed, retried next run`,
        );
      }
    } finally {
      await Promise.allSettled(queue.map((q) => q.p));
      // Not awaited: nothing depends on it, and its deadline still applies.
      if (!s.closed) sClose(s, path, handle).catch(() => undefined);
    }
  }
}

// ---------------------------------------------------------------- destination

export interface SftpDestinationOptions {
  connection: SftpConnectionOptions;
  root: string;
  log?: SyncLogger;
  /** Bytes of write requests kept in flight per file (default 4 MiB). */
  writeAheadBytes?: number;
  /** Set the destination file's mtime to the source's (default true). */
  preserveMtime?: boolean;
}

export function tempNames(finalPath: string): { tmp: string; bak: string } {
  const dir = posix.dirname(finalPath);
  const base = posix.basename(finalPath);
  return { tmp: posix.join(dir, `.${base}.hangar-tmp`), bak: posix.join(dir, `.${base}.hangar-bak`) };
}

export class SftpDestination implements Destination {
  readonly description: string;
  readonly #o: SftpDestinationOptions;
  readonly #root: string;
  #session: SftpSession | null = null;
  #dirs = new Map<string, Promise<void>>();

  constructor(options: SftpDestinationOptions) {
    validateSftpOptions(options.connection);
    this.#o = options;
    this.#root = normalizeRoot(options.root, `SFTP destination ${sftpLabel(options.connection)}`);
    this.description = `sftp://${sftpLabel(options.connection)}${this.#root.startsWith('/') ? '' : '/'}${this.#root}`;
  }

  get session(): SftpSession {
    if (this.#session === null || this.#session.closed) {
      throw new SyncError(`SFTP destination ${this.description} is not connected`);
    }
    return this.#session;
  }

  async connect(): Promise<void> {
    if (this.#session !== null && !this.#session.closed) return;
    this.#dirs = new Map();
    this.#session = await SftpSession.connect(this.#o.connection, this.#o.log);
  }

  async healthCheck(): Promise<void> {
    try {
      await this.connect();
      await sReaddir(this.session, this.#root);
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
      throw new HealthCheckError(
        'destination',
        `destination health check failed for ${this.description}: ${errorMessage(err)}`,
        { cause: err },
      );
    }
  }

  #ensureDir(dir: string): Promise<void> {
    if (dir === this.#root || dir === '/' || dir === '.') return Promise.resolve();
    let p = this.#dirs.get(dir);
    if (p === undefined) {
      const s = this.session;
      p = (async () => {
        await this.#ensureDir(posix.dirname(dir));
        try {
          await sMkdir(s, dir);
        } catch (err) {
          const st = await sStat(s, dir).catch(() => null);
          if (st === null || (st.mode & S_IFMT) !== S_IFDIR) throw err;
        }
      })();
      p.catch(() => this.#dirs.delete(dir));
      this.#dirs.set(dir, p);
    }
    return p;
  }

  async begin(point: PointInfo): Promise<DestinationWrite> {
    validatePointId(point.id);
    const s = this.session;
    const finalPath = posix.join(this.#root, point.id);
    await this.#ensureDir(posix.dirname(finalPath));
    const { tmp, bak } = tempNames(finalPath);
    const handle = await sOpen(s, tmp, 'w');
    return new SftpWrite(s, point, finalPath, tmp, bak, handle, {
      writeAheadBytes: this.#o.writeAheadBytes ?? 4 * 1024 * 1024,
      preserveMtime: this.#o.preserveMtime ?? true,
    });
  }

  async remove(id: string): Promise<void> {
    validatePointId(id);
    await unlinkIfExists(this.session, posix.join(this.#root, id));
  }

  async close(): Promise<void> {
    const s = this.#session;
    this.#session = null;
    if (s !== null) await s.close();
  }
}

type WriteState = 'open' | 'committed' | 'reverted' | 'released' | 'failed';

class SftpWrite implements DestinationWrite {
  bytesWritten = 0;
  readonly #s: SftpSession;
  readonly #point: PointInfo;
  readonly #final: string;
  readonly #tmp: string;
  readonly #bak: string;
  readonly #handle: Buffer;
  readonly #writeAheadBytes: number;
  readonly #preserveMtime: boolean;
  readonly #maxWrite: number;
  readonly #minWrite: number;
  #state: WriteState = 'open';
  #handleOpen = true;
  #hadPrevious = false;
  #offset = 0;
  #pendingBufs: Uint8Array[] = [];
  #pendingLen = 0;
  #inflight: { bytes: number; p: Promise<void> }[] = [];
  #inflightBytes = 0;
  #error: unknown = null;

  constructor(
    s: SftpSession,
    point: PointInfo,
    finalPath: string,
    tmp: string,
    bak: string,
    handle: Buffer,
    o: { writeAheadBytes: number; preserveMtime: boolean },
  ) {
    this.#s = s;
    this.#point = point;
    this.#final = finalPath;
    this.#tmp = tmp;
    this.#bak = bak;
    this.#handle = handle;
    this.#writeAheadBytes = Math.max(1, o.writeAheadBytes);
    this.#preserveMtime = o.preserveMtime;
    this.#maxWrite = maxWriteLen(s);
    this.#minWrite = Math.min(this.#maxWrite, 64 * 1024);
  }

  #issue(buf: Buffer): void {
    for (let off = 0; off < buf.length; off += this.#maxWrite) {
      const piece = buf.subarray(off, Math.min(buf.length, off + this.#maxWrite));
      const position = this.#offset;
      this.#offset += piece.length;
      const p = this.#s
        .op('write', this.#tmp, (cb) => this.#s.sftp.write(this.#handle, piece, 0, piece.length, position, (err) => cb(err)))
        .then(
          () => {
            this.bytesWritten += piece.length;
          },
          (err: unknown) => {
            this.#error ??= err;
          },
        );
      this.#inflight.push({ bytes: piece.length, p });
      this.#inflightBytes += piece.length;
    }
  }

  #flushPending(): void {
    if (this.#pendingLen === 0) return;
    const buf =
      this.#pendingBufs.length === 1
        ? Buffer.from(this.#pendingBufs[0]!.buffer, this.#pendingBufs[0]!.byteOffset, this.#pendingBufs[0]!.byteLength)
        : Buffer.concat(this.#pendingBufs, this.#pendingLen);
    this.#pendingBufs = [];
    this.#pendingLen = 0;
    this.#issue(buf);
  }

  async #drainTo(limit: number): Promise<void> {
    while (this.#inflight.length > 0 && this.#inflightBytes > limit) {
      const head = this.#inflight.shift()!;
      await head.p;
      this.#inflightBytes -= head.bytes;
    }
    if (this.#error !== null) throw this.#error;
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.#state !== 'open') throw new SyncError(`write to "${this.#final}" after ${this.#state}`);
    if (this.#error !== null) throw this.#error;
    if (chunk.byteLength === 0) return;
    if (chunk.byteLength >= this.#minWrite) {
      // A large chunk goes out as it is (ssh2 copies the bytes into the request synchronously); small bytes
      // waiting before it (e.g. a transformer's replacement) go first on their own, rather than joining
      // them to it (a copy of the whole chunk).
      this.#flushPending();
      this.#issue(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    } else if (this.#pendingLen + chunk.byteLength >= this.#minWrite) {
      this.#pendingBufs.push(chunk);
      this.#pendingLen += chunk.byteLength;
      this.#flushPending(); // ssh2 copies the bytes into the request synchronously
    } else {
      this.#pendingBufs.push(Buffer.from(chunk)); // kept past this call: copy
      this.#pendingLen += chunk.byteLength;
    }
    if (this.#inflightBytes > this.#writeAheadBytes) await this.#drainTo(this.#writeAheadBytes / 2);
  }

  async commit(): Promise<void> {
    if (this.#state !== 'open') throw new SyncError(`commit of "${this.#final}" after ${this.#state}`);
    const s = this.#s;
    try {
      this.#flushPending();
      // Requests on one handle are processed in order: send setstat and close behind the writes.
      const t = Math.floor(this.#point.mtimeMs / 1000);
      const setstat = this.#preserveMtime ? s.op('setstat', this.#tmp, (cb) => s.sftp.futimes(this.#handle, t, t, cb)) : Promise.resolve();
      this.#handleOpen = false;
      const close = sClose(s, this.#tmp, this.#handle);
      setstat.catch(() => undefined);
      close.catch(() => undefined);
      await this.#drainTo(0);
      await setstat;
      await close;
      await this.#backupAndMove();
      this.#state = 'committed';
    } catch (err) {
      this.#state = 'failed';
      throw err;
    }
  }

  async #backupAndMove(): Promise<void> {
    const s = this.#s;
    const posixRename = hasExtension(s, 'posix-rename@openssh.com');
    if (hasExtension(s, 'hardlink@openssh.com') && posixRename) {
      // The previous file stays under its name until the atomic replace.
      for (let attempt = 0; ; attempt++) {
        try {
          await sHardlink(s, this.#final, this.#bak);
          this.#hadPrevious = true;
          break;
        } catch (err) {
          if (sftpStatusOf(err) === SFTP_STATUS.NO_SUCH_FILE) break;
          if (attempt > 0) throw err;
          await unlinkIfExists(s, this.#bak); // a stale backup from an earlier crash
        }
      }
      await sRename(s, this.#tmp, this.#final);
      return;
    }
    // Fallback: move the previous file aside, then move the new one in.
    try {
      if (!posixRename) await unlinkIfExists(s, this.#bak);
      await sRename(s, this.#final, this.#bak);
      this.#hadPrevious = true;
    } catch (err) {
      if (sftpStatusOf(err) !== SFTP_STATUS.NO_SUCH_FILE) throw err;
    }
    try {
      await sRename(s, this.#tmp, this.#final);
    } catch (err) {
      if (this.#hadPrevious) await sRename(s, this.#bak, this.#final).catch(() => undefined);
      this.#hadPrevious = false;
      throw err;
    }
  }

  async revert(): Promise<void> {
    const s = this.#s;
    const state = this.#state;
    if (state === 'reverted' || state === 'released') return;
    this.#state = 'reverted';
    if (state === 'committed') {
      if (this.#hadPrevious) {
        if (!hasExtension(s, 'posix-rename@openssh.com')) await unlinkIfExists(s, this.#final);
        await sRename(s, this.#bak, this.#final);
      } else {
        await unlinkIfExists(s, this.#final);
      }
      return;
    }
    // Not committed: the final name was never touched (or was restored). Drop the temporary file.
    await Promise.allSettled(this.#inflight.map((i) => i.p));
    if (this.#handleOpen) {
      this.#handleOpen = false;
      await sClose(s, this.#tmp, this.#handle).catch(() => undefined);
    }
    await unlinkIfExists(s, this.#tmp);
  }

  async release(): Promise<void> {
    if (this.#state !== 'committed') return;
    this.#state = 'released';
    if (this.#hadPrevious) await unlinkIfExists(this.#s, this.#bak);
  }
}
