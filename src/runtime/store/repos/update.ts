import type { Sql, SqlValue } from '../sql.ts';

/** `UPDATE table SET <fields> WHERE <key>`, skipping fields that are undefined. */
export async function updateRow(sql: Sql, table: string, fields: object, key: Record<string, SqlValue>): Promise<number> {
  const entries = Object.entries(fields).filter(([, v]) => v !== undefined) as [string, SqlValue][];
  if (entries.length === 0) return 0;
  const keyEntries = Object.entries(key);
  const text = `UPDATE ${table} SET ${entries.map(([k]) => `${k} = ?`).join(', ')} WHERE ${keyEntries.map(([k]) => `${k} = ?`).join(' AND ')}`;
  return (await sql.run(text, ...entries.map(([, v]) => v), ...keyEntries.map(([, v]) => v))).changes;
}
