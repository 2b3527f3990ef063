/** Task instances and their tries. */
import type { Sql, SqlValue } from '../sql.ts';
import { ROW_ORDER } from '../sql.ts';
import { nowIso } from '../clock.ts';
import type { TaskInstanceRecord, TaskState, TaskTryRecord } from '../records.ts';
import { updateRow } from './update.ts';

const TRY_COLUMNS = 'dag_id, run_id, task_id, map_index, try_number, state, start_date, end_date, duration, pid, hostname, error, log_path';
const TRY_UPSERT = `state = excluded.state, start_date = excluded.start_date, end_date = excluded.end_date, duration = excluded.duration,
         pid = excluded.pid, hostname = excluded.hostname, error = excluded.error, log_path = excluded.log_path`;

export interface TiKey {
  readonly dag_id: string;
  readonly run_id: string;
  readonly task_id: string;
  readonly map_index: number;
}

export type NewTaskInstance = Pick<TaskInstanceRecord, 'dag_id' | 'run_id' | 'task_id' | 'map_index' | 'max_tries' | 'operator' | 'pool' | 'state'>;

export class TaskRepository {
  private readonly sql: Sql;

  constructor(sql: Sql) {
    this.sql = sql;
  }

  /** Inserts task instances, each unless it exists. */
  async insert(tis: readonly NewTaskInstance[]): Promise<void> {
    // A statement per 500 rows (4,500 parameters: under SQLite's and PostgreSQL's limits), not per
    // row: a run of a 400-task DAG is created in one round trip.
    const at = nowIso();
    for (let i = 0; i < tis.length; i += 500) {
      const chunk = tis.slice(i, i + 500);
      await this.sql.run(
        `INSERT INTO task_instances (dag_id, run_id, task_id, map_index, max_tries, operator, pool, state, updated_at)
         VALUES ${chunk.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}
         ON CONFLICT DO NOTHING`,
        ...chunk.flatMap((ti) => [ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.max_tries, ti.operator, ti.pool, ti.state, at]),
      );
    }
  }

  get(dagId: string, runId: string, taskId: string, mapIndex = -1): Promise<TaskInstanceRecord | undefined> {
    return this.sql.get<TaskInstanceRecord>('SELECT * FROM task_instances WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ?', dagId, runId, taskId, mapIndex);
  }

  /** A run's task instances, in the order they were created. */
  list(dagId: string, runId: string): Promise<TaskInstanceRecord[]> {
    return this.sql.all<TaskInstanceRecord>(`SELECT * FROM task_instances WHERE dag_id = ? AND run_id = ? ORDER BY ${ROW_ORDER[this.sql.dialect]}`, dagId, runId);
  }

  /** One task's instances in a run (every map index). */
  listOfTask(dagId: string, runId: string, taskId: string): Promise<TaskInstanceRecord[]> {
    return this.sql.all<TaskInstanceRecord>('SELECT * FROM task_instances WHERE dag_id = ? AND run_id = ? AND task_id = ? ORDER BY map_index', dagId, runId, taskId);
  }

  async update(key: TiKey, fields: Partial<Omit<TaskInstanceRecord, 'dag_id' | 'run_id' | 'task_id' | 'map_index'>>): Promise<void> {
    await updateRow(this.sql, 'task_instances', { ...fields, updated_at: nowIso() }, { ...key });
  }

  /** Replaces a mapped task's placeholder (map index -1) with `count` instances. */
  expand(placeholder: NewTaskInstance, count: number): Promise<void> {
    return this.sql.tx(async () => {
      await this.sql.run('DELETE FROM task_instances WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = -1', placeholder.dag_id, placeholder.run_id, placeholder.task_id);
      await this.insert(Array.from({ length: count }, (_, i) => ({ ...placeholder, map_index: i, state: null })));
    });
  }

  /**
   * Claims a try: moves the task instance to `running` (or `queued`) with the next try
   * number, only if it is still in one of the expected states at the expected try number,
   * and records the try (its log's path). Two runtimes racing on one store cannot both win:
   * the update is guarded and atomic. On PostgreSQL one statement: one round trip per try.
   */
  async claimTry(
    key: TiKey,
    fromStates: readonly (TaskState | null)[],
    expectedTryNumber: number,
    claim: { pid: number; hostname: string; start_date: string; log_path: string; pool_slots?: number },
    /** `queued` when another process (a worker) will start it, `running` when it starts now. */
    to: 'queued' | 'running' = 'running',
  ): Promise<boolean> {
    const states = fromStates.filter((s): s is TaskState => s !== null);
    const inStates = states.length ? `state IN (${states.map(() => '?').join(', ')})` : 'FALSE';
    const fromNone = fromStates.includes(null) ? ' OR state IS NULL' : '';
    const update = `UPDATE task_instances SET state = ?, try_number = try_number + 1, pid = ?, hostname = ?, pool_slots = ?,
         start_date = ?, end_date = NULL, duration = NULL, heartbeat_at = ?, next_try_at = NULL, error = NULL, updated_at = ?
       WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ? AND try_number = ? AND (${inStates}${fromNone})`;
    const updateArgs = [to, claim.pid, claim.hostname, claim.pool_slots ?? 1, claim.start_date, claim.start_date, claim.start_date, key.dag_id, key.run_id, key.task_id, key.map_index, expectedTryNumber, ...states];
    const tryRow = (tryNumber: SqlValue) => ({
      ...key,
      try_number: tryNumber as number,
      state: to,
      start_date: claim.start_date,
      end_date: null,
      duration: null,
      pid: claim.pid,
      hostname: claim.hostname,
      error: null,
      log_path: claim.log_path,
    });
    if (this.sql.dialect === 'postgres') {
      // The try record is written from what the update returned: nothing when the claim lost.
      const r = tryRow(null);
      const res = await this.sql.run(
        `WITH c AS (${update} RETURNING try_number)
         INSERT INTO task_tries (${TRY_COLUMNS}) SELECT ?, ?, ?, ?, c.try_number, ?, ?, ?, ?, ?, ?, ?, ? FROM c
         ON CONFLICT (dag_id, run_id, task_id, map_index, try_number) DO UPDATE SET ${TRY_UPSERT}`,
        ...updateArgs,
        r.dag_id, r.run_id, r.task_id, r.map_index, r.state, r.start_date, r.end_date, r.duration, r.pid, r.hostname, r.error, r.log_path,
      );
      return res.changes === 1;
    }
    return this.sql.tx(async () => {
      if ((await this.sql.run(update, ...updateArgs)).changes !== 1) return false;
      await this.upsertTry(tryRow(expectedTryNumber + 1));
      return true;
    });
  }

  /**
   * Whether a pool has room for `slots` more, counting the tries every process sharing the
   * store has claimed (`queued` or `running`), as Airflow's pools do: inside the caller's
   * transaction, which then claims the try. A pool holds one try whatever its size when empty
   * (as Pools.tryAcquire). On PostgreSQL the pool is locked for the rest of the transaction
   * (an advisory lock, tried: busy means no room this turn, never a deadlock between
   * schedulers); SQLite's write transaction is exclusive already.
   */
  async poolHasRoom(pool: string, slots: number, total: number): Promise<boolean> {
    if (this.sql.dialect === 'postgres') {
      const lock = await this.sql.get<{ ok: boolean }>("SELECT pg_try_advisory_xact_lock(hashtext('hangar.pool:' || ?)) AS ok", pool);
      if (!lock?.ok) return false;
    }
    const row = await this.sql.get<{ used: number | string | null }>(
      "SELECT SUM(pool_slots) AS used FROM task_instances WHERE pool = ? AND state IN ('queued', 'running')",
      pool,
    );
    const used = Number(row?.used ?? 0);
    return used === 0 || used + slots <= total;
  }

  /** A worker started a queued try: the instance and the try are `running` under its pid. */
  markTryRunning(key: TiKey, tryNumber: number, pid: number, host?: string): Promise<void> {
    return this.sql.tx(async () => {
      await this.update(key, { state: 'running', pid, hostname: host });
      await this.sql.run(
        "UPDATE task_tries SET state = 'running', pid = ?, hostname = COALESCE(?, hostname), running_at = ? WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ? AND try_number = ?",
        pid,
        host ?? null,
        nowIso(),
        key.dag_id,
        key.run_id,
        key.task_id,
        key.map_index,
        tryNumber,
      );
    });
  }

  /**
   * Ends a `running`/`queued` try whose process is gone, guarded on state and try number so
   * that it is settled once; false when something else settled it first.
   */
  async settleOrphanTry(ti: TiKey & { try_number: number }, state: TaskState, error: string, nextTryAt: string | null): Promise<boolean> {
    const end = nowIso();
    return this.sql.tx(async () => {
      const res = await this.sql.run(
        "UPDATE task_instances SET state = ?, error = ?, end_date = ?, next_try_at = ?, updated_at = ? WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ? AND try_number = ? AND state IN ('running', 'queued')",
        state,
        error,
        end,
        nextTryAt,
        end,
        ti.dag_id,
        ti.run_id,
        ti.task_id,
        ti.map_index,
        ti.try_number,
      );
      if (res.changes !== 1) return false;
      await this.sql.run(
        "UPDATE task_tries SET state = 'failed', error = ?, end_date = ? WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ? AND try_number = ?",
        error,
        end,
        ti.dag_id,
        ti.run_id,
        ti.task_id,
        ti.map_index,
        ti.try_number,
      );
      return true;
    });
  }

  async upsertTry(t: TaskTryRecord): Promise<void> {
    await this.sql.run(
      `INSERT INTO task_tries (${TRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (dag_id, run_id, task_id, map_index, try_number) DO UPDATE SET ${TRY_UPSERT}`,
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

  /**
   * Records how a try ended: its try record, and the task instance's new state. On PostgreSQL
   * one statement (one round trip per ended try); inside the caller's transaction either way.
   */
  async endTry(t: TaskTryRecord, fields: Partial<Omit<TaskInstanceRecord, 'dag_id' | 'run_id' | 'task_id' | 'map_index'>>): Promise<void> {
    const key = { dag_id: t.dag_id, run_id: t.run_id, task_id: t.task_id, map_index: t.map_index };
    if (this.sql.dialect !== 'postgres') {
      await this.upsertTry(t);
      await this.update(key, fields);
      return;
    }
    const set = Object.entries({ ...fields, updated_at: nowIso() }).filter(([, v]) => v !== undefined) as [string, SqlValue][];
    await this.sql.run(
      `WITH t AS (INSERT INTO task_tries (${TRY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (dag_id, run_id, task_id, map_index, try_number) DO UPDATE SET ${TRY_UPSERT} RETURNING 1)
       UPDATE task_instances SET ${set.map(([k]) => `${k} = ?`).join(', ')}
       WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ? AND EXISTS (SELECT 1 FROM t)`,
      t.dag_id, t.run_id, t.task_id, t.map_index, t.try_number, t.state, t.start_date, t.end_date, t.duration, t.pid, t.hostname, t.error, t.log_path,
      ...set.map(([, v]) => v),
      key.dag_id, key.run_id, key.task_id, key.map_index,
    );
  }

  listTries(dagId: string, runId: string, taskId?: string, mapIndex?: number): Promise<TaskTryRecord[]> {
    let text = 'SELECT * FROM task_tries WHERE dag_id = ? AND run_id = ?';
    const args: SqlValue[] = [dagId, runId];
    if (taskId !== undefined) {
      text += ' AND task_id = ?';
      args.push(taskId);
    }
    if (mapIndex !== undefined) {
      text += ' AND map_index = ?';
      args.push(mapIndex);
    }
    return this.sql.all<TaskTryRecord>(text + ' ORDER BY task_id, map_index, try_number', ...args);
  }
}
