/**
 * PostgreSQL through node-postgres (`pg`), with a connection pool.
 *
 * - Statements: the store's `?` SQL becomes `$1, $2…` once per text (cached), and runs
 *   as a named prepared statement, so each pooled connection parses and plans it once.
 * - Transactions follow the async flow (AsyncLocalStorage), with SqliteDriver's
 *   semantics: inside `tx(fn)` every statement of the flow runs on the transaction's
 *   connection, a nested `tx` joins it; outside, a statement takes any pooled connection.
 *   Other flows are not held up: each transaction has its own connection.
 * - `exclusive(fn)` holds a session advisory lock (`pg_advisory_lock`) on one connection
 *   for fn's whole flow (migrations: two processes starting together do not race; a
 *   process that dies loses its connection and so its lock).
 * - Rows look like SQLite's: int8 (BIGINT, COUNT) and numeric (SUM, AVG) arrive as JS
 *   numbers, BYTEA as bytes.
 * - Errors about the connection name host:port/database; none contains the password.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { readFileSync } from 'node:fs';
import { checkServerIdentity } from 'node:tls';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import type { PoolClient, PoolConfig, QueryConfig, QueryResult } from 'pg';
import { toPostgresPlaceholders } from './sql.ts';
import type { RunResult, SqlDriver, SqlValue } from './sql.ts';
import type { PostgresTarget } from './target.ts';

/** The advisory-lock key `exclusive` takes: the same in every Hangar process (it spells "hangar"). */
export const MIGRATION_LOCK_KEY = 0x68616e676172;

export interface PostgresDriverOptions {
  /** Most connections in the pool (default 10). */
  readonly maxConnections?: number;
  /** Overrides the target's connect timeout (milliseconds). */
  readonly connectTimeoutMs?: number;
  /** Overrides the target's statement timeout (milliseconds; 0: none). */
  readonly statementTimeoutMs?: number;
  /** Shown in pg_stat_activity (default `hangar`). */
  readonly applicationName?: string;
  /**
   * Named prepared statements (default true). Off for a pooler that hands each transaction
   * another server connection (PgBouncer's transaction mode before 1.21).
   */
  readonly preparedStatements?: boolean;
}

const INT8 = 20;
const NUMERIC = 1700;

function toNumber(text: string): number | bigint {
  const n = Number(text);
  if (Number.isSafeInteger(n) || !/^-?\d+$/.test(text)) return n;
  return BigInt(text);
}

/** int8 and numeric as JS numbers (what SQLite gives), everything else as pg parses it. */
const TYPES = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8 || oid === NUMERIC) return (v: string) => (v === null ? v : toNumber(v));
    return pg.types.getTypeParser(oid, format as 'text');
  },
} as PoolConfig['types'];

/** Connection-level failures: errors that are about reaching or keeping the server, not about a statement. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ECONNRESET',
  'EPIPE',
  '28000',
  '28P01',
  '3D000',
  '57P01',
  '57P02',
  '57P03',
  '53300',
]);

function isConnectionError(err: { code?: string; message?: string }): boolean {
  if (err.code && (CONNECTION_CODES.has(err.code) || err.code.startsWith('08'))) return true;
  return /timeout expired|Connection terminated|connection timeout|not queryable|self[- ]signed certificate|certificate|does not support SSL|SSL/i.test(
    err.message ?? '',
  );
}

interface Bound {
  readonly client: PoolClient;
  /** In a transaction (false: only holding the connection, as `exclusive` does). */
  readonly tx: boolean;
  /** Set when the transaction or exclusive section ended: later statements of the flow use the pool. */
  ended: boolean;
}

interface Prepared {
  readonly text: string;
  readonly name: string | undefined;
}

/** Distinct statement texts prepared by name; beyond this (generated SQL), statements run unnamed. */
const MAX_NAMED = 2000;

export class PostgresDriver implements SqlDriver {
  readonly dialect = 'postgres' as const;
  readonly location: string;
  readonly target: PostgresTarget;
  private readonly pool: pg.Pool;
  private readonly flow = new AsyncLocalStorage<Bound>();
  private readonly prepared = new Map<string, Prepared>();
  private closed = false;
  private readonly named: boolean;
  private readonly listening = new WeakSet<PoolClient>();

  constructor(target: PostgresTarget, options: PostgresDriverOptions = {}) {
    this.target = target;
    this.location = target.location;
    this.named = options.preparedStatements ?? true;
    const statementTimeout = options.statementTimeoutMs ?? target.statementTimeoutMs;
    this.pool = new pg.Pool({
      host: target.host,
      port: target.port,
      database: target.database,
      user: target.user,
      ...(target.password !== undefined ? { password: target.password } : {}),
      ssl: sslOptions(target),
      max: options.maxConnections ?? 10,
      connectionTimeoutMillis: options.connectTimeoutMs ?? target.connectTimeoutMs,
      idleTimeoutMillis: 30_000,
      keepAlive: true,
      application_name: options.applicationName ?? 'hangar',
      ...(statementTimeout > 0 ? { statement_timeout: statementTimeout } : {}),
      types: TYPES,
    });
    // An idle connection the server closed (restart, admin kill): the pool drops it; the next statement reconnects.
    this.pool.on('error', () => {});
  }

  /** An error for the user: connection failures name host:port/database; no message holds the password. */
  private error(err: unknown): Error {
    const e = err instanceof Error ? err : new Error(String(err));
    const scrub = (s: string) => {
      const pw = this.target.password;
      return pw && pw.length >= 4 ? s.split(pw).join('***') : s;
    };
    const code = (e as { code?: string }).code;
    if (/client password must be a string/.test(e.message)) {
      // node-postgres's words when the server asks for a password and none was given.
      const out = new Error(
        `PostgreSQL store at ${this.location}: the server asks for a password for user "${this.target.user}" and none was given (set PGPASSWORD, or put it in the store URL)`,
      );
      (out as { code?: string }).code = '28P01';
      return out;
    }
    if (isConnectionError(e as { code?: string; message: string })) {
      const reason = scrub(e.message || code || 'connection failed');
      const out = new Error(`PostgreSQL store at ${this.location}: ${reason}`);
      if (code) (out as { code?: string }).code = code;
      return out;
    }
    const message = scrub(e.message);
    if (message !== e.message) e.message = message;
    return e;
  }

  private bound(): Bound | undefined {
    const b = this.flow.getStore();
    return b && !b.ended ? b : undefined;
  }

  private statement(sql: string): Prepared {
    let p = this.prepared.get(sql);
    if (!p) {
      p = {
        text: toPostgresPlaceholders(sql),
        name: this.named && this.prepared.size < MAX_NAMED ? `hangar_${this.prepared.size + 1}` : undefined,
      };
      this.prepared.set(sql, p);
    }
    return p;
  }

  private async query(
    sql: string,
    params: readonly SqlValue[],
  ): Promise<QueryResult<Record<string, unknown>>> {
    if (this.closed) throw new Error(`PostgreSQL store at ${this.location}: closed`);
    const p = this.statement(sql);
    const config: QueryConfig = { text: p.text, values: params as unknown[] };
    if (p.name) config.name = p.name;
    const b = this.bound();
    try {
      return await (b ? b.client.query(config) : this.pool.query(config));
    } catch (err) {
      // A schema change since this connection prepared the statement (`SELECT *` of an altered table).
      if ((err as { code?: string }).code === '0A000' && /cached plan/.test((err as Error).message) && !b) {
        return this.pool.query({ text: p.text, values: params as unknown[] }).catch((e: unknown) => {
          throw this.error(e);
        });
      }
      throw this.error(err);
    }
  }

  inTransaction(): boolean {
    return this.bound()?.tx === true;
  }

  async all<T extends object>(sql: string, ...params: SqlValue[]): Promise<T[]> {
    return (await this.query(sql, params)).rows as T[];
  }

  async get<T extends object>(sql: string, ...params: SqlValue[]): Promise<T | undefined> {
    return (await this.query(sql, params)).rows[0] as T | undefined;
  }

  async run(sql: string, ...params: SqlValue[]): Promise<RunResult> {
    return { changes: (await this.query(sql, params)).rowCount ?? 0 };
  }

  async exec(script: string): Promise<void> {
    const b = this.bound();
    try {
      // No parameters: the simple query protocol, which runs several statements.
      await (b ? b.client.query(script) : this.pool.query(script));
    } catch (err) {
      throw this.error(err);
    }
  }

  private async connect(): Promise<PoolClient> {
    if (this.closed) throw new Error(`PostgreSQL store at ${this.location}: closed`);
    try {
      const client = await this.pool.connect();
      if (!this.listening.has(client)) {
        // A checked-out connection that dies between statements emits 'error' (unhandled, it would end the
        // process); the transaction's next statement fails instead, and the connection is not reused.
        client.on('error', () => {});
        this.listening.add(client);
      }
      return client;
    } catch (err) {
      throw this.error(err);
    }
  }

  async tx<T>(fn: () => Promise<T>): Promise<T> {
    const outer = this.bound();
    if (outer?.tx) return fn();
    // Inside `exclusive`: the transaction runs on the connection that holds the lock.
    const client = outer ? outer.client : await this.connect();
    const state: Bound = { client, tx: true, ended: false };
    let broken: Error | undefined;
    try {
      await client.query('BEGIN').catch((err: unknown) => {
        throw (broken = this.error(err));
      });
      let result: T;
      try {
        result = await this.flow.run(state, fn);
      } catch (err) {
        state.ended = true;
        await client.query('ROLLBACK').catch((e: unknown) => {
          broken = this.error(e);
        });
        throw err;
      }
      state.ended = true;
      await client.query('COMMIT').catch((err: unknown) => {
        throw (broken = this.error(err));
      });
      return result;
    } finally {
      state.ended = true;
      // A connection that failed mid-transaction is destroyed, not returned to the pool.
      if (!outer) client.release(broken);
    }
  }

  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const outer = this.bound();
    const client = outer ? outer.client : await this.connect();
    const state: Bound = outer ?? { client, tx: false, ended: false };
    let broken: Error | undefined;
    try {
      // A server keeps running a dead client's statement (and holds its lock) until the statement ends;
      // from PostgreSQL 14 it can notice the closed socket while it runs. A killed migration then
      // stops within a second and the next process gets the lock.
      if (!outer) {
        await client
          .query(
            "SELECT set_config('client_connection_check_interval', '1000', false) WHERE current_setting('server_version_num')::int >= 140000",
          )
          .catch((err: unknown) => {
            throw (broken = this.error(err));
          });
      }
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]).catch((err: unknown) => {
        throw (broken = this.error(err));
      });
      try {
        return outer ? await fn() : await this.flow.run(state, fn);
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]).catch((err: unknown) => {
          broken = this.error(err);
        });
      }
    } finally {
      if (!outer) {
        state.ended = true;
        client.release(broken);
      }
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

/** node's TLS options for the target's sslmode (libpq's meanings). */
function sslOptions(t: PostgresTarget): false | ConnectionOptions {
  if (t.sslmode === 'disable') return false;
  const read = (p: string | undefined, what: string) => {
    if (p === undefined) return undefined;
    try {
      return readFileSync(p, 'utf8');
    } catch (err) {
      throw new Error(
        `PostgreSQL store at ${t.location}: cannot read ${what} ${p}: ${(err as Error).message}`,
      );
    }
  };
  const ca = read(t.sslrootcert, 'sslrootcert');
  const cert = read(t.sslcert, 'sslcert');
  const key = read(t.sslkey, 'sslkey');
  const common: ConnectionOptions = {
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
  };
  // require: encrypted, the certificate not checked (as libpq without a root certificate).
  if (t.sslmode === 'require') return { ...common, rejectUnauthorized: false };
  // verify-ca: the chain checked, not the host name; verify-full: both.
  if (t.sslmode === 'verify-ca')
    return { ...common, rejectUnauthorized: true, checkServerIdentity: () => undefined };
  return { ...common, rejectUnauthorized: true, checkServerIdentity };
}
