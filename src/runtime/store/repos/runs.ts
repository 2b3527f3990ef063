/** DAG runs: creation, claims by a runtime, heartbeats and state. */
import type { Sql, SqlValue } from '../sql.ts';
import type { DagRunRecord, RunState } from '../records.ts';
import { updateRow } from './update.ts';

export type NewRun = Omit<DagRunRecord, 'id' | 'start_date' | 'end_date' | 'owner_pid' | 'owner_host' | 'heartbeat_at' | 'cancel_requested'>;

/** A runtime that owns runs: its pid on its host (scheduler/owner.ts). */
export interface Owner {
  readonly pid: number;
  readonly host: string;
}

/** Namespace of the transaction-scoped advisory lock that serialises a DAG's run claims on PostgreSQL. */
const CLAIM_LOCK = 'hangar.dag_runs.claim:';

export class RunRepository {
  private readonly sql: Sql;

  constructor(sql: Sql) {
    this.sql = sql;
  }

  /** Inserts a run; a run id the DAG already has is an error naming both. */
  async insert(r: NewRun): Promise<DagRunRecord> {
    try {
      await this.sql.run(
        `INSERT INTO dag_runs (dag_id, run_id, run_type, logical_date, data_interval_start, data_interval_end, state, conf, queued_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
      // SQLite: "UNIQUE constraint failed"; PostgreSQL: "duplicate key value violates unique constraint".
      if (/UNIQUE|unique constraint/i.test((err as Error).message)) throw new Error(`DAG "${r.dag_id}" already has a run "${r.run_id}"`);
      throw err;
    }
    return (await this.get(r.dag_id, r.run_id))!;
  }

  /**
   * Inserts a run unless the DAG already has one with that run id or a scheduled/backfill
   * run at that logical date (the claim of run creation when several schedulers share a
   * store); false when it exists.
   */
  async insertIfAbsent(r: NewRun): Promise<boolean> {
    const res = await this.sql.run(
      `INSERT INTO dag_runs (dag_id, run_id, run_type, logical_date, data_interval_start, data_interval_end, state, conf, queued_at)
       SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?
       WHERE NOT EXISTS (SELECT 1 FROM dag_runs WHERE dag_id = ? AND logical_date = ? AND run_type IN ('scheduled', 'backfill'))
       ON CONFLICT (dag_id, run_id) DO NOTHING`,
      r.dag_id,
      r.run_id,
      r.run_type,
      r.logical_date,
      r.data_interval_start,
      r.data_interval_end,
      r.state,
      r.conf,
      r.queued_at,
      r.dag_id,
      r.logical_date,
    );
    return res.changes > 0;
  }

  get(dagId: string, runId: string): Promise<DagRunRecord | undefined> {
    return this.sql.get<DagRunRecord>('SELECT * FROM dag_runs WHERE dag_id = ? AND run_id = ?', dagId, runId);
  }

  /** Finds a run by run id alone (run ids are unique per DAG; this takes the newest match). */
  find(runId: string, dagId?: string): Promise<DagRunRecord | undefined> {
    if (dagId) return this.get(dagId, runId);
    return this.sql.get<DagRunRecord>('SELECT * FROM dag_runs WHERE run_id = ? ORDER BY id DESC LIMIT 1', runId);
  }

  /** The DAGs that have a run with this id (run ids repeat across DAGs). */
  async dagsOfRun(runId: string): Promise<string[]> {
    return (await this.sql.all<{ dag_id: string }>('SELECT DISTINCT dag_id FROM dag_runs WHERE run_id = ? ORDER BY dag_id', runId)).map((r) => r.dag_id);
  }

  /** Runs, newest first. */
  list(filter: { dagId?: string; state?: RunState; limit?: number } = {}): Promise<DagRunRecord[]> {
    const where: string[] = [];
    const args: SqlValue[] = [];
    if (filter.dagId) {
      where.push('dag_id = ?');
      args.push(filter.dagId);
    }
    if (filter.state) {
      where.push('state = ?');
      args.push(filter.state);
    }
    return this.sql.all<DagRunRecord>(`SELECT * FROM dag_runs ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`, ...args, filter.limit ?? 100);
  }

  /** The newest `limit` runs of a DAG, oldest first among them (the grid's columns). */
  async latest(dagId: string, limit: number, offset = 0): Promise<DagRunRecord[]> {
    const rows = await this.sql.all<DagRunRecord>('SELECT * FROM dag_runs WHERE dag_id = ? ORDER BY logical_date DESC, id DESC LIMIT ? OFFSET ?', dagId, limit, offset);
    return rows.reverse();
  }

  async count(dagId: string): Promise<number> {
    const row = await this.sql.get<{ n: number }>('SELECT COUNT(*) AS n FROM dag_runs WHERE dag_id = ?', dagId);
    return Number(row?.n ?? 0);
  }

  async update(dagId: string, runId: string, fields: Partial<Omit<DagRunRecord, 'id' | 'dag_id' | 'run_id'>>): Promise<void> {
    await updateRow(this.sql, 'dag_runs', fields, { dag_id: dagId, run_id: runId });
  }

  /** DAG id → how many of its runs are queued or running (what maxActiveRuns limits). */
  async activeCounts(): Promise<Map<string, number>> {
    const rows = await this.sql.all<{ dag_id: string; n: number }>("SELECT dag_id, COUNT(*) AS n FROM dag_runs WHERE state IN ('queued', 'running') GROUP BY dag_id");
    return new Map(rows.map((r) => [r.dag_id, Number(r.n)]));
  }

  /**
   * Claims a queued run for this runtime: it becomes `running` only if the DAG has fewer
   * than `maxActiveRuns` running runs. Runtimes sharing the store cannot both pass the
   * limit or both take the run: SQLite has one writer; on PostgreSQL the run's row is
   * locked with FOR UPDATE SKIP LOCKED (a run another scheduler is claiming is skipped, as
   * Airflow's HA scheduler does in DagRun.get_queued_dag_runs_to_set_running) and a
   * transaction-scoped advisory lock per DAG keeps two claims from counting the same room.
   */
  claim(dagId: string, runId: string, maxActiveRuns: number, owner: Owner, at: string): Promise<boolean> {
    return this.sql.tx(async () => {
      if (this.sql.dialect === 'postgres') {
        const row = await this.sql.get("SELECT id FROM dag_runs WHERE dag_id = ? AND run_id = ? AND state = 'queued' FOR UPDATE SKIP LOCKED", dagId, runId);
        if (!row) return false;
        await this.sql.get('SELECT pg_advisory_xact_lock(hashtext(?)) AS locked', CLAIM_LOCK + dagId);
      }
      const r = await this.sql.run(
        `UPDATE dag_runs SET state = 'running', owner_pid = ?, owner_host = ?, heartbeat_at = ?, start_date = COALESCE(start_date, ?), end_date = NULL
         WHERE dag_id = ? AND run_id = ? AND state = 'queued'
           AND (SELECT COUNT(*) FROM dag_runs WHERE dag_id = ? AND state = 'running') < ?`,
        owner.pid,
        owner.host,
        at,
        at,
        dagId,
        runId,
        dagId,
        maxActiveRuns,
      );
      return r.changes > 0;
    });
  }

  /** Takes over a run a stopped runtime left (`running`, no owner); false if another runtime did first. */
  async adopt(dagId: string, runId: string, owner: Owner, at: string): Promise<boolean> {
    const r = await this.sql.run(
      "UPDATE dag_runs SET owner_pid = ?, owner_host = ?, heartbeat_at = ? WHERE dag_id = ? AND run_id = ? AND state = 'running' AND owner_pid IS NULL",
      owner.pid,
      owner.host,
      at,
      dagId,
      runId,
    );
    return r.changes > 0;
  }

  /**
   * Makes the run `running` under this owner (the run loop's start), unless another
   * runtime owns it; false then.
   */
  async take(dagId: string, runId: string, owner: Owner, at: string): Promise<boolean> {
    const r = await this.sql.run(
      `UPDATE dag_runs SET state = 'running', owner_pid = ?, owner_host = ?, heartbeat_at = ?, start_date = COALESCE(start_date, ?), end_date = NULL
       WHERE dag_id = ? AND run_id = ? AND (owner_pid IS NULL OR (owner_pid = ? AND owner_host = ?))`,
      owner.pid,
      owner.host,
      at,
      at,
      dagId,
      runId,
      owner.pid,
      owner.host,
    );
    return r.changes > 0;
  }

  /** The owner's heartbeat; false when the run is no longer this owner's (another runtime took it over). */
  async beat(dagId: string, runId: string, owner: Owner, at: string): Promise<{ mine: boolean; cancel: string | null }> {
    const row = await this.sql.get<{ cancel_requested: string | null }>(
      'UPDATE dag_runs SET heartbeat_at = ? WHERE dag_id = ? AND run_id = ? AND owner_pid = ? AND owner_host = ? RETURNING cancel_requested',
      at,
      dagId,
      runId,
      owner.pid,
      owner.host,
    );
    return { mine: row !== undefined, cancel: row?.cancel_requested ?? null };
  }

  /**
   * Asks whichever process runs the run to stop it (a user's cancel from another process: the
   * editor, a script); its owner reads the request at its next heartbeat. False when the run
   * has ended. The run loop drops the request when it writes the run's end.
   */
  async requestCancel(dagId: string, runId: string, reason: string, at: string = new Date().toISOString()): Promise<boolean> {
    // A queued run no process has taken has nothing running: it ends failed now (as Airflow's
    // "mark failed" of a queued run), its task instances as they are.
    const queued = await this.sql.run(
      "UPDATE dag_runs SET state = 'failed', end_date = ? WHERE dag_id = ? AND run_id = ? AND state = 'queued' AND owner_pid IS NULL",
      at,
      dagId,
      runId,
    );
    if (queued.changes > 0) return true;
    const r = await this.sql.run(
      "UPDATE dag_runs SET cancel_requested = ? WHERE dag_id = ? AND run_id = ? AND state IN ('queued', 'running')",
      reason,
      dagId,
      runId,
    );
    return r.changes > 0;
  }

  /**
   * The run's owner, read for a write that only its owner may make (the run loop checks it
   * at the start of each turn's transaction). On PostgreSQL the row stays locked until the
   * transaction ends, so a takeover waits for the turn and the turn never writes after one.
   */
  ownerOf(dagId: string, runId: string): Promise<Pick<DagRunRecord, 'owner_pid' | 'owner_host' | 'heartbeat_at'> | undefined> {
    const lock = this.sql.dialect === 'postgres' && this.sql.inTransaction() ? ' FOR UPDATE' : '';
    return this.sql.get('SELECT owner_pid, owner_host, heartbeat_at FROM dag_runs WHERE dag_id = ? AND run_id = ?' + lock, dagId, runId);
  }

  /** Leaves the run to the next scheduler (`running`, no owner), if it is still this owner's. */
  async release(dagId: string, runId: string, owner: Owner): Promise<boolean> {
    const r = await this.sql.run('UPDATE dag_runs SET owner_pid = NULL, owner_host = NULL WHERE dag_id = ? AND run_id = ? AND owner_pid = ? AND owner_host = ?', dagId, runId, owner.pid, owner.host);
    return r.changes > 0;
  }

  /**
   * Takes a run from an owner found gone (crash recovery): succeeds only if the run still
   * has the owner and heartbeat it was seen with, so of several schedulers that find it
   * gone one settles it, and an owner that beat in between keeps it.
   */
  async releaseGone(seen: Pick<DagRunRecord, 'dag_id' | 'run_id' | 'owner_pid' | 'owner_host' | 'heartbeat_at'>): Promise<boolean> {
    const is = this.sql.dialect === 'postgres' ? 'IS NOT DISTINCT FROM' : 'IS';
    const r = await this.sql.run(
      `UPDATE dag_runs SET owner_pid = NULL, owner_host = NULL
       WHERE dag_id = ? AND run_id = ? AND state IN ('running', 'queued') AND owner_pid ${is} ? AND owner_host ${is} ? AND heartbeat_at ${is} ?`,
      seen.dag_id,
      seen.run_id,
      seen.owner_pid,
      seen.owner_host,
      seen.heartbeat_at,
    );
    return r.changes > 0;
  }

  /** The DAG's latest scheduled or backfill run (Airflow's last automated run). */
  lastAutomated(dagId: string): Promise<DagRunRecord | undefined> {
    return this.sql.get<DagRunRecord>("SELECT * FROM dag_runs WHERE dag_id = ? AND run_type IN ('scheduled', 'backfill') ORDER BY logical_date DESC, id DESC LIMIT 1", dagId);
  }

  /** The run before a logical date (dependsOnPast's previous run); manual runs left out when `skipManual`. */
  previous(dagId: string, logicalDate: string, skipManual: boolean): Promise<DagRunRecord | undefined> {
    return this.sql.get<DagRunRecord>(
      `SELECT * FROM dag_runs WHERE dag_id = ? AND logical_date < ? AND run_type != 'test' ${skipManual ? "AND run_type != 'manual'" : ''}
       ORDER BY logical_date DESC, id DESC LIMIT 1`,
      dagId,
      logicalDate,
    );
  }

  /** Runs that are queued or running (one run's, when given): what crash recovery looks at. */
  active(only?: { dagId: string; runId: string }): Promise<DagRunRecord[]> {
    return only
      ? this.sql.all<DagRunRecord>("SELECT * FROM dag_runs WHERE dag_id = ? AND run_id = ? AND state IN ('running', 'queued')", only.dagId, only.runId)
      : this.sql.all<DagRunRecord>("SELECT * FROM dag_runs WHERE state IN ('running', 'queued')");
  }

  /** Runs a scheduler may start: queued ones, and running ones no runtime owns; oldest logical date first. */
  startable(): Promise<DagRunRecord[]> {
    return this.sql.all<DagRunRecord>(
      `SELECT * FROM dag_runs WHERE run_type != 'test' AND (state = 'queued' OR (state = 'running' AND owner_pid IS NULL))
       ORDER BY logical_date, id`,
    );
  }
}
