import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeClock } from '../../src/runtime/scheduler/clock.ts';
import type { TaskEvent } from '../../src/runtime/events.ts';
import type { Runtime } from '../../src/runtime/runtime.ts';
import { testRuntime } from '../helpers/runtime.ts';

const g = globalThis as unknown as Record<string, unknown[] | boolean | undefined>;

function waitForTask(rt: Runtime, pred: (e: TaskEvent) => boolean): Promise<TaskEvent> {
  return new Promise((resolve) => {
    const on = (e: TaskEvent) => {
      if (pred(e)) {
        rt.events.off('task', on);
        resolve(e);
      }
    };
    rt.events.on('task', on);
  });
}

async function xcom(rt: Runtime, dagId: string, runId: string, taskId: string, key = 'return_value', mapIndex = -1): Promise<unknown> {
  const row = await rt.store.xcoms.get(dagId, runId, taskId, key, mapIndex);
  return row ? rt.backend.deserialize({ dagId, runId, taskId, mapIndex, key }, row.value) : undefined;
}

test('branching: only the chosen branch runs; skips propagate until a join that allows them', async () => {
  const t = await testRuntime({
    'dags/branchy.ts': `import { dag } from 'hangar';
export const d = dag({ id: 'branchy' });
const pick = d.task('pick', { branch: true }, async (ctx) => (ctx.params.route === 'b' ? 'b' : 'a'));
const a = d.task('a', async () => 'a');
const b = d.task('b', async () => 'b');
const b2 = d.task('b2', async () => 'b2');
const join = d.task('join', { triggerRule: 'none_failed_min_one_success' }, async () => 'joined');
const strict = d.task('strict_join', async () => 'never');
pick.before(a, b);
b.before(b2);
d.chain([a, b2], join);
d.chain([a, b2], strict);
`,
  });
  try {
    const run = await t.rt.runDag('branchy');
    assert.deepEqual(await t.states(run.run_id), { pick: 'success', a: 'success', b: 'skipped', b2: 'skipped', join: 'success', strict_join: 'skipped' });
    const other = await t.rt.runDag('branchy', { conf: { route: 'b' }, runId: 'route_b' });
    assert.equal(other.state, 'success');
    assert.deepEqual(await t.states('route_b'), { pick: 'success', a: 'skipped', b: 'success', b2: 'success', join: 'success', strict_join: 'skipped' });
    await t.rt.runDag('branchy', { conf: { route: 'nowhere' }, runId: 'bad_pick' });
  } finally {
    await t.close();
  }
});

test('branching: returning a task that is not directly downstream fails the branch task', async () => {
  const t = await testRuntime({
    'dags/badbranch.ts': `import { dag } from 'hangar';
export const d = dag({ id: 'badbranch' });
const pick = d.task('pick', { branch: true }, async () => 'elsewhere');
pick.before(d.task('a', async () => 1));
`,
  });
  try {
    const run = await t.rt.runDag('badbranch');
    assert.equal(run.state, 'failed');
    const ti = (await t.rt.store.tasks.get('badbranch', run.run_id, 'pick'))!;
    assert.match(ti.error!, /Branch task "pick" returned "elsewhere", which is not one of its downstream tasks \(a\)/);
    assert.equal((await t.states(run.run_id)).a, 'upstream_failed');
  } finally {
    await t.close();
  }
});

test('short-circuit: a falsy result skips everything downstream, or only direct tasks when trigger rules are respected', async () => {
  const t = await testRuntime({
    'dags/sc.ts': `import { dag } from 'hangar';
export const d = dag({ id: 'sc' });
const check = d.task('check', { shortCircuit: true }, async (ctx) => ctx.params.go === true);
const x = d.task('x', async () => 1);
const y = d.task('y', async () => 2);
check.before(x).before(y);
export const e = dag({ id: 'sc_rules' });
const check2 = e.task('check', { shortCircuit: true, ignoreDownstreamTriggerRules: false }, async () => 0);
const x2 = e.task('x', async () => 1);
const done = e.task('done', { triggerRule: 'all_done' }, async () => 'ran anyway');
check2.before(x2).before(done);
`,
  });
  try {
    const stop = await t.rt.runDag('sc');
    assert.deepEqual(await t.states(stop.run_id), { check: 'success', x: 'skipped', y: 'skipped' });
    const go = await t.rt.runDag('sc', { conf: { go: true }, runId: 'go' });
    assert.equal(go.state, 'success');
    assert.deepEqual(await t.states('go'), { check: 'success', x: 'success', y: 'success' });
    const rules = await t.rt.runDag('sc_rules');
    assert.deepEqual(await t.states(rules.run_id, 'sc_rules'), { check: 'success', x: 'skipped', done: 'success' });
  } finally {
    await t.close();
  }
});

test('mapping: expand over literal lists and upstream XComs, partial arguments, empty lists', async () => {
  const t = await testRuntime({
    'dags/mapped.ts': `import { dag } from 'hangar';
export const d = dag({ id: 'mapped' });
const files = d.task('list_files', async () => ['a.csv', 'b.csv', 'c.csv']);
const sizes = d.task('size', { expand: { file: files }, inputs: { unit: 'KB' } }, async (ctx, { file, unit }) => \`\${ctx.mapIndex}:\${file}:\${unit}\`);
const total = d.task('total', { inputs: { all: sizes } }, async (_ctx, { all }) => all.join('|'));
const literal = d.task('literal', { expand: { n: [1, 2], m: [10, 20, 30] } }, async (_c, { n, m }) => n * m);
const none = d.task('none', async () => [] as number[]);
const nothing = d.task('nothing', { expand: { x: none } }, async (_c, { x }) => x);
const after = d.task('after_nothing', { inputs: { xs: nothing } }, async () => 'never');
void total; void literal; void after;
`,
  });
  try {
    const run = await t.rt.runDag('mapped');
    const s = await t.states(run.run_id);
    assert.equal(s['size[0]'], 'success');
    assert.equal(s['size[2]'], 'success');
    assert.equal(s.size, undefined, 'the placeholder was replaced by mapped instances');
    assert.equal(await xcom(t.rt, 'mapped', run.run_id, 'size', 'return_value', 1), '1:b.csv:KB');
    assert.equal(await xcom(t.rt, 'mapped', run.run_id, 'total'), '0:a.csv:KB|1:b.csv:KB|2:c.csv:KB');
    const products = await Promise.all([0, 1, 2, 3, 4, 5].map((i) => xcom(t.rt, 'mapped', run.run_id, 'literal', 'return_value', i)));
    assert.deepEqual(products, [10, 20, 30, 20, 40, 60], 'the cartesian product of expand lists');
    assert.equal(s.nothing, 'skipped', 'an empty list skips the mapped task');
    assert.equal(s.after_nothing, 'skipped');
    assert.equal(run.state, 'success');
  } finally {
    await t.close();
  }
});

test('retries: exponential backoff with a cap; the wait is visible as up_for_retry with the next try time', async () => {
  const clock = new FakeClock(Date.UTC(2024, 0, 15, 12));
  const t = await testRuntime(
    {
      'dags/retry.ts': `import { dag } from 'hangar';
export const d = dag({ id: 'retry' });
d.task('flaky', { retries: 3, retryDelay: 10, retryExponentialBackoff: true, maxRetryDelay: '25s' }, async (ctx) => {
  if (ctx.tryNumber < 3) throw new Error('try ' + ctx.tryNumber + ' fails');
  return ctx.tryNumber;
});
`,
    },
    { clock },
  );
  try {
    const waits: number[] = [];
    const done = t.rt.runDag('retry');
    for (let i = 0; i < 2; i++) {
      const e = await waitForTask(t.rt, (x) => x.state === 'up_for_retry');
      const ti = (await t.rt.store.tasks.get('retry', e.runId, 'flaky'))!;
      assert.equal(ti.state, 'up_for_retry');
      assert.equal(ti.next_try_at, e.nextTryAt);
      const wait = Date.parse(ti.next_try_at!) - clock.now();
      waits.push(wait);
      clock.advance(wait - 1);
      await new Promise((r) => setTimeout(r, 20));
      assert.equal((await t.rt.store.tasks.get('retry', e.runId, 'flaky'))!.state, 'up_for_retry', 'no try before its time');
      clock.advance(1);
    }
    const run = await done;
    assert.equal(run.state, 'success');
    assert.ok(waits[0]! >= 10_000 && waits[0]! < 20_000, `first wait ${waits[0]} in [10s, 20s)`);
    assert.ok(waits[1]! >= 20_000 && waits[1]! <= 25_000, `second wait ${waits[1]} in [20s, 25s] (capped)`);
    const tries = await t.rt.store.tasks.listTries('retry', run.run_id, 'flaky');
    assert.deepEqual(tries.map((x) => x.state), ['failed', 'failed', 'success']);
    for (const x of tries.slice(0, 2)) assert.match(readFileSync(x.log_path!, 'utf8'), new RegExp(`Starting attempt ${x.try_number} of 4[\\s\\S]*Error: try ${x.try_number} fails`));
    assert.equal(existsSync(tries[2]!.log_path!), false, 'a try that wrote nothing has no log file');
  } finally {
    await t.close();
  }
});

test('timeouts: executionTimeout fails a try (and retries it); dagrunTimeout fails the run and skips the rest', async () => {
  const t = await testRuntime({
    'dags/slow.ts': `import { dag } from 'hangar';
export const d = dag({ id: 'slow' });
d.task('sleepy', { executionTimeout: 0.2, retries: 1, retryDelay: 0 }, async (ctx) => {
  if (ctx.tryNumber === 1) await new Promise((r) => setTimeout(r, 5000));
  return 'second try is quick';
});
export const r = dag({ id: 'slow_run', dagrunTimeout: 0.3 });
const first = r.task('first', async (ctx) => new Promise((res) => { const t = setTimeout(res, 5000); ctx.signal.addEventListener('abort', () => clearTimeout(t)); }));
first.before(r.task('second', async () => 'never'));
`,
  });
  try {
    const run = await t.rt.runDag('slow');
    assert.equal(run.state, 'success');
    const tries = await t.rt.store.tasks.listTries('slow', run.run_id, 'sleepy');
    assert.equal(tries.length, 2);
    assert.match(tries[0]!.error!, /timed out after 0\.2s/);
    const run2 = await t.rt.runDag('slow_run');
    assert.equal(run2.state, 'failed');
    assert.deepEqual(await t.states(run2.run_id, 'slow_run'), { first: 'failed', second: 'skipped' });
    assert.match((await t.rt.store.tasks.get('slow_run', run2.run_id, 'first'))!.error!, /dagrunTimeout/);
  } finally {
    await t.close();
  }
});

test('callbacks: each fires at its moment; a throwing callback is logged and changes nothing', async () => {
  g.__calls = [];
  const t = await testRuntime({
    'dags/cb.ts': `import { dag } from 'hangar';
const calls = (globalThis as any).__calls as string[];
export const d = dag({
  id: 'cb',
  onSuccess: (c) => { calls.push('dag:' + c.state); },
  onFailure: (c) => { calls.push('dag:' + c.state + ':' + c.failedTasks.join(',')); },
});
d.task('ok', {
  onExecute: (c) => { calls.push('execute:' + c.taskId); },
  onSuccess: (c) => { calls.push('success:' + c.taskId); throw new Error('callback bug'); },
}, async () => 1);
d.task('bad', {
  retries: 1, retryDelay: 0,
  onRetry: (c) => { calls.push('retry:' + c.taskId + ':' + c.tryNumber); },
  onFailure: (c) => { calls.push('failure:' + c.taskId + ':' + (c.error ?? '').split('\\n')[0]); },
}, async () => { throw new Error('nope'); });
`,
  });
  const warnings: string[] = [];
  t.rt.events.on('warning', (w) => warnings.push(w.message));
  try {
    const run = await t.rt.runDag('cb');
    assert.equal(run.state, 'failed');
    assert.equal((await t.states(run.run_id)).ok, 'success', 'the throwing onSuccess did not change the outcome');
    assert.deepEqual((g.__calls as string[]).sort(), ['dag:failed:bad', 'execute:ok', 'failure:bad:Error: nope', 'retry:bad:1', 'success:ok'].sort());
    assert.ok(warnings.some((w) => /onSuccess callback of task "ok" failed \(ignored\): Error: callback bug/.test(w)));
  } finally {
    await t.close();
  }
});

test('concurrency: pools, maxActiveTasks and parallelism bound how many tries run at once', async () => {
  g.__spans = [];
  const body = `async (ctx) => { const s = Date.now(); await new Promise((r) => setTimeout(r, 40)); (globalThis as any).__spans.push([ctx.dagId, s, Date.now()]); }`;
  const t = await testRuntime(
    {
      'dags/pools.ts': `import { dag } from 'hangar';
export const p = dag({ id: 'pooled' });
for (let i = 0; i < 4; i++) p.task('t' + i, { pool: 'single' }, ${body});
export const m = dag({ id: 'max2', maxActiveTasks: 2 });
for (let i = 0; i < 6; i++) m.task('t' + i, ${body});
export const bad = dag({ id: 'nopool' });
bad.task('t', { pool: 'missing' }, async () => 1);
`,
    },
    { config: { pools: { single: 1 } } },
  );
  const maxOverlap = (dagId: string) => {
    const spans = (g.__spans as [string, number, number][]).filter((s) => s[0] === dagId);
    let max = 0;
    for (const [, s] of spans) max = Math.max(max, spans.filter(([, a, b]) => a <= s && s < b).length);
    return max;
  };
  try {
    assert.equal((await t.rt.runDag('pooled')).state, 'success');
    assert.equal(maxOverlap('pooled'), 1);
    assert.equal((await t.rt.runDag('max2')).state, 'success');
    assert.equal(maxOverlap('max2'), 2);
    const bad = await t.rt.runDag('nopool');
    assert.equal(bad.state, 'failed');
    assert.match((await t.rt.store.tasks.get('nopool', bad.run_id, 't'))!.error!, /Pool "missing" does not exist/);
  } finally {
    await t.close();
  }
});

test('clear and re-run: failed tasks run again, XComs are replaced, every try keeps its log', async () => {
  g.__fixed = false;
  const t = await testRuntime({
    'dags/fixme.ts': `import { dag } from 'hangar';
export const d = dag({ id: 'fixme' });
const a = d.task('a', async (ctx) => { await ctx.xcom.push('note', 'try ' + ctx.tryNumber); return 'a'; });
const b = d.task('b', async (ctx) => { ctx.log.info('b try ' + ctx.tryNumber); if (!(globalThis as any).__fixed) throw new Error('not fixed yet'); return 'b'; });
a.before(b).before(d.task('c', async () => 'c'));
`,
  });
  try {
    const run = await t.rt.runDag('fixme');
    assert.deepEqual(await t.states(run.run_id), { a: 'success', b: 'failed', c: 'upstream_failed' });
    g.__fixed = true;
    const cleared = await t.rt.clear('fixme', run.run_id, { onlyFailed: true });
    assert.deepEqual(cleared.map((c) => c.task_id).sort(), ['b', 'c']);
    assert.equal(await t.rt.executeRun('fixme', run.run_id), 'success');
    assert.deepEqual(await t.states(run.run_id), { a: 'success', b: 'success', c: 'success' });
    assert.equal((await t.rt.store.tasks.get('fixme', run.run_id, 'b'))!.try_number, 2);
    // Clearing a with its downstream re-runs all three; a's XComs are replaced.
    await t.rt.clear('fixme', run.run_id, { taskIds: ['a'], downstream: true });
    assert.equal(await xcom(t.rt, 'fixme', run.run_id, 'a', 'note'), undefined, 'cleared XComs are gone');
    await t.rt.executeRun('fixme', run.run_id);
    assert.equal(await xcom(t.rt, 'fixme', run.run_id, 'a', 'note'), 'try 2');
    const bTries = await t.rt.store.tasks.listTries('fixme', run.run_id, 'b');
    assert.deepEqual(bTries.map((x) => [x.try_number, x.state]), [[1, 'failed'], [2, 'success'], [3, 'success']]);
    for (const x of bTries) assert.match(readFileSync(x.log_path!, 'utf8'), new RegExp(`INFO - b try ${x.try_number}\\n`));
    // Marking by hand.
    await t.rt.mark('fixme', run.run_id, 'c', 'failed');
    assert.equal((await t.states(run.run_id)).c, 'failed');
  } finally {
    await t.close();
  }
});

test('backfill: one run per schedule interval, in order, with the right data intervals', async () => {
  const t = await testRuntime({
    'dags/daily.ts': `import { dag } from 'hangar';
export const d = dag({ id: 'daily', schedule: '@daily', startDate: '2024-01-01' });
d.task('stamp', { inputs: { day: '{{ ds }}', end: '{{ data_interval_end | ds }}' } }, async (_c, i) => i);
`,
  });
  try {
    const runs = await t.rt.backfill('daily', new Date('2024-01-01T00:00:00Z'), new Date('2024-01-03T00:00:00Z'));
    assert.deepEqual(
      runs.map((r) => [r.run_id, r.run_type, r.data_interval_start, r.data_interval_end, r.state]),
      [
        ['backfill__2024-01-01T00:00:00+00:00', 'backfill', '2024-01-01T00:00:00.000Z', '2024-01-02T00:00:00.000Z', 'success'],
        ['backfill__2024-01-02T00:00:00+00:00', 'backfill', '2024-01-02T00:00:00.000Z', '2024-01-03T00:00:00.000Z', 'success'],
        ['backfill__2024-01-03T00:00:00+00:00', 'backfill', '2024-01-03T00:00:00.000Z', '2024-01-04T00:00:00.000Z', 'success'],
      ],
    );
    assert.deepEqual(await xcom(t.rt, 'daily', runs[1]!.run_id, 'stamp'), { day: '2024-01-02', end: '2024-01-03' });
    assert.ok(runs[0]!.end_date! <= runs[1]!.start_date!, 'runs happen in order');
    // A second backfill over the same range does not duplicate successful runs.
    const again = await t.rt.backfill('daily', new Date('2024-01-01T00:00:00Z'), new Date('2024-01-03T00:00:00Z'));
    assert.equal(again.length, 3);
    assert.equal((await t.rt.store.runs.list({ dagId: 'daily' })).length, 3);
  } finally {
    await t.close();
  }
});

test('reschedule: a task that asks to run later frees its slot, waits as up_for_reschedule on the clock, keeps its try number', async () => {
  const clock = new FakeClock(Date.UTC(2024, 0, 15, 12));
  g.__polls = [];
  const t = await testRuntime(
    {
      'dags/resched.ts': `import { dag } from 'hangar';
import { rescheduleAt } from '${join(import.meta.dirname, '..', '..', 'src', 'runtime', 'executor', 'services.ts')}';
export const d = dag({ id: 'resched' });
d.task('waiter', async (ctx) => {
  (globalThis as any).__polls.push([ctx.tryNumber, ctx.now()]);
  if ((globalThis as any).__polls.length < 3) return rescheduleAt(new Date(ctx.now() + 60_000));
  return 'done';
});
d.task('other', async () => 'ran while waiter waited');
`,
    },
    { clock, config: { parallelism: 1 } },
  );
  try {
    const done = t.rt.runDag('resched');
    const e = await waitForTask(t.rt, (x) => x.state === 'up_for_reschedule');
    const ti = (await t.rt.store.tasks.get('resched', e.runId, 'waiter'))!;
    assert.equal(ti.try_number, 0, 'a reschedule does not use up a try');
    assert.equal(Date.parse(ti.next_try_at!) - clock.now(), 60_000);
    await waitForTask(t.rt, (x) => x.taskId === 'other' && x.state === 'success');
    clock.advance(60_000);
    await waitForTask(t.rt, (x) => x.state === 'up_for_reschedule');
    clock.advance(60_000);
    const run = await done;
    assert.equal(run.state, 'success');
    assert.deepEqual((g.__polls as [number, number][]).map(([n, at]) => [n, at - Date.UTC(2024, 0, 15, 12)]), [[1, 0], [1, 60_000], [1, 120_000]]);
    const tries = await t.rt.store.tasks.listTries('resched', run.run_id, 'waiter');
    assert.deepEqual(tries.map((x) => [x.try_number, x.state]), [[1, 'success']]);
    assert.equal(await xcom(t.rt, 'resched', run.run_id, 'waiter'), 'done');
  } finally {
    await t.close();
  }
});
