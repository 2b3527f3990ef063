/** The SQLite state machine and the local-directory source/destination. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, readdir, utimes, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
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
  it('persists the cursor per pipeline across connections and refuses to move it backwards', () => {
    ws.state.advanceCursor('a', { mtimeMs: 2000, id: 'x' });
    ws.state.advanceCursor('b', { mtimeMs: 1000, id: 'y' });
    const again = new SyncStateMachine(new DatabaseSync(join(ws.dir, 'hangar.sqlite')));
    assert.deepEqual(again.getCursor('a'), { mtimeMs: 2000, id: 'x' });
    assert.deepEqual(again.getCursor('b'), { mtimeMs: 1000, id: 'y' });
    assert.throws(() => ws.state.advanceCursor('a', { mtimeMs: 2000, id: 'w' }), /refusing to move the cursor of pipeline "a" backwards/);
    ws.state.advanceCursor('a', { mtimeMs: 2000, id: 'z' });
    assert.deepEqual(ws.state.getCursor('a'), { mtimeMs: 2000, id: 'z' });
    again.db.close();
  });

  it('names the problem: missing schema, bad pipeline id', () => {
    assert.throws(() => new SyncStateMachine(new DatabaseSync(':memory:')), /sync tables are missing.*SYNC_SCHEMA_SQL/);
    assert.throws(() => ws.state.getCursor(''), /invalid sync pipeline id ""/);
    assert.throws(() => ws.state.getCursor('has space'), /invalid sync pipeline id "has space"/);
  });

  it('a commit records manifest, result and cursor atomically', () => {
    const runId = ws.state.beginRun('p', 'cursor');
    const point = { id: 'f', size: 3, mtimeMs: 5000 };
    const result = { id: 'f', status: 'synced' as const, size: 3, mtimeMs: 5000, bytesRead: 3, bytesWritten: 3, durationMs: 1 };
    // A cursor that would move backwards makes the whole transaction fail: nothing is recorded.
    ws.state.advanceCursor('p', { mtimeMs: 9000, id: 'z' });
    assert.throws(() => ws.state.recordCommitted(runId, 'p', point, result, { mtimeMs: 5000, id: 'f' }));
    assert.equal(ws.state.getManifest('p').size, 0);
    assert.deepEqual(ws.state.fileResults(runId), []);
    ws.state.recordCommitted(runId, 'p', point, result, { mtimeMs: 9000, id: 'zz' });
    assert.deepEqual(ws.state.getManifest('p').get('f'), { size: 3, mtimeMs: 5000 });
    assert.equal(ws.state.fileResults(runId).length, 1);
  });
});

describe('local directories', () => {
  it('local to local sync with a transform, then incremental', async () => {
    await mkdir(join(ws.src, 'd'));
    await writeFile(join(ws.src, 'd', 'a b.txt'), 'a b\tc');
    await utimes(join(ws.src, 'd', 'a b.txt'), 1000, 1000);
    const sync = () =>
      runSync({ pipelineId: 'local', source: new LocalSource({ root: ws.src }), destination: new LocalDestination({ root: ws.dst }), state: ws.state, transformers: [whitespaceToUnderscore()] });
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
    await assert.rejects(d.begin({ id: '../evil', size: 0, mtimeMs: 0 }), /invalid data point id "\.\.\/evil"/);
    await assert.rejects(d.begin({ id: '/abs', size: 0, mtimeMs: 0 }), /invalid data point id "\/abs"/);
  });

  it('a local source that cannot be listed fails the health check naming the path', async () => {
    await assert.rejects(
      runSync({ pipelineId: 'x', source: new LocalSource({ root: join(ws.dir, 'nope') }), destination: new LocalDestination({ root: ws.dst }), state: ws.state }),
      /source health check failed for file:\/\/.*nope.*ENOENT/,
    );
  });

  it('option errors name the pipeline', async () => {
    const base = { source: new LocalSource({ root: ws.src }), destination: new LocalDestination({ root: ws.dst }), state: ws.state };
    await assert.rejects(runSync({ ...base, pipelineId: 'p', chunkSize: 0 }), /sync pipeline "p": chunkSize must be a positive integer/);
    await assert.rejects(runSync({ ...base, pipelineId: 'p', mode: 'bogus' as 'cursor' }), /sync pipeline "p": unknown mode "bogus"/);
    assert.throws(
      () => new SftpSource({ connection: { host: 'h.example', username: 'u', password: 'pw', hostKey: { fingerprint: 'nope' } }, root: '/' }),
      /SFTP connection u@h\.example:22: host key fingerprint "nope" is not of the form/,
    );
    assert.throws(
      () => new SftpSource({ connection: { host: 'h.example', username: 'u', password: 'pw' } as never, root: '/' }),
      /u@h\.example:22: hostKey is required/,
    );
  });
});
