/**
 * dependsOnPast / waitForDownstream with Airflow's meaning (airflow/ti_deps/deps/prev_dagrun_dep.py,
 * PrevDagrunDep): the same task of the previous run must be success or skipped (with
 * wait_for_downstream, its direct downstream tasks too); the first run has no previous one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../src/runtime/scheduler/clock.ts';
import { testRuntime } from '../helpers/runtime.ts';
import type { TestRuntime } from '../helpers/runtime.ts';

const g = globalThis as unknown as { __failOn?: string[] };

async function settle(t: TestRuntime, clock: FakeClock, done: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !done(); i++) {
    await t.turn();
    clock.advance(500);
  }
}

test('dependsOnPast: the first run runs; a failed previous try holds the task until it is marked success', async () => {
  g.__failOn = ['2024-01-02'];
  const clock = new FakeClock(Date.parse('2024-01-10T00:00:00Z'));
  const t = await testRuntime(
    {
      'dags/past.ts': `import { dag } from 'hangar';
export const d = dag({ id: 'past', schedule: '@daily', startDate: '2024-01-01', catchup: true });
d.task('t', { dependsOnPast: true }, async (ctx) => {
  if ((globalThis as any).__failOn?.includes(ctx.ds)) throw new Error('bad day ' + ctx.ds);
  return ctx.ds;
});
`,
    },
    { clock },
  );
  const warnings: string[] = [];
  t.rt.events.on('warning', (w) => warnings.push(w.message));
  try {
    const run = async (day: string) => {
      const r = await t.rt.triggerRun('past', {
        logicalDate: new Date(`${day}T00:00:00Z`),
        runType: 'scheduled',
        runId: `scheduled__${day}`,
      });
      return r.run_id;
    };
    const r1 = await run('2024-01-01');
    assert.equal(await t.rt.executeRun('past', r1), 'success', 'the first run has no previous one');
    const r2 = await run('2024-01-02');
    assert.equal(await t.rt.executeRun('past', r2), 'failed');
    const r3 = await run('2024-01-03');
    const third = t.rt.executeRun('past', r3);
    let ended = false;
    void third.then(() => (ended = true));
    await settle(t, clock, () => warnings.length > 0);
    clock.advance(10_000);
    await t.turn();
    assert.equal(ended, false);
    assert.deepEqual(await t.states(r3), { t: null }, 'held while the previous try failed');
    assert.deepEqual(warnings, [
      'Task "t" of run "scheduled__2024-01-03" waits (dependsOnPast): in the previous run "scheduled__2024-01-02" it is failed, not success or skipped',
    ]);
    await t.rt.mark('past', r2, 't', 'success');
    await settle(t, clock, () => ended);
    assert.equal(await third, 'success');
    assert.deepEqual(await t.states(r3), { t: 'success' });
  } finally {
    delete g.__failOn;
    await t.close();
  }
});

test('waitForDownstream: the previous run’s direct downstream task must be done too', async () => {
  g.__failOn = ['2024-01-01'];
  const clock = new FakeClock(Date.parse('2024-01-10T00:00:00Z'));
  const t = await testRuntime(
    {
      'dags/wfd.ts': `import { dag } from 'hangar';
export const d = dag({ id: 'wfd', schedule: '@daily', startDate: '2024-01-01', catchup: false });
const a = d.task('a', { waitForDownstream: true }, async (ctx) => ctx.ds);
d.task('b', { inputs: { a } }, async (ctx) => {
  if ((globalThis as any).__failOn?.includes(ctx.ds)) throw new Error('b fails on ' + ctx.ds);
  return 1;
});
`,
    },
    { clock },
  );
  const warnings: string[] = [];
  t.rt.events.on('warning', (w) => warnings.push(w.message));
  try {
    const r1 = (
      await t.rt.triggerRun('wfd', {
        logicalDate: new Date('2024-01-01T00:00:00Z'),
        runType: 'scheduled',
        runId: 'scheduled__1',
      })
    ).run_id;
    assert.equal(await t.rt.executeRun('wfd', r1), 'failed');
    assert.deepEqual(await t.states(r1), { a: 'success', b: 'failed' });
    // catchup off: the previous run of any type counts (get_previous_dagrun), a manual one here.
    const r2 = (await t.rt.triggerRun('wfd', { logicalDate: new Date('2024-01-02T00:00:00Z') })).run_id;
    const second = t.rt.executeRun('wfd', r2);
    let ended = false;
    void second.then(() => (ended = true));
    await settle(t, clock, () => warnings.length > 0);
    assert.match(
      warnings[0]!,
      /waitForDownstream: in the previous run "scheduled__1" its downstream task "b" is failed/,
    );
    assert.equal(ended, false);
    await t.rt.mark('wfd', r1, 'b', 'success');
    await settle(t, clock, () => ended);
    assert.equal(await second, 'success');
  } finally {
    delete g.__failOn;
    await t.close();
  }
});
