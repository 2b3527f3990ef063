/**
 * XComs in the metadata store: the `xcom` rows (metadata and envelope) and the
 * `xcom_pulls` lineage records. Every statement about them lives here; the XCom
 * layer (src/runtime/xcom/), the task API, the CLI and the XCom browser ask
 * through this repository.
 *
 * A push is one upsert and a pull one insert, each committed on its own (no
 * transaction around a single statement): on SQLite they cost what a direct
 * prepared statement costs.
 */
import type { Sql, SqlValue } from '../sql.ts';
import { ROW_ORDER } from '../sql.ts';
import type { XComRecord } from '../records.ts';

/** Which XComs: every field narrows; `keyPrefix` is literal (no wildcards). */
export interface XComFilter {
  readonly dagId?: string;
  readonly runId?: string;
  readonly taskId?: string;
  readonly mapIndex?: number;
  readonly key?: string;
  readonly keyPrefix?: string;
  /** Only XComs created before this ISO-8601 time. */
  readonly createdBefore?: string;
}

/** Where one XCom is: its primary key. */
export interface XComKey {
  readonly dag_id: string;
  readonly run_id: string;
  readonly task_id: string;
  readonly map_index: number;
  readonly key: string;
}

/** An XCom row without its value (what lists and the browser show). */
export type XComMeta = Omit<XComRecord, 'value'>;

/** A row with its position in insertion order (maintenance pages by it). */
export type XComRowInOrder = XComRecord & { seq: number };

/** The first bytes of a row's value (an envelope's header), for finding the objects it refers to. */
export type XComHead = XComKey & { head: Uint8Array };

/** A task instance that pulled an XCom, and when it first did. */
export interface XComPull {
  readonly taskId: string;
  readonly mapIndex: number;
  readonly at: string;
}

const META = 'dag_id, run_id, task_id, map_index, key, chain, size_original, size_stored, sensitive, created_at';
const BY_KEY = 'dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ? AND key = ?';
/** Encrypted rows: their chain (a JSON array of codec names) names AES-GCM. No wildcard in the pattern but the ends. */
const ENCRYPTED = `chain LIKE '%"aes-256-gcm"%'`;

function where(f: XComFilter): { sql: string; args: SqlValue[] } {
  const parts: string[] = [];
  const args: SqlValue[] = [];
  const add = (col: string, v: SqlValue | undefined) => {
    if (v === undefined) return;
    parts.push(`${col} = ?`);
    args.push(v);
  };
  add('dag_id', f.dagId);
  add('run_id', f.runId);
  add('task_id', f.taskId);
  add('map_index', f.mapIndex);
  add('key', f.key);
  if (f.keyPrefix !== undefined) {
    // substr instead of LIKE, so '_' and '%' in a prefix are literal.
    parts.push('substr(key, 1, ?) = ?');
    args.push(f.keyPrefix.length, f.keyPrefix);
  }
  if (f.createdBefore !== undefined) {
    // ISO-8601 with Z: sorts as text.
    parts.push('created_at < ?');
    args.push(f.createdBefore);
  }
  return { sql: parts.length ? `WHERE ${parts.join(' AND ')}` : '', args };
}

const keyArgs = (k: XComKey): SqlValue[] => [k.dag_id, k.run_id, k.task_id, k.map_index, k.key];
const num = (v: unknown): number => Number(v);

export class XComRepository {
  private readonly sql: Sql;

  constructor(sql: Sql) {
    this.sql = sql;
  }

  // ---- what tasks do: push, pull, list ----------------------------------------

  /** Writes an XCom, replacing the one at the same place. */
  async put(x: XComRecord): Promise<void> {
    await this.sql.run(
      `INSERT INTO xcom (dag_id, run_id, task_id, map_index, key, value, chain, size_original, size_stored, sensitive, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (dag_id, run_id, task_id, map_index, key) DO UPDATE SET value = excluded.value, chain = excluded.chain,
         size_original = excluded.size_original, size_stored = excluded.size_stored, sensitive = excluded.sensitive,
         created_at = excluded.created_at`,
      x.dag_id,
      x.run_id,
      x.task_id,
      x.map_index,
      x.key,
      x.value,
      x.chain,
      x.size_original,
      x.size_stored,
      x.sensitive,
      x.created_at,
    );
  }

  async get(dagId: string, runId: string, taskId: string, key: string, mapIndex = -1): Promise<XComRecord | undefined> {
    return this.sql.get<XComRecord>(`SELECT * FROM xcom WHERE ${BY_KEY}`, dagId, runId, taskId, mapIndex, key);
  }

  /** XComs with their values, by run, task, map index and key. */
  async list(filter: XComFilter & { readonly dagId: string }): Promise<XComRecord[]> {
    const w = where(filter);
    return this.sql.all<XComRecord>(`SELECT * FROM xcom ${w.sql} ORDER BY run_id, task_id, map_index, key`, ...w.args);
  }

  /** Deletes the XComs the filter selects (one transaction) and returns them, values included (for their files). */
  async delete(filter: XComFilter & { readonly dagId: string; readonly runId: string }): Promise<XComRecord[]> {
    return this.sql.tx(async () => {
      const rows = await this.list(filter);
      for (const r of rows) await this.sql.run(`DELETE FROM xcom WHERE ${BY_KEY}`, ...keyArgs(r));
      return rows;
    });
  }

  /** Records that a task instance pulled an XCom (lineage). */
  async recordPull(x: XComKey, by: { task_id: string; map_index: number }, at: string = new Date().toISOString()): Promise<void> {
    await this.sql.run(
      `INSERT INTO xcom_pulls (dag_id, run_id, task_id, map_index, key, pulled_by_task_id, pulled_by_map_index, pulled_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
      ...keyArgs(x),
      by.task_id,
      by.map_index,
      at,
    );
  }

  /** Who pulled an XCom: each task instance once, at its first pull, earliest first. */
  async pulls(x: XComKey): Promise<XComPull[]> {
    const rows = await this.sql.all<{ t: string; m: number; at: string }>(
      `SELECT pulled_by_task_id AS t, pulled_by_map_index AS m, MIN(pulled_at) AS at FROM xcom_pulls
       WHERE ${BY_KEY}
       GROUP BY pulled_by_task_id, pulled_by_map_index ORDER BY at, t, m`,
      ...keyArgs(x),
    );
    return rows.map((r) => ({ taskId: r.t, mapIndex: num(r.m), at: r.at }));
  }

  // ---- metadata: lists, the browser --------------------------------------------

  /** Metadata (no values) of the XComs the filter selects, by DAG, run, task, map index and key; a page when limit is given. */
  async listMeta(filter: XComFilter, page?: { limit: number; offset?: number }): Promise<XComMeta[]> {
    const w = where(filter);
    const rows = await this.sql.all<XComMeta>(
      `SELECT ${META} FROM xcom ${w.sql} ORDER BY dag_id, run_id, task_id, map_index, key${page ? ' LIMIT ? OFFSET ?' : ''}`,
      ...w.args,
      ...(page ? [page.limit, page.offset ?? 0] : []),
    );
    return rows;
  }

  async getMeta(x: XComKey): Promise<XComMeta | undefined> {
    return this.sql.get<XComMeta>(`SELECT ${META} FROM xcom WHERE ${BY_KEY}`, ...keyArgs(x));
  }

  async count(filter: XComFilter = {}): Promise<number> {
    const w = where(filter);
    const row = await this.sql.get<{ n: number }>(`SELECT COUNT(*) AS n FROM xcom ${w.sql}`, ...w.args);
    return num(row?.n ?? 0);
  }

  /** The DAG ids (up to 1000), a DAG's run ids (newest first, up to 500) or a run's task ids (up to 1000) that have XComs. */
  async dagIds(): Promise<string[]> {
    return (await this.sql.all<{ v: string }>('SELECT DISTINCT dag_id AS v FROM xcom ORDER BY v LIMIT 1000')).map((r) => r.v);
  }

  async runIds(dagId: string): Promise<string[]> {
    return (await this.sql.all<{ v: string }>('SELECT DISTINCT run_id AS v FROM xcom WHERE dag_id = ? ORDER BY v DESC LIMIT 500', dagId)).map((r) => r.v);
  }

  async taskIds(dagId: string, runId: string): Promise<string[]> {
    return (await this.sql.all<{ v: string }>('SELECT DISTINCT task_id AS v FROM xcom WHERE dag_id = ? AND run_id = ? ORDER BY v LIMIT 1000', dagId, runId)).map((r) => r.v);
  }

  // ---- maintenance ---------------------------------------------------------------

  /** Deletes rows and their lineage records in one transaction; returns how many rows went. */
  async deleteWithPulls(rows: readonly XComKey[]): Promise<number> {
    return this.sql.tx(async () => {
      let n = 0;
      for (const r of rows) {
        n += (await this.sql.run(`DELETE FROM xcom WHERE ${BY_KEY}`, ...keyArgs(r))).changes;
        await this.sql.run(`DELETE FROM xcom_pulls WHERE ${BY_KEY}`, ...keyArgs(r));
      }
      return n;
    });
  }

  /** Encrypted rows after position `afterSeq` in insertion order, `limit` of them (key rotation pages through them). */
  async encryptedAfter(afterSeq: number, limit: number): Promise<XComRowInOrder[]> {
    const seq = ROW_ORDER[this.sql.dialect];
    const rows = await this.sql.all<XComRowInOrder>(
      `SELECT ${seq} AS seq, * FROM xcom WHERE ${seq} > ? AND ${ENCRYPTED} ORDER BY ${seq} LIMIT ?`,
      afterSeq,
      limit,
    );
    for (const r of rows) r.seq = num(r.seq);
    return rows;
  }

  async countEncrypted(): Promise<number> {
    const row = await this.sql.get<{ n: number }>(`SELECT COUNT(*) AS n FROM xcom WHERE ${ENCRYPTED}`);
    return num(row?.n ?? 0);
  }

  /**
   * Replaces a row's value only if it still holds `expected` (compare-and-swap: a push in
   * between wins); false when the row changed or is gone.
   */
  async replaceValue(x: XComKey, expected: Uint8Array, value: Uint8Array, sizeStored: number): Promise<boolean> {
    const r = await this.sql.run(`UPDATE xcom SET value = ?, size_stored = ? WHERE ${BY_KEY} AND value = ?`, value, sizeStored, ...keyArgs(x), expected);
    return r.changes === 1;
  }

  /** Every row's first `bytes` bytes of value (envelope headers, for the orphan sweep). */
  async heads(bytes: number): Promise<XComHead[]> {
    return this.sql.all<XComHead>('SELECT dag_id, run_id, task_id, map_index, key, substr(value, 1, ?) AS head FROM xcom', bytes);
  }

  /** One row's whole value. */
  async value(x: XComKey): Promise<Uint8Array | undefined> {
    return (await this.sql.get<{ value: Uint8Array }>(`SELECT value FROM xcom WHERE ${BY_KEY}`, ...keyArgs(x)))?.value;
  }
}
