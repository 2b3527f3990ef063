/**
 * The trigger form's model (Airflow 3's "Trigger DAG" form): a DAG's params become
 * fields (kind from the param's type and enum, default filled, description shown),
 * the fields' texts become the run's conf, and every message comes from the
 * runtime's own checks (`paramProblem` for a field, `validateRunParams` for the
 * whole conf), so the form refuses exactly what the runtime would refuse, in the
 * same words. No DOM, no Node, no vscode: the webview bundle and the tests import it.
 */
import { paramProblem, validateRunParams } from '../../runtime/dag/params.ts';
import type { ParamSchema, ParamSpec, ParamType } from '../../runtime/dag/params.ts';
import type { DagParamInfo } from '../runtime.ts';

export type FieldKind = 'string' | 'integer' | 'number' | 'boolean' | 'enum' | 'json';

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
 * default's type; an enum of null, string, number or integer is a dropdown.
 */
function kindOf(p: DagParamInfo): FieldKind {
  const schema = p.schema ?? {};
  const types = typesOf(schema).filter((t) => t !== 'null');
  if (types.length > 1 && schema.enum === undefined) return 'json';
  const t: string =
    types[0] ?? (Array.isArray(p.default) ? 'array' : p.default === null ? 'null' : typeof p.default);
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
      return typeof v === 'string' ? v : JSON.stringify(v);
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

/** The logical date typed: empty (the runtime uses now), or a date like 2024-01-31 or 2024-01-31T06:00:00Z as ISO UTC. */
export function parseLogicalDate(
  text: string,
): { ok: true; iso: string | undefined } | { ok: false; error: string } {
  const t = text.trim();
  if (t === '') return { ok: true, iso: undefined };
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(t))
    return { ok: false, error: `"${t}" is not a date like 2024-01-31 or 2024-01-31T06:00:00Z` };
  const iso =
    t.length === 10
      ? `${t}T00:00:00Z`
      : /Z|[+-]\d{2}:?\d{2}$/.test(t)
        ? t.replace(' ', 'T')
        : `${t.replace(' ', 'T')}Z`;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return { ok: false, error: `"${t}" is not a valid date` };
  return { ok: true, iso: d.toISOString() };
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
