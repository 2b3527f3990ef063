/**
 * Many rows in one statement on PostgreSQL: the rows travel as one `jsonb` parameter, read back
 * as a typed table by `jsonb_to_recordset` (one round trip and one prepared text whatever the
 * number of rows, no limit on parameters). Columns are typed by name: the store's integer
 * columns are BIGINT, `duration` is DOUBLE PRECISION, everything else TEXT.
 */
import type { SqlValue } from '../sql.ts';

const PG_TYPES: Readonly<Record<string, string>> = {
  map_index: 'bigint',
  try_number: 'bigint',
  expected_try: 'bigint',
  max_tries: 'bigint',
  pid: 'bigint',
  pool_slots: 'bigint',
  duration: 'double precision',
};

/** `jsonb_to_recordset(?::jsonb) AS alias(col type, …)`; the parameter is `recordsetParam(rows)`. */
export function recordset(alias: string, columns: readonly string[]): string {
  return `jsonb_to_recordset(?::jsonb) AS ${alias}(${columns.map((c) => `${c} ${PG_TYPES[c.replace(/^f_/, '')] ?? 'text'}`).join(', ')})`;
}

/** The rows as the JSON text `recordset` reads. */
export function recordsetParam(rows: readonly Record<string, SqlValue | undefined>[]): string {
  return JSON.stringify(rows, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v));
}

/** Items grouped by the set of fields they define (one statement per shape), in first-seen order. */
export function byShape<T>(
  items: readonly T[],
  fieldsOf: (item: T) => object,
): Map<string, { columns: string[]; items: T[] }> {
  const groups = new Map<string, { columns: string[]; items: T[] }>();
  for (const item of items) {
    const columns = Object.entries(fieldsOf(item))
      .filter(([, v]) => v !== undefined)
      .map(([k]) => k)
      .sort();
    const shape = columns.join(',');
    let g = groups.get(shape);
    if (!g) groups.set(shape, (g = { columns, items: [] }));
    g.items.push(item);
  }
  return groups;
}
