/**
 * Validation of JSON-RPC params: every request's params are checked before the
 * runtime sees them, and a bad one is answered with an error naming the method
 * and the field that was wrong.
 */

/** A request's params were not what the protocol says; answered with JSON-RPC's invalid-params code. */
export class InvalidParamsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidParamsError';
  }
}

export type Params = Record<string, unknown>;

/** The params object of `method` (undefined or null count as `{}`). */
export function paramsOf(method: string, value: unknown): Params {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new InvalidParamsError(`${method}: params must be an object, not ${describe(value)}`);
  }
  return value as Params;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  return `${typeof v} ${typeof v === 'object' ? '' : String(v)}`.trim();
}

export function str(method: string, p: Params, name: string): string {
  const v = p[name];
  if (typeof v !== 'string' || v.length === 0) {
    throw new InvalidParamsError(`${method}: "${name}" must be a non-empty string, not ${v === undefined ? 'missing' : describe(v)}`);
  }
  return v;
}

export function optStr(method: string, p: Params, name: string): string | undefined {
  return p[name] === undefined ? undefined : str(method, p, name);
}

export function optBool(method: string, p: Params, name: string): boolean | undefined {
  const v = p[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new InvalidParamsError(`${method}: "${name}" must be true or false, not ${describe(v)}`);
  return v;
}

export function optInt(method: string, p: Params, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
  const v = p[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new InvalidParamsError(`${method}: "${name}" must be a whole number from ${min} to ${max}, not ${describe(v)}`);
  }
  return v;
}

export function optDate(method: string, p: Params, name: string): Date | undefined {
  const s = optStr(method, p, name);
  if (s === undefined) return undefined;
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) throw new InvalidParamsError(`${method}: "${name}" must be an ISO date, not ${JSON.stringify(s)}`);
  return d;
}

export function date(method: string, p: Params, name: string): Date {
  const d = optDate(method, p, name);
  if (!d) throw new InvalidParamsError(`${method}: "${name}" must be an ISO date, not missing`);
  return d;
}

export function optObject(method: string, p: Params, name: string): Record<string, unknown> | undefined {
  const v = p[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new InvalidParamsError(`${method}: "${name}" must be a JSON object, not ${describe(v)}`);
  }
  return v as Record<string, unknown>;
}

export function strArray(method: string, p: Params, name: string): string[] {
  const v = p[name];
  if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== 'string' || x.length === 0)) {
    throw new InvalidParamsError(`${method}: "${name}" must be a non-empty array of task ids, not ${v === undefined ? 'missing' : describe(v)}`);
  }
  return v as string[];
}

export function oneOf<T extends string>(method: string, p: Params, name: string, allowed: readonly T[]): T {
  const v = p[name];
  if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
    throw new InvalidParamsError(`${method}: "${name}" must be one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}, not ${v === undefined ? 'missing' : describe(v)}`);
  }
  return v as T;
}
