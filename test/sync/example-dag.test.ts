/**
 * examples/dags/sftp_sync.ts through the real CLI against a real sshd: the
 * connections come from HANGAR_CONN_SFTP_SRC / HANGAR_CONN_SFTP_DST, the
 * cursor lives in the workspace's store, the sync task's XCom is the summary.
 */
import assert from 'node:assert/strict';
import { cpSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SyncStateMachine } from '../../src/runtime/sync/state.ts';
import type { SyncSummary } from '../../src/runtime/sync/types.ts';
import { createXComBackend } from '../../src/runtime/xcom/index.ts';
import { hangar } from '../helpers/cli.ts';
import { startSshd } from '../helpers/sshd.ts';
import type { SshdServer } from '../helpers/sshd.ts';
import { openWorkspaceStore } from '../helpers/store.ts';
import { tempWorkspace } from '../helpers/workspace.ts';
import type { TempWorkspace } from '../helpers/workspace.ts';

const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples');
const DAG = 'sftp_sync';

let server: SshdServer;
let dir: string;
let ws: TempWorkspace;

before(async () => {
  server = await startSshd();
  dir = await mkdtemp(join(tmpdir(), 'hangar-sftp-sync-example-'));
  ws = tempWorkspace();
  // Written through the workspace, which keeps the suite's store in it.
  ws.write('hangar.json', readFileSync(join(EXAMPLES, 'hangar.json'), 'utf8'));
  cpSync(join(EXAMPLES, 'dags', `${DAG}.ts`), join(ws.dags, `${DAG}.ts`));
});
after(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
  ws.remove();
});

function uri(root: string): string {
  const q = new URLSearchParams({
    fingerprint: server.hostKeyFingerprint,
    private_key_file: server.privateKeyFile,
  });
  return `sftp://${encodeURIComponent(server.username)}@${server.host}:${server.port}${root}?${q.toString()}`;
}

async function readSummary(runId: string): Promise<SyncSummary> {
  const store = await openWorkspaceStore(ws.root);
  try {
    const backend = createXComBackend(
      {},
      { workspaceRoot: ws.root, xcomRoot: join(ws.root, '.hangar', 'xcom') },
    );
    const row = await store.xcoms.get(DAG, runId, 'sync', 'return_value');
    assert.ok(row, `the sync task of ${runId} pushed its summary`);
    return (await backend.deserialize(
      { dagId: DAG, runId, taskId: 'sync', mapIndex: -1, key: 'return_value' },
      row.value,
    )) as SyncSummary;
  } finally {
    await store.close();
  }
}

async function cursorInStore(): Promise<unknown> {
  const store = await openWorkspaceStore(ws.root);
  try {
    return await new SyncStateMachine(store.sync).getCursor(DAG);
  } finally {
    await store.close();
  }
}

describe('example DAG sftp_sync', () => {
  it('without its connections it loads, and the run fails at once naming HANGAR_CONN_SFTP_SRC', () => {
    const list = hangar(['list', '--workspace', ws.root], {
      env: { HANGAR_CONN_SFTP_SRC: '', HANGAR_CONN_SFTP_DST: '' },
    });
    assert.equal(list.code, 0, list.stdout + list.stderr);
    assert.match(list.stdout, /sftp_sync\s+\(@hourly\)/);
    assert.match(list.stdout, /sync\s+← health_check/);
    const r = hangar(['run', DAG, '--workspace', ws.root, '--date', '2024-01-01'], {
      env: { HANGAR_CONN_SFTP_SRC: '', HANGAR_CONN_SFTP_DST: '' },
    });
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /health_check\s+failed\s+1/, 'no retry can fix a missing connection');
    const log = hangar([
      'logs',
      'manual__2024-01-01T00:00:00+00:00',
      'health_check',
      '--dag',
      DAG,
      '--workspace',
      ws.root,
    ]);
    assert.match(
      log.stdout,
      /sync pipeline "sftp_sync": source connection "sftp_src": No connection "sftp_src": set HANGAR_CONN_SFTP_SRC/,
    );
  });

  it('syncs with the whitespace transform through the CLI, records the cursor, and a second run syncs nothing new', async () => {
    const src = join(dir, 'src');
    const dst = join(dir, 'dst');
    await mkdir(join(src, 'nested'), { recursive: true });
    await mkdir(dst);
    const files: [string, string, number][] = [
      ['a.txt', 'hello world\tfrom the\nsource', 1],
      ['nested/b.txt', 'two  spaces and é ü  multibyte', 2],
      ['z.txt', 'no_whitespace_here', 2],
    ];
    const T0 = Date.parse('2024-03-01T10:00:00Z');
    for (const [id, text, s] of files) {
      await writeFile(join(src, id), text);
      await utimes(join(src, id), new Date(T0 + s * 1000), new Date(T0 + s * 1000));
    }
    const env = { HANGAR_CONN_SFTP_SRC: uri(src), HANGAR_CONN_SFTP_DST: uri(dst) };

    const r1 = hangar(['run', DAG, '--workspace', ws.root, '--date', '2024-01-15'], { env });
    assert.equal(r1.code, 0, r1.stdout + r1.stderr);
    assert.match(r1.stdout, /health_check\s+success/);
    assert.match(r1.stdout, /sync\s+success/);
    for (const [id, text] of files) {
      assert.equal(
        await readFile(join(dst, id), 'utf8'),
        text.replace(/\s/g, '_'),
        `${id} transformed at the destination`,
      );
    }
    assert.deepEqual(
      (await readdir(dst)).sort(),
      ['a.txt', 'nested', 'z.txt'],
      'no temporary or backup files',
    );

    const s1 = await readSummary('manual__2024-01-15T00:00:00+00:00');
    assert.equal(s1.pipelineId, DAG);
    assert.equal(s1.filesSynced, 3);
    assert.equal(s1.filesFailed, 0);
    assert.equal(
      s1.bytesRead,
      files.reduce((n, [, t]) => n + Buffer.byteLength(t), 0),
    );
    assert.equal(s1.bytesMoved, s1.bytesRead, 'whitespace to underscore keeps the length in bytes');
    assert.equal(s1.cursorBefore, null);
    const last = { mtimeMs: T0 + 2000, id: 'z.txt' };
    assert.deepEqual(s1.cursorAfter, last);
    assert.equal(
      s1.source,
      `sftp://${server.username}@${server.host}:${server.port}${src}`,
      'described without secrets',
    );
    assert.deepEqual(await cursorInStore(), last, 'the cursor is in the workspace store');

    // Nothing new at the source: nothing moves.
    const r2 = hangar(['run', DAG, '--workspace', ws.root, '--date', '2024-01-16'], { env });
    assert.equal(r2.code, 0, r2.stdout + r2.stderr);
    const s2 = await readSummary('manual__2024-01-16T00:00:00+00:00');
    assert.equal(s2.filesSynced, 0);
    assert.equal(s2.bytesMoved, 0);
    assert.deepEqual(s2.cursorBefore, last);
    assert.deepEqual(s2.cursorAfter, last);
    assert.deepEqual(await cursorInStore(), last);

    // A new file: only it moves.
    await writeFile(join(src, 'new file.txt'), 'fresh content');
    await utimes(join(src, 'new file.txt'), new Date(T0 + 3000), new Date(T0 + 3000));
    const r3 = hangar(['run', DAG, '--workspace', ws.root, '--date', '2024-01-17'], { env });
    assert.equal(r3.code, 0, r3.stdout + r3.stderr);
    const s3 = await readSummary('manual__2024-01-17T00:00:00+00:00');
    assert.equal(s3.filesSynced, 1);
    assert.equal(await readFile(join(dst, 'new file.txt'), 'utf8'), 'fresh_content');
    assert.deepEqual(await cursorInStore(), { mtimeMs: T0 + 3000, id: 'new file.txt' });
  });
});
