/**
 * Where the metadata store is: a SQLite file (the embedded default, `.hangar/hangar.db`)
 * or a PostgreSQL database (`postgres://user@host:5432/db`).
 *
 * The store is chosen by, first to last: an explicit value (`--store`), the
 * `HANGAR_STORE_URL` environment variable, `hangar.json`'s `"store"`, the default file.
 * A PostgreSQL password comes from the URL or from `PGPASSWORD`; it is kept out of every
 * printable form of the target (`redacted`, `location`, JSON, `util.inspect`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';

export type SslMode = 'disable' | 'require' | 'verify-ca' | 'verify-full';

export interface SqliteTarget {
  readonly kind: 'sqlite';
  /** Absolute path of the file, or `:memory:`. */
  readonly path: string;
  /** The same path (nothing to hide): for messages and `hangar info`. */
  readonly redacted: string;
  readonly location: string;
}

export interface PostgresTarget {
  readonly kind: 'postgres';
  readonly host: string;
  readonly port: number;
  readonly database: string;
  readonly user: string;
  /** Not enumerable: absent from JSON and from console output. */
  readonly password: string | undefined;
  readonly sslmode: SslMode;
  /** PEM files (libpq's sslrootcert, sslcert, sslkey). */
  readonly sslrootcert?: string;
  readonly sslcert?: string;
  readonly sslkey?: string;
  /** Milliseconds to wait for a connection before failing (libpq's connect_timeout is in seconds). */
  readonly connectTimeoutMs: number;
  /** Milliseconds a statement may run before the server cancels it (0: no limit). */
  readonly statementTimeoutMs: number;
  /** `postgres://user@host:port/db?…` without the password: for messages and `hangar info`. */
  readonly redacted: string;
  /** `host:port/db`: what errors name. */
  readonly location: string;
}

export type StoreTarget = SqliteTarget | PostgresTarget;

export const DEFAULT_STORE = join('.hangar', 'hangar.db');
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export function isPostgresUrl(value: string): boolean {
  return /^postgres(ql)?:\/\//i.test(value);
}

/** Which store to open; see the module comment for the order. */
export function resolveStoreTarget(options: {
  /** The workspace root (relative SQLite paths are under it). */
  readonly root: string;
  /** `hangar.json`'s `"store"`. */
  readonly configured?: string | undefined;
  /** An explicit choice (`--store`). */
  readonly explicit?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
}): StoreTarget {
  const env = options.env ?? process.env;
  const fromEnv = env.HANGAR_STORE_URL?.trim() ? env.HANGAR_STORE_URL.trim() : undefined;
  const [value, source] =
    options.explicit !== undefined
      ? [options.explicit, '--store']
      : fromEnv !== undefined
        ? [fromEnv, 'HANGAR_STORE_URL']
        : options.configured !== undefined
          ? [options.configured, 'hangar.json "store"']
          : [DEFAULT_STORE, 'the default store'];
  return parseStoreTarget(value, options.root, env, source);
}

/**
 * The store of a workspace: `explicit` (`--store`), else HANGAR_STORE_URL, else
 * `hangar.json`'s `"store"`, else `.hangar/hangar.db`.
 */
export function workspaceStoreTarget(
  workspace: string,
  explicit?: string,
  env: NodeJS.ProcessEnv = process.env,
): StoreTarget {
  const root = resolve(workspace);
  const file = join(root, 'hangar.json');
  let configured: string | undefined;
  if (existsSync(file)) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw new Error(`${file}: not valid JSON: ${(err as Error).message}`);
    }
    const store = (parsed as { store?: unknown } | null)?.store;
    if (store !== undefined && typeof store !== 'string')
      throw new Error(`${file}: "store" must be a file path or a postgres:// URL`);
    configured = store;
  }
  return resolveStoreTarget({ root, configured, explicit, env });
}

/** A store value: a path (relative to root) or a `postgres://` URL. */
export function parseStoreTarget(
  value: string,
  root: string,
  env: NodeJS.ProcessEnv = process.env,
  source = 'store',
): StoreTarget {
  if (typeof value !== 'string' || value.trim() === '')
    throw new Error(`${source}: the store must be a file path or a postgres:// URL`);
  if (isPostgresUrl(value)) return parsePostgresUrl(value, env, source);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    throw new Error(
      `${source}: unsupported store "${value.replace(/\/\/[^@/]*@/, '//…@')}": give a SQLite file path or a postgres:// URL`,
    );
  }
  const path = value === ':memory:' ? value : isAbsolute(value) ? value : join(resolve(root), value);
  return { kind: 'sqlite', path, redacted: path, location: path };
}

const KNOWN_PARAMS = new Set([
  'sslmode',
  'sslrootcert',
  'sslcert',
  'sslkey',
  'connect_timeout',
  'statement_timeout',
  'application_name',
]);

function parsePostgresUrl(value: string, env: NodeJS.ProcessEnv, source: string): PostgresTarget {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    // The message must not repeat the URL: it may hold a password.
    throw new Error(`${source}: not a valid PostgreSQL URL (expected postgres://user@host:5432/database)`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1') || env.PGHOST || 'localhost';
  const port = url.port ? Number(url.port) : env.PGPORT ? Number(env.PGPORT) : 5432;
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`${source}: the PostgreSQL port must be 1–65535`);
  const user = decodeURIComponent(url.username) || env.PGUSER || userInfo().username;
  const password = url.password ? decodeURIComponent(url.password) : env.PGPASSWORD || undefined;
  const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || env.PGDATABASE || user;
  for (const k of url.searchParams.keys()) {
    if (!KNOWN_PARAMS.has(k))
      throw new Error(
        `${source}: unknown PostgreSQL URL parameter "${k}" (known: ${[...KNOWN_PARAMS].join(', ')})`,
      );
  }
  const p = (k: string) => url.searchParams.get(k) ?? undefined;
  const rawMode = p('sslmode') ?? env.PGSSLMODE ?? 'disable';
  // libpq's allow/prefer try plain first or fall back silently; Hangar is explicit: no TLS unless asked.
  const sslmode = rawMode === 'allow' || rawMode === 'prefer' ? 'disable' : rawMode;
  if (!['disable', 'require', 'verify-ca', 'verify-full'].includes(sslmode)) {
    throw new Error(
      `${source}: sslmode must be disable, require, verify-ca or verify-full, not "${rawMode}"`,
    );
  }
  const seconds = p('connect_timeout');
  const connectTimeoutMs = seconds === undefined ? DEFAULT_CONNECT_TIMEOUT_MS : Number(seconds) * 1000;
  if (!(connectTimeoutMs > 0)) throw new Error(`${source}: connect_timeout must be a number of seconds > 0`);
  const st = p('statement_timeout');
  const statementTimeoutMs = st === undefined ? 0 : Number(st);
  if (!Number.isInteger(statementTimeoutMs) || statementTimeoutMs < 0)
    throw new Error(`${source}: statement_timeout must be a whole number of milliseconds ≥ 0`);
  const shownHost = host.includes(':') ? `[${host}]` : host;
  const query = url.search;
  const target: PostgresTarget = {
    kind: 'postgres',
    host,
    port,
    database,
    user,
    password: undefined,
    sslmode: sslmode as SslMode,
    ...(p('sslrootcert') !== undefined ? { sslrootcert: p('sslrootcert') } : {}),
    ...(p('sslcert') !== undefined ? { sslcert: p('sslcert') } : {}),
    ...(p('sslkey') !== undefined ? { sslkey: p('sslkey') } : {}),
    connectTimeoutMs,
    statementTimeoutMs,
    redacted: `postgres://${encodeURIComponent(user)}@${shownHost}:${port}/${encodeURIComponent(database)}${query}`,
    location: `${shownHost}:${port}/${database}`,
  };
  Object.defineProperty(target, 'password', { value: password, enumerable: false });
  return target;
}
