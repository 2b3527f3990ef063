/** Where the store is (src/runtime/store/target.ts): --store, HANGAR_STORE_URL, hangar.json, the default; the password kept out of sight. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import {
  parseStoreTarget,
  resolveStoreTarget,
  workspaceStoreTarget,
} from '../../src/runtime/store/target.ts';
import type { PostgresTarget } from '../../src/runtime/store/target.ts';
import { tempWorkspace } from '../helpers/workspace.ts';

test('store target: explicit, then HANGAR_STORE_URL, then hangar.json, then .hangar/hangar.db', () => {
  const root = '/ws';
  assert.deepEqual(resolveStoreTarget({ root, env: {} }), {
    kind: 'sqlite',
    path: '/ws/.hangar/hangar.db',
    redacted: '/ws/.hangar/hangar.db',
    location: '/ws/.hangar/hangar.db',
  });
  assert.equal(
    (resolveStoreTarget({ root, configured: 'data/h.db', env: {} }) as { path: string }).path,
    '/ws/data/h.db',
  );
  const env = { HANGAR_STORE_URL: 'postgres://a@db.example:6543/meta' };
  assert.equal(resolveStoreTarget({ root, configured: 'data/h.db', env }).kind, 'postgres');
  assert.equal(
    (resolveStoreTarget({ root, configured: 'x.db', explicit: '/abs/e.db', env }) as { path: string }).path,
    '/abs/e.db',
  );
  assert.equal(
    (resolveStoreTarget({ root, configured: ':memory:', env: {} }) as { path: string }).path,
    ':memory:',
  );

  const ws = tempWorkspace();
  try {
    writeFileSync(join(ws.root, 'hangar.json'), JSON.stringify({ store: 'postgresql://u@h/d' }));
    assert.equal(workspaceStoreTarget(ws.root, undefined, {}).redacted, 'postgres://u@h:5432/d');
    writeFileSync(join(ws.root, 'hangar.json'), JSON.stringify({ store: 5 }));
    assert.throws(
      () => workspaceStoreTarget(ws.root, undefined, {}),
      /hangar\.json: "store" must be a file path or a postgres:\/\/ URL/,
    );
  } finally {
    ws.remove();
  }
});

test('store target: a PostgreSQL URL — defaults, parameters, the password only from the URL or PGPASSWORD and never shown', () => {
  const t = parseStoreTarget(
    'postgres://etl:s%40cret!@db.internal:6432/hangar?sslmode=verify-full&sslrootcert=/ca.pem&connect_timeout=3&statement_timeout=5000',
    '/',
    {},
  ) as PostgresTarget;
  assert.deepEqual(
    { ...t, password: t.password },
    {
      kind: 'postgres',
      host: 'db.internal',
      port: 6432,
      database: 'hangar',
      user: 'etl',
      password: 's@cret!',
      sslmode: 'verify-full',
      sslrootcert: '/ca.pem',
      connectTimeoutMs: 3000,
      statementTimeoutMs: 5000,
      redacted:
        'postgres://etl@db.internal:6432/hangar?sslmode=verify-full&sslrootcert=/ca.pem&connect_timeout=3&statement_timeout=5000',
      location: 'db.internal:6432/hangar',
    },
  );
  for (const shown of [JSON.stringify(t), inspect(t), t.redacted, t.location, String(Object.keys(t))])
    assert.ok(!shown.includes('cret'), shown);
  const env = { PGPASSWORD: 'from-env', PGUSER: 'envuser' };
  const e = parseStoreTarget('postgres://[::1]/', '/', env) as PostgresTarget;
  assert.deepEqual(
    [e.host, e.port, e.user, e.database, e.password, e.sslmode, e.location],
    ['::1', 5432, 'envuser', 'envuser', 'from-env', 'disable', '[::1]:5432/envuser'],
  );
  assert.equal(
    (parseStoreTarget('postgres://u:inurl@h/d', '/', env) as PostgresTarget).password,
    'inurl',
    'the URL wins over PGPASSWORD',
  );
  assert.throws(
    () => parseStoreTarget('postgres://u:pw@h/d?sslmode=maybe', '/', {}),
    /sslmode must be disable, require, verify-ca or verify-full, not "maybe"/,
  );
  assert.throws(
    () => parseStoreTarget('postgres://u:pw@h/d?pool=3', '/', {}),
    /unknown PostgreSQL URL parameter "pool"/,
  );
  assert.throws(
    () => parseStoreTarget('postgres://u:pw@h:99999/d', '/', {}),
    (err: Error) => !err.message.includes('pw') && /not a valid PostgreSQL URL|port/.test(err.message),
  );
  assert.throws(
    () => parseStoreTarget('postgres://u:pw@h/d?statement_timeout=-1', '/', {}),
    /statement_timeout must be a whole number/,
  );
});

test('test harness: testStoreUrl gives the SQLite file by default and a fresh, working PostgreSQL database under HANGAR_TEST_STORE=postgres', async () => {
  const { testStoreUrl } = await import('../helpers/postgres.ts');
  const { openDriver } = await import('../../src/runtime/store/open.ts');
  const saved = process.env.HANGAR_TEST_STORE;
  try {
    delete process.env.HANGAR_TEST_STORE;
    assert.equal(await testStoreUrl('/w'), '/w/.hangar/hangar.db');
    process.env.HANGAR_TEST_STORE = 'postgres';
    const [a, b] = [await testStoreUrl('/w'), await testStoreUrl('/w')];
    assert.match(a, /^postgres:\/\/hangar:[0-9a-f]+@127\.0\.0\.1:\d+\/hangar_test_\d+_\d+$/);
    assert.notEqual(a, b, 'a fresh database each time');
    const sql = openDriver(parseStoreTarget(a, '/'));
    try {
      assert.deepEqual(await sql.all('SELECT current_database() AS d'), [{ d: a.split('/').pop() }]);
    } finally {
      await sql.close();
    }
    process.env.HANGAR_TEST_STORE = 'mysql';
    await assert.rejects(testStoreUrl('/w'), /HANGAR_TEST_STORE must be "sqlite" or "postgres", not "mysql"/);
  } finally {
    if (saved === undefined) delete process.env.HANGAR_TEST_STORE;
    else process.env.HANGAR_TEST_STORE = saved;
  }
});
