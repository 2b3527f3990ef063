/**
 * What the editor's Grid and Gantt views read (src/runtime/server/grid.ts, gantt.ts): a page of a
 * DAG's runs by its task instances in two queries whatever the page's size, and one run's task
 * instances, tries and reschedule pokes. SQLite's grid query keeps its tuned form (a JSON array
 * of the page's runs as the outer loop, rows as arrays, times as epoch milliseconds computed in
 * SQL); PostgreSQL's gives the same rows with `unnest … WITH ORDINALITY`.
 */
import type { StatementSync } from 'node:sqlite';
import type { Sql } from '../sql.ts';
import { SqliteDriver } from '../sql.ts';
import type { RunState, TaskState } from '../records.ts';

export interface GridRunRow {
  run_id: string;
  run_type: string;
  state: string;
  logical_date: string;
  queued_at: string;
  start_date: string | null;
  end_date: string | null;
}

/** One cell: the run's column, the task instance, its state code, try, duration, start and end (ms, where used). */
export type GridCellRow = [
  col: number,
  taskId: string,
  mapIndex: number,
  code: number,
  tryNumber: number,
  duration: number | null,
  startMs: number | null,
  endMs: number | null,
];

export interface GanttTi {
  task_id: string;
  map_index: number;
  state: TaskState | null;
  try_number: number;
  start_date: string | null;
  end_date: string | null;
}
export interface GanttTry {
  task_id: string;
  map_index: number;
  try_number: number;
  state: TaskState;
  start_date: string | null;
  end_date: string | null;
  running_at: string | null;
}
export interface GanttPoke {
  task_id: string;
  map_index: number;
  try_number: number;
  poked_at_ms: number;
  duration_ms: number;
}

/** `CASE state WHEN 'x' THEN i … ELSE 0 END` for the grid's state codes (index in `states`; 0 = none). */
function stateCode(col: string, states: readonly string[]): string {
  return `CASE ${col} ${states.map((st, i) => (i === 0 ? '' : `WHEN '${st.replace(/'/g, "''")}' THEN ${i}`)).join(' ')} ELSE 0 END`;
}

export class ViewRepository {
  private readonly sql: Sql;
  private sqliteCells: { states: string; stmt: StatementSync } | undefined;

  constructor(sql: Sql) {
    this.sql = sql;
  }

  /** A page of a DAG's runs, newest first, and how many runs it has. */
  async gridRuns(
    dagId: string,
    limit: number,
    offset: number,
  ): Promise<{ runs: GridRunRow[]; total: number }> {
    const runs = await this.sql.all<GridRunRow>(
      'SELECT run_id, run_type, state, logical_date, queued_at, start_date, end_date FROM dag_runs WHERE dag_id = ? ORDER BY logical_date DESC, id DESC LIMIT ? OFFSET ?',
      dagId,
      limit,
      offset,
    );
    const n = await this.sql.get<{ n: number }>('SELECT COUNT(*) AS n FROM dag_runs WHERE dag_id = ?', dagId);
    return { runs, total: Number(n?.n ?? 0) };
  }

  /**
   * Every task instance of the given runs, in one query, as arrays: the run's index in `runIds`, the
   * task, its state as an index in `states` (`states[0]` is "none"), and times as epoch milliseconds
   * only where the grid uses them (mapped instances; running or queued ones).
   */
  async gridCells(
    dagId: string,
    runIds: readonly string[],
    states: readonly string[],
  ): Promise<GridCellRow[]> {
    if (runIds.length === 0) return [];
    if (this.sql instanceof SqliteDriver) return this.sqliteGridCells(this.sql, dagId, runIds, states);
    const ms = (col: string) => `(EXTRACT(EPOCH FROM ${col}::timestamptz) * 1000)::bigint`;
    const rows = await this.sql.all<{
      col: number;
      task_id: string;
      map_index: number;
      code: number;
      try_number: number;
      duration: number | null;
      start_ms: number | null;
      end_ms: number | null;
    }>(
      `SELECT r.ord - 1 AS col, ti.task_id, ti.map_index, ${stateCode('ti.state', states)} AS code, ti.try_number, ti.duration,
              CASE WHEN ti.map_index >= 0 OR ti.state IN ('running', 'queued') THEN ${ms('ti.start_date')} END AS start_ms,
              CASE WHEN ti.map_index >= 0 THEN ${ms('ti.end_date')} END AS end_ms
       FROM unnest(?::text[]) WITH ORDINALITY AS r(run_id, ord)
       JOIN task_instances ti ON ti.dag_id = ? AND ti.run_id = r.run_id`,
      runIds as unknown as string,
      dagId,
    );
    return rows.map((r) => [
      Number(r.col),
      r.task_id,
      Number(r.map_index),
      Number(r.code),
      Number(r.try_number),
      r.duration,
      r.start_ms === null ? null : Number(r.start_ms),
      r.end_ms === null ? null : Number(r.end_ms),
    ]);
  }

  /**
   * SQLite: the runs are a JSON array bound as a parameter (`json_each` gives each its column) and the
   * statement returns arrays, so no object is made per cell. CROSS JOIN keeps the runs as the outer loop
   * (SQLite's planner otherwise scans every task instance of the DAG and looks each up in the JSON: 20×
   * slower with 365 runs).
   */
  private sqliteGridCells(
    driver: SqliteDriver,
    dagId: string,
    runIds: readonly string[],
    states: readonly string[],
  ): GridCellRow[] {
    const key = states.join(',');
    if (this.sqliteCells?.states !== key) {
      const ms = (col: string) => `CAST(ROUND((julianday(${col}) - 2440587.5) * 86400000) AS INTEGER)`;
      const stmt = driver.db.prepare(`
SELECT r.key, ti.task_id, ti.map_index, ${stateCode('ti.state', states)},
       ti.try_number, ti.duration,
       CASE WHEN ti.map_index >= 0 OR ti.state IN ('running', 'queued') THEN ${ms('ti.start_date')} END,
       CASE WHEN ti.map_index >= 0 THEN ${ms('ti.end_date')} END
FROM json_each(?) r
CROSS JOIN task_instances ti ON ti.dag_id = ? AND ti.run_id = r.value`);
      stmt.setReturnArrays(true);
      this.sqliteCells = { states: key, stmt };
    }
    return this.sqliteCells.stmt.all(JSON.stringify(runIds), dagId) as unknown as GridCellRow[];
  }

  /** One run's task instances, tries (in order) and reschedule-mode pokes: the Gantt's rows. */
  async ganttRows(
    dagId: string,
    runId: string,
  ): Promise<{ tis: GanttTi[]; tries: GanttTry[]; pokes: GanttPoke[] }> {
    const tis = await this.sql.all<GanttTi>(
      'SELECT task_id, map_index, state, try_number, start_date, end_date FROM task_instances WHERE dag_id = ? AND run_id = ?',
      dagId,
      runId,
    );
    const tries = await this.sql.all<GanttTry>(
      'SELECT task_id, map_index, try_number, state, start_date, end_date, running_at FROM task_tries WHERE dag_id = ? AND run_id = ? ORDER BY task_id, map_index, try_number',
      dagId,
      runId,
    );
    const pokes = await this.sql.all<GanttPoke>(
      "SELECT task_id, map_index, try_number, poked_at_ms, duration_ms FROM sensor_pokes WHERE dag_id = ? AND run_id = ? AND mode = 'reschedule' ORDER BY task_id, map_index, poke_number",
      dagId,
      runId,
    );
    return { tis, tries, pokes };
  }

  // What the editor's store watcher reads (src/runtime/store-watch.ts): changes other processes made.

  /** Task instances changed at or after `since` (their `updated_at`), oldest change first; at most `limit`. */
  changedTasks(since: string, limit: number): Promise<WatchedTask[]> {
    return this.sql.all<WatchedTask>(
      `SELECT dag_id, run_id, task_id, map_index, state, try_number, next_try_at, error, duration, updated_at
       FROM task_instances WHERE updated_at >= ? ORDER BY updated_at, dag_id, run_id, task_id, map_index LIMIT ?`,
      since,
      limit,
    );
  }

  /** Runs queued or running now, and those that ended at or after `since`. */
  watchedRuns(since: string): Promise<WatchedRun[]> {
    return this.sql.all<WatchedRun>(
      "SELECT dag_id, run_id, state, end_date FROM dag_runs WHERE state IN ('queued', 'running') OR end_date >= ?",
      since,
    );
  }

  /**
   * SQLite: a number that changes when another connection commits (PRAGMA data_version), so a
   * watcher can skip its reads while nobody else wrote. PostgreSQL: undefined (always read).
   */
  async othersWrote(): Promise<number | undefined> {
    if (this.sql.dialect !== 'sqlite') return undefined;
    const row = await this.sql.get<{ data_version: number }>('PRAGMA data_version');
    return Number(row?.data_version);
  }
}

export interface WatchedTask {
  dag_id: string;
  run_id: string;
  task_id: string;
  map_index: number;
  state: TaskState | null;
  try_number: number;
  next_try_at: string | null;
  error: string | null;
  duration: number | null;
  updated_at: string;
}

export interface WatchedRun {
  dag_id: string;
  run_id: string;
  state: RunState;
  end_date: string | null;
}
