import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { testStoreConfig } from './store.ts';

export interface TempWorkspace {
  readonly root: string;
  readonly dags: string;
  /**
   * Writes a file of the workspace. A hangar.json keeps the workspace's test store: its
   * `"store"` is added unless the text sets one (or is not a JSON object).
   */
  write(rel: string, text: string): string;
  remove(): void;
}

/**
 * A fresh workspace folder per test, with DAG files written into dags/. Its store is the
 * suite's (test/helpers/store.ts): under `HANGAR_TEST_STORE=postgres` a fresh PostgreSQL
 * database named in its hangar.json, else the default SQLite file `.hangar/hangar.db`.
 * `{ store: 'sqlite' }` keeps the default SQLite file whatever the suite runs against: for
 * tests of what only SQLite has (file backups); the caller says why.
 */
export function tempWorkspace(
  files: Record<string, string> = {},
  config?: object,
  options: { store?: 'sqlite' } = {},
): TempWorkspace {
  const root = mkdtempSync(join(tmpdir(), 'hangar-test-'));
  const dags = join(root, 'dags');
  mkdirSync(dags, { recursive: true });
  const store = options.store === 'sqlite' ? {} : testStoreConfig();
  const withStore = (rel: string, text: string): string => {
    if (rel !== 'hangar.json' || store.store === undefined) return text;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return text; // a test of a broken hangar.json
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed) || 'store' in parsed)
      return text;
    // Added last, so that the test's own text keeps its offsets (go-to-definition tests read them).
    const end = text.lastIndexOf('}');
    const entry = `${Object.keys(parsed).length ? ', ' : ''}"store": ${JSON.stringify(store.store)}`;
    return text.slice(0, end) + entry + text.slice(end);
  };
  const write = (rel: string, text: string) => {
    const p = join(root, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, withStore(rel, text));
    return p;
  };
  if (config || store.store !== undefined) write('hangar.json', JSON.stringify(config ?? {}));
  for (const [rel, text] of Object.entries(files)) write(rel, text);
  return { root, dags, write, remove: () => rmSync(root, { recursive: true, force: true }) };
}
