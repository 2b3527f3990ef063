/**
 * The request/response half of a panel's message protocol, webview side: numbered requests posted to the
 * host, each settled by the host's `response` message, whose result is checked against the method's
 * expected shape before anyone sees it. One copy for every panel (src/protocol/webviews/<panel>.ts
 * defines the methods and the checks).
 */

/** A panel's methods: what each takes and answers (an interface of the panel's protocol). */
export type MethodTable<T> = { [K in keyof T]: { params: unknown; result: unknown } };

/** A `response` message from the host, as the panel's protocol parsed it. */
export type ResponseMessage = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/** A result checked for a method: accepted (maybe normalised) or refused with a reason. */
export type Checked = { ok: true; value: unknown } | { ok: false; error: string };

export interface Requester<T extends MethodTable<T>> {
  request<M extends keyof T & string>(method: M, params: T[M]['params']): Promise<T[M]['result']>;
  /** Settles the request a response answers (a response to no pending request is logged and dropped). */
  settle(m: ResponseMessage): void;
}

/**
 * `panel` names the panel in console messages; `post` sends a request message; `check` validates a
 * method's result.
 */
export function requester<T extends MethodTable<T>>(
  panel: string,
  post: (m: { type: 'request'; id: number; method: keyof T & string; params: unknown }) => void,
  check: (method: keyof T & string, result: unknown) => Checked,
): Requester<T> {
  let nextId = 1;
  const pending = new Map<number, { method: keyof T & string; resolve: (r: unknown) => void; reject: (e: Error) => void }>();
  return {
    request(method, params) {
      const id = nextId++;
      return new Promise((resolve, reject) => {
        pending.set(id, { method, resolve: resolve as (r: unknown) => void, reject });
        post({ type: 'request', id, method, params });
      });
    },
    settle(m) {
      const p = pending.get(m.id);
      if (!p) {
        console.error(`Hangar ${panel}: a response to unknown request ${m.id}`);
        return;
      }
      pending.delete(m.id);
      if (!m.ok) {
        p.reject(new Error(m.error));
        return;
      }
      const r = check(p.method, m.result);
      if (!r.ok) {
        console.error(`Hangar ${panel}: rejected a malformed response: ${r.error}`);
        p.reject(new Error(r.error));
        return;
      }
      p.resolve(r.value);
    },
  };
}

/** Adapts a check that answers an error text (or undefined when fine) to a {@link Checked}. */
export function byErrorText<M>(check: (method: M, result: unknown) => string | undefined): (method: M, result: unknown) => Checked {
  return (method, result) => {
    const bad = check(method, result);
    return bad === undefined ? { ok: true, value: result } : { ok: false, error: bad };
  };
}
