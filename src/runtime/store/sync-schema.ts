/**
 * Tables of the sync pipelines. The runtime's numbered migrations include this
 * as one migration (version 3); PostgreSQL has its own text in postgres-baseline.ts.
 *
 * - `sync_cursors`: the cursor `(mtime_ms, point_id)` of each pipeline; it only
 *   moves after the destination committed every data point up to it.
 * - `sync_manifest`: what each pipeline last synced per file (size, mtime), used
 *   to skip unchanged files, to catch files copied with an old mtime (manifest
 *   mode) and to propagate deletions of files this pipeline wrote.
 * - `sync_runs`: one row per run with its summary.
 * - `sync_file_results`: one row per file synced, failed, changed or deleted in a run.
 */
export const SYNC_SCHEMA_SQL = `
CREATE TABLE sync_cursors (
  pipeline_id TEXT PRIMARY KEY NOT NULL,
  mtime_ms INTEGER NOT NULL,
  point_id TEXT NOT NULL,
  updated_at TEXT NOT NULL
);

CREATE TABLE sync_manifest (
  pipeline_id TEXT NOT NULL,
  point_id TEXT NOT NULL,
  size INTEGER NOT NULL,
  mtime_ms INTEGER NOT NULL,
  synced_at TEXT NOT NULL,
  PRIMARY KEY (pipeline_id, point_id)
);

CREATE TABLE sync_runs (
  run_id TEXT PRIMARY KEY NOT NULL,
  pipeline_id TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  status TEXT NOT NULL CHECK (status IN ('running', 'success', 'partial', 'failed')),
  mode TEXT NOT NULL CHECK (mode IN ('cursor', 'manifest')),
  files_synced INTEGER NOT NULL DEFAULT 0,
  files_skipped INTEGER NOT NULL DEFAULT 0,
  files_failed INTEGER NOT NULL DEFAULT 0,
  files_deleted INTEGER NOT NULL DEFAULT 0,
  bytes_read INTEGER NOT NULL DEFAULT 0,
  bytes_moved INTEGER NOT NULL DEFAULT 0,
  error TEXT
);

CREATE INDEX sync_runs_pipeline ON sync_runs (pipeline_id, started_at);

CREATE TABLE sync_file_results (
  run_id TEXT NOT NULL REFERENCES sync_runs (run_id) ON DELETE CASCADE,
  pipeline_id TEXT NOT NULL,
  point_id TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('synced', 'failed', 'changed', 'deleted')),
  size INTEGER NOT NULL,
  mtime_ms INTEGER NOT NULL,
  bytes_read INTEGER NOT NULL,
  bytes_written INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  error TEXT,
  recorded_at TEXT NOT NULL,
  PRIMARY KEY (run_id, point_id)
);

CREATE INDEX sync_file_results_point ON sync_file_results (pipeline_id, point_id);
`;
