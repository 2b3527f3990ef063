/**
 * `hangar db backup|verify|restore` (src/runtime/backup.ts): a consistent copy while a runtime holds the
 * store open, against what a naive copy of hangar.db (without its -wal file) loses.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { hangar } from '../helpers/cli.ts';
import { freshDatabase } from '../helpers/postgres.ts';
import { tempWorkspace } from '../helpers/workspace.ts';
import { Runtime } from '../../src/runtime/runtime.ts';

const DAG = `import { dag } from 'hangar';
export const d = dag({ id: 'backed' });
const big = d.task('big', { xcomBackend: 'file' }, async () => ({ rows: Array.from({ length: 500 }, (_, i) => ({ i, name: 'row ' + i })) }));
d.task('small', { inputs: { b: big } }, async (_c, { b }) => b.rows.length);
`;

function runsIn(path: string): number | string {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return Number((db.prepare('SELECT COUNT(*) AS n FROM dag_runs').get() as { n: number }).n);
  } catch (err) {
    return (err as Error).message;
  } finally {
    db.close();
  }
}

test('db backup while a runtime holds the store open keeps every committed run and its XCom files; a naive copy of hangar.db does not', async () => {
  // SQLite whatever HANGAR_TEST_STORE says: backup, verify and restore are of the SQLite file (its
  // WAL, its integrity check); a PostgreSQL store is backed up with PostgreSQL's own tools.
  const ws = tempWorkspace({ 'dags/backed.ts': DAG }, undefined, { store: 'sqlite' });
  const rt = await Runtime.open(ws.root, { config: { executor: 'in-process' } });
  const backup = join(ws.root, 'backup');
  const target = tempWorkspace({ 'dags/backed.ts': DAG }, undefined, { store: 'sqlite' });
  try {
    await rt.loadDags();
    const run = await rt.runDag('backed');
    assert.equal(run.state, 'success');
    // The runtime is still open: its commits sit in hangar.db-wal until a checkpoint.
    assert.ok(existsSync(rt.config.storePath + '-wal'));
    const naive = join(ws.root, 'naive.db');
    copyFileSync(rt.config.storePath, naive);
    const naiveRuns = runsIn(naive);
    assert.notEqual(naiveRuns, 1, 'the naive copy lost the run (it was only in the -wal file)');

    const r = hangar(['db', 'backup', backup, '--json', '--workspace', ws.root]);
    assert.equal(r.code, 0, r.stderr);
    const m = JSON.parse(r.stdout) as {
      runs: number;
      task_instances: number;
      xcoms: number;
      xcom_files: number;
      not_copied: unknown[];
    };
    assert.deepEqual([m.runs, m.task_instances, m.xcoms, m.xcom_files, m.not_copied.length], [1, 2, 2, 1, 0]);
    assert.equal(runsIn(join(backup, 'hangar.db')), 1);
    assert.equal(hangar(['db', 'verify', backup]).code, 0);

    // Restoring into a fresh workspace gives back the run and its file-backed XCom, decodable.
    const restored = hangar(['db', 'restore', backup, '--workspace', target.root]);
    assert.equal(restored.code, 0, restored.stderr);
    const runs = JSON.parse(hangar(['runs', '--json', '--workspace', target.root]).stdout) as {
      run_id: string;
      state: string;
    }[];
    assert.deepEqual(
      runs.map((x) => [x.run_id, x.state]),
      [[run.run_id, 'success']],
    );
    const value = hangar([
      'xcom',
      'get',
      '--dag',
      'backed',
      '--run',
      run.run_id,
      '--task',
      'big',
      '--json',
      '--workspace',
      target.root,
    ]);
    assert.equal(value.code, 0, value.stderr);
    assert.match(value.stdout, /row 499/);
    // Not over a store that holds runs, unless asked.
    const again = hangar(['db', 'restore', backup, '--workspace', target.root]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already holds 1 run\(s\): restoring replaces them \(use --force/);
    assert.equal(hangar(['db', 'restore', backup, '--force', '--workspace', target.root]).code, 0);
    // Not into a PostgreSQL store: restore replaces a SQLite file (pg_restore is PostgreSQL's own).
    const pgWs = tempWorkspace({}, { store: (await freshDatabase()).url });
    try {
      const intoPg = hangar(['db', 'restore', backup, '--workspace', pgWs.root]);
      assert.equal(intoPg.code, 1, intoPg.stdout);
      assert.match(
        intoPg.stderr,
        /The store is PostgreSQL at postgres:\/\/hangar@127\.0\.0\.1:\d+\/\S+: hangar db restore replaces a SQLite file\. Restore a PostgreSQL store with pg_restore/,
      );
      assert.deepEqual(
        readdirSync(pgWs.root).sort(),
        ['dags', 'hangar.json'],
        'nothing written in the workspace',
      );
    } finally {
      pgWs.remove();
    }

    // A damaged backup is refused before anything is written, naming the file.
    const xdir = join(backup, 'xcom');
    const find = (d: string): string => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        const p = join(d, e.name);
        if (e.isDirectory()) return find(p);
        return p;
      }
      throw new Error('no file');
    };
    writeFileSync(find(xdir), 'tampered');
    const bad = hangar(['db', 'verify', backup]);
    assert.equal(bad.code, 1);
    assert.match(
      bad.stderr,
      /XCom file .* does not match its checksum in the manifest \(damaged or altered\)/,
    );
    assert.equal(
      hangar(['db', 'backup', backup, '--workspace', ws.root]).code,
      1,
      'never into a folder that is not empty',
    );
  } finally {
    await rt.close();
    ws.remove();
    target.remove();
  }
});
