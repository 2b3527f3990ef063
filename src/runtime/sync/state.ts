import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { randomUUID } from 'node:crypto';
import { SyncError } from './errors.ts';
import type { Cursor, FileResult, PointInfo, SyncSummary } from './types.ts';
import { compareCursor } from './types.ts';

export interface ManifestEntry {
  size: number;
  mtimeMs: number;
}

export function validatePipelineId(pipelineId: unknown): string {
  if (typeof pipelineId !== 'string' || !/^[A-Za-z0-9_.:-]{1,200}$/.test(pipelineId)) {
    throw new SyncError(
      `invalid sync pipeline id ${JSON.stringify(pipelineId)}: use 1-200 letters, digits, "_", ".", ":" or "-"`,
    );
  }
  return pipelineId;
}

/**
 * Persists cursors, manifests and per-file results in the runtime's SQLite
 * store (tables from `SYNC_SCHEMA_SQL`). The database is owned by the caller.
 */
export class SyncStateMachine {
  readonly db: DatabaseSync;
  #stmts: Record<string, StatementSync> = {};

  constructor(db: DatabaseSync) {
    this.db = db;
    const row = db
      .prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'sync_cursors'")
      .get() as { n: number };
    if (row.n !== 1) {
      throw new SyncError('the sync tables are missing from the database: apply SYNC_SCHEMA_SQL first');
    }
  }

  #stmt(sql: string): StatementSync {
    let s = this.#stmts[sql];
    if (s === undefined) {
      s = this.db.prepare(sql);
      this.#stmts[sql] = s;
    }
    return s;
  }

  #tx<T>(fn: () => T): T {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const out = fn();
      this.db.exec('COMMIT');
      return out;
    } catch (err) {
      this.db.exec('ROLLBACK');
      throw err;
    }
  }

  getCursor(pipelineId: string): Cursor | null {
    validatePipelineId(pipelineId);
    const row = this.#stmt('SELECT mtime_ms, point_id FROM sync_cursors WHERE pipeline_id = ?').get(pipelineId) as
      | { mtime_ms: number; point_id: string }
      | undefined;
    return row === undefined ? null : { mtimeMs: Number(row.mtime_ms), id: row.point_id };
  }

  /** Moves the cursor forward; refuses to move it backwards. */
  advanceCursor(pipelineId: string, cursor: Cursor): void {
    validatePipelineId(pipelineId);
    this.#tx(() => this.#advance(pipelineId, cursor));
  }

  #advance(pipelineId: string, cursor: Cursor): void {
    {
      const current = this.getCursor(pipelineId);
      if (current !== null && compareCursor(cursor, current) < 0) {
        throw new SyncError(
          `refusing to move the cursor of pipeline "${pipelineId}" backwards from (${current.mtimeMs}, ${current.id}) to (${cursor.mtimeMs}, ${cursor.id})`,
        );
      }
      this.#stmt(
        `INSERT INTO sync_cursors (pipeline_id, mtime_ms, point_id, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (pipeline_id) DO UPDATE SET mtime_ms = excluded.mtime_ms, point_id = excluded.point_id, updated_at = excluded.updated_at`,
      ).run(pipelineId, cursor.mtimeMs, cursor.id, new Date().toISOString());
    }
  }

  /** Forgets the cursor and manifest of a pipeline (a full re-sync next run). */
  reset(pipelineId: string): void {
    validatePipelineId(pipelineId);
    this.#tx(() => {
      this.#stmt('DELETE FROM sync_cursors WHERE pipeline_id = ?').run(pipelineId);
      this.#stmt('DELETE FROM sync_manifest WHERE pipeline_id = ?').run(pipelineId);
    });
  }

  getManifest(pipelineId: string): Map<string, ManifestEntry> {
    validatePipelineId(pipelineId);
    const rows = this.#stmt('SELECT point_id, size, mtime_ms FROM sync_manifest WHERE pipeline_id = ?').all(
      pipelineId,
    ) as { point_id: string; size: number; mtime_ms: number }[];
    const out = new Map<string, ManifestEntry>();
    for (const r of rows) out.set(r.point_id, { size: Number(r.size), mtimeMs: Number(r.mtime_ms) });
    return out;
  }

  beginRun(pipelineId: string, mode: 'cursor' | 'manifest'): string {
    validatePipelineId(pipelineId);
    const runId = randomUUID();
    this.#stmt(
      "INSERT INTO sync_runs (run_id, pipeline_id, started_at, status, mode) VALUES (?, ?, ?, 'running', ?)",
    ).run(runId, pipelineId, new Date().toISOString(), mode);
    return runId;
  }

  #insertResult(runId: string, pipelineId: string, r: FileResult, now: string = new Date().toISOString()): void {
    this.#stmt(
      `INSERT OR REPLACE INTO sync_file_results
        (run_id, pipeline_id, point_id, status, size, mtime_ms, bytes_read, bytes_written, duration_ms, error, recorded_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      runId,
      pipelineId,
      r.id,
      r.status,
      r.size,
      r.mtimeMs,
      r.bytesRead,
      r.bytesWritten,
      Math.round(r.durationMs),
      r.error ?? null,
      now,
    );
  }

  /**
   * Records a data point the destination committed: manifest, result and (when
   * given) the new cursor in one transaction.
   */
  recordCommitted(runId: string, pipelineId: string, point: PointInfo, result: FileResult, cursor: Cursor | null = null): void {
    this.recordCommittedBatch(runId, pipelineId, [{ point, result }], cursor);
  }

  /**
   * Records a batch of data points the destination committed — manifest rows,
   * results and (when given) the new cursor — in one transaction: all or none.
   * The caller passes a cursor only over data points recorded by now or in
   * this batch, in order, so a crash before this commit re-sends the batch
   * and never skips a data point.
   */
  recordCommittedBatch(
    runId: string,
    pipelineId: string,
    entries: readonly { point: PointInfo; result: FileResult }[],
    cursor: Cursor | null = null,
  ): void {
    if (entries.length === 0 && cursor === null) return;
    const now = new Date().toISOString();
    this.#tx(() => {
      if (cursor !== null) this.#advance(pipelineId, cursor);
      const upsert = this.#stmt(
        `INSERT INTO sync_manifest (pipeline_id, point_id, size, mtime_ms, synced_at) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT (pipeline_id, point_id) DO UPDATE SET size = excluded.size, mtime_ms = excluded.mtime_ms, synced_at = excluded.synced_at`,
      );
      for (const { point, result } of entries) {
        upsert.run(pipelineId, point.id, point.size, point.mtimeMs, now);
        this.#insertResult(runId, pipelineId, result, now);
      }
    });
  }

  recordFailure(runId: string, pipelineId: string, result: FileResult): void {
    this.#insertResult(runId, pipelineId, result);
  }

  recordDeleted(runId: string, pipelineId: string, result: FileResult): void {
    this.#tx(() => {
      this.#stmt('DELETE FROM sync_manifest WHERE pipeline_id = ? AND point_id = ?').run(pipelineId, result.id);
      this.#insertResult(runId, pipelineId, result);
    });
  }

  finishRun(runId: string, summary: SyncSummary | null, error?: string): void {
    const status =
      summary === null ? 'failed' : summary.filesFailed > 0 ? 'partial' : 'success';
    this.#stmt(
      `UPDATE sync_runs SET finished_at = ?, status = ?, files_synced = ?, files_skipped = ?, files_failed = ?,
         files_deleted = ?, bytes_read = ?, bytes_moved = ?, error = ? WHERE run_id = ?`,
    ).run(
      new Date().toISOString(),
      status,
      summary?.filesSynced ?? 0,
      summary?.filesSkipped ?? 0,
      summary?.filesFailed ?? 0,
      summary?.filesDeleted ?? 0,
      summary?.bytesRead ?? 0,
      summary?.bytesMoved ?? 0,
      error ?? null,
      runId,
    );
  }

  fileResults(runId: string): FileResult[] {
    const rows = this.#stmt(
      `SELECT point_id, status, size, mtime_ms, bytes_read, bytes_written, duration_ms, error
         FROM sync_file_results WHERE run_id = ? ORDER BY mtime_ms, point_id`,
    ).all(runId) as {
      point_id: string;
      status: FileResult['status'];
      size: number;
      mtime_ms: number;
      bytes_read: number;
      bytes_written: number;
      duration_ms: number;
      error: string | null;
    }[];
    return rows.map((r) => ({
      id: r.point_id,
      status: r.status,
      size: Number(r.size),
      mtimeMs: Number(r.mtime_ms),
      bytesRead: Number(r.bytes_read),
      bytesWritten: Number(r.bytes_written),
      durationMs: Number(r.duration_ms),
      ...(r.error === null ? {} : { error: r.error }),
    }));
  }
}
