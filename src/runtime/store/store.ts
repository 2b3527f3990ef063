import { DatabaseSync } from 'node:sqlite';
import type { StatementSync, SQLInputValue } from 'node:sqlite';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { MIGRATIONS } from './migrations.ts';
import type { Migration } from './migrations.ts';
import { SqliteDriver } from './sql.ts';
import { SensorRepository } from './repos/sensors.ts';
import { SyncRepository } from './repos/sync.ts';
import type {
  DagFileRecord,
  DagRecord,
  DagRunRecord,
  ImportErrorRecord,
  RunState,
  TaskInstanceRecord,
  TaskState,
  TaskTryRecord,
  XComRecord,
} from './records.ts';

export interface StoreOptions {
  /** Extra migrations of other modules (sync cursors, XCom key state…), numbered after the core ones. */
  readonly extraMigrations?: readonly Migration[];
  /** Milliseconds a writer waits for another process's lock before SQLITE_BUSY. */
  readonly busyTimeoutMs?: number;
}

type Row = Record<string, SQLInputValue>;

export function nowIso(): string {
  return new Date().toISOString();
}

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

  // ---- DAGs and import errors -------------------------------------------------

  /** Whether a DAG seen for the first time starts paused (Airflow's dags_are_paused_at_creation). */
  pausedAtCreation = false;

  upsertDag(d: Omit<DagRecord, 'is_paused'>): void {
    this.stmt(
      `INSERT INTO dags (dag_id, fileloc, description, schedule, tags, task_ids, last_parsed_at, is_paused)
       VALUES (?, ?, ?, ?, ?, ?, ?, ${this.pausedAtCreation ? 1 : 0})
       ON CONFLICT (dag_id) DO UPDATE SET fileloc = excluded.fileloc, description = excluded.description,
         schedule = excluded.schedule, tags = excluded.tags, task_ids = excluded.task_ids,
         last_parsed_at = excluded.last_parsed_at`,
    ).run(d.dag_id, d.fileloc, d.description, d.schedule, d.tags, d.task_ids, d.last_parsed_at);
  }

  listDags(): DagRecord[] {
    return this.stmt('SELECT * FROM dags ORDER BY dag_id').all() as unknown as DagRecord[];
  }

  /** Pauses or unpauses a DAG; false when the store has no such DAG. */
  setPaused(dagId: string, paused: boolean): boolean {
    return Number(this.stmt('UPDATE dags SET is_paused = ? WHERE dag_id = ?').run(paused ? 1 : 0, dagId).changes) > 0;
  }

  /** DAG id → paused, for every DAG in the store. */
  pausedDags(): Map<string, boolean> {
    const rows = this.stmt('SELECT dag_id, is_paused FROM dags').all() as unknown as { dag_id: string; is_paused: number }[];
    return new Map(rows.map((r) => [r.dag_id, r.is_paused !== 0]));
  }

  /** DAG id → how many of its runs are queued or running (what maxActiveRuns limits). */
  activeRunCounts(): Map<string, number> {
    const rows = this.stmt("SELECT dag_id, COUNT(*) AS n FROM dag_runs WHERE state IN ('queued', 'running') GROUP BY dag_id").all() as unknown as { dag_id: string; n: number }[];
    return new Map(rows.map((r) => [r.dag_id, Number(r.n)]));
  }

  /**
   * Claims a queued run for this process: it becomes `running` only if the DAG has fewer
   * than `maxActiveRuns` running runs. One guarded statement, so runtimes sharing the
   * store cannot both pass the limit or both take the run.
   */
  claimRun(dagId: string, runId: string, maxActiveRuns: number, pid: number, at: string): boolean {
    const r = this.stmt(
      `UPDATE dag_runs SET state = 'running', owner_pid = ?, heartbeat_at = ?, start_date = COALESCE(start_date, ?), end_date = NULL
       WHERE dag_id = ? AND run_id = ? AND state = 'queued'
         AND (SELECT COUNT(*) FROM dag_runs WHERE dag_id = ? AND state = 'running') < ?`,
    ).run(pid, at, at, dagId, runId, dagId, maxActiveRuns);
    return Number(r.changes) > 0;
  }

  /** Takes over a run a stopped runtime left (`running`, no owner); false if another runtime did first. */
  adoptRun(dagId: string, runId: string, pid: number, at: string): boolean {
    const r = this.stmt("UPDATE dag_runs SET owner_pid = ?, heartbeat_at = ? WHERE dag_id = ? AND run_id = ? AND state = 'running' AND owner_pid IS NULL").run(pid, at, dagId, runId);
    return Number(r.changes) > 0;
  }

  /**
   * Inserts a run unless the DAG already has one with that run id or logical date (the
   * claim of run creation when several schedulers share a store); false when it exists.
   */
  insertRunIfAbsent(r: Omit<DagRunRecord, 'id' | 'start_date' | 'end_date' | 'owner_pid' | 'heartbeat_at'>): boolean {
    const res = this.stmt(
      `INSERT INTO dag_runs (dag_id, run_id, run_type, logical_date, data_interval_start, data_interval_end, state, conf, queued_at)
       SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?
       WHERE NOT EXISTS (SELECT 1 FROM dag_runs WHERE dag_id = ? AND logical_date = ? AND run_type IN ('scheduled', 'backfill'))
       ON CONFLICT (dag_id, run_id) DO NOTHING`,
    ).run(r.dag_id, r.run_id, r.run_type, r.logical_date, r.data_interval_start, r.data_interval_end, r.state, r.conf, r.queued_at, r.dag_id, r.logical_date);
    return Number(res.changes) > 0;
  }

  /** The data interval of a DAG's latest scheduled or backfill run (Airflow's last automated run). */
  lastAutomatedRun(dagId: string): DagRunRecord | undefined {
    return this.stmt(
      "SELECT * FROM dag_runs WHERE dag_id = ? AND run_type IN ('scheduled', 'backfill') ORDER BY logical_date DESC, id DESC LIMIT 1",
    ).get(dagId) as DagRunRecord | undefined;
  }

  /** Replaces the recorded import errors with the ones of the latest parse. */
  replaceImportErrors(errors: readonly ImportErrorRecord[]): void {
    this.tx(() => {
      this.stmt('DELETE FROM import_errors').run();
      for (const e of errors) {
        this.stmt('INSERT INTO import_errors (fileloc, dag_id, message, line, col, seen_at) VALUES (?, ?, ?, ?, ?, ?)').run(
          e.fileloc,
          e.dag_id,
          e.message,
          e.line,
          e.col,
          e.seen_at,
        );
      }
    });
  }

  listImportErrors(): ImportErrorRecord[] {
    return this.stmt('SELECT fileloc, dag_id, message, line, col, seen_at FROM import_errors ORDER BY fileloc, id').all() as unknown as ImportErrorRecord[];
  }

  // ---- DAG files (the DAG processor's results) ----------------------------------

  listDagFiles(): DagFileRecord[] {
    return this.stmt('SELECT * FROM dag_files ORDER BY fileloc').all() as unknown as DagFileRecord[];
  }

  /** Records the processor's results for the given files and forgets files that are gone. */
  saveDagFiles(files: readonly DagFileRecord[], present: readonly string[]): void {
    this.tx(() => {
      const keep = new Set(present);
      for (const row of this.stmt('SELECT fileloc FROM dag_files').all() as { fileloc: string }[]) {
        if (!keep.has(row.fileloc)) this.stmt('DELETE FROM dag_files WHERE fileloc = ?').run(row.fileloc);
      }
      for (const f of files) {
        this.stmt(
          `INSERT INTO dag_files (fileloc, content_hash, inputs, parser_version, bundle_path, bundle_hash, dags, errors, budget_failure, compile_ms, import_ms, total_ms, parsed_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (fileloc) DO UPDATE SET content_hash = excluded.content_hash, inputs = excluded.inputs,
             parser_version = excluded.parser_version, bundle_path = excluded.bundle_path, bundle_hash = excluded.bundle_hash,
             dags = excluded.dags, errors = excluded.errors, budget_failure = excluded.budget_failure,
             compile_ms = excluded.compile_ms, import_ms = excluded.import_ms, total_ms = excluded.total_ms, parsed_at = excluded.parsed_at`,
        ).run(f.fileloc, f.content_hash, f.inputs, f.parser_version, f.bundle_path, f.bundle_hash, f.dags, f.errors, f.budget_failure, f.compile_ms, f.import_ms, f.total_ms, f.parsed_at);
      }
    });
  }

  // ---- runs -----------------------------------------------------------------

  insertRun(r: Omit<DagRunRecord, 'id' | 'start_date' | 'end_date' | 'owner_pid' | 'heartbeat_at'>): DagRunRecord {
    try {
      this.stmt(
        `INSERT INTO dag_runs (dag_id, run_id, run_type, logical_date, data_interval_start, data_interval_end, state, conf, queued_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(
        r.dag_id,
        r.run_id,
        r.run_type,
        r.logical_date,
        r.data_interval_start,
        r.data_interval_end,
        r.state,
        r.conf,
        r.queued_at,
      );
    } catch (err) {
      if (/UNIQUE/.test((err as Error).message)) {
        throw new Error(`DAG "${r.dag_id}" already has a run "${r.run_id}"`);
      }
      throw err;
    }
    return this.getRun(r.dag_id, r.run_id)!;
  }

  getRun(dagId: string, runId: string): DagRunRecord | undefined {
    return this.stmt('SELECT * FROM dag_runs WHERE dag_id = ? AND run_id = ?').get(dagId, runId) as
      | DagRunRecord
      | undefined;
  }

  /** Finds a run by run id alone (run ids are unique per DAG; this takes the newest match). */
  findRun(runId: string, dagId?: string): DagRunRecord | undefined {
    if (dagId) return this.getRun(dagId, runId);
    return this.stmt('SELECT * FROM dag_runs WHERE run_id = ? ORDER BY id DESC LIMIT 1').get(runId) as
      | DagRunRecord
      | undefined;
  }

  listRuns(filter: { dagId?: string; state?: RunState; limit?: number } = {}): DagRunRecord[] {
    const where: string[] = [];
    const args: SQLInputValue[] = [];
    if (filter.dagId) {
      where.push('dag_id = ?');
      args.push(filter.dagId);
    }
    if (filter.state) {
      where.push('state = ?');
      args.push(filter.state);
    }
    const sql = `SELECT * FROM dag_runs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`;
    return this.db.prepare(sql).all(...args, filter.limit ?? 100) as unknown as DagRunRecord[];
  }

  updateRun(dagId: string, runId: string, fields: Partial<Omit<DagRunRecord, 'id' | 'dag_id' | 'run_id'>>): void {
    this.update('dag_runs', fields, { dag_id: dagId, run_id: runId });
  }

  // ---- task instances -----------------------------------------------------------

  insertTaskInstance(ti: Pick<TaskInstanceRecord, 'dag_id' | 'run_id' | 'task_id' | 'map_index' | 'max_tries' | 'operator' | 'pool' | 'state'>): void {
    this.stmt(
      `INSERT INTO task_instances (dag_id, run_id, task_id, map_index, max_tries, operator, pool, state, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT DO NOTHING`,
    ).run(ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.max_tries, ti.operator, ti.pool, ti.state, nowIso());
  }

  getTaskInstance(dagId: string, runId: string, taskId: string, mapIndex = -1): TaskInstanceRecord | undefined {
    return this.stmt(
      'SELECT * FROM task_instances WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ?',
    ).get(dagId, runId, taskId, mapIndex) as TaskInstanceRecord | undefined;
  }

  listTaskInstances(dagId: string, runId: string): TaskInstanceRecord[] {
    return this.stmt(
      'SELECT * FROM task_instances WHERE dag_id = ? AND run_id = ? ORDER BY rowid',
    ).all(dagId, runId) as unknown as TaskInstanceRecord[];
  }

  updateTaskInstance(
    key: { dag_id: string; run_id: string; task_id: string; map_index: number },
    fields: Partial<Omit<TaskInstanceRecord, 'dag_id' | 'run_id' | 'task_id' | 'map_index'>>,
  ): void {
    this.update('task_instances', { ...fields, updated_at: nowIso() }, key);
  }

  /**
   * Claims a try: moves the task instance to `running` with the next try number,
   * only if it is still in one of the expected states. Two runtimes racing on one
   * store cannot both win: the update is guarded and atomic.
   */
  claimTry(
    key: { dag_id: string; run_id: string; task_id: string; map_index: number },
    fromStates: readonly (TaskState | null)[],
    expectedTryNumber: number,
    claim: { pid: number; hostname: string; start_date: string },
    /** `queued` when another process (a worker) will start it, `running` when it starts now. */
    to: 'queued' | 'running' = 'running',
  ): boolean {
    const states = fromStates.filter((s): s is TaskState => s !== null);
    const placeholders = states.map(() => '?').join(', ');
    const fromNone = fromStates.includes(null) ? ' OR state IS NULL' : '';
    const res = this.stmt(
      `UPDATE task_instances SET state = ?, try_number = try_number + 1, pid = ?, hostname = ?,
         start_date = ?, end_date = NULL, duration = NULL, heartbeat_at = ?, next_try_at = NULL, error = NULL, updated_at = ?
       WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ? AND try_number = ? AND (state IN (${placeholders})${fromNone})`,
    ).run(
      to,
      claim.pid,
      claim.hostname,
      claim.start_date,
      claim.start_date,
      claim.start_date,
      key.dag_id,
      key.run_id,
      key.task_id,
      key.map_index,
      expectedTryNumber,
      ...states,
    );
    return Number(res.changes) === 1;
  }

  upsertTry(t: TaskTryRecord): void {
    this.stmt(
      `INSERT INTO task_tries (dag_id, run_id, task_id, map_index, try_number, state, start_date, end_date, duration, pid, hostname, error, log_path)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (dag_id, run_id, task_id, map_index, try_number) DO UPDATE SET
         state = excluded.state, start_date = excluded.start_date, end_date = excluded.end_date, duration = excluded.duration,
         pid = excluded.pid, hostname = excluded.hostname, error = excluded.error, log_path = excluded.log_path`,
    ).run(
      t.dag_id,
      t.run_id,
      t.task_id,
      t.map_index,
      t.try_number,
      t.state,
      t.start_date,
      t.end_date,
      t.duration,
      t.pid,
      t.hostname,
      t.error,
      t.log_path,
    );
  }

  listTries(dagId: string, runId: string, taskId?: string, mapIndex?: number): TaskTryRecord[] {
    let sql = 'SELECT * FROM task_tries WHERE dag_id = ? AND run_id = ?';
    const args: SQLInputValue[] = [dagId, runId];
    if (taskId !== undefined) {
      sql += ' AND task_id = ?';
      args.push(taskId);
    }
    if (mapIndex !== undefined) {
      sql += ' AND map_index = ?';
      args.push(mapIndex);
    }
    return this.db.prepare(sql + ' ORDER BY task_id, map_index, try_number').all(...args) as unknown as TaskTryRecord[];
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
