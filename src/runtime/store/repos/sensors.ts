/**
 * The sensor engine's records (tables of store/sensors-schema.ts): every poke, one row
 * per sensor instance (first poke, counters, outcome, memo), the circuit breaker
 * of each sensor, the SLA anchors and misses; plus the few reads of runs and task
 * instances the sensors need (an ExternalTaskSensor's target, an SLA check's
 * task state, the sensor panel's list), each a narrowly named method.
 *
 * Times are milliseconds on the runtime's clock. Numbers are converted with
 * Number() on the way out (PostgreSQL hands BIGINT and aggregates back as text).
 */
import type { TaskState } from '../records.ts';
import type { Sql, SqlValue } from '../sql.ts';
import type { PokeResultKind, SensorMode } from '../../sensors/types.ts';

export interface InstanceKey {
  readonly dagId: string;
  readonly runId: string;
  readonly taskId: string;
  readonly mapIndex: number;
}

export type InstanceOutcome = 'success' | 'timeout' | 'failed' | 'skipped';

export interface InstanceRow {
  first_poke_ms: number;
  pokes: number;
  last_interval_ms: number | null;
  outcome: InstanceOutcome | null;
  ended_ms: number | null;
  wait_ms: number | null;
}

export interface PokeRow {
  id: number;
  dag_id: string;
  run_id: string;
  task_id: string;
  map_index: number;
  try_number: number;
  poke_number: number;
  mode: SensorMode;
  poked_at_ms: number;
  poked_at: string;
  duration_ms: number;
  result: PokeResultKind;
  error: string | null;
  next_interval_ms: number | null;
  strategy: string | null;
}

export interface PokeRecord {
  readonly tryNumber: number;
  readonly pokeNumber: number;
  readonly mode: SensorMode;
  readonly atMs: number;
  readonly durationMs: number;
  readonly result: PokeResultKind;
  readonly error: string | null;
  readonly nextIntervalMs: number | null;
  readonly strategy: string;
}

export interface InstanceUpdate {
  pokes: number;
  lastIntervalMs: number | null;
  outcome?: InstanceOutcome;
  endedMs?: number;
  waitMs?: number;
}

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerRow {
  dag_id: string;
  task_id: string;
  state: BreakerState;
  consecutive_errors: number;
  open_until_ms: number | null;
  probe_started_ms: number | null;
  last_error: string | null;
  opened_count: number;
  updated_at: string;
}

/** What a breaker transition writes (the whole row but its key and time). */
export type BreakerWrite = Omit<BreakerRow, 'dag_id' | 'task_id' | 'updated_at'>;

export interface SlaMissRow {
  dag_id: string;
  run_id: string;
  task_id: string;
  level: string;
  deadline_ms: number;
  deadline: string;
  detected_ms: number;
  task_state: string | null;
}

/** Per-sensor aggregates `sensorStats` (sensors/stats.ts) computes its figures from. */
export interface SensorStatsRows {
  instances: { dag_id: string; task_id: string; outcome: string | null; wait_ms: number | null }[];
  pokes: { dag_id: string; task_id: string; n: number; errors: number; avg_ms: number | null }[];
  misses: { dag_id: string; task_id: string; n: number }[];
  breakers: BreakerRow[];
}

/** A sensor task instance with its run, its sensor record and its last poke (the sensor panel). */
export interface SensorInstanceJoinRow {
  dag_id: string;
  run_id: string;
  task_id: string;
  map_index: number;
  state: TaskState | null;
  next_try_at: string | null;
  run_state: string;
  logical_date: string;
  data_interval_end: string;
  first_poke_ms: number | null;
  pokes: number | null;
  outcome: InstanceOutcome | null;
  ended_ms: number | null;
  wait_ms: number | null;
  last_result: PokeResultKind | null;
  last_poke_ms: number | null;
  last_mode: string | null;
  last_strategy: string | null;
}

const JOIN_SQL = `
SELECT ti.dag_id, ti.run_id, ti.task_id, ti.map_index, ti.state, ti.next_try_at,
       r.state AS run_state, r.logical_date, r.data_interval_end,
       si.first_poke_ms, si.pokes, si.outcome, si.ended_ms, si.wait_ms,
       lp.result AS last_result, lp.poked_at_ms AS last_poke_ms, lp.mode AS last_mode, lp.strategy AS last_strategy
FROM task_instances ti
JOIN dag_runs r ON r.dag_id = ti.dag_id AND r.run_id = ti.run_id
LEFT JOIN sensor_instances si ON si.dag_id = ti.dag_id AND si.run_id = ti.run_id AND si.task_id = ti.task_id AND si.map_index = ti.map_index
LEFT JOIN sensor_pokes lp ON lp.id = (
  SELECT p.id FROM sensor_pokes p
  WHERE p.dag_id = ti.dag_id AND p.run_id = ti.run_id AND p.task_id = ti.task_id AND p.map_index = ti.map_index
  ORDER BY p.poke_number DESC, p.id DESC LIMIT 1)
WHERE ti.operator = 'sensor'`;

const INSTANCE_KEY = 'dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ?';
const k = (key: InstanceKey): SqlValue[] => [key.dagId, key.runId, key.taskId, key.mapIndex];
const num = (v: unknown): number => Number(v);
const numOrNull = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function instanceRow(r: Record<string, unknown>): InstanceRow {
  return {
    first_poke_ms: num(r['first_poke_ms']),
    pokes: num(r['pokes']),
    last_interval_ms: numOrNull(r['last_interval_ms']),
    outcome: (r['outcome'] ?? null) as InstanceOutcome | null,
    ended_ms: numOrNull(r['ended_ms']),
    wait_ms: numOrNull(r['wait_ms']),
  };
}

function pokeRow(r: Record<string, unknown>): PokeRow {
  return {
    ...(r as unknown as PokeRow),
    id: num(r['id']),
    map_index: num(r['map_index']),
    try_number: num(r['try_number']),
    poke_number: num(r['poke_number']),
    poked_at_ms: num(r['poked_at_ms']),
    duration_ms: num(r['duration_ms']),
    next_interval_ms: numOrNull(r['next_interval_ms']),
  };
}

function breakerRow(r: Record<string, unknown>): BreakerRow {
  return {
    ...(r as unknown as BreakerRow),
    consecutive_errors: num(r['consecutive_errors']),
    open_until_ms: numOrNull(r['open_until_ms']),
    probe_started_ms: numOrNull(r['probe_started_ms']),
    opened_count: num(r['opened_count']),
  };
}

function slaMissRow(r: Record<string, unknown>): SlaMissRow {
  return { ...(r as unknown as SlaMissRow), deadline_ms: num(r['deadline_ms']), detected_ms: num(r['detected_ms']) };
}

function joinRow(r: Record<string, unknown>): SensorInstanceJoinRow {
  return {
    ...(r as unknown as SensorInstanceJoinRow),
    map_index: num(r['map_index']),
    first_poke_ms: numOrNull(r['first_poke_ms']),
    pokes: numOrNull(r['pokes']),
    ended_ms: numOrNull(r['ended_ms']),
    wait_ms: numOrNull(r['wait_ms']),
    last_poke_ms: numOrNull(r['last_poke_ms']),
  };
}

export class SensorRepository {
  private readonly sql: Sql;

  constructor(sql: Sql) {
    this.sql = sql;
  }

  // ---- instances and pokes ----------------------------------------------------

  async getInstance(key: InstanceKey): Promise<InstanceRow | undefined> {
    const r = await this.sql.get(
      `SELECT first_poke_ms, pokes, last_interval_ms, outcome, ended_ms, wait_ms FROM sensor_instances WHERE ${INSTANCE_KEY}`,
      ...k(key),
    );
    return r === undefined ? undefined : instanceRow(r);
  }

  /**
   * The instance's row, created at the first poke. A row that has ended (the task
   * was cleared and runs again, or a timeout is retried) starts over: a new timeout
   * and no memo. `fresh` says whether this call started it.
   */
  startInstance(key: InstanceKey, nowMs: number): Promise<InstanceRow & { fresh: boolean }> {
    return this.sql.tx(async () => {
      const row = await this.getInstance(key);
      if (row && row.outcome === null) return { ...row, fresh: false };
      await this.sql.run(
        `INSERT INTO sensor_instances (dag_id, run_id, task_id, map_index, first_poke_ms, pokes, last_interval_ms, outcome, ended_ms, wait_ms)
         VALUES (?, ?, ?, ?, ?, 0, NULL, NULL, NULL, NULL)
         ON CONFLICT (dag_id, run_id, task_id, map_index) DO UPDATE SET first_poke_ms = excluded.first_poke_ms, pokes = 0,
           last_interval_ms = NULL, outcome = NULL, ended_ms = NULL, wait_ms = NULL, memo = NULL`,
        ...k(key),
        nowMs,
      );
      return { first_poke_ms: nowMs, pokes: 0, last_interval_ms: null, outcome: null, ended_ms: null, wait_ms: null, fresh: true };
    });
  }

  /** Stores one poke and the instance's new counters (one transaction). */
  recordPoke(key: InstanceKey, poke: PokeRecord, instance: InstanceUpdate): Promise<void> {
    return this.sql.tx(async () => {
      await this.sql.run(
        `INSERT INTO sensor_pokes (dag_id, run_id, task_id, map_index, try_number, poke_number, mode, poked_at_ms, poked_at, duration_ms, result, error, next_interval_ms, strategy)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ...k(key),
        poke.tryNumber,
        poke.pokeNumber,
        poke.mode,
        poke.atMs,
        new Date(poke.atMs).toISOString(),
        Math.round(poke.durationMs * 1000) / 1000,
        poke.result,
        poke.error,
        poke.nextIntervalMs,
        poke.strategy,
      );
      await this.sql.run(
        `UPDATE sensor_instances SET pokes = ?, last_interval_ms = ?, outcome = ?, ended_ms = ?, wait_ms = ? WHERE ${INSTANCE_KEY}`,
        instance.pokes,
        instance.lastIntervalMs,
        instance.outcome ?? null,
        instance.endedMs ?? null,
        instance.waitMs ?? null,
        ...k(key),
      );
    });
  }

  /** Waits (ms, first poke → done) of the last `n` successful instances of a sensor, oldest first. */
  async recentWaits(dagId: string, taskId: string, n: number): Promise<number[]> {
    const rows = await this.sql.all<{ wait_ms: number }>(
      `SELECT wait_ms FROM sensor_instances WHERE dag_id = ? AND task_id = ? AND outcome = 'success' AND wait_ms IS NOT NULL
       ORDER BY ended_ms DESC LIMIT ?`,
      dagId,
      taskId,
      n,
    );
    return rows.map((r) => Number(r.wait_ms)).reverse();
  }

  /** Every poke of one sensor instance (or of a whole run), in order. */
  async listPokes(filter: { dagId: string; runId?: string; taskId?: string; mapIndex?: number }): Promise<PokeRow[]> {
    const where = ['dag_id = ?'];
    const args: SqlValue[] = [filter.dagId];
    for (const [column, value] of [
      ['run_id', filter.runId],
      ['task_id', filter.taskId],
      ['map_index', filter.mapIndex],
    ] as const) {
      if (value === undefined) continue;
      where.push(`${column} = ?`);
      args.push(value);
    }
    const rows = await this.sql.all(`SELECT * FROM sensor_pokes WHERE ${where.join(' AND ')} ORDER BY id`, ...args);
    return rows.map(pokeRow);
  }

  /** How many pokes the instance made since `sinceMs`, and the latest `limit` of them, in order. */
  async pokesSince(key: InstanceKey, sinceMs: number, limit: number): Promise<{ total: number; latest: PokeRow[] }> {
    const where = `${INSTANCE_KEY} AND poked_at_ms >= ?`;
    const count = await this.sql.get<{ n: number }>(`SELECT COUNT(*) AS n FROM sensor_pokes WHERE ${where}`, ...k(key), sinceMs);
    const rows = await this.sql.all(`SELECT * FROM sensor_pokes WHERE ${where} ORDER BY id DESC LIMIT ?`, ...k(key), sinceMs, limit);
    return { total: Number(count?.n ?? 0), latest: rows.map(pokeRow).reverse() };
  }

  /** The JSON text a poke keeps across pokes (PokeContext.memo); null when none. */
  async getMemo(key: InstanceKey): Promise<string | null> {
    const row = await this.sql.get<{ memo: string | null }>(`SELECT memo FROM sensor_instances WHERE ${INSTANCE_KEY}`, ...k(key));
    return row?.memo || null;
  }

  /** Replaces the memo with JSON text (null: none); the caller checks its size. */
  async setMemo(key: InstanceKey, json: string | null): Promise<void> {
    await this.sql.run(`UPDATE sensor_instances SET memo = ? WHERE ${INSTANCE_KEY}`, json, ...k(key));
  }

  // ---- circuit breakers --------------------------------------------------------

  async getBreaker(dagId: string, taskId: string): Promise<BreakerRow | undefined> {
    const r = await this.sql.get('SELECT * FROM sensor_breakers WHERE dag_id = ? AND task_id = ?', dagId, taskId);
    return r === undefined ? undefined : breakerRow(r);
  }

  /**
   * One guarded step of a breaker (sensors/breaker.ts decides): reads the row, locked
   * against other schedulers on PostgreSQL, and writes what `decide` returns, in one
   * transaction. `ensureRow` creates a closed row first, so that the lock holds even
   * for a breaker's first error.
   */
  breakerTransition<R>(
    dagId: string,
    taskId: string,
    decide: (row: BreakerRow | undefined) => { result: R; write?: BreakerWrite },
    ensureRow = false,
  ): Promise<R> {
    return this.sql.tx(async () => {
      if (ensureRow)
        await this.sql.run(
          "INSERT INTO sensor_breakers (dag_id, task_id, state, consecutive_errors, opened_count, updated_at) VALUES (?, ?, 'closed', 0, 0, ?) ON CONFLICT (dag_id, task_id) DO NOTHING",
          dagId,
          taskId,
          new Date().toISOString(),
        );
      const lock = this.sql.dialect === 'postgres' ? ' FOR UPDATE' : '';
      const r = await this.sql.get(`SELECT * FROM sensor_breakers WHERE dag_id = ? AND task_id = ?${lock}`, dagId, taskId);
      const { result, write } = decide(r === undefined ? undefined : breakerRow(r));
      if (write)
        await this.sql.run(
          `INSERT INTO sensor_breakers (dag_id, task_id, state, consecutive_errors, open_until_ms, probe_started_ms, last_error, opened_count, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (dag_id, task_id) DO UPDATE SET state = excluded.state, consecutive_errors = excluded.consecutive_errors,
             open_until_ms = excluded.open_until_ms, probe_started_ms = excluded.probe_started_ms, last_error = excluded.last_error,
             opened_count = excluded.opened_count, updated_at = excluded.updated_at`,
          dagId,
          taskId,
          write.state,
          write.consecutive_errors,
          write.open_until_ms,
          write.probe_started_ms,
          write.last_error,
          write.opened_count,
          new Date().toISOString(),
        );
      return result;
    });
  }

  // ---- SLA ---------------------------------------------------------------------

  /** The run's SLA anchor (`run_start`): set to `nowMs` by the first runtime that asks, kept after. */
  slaAnchor(dagId: string, runId: string, nowMs: number): Promise<number> {
    return this.sql.tx(async () => {
      await this.sql.run(
        'INSERT INTO sensor_sla_anchors (dag_id, run_id, anchor_ms) VALUES (?, ?, ?) ON CONFLICT (dag_id, run_id) DO NOTHING',
        dagId,
        runId,
        nowMs,
      );
      return (await this.getSlaAnchor(dagId, runId))!;
    });
  }

  async getSlaAnchor(dagId: string, runId: string): Promise<number | undefined> {
    const r = await this.sql.get<{ anchor_ms: number }>(
      'SELECT anchor_ms FROM sensor_sla_anchors WHERE dag_id = ? AND run_id = ?',
      dagId,
      runId,
    );
    return r === undefined ? undefined : Number(r.anchor_ms);
  }

  async hasSlaMiss(dagId: string, runId: string, taskId: string, level: string): Promise<boolean> {
    const r = await this.sql.get(
      'SELECT 1 AS one FROM sensor_sla_misses WHERE dag_id = ? AND run_id = ? AND task_id = ? AND level = ?',
      dagId,
      runId,
      taskId,
      level,
    );
    return r !== undefined;
  }

  /** Records a miss unless that level of that sensor was already missed; true when this call recorded it. */
  async insertSlaMiss(m: SlaMissRow): Promise<boolean> {
    const r = await this.sql.run(
      `INSERT INTO sensor_sla_misses (dag_id, run_id, task_id, level, deadline_ms, deadline, detected_ms, task_state)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (dag_id, run_id, task_id, level) DO NOTHING`,
      m.dag_id,
      m.run_id,
      m.task_id,
      m.level,
      m.deadline_ms,
      m.deadline,
      m.detected_ms,
      m.task_state,
    );
    return r.changes === 1;
  }

  /** SLA misses of a DAG, or of one run (and sensor), by deadline. */
  async listSlaMisses(filter: { dagId: string; runId?: string; taskId?: string }): Promise<SlaMissRow[]> {
    const where = ['dag_id = ?'];
    const args: SqlValue[] = [filter.dagId];
    if (filter.runId !== undefined) {
      where.push('run_id = ?');
      args.push(filter.runId);
    }
    if (filter.taskId !== undefined) {
      where.push('task_id = ?');
      args.push(filter.taskId);
    }
    const rows = await this.sql.all(
      `SELECT * FROM sensor_sla_misses WHERE ${where.join(' AND ')} ORDER BY deadline_ms, task_id, level`,
      ...args,
    );
    return rows.map(slaMissRow);
  }

  // ---- what sensors read of runs and task instances --------------------------------

  /** The states of a task's instances in a run (every map index): an SLA check's and an ExternalTaskSensor's question. */
  async taskInstanceStates(dagId: string, runId: string, taskId: string): Promise<(TaskState | null)[]> {
    const rows = await this.sql.all<{ state: TaskState | null }>(
      'SELECT state FROM task_instances WHERE dag_id = ? AND run_id = ? AND task_id = ? ORDER BY map_index',
      dagId,
      runId,
      taskId,
    );
    return rows.map((r) => r.state);
  }

  /** A DAG's runs at a logical date, newest first (an ExternalTaskSensor's target). */
  async runsAtLogicalDate(dagId: string, logicalDate: string): Promise<{ run_id: string; state: string }[]> {
    const rows = await this.sql.all<{ run_id: string; state: string }>(
      'SELECT run_id, state FROM dag_runs WHERE dag_id = ? AND logical_date = ? ORDER BY id DESC',
      dagId,
      logicalDate,
    );
    return rows.map((r) => ({ run_id: r.run_id, state: r.state }));
  }

  // ---- statistics and the sensor panel ------------------------------------------------

  async statsRows(dagId?: string): Promise<SensorStatsRows> {
    const args: SqlValue[] = dagId === undefined ? [] : [dagId];
    const where = dagId === undefined ? '' : 'WHERE dag_id = ?';
    const instances = await this.sql.all<SensorStatsRows['instances'][number]>(
      `SELECT dag_id, task_id, outcome, wait_ms FROM sensor_instances ${where} ORDER BY dag_id, task_id`,
      ...args,
    );
    const pokes = await this.sql.all<SensorStatsRows['pokes'][number]>(
      `SELECT dag_id, task_id, COUNT(*) AS n, SUM(CASE WHEN result = 'error' THEN 1 ELSE 0 END) AS errors, AVG(duration_ms) AS avg_ms
       FROM sensor_pokes ${where} GROUP BY dag_id, task_id`,
      ...args,
    );
    const misses = await this.sql.all<SensorStatsRows['misses'][number]>(
      `SELECT dag_id, task_id, COUNT(*) AS n FROM sensor_sla_misses ${where} GROUP BY dag_id, task_id`,
      ...args,
    );
    const breakers = await this.sql.all(`SELECT * FROM sensor_breakers ${where}`, ...args);
    return {
      instances: instances.map((r) => ({ ...r, wait_ms: numOrNull(r.wait_ms) })),
      pokes: pokes.map((p) => ({ ...p, n: num(p.n), errors: num(p.errors ?? 0), avg_ms: numOrNull(p.avg_ms) })),
      misses: misses.map((m) => ({ ...m, n: num(m.n) })),
      breakers: breakers.map(breakerRow),
    };
  }

  /** Sensor task instances with their run and sensor record, newest run first. */
  async sensorInstances(filter: { dagId?: string; runId?: string; taskId?: string }, limit: number): Promise<SensorInstanceJoinRow[]> {
    const where: string[] = [];
    const args: SqlValue[] = [];
    for (const [col, v] of [['ti.dag_id', filter.dagId], ['ti.run_id', filter.runId], ['ti.task_id', filter.taskId]] as const) {
      if (v === undefined) continue;
      where.push(`${col} = ?`);
      args.push(v);
    }
    const rows = await this.sql.all(
      `${JOIN_SQL}${where.length ? ` AND ${where.join(' AND ')}` : ''} ORDER BY r.id DESC, ti.task_id, ti.map_index LIMIT ?`,
      ...args,
      limit,
    );
    return rows.map(joinRow);
  }

  /** One sensor task instance with its run, sensor record and last poke; undefined when it is not a sensor's. */
  async sensorInstance(key: InstanceKey): Promise<SensorInstanceJoinRow | undefined> {
    const r = await this.sql.get(
      `${JOIN_SQL} AND ti.dag_id = ? AND ti.run_id = ? AND ti.task_id = ? AND ti.map_index = ?`,
      ...k(key),
    );
    return r === undefined ? undefined : joinRow(r);
  }
}
