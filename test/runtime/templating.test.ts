import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTemplateContext, renderTemplate, renderDeep, TemplateError, macros } from '../../src/runtime/templating/index.ts';
import { manualDataInterval, parseSchedule, scheduledDataInterval } from '../../src/runtime/dag/schedule.ts';

/**
 * Airflow's documented template values (templates-ref) for a @daily DAG whose
 * scheduled run has the logical date 2024-01-15T00:00:00+00:00.
 */
function dailyContext() {
  const schedule = parseSchedule('@daily');
  const logical = new Date('2024-01-15T00:00:00Z');
  const interval = scheduledDataInterval(schedule, logical);
  return buildTemplateContext({
    dagId: 'example_dag',
    taskId: 'print_date',
    runId: 'scheduled__2024-01-15T00:00:00+00:00',
    mapIndex: -1,
    tryNumber: 1,
    logicalDate: logical,
    dataIntervalStart: interval.start,
    dataIntervalEnd: interval.end,
    params: { table: 'trades', nested: { limit: 10 } },
    conf: {},
  });
}

test('Airflow values for a daily DAG on a logical date', () => {
  const ctx = dailyContext();
  const expected: Record<string, string> = {
    '{{ ds }}': '2024-01-15',
    '{{ ds_nodash }}': '20240115',
    '{{ ts }}': '2024-01-15T00:00:00+00:00',
    '{{ ts_nodash }}': '20240115T000000',
    '{{ ts_nodash_with_tz }}': '20240115T000000+0000',
    '{{ logical_date }}': '2024-01-15T00:00:00+00:00',
    '{{ data_interval_start }}': '2024-01-15T00:00:00+00:00',
    '{{ data_interval_end }}': '2024-01-16T00:00:00+00:00',
    '{{ run_id }}': 'scheduled__2024-01-15T00:00:00+00:00',
    '{{ dag.dag_id }}': 'example_dag',
    '{{ dag_id }}': 'example_dag',
    '{{ task.task_id }}': 'print_date',
    '{{ ti.try_number }}': '1',
    '{{ params.table }}': 'trades',
    '{{ params.nested.limit }}': '10',
    "{{ params['table'] }}": 'trades',
    "{{ macros.ds_add(ds, 5) }}": '2024-01-20',
    "{{ macros.ds_add(ds, -15) }}": '2023-12-31',
    "{{ macros.ds_format(ds, '%Y-%m-%d', '%m-%d-%y') }}": '01-15-24',
    "{{ logical_date.strftime('%Y/%m/%d %H:%M') }}": '2024/01/15 00:00',
    '{{ logical_date.year }}': '2024',
    '{{ data_interval_end | ds }}': '2024-01-16',
    '{{ data_interval_end | ds_nodash }}': '20240116',
    "{{ ds ~ '_' ~ params.table | upper }}": '2024-01-15_TRADES',
    '{{ params.missing | default("fallback") }}': 'fallback',
  };
  for (const [template, value] of Object.entries(expected)) {
    assert.equal(renderTemplate(template, ctx), value, template);
  }
});

test("Airflow's documented macro examples", () => {
  assert.equal(macros.ds_add('2015-01-01', 5), '2015-01-06');
  assert.equal(macros.ds_add('2015-01-06', -5), '2015-01-01');
  assert.equal(macros.ds_format('2015-01-01', '%Y-%m-%d', '%m-%d-%y'), '01-01-15');
  assert.equal(macros.ds_format('1/5/2015', '%m/%d/%Y', '%Y-%m-%d'), '2015-01-05');
  assert.equal(macros.ds_format('12/07/2024', '%d/%m/%Y', '%Y-%m-%d'), '2024-07-12');
});

test('data intervals follow Airflow 2 timetables: scheduled vs manual runs', () => {
  const daily = parseSchedule('@daily');
  const d = new Date('2024-01-15T00:00:00Z');
  assert.deepEqual(scheduledDataInterval(daily, d), { start: d, end: new Date('2024-01-16T00:00:00Z') });
  // A manual run at D covers the last complete interval that ends at D.
  assert.deepEqual(manualDataInterval(daily, d), { start: new Date('2024-01-14T00:00:00Z'), end: d });
  assert.deepEqual(manualDataInterval(daily, new Date('2024-01-15T10:30:00Z')), { start: new Date('2024-01-14T00:00:00Z'), end: d });
  const hourly = parseSchedule('0 * * * *');
  assert.deepEqual(scheduledDataInterval(hourly, new Date('2024-01-15T10:00:00Z')).end, new Date('2024-01-15T11:00:00Z'));
  const none = parseSchedule(null);
  assert.deepEqual(manualDataInterval(none, d), { start: d, end: d });
});

test('an unknown variable or attribute is an error, not an empty string', () => {
  const ctx = dailyContext();
  assert.throws(() => renderTemplate('{{ dss }}', ctx), (e: Error) => e instanceof TemplateError && /unknown template variable "dss"/.test(e.message));
  assert.throws(() => renderTemplate('{{ params.nope }}', ctx), /unknown attribute "nope"/);
  assert.throws(() => renderTemplate('{{ ds | shout }}', ctx), /unknown filter "shout"/);
  assert.throws(() => renderTemplate('{% if ds %}x{% endif %}', ctx), /not supported/);
  assert.throws(() => renderTemplate('{{ ds ', ctx), /unclosed/);
});

test('templates cannot reach prototypes or constructors', () => {
  const ctx = dailyContext();
  for (const t of ['{{ params.constructor }}', '{{ params.__proto__ }}', "{{ params['constructor'] }}", '{{ macros.ds_add.constructor }}', '{{ ds.constructor }}']) {
    assert.throws(() => renderTemplate(t, ctx), TemplateError, t);
  }
});

test('renderDeep renders strings inside arrays and plain objects only', () => {
  const ctx = dailyContext();
  const date = new Date(0);
  const out = renderDeep({ path: '/data/{{ ds_nodash }}.csv', list: ['{{ ds }}', 3], date }, ctx);
  assert.deepEqual(out, { path: '/data/20240115.csv', list: ['2024-01-15', 3], date });
  assert.equal(out.date, date);
});

/**
 * A zoned DAG: Airflow's docs (docs/apache-airflow/authoring-and-scheduling/timezone.rst,
 * "Templates") say template dates are time zone aware but stay in UTC; pendulum's
 * in_timezone() reads them in the DAG's zone.
 */
test('a DAG in Europe/Amsterdam: ds, ts and data_interval_* stay UTC as in Airflow; in_timezone reads them locally', async () => {
  const { scheduleSpecFrom } = await import('../../src/runtime/dag/schedule.ts');
  const schedule = parseSchedule(scheduleSpecFrom('@daily', 'Europe/Amsterdam'));
  const logical = new Date('2024-03-30T23:00:00Z'); // local midnight of 31 March, the DST day
  const interval = scheduledDataInterval(schedule, logical);
  const ctx = buildTemplateContext({ dagId: 'z', taskId: 't', runId: 'scheduled__2024-03-30T23:00:00+00:00', mapIndex: -1, tryNumber: 1, logicalDate: logical, dataIntervalStart: interval.start, dataIntervalEnd: interval.end, params: {}, conf: {} });
  const r = (t: string) => renderTemplate(t, ctx);
  assert.equal(r('{{ ds }}'), '2024-03-30');
  assert.equal(r('{{ ts }}'), '2024-03-30T23:00:00+00:00');
  assert.equal(r('{{ data_interval_end }}'), '2024-03-31T22:00:00+00:00');
  assert.equal(r("{{ data_interval_start.in_timezone('Europe/Amsterdam') }}"), '2024-03-31T00:00:00+01:00');
  assert.equal(r("{{ data_interval_end.in_timezone('Europe/Amsterdam').isoformat() }}"), '2024-04-01T00:00:00+02:00');
  assert.equal(r("{{ logical_date.in_tz('Europe/Amsterdam').strftime('%Y-%m-%d %H:%M %z %Z') }}"), '2024-03-31 00:00 +0100 Europe/Amsterdam');
  assert.equal(r("{{ logical_date.in_timezone('Europe/Amsterdam').day }}"), '31');
  assert.throws(() => r("{{ ds_start.in_timezone('Mars/Base') }}"));
  assert.throws(() => r("{{ logical_date.in_timezone('Mars/Base') }}"), /unknown time zone "Mars\/Base"/);
});
