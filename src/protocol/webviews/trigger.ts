/**
 * The trigger form's message protocol between its webview (webview/trigger) and the
 * extension host (src/vscode/panels/trigger.ts).
 *
 *   → webview to host: `ready`, then `request`s (one per method below, with an id)
 *   ← host to webview: `init` (the DAG, its params and recent configurations; `fresh`
 *     when opened anew, so the form starts from the defaults rather than what it kept),
 *     a `response` per request, `recent` (the list after a trigger)
 *
 * Every message received is checked by the parse functions here (both sides use them);
 * a malformed one is rejected with a reason and logged. No DOM, no Node, no vscode.
 */
import { schemaProblem } from '../../runtime/dag/params.ts';
import type { ParamSchema } from '../../runtime/dag/params.ts';
import type { DagParamInfo } from '../runtime.ts';
import { Invalid, isObj, MAX_TEXT, need, requestEnvelope, responseMessage, text, wrap } from './validate.ts';
import type { Parsed } from './validate.ts';

export type { Parsed } from './validate.ts';
export type { DagParamInfo } from '../runtime.ts';

/** The largest conf (as JSON text) the form sends. */
export const MAX_CONF_CHARS = 1_000_000;
/** How many recent configurations are kept per DAG. */
export const MAX_RECENT = 5;
const MAX_PARAMS = 500;

export interface TriggerDag {
  dagId: string;
  description: string | null;
  params: DagParamInfo[];
}

export interface RecentConf {
  conf: Record<string, unknown>;
  /** When it was triggered (ISO). */
  at: string;
}

export interface TriggerPanelMethods {
  /** Trigger a run of the DAG with this conf (and logical date; absent: now). */
  trigger: {
    params: { dagId: string; conf: Record<string, unknown>; logicalDate?: string };
    result: { runId: string; logicalDate: string };
  };
}
export type TriggerPanelMethod = keyof TriggerPanelMethods;
export const METHODS: readonly TriggerPanelMethod[] = ['trigger'];

export type RequestMessage = {
  [M in TriggerPanelMethod]: {
    type: 'request';
    id: number;
    method: M;
    params: TriggerPanelMethods[M]['params'];
  };
}[TriggerPanelMethod];

/** → webview to host. */
export type WebviewMessage = { type: 'ready' } | RequestMessage;

/** ← host to webview. */
export type HostMessage =
  | { type: 'init'; dag: TriggerDag; recent: RecentConf[]; fresh: boolean }
  | { type: 'recent'; dagId: string; recent: RecentConf[] }
  | { type: 'response'; id: number; ok: true; result: unknown }
  | { type: 'response'; id: number; ok: false; error: string };

function onlyFields(v: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(v)) need(allowed.includes(k), `${where} has an unknown field "${k}"`);
}

/** A run's conf: a JSON object of bounded size. */
export function parseConf(v: unknown, where: string): Record<string, unknown> {
  need(isObj(v), `${where} must be a JSON object`);
  let json: string;
  try {
    json = JSON.stringify(v);
  } catch {
    throw new Invalid(`${where} is not JSON`);
  }
  need(json.length <= MAX_CONF_CHARS, `${where} is longer than ${MAX_CONF_CHARS} characters as JSON`);
  return v;
}

function parseParam(v: unknown, where: string): DagParamInfo {
  need(isObj(v), `${where} must be an object`);
  onlyFields(v, ['name', 'default', 'schema'], where);
  need(text(v.name), `${where}.name must be a non-empty string of at most ${MAX_TEXT} characters`);
  const p: DagParamInfo = { name: v.name };
  if (Object.hasOwn(v, 'default')) p.default = v.default;
  if (v.schema !== undefined) {
    need(isObj(v.schema), `${where}.schema must be an object`);
    const bad = schemaProblem(v.schema as ParamSchema);
    need(bad === undefined, `${where}.schema: ${bad}`);
    p.schema = v.schema as ParamSchema;
  }
  return p;
}

export function parseDag(v: unknown, where = 'dag'): TriggerDag {
  need(isObj(v), `${where} must be an object`);
  onlyFields(v, ['dagId', 'description', 'params'], where);
  need(text(v.dagId), `${where}.dagId must be a non-empty string`);
  need(
    v.description === null || typeof v.description === 'string',
    `${where}.description must be a string or null`,
  );
  need(
    Array.isArray(v.params) && v.params.length <= MAX_PARAMS,
    `${where}.params must be a list of at most ${MAX_PARAMS} params`,
  );
  const params = v.params.map((p, i) => parseParam(p, `${where}.params[${i}]`));
  need(new Set(params.map((p) => p.name)).size === params.length, `${where}.params has a name twice`);
  return { dagId: v.dagId, description: v.description, params };
}

export function parseRecent(v: unknown, where = 'recent'): RecentConf[] {
  need(
    Array.isArray(v) && v.length <= MAX_RECENT,
    `${where} must be a list of at most ${MAX_RECENT} configurations`,
  );
  return v.map((r, i) => {
    need(isObj(r), `${where}[${i}] must be an object`);
    onlyFields(r, ['conf', 'at'], `${where}[${i}]`);
    need(
      typeof r.at === 'string' && !Number.isNaN(Date.parse(r.at)),
      `${where}[${i}].at must be an ISO date`,
    );
    return { conf: parseConf(r.conf, `${where}[${i}].conf`), at: r.at };
  });
}

/** Host side: checks the recent configurations kept in the workspace state. */
export function readRecent(v: unknown): Parsed<RecentConf[]> {
  return wrap(() => parseRecent(v));
}

function params(method: TriggerPanelMethod, p: unknown): RequestMessage['params'] {
  need(isObj(p), `${method}: params must be an object`);
  need(text(p.dagId), `${method}: needs a non-empty dagId`);
  onlyFields(p, ['dagId', 'conf', 'logicalDate'], `${method}: params`);
  const out: TriggerPanelMethods['trigger']['params'] = {
    dagId: p.dagId,
    conf: parseConf(p.conf, `${method}: conf`),
  };
  if (p.logicalDate !== undefined) {
    need(
      typeof p.logicalDate === 'string' && !Number.isNaN(Date.parse(p.logicalDate)),
      `${method}: logicalDate must be an ISO date`,
    );
    out.logicalDate = p.logicalDate;
  }
  return out;
}

/** Host side: checks a message from the webview. */
export function parseWebviewMessage(m: unknown): Parsed<WebviewMessage> {
  return wrap(() => requestEnvelope(m, METHODS, params) as WebviewMessage);
}

/** Webview side: checks a message from the host. */
export function parseHostMessage(m: unknown): Parsed<HostMessage> {
  return wrap((): HostMessage => {
    need(isObj(m), 'a message must be an object');
    switch (m.type) {
      case 'init':
        need(typeof m.fresh === 'boolean', 'init: "fresh" must be a boolean');
        return {
          type: 'init',
          dag: parseDag(m.dag, 'init: dag'),
          recent: parseRecent(m.recent, 'init: recent'),
          fresh: m.fresh,
        };
      case 'recent':
        need(text(m.dagId), 'recent: needs a dagId');
        return { type: 'recent', dagId: m.dagId, recent: parseRecent(m.recent, 'recent: recent') };
      case 'response':
        return responseMessage(m);
      default:
        throw new Invalid(`unknown message type ${JSON.stringify(m.type)}`);
    }
  });
}

/** Webview side: checks the shape of a result before it is shown. */
export function checkResult(method: TriggerPanelMethod, r: unknown): string | undefined {
  switch (method) {
    case 'trigger':
      return isObj(r) && text(r.runId) && typeof r.logicalDate === 'string'
        ? undefined
        : 'trigger: the result lacks runId and logicalDate';
  }
}
