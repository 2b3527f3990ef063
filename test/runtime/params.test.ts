/**
 * Params with validation, as Airflow's Param (airflow/models/param.py: a default plus
 * JSON-Schema rules; Param.resolve raises ParamValidationError for a value that breaks
 * them or when there is no value and no default). Checked when the DAG is defined and
 * when a run is triggered, before any task runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dag, DagDefinitionError, param } from '../../src/runtime/dag/index.ts';
import { paramProblem } from '../../src/runtime/dag/params.ts';
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

/*
 * Date formats, as Airflow's Param checks them: `jsonschema.validate(value, schema,
 * format_checker=FormatChecker())` (task-sdk/src/airflow/sdk/definitions/param.py), whose
 * checkers are jsonschema's (jsonschema/_format.py): `date` is `^\d{4}-\d{2}-\d{2}$` plus
 * `date.fromisoformat`; `date-time` is rfc3339_validator on the upper-cased text; `time` is the
 * draft-3 checker registered last on the class, `datetime.strptime(v, "%H:%M:%S")`. The
 * verdicts below are the ones jsonschema 4.26 gives (checked with Python beside this test).
 */
test('format date, date-time and time: the values jsonschema accepts and refuses, with the expected format in the message', () => {
  const cases: ['date' | 'date-time' | 'time', string, boolean][] = [
    ['date', '2024-02-29', true],
    ['date', '2023-02-29', false],
    ['date', '0000-01-01', false],
    ['date', '2024-1-01', false],
    ['date', '2024-03-01T00:00:00Z', false],
    ['date-time', '2024-03-01T06:00:00Z', true],
    ['date-time', '2024-03-01T06:00:00.000Z', true],
    ['date-time', '2024-03-01t06:00:00z', true],
    ['date-time', '2024-03-01T06:00:00+05:30', true],
    ['date-time', '2024-03-01T06:00Z', false],
    ['date-time', '2024-03-01 06:00:00Z', false],
    ['date-time', '2024-03-01T06:00:00', false],
    ['date-time', '2023-02-29T06:00:00Z', false],
    ['date-time', '2024-03-01T24:00:00Z', false],
    ['time', '19:30:00', true],
    ['time', '9:5:3', true],
    ['time', '19:30', false],
    ['time', '24:00:00', false],
    ['time', '23:59:60', false],
    ['time', '19:30:00Z', false],
    ['time', '19:30:00.5', false],
    ['time', ' 19:30:00', false],
  ];
  for (const [format, value, ok] of cases) {
    const why = paramProblem(value, { type: 'string', format });
    assert.equal(why === undefined, ok, `${format} ${value}: ${why}`);
  }
  assert.equal(paramProblem('2024-02-30', { format: 'date' }), '"2024-02-30" is not a "date" (a day as YYYY-MM-DD, e.g. 2024-03-01)');
  assert.equal(paramProblem('19:30', { format: 'time' }), '"19:30" is not a "time" (HH:MM:SS, e.g. 19:30:00)');
  assert.equal(
    paramProblem('2024-03-01T06:00', { format: 'date-time' }),
    '"2024-03-01T06:00" is not a "date-time" (RFC 3339 with seconds and a time zone, e.g. 2024-03-01T06:00:00Z)',
  );
  // A format says nothing about other types (jsonschema's checkers pass non-strings); `type` refuses them.
  assert.equal(paramProblem(null, { type: ['null', 'string'], format: 'date' }), undefined);
  assert.equal(paramProblem(20240301, { type: 'string', format: 'date' }), '20240301 is not of type string');
});

const DATED = `import { dag, param } from 'hangar';
export const d = dag({
  id: 'report',
  params: {
    report_date: param('2024-03-01', { type: 'string', format: 'date', description: 'the day to report on' }),
    cutoff: param<string | null>(null, { type: ['null', 'string'], format: 'time' }),
  },
});
d.task('t', async (ctx) => ctx.params);
`;

test('a date param: an unknown format or a bad default is a definition error; a bad date in the conf is refused naming the DAG, the param and the format', async () => {
  assert.throws(
    () => dag({ id: 'fmt', params: { d: param('x', { type: 'string', format: 'datetime' as never }) } }),
    (e: unknown) => e instanceof DagDefinitionError && /DAG "fmt": param "d": unknown format "datetime" \(known: date, date-time, time\)/.test(e.message),
  );
  assert.throws(
    () => dag({ id: 'def', params: { d: param('2024-13-01', { type: 'string', format: 'date' }) } }),
    /DAG "def": param "d" default: "2024-13-01" is not a "date" \(a day as YYYY-MM-DD, e.g. 2024-03-01\)/,
  );
  const t = await testRuntime({ 'dags/report.ts': DATED });
  try {
    await assert.rejects(
      t.rt.triggerRun('report', { conf: { report_date: '01/03/2024' } }),
      /^Error: DAG "report": param "report_date" \(from the run's conf\) "01\/03\/2024" is not a "date" \(a day as YYYY-MM-DD, e.g. 2024-03-01\) — the day to report on$/,
    );
    await assert.rejects(t.rt.triggerRun('report', { conf: { cutoff: '19:30' } }), /param "cutoff" \(from the run's conf\) "19:30" is not a "time" \(HH:MM:SS, e.g. 19:30:00\)/);
    assert.equal((await t.rt.store.runs.list({ dagId: 'report' })).length, 0, 'nothing was stored for a refused conf');
    const run = await t.rt.runDag('report', { conf: { report_date: '2024-02-29', cutoff: '19:30:00' } });
    assert.equal(run.state, 'success');
  } finally {
    await t.close();
  }
});

test('hangar trigger with a bad date in --conf: exit code 1, the DAG, the param and the format on stderr, no run', () => {
  const ws = tempWorkspace({ 'dags/report.ts': DATED }, { executor: 'in-process' });
  try {
    const r = hangar(['trigger', 'report', '--conf', '{"report_date":"2024-02-30"}', '--workspace', ws.root]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /DAG "report": param "report_date" \(from the run's conf\) "2024-02-30" is not a "date" \(a day as YYYY-MM-DD, e.g. 2024-03-01\)/);
    assert.deepEqual(JSON.parse(hangar(['runs', '--json', '--workspace', ws.root]).stdout), []);
    const ok = hangar(['trigger', 'report', '--conf', '{"report_date":"2024-02-29"}', '--workspace', ws.root]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.equal(JSON.parse(hangar(['runs', '--json', '--workspace', ws.root]).stdout).length, 1);
  } finally {
    ws.remove();
  }
});
