/** Rows of the metadata store, as SQLite returns them (snake_case, ISO 8601 UTC times). */

/** Airflow's task instance states; `null` (none) until the scheduler first looks at the task. */
export type TaskState =
  | 'scheduled'
  | 'queued'
  | 'running'
  | 'success'
  | 'failed'
  | 'up_for_retry'
  | 'up_for_reschedule'
  | 'skipped'
  | 'upstream_failed'
  | 'removed';

export const FINISHED_STATES: ReadonlySet<TaskState> = new Set(['success', 'failed', 'skipped', 'upstream_failed', 'removed']);

export type RunState = 'queued' | 'running' | 'success' | 'failed';
export type RunType = 'manual' | 'scheduled' | 'backfill' | 'test' | 'asset_triggered';

export interface DagRecord {
  dag_id: string;
  fileloc: string;
  description: string | null;
  schedule: string | null;
  /** JSON array. */
  tags: string;
  /** JSON array. */
  task_ids: string;
  is_paused: number;
  last_parsed_at: string;
}

export interface ImportErrorRecord {
  fileloc: string;
  dag_id: string | null;
  message: string;
  line: number | null;
  col: number | null;
  seen_at: string;
}

/** What the DAG processor last made of one DAG file. */
export interface DagFileRecord {
  fileloc: string;
  /** sha256 of the file's content when it was parsed. */
  content_hash: string;
  /** JSON: every workspace file bundled into it → sha256. */
  inputs: string;
  /** The parser (Hangar build) that produced it; another version parses again. */
  parser_version: string;
  bundle_path: string | null;
  bundle_hash: string | null;
  /** JSON array of serialized DAGs. */
  dags: string;
  /** JSON array of import errors. */
  errors: string;
  /** JSON array of warnings (an import over the parse budget); absent before migration 16. */
  warnings?: string;
  /** 1 when the file was stopped by its time or memory budget (not parsed again until it changes). */
  budget_failure: number;
  compile_ms: number | null;
  import_ms: number | null;
  total_ms: number;
  parsed_at: string;
}

export interface DagRunRecord {
  id: number;
  dag_id: string;
  run_id: string;
  run_type: RunType;
  logical_date: string;
  data_interval_start: string;
  data_interval_end: string;
  state: RunState;
  /** JSON object. */
  conf: string;
  queued_at: string;
  start_date: string | null;
  end_date: string | null;
  owner_pid: number | null;
  /** The owner's machine (scheduler/owner.ts); null in rows written before version 12. */
  owner_host: string | null;
  heartbeat_at: string | null;
  /** Why a user asked, from another process, that the run stop (its owner reads it at each heartbeat). */
  cancel_requested: string | null;
}

export interface TaskInstanceRecord {
  dag_id: string;
  run_id: string;
  task_id: string;
  map_index: number;
  try_number: number;
  max_tries: number;
  state: TaskState | null;
  operator: string | null;
  pool: string;
  /** The pool slots its current try holds (set when a try is claimed). */
  pool_slots: number;
  start_date: string | null;
  end_date: string | null;
  duration: number | null;
  pid: number | null;
  hostname: string | null;
  heartbeat_at: string | null;
  next_try_at: string | null;
  error: string | null;
  updated_at: string;
}

export interface TaskTryRecord {
  dag_id: string;
  run_id: string;
  task_id: string;
  map_index: number;
  try_number: number;
  state: TaskState;
  start_date: string | null;
  end_date: string | null;
  duration: number | null;
  pid: number | null;
  hostname: string | null;
  error: string | null;
  log_path: string | null;
}

export interface XComRecord {
  dag_id: string;
  run_id: string;
  task_id: string;
  map_index: number;
  key: string;
  value: Uint8Array;
  /** JSON array of codec names. */
  chain: string;
  size_original: number;
  size_stored: number;
  sensitive: number;
  created_at: string;
}
