/**
 * Tables of the sensor engine (store migration 4).
 *
 * - `sensor_pokes`: every poke (what the sensor panel and `hangar sensors stats` read).
 * - `sensor_instances`: one row per sensor task instance of a run: when it first
 *   poked (on the runtime's clock, so a timeout survives reschedules, retries and
 *   restarts), how many pokes, the last interval, and how it ended.
 * - `sensor_breakers`: the circuit breaker of a sensor, shared by all runs of its DAG.
 * - `sensor_sla`: the anchor time of a run's SLA checks and every recorded miss
 *   (a level is missed at most once per sensor instance: the primary key).
 *
 * Times are milliseconds on the runtime's clock (INTEGER) plus ISO text where a
 * person reads them.
 */
export const SENSORS_SCHEMA_SQL = `
CREATE TABLE sensor_pokes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  dag_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  map_index INTEGER NOT NULL DEFAULT -1,
  try_number INTEGER NOT NULL,
  poke_number INTEGER NOT NULL,
  mode TEXT NOT NULL,
  poked_at_ms INTEGER NOT NULL,
  poked_at TEXT NOT NULL,
  duration_ms REAL NOT NULL,
  -- done | not_yet | error | timeout | breaker_open
  result TEXT NOT NULL,
  error TEXT,
  next_interval_ms INTEGER,
  strategy TEXT
);
CREATE INDEX sensor_pokes_by_instance ON sensor_pokes (dag_id, run_id, task_id, map_index, poke_number);
CREATE INDEX sensor_pokes_by_sensor ON sensor_pokes (dag_id, task_id, poked_at_ms);

CREATE TABLE sensor_instances (
  dag_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  map_index INTEGER NOT NULL DEFAULT -1,
  first_poke_ms INTEGER NOT NULL,
  pokes INTEGER NOT NULL DEFAULT 0,
  last_interval_ms INTEGER,
  -- NULL while waiting; success | timeout | failed | skipped
  outcome TEXT,
  ended_ms INTEGER,
  wait_ms INTEGER,
  -- JSON kept by the poke across pokes (PokeContext.memo): a FileSensor's sizes for its stability check
  memo TEXT,
  PRIMARY KEY (dag_id, run_id, task_id, map_index)
);
CREATE INDEX sensor_instances_by_sensor ON sensor_instances (dag_id, task_id, ended_ms);

CREATE TABLE sensor_breakers (
  dag_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  -- closed | open | half_open
  state TEXT NOT NULL DEFAULT 'closed',
  consecutive_errors INTEGER NOT NULL DEFAULT 0,
  open_until_ms INTEGER,
  probe_started_ms INTEGER,
  last_error TEXT,
  opened_count INTEGER NOT NULL DEFAULT 0,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (dag_id, task_id)
);

CREATE TABLE sensor_sla_anchors (
  dag_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  anchor_ms INTEGER NOT NULL,
  PRIMARY KEY (dag_id, run_id)
);

CREATE TABLE sensor_sla_misses (
  dag_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  level TEXT NOT NULL,
  deadline_ms INTEGER NOT NULL,
  deadline TEXT NOT NULL,
  detected_ms INTEGER NOT NULL,
  task_state TEXT,
  PRIMARY KEY (dag_id, run_id, task_id, level)
);
`;
