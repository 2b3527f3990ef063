/**
 * The sync pipelines' state (tables of store/sync-schema.ts): each pipeline's cursor and
 * manifest, its runs and their per-file results.
 *
 * The cursor's guarantee — never ahead of a file the destination committed and
 * this store recorded — rests on `recordCommittedBatch`: the manifest rows, the
 * results and the new cursor are one transaction (statements only; the caller
 * transfers files outside it), and the cursor never moves backwards.
 */
import { SyncError } from '../../sync/errors.ts';
import { compareCursor } from '../../sync/types.ts';
import type { Cursor, FileResult, PointInfo, SyncSummary } from '../../sync/types.ts';
import type { Sql } from '../sql.ts';

export interface ManifestEntry {
  size: number;
  mtimeMs: number;
}

export type SyncRunStatus = 'running' | 'success' | 'partial' | 'failed';

export interface SyncRunRecord {
  runId: string;
  pipelineId: string;
  startedAt: string;
  finishedAt: string | null;
  status: SyncRunStatus;
  mode: 'cursor' | 'manifest';
  filesSynced: number;
  filesSkipped: number;
  filesFailed: number;
  filesDeleted: number;
  bytesRead: number;
  bytesMoved: number;
  error: string | null;
}

export class SyncRepository {
  private readonly sql: Sql;

  constructor(sql: Sql) {
    this.sql = sql;
  }

  async getCursor(pipelineId: string): Promise<Cursor | null> {
    const row = await this.sql.get<{ mtime_ms: number; point_id: string }>(
      'SELECT mtime_ms, point_id FROM sync_cursors WHERE pipeline_id = ?',
      pipelineId,
    );
    return row === undefined ? null : { mtimeMs: Number(row.mtime_ms), id: row.point_id };
  }

  /** Moves the cursor forward; refuses (SyncError) to move it backwards. */
  advanceCursor(pipelineId: string, cursor: Cursor): Promise<void> {
    return this.sql.tx(async () => {
      const current = await this.getCursor(pipelineId);
      if (current !== null && compareCursor(cursor, current) < 0) {
        throw new SyncError(
          `refusing to move the cursor of pipeline "${pipelineId}" backwards from (${current.mtimeMs}, ${current.id}) to (${cursor.mtimeMs}, ${cursor.id})`,
        );
      }
      await this.sql.run(
        `INSERT INTO sync_cursors (pipeline_id, mtime_ms, point_id, updated_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (pipeline_id) DO UPDATE SET mtime_ms = excluded.mtime_ms, point_id = excluded.point_id, updated_at = excluded.updated_at`,
        pipelineId,
        cursor.mtimeMs,
        cursor.id,
        new Date().toISOString(),
      );
    });
  }

  /** Forgets the cursor and manifest of a pipeline (a full re-sync next run). */
  reset(pipelineId: string): Promise<void> {
    return this.sql.tx(async () => {
      await this.sql.run('DELETE FROM sync_cursors WHERE pipeline_id = ?', pipelineId);
      await this.sql.run('DELETE FROM sync_manifest WHERE pipeline_id = ?', pipelineId);
    });
  }

  async getManifest(pipelineId: string): Promise<Map<string, ManifestEntry>> {
    const rows = await this.sql.all<{ point_id: string; size: number; mtime_ms: number }>(
      'SELECT point_id, size, mtime_ms FROM sync_manifest WHERE pipeline_id = ?',
      pipelineId,
    );
    const out = new Map<string, ManifestEntry>();
    for (const r of rows) out.set(r.point_id, { size: Number(r.size), mtimeMs: Number(r.mtime_ms) });
    return out;
  }

  async beginRun(runId: string, pipelineId: string, mode: 'cursor' | 'manifest'): Promise<void> {
    await this.sql.run(
      "INSERT INTO sync_runs (run_id, pipeline_id, started_at, status, mode) VALUES (?, ?, ?, 'running', ?)",
      runId,
      pipelineId,
      new Date().toISOString(),
      mode,
    );
  }

  async finishRun(runId: string, status: SyncRunStatus, summary: SyncSummary | null, error: string | null): Promise<void> {
    await this.sql.run(
      `UPDATE sync_runs SET finished_at = ?, status = ?, files_synced = ?, files_skipped = ?, files_failed = ?,
         files_deleted = ?, bytes_read = ?, bytes_moved = ?, error = ? WHERE run_id = ?`,
      new Date().toISOString(),
      status,
      summary?.filesSynced ?? 0,
      summary?.filesSkipped ?? 0,
      summary?.filesFailed ?? 0,
      summary?.filesDeleted ?? 0,
      summary?.bytesRead ?? 0,
      summary?.bytesMoved ?? 0,
      error,
      runId,
    );
  }

  /** A file's result in a run (a later result of the same file in the same run replaces it). */
  async recordResult(runId: string, pipelineId: string, r: FileResult, now: string = new Date().toISOString()): Promise<void> {
    await this.sql.run(
      `INSERT INTO sync_file_results
        (run_id, pipeline_id, point_id, status, size, mtime_ms, bytes_read, bytes_written, duration_ms, error, recorded_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (run_id, point_id) DO UPDATE SET pipeline_id = excluded.pipeline_id, status = excluded.status,
         size = excluded.size, mtime_ms = excluded.mtime_ms, bytes_read = excluded.bytes_read,
         bytes_written = excluded.bytes_written, duration_ms = excluded.duration_ms, error = excluded.error,
         recorded_at = excluded.recorded_at`,
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
   * Records a batch of data points the destination committed — manifest rows,
   * results and (when given) the new cursor — in one transaction: all or none.
   */
  recordCommittedBatch(
    runId: string,
    pipelineId: string,
    entries: readonly { point: PointInfo; result: FileResult }[],
    cursor: Cursor | null,
  ): Promise<void> {
    const now = new Date().toISOString();
    return this.sql.tx(async () => {
      if (cursor !== null) await this.advanceCursor(pipelineId, cursor);
      for (const { point, result } of entries) {
        await this.sql.run(
          `INSERT INTO sync_manifest (pipeline_id, point_id, size, mtime_ms, synced_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (pipeline_id, point_id) DO UPDATE SET size = excluded.size, mtime_ms = excluded.mtime_ms, synced_at = excluded.synced_at`,
          pipelineId,
          point.id,
          point.size,
          point.mtimeMs,
          now,
        );
        await this.recordResult(runId, pipelineId, result, now);
      }
    });
  }

  /** A file deleted at the destination: out of the manifest, with its result (one transaction). */
  recordDeleted(runId: string, pipelineId: string, result: FileResult): Promise<void> {
    return this.sql.tx(async () => {
      await this.sql.run('DELETE FROM sync_manifest WHERE pipeline_id = ? AND point_id = ?', pipelineId, result.id);
      await this.recordResult(runId, pipelineId, result);
    });
  }

  /** A pipeline's runs, oldest first. */
  async listRuns(pipelineId: string): Promise<SyncRunRecord[]> {
    const rows = await this.sql.all<Record<string, unknown>>(
      'SELECT * FROM sync_runs WHERE pipeline_id = ? ORDER BY started_at, run_id',
      pipelineId,
    );
    return rows.map((r) => ({
      runId: r['run_id'] as string,
      pipelineId: r['pipeline_id'] as string,
      startedAt: r['started_at'] as string,
      finishedAt: (r['finished_at'] ?? null) as string | null,
      status: r['status'] as SyncRunStatus,
      mode: r['mode'] as 'cursor' | 'manifest',
      filesSynced: Number(r['files_synced']),
      filesSkipped: Number(r['files_skipped']),
      filesFailed: Number(r['files_failed']),
      filesDeleted: Number(r['files_deleted']),
      bytesRead: Number(r['bytes_read']),
      bytesMoved: Number(r['bytes_moved']),
      error: (r['error'] ?? null) as string | null,
    }));
  }

  async fileResults(runId: string): Promise<FileResult[]> {
    const rows = await this.sql.all<{
      point_id: string;
      status: FileResult['status'];
      size: number;
      mtime_ms: number;
      bytes_read: number;
      bytes_written: number;
      duration_ms: number;
      error: string | null;
    }>(
      `SELECT point_id, status, size, mtime_ms, bytes_read, bytes_written, duration_ms, error
         FROM sync_file_results WHERE run_id = ? ORDER BY mtime_ms, point_id`,
      runId,
    );
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
