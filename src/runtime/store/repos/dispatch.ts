/**
 * Distributed execution's state (src/runtime/distributed): workers and their heartbeats, and
 * each try handed to the queue — who claimed it and how it ended. Every change is a guarded
 * update, so that a job delivered twice, a worker presumed dead that comes back, or two
 * schedulers settling the same try change a row once.
 */
import type { Sql } from '../sql.ts';
import type { TaskState } from '../records.ts';
import { recordset, recordsetParam } from './recordset.ts';

export interface TryKey {
  readonly dag_id: string;
  readonly run_id: string;
  readonly task_id: string;
  readonly map_index: number;
  readonly try_number: number;
}

export interface WorkerRecord {
  worker_id: string;
  hostname: string;
  pid: number;
  /** Comma-separated queue names. */
  queues: string;
  concurrency: number;
  /** The Hangar version the worker runs. */
  version: string;
  state: 'running' | 'stopping' | 'stopped';
  started_at: string;
  heartbeat_at: string;
  stopped_at: string | null;
}

export interface DispatchRecord extends TryKey {
  queue: string;
  bundle_hash: string;
  enqueued_at: string;
  worker_id: string | null;
  pid: number | null;
  hostname: string | null;
  claimed_at: string | null;
  running_at: string | null;
  /** Why the scheduler asked for the try to be stopped. */
  cancel: string | null;
  /** How the try ended (an ExecuteResult, JSON), written once. */
  outcome: string | null;
  ended_at: string | null;
}

export interface CallbackDispatchRecord {
  id: string;
  dag_id: string;
  task_id: string | null;
  name: string;
  enqueued_at: string;
  worker_id: string | null;
  claimed_at: string | null;
  /** How it ended (a CallbackResult, JSON), written once. */
  outcome: string | null;
  ended_at: string | null;
}

/** A try a worker runs, with its task instance's state now (to notice a clear or a mark). */
export interface OpenTry extends TryKey {
  cancel: string | null;
  ti_state: TaskState | null;
  ti_try_number: number | null;
}

const WHERE_KEY = 'dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ? AND try_number = ?';
const keyOf = (k: TryKey) => [k.dag_id, k.run_id, k.task_id, k.map_index, k.try_number] as const;

export class DispatchRepository {
  private readonly sql: Sql;

  constructor(sql: Sql) {
    this.sql = sql;
  }

  // Workers.

  async registerWorker(w: Omit<WorkerRecord, 'state' | 'stopped_at'>): Promise<void> {
    await this.sql.run(
      `INSERT INTO workers (worker_id, hostname, pid, queues, concurrency, version, state, started_at, heartbeat_at, stopped_at)
       VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, NULL)`,
      w.worker_id,
      w.hostname,
      w.pid,
      w.queues,
      w.concurrency,
      w.version,
      w.started_at,
      w.heartbeat_at,
    );
  }

  /** A worker's heartbeat; false when the worker is no longer known as running (it was declared gone). */
  async beat(workerId: string, at: string): Promise<boolean> {
    return (
      (
        await this.sql.run(
          "UPDATE workers SET heartbeat_at = ? WHERE worker_id = ? AND state IN ('running', 'stopping')",
          at,
          workerId,
        )
      ).changes > 0
    );
  }

  async setWorkerState(workerId: string, state: WorkerRecord['state'], at: string): Promise<void> {
    await this.sql.run(
      'UPDATE workers SET state = ?, stopped_at = ? WHERE worker_id = ?',
      state,
      state === 'stopped' ? at : null,
      workerId,
    );
  }

  worker(workerId: string): Promise<WorkerRecord | undefined> {
    return this.sql.get<WorkerRecord>('SELECT * FROM workers WHERE worker_id = ?', workerId);
  }

  workers(): Promise<WorkerRecord[]> {
    return this.sql.all<WorkerRecord>('SELECT * FROM workers ORDER BY started_at, worker_id');
  }

  /** Tries each worker has taken and not ended. */
  async openCounts(): Promise<Map<string, number>> {
    const rows = await this.sql.all<{ worker_id: string; n: number }>(
      'SELECT worker_id, COUNT(*) AS n FROM try_dispatch WHERE outcome IS NULL AND worker_id IS NOT NULL GROUP BY worker_id',
    );
    return new Map(rows.map((r) => [r.worker_id, Number(r.n)]));
  }

  // Tries handed to the queue.

  /** Records a try as handed to a queue; false (and nothing changed) when it was recorded already. */
  /**
   * Records tries handed to the queue (each unless it is recorded already); returns, in order,
   * whether each was recorded now. On PostgreSQL one statement for all of them.
   */
  async enqueue(
    tries: readonly { key: TryKey; queue: string; bundleHash: string }[],
    at: string,
  ): Promise<boolean[]> {
    if (tries.length === 0) return [];
    const id = (k: TryKey) => JSON.stringify(keyOf(k));
    if (this.sql.dialect === 'postgres') {
      const added = new Set<string>();
      for (let i = 0; i < tries.length; i += 1000) {
        const rows = await this.sql.all<TryKey>(
          `INSERT INTO try_dispatch (dag_id, run_id, task_id, map_index, try_number, queue, bundle_hash, enqueued_at)
           SELECT v.dag_id, v.run_id, v.task_id, v.map_index, v.try_number, v.queue, v.bundle_hash, ?
           FROM ${recordset('v', ['dag_id', 'run_id', 'task_id', 'map_index', 'try_number', 'queue', 'bundle_hash'])}
           ON CONFLICT (dag_id, run_id, task_id, map_index, try_number) DO NOTHING
           RETURNING dag_id, run_id, task_id, map_index, try_number`,
          at,
          recordsetParam(
            tries.slice(i, i + 1000).map((t) => ({ ...t.key, queue: t.queue, bundle_hash: t.bundleHash })),
          ),
        );
        for (const r of rows)
          added.add(id({ ...r, map_index: Number(r.map_index), try_number: Number(r.try_number) }));
      }
      return tries.map((t) => added.has(id(t.key)));
    }
    const out: boolean[] = [];
    for (const t of tries) {
      const r = await this.sql.run(
        `INSERT INTO try_dispatch (dag_id, run_id, task_id, map_index, try_number, queue, bundle_hash, enqueued_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dag_id, run_id, task_id, map_index, try_number) DO NOTHING`,
        ...keyOf(t.key),
        t.queue,
        t.bundleHash,
        at,
      );
      out.push(r.changes > 0);
    }
    return out;
  }

  get(k: TryKey): Promise<DispatchRecord | undefined> {
    return this.sql.get<DispatchRecord>(`SELECT * FROM try_dispatch WHERE ${WHERE_KEY}`, ...keyOf(k));
  }

  /** Several tries' records, in the order asked (undefined where there is none): on PostgreSQL one query. */
  async getMany(keys: readonly TryKey[]): Promise<(DispatchRecord | undefined)[]> {
    if (this.sql.dialect !== 'postgres' || keys.length === 1)
      return Promise.all(keys.map((k) => this.get(k)));
    const id = (k: TryKey) => JSON.stringify(keyOf(k));
    const found = new Map<string, DispatchRecord>();
    for (let i = 0; i < keys.length; i += 1000) {
      const rows = await this.sql.all<DispatchRecord>(
        `SELECT d.* FROM try_dispatch d
         JOIN ${recordset('v', ['dag_id', 'run_id', 'task_id', 'map_index', 'try_number'])}
           ON d.dag_id = v.dag_id AND d.run_id = v.run_id AND d.task_id = v.task_id AND d.map_index = v.map_index AND d.try_number = v.try_number`,
        recordsetParam(keys.slice(i, i + 1000).map((k) => ({ ...k }))),
      );
      for (const r of rows)
        found.set(id({ ...r, map_index: Number(r.map_index), try_number: Number(r.try_number) }), r);
    }
    return keys.map((k) => found.get(id(k)));
  }

  /** A worker takes the try; false when another took it, it ended, or it was cancelled (a duplicate delivery). */
  async claim(k: TryKey, workerId: string, hostname: string, at: string): Promise<boolean> {
    const r = await this.sql.run(
      `UPDATE try_dispatch SET worker_id = ?, hostname = ?, claimed_at = ? WHERE ${WHERE_KEY} AND worker_id IS NULL AND outcome IS NULL AND cancel IS NULL`,
      workerId,
      hostname,
      at,
      ...keyOf(k),
    );
    return r.changes > 0;
  }

  /**
   * The process that runs the try on the worker started: the dispatch row, the task instance
   * and the try record say so (`running`, its pid and host), guarded on the worker that holds
   * the try and on the task instance still waiting for it (`queued` at this try number). On
   * PostgreSQL one statement (one round trip per try start, not a transaction's four).
   */
  async started(k: TryKey, workerId: string, pid: number, hostname: string, at: string): Promise<void> {
    const ti = 'dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ?';
    const tiKey = [k.dag_id, k.run_id, k.task_id, k.map_index] as const;
    const dispatch = `UPDATE try_dispatch SET pid = ?, running_at = ? WHERE ${WHERE_KEY} AND worker_id = ? AND outcome IS NULL`;
    const instance = `UPDATE task_instances SET state = 'running', pid = ?, hostname = ?, updated_at = ? WHERE ${ti} AND try_number = ? AND state = 'queued'`;
    const attempt = `UPDATE task_tries SET state = 'running', pid = ?, hostname = ?, running_at = ? WHERE ${WHERE_KEY} AND state = 'queued'`;
    if (this.sql.dialect === 'postgres') {
      await this.sql.run(
        `WITH d AS (${dispatch} RETURNING 1),
              i AS (${instance} AND EXISTS (SELECT 1 FROM d) RETURNING 1)
         ${attempt} AND EXISTS (SELECT 1 FROM d)`,
        pid,
        at,
        ...keyOf(k),
        workerId,
        pid,
        hostname,
        at,
        ...tiKey,
        k.try_number,
        pid,
        hostname,
        at,
        ...keyOf(k),
      );
      return;
    }
    await this.sql.tx(async () => {
      if ((await this.sql.run(dispatch, pid, at, ...keyOf(k), workerId)).changes === 0) return;
      await this.sql.run(instance, pid, hostname, at, ...tiKey, k.try_number);
      await this.sql.run(attempt, pid, hostname, at, ...keyOf(k));
    });
  }

  /** The worker's outcome; false when the try was settled without it (the worker was presumed gone). */
  async finish(k: TryKey, workerId: string, outcome: string, at: string): Promise<boolean> {
    const r = await this.sql.run(
      `UPDATE try_dispatch SET outcome = ?, ended_at = ? WHERE ${WHERE_KEY} AND worker_id = ? AND outcome IS NULL`,
      outcome,
      at,
      ...keyOf(k),
      workerId,
    );
    return r.changes > 0;
  }

  /**
   * Settles a try without its worker (the worker is gone, or the try was cancelled before
   * any worker took it); `unclaimed` only if no worker took it. False when it had ended.
   */
  async settle(k: TryKey, outcome: string, at: string, unclaimed = false): Promise<boolean> {
    const r = await this.sql.run(
      `UPDATE try_dispatch SET outcome = ?, ended_at = ? WHERE ${WHERE_KEY} AND outcome IS NULL${unclaimed ? ' AND worker_id IS NULL' : ''}`,
      outcome,
      at,
      ...keyOf(k),
    );
    return r.changes > 0;
  }

  // Callbacks.

  async enqueueCallback(
    c: { id: string; dag_id: string; task_id: string | null; name: string },
    at: string,
  ): Promise<void> {
    await this.sql.run(
      'INSERT INTO callback_dispatch (id, dag_id, task_id, name, enqueued_at) VALUES (?, ?, ?, ?, ?)',
      c.id,
      c.dag_id,
      c.task_id,
      c.name,
      at,
    );
  }

  getCallback(id: string): Promise<CallbackDispatchRecord | undefined> {
    return this.sql.get<CallbackDispatchRecord>('SELECT * FROM callback_dispatch WHERE id = ?', id);
  }

  /** A worker takes the callback; false when another took it, it was settled or it is gone (a duplicate delivery). */
  async claimCallback(id: string, workerId: string, at: string): Promise<boolean> {
    const r = await this.sql.run(
      'UPDATE callback_dispatch SET worker_id = ?, claimed_at = ? WHERE id = ? AND worker_id IS NULL AND outcome IS NULL',
      workerId,
      at,
      id,
    );
    return r.changes > 0;
  }

  /** The worker that took the callback records how it ended; false when the scheduler settled it first. */
  async finishCallback(id: string, workerId: string, outcome: string, at: string): Promise<boolean> {
    const r = await this.sql.run(
      'UPDATE callback_dispatch SET outcome = ?, ended_at = ? WHERE id = ? AND worker_id = ? AND outcome IS NULL',
      outcome,
      at,
      id,
      workerId,
    );
    return r.changes > 0;
  }

  /** The scheduler ends a callback without its worker (timed out, worker gone); false when it had ended. */
  async settleCallback(id: string, outcome: string, at: string): Promise<boolean> {
    const r = await this.sql.run(
      'UPDATE callback_dispatch SET outcome = ?, ended_at = ? WHERE id = ? AND outcome IS NULL',
      outcome,
      at,
      id,
    );
    return r.changes > 0;
  }

  async deleteCallback(id: string): Promise<void> {
    await this.sql.run('DELETE FROM callback_dispatch WHERE id = ?', id);
  }

  /** Asks the worker running the try to stop it (it looks at each heartbeat). */
  async requestCancel(k: TryKey, reason: string): Promise<void> {
    await this.sql.run(
      `UPDATE try_dispatch SET cancel = ? WHERE ${WHERE_KEY} AND outcome IS NULL AND cancel IS NULL`,
      reason,
      ...keyOf(k),
    );
  }

  /** The tries a worker runs, with their task instances' state now. */
  open(workerId: string): Promise<OpenTry[]> {
    return this.sql.all<OpenTry>(
      `SELECT d.dag_id, d.run_id, d.task_id, d.map_index, d.try_number, d.cancel, ti.state AS ti_state, ti.try_number AS ti_try_number
       FROM try_dispatch d LEFT JOIN task_instances ti
         ON ti.dag_id = d.dag_id AND ti.run_id = d.run_id AND ti.task_id = d.task_id AND ti.map_index = d.map_index
       WHERE d.worker_id = ? AND d.outcome IS NULL`,
      workerId,
    );
  }
}
