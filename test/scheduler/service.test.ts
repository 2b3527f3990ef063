/**
 * The scheduler service on a fake clock. Expected logical dates and intervals come from
 * Airflow 2's timetables (airflow/timetables/interval.py @009e139a: CronDataIntervalTimetable,
 * `_skip_to_latest`; airflow/timetables/_cron.py @0d56ddb7) and its scheduler
 * (airflow/jobs/scheduler_job_runner.py: a run is created once next_dagrun_create_after has
 * passed, not for a paused DAG, and not while max_active_runs runs are queued or running).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { FakeClock } from '../../src/runtime/scheduler/clock.ts';
import { SchedulerService } from '../../src/runtime/scheduler/service.ts';
import { testRuntime } from '../helpers/runtime.ts';
import type { TestRuntime } from '../helpers/runtime.ts';

const HOUR = 3_600_000;

interface Made {
  readonly at: string;
  readonly runId: string;
  readonly interval: string;
}

async function withScheduler(
  file: string,
  clock: FakeClock,
  fn: (t: TestRuntime, svc: SchedulerService, made: Made[], log: string[]) => Promise<void>,
) {
  const t = await testRuntime({ 'dags/d.ts': file }, { clock });
  const log: string[] = [];
  const svc = new SchedulerService(t.rt, { log: (l) => log.push(l), watch: false });
  await svc.reload();
  const made: Made[] = [];
  try {
    await fn(t, svc, made, log);
  } finally {
    await svc.stop();
    await t.close();
  }
}

/** Moves the fake clock in steps, running a scheduler turn (and the runs it starts) after each. */
async function run(
  svc: SchedulerService,
  clock: FakeClock,
  made: Made[],
  until: number,
  stepMs: number,
): Promise<void> {
  while (clock.now() < until) {
    clock.advance(stepMs);
    const { created } = await svc.tick();
    for (const c of created) {
      made.push({
        at: new Date(clock.now()).toISOString().slice(0, 16),
        runId: c.runId,
        interval: `${c.info.dataInterval.start.toISOString().slice(0, 16)}..${c.info.dataInterval.end.toISOString().slice(0, 16)}`,
      });
    }
    await svc.idle();
  }
}

const weekDag = (catchup: boolean) => `import { dag } from 'hangar';
export const d = dag({ id: 'week', schedule: '@daily', timezone: 'Europe/Amsterdam', startDate: '2024-03-27', catchup: ${catchup}, maxActiveRuns: 1 });
d.task('t', async (ctx) => ctx.ds);
`;

/** The week: 27 March to 3 April 2024 in Amsterdam (DST starts 31 March), paused 29 March 12:00Z to 1 April 12:00Z. */
async function week(catchup: boolean): Promise<{ made: Made[]; states: string[]; log: string[] }> {
  const clock = new FakeClock(Date.parse('2024-03-26T23:00:00Z')); // local midnight, 27 March
  let result: { made: Made[]; states: string[]; log: string[] } | undefined;
  await withScheduler(weekDag(catchup), clock, async (t, svc, made, log) => {
    await run(svc, clock, made, Date.parse('2024-03-29T12:00:00Z'), HOUR);
    assert.equal(await t.rt.store.dags.setPaused('week', true), true);
    await run(svc, clock, made, Date.parse('2024-04-01T12:00:00Z'), HOUR);
    await t.rt.store.dags.setPaused('week', false);
    await run(svc, clock, made, Date.parse('2024-04-03T23:00:00Z'), HOUR);
    const states = (await t.rt.store.runs.list({ dagId: 'week' }))
      .map((r) => `${r.run_id} ${r.state}`)
      .reverse();
    result = { made, states, log };
  });
  return result!;
}

test('a week of @daily in Europe/Amsterdam across the March DST change, catchup on, maxActiveRuns 1, paused mid-week', async () => {
  const { made, states, log } = await week(true);
  assert.deepEqual(made, [
    {
      at: '2024-03-27T23:00',
      runId: 'scheduled__2024-03-26T23:00:00+00:00',
      interval: '2024-03-26T23:00..2024-03-27T23:00',
    },
    {
      at: '2024-03-28T23:00',
      runId: 'scheduled__2024-03-27T23:00:00+00:00',
      interval: '2024-03-27T23:00..2024-03-28T23:00',
    },
    // paused from 29 March 12:00Z: nothing; unpaused 1 April 12:00Z: the missed intervals in order,
    // one per loop turn because maxActiveRuns is 1 and each run must end first
    {
      at: '2024-04-01T13:00',
      runId: 'scheduled__2024-03-28T23:00:00+00:00',
      interval: '2024-03-28T23:00..2024-03-29T23:00',
    },
    {
      at: '2024-04-01T14:00',
      runId: 'scheduled__2024-03-29T23:00:00+00:00',
      interval: '2024-03-29T23:00..2024-03-30T23:00',
    },
    // the 23-hour day: local midnight 31 March (+01:00) to local midnight 1 April (+02:00)
    {
      at: '2024-04-01T15:00',
      runId: 'scheduled__2024-03-30T23:00:00+00:00',
      interval: '2024-03-30T23:00..2024-03-31T22:00',
    },
    {
      at: '2024-04-01T22:00',
      runId: 'scheduled__2024-03-31T22:00:00+00:00',
      interval: '2024-03-31T22:00..2024-04-01T22:00',
    },
    {
      at: '2024-04-02T22:00',
      runId: 'scheduled__2024-04-01T22:00:00+00:00',
      interval: '2024-04-01T22:00..2024-04-02T22:00',
    },
    {
      at: '2024-04-03T22:00',
      runId: 'scheduled__2024-04-02T22:00:00+00:00',
      interval: '2024-04-02T22:00..2024-04-03T22:00',
    },
  ]);
  assert.ok(
    states.every((s) => s.endsWith(' success')),
    states.join('\n'),
  );
  assert.ok(
    log.some((l) =>
      l.startsWith(
        'created scheduled__2024-03-30T23:00:00+00:00 of DAG "week": data interval 2024-03-31 00:00+01:00 → 2024-04-01 00:00+02:00 closed',
      ),
    ),
    log.join('\n'),
  );
  assert.ok(log.includes('DAG "week" paused: no new runs') && log.includes('DAG "week" unpaused'));
});

test('the same week with catchup off: after the unpause only the latest interval runs (_skip_to_latest)', async () => {
  const { made } = await week(false);
  assert.deepEqual(
    made.map((m) => `${m.at} ${m.interval}`),
    [
      '2024-03-27T23:00 2024-03-26T23:00..2024-03-27T23:00',
      '2024-03-28T23:00 2024-03-27T23:00..2024-03-28T23:00',
      // at 1 April 12:00Z the last complete interval is 31 March (local); 29 and 30 March are skipped
      '2024-04-01T13:00 2024-03-30T23:00..2024-03-31T22:00',
      '2024-04-01T22:00 2024-03-31T22:00..2024-04-01T22:00',
      '2024-04-02T22:00 2024-04-01T22:00..2024-04-02T22:00',
      '2024-04-03T22:00 2024-04-02T22:00..2024-04-03T22:00',
    ],
  );
});

test('maxActiveRuns counts manual runs too; the next scheduled run waits and says why', async () => {
  const clock = new FakeClock(Date.parse('2024-03-26T23:00:00Z'));
  await withScheduler(weekDag(true), clock, async (t, svc, made, log) => {
    const manual = await t.rt.triggerRun('week');
    assert.equal(await t.rt.claimRun('week', manual.run_id), true); // running, as `hangar run` would hold it
    await run(svc, clock, made, Date.parse('2024-03-28T00:00:00Z'), HOUR);
    assert.equal(made.length, 0);
    assert.ok(
      log.some((l) =>
        /DAG "week": next run \(logical date 2024-03-26T23:00:00\+00:00\) waits, 1 active run\(s\) of maxActiveRuns 1/.test(
          l,
        ),
      ),
      log.join('\n'),
    );
    await t.rt.store.runs.update('week', manual.run_id, { state: 'success', owner_pid: null });
    await run(svc, clock, made, Date.parse('2024-03-28T01:00:00Z'), HOUR);
    assert.deepEqual(
      made.map((m) => m.runId),
      ['scheduled__2024-03-26T23:00:00+00:00'],
    );
  });
});

test('an hourly cron in Europe/Amsterdam across the repeated hour of 27 October 2024 runs every UTC hour once', async () => {
  const clock = new FakeClock(Date.parse('2024-10-26T22:00:00Z')); // 00:00+02:00
  const file = `import { dag } from 'hangar';
export const d = dag({ id: 'hourly', schedule: '0 * * * *', timezone: 'Europe/Amsterdam', startDate: '2024-10-27T00:00:00+02:00', catchup: true });
d.task('t', async () => 1);
`;
  await withScheduler(file, clock, async (_t, svc, made) => {
    await run(svc, clock, made, Date.parse('2024-10-27T04:00:00Z'), 15 * 60_000);
    assert.deepEqual(
      made.map((m) => `${m.at} ${m.interval}`),
      [
        '2024-10-26T23:00 2024-10-26T22:00..2024-10-26T23:00', // 00:00+02 → 01:00+02
        '2024-10-27T00:00 2024-10-26T23:00..2024-10-27T00:00', // 01:00+02 → 02:00+02
        '2024-10-27T01:00 2024-10-27T00:00..2024-10-27T01:00', // 02:00+02 → 02:00+01 (the repeated hour)
        '2024-10-27T02:00 2024-10-27T01:00..2024-10-27T02:00', // 02:00+01 → 03:00+01
        '2024-10-27T03:00 2024-10-27T02:00..2024-10-27T03:00',
        '2024-10-27T04:00 2024-10-27T03:00..2024-10-27T04:00',
      ],
    );
  });
});

test('a duration schedule: one run per 30 minutes from the start date, the last one at the endDate', async () => {
  const clock = new FakeClock(Date.parse('2024-01-01T00:00:00Z'));
  const file = `import { dag } from 'hangar';
export const d = dag({ id: 'every', schedule: { every: '30m' }, startDate: '2024-01-01T00:10:00Z', endDate: '2024-01-01T01:10:00Z', catchup: true });
d.task('t', async (ctx) => ctx.dataIntervalEnd.toISOString());
`;
  await withScheduler(file, clock, async (t, svc, made) => {
    await run(svc, clock, made, Date.parse('2024-01-01T03:00:00Z'), 5 * 60_000);
    assert.deepEqual(
      made.map((m) => `${m.at} ${m.interval}`),
      [
        '2024-01-01T00:40 2024-01-01T00:10..2024-01-01T00:40',
        '2024-01-01T01:10 2024-01-01T00:40..2024-01-01T01:10',
        '2024-01-01T01:40 2024-01-01T01:10..2024-01-01T01:40',
      ],
    );
    assert.deepEqual(svc.nextRuns().get('every'), undefined, 'no run starts after the endDate');
    assert.ok((await t.rt.store.runs.list({ dagId: 'every' })).every((r) => r.state === 'success'));
  });
});

test('paused at creation (dags_are_paused_at_creation) and pause state kept in the store', async () => {
  const clock = new FakeClock(Date.parse('2024-03-26T23:00:00Z'));
  const t = await testRuntime(
    { 'dags/d.ts': weekDag(true) },
    { clock, config: { scheduler: { dagsArePausedAtCreation: true } } },
  );
  try {
    assert.equal((await t.rt.store.dags.paused()).get('week'), true);
    const svc = new SchedulerService(t.rt, { watch: false });
    await svc.reload();
    clock.advance(48 * HOUR);
    assert.deepEqual((await svc.tick()).created, []);
    await t.rt.store.dags.setPaused('week', false);
    await t.rt.loadDags(); // a re-parse keeps the pause state
    assert.equal((await t.rt.store.dags.paused()).get('week'), false);
    assert.equal((await svc.tick()).created.length, 1);
    await svc.stop();
  } finally {
    await t.close();
  }
});

test('manual run ids are unique below the second: two runs triggered at the same instant both work', async () => {
  const clock = new FakeClock(Date.parse('2024-05-01T10:00:00.250Z'));
  const t = await testRuntime({ 'dags/d.ts': weekDag(true) }, { clock });
  try {
    const a = await t.rt.triggerRun('week');
    const b = await t.rt.triggerRun('week');
    // Airflow's run ids carry microseconds (manual__2024-05-01T10:00:00.250000+00:00).
    assert.equal(a.run_id, 'manual__2024-05-01T10:00:00.250000+00:00');
    assert.equal(b.run_id, 'manual__2024-05-01T10:00:00.251000+00:00');
  } finally {
    await t.close();
  }
});

test(
  'runs waiting for a parallelism slot start when another run frees one (many runs, parallelism 1)',
  { timeout: 30_000 },
  async () => {
    const clock = new FakeClock(Date.parse('2024-01-01T00:00:00Z'));
    const files: Record<string, string> = {};
    for (let i = 0; i < 5; i++) {
      files[`dags/d${i}.ts`] = `import { dag } from 'hangar';
export const d = dag({ id: 'd${i}', schedule: '@hourly', startDate: '2024-01-01T00:00:00Z', catchup: true });
d.task('t', async () => ${i});
`;
    }
    const t = await testRuntime(files, { clock, config: { parallelism: 1 } });
    try {
      const svc = new SchedulerService(t.rt, { watch: false });
      await svc.reload();
      clock.advance(HOUR);
      assert.equal((await svc.tick()).created.length, 5);
      await svc.idle();
      assert.deepEqual(
        (await t.rt.store.runs.list()).map((r) => r.state),
        ['success', 'success', 'success', 'success', 'success'],
      );
      await svc.stop();
    } finally {
      await t.close();
    }
  },
);

test('dagrunTimeout fails a scheduled run that takes too long', { timeout: 30_000 }, async () => {
  const clock = new FakeClock(Date.parse('2024-01-01T00:00:00Z'));
  const file = `import { dag } from 'hangar';
export const d = dag({ id: 'slow', schedule: '@hourly', startDate: '2024-01-01T00:00:00Z', catchup: true, dagrunTimeout: '30m' });
d.task('t', async (ctx) => { await ctx.sleep(2 * 3600_000); return 1; });
`;
  await withScheduler(file, clock, async (t, svc, made) => {
    clock.advance(HOUR);
    assert.equal((await svc.tick()).created.length, 1);
    let done = false;
    void svc.idle().then(() => (done = true));
    for (let i = 0; i < 100 && !done; i++) {
      await t.turn();
      clock.advance(60_000);
    }
    assert.equal(done, true);
    const run = (await t.rt.store.runs.list({ dagId: 'slow' }))[0]!;
    assert.equal(run.state, 'failed');
    assert.match((await t.rt.store.tasks.list('slow', run.run_id))[0]!.error ?? '', /dagrunTimeout/);
    void made;
  });
});

test(
  'a run given back with a try still marked running by this process (a store outage) is settled before it is adopted, not waited on',
  { timeout: 30_000 },
  async () => {
    const t = await testRuntime({
      'dags/d.ts': `import { dag } from 'hangar';
export const d = dag({ id: 'orphan', defaultArgs: { retries: 1, retryDelay: 0 } });
const a = d.task('a', async () => 1);
d.task('b', { inputs: { a } }, async () => 2);
`,
    });
    const log: string[] = [];
    const svc = new SchedulerService(t.rt, { log: (l) => log.push(l), watch: false });
    try {
      await svc.reload();
      await svc.tick(); // the periodic recovery runs on the first turn: the next turn does not run it
      const { store } = t.rt;
      const run = await t.rt.triggerRun('orphan');
      // What a store outage leaves: the run given back (running, no owner) and its try `running`
      // under this very process, which is alive — its loop ended without writing the try's end.
      const key = { dag_id: 'orphan', run_id: run.run_id, task_id: 'a', map_index: -1 };
      assert.deepEqual(await store.tasks.claimTries([{ key, expectedTryNumber: 0, log_path: join(t.ws.root, 'a.log') }], [null], { pid: process.pid, hostname: hostname(), start_date: new Date().toISOString() }), [true]);
      await store.runs.update('orphan', run.run_id, { state: 'running', owner_pid: null, owner_host: null, heartbeat_at: new Date().toISOString() });

      await svc.tick();
      await svc.idle();
      assert.equal((await store.runs.get('orphan', run.run_id))!.state, 'success', log.join('\n'));
      assert.deepEqual(await t.states(run.run_id, 'orphan'), { a: 'success', b: 'success' });
      assert.equal((await store.tasks.get('orphan', run.run_id, 'a', -1))!.try_number, 2);
      assert.match(log.join('\n'), /recovered task "a" of run "\S+" \(DAG "orphan"\) left by a runtime that stopped: now up_for_retry\n.*resuming/);
    } finally {
      await svc.stop();
      await t.close();
    }
  },
);
