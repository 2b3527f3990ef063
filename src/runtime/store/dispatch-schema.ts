/**
 * Distributed execution (src/runtime/distributed): the workers that run tries on other
 * machines, and each try handed to them through the queue. The store, not the queue, is
 * where a try's claim and its outcome live: a job that Redis loses or delivers twice
 * changes nothing here.
 */
export const DISPATCH_SCHEMA_SQL = `
CREATE TABLE workers (
  worker_id TEXT PRIMARY KEY,
  hostname TEXT NOT NULL,
  pid INTEGER NOT NULL,
  queues TEXT NOT NULL,
  concurrency INTEGER NOT NULL,
  version TEXT NOT NULL,
  state TEXT NOT NULL,
  started_at TEXT NOT NULL,
  heartbeat_at TEXT NOT NULL,
  stopped_at TEXT
);

CREATE TABLE try_dispatch (
  dag_id TEXT NOT NULL,
  run_id TEXT NOT NULL,
  task_id TEXT NOT NULL,
  map_index INTEGER NOT NULL,
  try_number INTEGER NOT NULL,
  queue TEXT NOT NULL,
  bundle_hash TEXT NOT NULL,
  enqueued_at TEXT NOT NULL,
  worker_id TEXT,
  pid INTEGER,
  hostname TEXT,
  claimed_at TEXT,
  running_at TEXT,
  cancel TEXT,
  outcome TEXT,
  ended_at TEXT,
  PRIMARY KEY (dag_id, run_id, task_id, map_index, try_number)
);
CREATE INDEX try_dispatch_open_by_worker ON try_dispatch (worker_id) WHERE outcome IS NULL;
`;

/**
 * Callbacks handed to workers (on_success, on_failure, on_retry, SLA misses): claimed and ended
 * in the store as tries are, so that a Redis restart or a duplicate delivery loses or repeats
 * none. A row lives while the scheduler waits for the callback; it deletes it once read.
 */
export const CALLBACK_DISPATCH_SCHEMA_SQL = `
CREATE TABLE callback_dispatch (
  id TEXT PRIMARY KEY,
  dag_id TEXT NOT NULL,
  task_id TEXT,
  name TEXT NOT NULL,
  enqueued_at TEXT NOT NULL,
  worker_id TEXT,
  claimed_at TEXT,
  outcome TEXT,
  ended_at TEXT
);
`;
