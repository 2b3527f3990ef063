/**
 * The store of a test, on whichever store the suite runs against (`HANGAR_TEST_STORE`:
 * SQLite by default, `postgres` for PostgreSQL; see test/helpers/postgres.ts).
 *
 * - `testStoreConfig()`: what a test workspace's hangar.json needs (`{ store: URL }` of a
 *   fresh database under PostgreSQL, nothing under SQLite: the default `.hangar/hangar.db`).
 * - `openWorkspaceStore(root)`: the store a workspace's runtime and CLI use, opened the way
 *   they open it, so that a test reads or seeds the same rows on either store.
 * - `testStoreTarget(dir, file)` / `testStoreValue(dir, file)`: a store of its own for a
 *   test without a workspace (repositories, XCom backends, sync state): the SQLite file, or
 *   a fresh PostgreSQL database.
 */
import { join } from 'node:path';
import { Store } from '../../src/runtime/store/store.ts';
import type { StoreOptions } from '../../src/runtime/store/store.ts';
import { parseStoreTarget, workspaceStoreTarget } from '../../src/runtime/store/target.ts';
import type { StoreTarget } from '../../src/runtime/store/target.ts';
import { freshDatabaseSync, testStoreKind } from './postgres.ts';

export { testStoreKind };

/** `{ store }` for a new test workspace's hangar.json: a fresh PostgreSQL database, or nothing (SQLite). */
export function testStoreConfig(): { store?: string } {
  return testStoreKind() === 'postgres' ? { store: freshDatabaseSync().url } : {};
}

/** The store of the workspace at root (HANGAR_STORE_URL, hangar.json's "store", else .hangar/hangar.db). */
export function workspaceStore(root: string): StoreTarget {
  return workspaceStoreTarget(root);
}

/** Opens (and migrates) the workspace's store, as its runtime does. */
export function openWorkspaceStore(root: string, options: StoreOptions = {}): Promise<Store> {
  return Store.open(workspaceStoreTarget(root), options);
}

/**
 * A store for a test without a workspace, as a store value (what hangar.json's "store" or
 * `--store` take, and another process can open): the SQLite file `file` under dir, or the
 * postgres:// URL (with its password) of a fresh PostgreSQL database.
 */
export function testStoreValue(dir: string, file = join('.hangar', 'hangar.db')): string {
  return testStoreKind() === 'postgres' ? freshDatabaseSync().url : join(dir, file);
}

/** The same as a target, for Store.open. */
export function testStoreTarget(dir: string, file = join('.hangar', 'hangar.db')): StoreTarget {
  return parseStoreTarget(testStoreValue(dir, file), dir);
}

/**
 * How much the store has been doing, for tests that drive a fake clock and wait until the
 * runtime has settled (test/sensors/helpers.ts: settled when this stops changing for a few
 * ms). The same on both stores: the store's statement layer is wrapped, and the count moves
 * when a statement starts and when it ends, and at every look while one is under way. Reads
 * count too: on PostgreSQL each statement is a round trip, and a runtime that is reading its
 * way to the next task has not settled. `busy()`: whether a statement is under way now (a
 * SQLite statement never is between two turns of the event loop: it runs synchronously).
 */
export function storeActivity(store: Store): { changes: () => number; busy: () => boolean } {
  let n = 0;
  let inFlight = 0;
  const sql = store.sql as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  for (const method of ['all', 'get', 'run', 'exec', 'tx'] as const) {
    const original = sql[method]!.bind(sql);
    sql[method] = async (...args: unknown[]) => {
      n++;
      inFlight++;
      try {
        return await original(...args);
      } finally {
        inFlight--;
        n++;
      }
    };
  }
  return { changes: () => (inFlight > 0 ? ++n : n), busy: () => inFlight > 0 };
}
