/**
 * Hangar's XCom backends. One class runs the chain
 *
 *   serialize → (compress if it pays) → (encrypt if sensitive) → inline, or offload to a store
 *
 * and each named backend is a policy over it:
 *
 * | backend     | compress                  | encrypt                 | offload                              |
 * |-------------|---------------------------|-------------------------|--------------------------------------|
 * | database    | no                        | no                      | never (inline in SQLite)             |
 * | file        | no                        | no                      | > fileThreshold (1 KiB) → XCom dir   |
 * | compressed  | > 100 B, when it pays     | no                      | never                                |
 * | encrypted   | no                        | sensitive (or all)      | never                                |
 * | hybrid      | sampled, when it pays     | sensitive, if a key     | > 64 KiB → object store or XCom dir  |
 * | s3          | no                        | no                      | > 1 KiB → object store               |
 *
 * Reading never depends on the policy: the envelope names every codec, so any
 * backend decodes any stored value (given the key and the store).
 */
import { Buffer } from 'node:buffer';
import { createHash } from 'node:crypto';
import type { KeyRepository } from '../store/repos/keys.ts';
import type { SerializeOptions, StoredXCom, XComBackend, XComLocation, XComLogFn } from './types.ts';
import type { CompressionAlgorithm, EnvelopeHeader, HybridDecision, Layer, OffloadLayer } from './envelope.ts';
import { decodeEnvelope, encodeEnvelope, offloadOf } from './envelope.ts';
import type { CompressionLimits } from './compression.ts';
import { assertAlgorithmAvailable, compress, decompress, defaultLevel, estimateRatio, isCompressionAlgorithm } from './compression.ts';
import type { KeySources } from './crypto.ts';
import { Keyring, checkPassphrase, decrypt, encrypt, keyFromPassphrase, loadFixedKeys, passphraseOf, recordEncryptions } from './crypto.ts';
import type { BlobStore, S3StoreOptions } from './stores.ts';
import { LocalDirStore, S3Store, objectPath } from './stores.ts';
import { SensitivityDetector, StreamingJson, decodeValue, encodeChunks, encodePrepared, prepareValue } from './serializer.ts';
import type { EncodedValue, PreparedValue } from './serializer.ts';
import { StringDecoder } from 'node:string_decoder';
import { XComError } from './errors.ts';
import { getConnection, s3AccessOf } from '../connections.ts';

export const BACKEND_NAMES = ['database', 'file', 'compressed', 'encrypted', 'hybrid', 's3'] as const;
export type BackendName = (typeof BACKEND_NAMES)[number];

/** Workspace configuration of XComs (`hangar.json` → `xcom`). Every field is optional. */
export interface XComOptions {
  /** Default backend (default `database`); a task or push may name another. */
  readonly backend?: string;
  /** File backend: values whose stored size exceeds this go to a file (default 1024 bytes). */
  readonly fileThreshold?: number;
  readonly compression?: {
    readonly algorithm?: CompressionAlgorithm;
    /** Compressed backend: values over this are compressed when it pays (default 100 bytes). */
    readonly threshold?: number;
    readonly level?: number;
  };
  readonly encryption?: KeySources & {
    /** Encrypted backend: encrypt every value, not only sensitive ones (default false). */
    readonly encryptAll?: boolean;
  };
  /** Keywords matched as words against XCom key names and object keys (default: the seed's). */
  readonly sensitiveKeywords?: readonly string[];
  /**
   * Where the s3 and hybrid backends offload: `s3://bucket/prefix` (with endpoint…) or `file:///abs/dir`.
   * `connection` names a Hangar connection (HANGAR_CONN_<ID> or hangar.json `connections`) whose login and
   * password are the access key id and secret, whose host and port (or `endpoint_url` extra) give the
   * endpoint (http on loopback, else https; `scheme` extra overrides) and whose `region_name` extra gives
   * the region: `aws://KEY_ID:SECRET@127.0.0.1:9000?region_name=us-east-1` (URL-encode the secret).
   */
  readonly objectStore?: Omit<S3StoreOptions, 'credentials'> & { readonly url: string; readonly connection?: string };
  /** S3 backend: values whose stored size exceeds this go to the object store (default 1024 bytes). */
  readonly objectStoreThreshold?: number;
  readonly hybrid?: {
    /** Compress when larger than this (default 256 bytes) and the sample estimate is below maxEstimatedRatio. */
    readonly compressThreshold?: number;
    /** Offload when the stored size exceeds this (default 64 KiB). */
    readonly offloadThreshold?: number;
    /** Compress only when a sample compresses below this ratio (default 0.9). */
    readonly maxEstimatedRatio?: number;
  };
  readonly limits?: CompressionLimits;
  readonly [option: string]: unknown;
}

export interface XComBackendContext {
  /** Absolute path of the workspace. */
  readonly workspaceRoot: string;
  /** Absolute path of the directory offloaded XCom files live under. */
  readonly xcomRoot: string;
  /** Keys handed over programmatically (e.g. from VS Code SecretStorage); merged with configured sources. */
  readonly keyring?: Keyring;
  /** The metadata store's key state: passphrase keys' scrypt salts, encryptions counted per key. */
  readonly keys?: KeyRepository;
  /** Credentials of the object store given programmatically; else from `objectStore.connection`; else the AWS SDK's provider chain. */
  readonly objectStoreCredentials?: S3StoreOptions['credentials'];
  /** The workspace's configured connections (hangar.json `connections`: id → URI), for `objectStore.connection`. */
  readonly connections?: Readonly<Record<string, string>>;
  readonly env?: NodeJS.ProcessEnv;
  readonly log?: XComLogFn;
}

interface Policy {
  readonly name: BackendName;
  readonly compress?: { readonly algorithm: CompressionAlgorithm; readonly level: number; readonly threshold: number; readonly sample?: number };
  readonly encrypt: 'never' | 'sensitive' | 'always';
  readonly requireKey: boolean;
  readonly offload?: { readonly store: BlobStore; readonly threshold: number };
  readonly hybrid: boolean;
}

/** Compression statistics since the backend was created (the seed's "performance monitoring"). */
export interface XComStats {
  values: number;
  bytesOriginal: number;
  bytesStored: number;
  compressed: Record<string, { values: number; before: number; after: number }>;
  encrypted: number;
  offloaded: number;
}

/** Offloaded JSON values larger than this are parsed as they stream (see fetchDecoded). */
const STREAM_PARSE = 16 << 20;
/** Read size and parse batch (characters) of a streamed parse. */
const STREAM_PIECE = 64 << 10;

const EXT: Record<string, string> = { json: 'json', 'typed-json': 'json', bytes: 'bin', gzip: 'gz', zstd: 'zst', brotli: 'br', 'aes-256-gcm': 'enc' };

/** File name extension of an object from the chain under it: json.gz, json.zst, bin, json.enc… */
export function extensionFor(chain: readonly string[]): string {
  return chain.map((x) => EXT[x] ?? 'bin').join('.');
}

function sha256(b: Uint8Array): string {
  return 'sha256:' + createHash('sha256').update(b).digest('hex');
}

/**
 * The S3 client's options: the configured ones, with credentials (and endpoint and region unless set
 * in the configuration) from the named connection. Without a connection or programmatic credentials the
 * AWS SDK's own chain applies (environment, profiles).
 */
function s3OptionsFrom(os: NonNullable<XComOptions['objectStore']>, ctx: XComBackendContext): S3StoreOptions {
  const { connection: id, ...rest } = os;
  if (id === undefined) return { ...rest, credentials: ctx.objectStoreCredentials };
  if (typeof id !== 'string') throw new XComError('config', undefined, 'XCom configuration: objectStore.connection must be a connection id');
  let access;
  try {
    access = s3AccessOf(getConnection(id, ctx.connections ?? {}, ctx.env ?? process.env));
  } catch (err) {
    throw new XComError('config', undefined, `XCom object store: ${(err as Error).message}`);
  }
  return {
    ...rest,
    endpoint: rest.endpoint ?? access.endpoint,
    region: rest.region ?? access.region,
    credentials: ctx.objectStoreCredentials ?? access.credentials,
  };
}

function positive(n: unknown, what: string, dflt: number): number {
  if (n === undefined) return dflt;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw new XComError('config', undefined, `XCom configuration: ${what} must be a number of bytes ≥ 0`);
  return n;
}

/** The XCom backend: one chain, six policies, any stored value readable. */
export class HangarXComBackend implements XComBackend {
  readonly name: BackendName;
  readonly localStore: LocalDirStore;
  readonly objectStore: BlobStore | undefined;
  readonly detector: SensitivityDetector;
  readonly limits: CompressionLimits;
  readonly stats: XComStats = { values: 0, bytesOriginal: 0, bytesStored: 0, compressed: {}, encrypted: 0, offloaded: 0 };
  private keyringValue: Keyring | undefined;
  private readonly options: XComOptions;
  private readonly policies = new Map<string, Policy>();
  private readonly log: XComLogFn;
  /** The store's key state, where encryptions per key are counted. */
  private readonly keys: KeyRepository | undefined;
  /** A passphrase key being derived (its salt is in the store); the keyring is complete once it settles. */
  private pending: Promise<void> | undefined;
  private pendingError: unknown;
  private warnedNoKey = false;

  constructor(options: XComOptions, ctx: XComBackendContext) {
    this.options = options;
    const name = options.backend ?? 'database';
    if (!(BACKEND_NAMES as readonly string[]).includes(name)) {
      throw new XComError('config', undefined, `Unknown XCom backend "${name}" in the workspace configuration (known: ${BACKEND_NAMES.join(', ')})`);
    }
    this.name = name as BackendName;
    this.log = ctx.log ?? (() => {});
    this.localStore = new LocalDirStore(ctx.xcomRoot);
    this.detector = new SensitivityDetector(options.sensitiveKeywords);
    this.limits = options.limits ?? {};
    const os = options.objectStore;
    if (os) {
      if (typeof os.url !== 'string') throw new XComError('config', undefined, 'XCom configuration: objectStore.url must be s3://bucket/prefix or file:///dir');
      this.objectStore = os.url.startsWith('file://')
        ? LocalDirStore.fromUrl(os.url)
        : new S3Store(s3OptionsFrom(os, ctx));
    }
    const alg = options.compression?.algorithm ?? 'gzip';
    if (!isCompressionAlgorithm(alg)) throw new XComError('config', undefined, `XCom configuration: unknown compression algorithm "${String(alg)}" (gzip, zstd, brotli)`);
    assertAlgorithmAvailable(alg);
    const k = options.encryption ?? {};
    this.keys = ctx.keys;
    const env = ctx.env ?? process.env;
    const pass = passphraseOf(k, env);
    if (pass) {
      if (!ctx.keys) throw new XComError('config', undefined, 'An XCom passphrase needs the metadata store (for its scrypt salt)');
      checkPassphrase(pass.id, pass.passphrase);
    }
    const fixed = loadFixedKeys(k, ctx.workspaceRoot, env);
    const keyringOf = (keys: typeof fixed.keys) => mergeKeyrings(ctx.keyring, keys.length ? new Keyring(keys, k.primaryKeyId ?? fixed.primary) : undefined, k.primaryKeyId);
    if (!pass) this.keyringValue = keyringOf(fixed.keys);
    else {
      // The salt is read (or created) in the store: the keyring is complete when ready() resolves.
      const p: Promise<void> = keyFromPassphrase(ctx.keys!, pass.id, pass.passphrase).then(
        (key) => {
          if (this.pending !== p) return; // replaced by setKeyring meanwhile
          this.keyringValue = keyringOf([...fixed.keys, key]);
          this.pending = undefined;
        },
        (err: unknown) => {
          if (this.pending !== p) return;
          this.pendingError = err;
          this.pending = undefined;
        },
      );
      this.pending = p;
    }
    this.policy(this.name); // validate the default now
  }

  /** The keyring; with a passphrase key, complete only once ready() has resolved. */
  get keyring(): Keyring | undefined {
    return this.keyringValue;
  }

  /** The complete keyring, once a passphrase key is derived (throws what deriving it threw). */
  async ready(): Promise<Keyring | undefined> {
    if (this.pending) await this.pending;
    if (this.pendingError !== undefined) throw this.pendingError;
    return this.keyringValue;
  }

  /** Whether the keyring is complete (no passphrase key being derived, none failed): the hot paths skip a wait. */
  private settled(): boolean {
    return this.pending === undefined && this.pendingError === undefined;
  }

  /** Replaces the keyring (keys from SecretStorage arrive after start-up, or after rotation). */
  setKeyring(keyring: Keyring | undefined): void {
    this.pending = undefined;
    this.pendingError = undefined;
    this.keyringValue = keyring;
  }

  private policy(name: string): Policy {
    const cached = this.policies.get(name);
    if (cached) return cached;
    const o = this.options;
    const alg = o.compression?.algorithm ?? 'gzip';
    const level = o.compression?.level ?? defaultLevel(alg);
    let p: Policy;
    switch (name) {
      case 'database':
        p = { name, encrypt: 'never', requireKey: false, hybrid: false };
        break;
      case 'file':
        p = { name, encrypt: 'never', requireKey: false, hybrid: false, offload: { store: this.localStore, threshold: positive(o.fileThreshold, 'fileThreshold', 1024) } };
        break;
      case 'compressed':
        p = { name, encrypt: 'never', requireKey: false, hybrid: false, compress: { algorithm: alg, level, threshold: positive(o.compression?.threshold, 'compression.threshold', 100) } };
        break;
      case 'encrypted':
        p = { name, encrypt: o.encryption?.encryptAll ? 'always' : 'sensitive', requireKey: true, hybrid: false };
        break;
      case 'hybrid':
        p = {
          name,
          encrypt: 'sensitive',
          requireKey: false,
          hybrid: true,
          compress: {
            algorithm: alg,
            level,
            threshold: positive(o.hybrid?.compressThreshold, 'hybrid.compressThreshold', 256),
            sample: o.hybrid?.maxEstimatedRatio ?? 0.9,
          },
          offload: { store: this.objectStore ?? this.localStore, threshold: positive(o.hybrid?.offloadThreshold, 'hybrid.offloadThreshold', 64 * 1024) },
        };
        break;
      case 's3':
        if (!this.objectStore) {
          throw new XComError('config', undefined, 'The s3 XCom backend needs xcom.objectStore.url (s3://bucket/prefix or file:///dir) in the workspace configuration');
        }
        p = { name, encrypt: 'never', requireKey: false, hybrid: false, offload: { store: this.objectStore, threshold: positive(o.objectStoreThreshold, 'objectStoreThreshold', 1024) } };
        break;
      default:
        throw new XComError('config', undefined, `Unknown XCom backend "${name}" (known: ${BACKEND_NAMES.join(', ')})`);
    }
    this.policies.set(name, p);
    return p;
  }

  /** The store a reference names; only configured stores are ever touched. */
  storeFor(loc: XComLocation | undefined, url: string): BlobStore {
    if (url === 'xcom-root') return this.localStore;
    if (this.objectStore && this.objectStore.url === url) return this.objectStore;
    throw new XComError('config', loc, `lives in ${url}, which is not the configured object store (${this.objectStore?.url ?? 'none'})`);
  }

  /** Stores to sweep for orphans. */
  stores(): BlobStore[] {
    return this.objectStore ? [this.localStore, this.objectStore] : [this.localStore];
  }

  async serialize(loc: XComLocation, value: unknown, opts: SerializeOptions = {}): Promise<StoredXCom> {
    const policy = this.policy(opts.backend ?? this.name);
    const prepared = prepareValue(loc, value, { detector: opts.sensitive === undefined ? this.detector : undefined });
    let sensitive: boolean;
    const sensitiveReasons: string[] = [];
    if (opts.sensitive !== undefined) {
      sensitive = opts.sensitive;
      if (sensitive) sensitiveReasons.push('marked sensitive');
    } else {
      if (this.detector.isSensitiveName(loc.key)) sensitiveReasons.push(`key name "${loc.key}"`);
      for (const k of prepared.sensitiveKeys) sensitiveReasons.push(`object key "${k}"`);
      sensitive = sensitiveReasons.length > 0;
    }
    const wantEncrypt = policy.encrypt === 'always' || (policy.encrypt === 'sensitive' && sensitive);
    // Offloaded with no inline codec (file and s3 backends): written to the store in chunks, never whole.
    const streamed = policy.offload && !policy.compress && !wantEncrypt ? await this.serializeStreamed(loc, prepared, policy, sensitive, sensitiveReasons) : undefined;
    if (streamed) return streamed;
    const enc: EncodedValue = { ...prepared, bytes: encodePrepared(prepared) };
    const reasons: string[] = [];
    const layers: Layer[] = [];
    const chain: string[] = [enc.format];
    let data: Buffer = enc.bytes;
    const sizeOriginal = data.byteLength;
    let estimated: number | undefined;

    // 1. compress first, when it pays
    const c = policy.compress;
    if (c) {
      let want = data.byteLength > c.threshold;
      if (!want) reasons.push(`${data.byteLength} B is not over the compression threshold of ${c.threshold} B`);
      if (want && c.sample === undefined && data.byteLength >= 64 * 1024) {
        // Large and hopeless (random bytes, already compressed): a sample says so for a fraction of the cost.
        estimated = estimateRatio(data);
        if (estimated > 0.98) {
          want = false;
          reasons.push(`a sample compresses only to ${estimated.toFixed(2)}: stored uncompressed`);
        }
      }
      if (want && c.sample !== undefined) {
        estimated = estimateRatio(data);
        if (estimated > c.sample) {
          want = false;
          reasons.push(`a sample compresses only to ${estimated.toFixed(2)}: not worth compressing`);
        }
      }
      if (want) {
        const out = await compress(c.algorithm, data, c.level, loc);
        const ratio = out.byteLength / data.byteLength;
        if (out.byteLength < data.byteLength) {
          layers.push({
            codec: c.algorithm,
            _xcom_compressed: true,
            algorithm: c.algorithm,
            original_size: data.byteLength,
            compressed_size: out.byteLength,
            compression_ratio: Math.round(ratio * 10_000) / 10_000,
          });
          chain.push(c.algorithm);
          const s = (this.stats.compressed[c.algorithm] ??= { values: 0, before: 0, after: 0 });
          s.values++;
          s.before += data.byteLength;
          s.after += out.byteLength;
          this.log('debug', `XCom "${loc.key}" of task "${loc.taskId}": ${c.algorithm} ${data.byteLength} → ${out.byteLength} bytes (ratio ${ratio.toFixed(3)})`);
          reasons.push(`${c.algorithm} shrank ${data.byteLength} B to ${out.byteLength} B`);
          data = out;
        } else {
          reasons.push(`${c.algorithm} gave ratio ${ratio.toFixed(3)} ≥ 1: kept the original`);
          this.log('debug', `XCom "${loc.key}" of task "${loc.taskId}": ${c.algorithm} did not pay (ratio ${ratio.toFixed(3)}), stored uncompressed`);
        }
      }
    }

    // 2. encrypt when sensitive (or always)
    let encrypted = false;
    if (wantEncrypt) {
      const keyring = this.settled() ? this.keyringValue : await this.ready();
      if (!keyring) {
        if (policy.requireKey) {
          throw new XComError(
            'no-key',
            loc,
            `is sensitive (${sensitiveReasons.join(', ') || 'encrypt all'}) and the encrypted backend has no key: set HANGAR_XCOM_KEYS, xcom.encryption.keyFile or a passphrase`,
          );
        }
        reasons.push('sensitive, but no XCom key is configured: stored unencrypted');
        if (!this.warnedNoKey) {
          this.warnedNoKey = true;
          this.log('warn', `Sensitive XComs are stored unencrypted because no XCom key is configured (first: ${loc.key} of task ${loc.taskId})`);
        }
      } else {
        const r = encrypt(keyring, loc, chain, data);
        const warning = await recordEncryptions(this.keys, keyring.primaryId);
        if (warning) this.log('warn', warning);
        layers.push(r.layer);
        chain.push('aes-256-gcm');
        data = r.ciphertext;
        encrypted = true;
        this.stats.encrypted++;
        reasons.push(`sensitive: encrypted with key "${keyring.primaryId}"`);
      }
    }

    // 3. offload when large
    const off = policy.offload;
    let sizeStored = data.byteLength;
    const createdAt = new Date().toISOString();
    if (off && data.byteLength > off.threshold) {
      const path = objectPath(loc, extensionFor(chain));
      const put = await off.store.put(loc, path, data, { stableChunks: true });
      const layer: OffloadLayer = {
        codec: off.store.codec,
        _xcom_file_backend: true,
        store: off.store.url,
        filepath: path,
        size_bytes: put.size,
        record_count: enc.recordCount,
        created_at: createdAt,
        checksum: put.checksum,
      };
      layers.push(layer);
      chain.push(off.store.codec);
      reasons.push(`${data.byteLength} B is over the offload threshold of ${off.threshold} B: stored in ${off.store.url}`);
      sizeStored = put.size;
      data = Buffer.alloc(0);
      this.stats.offloaded++;
    } else if (off) {
      reasons.push(`${data.byteLength} B fits inline (offload threshold ${off.threshold} B)`);
    }

    let decision: HybridDecision | undefined;
    if (policy.hybrid) {
      decision = {
        compress: layers.some((l) => l.codec === 'gzip' || l.codec === 'zstd' || l.codec === 'brotli'),
        encrypt: encrypted,
        offload: layers.some((l) => l.codec === 'file' || l.codec === 's3'),
        ...(estimated !== undefined ? { estimated_ratio: Math.round(estimated * 1000) / 1000 } : {}),
        reasons,
      };
    }
    const header: EnvelopeHeader = {
      v: 1,
      chain,
      format: enc.format,
      ...(enc.bytesType ? { bytes_type: enc.bytesType } : {}),
      backend: policy.name,
      size_original: sizeOriginal,
      record_count: enc.recordCount,
      created_at: createdAt,
      sensitive,
      ...(sensitiveReasons.length ? { sensitive_reasons: sensitiveReasons } : {}),
      layers,
      ...(decision ? { decision } : {}),
      ...(enc.fileRefs.length ? { refs: enc.fileRefs } : {}),
    };
    this.stats.values++;
    this.stats.bytesOriginal += sizeOriginal;
    this.stats.bytesStored += sizeStored;
    return { data: encodeEnvelope(header, data), chain, sizeOriginal, sizeStored, sensitive };
  }

  /**
   * The file and s3 backends' path: the value is written in chunks; the first
   * chunks are held only until they pass the offload threshold (a small value
   * stays inline), then everything streams to the store.
   */
  private async serializeStreamed(
    loc: XComLocation,
    prepared: PreparedValue,
    policy: Policy,
    sensitive: boolean,
    sensitiveReasons: readonly string[],
  ): Promise<StoredXCom | undefined> {
    const off = policy.offload!;
    const chunks = encodeChunks(prepared, Math.max(64 * 1024, Math.min(1 << 20, off.threshold + 1)));
    const head: Buffer[] = [];
    let headBytes = 0;
    let done = false;
    while (headBytes <= off.threshold) {
      const n = chunks.next();
      if (n.done) {
        done = true;
        break;
      }
      head.push(n.value);
      headBytes += n.value.byteLength;
    }
    const chain: string[] = [prepared.format];
    const createdAt = new Date().toISOString();
    const reasons: string[] = [];
    let data: Buffer;
    let sizeOriginal: number;
    let sizeStored: number;
    const layers: Layer[] = [];
    if (done) {
      data = head.length === 1 ? head[0]! : Buffer.concat(head, headBytes);
      sizeOriginal = sizeStored = headBytes;
      reasons.push(`${headBytes} B fits inline (offload threshold ${off.threshold} B)`);
    } else {
      const path = objectPath(loc, extensionFor(chain));
      let total = 0;
      const source = (function* () {
        for (const b of head) {
          total += b.byteLength;
          yield b;
        }
        head.length = 0;
        for (const b of chunks) {
          total += b.byteLength;
          yield b;
        }
      })();
      const put = await off.store.put(loc, path, source, { stableChunks: true });
      sizeOriginal = total;
      sizeStored = put.size;
      layers.push({
        codec: off.store.codec,
        _xcom_file_backend: true,
        store: off.store.url,
        filepath: path,
        size_bytes: put.size,
        record_count: prepared.recordCount,
        created_at: createdAt,
        checksum: put.checksum,
      });
      chain.push(off.store.codec);
      reasons.push(`${total} B is over the offload threshold of ${off.threshold} B: stored in ${off.store.url}`);
      data = Buffer.alloc(0);
      this.stats.offloaded++;
    }
    if (sensitive) reasons.push('sensitive, stored unencrypted: the ' + policy.name + ' backend does not encrypt');
    const header: EnvelopeHeader = {
      v: 1,
      chain,
      format: prepared.format,
      ...(prepared.bytesType ? { bytes_type: prepared.bytesType } : {}),
      backend: policy.name,
      size_original: sizeOriginal,
      record_count: prepared.recordCount,
      created_at: createdAt,
      sensitive,
      ...(sensitiveReasons.length ? { sensitive_reasons: sensitiveReasons } : {}),
      layers,
      ...(prepared.fileRefs.length ? { refs: prepared.fileRefs } : {}),
    };
    this.stats.values++;
    this.stats.bytesOriginal += sizeOriginal;
    this.stats.bytesStored += sizeStored;
    return { data: encodeEnvelope(header, data), chain, sizeOriginal, sizeStored, sensitive };
  }

  /**
   * Reads an offloaded JSON value with no inline codec chunk by chunk, checking
   * size and SHA-256 as it goes (nothing is returned before both are checked).
   * A top-level array is parsed a batch of elements at a time and a top-level
   * string a fragment at a time, so neither the bytes nor the whole text are held
   * next to the result; anything else is parsed from the text once read.
   */
  private async fetchDecoded(loc: XComLocation, off: OffloadLayer, format: 'json' | 'typed-json'): Promise<unknown> {
    const store = this.storeFor(loc, off.store);
    // Every chunk is hashed and decoded before the next is read, so a local file can be read into one reused buffer.
    const streaming = off.size_bytes > STREAM_PARSE;
    // Streaming, the text arrives in pieces below V8's large-object size (~128 KiB), which die young in the
    // new space; 1 MiB pieces were large objects that lingered until a full GC (100 MiB of records: 3.3× → 2.6× peak RSS).
    const src = store instanceof LocalDirStore ? store.readReusing(loc, off.filepath, streaming ? STREAM_PIECE : 1 << 20) : await store.stream(loc, off.filepath);
    const h = createHash('sha256');
    const dec = new StringDecoder('utf8');
    // Up to STREAM_PARSE bytes the text is gathered and parsed at once (faster); above, parsed as it streams.
    const parser = new StreamingJson(loc, format, STREAM_PIECE, !streaming);
    let size = 0;
    // A parse error is reported only once the bytes are known to be intact (else it is the file that is damaged).
    let parseError: unknown;
    const feed = (text: string) => {
      if (parseError !== undefined) return;
      try {
        parser.write(text);
      } catch (err) {
        parseError = err;
      }
    };
    try {
      for await (const chunk of src as AsyncIterable<Uint8Array>) {
        size += chunk.byteLength;
        if (size > off.size_bytes) throw new XComError('corrupt', loc, `its file ${off.filepath} is longer than the ${off.size_bytes} bytes the reference says`);
        h.update(chunk);
        feed(dec.write(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
      }
      if (size < off.size_bytes) throw new XComError('truncated', loc, `its file ${off.filepath} is truncated: ${size} of ${off.size_bytes} bytes`);
      if ('sha256:' + h.digest('hex') !== off.checksum) throw new XComError('checksum', loc, `its file ${off.filepath} is corrupt: SHA-256 does not match the reference`);
      feed(dec.end());
      if (parseError !== undefined) throw parseError;
      return parser.end();
    } finally {
      (src as { destroy?: () => void }).destroy?.();
    }
  }

  /** Fetches an offloaded object and checks its size and SHA-256. */
  async fetch(loc: XComLocation, off: OffloadLayer): Promise<Buffer> {
    const store = this.storeFor(loc, off.store);
    const local = store instanceof LocalDirStore ? await store.getHashed(loc, off.filepath) : undefined;
    const bytes = local ? local.bytes : await store.get(loc, off.filepath);
    if (bytes.byteLength < off.size_bytes) {
      throw new XComError('truncated', loc, `its file ${off.filepath} is truncated: ${bytes.byteLength} of ${off.size_bytes} bytes`);
    }
    if (bytes.byteLength > off.size_bytes) {
      throw new XComError('corrupt', loc, `its file ${off.filepath} has ${bytes.byteLength} bytes, the reference says ${off.size_bytes}`);
    }
    if ((local ? local.checksum : sha256(bytes)) !== off.checksum) {
      throw new XComError('checksum', loc, `its file ${off.filepath} is corrupt: SHA-256 does not match the reference`);
    }
    return bytes;
  }

  /** Undoes the inline codecs (decrypt, decompress) of an envelope payload. */
  async unwrap(loc: XComLocation, header: EnvelopeHeader, payload: Buffer, upTo = 0): Promise<Buffer> {
    let data = payload;
    const layers = header.layers;
    for (let i = layers.length - 1; i >= upTo; i--) {
      const l = layers[i]!;
      if (l.codec === 'file' || l.codec === 's3') continue;
      const inner = [header.format, ...layers.slice(0, i).map((x) => x.codec)];
      if (l.codec === 'aes-256-gcm') data = decrypt(this.settled() ? this.keyringValue : await this.ready(), loc, l, inner, data);
      else if (l.codec === 'gzip' || l.codec === 'zstd' || l.codec === 'brotli') data = await decompress(loc, l.algorithm, data, l.original_size, this.limits);
    }
    return data;
  }

  async deserialize(loc: XComLocation, data: Uint8Array): Promise<unknown> {
    const env = decodeEnvelope(loc, data);
    if (!env) {
      // Legacy row: plain JSON as written by the first runtime.
      try {
        return JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
      } catch {
        throw new XComError('corrupt', loc, 'stored value is neither a Hangar envelope nor JSON');
      }
    }
    const off = offloadOf(env.header);
    if (off && env.header.layers.length === 1 && env.header.format !== 'bytes') {
      // Offloaded JSON with no inline codec: read and parsed as it streams (see fetchDecoded).
      if (off.size_bytes !== env.header.size_original) {
        throw new XComError('corrupt', loc, `its file reference says ${off.size_bytes} bytes, the envelope declares ${env.header.size_original}`);
      }
      return this.fetchDecoded(loc, off, env.header.format);
    }
    const payload = off ? await this.fetch(loc, off) : env.payload;
    const plain = await this.unwrap(loc, env.header, payload);
    if (plain.byteLength !== env.header.size_original) {
      throw new XComError('corrupt', loc, `decoded to ${plain.byteLength} bytes, the envelope declares ${env.header.size_original}`);
    }
    return decodeValue(loc, env.header.format, plain, env.header.bytes_type);
  }

  /** Objects an envelope points at outside its row: the offloaded value and user file references. */
  referencedObjects(loc: XComLocation, data: Uint8Array): { store: string; path: string; size?: number }[] {
    const env = decodeEnvelope(loc, data);
    if (!env) return [];
    const out: { store: string; path: string; size?: number }[] = [];
    const off = offloadOf(env.header);
    if (off) out.push({ store: off.store, path: off.filepath, size: off.size_bytes });
    for (const r of env.header.refs ?? []) if (Array.isArray(r) && typeof r[0] === 'string' && typeof r[1] === 'string') out.push({ store: r[0], path: r[1] });
    return out;
  }

  async purge(loc: XComLocation, data: Uint8Array): Promise<void> {
    let refs: { store: string; path: string }[];
    try {
      refs = this.referencedObjects(loc, data);
    } catch (err) {
      this.log('warn', `Could not read the envelope of a removed XCom to clean its files: ${(err as Error).message}`);
      return;
    }
    for (const r of refs) {
      try {
        await this.storeFor(loc, r.store).delete(r.path);
      } catch (err) {
        this.log('warn', `Could not remove ${r.path} of a removed XCom: ${(err as Error).message}`);
      }
    }
  }

  close(): void {
    this.objectStore?.close?.();
  }
}

function mergeKeyrings(given: Keyring | undefined, loaded: Keyring | undefined, primary: string | undefined): Keyring | undefined {
  if (!given) return loaded;
  if (!loaded) return given;
  const keys = [...given.ids.map((id) => ({ id, key: given.material(id)! }))];
  for (const id of loaded.ids) if (!given.has(id)) keys.push({ id, key: loaded.material(id)! });
  return new (given.constructor as typeof Keyring)(keys, primary ?? given.primaryId);
}
