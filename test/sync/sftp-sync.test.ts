/** Sync pipelines between two SFTP endpoints of a real OpenSSH server. */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, mkdir, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, beforeEach, afterEach, describe, it } from 'node:test';
import { runSync } from '../../src/runtime/sync/pipeline.ts';
import { SftpDestination, SftpSource } from '../../src/runtime/sync/sftp.ts';
import { maskToken, whitespaceToUnderscore } from '../../src/runtime/sync/transform.ts';
import type { Transformer } from '../../src/runtime/sync/types.ts';
import { HealthCheckError } from '../../src/runtime/sync/errors.ts';
import { healthCheckTask, syncTask } from '../../src/runtime/sync/dag.ts';
import { startSshd } from '../helpers/sshd.ts';
import type { SshdServer } from '../helpers/sshd.ts';
import { captureLog, keyConnection, sftpEnds, workspace } from './fixtures.ts';
import type { Workspace } from './fixtures.ts';

let server: SshdServer;
let ws: Workspace;

before(async () => {
  server = await startSshd();
});
after(async () => {
  await server.stop();
});
beforeEach(async () => {
  ws = await workspace();
});
afterEach(async () => {
  await ws.cleanup();
});

const T0 = new Date('2024-03-01T10:00:00Z');
const at = (seconds: number): Date => new Date(T0.getTime() + seconds * 1000);

async function put(rel: string, content: string | Buffer, mtime: Date): Promise<void> {
  const p = join(ws.src, rel);
  await mkdir(join(p, '..'), { recursive: true });
  await writeFile(p, content);
  await utimes(p, mtime, mtime);
}

async function tree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out[join(e.parentPath, e.name).slice(root.length + 1)] = await readFile(join(e.parentPath, e.name), 'utf8');
  }
  return out;
}

function sync(extra: Partial<Parameters<typeof runSync>[0]> = {}) {
  const { source, destination } = sftpEnds(server, ws);
  return runSync({ pipelineId: 'p1', source, destination, state: ws.state, ...extra });
}

describe('SFTP to SFTP sync', () => {
  it('first sync copies every file (nested too), preserves mtime and records per-file results', async () => {
    await put('a.txt', 'alpha', at(1));
    await put('sub/b.txt', 'bravo', at(2));
    await put('sub/deeper/c.bin', randomBytes(300_000), at(3));
    const s = await sync();
    assert.equal(s.filesSynced, 3);
    assert.equal(s.filesFailed, 0);
    assert.equal(s.bytesMoved, 5 + 5 + 300_000);
    assert.deepEqual(s.cursorAfter, { mtimeMs: at(3).getTime(), id: 'sub/deeper/c.bin' });
    assert.deepEqual(await readFile(join(ws.dst, 'sub/deeper/c.bin')), await readFile(join(ws.src, 'sub/deeper/c.bin')));
    assert.equal((await stat(join(ws.dst, 'sub/b.txt'))).mtimeMs, at(2).getTime());
    assert.deepEqual(Object.keys(await tree(ws.dst)).sort(), ['a.txt', 'sub/b.txt', 'sub/deeper/c.bin']);
    const results = await ws.state.fileResults(s.runId);
    assert.deepEqual(results.map((r) => [r.id, r.status]), [['a.txt', 'synced'], ['sub/b.txt', 'synced'], ['sub/deeper/c.bin', 'synced']]);
    assert.equal(results[2]!.bytesWritten, 300_000);
    assert.deepEqual(await ws.state.getCursor('p1'), s.cursorAfter);
    assert.deepEqual(
      (await ws.store.sync.listRuns('p1')).map((r) => [r.runId, r.status, r.mode, r.filesSynced, r.bytesMoved]),
      [[s.runId, 'success', 'cursor', 3, 5 + 5 + 300_000]],
    );
  });

  it('incremental sync transfers only new and modified files', async () => {
    await put('a.txt', 'alpha', at(1));
    await put('b.txt', 'bravo', at(2));
    assert.equal((await sync()).filesSynced, 2);
    const again = await sync();
    assert.equal(again.filesSynced, 0);
    await put('c.txt', 'charlie', at(3));
    await put('a.txt', 'alpha v2', at(4));
    const s = await sync();
    assert.equal(s.filesSynced, 2);
    assert.deepEqual((await ws.state.fileResults(s.runId)).map((r) => r.id), ['c.txt', 'a.txt']);
    assert.deepEqual(await tree(ws.dst), { 'a.txt': 'alpha v2', 'b.txt': 'bravo', 'c.txt': 'charlie' });
    assert.deepEqual(s.cursorAfter, { mtimeMs: at(4).getTime(), id: 'a.txt' });
  });

  it('ties in mtime are ordered by id, and a late file with the cursor mtime is not skipped', async () => {
    for (const name of ['m.txt', 'b.txt', 'z.txt']) await put(name, name, at(10));
    const s = await sync({ concurrency: 1 });
    assert.deepEqual((await ws.state.fileResults(s.runId)).map((r) => r.id), ['b.txt', 'm.txt', 'z.txt']);
    assert.deepEqual(s.cursorAfter, { mtimeMs: at(10).getTime(), id: 'z.txt' });
    // Arrives later with the same mtime second and an id before the cursor's.
    await put('c.txt', 'late', at(10));
    const s2 = await sync();
    assert.equal(s2.filesSynced, 1);
    assert.equal(s2.filesSkipped, 3);
    assert.equal(await readFile(join(ws.dst, 'c.txt'), 'utf8'), 'late');
    assert.deepEqual(await ws.state.getCursor('p1'), { mtimeMs: at(10).getTime(), id: 'z.txt' });
  });

  it('a file copied in with an old mtime: missed by cursor mode, synced by manifest mode', async () => {
    await put('new.txt', 'new', at(100));
    await sync();
    await put('copied-old.txt', 'copied with its old mtime', at(5));
    const cursorRun = await sync();
    assert.equal(cursorRun.filesSynced, 0, 'cursor mode cannot see it (the seed weakness)');
    const manifestRun = await sync({ mode: 'manifest' });
    assert.equal(manifestRun.filesSynced, 1);
    assert.equal(manifestRun.filesSkipped, 1);
    assert.equal(await readFile(join(ws.dst, 'copied-old.txt'), 'utf8'), 'copied with its old mtime');
    // Same name, same mtime, different size: manifest mode re-sends it.
    await put('copied-old.txt', 'copied with its old mtime, edited', at(5));
    assert.equal((await sync({ mode: 'manifest' })).filesSynced, 1);
    assert.equal(await readFile(join(ws.dst, 'copied-old.txt'), 'utf8'), 'copied with its old mtime, edited');
    assert.equal((await sync({ mode: 'manifest' })).filesSynced, 0);
  });

  it('deletions propagate only when asked, and only for files this pipeline synced', async () => {
    await put('keep.txt', 'k', at(1));
    await put('gone.txt', 'g', at(2));
    await sync();
    await writeFile(join(ws.dst, 'foreign.txt'), 'not ours');
    await rm(join(ws.src, 'gone.txt'));
    assert.equal((await sync()).filesDeleted, 0);
    assert.ok((await tree(ws.dst))['gone.txt'] !== undefined);
    const s = await sync({ propagateDeletes: true });
    assert.equal(s.filesDeleted, 1);
    assert.deepEqual(await tree(ws.dst), { 'keep.txt': 'k', 'foreign.txt': 'not ours' });
    assert.deepEqual((await ws.state.fileResults(s.runId)).map((r) => [r.id, r.status]), [['gone.txt', 'deleted']]);
  });

  it("applies the seed's whitespace transform and masks a token split across tiny chunks", async () => {
    await put('t.txt', 'my password is\u00a0secret 密码 password', at(1));
    const s = await sync({ transformers: [whitespaceToUnderscore(), maskToken('password')], chunkSize: 3 });
    assert.equal(s.filesSynced, 1);
    assert.equal(await readFile(join(ws.dst, 't.txt'), 'utf8'), 'my_********_is_secret_密码_********');
  });

  it('a token split at every possible chunk boundary through the real pipeline', async () => {
    const text = 'xx password yy';
    await put('t.txt', text, at(1));
    for (let chunkSize = 1; chunkSize <= text.length; chunkSize++) {
      await ws.state.reset('p1');
      await sync({ transformers: [maskToken('password')], chunkSize });
      assert.equal(await readFile(join(ws.dst, 't.txt'), 'utf8'), 'xx ******** yy', `chunkSize ${chunkSize}`);
    }
  });

  it('multi-byte UTF-8 split at every boundary through the real pipeline', async () => {
    const text = 'é 中😀\u3000x';
    await put('u.txt', text, at(1));
    for (let chunkSize = 1; chunkSize <= Buffer.byteLength(text); chunkSize++) {
      await ws.state.reset('p1');
      await sync({ transformers: [whitespaceToUnderscore()], chunkSize });
      assert.equal(await readFile(join(ws.dst, 'u.txt'), 'utf8'), 'é_中😀_x', `chunkSize ${chunkSize}`);
    }
  });

  it('a file that changes while it is read is not committed, and is retried next run', async () => {
    await put('a.txt', 'first', at(1));
    // Larger than the read-ahead window (4 MiB), so reads are still being issued when it grows.
    const firstPart = 'line 1\n'.repeat(1024 * 1024);
    await put('grows.log', firstPart, at(2));
    await put('z.txt', 'last', at(3));
    let appended = false;
    const appendWhileReading: Transformer = {
      name: 'appendWhileReading',
      async *apply(input, point) {
        for await (const c of input) {
          if (point.id === 'grows.log' && !appended) {
            appended = true;
            await appendFile(join(ws.src, 'grows.log'), 'line 2\n');
          }
          yield c;
        }
      },
    };
    const log = captureLog();
    const s = await sync({ transformers: [appendWhileReading], log, concurrency: 1 });
    assert.equal(s.filesFailed, 1);
    assert.equal(s.failures[0]!.status, 'changed');
    assert.match(s.failures[0]!.error, /"grows\.log" changed while it was read/);
    assert.equal((await tree(ws.dst))['grows.log'], undefined, 'never committed');
    assert.equal((await tree(ws.dst))['z.txt'], 'last', 'later files still go');
    assert.deepEqual(s.cursorAfter, { mtimeMs: at(1).getTime(), id: 'a.txt' }, 'cursor stops before the changed file');
    assert.ok(log.lines.some((l) => l.startsWith('WARN') && l.includes('grows.log')));
    const s2 = await sync();
    assert.equal(s2.filesSynced, 1);
    assert.equal((await tree(ws.dst))['grows.log'], firstPart + 'line 2\n');
    assert.equal(s2.filesSkipped, 2, 'a.txt (at the cursor) and z.txt are in the manifest and unchanged');
  });

  it('an existing destination file is backed up, replaced atomically, and revert restores it byte for byte', async () => {
    const original = randomBytes(200_000);
    await writeFile(join(ws.dst, 'data.bin'), original);
    const dest = new SftpDestination({ connection: keyConnection(server), root: ws.dst });
    await dest.connect();
    try {
      const w = await dest.begin({ id: 'data.bin', size: 5, mtimeMs: at(1).getTime() });
      await w.write(Buffer.from('new!!'));
      assert.deepEqual(await readFile(join(ws.dst, 'data.bin')), original, 'final name untouched while writing');
      assert.deepEqual((await readdir(ws.dst)).sort(), ['.data.bin.hangar-tmp', 'data.bin']);
      await w.commit();
      assert.equal(await readFile(join(ws.dst, 'data.bin'), 'utf8'), 'new!!');
      assert.deepEqual(await readFile(join(ws.dst, '.data.bin.hangar-bak')), original, 'backup kept until release');
      await w.revert();
      assert.deepEqual(await readFile(join(ws.dst, 'data.bin')), original, 'revert restores byte for byte');
      assert.deepEqual(await readdir(ws.dst), ['data.bin']);

      const w2 = await dest.begin({ id: 'data.bin', size: 3, mtimeMs: at(1).getTime() });
      await w2.write(Buffer.from('v2!'));
      await w2.commit();
      await w2.release();
      assert.deepEqual(await readdir(ws.dst), ['data.bin'], 'backup removed on release');
      assert.equal(await readFile(join(ws.dst, 'data.bin'), 'utf8'), 'v2!');

      const w3 = await dest.begin({ id: 'new/inner.txt', size: 1, mtimeMs: at(1).getTime() });
      await w3.write(Buffer.from('x'));
      await w3.revert();
      assert.deepEqual(await readdir(join(ws.dst, 'new')), [], 'reverting before commit leaves nothing behind');
    } finally {
      await dest.close();
    }
  });

  it('the connection killed mid-transfer: destination and cursor unchanged, the next run completes', async () => {
    await put('small.txt', 'small', at(1));
    await runSync({ pipelineId: 'p1', ...sftpEnds(server, ws), state: ws.state });
    const cursor = await ws.state.getCursor('p1');
    const big = randomBytes(48 * 1024 * 1024);
    await put('big.bin', big, at(2));
    const oldContent = Buffer.from('previous version of big.bin');
    await writeFile(join(ws.dst, 'big.bin'), oldContent);
    let seen = 0;
    let killed = false;
    const killer: Transformer = {
      name: 'killer',
      async *apply(input) {
        for await (const c of input) {
          seen += c.byteLength;
          if (!killed && seen > 8 * 1024 * 1024) {
            killed = true;
            await server.killSessions();
          }
          yield c;
        }
      },
    };
    const t = Date.now();
    await assert.rejects(
      runSync({ pipelineId: 'p1', ...sftpEnds(server, ws), state: ws.state, transformers: [killer], chunkSize: 64 * 1024 }),
      /connection (lost|is closed)|stopped/,
    );
    assert.ok(killed);
    assert.ok(Date.now() - t < 20_000, 'a dropped connection is an error, not a hang');
    assert.deepEqual(await readFile(join(ws.dst, 'big.bin')), oldContent, 'destination unchanged under the final name');
    assert.deepEqual(await ws.state.getCursor('p1'), cursor, 'cursor unchanged');
    const s = await runSync({ pipelineId: 'p1', ...sftpEnds(server, ws), state: ws.state });
    assert.equal(s.filesSynced, 1);
    const digest = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
    assert.equal(digest(await readFile(join(ws.dst, 'big.bin'))), digest(big));
    assert.deepEqual((await readdir(ws.dst)).sort(), ['big.bin', 'small.txt'], 'no temp or backup files left');
    assert.deepEqual(await ws.state.getCursor('p1'), { mtimeMs: at(2).getTime(), id: 'big.bin' });
  });

  it('a source that cannot be listed stops before anything moves', async () => {
    await put('a.txt', 'a', at(1));
    const log = captureLog();
    const missing = join(ws.dir, 'no-such-dir');
    await assert.rejects(
      runSync({
        pipelineId: 'p1',
        source: new SftpSource({ connection: keyConnection(server), root: missing }),
        destination: new SftpDestination({ connection: keyConnection(server), root: ws.dst }),
        state: ws.state,
        log,
      }),
      (err: unknown) => {
        assert.ok(err instanceof HealthCheckError);
        assert.equal(err.side, 'source');
        assert.match(err.message, new RegExp(`source health check failed for sftp://.*${missing}`));
        assert.match(err.message, /readdir ".*no-such-dir"/);
        return true;
      },
    );
    assert.deepEqual(await readdir(ws.dst), []);
    assert.equal(await ws.state.getCursor('p1'), null);
    assert.ok(log.lines.some((l) => l.startsWith('ERROR') && l.includes('no-such-dir')));
  });

  it('a destination that cannot be written fails the health check before anything moves', async () => {
    await put('a.txt', 'a', at(1));
    await writeFile(join(ws.dir, 'a-file'), 'x');
    await assert.rejects(
      runSync({
        pipelineId: 'p1',
        source: new SftpSource({ connection: keyConnection(server), root: ws.src }),
        destination: new SftpDestination({ connection: keyConnection(server), root: join(ws.dir, 'a-file') }),
        state: ws.state,
      }),
      (err: unknown) => err instanceof HealthCheckError && err.side === 'destination' && /destination health check failed/.test(err.message),
    );
    assert.equal(await ws.state.getCursor('p1'), null);
    assert.deepEqual(await ws.store.sync.listRuns('p1'), [], 'no run recorded');
  });

  it('DAG task bodies: health check, then sync returning the summary as XCom value', async () => {
    await put('a b.txt', 'hello world', at(1));
    const log = captureLog();
    const spec = {
      pipelineId: 'sftp_sync',
      source: () => new SftpSource({ connection: keyConnection(server), root: ws.src }),
      destination: () => new SftpDestination({ connection: keyConnection(server), root: ws.dst }),
      store: ws.store,
      transformers: [whitespaceToUnderscore()],
    };
    const report = await healthCheckTask(spec)({ log });
    assert.match(report.source, /^sftp:\/\//);
    const summary = await syncTask(spec)({ log });
    assert.equal(summary.filesSynced, 1);
    assert.equal(summary.bytesMoved, 11);
    assert.equal(await readFile(join(ws.dst, 'a b.txt'), 'utf8'), 'hello_world');
    assert.ok(JSON.parse(JSON.stringify(summary)).pipelineId === 'sftp_sync', 'summary is plain JSON');
    assert.ok(log.lines.some((l) => l.includes('health checks passed')));
    assert.throws(() => syncTask({ ...spec, pipelineId: 'bad id!' }), /invalid sync pipeline id "bad id!"/);
  });
});
