/**
 * Schedules, as Airflow's timetables, in a DAG's time zone.
 *
 * A DAG's schedule is described by a {@link ScheduleSpec}: plain JSON data that can cross
 * a process boundary (the DAG is parsed in one process, scheduled in another).
 * {@link parseSchedule} rebuilds the working {@link Schedule} from it anywhere.
 *
 * The timetables follow Airflow 2's code:
 * - `cron` is CronDataIntervalTimetable (airflow/timetables/interval.py): a run covers
 *   [tick, next tick) and is created when that interval closes;
 * - `cron-trigger` is CronTriggerTimetable (airflow/timetables/trigger.py): a run is created
 *   at the tick itself, with a data interval of [tick - interval, tick] (empty by default);
 * - `delta` is DeltaDataIntervalTimetable (interval.py): intervals of a fixed duration;
 * - `once`, `continuous`, `none` are OnceTimetable, ContinuousTimetable and NullTimetable;
 * - `assets` is AssetTriggeredTimetable (simple.py): runs are created by asset events (assets.ts).
 *
 * Cron expressions are matched by cron-parser on the DAG's local wall clock, and local
 * times are placed on the time line as Airflow's CronMixin (airflow/timetables/_cron.py)
 * does with pendulum: a local time in a DST gap moves forward by the gap, a repeated
 * local time means its second occurrence, and schedules that fire every hour step
 * through both repeated hours instead of skipping one.
 */
import { CronExpression, CronExpressionParser } from 'cron-parser';
import type { CronFieldCollection } from 'cron-parser';
import { FixedOffsetZone, IANAZone } from 'luxon';
import type { Zone } from 'luxon';
import { durationMs } from './duration.ts';
import type { Duration } from './duration.ts';
import { assetConditionFrom, conditionText, isAssetSchedule } from './assets.ts';
import type { Asset, AssetCondition, AssetConditionInput } from './assets.ts';

const PRESETS: Record<string, string> = {
  '@hourly': '0 * * * *',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@weekly': '0 0 * * 0',
  '@monthly': '0 0 1 * *',
  '@quarterly': '0 0 1 */3 *',
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
};

/** What a DAG author writes as `schedule`. */
export type ScheduleInput =
  | string
  | null
  | { readonly every: Duration }
  | { readonly cron: string; readonly trigger?: boolean; readonly interval?: Duration }
  | Asset
  | AssetConditionInput
  | readonly (Asset | AssetConditionInput)[];

/** A schedule as plain data: what crosses process boundaries and is stored. */
export type ScheduleSpec =
  | { readonly kind: 'none' }
  | { readonly kind: 'once' }
  | { readonly kind: 'continuous' }
  | { readonly kind: 'cron'; readonly expression: string; readonly timezone: string; readonly text: string }
  | { readonly kind: 'cron-trigger'; readonly expression: string; readonly timezone: string; readonly intervalMs: number; readonly text: string }
  | { readonly kind: 'delta'; readonly ms: number; readonly text: string }
  | { readonly kind: 'assets'; readonly condition: AssetCondition; readonly text: string };

export interface DataInterval {
  readonly start: Date;
  readonly end: Date;
}

/** Airflow's DagRunInfo: the next run's logical date and data interval, and when it may be created. */
export interface DagRunInfo {
  readonly logicalDate: Date;
  readonly dataInterval: DataInterval;
  readonly runAfter: Date;
}

/** Airflow's TimeRestriction. */
export interface TimeRestriction {
  readonly earliest: Date | undefined;
  readonly latest: Date | undefined;
  readonly catchup: boolean;
}

/** A working timetable, rebuilt from a spec by {@link parseSchedule}. */
export interface Schedule {
  readonly kind: ScheduleSpec['kind'];
  readonly spec: ScheduleSpec;
  /** Short text for lists: the expression, `every 1h30m`, `@once`… (null: manual only). */
  readonly summary: string | null;
  /** True when it makes periodic runs (so backfill and catch-up apply). */
  readonly periodic: boolean;
  /** Airflow's Timetable.next_dagrun_info; `now` is the scheduler's clock (ms). */
  nextDagRunInfo(last: DataInterval | undefined, restriction: TimeRestriction, now: number): DagRunInfo | undefined;
  /** Airflow's Timetable.infer_manual_data_interval. */
  inferManualDataInterval(runAfter: Date): DataInterval;
}

export class ScheduleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScheduleError';
  }
}

// ---- specs ------------------------------------------------------------------------

/** Checks a time zone name (IANA, `UTC`, or a fixed offset such as `UTC+01:00`); returns it. */
export function checkTimezone(name: unknown): string {
  if (typeof name !== 'string' || name.trim() === '') throw new ScheduleError(`timezone must be an IANA zone name such as "Europe/Amsterdam", got ${JSON.stringify(name)}`);
  if (!zoneOf(name).isValid) throw new ScheduleError(`unknown time zone "${name}" (use an IANA name such as "Europe/Amsterdam" or "UTC")`);
  return name;
}

/** Turns what a DAG author wrote into a checked spec. Throws a {@link ScheduleError} naming the problem. */
export function scheduleSpecFrom(input: ScheduleInput | undefined, timezone = 'UTC'): ScheduleSpec {
  checkTimezone(timezone);
  if (input === undefined || input === null || input === 'None' || input === '@none') return { kind: 'none' };
  if (isAssetSchedule(input)) {
    // Airflow's AssetTriggeredTimetable (airflow/timetables/simple.py); a list means all of them.
    const condition = assetConditionFrom(input);
    return { kind: 'assets', condition, text: conditionText(condition) };
  }
  if (Array.isArray(input)) throw new ScheduleError(`a schedule list must hold assets (asset('s3://…')), got ${JSON.stringify(input)}`);
  if (typeof input === 'object') {
    if ('every' in input) return deltaSpec(input.every, typeof input.every === 'string' ? input.every : `${input.every}s`);
    if ('cron' in input && typeof input.cron === 'string') {
      const expression = cronExpression(input.cron);
      if (input.trigger) {
        const intervalMs = input.interval === undefined ? 0 : durationMs(input.interval, 'schedule interval');
        return { kind: 'cron-trigger', expression, timezone, intervalMs, text: input.cron };
      }
      if (input.interval !== undefined) throw new ScheduleError('schedule { cron, interval } needs trigger: true (the interval is CronTriggerTimetable\'s)');
      return { kind: 'cron', expression, timezone, text: input.cron };
    }
    throw new ScheduleError(`schedule must be a cron expression, a preset, a duration, { every }, { cron, trigger } or null; got ${JSON.stringify(input)}`);
  }
  if (typeof input !== 'string') throw new ScheduleError(`schedule must be a string, an object or null, got ${typeof input}`);
  const text = input.trim();
  if (text === '@once') return { kind: 'once' };
  if (text === '@continuous') return { kind: 'continuous' };
  if (text.startsWith('@') && !PRESETS[text]) {
    throw new ScheduleError(`unknown schedule preset "${text}" (known: ${Object.keys(PRESETS).join(', ')}, @once, @continuous)`);
  }
  if (!/\s/.test(text) && /^\d/.test(text)) return deltaSpec(text, text);
  return { kind: 'cron', expression: cronExpression(text), timezone, text };
}

function deltaSpec(value: Duration, text: string): ScheduleSpec {
  let ms: number;
  try {
    ms = durationMs(value, 'schedule');
  } catch (err) {
    throw new ScheduleError((err as Error).message);
  }
  if (!(ms > 0)) throw new ScheduleError(`schedule interval must be positive, not ${JSON.stringify(value)} (Airflow's DeltaDataIntervalTimetable.validate)`);
  return { kind: 'delta', ms, text: `every ${text}` };
}

/** Resolves a preset and checks a 5-field expression; returns the expression. */
function cronExpression(text: string): string {
  const expression = PRESETS[text] ?? text;
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5) throw new ScheduleError(`cron expression "${text}" must have 5 fields (minute hour day-of-month month day-of-week)`);
  const fields = cronFields(expression);
  // An expression that parses may still never fire (30 February): look for a tick.
  try {
    new CronExpression(fields, { currentDate: new Date(Date.UTC(2000, 0, 1)), tz: 'UTC' }).next();
  } catch {
    throw new ScheduleError(`cron expression "${text}" never fires`);
  }
  return expression.trim();
}

const fieldCache = new Map<string, CronFieldCollection>();
function cronFields(expression: string): CronFieldCollection {
  let fields = fieldCache.get(expression);
  if (!fields) {
    try {
      fields = CronExpressionParser.parse(`0 ${expression.trim()}`, { tz: 'UTC', strict: false }).fields;
    } catch (err) {
      const why = (err as Error).message;
      if (/day of month/i.test(why)) throw new ScheduleError(`cron expression "${expression}" never fires (${why})`);
      throw new ScheduleError(`cron expression "${expression}" is not valid: ${why}`);
    }
    fieldCache.set(expression, fields);
  }
  return fields;
}

// ---- zones ------------------------------------------------------------------------

const zoneCache = new Map<string, Zone>();
function zoneOf(name: string): Zone {
  let z = zoneCache.get(name);
  if (!z) {
    const fixed = /^UTC[+-]/i.test(name) ? FixedOffsetZone.parseSpecifier(name) : null;
    z = name === 'UTC' || name === 'Etc/UTC' ? FixedOffsetZone.utcInstance : (fixed ?? IANAZone.create(name));
    zoneCache.set(name, z);
  }
  return z;
}

const MINUTE = 60_000;
const DAY = 86_400_000;

/** The local wall-clock time of an instant, as a "floating" UTC millisecond count (Airflow's make_naive). */
export function toWallClock(ms: number, zone: string): number {
  return ms + zoneOf(zone).offset(ms) * MINUTE;
}

/**
 * The instant of a local wall-clock time (Airflow's make_aware, which sets fold=1, with
 * pendulum's POST_TRANSITION rule): a time in a DST gap moves forward by the gap; a
 * repeated time means its second occurrence.
 */
export function fromWallClock(wall: number, zone: string): number {
  const z = zoneOf(zone);
  const before = z.offset(wall - DAY);
  const after = z.offset(wall + DAY);
  const valid = (o: number) => z.offset(wall - o * MINUTE) === o;
  if (valid(after)) return wall - after * MINUTE;
  if (valid(before)) return wall - before * MINUTE;
  return wall - before * MINUTE; // in the gap: shift forward by its length
}

/** Local date and time of an instant in a zone, `YYYY-MM-DD HH:MM[:SS[.mmm]]±HH:MM`. */
export function formatInZone(d: Date, zone: string): string {
  const off = zoneOf(zone).offset(d.getTime());
  const w = new Date(d.getTime() + off * MINUTE).toISOString();
  const sign = off < 0 ? '-' : '+';
  const a = Math.abs(off);
  const time = w.slice(17, 23) === '00.000' ? w.slice(11, 16) : w.slice(20, 23) === '000' ? w.slice(11, 19) : w.slice(11, 23);
  return `${w.slice(0, 10)} ${time}${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

/** Reads a date option: a Date, an ISO string with an offset, or a local ISO string in `zone`. */
export function parseDateIn(value: string | Date, zone: string): Date {
  if (value instanceof Date) return value;
  const text = value.trim();
  if (/[zZ]$|[+-]\d\d:?\d\d$/.test(text)) return new Date(text);
  const m = /^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,3})\d*)?)?)?$/.exec(text);
  if (!m) return new Date(NaN);
  const [, y, mo, d, h, mi, s, ms] = m;
  const wall = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0), Number((ms ?? '0').padEnd(3, '0')));
  return new Date(fromWallClock(wall, zone));
}

/** A fixed-offset zone name (`UTC+02:00`) for an ISO string with a non-zero offset, else undefined. */
export function offsetZoneOf(value: string | Date | undefined): string | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /([+-])(\d\d):?(\d\d)$/.exec(value.trim());
  if (!m || (m[2] === '00' && m[3] === '00')) return undefined;
  return `UTC${m[1]}${m[2]}:${m[3]}`;
}

// ---- cron in a zone (airflow/timetables/_cron.py, CronMixin) ------------------------

class ZonedCron {
  private readonly fields: CronFieldCollection;
  /** `_covers_every_hour`: the hour field is `*`, so the fold hour must not be skipped. */
  private readonly everyHour: boolean;
  readonly expression: string;
  readonly zone: string;
  constructor(expression: string, zone: string) {
    this.expression = expression;
    this.zone = zone;
    this.fields = cronFields(expression);
    this.everyHour = this.fields.hour.values.length === 24;
  }

  /** Recent answers: the timetable asks the same next/prev several times per run (aligning, skipping). */
  private readonly memo = new Map<number, number>();

  private naiveStep(wall: number, back: boolean): number {
    const k = back ? -wall - 1 : wall;
    const hit = this.memo.get(k);
    if (hit !== undefined) return hit;
    const it = new CronExpression(this.fields, { currentDate: new Date(wall), tz: 'UTC' });
    const out = (back ? it.prev() : it.next()).getTime();
    if (this.memo.size >= 64) this.memo.clear();
    this.memo.set(k, out);
    return out;
  }

  /** `_get_next`: the first tick strictly after `current`. */
  next(current: number): number {
    const naive = toWallClock(current, this.zone);
    const scheduled = this.naiveStep(naive, false);
    const delta = scheduled - naive;
    // pendulum adds a timedelta of under a day as absolute time, longer ones on the wall clock.
    if (!this.everyHour || delta >= DAY) return fromWallClock(scheduled, this.zone);
    return current + delta;
  }

  /** `_get_prev`: the last tick strictly before `current`. */
  prev(current: number): number {
    const naive = toWallClock(current, this.zone);
    const scheduled = this.naiveStep(naive, true);
    const delta = naive - scheduled;
    if (!this.everyHour || delta >= DAY) return fromWallClock(scheduled, this.zone);
    return current - delta;
  }

  /** `_align_to_next`: `current` if it is a tick, else the next tick. */
  alignToNext(current: number): number {
    const n = this.next(current);
    return this.prev(n) !== current ? n : current;
  }

  /** `_align_to_prev`: `current` if it is a tick, else the previous tick. */
  alignToPrev(current: number): number {
    const p = this.prev(current);
    return this.next(p) !== current ? p : current;
  }
}

// ---- timetables ---------------------------------------------------------------------

const d = (ms: number) => new Date(ms);
const exact = (at: Date): DagRunInfo => ({ logicalDate: at, dataInterval: { start: at, end: at }, runAfter: at });
const interval = (start: number, end: number): DagRunInfo => ({ logicalDate: d(start), dataInterval: { start: d(start), end: d(end) }, runAfter: d(end) });

/** `_DataIntervalTimetable.next_dagrun_info`, shared by cron and delta (interval.py). */
function dataIntervalNext(
  t: { next(ms: number): number; alignToNext(ms: number): number; alignToPrev(ms: number): number; skipToLatest(earliest: number | undefined, now: number): number },
  last: DataInterval | undefined,
  r: TimeRestriction,
  now: number,
): DagRunInfo | undefined {
  let earliest = r.earliest?.getTime();
  if (!r.catchup) earliest = t.skipToLatest(earliest, now);
  else if (earliest !== undefined) earliest = t.alignToNext(earliest);
  let start: number;
  if (last === undefined) {
    if (earliest === undefined) return undefined;
    start = earliest;
  } else {
    const alignedEnd = t.alignToPrev(last.end.getTime());
    start = earliest !== undefined ? Math.max(alignedEnd, earliest) : alignedEnd;
  }
  if (r.latest !== undefined && start > r.latest.getTime()) return undefined;
  return interval(start, t.next(start));
}

function cronDataIntervalTimetable(spec: Extract<ScheduleSpec, { kind: 'cron' }>): Schedule {
  const cron = new ZonedCron(spec.expression, spec.timezone);
  const t = {
    next: (ms: number) => cron.next(ms),
    alignToNext: (ms: number) => cron.alignToNext(ms),
    alignToPrev: (ms: number) => cron.alignToPrev(ms),
    // CronDataIntervalTimetable._skip_to_latest (catchup_false_no_dagrun_airflow_2_fix off).
    skipToLatest(earliest: number | undefined, now: number): number {
      const lastStart = cron.prev(now);
      const nextStart = cron.next(lastStart);
      const newStart = nextStart === now ? lastStart : cron.prev(lastStart);
      return earliest === undefined ? newStart : Math.max(newStart, cron.alignToNext(earliest));
    },
  };
  return {
    kind: 'cron',
    spec,
    summary: spec.text,
    periodic: true,
    nextDagRunInfo: (last, r, now) => dataIntervalNext(t, last, r, now),
    inferManualDataInterval(runAfter) {
      const end = cron.alignToPrev(runAfter.getTime());
      return { start: d(cron.prev(end)), end: d(end) };
    },
  };
}

function deltaDataIntervalTimetable(spec: Extract<ScheduleSpec, { kind: 'delta' }>): Schedule {
  const delta = spec.ms;
  const t = {
    next: (ms: number) => ms + delta,
    alignToNext: (ms: number) => ms,
    alignToPrev: (ms: number) => ms,
    // DeltaDataIntervalTimetable._skip_to_latest: round now down to the delta, then one back.
    skipToLatest(earliest: number | undefined, now: number): number {
      const nextStart = now - (now % delta) - delta;
      return earliest === undefined ? nextStart : Math.max(nextStart, earliest);
    },
  };
  return {
    kind: 'delta',
    spec,
    summary: spec.text,
    periodic: true,
    nextDagRunInfo: (last, r, now) => dataIntervalNext(t, last, r, now),
    inferManualDataInterval: (runAfter) => ({ start: d(runAfter.getTime() - delta), end: runAfter }),
  };
}

function cronTriggerTimetable(spec: Extract<ScheduleSpec, { kind: 'cron-trigger' }>): Schedule {
  const cron = new ZonedCron(spec.expression, spec.timezone);
  const iv = spec.intervalMs;
  return {
    kind: 'cron-trigger',
    spec,
    summary: `trigger ${spec.text}`,
    periodic: true,
    nextDagRunInfo(last, r, now) {
      let next: number;
      if (r.catchup) {
        if (last !== undefined) next = cron.next(last.end.getTime());
        else if (r.earliest === undefined) return undefined;
        else next = cron.alignToNext(r.earliest.getTime());
      } else {
        const candidates = [cron.alignToPrev(now)];
        if (last !== undefined) candidates.push(cron.next(last.end.getTime()));
        if (r.earliest !== undefined) candidates.push(cron.alignToNext(r.earliest.getTime()));
        next = Math.max(...candidates);
      }
      if (r.latest !== undefined && r.latest.getTime() < next) return undefined;
      // DagRunInfo.interval(next - interval, next): the logical date is the interval's start.
      return interval(next - iv, next);
    },
    inferManualDataInterval: (runAfter) => ({ start: d(runAfter.getTime() - iv), end: runAfter }),
  };
}

const NONE: Schedule = {
  kind: 'none',
  spec: { kind: 'none' },
  summary: null,
  periodic: false,
  nextDagRunInfo: () => undefined,
  inferManualDataInterval: (at) => ({ start: at, end: at }),
};

const ONCE: Schedule = {
  kind: 'once',
  spec: { kind: 'once' },
  summary: '@once',
  periodic: false,
  // OnceTimetable (airflow/timetables/simple.py): at the start date, once, whatever catchup says.
  nextDagRunInfo(last, r) {
    if (last !== undefined || r.earliest === undefined) return undefined;
    if (r.latest !== undefined && r.earliest > r.latest) return undefined;
    return exact(r.earliest);
  },
  inferManualDataInterval: (at) => ({ start: at, end: at }),
};

const CONTINUOUS: Schedule = {
  kind: 'continuous',
  spec: { kind: 'continuous' },
  summary: '@continuous',
  periodic: false,
  // ContinuousTimetable (airflow/timetables/simple.py): a new run as soon as the last one ends.
  nextDagRunInfo(last, r, now) {
    if (r.latest !== undefined && r.latest.getTime() < now) return undefined;
    const start = last !== undefined ? last.end.getTime() : (r.earliest?.getTime() ?? now);
    const end = last !== undefined ? now : Math.max(r.earliest?.getTime() ?? now, now);
    if (r.latest !== undefined && end > r.latest.getTime()) return undefined;
    return interval(start, end);
  },
  inferManualDataInterval: (at) => ({ start: at, end: at }),
};

/**
 * AssetTriggeredTimetable (airflow/timetables/simple.py): never schedules by time; the scheduler
 * creates a run when the asset condition holds (scheduler/service.ts, createAssetTriggeredRuns).
 */
function assetsTimetable(spec: Extract<ScheduleSpec, { kind: 'assets' }>): Schedule {
  return {
    kind: 'assets',
    spec,
    summary: spec.text,
    periodic: false,
    nextDagRunInfo: () => undefined,
    inferManualDataInterval: (at) => ({ start: at, end: at }),
  };
}

/**
 * Rebuilds a working schedule from its spec (or, for older callers, from schedule text
 * read as UTC). Throws a {@link ScheduleError} for a spec that is not valid.
 */
export function parseSchedule(spec: ScheduleSpec | ScheduleInput | undefined): Schedule {
  const s: ScheduleSpec = isSpec(spec) ? spec : scheduleSpecFrom(spec as ScheduleInput | undefined);
  switch (s.kind) {
    case 'none':
      return NONE;
    case 'once':
      return ONCE;
    case 'continuous':
      return CONTINUOUS;
    case 'cron':
      checkTimezone(s.timezone);
      return cronDataIntervalTimetable(s);
    case 'cron-trigger':
      checkTimezone(s.timezone);
      return cronTriggerTimetable(s);
    case 'assets':
      return assetsTimetable(s);
    case 'delta':
      if (!(s.ms > 0)) throw new ScheduleError(`schedule interval must be positive, not ${s.ms} ms`);
      return deltaDataIntervalTimetable(s);
    default:
      throw new ScheduleError(`unknown schedule kind ${JSON.stringify((s as { kind?: unknown }).kind)}`);
  }
}

function isSpec(x: unknown): x is ScheduleSpec {
  return !!x && typeof x === 'object' && typeof (x as { kind?: unknown }).kind === 'string';
}

// ---- helpers the runtime uses ------------------------------------------------------

/** What scheduling needs of a DAG: plain data, so a live Dag and a serialized one both do. */
export interface ScheduledDagData {
  readonly scheduleSpec: ScheduleSpec;
  readonly startDate?: Date | string | null;
  readonly endDate?: Date | string | null;
  readonly catchup: boolean;
}

const rebuilt = new Map<string, Schedule>();

/** The working schedule of a DAG, rebuilt from its spec (cached by the spec's JSON). */
export function scheduleOf(dag: { readonly scheduleSpec: ScheduleSpec }): Schedule {
  const key = JSON.stringify(dag.scheduleSpec);
  let s = rebuilt.get(key);
  if (!s) {
    s = parseSchedule(dag.scheduleSpec);
    if (rebuilt.size >= 10_000) rebuilt.clear();
    rebuilt.set(key, s);
  }
  return s;
}

/** Airflow's TimeRestriction of a DAG's scheduled runs (start and end dates may be Dates or ISO strings). */
export function timeRestrictionOf(dag: ScheduledDagData): TimeRestriction {
  const date = (v: Date | string | null | undefined) => (v === undefined || v === null ? undefined : new Date(v));
  return { earliest: date(dag.startDate), latest: date(dag.endDate), catchup: dag.catchup };
}

/** The data interval of a manual run at a logical date (Airflow's infer_manual_data_interval). */
export function manualDataInterval(schedule: Schedule, logicalDate: Date): DataInterval {
  return schedule.inferManualDataInterval(logicalDate);
}

/** The data interval of the scheduled run whose logical date is `tick` (backfill and scheduled runs). */
export function scheduledDataInterval(schedule: Schedule, tick: Date): DataInterval {
  if (!schedule.periodic) return { start: tick, end: tick };
  const info = schedule.nextDagRunInfo(undefined, { earliest: tick, latest: undefined, catchup: true }, tick.getTime());
  return info ? info.dataInterval : { start: tick, end: tick };
}

/**
 * The scheduled runs whose logical dates fall in [from, to], in order (Airflow's
 * DAG.iter_dagrun_infos_between, used by backfill).
 */
export function runInfosBetween(schedule: Schedule, from: Date, to: Date, limit = 100_000): DagRunInfo[] {
  if (!schedule.periodic) throw new Error('backfill needs a periodic schedule (cron, preset or duration); this DAG has none');
  const out: DagRunInfo[] = [];
  const r: TimeRestriction = { earliest: from, latest: to, catchup: true };
  let last: DataInterval | undefined;
  for (;;) {
    const info = schedule.nextDagRunInfo(last, r, to.getTime());
    if (!info || info.logicalDate.getTime() > to.getTime()) break;
    out.push(info);
    if (out.length > limit) throw new Error(`more than ${limit} schedule intervals between the dates`);
    last = info.dataInterval;
  }
  return out;
}

/** Scheduled logical dates in [from, to], in order. */
export function ticksBetween(schedule: Schedule, from: Date, to: Date, limit = 100_000): Date[] {
  return runInfosBetween(schedule, from, to, limit).map((i) => i.logicalDate);
}
