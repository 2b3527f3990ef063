import { DatabaseSync } from 'node:sqlite';
import type { StatementSync, SQLInputValue } from 'node:sqlite';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { MIGRATIONS } from './migrations.ts';
import type { Migration } from './migrations.ts';
import { SqliteDriver } from './sql.ts';
import { SensorRepository } from './repos/sensors.ts';
import { SyncRepository } from './repos/sync.ts';
import { DagRepository } from './repos/dags.ts';
import { RunRepository } from './repos/runs.ts';
import { TaskRepository } from './repos/tasks.ts';
import { VariableRepository } from './repos/variables.ts';
import { XComRepository } from './repos/xcoms.ts';
import { KeyRepository } from './repos/keys.ts';
import { nowIso } from './clock.ts';

export interface StoreOptions {
  /** Extra migrations of other modules (sync cursors, XCom key state…), numbered after the core ones. */
  readonly extraMigrations?: readonly Migration[];
  /** Milliseconds a writer waits for another process's lock before SQLITE_BUSY. */
  readonly busyTimeoutMs?: number;
}

type Row = Record<string, SQLInputValue>;

export { nowIso } from './clock.ts';

/**
 * The metadata store: one SQLite file in WAL mode. Every state change goes
 * through here and is committed before it is reported.
 */
export class Store {
  readonly db: DatabaseSync;
  readonly path: string;
  /** The asynchronous statement layer the repositories use (src/runtime/store/sql.ts). */
  readonly sql: SqliteDriver;
  /** Sensor pokes, instances, breakers and SLA misses (repos/sensors.ts). */
  readonly sensors: SensorRepository;
  /** Sync pipelines' cursors, manifests and file results (repos/sync.ts). */
  readonly sync: SyncRepository;
  readonly dags: DagRepository;
  readonly runs: RunRepository;
  readonly tasks: TaskRepository;
  readonly variables: VariableRepository;
  /** XComs and their lineage (repos/xcoms.ts). */
  readonly xcoms: XComRepository;
  /** XCom key state: passphrase salts, rotations, encryptions per key (repos/keys.ts). */
  readonly keys: KeyRepository;
  private readonly statements = new Map<string, StatementSync>();

  constructor(path: string, options: StoreOptions = {}) {
    this.path = path;
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new DatabaseSync(path, { timeout: options.busyTimeoutMs ?? 10_000 });
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;');
    this.migrate([...MIGRATIONS, ...(options.extraMigrations ?? [])]);
    this.sql = new SqliteDriver(this.db, path);
    this.sensors = new SensorRepository(this.sql);
    this.sync = new SyncRepository(this.sql);
    this.dags = new DagRepository(this.sql);
    this.runs = new RunRepository(this.sql);
    this.tasks = new TaskRepository(this.sql);
    this.variables = new VariableRepository(this.sql);
    this.xcoms = new XComRepository(this.sql);
    this.keys = new KeyRepository(this.sql);
  }

  close(): void {
    this.statements.clear();
    if (this.db.isOpen) this.db.close();
  }

  /** A cached prepared statement. */
  stmt(sql: string): StatementSync {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  /** Runs fn in a write transaction (BEGIN IMMEDIATE, so concurrent writers queue rather than deadlock). */
  tx<T>(fn: () => T): T {
    if (this.db.isTransaction) return fn();
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const result = fn();
      this.db.exec('COMMIT');
      return result;
    } catch (err) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK');
      throw err;
    }
  }

  private migrate(migrations: readonly Migration[]): void {
    const seen = new Set<number>();
    for (const m of migrations) {
      if (seen.has(m.version)) throw new Error(`Two store migrations share the number ${m.version}`);
      seen.add(m.version);
    }
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
    );
    this.tx(() => {
      const applied = new Set(
        (this.db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map(
          (r) => r.version,
        ),
      );
      for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
        if (applied.has(m.version)) continue;
        try {
          this.db.exec(m.sql);
        } catch (err) {
          throw new Error(`Store migration ${m.version} (${m.name}) failed: ${(err as Error).message}`);
        }
        this.db
          .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
          .run(m.version, m.name, nowIso());
      }
    });
  }

  schemaVersion(): number {
    const row = this.db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
    return row.v ?? 0;
  }

  // ---- helpers ----------------------------------------------------------------

  private update(table: string, fields: Row | object, key: Row): void {
    const entries = Object.entries(fields).filter(([, v]) => v !== undefined) as [string, SQLInputValue][];
    if (entries.length === 0) return;
    const keyEntries = Object.entries(key);
    const sql = `UPDATE ${table} SET ${entries.map(([k]) => `${k} = ?`).join(', ')} WHERE ${keyEntries
      .map(([k]) => `${k} = ?`)
      .join(' AND ')}`;
    this.stmt(sql).run(...entries.map(([, v]) => v), ...keyEntries.map(([, v]) => v));
  }
}
