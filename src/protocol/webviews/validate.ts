/**
 * Checks shared by the webview protocols: each panel's parser validates every
 * message with these before either side acts on it. DOM-free and Node-free, so
 * both the extension and the webview bundles import it.
 */

/** A parse result: the message, or why it was rejected. */
export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** The longest string a message field may hold (ids, keys, names). */
export const MAX_TEXT = 1024;

export function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
export function text(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= MAX_TEXT;
}
export function int(v: unknown, min: number, max = Number.MAX_SAFE_INTEGER): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max;
}

/** Thrown by `need`; parsers turn it into `{ ok: false, error }`. */
export class Invalid extends Error {}

export function need(cond: boolean, what: string): asserts cond {
  if (!cond) throw new Invalid(what);
}

/** Runs a parser: its value, or the reason an `Invalid` gave. Other errors are bugs and propagate. */
export function wrap<T>(f: () => T): Parsed<T> {
  try {
    return { ok: true, value: f() };
  } catch (err) {
    if (err instanceof Invalid) return { ok: false, error: err.message };
    throw err;
  }
}
