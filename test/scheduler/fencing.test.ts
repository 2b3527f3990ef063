/**
 * A run is fenced to its owner (several schedulers on one store): once another runtime has
 * taken a run over (its heartbeat had gone silent: a stopped process, a cut network), the
 * runtime that ran it writes nothing more for it — the try it was waiting for ends, and
 * its result, the downstream task and the run's state are left to the new owner.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testRuntime } from '../helpers/runtime.ts';

test(
  'a run taken over by another runtime: the old owner stops at its next turn and writes nothing more',
  { timeout: 60_000 },
  async () => {
    const t = await testRuntime({
      'dags/fence.ts': `import { dag } from 'hangar';
export const d = dag({ id: 'fence' });
const a = d.task('a', async (ctx) => { await ctx.sleep(800); return 1; });
d.task('b', { inputs: { a } }, async () => 2);
`,
    });
    try {
      const { store } = t.rt;
      const running = t.rt.runDag('fence');
      let runId: string | undefined;
      for (let i = 0; i < 400 && !runId; i++) {
        const [run] = await store.runs.list({ dagId: 'fence' });
        const a = run && (await store.tasks.list('fence', run.run_id)).find((ti) => ti.task_id === 'a');
        if (a?.state === 'running') runId = run!.run_id;
        else await new Promise((r) => setTimeout(r, 5));
      }
      assert.ok(runId, 'task a started');
      // Another scheduler took the run over (what recoverOrphans + adopt do once the heartbeat is stale).
      await store.runs.update('fence', runId, {
        owner_pid: 999_999,
        owner_host: 'elsewhere',
        heartbeat_at: new Date().toISOString(),
      });

      await assert.rejects(
        running,
        /Run "manual__\S+" of DAG "fence" is no longer this runtime's \(taken over by pid 999999 on elsewhere; its heartbeat had been silent too long\)/,
      );
      const run = (await store.runs.get('fence', runId))!;
      assert.deepEqual(
        { state: run.state, owner_pid: run.owner_pid, owner_host: run.owner_host },
        { state: 'running', owner_pid: 999_999, owner_host: 'elsewhere' },
        'the run is the new owner’s, untouched',
      );
      assert.deepEqual(
        await t.states(runId),
        { a: 'running', b: null },
        'a’s result and b are left to the new owner',
      );
      assert.deepEqual(
        await store.tasks.listTries('fence', runId, 'a', -1).then((tries) => tries.map((x) => x.state)),
        ['running'],
      );
    } finally {
      await t.close();
    }
  },
);
