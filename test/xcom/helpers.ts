/** Test helpers for XCom: a temp workspace with a SQLite store holding the runtime's xcom tables plus ours. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { DatabaseSync } from 'node:sqlite';
import { createXComBackend, Keyring, XCOM_SCHEMA_SQL } from '../../src/runtime/xcom/index.ts';
import type { HangarXComBackend, XComLocation, XComOptions, StoredXCom } from '../../src/runtime/xcom/index.ts';

export const RUNTIME_XCOM_SQL = `
CREATE TABLE xcom (
  dag_id TEXT NOT NULL, run_id TEXT NOT NULL, task_id TEXT NOT NULL,
  map_index INTEGER NOT NULL DEFAULT -1, key TEXT NOT NULL,
  value BLOB NOT NULL, chain TEXT NOT NULL,
  size_original INTEGER NOT NULL, size_stored INTEGER NOT NULL,
  sensitive INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL,
  PRIMARY KEY (dag_id, run_id, task_id, map_index, key)
);
CREATE TABLE xcom_pulls (
  dag_id TEXT NOT NULL, run_id TEXT NOT NULL, task_id TEXT NOT NULL, map_index INTEGER NOT NULL, key TEXT NOT NULL,
  pulled_by_task_id TEXT NOT NULL, pulled_by_map_index INTEGER NOT NULL, pulled_at TEXT NOT NULL
);`;

export interface Workspace {
  readonly root: string;
  readonly xcomRoot: string;
  readonly db: DatabaseSync;
  backend(options?: XComOptions, keyring?: Keyring): HangarXComBackend;
  /** Serializes and writes the row as the runtime's store does. */
  put(b: HangarXComBackend, loc: XComLocation, value: unknown, opts?: { sensitive?: boolean; backend?: string; createdAt?: string }): Promise<StoredXCom>;
  row(loc: XComLocation): { value: Uint8Array; chain: string; size_stored: number; sensitive: number } | undefined;
  close(): void;
}

export function workspace(): Workspace {
  const root = mkdtempSync(join(tmpdir(), 'hangar-xcom-'));
  const xcomRoot = join(root, '.hangar', 'xcom');
  const db = new DatabaseSync(join(root, 'hangar.db'));
  db.exec('PRAGMA journal_mode = WAL;');
  db.exec(RUNTIME_XCOM_SQL);
  db.exec(XCOM_SCHEMA_SQL);
  const backends: HangarXComBackend[] = [];
  return {
    root,
    xcomRoot,
    db,
    backend(options = {}, keyring) {
      const b = createXComBackend(options, { workspaceRoot: root, xcomRoot, keyring, db, env: {}, objectStoreCredentials: S3_CREDENTIALS });
      backends.push(b);
      return b;
    },
    async put(b, loc, value, opts = {}) {
      const s = await b.serialize(loc, value, opts);
      db.prepare(
        `INSERT INTO xcom (dag_id, run_id, task_id, map_index, key, value, chain, size_original, size_stored, sensitive, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (dag_id, run_id, task_id, map_index, key) DO UPDATE SET value = excluded.value, chain = excluded.chain,
           size_original = excluded.size_original, size_stored = excluded.size_stored, sensitive = excluded.sensitive, created_at = excluded.created_at`,
      ).run(loc.dagId, loc.runId, loc.taskId, loc.mapIndex, loc.key, s.data, JSON.stringify(s.chain), s.sizeOriginal, s.sizeStored, s.sensitive ? 1 : 0, opts.createdAt ?? new Date().toISOString());
      return s;
    },
    row(loc) {
      return db
        .prepare('SELECT * FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = ? AND key = ?')
        .get(loc.dagId, loc.runId, loc.taskId, loc.mapIndex, loc.key) as never;
    },
    close() {
      for (const b of backends) b.close();
      db.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export function loc(key = 'return_value', over: Partial<XComLocation> = {}): XComLocation {
  return { dagId: 'test_custom_backends', runId: 'manual__2024-01-15T14:30:22', taskId: 'produce', mapIndex: -1, key, ...over };
}

export function keyring(...ids: string[]): Keyring {
  return new Keyring(ids.map((id) => ({ id, key: randomBytes(32) })));
}

/** The seed's test data types. */
export function seedData(kind: 'small' | 'medium' | 'large' | 'repetitive' | 'sensitive' | 'random', size: number): unknown {
  switch (kind) {
    case 'small':
      return { env: 'dev', retries: 3, debug: false };
    case 'medium':
    case 'large': {
      const rows: unknown[] = [];
      let n = 0;
      for (let i = 0; n < size; i++) {
        const r = { symbol: `STOCK_${String(i).padStart(4, '0')}`, price: Math.round(((i * 7919) % 99000) + 1000) / 100, volume: (i * 104729) % 100000, timestamp: new Date(1705312800000 + i * 1000).toISOString(), metadata: { exchange: 'NYSE', sector: i % 3 ? 'tech' : 'energy' } };
        rows.push(r);
        n += 150;
      }
      return rows;
    }
    case 'repetitive':
      return { data: 'x'.repeat(size) };
    case 'sensitive':
      return { username: 'svc', password: 'hunter2-' + 'p'.repeat(Math.max(0, size - 60)), api_key: 'AKIA0000', token: 'tok' };
    case 'random':
      return randomBytes(size);
  }
}

/** A TCP port nothing listens on. */
export async function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

interface S3rverInstance {
  run(): Promise<{ port: number }>;
  close(): Promise<void>;
}

/** A real s3rver (S3 HTTP API) on 127.0.0.1 with a temp directory and one bucket. */
export async function startS3rver(bucket = 'hangar-xcom'): Promise<{ endpoint: string; dir: string; stop(): Promise<void> }> {
  const require = createRequire(import.meta.url);
  const S3rver = require('s3rver') as new (o: object) => S3rverInstance;
  const dir = mkdtempSync(join(tmpdir(), 'hangar-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: bucket }] });
  const addr = await server.run();
  return {
    endpoint: `http://127.0.0.1:${addr.port}`,
    dir,
    async stop() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
