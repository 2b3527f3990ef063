/**
 * The store's statement layer (src/runtime/store/sql.ts): transactions follow the async flow.
 * SQLite whatever HANGAR_TEST_STORE says: these are tests of the SQLite driver itself (one
 * connection, BEGIN IMMEDIATE); the PostgreSQL driver's are in postgres-driver.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { SqliteDriver, toPostgresPlaceholders } from '../../src/runtime/store/sql.ts';

/** Rows come back with a null prototype; compare their fields. */
const plain = <T extends object>(rows: T[] | T | undefined) => JSON.parse(JSON.stringify(rows ?? null));

function driver(): SqliteDriver {
  const d = new SqliteDriver(new DatabaseSync(':memory:'), ':memory:');
  d.db.exec('CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)');
  return d;
}

test('sqlite: statements, a transaction commits, a throwing one rolls back and says why', async () => {
  const d = driver();
  await d.run('INSERT INTO t (k, v) VALUES (?, ?)', 'a', 1);
  assert.equal((await d.run('UPDATE t SET v = v + 1 WHERE k = ?', 'a')).changes, 1);
  await d.tx(async () => {
    await d.run('INSERT INTO t (k, v) VALUES (?, ?)', 'b', 2);
    assert.equal(d.inTransaction(), true);
  });
  await assert.rejects(
    d.tx(async () => {
      await d.run('INSERT INTO t (k, v) VALUES (?, ?)', 'c', 3);
      throw new Error('boom');
    }),
    /boom/,
  );
  assert.deepEqual(plain(await d.all('SELECT k, v FROM t ORDER BY k')), [
    { k: 'a', v: 2 },
    { k: 'b', v: 2 },
  ]);
  assert.equal(await d.get('SELECT * FROM t WHERE k = ?', 'zzz'), undefined);
  assert.equal(d.inTransaction(), false);
});

test('sqlite: a nested tx joins the outer one; another flow waits for the commit instead of slipping in', async () => {
  const d = driver();
  const seen: string[] = [];
  let inside!: () => void;
  const entered = new Promise<void>((r) => (inside = r));
  const outer = d.tx(async () => {
    await d.run('INSERT INTO t (k, v) VALUES (?, ?)', 'x', 1);
    inside();
    // Let the other flow try its statement while this transaction is open.
    await new Promise((r) => setTimeout(r, 20));
    await d.tx(async () => d.run('INSERT INTO t (k, v) VALUES (?, ?)', 'y', 1));
    seen.push('outer done');
    throw new Error('roll back both');
  });
  await entered;
  const other = d.run('INSERT INTO t (k, v) VALUES (?, ?)', 'other', 1).then(() => seen.push('other ran'));
  await assert.rejects(outer, /roll back both/);
  await other;
  assert.deepEqual(seen, ['outer done', 'other ran']);
  // The other flow's row was not part of the rolled-back transaction.
  assert.deepEqual(plain(await d.all('SELECT k FROM t ORDER BY k')), [{ k: 'other' }]);
});

test('sqlite: concurrent transactions run one after another', async () => {
  const d = driver();
  await d.run('INSERT INTO t (k, v) VALUES (?, ?)', 'n', 0);
  await Promise.all(
    Array.from({ length: 20 }, () =>
      d.tx(async () => {
        const row = await d.get<{ v: number }>('SELECT v FROM t WHERE k = ?', 'n');
        await new Promise((r) => setImmediate(r));
        await d.run('UPDATE t SET v = ? WHERE k = ?', row!.v + 1, 'n');
      }),
    ),
  );
  assert.deepEqual(plain(await d.get('SELECT v FROM t WHERE k = ?', 'n')), { v: 20 });
});

test('postgres placeholders: ? becomes $n outside quotes and comments', () => {
  assert.equal(
    toPostgresPlaceholders('SELECT \'?\' AS q, "a?" FROM t WHERE a = ? AND b IN (?, ?) -- why?\nAND c = ?'),
    'SELECT \'?\' AS q, "a?" FROM t WHERE a = $1 AND b IN ($2, $3) -- why?\nAND c = $4',
  );
});
