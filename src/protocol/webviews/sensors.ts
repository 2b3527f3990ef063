/**
 * The sensor panel's message protocol between its webview (webview/sensors)
 * and the extension host (src/vscode/panels/sensors.ts):
 *
 *   → webview to host: `ready`, then `request`s (one per method below, with an id)
 *   ← host to webview: `init` (the sensor instance or filter to start with),
 *     a `response` per request, `changed` (a task or run changed state)
 *
 * While the shown instance is live the webview also asks for its detail every
 * second (pokes made in worker processes are not reported as events), and
 * only while it is visible: hidden, the webview is gone (no
 * retainContextWhenHidden) and rebuilds from its saved state when shown.
 *
 * Every message received is checked by the parse functions here (both sides
 * use them); a malformed one is rejected with a reason and logged.
 * No DOM, no Node, no vscode: the webview bundle and the host import this file.
 */
import type { SensorDetail, SensorInstancesResult } from './sensor-values.ts';
import { int, Invalid, isObj, MAX_TEXT, need, requestEnvelope, responseMessage, text, wrap } from './validate.ts';
import type { Parsed } from './validate.ts';

export type { Parsed } from './validate.ts';
export type * from './sensor-values.ts';

/** A sensor instance, or a filter (DAG, run, task) of the instances list. */
export interface SensorTarget {
  dagId?: string;
  runId?: string;
  taskId?: string;
  mapIndex?: number;
}

/** One sensor task instance. */
export interface SensorKey {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
}

/** How often the webview re-reads a live instance (ms). */
export const LIVE_POLL_MS = 1000;

/** The requests the webview makes: params and result of each. */
export interface SensorPanelMethods {
  /** Sensor instances, newest run first, filtered. */
  instances: { params: { dagId?: string; runId?: string; liveOnly: boolean }; result: SensorInstancesResult };
  /** Everything drawn for one instance. */
  detail: { params: SensorKey; result: SensorDetail };
  /** DAGs (loaded) that have sensors: the DAG filter's choices. */
  dags: { params: Record<string, never>; result: { dagIds: string[] } };
  /** Open the sensor's log (latest try) in an editor. */
  openLog: { params: SensorKey; result: { opened: boolean } };
}
export type SensorPanelMethod = keyof SensorPanelMethods;
export const METHODS: readonly SensorPanelMethod[] = ['instances', 'detail', 'dags', 'openLog'];

export type RequestMessage = { [M in SensorPanelMethod]: { type: 'request'; id: number; method: M; params: SensorPanelMethods[M]['params'] } }[SensorPanelMethod];

/** → webview to host. */
export type WebviewMessage = { type: 'ready' } | RequestMessage;

/** ← host to webview. */
export type HostMessage =
  | { type: 'init'; target: SensorTarget | null }
  | { type: 'response'; id: number; ok: true; result: unknown }
  | { type: 'response'; id: number; ok: false; error: string }
  /** A task or run changed state: re-read the list, and the detail if it is of that run. */
  | { type: 'changed'; dagId: string; runId: string };

function onlyFields(v: Record<string, unknown>, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(v)) need(allowed.includes(k), `${where} has an unknown field "${k}"`);
}

/** Checks a sensor instance key; throws Invalid. */
export function parseKey(v: unknown, where: string): SensorKey {
  need(isObj(v), `${where}: params must be an object`);
  need(text(v.dagId) && text(v.runId) && text(v.taskId), `${where}: needs non-empty dagId, runId and taskId`);
  need(int(v.mapIndex, -1), `${where}: "mapIndex" must be a whole number ≥ -1`);
  onlyFields(v, ['dagId', 'runId', 'taskId', 'mapIndex'], where);
  return { dagId: v.dagId, runId: v.runId, taskId: v.taskId, mapIndex: v.mapIndex };
}

/** Checks a target: every field optional, a mapIndex only with a task. */
export function parseTarget(v: unknown, where = 'target'): SensorTarget {
  need(isObj(v), `${where} must be an object`);
  const t: SensorTarget = {};
  for (const k of ['dagId', 'runId', 'taskId'] as const) {
    const x = v[k];
    if (x === undefined) continue;
    need(text(x), `${where}.${k} must be a non-empty string of at most ${MAX_TEXT} characters`);
    t[k] = x;
  }
  if (v.mapIndex !== undefined) {
    need(int(v.mapIndex, -1), `${where}.mapIndex must be a whole number ≥ -1`);
    t.mapIndex = v.mapIndex;
  }
  need(!t.runId || !!t.dagId, `${where}: a runId needs its dagId`);
  need(!t.taskId || !!t.runId, `${where}: a taskId needs its dagId and runId`);
  onlyFields(v, ['dagId', 'runId', 'taskId', 'mapIndex'], where);
  return t;
}

function params(method: SensorPanelMethod, p: unknown): RequestMessage['params'] {
  switch (method) {
    case 'instances': {
      need(isObj(p), 'instances: params must be an object');
      need(typeof p.liveOnly === 'boolean', 'instances: "liveOnly" must be true or false');
      need(p.dagId === undefined || text(p.dagId), 'instances: "dagId" must be a non-empty string');
      need(p.runId === undefined || text(p.runId), 'instances: "runId" must be a non-empty string');
      onlyFields(p, ['dagId', 'runId', 'liveOnly'], 'instances: params');
      return { liveOnly: p.liveOnly, ...(p.dagId ? { dagId: p.dagId } : {}), ...(p.runId ? { runId: p.runId } : {}) };
    }
    case 'detail':
    case 'openLog':
      return parseKey(p, method);
    case 'dags':
      need(isObj(p) && Object.keys(p).length === 0, 'dags: params must be {}');
      return {};
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

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const numOrNull = (v: unknown) => v === null || num(v);
const strOrNull = (v: unknown) => v === null || typeof v === 'string';

function instanceProblem(x: unknown): string | undefined {
  if (!isObj(x)) return 'an instance is not an object';
  if (!(text(x.dagId) && text(x.runId) && text(x.taskId) && int(x.mapIndex, -1))) return 'an instance lacks its dagId, runId, taskId or mapIndex';
  if (!(int(x.pokes, 0) && typeof x.live === 'boolean' && strOrNull(x.outcome) && strOrNull(x.mode) && strOrNull(x.taskState) && typeof x.breaker === 'string')) return 'an instance lacks pokes, live, outcome, mode or breaker';
  if (!(numOrNull(x.firstPokeMs) && numOrNull(x.endedMs) && numOrNull(x.waitMs) && numOrNull(x.lastPokeMs))) return 'an instance has a time that is not a number';
  return undefined;
}

/** Webview side: checks the shape of a result before it is drawn (a malformed one is an error, not a crash). */
export function checkResult(method: SensorPanelMethod, r: unknown): string | undefined {
  if (!isObj(r)) return `${method}: the result is not an object`;
  switch (method) {
    case 'instances': {
      if (!Array.isArray(r.instances) || !num(r.nowMs)) return 'instances: the result lacks instances or nowMs';
      for (const x of r.instances) {
        const bad = instanceProblem(x);
        if (bad) return `instances: ${bad}`;
      }
      return undefined;
    }
    case 'detail': {
      const bad = instanceProblem(r.instance);
      if (bad) return `detail: ${bad}`;
      if (!num(r.nowMs) || !int(r.totalPokes, 0)) return 'detail: the result lacks nowMs or totalPokes';
      if (!Array.isArray(r.pokes) || !r.pokes.every((p) => isObj(p) && int(p.pokeNumber, 0) && int(p.tryNumber, 0) && num(p.atMs) && num(p.durationMs) && typeof p.result === 'string' && strOrNull(p.error) && numOrNull(p.nextIntervalMs)))
        return 'detail: a poke lacks its number, time, duration or result';
      if (!Array.isArray(r.curve) || !r.curve.every((c) => isObj(c) && int(c.poke, 1) && num(c.baseMs) && num(c.minMs) && num(c.maxMs))) return 'detail: a curve point is not numbers';
      if (!Array.isArray(r.planned) || !r.planned.every((p) => isObj(p) && int(p.pokeNumber, 1) && num(p.atMs) && num(p.intervalMs))) return 'detail: a planned poke is not numbers';
      if (!Array.isArray(r.sla) || !r.sla.every((l) => isObj(l) && typeof l.level === 'string' && num(l.deadlineMs) && numOrNull(l.missedMs))) return 'detail: an SLA deadline is not a level and a time';
      if (!numOrNull(r.timeoutDeadlineMs) || !numOrNull(r.timeoutMs)) return 'detail: the timeout is not a number';
      if (!isObj(r.breaker) || typeof r.breaker.state !== 'string' || !int(r.breaker.consecutiveErrors, 0)) return 'detail: the breaker lacks its state';
      if (r.stats !== null && !isObj(r.stats)) return 'detail: stats must be an object or null';
      if (!strOrNull(r.note) || !strOrNull(r.strategyText)) return 'detail: note and strategyText must be text or null';
      return undefined;
    }
    case 'dags':
      return Array.isArray(r.dagIds) && r.dagIds.every((d) => typeof d === 'string') ? undefined : 'dags: the result lacks dagIds';
    case 'openLog':
      return typeof r.opened === 'boolean' ? undefined : 'openLog: the result lacks "opened"';
  }
}
