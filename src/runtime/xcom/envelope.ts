/**
 * The versioned envelope stored in `xcom.value` (format in docs/xcom-format.md):
 *
 *   bytes 0..3   magic "HXC" + format version (0x48 0x58 0x43 0x01)
 *   bytes 4..7   header length N, unsigned 32-bit big-endian
 *   bytes 8..8+N header, UTF-8 JSON (EnvelopeHeader)
 *   rest         payload: the stored bytes after every inline codec (empty when offloaded)
 *
 * Bytes without the magic are legacy rows (plain JSON), read with JSON.parse.
 */
import { Buffer } from 'node:buffer';
import type { XComLocation } from './types.ts';
import type { SerialFormat } from './serializer.ts';
import { XComError } from './errors.ts';

export const ENVELOPE_VERSION = 1;
export const ENVELOPE_MAGIC = Buffer.from([0x48, 0x58, 0x43, ENVELOPE_VERSION]);
const MAX_HEADER = 1 << 20;

export type CompressionAlgorithm = 'gzip' | 'zstd' | 'brotli';

/** The seed's `_xcom_compressed` fields, one per compression layer. */
export interface CompressionLayer {
  readonly codec: CompressionAlgorithm;
  readonly _xcom_compressed: true;
  readonly algorithm: CompressionAlgorithm;
  readonly original_size: number;
  readonly compressed_size: number;
  readonly compression_ratio: number;
}

/** The seed's `_xcom_encrypted` fields, without its plaintext checksum (integrity is the GCM tag). */
export interface EncryptionLayer {
  readonly codec: 'aes-256-gcm';
  readonly _xcom_encrypted: true;
  readonly encryption_algorithm: 'AES-256-GCM';
  readonly key_id: string;
  /** 12-byte nonce, base64. */
  readonly iv: string;
  /** 16-byte GCM tag, base64. */
  readonly tag: string;
  readonly encrypted_at: string;
}

/** The seed's `_xcom_file_backend` reference, with a SHA-256 checksum of the stored object. */
export interface OffloadLayer {
  readonly codec: 'file' | 's3';
  readonly _xcom_file_backend: true;
  /** `xcom-root` (the workspace's XCom directory), `file:///abs/dir` or `s3://bucket/prefix`. */
  readonly store: string;
  /** Path of the object, relative to the store (never absolute, never `..`). */
  readonly filepath: string;
  readonly size_bytes: number;
  readonly record_count: number;
  readonly created_at: string;
  /** `sha256:<hex>` of the stored object's bytes. */
  readonly checksum: string;
}

export type Layer = CompressionLayer | EncryptionLayer | OffloadLayer;

/** The hybrid backend's decision, recorded for the XCom browser. */
export interface HybridDecision {
  readonly compress: boolean;
  readonly encrypt: boolean;
  readonly offload: boolean;
  readonly estimated_ratio?: number;
  readonly reasons: readonly string[];
}

export interface EnvelopeHeader {
  readonly v: number;
  /** Serialization format then codec names, in the order applied. */
  readonly chain: readonly string[];
  readonly format: SerialFormat;
  readonly bytes_type?: 'Buffer' | 'Uint8Array';
  /** The backend that wrote the value. */
  readonly backend: string;
  readonly size_original: number;
  readonly record_count: number;
  readonly created_at: string;
  readonly sensitive: boolean;
  /** Why the value was treated as sensitive ("marked", "key name", "object key"), never the value. */
  readonly sensitive_reasons?: readonly string[];
  /** One entry per codec after the serialization format, in the order applied. */
  readonly layers: readonly Layer[];
  readonly decision?: HybridDecision;
  /** User file references held by the value: [store, filepath]; removed with the XCom. */
  readonly refs?: readonly (readonly [string, string])[];
}

export interface Envelope {
  readonly header: EnvelopeHeader;
  readonly payload: Buffer;
}

export function isEnvelope(data: Uint8Array): boolean {
  return data.byteLength >= 8 && data[0] === 0x48 && data[1] === 0x58 && data[2] === 0x43;
}

export function encodeEnvelope(header: EnvelopeHeader, payload: Uint8Array): Buffer {
  const h = Buffer.from(JSON.stringify(header), 'utf8');
  const out = Buffer.allocUnsafe(8 + h.byteLength + payload.byteLength);
  ENVELOPE_MAGIC.copy(out, 0);
  out.writeUInt32BE(h.byteLength, 4);
  h.copy(out, 8);
  out.set(payload, 8 + h.byteLength);
  return out;
}

function bad(loc: XComLocation, what: string): never {
  throw new XComError('corrupt', loc, `stored envelope is corrupt: ${what}`);
}

const isNum = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x) && x >= 0;
const isStr = (x: unknown): x is string => typeof x === 'string';

function checkLayer(loc: XComLocation, l: unknown, i: number): Layer {
  if (!l || typeof l !== 'object') bad(loc, `layer ${i} is not an object`);
  const o = l as Record<string, unknown>;
  switch (o.codec) {
    case 'gzip':
    case 'zstd':
    case 'brotli':
      if (o.algorithm !== o.codec || !isNum(o.original_size) || !isNum(o.compressed_size)) bad(loc, `compression layer ${i} is incomplete`);
      return o as unknown as CompressionLayer;
    case 'aes-256-gcm':
      if (!isStr(o.key_id) || !isStr(o.iv) || !isStr(o.tag)) bad(loc, `encryption layer ${i} is incomplete`);
      return o as unknown as EncryptionLayer;
    case 'file':
    case 's3':
      if (!isStr(o.store) || !isStr(o.filepath) || !isNum(o.size_bytes) || !isStr(o.checksum)) bad(loc, `file reference layer ${i} is incomplete`);
      return o as unknown as OffloadLayer;
    default:
      return bad(loc, `unknown codec ${JSON.stringify(o.codec)} (written by a newer Hangar?)`);
  }
}

/** Parses an envelope; returns undefined for legacy rows (plain JSON without the magic). */
export function decodeEnvelope(loc: XComLocation, data: Uint8Array): Envelope | undefined {
  if (!isEnvelope(data)) return undefined;
  const buf = Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (buf[3] !== ENVELOPE_VERSION) {
    throw new XComError('unsupported', loc, `envelope format version ${buf[3]} is not supported (this Hangar reads version ${ENVELOPE_VERSION})`);
  }
  const n = buf.readUInt32BE(4);
  if (n > MAX_HEADER || 8 + n > buf.byteLength) bad(loc, `header length ${n} exceeds the stored ${buf.byteLength} bytes`);
  let h: unknown;
  try {
    h = JSON.parse(buf.toString('utf8', 8, 8 + n));
  } catch {
    bad(loc, 'header is not JSON');
  }
  if (!h || typeof h !== 'object') bad(loc, 'header is not an object');
  const o = h as Record<string, unknown>;
  if (o.v !== ENVELOPE_VERSION) bad(loc, `header version ${JSON.stringify(o.v)}`);
  if (o.format !== 'json' && o.format !== 'typed-json' && o.format !== 'bytes') bad(loc, `unknown format ${JSON.stringify(o.format)}`);
  if (!Array.isArray(o.layers) || !Array.isArray(o.chain)) bad(loc, 'header without layers');
  const layers = (o.layers as unknown[]).map((l, i) => checkLayer(loc, l, i));
  const offloads = layers.filter((l) => l.codec === 'file' || l.codec === 's3');
  if (offloads.length > 1 || (offloads.length === 1 && layers[layers.length - 1] !== offloads[0])) bad(loc, 'a file reference must be the last layer');
  return { header: { ...(o as unknown as EnvelopeHeader), layers }, payload: buf.subarray(8 + n) };
}

/** The offload layer of a header, if the value lives outside the row. */
export function offloadOf(h: EnvelopeHeader): OffloadLayer | undefined {
  const last = h.layers[h.layers.length - 1];
  return last && (last.codec === 'file' || last.codec === 's3') ? last : undefined;
}
