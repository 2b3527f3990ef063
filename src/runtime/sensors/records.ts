/** Reads and writes of the sensor tables (schema.ts). */
import type { Store } from '../store/store.ts';
import type { PokeResultKind, SensorMode } from './types.ts';

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

const k = (key: InstanceKey) => [key.dagId, key.runId, key.taskId, key.mapIndex] as const;

export function getInstance(store: Store, key: InstanceKey): InstanceRow | undefined {
  return store
    .stmt(
      'SELECT first_poke_ms, pokes, last_interval_ms, outcome, ended_ms, wait_ms FROM sensor_instances WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ?',
    )
    .get(...k(key)) as InstanceRow | undefined;
}

/**
 * The instance's row, created at the first poke. A row that has ended (the task
 * was cleared and runs again, or a timeout is retried) starts over: a new timeout.
 */
export function startInstance(store: Store, key: InstanceKey, nowMs: number): InstanceRow {
  return store.tx(() => {
    const row = getInstance(store, key);
    if (row && row.outcome === null) return row;
    store
      .stmt(
        `INSERT INTO sensor_instances (dag_id, run_id, task_id, map_index, first_poke_ms, pokes, last_interval_ms, outcome, ended_ms, wait_ms)
         VALUES (?, ?, ?, ?, ?, 0, NULL, NULL, NULL, NULL)
         ON CONFLICT (dag_id, run_id, task_id, map_index) DO UPDATE SET first_poke_ms = excluded.first_poke_ms, pokes = 0,
           last_interval_ms = NULL, outcome = NULL, ended_ms = NULL, wait_ms = NULL, memo = NULL`,
      )
      .run(...k(key), nowMs);
    return {
      first_poke_ms: nowMs,
      pokes: 0,
      last_interval_ms: null,
      outcome: null,
      ended_ms: null,
      wait_ms: null,
    };
  });
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

/** Stores one poke and the instance's new counters (one transaction). */
export function recordPoke(
  store: Store,
  key: InstanceKey,
  poke: PokeRecord,
  instance: {
    pokes: number;
    lastIntervalMs: number | null;
    outcome?: InstanceOutcome;
    endedMs?: number;
    waitMs?: number;
  },
): void {
  store.tx(() => {
    store
      .stmt(
        `INSERT INTO sensor_pokes (dag_id, run_id, task_id, map_index, try_number, poke_number, mode, poked_at_ms, poked_at, duration_ms, result, error, next_interval_ms, strategy)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
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
    store
      .stmt(
        `UPDATE sensor_instances SET pokes = ?, last_interval_ms = ?, outcome = ?, ended_ms = ?, wait_ms = ?
         WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ?`,
      )
      .run(
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
export function recentWaits(store: Store, dagId: string, taskId: string, n: number): number[] {
  const rows = store
    .stmt(
      `SELECT wait_ms FROM sensor_instances WHERE dag_id = ? AND task_id = ? AND outcome = 'success' AND wait_ms IS NOT NULL
       ORDER BY ended_ms DESC LIMIT ?`,
    )
    .all(dagId, taskId, n) as { wait_ms: number }[];
  return rows.map((r) => r.wait_ms).reverse();
}

/** Every poke of one sensor instance (or of a whole run), in order. */
export function listPokes(
  store: Store,
  filter: { dagId: string; runId?: string; taskId?: string; mapIndex?: number },
): PokeRow[] {
  const where = ['dag_id = ?'];
  const args: (string | number)[] = [filter.dagId];
  for (const [column, value] of [
    ['run_id', filter.runId],
    ['task_id', filter.taskId],
    ['map_index', filter.mapIndex],
  ] as const) {
    if (value === undefined) continue;
    where.push(`${column} = ?`);
    args.push(value);
  }
  return store.db
    .prepare(`SELECT * FROM sensor_pokes WHERE ${where.join(' AND ')} ORDER BY id`)
    .all(...args) as unknown as PokeRow[];
}

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

export function listSlaMisses(store: Store, filter: { dagId: string; runId?: string }): SlaMissRow[] {
  return (filter.runId === undefined
    ? store.db
        .prepare('SELECT * FROM sensor_sla_misses WHERE dag_id = ? ORDER BY deadline_ms')
        .all(filter.dagId)
    : store.db
        .prepare('SELECT * FROM sensor_sla_misses WHERE dag_id = ? AND run_id = ? ORDER BY deadline_ms')
        .all(filter.dagId, filter.runId)) as unknown as SlaMissRow[];
}

export function getMemo(store: Store, key: InstanceKey): unknown {
  const row = store
    .stmt(
      'SELECT memo FROM sensor_instances WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ?',
    )
    .get(...k(key)) as { memo: string | null } | undefined;
  return row?.memo ? (JSON.parse(row.memo) as unknown) : undefined;
}

export function setMemo(store: Store, key: InstanceKey, value: unknown): void {
  const text = value === undefined ? null : JSON.stringify(value);
  if (text !== null && text.length > 1_000_000)
    throw new Error(`Sensor "${key.taskId}" of DAG "${key.dagId}": memo is larger than 1 MB`);
  store
    .stmt(
      'UPDATE sensor_instances SET memo = ? WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ?',
    )
    .run(text, ...k(key));
}
