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
import { nowIso } from './clock.ts';
import type { XComRecord } from './records.ts';

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

  // ---- XComs ------------------------------------------------------------------

  putXCom(x: XComRecord): void {
    this.stmt(
      `INSERT INTO xcom (dag_id, run_id, task_id, map_index, key, value, chain, size_original, size_stored, sensitive, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (dag_id, run_id, task_id, map_index, key) DO UPDATE SET value = excluded.value, chain = excluded.chain,
         size_original = excluded.size_original, size_stored = excluded.size_stored, sensitive = excluded.sensitive,
         created_at = excluded.created_at`,
    ).run(
      x.dag_id,
      x.run_id,
      x.task_id,
      x.map_index,
      x.key,
      x.value,
      x.chain,
      x.size_original,
      x.size_stored,
      x.sensitive,
      x.created_at,
    );
  }

  getXCom(dagId: string, runId: string, taskId: string, key: string, mapIndex = -1): XComRecord | undefined {
    return this.stmt(
      'SELECT * FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ? AND key = ?',
    ).get(dagId, runId, taskId, mapIndex, key) as XComRecord | undefined;
  }

  listXComs(filter: {
    dagId: string;
    runId?: string;
    taskId?: string;
    mapIndex?: number;
    keyPrefix?: string;
    key?: string;
  }): XComRecord[] {
    const where = ['dag_id = ?'];
    const args: SQLInputValue[] = [filter.dagId];
    const add = (col: string, v: SQLInputValue | undefined) => {
      if (v === undefined) return;
      where.push(`${col} = ?`);
      args.push(v);
    };
    add('run_id', filter.runId);
    add('task_id', filter.taskId);
    add('map_index', filter.mapIndex);
    add('key', filter.key);
    if (filter.keyPrefix !== undefined) {
      // substr comparison instead of LIKE, so '_' and '%' in prefixes are literal.
      where.push('substr(key, 1, ?) = ?');
      args.push(filter.keyPrefix.length, filter.keyPrefix);
    }
    return this.db
      .prepare(`SELECT * FROM xcom WHERE ${where.join(' AND ')} ORDER BY run_id, task_id, map_index, key`)
      .all(...args) as unknown as XComRecord[];
  }

  deleteXComs(filter: { dagId: string; runId: string; taskId?: string; mapIndex?: number; key?: string }): XComRecord[] {
    const rows = this.listXComs(filter);
    this.tx(() => {
      for (const r of rows) {
        this.stmt(
          'DELETE FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ? AND key = ?',
        ).run(r.dag_id, r.run_id, r.task_id, r.map_index, r.key);
      }
    });
    return rows;
  }

  recordPull(x: { dag_id: string; run_id: string; task_id: string; map_index: number; key: string }, by: { task_id: string; map_index: number }): void {
    this.stmt(
      `INSERT INTO xcom_pulls (dag_id, run_id, task_id, map_index, key, pulled_by_task_id, pulled_by_map_index, pulled_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(x.dag_id, x.run_id, x.task_id, x.map_index, x.key, by.task_id, by.map_index, nowIso());
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
