/** Shared set-up for the sync tests: a real sshd, temp directories, a fresh SQLite store. */
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { SYNC_SCHEMA_SQL } from '../../src/runtime/sync/schema.ts';
import { SyncStateMachine } from '../../src/runtime/sync/state.ts';
import type { SftpConnectionOptions } from '../../src/runtime/sync/sftp-connection.ts';
import { SftpDestination, SftpSource } from '../../src/runtime/sync/sftp.ts';
import type { SyncLogger } from '../../src/runtime/sync/types.ts';
import type { SshdServer } from '../helpers/sshd.ts';

export interface Workspace {
  dir: string;
  src: string;
  dst: string;
  db: DatabaseSync;
  state: SyncStateMachine;
  cleanup(): Promise<void>;
}

export async function workspace(): Promise<Workspace> {
  const dir = await mkdtemp(join(tmpdir(), 'hangar-sync-test-'));
  const src = join(dir, 'src');
  const dst = join(dir, 'dst');
  await mkdir(src);
  await mkdir(dst);
  const db = new DatabaseSync(join(dir, 'hangar.sqlite'));
  db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;');
  db.exec(SYNC_SCHEMA_SQL);
  return {
    dir,
    src,
    dst,
    db,
    state: new SyncStateMachine(db),
    async cleanup() {
      db.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function keyConnection(server: SshdServer, extra: Partial<SftpConnectionOptions> = {}): SftpConnectionOptions {
  return {
    host: server.host,
    port: server.port,
    username: server.username,
    privateKey: server.privateKey,
    hostKey: { knownHostsFile: server.knownHostsFile },
    ...extra,
  };
}

export function sftpEnds(server: SshdServer, ws: Workspace, extra: Partial<SftpConnectionOptions> = {}): {
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
