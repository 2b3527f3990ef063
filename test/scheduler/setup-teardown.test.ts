/**
 * Setup and teardown tasks, with Airflow's semantics (2.7+), on a real store (SQLite, or
 * PostgreSQL under HANGAR_TEST_STORE=postgres). The Airflow files each test pins:
 * - airflow/models/abstractoperator.py: as_setup / as_teardown (the teardown's trigger rule becomes
 *   ALL_DONE_SETUP_SUCCESS, its setups become setups and upstream of it), get_upstreams_only_setups
 *   and get_upstreams_follow_setups;
 * - airflow/ti_deps/deps/trigger_rule_dep.py: ALL_DONE_SETUP_SUCCESS (runs once all upstream is
 *   done if one setup succeeded; all setups skipped → skipped; none succeeded → upstream_failed)
 *   and _evaluate_setup_constraint (a task waits for its relevant indirect setups);
 * - airflow/models/dagrun.py: _tis_for_dagrun_state (teardowns do not decide the run's state
 *   unless on_failure_fail_dagrun);
 * - airflow/models/dag.py: partial_subset (a cleared task brings its setups and their teardowns),
 *   validate_setup_teardown (work right after a setup keeps all_success).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { dag, DagDefinitionError } from '../../src/runtime/dag/index.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { countUpstream, evaluateTriggerRule } from '../../src/runtime/scheduler/trigger-rules.ts';
import { dagListResult } from '../../src/runtime/server/service.ts';
import type { TaskState } from '../../src/runtime/store/records.ts';
import { testRuntime } from '../helpers/runtime.ts';
import { tempWorkspace } from '../helpers/workspace.ts';

const g = globalThis as unknown as Record<string, unknown>;

/**
 * create_cluster (setup) → work → delete_cluster (teardown of create_cluster). `fail` names the
 * tasks that throw; the teardown receives the setup's output, as a real one would.
 */
function clusterDag(id: string, opts: { fail?: string[]; failRunOnFailure?: boolean } = {}): string {
  const fails = (t: string) => (opts.fail?.includes(t) ? `throw new Error('${t} broke');` : '');
  return `import { dag } from 'hangar';
export const d = dag({ id: '${id}' });
const create = d.task('create_cluster', { setup: true }, async () => { ${fails('create_cluster')} return 'cluster-1'; });
const work = d.task('work', { inputs: { cluster: create } }, async (_ctx, { cluster }) => { ${fails('work')} return cluster + ' worked'; });
d.task('delete_cluster', { inputs: { cluster: create }, teardown: { setups: create${opts.failRunOnFailure === undefined ? '' : `, failRunOnFailure: ${opts.failRunOnFailure}`} } }, async (_ctx, { cluster }) => { ${fails('delete_cluster')} return 'deleted ' + cluster; }).after(work);
`;
}

test('work fails: the teardown still runs, and the run fails because of the work', async () => {
  const t = await testRuntime({ 'dags/c.ts': clusterDag('c', { fail: ['work'] }) });
  try {
    const run = await t.rt.runDag('c');
    assert.deepEqual(await t.states(run.run_id), {
      create_cluster: 'success',
      work: 'failed',
      delete_cluster: 'success',
    });
    assert.equal(run.state, 'failed');
    assert.equal((await t.rt.store.runs.find(run.run_id, 'c'))!.state, 'failed');
    const spec = (await t.rt.loadDags()).dags.get('c')!;
    assert.equal(spec.tasks.get('delete_cluster')!.triggerRule, 'all_done_setup_success');
    assert.equal(spec.tasks.get('create_cluster')!.isSetup, true);
    assert.equal(spec.tasks.get('delete_cluster')!.isTeardown, true);
    assert.equal(spec.tasks.get('work')!.isSetup || spec.tasks.get('work')!.isTeardown, false);
  } finally {
    await t.close();
  }
});

test('work succeeds: the run succeeds and the teardown ran after the work', async () => {
  const t = await testRuntime({ 'dags/c.ts': clusterDag('c') });
  try {
    const run = await t.rt.runDag('c');
    assert.equal(run.state, 'success');
    const rows = await t.rt.store.tasks.list('c', run.run_id);
    const at = (id: string) => rows.find((r) => r.task_id === id)!;
    assert.ok(
      at('delete_cluster').start_date! >= at('work').end_date!,
      'the teardown starts once the work has ended',
    );
    const x = await t.rt.store.xcoms.get('c', run.run_id, 'delete_cluster', 'return_value', -1);
    assert.equal(
      await t.rt.backend.deserialize(
        { dagId: 'c', runId: run.run_id, taskId: 'delete_cluster', mapIndex: -1, key: 'return_value' },
        x!.value,
      ),
      'deleted cluster-1',
    );
  } finally {
    await t.close();
  }
});

test('the teardown fails: without failRunOnFailure the work decides the run (success); with it the run fails', async () => {
  const t = await testRuntime({
    'dags/quiet.ts': clusterDag('quiet', { fail: ['delete_cluster'] }),
    'dags/loud.ts': clusterDag('loud', { fail: ['delete_cluster'], failRunOnFailure: true }),
  });
  try {
    const quiet = await t.rt.runDag('quiet');
    assert.deepEqual(await t.states(quiet.run_id), {
      create_cluster: 'success',
      work: 'success',
      delete_cluster: 'failed',
    });
    assert.equal(quiet.state, 'success', 'a teardown does not decide the run by default');
    const loud = await t.rt.runDag('loud');
    assert.deepEqual(await t.states(loud.run_id), {
      create_cluster: 'success',
      work: 'success',
      delete_cluster: 'failed',
    });
    assert.equal(loud.state, 'failed', 'failRunOnFailure: the teardown fails the run');
  } finally {
    await t.close();
  }
});

test("failRunOnFailure makes the teardown the run's leaf: work failing before a teardown that succeeds leaves the run successful, as in Airflow", async () => {
  // airflow/models/dagrun.py _tis_for_dagrun_state: is_effective_leaf(work) is false once a teardown
  // downstream of it has on_failure_fail_dagrun, so only the teardown's state counts.
  const t = await testRuntime({ 'dags/c.ts': clusterDag('c', { fail: ['work'], failRunOnFailure: true }) });
  try {
    const run = await t.rt.runDag('c');
    assert.deepEqual(await t.states(run.run_id), {
      create_cluster: 'success',
      work: 'failed',
      delete_cluster: 'success',
    });
    assert.equal(run.state, 'success');
  } finally {
    await t.close();
  }
});

test('the setup fails: the work is upstream_failed, the teardown upstream_failed (no setup succeeded), the run failed', async () => {
  const t = await testRuntime({ 'dags/c.ts': clusterDag('c', { fail: ['create_cluster'] }) });
  try {
    const run = await t.rt.runDag('c');
    assert.deepEqual(await t.states(run.run_id), {
      create_cluster: 'failed',
      work: 'upstream_failed',
      delete_cluster: 'upstream_failed',
    });
    assert.equal(run.state, 'failed');
  } finally {
    await t.close();
  }
});

test('setups skipped: the teardown is skipped; one of two setups succeeded: the teardown runs', async () => {
  const t = await testRuntime({
    'dags/s.ts': `import { dag } from 'hangar';
export const d = dag({ id: 's' });
const pick = d.task('pick', { branch: true }, async () => 'elsewhere');
const create = d.task('create', { setup: true }, async () => 1);
const work = d.task('work', async () => 2);
const other = d.task('elsewhere', async () => 3);
pick.before(create, other);
create.before(work);
d.task('delete', { teardown: { setups: [create] } }, async () => 4).after(work);
`,
    'dags/two.ts': `import { dag } from 'hangar';
export const d = dag({ id: 'two' });
const a = d.task('make_a', { setup: true }, async () => { throw new Error('no a'); });
const b = d.task('make_b', async () => 'b');
const work = d.task('work', async () => 1);
d.chain([a, b], work);
d.task('cleanup', { teardown: { setups: [a, b] } }, async () => 'cleaned').after(work);
`,
  });
  try {
    const run = await t.rt.runDag('s');
    assert.deepEqual(await t.states(run.run_id), {
      pick: 'success',
      create: 'skipped',
      work: 'skipped',
      elsewhere: 'success',
      delete: 'skipped',
    });
    assert.equal(run.state, 'success');
    // make_b became a setup by being named in `setups` (as_teardown sets is_setup on each).
    const two = await t.rt.runDag('two');
    assert.deepEqual(await t.states(two.run_id), {
      make_a: 'failed',
      make_b: 'success',
      work: 'upstream_failed',
      cleanup: 'success',
    });
    assert.equal(two.state, 'failed');
    assert.equal((await t.rt.loadDags()).dags.get('two')!.tasks.get('make_b')!.isSetup, true);
  } finally {
    await t.close();
  }
});

test('a task further down waits for its setup and fails with it, whatever its own trigger rule', async () => {
  // s (setup) → a → b (all_done) → t (teardown of s): when s fails, all_done alone would run b;
  // the setup constraint makes it upstream_failed (trigger_rule_dep.py _evaluate_setup_constraint).
  const t = await testRuntime({
    'dags/deep.ts': `import { dag } from 'hangar';
export const d = dag({ id: 'deep' });
const s = d.task('s', { setup: true }, async () => { throw new Error('no cluster'); });
const a = d.task('a', async () => 1);
const b = d.task('b', { triggerRule: 'all_done' }, async () => 2);
d.chain(s, a, b);
d.task('t', { teardown: { setups: s } }, async () => 3).after(b);
`,
  });
  try {
    const run = await t.rt.runDag('deep');
    assert.deepEqual(await t.states(run.run_id), {
      s: 'failed',
      a: 'upstream_failed',
      b: 'upstream_failed',
      t: 'upstream_failed',
    });
  } finally {
    await t.close();
  }
});

test('clearing a work task clears its setup and teardown; they run again around it, in order', async () => {
  g.__stOrder = [];
  g.__stFixed = false;
  const t = await testRuntime({
    'dags/c.ts': `import { dag } from 'hangar';
export const d = dag({ id: 'c' });
const log = (s: string) => (globalThis as any).__stOrder.push(s);
const create = d.task('create_cluster', { setup: true }, async () => { log('create'); return 'cluster'; });
const prep = d.task('prep', async () => { log('prep'); return 1; });
const work = d.task('work', async () => { log('work'); if (!(globalThis as any).__stFixed) throw new Error('bug'); return 2; });
d.chain(create, prep, work);
d.task('delete_cluster', { teardown: { setups: create } }, async () => { log('delete'); }).after(work);
d.task('unrelated', async () => { log('unrelated'); });
`,
  });
  try {
    const run = await t.rt.runDag('c');
    assert.equal(run.state, 'failed');
    assert.deepEqual((await t.states(run.run_id)).delete_cluster, 'success');
    g.__stFixed = true;
    (g.__stOrder as string[]).length = 0;
    // Only `work`: its setup (not a direct upstream) and the setup's teardown come along; prep does not.
    const cleared = await t.rt.clear('c', run.run_id, { taskIds: ['work'] });
    assert.deepEqual(cleared.map((c) => c.task_id).sort(), ['create_cluster', 'delete_cluster', 'work']);
    assert.equal(await t.rt.executeRun('c', run.run_id), 'success');
    // work's direct upstream (prep) is still success, yet it waits for its setup to run again.
    assert.deepEqual(g.__stOrder, ['create', 'work', 'delete']);
    const tries = Object.fromEntries(
      (await t.rt.store.tasks.list('c', run.run_id)).map((r) => [r.task_id, r.try_number]),
    );
    assert.deepEqual(tries, { create_cluster: 2, prep: 1, work: 2, delete_cluster: 2, unrelated: 1 });
  } finally {
    await t.close();
  }
});

test('clearing: a setup brings its teardowns; upstream brings the teardowns of upstream setups; downstream brings the setups of what it adds', async () => {
  const t = await testRuntime({ 'dags/c.ts': clusterDag('c') });
  try {
    const run = await t.rt.runDag('c');
    const ids = async (o: Parameters<Runtime['clear']>[2]) => {
      const r = (await t.rt.clear('c', run.run_id, o)).map((c) => c.task_id).sort();
      assert.equal(await t.rt.executeRun('c', run.run_id), 'success');
      return r;
    };
    assert.deepEqual(await ids({ taskIds: ['create_cluster'] }), ['create_cluster', 'delete_cluster']);
    assert.deepEqual(await ids({ taskIds: ['work'], upstream: true }), [
      'create_cluster',
      'delete_cluster',
      'work',
    ]);
    assert.deepEqual(
      await ids({ taskIds: ['delete_cluster'] }),
      ['delete_cluster'],
      'a teardown alone is cleared alone',
    );
  } finally {
    await t.close();
  }
});

const BAD: { name: string; text: string; marker: string; message: RegExp }[] = [
  {
    name: 'a teardown without a setup',
    text: `import { dag } from 'hangar';
export const d = dag({ id: 'no_setup' });
const work = d.task('work', async () => 1);
d.task('delete_cluster', { teardown: { setups: [] } }, async () => 2).after(work);
`,
    marker: "d.task('delete_cluster'",
    message:
      /task "delete_cluster" of DAG "no_setup": a teardown without a setup: write teardown: \{ setups: \[createCluster\] \}/,
  },
  {
    name: 'a teardown given as true',
    text: `import { dag } from 'hangar';
export const d = dag({ id: 'bare' });
d.task('delete_cluster', { teardown: true as any }, async () => 2);
`,
    marker: "d.task('delete_cluster'",
    message: /task "delete_cluster" of DAG "bare": a teardown needs its setups/,
  },
  {
    name: "a teardown's own trigger rule",
    text: `import { dag } from 'hangar';
export const d = dag({ id: 'rule' });
const s = d.task('s', { setup: true }, async () => 1);
d.task('t', { teardown: { setups: s }, triggerRule: 'all_done' }, async () => 2);
`,
    marker: "d.task('t'",
    message: /task "t" of DAG "rule": a teardown's trigger rule is all_done_setup_success; it cannot be set/,
  },
  {
    name: 'work right after a setup with another trigger rule',
    text: `import { dag } from 'hangar';
export const d = dag({ id: 'loose' });
const s = d.task('s', { setup: true }, async () => 1);
const w = d.task('w', { triggerRule: 'all_done' }, async () => 2);
s.before(w);
`,
    marker: "d.task('w'",
    message:
      /task "w" of DAG "loose" follows the setup "s", so its trigger rule must be all_success \(not all_done\)/,
  },
  {
    name: 'a setup that is a teardown',
    text: `import { dag } from 'hangar';
export const d = dag({ id: 'both' });
const s = d.task('s', { setup: true }, async () => 1);
const t1 = d.task('t1', { teardown: { setups: s } }, async () => 2);
d.task('t2', { teardown: { setups: t1 } }, async () => 3);
`,
    marker: "d.task('t2'",
    message: /teardown "t2" of DAG "both": its setup "t1" is itself a teardown/,
  },
  {
    name: 'a setup that does not exist',
    text: `import { dag } from 'hangar';
export const d = dag({ id: 'ghost' });
d.task('t', { teardown: { setups: 'nope' } }, async () => 2);
`,
    marker: "d.task('t'",
    message: /teardown "t" of DAG "ghost": its setup "nope" is not a task of this DAG/,
  },
];

for (const c of BAD) {
  test(`definition error: ${c.name} names the DAG, the task, the file and the line`, async () => {
    const ws = tempWorkspace({ 'dags/broken.ts': c.text });
    const rt = await Runtime.open(ws.root);
    try {
      const bag = await rt.loadDags();
      assert.equal(bag.dags.size, 0);
      assert.equal(bag.errors.length, 1, JSON.stringify(bag.errors));
      const e = bag.errors[0]!;
      assert.equal(e.file, join(ws.dags, 'broken.ts'));
      assert.equal(e.line, c.text.split('\n').findIndex((l) => l.includes(c.marker)) + 1, e.message);
      assert.match(e.message, c.message);
      assert.ok(e.message.startsWith(`${join(ws.dags, 'broken.ts')}:${e.line}:`), e.message);
    } finally {
      await rt.close();
      ws.remove();
    }
  });
}

test('authoring: both setup and teardown on one task, or a non-boolean failRunOnFailure, is a DagDefinitionError', () => {
  const d = dag({ id: 'x' });
  const s = d.task('s', { setup: true }, async () => 1);
  assert.throws(
    () => d.task('t', { setup: true, teardown: { setups: s } }, async () => 1),
    (e: unknown) =>
      e instanceof DagDefinitionError &&
      /task "t" of DAG "x": a task cannot be both a setup and a teardown/.test(e.message),
  );
  assert.throws(
    () => d.task('u', { teardown: { setups: s, failRunOnFailure: 'yes' as never } }, async () => 1),
    /teardown failRunOnFailure must be true or false/,
  );
  assert.throws(
    () => d.task('v', { teardown: { setups: [42 as never] } }, async () => 1),
    /teardown setups must be tasks/,
  );
  // A defaultArgs trigger rule does not reach a teardown (as_teardown sets its own).
  const e = dag({ id: 'y', defaultArgs: { triggerRule: 'all_done' } });
  const s2 = e.task('s', { setup: true }, async () => 1);
  e.task('t', { teardown: { setups: s2 } }, async () => 1);
  e.validate();
  assert.equal(e.tasks.get('t')!.triggerRule, 'all_done_setup_success');
  assert.deepEqual([...e.tasks.get('t')!.upstream], ['s'], 'the setup is upstream of its teardown');
});

type S = TaskState | null;
/** all_done_setup_success over the direct upstream (trigger_rule_dep.py); `setups` marks which are setups. */
function teardownDecision(states: S[], setups: boolean[]) {
  const c = countUpstream(states);
  const setupStates = states.filter((_, i) => setups[i]);
  const sc = countUpstream(setupStates);
  return evaluateTriggerRule('all_done_setup_success', c, {
    upstream: sc.upstream,
    success: sc.success,
    skipped: sc.skipped,
  });
}

test('all_done_setup_success: waits for all upstream; one setup succeeded runs it; all skipped skips; none succeeded is upstream_failed', () => {
  assert.equal(teardownDecision(['success', 'failed'], [true, false]), 'run');
  assert.equal(teardownDecision(['success', 'running'], [true, false]), 'wait');
  assert.equal(teardownDecision(['failed', 'success', 'upstream_failed'], [true, true, false]), 'run');
  assert.equal(teardownDecision(['skipped', 'skipped'], [true, false]), 'skipped');
  assert.equal(teardownDecision(['failed', 'upstream_failed'], [true, false]), 'upstream_failed');
  assert.equal(
    teardownDecision(['failed', 'skipped', 'upstream_failed'], [true, true, false]),
    'upstream_failed',
  );
  assert.equal(
    teardownDecision(['failed', 'success'], [false, false]),
    'run',
    'no setup upstream: as all_done',
  );
});

test('serialization: the flags cross the processor; a DAG without setups serializes as before', async () => {
  const t = await testRuntime({
    'dags/c.ts': clusterDag('c', { failRunOnFailure: true }),
    'dags/plain.ts': `import { dag } from 'hangar';\nexport const d = dag({ id: 'plain' });\nd.task('a', async () => 1);\n`,
  });
  try {
    const bag = await t.rt.loadDags();
    const c = bag.dags.get('c')!.serialized.tasks;
    assert.deepEqual(
      c.map((x) => [x.id, x.setup ?? false, x.teardown ?? false, x.failRunOnFailure ?? false]),
      [
        ['create_cluster', true, false, false],
        ['work', false, false, false],
        ['delete_cluster', false, true, true],
      ],
    );
    const plain = bag.dags.get('plain')!.serialized.tasks[0]!;
    assert.ok(!('setup' in plain) && !('teardown' in plain) && !('failRunOnFailure' in plain));
    assert.equal(bag.dags.get('c')!.tasks.get('delete_cluster')!.failRunOnFailure, true);
    // The editor's DAG list (and from it the graph) says which tasks are setups and teardowns.
    const info = (await dagListResult(bag, t.rt)).dags.find((d) => d.dagId === 'c')!;
    assert.deepEqual(
      info.tasks.map((x) => [x.taskId, x.role ?? null]),
      [
        ['create_cluster', 'setup'],
        ['work', null],
        ['delete_cluster', 'teardown'],
      ],
    );
  } finally {
    await t.close();
  }
});
