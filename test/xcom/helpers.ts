/** Test helpers for XCom: a temp workspace with a fresh metadata store, the suite's (its XCom and key repositories). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { Store } from '../../src/runtime/store/store.ts';
import { testStoreTarget } from '../helpers/store.ts';
import type { XComRecord } from '../../src/runtime/store/records.ts';
import { createXComBackend, Keyring } from '../../src/runtime/xcom/index.ts';
import type {
  HangarXComBackend,
  XComLocation,
  XComOptions,
  StoredXCom,
} from '../../src/runtime/xcom/index.ts';

export interface Workspace {
  readonly root: string;
  readonly xcomRoot: string;
  readonly store: Store;
  backend(options?: XComOptions, keyring?: Keyring): HangarXComBackend;
  /** Serializes and writes the row as a task's push does. */
  put(
    b: HangarXComBackend,
    loc: XComLocation,
    value: unknown,
    opts?: { sensitive?: boolean; backend?: string; createdAt?: string },
  ): Promise<StoredXCom>;
  row(loc: XComLocation): Promise<XComRecord | undefined>;
  close(): void;
}

export async function workspace(): Promise<Workspace> {
  const root = mkdtempSync(join(tmpdir(), 'hangar-xcom-'));
  const xcomRoot = join(root, '.hangar', 'xcom');
  const store = await Store.open(testStoreTarget(root, 'hangar.db'));
  const backends: HangarXComBackend[] = [];
  return {
    root,
    xcomRoot,
    store,
    backend(options = {}, keyring) {
      const b = createXComBackend(options, {
        workspaceRoot: root,
        xcomRoot,
        keyring,
        keys: store.keys,
        env: {},
        objectStoreCredentials: S3_CREDENTIALS,
      });
      backends.push(b);
      return b;
    },
    async put(b, loc, value, opts = {}) {
      const s = await b.serialize(loc, value, opts);
      await store.xcoms.put({
        dag_id: loc.dagId,
        run_id: loc.runId,
        task_id: loc.taskId,
        map_index: loc.mapIndex,
        key: loc.key,
        value: s.data,
        chain: JSON.stringify(s.chain),
        size_original: s.sizeOriginal,
        size_stored: s.sizeStored,
        sensitive: s.sensitive ? 1 : 0,
        created_at: opts.createdAt ?? new Date().toISOString(),
      });
      return s;
    },
    row(loc) {
      return store.xcoms.get(loc.dagId, loc.runId, loc.taskId, loc.key, loc.mapIndex);
    },
    close() {
      for (const b of backends) b.close();
      // SQLite closes at once (the driver's close has nothing to wait for) before the folder goes;
      // a PostgreSQL store's pool ends on its own, its database is not in the folder.
      void store.close();
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export function loc(key = 'return_value', over: Partial<XComLocation> = {}): XComLocation {
  return {
    dagId: 'test_custom_backends',
    runId: 'manual__2024-01-15T14:30:22',
    taskId: 'produce',
    mapIndex: -1,
    key,
    ...over,
  };
}

export function keyring(...ids: string[]): Keyring {
  return new Keyring(ids.map((id) => ({ id, key: randomBytes(32) })));
}

/** The seed's test data types. */
export function seedData(
  kind: 'small' | 'medium' | 'large' | 'repetitive' | 'sensitive' | 'random',
  size: number,
): unknown {
  switch (kind) {
    case 'small':
      return { env: 'dev', retries: 3, debug: false };
    case 'medium':
    case 'large': {
      const rows: unknown[] = [];
      let n = 0;
      for (let i = 0; n < size; i++) {
        const r = {
          symbol: `STOCK_${String(i).padStart(4, '0')}`,
          price: Math.round(((i * 7919) % 99000) + 1000) / 100,
          volume: (i * 104729) % 100000,
          timestamp: new Date(1705312800000 + i * 1000).toISOString(),
          metadata: { exchange: 'NYSE', sector: i % 3 ? 'tech' : 'energy' },
        };
        rows.push(r);
        n += 150;
      }
      return rows;
    }
    case 'repetitive':
      return { data: 'x'.repeat(size) };
    case 'sensitive':
      return {
        username: 'svc',
        password: 'hunter2-' + 'p'.repeat(Math.max(0, size - 60)),
        api_key: 'AKIA0000',
        token: 'tok',
      };
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

/**
 * A real s3rver (S3 HTTP API) on 127.0.0.1 with a temp directory and one bucket. `pause()`
 * closes it (connections refused, objects kept); `resume()` serves the same objects again on
 * the same port.
 */
export async function startS3rver(
  bucket = 'hangar-xcom',
): Promise<{ endpoint: string; dir: string; stop(): Promise<void>; pause(): Promise<void>; resume(): Promise<void> }> {
  const require = createRequire(import.meta.url);
  const S3rver = require('s3rver') as new (o: object) => S3rverInstance;
  const dir = mkdtempSync(join(tmpdir(), 'hangar-s3rver-'));
  const make = (port: number) =>
    new S3rver({
      address: '127.0.0.1',
      port,
      silent: true,
      directory: dir,
      configureBuckets: [{ name: bucket }],
    });
  let server: S3rverInstance | undefined = make(0);
  const addr = await server.run();
  return {
    endpoint: `http://127.0.0.1:${addr.port}`,
    dir,
    async pause() {
      await server?.close();
      server = undefined;
    },
    async resume() {
      if (server) return;
      server = make(addr.port);
      await server.run();
    },
    async stop() {
      await server?.close();
      server = undefined;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const S3_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
