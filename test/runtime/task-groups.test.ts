/**
 * Task groups (Airflow's TaskGroup, airflow/utils/task_group.py): ids prefixed with the
 * group id (`child_id` / `group_id`), nesting, default args (`_update_default_args`, and
 * "will override default_args defined in the DAG level"), dependencies on a whole group
 * (`_set_relatives`: upstream edges go to `get_roots()`, downstream edges leave from
 * `get_leaves()`, as they are when the dependency is set), serialization, a run, and the
 * errors of bad groups (a cycle through groups names the DAG, the tasks and the line).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { dag, DagDefinitionError, sensor } from '../../src/runtime/dag/index.ts';
import '../../src/runtime/sensors/index.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { dagSpecFrom, serializeDag } from '../../src/runtime/processor/serialized.ts';
import { dagListResult } from '../../src/runtime/server/service.ts';
import { testRuntime } from '../helpers/runtime.ts';
import { tempWorkspace } from '../helpers/workspace.ts';

const ups = (d: { tasks: Map<string, { upstream: Set<string> }> }, id: string) =>
  [...d.tasks.get(id)!.upstream].sort();

test('task groups: ids are prefixed with the group id, nested groups with their parent, unless prefixGroupId is false', () => {
  const d = dag({ id: 'ids' });
  const extract = d.group('extract', (g) => {
    const a = g.task('a', async () => 1);
    g.group('clean', (c) => c.task('dedupe', { inputs: { a } }, async (_ctx, { a }) => a));
    g.group('flat', { prefixGroupId: false }, (f) => {
      f.task('plain', async () => 0);
      // Airflow's group_id: a subgroup of a non-prefixing group is not prefixed either.
      f.group('inner', (i) => i.task('x', async () => 0));
    });
    return a;
  });
  d.validate();
  assert.deepEqual([...d.tasks.keys()], ['extract.a', 'extract.clean.dedupe', 'plain', 'inner.x']);
  assert.deepEqual([...d.groups.keys()], ['extract', 'extract.clean', 'extract.flat', 'inner']);
  assert.deepEqual(d.tasks.get('extract.clean.dedupe')!.group, ['extract', 'extract.clean']);
  assert.deepEqual(d.tasks.get('plain')!.group, ['extract', 'extract.flat']);
  assert.deepEqual(d.tasks.get('inner.x')!.group, ['extract', 'extract.flat', 'inner']);
  assert.equal(d.groups.get('extract.clean')!.label, 'clean');
  assert.equal(d.groups.get('extract.clean')!.parent, 'extract');
  assert.equal(extract.id, 'extract');
  assert.equal(extract.result.id, 'extract.a', "the group's result is what its function returned");
  assert.deepEqual(
    ups(d, 'extract.clean.dedupe'),
    ['extract.a'],
    'inputs inside a group make dependencies as usual',
  );
});

test('task groups: default args, the task over its group over the parent group over the DAG', () => {
  const d = dag({ id: 'defaults', defaultArgs: { retries: 1, pool: 'dag_pool', owner: 'dag' } });
  d.group('outer', { defaultArgs: { retries: 2, owner: 'outer' } }, (o) => {
    o.task('t', async () => 0);
    o.group('inner', { defaultArgs: { retries: 3 } }, (i) => {
      i.task('t', async () => 0);
      i.task('own', { retries: 5 }, async () => 0);
    });
  });
  d.task('top', async () => 0);
  d.validate();
  const t = (id: string) => d.tasks.get(id)!;
  assert.deepEqual(
    [t('top').retries, t('outer.t').retries, t('outer.inner.t').retries, t('outer.inner.own').retries],
    [1, 2, 3, 5],
  );
  assert.equal(t('outer.inner.t').pool, 'dag_pool', "what no group sets comes from the DAG's defaultArgs");
  assert.equal(
    t('outer.inner.t').options.owner,
    'outer',
    "a subgroup inherits its parent group's defaultArgs",
  );
});

test('task groups: a dependency on a group goes to its root tasks, one from it leaves its leaf tasks', () => {
  const d = dag({ id: 'deps' });
  const start = d.task('start', async () => 0);
  // extract: a → b, and c alone; roots a and c, leaves b and c.
  const extract = d.group('extract', (g) => {
    const a = g.task('a', async () => 1);
    g.task('b', { inputs: { a } }, async () => 2);
    g.task('c', async () => 3);
  });
  const load = d.task('load', async () => 0);
  const end = d.task('end', async () => 0);
  start.before(extract);
  extract.before(load);
  // A group after a group: its roots after the other's leaves (nested: the subgroup's ends count).
  const report = d.group('report', (g) => {
    g.group('sub', (s) =>
      s.chain(
        s.task('p', async () => 0),
        s.task('q', async () => 0),
      ),
    );
    g.task('r', async () => 0).after('report.sub.q');
  });
  report.after(load);
  end.after(report);
  d.validate();
  assert.deepEqual(ups(d, 'extract.a'), ['start']);
  assert.deepEqual(ups(d, 'extract.c'), ['start']);
  assert.deepEqual(ups(d, 'extract.b'), ['extract.a'], 'an inner task is not a root');
  assert.deepEqual(ups(d, 'load'), ['extract.b', 'extract.c']);
  assert.deepEqual(ups(d, 'report.sub.p'), ['load']);
  assert.deepEqual(ups(d, 'report.r'), ['report.sub.q'], 'r has an upstream inside the group: not a root');
  assert.deepEqual(ups(d, 'end'), ['report.r']);
  assert.deepEqual(d.topologicalOrder().indexOf('end'), d.tasks.size - 1);
});

test('task groups: chain, before and after take groups; the ends are those known when the dependency is set', () => {
  const d = dag({ id: 'chained' });
  const start = d.task('start', async () => 0);
  const g1 = d.group('g1', (g) => {
    g.task('x', async () => 0);
    g.task('y', async () => 0);
  });
  const g2 = d.group('g2', (g) => g.task('z', async () => 0));
  const done = d.task('done', async () => 0);
  d.chain(start, g1, g2, done);
  // As Airflow's _set_relatives: a task added to g1 later is not part of the earlier dependencies.
  g1.task('late', async () => 0);
  d.validate();
  assert.deepEqual(ups(d, 'g1.x'), ['start']);
  assert.deepEqual(ups(d, 'g1.y'), ['start']);
  assert.deepEqual(ups(d, 'g2.z'), ['g1.x', 'g1.y']);
  assert.deepEqual(ups(d, 'done'), ['g2.z']);
  assert.deepEqual(ups(d, 'g1.late'), []);
  assert.equal(start.before(g1), g1, 'before returns its last argument, for chaining');
});

test('task groups: bad groups are errors naming the DAG, the group and what is wrong', () => {
  const d = dag({ id: 'bad' });
  assert.throws(
    () => d.group('has.dot', () => undefined),
    /invalid task group id "has\.dot" in DAG "bad".*no dots/,
  );
  assert.throws(() => d.group('', () => undefined), DagDefinitionError);
  assert.throws(
    () => d.group('x', {}, 'nope' as never),
    /task group "x" of DAG "bad": the last argument must be a function/,
  );
  assert.throws(
    () => d.group('y', 'nope' as never),
    /task group "y" of DAG "bad": the options must be an object/,
  );
  assert.throws(
    () =>
      d.group('async', (async (g: { task: (id: string, fn: () => Promise<number>) => unknown }) =>
        g.task('t', async () => 0)) as never),
    /task group "async" of DAG "bad": the group's function must define its tasks synchronously/,
  );
  const g = d.group('grp', (x) => x.task('t', async () => 1));
  assert.throws(
    () => d.task('uses', { inputs: { v: g as never } }, async () => 0),
    /task "uses" of DAG "bad": input "v" is the task group "grp", which has no value; pass one of its tasks \(or the group's result\)/,
  );

  assert.throws(
    () => sensor(g, 'wait', {}, 'not a function' as never),
    /sensor "wait" of DAG "bad" needs a poke function/,
    'a sensor in a group names the DAG',
  );

  const dup = dag({ id: 'dup' });
  dup.group('same', (x) => x.task('a', async () => 0));
  dup.group('same', (x) => x.task('b', async () => 0));
  assert.throws(() => dup.validate(), /duplicate task group id "same" in DAG "dup"/);

  const clash = dag({ id: 'clash' });
  clash.task('etl', async () => 0);
  clash.group('etl', (x) => x.task('a', async () => 0));
  assert.throws(
    () => clash.validate(),
    /DAG "clash": task group "etl" has the same id as the task defined at/,
  );

  const empty = dag({ id: 'empty' });
  const nothing = empty.group('nothing');
  empty.task('t', async () => 0).before(nothing);
  assert.throws(
    () => empty.validate(),
    /DAG "empty": dependency t >> nothing: task group "nothing" has no tasks \(yet\)/,
  );

  const selfish = dag({ id: 'selfish' });
  const one = selfish.group('one', (x) => x.task('only', async () => 0));
  one.before('one.only');
  assert.throws(
    () => selfish.validate(),
    /DAG "selfish": task "one\.only" depends on itself \(through the task group dependency one >> one\.only\)/,
  );
});

test('task groups: a cycle through groups names the DAG, the tasks, the group dependencies and their lines', async () => {
  const text = `import { dag } from 'hangar';
export const d = dag({ id: 'loop' });
const extract = d.group('extract', (g) => {
  const a = g.task('a', async () => 1);
  g.task('b', { inputs: { a } }, async () => 2);
});
const load = d.task('load', async () => 0);
extract.before(load);
load.before(extract);
`;
  const ws = tempWorkspace({ 'dags/loop.ts': text });
  const rt = await Runtime.open(ws.root);
  try {
    const bag = await rt.loadDags();
    assert.equal(bag.dags.size, 0);
    assert.equal(bag.errors.length, 1);
    const e = bag.errors[0]!;
    const file = join(ws.dags, 'loop.ts');
    assert.equal(e.file, file);
    assert.equal(e.dagId, 'loop');
    assert.equal(e.line, 8, 'the line of the first group dependency in the cycle');
    assert.match(
      e.message,
      /DAG "loop" has a cycle: extract\.a → extract\.b → load → extract\.a, through the task group dependencies extract >> load \(.*loop\.ts:8:\d+\), load >> extract \(.*loop\.ts:9:\d+\)/,
    );
  } finally {
    await rt.close();
    ws.remove();
  }
});

test('task groups: the group path survives serialization; a DAG without groups serializes as before', () => {
  const d = dag({ id: 'ser' });
  d.group('outer', { tooltip: 'the outside' }, (o) => o.group('inner', (i) => i.task('t', async () => 0)));
  d.task('top', async () => 0);
  d.validate();
  const s = serializeDag(d);
  assert.deepEqual(s.tasks.find((t) => t.id === 'outer.inner.t')!.group, ['outer', 'outer.inner']);
  assert.equal('group' in s.tasks.find((t) => t.id === 'top')!, false);
  assert.deepEqual(
    s.groups!.map((g) => [g.id, g.label, g.parent, g.tooltip]),
    [
      ['outer', 'outer', null, 'the outside'],
      ['outer.inner', 'inner', 'outer', null],
    ],
  );
  const spec = dagSpecFrom(JSON.parse(JSON.stringify(s)), { path: '/x.mjs', hash: 'h' });
  assert.deepEqual(spec.tasks.get('outer.inner.t')!.group, ['outer', 'outer.inner']);
  assert.deepEqual(spec.tasks.get('top')!.group, []);
  assert.deepEqual([...spec.groups.keys()], ['outer', 'outer.inner']);
  assert.equal(spec.groups.get('outer')!.tooltip, 'the outside');

  const plain = dag({ id: 'plain' });
  plain.task('a', async () => 0);
  plain.validate();
  const ps = serializeDag(plain);
  assert.equal(
    'groups' in ps,
    false,
    'no groups field: the structure hash of DAGs without groups is unchanged',
  );
  assert.equal('group' in ps.tasks[0]!, false);
  assert.equal(dagSpecFrom(ps, { path: '/x.mjs', hash: 'h' }).groups.size, 0);
});

test('task groups: a DAG with groups runs end to end, XComs flow in and out of groups, the editor sees the groups', async () => {
  const t = await testRuntime({
    'dags/grouped.ts': `import { dag, sensor } from 'hangar';
export const d = dag({ id: 'grouped', defaultArgs: { retries: 0 } });
const start = d.task('start', async () => 10);
const extract = d.group('extract', { defaultArgs: { retries: 1, retryDelay: 0 }, tooltip: 'pull the rows' }, (g) => {
  const a = g.task('a', { inputs: { n: start } }, async (_ctx, { n }) => n + 1);
  // An operator (a sensor) in a group: the same prefix and defaults.
  const ready = sensor(g, 'ready', { pokeInterval: 1, timeout: 60 }, async () => true);
  const flaky = g.task('flaky', { inputs: { ready } }, async (ctx) => {
    if (ctx.tryNumber === 1) throw new Error('first try fails');
    return ctx.taskId;
  });
  return g.group('clean', (c) => c.task('sum', { inputs: { a, flaky } }, async (_ctx, { a, flaky }) => \`\${flaky}:\${a}\`)).result;
});
d.task('load', { inputs: { v: extract.result } }, async (_ctx, { v }) => v);
d.bash('notify', 'echo done').after(extract);
`,
  });
  try {
    const run = await t.rt.runDag('grouped');
    assert.equal(run.state, 'success');
    assert.deepEqual(await t.states(run.run_id), {
      start: 'success',
      'extract.a': 'success',
      'extract.ready': 'success',
      'extract.flaky': 'success',
      'extract.clean.sum': 'success',
      load: 'success',
      notify: 'success',
    });
    const flaky = (await t.rt.store.tasks.list('grouped', run.run_id)).find(
      (ti) => ti.task_id === 'extract.flaky',
    )!;
    assert.equal(flaky.try_number, 2, "the group's retries: 1 (and retryDelay: 0) applied");
    const row = (await t.rt.store.xcoms.get('grouped', run.run_id, 'load', 'return_value'))!;
    const key = { dagId: 'grouped', runId: run.run_id, taskId: 'load', mapIndex: -1, key: 'return_value' };
    assert.equal(
      await t.rt.backend.deserialize(key, row.value),
      'extract.flaky:11',
      'the group result fed load',
    );
    const bag = await t.rt.loadDags();
    const spec = bag.dags.get('grouped')!;
    assert.deepEqual(
      [...spec.tasks.get('notify')!.upstream],
      ['extract.clean.sum'],
      "after(group): the group's leaf task",
    );
    const info = (await dagListResult(bag, t.rt)).dags.find((x) => x.dagId === 'grouped')!;
    assert.deepEqual(info.groups, [
      {
        groupId: 'extract',
        label: 'extract',
        parent: null,
        tooltip: 'pull the rows',
        position: { file: join(t.ws.dags, 'grouped.ts'), line: 4, column: info.groups![0]!.position!.column },
      },
      {
        groupId: 'extract.clean',
        label: 'clean',
        parent: 'extract',
        tooltip: null,
        position: {
          file: join(t.ws.dags, 'grouped.ts'),
          line: 12,
          column: info.groups![1]!.position!.column,
        },
      },
    ]);
    assert.deepEqual(Object.fromEntries(info.tasks.map((x) => [x.taskId, x.group])), {
      start: null,
      'extract.a': 'extract',
      'extract.ready': 'extract',
      'extract.flaky': 'extract',
      'extract.clean.sum': 'extract.clean',
      load: null,
      notify: null,
    });
  } finally {
    await t.close();
  }
});
