/**
 * Schedules, as Airflow's timetables: a cron expression or a preset. All times are UTC.
 *
 * Data intervals follow Airflow 2's CronDataIntervalTimetable: a scheduled run
 * covers [tick, next tick) and its logical date is the start of that interval; a
 * manual run at logical date D covers the last complete interval that ends at or
 * before D.
 */

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

export type Schedule =
  | { readonly kind: 'none' }
  | { readonly kind: 'once' }
  | { readonly kind: 'cron'; readonly expression: string; readonly cron: Cron };

export interface DataInterval {
  readonly start: Date;
  readonly end: Date;
}

export function parseSchedule(text: string | null): Schedule {
  if (text === null || text === 'None' || text === '@none') return { kind: 'none' };
  if (typeof text !== 'string') throw new Error(`schedule must be a string or null, got ${typeof text}`);
  if (text === '@once') return { kind: 'once' };
  const expression = PRESETS[text] ?? text;
  if (text.startsWith('@') && !PRESETS[text]) {
    throw new Error(`unknown schedule preset "${text}" (known: ${Object.keys(PRESETS).join(', ')}, @once)`);
  }
  return { kind: 'cron', expression, cron: parseCron(expression) };
}

/** The data interval of a manual run at a logical date (Airflow's infer_manual_data_interval). */
export function manualDataInterval(schedule: Schedule, logicalDate: Date): DataInterval {
  if (schedule.kind !== 'cron') return { start: logicalDate, end: logicalDate };
  const end = schedule.cron.matches(logicalDate) ? logicalDate : schedule.cron.prev(logicalDate);
  return { start: schedule.cron.prev(end), end };
}

/** The data interval that starts at a scheduled tick (backfill and scheduled runs). */
export function scheduledDataInterval(schedule: Schedule, tick: Date): DataInterval {
  if (schedule.kind !== 'cron') return { start: tick, end: tick };
  return { start: tick, end: schedule.cron.next(tick) };
}

/** Scheduled logical dates in [from, to], in order (each aligned to the schedule). */
export function ticksBetween(schedule: Schedule, from: Date, to: Date, limit = 100_000): Date[] {
  if (schedule.kind !== 'cron') throw new Error('backfill needs a cron schedule or preset; this DAG has none');
  const out: Date[] = [];
  let t = schedule.cron.matches(from) ? from : schedule.cron.next(from);
  while (t.getTime() <= to.getTime()) {
    out.push(t);
    if (out.length > limit) throw new Error(`more than ${limit} schedule intervals between the dates`);
    t = schedule.cron.next(t);
  }
  return out;
}

// ---- cron -----------------------------------------------------------------------

interface Field {
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
}
const FIELDS: readonly Field[] = [
  { min: 0, max: 59 },
  { min: 0, max: 23 },
  { min: 1, max: 31 },
  { min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] },
  { min: 0, max: 7, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
];
const FIELD_NAMES = ['minute', 'hour', 'day of month', 'month', 'day of week'];

export interface Cron {
  matches(d: Date): boolean;
  /** The first matching minute strictly after d. */
  next(d: Date): Date;
  /** The last matching minute strictly before d. */
  prev(d: Date): Date;
}

export function parseCron(expression: string): Cron {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5) {
    throw new Error(`cron expression "${expression}" must have 5 fields (minute hour day month weekday)`);
  }
  const sets = parts.map((p, i) => parseField(p, FIELDS[i]!, FIELD_NAMES[i]!, expression));
  const [minutes, hours, doms, months, dowsRaw] = sets as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  const dows = new Set([...dowsRaw].map((d) => d % 7));
  const domStar = parts[2] === '*' || parts[2] === '?';
  const dowStar = parts[4] === '*' || parts[4] === '?';

  const dayMatches = (d: Date): boolean => {
    const dom = doms.has(d.getUTCDate());
    const dow = dows.has(d.getUTCDay());
    // POSIX cron: when both day fields are restricted, either may match.
    if (!domStar && !dowStar) return dom || dow;
    return dom && dow;
  };
  const matches = (d: Date): boolean =>
    d.getUTCSeconds() === 0 &&
    d.getUTCMilliseconds() === 0 &&
    minutes.has(d.getUTCMinutes()) &&
    hours.has(d.getUTCHours()) &&
    months.has(d.getUTCMonth() + 1) &&
    dayMatches(d);

  const sortedMinutes = [...minutes].sort((a, b) => a - b);
  const sortedHours = [...hours].sort((a, b) => a - b);

  const next = (from: Date): Date => {
    // Start at the next whole minute after `from`.
    let t = new Date(Math.floor(from.getTime() / 60_000) * 60_000 + 60_000);
    for (let guard = 0; guard < 500_000; guard++) {
      if (!months.has(t.getUTCMonth() + 1)) {
        t = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth() + 1, 1));
        continue;
      }
      if (!dayMatches(t)) {
        t = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate() + 1));
        continue;
      }
      if (!hours.has(t.getUTCHours())) {
        const h = sortedHours.find((x) => x > t.getUTCHours());
        t =
          h === undefined
            ? new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate() + 1))
            : new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate(), h));
        continue;
      }
      if (!minutes.has(t.getUTCMinutes())) {
        const m = sortedMinutes.find((x) => x > t.getUTCMinutes());
        t =
          m === undefined
            ? new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate(), t.getUTCHours() + 1))
            : new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate(), t.getUTCHours(), m));
        continue;
      }
      return t;
    }
    throw new Error(`cron expression "${expression}" never matches`);
  };

  const prev = (from: Date): Date => {
    let t = new Date(Math.ceil(from.getTime() / 60_000) * 60_000 - 60_000);
    for (let guard = 0; guard < 500_000; guard++) {
      if (!months.has(t.getUTCMonth() + 1)) {
        t = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), 1) - 60_000);
        continue;
      }
      if (!dayMatches(t)) {
        t = new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate()) - 60_000);
        continue;
      }
      if (!hours.has(t.getUTCHours())) {
        const h = [...sortedHours].reverse().find((x) => x < t.getUTCHours());
        t =
          h === undefined
            ? new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate()) - 60_000)
            : new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate(), h, 59));
        continue;
      }
      if (!minutes.has(t.getUTCMinutes())) {
        const m = [...sortedMinutes].reverse().find((x) => x < t.getUTCMinutes());
        t =
          m === undefined
            ? new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate(), t.getUTCHours()) - 60_000)
            : new Date(Date.UTC(t.getUTCFullYear(), t.getUTCMonth(), t.getUTCDate(), t.getUTCHours(), m));
        continue;
      }
      return t;
    }
    throw new Error(`cron expression "${expression}" never matches`);
  };

  return { matches, next, prev };
}

function parseField(text: string, field: Field, name: string, expression: string): Set<number> {
  const out = new Set<number>();
  const bad = (why: string) => new Error(`cron expression "${expression}": ${name} field "${text}" ${why}`);
  const value = (v: string): number => {
    const lower = v.toLowerCase();
    const idx = field.names?.indexOf(lower) ?? -1;
    if (idx >= 0) return idx + (field.min === 1 ? 1 : 0);
    if (!/^\d+$/.test(v)) throw bad(`has "${v}", which is not a number`);
    const n = Number(v);
    if (n < field.min || n > field.max) throw bad(`has ${n}, outside ${field.min}-${field.max}`);
    return n;
  };
  for (const part of text.split(',')) {
    const [range, stepText] = part.split('/') as [string, string | undefined];
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step < 1) throw bad(`has an invalid step "${stepText}"`);
    let lo: number, hi: number;
    if (range === '*' || range === '?') {
      lo = field.min;
      hi = field.max;
    } else if (range.includes('-')) {
      const [a, b] = range.split('-') as [string, string];
      lo = value(a);
      hi = value(b);
      if (lo > hi) throw bad(`has a reversed range ${range}`);
    } else {
      lo = value(range);
      hi = stepText === undefined ? lo : field.max;
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}
