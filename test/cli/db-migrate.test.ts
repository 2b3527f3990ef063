/**
 * `hangar db migrate|check` on PostgreSQL (a real server, test/helpers/postgres.ts) and on
 * SQLite: the store chosen by --store, HANGAR_STORE_URL or hangar.json; the password never
 * printed; a store newer than the code refused with both versions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MIGRATIONS } from '../../src/runtime/store/migrations.ts';
import { migrate } from '../../src/runtime/store/migrate.ts';
import { openDriver } from '../../src/runtime/store/open.ts';
import { parseStoreTarget } from '../../src/runtime/store/target.ts';
import { freshDatabase } from '../helpers/postgres.ts';
import { tempWorkspace } from '../helpers/workspace.ts';
import { hangar } from '../helpers/cli.ts';

const CODE = Math.max(...MIGRATIONS.map((m) => m.version));

test('hangar db check|migrate on PostgreSQL: pending → applied, printed without the password; --store, HANGAR_STORE_URL, hangar.json', async () => {
  const ws = tempWorkspace();
  try {
    const db = await freshDatabase();
    const { password } = db.server;
    const redacted = `postgres://${db.server.user}@127.0.0.1:${db.server.port}/${db.name}`;
    const outputs: string[] = [];
    const run = (args: string[], env: NodeJS.ProcessEnv = {}) => {
      const r = hangar([...args, '--workspace', ws.root], { env });
      outputs.push(r.stdout, r.stderr);
      return r;
    };

    const before = run(['db', 'check', '--store', db.url]);
    assert.equal(before.code, 1, before.stderr);
    assert.match(
      before.stdout,
      new RegExp(`Store ${redacted.replace(/[/.]/g, '\\$&')}: schema version 0; this Hangar: ${CODE}\\.`),
    );
    assert.match(before.stdout, /pending 1 core\n/);
    assert.match(before.stdout, /Run "hangar db migrate" to apply the pending migrations\.$/m);
    assert.equal(before.stderr, '');

    // HANGAR_STORE_URL chooses the store when --store is absent.
    const applied = run(['db', 'migrate'], { HANGAR_STORE_URL: db.url });
    assert.equal(applied.code, 0, applied.stderr);
    const lines = applied.stdout.trim().split('\n');
    assert.deepEqual(
      lines.slice(0, -1),
      [...MIGRATIONS].sort((a, b) => a.version - b.version).map((m) => `applied ${m.version} ${m.name}`),
    );
    assert.equal(
      lines.at(-1),
      `Store ${redacted} migrated to schema version ${CODE} (${MIGRATIONS.length} applied).`,
    );

    // hangar.json's "store" with the password in PGPASSWORD instead of the URL.
    writeFileSync(join(ws.root, 'hangar.json'), JSON.stringify({ store: redacted }));
    const json = run(['db', 'check', '--json'], { PGPASSWORD: password });
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(JSON.parse(json.stdout), {
      store: redacted,
      dialect: 'postgres',
      schema_version: CODE,
      code_version: CODE,
      up_to_date: true,
      pending: [],
      unknown: [],
    });
    const again = run(['db', 'migrate', '--json'], { PGPASSWORD: password });
    assert.deepEqual((JSON.parse(again.stdout) as { applied: unknown[] }).applied, []);

    // A wrong password: a clear error naming host:port, exit 1, the password nowhere.
    const wrong = 'N0tTheRightOne!';
    const bad = run([
      'db',
      'check',
      '--store',
      `postgres://${db.server.user}:${encodeURIComponent(wrong)}@127.0.0.1:${db.server.port}/${db.name}`,
    ]);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      new RegExp(
        `hangar: PostgreSQL store at 127\\.0\\.0\\.1:${db.server.port}/${db.name}: password authentication failed`,
      ),
    );
    assert.ok(!bad.stderr.includes(wrong) && !bad.stdout.includes(wrong));

    // A store a newer Hangar migrated: check and migrate both refuse, naming both versions.
    const sql = openDriver(parseStoreTarget(db.url, '/'));
    await migrate(sql, [
      ...MIGRATIONS,
      { version: CODE + 3, name: 'newer', sql: '', postgres: 'CREATE TABLE newer (x BIGINT)' },
    ]);
    await sql.close();
    const newer = run(['db', 'migrate', '--json'], { PGPASSWORD: password });
    assert.equal(newer.code, 1);
    const doc = JSON.parse(newer.stderr) as { error: { code: string; message: string } };
    assert.equal(doc.error.code, 'store_too_new');
    assert.match(
      doc.error.message,
      new RegExp(`schema version ${CODE + 3}, newer than this Hangar's ${CODE}`),
    );
    const check = run(['db', 'check'], { PGPASSWORD: password });
    assert.equal(check.code, 1);
    assert.match(
      check.stdout,
      new RegExp(
        `unknown ${CODE + 3} \\(applied by a newer Hangar\\)\nThe store is newer than this Hangar: upgrade Hangar to use it\\.`,
      ),
    );

    for (const o of outputs) assert.ok(!o.includes(password), `the password was printed: ${o}`);
  } finally {
    ws.remove();
  }
});

test('hangar db check|migrate on SQLite: check creates nothing; migrate makes the default store; bad --store is a usage error', () => {
  // SQLite whatever HANGAR_TEST_STORE says: this is the default store's case (a file that check
  // must not create); the test above is PostgreSQL's, on a server of its own.
  const ws = tempWorkspace({}, undefined, { store: 'sqlite' });
  try {
    const path = join(ws.root, '.hangar', 'hangar.db');
    const check = hangar(['db', 'check', '--workspace', ws.root]);
    assert.equal(check.code, 1);
    assert.match(check.stdout, new RegExp(`schema version 0; this Hangar: ${CODE}\\.`));
    assert.equal(existsSync(path), false, 'check does not create the store');
    const m = hangar(['db', 'migrate', '--workspace', ws.root]);
    assert.equal(m.code, 0, m.stderr);
    assert.match(
      m.stdout,
      new RegExp(`Store ${path.replace(/[/.]/g, '\\$&')} migrated to schema version ${CODE}`),
    );
    assert.equal(hangar(['db', 'check', '--workspace', ws.root]).code, 0);
    const usage = hangar(['db', 'check', '--store', 'mysql://u:pw@h/db', '--workspace', ws.root]);
    assert.equal(usage.code, 2);
    assert.match(
      usage.stderr,
      /unsupported store "mysql:\/\/…@h\/db": give a SQLite file path or a postgres:\/\/ URL/,
    );
    assert.ok(!usage.stderr.includes('pw@'));
  } finally {
    ws.remove();
  }
});
