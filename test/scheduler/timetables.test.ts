/**
 * Hangar's timetables against Airflow 2's values. Sources (apache/airflow):
 * - airflow/timetables/_cron.py @0d56ddb7 (CronMixin: naive cron + make_aware with fold=1,
 *   `_covers_every_hour` fold-hour fix, with its Switzerland 2023 example);
 * - airflow/timetables/interval.py @009e139a (CronDataIntervalTimetable, DeltaDataIntervalTimetable,
 *   `_DataIntervalTimetable.next_dagrun_info`, `_skip_to_latest`);
 * - airflow/timetables/trigger.py @009e139a (CronTriggerTimetable);
 * - pendulum 2's POST_TRANSITION rule for a local time in a DST gap (moved forward by the gap).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dag, DagDefinitionError } from '../../src/runtime/dag/index.ts';
import { manualDataInterval, parseSchedule, runInfosBetween, scheduleSpecFrom } from '../../src/runtime/dag/schedule.ts';
import type { DagRunInfo, DataInterval, Schedule, ScheduleSpec, TimeRestriction } from '../../src/runtime/dag/schedule.ts';

const at = (iso: string) => new Date(iso);
const iv = (i: DataInterval) => `${i.start.toISOString().slice(0, 16)}..${i.end.toISOString().slice(0, 16)}`;

/** Runs the timetable as the scheduler does: each run's interval feeds the next call. */
function series(s: Schedule, r: TimeRestriction, now: number, n: number): DagRunInfo[] {
  const out: DagRunInfo[] = [];
  let last: DataInterval | undefined;
  for (let i = 0; i < n; i++) {
    const info = s.nextDagRunInfo(last, r, now);
    if (!info) break;
    out.push(info);
    last = info.dataInterval;
  }
  return out;
}

test('@daily in Europe/Amsterdam across the March 2024 DST change: local midnights, a 23-hour day (interval.py + _cron.py)', () => {
  const s = parseSchedule(scheduleSpecFrom('@daily', 'Europe/Amsterdam'));
  const runs = series(s, { earliest: at('2024-03-29T00:00:00+01:00'), latest: undefined, catchup: true }, Date.UTC(2030, 0, 1), 4);
  assert.deepEqual(
    runs.map((r) => iv(r.dataInterval)),
    [
      '2024-03-28T23:00..2024-03-29T23:00',
      '2024-03-29T23:00..2024-03-30T23:00',
      '2024-03-30T23:00..2024-03-31T22:00', // 31 March has 23 hours in Amsterdam
      '2024-03-31T22:00..2024-04-01T22:00',
    ],
  );
  // run_after is the interval's end (DagRunInfo.interval), the logical date its start.
  assert.deepEqual(runs[2]!.runAfter, at('2024-03-31T22:00:00Z'));
  assert.deepEqual(runs[2]!.logicalDate, at('2024-03-30T23:00:00Z'));
});

test('hourly cron in Europe/Amsterdam across the repeated hour of October 2024: both 02:00s run (_cron.py fold-hour fix)', () => {
  const s = parseSchedule(scheduleSpecFrom('0 * * * *', 'Europe/Amsterdam'));
  const runs = series(s, { earliest: at('2024-10-27T00:00:00+02:00'), latest: undefined, catchup: true }, Date.UTC(2030, 0, 1), 5);
  assert.deepEqual(
    runs.map((r) => r.logicalDate.toISOString().slice(11, 16)),
    // 00:00+02, 01:00+02, 02:00+02, 02:00+01, 03:00+01: every UTC hour, none skipped, none twice
    ['22:00', '23:00', '00:00', '01:00', '02:00'],
  );
});

test("_cron.py's own example: '30 * * * *' in Europe/Zurich on 29 Oct 2023 goes 2:30+02 → 2:30+01, not 3:30", () => {
  const s = parseSchedule(scheduleSpecFrom('30 * * * *', 'Europe/Zurich'));
  const runs = series(s, { earliest: at('2023-10-29T02:30:00+02:00'), latest: undefined, catchup: true }, Date.UTC(2030, 0, 1), 2);
  assert.deepEqual(runs.map((r) => r.logicalDate.toISOString()), ['2023-10-29T00:30:00.000Z', '2023-10-29T01:30:00.000Z']);
});

test('a daily 02:30 in Europe/Amsterdam: the skipped 02:30 of 31 March runs at 03:30+02, the repeated one of 27 October at its second occurrence (make_aware, fold=1)', () => {
  const s = parseSchedule(scheduleSpecFrom('30 2 * * *', 'Europe/Amsterdam'));
  const march = series(s, { earliest: at('2024-03-29T02:30:00+01:00'), latest: undefined, catchup: true }, Date.UTC(2030, 0, 1), 4);
  assert.deepEqual(march.map((r) => r.logicalDate.toISOString()), ['2024-03-29T01:30:00.000Z', '2024-03-30T01:30:00.000Z', '2024-03-31T01:30:00.000Z', '2024-04-01T00:30:00.000Z']);
  // The 30 March run's interval ends at the moved 02:30 (03:30+02:00): 23 hours.
  assert.equal(iv(march[1]!.dataInterval), '2024-03-30T01:30..2024-03-31T01:30');
  const october = series(s, { earliest: at('2024-10-26T02:30:00+02:00'), latest: undefined, catchup: true }, Date.UTC(2030, 0, 1), 2);
  assert.deepEqual(october.map((r) => r.logicalDate.toISOString()), ['2024-10-26T00:30:00.000Z', '2024-10-27T01:30:00.000Z']);
});

test('catchup off skips to the latest complete interval (CronDataIntervalTimetable._skip_to_latest)', () => {
  const s = parseSchedule(scheduleSpecFrom('@daily', 'Europe/Amsterdam'));
  const r = { earliest: at('2024-01-01T00:00:00+01:00'), latest: undefined, catchup: false };
  // Between boundaries: the interval that ended at the last local midnight.
  assert.equal(iv(s.nextDagRunInfo(undefined, r, Date.parse('2024-03-05T10:00:00Z'))!.dataInterval), '2024-03-03T23:00..2024-03-04T23:00');
  // Exactly on a boundary (local midnight): croniter's get_prev is strictly before, so the
  // interval that has just ended, whose run can be created at once.
  assert.equal(iv(s.nextDagRunInfo(undefined, r, Date.parse('2024-03-04T23:00:00Z'))!.dataInterval), '2024-03-03T23:00..2024-03-04T23:00');
  // endDate (restriction.latest) stops the series.
  assert.equal(s.nextDagRunInfo(undefined, { ...r, latest: at('2024-02-01T00:00:00Z') }, Date.parse('2024-03-05T10:00:00Z')), undefined);
});

test('a manual run covers the last complete interval before it, in the zone (infer_manual_data_interval)', () => {
  const s = parseSchedule(scheduleSpecFrom('@daily', 'Europe/Amsterdam'));
  assert.equal(iv(manualDataInterval(s, at('2024-03-31T10:00:00Z'))), '2024-03-29T23:00..2024-03-30T23:00');
});

test('duration schedules: DeltaDataIntervalTimetable', () => {
  const s = parseSchedule(scheduleSpecFrom('1h30m'));
  assert.deepEqual(s.spec, { kind: 'delta', ms: 5_400_000, text: 'every 1h30m' });
  assert.deepEqual(parseSchedule(scheduleSpecFrom({ every: 90 * 60 })).spec, { kind: 'delta', ms: 5_400_000, text: 'every 5400s' });
  const runs = series(s, { earliest: at('2024-01-01T00:10:00Z'), latest: undefined, catchup: true }, Date.UTC(2030, 0, 1), 2);
  assert.deepEqual(runs.map((r) => iv(r.dataInterval)), ['2024-01-01T00:10..2024-01-01T01:40', '2024-01-01T01:40..2024-01-01T03:10']);
  // catchup off: now rounded down to the delta, then one delta back (_skip_to_latest, Airflow 2 default).
  const noCatchup = s.nextDagRunInfo(undefined, { earliest: at('2024-01-01T00:00:00Z'), latest: undefined, catchup: false }, Date.parse('2024-01-02T10:00:00Z'))!;
  assert.equal(iv(noCatchup.dataInterval), '2024-01-02T07:30..2024-01-02T09:00');
  assert.equal(iv(s.inferManualDataInterval(at('2024-01-02T10:00:00Z'))), '2024-01-02T08:30..2024-01-02T10:00');
});

test('CronTriggerTimetable: a run at each tick, no data interval; catchup off starts at the last tick (trigger.py)', () => {
  const s = parseSchedule(scheduleSpecFrom({ cron: '0 9 * * *', trigger: true }, 'Europe/Amsterdam'));
  const r = { earliest: at('2024-03-01T00:00:00Z'), latest: undefined, catchup: false };
  const first = s.nextDagRunInfo(undefined, r, Date.parse('2024-03-31T12:00:00Z'))!;
  assert.deepEqual(first.logicalDate, at('2024-03-31T07:00:00Z')); // 09:00+02:00, the tick just passed
  assert.deepEqual(first.runAfter, first.logicalDate);
  assert.equal(iv(first.dataInterval), '2024-03-31T07:00..2024-03-31T07:00');
  const next = s.nextDagRunInfo(first.dataInterval, r, Date.parse('2024-03-31T12:00:00Z'))!;
  assert.deepEqual(next.logicalDate, at('2024-04-01T07:00:00Z'));
  const withInterval = parseSchedule(scheduleSpecFrom({ cron: '0 9 * * *', trigger: true, interval: '1h' }, 'UTC'));
  assert.equal(iv(withInterval.nextDagRunInfo(undefined, { earliest: at('2024-01-01T00:00:00Z'), latest: undefined, catchup: true }, 0)!.dataInterval), '2024-01-01T08:00..2024-01-01T09:00');
});

test('@once and @continuous (airflow/timetables/simple.py)', () => {
  const once = parseSchedule(scheduleSpecFrom('@once'));
  const r = { earliest: at('2024-01-01T00:00:00Z'), latest: undefined, catchup: false };
  const first = once.nextDagRunInfo(undefined, r, Date.UTC(2025, 0, 1))!;
  assert.deepEqual(first.logicalDate, at('2024-01-01T00:00:00Z'));
  assert.equal(once.nextDagRunInfo(first.dataInterval, r, Date.UTC(2025, 0, 1)), undefined);
  const cont = parseSchedule(scheduleSpecFrom('@continuous'));
  const now = Date.UTC(2025, 0, 1);
  const c1 = cont.nextDagRunInfo(undefined, r, now)!;
  assert.equal(iv(c1.dataInterval), '2024-01-01T00:00..2025-01-01T00:00');
  const c2 = cont.nextDagRunInfo(c1.dataInterval, r, now + 5000)!;
  assert.deepEqual(c2.dataInterval, { start: at('2025-01-01T00:00:00Z'), end: new Date(now + 5000) });
});

test('backfill ranges use the same timetable (iter_dagrun_infos_between)', () => {
  const s = parseSchedule(scheduleSpecFrom('@daily', 'Europe/Amsterdam'));
  const infos = runInfosBetween(s, at('2024-03-30T00:00:00Z'), at('2024-04-01T00:00:00Z'));
  assert.deepEqual(infos.map((i) => i.logicalDate.toISOString()), ['2024-03-30T23:00:00.000Z', '2024-03-31T22:00:00.000Z']);
});

test('a spec is plain JSON and rebuilds the same schedule in any process', () => {
  const d = dag({ id: 'zoned', schedule: '@daily', timezone: 'Europe/Amsterdam', startDate: '2024-03-29' });
  const wire = JSON.parse(JSON.stringify(d.scheduleSpec)) as ScheduleSpec;
  assert.deepEqual(wire, { kind: 'cron', expression: '0 0 * * *', timezone: 'Europe/Amsterdam', text: '@daily' });
  const rebuilt = parseSchedule(wire);
  const r = { earliest: d.startDate, latest: undefined, catchup: true };
  assert.deepEqual(rebuilt.nextDagRunInfo(undefined, r, 0), d.schedule.nextDagRunInfo(undefined, r, 0));
  // A start date without an offset is local to the DAG's zone (pendulum.datetime(..., tz=…)).
  assert.equal(d.startDate!.toISOString(), '2024-03-28T23:00:00.000Z');
  // defaultArgs.timezone, and the zone of a start date written with an offset.
  assert.equal(dag({ id: 'da', defaultArgs: { timezone: 'America/New_York' } }).timezone, 'America/New_York');
  const off = dag({ id: 'off', schedule: '@daily', startDate: '2024-01-01T00:00:00+05:30' });
  assert.equal(off.timezone, 'UTC+05:30');
  assert.equal(off.schedule.nextDagRunInfo(undefined, off.timeRestriction, 0)!.logicalDate.toISOString(), '2023-12-31T18:30:00.000Z');
});

test('bad schedules and zones are refused naming the DAG', () => {
  assert.throws(() => dag({ id: 'tz', schedule: '@daily', timezone: 'Europe/Amsterdm' }), (e: unknown) => e instanceof DagDefinitionError && /DAG "tz": unknown time zone "Europe\/Amsterdm"/.test(e.message));
  assert.throws(() => dag({ id: 'feb30', schedule: '0 0 30 2 *' }), /DAG "feb30": cron expression "0 0 30 2 \*" never fires/);
  assert.throws(() => dag({ id: 'zero', schedule: { every: 0 } }), /DAG "zero": schedule interval must be positive/);
  assert.throws(() => dag({ id: 'zero2', schedule: '0s' }), /DAG "zero2": schedule interval must be positive/);
  assert.throws(() => dag({ id: 'six', schedule: '0 0 0 * * *' }), /DAG "six": cron expression "0 0 0 \* \* \*" must have 5 fields/);
  assert.throws(() => dag({ id: 'preset', schedule: '@fortnightly' }), /DAG "preset": unknown schedule preset "@fortnightly"/);
});

test('a DAG file with a bad zone, a cron that never fires or a zero duration: load errors naming the DAG, file and line', async () => {
  const { tempWorkspace } = await import('../helpers/workspace.ts');
  const { Runtime } = await import('../../src/runtime/runtime.ts');
  const ws = tempWorkspace({
    'dags/zone.ts': `import { dag } from 'hangar';\n\nexport const d = dag({ id: 'zone', schedule: '@daily', timezone: 'Europe/Amsterdm' });\n`,
    'dags/never.ts': `import { dag } from 'hangar';\nexport const d = dag({ id: 'never', schedule: '0 0 31 2 *' });\n`,
    'dags/zero.ts': `import { dag } from 'hangar';\nexport const d = dag({ id: 'zero', schedule: { every: '0s' } });\n`,
    'dags/ok.ts': `import { dag } from 'hangar';\nexport const d = dag({ id: 'ok', schedule: '@hourly' });\nd.task('t', async () => 1);\n`,
  });
  const rt = await Runtime.open(ws.root, { config: { executor: 'in-process' } });
  try {
    const bag = await rt.loadDags();
    assert.deepEqual([...bag.dags.keys()], ['ok']);
    const byFile = Object.fromEntries(bag.errors.map((e) => [e.file.slice(ws.root.length + 1), { line: e.line, message: e.message }]));
    assert.equal(byFile['dags/zone.ts']!.line, 3);
    assert.match(byFile['dags/zone.ts']!.message, /dags\/zone\.ts:3:\d+: DAG "zone": unknown time zone "Europe\/Amsterdm"/);
    assert.match(byFile['dags/never.ts']!.message, /dags\/never\.ts:2:\d+: DAG "never": cron expression "0 0 31 2 \*" never fires/);
    assert.match(byFile['dags/zero.ts']!.message, /dags\/zero\.ts:2:\d+: DAG "zero": schedule interval must be positive/);
  } finally {
    await rt.close();
    ws.remove();
  }
});
