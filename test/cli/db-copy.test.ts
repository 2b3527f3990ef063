/**
 * `hangar db copy --to postgres://…`: a SQLite history (the example sensor DAG's run: tries
 * with a retry, sensor pokes and instances, XComs; a variable) moves into a real PostgreSQL,
 * table by table equal; a copy interrupted half-way and run again ends equal too; a second
 * run adds nothing; a run that a live runtime owns stops the copy; bad targets are named.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync } from 'node:fs';
import { join } from 'node:path';
import { hangar } from '../helpers/cli.ts';
import { freshDatabase } from '../helpers/postgres.ts';
import { tempWorkspace } from '../helpers/workspace.ts';
import { COPIED_TABLES, copyStore } from '../../src/runtime/store/copy.ts';
import { Store } from '../../src/runtime/store/store.ts';
import { parseStoreTarget } from '../../src/runtime/store/target.ts';

const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples');

/** Every copied table's rows, generated columns left out, as sorted JSON lines. */
async function dump(store: Store): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const spec of COPIED_TABLES) {
    const rows = await store.sql.all<Record<string, unknown>>(`SELECT * FROM ${spec.table}`);
    out[spec.table] = rows
      .map((r) => {
        const o: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(r).sort(([a], [b]) => a.localeCompare(b))) {
          if (k === 'row_seq' || spec.generated?.includes(k)) continue;
          o[k] = v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v;
        }
        return JSON.stringify(o);
      })
      .sort();
  }
  return out;
}

test(
  'hangar db copy: a SQLite history into PostgreSQL, equal table by table; interrupted and run again; idempotent',
  { timeout: 300_000 },
  async () => {
    // SQLite whatever HANGAR_TEST_STORE says: db copy's source is a SQLite history (its target, PostgreSQL).
    const ws = tempWorkspace({}, undefined, { store: 'sqlite' });
    try {
      cpSync(EXAMPLES, ws.root, { recursive: true });
      const ran = hangar(['run', 'sensor_demo', '--workspace', ws.root]);
      assert.equal(ran.code, 0, ran.stdout + ran.stderr);
      // Assets: a producer's success records an event, queued for the DAG scheduled on it.
      ws.write(
        'dags/assets_copy.ts',
        `import { dag, asset } from 'hangar';
const orders = asset('s3://bucket/orders');
export const p = dag({ id: 'asset_producer' });
p.task('load', { outlets: [orders] }, async () => 1);
export const c = dag({ id: 'asset_consumer', schedule: [orders] });
c.task('t', async () => 1);
`,
      );
      const produced = hangar(['run', 'asset_producer', '--workspace', ws.root]);
      assert.equal(produced.code, 0, produced.stdout + produced.stderr);
      assert.equal(hangar(['variables', 'set', 'region', 'eu-west-1', '--workspace', ws.root]).code, 0);

      const db = await freshDatabase();
      const file = parseStoreTarget(join(ws.root, '.hangar', 'hangar.db'), ws.root);
      const source = await Store.open(file);
      const expected = await dump(source);
      for (const t of [
        'dags',
        'dag_runs',
        'task_instances',
        'task_tries',
        'sensor_pokes',
        'sensor_instances',
        'variables',
        'assets',
        'asset_events',
        'dag_schedule_assets',
        'asset_dag_run_queue',
      ]) {
        assert.ok(expected[t]!.length > 0, `the history has ${t}`);
      }
      assert.ok(
        expected.task_tries!.some((l) => JSON.parse(l).try_number === 2),
        'a retried try is in the history',
      );

      // Interrupted half-way (after the runs, during the tries: one row per transaction), then run again.
      const target = await Store.open(parseStoreTarget(db.url, ws.root));
      try {
        await assert.rejects(
          copyStore(source, target, {
            batch: 1,
            onTable: (t) => {
              if (t.table === 'task_instances') throw new Error('interrupted');
            },
          }),
          /interrupted/,
        );
        const partial = await dump(target);
        assert.equal(partial.dag_runs!.length, expected.dag_runs!.length);
        assert.equal(partial.task_tries!.length, 0, 'the copy stopped before the tries');
      } finally {
        await target.close();
        await source.close();
      }

      const r = hangar(['db', 'copy', '--to', db.url, '--json', '--workspace', ws.root]);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.equal(r.stderr, '');
      const report = JSON.parse(r.stdout) as {
        copied: number;
        present: number;
        tables: { table: string; read: number; copied: number; present: number }[];
      };
      const runs = report.tables.find((t) => t.table === 'dag_runs')!;
      assert.deepEqual(
        { copied: runs.copied, present: runs.present },
        { copied: 0, present: expected.dag_runs!.length },
        'the runs copied before the interruption are not copied twice',
      );
      assert.equal(report.tables.find((t) => t.table === 'task_tries')!.copied, expected.task_tries!.length);
      assert.ok(!r.stdout.includes(db.server.password), 'the password is never printed');

      const pgStore = await Store.open(parseStoreTarget(db.url, ws.root));
      try {
        assert.deepEqual(await dump(pgStore), expected, 'PostgreSQL holds the same rows as the SQLite file');
        // Hangar reads the copied history from PostgreSQL as it did from the file.
        const listed = hangar(['runs', 'sensor_demo', '--json', '--workspace', ws.root], {
          env: { HANGAR_STORE_URL: db.url },
        });
        assert.equal(listed.code, 0, listed.stderr);
        assert.equal((JSON.parse(listed.stdout) as unknown[]).length, expected.dag_runs!.length);
      } finally {
        await pgStore.close();
      }

      // Again: nothing added, every row already there (text output names each table).
      const again = hangar(['db', 'copy', '--to', db.url, '--workspace', ws.root]);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /task_tries: 0 copied, \d+ already there/);
      assert.match(again.stdout, /: 0 row\(s\) added, \d+ already there\.$/m);
    } finally {
      ws.remove();
    }
  },
);

test('hangar db copy: what it refuses, with what was wrong named', async () => {
  // SQLite whatever HANGAR_TEST_STORE says: db copy copies a workspace's SQLite store into PostgreSQL.
  const ws = tempWorkspace(
    {
      'dags/noop.ts':
        "import { dag } from 'hangar';\nexport const d = dag({ id: 'noop' });\nd.task('t', async () => 1);\n",
    },
    undefined,
    { store: 'sqlite' },
  );
  try {
    const none = hangar(['db', 'copy', '--to', 'postgres://u@127.0.0.1:1/x', '--workspace', ws.root]);
    assert.equal(none.code, 3, none.stderr);
    assert.match(none.stderr, /No SQLite store at .*hangar\.db: nothing to copy/);
    const noTarget = hangar(['db', 'copy', '--workspace', ws.root]);
    assert.equal(noTarget.code, 2);
    assert.match(noTarget.stderr, /needs --to postgres:\/\/… \(the workspace's store is SQLite\)/);
    const toFile = hangar(['db', 'copy', '--to', 'other.db', '--workspace', ws.root]);
    assert.equal(toFile.code, 2);
    assert.match(toFile.stderr, /--to: hangar db copy copies into PostgreSQL; .*other\.db is a SQLite file/);

    // A run a live runtime owns: this test process stands in for it (its pid, this host, a fresh heartbeat).
    assert.equal(hangar(['run', 'noop', '--workspace', ws.root]).code, 0);
    const store = await Store.open(parseStoreTarget(join(ws.root, '.hangar', 'hangar.db'), ws.root));
    const [run] = await store.runs.list({ dagId: 'noop' });
    await store.runs.update('noop', run!.run_id, {
      state: 'running',
      owner_pid: process.pid,
      owner_host: null,
      heartbeat_at: new Date().toISOString(),
    });
    await store.close();
    const db = await freshDatabase();
    const busy = hangar(['db', 'copy', '--to', db.url, '--workspace', ws.root]);
    assert.equal(busy.code, 1);
    assert.match(
      busy.stderr,
      new RegExp(
        `Run "${run!.run_id.replace(/[.+]/g, '\\$&')}" of DAG "noop" is running \\(pid ${process.pid}\\): let it end or stop its runtime, then copy`,
      ),
    );
  } finally {
    ws.remove();
  }
});
