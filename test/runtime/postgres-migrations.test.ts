/**
 * Store migrations on both dialects (src/runtime/store/migrate.ts): the PostgreSQL
 * baseline agrees with the schema SQLite's migrations 1–11 build; concurrent starts apply
 * each migration once; a migration killed mid-way leaves the previous version; a store
 * newer than the code is refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { MIGRATIONS } from '../../src/runtime/store/migrations.ts';
import type { Migration } from '../../src/runtime/store/migrations.ts';
import { migrate, schemaStatus, StoreTooNewError } from '../../src/runtime/store/migrate.ts';
import { openDriver } from '../../src/runtime/store/open.ts';
import { parseStoreTarget } from '../../src/runtime/store/target.ts';
import { POSTGRES_BASELINE_VERSION } from '../../src/runtime/store/postgres-baseline.ts';
import { Store } from '../../src/runtime/store/store.ts';
import type { SqlDriver } from '../../src/runtime/store/sql.ts';
import { freshDatabase } from '../helpers/postgres.ts';

const CODE_VERSION = Math.max(...MIGRATIONS.map((m) => m.version));

async function pgDriver(url?: string): Promise<SqlDriver> {
  return openDriver(parseStoreTarget(url ?? (await freshDatabase()).url, '/'));
}

function sqliteDriver(): { sql: SqlDriver; done: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-migrate-'));
  return {
    sql: openDriver(parseStoreTarget('.hangar/hangar.db', dir)),
    done: () => rmSync(dir, { recursive: true, force: true }),
  };
}

interface Column {
  name: string;
  type: string;
  notnull: boolean;
  pk: number;
}
interface Schema {
  columns: Map<string, Column[]>;
  /** table → index signatures: `unique(cols)` / `index name(cols)`; the primary key as `pk(cols)`. */
  indexes: Map<string, string[]>;
}

async function sqliteSchema(sql: SqlDriver): Promise<Schema> {
  const tables = await sql.all<{ name: string }>(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
  );
  const columns = new Map<string, Column[]>();
  const indexes = new Map<string, string[]>();
  for (const { name } of tables) {
    const cols = await sql.all<{ name: string; type: string; notnull: number; pk: number }>(
      `PRAGMA table_info(${name})`,
    );
    columns.set(
      name,
      cols.map((c) => ({ name: c.name, type: c.type.toUpperCase(), notnull: c.notnull === 1, pk: c.pk })),
    );
    const sigs: string[] = [];
    const pk = cols
      .filter((c) => c.pk > 0)
      .sort((a, b) => a.pk - b.pk)
      .map((c) => c.name);
    if (pk.length) sigs.push(`pk(${pk.join(',')})`);
    for (const ix of await sql.all<{ name: string; unique: number; origin: string }>(
      `PRAGMA index_list(${name})`,
    )) {
      if (ix.origin === 'pk') continue;
      const ixCols = (await sql.all<{ name: string; seqno: number }>(`PRAGMA index_info(${ix.name})`))
        .sort((a, b) => a.seqno - b.seqno)
        .map((c) => c.name);
      sigs.push(
        ix.origin === 'u'
          ? `unique(${ixCols.join(',')})`
          : `${ix.unique ? 'unique ' : ''}index ${ix.name}(${ixCols.join(',')})`,
      );
    }
    indexes.set(name, sigs.sort());
  }
  return { columns, indexes };
}

async function postgresSchema(sql: SqlDriver): Promise<Schema> {
  const rows = await sql.all<{
    table_name: string;
    column_name: string;
    data_type: string;
    is_nullable: string;
  }>(
    `SELECT table_name, column_name, data_type, is_nullable FROM information_schema.columns
     WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`,
  );
  const columns = new Map<string, Column[]>();
  for (const r of rows) {
    if (!columns.has(r.table_name)) columns.set(r.table_name, []);
    columns
      .get(r.table_name)!
      .push({ name: r.column_name, type: r.data_type, notnull: r.is_nullable === 'NO', pk: 0 });
  }
  const ixRows = await sql.all<{
    tbl: string;
    name: string;
    uniq: boolean;
    pk: boolean;
    constraint_kind: string | null;
    cols: string;
  }>(
    `SELECT t.relname AS tbl, i.relname AS name, ix.indisunique AS uniq, ix.indisprimary AS pk,
       (SELECT c.contype::text FROM pg_constraint c WHERE c.conindid = ix.indexrelid LIMIT 1) AS constraint_kind,
       array_to_string(ARRAY(SELECT a.attname FROM unnest(ix.indkey) WITH ORDINALITY k(attnum, ord)
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.ord), ',') AS cols
     FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid
     JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = current_schema()`,
  );
  const indexes = new Map<string, string[]>();
  for (const r of ixRows) {
    if (!indexes.has(r.tbl)) indexes.set(r.tbl, []);
    const sig = r.pk
      ? `pk(${r.cols})`
      : r.constraint_kind === 'u'
        ? `unique(${r.cols})`
        : `${r.uniq ? 'unique ' : ''}index ${r.name}(${r.cols})`;
    indexes.get(r.tbl)!.push(sig);
  }
  for (const v of indexes.values()) v.sort();
  return { columns, indexes };
}

/** SQLite's declared type → the PostgreSQL types that hold the same values. */
const COMPATIBLE: Record<string, string[]> = {
  INTEGER: ['bigint'],
  TEXT: ['text'],
  REAL: ['double precision'],
  BLOB: ['bytea'],
};

/** The one column PostgreSQL adds: insertion order where SQLite has its rowid (ROW_ORDER in sql.ts). */
const ROW_SEQ = 'row_seq';

test('postgres baseline: every table, column (compatible type, NOT NULL), primary key, unique key and index of SQLite migrations 1–11', async () => {
  const lite = sqliteDriver();
  const pg = await pgDriver();
  try {
    const baseline = MIGRATIONS.filter((m) => m.version <= POSTGRES_BASELINE_VERSION);
    await migrate(lite.sql, baseline);
    await migrate(pg, baseline);
    const a = await sqliteSchema(lite.sql);
    const b = await postgresSchema(pg);
    assert.deepEqual([...b.columns.keys()].sort(), [...a.columns.keys()].sort(), 'the same tables');
    assert.ok(a.columns.size >= 20, `${a.columns.size} tables compared`);
    let compared = 0;
    for (const [table, liteCols] of a.columns) {
      const pgCols = b.columns.get(table)!;
      const extra = pgCols.filter((c) => !liteCols.some((l) => l.name === c.name)).map((c) => c.name);
      assert.ok(
        extra.every((n) => n === ROW_SEQ),
        `${table}: PostgreSQL has extra columns ${extra.join(', ')}`,
      );
      assert.deepEqual(
        pgCols.filter((c) => c.name !== ROW_SEQ).map((c) => c.name),
        liteCols.map((c) => c.name),
        `${table}: the same columns in the same order`,
      );
      for (const l of liteCols) {
        const p = pgCols.find((c) => c.name === l.name)!;
        assert.ok(
          COMPATIBLE[l.type]?.includes(p.type),
          `${table}.${l.name}: SQLite ${l.type} vs PostgreSQL ${p.type}`,
        );
        // SQLite lets a non-INTEGER primary key column hold NULL unless declared NOT NULL; PostgreSQL's never does.
        if (l.pk === 0) assert.equal(p.notnull, l.notnull, `${table}.${l.name}: NOT NULL differs`);
        compared++;
      }
      const pgIndexes = (b.indexes.get(table) ?? []).filter((s) => s !== `unique(${ROW_SEQ})`);
      assert.deepEqual(pgIndexes, a.indexes.get(table), `${table}: keys and indexes`);
    }
    assert.ok(compared > 150, `${compared} columns compared`);
    // Tables read in insertion order have PostgreSQL's row_seq.
    for (const t of ['task_instances', 'xcom'])
      assert.ok(
        b.columns.get(t)!.some((c) => c.name === ROW_SEQ),
        t,
      );
    // Both record versions 1–11.
    for (const sql of [lite.sql, pg]) {
      assert.deepEqual(
        (await sql.all<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).map(
          (r) => Number(r.version),
        ),
        baseline.map((m) => m.version).sort((x, y) => x - y),
      );
    }
  } finally {
    await pg.close();
    await lite.sql.close();
    lite.done();
  }
});

test('migrate: applies what is missing in order, once; reports the status; works on a store the Store class made', async () => {
  for (const kind of ['sqlite', 'postgres'] as const) {
    const lite = kind === 'sqlite' ? sqliteDriver() : undefined;
    const sql = lite ? lite.sql : await pgDriver();
    try {
      assert.deepEqual(
        { ...(await schemaStatus(sql)), pending: undefined },
        {
          location: sql.location,
          storeVersion: 0,
          codeVersion: CODE_VERSION,
          pending: undefined,
          unknown: [],
        },
      );
      const heard: number[] = [];
      const first = await migrate(sql, MIGRATIONS, (m) => heard.push(m.version));
      assert.deepEqual(
        first.applied.map((m) => m.version),
        MIGRATIONS.map((m) => m.version).sort((x, y) => x - y),
      );
      assert.deepEqual(
        heard,
        first.applied.map((m) => m.version),
      );
      assert.equal(first.version, CODE_VERSION);
      assert.deepEqual((await migrate(sql)).applied, [], `${kind}: nothing the second time`);
      const extra: Migration = {
        version: CODE_VERSION + 1,
        name: 'a later one',
        sql: 'CREATE TABLE later (x INTEGER)',
        postgres: 'CREATE TABLE later (x BIGINT)',
      };
      assert.equal((await schemaStatus(sql, [...MIGRATIONS, extra])).pending.length, 1);
      assert.deepEqual(
        (await migrate(sql, [...MIGRATIONS, extra])).applied.map((m) => m.name),
        ['a later one'],
      );
      await sql.run('INSERT INTO later (x) VALUES (?)', 1);
      // A failing migration says which and leaves its version unapplied.
      const broken: Migration = {
        version: CODE_VERSION + 2,
        name: 'broken',
        sql: 'CREATE TABLE ok_part (x INTEGER); CREATE TABLE (',
        postgres: 'CREATE TABLE ok_part (x BIGINT); CREATE TABLE (',
      };
      await assert.rejects(
        migrate(sql, [...MIGRATIONS, extra, broken]),
        new RegExp(`Store migration ${CODE_VERSION + 2} \\(broken\\) failed on `),
      );
      assert.equal((await schemaStatus(sql, [...MIGRATIONS, extra, broken])).storeVersion, CODE_VERSION + 1);
      const okPart =
        kind === 'sqlite'
          ? await sql.get("SELECT name FROM sqlite_master WHERE name = 'ok_part'")
          : ((await sql.get<{ t: string | null }>("SELECT to_regclass('ok_part')::text AS t"))!.t ??
            undefined);
      assert.equal(okPart, undefined, `${kind}: the failed migration's first statement was rolled back`);
      await assert.rejects(
        migrate(sql, [...MIGRATIONS, { version: 3, name: 'clash', sql: '', postgres: '' }]),
        /Two store migrations share the number 3/,
      );
    } finally {
      await sql.close();
      lite?.done();
    }
  }
  // A store Store.open migrated: the runner agrees it is up to date.
  const dir = mkdtempSync(join(tmpdir(), 'hangar-migrate-'));
  try {
    await (await Store.open(join(dir, 'hangar.db'))).close();
    const sql = openDriver(parseStoreTarget('hangar.db', dir));
    assert.deepEqual((await migrate(sql)).applied, []);
    assert.equal((await schemaStatus(sql)).storeVersion, CODE_VERSION);
    await sql.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('migrate: a store with a newer schema than the code is refused, naming both versions, and left unchanged', async () => {
  for (const kind of ['sqlite', 'postgres'] as const) {
    const lite = kind === 'sqlite' ? sqliteDriver() : undefined;
    const sql = lite ? lite.sql : await pgDriver();
    try {
      const newer: Migration = {
        version: CODE_VERSION + 5,
        name: 'from the future',
        sql: 'CREATE TABLE future (x INTEGER)',
        postgres: 'CREATE TABLE future (x BIGINT)',
      };
      await migrate(sql, [...MIGRATIONS, newer]);
      const err = await migrate(sql).catch((e: unknown) => e);
      assert.ok(err instanceof StoreTooNewError, String(err));
      assert.equal(
        err.message,
        `The store at ${sql.location} has schema version ${CODE_VERSION + 5}, newer than this Hangar's ${CODE_VERSION}: a newer Hangar migrated it. Upgrade Hangar to use this store; nothing was changed.`,
      );
      const s = await schemaStatus(sql);
      assert.deepEqual(
        [s.storeVersion, s.codeVersion, s.unknown],
        [CODE_VERSION + 5, CODE_VERSION, [CODE_VERSION + 5]],
      );
    } finally {
      await sql.close();
      lite?.done();
    }
  }
});

test('migrate: eight processes starting together on one fresh PostgreSQL all succeed and apply each migration once', async () => {
  const db = await freshDatabase();
  // Separate pools: as separate processes, each with its own connections.
  const drivers = await Promise.all(Array.from({ length: 8 }, () => pgDriver(db.url)));
  try {
    const results = await Promise.all(drivers.map((d) => migrate(d)));
    const applied = results.flatMap((r) => r.applied.map((m) => m.version)).sort((x, y) => x - y);
    assert.deepEqual(
      applied,
      MIGRATIONS.map((m) => m.version).sort((x, y) => x - y),
      'each migration applied by exactly one process',
    );
    assert.ok(results.every((r) => r.version === CODE_VERSION));
    const rows = await drivers[0]!.all<{ version: number; n: number }>(
      'SELECT version, COUNT(*) AS n FROM schema_migrations GROUP BY version ORDER BY version',
    );
    assert.deepEqual(
      rows.map((r) => r.n),
      MIGRATIONS.map(() => 1),
    );
  } finally {
    await Promise.all(drivers.map((d) => d.close()));
  }
});

test('migrate: a process SIGKILLed in the middle of a slow migration leaves the previous version; the next start applies it', async () => {
  const db = await freshDatabase();
  const dir = mkdtempSync(join(tmpdir(), 'hangar-migrate-kill-'));
  const src = resolve(import.meta.dirname, '../../src/runtime/store');
  const next = CODE_VERSION + 1;
  const child = join(dir, 'child.ts');
  writeFileSync(
    child,
    `import { MIGRATIONS } from ${JSON.stringify(join(src, 'migrations.ts'))};
import { migrate } from ${JSON.stringify(join(src, 'migrate.ts'))};
import { openDriver } from ${JSON.stringify(join(src, 'open.ts'))};
import { parseStoreTarget } from ${JSON.stringify(join(src, 'target.ts'))};
const sql = openDriver(parseStoreTarget(process.argv[2], '/'));
await migrate(sql, [...MIGRATIONS, { version: ${next}, name: 'slow', sql: '', postgres: 'CREATE TABLE slow_done (x BIGINT); INSERT INTO slow_done VALUES (1); SELECT pg_sleep(60);' }]);
console.log('finished');
`,
  );
  const watcher = await pgDriver(db.url);
  try {
    const proc = spawn(process.execPath, [child, db.url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    proc.stdout.on('data', (d: Buffer) => (output += d));
    proc.stderr.on('data', (d: Buffer) => (output += d));
    const exited = new Promise<NodeJS.Signals | null>((r) => proc.once('exit', (_code, signal) => r(signal)));
    // Wait until the child is inside the slow migration (its statement is running on the server).
    const deadline = Date.now() + 30_000;
    for (;;) {
      const busy = await watcher.get<{ n: number }>(
        "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND state = 'active' AND pid <> pg_backend_pid()",
      );
      if (busy!.n > 0) break;
      if (Date.now() > deadline || proc.exitCode !== null)
        assert.fail(`the child never reached the slow migration: ${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    proc.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');
    assert.ok(!output.includes('finished'));
    // The server ends the dead client's session: its transaction rolls back and its advisory lock goes.
    for (let i = 0; ; i++) {
      const left = await watcher.get<{ n: number }>(
        "SELECT COUNT(*) AS n FROM pg_stat_activity WHERE query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()",
      );
      if (left!.n === 0) break;
      if (i > 200) assert.fail('the killed client’s session stayed');
      await new Promise((r) => setTimeout(r, 50));
    }
    const status = await schemaStatus(watcher, [
      ...MIGRATIONS,
      { version: next, name: 'slow', sql: '', postgres: '' },
    ]);
    assert.equal(status.storeVersion, CODE_VERSION, 'the previous version');
    assert.deepEqual(
      status.pending.map((m) => m.version),
      [next],
    );
    assert.equal(
      (await watcher.get<{ t: string | null }>("SELECT to_regclass('slow_done')::text AS t"))!.t,
      null,
      'nothing of the killed migration stayed',
    );
    // The next start applies it (and does not wait for a lock the dead process held).
    const t0 = Date.now();
    const again = await migrate(watcher, [
      ...MIGRATIONS,
      {
        version: next,
        name: 'slow',
        sql: '',
        postgres: 'CREATE TABLE slow_done (x BIGINT); INSERT INTO slow_done VALUES (1);',
      },
    ]);
    assert.ok(Date.now() - t0 < 10_000);
    assert.deepEqual(
      again.applied.map((m) => m.version),
      [next],
    );
    assert.deepEqual(await watcher.all('SELECT x FROM slow_done'), [{ x: 1 }]);
  } finally {
    await watcher.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
