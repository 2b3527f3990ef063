/**
 * Params with validation, as Airflow's Param (airflow/models/param.py: a default plus
 * JSON-Schema rules; Param.resolve raises ParamValidationError for a value that breaks
 * them or when there is no value and no default). Checked when the DAG is defined and
 * when a run is triggered, before any task runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dag, DagDefinitionError, param } from '../../src/runtime/dag/index.ts';
import { testRuntime } from '../helpers/runtime.ts';
import { tempWorkspace } from '../helpers/workspace.ts';
import { hangar } from '../helpers/cli.ts';

const FILE = `import { dag, param } from 'hangar';
export const d = dag({
  id: 'p',
  params: {
    n: param(10, { type: 'integer', minimum: 1, description: 'how many rows' }),
    mode: param('fast', { enum: ['fast', 'slow'] }),
    table: param(undefined as unknown as string, { type: 'string', pattern: '^[a-z_]+$' }),
    plain: 'x',
  },
});
d.task('t', async (ctx) => {
  const n: number = ctx.params.n; // typed as the default's type
  return { n, mode: ctx.params.mode, table: ctx.params.table, plain: ctx.params.plain };
});
`;

test('param(): defaults are plain values to tasks; a default breaking its rule is a definition error naming the DAG and param', () => {
  const d = dag({ id: 'ok', params: { n: param(3, { type: 'integer', maximum: 5 }), s: 'plain' } });
  assert.deepEqual(d.params, { n: 3, s: 'plain' });
  assert.deepEqual(JSON.parse(JSON.stringify(d.paramSpecs)), { n: { hasDefault: true, schema: { type: 'integer', maximum: 5 } } });
  assert.throws(() => dag({ id: 'bad', params: { n: param(0, { minimum: 1 }) } }), (e: unknown) => e instanceof DagDefinitionError && /DAG "bad": param "n" default: 0 is less than the minimum of 1/.test(e.message));
  assert.throws(() => dag({ id: 'rule', params: { n: param(1, { minimun: 1 } as never) } }), /DAG "rule": param "n": unknown rule "minimun"/);
  assert.throws(() => dag({ id: 'type', params: { n: param('x', { type: 'integer' }) } }), /param "n" default: "x" is not of type integer/);
});

test('a run is refused before it exists when its conf breaks a param rule; a good conf runs with typed params', async () => {
  const t = await testRuntime({ 'dags/p.ts': FILE });
  try {
    const refused: [Record<string, unknown>, RegExp][] = [
      [{ table: 'orders', n: 0 }, /DAG "p": param "n" \(from the run's conf\) 0 is less than the minimum of 1 — how many rows/],
      [{ table: 'orders', n: 2.5 }, /param "n" \(from the run's conf\) 2.5 is not of type integer/],
      [{ table: 'orders', mode: 'medium' }, /param "mode" \(from the run's conf\) "medium" is not one of "fast", "slow"/],
      [{ table: 'Orders!' }, /param "table" \(from the run's conf\) "Orders!" does not match the pattern "\^\[a-z_\]\+\$"/],
      [{}, /DAG "p": param "table" has no default and was not given in the run's conf/],
    ];
    for (const [conf, re] of refused) await assert.rejects(t.rt.triggerRun('p', { conf }), re, JSON.stringify(conf));
    assert.equal((await t.rt.store.runs.list({ dagId: 'p' })).length, 0, 'nothing was stored for a refused conf');
    const run = await t.rt.runDag('p', { conf: { table: 'orders', n: 5 } });
    assert.equal(run.state, 'success');
    const row = (await t.rt.store.xcoms.get('p', run.run_id, 't', 'return_value', -1))!;
    const value = await t.rt.backend.deserialize({ dagId: 'p', runId: run.run_id, taskId: 't', mapIndex: -1, key: 'return_value' }, row.value);
    assert.deepEqual(value, { n: 5, mode: 'fast', table: 'orders', plain: 'x' });
  } finally {
    await t.close();
  }
});

test('hangar run with a bad --conf: exit code 1, the param and its rule on stderr, no run', () => {
  const ws = tempWorkspace({ 'dags/p.ts': FILE }, { executor: 'in-process' });
  try {
    const r = hangar(['run', 'p', '--conf', '{"table":"orders","n":-3}', '--workspace', ws.root]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /DAG "p": param "n" \(from the run's conf\) -3 is less than the minimum of 1/);
    const runs = hangar(['runs', '--json', '--workspace', ws.root]);
    assert.deepEqual(JSON.parse(runs.stdout), []);
  } finally {
    ws.remove();
  }
});
