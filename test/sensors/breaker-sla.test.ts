import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../src/runtime/scheduler/clock.ts';
import { slaObserver } from '../../src/runtime/sensors/index.ts';
import { testRuntime } from '../helpers/runtime.ts';
import { drive, g, pokes } from './helpers.ts';

const T0 = Date.UTC(2024, 0, 15, 12);

test('circuit breaker: closed → open after N consecutive errors → half-open probe fails → open again → probe passes → closed', async () => {
  const clock = new FakeClock(T0);
  g.__calls = 0;
  g.__states = [];
  const t = await testRuntime(
    {
      'dags/cb.ts': `import { dag, sensor } from 'hangar';
export const d = dag({ id: 'cb' });
sensor(d, 'wait', { mode: 'reschedule', pokeInterval: '1m', timeout: '2h', retries: 5, retryDelay: '10s',
  circuitBreaker: { threshold: 2, coolDown: '5m', whenOpen: 'reschedule' } }, () => {
  const n = ++(globalThis as any).__calls;
  if (n <= 3) throw new Error('endpoint down ' + n);
  return n >= 5;
});
`,
    },
    { clock },
  );
  try {
    const done = t.rt.runDag('cb');
    // Open after the second error (at 10 s), until 310 s.
    await drive(clock, done, { until: T0 + 100_000 });
    assert.equal((await t.rt.store.sensors.getBreaker('cb', 'wait'))!.state, 'open');
    assert.equal((await t.rt.store.sensors.getBreaker('cb', 'wait'))!.open_until_ms, T0 + 310_000);
    const run = await drive(clock, done);
    assert.equal(run.state, 'success');
    const rows = await pokes(t.rt, 'cb', run.run_id, 'wait');
    assert.deepEqual(
      rows.map((r) => [r.poked_at_ms / 1000 - T0 / 1000, r.try_number, r.result]),
      [
        [0, 1, 'error'],
        [10, 2, 'error'], // second consecutive error: opens until 310 s
        [20, 3, 'breaker_open'],
        [310, 3, 'error'], // the half-open probe fails: open again until 610 s
        [320, 4, 'breaker_open'],
        [610, 4, 'not_yet'], // probe passes (not yet is not an error): closed
        [670, 4, 'done'],
      ],
    );
    assert.equal(g.__calls, 5, 'no poke while open');
    const b = (await t.rt.store.sensors.getBreaker('cb', 'wait'))!;
    assert.equal(b.state, 'closed');
    assert.equal(b.opened_count, 2);
  } finally {
    await t.close();
  }
});

test('circuit breaker: its state is shared across runs of the DAG; whenOpen fail fails fast without poking or retrying', async () => {
  const clock = new FakeClock(T0);
  g.__calls = 0;
  const t = await testRuntime(
    {
      'dags/cf.ts': `import { dag, sensor } from 'hangar';
export const d = dag({ id: 'cf' });
sensor(d, 'wait', { pokeInterval: '1m', timeout: '1h', retries: 3, retryDelay: '1s', circuitBreaker: { threshold: 1, coolDown: '30m' } }, () => {
  (globalThis as any).__calls++;
  throw new Error('HTTP 503 from partner API');
});
`,
    },
    { clock },
  );
  try {
    const r1 = await drive(clock, t.rt.runDag('cf', { logicalDate: new Date(T0) }));
    assert.equal(r1.state, 'failed');
    assert.equal(g.__calls, 1, 'first error opened the breaker; the retry failed fast');
    assert.equal((await t.rt.store.tasks.get('cf', r1.run_id, 'wait'))!.try_number, 2);
    const r2 = await drive(clock, t.rt.runDag('cf', { logicalDate: new Date(T0 + 1000) }));
    assert.equal(r2.state, 'failed');
    assert.equal(g.__calls, 1, 'another run: still open, no poke');
    const ti = (await t.rt.store.tasks.get('cf', r2.run_id, 'wait'))!;
    assert.equal(ti.try_number, 1, 'fail fast is not retried');
    assert.match(
      ti.error!,
      /CircuitOpenError: Sensor "wait" of DAG "cf": circuit breaker open until .* after 1 consecutive poke errors \(last: HTTP 503 from partner API\)/,
    );
    assert.deepEqual(
      (await pokes(t.rt, 'cf', r2.run_id)).map((r) => r.result),
      ['breaker_open'],
    );
  } finally {
    await t.close();
  }
});

test('SLA: checked by the runtime while the sensor waits; each escalation level fires once, misses recorded; a met SLA never fires', async () => {
  const clock = new FakeClock(T0);
  g.__misses = [];
  const t = await testRuntime(
    {
      'dags/sla.ts': `import { dag, sensor } from 'hangar';
export const d = dag({ id: 'sla' });
const onSlaMiss = (e: any) => { (globalThis as any).__misses.push([e.taskId, e.level, e.taskState, e.deadline]); };
sensor(d, 'slow', { mode: 'reschedule', pokeInterval: '20m', timeout: '2h', onSlaMiss,
  sla: { relativeTo: 'run_start', levels: [{ after: '30m', level: 'warn' }, { after: '45m', level: 'page' }] } },
  (ctx) => ctx.pokeNumber === 4);
sensor(d, 'quick', { mode: 'reschedule', pokeInterval: '5m', sla: { levels: [{ after: '30m', level: 'warn' }] }, onSlaMiss }, (ctx) => ctx.pokeNumber === 2);
sensor(d, 'by_date', { mode: 'reschedule', pokeInterval: '10m', onSlaMiss, sla: { relativeTo: 'logical_date', levels: [{ after: '1h' }] } }, (ctx) => ctx.pokeNumber === 2);
`,
    },
    { clock },
  );
  try {
    const run = await drive(clock, t.rt.runDag('sla', { logicalDate: new Date(T0 - 3_600_000) }));
    assert.equal(run.state, 'success');
    const misses = (g.__misses as [string, string, string, string][]).sort();
    assert.ok(
      ['running', 'up_for_reschedule'].includes(misses[0]![2]),
      'by_date: missed at once (its deadline had passed), while unfinished',
    );
    misses[0]![2] = 'unfinished';
    assert.deepEqual(
      misses,
      [
        ['by_date', 'sla', 'unfinished', new Date(T0).toISOString()],
        ['slow', 'page', 'up_for_reschedule', new Date(T0 + 45 * 60_000).toISOString()],
        ['slow', 'warn', 'up_for_reschedule', new Date(T0 + 30 * 60_000).toISOString()],
      ].sort(),
    );
    const rows = await t.rt.store.sensors.listSlaMisses({ dagId: 'sla', runId: run.run_id });
    assert.deepEqual(rows.map((r) => [r.task_id, r.level]).sort(), [
      ['by_date', 'sla'],
      ['slow', 'page'],
      ['slow', 'warn'],
    ]);
    // A second observer on the same run (a resumed run) does not fire again.
    const o = slaObserver({
      dag: t.rt.getDag('sla'),
      run: (await t.rt.store.runs.get('sla', run.run_id))!,
      store: t.rt.store,
      clock,
      events: t.rt.events,
      runCallback: async () => assert.fail('a resumed run must not call onSlaMiss again'),
    });
    clock.advance(24 * 3_600_000);
    await new Promise((r) => setTimeout(r, 10));
    await o?.dispose();
    assert.equal((g.__misses as unknown[]).length, 3);
  } finally {
    await t.close();
  }
});
