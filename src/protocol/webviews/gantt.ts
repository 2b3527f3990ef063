/**
 * The Gantt panel's message protocol between its webview (webview/gantt) and
 * the extension host (src/vscode/panels/gantt.ts). The panel has two views:
 * the Gantt of one run, and the task durations over a DAG's last runs.
 *
 *   → webview to host: `ready`, then `request`s (one per method below, with an id)
 *   ← host to webview: `init` (the run, and the view, to show), a `response` per
 *     request, `changed` (a task or run of the shown DAG changed state)
 *
 * Every message received is checked by the parse functions here (both sides
 * use them); a malformed one is rejected with a reason and logged.
 * No DOM, no Node, no vscode: the webview bundle and the host import this file.
 */
import type { GanttResult } from './gantt-values.ts';
import { ganttProblem } from './gantt-values.ts';
import type { GridResult } from './grid-values.ts';
import { gridProblem } from './grid-values.ts';
import { int, Invalid, isObj, MAX_TEXT, need, requestEnvelope, responseMessage, text, wrap } from './validate.ts';
import type { Parsed } from './validate.ts';

export type { Parsed } from './validate.ts';
export type * from './gantt-values.ts';
export type { GridResult } from './grid-values.ts';

export type GanttView = 'gantt' | 'duration';

export interface GanttTarget {
  dagId: string;
  /** The run of the Gantt (default: the DAG's newest). */
  runId?: string;
  view?: GanttView;
}

export const MAX_DURATION_RUNS = 1000;

export interface RunChoice {
  runId: string;
  state: string;
  logicalDate: string;
}

/** The requests the webview makes: params and result of each. */
export interface GanttPanelMethods {
  /** The Gantt of a run. */
  gantt: { params: { dagId: string; runId: string }; result: GanttResult };
  /** The DAG's newest runs: the run picker's choices. */
  runs: { params: { dagId: string }; result: { runs: RunChoice[] } };
  /** Task durations over the DAG's last `limit` runs (the grid's data: one request, one cell per task and run). */
  durations: { params: { dagId: string; limit: number }; result: GridResult };
  /** Open the grid on a task instance. */
  openGrid: { params: { dagId: string; runId: string; taskId: string; mapIndex: number }; result: { opened: boolean } };
}
export type GanttPanelMethod = keyof GanttPanelMethods;
export const METHODS: readonly GanttPanelMethod[] = ['gantt', 'runs', 'durations', 'openGrid'];

export type RequestMessage = { [M in GanttPanelMethod]: { type: 'request'; id: number; method: M; params: GanttPanelMethods[M]['params'] } }[GanttPanelMethod];

/** → webview to host. */
export type WebviewMessage = { type: 'ready' } | RequestMessage;

/** ← host to webview. */
export type HostMessage =
  | { type: 'init'; target: GanttTarget | null }
  | { type: 'response'; id: number; ok: true; result: unknown }
  | { type: 'response'; id: number; ok: false; error: string }
  | { type: 'changed'; dagId: string; runId: string };

function onlyFields(v: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(v)) need(allowed.includes(k), `${where} has an unknown field "${k}"`);
}

export function parseTarget(v: unknown, where = 'target'): GanttTarget {
  need(isObj(v), `${where} must be an object`);
  need(text(v.dagId), `${where}.dagId must be a non-empty string of at most ${MAX_TEXT} characters`);
  onlyFields(v, ['dagId', 'runId', 'view'], where);
  const t: GanttTarget = { dagId: v.dagId };
  if (v.runId !== undefined) {
    need(text(v.runId), `${where}.runId must be a non-empty string`);
    t.runId = v.runId;
  }
  if (v.view !== undefined) {
    need(v.view === 'gantt' || v.view === 'duration', `${where}.view must be "gantt" or "duration"`);
    t.view = v.view;
  }
  return t;
}

function params(method: GanttPanelMethod, p: unknown): RequestMessage['params'] {
  need(isObj(p), `${method}: params must be an object`);
  need(text(p.dagId), `${method}: needs a non-empty dagId`);
  switch (method) {
    case 'gantt':
      need(text(p.runId), 'gantt: needs a non-empty runId');
      onlyFields(p, ['dagId', 'runId'], 'gantt: params');
      return { dagId: p.dagId, runId: p.runId };
    case 'runs':
      onlyFields(p, ['dagId'], 'runs: params');
      return { dagId: p.dagId };
    case 'durations':
      need(int(p.limit, 1, MAX_DURATION_RUNS), `durations: "limit" must be a whole number from 1 to ${MAX_DURATION_RUNS}`);
      onlyFields(p, ['dagId', 'limit'], 'durations: params');
      return { dagId: p.dagId, limit: p.limit };
    case 'openGrid':
      need(text(p.runId) && text(p.taskId), 'openGrid: needs non-empty runId and taskId');
      need(int(p.mapIndex, -1), 'openGrid: "mapIndex" must be a whole number ≥ -1');
      onlyFields(p, ['dagId', 'runId', 'taskId', 'mapIndex'], 'openGrid: params');
      return { dagId: p.dagId, runId: p.runId, taskId: p.taskId, mapIndex: p.mapIndex };
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
      case 'response':
        return responseMessage(m);
      default:
        throw new Invalid(`unknown message type ${JSON.stringify(m.type)}`);
    }
  });
}

/** Webview side: checks the shape of a result before it is drawn. */
export function checkResult(method: GanttPanelMethod, r: unknown): string | undefined {
  switch (method) {
    case 'gantt':
      return ganttProblem(r);
    case 'runs':
      return isObj(r) && Array.isArray(r.runs) && r.runs.every((x) => isObj(x) && typeof x.runId === 'string' && typeof x.state === 'string' && typeof x.logicalDate === 'string') ? undefined : 'runs: the result lacks runs';
    case 'durations':
      return gridProblem(r);
    case 'openGrid':
      return isObj(r) && typeof r.opened === 'boolean' ? undefined : 'openGrid: the result lacks "opened"';
  }
}
