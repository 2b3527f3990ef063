import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MIGRATIONS, Store } from '../../src/runtime/store/index.ts';
import { workspaceStore } from '../helpers/store.ts';
import { tempWorkspace } from '../helpers/workspace.ts';

/** A workspace's store: the suite's (SQLite, or PostgreSQL under HANGAR_TEST_STORE=postgres). */
async function freshStore() {
  const ws = tempWorkspace();
  const path = workspaceStore(ws.root);
  return { ws, path, store: await Store.open(path) };
}

// Extra migrations of a test, in both dialects (a PostgreSQL store refuses one without its text).
const EXTRA = {
  version: 100,
  name: 'extra',
  sql: 'CREATE TABLE extra (x INTEGER)',
  postgres: 'CREATE TABLE extra (x BIGINT)',
};
const BROKEN = {
  version: 101,
  name: 'broken',
  sql: 'CREATE TABLE ok_part (x INTEGER); CREATE TABLE (',
  postgres: 'CREATE TABLE ok_part (x BIGINT); CREATE TABLE (',
};

const KEY = { dag_id: 'd', run_id: 'r', task_id: 't', map_index: -1 };

test('store: WAL mode (SQLite), numbered migrations applied once', async () => {
  const { ws, path, store } = await freshStore();
  try {
    if (store.sql.dialect === 'sqlite') {
      // The journal mode is SQLite's own: PostgreSQL has its write-ahead log whatever a client asks.
      const mode = store.db.prepare('PRAGMA journal_mode').get() as { journal_mode: string };
      assert.equal(mode.journal_mode, 'wal');
    }
    const core = Math.max(...MIGRATIONS.map((m) => m.version));
    assert.equal(await store.schemaVersion(), core);
    await store.close();
    const again = await Store.open(path, { extraMigrations: [EXTRA] });
    assert.equal(await again.schemaVersion(), 100);
    const versions = await again.sql.all<{ version: number }>(
      'SELECT version FROM schema_migrations ORDER BY version',
    );
    assert.deepEqual(
      versions.map((v) => v.version),
      [...MIGRATIONS.map((m) => m.version), 100],
    );
    await again.close();
    await assert.rejects(
      Store.open(path, { extraMigrations: [BROKEN] }),
      /Store migration 101 \(broken\) failed/,
    );
    // A store migrated further than this code knows is refused, and left as it is.
    await assert.rejects(
      Store.open(path),
      /has schema version 100, newer than this Hangar's \d+: a newer Hangar migrated it/,
    );
    const after = await Store.open(path, { extraMigrations: [EXTRA] });
    assert.equal(await after.schemaVersion(), 100, 'a failed migration leaves nothing half applied');
    await assert.rejects(
      after.sql.get('SELECT count(*) AS n FROM ok_part'),
      /ok_part/,
      'the table of the failed migration is not there',
    );
    await assert.rejects(
      Store.open(path, { extraMigrations: [{ version: 2, name: 'clash', sql: '', postgres: '' }] }),
      /Two store migrations share the number 2/,
    );
    await after.close();
  } finally {
    ws.remove();
  }
});

test('store: claiming a try is a guarded update that only one claimant wins', async () => {
  const { ws, path, store } = await freshStore();
  const other = await Store.open(path);
  try {
    await store.runs.insert({
      dag_id: 'd',
      run_id: 'r',
      run_type: 'manual',
      logical_date: 'x',
      data_interval_start: 'x',
      data_interval_end: 'x',
      state: 'running',
      conf: '{}',
      queued_at: 'x',
    });
    await store.tasks.insert([
      {
        ...KEY,
        max_tries: 1,
        operator: 'python',
        pool: 'default_pool',
        state: 'scheduled',
      },
    ]);
    const claim = {
      pid: 1,
      hostname: 'h',
      start_date: new Date().toISOString(),
      log_path: '/logs/attempt=1.log',
    };
    assert.deepEqual(await store.tasks.claimTries([{ key: KEY, expectedTryNumber: 0, log_path: claim.log_path }], ['scheduled'], claim), [true]);
    assert.deepEqual(
      await other.tasks.claimTries([{ key: KEY, expectedTryNumber: 0, log_path: claim.log_path }], ['scheduled'], claim),
      [false],
      'the second connection loses',
    );
    const ti = (await other.tasks.get('d', 'r', 't'))!;
    assert.equal(ti.state, 'running');
    assert.equal(ti.try_number, 1);
    // The claim records the try, once: the losing claim wrote no second record.
    assert.deepEqual(
      (await other.tasks.listTries('d', 'r', 't')).map((t) => [t.try_number, t.state, t.pid, t.log_path]),
      [[1, 'running', 1, '/logs/attempt=1.log']],
    );
    await assert.rejects(
      store.runs.insert({
        dag_id: 'd',
        run_id: 'r',
        run_type: 'manual',
        logical_date: 'x',
        data_interval_start: 'x',
        data_interval_end: 'x',
        state: 'running',
        conf: '{}',
        queued_at: 'x',
      }),
      /DAG "d" already has a run "r"/,
    );
  } finally {
    await other.close();
    await store.close();
    ws.remove();
  }
});

test('store: XCom prefixes are literal (underscores are not wildcards)', async () => {
  const { ws, store } = await freshStore();
  try {
    const put = (key: string) =>
      store.xcoms.put({
        ...KEY,
        key,
        value: new TextEncoder().encode('1'),
        chain: '["json"]',
        size_original: 1,
        size_stored: 1,
        sensitive: 0,
        created_at: new Date().toISOString(),
      });
    for (const k of ['data_source_a', 'data_source_b', 'dataXsourceXc', 'other']) await put(k);
    assert.deepEqual(
      (await store.xcoms.list({ dagId: 'd', keyPrefix: 'data_source_' })).map((r) => r.key),
      ['data_source_a', 'data_source_b'],
    );
    assert.equal((await store.xcoms.delete({ dagId: 'd', runId: 'r', key: 'other' })).length, 1);
    assert.equal((await store.xcoms.list({ dagId: 'd' })).length, 3);
  } finally {
    await store.close();
    ws.remove();
  }
});
