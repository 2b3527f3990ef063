import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../src/runtime/scheduler/clock.ts';
import { testRuntime } from '../helpers/runtime.ts';
import { drive, g, gaps, pokes } from './helpers.ts';

const T0 = Date.UTC(2024, 0, 15, 12);

test('timeout: measured from the first poke across reschedules; the last poke is at the deadline; failed, not retried; onTimeout once', async () => {
  const clock = new FakeClock(T0);
  g.__timeouts = [];
  const t = await testRuntime(
    {
      'dags/to.ts': `import { dag, sensor } from 'hangar';
export const d = dag({ id: 'to' });
sensor(d, 'wait', { mode: 'reschedule', pokeInterval: '4m', timeout: '10m', retries: 2, retryDelay: '1m',
  onTimeout: (e) => { (globalThis as any).__timeouts.push(e); } }, () => false);
d.task('after', async () => 'never').after('wait');
`,
    },
    { clock },
  );
  try {
    const run = await drive(clock, t.rt.runDag('to'));
    assert.equal(run.state, 'failed');
    assert.deepEqual(await t.states(run.run_id), { wait: 'failed', after: 'upstream_failed' });
    const ti = (await t.rt.store.tasks.get('to', run.run_id, 'wait'))!;
    assert.equal(ti.try_number, 1, 'a timeout is not retried');
    assert.match(
      ti.error!,
      /SensorTimeoutError: Sensor "wait" of DAG "to" timed out after 600\.0s \(timeout 600s, 4 poke\(s\)\)/,
    );
    const rows = await pokes(t.rt, 'to', run.run_id, 'wait');
    assert.deepEqual(gaps(rows), [240_000, 240_000, 120_000], 'the last wait is cut to the deadline');
    assert.deepEqual(
      rows.map((r) => r.result),
      ['not_yet', 'not_yet', 'not_yet', 'timeout'],
    );
    assert.equal((g.__timeouts as unknown[]).length, 1);
    assert.equal((g.__timeouts as { elapsedMs: number }[])[0]!.elapsedMs, 600_000);
    assert.equal(
      (await t.rt.store.sensors.getInstance({ dagId: 'to', runId: run.run_id, taskId: 'wait', mapIndex: -1 }))!.outcome,
      'timeout',
    );
  } finally {
    await t.close();
  }
});

test('softFail: a timeout makes the sensor skipped, and its downstream skipped', async () => {
  const clock = new FakeClock(T0);
  const t = await testRuntime(
    {
      'dags/sf.ts': `import { dag, sensor } from 'hangar';
export const d = dag({ id: 'sf' });
const s = sensor(d, 'wait', { pokeInterval: '30s', timeout: '2m', softFail: true }, () => false);
d.task('after', async () => 'never').after(s);
`,
    },
    { clock },
  );
  try {
    const run = await drive(clock, t.rt.runDag('sf'));
    assert.deepEqual(await t.states(run.run_id), { wait: 'skipped', after: 'skipped' });
    assert.equal(run.state, 'success');
    assert.match(
      (await t.rt.store.tasks.get('sf', run.run_id, 'wait'))!.error!,
      /timed out after 120\.0s .*skipped \(softFail\)/,
    );
    assert.equal((await pokes(t.rt, 'sf', run.run_id)).length, 5);
  } finally {
    await t.close();
  }
});

test('retryOnTimeout: a timed-out sensor is retried with a fresh timeout', async () => {
  const clock = new FakeClock(T0);
  const t = await testRuntime(
    {
      'dags/rt.ts': `import { dag, sensor } from 'hangar';
export const d = dag({ id: 'rt' });
sensor(d, 'wait', { pokeInterval: '1m', timeout: '2m', retries: 1, retryDelay: '5m', retryOnTimeout: true }, (ctx) => ctx.tryNumber === 2 && ctx.pokeNumber === 2);
`,
    },
    { clock },
  );
  try {
    const run = await drive(clock, t.rt.runDag('rt'));
    assert.equal(run.state, 'success');
    const rows = await pokes(t.rt, 'rt', run.run_id, 'wait');
    assert.deepEqual(
      rows.map((r) => [r.try_number, r.poke_number, r.result]),
      [
        [1, 1, 'not_yet'],
        [1, 2, 'not_yet'],
        [1, 3, 'timeout'],
        [2, 1, 'not_yet'],
        [2, 2, 'done'],
      ],
    );
  } finally {
    await t.close();
  }
});

test('a poke that throws: the error is recorded, retries apply, onFailure fires after the last; the message names the sensor', async () => {
  const clock = new FakeClock(T0);
  g.__failures = [];
  g.__pokeEvents = [];
  const t = await testRuntime(
    {
      'dags/th.ts': `import { dag, sensor } from 'hangar';
export const d = dag({ id: 'th' });
sensor(d, 'wait', { mode: 'reschedule', pokeInterval: '10s', timeout: '1h', retries: 2, retryDelay: '1m',
  onPoke: (e) => { (globalThis as any).__pokeEvents.push([e.pokeNumber, e.result, e.error ?? null]); },
  onFailure: (c) => { (globalThis as any).__failures.push(c.error); } },
  (ctx) => { if (ctx.pokeNumber === 1) return false; throw new Error('bucket listing denied'); });
`,
    },
    { clock },
  );
  try {
    const run = await drive(clock, t.rt.runDag('th'));
    assert.equal(run.state, 'failed');
    const ti = (await t.rt.store.tasks.get('th', run.run_id, 'wait'))!;
    assert.equal(ti.try_number, 3, 'retries apply to poke errors');
    assert.match(ti.error!, /Sensor "wait" of DAG "th": poke 4 failed: bucket listing denied/);
    assert.deepEqual(g.__pokeEvents, [
      [1, 'not_yet', null],
      [2, 'error', 'bucket listing denied'],
      [3, 'error', 'bucket listing denied'],
      [4, 'error', 'bucket listing denied'],
    ]);
    assert.equal((g.__failures as string[]).length, 1);
    const rows = await pokes(t.rt, 'th', run.run_id, 'wait');
    assert.deepEqual(
      rows.map((r) => r.try_number),
      [1, 1, 2, 3],
    );
    assert.deepEqual(gaps(rows), [10_000, 60_000, 60_000], 'retryDelay between failed tries');
    assert.equal(
      (await t.rt.store.sensors.getInstance({ dagId: 'th', runId: run.run_id, taskId: 'wait', mapIndex: -1 }))!.outcome,
      'failed',
    );
  } finally {
    await t.close();
  }
});

test('a poke that hangs past pokeTimeout is abandoned as an error (its signal aborted) and the next try pokes again', async () => {
  const clock = new FakeClock(T0);
  g.__aborted = [];
  const t = await testRuntime(
    {
      'dags/hang.ts': `import { dag, sensor } from 'hangar';
export const d = dag({ id: 'hang' });
sensor(d, 'wait', { pokeInterval: '10s', pokeTimeout: '30s', timeout: '1h', retries: 1, retryDelay: '1s' }, (ctx) => {
  if (ctx.tryNumber === 2) return true;
  return new Promise<boolean>((_, reject) => ctx.pokeSignal.addEventListener('abort', () => { (globalThis as any).__aborted.push(ctx.now()); reject(ctx.pokeSignal.reason); }));
});
`,
    },
    { clock },
  );
  try {
    const run = await drive(clock, t.rt.runDag('hang'));
    assert.equal(run.state, 'success');
    const rows = await pokes(t.rt, 'hang', run.run_id, 'wait');
    assert.deepEqual(
      rows.map((r) => [r.try_number, r.result]),
      [
        [1, 'error'],
        [2, 'done'],
      ],
    );
    assert.match(
      rows[0]!.error!,
      /Sensor "wait" of DAG "hang": poke 1 did not finish within 30s \(pokeTimeout\)/,
    );
    assert.deepEqual(
      (g.__aborted as number[]).map((x) => x - T0),
      [30_000],
    );
    assert.equal(gaps(rows)[0], 31_000);
  } finally {
    await t.close();
  }
});

test('skipTask / failWithoutRetry (executor/services.ts) work for any task body', async () => {
  const services = new URL('../../src/runtime/executor/services.ts', import.meta.url).pathname;
  const t = await testRuntime({
    'dags/out.ts': `import { dag } from 'hangar';
import { skipTask, failWithoutRetry } from '${services}';
export const d = dag({ id: 'out' });
const a = d.task('skipper', async () => skipTask('nothing to do today'));
d.task('after_skip', async () => 'x').after(a);
d.task('hard_fail', { retries: 3, retryDelay: 0 }, async () => failWithoutRetry('bad config: no retry can help'));
`,
  });
  try {
    const run = await t.rt.runDag('out');
    assert.deepEqual(await t.states(run.run_id), {
      skipper: 'skipped',
      after_skip: 'skipped',
      hard_fail: 'failed',
    });
    assert.equal((await t.rt.store.tasks.get('out', run.run_id, 'skipper'))!.error, 'nothing to do today');
    const hf = (await t.rt.store.tasks.get('out', run.run_id, 'hard_fail'))!;
    assert.equal(hf.try_number, 1);
    assert.equal(hf.error, 'bad config: no retry can help');
  } finally {
    await t.close();
  }
});
