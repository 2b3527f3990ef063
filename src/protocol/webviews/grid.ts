/**
 * The grid panel's message protocol between its webview (webview/grid) and
 * the extension host (src/vscode/panels/grid.ts):
 *
 *   → webview to host: `ready`, then `request`s (one per method below, with an id)
 *   ← host to webview: `init` (the DAG, and maybe the cell, to show), a
 *     `response` per request, `changed` (a task or run of the shown DAG changed
 *     state: re-read the grid), `logLine` (a line of the log the webview last
 *     asked for, while that try runs)
 *
 * Every message received is checked by the parse functions here (both sides
 * use them); a malformed one is rejected with a reason and logged.
 * No DOM, no Node, no vscode: the webview bundle and the host import this file.
 */
import type { TaskLogResult, TryInfo } from '../runtime.ts';
import type { GridResult } from './grid-values.ts';
import { gridProblem } from './grid-values.ts';
import { int, Invalid, isObj, MAX_TEXT, need, requestEnvelope, responseMessage, text, wrap } from './validate.ts';
import type { Parsed } from './validate.ts';

export type { Parsed } from './validate.ts';
export type * from './grid-values.ts';
export { GRID_STATES, NO_TI } from './grid-values.ts';

/** One task instance: a cell of the grid. */
export interface TaskKey {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
}

/** What the panel opens on. */
export interface GridTarget {
  dagId: string;
  /** A cell to select (its detail opens). */
  cell?: TaskKey;
  /** Runs per page for a new panel (the `hangar.grid.runs` setting). */
  limit?: number;
}

export const MAX_RUNS = 1000;
export const MAX_EXPAND = 200;

/** The requests the webview makes: params and result of each. */
export interface GridPanelMethods {
  /** One page of the grid. */
  grid: { params: { dagId: string; limit: number; offset: number; expand: string[] }; result: GridResult };
  /** Loaded DAGs: the DAG picker's choices. */
  dags: { params: Record<string, never>; result: { dagIds: string[] } };
  /** Tries of a task instance. */
  tries: { params: TaskKey; result: TryInfo[] };
  /** The log of a try (default the latest); lines that follow arrive as `logLine` until another log is asked for. */
  log: { params: TaskKey & { tryNumber?: number }; result: TaskLogResult };
  /** Clear a task instance's task (with its downstream and/or upstream) and run the run again. */
  clear: { params: TaskKey & { downstream: boolean; upstream: boolean }; result: { cleared: string[] } };
  /** Mark a task instance success or failed. */
  mark: { params: TaskKey & { state: 'success' | 'failed' }; result: { marked: number } };
  /** Open the XCom browser filtered to the task instance. */
  openXComs: { params: TaskKey; result: { opened: boolean } };
  /** Open a try's log in an editor. */
  openLog: { params: TaskKey; result: { opened: boolean } };
  /** Open the Gantt chart of a run. */
  openGantt: { params: { dagId: string; runId: string }; result: { opened: boolean } };
}
export type GridPanelMethod = keyof GridPanelMethods;
export const METHODS: readonly GridPanelMethod[] = ['grid', 'dags', 'tries', 'log', 'clear', 'mark', 'openXComs', 'openLog', 'openGantt'];

export type RequestMessage = { [M in GridPanelMethod]: { type: 'request'; id: number; method: M; params: GridPanelMethods[M]['params'] } }[GridPanelMethod];

/** → webview to host. */
export type WebviewMessage = { type: 'ready' } | RequestMessage;

export interface LogLine {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  tryNumber: number;
  line: string;
}

/** ← host to webview. */
export type HostMessage =
  | { type: 'init'; target: GridTarget | null }
  | { type: 'response'; id: number; ok: true; result: unknown }
  | { type: 'response'; id: number; ok: false; error: string }
  | { type: 'changed'; dagId: string; runId: string }
  | ({ type: 'logLine' } & LogLine);

function onlyFields(v: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(v)) need(allowed.includes(k), `${where} has an unknown field "${k}"`);
}

/** Checks a task instance key; throws Invalid. */
export function parseKey(v: unknown, where: string, extra: readonly string[] = []): TaskKey {
  need(isObj(v), `${where}: params must be an object`);
  need(text(v.dagId) && text(v.runId) && text(v.taskId), `${where}: needs non-empty dagId, runId and taskId`);
  need(int(v.mapIndex, -1), `${where}: "mapIndex" must be a whole number ≥ -1`);
  onlyFields(v, ['dagId', 'runId', 'taskId', 'mapIndex', ...extra], where);
  return { dagId: v.dagId, runId: v.runId, taskId: v.taskId, mapIndex: v.mapIndex };
}

export function parseTarget(v: unknown, where = 'target'): GridTarget {
  need(isObj(v), `${where} must be an object`);
  need(text(v.dagId), `${where}.dagId must be a non-empty string of at most ${MAX_TEXT} characters`);
  onlyFields(v, ['dagId', 'cell', 'limit'], where);
  const t: GridTarget = { dagId: v.dagId };
  if (v.limit !== undefined) {
    need(int(v.limit, 1, MAX_RUNS), `${where}.limit must be a whole number from 1 to ${MAX_RUNS}`);
    t.limit = v.limit;
  }
  if (v.cell === undefined) return t;
  const cell = parseKey(v.cell, `${where}.cell`);
  need(cell.dagId === v.dagId, `${where}.cell is of another DAG`);
  return { ...t, cell };
}

function params(method: GridPanelMethod, p: unknown): RequestMessage['params'] {
  switch (method) {
    case 'grid': {
      need(isObj(p), 'grid: params must be an object');
      need(text(p.dagId), 'grid: needs a non-empty dagId');
      need(int(p.limit, 1, MAX_RUNS), `grid: "limit" must be a whole number from 1 to ${MAX_RUNS}`);
      need(int(p.offset, 0), 'grid: "offset" must be a whole number ≥ 0');
      need(Array.isArray(p.expand) && p.expand.length <= MAX_EXPAND && p.expand.every(text), `grid: "expand" must be a list of at most ${MAX_EXPAND} task ids`);
      onlyFields(p, ['dagId', 'limit', 'offset', 'expand'], 'grid: params');
      return { dagId: p.dagId, limit: p.limit, offset: p.offset, expand: p.expand as string[] };
    }
    case 'dags':
      need(isObj(p) && Object.keys(p).length === 0, 'dags: params must be {}');
      return {};
    case 'tries':
    case 'openXComs':
    case 'openLog':
      return parseKey(p, method);
    case 'log': {
      const key = parseKey(p, 'log', ['tryNumber']);
      const t = (p as Record<string, unknown>).tryNumber;
      if (t === undefined) return key;
      need(int(t, 1), 'log: "tryNumber" must be a whole number ≥ 1');
      return { ...key, tryNumber: t };
    }
    case 'clear': {
      const key = parseKey(p, 'clear', ['downstream', 'upstream']);
      const o = p as Record<string, unknown>;
      need(typeof o.downstream === 'boolean' && typeof o.upstream === 'boolean', 'clear: "downstream" and "upstream" must be true or false');
      return { ...key, downstream: o.downstream, upstream: o.upstream };
    }
    case 'mark': {
      const key = parseKey(p, 'mark', ['state']);
      const s = (p as Record<string, unknown>).state;
      need(s === 'success' || s === 'failed', 'mark: "state" must be "success" or "failed"');
      return { ...key, state: s };
    }
    case 'openGantt':
      need(isObj(p) && text(p.dagId) && text(p.runId), 'openGantt: needs non-empty dagId and runId');
      onlyFields(p, ['dagId', 'runId'], 'openGantt: params');
      return { dagId: p.dagId, runId: p.runId };
  }
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
        return { type: 'init', target: m.target === null ? null : parseTarget(m.target, 'init: target') };
      case 'changed':
        need(text(m.dagId) && text(m.runId), 'changed: needs dagId and runId');
        return { type: 'changed', dagId: m.dagId, runId: m.runId };
      case 'logLine': {
        const key = parseKey({ dagId: m.dagId, runId: m.runId, taskId: m.taskId, mapIndex: m.mapIndex }, 'logLine');
        need(int(m.tryNumber, 1), 'logLine: "tryNumber" must be a whole number ≥ 1');
        need(typeof m.line === 'string', 'logLine: "line" must be text');
        return { type: 'logLine', ...key, tryNumber: m.tryNumber, line: m.line };
      }
      case 'response':
        return responseMessage(m);
      default:
        throw new Invalid(`unknown message type ${JSON.stringify(m.type)}`);
    }
  });
}

const strOrNull = (v: unknown) => v === null || typeof v === 'string';

/** Webview side: checks the shape of a result before it is drawn. */
export function checkResult(method: GridPanelMethod, r: unknown): string | undefined {
  switch (method) {
    case 'grid':
      return gridProblem(r);
    case 'dags':
      return isObj(r) && Array.isArray(r.dagIds) && r.dagIds.every((d) => typeof d === 'string') ? undefined : 'dags: the result lacks dagIds';
    case 'tries':
      return Array.isArray(r) && r.every((t) => isObj(t) && int(t.tryNumber, 0) && typeof t.state === 'string' && strOrNull(t.startDate) && strOrNull(t.endDate) && strOrNull(t.error))
        ? undefined
        : 'tries: a try lacks its number, state or dates';
    case 'log':
      return isObj(r) && int(r.tryNumber, 0) && typeof r.text === 'string' && typeof r.running === 'boolean' ? undefined : 'log: the result lacks tryNumber, text or running';
    case 'clear':
      return isObj(r) && Array.isArray(r.cleared) ? undefined : 'clear: the result lacks "cleared"';
    case 'mark':
      return isObj(r) && int(r.marked, 0) ? undefined : 'mark: the result lacks "marked"';
    case 'openXComs':
    case 'openLog':
    case 'openGantt':
      return isObj(r) && typeof r.opened === 'boolean' ? undefined : `${method}: the result lacks "opened"`;
  }
}
