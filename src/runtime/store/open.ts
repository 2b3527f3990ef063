/** Opens the driver of a store target: SQLite (node:sqlite) or PostgreSQL (pg). */
import { DatabaseSync } from 'node:sqlite';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { SqliteDriver } from './sql.ts';
import type { SqlDriver } from './sql.ts';
import { PostgresDriver } from './postgres.ts';
import type { PostgresDriverOptions } from './postgres.ts';
import type { StoreTarget } from './target.ts';

export interface OpenOptions extends PostgresDriverOptions {
  /** SQLite: milliseconds a writer waits for another process's lock before SQLITE_BUSY (default 10 s). */
  readonly busyTimeoutMs?: number;
}

/**
 * The driver for a target. Opening does not migrate (see migrate.ts). A PostgreSQL
 * driver connects lazily: the first statement reports an unreachable server.
 */
export function openDriver(target: StoreTarget, options: OpenOptions = {}): SqlDriver {
  if (target.kind === 'postgres') return new PostgresDriver(target, options);
  if (target.path !== ':memory:') mkdirSync(dirname(target.path), { recursive: true });
  const db = new DatabaseSync(target.path, { timeout: options.busyTimeoutMs ?? 10_000 });
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;');
  return new SqliteDriver(db, target.path);
}
