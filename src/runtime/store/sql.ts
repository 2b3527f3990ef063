/**
 * The one way the store layer speaks to a database: asynchronous, positional `?`
 * parameters, one SQL text for both dialects (SQLite, PostgreSQL), transactions
 * that follow the async call chain.
 *
 * Repositories (src/runtime/store/repos/) are the only users. Inside `tx(fn)`,
 * every statement that `fn` issues through the same `Sql` (directly or through
 * other repositories) runs on the transaction's connection: the transaction is
 * carried by an AsyncLocalStorage, so nested `tx` calls join the outer one and a
 * repository need not be handed a transaction object. Statements of *other*
 * async flows wait until the transaction ends (SQLite has one connection; the
 * PostgreSQL driver gives each transaction its own pooled connection).
 *
 * Dialect differences are kept small: write SQL both accept (`ON CONFLICT … DO`,
 * `RETURNING`, `COALESCE`, `substr`), and branch on `dialect` where they part
 * (`FOR UPDATE SKIP LOCKED`, advisory locks, DDL types).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { DatabaseSync, StatementSync, SQLInputValue } from 'node:sqlite';
import { diskError } from './unwritable.ts';

export type SqlValue = string | number | bigint | null | Uint8Array;
export type Dialect = 'sqlite' | 'postgres';

export interface RunResult {
  /** Rows inserted, updated or deleted. */
  readonly changes: number;
}

/** What a repository holds: statements and transactions. */
export interface Sql {
  readonly dialect: Dialect;
  all<T extends object = Record<string, unknown>>(sql: string, ...params: SqlValue[]): Promise<T[]>;
  get<T extends object = Record<string, unknown>>(sql: string, ...params: SqlValue[]): Promise<T | undefined>;
  run(sql: string, ...params: SqlValue[]): Promise<RunResult>;
  /**
   * Runs fn in one transaction and commits when it resolves (rolls back when it throws).
   * Called inside another transaction of the same async flow, it joins that one.
   */
  tx<T>(fn: () => Promise<T>): Promise<T>;
  /** Whether the calling async flow is inside a transaction. */
  inTransaction(): boolean;
}

/** A database the store opens: statements, plus what only the store itself needs. */
export interface SqlDriver extends Sql {
  /** Where the store is, for messages: a file path, or host:port/database (never a password). */
  readonly location: string;
  /** Runs a script of several statements (migrations' DDL). */
  exec(script: string): Promise<void>;
  /**
   * Runs fn holding a lock that other processes on the same database respect (migrations):
   * PostgreSQL's advisory lock; SQLite's write lock (BEGIN IMMEDIATE), fn being a transaction.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Turns `?` placeholders into PostgreSQL's `$1, $2…`, leaving quoted text and comments alone. */
export function toPostgresPlaceholders(sql: string): string {
  let out = '';
  let n = 0;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i]!;
    if (c === "'" || c === '"') {
      const end = sql.indexOf(c, i + 1);
      const stop = end < 0 ? sql.length : end + 1;
      out += sql.slice(i, stop);
      i = stop - 1;
    } else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end < 0 ? sql.length : end;
      out += sql.slice(i, stop);
      i = stop - 1;
    } else if (c === '?') {
      out += `$${++n}`;
    } else {
      out += c;
    }
  }
  return out;
}

/**
 * SQLite through node:sqlite. Statements run synchronously underneath (the embedded
 * default keeps its speed: no thread hop, cached prepared statements); the async
 * surface only orders them. One connection, so a transaction holds it: statements of
 * other flows wait for the commit instead of slipping into the transaction.
 */
export class SqliteDriver implements SqlDriver {
  readonly dialect = 'sqlite' as const;
  readonly location: string;
  private readonly statements = new Map<string, StatementSync>();
  private readonly flow = new AsyncLocalStorage<symbol>();
  /** The transaction that holds the connection, and a promise that settles when it ends. */
  private holder: { token: symbol; done: Promise<void> } | undefined;

  readonly db: DatabaseSync;

  constructor(db: DatabaseSync, location: string) {
    this.db = db;
    this.location = location;
  }

  private stmt(sql: string): StatementSync {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  inTransaction(): boolean {
    return this.holder !== undefined && this.flow.getStore() === this.holder.token;
  }

  /** Whether another flow's transaction holds the connection (then wait for `holder.done`). */
  private held(): boolean {
    return this.holder !== undefined && this.flow.getStore() !== this.holder.token;
  }

  /** Runs a statement; a full, read-only or failing disk comes out as a StoreUnwritableError naming the file. */
  private sync<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw diskError(err, this.location);
    }
  }

  async all<T extends object>(sql: string, ...params: SqlValue[]): Promise<T[]> {
    while (this.held()) await this.holder!.done;
    return this.sync(() => this.stmt(sql).all(...(params as SQLInputValue[])) as T[]);
  }

  async get<T extends object>(sql: string, ...params: SqlValue[]): Promise<T | undefined> {
    while (this.held()) await this.holder!.done;
    return this.sync(() => this.stmt(sql).get(...(params as SQLInputValue[])) as T | undefined);
  }

  async run(sql: string, ...params: SqlValue[]): Promise<RunResult> {
    while (this.held()) await this.holder!.done;
    return this.sync(() => ({ changes: Number(this.stmt(sql).run(...(params as SQLInputValue[])).changes) }));
  }

  async exec(script: string): Promise<void> {
    while (this.held()) await this.holder!.done;
    this.sync(() => this.db.exec(script));
  }

  async tx<T>(fn: () => Promise<T>): Promise<T> {
    if (this.inTransaction()) return fn();
    // Checked again after each wait, with nothing in between: whoever wakes first takes the connection.
    while (this.held()) await this.holder!.done;
    const token = Symbol('tx');
    let release!: () => void;
    this.holder = { token, done: new Promise<void>((r) => (release = r)) };
    try {
      this.sync(() => this.db.exec('BEGIN IMMEDIATE'));
      try {
        const result = await this.flow.run(token, fn);
        this.sync(() => this.db.exec('COMMIT'));
        return result;
      } catch (err) {
        // A full disk may have rolled the transaction back already; a ROLLBACK that fails there too
        // must not hide why the transaction failed.
        try {
          if (this.db.isTransaction) this.db.exec('ROLLBACK');
        } catch {
          // the first error says it
        }
        throw err;
      }
    } finally {
      this.holder = undefined;
      release();
    }
  }

  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.tx(fn);
  }

  async close(): Promise<void> {
    this.statements.clear();
    if (this.db.isOpen) this.db.close();
  }
}

/**
 * The column that orders a table's rows by insertion: SQLite's implicit rowid; PostgreSQL
 * tables that are ordered or paged by insertion carry a `row_seq BIGSERIAL` for it.
 */
export const ROW_ORDER: Readonly<Record<Dialect, string>> = { sqlite: 'rowid', postgres: 'row_seq' };
