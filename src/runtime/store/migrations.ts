import { XCOM_SCHEMA_SQL } from './xcom-schema.ts';
import { SYNC_SCHEMA_SQL } from './sync-schema.ts';
import { SENSORS_SCHEMA_SQL } from './sensors-schema.ts';
import { VARIABLES_SCHEMA_SQL } from './variables-schema.ts';
import { POSTGRES_BASELINE_SQL } from './postgres-baseline.ts';
import { CALLBACK_DISPATCH_SCHEMA_SQL, DISPATCH_SCHEMA_SQL } from './dispatch-schema.ts';
import { ASSETS_SCHEMA_POSTGRES, ASSETS_SCHEMA_SQLITE } from './assets-schema.ts';

/** Indexes the editor's store watcher reads by (src/runtime/store-watch.ts). */
const WATCH_INDEXES_SQL = `
CREATE INDEX task_instances_by_updated ON task_instances (updated_at);
CREATE INDEX dag_runs_by_end ON dag_runs (end_date);
`;

/**
 * Numbered migrations of the metadata store. Append only: a migration that has
 * shipped is never edited; a change is a new number.
 *
 * Each migration has its SQLite text (`sql`) and its PostgreSQL text (`postgres`); a
 * PostgreSQL store refuses a migration without one (write both: the schema-agreement
 * test, test/runtime/postgres-migrations.test.ts, compares the two schemas). Versions
 * 1–11 are one PostgreSQL baseline (postgres-baseline.ts), carried by version 1.
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  /** SQLite. */
  readonly sql: string;
  /** PostgreSQL. */
  readonly postgres?: string;
}

/** Version 15, the same on both: what a try holds of its pool, counted by every scheduler that shares the store. */
const POOL_SLOTS_SQL = `
ALTER TABLE task_instances ADD COLUMN pool_slots INTEGER NOT NULL DEFAULT 1;
CREATE INDEX task_instances_pool_in_use ON task_instances (pool) WHERE state IN ('queued', 'running');
`;

/** The PostgreSQL text of versions 2–11: their tables are in the baseline, which version 1 creates. */
const IN_BASELINE = '-- in the PostgreSQL baseline (version 1)';

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'core',
    sql: `
CREATE TABLE dags (
  dag_id TEXT PRIMARY KEY,
  fileloc TEXT NOT NULL,
  description TEXT,
  schedule TEXT,
  tags TEXT NOT NULL DEFAULT '[]',
  task_ids TEXT NOT NULL DEFAULT '[]',
  is_paused INTEGER NOT NULL DEFAULT 0,
  last_parsed_at TEXT NOT NULL
);

CREATE TABLE import_errors (
  fileloc TEXT PRIMARY KEY,
  message TEXT NOT NULL,
  line INTEGER,
  col INTEGER,
  seen_at TEXT NOT NULL
);

CREATE TABLE dag_runs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  dag_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  run_type TEXT NOT NULL,
  logical_date TEXT NOT NULL,
  data_interval_start TEXT NOT NULL,
  data_interval_end TEXT NOT NULL,
  state TEXT NOT NULL,
  conf TEXT NOT NULL DEFAULT '{}',
  queued_at TEXT NOT NULL,
  start_date TEXT,
  end_date TEXT,
  owner_pid INTEGER,
  heartbeat_at TEXT,
  UNIQUE (dag_id, run_id)
);
CREATE INDEX dag_runs_by_state ON dag_runs (state);

-- The current state of each task instance; every try is also in task_tries.
CREATE TABLE task_instances (
  dag_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  map_index INTEGER NOT NULL DEFAULT -1,
  try_number INTEGER NOT NULL DEFAULT 0,
  max_tries INTEGER NOT NULL DEFAULT 0,
  state TEXT,
  operator TEXT,
  pool TEXT NOT NULL DEFAULT 'default_pool',
  start_date TEXT,
  end_date TEXT,
  duration REAL,
  pid INTEGER,
  hostname TEXT,
  heartbeat_at TEXT,
  next_try_at TEXT,
  error TEXT,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (dag_id, run_id, task_id, map_index)
);
CREATE INDEX task_instances_by_state ON task_instances (state);

CREATE TABLE task_tries (
  dag_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  map_index INTEGER NOT NULL DEFAULT -1,
  try_number INTEGER NOT NULL,
  state TEXT NOT NULL,
  start_date TEXT,
  end_date TEXT,
  duration REAL,
  pid INTEGER,
  hostname TEXT,
  error TEXT,
  log_path TEXT,
  PRIMARY KEY (dag_id, run_id, task_id, map_index, try_number)
);

CREATE TABLE xcom (
  dag_id TEXT NOT NULL, run_id TEXT NOT NULL, task_id TEXT NOT NULL,
  map_index INTEGER NOT NULL DEFAULT -1, key TEXT NOT NULL,
  value BLOB NOT NULL,
  chain TEXT NOT NULL,
  size_original INTEGER NOT NULL, size_stored INTEGER NOT NULL,
  sensitive INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  PRIMARY KEY (dag_id, run_id, task_id, map_index, key)
);

CREATE TABLE xcom_pulls (
  dag_id TEXT NOT NULL, run_id TEXT NOT NULL, task_id TEXT NOT NULL, map_index INTEGER NOT NULL, key TEXT NOT NULL,
  pulled_by_task_id TEXT NOT NULL, pulled_by_map_index INTEGER NOT NULL, pulled_at TEXT NOT NULL
);
CREATE INDEX xcom_pulls_by_xcom ON xcom_pulls (dag_id, run_id, task_id, key);
`,
    postgres: POSTGRES_BASELINE_SQL,
  },
  { version: 2, name: 'xcom keys and rotation', sql: XCOM_SCHEMA_SQL, postgres: IN_BASELINE },
  { version: 3, name: 'sync cursors and file results', sql: SYNC_SCHEMA_SQL, postgres: IN_BASELINE },
  { version: 4, name: 'sensor pokes, instances, breakers and SLA misses', sql: SENSORS_SCHEMA_SQL, postgres: IN_BASELINE },
  {
    version: 5,
    name: 'scheduler: runs by DAG and logical date',
    sql: `CREATE INDEX IF NOT EXISTS dag_runs_by_dag_logical ON dag_runs (dag_id, logical_date);
CREATE INDEX IF NOT EXISTS dag_runs_by_dag_state ON dag_runs (dag_id, state);`,
    postgres: IN_BASELINE,
  },
  {
    version: 6,
    name: 'when a try started running (after its queued time): the Gantt view',
    // NULL: no queued phase recorded (in-process tries run at once; tries from before this column).
    sql: 'ALTER TABLE task_tries ADD COLUMN running_at TEXT;',
    postgres: IN_BASELINE,
  },
  { version: 7, name: 'variables', sql: VARIABLES_SCHEMA_SQL, postgres: IN_BASELINE },
  {
    version: 10,
    name: 'DAG processor: serialized DAGs per file, several import errors per file',
    sql: `
CREATE TABLE dag_files (
  fileloc TEXT PRIMARY KEY,
  content_hash TEXT NOT NULL,
  inputs TEXT NOT NULL,
  parser_version TEXT NOT NULL,
  bundle_path TEXT,
  bundle_hash TEXT,
  dags TEXT NOT NULL,
  errors TEXT NOT NULL,
  budget_failure INTEGER NOT NULL DEFAULT 0,
  compile_ms REAL,
  import_ms REAL,
  total_ms REAL NOT NULL,
  parsed_at TEXT NOT NULL
);
DROP TABLE import_errors;
CREATE TABLE import_errors (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  fileloc TEXT NOT NULL,
  dag_id TEXT,
  message TEXT NOT NULL,
  line INTEGER,
  col INTEGER,
  seen_at TEXT NOT NULL
);
CREATE INDEX import_errors_by_file ON import_errors (fileloc);
`,
    postgres: IN_BASELINE,
  },
  {
    version: 11,
    name: 'encryptions per XCom key (random 96-bit nonces are safe up to 2^32 per key)',
    sql: 'CREATE TABLE xcom_key_usage (key_id TEXT PRIMARY KEY, encryptions INTEGER NOT NULL, first_at TEXT NOT NULL, last_at TEXT NOT NULL);',
    postgres: IN_BASELINE,
  },
  {
    version: 12,
    name: 'run owners across machines: the host beside the pid',
    sql: 'ALTER TABLE dag_runs ADD COLUMN owner_host TEXT;',
    postgres: 'ALTER TABLE dag_runs ADD COLUMN owner_host TEXT;',
  },
  {
    version: 13,
    name: 'distributed execution: workers and their heartbeats, tries handed to them',
    sql: DISPATCH_SCHEMA_SQL,
    postgres: DISPATCH_SCHEMA_SQL.replaceAll('INTEGER', 'BIGINT'),
  },
  {
    version: 14,
    name: 'assets: asset events, the DAGs scheduled on assets and their queue of pending events',
    sql: ASSETS_SCHEMA_SQLITE,
    postgres: ASSETS_SCHEMA_POSTGRES,
  },
  {
    version: 15,
    name: "pools across processes: a claimed try's pool slots, and an index of the slots in use",
    sql: POOL_SLOTS_SQL,
    postgres: POOL_SLOTS_SQL,
  },
  {
    version: 16,
    name: 'DAG processor: warnings per file (an import over the parse budget, naming its slow statement)',
    sql: "ALTER TABLE dag_files ADD COLUMN warnings TEXT NOT NULL DEFAULT '[]';",
    postgres: "ALTER TABLE dag_files ADD COLUMN warnings TEXT NOT NULL DEFAULT '[]';",
  },
  {
    version: 17,
    name: 'distributed execution: callbacks handed to workers, claimed and ended in the store',
    sql: CALLBACK_DISPATCH_SCHEMA_SQL,
    postgres: CALLBACK_DISPATCH_SCHEMA_SQL,
  },
  {
    version: 18,
    name: "the editor follows other processes' runs: task instances by their last change, runs by their end",
    sql: WATCH_INDEXES_SQL,
    postgres: WATCH_INDEXES_SQL,
  },
  {
    version: 19,
    name: 'a run cancelled from another process: the request, read by its owner at each heartbeat',
    sql: 'ALTER TABLE dag_runs ADD COLUMN cancel_requested TEXT;',
    postgres: 'ALTER TABLE dag_runs ADD COLUMN cancel_requested TEXT;',
  },
];
