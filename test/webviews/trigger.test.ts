/**
 * The trigger form without VS Code: a real runtime's DAG list gives the params, the form
 * model turns them into fields (as Airflow 3's form picks a field:
 * airflow-core/src/airflow/ui/src/components/FlexibleForm/FieldSelector.tsx; an emptied
 * number is null: FieldNumber.tsx), the fields' texts into the run's conf, and its messages
 * are the runtime's own (the conf the form refuses is refused by `triggerRun` in the same
 * words; the one it accepts runs with that conf). Then the panel's message validation.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dagListResult } from '../../src/runtime/server/service.ts';
import { paramProblem } from '../../src/runtime/dag/params.ts';
import type { DagParamInfo } from '../../src/protocol/runtime.ts';
import {
  confError,
  confText,
  defaultValues,
  fieldError,
  fieldsOf,
  formConf,
  parseConfText,
  parseLogicalDate,
  pushRecent,
  readField,
  recentLabel,
  valuesFromConf,
} from '../../src/protocol/webviews/trigger-form.ts';
import {
  checkResult,
  parseHostMessage,
  parseWebviewMessage,
  readRecent,
} from '../../src/protocol/webviews/trigger.ts';
import { testRuntime } from '../helpers/runtime.ts';

const FILE = `import { dag, param } from 'hangar';
export const d = dag({
  id: 'p',
  params: {
    n: param(10, { type: 'integer', minimum: 1, maximum: 100, description: 'how many rows' }),
    ratio: param(0.5, { type: 'number', exclusiveMaximum: 1 }),
    mode: param('fast', { enum: ['fast', 'slow'], title: 'Mode' }),
    table: param(undefined as unknown as string, { type: 'string', pattern: '^[a-z_]+$', description: 'target table' }),
    dry: param(false, { type: 'boolean' }),
    tags: param(['a'], { type: 'array', maxItems: 2 }),
    opts: param({ k: 1 }, { type: 'object' }),
    plain: 'x',
    count: 3,
  },
});
d.task('t', async (ctx) => ctx.params);
`;

async function withDag<T>(
  f: (t: Awaited<ReturnType<typeof testRuntime>>, params: DagParamInfo[]) => Promise<T>,
): Promise<T> {
  const t = await testRuntime({ 'dags/p.ts': FILE });
  try {
    const list = await dagListResult(await t.rt.loadDags(), t.rt);
    const params = list.dags.find((d) => d.dagId === 'p')!.params!;
    return await f(t, params);
  } finally {
    await t.close();
  }
}

/** The runtime's answer to a conf: its error message, or undefined when the run was created. */
async function runtimeSays(
  t: Awaited<ReturnType<typeof testRuntime>>,
  conf: Record<string, unknown>,
): Promise<string | undefined> {
  try {
    await t.rt.triggerRun('p', { conf });
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

describe('trigger form model', () => {
  test("the DAG list carries each param (default as JSON, rules as declared); the fields follow Airflow's choice of widget", async () => {
    await withDag(async (_t, params) => {
      // Declaration order, except that a param without a default comes after those with one (the DAG keeps defaults and rules apart).
      assert.deepEqual(
        params.map((p) => p.name),
        ['n', 'ratio', 'mode', 'dry', 'tags', 'opts', 'plain', 'count', 'table'],
      );
      const byName = Object.fromEntries(params.map((p) => [p.name, p]));
      assert.deepEqual(byName.n, {
        name: 'n',
        default: 10,
        schema: { type: 'integer', minimum: 1, maximum: 100, description: 'how many rows' },
      });
      assert.deepEqual(
        byName.table,
        { name: 'table', schema: { type: 'string', pattern: '^[a-z_]+$', description: 'target table' } },
        'no default: none sent',
      );
      assert.deepEqual(byName.plain, { name: 'plain', default: 'x' }, 'a plain value has no rules');
      const fields = Object.fromEntries(fieldsOf(params).map((f) => [f.name, f]));
      assert.deepEqual(Object.fromEntries(Object.values(fields).map((f) => [f.name, f.kind])), {
        n: 'integer',
        ratio: 'number',
        mode: 'enum',
        table: 'string',
        dry: 'boolean',
        tags: 'json',
        opts: 'json',
        plain: 'string',
        count: 'number',
      });
      assert.equal(fields.n.description, 'how many rows');
      assert.equal(fields.n.hint, 'integer, ≥ 1, ≤ 100');
      assert.equal(fields.table.hint, 'string, matching ^[a-z_]+$');
      assert.equal(fields.table.required, true);
      assert.equal(fields.n.required, false);
      assert.equal(fields.mode.label, 'Mode');
      assert.deepEqual(fields.mode.options, [
        { label: 'fast', raw: '"fast"' },
        { label: 'slow', raw: '"slow"' },
      ]);
      const values = defaultValues(fieldsOf(params), params);
      assert.deepEqual(values, {
        n: '10',
        ratio: '0.5',
        mode: '"fast"',
        table: '',
        dry: false,
        tags: '[\n  "a"\n]',
        opts: '{\n  "k": 1\n}',
        plain: 'x',
        count: '3',
      });
    });
  });

  test("field kinds by the rules alone: several types are JSON, an enum of booleans is JSON, no type takes the default's", () => {
    const kinds = fieldsOf([
      { name: 'a', default: 1, schema: { type: ['integer', 'null'] } },
      { name: 'b', default: 1, schema: { type: ['integer', 'string'] } },
      { name: 'c', default: true, schema: { type: 'boolean', enum: [true] } },
      { name: 'd', default: [1] },
      { name: 'e', default: null },
      { name: 'f', default: 2, schema: { enum: [1, 2] } },
    ]).map((f) => f.kind);
    assert.deepEqual(kinds, ['integer', 'json', 'json', 'json', 'string', 'enum']);
  });

  test('values → conf: numbers read as numbers (empty: null, as Airflow), enums and JSON parsed, a required empty field left out', async () => {
    await withDag(async (_t, params) => {
      const fields = fieldsOf(params);
      const values = {
        ...defaultValues(fields, params),
        n: '42',
        ratio: '',
        mode: '"slow"',
        table: 'orders',
        dry: true,
        tags: '["x","y"]',
      };
      const { conf, errors } = formConf(fields, values);
      assert.deepEqual(conf, {
        n: 42,
        ratio: null,
        mode: 'slow',
        table: 'orders',
        dry: true,
        tags: ['x', 'y'],
        opts: { k: 1 },
        plain: 'x',
        count: 3,
      });
      assert.deepEqual(errors, { ratio: 'null is not of type number' });
      const f = Object.fromEntries(fields.map((x) => [x.name, x]));
      assert.deepEqual(readField(f.table, ''), { ok: true, given: false });
      assert.deepEqual(readField(f.n, 'ten'), { ok: true, given: true, value: 'ten' });
      assert.equal(fieldError(f.n, 'ten'), '"ten" is not of type integer');
      assert.match(fieldError(f.opts, '{k:1}')!, /^is not valid JSON: /);
      assert.equal(fieldError(f.table, ''), 'has no default: give a value');
    });
  });

  test("the form refuses what the runtime refuses, in the runtime's words, and a conf it accepts runs with that conf", async () => {
    await withDag(async (t, params) => {
      const fields = fieldsOf(params);
      const f = Object.fromEntries(fields.map((x) => [x.name, x]));
      const base = { ...defaultValues(fields, params), table: 'orders' };
      const bad: [string, string][] = [
        ['n', '0'],
        ['n', '101'],
        ['n', '2.5'],
        ['ratio', '1'],
        ['mode', '"medium"'],
        ['table', 'Orders!'],
        ['table', ''],
        ['tags', '[1,2,3]'],
      ];
      for (const [name, raw] of bad) {
        const { conf, errors } = formConf(fields, { ...base, [name]: raw });
        const form = confError('p', params, conf);
        const runtime = await runtimeSays(t, conf);
        assert.ok(runtime, `the runtime refuses ${name}=${raw}`);
        assert.equal(form, runtime, `${name}=${raw}: the form says what the runtime says`);
        assert.ok(errors[name], `${name}=${raw} is marked under its field`);
        if (raw !== '') {
          assert.equal(errors[name], paramProblem(conf[name], f[name].schema));
          assert.ok(
            runtime.includes(errors[name]),
            `the field's message is the runtime's: ${errors[name]} in ${runtime}`,
          );
        }
      }
      assert.equal((await t.rt.store.runs.list({ dagId: 'p' })).length, 0, 'nothing was triggered');
      const good = formConf(fields, { ...base, n: '7', mode: '"slow"', dry: true });
      assert.deepEqual(good.errors, {});
      assert.equal(confError('p', params, good.conf), undefined);
      const run = await t.rt.triggerRun('p', { conf: good.conf });
      assert.deepEqual(JSON.parse((await t.rt.store.runs.get('p', run.run_id))!.conf), good.conf);
    });
  });

  test('the JSON tab and the fields stay in sync: conf → values → the same conf; keys that are no param kept aside', async () => {
    await withDag(async (_t, params) => {
      const fields = fieldsOf(params);
      const conf = { n: 5, mode: 'slow', table: 'orders', dry: true, tags: [], extra: { deep: [1] } };
      const { values, extras } = valuesFromConf(fields, params, conf);
      assert.deepEqual(extras, { extra: { deep: [1] } });
      assert.equal(values.n, '5');
      assert.equal(values.ratio, '0.5', 'a param the JSON leaves out shows its default');
      assert.deepEqual(formConf(fields, values, extras).conf, {
        ratio: 0.5,
        opts: { k: 1 },
        plain: 'x',
        count: 3,
        ...conf,
      });
      assert.equal(confText({ a: 1 }), '{\n  "a": 1\n}');
      assert.deepEqual(parseConfText(' '), { ok: true, conf: {} });
      assert.deepEqual(parseConfText('[1]'), {
        ok: false,
        error: 'The run configuration must be a JSON object like {"key": "value"}, not an array',
      });
      assert.match(
        (parseConfText('{') as { error: string }).error,
        /^The run configuration is not valid JSON: /,
      );
    });
  });

  test('logical date: empty is now, dates and times read as UTC unless an offset is given; recent list keeps 5, newest first, no repeats', () => {
    assert.deepEqual(parseLogicalDate(''), { ok: true, iso: undefined });
    assert.deepEqual(parseLogicalDate('2024-01-31'), { ok: true, iso: '2024-01-31T00:00:00.000Z' });
    assert.deepEqual(parseLogicalDate('2024-01-31 06:30'), { ok: true, iso: '2024-01-31T06:30:00.000Z' });
    assert.deepEqual(parseLogicalDate('2024-01-31T06:00:00+02:00'), {
      ok: true,
      iso: '2024-01-31T04:00:00.000Z',
    });
    assert.deepEqual(parseLogicalDate('yesterday'), {
      ok: false,
      error: '"yesterday" is not a date like 2024-01-31 or 2024-01-31T06:00:00Z',
    });
    assert.deepEqual(parseLogicalDate('2024-02-31T99:00'), {
      ok: false,
      error: '"2024-02-31T99:00" is not a valid date',
    });
    let list: { conf: Record<string, unknown>; at: string }[] = [];
    for (let i = 0; i < 7; i++)
      list = pushRecent(list, { conf: { i }, at: `2024-01-0${i + 1}T00:00:00.000Z` });
    list = pushRecent(list, { conf: { i: 4 }, at: '2024-02-01T00:00:00.000Z' });
    assert.deepEqual(
      list.map((r) => r.conf.i),
      [4, 6, 5, 3, 2],
    );
    assert.equal(recentLabel(list[0]), '2024-02-01 00:00:00 · {"i":4}');
  });
});

describe('trigger panel protocol', () => {
  test("accepts the webview's trigger and refuses malformed ones by name", () => {
    const ok = parseWebviewMessage({
      type: 'request',
      id: 1,
      method: 'trigger',
      params: { dagId: 'p', conf: { n: 1 }, logicalDate: '2024-01-01T00:00:00.000Z' },
    });
    assert.ok(ok.ok);
    const bad = (params: unknown) => {
      const r = parseWebviewMessage({ type: 'request', id: 1, method: 'trigger', params });
      return r.ok ? '' : r.error;
    };
    assert.equal(bad({ dagId: 'p', conf: [1] }), 'trigger: conf must be a JSON object');
    assert.equal(bad({ dagId: '', conf: {} }), 'trigger: needs a non-empty dagId');
    assert.equal(
      bad({ dagId: 'p', conf: {}, logicalDate: 'soon' }),
      'trigger: logicalDate must be an ISO date',
    );
    assert.equal(bad({ dagId: 'p', conf: {}, runId: 'x' }), 'trigger: params has an unknown field "runId"');
    assert.equal(
      bad({ dagId: 'p', conf: { s: 'x'.repeat(1_000_001) } }),
      'trigger: conf is longer than 1000000 characters as JSON',
    );
    const other = parseWebviewMessage({ type: 'request', id: 1, method: 'run', params: {} });
    assert.deepEqual(other, { ok: false, error: 'unknown method "run"' });
  });

  test("checks the host's init (params and their rules, recent configurations) and results", () => {
    const dag = {
      dagId: 'p',
      description: null,
      params: [{ name: 'n', default: 1, schema: { type: 'integer' } }, { name: 'req' }],
    };
    const init = parseHostMessage({
      type: 'init',
      dag,
      recent: [{ conf: { n: 2 }, at: '2024-01-01T00:00:00.000Z' }],
      fresh: true,
    });
    assert.ok(init.ok);
    assert.deepEqual(init.value, {
      type: 'init',
      dag,
      recent: [{ conf: { n: 2 }, at: '2024-01-01T00:00:00.000Z' }],
      fresh: true,
    });
    const err = (m: unknown) => {
      const r = parseHostMessage(m);
      return r.ok ? '' : r.error;
    };
    assert.equal(
      err({
        type: 'init',
        dag: { ...dag, params: [{ name: 'n', schema: { type: 'int' } }] },
        recent: [],
        fresh: true,
      }),
      'init: dag.params[0].schema: unknown type "int"',
    );
    assert.equal(
      err({ type: 'init', dag: { ...dag, params: [{ name: 'n' }, { name: 'n' }] }, recent: [], fresh: true }),
      'init: dag.params has a name twice',
    );
    assert.equal(err({ type: 'init', dag, recent: [], fresh: 'yes' }), 'init: "fresh" must be a boolean');
    assert.equal(
      err({
        type: 'recent',
        dagId: 'p',
        recent: Array.from({ length: 6 }, () => ({ conf: {}, at: '2024-01-01' })),
      }),
      'recent: recent must be a list of at most 5 configurations',
    );
    assert.deepEqual(readRecent([{ conf: 'x', at: '2024-01-01' }]), {
      ok: false,
      error: 'recent[0].conf must be a JSON object',
    });
    assert.equal(
      checkResult('trigger', { runId: 'manual__x', logicalDate: '2024-01-01T00:00:00Z' }),
      undefined,
    );
    assert.equal(checkResult('trigger', { runId: '' }), 'trigger: the result lacks runId and logicalDate');
  });
});
