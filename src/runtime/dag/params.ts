/**
 * Airflow's Param: a DAG param with a default and JSON-Schema rules (type, enum, bounds,
 * lengths, pattern, the date formats), checked when the DAG is defined (the default) and when a run is
 * triggered (the run's `--conf` over the defaults), before any task runs.
 *
 * `param()` returns its value's type to TypeScript, so `ctx.params.n` is a number; at run
 * time it is a plain-data marker the DAG turns into a default value and a rule set.
 */

export type ParamType = 'string' | 'number' | 'integer' | 'boolean' | 'array' | 'object' | 'null';

/** The string formats Hangar checks (and the trigger form shows as a date, date-and-time or time picker). */
export type ParamFormat = 'date' | 'date-time' | 'time';

/** The JSON-Schema keywords Hangar checks (Airflow's Param takes any JSON Schema). */
export interface ParamSchema {
  readonly type?: ParamType | readonly ParamType[];
  readonly enum?: readonly unknown[];
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
  readonly minLength?: number;
  readonly maxLength?: number;
  readonly pattern?: string;
  /** A string's format, checked as Airflow's Param checks it (jsonschema's FormatChecker). */
  readonly format?: ParamFormat;
  readonly minItems?: number;
  readonly maxItems?: number;
  readonly description?: string;
  readonly title?: string;
}

/** A param's rules as plain data (what the DAG keeps, and what crosses process boundaries). */
export interface ParamSpec {
  /** Absent: the param has no default and must be given in the run's conf. */
  readonly hasDefault: boolean;
  readonly schema: ParamSchema;
}

const MARK = '__hangarParam';

interface ParamMarker {
  readonly [MARK]: true;
  readonly value: unknown;
  readonly hasDefault: boolean;
  readonly schema: ParamSchema;
}

/** Airflow's Param(default, type=…, minimum=…): a DAG param with rules. Omit the default (undefined) to require it. */
export function param<T>(value: T, schema: ParamSchema = {}): T {
  const marker: ParamMarker = { [MARK]: true, value, hasDefault: value !== undefined, schema };
  return marker as unknown as T;
}

export function isParam(v: unknown): v is ParamMarker {
  return !!v && typeof v === 'object' && (v as Record<string, unknown>)[MARK] === true;
}

const KNOWN = new Set(['type', 'enum', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength', 'pattern', 'format', 'minItems', 'maxItems', 'description', 'title']);
const TYPES = new Set(['string', 'number', 'integer', 'boolean', 'array', 'object', 'null']);

/** Checks a schema itself; returns a problem or undefined. */
export function schemaProblem(schema: ParamSchema): string | undefined {
  if (!schema || typeof schema !== 'object') return 'the rules must be an object';
  for (const k of Object.keys(schema)) if (!KNOWN.has(k)) return `unknown rule "${k}" (known: ${[...KNOWN].join(', ')})`;
  const types = schema.type === undefined ? [] : ([] as unknown[]).concat(schema.type);
  for (const t of types) if (!TYPES.has(t as string)) return `unknown type ${JSON.stringify(t)}`;
  if (schema.pattern !== undefined) {
    try {
      new RegExp(schema.pattern, 'u');
    } catch (err) {
      return `pattern ${JSON.stringify(schema.pattern)} is not a regular expression: ${(err as Error).message}`;
    }
  }
  if (schema.format !== undefined && !Object.hasOwn(FORMATS, schema.format))
    return `unknown format ${JSON.stringify(schema.format)} (known: ${Object.keys(FORMATS).join(', ')})`;
  return undefined;
}

const isLeap = (y: number): boolean => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
const daysIn = (y: number, m: number): number => (m === 2 ? (isLeap(y) ? 29 : 28) : [4, 6, 9, 11].includes(m) ? 30 : 31);
/** A real calendar day: year 1 to 9999, month 1 to 12, the day within the month (Python's date rules). */
const realDay = (y: number, m: number, d: number): boolean => y >= 1 && m >= 1 && m <= 12 && d >= 1 && d <= daysIn(y, m);

/**
 * The format checks of Airflow's Param, which validates with `jsonschema.FormatChecker()`
 * (task-sdk/src/airflow/sdk/definitions/param.py); the checkers are jsonschema's (jsonschema/_format.py):
 * - `date`: `^\d{4}-\d{2}-\d{2}$` and `datetime.date.fromisoformat` (a real day, year ≥ 1);
 * - `date-time`: rfc3339_validator on the upper-cased text: seconds and a zone (`Z` or ±HH:MM) required,
 *   fractions allowed, a real day, year ≠ 0 (Airflow checks it when rfc3339-validator is installed);
 * - `time`: the class-wide checker is the draft-3 one, `datetime.strptime(v, "%H:%M:%S")`: hours,
 *   minutes and seconds of one or two digits, no zone, no fraction (hence the form pads 19:30 to 19:30:00).
 * Non-strings pass (the `type` rule is what refuses them).
 */
const FORMATS: Readonly<Record<ParamFormat, { ok: (s: string) => boolean; expected: string }>> = {
  date: {
    ok: (s) => {
      const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
      return !!m && realDay(Number(m[1]), Number(m[2]), Number(m[3]));
    },
    expected: 'a day as YYYY-MM-DD, e.g. 2024-03-01',
  },
  'date-time': {
    ok: (s) => {
      const m = /^(\d{4})-(0[1-9]|1[0-2])-(\d{2})T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/.exec(s.toUpperCase());
      return !!m && realDay(Number(m[1]), Number(m[2]), Number(m[3]));
    },
    expected: 'RFC 3339 with seconds and a time zone, e.g. 2024-03-01T06:00:00Z',
  },
  time: {
    ok: (s) => /^(?:2[0-3]|[01]\d|\d):(?:[0-5]\d|\d):(?:[0-5]\d|\d)$/.test(s),
    expected: 'HH:MM:SS, e.g. 19:30:00',
  },
};

function typeOf(v: unknown): ParamType {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v as ParamType;
}

/** Why a value breaks a param's rules (Airflow's ParamValidationError), or undefined. */
export function paramProblem(value: unknown, schema: ParamSchema): string | undefined {
  const show = (v: unknown) => JSON.stringify(v);
  if (schema.type !== undefined) {
    const types = ([] as ParamType[]).concat(schema.type as ParamType | ParamType[]);
    const t = typeOf(value);
    const ok = types.some((want) => want === t || (want === 'number' && t === 'integer'));
    if (!ok) return `${show(value)} is not of type ${types.join(' or ')}`;
  }
  if (schema.enum !== undefined && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    return `${show(value)} is not one of ${schema.enum.map(show).join(', ')}`;
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) return `${value} is less than the minimum of ${schema.minimum}`;
    if (schema.maximum !== undefined && value > schema.maximum) return `${value} is greater than the maximum of ${schema.maximum}`;
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum) return `${value} is less than or equal to the exclusive minimum of ${schema.exclusiveMinimum}`;
    if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum) return `${value} is greater than or equal to the exclusive maximum of ${schema.exclusiveMaximum}`;
  }
  if (typeof value === 'string') {
    const n = [...value].length;
    if (schema.minLength !== undefined && n < schema.minLength) return `${show(value)} is shorter than ${schema.minLength} characters`;
    if (schema.maxLength !== undefined && n > schema.maxLength) return `${show(value)} is longer than ${schema.maxLength} characters`;
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) return `${show(value)} does not match the pattern ${show(schema.pattern)}`;
    const format = schema.format !== undefined && Object.hasOwn(FORMATS, schema.format) ? FORMATS[schema.format] : undefined;
    if (format && !format.ok(value)) return `${show(value)} is not a ${show(schema.format)} (${format.expected})`;
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems) return `has ${value.length} items, fewer than ${schema.minItems}`;
    if (schema.maxItems !== undefined && value.length > schema.maxItems) return `has ${value.length} items, more than ${schema.maxItems}`;
  }
  return undefined;
}

/**
 * Checks a run's params (the DAG's defaults with the run's conf over them) against the
 * DAG's param rules; throws naming the DAG, the param and the rule it breaks.
 */
export function validateRunParams(dagId: string, specs: Readonly<Record<string, ParamSpec>>, defaults: Readonly<Record<string, unknown>>, conf: Readonly<Record<string, unknown>>): void {
  for (const [name, spec] of Object.entries(specs)) {
    const given = Object.hasOwn(conf, name);
    if (!given && !spec.hasDefault) throw new Error(`DAG "${dagId}": param "${name}" has no default and was not given in the run's conf`);
    const value = given ? conf[name] : defaults[name];
    const why = paramProblem(value, spec.schema);
    if (why) throw new Error(`DAG "${dagId}": param "${name}" ${given ? '(from the run\'s conf) ' : ''}${why}${spec.schema.description ? ` — ${spec.schema.description}` : ''}`);
  }
}
