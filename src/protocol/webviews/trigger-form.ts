/**
 * The trigger form's model (Airflow 3's "Trigger DAG" form): a DAG's params become
 * fields (kind from the param's type and enum, default filled, description shown),
 * the fields' texts become the run's conf, and every message comes from the
 * runtime's own checks (`paramProblem` for a field, `validateRunParams` for the
 * whole conf), so the form refuses exactly what the runtime would refuse, in the
 * same words. No DOM, no Node, no vscode: the webview bundle and the tests import it.
 */
import { paramProblem, validateRunParams } from '../../runtime/dag/params.ts';
import type { ParamFormat, ParamSchema, ParamSpec, ParamType } from '../../runtime/dag/params.ts';
import type { DagParamInfo } from '../runtime.ts';

export type FieldKind =
  | 'string'
  | 'integer'
  | 'number'
  | 'boolean'
  | 'enum'
  | 'json'
  /** A string with `format: 'date'`: a date picker (`<input type="date">`). */
  | 'date'
  /** `format: 'date-time'`: a date-and-time picker (`datetime-local`) in the webview's time zone, sent as UTC. */
  | 'datetime'
  /** `format: 'time'`: a time picker (`<input type="time">`, with seconds). */
  | 'time';

const PICKERS: Readonly<Record<ParamFormat, FieldKind>> = {
  date: 'date',
  'date-time': 'datetime',
  time: 'time',
};
const isPicker = (k: FieldKind): k is 'date' | 'datetime' | 'time' =>
  k === 'date' || k === 'datetime' || k === 'time';

export interface FormField {
  name: string;
  kind: FieldKind;
  /** The param's title, else its name. */
  label: string;
  description: string | null;
  /** No default: the run's conf must give it. */
  required: boolean;
  /** The rules ({} for a plain value). */
  schema: ParamSchema;
  /** What the rules ask, in a few words (type, bounds, pattern, lengths). */
  hint: string;
  /** An enum's choices: the option's text and its value as JSON (the field's raw text). */
  options: { label: string; raw: string }[];
}

/** A field's raw input: the text typed (the enum's choice as JSON), or a checkbox's state. */
export type RawValue = string | boolean;
export type FieldValues = Record<string, RawValue>;

function typesOf(schema: ParamSchema): ParamType[] {
  return schema.type === undefined ? [] : ([] as ParamType[]).concat(schema.type as ParamType | ParamType[]);
}

/**
 * The field for a param, as Airflow 3's form picks it (airflow-core/src/airflow/ui/src/components/
 * FlexibleForm/FieldSelector.tsx): the first type that is not "null" (several: free JSON), else the
 * default's type; a string with format date-time, date or time is a picker (before the enum's
 * dropdown, as there); an enum of null, string, number or integer is a dropdown.
 */
function kindOf(p: DagParamInfo): FieldKind {
  const schema = p.schema ?? {};
  const types = typesOf(schema).filter((t) => t !== 'null');
  if (types.length > 1 && schema.enum === undefined) return 'json';
  const t: string =
    types[0] ?? (Array.isArray(p.default) ? 'array' : p.default === null ? 'null' : typeof p.default);
  if (t === 'string' && schema.format !== undefined && Object.hasOwn(PICKERS, schema.format))
    return PICKERS[schema.format];
  if (schema.enum !== undefined)
    return ['null', 'string', 'number', 'integer'].includes(t) || t === 'undefined' ? 'enum' : 'json';
  switch (t) {
    case 'boolean':
    case 'integer':
    case 'number':
      return t;
    case 'array':
    case 'object':
      return 'json';
    default:
      return 'string';
  }
}

function hintOf(kind: FieldKind, s: ParamSchema): string {
  const parts: string[] = [];
  const types = kind === 'boolean' ? [] : typesOf(s);
  if (types.length > 0) parts.push(types.join(' or '));
  if (s.minimum !== undefined) parts.push(`≥ ${s.minimum}`);
  if (s.exclusiveMinimum !== undefined) parts.push(`> ${s.exclusiveMinimum}`);
  if (s.maximum !== undefined) parts.push(`≤ ${s.maximum}`);
  if (s.exclusiveMaximum !== undefined) parts.push(`< ${s.exclusiveMaximum}`);
  if (s.minLength !== undefined) parts.push(`at least ${s.minLength} characters`);
  if (s.maxLength !== undefined) parts.push(`at most ${s.maxLength} characters`);
  if (s.pattern !== undefined) parts.push(`matching ${s.pattern}`);
  if (s.format !== undefined) parts.push(`format ${s.format}`);
  if (s.minItems !== undefined) parts.push(`at least ${s.minItems} items`);
  if (s.maxItems !== undefined) parts.push(`at most ${s.maxItems} items`);
  if (kind === 'json') parts.push('as JSON');
  return parts.join(', ');
}

/** The form's fields, in the params' order. */
export function fieldsOf(params: readonly DagParamInfo[]): FormField[] {
  return params.map((p) => {
    const schema = p.schema ?? {};
    const kind = kindOf(p);
    return {
      name: p.name,
      kind,
      label: schema.title ?? p.name,
      description: schema.description ?? null,
      required: !Object.hasOwn(p, 'default'),
      schema,
      hint: hintOf(kind, schema),
      options:
        kind === 'enum'
          ? (schema.enum ?? []).map((v) => ({
              label: typeof v === 'string' ? v : JSON.stringify(v),
              raw: JSON.stringify(v),
            }))
          : [],
    };
  });
}

/** A value as a field's raw input (what the field shows for it). */
export function rawOf(field: FormField, v: unknown): RawValue {
  if (v === undefined) return field.kind === 'boolean' ? false : '';
  switch (field.kind) {
    case 'boolean':
      return typeof v === 'boolean' ? v : JSON.stringify(v);
    case 'enum':
      return JSON.stringify(v);
    case 'string':
    case 'date':
    case 'datetime':
    case 'time':
      return typeof v === 'string' ? v : v === null && isPicker(field.kind) ? '' : JSON.stringify(v);
    case 'integer':
    case 'number':
      return typeof v === 'number' ? String(v) : v === null ? '' : JSON.stringify(v);
    case 'json':
      return JSON.stringify(v, null, 2);
  }
}

/** The fields' raw inputs for the params' defaults (empty for a param without one). */
export function defaultValues(fields: readonly FormField[], params: readonly DagParamInfo[]): FieldValues {
  const byName = new Map(params.map((p) => [p.name, p]));
  return Object.fromEntries(fields.map((f) => [f.name, rawOf(f, byName.get(f.name)?.default)]));
}

/** A raw input read as a value: `given: false` leaves the param out of the conf (a required field left empty). */
export type FieldRead =
  { ok: true; given: true; value: unknown } | { ok: true; given: false } | { ok: false; error: string };

export function readField(field: FormField, raw: RawValue | undefined): FieldRead {
  if (typeof raw === 'boolean') return { ok: true, given: true, value: raw };
  const text = raw ?? '';
  const empty = text.trim() === '';
  if (empty && field.required) return { ok: true, given: false };
  switch (field.kind) {
    case 'string':
      return {
        ok: true,
        given: true,
        value: text === '' && typesOf(field.schema).includes('null') ? null : text,
      };
    case 'date':
    case 'datetime':
    case 'time':
      // An emptied picker is null, as Airflow's FieldDateTime.tsx sets it ("" would fall back to nothing).
      return { ok: true, given: true, value: empty ? null : text };
    case 'integer':
    case 'number': {
      // An empty number is null (Airflow's form sends null); a text that is no number is checked as the text it is.
      if (empty) return { ok: true, given: true, value: null };
      const n = Number(text.trim());
      return { ok: true, given: true, value: Number.isFinite(n) ? n : text };
    }
    case 'boolean':
      return { ok: true, given: true, value: text === 'true' };
    case 'enum':
    case 'json':
      if (empty) return { ok: true, given: true, value: null };
      try {
        return { ok: true, given: true, value: JSON.parse(text) as unknown };
      } catch (err) {
        return { ok: false, error: `is not valid JSON: ${(err as Error).message}` };
      }
  }
}

/** What is wrong with a field's input: not readable, missing, or the runtime's own words for the rule it breaks. */
export function fieldError(field: FormField, raw: RawValue | undefined): string | undefined {
  const r = readField(field, raw);
  if (!r.ok) return r.error;
  if (!r.given) return 'has no default: give a value';
  return paramProblem(r.value, field.schema);
}

/** The run's conf from the fields (plus keys only the JSON gave), and each field's problem. */
export function formConf(
  fields: readonly FormField[],
  values: FieldValues,
  extras: Readonly<Record<string, unknown>> = {},
): { conf: Record<string, unknown>; errors: Record<string, string> } {
  const conf: Record<string, unknown> = { ...extras };
  const errors: Record<string, string> = {};
  for (const f of fields) {
    delete conf[f.name];
    const r = readField(f, values[f.name]);
    if (r.ok && r.given) conf[f.name] = r.value;
    const e = fieldError(f, values[f.name]);
    if (e) errors[f.name] = e;
  }
  return { conf, errors };
}

/** The fields' inputs from a conf (a param the conf leaves out shows its default); keys that are no param are `extras`. */
export function valuesFromConf(
  fields: readonly FormField[],
  params: readonly DagParamInfo[],
  conf: Readonly<Record<string, unknown>>,
): { values: FieldValues; extras: Record<string, unknown> } {
  const values = defaultValues(fields, params);
  const names = new Set(fields.map((f) => f.name));
  const extras: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(conf)) {
    if (!names.has(k)) extras[k] = v;
  }
  for (const f of fields) if (Object.hasOwn(conf, f.name)) values[f.name] = rawOf(f, conf[f.name]);
  return { values, extras };
}

/**
 * The runtime's answer to a conf (src/runtime/runtime.ts triggerRun calls the same
 * `validateRunParams`): its error message, or undefined when the run would be accepted.
 */
export function confError(
  dagId: string,
  params: readonly DagParamInfo[],
  conf: Readonly<Record<string, unknown>>,
): string | undefined {
  const specs: Record<string, ParamSpec> = {};
  const defaults: Record<string, unknown> = {};
  for (const p of params) {
    if (Object.hasOwn(p, 'default')) defaults[p.name] = p.default;
    if (p.schema) specs[p.name] = { hasDefault: Object.hasOwn(p, 'default'), schema: p.schema };
  }
  try {
    validateRunParams(dagId, specs, defaults, conf);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The raw JSON tab's text: a JSON object, or why not (the wording of "Run DAG with Config…"). */
export function parseConfText(
  text: string,
): { ok: true; conf: Record<string, unknown> } | { ok: false; error: string } {
  const t = text.trim();
  if (t === '') return { ok: true, conf: {} };
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch (err) {
    return { ok: false, error: `The run configuration is not valid JSON: ${(err as Error).message}` };
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return {
      ok: false,
      error: `The run configuration must be a JSON object like {"key": "value"}, not ${Array.isArray(v) ? 'an array' : JSON.stringify(v)}`,
    };
  return { ok: true, conf: v as Record<string, unknown> };
}

export const confText = (conf: Readonly<Record<string, unknown>>): string => JSON.stringify(conf, null, 2);

/**
 * The logical date given: empty (the runtime uses now), or a date like 2024-01-31 or
 * 2024-01-31T06:00 (what the picker gives: a wall time in `zone`, the webview's time zone; UTC
 * when none is said) or with an offset (2024-01-31T06:00:00Z), as ISO UTC.
 */
export function parseLogicalDate(
  text: string,
  zone = 'UTC',
): { ok: true; iso: string | undefined } | { ok: false; error: string } {
  const t = text.trim();
  if (t === '') return { ok: true, iso: undefined };
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(t))
    return { ok: false, error: `"${t}" is not a date like 2024-01-31 or 2024-01-31T06:00:00Z` };
  if (/(Z|[+-]\d{2}:?\d{2})$/.test(t)) {
    const d = new Date(t.replace(' ', 'T'));
    if (Number.isNaN(d.getTime())) return { ok: false, error: `"${t}" is not a valid date` };
    return { ok: true, iso: d.toISOString() };
  }
  const iso = localToIso(t.length === 10 ? `${t}T00:00` : t.replace(' ', 'T'), zone);
  return iso === undefined ? { ok: false, error: `"${t}" is not a valid date` } : { ok: true, iso };
}

// ------------------------------------------------------------------ date pickers

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
const FORMATTERS = new Map<string, Intl.DateTimeFormat>();

/** The instant of a wall time read as UTC (years below 100 too, which Date.UTC would shift to 19xx). */
function wallMs(y: number, mo: number, d: number, h: number, mi: number, s: number, ms: number): number {
  const t = new Date(0);
  t.setUTCFullYear(y, mo - 1, d);
  t.setUTCHours(h, mi, s, ms);
  return t.getTime();
}

/** `zone`'s offset from UTC at an instant, in minutes (Asia/Kolkata: 330). Throws on an unknown zone. */
export function zoneOffsetMinutes(utcMs: number, zone: string): number {
  let f = FORMATTERS.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    FORMATTERS.set(zone, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(new Date(utcMs))) p[part.type] = Number(part.value);
  const wall = wallMs(p.year!, p.month!, p.day!, p.hour!, p.minute!, p.second!, 0);
  return Math.round((wall - Math.floor(utcMs / 1000) * 1000) / 60_000);
}

/** `Asia/Kolkata (UTC+05:30)`: a zone as the form names it, with its offset at an instant. */
export function zoneLabel(zone: string, atMs = Date.now()): string {
  const off = zoneOffsetMinutes(atMs, zone);
  const a = Math.abs(off);
  return `${zone} (UTC${off < 0 ? '-' : '+'}${pad(Math.floor(a / 60))}:${pad(a % 60)})`;
}

/**
 * A wall time in `zone` (a `datetime-local` value: 2024-03-01T11:30 or with seconds) as ISO UTC
 * with milliseconds, as Airflow's DateTimeInput sends it (airflow-core/src/airflow/ui/src/components/
 * DateTimeInput.tsx: `dayjs(value).tz(selectedTimezone, true).toISOString()`); undefined when it is
 * no wall time. A time the zone skips (a spring-forward gap) moves on by the gap, as a JS Date does.
 */
export function localToIso(local: string, zone: string): string | undefined {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3})\d*)?)?$/.exec(local);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1, 7).map((x) => Number(x ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const ms = Number((m[7] ?? '0').padEnd(3, '0'));
  const wall = wallMs(y, mo, d, h, mi, s, ms);
  const back = new Date(wall);
  if (
    y < 1 ||
    back.getUTCFullYear() !== y ||
    back.getUTCMonth() !== mo - 1 ||
    back.getUTCDate() !== d ||
    h > 23 ||
    mi > 59 ||
    s > 59
  )
    return undefined;
  const first = zoneOffsetMinutes(wall, zone);
  let t = wall - first * 60_000;
  const second = zoneOffsetMinutes(t, zone);
  if (second !== first) t = wall - second * 60_000;
  return new Date(t).toISOString();
}

/**
 * What a date-time picker in `zone` shows for a conf value: the wall time there of the instant an
 * ISO text with a zone names (2024-03-01T06:00:00Z in Asia/Kolkata: 2024-03-01T11:30:00); a text
 * without a zone as it is; '' for anything else (the field's error says why).
 */
export function isoToLocal(text: string, zone: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)([Zz]|[+-]\d{2}:?\d{2})?$/.exec(
    text.trim(),
  );
  if (!m) return '';
  if (!m[3]) return localToIso(`${m[1]}T${m[2]}`, 'UTC') ? `${m[1]}T${m[2]}` : '';
  const t = Date.parse(`${m[1]}T${m[2]}${m[3].toUpperCase().replace(/^([+-]\d{2})(\d{2})$/, '$1:$2')}`);
  if (Number.isNaN(t)) return '';
  const w = new Date(t + zoneOffsetMinutes(t, zone) * 60_000);
  const base = `${pad(w.getUTCFullYear(), 4)}-${pad(w.getUTCMonth() + 1)}-${pad(w.getUTCDate())}T${pad(w.getUTCHours())}:${pad(w.getUTCMinutes())}:${pad(w.getUTCSeconds())}`;
  return w.getUTCMilliseconds() ? `${base}.${pad(w.getUTCMilliseconds(), 3)}` : base;
}

/** The `<input>` type of a picker field. */
export function pickerType(kind: FieldKind): 'date' | 'datetime-local' | 'time' | undefined {
  return kind === 'date'
    ? 'date'
    : kind === 'datetime'
      ? 'datetime-local'
      : kind === 'time'
        ? 'time'
        : undefined;
}

/** What a picker field shows for its raw value (the conf's string): '' when the picker cannot show it. */
export function pickerValue(field: FormField, raw: RawValue | undefined, zone: string): string {
  const text = typeof raw === 'string' ? raw.trim() : '';
  switch (field.kind) {
    case 'date':
      // What the runtime accepts (a day that exists): the browser would blank anything else anyway.
      return paramProblem(text, { format: 'date' }) === undefined ? text : '';
    case 'time': {
      // The "%H:%M:%S" check takes one-digit parts (9:5:3); the picker needs two.
      const m = /^(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?$/.exec(text);
      if (!m || Number(m[1]) > 23 || Number(m[2]) > 59 || Number(m[3] ?? 0) > 59) return '';
      return `${pad(Number(m[1]))}:${pad(Number(m[2]))}${m[3] === undefined ? '' : `:${pad(Number(m[3]))}`}`;
    }
    case 'datetime':
      return isoToLocal(text, zone);
    default:
      return text;
  }
}

/**
 * A picker's value as the field's raw value, as Airflow's FieldDateTime.tsx turns it into the conf:
 * a date as it is (2024-03-01); a time padded to seconds (19:30 → 19:30:00, what the "%H:%M:%S"
 * check needs); a date and time read in `zone` and sent as ISO UTC (2024-03-01T06:00:00.000Z).
 */
export function fromPicker(field: FormField, value: string, zone: string): string {
  if (value === '') return '';
  switch (field.kind) {
    case 'time':
      return /^\d{2}:\d{2}$/.test(value) ? `${value}:00` : value;
    case 'datetime':
      return localToIso(value, zone) ?? value;
    default:
      return value;
  }
}

/** A recent configuration's label in the dropdown: when, and the conf in short. */
export function recentLabel(r: { conf: Readonly<Record<string, unknown>>; at: string }): string {
  const c = JSON.stringify(r.conf);
  return `${r.at.slice(0, 19).replace('T', ' ')} · ${c.length > 80 ? `${c.slice(0, 79)}…` : c}`;
}

/** The recent configurations after a trigger with `conf`: newest first, no duplicates, at most `max`. */
export function pushRecent<R extends { conf: Readonly<Record<string, unknown>> }>(
  list: readonly R[],
  entry: R,
  max = 5,
): R[] {
  const key = JSON.stringify(entry.conf);
  return [entry, ...list.filter((r) => JSON.stringify(r.conf) !== key)].slice(0, max);
}
