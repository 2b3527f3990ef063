/** The sync state (store.sync) and the local-directory source/destination. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, readdir, utimes, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Store } from '../../src/runtime/store/store.ts';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { LocalDestination, LocalSource } from '../../src/runtime/sync/local.ts';
import { runSync } from '../../src/runtime/sync/pipeline.ts';
import { SyncStateMachine } from '../../src/runtime/sync/state.ts';
import { SftpSource } from '../../src/runtime/sync/sftp.ts';
import { whitespaceToUnderscore } from '../../src/runtime/sync/transform.ts';
import { workspace } from './fixtures.ts';
import type { Workspace } from './fixtures.ts';

let ws: Workspace;
beforeEach(async () => {
  ws = await workspace();
});
afterEach(async () => {
  await ws.cleanup();
});

describe('SyncStateMachine', () => {
  it('persists the cursor per pipeline across connections and refuses to move it backwards', async () => {
    await ws.state.advanceCursor('a', { mtimeMs: 2000, id: 'x' });
    await ws.state.advanceCursor('b', { mtimeMs: 1000, id: 'y' });
    const other = await Store.open(ws.store.target);
    try {
      const again = new SyncStateMachine(other.sync);
      assert.deepEqual(await again.getCursor('a'), { mtimeMs: 2000, id: 'x' });
      assert.deepEqual(await again.getCursor('b'), { mtimeMs: 1000, id: 'y' });
      await assert.rejects(
        ws.state.advanceCursor('a', { mtimeMs: 2000, id: 'w' }),
        /refusing to move the cursor of pipeline "a" backwards/,
      );
      await ws.state.advanceCursor('a', { mtimeMs: 2000, id: 'z' });
      assert.deepEqual(await again.getCursor('a'), { mtimeMs: 2000, id: 'z' });
    } finally {
      await other.close();
    }
  });

  it('names the problem: bad pipeline id', async () => {
    await assert.rejects(ws.state.getCursor(''), /invalid sync pipeline id ""/);
    await assert.rejects(ws.state.getCursor('has space'), /invalid sync pipeline id "has space"/);
    await assert.rejects(ws.state.reset('has space'), /invalid sync pipeline id "has space"/);
  });

  it('a commit records manifest, result and cursor atomically', async () => {
    const runId = await ws.state.beginRun('p', 'cursor');
    const point = { id: 'f', size: 3, mtimeMs: 5000 };
    const result = {
      id: 'f',
      status: 'synced' as const,
      size: 3,
      mtimeMs: 5000,
      bytesRead: 3,
      bytesWritten: 3,
      durationMs: 1,
    };
    // A cursor that would move backwards makes the whole transaction fail: nothing is recorded.
    await ws.state.advanceCursor('p', { mtimeMs: 9000, id: 'z' });
    await assert.rejects(
      ws.state.recordCommitted(runId, 'p', point, result, { mtimeMs: 5000, id: 'f' }),
      /backwards/,
    );
    assert.equal((await ws.state.getManifest('p')).size, 0);
    assert.deepEqual(await ws.state.fileResults(runId), []);
    await ws.state.recordCommitted(runId, 'p', point, result, { mtimeMs: 9000, id: 'zz' });
    assert.deepEqual((await ws.state.getManifest('p')).get('f'), { size: 3, mtimeMs: 5000 });
    assert.equal((await ws.state.fileResults(runId)).length, 1);
    assert.deepEqual(await ws.state.getCursor('p'), { mtimeMs: 9000, id: 'zz' });
  });

  it('a result recorded twice in a run keeps the last one; a deletion leaves the manifest', async () => {
    const runId = await ws.state.beginRun('p', 'manifest');
    const base = { id: 'f', size: 3, mtimeMs: 5000, bytesRead: 3, bytesWritten: 0, durationMs: 1 };
    await ws.state.recordFailure(runId, 'p', { ...base, status: 'failed', error: 'first' });
    await ws.state.recordCommitted(
      runId,
      'p',
      { id: 'f', size: 3, mtimeMs: 5000 },
      { ...base, status: 'synced', bytesWritten: 3 },
    );
    assert.deepEqual(await ws.state.fileResults(runId), [{ ...base, status: 'synced', bytesWritten: 3 }]);
    await ws.state.recordDeleted(runId, 'p', { ...base, status: 'deleted', bytesRead: 0 });
    assert.equal((await ws.state.getManifest('p')).size, 0);
    assert.deepEqual(
      (await ws.state.fileResults(runId)).map((r) => r.status),
      ['deleted'],
    );
    await ws.state.finishRun(runId, null, 'stopped');
    const [run] = await ws.store.sync.listRuns('p');
    assert.equal(run!.status, 'failed');
    assert.equal(run!.error, 'stopped');
    assert.ok(run!.finishedAt !== null);
  });
});

describe('local directories', () => {
  it('local to local sync with a transform, then incremental', async () => {
    await mkdir(join(ws.src, 'd'));
    await writeFile(join(ws.src, 'd', 'a b.txt'), 'a b\tc');
    await utimes(join(ws.src, 'd', 'a b.txt'), 1000, 1000);
    const sync = () =>
      runSync({
        pipelineId: 'local',
        source: new LocalSource({ root: ws.src }),
        destination: new LocalDestination({ root: ws.dst }),
        state: ws.state,
        transformers: [whitespaceToUnderscore()],
      });
    assert.equal((await sync()).filesSynced, 1);
    assert.equal(await readFile(join(ws.dst, 'd', 'a b.txt'), 'utf8'), 'a_b_c');
    assert.equal((await sync()).filesSynced, 0);
    await writeFile(join(ws.src, 'new.txt'), 'n');
    assert.equal((await sync()).filesSynced, 1);
  });

  it('local destination: backup, atomic replace, revert restores byte for byte', async () => {
    const original = randomBytes(50_000);
    await writeFile(join(ws.dst, 'f.bin'), original);
    const d = new LocalDestination({ root: ws.dst });
    const w = await d.begin({ id: 'f.bin', size: 1, mtimeMs: Date.now() });
    await w.write(Buffer.from('x'));
    assert.deepEqual(await readFile(join(ws.dst, 'f.bin')), original);
    await w.commit();
    assert.equal(await readFile(join(ws.dst, 'f.bin'), 'utf8'), 'x');
    await w.revert();
    assert.deepEqual(await readFile(join(ws.dst, 'f.bin')), original);
    assert.deepEqual(await readdir(ws.dst), ['f.bin']);
  });

  it('rejects ids that escape the root', async () => {
    const d = new LocalDestination({ root: ws.dst });
    await assert.rejects(
      d.begin({ id: '../evil', size: 0, mtimeMs: 0 }),
      /invalid data point id "\.\.\/evil"/,
    );
    await assert.rejects(d.begin({ id: '/abs', size: 0, mtimeMs: 0 }), /invalid data point id "\/abs"/);
  });

  it('a local source that cannot be listed fails the health check naming the path', async () => {
    await assert.rejects(
      runSync({
        pipelineId: 'x',
        source: new LocalSource({ root: join(ws.dir, 'nope') }),
        destination: new LocalDestination({ root: ws.dst }),
        state: ws.state,
      }),
      /source health check failed for file:\/\/.*nope.*ENOENT/,
    );
  });

  it('option errors name the pipeline', async () => {
    const base = {
      source: new LocalSource({ root: ws.src }),
      destination: new LocalDestination({ root: ws.dst }),
      state: ws.state,
    };
    await assert.rejects(
      runSync({ ...base, pipelineId: 'p', chunkSize: 0 }),
      /sync pipeline "p": chunkSize must be a positive integer/,
    );
    await assert.rejects(
      runSync({ ...base, pipelineId: 'p', mode: 'bogus' as 'cursor' }),
      /sync pipeline "p": unknown mode "bogus"/,
    );
    assert.throws(
      () =>
        new SftpSource({
          connection: { host: 'h.example', username: 'u', password: 'pw', hostKey: { fingerprint: 'nope' } },
          root: '/',
        }),
      /SFTP connection u@h\.example:22: host key fingerprint "nope" is not of the form/,
    );
    assert.throws(
      () =>
        new SftpSource({
          connection: { host: 'h.example', username: 'u', password: 'pw' } as never,
          root: '/',
        }),
      /u@h\.example:22: hostKey is required/,
    );
  });
});
