import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../src/runtime/scheduler/clock.ts';
import { testRuntime } from '../helpers/runtime.ts';
import { drive, g, gaps, pokes, waitForTask, xcom } from './helpers.ts';

const T0 = Date.UTC(2024, 0, 15, 12);

test('poke mode: holds its slot, sleeps on the clock between pokes, its PokeReturnValue becomes the XCom; every poke recorded', async () => {
  const clock = new FakeClock(T0);
  g.__calls = [];
  const t = await testRuntime(
    {
      'dags/p.ts': `import { dag, sensor } from 'hangar';
export const d = dag({ id: 'p' });
const s = sensor(d, 'wait', { pokeInterval: '45s', timeout: '10m' }, (ctx) => {
  (globalThis as any).__calls.push(['poke', ctx.now(), ctx.pokeNumber, ctx.tryNumber]);
  return ctx.pokeNumber < 4 ? false : { done: true, value: { found: ctx.pokeNumber } };
});
// Another sensor: it queues behind 'wait' (sensors queue in order) and needs the only slot.
sensor(d, 'other', (ctx) => { (globalThis as any).__calls.push(['other', ctx.now()]); return true; });
d.task('after', { inputs: { v: s } }, async (ctx, { v }) => v);
`,
    },
    { clock, config: { parallelism: 1 } },
  );
  try {
    const run = await drive(clock, t.rt.runDag('p'));
    assert.equal(run.state, 'success');
    const calls = g.__calls as [string, number, number?, number?][];
    // The sensor held the only slot: 'other' ran after it finished (3 × 45 s later).
    assert.deepEqual(
      calls.map((c) => [c[0], c[1] - T0]),
      [
        ['poke', 0],
        ['poke', 45_000],
        ['poke', 90_000],
        ['poke', 135_000],
        ['other', 135_000],
      ],
    );
    assert.ok(
      calls.filter((c) => c[0] === 'poke').every((c) => c[3] === 1),
      'one try',
    );
    assert.deepEqual(await xcom(t.rt, 'p', run.run_id, 'after'), { found: 4 });
    const rows = await pokes(t.rt, 'p', run.run_id, 'wait');
    assert.deepEqual(
      rows.map((r) => [r.poke_number, r.result, r.next_interval_ms, r.mode, r.try_number]),
      [
        [1, 'not_yet', 45_000, 'poke', 1],
        [2, 'not_yet', 45_000, 'poke', 1],
        [3, 'not_yet', 45_000, 'poke', 1],
        [4, 'done', null, 'poke', 1],
      ],
    );
    assert.deepEqual(gaps(rows), [45_000, 45_000, 45_000]);
    assert.ok(rows.every((r) => r.duration_ms >= 0 && r.strategy === 'fixed'));
    const inst = (await t.rt.store.sensors.getInstance({ dagId: 'p', runId: run.run_id, taskId: 'wait', mapIndex: -1 }))!;
    assert.equal(inst.outcome, 'success');
    assert.equal(inst.wait_ms, 135_000);
    assert.equal((await t.rt.store.tasks.get('p', run.run_id, 'wait'))!.operator, 'sensor');
  } finally {
    await t.close();
  }
});

test('reschedule mode: frees its slot between pokes (up_for_reschedule, next poke persisted), keeps its try number', async () => {
  const clock = new FakeClock(T0);
  g.__calls = [];
  const t = await testRuntime(
    {
      'dags/r.ts': `import { dag, sensor } from 'hangar';
export const d = dag({ id: 'r' });
sensor(d, 'wait', { mode: 'reschedule', pokeInterval: '1m', timeout: '1h' }, (ctx) => {
  (globalThis as any).__calls.push(['poke', ctx.now(), ctx.tryNumber]);
  return ctx.pokeNumber >= 3;
});
sensor(d, 'other', (ctx) => { (globalThis as any).__calls.push(['other', ctx.now()]); return true; });
`,
    },
    { clock, config: { parallelism: 1 } },
  );
  try {
    const done = t.rt.runDag('r');
    const e = await waitForTask(t.rt, (x) => x.taskId === 'wait' && x.state === 'up_for_reschedule');
    const ti = (await t.rt.store.tasks.get('r', e.runId, 'wait'))!;
    assert.equal(ti.state, 'up_for_reschedule');
    assert.equal(Date.parse(ti.next_try_at!) - clock.now(), 60_000);
    const run = await drive(clock, done);
    assert.equal(run.state, 'success');
    const calls = g.__calls as [string, number, number?][];
    // 'other' ran in the freed slot before the second poke.
    assert.deepEqual(
      calls.map((c) => [c[0], c[1] - T0]),
      [
        ['poke', 0],
        ['other', 0],
        ['poke', 60_000],
        ['poke', 120_000],
      ],
    );
    assert.ok(
      calls.filter((c) => c[0] === 'poke').every((c) => c[2] === 1),
      'every poke under try 1',
    );
    const rows = await pokes(t.rt, 'r', run.run_id, 'wait');
    assert.deepEqual(
      rows.map((r) => [r.poke_number, r.result, r.mode, r.next_interval_ms]),
      [
        [1, 'not_yet', 'reschedule', 60_000],
        [2, 'not_yet', 'reschedule', 60_000],
        [3, 'done', 'reschedule', null],
      ],
    );
    assert.deepEqual(
      (await t.rt.store.tasks.listTries('r', run.run_id, 'wait')).map((x) => [x.try_number, x.state]),
      [[1, 'success']],
    );
  } finally {
    await t.close();
  }
});

test('run loop: ordinary tasks are not starved by a crowd of due sensor pokes (they queue ahead of them)', async () => {
  const clock = new FakeClock(T0);
  g.__order = [];
  const t = await testRuntime(
    {
      'dags/crowd.ts': `import { dag, sensor } from 'hangar';
export const d = dag({ id: 'crowd' });
const first = d.task('first', async () => { (globalThis as any).__order.push('first'); });
const second = d.task('second', async () => { (globalThis as any).__order.push('second'); });
first.before(second);
for (let i = 0; i < 20; i++) sensor(d, 's' + i, { mode: 'reschedule', pokeInterval: '1m' }, (ctx) => { (globalThis as any).__order.push('s'); return ctx.pokeNumber >= 2; });
`,
    },
    { clock, config: { parallelism: 1 } },
  );
  try {
    const run = await drive(clock, t.rt.runDag('crowd'));
    assert.equal(run.state, 'success');
    const order = g.__order as string[];
    // 'second' became ready while 20 sensor pokes were queued: it ran next, not after them.
    assert.deepEqual(order.slice(0, 2), ['first', 'second']);
    assert.equal(order.filter((x) => x === 's').length, 40);
  } finally {
    await t.close();
  }
});
