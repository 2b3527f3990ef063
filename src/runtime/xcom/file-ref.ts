/**
 * File references for user data (seed 001): push a large dataset as a file the
 * backend manages, and read it back as a stream.
 *
 *   const ref = await writeXComRecords(backend, loc, rows);   // NDJSON, streamed
 *   await ctx.xcom.push('data_source_market_data', ref);      // a small inline XCom
 *   for await (const row of readXComRecords(backend, ref)) …  // streamed, verified
 *
 * The reference is the seed's format plus the store, a SHA-256 checksum and the
 * content format. When an XCom holding a reference is removed (clear, re-push,
 * cleanup), its file is removed with it; files never referenced by any row are
 * found by sweepOrphans.
 */
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { XComLocation } from './types.ts';
import type { XComFileRef } from '../dag/types.ts';
import type { HangarXComBackend } from './backend.ts';
import type { BlobSource } from './stores.ts';
import { assertSafeRelative, objectPath } from './stores.ts';
import { decodeValue, encodeValue } from './serializer.ts';
import { XComError } from './errors.ts';

/** The reference format; defined with the DAG API so task code sees the same type. */
export type { XComFileRef };

export interface WriteFileOptions {
  /** Records in the file, for binary data the caller knows about (default 1). */
  readonly recordCount?: number;
  /** Where to put it: the workspace's XCom directory (default) or the configured object store. */
  readonly target?: 'local' | 'object-store';
}

function storeOf(backend: HangarXComBackend, target: WriteFileOptions['target']) {
  if (target === 'object-store') {
    if (!backend.objectStore) throw new XComError('config', undefined, 'No XCom object store is configured (xcom.objectStore.url)');
    return backend.objectStore;
  }
  return backend.localStore;
}

/** Streams bytes into a managed file and returns the reference to push. */
export async function writeXComFile(backend: HangarXComBackend, loc: XComLocation, source: BlobSource, opts: WriteFileOptions = {}): Promise<XComFileRef> {
  const store = storeOf(backend, opts.target);
  const path = objectPath(loc, 'bin');
  const put = await store.put(loc, path, source);
  return {
    data_type: 'file_reference',
    _xcom_file_backend: true,
    store: store.url,
    filepath: path,
    size_bytes: put.size,
    record_count: opts.recordCount ?? 1,
    created_at: new Date().toISOString(),
    checksum: put.checksum,
    format: 'binary',
    cleanup_required: true,
  };
}

/**
 * Streams records into a managed NDJSON file (each line in Hangar's typed JSON,
 * so Dates, Maps, BigInts… survive) and returns the reference to push.
 */
export async function writeXComRecords(
  backend: HangarXComBackend,
  loc: XComLocation,
  records: Iterable<unknown> | AsyncIterable<unknown>,
  opts: Omit<WriteFileOptions, 'recordCount'> = {},
): Promise<XComFileRef> {
  const store = storeOf(backend, opts.target);
  const path = objectPath(loc, 'ndjson');
  let count = 0;
  const NL = Buffer.from('\n');
  async function* lines(): AsyncIterable<Uint8Array> {
    let buf: Buffer[] = [];
    let n = 0;
    for await (const r of records as AsyncIterable<unknown>) {
      const e = encodeValue({ ...loc, key: `${loc.key}[${count}]` }, r);
      const line =
        e.format === 'bytes' ? Buffer.from(JSON.stringify({ $hx: 'bytes', t: e.bytesType, v: e.bytes.toString('base64') })) : e.bytes;
      buf.push(line, NL);
      n += line.byteLength + 1;
      count++;
      if (n >= 1 << 20) {
        yield Buffer.concat(buf, n);
        buf = [];
        n = 0;
      }
    }
    if (n > 0) yield Buffer.concat(buf, n);
  }
  const put = await store.put(loc, path, lines());
  return {
    data_type: 'file_reference',
    _xcom_file_backend: true,
    store: store.url,
    filepath: path,
    size_bytes: put.size,
    record_count: count,
    created_at: new Date().toISOString(),
    checksum: put.checksum,
    format: 'ndjson',
    cleanup_required: true,
  };
}

function checkRef(ref: unknown, loc: XComLocation | undefined): XComFileRef {
  const r = ref as Partial<XComFileRef> | null;
  if (!r || r._xcom_file_backend !== true || r.data_type !== 'file_reference' || typeof r.filepath !== 'string' || typeof r.checksum !== 'string' || typeof r.size_bytes !== 'number') {
    throw new XComError('corrupt', loc, 'is not a Hangar file reference');
  }
  assertSafeRelative(loc, r.filepath);
  return r as XComFileRef;
}

/**
 * Opens a referenced file as a stream. Bytes are checked as they pass: a
 * missing file fails at once; a truncated or altered one makes the stream
 * error at its end (before it ends normally), naming the XCom.
 */
export async function openXComFile(backend: HangarXComBackend, ref: XComFileRef, loc?: XComLocation): Promise<Readable> {
  const r = checkRef(ref, loc);
  const where = loc ?? { dagId: '?', runId: '?', taskId: '?', mapIndex: -1, key: r.filepath };
  const store = backend.storeFor(where, r.store ?? 'xcom-root');
  const src = await store.stream(where, r.filepath);
  async function* verified(): AsyncIterable<Buffer> {
    const h = createHash('sha256');
    let size = 0;
    for await (const chunk of src as AsyncIterable<Uint8Array>) {
      const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      size += b.byteLength;
      if (size > r.size_bytes) throw new XComError('corrupt', where, `its file ${r.filepath} is longer than the ${r.size_bytes} bytes referenced`);
      h.update(b);
      yield b;
    }
    if (size < r.size_bytes) throw new XComError('truncated', where, `its file ${r.filepath} is truncated: ${size} of ${r.size_bytes} bytes`);
    if ('sha256:' + h.digest('hex') !== r.checksum) throw new XComError('checksum', where, `its file ${r.filepath} is corrupt: SHA-256 does not match the reference`);
  }
  return Readable.from(verified(), { objectMode: false });
}

/** Reads an NDJSON file reference record by record (streamed and verified). */
export async function* readXComRecords(backend: HangarXComBackend, ref: XComFileRef, loc?: XComLocation): AsyncGenerator<unknown> {
  const where = loc ?? { dagId: '?', runId: '?', taskId: '?', mapIndex: -1, key: ref.filepath };
  if (ref.format !== 'ndjson') throw new XComError('unsupported', where, `its file is ${ref.format}, not NDJSON records; use openXComFile`);
  const stream = await openXComFile(backend, ref, loc);
  let rest = '';
  let i = 0;
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of stream) {
    const parts = (rest + decoder.decode(chunk as Buffer, { stream: true })).split('\n');
    rest = parts.pop()!;
    for (const line of parts) {
      if (line) yield decodeValue({ ...where, key: `${where.key}[${i++}]` }, 'typed-json', Buffer.from(line, 'utf8'));
    }
  }
  rest += decoder.decode();
  if (rest) yield decodeValue({ ...where, key: `${where.key}[${i}]` }, 'typed-json', Buffer.from(rest, 'utf8'));
}
