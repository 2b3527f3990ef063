/**
 * XCom maintenance over the metadata store's `xcom` table: key rotation,
 * cleanup, orphan sweep, decoding for `hangar xcom get`, lineage.
 * Each takes the store (its XCom and key repositories) and the workspace's backend.
 */
import { Buffer } from 'node:buffer';
import type { XComLocation } from './types.ts';
import type { Keyring } from './crypto.ts';
import type { HangarXComBackend } from './backend.ts';
import type { EncryptionLayer, EnvelopeHeader, Layer, OffloadLayer } from './envelope.ts';
import { decodeEnvelope, encodeEnvelope, offloadOf } from './envelope.ts';
import { decrypt, encrypt, recordEncryptions } from './crypto.ts';
import { objectPath } from './stores.ts';
import { extensionFor } from './backend.ts';
import { XComError } from './errors.ts';
import type { XComErrorCode } from './errors.ts';
import { durationMs } from '../dag/duration.ts';
import type { XComRecord } from '../store/records.ts';
import type { XComHead, XComKey, XComRepository } from '../store/repos/xcoms.ts';
import type { KeyRepository } from '../store/repos/keys.ts';

/** What maintenance needs of the store: its XCom and key repositories (a `Store` has both). */
export interface XComStore {
  readonly xcoms: XComRepository;
  readonly keys: KeyRepository;
}

const locOf = (r: XComKey): XComLocation => ({
  dagId: r.dag_id,
  runId: r.run_id,
  taskId: r.task_id,
  mapIndex: r.map_index,
  key: r.key,
});

// ---- key rotation -------------------------------------------------------------

export interface RotateOptions {
  /** Rows read per query (default 100). */
  readonly batchSize?: number;
  /** Stops cleanly between two rows; run again to resume. */
  readonly signal?: AbortSignal;
  /** Stops after re-encrypting this many rows (for a rotation in slices). */
  readonly maxRows?: number;
  /** Called after every row. */
  readonly onProgress?: (p: RotationProgress) => void;
}

export interface RotationProgress {
  readonly targetKeyId: string;
  /** Encrypted rows looked at. */
  examined: number;
  /** Rows re-encrypted under the target key in this call. */
  rotated: number;
  /** Rows already under the target key. */
  alreadyCurrent: number;
  /** Rows that could not be re-encrypted (left untouched, still readable with their key). */
  readonly failed: { loc: XComLocation; code: XComErrorCode | 'error'; message: string }[];
  /** Every encrypted row is under the target key. */
  complete: boolean;
}

/**
 * Re-encrypts every stored encrypted XCom under the keyring's primary key.
 * Each row is rewritten atomically (compare-and-swap on its old envelope); an
 * offloaded object is written under a new name before the row points at it and
 * the old one is removed after, so an interruption at any point loses nothing
 * (at worst it leaves an orphan for sweepOrphans). Rows already under the
 * primary are skipped, so running it again resumes.
 */
export async function rotateXComKeys(store: XComStore, backend: HangarXComBackend, opts: RotateOptions = {}): Promise<RotationProgress> {
  const keyring = await backend.ready();
  if (!keyring) throw new XComError('no-key', undefined, 'XCom key rotation needs a keyring: configure the new key as primary and keep the old ones');
  const target = keyring.primaryId;
  await store.keys.startRotation(target);
  const progress: RotationProgress = { targetKeyId: target, examined: 0, rotated: 0, alreadyCurrent: 0, failed: [], complete: false };
  const batch = opts.batchSize ?? 100;
  let last = 0;
  let stopped = false;
  outer: for (;;) {
    const rows = await store.xcoms.encryptedAfter(last, batch);
    if (rows.length === 0) break;
    for (const row of rows) {
      if (opts.signal?.aborted || (opts.maxRows !== undefined && progress.rotated >= opts.maxRows)) {
        stopped = true;
        break outer;
      }
      last = row.seq;
      const loc = locOf(row);
      progress.examined++;
      try {
        const r = await reencryptRow(store, backend, keyring, row, loc, target);
        if (r === 'current') progress.alreadyCurrent++;
        else if (r === 'rotated') {
          progress.rotated++;
          await store.keys.recordRotation(target, 1, progress.failed.length);
        }
      } catch (err) {
        const e = err as Error;
        progress.failed.push({ loc, code: err instanceof XComError ? err.code : 'error', message: e.message });
      }
      opts.onProgress?.(progress);
    }
  }
  progress.complete = !stopped && progress.failed.length === 0;
  await store.keys.recordRotation(target, 0, progress.failed.length);
  if (progress.complete) await store.keys.finishRotation(target);
  return progress;
}

async function reencryptRow(
  store: XComStore,
  backend: HangarXComBackend,
  keyring: Keyring,
  row: XComRecord,
  loc: XComLocation,
  target: string,
): Promise<'current' | 'rotated' | 'changed'> {
  const env = decodeEnvelope(loc, row.value);
  if (!env) return 'current';
  const h = env.header;
  const i = h.layers.findIndex((l) => l.codec === 'aes-256-gcm');
  if (i < 0) return 'current';
  const layer = h.layers[i] as EncryptionLayer;
  if (layer.key_id === target) return 'current';
  const off = offloadOf(h);
  const payload = off ? await backend.fetch(loc, off) : env.payload;
  const inner = [h.format, ...h.layers.slice(0, i).map((l) => l.codec)];
  const plain = decrypt(keyring, loc, layer, inner, payload);
  const re = encrypt(keyring, loc, inner, plain);
  await recordEncryptions(store.keys, keyring.primaryId);
  const layers: Layer[] = [...h.layers];
  layers[i] = re.layer;
  let newPayload: Buffer = re.ciphertext;
  let sizeStored = re.ciphertext.byteLength;
  let newOff: OffloadLayer | undefined;
  if (off) {
    const blobs = backend.storeFor(loc, off.store);
    const path = objectPath(loc, extensionFor(h.chain.slice(0, -1)));
    const put = await blobs.put(loc, path, re.ciphertext);
    newOff = { ...off, filepath: path, size_bytes: put.size, checksum: put.checksum, created_at: new Date().toISOString() };
    layers[layers.length - 1] = newOff;
    newPayload = Buffer.alloc(0);
    sizeStored = put.size;
  }
  const header: EnvelopeHeader = { ...h, layers };
  if (!(await store.xcoms.replaceValue(row, row.value, encodeEnvelope(header, newPayload), sizeStored))) {
    // Re-pushed meanwhile: the new row is the truth; drop what we wrote.
    if (newOff) await backend.storeFor(loc, newOff.store).delete(newOff.filepath).catch(() => 0);
    return 'changed';
  }
  if (off) await backend.storeFor(loc, off.store).delete(off.filepath).catch(() => 0);
  return 'rotated';
}

// ---- cleanup ------------------------------------------------------------------

export interface ClearFilter {
  readonly dagId: string;
  readonly runId?: string;
  readonly taskId?: string;
  readonly mapIndex?: number;
  readonly key?: string;
  /** Only XComs created before now − this ('7d', '12h', seconds) or before this date. */
  readonly olderThan?: string | number | Date;
  /** Clock for olderThan (tests). */
  readonly now?: Date;
}

export interface ClearResult {
  readonly rows: number;
  readonly objects: number;
  /** Inline bytes of the removed rows plus the bytes of their files/objects (when the store reports them). */
  readonly bytesFreed: number;
  readonly errors: readonly string[];
}

/**
 * Removes XComs (rows, their lineage records, then their files/objects).
 * Rows go first, in one transaction: an interruption leaves orphans for
 * sweepOrphans, never a row pointing at a missing file.
 */
export async function clearXComs(store: XComStore, backend: HangarXComBackend, filter: ClearFilter): Promise<ClearResult> {
  if (!filter.dagId) throw new XComError('config', undefined, 'clearXComs needs a DAG id');
  let createdBefore: string | undefined;
  if (filter.olderThan !== undefined) {
    const cutoff =
      filter.olderThan instanceof Date
        ? filter.olderThan
        : new Date((filter.now ?? new Date()).getTime() - durationMs(filter.olderThan, 'olderThan'));
    createdBefore = cutoff.toISOString();
  }
  const rows = await store.xcoms.list({ dagId: filter.dagId, runId: filter.runId, taskId: filter.taskId, mapIndex: filter.mapIndex, key: filter.key, createdBefore });
  await store.xcoms.deleteWithPulls(rows);
  let objects = 0;
  let bytes = 0;
  const errors: string[] = [];
  for (const r of rows) {
    const loc = locOf(r);
    bytes += r.value.byteLength;
    let refs: { store: string; path: string; size?: number }[] = [];
    try {
      refs = backend.referencedObjects(loc, r.value);
    } catch (err) {
      errors.push((err as Error).message);
    }
    for (const ref of refs) {
      try {
        const freed = await backend.storeFor(loc, ref.store).delete(ref.path);
        objects++;
        bytes += freed || ref.size || 0;
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
  }
  return { rows: rows.length, objects, bytesFreed: bytes, errors };
}

// ---- orphan sweep -------------------------------------------------------------

export interface SweepOptions {
  /** Report only; remove nothing. */
  readonly dryRun?: boolean;
  /** Leave objects younger than this alone: a push may be between writing its file and its row (default 10 min). */
  readonly minAgeMs?: number;
  readonly now?: Date;
}

/** Bytes of each row read to find its envelope's references (the header is at the start). */
const HEAD_BYTES = 65536;

export interface SweepResult {
  readonly scanned: number;
  readonly referenced: number;
  readonly orphans: readonly { store: string; path: string; size: number }[];
  readonly removed: number;
  readonly bytesFreed: number;
}

/** The objects a row refers to, from the first bytes of its envelope (values can be large); the whole value only when the header is longer. */
async function headerRefs(store: XComStore, backend: HangarXComBackend, row: XComHead): Promise<{ store: string; path: string }[]> {
  const loc = locOf(row);
  const head = row.head;
  let bytes = head;
  if (head.byteLength >= 8) {
    const n = Buffer.from(head.buffer, head.byteOffset, head.byteLength).readUInt32BE(4);
    if (8 + n > head.byteLength) {
      const full = await store.xcoms.value(row);
      if (!full) return [];
      bytes = full;
    }
  }
  return backend.referencedObjects(loc, bytes);
}

/**
 * Finds files/objects in the XCom directory and the object store that no row
 * refers to (rows deleted by hand, crashes between a write and its row,
 * rotation interrupted between two steps) and removes them.
 */
export async function sweepOrphans(store: XComStore, backend: HangarXComBackend, opts: SweepOptions = {}): Promise<SweepResult> {
  const referenced = new Set<string>();
  for (const r of await store.xcoms.heads(HEAD_BYTES)) {
    try {
      for (const ref of await headerRefs(store, backend, r)) referenced.add(`${ref.store}\n${ref.path}`);
    } catch {
      /* a corrupt envelope refers to nothing we can trust; its objects stay until the row goes */
    }
  }
  const now = (opts.now ?? new Date()).getTime();
  const minAge = opts.minAgeMs ?? 10 * 60_000;
  const orphans: { store: string; path: string; size: number }[] = [];
  let scanned = 0;
  let removed = 0;
  let bytesFreed = 0;
  for (const blobs of backend.stores()) {
    for await (const o of blobs.list()) {
      scanned++;
      if (referenced.has(`${blobs.url}\n${o.path}`)) continue;
      if (now - o.mtimeMs < minAge) continue;
      orphans.push({ store: blobs.url, path: o.path, size: o.size });
      if (!opts.dryRun) {
        await blobs.delete(o.path);
        removed++;
        bytesFreed += o.size;
      }
    }
  }
  return { scanned, referenced: referenced.size, orphans, removed, bytesFreed };
}

// ---- decoding for `hangar xcom get` -------------------------------------------

export type IntegrityStatus = 'ok' | 'unverified' | XComErrorCode;

export interface IntegrityReport {
  readonly status: IntegrityStatus;
  readonly detail?: string;
}

export interface DecodedXCom {
  readonly loc: XComLocation;
  readonly chain: readonly string[];
  readonly sensitive: boolean;
  readonly sizeOriginal: number;
  readonly sizeStored: number;
  readonly createdAt: string;
  /** The envelope header; undefined for legacy rows (plain JSON). */
  readonly header: EnvelopeHeader | undefined;
}

export interface DecodedValue extends DecodedXCom {
  readonly kind: 'value';
  readonly value: unknown;
}

export interface RawXCom extends DecodedXCom {
  readonly kind: 'raw';
  /** The whole envelope as stored in the row. */
  readonly envelope: Uint8Array;
  /** Inline payload after the header (empty when offloaded). */
  readonly payload: Uint8Array;
  /** Offloaded object check (size, SHA-256), GCM tag check when a key is available, bounded decompression. */
  readonly integrity: IntegrityReport;
}

/**
 * One stored XCom: decoded (decrypting when a key is available), or with
 * `raw: true` the envelope and an integrity report (nothing decrypted is returned).
 */
export async function decodeXCom(store: XComStore, backend: HangarXComBackend, loc: XComLocation, opts: { raw: true }): Promise<RawXCom>;
export async function decodeXCom(store: XComStore, backend: HangarXComBackend, loc: XComLocation, opts?: { raw?: false }): Promise<DecodedValue>;
export async function decodeXCom(store: XComStore, backend: HangarXComBackend, loc: XComLocation, opts: { raw?: boolean } = {}): Promise<RawXCom | DecodedValue> {
  const row = await store.xcoms.get(loc.dagId, loc.runId, loc.taskId, loc.key, loc.mapIndex);
  if (!row) throw new XComError('not-found', loc, 'does not exist');
  let chain: string[] = [];
  try {
    chain = JSON.parse(row.chain) as string[];
  } catch {
    /* shown as empty */
  }
  const env = decodeEnvelope(loc, row.value);
  const base: DecodedXCom = {
    loc,
    chain,
    sensitive: row.sensitive === 1,
    sizeOriginal: row.size_original,
    sizeStored: row.size_stored,
    createdAt: row.created_at,
    header: env?.header,
  };
  if (!opts.raw) return { ...base, kind: 'value', value: await backend.deserialize(loc, row.value) };
  let integrity: IntegrityReport = { status: 'ok' };
  try {
    if (env) {
      const off = offloadOf(env.header);
      const payload = off ? await backend.fetch(loc, off) : env.payload;
      const enc = env.header.layers.some((l) => l.codec === 'aes-256-gcm');
      const keyId = (env.header.layers.find((l) => l.codec === 'aes-256-gcm') as EncryptionLayer | undefined)?.key_id;
      const keyring = enc ? await backend.ready() : undefined;
      if (enc && (!keyring || !keyId || !keyring.has(keyId))) {
        integrity = { status: 'unverified', detail: `encrypted with key "${keyId}", which is not available: the GCM tag was not checked` };
      } else {
        await backend.unwrap(loc, env.header, payload);
      }
    } else {
      JSON.parse(Buffer.from(row.value).toString('utf8'));
    }
  } catch (err) {
    integrity = { status: err instanceof XComError ? err.code : 'corrupt', detail: (err as Error).message };
  }
  return { ...base, kind: 'raw', envelope: row.value, payload: env?.payload ?? row.value, integrity };
}

// ---- lineage --------------------------------------------------------------------

export interface XComLineage {
  readonly loc: XComLocation;
  /** The task instance that pushed it (the row's own task and map index). */
  readonly pushedBy: { taskId: string; mapIndex: number; at: string };
  readonly pulledBy: { taskId: string; mapIndex: number; at: string }[];
  readonly chain: readonly string[];
  readonly sizeOriginal: number;
  readonly sizeStored: number;
}

/** Which task pushed each XCom of a run (or DAG) and which tasks pulled it. */
export async function listXComLineage(store: XComStore, filter: { dagId: string; runId?: string }): Promise<XComLineage[]> {
  const rows = await store.xcoms.listMeta({ dagId: filter.dagId, runId: filter.runId });
  const out: XComLineage[] = [];
  for (const r of rows) {
    out.push({
      loc: locOf(r),
      pushedBy: { taskId: r.task_id, mapIndex: r.map_index, at: r.created_at },
      pulledBy: await store.xcoms.pulls(r),
      chain: JSON.parse(r.chain) as string[],
      sizeOriginal: r.size_original,
      sizeStored: r.size_stored,
    });
  }
  return out;
}
