/**
 * SFTP connections for sync pipelines, on `ssh2-sftp-client`.
 *
 * - Host keys are verified by default (a known_hosts file or a pinned SHA256
 *   fingerprint); an unknown or changed key is refused before authentication.
 * - Every operation has a deadline: when it passes, the connection is
 *   destroyed and the operation fails — a dropped connection is an error,
 *   never a hang. `connect` and `end` (which can hang in the library) are
 *   guarded the same way.
 * - TCP_NODELAY is switched on (ssh2 leaves Nagle's algorithm on, which makes
 *   pipelined uploads crawl).
 * - Passwords, passphrases and keys never appear in messages or logs.
 */
import { createHash, createHmac, createSecretKey, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Socket as NetSocket } from 'node:net';
import type { Socket } from 'node:net';
import type { Client, SFTPWrapper } from 'ssh2';
import type SftpClient from 'ssh2-sftp-client';

/** ssh2-sftp-client (and ssh2), loaded on the first connection: ~19 MiB that processes without SFTP need not pay. */
let sftpClientLoading: Promise<typeof SftpClient> | undefined;
const loadSftpClient = () => (sftpClientLoading ??= import('ssh2-sftp-client').then((m) => m.default));
import { HostKeyError, SftpError, SftpTimeoutError, SyncError, errorMessage, redact } from './errors.ts';
import type { SyncLogger } from './types.ts';

export interface SftpTimeouts {
  /** TCP connect + SSH handshake + authentication + SFTP subsystem (default 20 s). */
  connectMs?: number;
  /** Each SFTP request (default 30 s). */
  operationMs?: number;
  /** Closing the connection before it is destroyed (default 5 s). */
  closeMs?: number;
  /** SSH keepalive interval; 3 missed replies drop the connection (default 10 s, 0 disables). */
  keepaliveIntervalMs?: number;
}

export type SftpHostKeyPolicy =
  | { knownHostsFile: string }
  | { fingerprint: string }
  /** Explicit opt-out: accepts any host key (logged as a warning). */
  | { insecureAcceptAnyHostKey: true };

export interface SftpConnectionOptions {
  host: string;
  port?: number;
  username: string;
  password?: string;
  /** Private key text (OpenSSH or PEM). */
  privateKey?: string | Buffer;
  passphrase?: string;
  hostKey: SftpHostKeyPolicy;
  timeouts?: SftpTimeouts;
}

export interface ParsedSftpUri {
  options: SftpConnectionOptions;
  /** The path part of the URI (`/` when absent). */
  root: string;
}

const DEFAULTS = { connectMs: 20_000, operationMs: 30_000, closeMs: 5_000, keepaliveIntervalMs: 10_000 };

/**
 * Parses `sftp://user[:password]@host[:port]/root?fingerprint=SHA256:...`
 * (or `?known_hosts=/path/to/known_hosts`; also `private_key_file`,
 * `passphrase`, `connect_timeout_ms`, `operation_timeout_ms`). Errors never
 * repeat the password.
 */
export function parseSftpUri(uri: string): ParsedSftpUri {
  if (typeof uri !== 'string' || uri.length === 0) throw new SyncError('SFTP URI is empty');
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    const safe = uri.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
    throw new SyncError(`invalid SFTP URI "${safe}"`);
  }
  const shown = `sftp://${url.username ? decodeURIComponent(url.username) + '@' : ''}${url.host}${url.pathname}`;
  if (url.protocol !== 'sftp:') throw new SyncError(`SFTP URI "${shown}" must start with sftp://`);
  if (url.hostname === '') throw new SyncError(`SFTP URI "${shown}" has no host`);
  if (url.username === '') throw new SyncError(`SFTP URI "${shown}" has no user name (sftp://user@host/...)`);
  const q = url.searchParams;
  const fingerprint = q.get('fingerprint');
  const knownHosts = q.get('known_hosts');
  let hostKey: SftpHostKeyPolicy;
  if (fingerprint !== null && knownHosts !== null) {
    throw new SyncError(`SFTP URI "${shown}": give either fingerprint or known_hosts, not both`);
  } else if (fingerprint !== null) {
    hostKey = { fingerprint };
  } else if (knownHosts !== null) {
    hostKey = { knownHostsFile: knownHosts };
  } else if (q.get('insecure_accept_any_host_key') === 'true') {
    hostKey = { insecureAcceptAnyHostKey: true };
  } else {
    throw new SyncError(
      `SFTP URI "${shown}" does not say how to verify the host key: add ?fingerprint=SHA256:... or ?known_hosts=/path`,
    );
  }
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  const options: SftpConnectionOptions = {
    host,
    port: url.port === '' ? 22 : Number(url.port),
    username: decodeURIComponent(url.username),
    hostKey,
  };
  if (url.password !== '') options.password = decodeURIComponent(url.password);
  const keyFile = q.get('private_key_file');
  if (keyFile !== null) {
    try {
      options.privateKey = readFileSync(keyFile);
    } catch (err) {
      throw new SyncError(`SFTP URI "${shown}": cannot read private_key_file "${keyFile}": ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  const passphrase = q.get('passphrase');
  if (passphrase !== null) options.passphrase = passphrase;
  const timeouts: SftpTimeouts = {};
  for (const [param, field] of [
    ['connect_timeout_ms', 'connectMs'],
    ['operation_timeout_ms', 'operationMs'],
  ] as const) {
    const v = q.get(param);
    if (v !== null) {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) throw new SyncError(`SFTP URI "${shown}": ${param} must be a positive number`);
      timeouts[field] = n;
    }
  }
  if (Object.keys(timeouts).length > 0) options.timeouts = timeouts;
  validateSftpOptions(options);
  return { options, root: decodeURIComponent(url.pathname) || '/' };
}

export function sftpLabel(o: Pick<SftpConnectionOptions, 'host' | 'port' | 'username'>): string {
  const host = o.host.includes(':') ? `[${o.host}]` : o.host;
  return `${o.username}@${host}:${o.port ?? 22}`;
}

export function validateSftpOptions(o: SftpConnectionOptions): void {
  if (o === null || typeof o !== 'object') throw new SyncError('SFTP connection options must be an object');
  if (typeof o.host !== 'string' || o.host.trim() === '') throw new SyncError('SFTP connection options: host is missing');
  const where = `SFTP connection ${sftpLabel(o)}`;
  const port = o.port ?? 22;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new SyncError(`${where}: port ${String(o.port)} is not a TCP port`);
  if (typeof o.username !== 'string' || o.username === '') throw new SyncError(`SFTP connection to ${o.host}: username is missing`);
  if (o.password === undefined && o.privateKey === undefined) {
    throw new SyncError(`${where}: give a password or a private key`);
  }
  if (o.hostKey === undefined || o.hostKey === null || typeof o.hostKey !== 'object') {
    throw new SyncError(`${where}: hostKey is required ({ knownHostsFile } or { fingerprint })`);
  }
  if ('fingerprint' in o.hostKey) {
    if (!/^SHA256:[A-Za-z0-9+/]{43}=?$/.test(o.hostKey.fingerprint)) {
      throw new SyncError(`${where}: host key fingerprint "${o.hostKey.fingerprint}" is not of the form SHA256:<43 base64 chars>`);
    }
  } else if ('knownHostsFile' in o.hostKey) {
    if (typeof o.hostKey.knownHostsFile !== 'string' || o.hostKey.knownHostsFile === '') {
      throw new SyncError(`${where}: hostKey.knownHostsFile is empty`);
    }
  } else if (!('insecureAcceptAnyHostKey' in o.hostKey) || o.hostKey.insecureAcceptAnyHostKey !== true) {
    throw new SyncError(`${where}: hostKey must be { knownHostsFile } or { fingerprint }`);
  }
  for (const [k, v] of Object.entries(o.timeouts ?? {})) {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new SyncError(`${where}: timeouts.${k} must be a non-negative number`);
  }
}

// ---------------------------------------------------------------- host keys

export function fingerprintOf(keyBlob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '');
}

function keyTypeOf(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const n = blob.readUInt32BE(0);
  return blob.subarray(4, 4 + n).toString('latin1');
}

interface KnownHostEntry {
  marker: '' | '@revoked' | '@cert-authority';
  type: string;
  blob: Buffer;
}

function globToRegExp(pattern: string): RegExp {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i');
}

function hostMatches(patterns: string, names: string[]): boolean {
  if (patterns.startsWith('|1|')) {
    const [, , salt64, hash64] = patterns.split('|');
    if (salt64 === undefined || hash64 === undefined) return false;
    const salt = Buffer.from(salt64, 'base64');
    const expected = Buffer.from(hash64, 'base64');
    return names.some((n) => {
      const h = createHmac('sha1', salt).update(n).digest();
      return h.length === expected.length && timingSafeEqual(h, expected);
    });
  }
  let matched = false;
  for (const p of patterns.split(',')) {
    const negated = p.startsWith('!');
    const re = globToRegExp(negated ? p.slice(1) : p);
    if (names.some((n) => re.test(n))) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

/** Entries of a known_hosts file that apply to host:port (OpenSSH's format, hashed names included). */
export function knownHostEntries(file: string, host: string, port: number): KnownHostEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SyncError(`cannot read known_hosts file "${file}": ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
  }
  const names = port === 22 ? [host] : [`[${host}]:${port}`];
  const out: KnownHostEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry['marker'] = '';
    if (fields[0] === '@revoked' || fields[0] === '@cert-authority') marker = fields.shift() as KnownHostEntry['marker'];
    const [patterns, type, key] = fields;
    if (patterns === undefined || type === undefined || key === undefined) continue;
    if (!hostMatches(patterns, names)) continue;
    out.push({ marker, type, blob: Buffer.from(key, 'base64') });
  }
  return out;
}

const HOST_KEY_ALGORITHMS: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};

interface HostKeyCheck {
  verify(key: Buffer): boolean;
  failure: HostKeyError | null;
  /** Host key algorithms to offer (those we can verify), or undefined for ssh2's defaults. */
  algorithms: string[] | undefined;
}

function hostKeyCheck(o: SftpConnectionOptions, log: SyncLogger | undefined): HostKeyCheck {
  const label = `${o.host}:${o.port ?? 22}`;
  const policy = o.hostKey;
  const check: HostKeyCheck = { verify: () => false, failure: null, algorithms: undefined };
  if ('insecureAcceptAnyHostKey' in policy) {
    check.verify = (key) => {
      log?.warn(`host key verification is disabled for ${label}; accepted ${keyTypeOf(key)} ${fingerprintOf(key)}`);
      return true;
    };
    return check;
  }
  if ('fingerprint' in policy) {
    const pinned = policy.fingerprint.replace(/=+$/, '');
    check.verify = (key) => {
      const fp = fingerprintOf(key);
      if (fp === pinned) return true;
      check.failure = new HostKeyError(
        'HOST_KEY_CHANGED',
        `host key verification failed for ${label}: the server presented ${keyTypeOf(key)} ${fp}, expected the pinned ${pinned}; refusing to authenticate`,
      );
      return false;
    };
    return check;
  }
  const entries = knownHostEntries(policy.knownHostsFile, o.host, o.port ?? 22);
  const usable = entries.filter((e) => e.marker === '');
  const algorithms = [...new Set(usable.flatMap((e) => HOST_KEY_ALGORITHMS[e.type] ?? []))];
  if (algorithms.length > 0) check.algorithms = algorithms;
  check.verify = (key) => {
    const fp = fingerprintOf(key);
    if (entries.some((e) => e.marker === '@revoked' && e.blob.equals(key))) {
      check.failure = new HostKeyError('HOST_KEY_REVOKED', `host key ${fp} of ${label} is marked @revoked in ${policy.knownHostsFile}; refusing to authenticate`);
      return false;
    }
    if (usable.some((e) => e.blob.equals(key))) return true;
    check.failure =
      usable.length === 0
        ? new HostKeyError(
            'HOST_KEY_UNKNOWN',
            `host key verification failed for ${label}: the host is not in ${policy.knownHostsFile} (it presented ${keyTypeOf(key)} ${fp}); refusing to authenticate`,
          )
        : new HostKeyError(
            'HOST_KEY_CHANGED',
            `host key verification failed for ${label}: the server presented ${keyTypeOf(key)} ${fp}, which does not match ${policy.knownHostsFile}, which expects ${usable.map((e) => `${e.type} ${fingerprintOf(e.blob)}`).join(' or ')} (the key has CHANGED); refusing to authenticate`,
          );
    return false;
  };
  return check;
}

// ---------------------------------------------------------------- session

/**
 * ssh2 without its native addon (built for one Node ABI, so absent on Node 24 and in the extension's
 * bundle) encrypts and decrypts every AES-GCM packet with a fresh createCipheriv from the raw key, and on
 * Node 24 importing a raw key is most of the cost (18 µs a packet; 4.5 µs from a KeyObject — a third of
 * the sync's CPU on a tree of small files). This hands ssh2's GCM cipher and decipher a KeyObject of the
 * same key, now and after every re-key (their fields are replaced through a setter). It touches ssh2
 * internals defensively: anything not shaped as expected is left as it is.
 */
function gcmKeysAsKeyObjects(raw: Client): void {
  type Cipher = { _encSSLName?: unknown; _encKey?: unknown; _decipherSSLName?: unknown; _decipherKey?: unknown };
  const protocol = (raw as unknown as { _protocol?: Record<string, unknown> })._protocol;
  if (protocol === undefined || protocol === null || typeof protocol !== 'object') return;
  const fix = (c: unknown): void => {
    if (c === null || typeof c !== 'object') return;
    const x = c as Cipher;
    if (typeof x._encSSLName === 'string' && x._encSSLName.endsWith('-gcm') && Buffer.isBuffer(x._encKey)) x._encKey = createSecretKey(x._encKey);
    if (typeof x._decipherSSLName === 'string' && x._decipherSSLName.endsWith('-gcm') && Buffer.isBuffer(x._decipherKey)) {
      x._decipherKey = createSecretKey(x._decipherKey);
    }
  };
  for (const field of ['_cipher', '_decipher']) {
    const d = Object.getOwnPropertyDescriptor(protocol, field);
    if (d === undefined || !('value' in d) || !d.writable || !d.configurable) continue;
    let current: unknown = d.value;
    fix(current);
    Object.defineProperty(protocol, field, {
      configurable: true,
      enumerable: d.enumerable,
      get: () => current,
      set: (v: unknown) => {
        current = v;
        fix(v);
      },
    });
  }
}

interface SftpClientInternals {
  client: Client;
  sftp?: SFTPWrapper;
}

export type Callback<T> = (err: Error | null | undefined, value?: T) => void;

/** SFTP status codes (draft-ietf-secsh-filexfer-02). */
export const SFTP_STATUS = { EOF: 1, NO_SUCH_FILE: 2, PERMISSION_DENIED: 3, FAILURE: 4, OP_UNSUPPORTED: 8 } as const;

export function sftpStatusOf(err: unknown): number | undefined {
  const code = (err as { sftpStatus?: unknown; code?: unknown } | null)?.sftpStatus ?? (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** One authenticated SFTP connection with deadlines on every operation. */
export class SftpSession {
  readonly label: string;
  readonly sftp: SFTPWrapper;
  readonly operationMs: number;
  readonly #client: SftpClient;
  readonly #closeMs: number;
  readonly #secrets: (string | undefined)[];
  #closed = false;
  #closeReason: string | null = null;
  readonly #pending = new Set<() => void>();
  /** The TCP socket under ssh2 (its internals), to cork; undefined if not found. */
  readonly #sock: Socket | undefined;
  #corked = false;

  private constructor(client: SftpClient, sftp: SFTPWrapper, o: SftpConnectionOptions, secrets: (string | undefined)[]) {
    this.#client = client;
    this.sftp = sftp;
    this.label = sftpLabel(o);
    this.operationMs = o.timeouts?.operationMs ?? DEFAULTS.operationMs;
    this.#closeMs = o.timeouts?.closeMs ?? DEFAULTS.closeMs;
    this.#secrets = secrets;
    const raw = (client as unknown as SftpClientInternals).client;
    const sock = (raw as unknown as { _sock?: unknown })._sock;
    this.#sock = sock instanceof NetSocket ? sock : undefined;
    raw.on('close', () => {
      this.#closed = true;
      this.#closeReason ??= 'the server closed the connection';
      // ssh2 may leave requests pending when the socket dies; fail them now.
      setImmediate(() => {
        for (const fail of [...this.#pending]) fail();
      });
    });
    raw.on('error', (err: Error) => {
      this.#closeReason ??= this.redact(err.message);
    });
  }

  static async connect(o: SftpConnectionOptions, log?: SyncLogger): Promise<SftpSession> {
    validateSftpOptions(o);
    const label = sftpLabel(o);
    const secrets = [o.password, o.passphrase, typeof o.privateKey === 'string' ? o.privateKey : o.privateKey?.toString('utf8')];
    const connectMs = o.timeouts?.connectMs ?? DEFAULTS.connectMs;
    const keepaliveIntervalMs = o.timeouts?.keepaliveIntervalMs ?? DEFAULTS.keepaliveIntervalMs;
    const hk = hostKeyCheck(o, log);
    let lastRawError: (Error & { level?: string }) | null = null;
    const Client = await loadSftpClient();
    const client = new Client(`hangar-${label}`, {
      error: (err: unknown) => {
        lastRawError ??= err as Error;
      },
      end: () => undefined,
      close: () => undefined,
    });
    const raw = (client as unknown as SftpClientInternals).client;
    raw.prependListener('error', (err: Error) => {
      lastRawError ??= err;
    });
    raw.on('connect', () => raw.setNoDelay(true));
    const authMethods = [o.privateKey !== undefined ? 'publickey' : null, o.password !== undefined ? 'password' : null]
      .filter((m) => m !== null)
      .join(', ');
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new SftpTimeoutError(`SFTP connection to ${label} did not complete within ${connectMs} ms`));
      }, connectMs + 1000);
    });
    try {
      const config: Record<string, unknown> = {
        host: o.host,
        port: o.port ?? 22,
        username: o.username,
        readyTimeout: connectMs,
        keepaliveInterval: keepaliveIntervalMs,
        keepaliveCountMax: 3,
        tryKeyboard: false,
        hostVerifier: (key: Buffer) => hk.verify(key),
      };
      const algorithms: Record<string, string[]> = {};
      if (hk.algorithms !== undefined) algorithms['serverHostKey'] = hk.algorithms;
      if (Object.keys(algorithms).length > 0) config['algorithms'] = algorithms;
      if (o.password !== undefined) config['password'] = o.password;
      if (o.privateKey !== undefined) config['privateKey'] = o.privateKey;
      if (o.passphrase !== undefined) config['passphrase'] = o.passphrase;
      const sftp = await Promise.race([client.connect(config as SftpClient.ConnectOptions), deadline]);
      raw.setNoDelay(true);
      gcmKeysAsKeyObjects(raw);
      return new SftpSession(client, sftp, o, secrets);
    } catch (err) {
      try {
        raw.destroy();
      } catch {
        /* ignore */
      }
      if (hk.failure !== null) throw hk.failure;
      if (err instanceof SftpTimeoutError) throw err;
      const rawErr = lastRawError ?? (err as Error);
      const msg = redact(errorMessage(rawErr), secrets);
      const code = (rawErr as NodeJS.ErrnoException).code;
      if ((rawErr as { level?: string }).level === 'client-authentication' || /authentication methods failed/i.test(msg)) {
        throw new SftpError('AUTH_FAILED', `SFTP authentication failed for ${label} (tried ${authMethods}): the server rejected the credentials`);
      }
      if (/private key|passphrase|Cannot parse privateKey/i.test(msg)) {
        throw new SftpError('BAD_KEY', `SFTP connection to ${label}: the private key could not be used (${msg})`);
      }
      if (code === 'ECONNREFUSED') throw new SftpError('ECONNREFUSED', `SFTP connection to ${label} refused (is the server running on that port?)`);
      if (code === 'ENOTFOUND') throw new SftpError('ENOTFOUND', `SFTP host ${o.host} not found (DNS lookup failed)`);
      if (/timed out/i.test(msg)) throw new SftpTimeoutError(`SFTP connection to ${label} timed out during the handshake (${connectMs} ms)`);
      throw new SftpError(typeof code === 'string' ? code : 'CONNECT_FAILED', `SFTP connection to ${label} failed: ${msg}`);
    } finally {
      clearTimeout(timer);
    }
  }

  redact(text: string): string {
    return redact(text, this.#secrets);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Runs one SFTP request with a deadline. On timeout the connection is
   * destroyed (so every other pending request fails too) and a
   * {@link SftpTimeoutError} is thrown.
   */
  /**
   * Requests sent in the same tick leave in one write: ssh2 writes each packet in three or four pieces
   * (length, ciphertext, tag) and with TCP_NODELAY each was its own send — 16% of the CPU on many small files.
   */
  #cork(): void {
    const sock = this.#sock;
    if (this.#corked || sock === undefined || sock.destroyed) return;
    this.#corked = true;
    sock.cork();
    process.nextTick(() => {
      this.#corked = false;
      sock.uncork();
    });
  }

  op<T = void>(what: string, path: string, fn: (cb: Callback<T>) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.#closed) {
        reject(new SftpError('ECONNCLOSED', `SFTP ${what} "${path}" on ${this.label}: connection is closed (${this.#closeReason ?? 'closed'})`));
        return;
      }
      let done = false;
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        this.#pending.delete(onClose);
        this.#closeReason ??= `${what} "${path}" timed out`;
        this.destroy();
        reject(new SftpTimeoutError(`SFTP ${what} "${path}" on ${this.label} did not complete within ${this.operationMs} ms; connection destroyed`));
      }, this.operationMs);
      const onClose = (): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.#pending.delete(onClose);
        reject(new SftpError('ECONNCLOSED', `SFTP ${what} "${path}" on ${this.label}: connection lost (${this.#closeReason ?? 'closed'})`));
      };
      this.#pending.add(onClose);
      this.#cork();
      try {
        fn((err, value) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          this.#pending.delete(onClose);
          if (err) {
            if (this.#closed || /No response from server/i.test(errorMessage(err))) {
              reject(new SftpError('ECONNCLOSED', `SFTP ${what} "${path}" on ${this.label}: connection lost (${this.#closeReason ?? 'closed'})`));
              return;
            }
            const status = sftpStatusOf(err);
            const e = new SftpError(
              status === SFTP_STATUS.NO_SUCH_FILE ? 'ENOENT' : status === SFTP_STATUS.PERMISSION_DENIED ? 'EACCES' : 'SFTP_ERROR',
              `SFTP ${what} "${path}" on ${this.label} failed: ${this.redact(errorMessage(err))}`,
            );
            (e as SftpError & { sftpStatus?: number }).sftpStatus = status;
            reject(e);
          } else {
            resolve(value as T);
          }
        });
      } catch (err) {
        done = true;
        clearTimeout(timer);
        this.#pending.delete(onClose);
        reject(new SftpError('SFTP_ERROR', `SFTP ${what} "${path}" on ${this.label} failed: ${this.redact(errorMessage(err))}`));
      }
    });
  }

  /** Destroys the socket at once. */
  destroy(): void {
    this.#closed = true;
    try {
      (this.#client as unknown as SftpClientInternals).client.destroy();
    } catch {
      /* ignore */
    }
  }

  /** Ends the connection politely within `closeMs`, then destroys it. Never throws. */
  async close(): Promise<void> {
    if (this.#closed) {
      this.destroy();
      return;
    }
    this.#closed = true;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.#client.end().catch(() => undefined),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.#closeMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
      this.destroy();
    }
  }
}
