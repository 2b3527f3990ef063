/**
 * The PostgreSQL store goes away in the middle of a run (`pg_ctl stop -m immediate`, as when
 * its machine goes) and comes back: `hangar scheduler` says so, keeps what was committed, gives
 * the run up while the store is away (its running try is stopped), and resumes it once the
 * store answers — the tasks that had succeeded are not run again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { Store } from '../../src/runtime/store/store.ts';
import { parseStoreTarget } from '../../src/runtime/store/target.ts';
import { controlledPostgresServer } from '../helpers/postgres.ts';
import { hangar } from '../helpers/cli.ts';
import { startScheduler } from '../helpers/scheduler-process.ts';
import { tempWorkspace } from '../helpers/workspace.ts';

test(
  'PostgreSQL stopped in the middle of a run and started again: the scheduler resumes the run; what was committed stays',
  { timeout: 300_000 },
  async () => {
    const server = controlledPostgresServer();
    const admin = new pg.Client({ connectionString: server.url('postgres') });
    await admin.connect();
    await admin.query('CREATE DATABASE outage');
    await admin.end();
    const url = server.url('outage');
    const marksDir = tempWorkspace({}, undefined, { store: 'sqlite' });
    const marks = join(marksDir.root, 'marks.txt');
    const ws = tempWorkspace(
      {
        'dags/chain.ts': `import { dag } from 'hangar';
import { appendFileSync } from 'node:fs';
export const c = dag({ id: 'outage', schedule: null, startDate: '2024-01-01', defaultArgs: { retries: 2, retryDelay: '1s' } });
c.chain(...['c1', 'c2', 'c3', 'c4', 'c5'].map((id) => c.task(id, async (ctx) => {
  appendFileSync(${JSON.stringify(marks)}, id + ' try ' + ctx.tryNumber + '\\n');
  await new Promise((r) => setTimeout(r, 800));
})));
`,
      },
      { store: url, scheduler: { heartbeatTimeoutSeconds: 3, pollSeconds: 0.5 } },
    );
    const scheduler = startScheduler(ws.root);
    try {
      await scheduler.waitFor(/scheduler started/);
      const t = hangar(['trigger', 'outage', '--workspace', ws.root, '-o', 'json']);
      assert.equal(t.code, 0, t.stdout + t.stderr);
      const runId = (JSON.parse(t.stdout) as { run_id: string }).run_id;
      const until = Date.now() + 60_000;
      while (!(existsSync(marks) && readFileSync(marks, 'utf8').includes('c2 try 1'))) {
        if (Date.now() > until) assert.fail(`c2 never started:\n${scheduler.lines.join('\n')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      server.pause();
      await scheduler.waitFor(
        /the store is unreachable .*: run \S+ of DAG "outage" resumes once it answers/,
        30_000,
      );
      await new Promise((r) => setTimeout(r, 2000));
      server.resume();
      await scheduler.waitFor(/the store answers again: run \S+ of DAG "outage" will resume/, 30_000);
      await scheduler.waitFor(/run \S+ of DAG "outage" ended: success/, 120_000);

      const store = await Store.open(parseStoreTarget(url, ws.root));
      try {
        const tis = await store.tasks.list('outage', runId);
        assert.deepEqual(
          tis.map((ti) => [ti.task_id, ti.state]),
          [
            ['c1', 'success'],
            ['c2', 'success'],
            ['c3', 'success'],
            ['c4', 'success'],
            ['c5', 'success'],
          ],
        );
        // c1 had succeeded before the outage: it is not run again. c2 was running: its try was stopped and retried.
        const lines = readFileSync(marks, 'utf8').trim().split('\n');
        assert.equal(lines.filter((l) => l.startsWith('c1 ')).length, 1, lines.join(', '));
        assert.deepEqual(
          lines.filter((l) => !l.startsWith('c2 ')),
          ['c1 try 1', 'c3 try 1', 'c4 try 1', 'c5 try 1'],
        );
        const c2 = await store.sql.all<{ try_number: number; state: string; error: string | null }>(
          "SELECT try_number, state, error FROM task_tries WHERE dag_id = 'outage' AND task_id = 'c2' ORDER BY try_number",
        );
        assert.equal(c2.at(-1)!.state, 'success');
        if (c2.length > 1)
          assert.match(
            c2[0]!.error ?? '',
            /store failed under the run|stopped before it ended|process running this try .* is gone/,
          );
      } finally {
        await store.close();
      }
    } finally {
      scheduler.child.kill('SIGTERM');
      await scheduler.exited;
      server.stop();
      ws.remove();
      marksDir.remove();
    }
  },
);
