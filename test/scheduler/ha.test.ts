/**
 * Several schedulers on one PostgreSQL store (issue #13, "Several schedulers on one
 * database"): three `hangar scheduler` processes, each as if on its own machine
 * (HANGAR_HOSTNAME), share a store and a 20-task DAG whose two hundred 1-second intervals
 * are all due. One is SIGKILLed once a third of the runs succeeded, while it runs tries. The others must take its runs over once its
 * heartbeat is older than scheduler.heartbeatTimeoutSeconds, and in the end:
 *   - each run was created once (by one scheduler; the run ids are exactly the intervals'),
 *   - each (run, task, try) ran once: the side-effect file every try appends to has no
 *     line twice, and every line is a try in the store, from the host the store names (a
 *     try the store has without a line is one host-a started and died in before its code ran),
 *   - the try the killed scheduler was running failed with its owner named, and the retry
 *     ran elsewhere; every run succeeded; nothing is left running or owned.
 * Airflow's counterpart of the takeover: SchedulerJobRunner.adopt_or_reset_orphaned_tasks
 * (airflow/jobs/scheduler_job_runner.py), after scheduler_health_check_threshold.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { freshDatabase } from '../helpers/postgres.ts';
import { literal, startScheduler } from '../helpers/scheduler-process.ts';
import type { SchedulerProcess } from '../helpers/scheduler-process.ts';
import { tempWorkspace } from '../helpers/workspace.ts';

// The scale: 200 scheduled runs of a 20-task DAG (extract → 18 transforms → load).
const RUNS = 200;
const TASKS = 20;

test(
  'three schedulers on one PostgreSQL: one is SIGKILLed mid-try; its runs are taken over, every run is created once and every try runs once',
  { timeout: 900_000 },
  async (t) => {
    const db = await freshDatabase();
    const t0 = Math.floor(Date.now() / 1000) * 1000;
    const start = t0 - RUNS * 1000;
    const effects = 'effects.log';
    const dagFile = (root: string) => `import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { dag } from 'hangar';
export const d = dag({ id: 'ha', schedule: '1s', startDate: new Date(${start}), endDate: new Date(${t0 - 500}), catchup: true, maxActiveRuns: 8 });
const step = (id: string) => d.task(id, { retries: 1, retryDelay: '1s' }, async (ctx) => {
  appendFileSync(join(${JSON.stringify(root)}, ${JSON.stringify(effects)}), \`\${ctx.runId} \${id} \${ctx.tryNumber} \${process.env.HANGAR_HOSTNAME}\\n\`);
  await ctx.sleep(100);
});
const transforms = Array.from({ length: ${TASKS - 2} }, (_, i) => step(\`transform_\${i}\`));
d.chain(step('extract'), transforms, step('load'));
`;
    const ws = tempWorkspace();
    ws.write('dags/ha.ts', dagFile(ws.root));
    ws.write(
      'hangar.json',
      JSON.stringify({
        store: db.url,
        parallelism: 8,
        scheduler: { heartbeatTimeoutSeconds: 2, pollSeconds: 0.5, gracePeriodSeconds: 10 },
      }),
    );
    const client = new pg.Client({ connectionString: db.url });
    const procs: SchedulerProcess[] = [];
    try {
      const a = startScheduler(ws.root, { HANGAR_HOSTNAME: 'host-a' });
      procs.push(a);
      await a.waitFor(/started scheduled__\S+ of DAG "ha"/);
      const b = startScheduler(ws.root, { HANGAR_HOSTNAME: 'host-b' });
      const c = startScheduler(ws.root, { HANGAR_HOSTNAME: 'host-c' });
      procs.push(b, c);
      await Promise.all([b.waitFor(/DAG "ha" \(/), c.waitFor(/DAG "ha" \(/)]);

      // Killed in the middle: once a third of the runs succeeded, while one of host-a's tries runs.
      await client.connect();
      const ready = `SELECT (SELECT COUNT(*) FROM dag_runs WHERE state = 'success') >= ${RUNS / 3}
        AND EXISTS (SELECT 1 FROM task_instances WHERE hostname = 'host-a' AND state = 'running') AS go`;
      while (!(await client.query(ready)).rows[0].go) await new Promise((r) => setTimeout(r, 10));
      a.child.kill('SIGKILL');
      await a.exited;
      const owned = (
        await client.query("SELECT run_id FROM dag_runs WHERE owner_host = 'host-a' AND state = 'running'")
      ).rows.map((r) => r.run_id as string);
      const cut = (
        await client.query(
          "SELECT run_id, task_id, try_number::int AS try_number FROM task_instances WHERE state IN ('running', 'queued') AND hostname = 'host-a'",
        )
      ).rows as { run_id: string; task_id: string; try_number: number }[];
      assert.ok(owned.length > 0, `host-a owned no running run when it was killed:\n${a.lines.join('\n')}`);
      assert.ok(cut.length > 0, 'host-a was running a try when it was killed');

      // Everything ends: the survivors take host-a's runs over (after its 2 s heartbeat timeout) and finish all twelve.
      const deadline = Date.now() + 600_000;
      let states: { run_id: string; state: string }[] = [];
      for (;;) {
        states = (await client.query('SELECT run_id, state FROM dag_runs ORDER BY run_id')).rows;
        if (states.length === RUNS && states.every((r) => r.state === 'success' || r.state === 'failed'))
          break;
        if (Date.now() > deadline)
          assert.fail(
            `runs did not end: ${JSON.stringify(states)}\nhost-b:\n${b.lines.join('\n')}\nhost-c:\n${c.lines.join('\n')}`,
          );
        await new Promise((r) => setTimeout(r, 250));
      }
      for (const p of [b, c]) p.child.kill('SIGTERM');
      assert.deepEqual(
        await Promise.all([b.exited, c.exited]),
        [0, 0],
        `host-b:\n${b.lines.join('\n')}\nhost-c:\n${c.lines.join('\n')}`,
      );

      // Each run created once, by one scheduler, and the run ids are exactly the twelve intervals'.
      const expected = Array.from(
        { length: RUNS },
        (_, i) => `scheduled__${new Date(start + i * 1000).toISOString().replace('.000Z', '+00:00')}`,
      ).sort();
      assert.deepEqual(
        states.map((r) => r.run_id),
        expected,
      );
      const createdLines = procs.flatMap((p) =>
        p.lines
          .map((l) => /created (scheduled__\S+) of DAG "ha"/.exec(l)?.[1])
          .filter((x): x is string => x !== undefined),
      );
      assert.deepEqual(createdLines.sort(), expected, 'each run was created by exactly one scheduler');
      assert.deepEqual(
        states.filter((r) => r.state !== 'success'),
        [],
        'every run succeeded',
      );

      // Each try ran once: no line twice, and the store's tries are exactly the file's, from the same hosts.
      const lines = readFileSync(join(ws.root, effects), 'utf8').trim().split('\n');
      assert.equal(new Set(lines).size, lines.length, `a try ran twice:\n${lines.join('\n')}`);
      const tries = (
        await client.query(
          'SELECT run_id, task_id, try_number::int AS try_number, state, hostname, error FROM task_tries ORDER BY run_id, task_id, try_number',
        )
      ).rows as {
        run_id: string;
        task_id: string;
        try_number: number;
        state: string;
        hostname: string;
        error: string | null;
      }[];
      const stored = new Set(tries.map((t) => `${t.run_id} ${t.task_id} ${t.try_number} ${t.hostname}`));
      assert.deepEqual(
        lines.filter((l) => !stored.has(l)),
        [],
        'every try that ran is in the store, with the host that ran it',
      );
      // A try the store has and the file has not was started on host-a, whose worker died before the task's code ran.
      const ran = new Set(lines);
      for (const t of tries.filter(
        (t) => !ran.has(`${t.run_id} ${t.task_id} ${t.try_number} ${t.hostname}`),
      )) {
        assert.ok(
          t.hostname === 'host-a' &&
            t.state === 'failed' &&
            cut.some((k) => k.run_id === t.run_id && k.task_id === t.task_id),
          `a try in the store that never ran: ${JSON.stringify(t)}`,
        );
      }
      assert.equal(
        tries.filter((t) => t.state === 'success').length,
        RUNS * TASKS,
        'each task of each run succeeded once',
      );

      // The tries host-a was running failed with their owner named; their retries ran on host-b or host-c.
      for (const k of cut) {
        const mine = tries.filter((t) => t.run_id === k.run_id && t.task_id === k.task_id);
        const killed = mine.find((t) => t.try_number === k.try_number)!;
        assert.equal(killed.state, 'failed');
        assert.match(killed.error ?? '', /pid \d+ on host-a\) stopped before it ended/);
        const retry = mine.find((t) => t.try_number === k.try_number + 1);
        assert.ok(
          retry && retry.state === 'success' && retry.hostname !== 'host-a',
          `the retry of ${k.run_id} ${k.task_id} ran on a survivor: ${JSON.stringify(mine)}`,
        );
      }
      const survivors = [...b.lines, ...c.lines];
      for (const run of owned)
        assert.ok(
          survivors.some((l) => l.includes(`resuming ${run} of DAG "ha"`)),
          `a survivor resumed ${run}`,
        );
      assert.ok(
        survivors.some((l) =>
          new RegExp(`recovered task "(${cut.map((k) => literal(k.task_id)).join('|')})" of run`).test(l),
        ),
      );

      const byHost = new Map<string, number>();
      for (const l of lines) byHost.set(l.split(' ')[3]!, (byHost.get(l.split(' ')[3]!) ?? 0) + 1);
      t.diagnostic(
        `${RUNS} runs × ${TASKS} tasks: tries run by host ${JSON.stringify(Object.fromEntries([...byHost].sort()))}; host-a was cut in ${cut.length} tries of ${owned.length} runs`,
      );

      // Nothing is left running or owned.
      assert.deepEqual(
        (
          await client.query(
            "SELECT task_id FROM task_instances WHERE state IN ('running', 'queued', 'scheduled', 'up_for_retry')",
          )
        ).rows,
        [],
      );
      assert.deepEqual(
        (
          await client.query(
            'SELECT run_id FROM dag_runs WHERE owner_pid IS NOT NULL OR owner_host IS NOT NULL',
          )
        ).rows,
        [],
      );
    } finally {
      for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGKILL');
      await client.end().catch(() => undefined);
      ws.remove();
    }
  },
);
