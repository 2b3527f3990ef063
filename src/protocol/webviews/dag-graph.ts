/**
 * The DAG graph's message protocol between its webview (webview/dag-graph) and
 * the extension host (src/vscode/panels/dag-graph.ts). The host pushes; the
 * webview asks for a run and for actions on a task:
 *
 *   → webview to host: `ready` (with the DAG / run it showed last, from setState),
 *     `selectRun`, `openLog`, `showXComs`, `goToSource`
 *   ← host to webview: `graph` (the DAG, its runs, the selected run's task
 *     instances), `instances` (live task states of the shown run), `error`
 *
 * Every message received is checked by the parse functions here (both sides
 * use them); a malformed one is rejected with a reason and logged.
 * No DOM, no Node, no vscode: the webview bundle and the host import this file.
 */
import { int, Invalid, isObj, MAX_TEXT, need, text, wrap } from './validate.ts';
import type { Parsed } from './validate.ts';

export type { Parsed } from './validate.ts';

/** A task as the graph needs it. */
export interface GraphTask {
  taskId: string;
  kind: string;
  upstream: string[];
  mapped: boolean;
  /** 1-based source line, or null. */
  line: number | null;
  /** A setup or teardown task (absent: neither); drawn with an arrow up / down, and the edges from a setup to its teardowns dashed. */
  role?: 'setup' | 'teardown';
  /** The innermost task group the task is in (its full id); absent or null outside groups. */
  group?: string | null;
}

/** A task group (Airflow's TaskGroup): drawn as a cluster, or as one node when collapsed. */
export interface GraphGroup {
  groupId: string;
  /** The id as written (without the parent's prefix). */
  label: string;
  parent: string | null;
  tooltip: string | null;
}

/** A run in the run picker. */
export interface GraphRun {
  runId: string;
  state: string;
  logicalDate: string;
}

/** One task instance's state (mapIndex -1: not mapped). */
export interface GraphInstance {
  taskId: string;
  mapIndex: number;
  state: string | null;
}

/** → webview to host. */
export type WebviewMessage =
  | { type: 'ready'; dagId: string | null; runId: string | null }
  | { type: 'selectRun'; runId: string | null }
  | { type: 'openLog'; taskId: string; mapIndex: number | null }
  | { type: 'showXComs'; taskId: string; mapIndex: number | null }
  | { type: 'goToSource'; taskId: string };

/** ← host to webview. */
export type HostMessage =
  | { type: 'graph'; dagId: string; tasks: GraphTask[]; groups?: GraphGroup[]; runs: GraphRun[]; runId: string | null; instances: GraphInstance[] }
  | { type: 'instances'; runId: string; instances: GraphInstance[] }
  | { type: 'error'; message: string };

const MAX_ITEMS = 100_000;

function only(v: Record<string, unknown>, keys: string[], where: string): void {
  for (const k of Object.keys(v)) need(keys.includes(k), `${where}: unknown field "${k}"`);
}
function textOrNull(v: unknown, what: string): string | null {
  need(v === null || text(v), `${what} must be a non-empty string or null`);
  return v;
}
function mapIndexOrNull(v: unknown, where: string): number | null {
  need(v === null || int(v, 0), `${where}: "mapIndex" must be a whole number ≥ 0 or null`);
  return v;
}

/** Host side: checks a message from the webview. */
export function parseWebviewMessage(m: unknown): Parsed<WebviewMessage> {
  return wrap((): WebviewMessage => {
    need(isObj(m), 'a message must be an object');
    switch (m.type) {
      case 'ready':
        only(m, ['type', 'dagId', 'runId'], 'ready');
        return { type: 'ready', dagId: textOrNull(m.dagId ?? null, 'ready: "dagId"'), runId: textOrNull(m.runId ?? null, 'ready: "runId"') };
      case 'selectRun':
        only(m, ['type', 'runId'], 'selectRun');
        return { type: 'selectRun', runId: textOrNull(m.runId, 'selectRun: "runId"') };
      case 'openLog':
      case 'showXComs':
        only(m, ['type', 'taskId', 'mapIndex'], m.type);
        need(text(m.taskId), `${m.type}: "taskId" must be a non-empty string`);
        return { type: m.type, taskId: m.taskId, mapIndex: mapIndexOrNull(m.mapIndex ?? null, m.type) };
      case 'goToSource':
        only(m, ['type', 'taskId'], 'goToSource');
        need(text(m.taskId), 'goToSource: "taskId" must be a non-empty string');
        return { type: 'goToSource', taskId: m.taskId };
      default:
        throw new Invalid(`unknown message type ${JSON.stringify(m.type)}`);
    }
  });
}

function task(v: unknown): GraphTask {
  need(isObj(v), 'graph: a task must be an object');
  need(text(v.taskId) && typeof v.kind === 'string' && v.kind.length <= MAX_TEXT, 'graph: a task needs a taskId and a kind');
  need(Array.isArray(v.upstream) && v.upstream.length <= MAX_ITEMS && v.upstream.every(text), 'graph: "upstream" must be a list of task ids');
  need(typeof v.mapped === 'boolean', 'graph: "mapped" must be true or false');
  need(v.line === null || int(v.line, 1), 'graph: "line" must be a whole number ≥ 1 or null');
  need(v.role === undefined || v.role === 'setup' || v.role === 'teardown', 'graph: "role" must be "setup" or "teardown" when given');
  need(v.group === undefined || v.group === null || text(v.group), 'graph: a task\'s "group" must be a group id or null');
  return { taskId: v.taskId, kind: v.kind, upstream: v.upstream, mapped: v.mapped, line: v.line, ...(v.role ? { role: v.role } : {}), ...(typeof v.group === 'string' ? { group: v.group } : {}) };
}
function groups(v: unknown, taskIds: Set<string>): GraphGroup[] {
  need(Array.isArray(v) && v.length <= MAX_ITEMS, 'graph: "groups" must be a list');
  const out = v.map((g): GraphGroup => {
    need(isObj(g) && text(g.groupId) && text(g.label), 'graph: a group needs a groupId and a label');
    need(g.parent === null || text(g.parent), 'graph: a group\'s "parent" must be a group id or null');
    need(g.tooltip === null || typeof g.tooltip === 'string', 'graph: a group\'s "tooltip" must be a string or null');
    need(!taskIds.has(g.groupId), `graph: group ${g.groupId} has the id of a task`);
    return { groupId: g.groupId, label: g.label, parent: g.parent, tooltip: g.tooltip };
  });
  const byId = new Map(out.map((g) => [g.groupId, g]));
  need(byId.size === out.length, 'graph: group ids must be unique');
  for (const g of out) {
    // Every parent is a known group, and following parents ends (no loop).
    let steps = 0;
    for (let p = g.parent; p !== null; p = byId.get(p)!.parent) {
      need(byId.has(p), `graph: group ${g.groupId} is in an unknown group ${p}`);
      need(++steps <= out.length, `graph: group ${g.groupId} is inside itself`);
    }
  }
  return out;
}
function run(v: unknown): GraphRun {
  need(isObj(v) && text(v.runId) && text(v.state) && typeof v.logicalDate === 'string', 'graph: a run needs a runId, a state and a logicalDate');
  return { runId: v.runId, state: v.state, logicalDate: v.logicalDate };
}
function instances(v: unknown, where: string): GraphInstance[] {
  need(Array.isArray(v) && v.length <= MAX_ITEMS, `${where}: "instances" must be a list`);
  return v.map((x) => {
    need(isObj(x) && text(x.taskId) && int(x.mapIndex, -1), `${where}: an instance needs a taskId and a mapIndex ≥ -1`);
    need(x.state === null || text(x.state), `${where}: an instance's state must be a string or null`);
    return { taskId: x.taskId, mapIndex: x.mapIndex, state: x.state };
  });
}

/** Webview side: checks a message from the host. */
export function parseHostMessage(m: unknown): Parsed<HostMessage> {
  return wrap((): HostMessage => {
    need(isObj(m), 'a message must be an object');
    switch (m.type) {
      case 'graph': {
        need(text(m.dagId), 'graph: "dagId" must be a non-empty string');
        need(Array.isArray(m.tasks) && m.tasks.length <= MAX_ITEMS, 'graph: "tasks" must be a list');
        need(Array.isArray(m.runs) && m.runs.length <= MAX_ITEMS, 'graph: "runs" must be a list');
        const tasks = m.tasks.map(task);
        const ids = new Set(tasks.map((t) => t.taskId));
        need(ids.size === tasks.length, 'graph: task ids must be unique');
        for (const t of tasks) for (const u of t.upstream) need(ids.has(u), `graph: task ${t.taskId} is after an unknown task ${u}`);
        const gs = m.groups === undefined ? undefined : groups(m.groups, ids);
        const groupIds = new Set((gs ?? []).map((g) => g.groupId));
        for (const t of tasks) need(t.group == null || groupIds.has(t.group), `graph: task ${t.taskId} is in an unknown group ${t.group}`);
        return { type: 'graph', dagId: m.dagId, tasks, ...(gs ? { groups: gs } : {}), runs: m.runs.map(run), runId: textOrNull(m.runId, 'graph: "runId"'), instances: instances(m.instances, 'graph') };
      }
      case 'instances':
        need(text(m.runId), 'instances: "runId" must be a non-empty string');
        return { type: 'instances', runId: m.runId, instances: instances(m.instances, 'instances') };
      case 'error':
        need(typeof m.message === 'string', 'error: "message" must be a string');
        return { type: 'error', message: m.message };
      default:
        throw new Invalid(`unknown message type ${JSON.stringify(m.type)}`);
    }
  });
}
