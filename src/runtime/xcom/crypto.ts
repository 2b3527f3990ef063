/**
 * AES-256-GCM for sensitive XComs, and the keyring it uses.
 *
 * - A fresh random 96-bit nonce per value.
 * - Associated data binds the ciphertext to its place (format version, key id,
 *   DAG, run, task, map index, key, and the codecs under the encryption), so a
 *   ciphertext copied to another row does not decrypt.
 * - The keyring lists keys by id; the primary encrypts, every key decrypts.
 *
 * Keys come from (in order of precedence for the primary): keys handed over
 * programmatically (VS Code SecretStorage through the protocol), an environment
 * variable, a key file outside the workspace, or a passphrase stretched with
 * scrypt and a salt stored in the database. Key material never appears in errors.
 */
import { Buffer } from 'node:buffer';
import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { relative, isAbsolute, resolve, dirname, basename, join } from 'node:path';
import type { KeyRepository } from '../store/repos/keys.ts';
import type { XComLocation } from './types.ts';
import type { EncryptionLayer } from './envelope.ts';
import { ENVELOPE_VERSION } from './envelope.ts';
import { XComError } from './errors.ts';

export const KEY_BYTES = 32;
export const NONCE_BYTES = 12;
export const TAG_BYTES = 16;
const KEY_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

export interface XComKey {
  readonly id: string;
  /** 32 bytes of key material. */
  readonly key: Uint8Array;
}

/** Keys by id; the primary encrypts, all decrypt. */
export class Keyring {
  readonly primaryId: string;
  private readonly keys: Map<string, Buffer>;

  constructor(keys: readonly XComKey[], primaryId?: string) {
    if (keys.length === 0) throw new XComError('config', undefined, 'An XCom keyring needs at least one key');
    this.keys = new Map();
    for (const k of keys) {
      if (!KEY_ID_RE.test(k.id)) throw new XComError('config', undefined, `XCom key id ${JSON.stringify(k.id)} is invalid (1-64 of A-Z a-z 0-9 . _ -)`);
      if (k.key.byteLength !== KEY_BYTES) {
        throw new XComError('config', undefined, `XCom key "${k.id}" has ${k.key.byteLength} bytes; AES-256 needs ${KEY_BYTES}`);
      }
      if (this.keys.has(k.id)) throw new XComError('config', undefined, `XCom key id "${k.id}" is listed twice`);
      this.keys.set(k.id, Buffer.from(k.key));
    }
    this.primaryId = primaryId ?? keys[0]!.id;
    if (!this.keys.has(this.primaryId)) throw new XComError('config', undefined, `The primary XCom key "${this.primaryId}" is not in the keyring`);
  }

  get ids(): string[] {
    return [...this.keys.keys()];
  }

  has(id: string): boolean {
    return this.keys.has(id);
  }

  /** @internal key material; never log it. */
  material(id: string): Buffer | undefined {
    return this.keys.get(id);
  }

  /** A keyring with another primary (must be listed). */
  withPrimary(id: string): Keyring {
    return new Keyring(
      this.ids.map((k) => ({ id: k, key: this.keys.get(k)! })),
      id,
    );
  }

  /** Keeps secrets out of console.log / JSON.stringify. */
  toJSON(): { primaryId: string; ids: string[] } {
    return { primaryId: this.primaryId, ids: this.ids };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `Keyring(primary=${this.primaryId}, ids=${this.ids.join(',')})`;
  }
}

/** A new random key as base64 (what `hangar xcom gen-key` prints). */
export function generateXComKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

/** Parses 32 bytes of key material written as base64, base64url or 64 hex digits. */
export function parseKeyMaterial(text: string, where: string): Buffer {
  const t = text.trim();
  let b: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(t)) b = Buffer.from(t, 'hex');
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) b = Buffer.from(t, t.includes('-') || t.includes('_') ? 'base64url' : 'base64');
  if (!b || b.byteLength !== KEY_BYTES) {
    throw new XComError('config', undefined, `${where}: a key must be 32 bytes written as base64 (44 characters) or hex (64 digits)`);
  }
  return b;
}

/**
 * Keys from an environment variable: `id1:KEY1,id2:KEY2`; the first is the
 * primary. A bare `KEY` gets the id `env`.
 */
export function keysFromEnv(varName = 'HANGAR_XCOM_KEYS', env: NodeJS.ProcessEnv = process.env): XComKey[] {
  const raw = env[varName];
  if (raw === undefined || raw.trim() === '') return [];
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((entry, i) => {
      const colon = entry.indexOf(':');
      const id = colon > 0 ? entry.slice(0, colon) : i === 0 ? 'env' : `env${i}`;
      const material = colon > 0 ? entry.slice(colon + 1) : entry;
      return { id, key: parseKeyMaterial(material, `environment variable ${varName}, key "${id}"`) };
    });
}

function isInside(root: string, p: string): boolean {
  const r = relative(root, p);
  return r === '' || (!r.startsWith('..') && !isAbsolute(r));
}

/**
 * Keys from a JSON key file `{ "primary": "k2", "keys": { "k2": "base64…", "k1": "base64…" } }`.
 * The file must lie outside the workspace (so it is not committed or synced with it)
 * and must not be readable by group or others.
 */
export function keysFromFile(path: string, workspaceRoot: string): { keys: XComKey[]; primary?: string } {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    throw new XComError('config', undefined, `XCom key file ${path} does not exist`);
  }
  let realRoot = resolve(workspaceRoot);
  try {
    realRoot = realpathSync(workspaceRoot);
  } catch {
    /* workspace may not exist yet */
  }
  if (isInside(realRoot, real)) {
    throw new XComError('config', undefined, `XCom key file ${path} is inside the workspace ${workspaceRoot}; keep keys outside it`);
  }
  const st = statSync(real);
  if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
    throw new XComError('config', undefined, `XCom key file ${path} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); run chmod 600 on it`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(real, 'utf8'));
  } catch {
    throw new XComError('config', undefined, `XCom key file ${path} is not valid JSON`);
  }
  const o = parsed as { primary?: unknown; keys?: unknown };
  if (!o || typeof o !== 'object' || !o.keys || typeof o.keys !== 'object') {
    throw new XComError('config', undefined, `XCom key file ${path} must hold {"primary": id, "keys": {id: base64}}`);
  }
  const keys = Object.entries(o.keys as Record<string, unknown>).map(([id, v]) => ({
    id,
    key: parseKeyMaterial(String(v), `XCom key file ${basename(path)} in ${dirname(path)}, key "${id}"`),
  }));
  return { keys, primary: typeof o.primary === 'string' ? o.primary : undefined };
}

export interface ScryptParams {
  readonly N: number;
  readonly r: number;
  readonly p: number;
}

export const DEFAULT_SCRYPT: ScryptParams = { N: 1 << 15, r: 8, p: 1 };

/**
 * A key from a passphrase, stretched with scrypt. The salt (random, 16 bytes)
 * and parameters are created on first use and stored in `xcom_keys`, so the
 * same passphrase gives the same key on every machine sharing the database.
 */
export async function keyFromPassphrase(keys: KeyRepository, id: string, passphrase: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<XComKey> {
  checkPassphrase(id, passphrase);
  const row = await keys.saltOrCreate(id, () => ({ kdf: 'scrypt', salt: randomBytes(16), params: JSON.stringify(params) }));
  const p = JSON.parse(row.params) as ScryptParams;
  const key = await new Promise<Buffer>((resolve, reject) =>
    scrypt(passphrase.normalize('NFC'), Buffer.from(row.salt), KEY_BYTES, { N: p.N, r: p.r, p: p.p, maxmem: 256 * p.N * p.r + (1 << 20) }, (err, k) => (err ? reject(err) : resolve(k))),
  );
  return { id, key };
}

/** The checks of a passphrase key that need no store (so a bad configuration fails at once). */
export function checkPassphrase(id: string, passphrase: string): void {
  if (!KEY_ID_RE.test(id)) throw new XComError('config', undefined, `XCom key id ${JSON.stringify(id)} is invalid`);
  if (passphrase.length < 8) throw new XComError('config', undefined, `The XCom passphrase for key "${id}" is shorter than 8 characters`);
}

export interface KeySources {
  /** Keys handed over programmatically (VS Code SecretStorage via the protocol). */
  readonly keys?: readonly XComKey[];
  /** Environment variable holding `id:base64,…` (default HANGAR_XCOM_KEYS). */
  readonly keyEnv?: string;
  /** Path of a key file outside the workspace. */
  readonly keyFile?: string;
  /** Environment variable holding a passphrase (default HANGAR_XCOM_PASSPHRASE), stretched with scrypt. */
  readonly passphraseEnv?: string;
  /** A passphrase given directly (e.g. prompted for). */
  readonly passphrase?: string;
  /** Id of the passphrase key (default `passphrase`). */
  readonly passphraseKeyId?: string;
  /** Which key encrypts; default the first key found. */
  readonly primaryKeyId?: string;
}

/** The passphrase the sources configure (given, or from its environment variable), if any. */
export function passphraseOf(sources: KeySources, env: NodeJS.ProcessEnv = process.env): { id: string; passphrase: string } | undefined {
  const pass = sources.passphrase ?? env[sources.passphraseEnv ?? 'HANGAR_XCOM_PASSPHRASE'];
  return pass ? { id: sources.passphraseKeyId ?? 'passphrase', passphrase: pass } : undefined;
}

/**
 * Builds the keyring from every configured source; undefined when there are no keys at all.
 * A passphrase needs the store's key repository (for its scrypt salt).
 */
export async function loadKeyring(
  sources: KeySources,
  ctx: { workspaceRoot: string; keys?: KeyRepository; env?: NodeJS.ProcessEnv },
): Promise<Keyring | undefined> {
  const env = ctx.env ?? process.env;
  const pass = passphraseOf(sources, env);
  if (pass) {
    if (!ctx.keys) throw new XComError('config', undefined, 'An XCom passphrase needs the metadata store (for its scrypt salt)');
    checkPassphrase(pass.id, pass.passphrase);
  }
  const fixed = loadFixedKeys(sources, ctx.workspaceRoot, env);
  const all = [...fixed.keys];
  if (pass) all.push(await keyFromPassphrase(ctx.keys!, pass.id, pass.passphrase));
  if (all.length === 0) return undefined;
  return new Keyring(all, sources.primaryKeyId ?? fixed.primary);
}

/**
 * The keys that need no store: given programmatically, from the environment, from a key file;
 * with the primary a key file names when it is the first source.
 */
export function loadFixedKeys(sources: KeySources, workspaceRoot: string, env: NodeJS.ProcessEnv = process.env): { keys: XComKey[]; primary?: string } {
  const all: XComKey[] = [...(sources.keys ?? [])];
  const fromEnv = keysFromEnv(sources.keyEnv ?? 'HANGAR_XCOM_KEYS', env);
  all.push(...fromEnv);
  let filePrimary: string | undefined;
  if (sources.keyFile) {
    const f = keysFromFile(isAbsolute(sources.keyFile) ? sources.keyFile : join(workspaceRoot, sources.keyFile), workspaceRoot);
    all.push(...f.keys);
    filePrimary = f.primary;
  }
  const firstIsFile = (sources.keys?.length ?? 0) === 0 && fromEnv.length === 0;
  return { keys: all, primary: firstIsFile ? filePrimary : undefined };
}

function field(parts: Buffer[], s: string): void {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.allocUnsafe(4);
  len.writeUInt32BE(b.byteLength, 0);
  parts.push(len, b);
}

/**
 * Associated data: for each field in order, a 4-byte big-endian length then its
 * UTF-8 bytes. Fields: "hangar-xcom", envelope version, key id, DAG id, run id,
 * task id, map index (decimal), key, inner chain (codec names joined by ",").
 */
export function associatedData(loc: XComLocation, keyId: string, innerChain: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  for (const f of ['hangar-xcom', String(ENVELOPE_VERSION), keyId, loc.dagId, loc.runId, loc.taskId, String(loc.mapIndex), loc.key, innerChain.join(',')]) {
    field(parts, f);
  }
  return Buffer.concat(parts);
}

/**
 * AES-GCM with random 96-bit nonces is safe for up to 2^32 messages under one key (NIST SP 800-38D,
 * 8.3): past that, a repeated nonce becomes likely enough to matter, and one repeat reveals the
 * authentication key. Hangar counts encryptions per key in the store and warns from a quarter of it.
 */
export const NONCE_LIMIT = 2 ** 32;
export const NONCE_WARN_AT = 2 ** 30;

/** Adds encryptions under a key to the store's count; returns the warning to give, if any. */
export async function recordEncryptions(keys: KeyRepository | undefined, keyId: string, n = 1): Promise<string | undefined> {
  if (!keys) return undefined;
  return nonceWarningAt(keyId, await keys.recordEncryptions(keyId, n), n);
}

/** The warning due when a key's count reaches `count` with the last `n` encryptions: once at the threshold, then every 2^20. */
export function nonceWarningAt(keyId: string, count: number, n = 1): string | undefined {
  if (count >= NONCE_WARN_AT && (count - n < NONCE_WARN_AT || Math.floor(count / 2 ** 20) !== Math.floor((count - n) / 2 ** 20))) {
    return nonceWarning(keyId, count);
  }
  return undefined;
}

export function nonceWarning(keyId: string, count: number): string {
  return `XCom key "${keyId}" has encrypted ${count.toLocaleString('en-US')} values; random 96-bit nonces are safe for up to 2^32 (${NONCE_LIMIT.toLocaleString('en-US')}) per key (NIST SP 800-38D): add a new primary key and run hangar xcom rotate-key`;
}

export function encrypt(
  keyring: Keyring,
  loc: XComLocation,
  innerChain: readonly string[],
  plaintext: Uint8Array,
): { layer: EncryptionLayer; ciphertext: Buffer } {
  const keyId = keyring.primaryId;
  const iv = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', keyring.material(keyId)!, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(associatedData(loc, keyId, innerChain));
  const a = cipher.update(plaintext);
  const b = cipher.final();
  const ciphertext = b.byteLength === 0 ? a : Buffer.concat([a, b]);
  return {
    layer: {
      codec: 'aes-256-gcm',
      _xcom_encrypted: true,
      encryption_algorithm: 'AES-256-GCM',
      key_id: keyId,
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      encrypted_at: new Date().toISOString(),
    },
    ciphertext,
  };
}

export function decrypt(
  keyring: Keyring | undefined,
  loc: XComLocation,
  layer: EncryptionLayer,
  innerChain: readonly string[],
  ciphertext: Uint8Array,
): Buffer {
  if (!keyring) {
    throw new XComError('no-key', loc, `is encrypted with key "${layer.key_id}" and no XCom key is configured (set HANGAR_XCOM_KEYS, a key file or a passphrase)`);
  }
  const key = keyring.material(layer.key_id);
  if (!key) {
    throw new XComError('no-key', loc, `is encrypted with key "${layer.key_id}", which is not in the keyring (keys: ${keyring.ids.join(', ')})`);
  }
  const iv = Buffer.from(layer.iv, 'base64');
  const tag = Buffer.from(layer.tag, 'base64');
  if (iv.byteLength !== NONCE_BYTES || tag.byteLength !== TAG_BYTES) {
    throw new XComError('authentication', loc, 'failed authentication: nonce or tag has the wrong length (tampered envelope)');
  }
  try {
    const d = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    d.setAAD(associatedData(loc, layer.key_id, innerChain));
    d.setAuthTag(tag);
    const a = d.update(ciphertext);
    const b = d.final();
    return b.byteLength === 0 ? a : Buffer.concat([a, b]);
  } catch {
    throw new XComError(
      'authentication',
      loc,
      `failed authentication with key "${layer.key_id}": wrong key, data tampered with, or the ciphertext belongs to another XCom`,
    );
  }
}
