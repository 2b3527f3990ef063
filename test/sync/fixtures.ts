/** Shared set-up for the sync tests: a real sshd, temp directories, a fresh store (the suite's: SQLite or PostgreSQL). */
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../../src/runtime/store/store.ts';
import { parseStoreTarget } from '../../src/runtime/store/target.ts';
import { testStoreValue } from '../helpers/store.ts';
import { SyncStateMachine } from '../../src/runtime/sync/state.ts';
import type { SftpConnectionOptions } from '../../src/runtime/sync/sftp-connection.ts';
import { SftpDestination, SftpSource } from '../../src/runtime/sync/sftp.ts';
import type { SyncLogger } from '../../src/runtime/sync/types.ts';
import type { SshdServer } from '../helpers/sshd.ts';

export interface Workspace {
  dir: string;
  src: string;
  dst: string;
  store: Store;
  /** The store for another process: the SQLite file, or the postgres:// URL with its password. */
  storeUrl: string;
  state: SyncStateMachine;
  cleanup(): Promise<void>;
}

export async function workspace(): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), 'hangar-sync-test-'));
  const src = join(dir, 'src');
  const dst = join(dir, 'dst');
  await mkdir(src);
  await mkdir(dst);
  const storeUrl = testStoreValue(dir, 'hangar.db');
  const store = await Store.open(parseStoreTarget(storeUrl, dir));
  return {
    dir,
    src,
    dst,
    store,
    storeUrl,
    state: new SyncStateMachine(store.sync),
    async cleanup() {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function keyConnection(
  server: SshdServer,
  extra: Partial<SftpConnectionOptions> = {},
): SftpConnectionOptions {
  return {
    host: server.host,
    port: server.port,
    username: server.username,
    privateKey: server.privateKey,
    hostKey: { knownHostsFile: server.knownHostsFile },
    ...extra,
  };
}

export function sftpEnds(
  server: SshdServer,
  ws: Workspace,
  extra: Partial<SftpConnectionOptions> = {},
): {
  source: SftpSource;
  destination: SftpDestination;
} {
  return {
    source: new SftpSource({ connection: keyConnection(server, extra), root: ws.src }),
    destination: new SftpDestination({ connection: keyConnection(server, extra), root: ws.dst }),
  };
}

export interface CapturedLog extends SyncLogger {
  lines: string[];
}

export function captureLog(): CapturedLog {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => lines.push(`INFO ${m}`),
    warn: (m) => lines.push(`WARN ${m}`),
    error: (m) => lines.push(`ERROR ${m}`),
  };
}
