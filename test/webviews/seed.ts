/**
 * A workspace with stored XComs, written through the real backend (serialize →
 * compress / encrypt / offload → store): for the XCom browser's tests and bench.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runtime } from '../../src/runtime/runtime.ts';
import type { XComLocation } from '../../src/runtime/xcom/index.ts';
import type { XComRecord } from '../../src/runtime/store/records.ts';
import { testStoreConfig } from '../helpers/store.ts';

export const KEY_ID = 'k1';
/** 32 bytes, base64. */
export const KEY = Buffer.alloc(32, 7).toString('base64');
export const OTHER_KEY = Buffer.alloc(32, 9).toString('base64');

export function workspace(prefix = 'hangar-xcom-browser-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(join(dir, 'dags'));
  // The suite's store: SQLite, or a fresh PostgreSQL database under HANGAR_TEST_STORE=postgres.
  writeFileSync(
    join(dir, 'hangar.json'),
    JSON.stringify({ dagsFolder: 'dags', xcom: { backend: 'database' }, ...testStoreConfig() }),
  );
  return dir;
}

export interface SeedItem {
  loc: XComLocation;
  value: unknown;
  backend?: string;
  sensitive?: boolean;
}

/** Stores the items (with HANGAR_XCOM_KEYS set to `k1` while writing), then closes the store. */
export async function seed(dir: string, items: Iterable<SeedItem>): Promise<void> {
  const before = process.env.HANGAR_XCOM_KEYS;
  process.env.HANGAR_XCOM_KEYS = `${KEY_ID}:${KEY}`;
  const rt = await Runtime.open(dir);
  try {
    // Serialized first (files, encryption), then written 5,000 rows to a transaction.
    let batch: XComRecord[] = [];
    const flush = () =>
      rt.store.sql.tx(async () => {
        for (const x of batch) await rt.store.xcoms.put(x);
        batch = [];
      });
    let n = 0;
    for (const it of items) {
      const s = await rt.backend.serialize(it.loc, it.value, {
        ...(it.backend ? { backend: it.backend } : {}),
        ...(it.sensitive !== undefined ? { sensitive: it.sensitive } : {}),
      });
      batch.push({
        dag_id: it.loc.dagId,
        run_id: it.loc.runId,
        task_id: it.loc.taskId,
        map_index: it.loc.mapIndex,
        key: it.loc.key,
        value: s.data,
        chain: JSON.stringify(s.chain),
        size_original: s.sizeOriginal,
        size_stored: s.sizeStored,
        sensitive: s.sensitive ? 1 : 0,
        created_at: new Date(Date.UTC(2024, 0, 1) + n * 1000).toISOString(),
      });
      if (++n % 5000 === 0) await flush();
    }
    await flush();
  } finally {
    await rt.close();
    if (before === undefined) delete process.env.HANGAR_XCOM_KEYS;
    else process.env.HANGAR_XCOM_KEYS = before;
  }
}

export const loc = (key: string, over: Partial<XComLocation> = {}): XComLocation => ({
  dagId: 'demo',
  runId: 'run_1',
  taskId: 'extract',
  mapIndex: -1,
  key,
  ...over,
});
