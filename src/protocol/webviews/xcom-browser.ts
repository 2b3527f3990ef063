/**
 * The XCom browser's message protocol between its webview (webview/xcom-browser)
 * and the extension host (src/vscode/panels/xcom-browser.ts):
 *
 *   → webview to host: `ready`, then `request`s (one per method below, with an id)
 *   ← host to webview: `init` (the filter to start with), a `response` per request, `refresh`
 *
 * Every message received is checked by the parse functions here (both sides
 * use them); a malformed one is rejected with a reason and logged.
 * No DOM, no Node, no vscode: the webview bundle and the host import this file.
 */
import type { PathStep, XComFacets, XComFilter, XComLoc, XComPage, XComRawResult, XComReadResult } from './xcom-values.ts';
import { int, Invalid, isObj, MAX_TEXT, need, requestEnvelope, responseMessage, text, wrap } from './validate.ts';
import type { Parsed } from './validate.ts';

export type { Parsed } from './validate.ts';

export type { PathStep, XComFacets, XComFilter, XComLoc, XComPage, XComRawResult, XComReadResult, XComRow, ValueNode, ChildNode, ContainerNode, DecodeFailure } from './xcom-values.ts';

/** Rows per page of the table. */
export const PAGE_SIZE = 100;

/** The requests the webview makes: params and result of each. */
export interface XComBrowserMethods {
  /** One page of the table. */
  query: { params: { filter: XComFilter; offset: number; limit: number }; result: XComPage };
  /** Choices of the DAG / run / task filters. */
  facets: { params: { dagId?: string; runId?: string }; result: XComFacets };
  /** Decode (a page of) one value; `reveal` sends a sensitive one. */
  read: { params: { loc: XComLoc; path: PathStep[]; offset: number; reveal: boolean }; result: XComReadResult };
  /** The raw envelope and integrity status. */
  readRaw: { params: { loc: XComLoc }; result: XComRawResult };
  /** Copy the whole value (as JSON) to the clipboard. */
  copy: { params: { loc: XComLoc; reveal: boolean }; result: { bytes: number } };
  /** Open the whole value as a read-only JSON document (`hangar-xcom:`; a sensitive one only if `reveal`). */
  openDocument: { params: { loc: XComLoc; reveal: boolean }; result: { bytes: number } };
  /** Save the whole value as JSON to a file the user picks; `path` is null when they cancel. */
  saveFile: { params: { loc: XComLoc; reveal: boolean }; result: { bytes: number; path: string | null } };
  /** Delete one XCom (after the host asks the user). */
  delete: { params: { loc: XComLoc }; result: { rows: number } };
  /** Delete every XCom of a run (after the host asks the user). */
  clearRun: { params: { dagId: string; runId: string }; result: { rows: number } };
  /** Remove orphaned offloaded files (after the host asks the user). */
  sweep: { params: Record<string, never>; result: { removed: number; bytesFreed: number } };
  /** Run "Hangar: Set Encryption Key"; answers whether a key is now set. */
  setKey: { params: Record<string, never>; result: { keySet: boolean } };
}
export type XComBrowserMethod = keyof XComBrowserMethods;
export const METHODS: readonly XComBrowserMethod[] = ['query', 'facets', 'read', 'readRaw', 'copy', 'openDocument', 'saveFile', 'delete', 'clearRun', 'sweep', 'setKey'];

export type RequestMessage = { [M in XComBrowserMethod]: { type: 'request'; id: number; method: M; params: XComBrowserMethods[M]['params'] } }[XComBrowserMethod];

/** → webview to host. */
export type WebviewMessage = { type: 'ready' } | RequestMessage;

/** ← host to webview. */
export type HostMessage =
  | { type: 'init'; filter: XComFilter | null }
  | { type: 'response'; id: number; ok: true; result: unknown }
  | { type: 'response'; id: number; ok: false; error: string }
  /** Stored XComs changed (a run finished, keys changed): re-query and re-read. */
  | { type: 'refresh'; reason: string };

/** Checks an XCom location; throws Invalid. */
function loc(v: unknown, where: string): XComLoc {
  need(isObj(v), `${where}: "loc" must be an object`);
  need(text(v.dagId) && text(v.runId) && text(v.taskId) && text(v.key), `${where}: "loc" needs non-empty dagId, runId, taskId and key`);
  need(int(v.mapIndex, -1), `${where}: "loc.mapIndex" must be a whole number ≥ -1`);
  return { dagId: v.dagId, runId: v.runId, taskId: v.taskId, mapIndex: v.mapIndex, key: v.key };
}

/** Checks a filter: every field optional; empty strings are dropped. */
export function parseFilter(v: unknown, where = 'filter'): XComFilter {
  need(isObj(v), `${where} must be an object`);
  const f: XComFilter = {};
  for (const k of ['dagId', 'runId', 'taskId', 'key', 'keyPrefix'] as const) {
    const x = v[k];
    if (x === undefined || x === '') continue;
    need(text(x), `${where}.${k} must be a string of at most ${MAX_TEXT} characters`);
    f[k] = x;
  }
  if (v.mapIndex !== undefined) {
    need(int(v.mapIndex, -1), `${where}.mapIndex must be a whole number ≥ -1`);
    f.mapIndex = v.mapIndex;
  }
  for (const k of Object.keys(v)) need(['dagId', 'runId', 'taskId', 'key', 'keyPrefix', 'mapIndex'].includes(k), `${where} has an unknown field "${k}"`);
  return f;
}

function path(v: unknown): PathStep[] {
  need(Array.isArray(v) && v.length <= 64, 'read: "path" must be an array of at most 64 steps');
  for (const s of v) need((typeof s === 'string' && s.length <= MAX_TEXT) || int(s, 0), 'read: a path step must be a key or an index');
  return v as PathStep[];
}

function empty(v: unknown, m: string): Record<string, never> {
  need(isObj(v) && Object.keys(v).length === 0, `${m}: params must be {}`);
  return {};
}

function params(method: XComBrowserMethod, p: unknown): RequestMessage['params'] {
  need(isObj(p), `${method}: params must be an object`);
  switch (method) {
    case 'query':
      need(int(p.offset, 0) && int(p.limit, 1, 1000), 'query: "offset" must be ≥ 0 and "limit" 1 to 1000');
      return { filter: parseFilter(p.filter, 'query: filter'), offset: p.offset, limit: p.limit };
    case 'facets':
      need(p.dagId === undefined || text(p.dagId), 'facets: "dagId" must be a string');
      need(p.runId === undefined || text(p.runId), 'facets: "runId" must be a string');
      return { ...(p.dagId ? { dagId: p.dagId } : {}), ...(p.runId ? { runId: p.runId } : {}) };
    case 'read':
      need(int(p.offset, 0) && typeof p.reveal === 'boolean', 'read: "offset" must be ≥ 0 and "reveal" true or false');
      return { loc: loc(p.loc, method), path: path(p.path), offset: p.offset, reveal: p.reveal };
    case 'copy':
    case 'openDocument':
    case 'saveFile':
      need(typeof p.reveal === 'boolean', `${method}: "reveal" must be true or false`);
      return { loc: loc(p.loc, method), reveal: p.reveal };
    case 'readRaw':
    case 'delete':
      return { loc: loc(p.loc, method) };
    case 'clearRun':
      need(text(p.dagId) && text(p.runId), 'clearRun: "dagId" and "runId" must be non-empty strings');
      return { dagId: p.dagId, runId: p.runId };
    case 'sweep':
    case 'setKey':
      return empty(p, method);
  }
}

/** Host side: checks a message from the webview. */
export function parseWebviewMessage(m: unknown): Parsed<WebviewMessage> {
  return wrap(() => requestEnvelope(m, METHODS, params) as WebviewMessage);
}

/** Webview side: checks a message from the host. */
export function parseHostMessage(m: unknown): Parsed<HostMessage> {
  try {
    need(isObj(m), 'a message must be an object');
    switch (m.type) {
      case 'init':
        return { ok: true, value: { type: 'init', filter: m.filter === null ? null : parseFilter(m.filter, 'init: filter') } };
      case 'refresh':
        need(typeof m.reason === 'string', 'refresh: "reason" must be a string');
        return { ok: true, value: { type: 'refresh', reason: m.reason } };
      case 'response':
        return { ok: true, value: responseMessage(m) };
      default:
        throw new Invalid(`unknown message type ${JSON.stringify(m.type)}`);
    }
  } catch (err) {
    if (err instanceof Invalid) return { ok: false, error: err.message };
    throw err;
  }
}

/** Webview side: checks the shape of a result before it is shown (a malformed one is an error, not a crash). */
export function checkResult(method: XComBrowserMethod, r: unknown): string | undefined {
  if (!isObj(r)) return `${method}: the result is not an object`;
  switch (method) {
    case 'query':
      return int(r.total, 0) && int(r.offset, 0) && Array.isArray(r.rows) && r.rows.every((x) => isObj(x) && typeof x.key === 'string' && Array.isArray(x.chain))
        ? undefined
        : 'query: the result is not a page of rows';
    case 'facets':
      return Array.isArray(r.dagIds) && Array.isArray(r.runIds) && Array.isArray(r.taskIds) ? undefined : 'facets: the result lacks dagIds, runIds or taskIds';
    case 'read':
      if (r.ok === false) return typeof r.reason === 'string' && typeof r.message === 'string' ? undefined : 'read: a failure needs a reason and a message';
      if (r.ok !== true) return 'read: the result has no "ok"';
      return r.masked === true || (isObj(r.node) && typeof r.node.t === 'string' && Array.isArray(r.path)) ? undefined : 'read: the result has no value node';
    case 'readRaw':
      return isObj(r.integrity) && typeof r.integrity.status === 'string' && Array.isArray(r.chain) ? undefined : 'readRaw: the result has no integrity status';
    case 'copy':
    case 'openDocument':
      return int(r.bytes, 0) ? undefined : `${method}: the result has no byte count`;
    case 'saveFile':
      return int(r.bytes, 0) && (r.path === null || typeof r.path === 'string') ? undefined : 'saveFile: the result needs a byte count and a path or null';
    default:
      return undefined;
  }
}
