/** Variables (Airflow's Variable): key → text, with a description. */
import type { Sql } from '../sql.ts';
import { nowIso } from '../clock.ts';

export interface VariableRow {
  readonly key: string;
  readonly val: string;
  readonly description: string | null;
}

export class VariableRepository {
  private readonly sql: Sql;

  constructor(sql: Sql) {
    this.sql = sql;
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.sql.get<{ val: string }>('SELECT val FROM variables WHERE key = ?', key))?.val;
  }

  async set(key: string, value: string, description: string | null): Promise<void> {
    await this.sql.run(
      `INSERT INTO variables (key, val, description, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET val = excluded.val, description = COALESCE(excluded.description, variables.description), updated_at = excluded.updated_at`,
      key,
      value,
      description,
      nowIso(),
    );
  }

  /** Sets several in one transaction: all or nothing. */
  setMany(entries: readonly (readonly [string, string])[]): Promise<void> {
    return this.sql.tx(async () => {
      for (const [k, v] of entries) await this.set(k, v, null);
    });
  }

  /** Removes a variable; false when there was none. */
  async delete(key: string): Promise<boolean> {
    return (await this.sql.run('DELETE FROM variables WHERE key = ?', key)).changes > 0;
  }

  list(): Promise<VariableRow[]> {
    return this.sql.all<VariableRow>('SELECT key, val, description FROM variables ORDER BY key');
  }
}
