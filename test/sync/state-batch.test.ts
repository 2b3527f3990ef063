/**
 * Batched state writes: a crash between two batch commits re-sends at most the
 * data points not yet recorded and never skips one; a batch the store refuses
 * is reverted at the destination as a whole.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, readdir, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { runSync } from '../../src/runtime/sync/pipeline.ts';
import { SyncStateMachine } from '../../src/runtime/sync/state.ts';
import { compareCursor } from '../../src/runtime/sync/types.ts';
import type { Cursor, FileResult, PointInfo } from '../../src/runtime/sync/types.ts';
import { startSshd } from '../helpers/sshd.ts';
import type { SshdServer } from '../helpers/sshd.ts';
import type { CrashJob } from './crash-worker.ts';
import { sftpEnds, workspace } from './fixtures.ts';
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

const T0 = Date.parse('2024-03-01T10:00:00Z');

/** n files f000.dat… with distinct contents and mtimes T0 + i s (so the list order is the name order). */
async function makeSource(n: number): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (let i = 0; i < n; i++) {
    const id = `f${String(i).padStart(3, '0')}.dat`;
    const content = randomBytes(512 + i);
    await writeFile(join(ws.src, id), content);
    const t = new Date(T0 + i * 1000);
    await utimes(join(ws.src, id), t, t);
    files.set(id, content);
  }
  return files;
}

async function finalNames(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => !n.startsWith('.')).sort();
}

describe('batched state writes', () => {
  it('a crash between batch commits never skips a file and re-sends at most the unrecorded batch', async () => {
    const N = 120;
    const B = 16;
    const concurrency = 4;
    const K = 3 * B + B / 2; // dies with three batches recorded and half a batch committed but not recorded
    const files = await makeSource(N);
    const job: CrashJob = {
      host: server.host,
      port: server.port,
      username: server.username,
      privateKeyFile: server.privateKeyFile,
      knownHostsFile: server.knownHostsFile,
      src: ws.src,
      dst: ws.dst,
      store: ws.storeUrl,
      stateBatchFiles: B,
      concurrency,
      killAfterCommits: K,
    };
    const child = spawnSync(
      process.execPath,
      [join(import.meta.dirname, 'crash-worker.ts'), JSON.stringify(job)],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    assert.equal(child.signal, 'SIGKILL', `the worker should have crashed: ${child.stdout}${child.stderr}`);

    // What survived the crash: only whole batches.
    const manifest = await ws.state.getManifest('crash');
    assert.equal(manifest.size, 3 * B, 'three batches were recorded, the fourth was lost with the process');
    const cursor = await ws.state.getCursor('crash');
    assert.ok(cursor !== null, 'the cursor moved with the recorded batches');

    // Never skipped: everything up to the cursor is recorded and in place, byte for byte.
    const covered = [...files.keys()].filter(
      (id, i) => compareCursor({ mtimeMs: T0 + i * 1000, id }, cursor) <= 0,
    );
    assert.ok(covered.length > 0 && covered.length <= 3 * B);
    for (const id of covered) {
      assert.ok(manifest.has(id), `"${id}" is behind the cursor but not recorded`);
      assert.deepEqual(
        await readFile(join(ws.dst, id)),
        files.get(id),
        `"${id}" is behind the cursor but not in place`,
      );
    }

    // Committed at the destination but not recorded: what the next run re-sends.
    const before = await finalNames(ws.dst);
    const unrecorded = before.filter((id) => !manifest.has(id));
    assert.ok(
      unrecorded.length >= B / 2,
      `the unrecorded half batch is at the destination (${unrecorded.length})`,
    );
    assert.ok(
      unrecorded.length <= B + concurrency - 1,
      `at most one batch plus the files in flight: ${unrecorded.length}`,
    );

    // The next run completes: it sends everything not recorded (re-sending the unrecorded batch) and nothing else.
    const s = await runSync({
      pipelineId: 'crash',
      ...sftpEnds(server, ws),
      state: new SyncStateMachine(ws.store.sync),
      stateBatchFiles: B,
    });
    assert.equal(s.filesFailed, 0, JSON.stringify(s.failures));
    assert.equal(s.filesSynced, N - 3 * B, 'recorded files are not sent again');
    const resent = (await ws.state.fileResults(s.runId)).filter(
      (r) => r.status === 'synced' && before.includes(r.id),
    );
    assert.deepEqual(
      resent.map((r) => r.id).sort(),
      unrecorded,
      're-sent exactly the committed but unrecorded files',
    );
    assert.deepEqual(await finalNames(ws.dst), [...files.keys()].sort());
    for (const [id, content] of files) assert.deepEqual(await readFile(join(ws.dst, id)), content, id);
    assert.deepEqual(
      (await readdir(ws.dst)).filter((n) => n.startsWith('.')),
      [],
      'no temporary or backup files left',
    );
    assert.deepEqual(await ws.state.getCursor('crash'), {
      mtimeMs: T0 + (N - 1) * 1000,
      id: `f${N - 1}.dat`,
    });
  });

  it('a batch refused while later batches wait never lets the cursor pass its files', async () => {
    const N = 48;
    const B = 4;
    const files = await makeSource(N);
    // The second batch's transaction is slow and then fails; meanwhile four workers keep committing
    // files and filling batches behind it. A later batch's cursor must not be computed as if the
    // refused batch were recorded.
    class SlowFailingSecondBatch extends SyncStateMachine {
      calls = 0;
      override async recordCommittedBatch(
        runId: string,
        pipelineId: string,
        entries: readonly { point: PointInfo; result: FileResult }[],
        cursor: Cursor | null = null,
      ): Promise<void> {
        if (entries.length > 0 && ++this.calls === 2) {
          await new Promise((r) => setTimeout(r, 300));
          throw new Error('disk I/O error (injected)');
        }
        await super.recordCommittedBatch(runId, pipelineId, entries, cursor);
      }
    }
    const state = new SlowFailingSecondBatch(ws.store.sync);
    await assert.rejects(
      runSync({
        pipelineId: 'ordered',
        ...sftpEnds(server, ws),
        state,
        stateBatchFiles: B,
        stateBatchMs: 600_000,
        concurrency: 4,
      }),
      /could not record 4 file\(s\).*disk I\/O error \(injected\)/,
    );
    const manifest = await ws.state.getManifest('ordered');
    const cursor = await ws.state.getCursor('ordered');
    assert.ok(cursor !== null, 'the first batch moved the cursor');
    const ids = [...files.keys()];
    const covered = ids.filter((id, i) => compareCursor({ mtimeMs: T0 + i * 1000, id }, cursor) <= 0);
    for (const id of covered) {
      assert.ok(manifest.has(id), `"${id}" is behind the cursor (${cursor.id}) but not recorded`);
      assert.deepEqual(
        await readFile(join(ws.dst, id)),
        files.get(id),
        `"${id}" is behind the cursor but not in place`,
      );
    }
    // The next run sends what is missing and ends with everything in place.
    const s = await runSync({
      pipelineId: 'ordered',
      ...sftpEnds(server, ws),
      state: ws.state,
      stateBatchFiles: B,
    });
    assert.equal(s.filesFailed, 0, JSON.stringify(s.failures));
    for (const [id, content] of files) assert.deepEqual(await readFile(join(ws.dst, id)), content, id);
    assert.deepEqual(await ws.state.getCursor('ordered'), { mtimeMs: T0 + (N - 1) * 1000, id: ids[N - 1] });
  });

  it('a batch the state store refuses is reverted at the destination as a whole; earlier batches stay', async () => {
    const N = 40;
    const B = 8;
    const files = await makeSource(N);
    // An existing destination file inside the refused batch must come back byte for byte.
    const previous = Buffer.from('the previous version');
    await writeFile(join(ws.dst, 'f010.dat'), previous);
    class FailingSecondBatch extends SyncStateMachine {
      calls = 0;
      override async recordCommittedBatch(
        runId: string,
        pipelineId: string,
        entries: readonly { point: PointInfo; result: FileResult }[],
        cursor: Cursor | null = null,
      ): Promise<void> {
        if (entries.length > 0 && ++this.calls === 2) throw new Error('disk I/O error (injected)');
        await super.recordCommittedBatch(runId, pipelineId, entries, cursor);
      }
    }
    const state = new FailingSecondBatch(ws.store.sync);
    await assert.rejects(
      runSync({
        pipelineId: 'refused',
        ...sftpEnds(server, ws),
        state,
        stateBatchFiles: B,
        stateBatchMs: 600_000,
        concurrency: 1,
      }),
      /sync pipeline "refused": could not record 8 file\(s\) \("f008\.dat", …\) in the state store: disk I\/O error \(injected\)/,
    );
    const manifest = await ws.state.getManifest('refused');
    assert.deepEqual(
      [...manifest.keys()].sort(),
      [...files.keys()].slice(0, B),
      'the first batch is recorded',
    );
    assert.deepEqual(await ws.state.getCursor('refused'), {
      mtimeMs: T0 + (B - 1) * 1000,
      id: `f00${B - 1}.dat`,
    });
    assert.deepEqual(
      await finalNames(ws.dst),
      [...files.keys()].slice(0, B).concat('f010.dat').sort(),
      'the refused batch is gone',
    );
    assert.deepEqual(
      await readFile(join(ws.dst, 'f010.dat')),
      previous,
      'and the file it replaced is restored',
    );
  });
});
