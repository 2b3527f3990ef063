/** Task instances and their tries. */
import type { Sql, SqlValue } from '../sql.ts';
import { ROW_ORDER } from '../sql.ts';
import { nowIso } from '../clock.ts';
import type { TaskInstanceRecord, TaskState, TaskTryRecord } from '../records.ts';
import { updateRow } from './update.ts';
import { byShape, recordset, recordsetParam } from './recordset.ts';

const TRY_COLUMNS = 'dag_id, run_id, task_id, map_index, try_number, state, start_date, end_date, duration, pid, hostname, error, log_path';
const TRY_UPSERT = `state = excluded.state, start_date = excluded.start_date, end_date = excluded.end_date, duration = excluded.duration,
         pid = excluded.pid, hostname = excluded.hostname, error = excluded.error, log_path = excluded.log_path`;

export interface TiKey {
  readonly dag_id: string;
  readonly run_id: string;
  readonly task_id: string;
  readonly map_index: number;
}

/** Fields of a task instance a scheduler changes. */
export type TiFields = Partial<Omit<TaskInstanceRecord, 'dag_id' | 'run_id' | 'task_id' | 'map_index'>>;

/** A try to claim: its task instance, the try number it must be at now, its log and pool slots. */
export interface TryClaim {
  readonly key: TiKey;
  readonly expectedTryNumber: number;
  readonly log_path: string;
  readonly pool_slots?: number;
}

/** How a try ended: its record, and its task instance's new fields. */
export interface TryEnd {
  readonly t: TaskTryRecord;
  readonly fields: TiFields;
}

/** Column names are the code's, never input: checked anyway before they are written into SQL. */
function checkColumn(c: string): void {
  if (!/^[a-z_]+$/.test(c)) throw new Error(`Not a task instance column: ${JSON.stringify(c)}`);
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

  async update(key: TiKey, fields: TiFields): Promise<void> {
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
   * Claims tries: moves each task instance to `running` (or `queued`) with its next try number,
   * only if it is still in one of the expected states at the expected try number, and records
   * the try (its log's path). Two runtimes racing on one store cannot both win a task instance:
   * the update is guarded and atomic. Returns, for each claim in order, whether it was won.
   * On PostgreSQL one statement for all of them (a turn's claims: one round trip).
   */
  async claimTries(
    claims: readonly TryClaim[],
    fromStates: readonly (TaskState | null)[],
    by: { pid: number; hostname: string; start_date: string },
    /** `queued` when another process (a worker) will start them, `running` when they start now. */
    to: 'queued' | 'running' = 'running',
  ): Promise<boolean[]> {
    if (claims.length === 0) return [];
    const states = fromStates.filter((s): s is TaskState => s !== null);
    const inStates = (col: string) =>
      `(${states.length ? `${col} IN (${states.map(() => '?').join(', ')})` : 'FALSE'}${fromStates.includes(null) ? ` OR ${col} IS NULL` : ''})`;
    const won = (k: TiKey) => `${k.dag_id}\0${k.run_id}\0${k.task_id}\0${k.map_index}`;
    if (this.sql.dialect === 'postgres') {
      const wonKeys = new Set<string>();
      for (let i = 0; i < claims.length; i += 1000) {
        const chunk = claims.slice(i, i + 1000);
        // The try records are written from what the update returned: nothing for a claim that lost.
        const rows = await this.sql.all<TiKey>(
          `WITH v AS (SELECT * FROM ${recordset('v', ['dag_id', 'run_id', 'task_id', 'map_index', 'expected_try', 'pool_slots', 'log_path'])}),
           c AS (UPDATE task_instances ti SET state = ?, try_number = ti.try_number + 1, pid = ?, hostname = ?, pool_slots = v.pool_slots,
                   start_date = ?, end_date = NULL, duration = NULL, heartbeat_at = ?, next_try_at = NULL, error = NULL, updated_at = ?
                 FROM v
                 WHERE ti.dag_id = v.dag_id AND ti.run_id = v.run_id AND ti.task_id = v.task_id AND ti.map_index = v.map_index
                   AND ti.try_number = v.expected_try AND ${inStates('ti.state')}
                 RETURNING ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.try_number, v.log_path),
           t AS (INSERT INTO task_tries (${TRY_COLUMNS})
                 SELECT c.dag_id, c.run_id, c.task_id, c.map_index, c.try_number, ?::text, ?::text, NULL, NULL, ?::bigint, ?::text, NULL, c.log_path FROM c
                 ON CONFLICT (dag_id, run_id, task_id, map_index, try_number) DO UPDATE SET ${TRY_UPSERT})
           SELECT dag_id, run_id, task_id, map_index FROM c`,
          recordsetParam(chunk.map((c) => ({ ...c.key, expected_try: c.expectedTryNumber, pool_slots: c.pool_slots ?? 1, log_path: c.log_path }))),
          to, by.pid, by.hostname, by.start_date, by.start_date, by.start_date, ...states,
          to, by.start_date, by.pid, by.hostname,
        );
        for (const r of rows) wonKeys.add(won({ ...r, map_index: Number(r.map_index) }));
      }
      return claims.map((c) => wonKeys.has(won(c.key)));
    }
    return this.sql.tx(async () => {
      const out: boolean[] = [];
      for (const c of claims) {
        const res = await this.sql.run(
          `UPDATE task_instances SET state = ?, try_number = try_number + 1, pid = ?, hostname = ?, pool_slots = ?,
             start_date = ?, end_date = NULL, duration = NULL, heartbeat_at = ?, next_try_at = NULL, error = NULL, updated_at = ?
           WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ? AND try_number = ? AND ${inStates('state')}`,
          to, by.pid, by.hostname, c.pool_slots ?? 1, by.start_date, by.start_date, by.start_date,
          c.key.dag_id, c.key.run_id, c.key.task_id, c.key.map_index, c.expectedTryNumber, ...states,
        );
        out.push(res.changes === 1);
        if (res.changes !== 1) continue;
        await this.upsertTry({
          ...c.key,
          try_number: c.expectedTryNumber + 1,
          state: to,
          start_date: by.start_date,
          end_date: null,
          duration: null,
          pid: by.pid,
          hostname: by.hostname,
          error: null,
          log_path: c.log_path,
        });
      }
      return out;
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
   * Records how tries ended: each try's record, and its task instance's new state. On PostgreSQL
   * one statement per shape of `fields` (a turn's ends: usually one round trip); inside the
   * caller's transaction either way.
   */
  async endTries(ends: readonly TryEnd[]): Promise<void> {
    if (ends.length === 0) return;
    const at = nowIso();
    if (this.sql.dialect !== 'postgres') {
      for (const { t, fields } of ends) {
        await this.upsertTry(t);
        await this.update({ dag_id: t.dag_id, run_id: t.run_id, task_id: t.task_id, map_index: t.map_index }, fields);
      }
      return;
    }
    const tryColumns = TRY_COLUMNS.split(', ');
    for (const { columns, items } of byShape(ends, (e) => e.fields).values()) {
      const set = columns.filter((c) => c !== 'updated_at');
      for (const c of set) checkColumn(c);
      for (let i = 0; i < items.length; i += 1000) {
        const chunk = items.slice(i, i + 1000);
        await this.sql.run(
          `WITH v AS (SELECT * FROM ${recordset('v', [...tryColumns, ...set.map((c) => `f_${c}`)])}),
           t AS (INSERT INTO task_tries (${TRY_COLUMNS}) SELECT ${tryColumns.map((c) => `v.${c}`).join(', ')} FROM v
                 ON CONFLICT (dag_id, run_id, task_id, map_index, try_number) DO UPDATE SET ${TRY_UPSERT} RETURNING dag_id, run_id, task_id, map_index)
           UPDATE task_instances ti SET ${[...set.map((c) => `${c} = v.f_${c}`), 'updated_at = ?'].join(', ')}
           FROM v JOIN t ON t.dag_id = v.dag_id AND t.run_id = v.run_id AND t.task_id = v.task_id AND t.map_index = v.map_index
           WHERE ti.dag_id = v.dag_id AND ti.run_id = v.run_id AND ti.task_id = v.task_id AND ti.map_index = v.map_index`,
          recordsetParam(
            chunk.map(({ t, fields }) => {
              const row: Record<string, SqlValue | undefined> = {};
              for (const c of tryColumns) row[c] = t[c as keyof TaskTryRecord] as SqlValue;
              for (const c of set) row[`f_${c}`] = (fields as Record<string, SqlValue>)[c];
              return row;
            }),
          ),
          at,
        );
      }
    }
  }

  /**
   * Writes several task instances' changes: each key's changes merged in order (the last value
   * of a field wins, as separate updates in that order would leave it). On PostgreSQL one
   * statement per shape of the merged changes.
   */
  async updateMany(changes: readonly { key: TiKey; fields: TiFields }[]): Promise<void> {
    if (changes.length === 0) return;
    const merged = new Map<string, { key: TiKey; fields: TiFields }>();
    for (const c of changes) {
      const k = `${c.key.dag_id}\0${c.key.run_id}\0${c.key.task_id}\0${c.key.map_index}`;
      const seen = merged.get(k);
      const defined = Object.fromEntries(Object.entries(c.fields).filter(([, v]) => v !== undefined)) as TiFields;
      merged.set(k, seen ? { key: c.key, fields: { ...seen.fields, ...defined } } : { key: c.key, fields: defined });
    }
    if (this.sql.dialect !== 'postgres' || merged.size === 1) {
      for (const { key, fields } of merged.values()) await this.update(key, fields);
      return;
    }
    const at = nowIso();
    for (const { columns, items } of byShape([...merged.values()], (m) => m.fields).values()) {
      const set = columns.filter((c) => c !== 'updated_at');
      for (const c of set) checkColumn(c);
      for (let i = 0; i < items.length; i += 1000) {
        const chunk = items.slice(i, i + 1000);
        await this.sql.run(
          `UPDATE task_instances ti SET ${[...set.map((c) => `${c} = v.f_${c}`), 'updated_at = ?'].join(', ')}
           FROM ${recordset('v', ['dag_id', 'run_id', 'task_id', 'map_index', ...set.map((c) => `f_${c}`)])}
           WHERE ti.dag_id = v.dag_id AND ti.run_id = v.run_id AND ti.task_id = v.task_id AND ti.map_index = v.map_index`,
          at,
          recordsetParam(
            chunk.map(({ key, fields }) => {
              const row: Record<string, SqlValue | undefined> = { ...key };
              for (const c of set) row[`f_${c}`] = (fields as Record<string, SqlValue>)[c];
              return row;
            }),
          ),
        );
      }
    }
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
