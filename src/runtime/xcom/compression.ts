/**
 * Compression codecs (gzip, zstd, brotli) through node:zlib, with bounded
 * decompression: a stored-size limit and an output limit equal to the size
 * the envelope declares (itself capped), so a decompression bomb is an error,
 * never an out-of-memory.
 */
import { Buffer } from 'node:buffer';
import * as zlib from 'node:zlib';
import { promisify } from 'node:util';
import type { XComLocation } from './types.ts';
import type { CompressionAlgorithm } from './envelope.ts';
import { XComError } from './errors.ts';

export const COMPRESSION_ALGORITHMS: readonly CompressionAlgorithm[] = ['gzip', 'zstd', 'brotli'];

export interface CompressionLimits {
  /** Largest compressed payload accepted for decompression (default 1 GiB). */
  readonly maxStoredBytes?: number;
  /** Largest decompressed size accepted, whatever the envelope declares (default 1 GiB). */
  readonly maxDecompressedBytes?: number;
}

export const DEFAULT_LIMITS: Required<CompressionLimits> = { maxStoredBytes: 1 << 30, maxDecompressedBytes: 1 << 30 };

type ZFn = (buf: Uint8Array, opts: object) => Promise<Buffer>;

const gzip = promisify(zlib.gzip) as unknown as ZFn;
const gunzip = promisify(zlib.gunzip) as unknown as ZFn;
const brotliCompress = promisify(zlib.brotliCompress) as unknown as ZFn;
const brotliDecompress = promisify(zlib.brotliDecompress) as unknown as ZFn;
const z = zlib as unknown as Record<string, unknown>;
const zstdCompress = typeof z.zstdCompress === 'function' ? (promisify(z.zstdCompress as never) as unknown as ZFn) : undefined;
const zstdDecompress = typeof z.zstdDecompress === 'function' ? (promisify(z.zstdDecompress as never) as unknown as ZFn) : undefined;
const ZSTD_c_compressionLevel = 100; // ZSTD_cParameter value, stable in the zstd API

export function isCompressionAlgorithm(x: unknown): x is CompressionAlgorithm {
  return x === 'gzip' || x === 'zstd' || x === 'brotli';
}

/** Throws a clear error when zstd is asked for on a Node without it (it arrived in Node 22.15 / 23.8). */
export function assertAlgorithmAvailable(alg: CompressionAlgorithm, loc?: XComLocation): void {
  if (alg === 'zstd' && !zstdCompress) {
    throw new XComError(
      'unsupported',
      loc,
      `zstd compression needs Node >= 22.15 (node:zlib zstdCompress); this is Node ${process.version}. Use gzip or brotli, or upgrade Node`,
    );
  }
}

/** Default levels: gzip 6 (zlib's default), zstd 3, brotli 4 (quality 11 is ~50× slower for ~10% smaller output). */
export function defaultLevel(alg: CompressionAlgorithm): number {
  return alg === 'gzip' ? 6 : alg === 'zstd' ? 3 : 4;
}

export async function compress(alg: CompressionAlgorithm, data: Uint8Array, level = defaultLevel(alg), loc?: XComLocation): Promise<Buffer> {
  assertAlgorithmAvailable(alg, loc);
  switch (alg) {
    case 'gzip':
      return gzip(data, { level });
    case 'zstd':
      return zstdCompress!(data, { params: { [ZSTD_c_compressionLevel]: level } });
    case 'brotli':
      return brotliCompress(data, {
        params: {
          [zlib.constants.BROTLI_PARAM_QUALITY]: level,
          [zlib.constants.BROTLI_PARAM_SIZE_HINT]: data.byteLength,
        },
      });
  }
}

/**
 * Decompresses with bounds. `declaredSize` is the original size recorded in
 * the envelope: output beyond it is refused, and a declaration beyond the
 * limit is refused before any work is done.
 */
export async function decompress(
  loc: XComLocation,
  alg: CompressionAlgorithm,
  data: Uint8Array,
  declaredSize: number,
  limits: CompressionLimits = {},
): Promise<Buffer> {
  assertAlgorithmAvailable(alg, loc);
  const maxStored = limits.maxStoredBytes ?? DEFAULT_LIMITS.maxStoredBytes;
  const maxOut = limits.maxDecompressedBytes ?? DEFAULT_LIMITS.maxDecompressedBytes;
  if (data.byteLength > maxStored) {
    throw new XComError('too-large', loc, `compressed payload of ${data.byteLength} bytes exceeds the limit of ${maxStored} bytes`);
  }
  if (!Number.isSafeInteger(declaredSize) || declaredSize < 0 || declaredSize > maxOut) {
    throw new XComError('too-large', loc, `declares ${declaredSize} bytes once decompressed, over the limit of ${maxOut} bytes (decompression bomb?)`);
  }
  // +1 so that output longer than declared is detected rather than silently accepted at the limit.
  const opts = { maxOutputLength: Math.max(1, declaredSize + 1) };
  let out: Buffer;
  try {
    out =
      alg === 'gzip'
        ? await gunzip(data, opts)
        : alg === 'zstd'
          ? await zstdDecompress!(data, opts)
          : await brotliDecompress(data, opts);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
      throw new XComError('too-large', loc, `${alg} payload expands beyond its declared ${declaredSize} bytes (decompression bomb or tampering)`);
    }
    throw new XComError('corrupt', loc, `${alg} payload does not decompress (${e.message})`);
  }
  if (out.byteLength !== declaredSize) {
    throw new XComError(
      out.byteLength > declaredSize ? 'too-large' : 'corrupt',
      loc,
      `${alg} payload decompressed to ${out.byteLength} bytes, the envelope declares ${declaredSize}`,
    );
  }
  return out;
}

/**
 * Cheap compressibility estimate: deflate level 1 on up to three 8 KiB samples
 * (start, middle, end). Returns the estimated ratio (stored / original).
 */
export function estimateRatio(data: Uint8Array): number {
  const n = data.byteLength;
  if (n === 0) return 1;
  const S = 8192;
  let sample: Uint8Array;
  if (n <= 3 * S) sample = data;
  else {
    const mid = Math.floor(n / 2 - S / 2);
    sample = Buffer.concat([data.subarray(0, S), data.subarray(mid, mid + S), data.subarray(n - S)]);
  }
  const c = zlib.deflateRawSync(sample, { level: 1 });
  return c.byteLength / sample.byteLength;
}
