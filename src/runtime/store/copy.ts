/**
 * `hangar db copy`: moves a SQLite store's history into a PostgreSQL store, idempotently.
 *
 * What is copied: DAGs (with their pause state), runs, task instances and every try (with
 * its log's location), XCom rows and pulls (a value kept in a file or in S3 stays where it
 * is: the row that points at it is copied), XCom key state, sensor history (instances,
 * pokes, breakers, SLA anchors and misses), sync state (runs, per-file results, manifests,
 * cursors), variables, and assets (their events, the DAGs scheduled on them and the queue
 * of pending events). What is not: the DAG processor's parse cache and import errors
 * (`dag_files`, `import_errors`), which the next parse writes again.
 *
 * Idempotent and restartable: rows are read from one snapshot of the SQLite file (a read
 * transaction, which does not block its writers in WAL mode), in insertion order, and
 * written in batches, one PostgreSQL transaction each; a row whose key the target already
 * holds is left as it is there (`ON CONFLICT … DO NOTHING`), so running the copy again
 * after an interruption adds what is missing and changes nothing else, and a target that a
 * team already uses keeps its own rows. Tables without a key (sensor pokes, XCom pulls)
 * are matched on all of their columns but the generated id. Identity columns (a run's or
 * a poke's `id`, `row_seq`) are given by the target.
 */
import type { SqlValue } from './sql.ts';
import { SqliteDriver } from './sql.ts';
import type { Store } from './store.ts';

interface TableCopy {
  readonly table: string;
  /** The key that identifies a row across stores; absent: all copied columns. */
  readonly key?: readonly string[];
  /** Columns the target generates. */
  readonly generated?: readonly string[];
  /** Instead of DO NOTHING on a key conflict (a counter that must never go down). */
  readonly onConflict?: `DO UPDATE SET ${string}`;
}

/**
 * In an order that respects the one foreign key (sync_file_results → sync_runs). Not copied:
 * `workers`, `try_dispatch` and `callback_dispatch` (distributed execution's live state, not
 * history: a try's record is in task_tries), the DAG processor's `dag_files` and `import_errors` (parsed
 * again from the files), and `schema_migrations`.
 */
export const COPIED_TABLES: readonly TableCopy[] = [
  { table: 'dags', key: ['dag_id'] },
  { table: 'variables', key: ['key'] },
  { table: 'dag_runs', key: ['dag_id', 'run_id'], generated: ['id'] },
  { table: 'task_instances', key: ['dag_id', 'run_id', 'task_id', 'map_index'] },
  { table: 'task_tries', key: ['dag_id', 'run_id', 'task_id', 'map_index', 'try_number'] },
  { table: 'xcom', key: ['dag_id', 'run_id', 'task_id', 'map_index', 'key'] },
  { table: 'xcom_pulls' },
  { table: 'xcom_keys', key: ['key_id'] },
  // Encryptions counted under a key bound its nonces: the target keeps the larger count.
  {
    table: 'xcom_key_usage',
    key: ['key_id'],
    onConflict: 'DO UPDATE SET encryptions = GREATEST(xcom_key_usage.encryptions, EXCLUDED.encryptions)',
  },
  { table: 'xcom_key_rotation', key: ['target_key_id'] },
  { table: 'sensor_instances', key: ['dag_id', 'run_id', 'task_id', 'map_index'] },
  { table: 'sensor_pokes', generated: ['id'] },
  { table: 'sensor_breakers', key: ['dag_id', 'task_id'] },
  { table: 'sensor_sla_anchors', key: ['dag_id', 'run_id'] },
  { table: 'sensor_sla_misses', key: ['dag_id', 'run_id', 'task_id', 'level'] },
  { table: 'sync_runs', key: ['run_id'] },
  { table: 'sync_file_results', key: ['run_id', 'point_id'] },
  { table: 'sync_manifest', key: ['pipeline_id', 'point_id'] },
  { table: 'sync_cursors', key: ['pipeline_id'] },
  { table: 'assets', key: ['uri'] },
  // Events have no natural key: a row is there when one with the same values is.
  { table: 'asset_events', generated: ['id'] },
  { table: 'dag_schedule_assets', key: ['dag_id', 'uri'] },
  { table: 'asset_dag_run_queue', key: ['uri', 'target_dag_id'] },
];

export interface TableCopied {
  readonly table: string;
  /** Rows in the source. */
  readonly read: number;
  /** Rows this copy added to the target. */
  readonly copied: number;
  /** Rows the target held already (an earlier copy, or its own). */
  readonly present: number;
}

export interface CopyOptions {
  /** Rows per target transaction (default 500). */
  readonly batch?: number;
  /** Called after each table. */
  readonly onTable?: (t: TableCopied) => void;
}

/**
 * Copies `source` (SQLite) into `target` (PostgreSQL); both opened with Store.open, so at
 * this Hangar's schema version.
 */
export async function copyStore(
  source: Store,
  target: Store,
  options: CopyOptions = {},
): Promise<TableCopied[]> {
  if (!(source.sql instanceof SqliteDriver))
    throw new Error(`hangar db copy reads a SQLite store; ${source.location} is PostgreSQL`);
  if (target.sql.dialect !== 'postgres')
    throw new Error(`hangar db copy writes into a PostgreSQL store; ${target.location} is SQLite`);
  const batch = options.batch ?? 500;
  const db = source.sql.db;
  const out: TableCopied[] = [];
  db.exec('BEGIN'); // a deferred read transaction: one snapshot of every table
  try {
    for (const spec of COPIED_TABLES) {
      const done = await copyTable(source, target, spec, batch);
      out.push(done);
      options.onTable?.(done);
    }
  } finally {
    if (db.isTransaction) db.exec('COMMIT');
  }
  return out;
}

async function copyTable(source: Store, target: Store, spec: TableCopy, batch: number): Promise<TableCopied> {
  const targetTypes = new Map(
    (
      await target.sql.all<{ column_name: string; data_type: string }>(
        'SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = ?',
        spec.table,
      )
    ).map((c) => [c.column_name, c.data_type]),
  );
  const sourceColumns = (
    await source.sql.all<{ name: string }>(`SELECT name FROM pragma_table_info('${spec.table}')`)
  ).map((c) => c.name);
  const missing = sourceColumns.filter((c) => !targetTypes.has(c));
  if (missing.length)
    throw new Error(
      `The PostgreSQL store's table ${spec.table} lacks column(s) ${missing.join(', ')} of the SQLite store: are both at the same schema version?`,
    );
  const columns = sourceColumns.filter((c) => !spec.generated?.includes(c));
  const list = columns.map(quote).join(', ');
  let read = 0;
  let copied = 0;
  let after = 0;
  for (;;) {
    const rows = await source.sql.all<Record<string, SqlValue>>(
      `SELECT rowid AS hangar_copy_rowid, ${list} FROM ${spec.table} WHERE rowid > ? ORDER BY rowid LIMIT ?`,
      after,
      batch,
    );
    if (rows.length === 0) break;
    after = Number(rows[rows.length - 1]!.hangar_copy_rowid);
    read += rows.length;
    copied += await target.sql.tx(async () => {
      if (spec.key) {
        const values = rows.map(() => `(${columns.map(() => '?').join(', ')})`).join(', ');
        const params = rows.flatMap((row) => columns.map((c) => row[c] ?? null));
        const head = `INSERT INTO ${spec.table} (${list}) VALUES ${values} ON CONFLICT (${spec.key.map(quote).join(', ')})`;
        if (!spec.onConflict) return (await target.sql.run(`${head} DO NOTHING`, ...params)).changes;
        // An update on conflict: xmax = 0 tells the rows inserted from the rows updated.
        const r = await target.sql.all<{ inserted: boolean }>(
          `${head} ${spec.onConflict} RETURNING (xmax = 0) AS inserted`,
          ...params,
        );
        return r.filter((x) => x.inserted).length;
      }
      // No key: a row is there when one with the same values is.
      const cast = columns.map((c) => `CAST(? AS ${targetTypes.get(c)})`);
      const same = columns.map((c, i) => `${quote(c)} IS NOT DISTINCT FROM ${cast[i]}`).join(' AND ');
      const text = `INSERT INTO ${spec.table} (${list}) SELECT ${cast.join(', ')} WHERE NOT EXISTS (SELECT 1 FROM ${spec.table} WHERE ${same})`;
      let n = 0;
      for (const row of rows) {
        const values = columns.map((c) => row[c] ?? null);
        n += (await target.sql.run(text, ...values, ...values)).changes;
      }
      return n;
    });
  }
  return { table: spec.table, read, copied, present: read - copied };
}

const quote = (c: string) => `"${c.replace(/"/g, '""')}"`;
