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

/** The webview's side of a request/response panel: `ready`, or a request. */
export type RequestEnvelope<M extends string> = { type: 'ready' } | { type: 'request'; id: number; method: M; params: unknown };

/**
 * Checks a webview→host message of a request/response panel: `ready`, or a request with a whole-number
 * id naming one of `methods`, whose params `params` checks (throwing `Invalid`). Call inside `wrap`.
 */
export function requestEnvelope<M extends string>(m: unknown, methods: readonly M[], params: (method: M, p: unknown) => unknown): RequestEnvelope<M> {
  need(isObj(m), 'a message must be an object');
  if (m.type === 'ready') return { type: 'ready' };
  need(m.type === 'request', `unknown message type ${JSON.stringify(m.type)}`);
  need(int(m.id, 0), 'a request needs a whole-number id');
  need(typeof m.method === 'string' && (methods as readonly string[]).includes(m.method), `unknown method ${JSON.stringify(m.method)}`);
  const method = m.method as M;
  return { type: 'request', id: m.id, method, params: params(method, m.params) };
}

/** Checks the host's answer to a request (a message whose `type` is `response`). Call inside `wrap`. */
export function responseMessage(m: Record<string, unknown>): { type: 'response'; id: number; ok: true; result: unknown } | { type: 'response'; id: number; ok: false; error: string } {
  need(int(m.id, 0), 'response: "id" must be a whole number');
  if (m.ok === true) return { type: 'response', id: m.id, ok: true, result: m.result };
  need(m.ok === false && typeof m.error === 'string', 'response: needs ok: true and a result, or ok: false and an error');
  return { type: 'response', id: m.id, ok: false, error: m.error };
}
