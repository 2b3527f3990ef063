/**
 * The migration runner of both dialects, on any SqlDriver.
 *
 * `migrate` takes the driver's exclusive lock (PostgreSQL: a session advisory lock;
 * SQLite: the write lock), so processes starting together apply each migration once:
 * the second waits, then finds nothing left to do. Each migration runs in its own
 * transaction with its `schema_migrations` row (PostgreSQL's DDL is transactional: a
 * process killed in the middle of one leaves the previous version, and the next start
 * applies it again). A store migrated by a newer Hangar (a version this code does not
 * have) is refused, with both versions named, before anything changes.
 */
import { MIGRATIONS } from './migrations.ts';
import type { Migration } from './migrations.ts';
import type { SqlDriver } from './sql.ts';

export interface SchemaStatus {
  /** Where the store is (file path or host:port/db). */
  readonly location: string;
  /** The highest version recorded in the store (0: a new store). */
  readonly storeVersion: number;
  /** The highest version this code knows. */
  readonly codeVersion: number;
  /** Migrations of this code the store has not applied, in order. */
  readonly pending: readonly Migration[];
  /** Versions recorded in the store that this code does not know (a newer Hangar migrated it). */
  readonly unknown: readonly number[];
}

export interface MigrateResult {
  readonly applied: readonly Migration[];
  readonly version: number;
}

/** The store was migrated by a newer Hangar: this code must not write to it. */
export class StoreTooNewError extends Error {
  readonly code = 'HANGAR_STORE_TOO_NEW';
  readonly location: string;
  readonly storeVersion: number;
  readonly codeVersion: number;
  constructor(location: string, storeVersion: number, codeVersion: number) {
    super(
      `The store at ${location} has schema version ${storeVersion}, newer than this Hangar's ${codeVersion}: ` +
        'a newer Hangar migrated it. Upgrade Hangar to use this store; nothing was changed.',
    );
    this.location = location;
    this.storeVersion = storeVersion;
    this.codeVersion = codeVersion;
  }
}

/** SQLite's INTEGER is 64-bit: PostgreSQL's BIGINT (as every INTEGER of the baseline). */
const CREATE_TABLE = (dialect: SqlDriver['dialect']) =>
  `CREATE TABLE IF NOT EXISTS schema_migrations (version ${dialect === 'postgres' ? 'BIGINT' : 'INTEGER'} PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`;

function checkNumbers(migrations: readonly Migration[]): Migration[] {
  const seen = new Set<number>();
  for (const m of migrations) {
    if (!Number.isInteger(m.version) || m.version < 1)
      throw new Error(`Store migration "${m.name}" has no valid number (${m.version})`);
    if (seen.has(m.version)) throw new Error(`Two store migrations share the number ${m.version}`);
    seen.add(m.version);
  }
  return [...migrations].sort((a, b) => a.version - b.version);
}

async function hasTable(sql: SqlDriver): Promise<boolean> {
  const row =
    sql.dialect === 'postgres'
      ? await sql.get<{ t: string | null }>("SELECT to_regclass('schema_migrations')::text AS t")
      : await sql.get<{ t: string | null }>(
          "SELECT name AS t FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'",
        );
  return !!row?.t;
}

async function appliedVersions(sql: SqlDriver): Promise<number[]> {
  if (!(await hasTable(sql))) return [];
  return (await sql.all<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).map(
    (r) => Number(r.version),
  );
}

function status(sql: SqlDriver, sorted: readonly Migration[], applied: readonly number[]): SchemaStatus {
  const known = new Set(sorted.map((m) => m.version));
  const have = new Set(applied);
  return {
    location: sql.location,
    storeVersion: applied.length ? Math.max(...applied) : 0,
    codeVersion: sorted.length ? sorted[sorted.length - 1]!.version : 0,
    pending: sorted.filter((m) => !have.has(m.version)),
    unknown: applied.filter((v) => !known.has(v)),
  };
}

/** The store's schema version beside this code's, without changing anything. */
export async function schemaStatus(
  sql: SqlDriver,
  migrations: readonly Migration[] = MIGRATIONS,
): Promise<SchemaStatus> {
  return status(sql, checkNumbers(migrations), await appliedVersions(sql));
}

/** The SQL of a migration for the driver's dialect. */
function textFor(sql: SqlDriver, m: Migration): string {
  if (sql.dialect === 'sqlite') return m.sql;
  if (m.postgres === undefined) {
    throw new Error(
      `Store migration ${m.version} (${m.name}) has no PostgreSQL text: it cannot be applied to the store at ${sql.location}`,
    );
  }
  return m.postgres;
}

/**
 * Applies the migrations the store lacks, in order, each in its own transaction, under the
 * driver's exclusive lock; `onApplied` hears of each as it commits. Throws StoreTooNewError
 * when the store has a version newer than every migration given.
 */
export async function migrate(
  sql: SqlDriver,
  migrations: readonly Migration[] = MIGRATIONS,
  onApplied?: (m: Migration) => void,
): Promise<MigrateResult> {
  const sorted = checkNumbers(migrations);
  return sql.exclusive(async () => {
    await sql.exec(CREATE_TABLE(sql.dialect));
    const s = status(sql, sorted, await appliedVersions(sql));
    if (s.storeVersion > s.codeVersion)
      throw new StoreTooNewError(sql.location, s.storeVersion, s.codeVersion);
    const applied: Migration[] = [];
    for (const m of s.pending) {
      const text = textFor(sql, m);
      try {
        await sql.tx(async () => {
          await sql.exec(text);
          await sql.run(
            'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
            m.version,
            m.name,
            new Date().toISOString(),
          );
        });
      } catch (err) {
        throw new Error(
          `Store migration ${m.version} (${m.name}) failed on ${sql.location}: ${(err as Error).message}`,
        );
      }
      applied.push(m);
      onApplied?.(m);
    }
    return { applied, version: Math.max(s.storeVersion, ...applied.map((m) => m.version)) };
  });
}
