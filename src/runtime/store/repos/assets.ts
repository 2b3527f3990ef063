/**
 * Assets (data-aware scheduling): the assets DAG files declare, the events producing tasks
 * record, which DAGs are scheduled on which assets, and each consuming DAG's queue of pending
 * events. After Airflow's airflow/assets/manager.py (register_asset_change, _queue_dagruns)
 * and the scheduler's _create_dag_runs_asset_triggered (airflow/jobs/scheduler_job_runner.py).
 */
import type { Sql, SqlValue } from '../sql.ts';
import type { NewRun } from './runs.ts';

export interface AssetRecord {
  uri: string;
  created_at: string;
}

export interface AssetEventRecord {
  id: number;
  uri: string;
  source_dag_id: string | null;
  source_run_id: string | null;
  source_task_id: string | null;
  source_map_index: number | null;
  timestamp: string;
  /** JSON object. */
  extra: string;
}

export interface AssetEventSource {
  readonly dagId: string;
  readonly runId: string;
  readonly taskId: string;
  readonly mapIndex: number;
}

/** One DAG's queued events (Airflow's AssetDagRunQueue rows): URI → the newest event's time. */
export interface QueuedAssets {
  readonly dagId: string;
  readonly uris: ReadonlyMap<string, string>;
}

export class AssetRepository {
  private readonly sql: Sql;

  constructor(sql: Sql) {
    this.sql = sql;
  }

  /**
   * Records what the DAG files declare: every asset (first seen now), and for each DAG the
   * assets it is scheduled on (Airflow's DagScheduleAssetReference), replacing what it had.
   */
  async syncDeclared(
    assets: Iterable<string>,
    scheduledOn: ReadonlyMap<string, readonly string[]>,
    at: string,
  ): Promise<void> {
    for (const uri of new Set(assets)) {
      await this.sql.run(
        'INSERT INTO assets (uri, created_at) VALUES (?, ?) ON CONFLICT (uri) DO NOTHING',
        uri,
        at,
      );
    }
    for (const [dagId, uris] of scheduledOn) {
      const have = (
        await this.sql.all<{ uri: string }>('SELECT uri FROM dag_schedule_assets WHERE dag_id = ?', dagId)
      ).map((r) => r.uri);
      for (const uri of have)
        if (!uris.includes(uri))
          await this.sql.run('DELETE FROM dag_schedule_assets WHERE dag_id = ? AND uri = ?', dagId, uri);
      for (const uri of uris)
        if (!have.includes(uri))
          await this.sql.run(
            'INSERT INTO dag_schedule_assets (dag_id, uri) VALUES (?, ?) ON CONFLICT (dag_id, uri) DO NOTHING',
            dagId,
            uri,
          );
    }
  }

  /**
   * Records an asset event for each URI a task updated (Airflow's register_asset_change) and
   * queues it for every DAG scheduled on that asset (_queue_dagruns). Meant to run inside the
   * transaction that records the task's success. The queue row keeps the newest event's time
   * (Airflow's ON CONFLICT … DO UPDATE of created_at). `extra`: by URI, each event's extra.
   */
  async recordEvents(
    uris: readonly string[],
    source: AssetEventSource | null,
    timestamp: string,
    extra: Readonly<Record<string, Record<string, unknown>>> = {},
  ): Promise<void> {
    for (const uri of uris) {
      await this.sql.run(
        'INSERT INTO assets (uri, created_at) VALUES (?, ?) ON CONFLICT (uri) DO NOTHING',
        uri,
        timestamp,
      );
      await this.sql.run(
        'INSERT INTO asset_events (uri, source_dag_id, source_run_id, source_task_id, source_map_index, timestamp, extra) VALUES (?, ?, ?, ?, ?, ?, ?)',
        uri,
        source?.dagId ?? null,
        source?.runId ?? null,
        source?.taskId ?? null,
        source?.mapIndex ?? null,
        timestamp,
        JSON.stringify(extra[uri] ?? {}),
      );
      await this.sql.run(
        `INSERT INTO asset_dag_run_queue (uri, target_dag_id, created_at)
         SELECT uri, dag_id, ? FROM dag_schedule_assets WHERE uri = ?
         ON CONFLICT (uri, target_dag_id) DO UPDATE SET created_at = CASE WHEN excluded.created_at > asset_dag_run_queue.created_at THEN excluded.created_at ELSE asset_dag_run_queue.created_at END`,
        timestamp,
        uri,
      );
    }
  }

  /** The DAGs that have queued events, with them (one read per scheduler turn). */
  async queued(): Promise<QueuedAssets[]> {
    const rows = await this.sql.all<{ target_dag_id: string; uri: string; created_at: string }>(
      'SELECT target_dag_id, uri, created_at FROM asset_dag_run_queue ORDER BY target_dag_id, uri',
    );
    const by = new Map<string, Map<string, string>>();
    for (const r of rows) {
      let m = by.get(r.target_dag_id);
      if (!m) by.set(r.target_dag_id, (m = new Map()));
      m.set(r.uri, r.created_at);
    }
    return [...by].map(([dagId, uris]) => ({ dagId, uris }));
  }

  /**
   * Creates a DAG's asset-triggered run from its queue, once, even with several schedulers on
   * one store: in one transaction, the DAG's queue rows are read under a row lock (PostgreSQL:
   * FOR UPDATE, so a second scheduler waits and then finds them gone; SQLite has one writer),
   * `decide` says from them whether the condition holds and what run to create, the run is a
   * guarded insert, and the rows it consumed are deleted (only those read: an event queued
   * meanwhile stays for the next run). Returns the run created, or undefined.
   */
  async createTriggeredRun(
    dagId: string,
    decide: (
      queued: ReadonlyMap<string, string>,
    ) => Promise<{ run: NewRun; tasks: (runId: string) => Promise<void> } | undefined>,
    insertRun: (run: NewRun) => Promise<boolean>,
  ): Promise<NewRun | undefined> {
    return this.sql.tx(async () => {
      const lock = this.sql.dialect === 'postgres' ? ' FOR UPDATE' : '';
      const rows = await this.sql.all<{ uri: string; created_at: string }>(
        `SELECT uri, created_at FROM asset_dag_run_queue WHERE target_dag_id = ?${lock}`,
        dagId,
      );
      if (rows.length === 0) return undefined;
      const decision = await decide(new Map(rows.map((r) => [r.uri, r.created_at])));
      if (!decision) return undefined;
      if (!(await insertRun(decision.run))) return undefined;
      await decision.tasks(decision.run.run_id);
      for (const r of rows) {
        await this.sql.run(
          'DELETE FROM asset_dag_run_queue WHERE target_dag_id = ? AND uri = ? AND created_at = ?',
          dagId,
          r.uri,
          r.created_at,
        );
      }
      return decision.run;
    });
  }

  /**
   * The events an asset-triggered run consumes (Airflow's triggering_asset_events): those of
   * the DAG's assets later than its previous asset-triggered run's logical date and no later
   * than this run's (the window _create_dag_runs_asset_triggered selects), oldest first.
   */
  async eventsBetween(
    uris: readonly string[],
    after: string | undefined,
    upTo: string,
  ): Promise<AssetEventRecord[]> {
    if (uris.length === 0) return [];
    const args: SqlValue[] = [...uris, upTo];
    if (after !== undefined) args.push(after);
    return this.sql.all<AssetEventRecord>(
      `SELECT * FROM asset_events WHERE uri IN (${uris.map(() => '?').join(', ')}) AND timestamp <= ?${after !== undefined ? ' AND timestamp > ?' : ''} ORDER BY timestamp, id`,
      ...args,
    );
  }

  /** The newest logical date of a DAG's asset-triggered runs (undefined: none). */
  async lastTriggered(dagId: string): Promise<string | undefined> {
    const row = await this.sql.get<{ d: string | null }>(
      "SELECT MAX(logical_date) AS d FROM dag_runs WHERE dag_id = ? AND run_type = 'asset_triggered'",
      dagId,
    );
    return row?.d ?? undefined;
  }

  /** The logical date of a DAG's asset-triggered run before `logicalDate` (undefined: none). */
  async previousTriggered(dagId: string, logicalDate: string): Promise<string | undefined> {
    const row = await this.sql.get<{ d: string | null }>(
      "SELECT MAX(logical_date) AS d FROM dag_runs WHERE dag_id = ? AND run_type = 'asset_triggered' AND logical_date < ?",
      dagId,
      logicalDate,
    );
    return row?.d ?? undefined;
  }

  /** Every asset with its event count and newest event (`hangar assets list`). */
  list(): Promise<(AssetRecord & { events: number; last_event_at: string | null })[]> {
    return this.sql.all(
      `SELECT a.uri, a.created_at, COUNT(e.id) AS events, MAX(e.timestamp) AS last_event_at
       FROM assets a LEFT JOIN asset_events e ON e.uri = a.uri GROUP BY a.uri, a.created_at ORDER BY a.uri`,
    );
  }

  /** Events, newest first (`hangar assets events [--uri U]`). */
  events(filter: { uri?: string; limit?: number } = {}): Promise<AssetEventRecord[]> {
    const where = filter.uri !== undefined ? 'WHERE uri = ?' : '';
    const args: SqlValue[] = filter.uri !== undefined ? [filter.uri] : [];
    return this.sql.all<AssetEventRecord>(
      `SELECT * FROM asset_events ${where} ORDER BY timestamp DESC, id DESC LIMIT ?`,
      ...args,
      filter.limit ?? 100,
    );
  }

  /** DAG id → the URIs of its queued events (what `hangar assets list` shows as pending). */
  async queuedByDag(): Promise<Map<string, string[]>> {
    return new Map((await this.queued()).map((q) => [q.dagId, [...q.uris.keys()]]));
  }
}
