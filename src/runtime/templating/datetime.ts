/**
 * Dates as templates see them: a UTC datetime that renders like Airflow's
 * pendulum DateTime (`2024-01-15T00:00:00+00:00`) and offers the same common methods.
 */
import { checkTimezone, toWallClock } from '../dag/schedule.ts';

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

export class TemplateDateTime {
  readonly date: Date;
  /** The zone its fields are read in: UTC, as Airflow's template dates, unless in_timezone() was called. */
  readonly zone: string;
  /** The local wall clock as a UTC-based Date (the same instant when the zone is UTC). */
  private readonly wall: Date;
  constructor(date: Date, zone = 'UTC') {
    this.date = date;
    this.zone = zone;
    this.wall = zone === 'UTC' ? date : new Date(toWallClock(date.getTime(), zone));
  }
  get year(): number {
    return this.wall.getUTCFullYear();
  }
  get month(): number {
    return this.wall.getUTCMonth() + 1;
  }
  get day(): number {
    return this.wall.getUTCDate();
  }
  get hour(): number {
    return this.wall.getUTCHours();
  }
  get minute(): number {
    return this.wall.getUTCMinutes();
  }
  get second(): number {
    return this.wall.getUTCSeconds();
  }
  get microsecond(): number {
    return this.wall.getUTCMilliseconds() * 1000;
  }
  /** The offset from UTC in minutes. */
  private get offsetMinutes(): number {
    return Math.round((this.wall.getTime() - this.date.getTime()) / 60_000);
  }
  /** ISO 8601 with the offset (+00:00 in UTC); microseconds only when non-zero (as Python's isoformat). */
  isoformat(): string {
    return isoformat(this.wall).slice(0, -6) + formatOffset(this.offsetMinutes, ':');
  }
  strftime(format: string): string {
    const off = this.offsetMinutes;
    return strftime(this.wall, format.replace(/%%|%z|%Z/g, (m) => (m === '%z' ? formatOffset(off, '') : m === '%Z' ? (this.zone === 'UTC' ? 'UTC' : this.zone) : m)));
  }
  timestamp(): number {
    return this.date.getTime() / 1000;
  }
  /** pendulum's in_timezone: the same instant read in another zone (`{{ ds_start.in_timezone('Europe/Amsterdam') }}`). */
  in_timezone(zone: string): TemplateDateTime {
    if (typeof zone !== 'string') throw new Error(`in_timezone needs a zone name, got ${typeof zone}`);
    return new TemplateDateTime(this.date, checkTimezone(zone));
  }
  /** pendulum's short name for in_timezone. */
  in_tz(zone: string): TemplateDateTime {
    return this.in_timezone(zone);
  }
  toString(): string {
    return this.isoformat();
  }
}

function formatOffset(minutes: number, sep: string): string {
  const a = Math.abs(minutes);
  return `${minutes < 0 ? '-' : '+'}${pad(Math.floor(a / 60))}${sep}${pad(a % 60)}`;
}

export function isoformat(d: Date): string {
  const base = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(
    d.getUTCMinutes(),
  )}:${pad(d.getUTCSeconds())}`;
  const ms = d.getUTCMilliseconds();
  return `${base}${ms ? '.' + pad(ms * 1000, 6) : ''}+00:00`;
}

export function strftime(d: Date, format: string): string {
  return format.replace(/%([a-zA-Z%])/g, (_, c: string) => {
    switch (c) {
      case 'Y':
        return String(d.getUTCFullYear());
      case 'y':
        return pad(d.getUTCFullYear() % 100);
      case 'm':
        return pad(d.getUTCMonth() + 1);
      case 'd':
        return pad(d.getUTCDate());
      case 'e':
        return String(d.getUTCDate()).padStart(2, ' ');
      case 'H':
        return pad(d.getUTCHours());
      case 'I':
        return pad(d.getUTCHours() % 12 || 12);
      case 'p':
        return d.getUTCHours() < 12 ? 'AM' : 'PM';
      case 'M':
        return pad(d.getUTCMinutes());
      case 'S':
        return pad(d.getUTCSeconds());
      case 'f':
        return pad(d.getUTCMilliseconds() * 1000, 6);
      case 'j': {
        const start = Date.UTC(d.getUTCFullYear(), 0, 1);
        return pad(Math.floor((d.getTime() - start) / 86_400_000) + 1, 3);
      }
      case 'b':
        return MONTHS[d.getUTCMonth()]!.slice(0, 3);
      case 'B':
        return MONTHS[d.getUTCMonth()]!;
      case 'a':
        return DAYS[d.getUTCDay()]!.slice(0, 3);
      case 'A':
        return DAYS[d.getUTCDay()]!;
      case 'w':
        return String(d.getUTCDay());
      case 'z':
        return '+0000';
      case 'Z':
        return 'UTC';
      case '%':
        return '%';
      default:
        throw new Error(`unsupported strftime directive %${c}`);
    }
  });
}

/** Python's strptime for the numeric and month-name directives. */
export function strptime(text: string, format: string): Date {
  let year = 1900,
    month = 1,
    day = 1,
    hour = 0,
    minute = 0,
    second = 0,
    micro = 0;
  let pos = 0;
  const fail = () => new Error(`time data "${text}" does not match format "${format}"`);
  const num = (maxLen: number): number => {
    const m = new RegExp(`^\\d{1,${maxLen}}`).exec(text.slice(pos));
    if (!m) throw fail();
    pos += m[0].length;
    return Number(m[0]);
  };
  for (let i = 0; i < format.length; i++) {
    const ch = format[i]!;
    if (ch !== '%') {
      if (text[pos] !== ch) throw fail();
      pos++;
      continue;
    }
    const c = format[++i];
    switch (c) {
      case 'Y':
        year = num(4);
        break;
      case 'y': {
        const y = num(2);
        year = y < 69 ? 2000 + y : 1900 + y;
        break;
      }
      case 'm':
        month = num(2);
        break;
      case 'd':
        day = num(2);
        break;
      case 'H':
        hour = num(2);
        break;
      case 'M':
        minute = num(2);
        break;
      case 'S':
        second = num(2);
        break;
      case 'f':
        micro = num(6);
        break;
      case 'j': {
        const doy = num(3);
        month = 1;
        day = doy;
        break;
      }
      case 'b':
      case 'B': {
        const rest = text.slice(pos).toLowerCase();
        const idx = MONTHS.findIndex((m) => rest.startsWith(c === 'B' ? m.toLowerCase() : m.slice(0, 3).toLowerCase()));
        if (idx < 0) throw fail();
        month = idx + 1;
        pos += c === 'B' ? MONTHS[idx]!.length : 3;
        break;
      }
      case '%':
        if (text[pos] !== '%') throw fail();
        pos++;
        break;
      default:
        throw new Error(`unsupported strptime directive %${c}`);
    }
  }
  if (pos !== text.length) throw new Error(`unconverted data remains: "${text.slice(pos)}"`);
  const d = new Date(Date.UTC(year, month - 1, day, hour, minute, second, Math.floor(micro / 1000)));
  if (d.getUTCMonth() !== month - 1 && format.indexOf('%j') < 0) throw fail();
  return d;
}
