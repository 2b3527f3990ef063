/**
 * `hangar scheduler` as a real process on a temporary workspace: runs of a 1-second
 * duration schedule are created and finished; a DAG file edited meanwhile is picked
 * up; SIGTERM in the middle of a task lets it finish and leaves nothing running; a
 * second scheduler resumes the run the first one left.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startScheduler } from '../helpers/scheduler-process.ts';
import type { SchedulerProcess } from '../helpers/scheduler-process.ts';
import { openWorkspaceStore } from '../helpers/store.ts';
import { tempWorkspace } from '../helpers/workspace.ts';

const dagFile = (id: string, workMs: number) => `import { dag } from 'hangar';
export const d = dag({ id: '${id}', schedule: '1s', startDate: new Date(Date.now() - 2000), catchup: false, maxActiveRuns: 1 });
const work = d.task('work', async (ctx) => { await ctx.sleep(${workMs}); return ctx.runId; });
d.task('after', { inputs: { w: work } }, async (_ctx, { w }) => w);
`;

test(
  'hangar scheduler: creates and finishes runs, picks up an edited DAG file, drains on SIGTERM and a restart resumes',
  { timeout: 180_000 },
  async () => {
    const ws = tempWorkspace(
      { 'dags/tick.ts': dagFile('tick', 200) },
      { executor: 'in-process', scheduler: { gracePeriodSeconds: 20 } },
    );
    const procs: SchedulerProcess[] = [];
    try {
      const first = startScheduler(ws.root);
      procs.push(first);
      await first.waitFor(
        /created scheduled__\S+ of DAG "tick": data interval .* closed \(schedule every 1s, catchup off\)/,
      );
      await first.waitFor(/run scheduled__\S+ of DAG "tick" ended: success/);

      // A DAG file added while it runs is picked up (the loader recompiles; the scheduler reloads).
      ws.write('dags/slow.ts', dagFile('slow', 2500));
      await first.waitFor(/DAG files changed/);
      const created = await first.waitFor(/created (scheduled__\S+) of DAG "slow"/);
      const slowRun = /created (scheduled__\S+) of DAG "slow"/.exec(created)![1]!;
      await first.waitFor(new RegExp(`started ${slowRun.replace(/[.+]/g, '\\$&')} of DAG "slow"`));
      await new Promise((r) => setTimeout(r, 800)); // "work" of the slow run is in the middle of its 2.5 s

      first.child.kill('SIGTERM');
      assert.equal(await first.exited, 0, first.lines.join('\n'));
      assert.ok(first.lines.some((l) => /SIGTERM: stopping/.test(l)));

      const db = await openWorkspaceStore(ws.root);
      try {
        const running = await db.sql.all(
          "SELECT dag_id, run_id, task_id FROM task_instances WHERE state IN ('running', 'queued')",
        );
        assert.deepEqual(running, [], 'no task instance is left running');
        const states = Object.fromEntries(
          (
            await db.sql.all<{ task_id: string; state: string | null }>(
              'SELECT task_id, state FROM task_instances WHERE dag_id = ? AND run_id = ?',
              'slow',
              slowRun,
            )
          ).map((r) => [r.task_id, r.state]),
        );
        assert.equal(states.work, 'success', 'the running try finished within the grace period');
        assert.notEqual(states.after, 'success', 'no new try was started after SIGTERM');
        const run = (await db.sql.get<{ state: string; owner_pid: number | null }>(
          'SELECT state, owner_pid FROM dag_runs WHERE dag_id = ? AND run_id = ?',
          'slow',
          slowRun,
        ))!;
        assert.deepEqual(
          { ...run },
          { state: 'running', owner_pid: null },
          'left for the next scheduler, owned by nobody',
        );
      } finally {
        await db.close();
      }

      const second = startScheduler(ws.root);
      procs.push(second);
      await second.waitFor(new RegExp(`resuming ${slowRun.replace(/[.+]/g, '\\$&')} of DAG "slow"`));
      await second.waitFor(
        new RegExp(`run ${slowRun.replace(/[.+]/g, '\\$&')} of DAG "slow" ended: success`),
      );
      second.child.kill('SIGTERM');
      assert.equal(await second.exited, 0, second.lines.join('\n'));
      const db2 = await openWorkspaceStore(ws.root);
      try {
        assert.deepEqual(await db2.sql.all("SELECT task_id FROM task_instances WHERE state = 'running'"), []);
        const after = (await db2.sql.get<{ state: string }>(
          "SELECT state FROM task_instances WHERE dag_id = 'slow' AND run_id = ? AND task_id = 'after'",
          slowRun,
        ))!;
        assert.equal(after.state, 'success');
      } finally {
        await db2.close();
      }
    } finally {
      for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
      ws.remove();
    }
  },
);

test(
  'hangar scheduler: a try still running when the grace period ends is stopped, not left running',
  { timeout: 120_000 },
  async () => {
    const ws = tempWorkspace(
      { 'dags/long.ts': dagFile('long', 60_000) },
      { executor: 'in-process', scheduler: { gracePeriodSeconds: 0.5 } },
    );
    const p = startScheduler(ws.root);
    try {
      await p.waitFor(/started scheduled__\S+ of DAG "long"/);
      await new Promise((r) => setTimeout(r, 500));
      p.child.kill('SIGTERM');
      assert.equal(await p.exited, 0, p.lines.join('\n'));
      assert.ok(
        p.lines.some((l) => /grace period is over, stopping the running tries/.test(l)),
        p.lines.join('\n'),
      );
      const db = await openWorkspaceStore(ws.root);
      try {
        assert.deepEqual(
          await db.sql.all("SELECT task_id FROM task_instances WHERE state IN ('running', 'queued')"),
          [],
        );
        const work = (await db.sql.get<{ state: string; error: string }>(
          "SELECT state, error FROM task_instances WHERE dag_id = 'long' AND task_id = 'work'",
        ))!;
        assert.equal(work.state, 'failed');
        assert.match(work.error, /grace period of 0.5s is over/);
      } finally {
        await db.close();
      }
    } finally {
      if (p.child.exitCode === null) p.child.kill('SIGKILL');
      ws.remove();
    }
  },
);
