/** DAGs as the processor last saw them, their pause state, import errors and per-file parse results. */
import type { Sql } from '../sql.ts';
import type { DagFileRecord, DagRecord, ImportErrorRecord } from '../records.ts';

export class DagRepository {
  private readonly sql: Sql;
  /** Whether a DAG seen for the first time starts paused (Airflow's dags_are_paused_at_creation). */
  pausedAtCreation = false;

  constructor(sql: Sql) {
    this.sql = sql;
  }

  async upsert(d: Omit<DagRecord, 'is_paused'>): Promise<void> {
    await this.sql.run(
      `INSERT INTO dags (dag_id, fileloc, description, schedule, tags, task_ids, last_parsed_at, is_paused)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (dag_id) DO UPDATE SET fileloc = excluded.fileloc, description = excluded.description,
         schedule = excluded.schedule, tags = excluded.tags, task_ids = excluded.task_ids,
         last_parsed_at = excluded.last_parsed_at`,
      d.dag_id,
      d.fileloc,
      d.description,
      d.schedule,
      d.tags,
      d.task_ids,
      d.last_parsed_at,
      this.pausedAtCreation ? 1 : 0,
    );
  }

  list(): Promise<DagRecord[]> {
    return this.sql.all<DagRecord>('SELECT * FROM dags ORDER BY dag_id');
  }

  /** Pauses or unpauses a DAG; false when the store has no such DAG. */
  async setPaused(dagId: string, paused: boolean): Promise<boolean> {
    const r = await this.sql.run('UPDATE dags SET is_paused = ? WHERE dag_id = ?', paused ? 1 : 0, dagId);
    return r.changes > 0;
  }

  /** DAG id → paused. */
  async paused(): Promise<Map<string, boolean>> {
    const rows = await this.sql.all<{ dag_id: string; is_paused: number }>('SELECT dag_id, is_paused FROM dags');
    return new Map(rows.map((r) => [r.dag_id, Number(r.is_paused) === 1]));
  }

  /** Replaces the recorded import errors with the ones of the latest parse. */
  replaceImportErrors(errors: readonly ImportErrorRecord[]): Promise<void> {
    return this.sql.tx(async () => {
      await this.sql.run('DELETE FROM import_errors');
      for (const e of errors) {
        await this.sql.run('INSERT INTO import_errors (fileloc, dag_id, message, line, col, seen_at) VALUES (?, ?, ?, ?, ?, ?)', e.fileloc, e.dag_id, e.message, e.line, e.col, e.seen_at);
      }
    });
  }

  listImportErrors(): Promise<ImportErrorRecord[]> {
    return this.sql.all<ImportErrorRecord>('SELECT fileloc, dag_id, message, line, col, seen_at FROM import_errors ORDER BY fileloc, id');
  }

  listFiles(): Promise<DagFileRecord[]> {
    return this.sql.all<DagFileRecord>('SELECT * FROM dag_files ORDER BY fileloc');
  }

  /** Records the processor's results for the given files and forgets files that are gone. */
  saveFiles(files: readonly DagFileRecord[], present: readonly string[]): Promise<void> {
    return this.sql.tx(async () => {
      const keep = new Set(present);
      for (const row of await this.sql.all<{ fileloc: string }>('SELECT fileloc FROM dag_files')) {
        if (!keep.has(row.fileloc)) await this.sql.run('DELETE FROM dag_files WHERE fileloc = ?', row.fileloc);
      }
      for (const f of files) {
        await this.sql.run(
          `INSERT INTO dag_files (fileloc, content_hash, inputs, parser_version, bundle_path, bundle_hash, dags, errors, budget_failure, compile_ms, import_ms, total_ms, parsed_at, warnings)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (fileloc) DO UPDATE SET content_hash = excluded.content_hash, inputs = excluded.inputs,
             parser_version = excluded.parser_version, bundle_path = excluded.bundle_path, bundle_hash = excluded.bundle_hash,
             dags = excluded.dags, errors = excluded.errors, budget_failure = excluded.budget_failure,
             compile_ms = excluded.compile_ms, import_ms = excluded.import_ms, total_ms = excluded.total_ms, parsed_at = excluded.parsed_at,
             warnings = excluded.warnings`,
          f.fileloc,
          f.content_hash,
          f.inputs,
          f.parser_version,
          f.bundle_path,
          f.bundle_hash,
          f.dags,
          f.errors,
          f.budget_failure,
          f.compile_ms,
          f.import_ms,
          f.total_ms,
          f.parsed_at,
          f.warnings ?? '[]',
        );
      }
    });
  }
}
