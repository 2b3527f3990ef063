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
  fromPicker,
  isoToLocal,
  localToIso,
  parseConfText,
  parseLogicalDate,
  pickerType,
  pickerValue,
  pushRecent,
  readField,
  recentLabel,
  valuesFromConf,
  zoneLabel,
  zoneOffsetMinutes,
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

/*
 * Date, date-and-time and time params, as Airflow 3's form shows them: FieldSelector.tsx picks
 * FieldDateTime for a string with format date-time (type datetime-local), date or time, before
 * the enum's dropdown; FieldDateTime.tsx pads a time to seconds, passes a date through and sets
 * an emptied picker to null (pinned by FieldDateTime.test.tsx: "pads HH:MM to HH:MM:SS", "does
 * not double-pad", "passes the typed value through without modification"); DateTimeInput.tsx
 * shows a date-time in the user's time zone and sends `toISOString()` (UTC, milliseconds). All
 * under airflow-core/src/airflow/ui/src/components/.
 */
const DATED = `import { dag, param } from 'hangar';
export const d = dag({
  id: 'report',
  params: {
    report_date: param('2024-03-01', { type: 'string', format: 'date', description: 'the day to report on' }),
    not_before: param<string | null>(null, { type: ['null', 'string'], format: 'date-time' }),
    cutoff: param('19:30:00', { type: 'string', format: 'time' }),
    day: param(undefined as unknown as string, { type: 'string', format: 'date' }),
  },
});
d.task('t', async (ctx) => ctx.params);
`;

describe('trigger form: date, date-and-time and time pickers', () => {
  const KOLKATA = 'Asia/Kolkata';
  const BERLIN = 'Europe/Berlin';

  test('a string with format date, date-time or time is a picker (before an enum); without a string type it stays as it was', () => {
    const fields = fieldsOf([
      { name: 'a', default: '2024-03-01', schema: { type: 'string', format: 'date' } },
      { name: 'b', default: null, schema: { type: ['null', 'string'], format: 'date-time' } },
      { name: 'c', default: '19:30:00', schema: { type: 'string', format: 'time' } },
      { name: 'd', default: '2024-03-01', schema: { format: 'date' } },
      { name: 'e', default: '2024-03-01', schema: { type: 'string', format: 'date', enum: ['2024-03-01'] } },
      { name: 'f', schema: { format: 'date' } },
      { name: 'g', default: 1, schema: { type: 'integer', format: 'date' } },
    ]);
    assert.deepEqual(
      fields.map((f) => f.kind),
      ['date', 'datetime', 'time', 'date', 'date', 'string', 'integer'],
    );
    assert.deepEqual(
      fields.slice(0, 3).map((f) => pickerType(f.kind)),
      ['date', 'datetime-local', 'time'],
    );
    assert.equal(pickerType('string'), undefined);
    assert.equal(fields[0].hint, 'string, format date');
    assert.equal(fields[1].hint, 'null or string, format date-time');
  });

  test('time zones: offsets from the zone database, a wall time to UTC and back, a skipped time moved on', () => {
    assert.equal(zoneOffsetMinutes(Date.parse('2024-03-01T00:00:00Z'), KOLKATA), 330);
    assert.equal(zoneOffsetMinutes(Date.parse('2024-01-15T12:00:00Z'), BERLIN), 60);
    assert.equal(zoneOffsetMinutes(Date.parse('2024-07-15T12:00:00Z'), BERLIN), 120);
    assert.equal(zoneLabel(KOLKATA, Date.parse('2024-03-01T00:00:00Z')), 'Asia/Kolkata (UTC+05:30)');
    assert.equal(
      zoneLabel('America/St_Johns', Date.parse('2024-01-15T12:00:00Z')),
      'America/St_Johns (UTC-03:30)',
    );
    assert.equal(zoneLabel('UTC', 0), 'UTC (UTC+00:00)');
    assert.equal(localToIso('2024-03-01T11:30', KOLKATA), '2024-03-01T06:00:00.000Z');
    assert.equal(localToIso('2024-03-01T11:30:15', KOLKATA), '2024-03-01T06:00:15.000Z');
    assert.equal(localToIso('2024-01-15T08:00', BERLIN), '2024-01-15T07:00:00.000Z');
    assert.equal(localToIso('2024-07-15T08:00', BERLIN), '2024-07-15T06:00:00.000Z');
    // 02:30 does not exist in Berlin on 2024-03-31 (clocks go from 02:00 to 03:00): 03:30 CEST.
    assert.equal(localToIso('2024-03-31T02:30', BERLIN), '2024-03-31T01:30:00.000Z');
    assert.equal(localToIso('2024-02-30T10:00', BERLIN), undefined);
    assert.equal(localToIso('2024-03-01T24:00', BERLIN), undefined);
    assert.equal(localToIso('2024-03-01', BERLIN), undefined);
    assert.equal(isoToLocal('2024-03-01T06:00:00Z', KOLKATA), '2024-03-01T11:30:00');
    assert.equal(isoToLocal('2024-03-01T06:00:00.000Z', KOLKATA), '2024-03-01T11:30:00');
    assert.equal(isoToLocal('2024-03-01T06:00:00.250+02:00', KOLKATA), '2024-03-01T09:30:00.250');
    assert.equal(isoToLocal('2024-07-15T06:00:00Z', BERLIN), '2024-07-15T08:00:00');
    assert.equal(isoToLocal('2024-03-01T06:00:00', BERLIN), '2024-03-01T06:00:00', 'no zone: shown as it is');
    assert.equal(isoToLocal('tomorrow', BERLIN), '');
  });

  test("the picker's value to the conf as Airflow's form sends it, and the conf's value back to the picker", () => {
    const [date, dt, time] = fieldsOf([
      { name: 'a', default: '2024-03-01', schema: { type: 'string', format: 'date' } },
      { name: 'b', default: null, schema: { type: ['null', 'string'], format: 'date-time' } },
      { name: 'c', default: '19:30:00', schema: { type: 'string', format: 'time' } },
    ]);
    assert.equal(fromPicker(date, '2026-05-07', KOLKATA), '2026-05-07', 'a date passes through');
    assert.equal(fromPicker(time, '19:30', KOLKATA), '19:30:00', 'HH:MM padded to HH:MM:SS');
    assert.equal(fromPicker(time, '19:30:45', KOLKATA), '19:30:45', 'not padded twice');
    assert.equal(fromPicker(time, '', KOLKATA), '', 'empty passes through');
    assert.equal(fromPicker(dt, '2024-03-01T11:30', KOLKATA), '2024-03-01T06:00:00.000Z', 'sent as UTC');
    assert.equal(pickerValue(date, '2024-03-01', KOLKATA), '2024-03-01');
    assert.equal(
      pickerValue(date, '01/03/2024', KOLKATA),
      '',
      'the picker cannot show it; the field error says why',
    );
    assert.equal(pickerValue(time, '19:30:00', KOLKATA), '19:30:00');
    assert.equal(pickerValue(date, '2024-02-30', KOLKATA), '', 'no such day');
    assert.equal(pickerValue(time, '9:5:3', KOLKATA), '09:05:03', 'the one-digit parts "%H:%M:%S" accepts');
    assert.equal(pickerValue(time, '24:00:00', KOLKATA), '');
    assert.equal(pickerValue(dt, '2024-03-01T06:00:00Z', KOLKATA), '2024-03-01T11:30:00');
    // A conf typed in the JSON tab keeps its text until the picker is changed; picking the same wall time gives the same instant.
    const typed = '2024-03-01T08:00:00+02:00';
    assert.equal(fromPicker(dt, pickerValue(dt, typed, KOLKATA), KOLKATA), new Date(typed).toISOString());
    // An emptied picker is null (FieldDateTime.tsx), or left out when the param has no default.
    assert.deepEqual(readField(dt, ''), { ok: true, given: true, value: null });
    assert.deepEqual(readField(date, ''), { ok: true, given: true, value: null });
    assert.equal(fieldError(date, ''), 'null is not of type string');
    assert.equal(fieldError(dt, ''), undefined, 'nullable');
    assert.equal(fieldError(time, '19:30'), '"19:30" is not a "time" (HH:MM:SS, e.g. 19:30:00)');
    assert.equal(
      fieldError(dt, '2024-03-01T06:00'),
      '"2024-03-01T06:00" is not a "date-time" (RFC 3339 with seconds and a time zone, e.g. 2024-03-01T06:00:00Z)',
    );
  });

  test("with a real DAG: a bad date is refused by the form in the runtime's words; a picked one runs with that conf", async () => {
    const t = await testRuntime({ 'dags/report.ts': DATED });
    try {
      const list = await dagListResult(await t.rt.loadDags(), t.rt);
      const params = list.dags.find((d) => d.dagId === 'report')!.params!;
      assert.deepEqual(
        params.find((p) => p.name === 'report_date'),
        {
          name: 'report_date',
          default: '2024-03-01',
          schema: { type: 'string', format: 'date', description: 'the day to report on' },
        },
        'the DAG list carries the format',
      );
      const fields = fieldsOf(params);
      const f = Object.fromEntries(fields.map((x) => [x.name, x]));
      assert.deepEqual(
        fields.map((x) => [x.name, x.kind]),
        [
          ['report_date', 'date'],
          ['not_before', 'datetime'],
          ['cutoff', 'time'],
          ['day', 'date'],
        ],
      );
      const base = defaultValues(fields, params);
      assert.deepEqual(base, { report_date: '2024-03-01', not_before: '', cutoff: '19:30:00', day: '' });
      assert.equal(fieldError(f.day, base.day), 'has no default: give a value');
      // A bad date typed in the JSON tab: marked under the field and refused, as the runtime refuses it.
      const fromJson = valuesFromConf(fields, params, { report_date: '2024-02-30', day: '2024-03-02' });
      const bad = formConf(fields, fromJson.values, fromJson.extras);
      const expected = '"2024-02-30" is not a "date" (a day as YYYY-MM-DD, e.g. 2024-03-01)';
      assert.equal(bad.errors.report_date, expected);
      const runtime = await runtimeSaysFor(t, 'report', bad.conf);
      assert.equal(
        runtime,
        `DAG "report": param "report_date" (from the run's conf) ${expected} — the day to report on`,
      );
      assert.equal(confError('report', params, bad.conf), runtime);
      assert.equal((await t.rt.store.runs.list({ dagId: 'report' })).length, 0);
      // Picked: a date, a date and time in Kolkata, a time without seconds.
      const picked = {
        ...base,
        report_date: fromPicker(f.report_date, '2024-02-29', KOLKATA),
        not_before: fromPicker(f.not_before, '2024-03-01T11:30', KOLKATA),
        cutoff: fromPicker(f.cutoff, '18:45', KOLKATA),
        day: fromPicker(f.day, '2024-03-02', KOLKATA),
      };
      const good = formConf(fields, picked);
      assert.deepEqual(good.errors, {});
      assert.deepEqual(good.conf, {
        report_date: '2024-02-29',
        not_before: '2024-03-01T06:00:00.000Z',
        cutoff: '18:45:00',
        day: '2024-03-02',
      });
      assert.equal(confError('report', params, good.conf), undefined);
      const run = await t.rt.triggerRun('report', { conf: good.conf });
      assert.deepEqual(JSON.parse((await t.rt.store.runs.get('report', run.run_id))!.conf), good.conf);
      // The conf back into the form: the pickers show the same values.
      const back = valuesFromConf(fields, params, good.conf).values;
      assert.equal(pickerValue(f.not_before, back.not_before, KOLKATA), '2024-03-01T11:30:00');
      assert.equal(pickerValue(f.report_date, back.report_date, KOLKATA), '2024-02-29');
    } finally {
      await t.close();
    }
  });

  test("the logical date picker: a wall time in the webview's zone, sent as UTC; an offset given wins; a date alone is midnight there", () => {
    assert.deepEqual(parseLogicalDate('2024-03-01T11:30', KOLKATA), {
      ok: true,
      iso: '2024-03-01T06:00:00.000Z',
    });
    assert.deepEqual(parseLogicalDate('2024-03-01T11:30:20', KOLKATA), {
      ok: true,
      iso: '2024-03-01T06:00:20.000Z',
    });
    assert.deepEqual(parseLogicalDate('2024-03-01', KOLKATA), { ok: true, iso: '2024-02-29T18:30:00.000Z' });
    assert.deepEqual(parseLogicalDate('2024-03-01T06:00:00Z', KOLKATA), {
      ok: true,
      iso: '2024-03-01T06:00:00.000Z',
    });
    assert.deepEqual(
      parseLogicalDate('2024-03-01T11:30'),
      { ok: true, iso: '2024-03-01T11:30:00.000Z' },
      'no zone given: UTC',
    );
    assert.deepEqual(parseLogicalDate('2024-02-30T10:00', KOLKATA), {
      ok: false,
      error: '"2024-02-30T10:00" is not a valid date',
    });
  });

  test('the protocol carries a format and refuses an unknown one by name', () => {
    const dag = {
      dagId: 'report',
      description: null,
      params: [{ name: 'd', default: '2024-03-01', schema: { type: 'string', format: 'date' } }],
    };
    const ok = parseHostMessage({ type: 'init', dag, recent: [], fresh: true });
    assert.ok(ok.ok);
    assert.deepEqual(ok.value, { type: 'init', dag, recent: [], fresh: true });
    const bad = parseHostMessage({
      type: 'init',
      dag: { ...dag, params: [{ name: 'd', schema: { type: 'string', format: 'datetime' } }] },
      recent: [],
      fresh: true,
    });
    assert.deepEqual(bad, {
      ok: false,
      error: 'init: dag.params[0].schema: unknown format "datetime" (known: date, date-time, time)',
    });
  });
});

async function runtimeSaysFor(
  t: Awaited<ReturnType<typeof testRuntime>>,
  dagId: string,
  conf: Record<string, unknown>,
): Promise<string | undefined> {
  try {
    await t.rt.triggerRun(dagId, { conf });
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}
