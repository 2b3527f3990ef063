/**
 * The Runs tree's model, free of vscode: recent runs and their task instances,
 * patched in place by `run/didChange` and `task/didChange` notifications so the
 * tree updates without polling. Tested with node:test (test/extension).
 */
import { inertLine } from '../protocol/inert.ts';
import type { RunInfo, RunState, TaskDidChangeParams, TaskInstanceInfo, TaskState } from '../protocol/runtime.ts';

export const TERMINAL_RUN_STATES: ReadonlySet<RunState> = new Set(['success', 'failed']);

/** What a notification changed: nothing, one run's row (and its children), or the list of runs. */
export type Change = { kind: 'none' } | { kind: 'run'; key: string } | { kind: 'root' };

export function runKey(dagId: string, runId: string): string {
  return `${dagId}\u0000${runId}`;
}

export interface RunEntry {
  run: RunInfo;
  /** undefined until fetched with task/list. */
  tasks: TaskInstanceInfo[] | undefined;
}

export class RunsModel {
  private readonly runs = new Map<string, RunEntry>();
  private order: string[] = [];

  /** Replaces the list of runs (from run/list, newest first), keeping task instances already fetched. */
  setRuns(runs: readonly RunInfo[]): void {
    const next = new Map<string, RunEntry>();
    for (const r of runs) {
      const k = runKey(r.dagId, r.runId);
      next.set(k, { run: r, tasks: this.runs.get(k)?.tasks });
    }
    // Keep runs that are still active even if they fell off the page.
    for (const [k, e] of this.runs) if (!next.has(k) && !TERMINAL_RUN_STATES.has(e.run.state)) next.set(k, e);
    this.runs.clear();
    for (const [k, e] of next) this.runs.set(k, e);
    this.order = [...next.keys()];
  }

  list(): RunEntry[] {
    return this.order.map((k) => this.runs.get(k)!).filter(Boolean);
  }

  get(dagId: string, runId: string): RunEntry | undefined {
    return this.runs.get(runKey(dagId, runId));
  }

  /** Adds a run just triggered (newest first). */
  addRun(run: RunInfo): Change {
    const k = runKey(run.dagId, run.runId);
    const existing = this.runs.get(k);
    if (existing) {
      existing.run = run;
      return { kind: 'run', key: k };
    }
    this.runs.set(k, { run, tasks: undefined });
    this.order.unshift(k);
    return { kind: 'root' };
  }

  setTasks(dagId: string, runId: string, tasks: TaskInstanceInfo[]): void {
    const e = this.runs.get(runKey(dagId, runId));
    if (e) e.tasks = tasks;
  }

  /** Applies run/didChange. An unknown run means the list must be fetched again. */
  applyRun(p: { dagId: string; runId: string; state: RunState }, now = new Date()): Change {
    const e = this.runs.get(runKey(p.dagId, p.runId));
    if (!e) return { kind: 'root' };
    if (e.run.state === p.state) return { kind: 'none' };
    e.run = { ...e.run, state: p.state };
    if (p.state === 'running' && !e.run.startDate) e.run.startDate = now.toISOString();
    if (TERMINAL_RUN_STATES.has(p.state)) e.run.endDate = now.toISOString();
    return { kind: 'run', key: runKey(p.dagId, p.runId) };
  }

  /** Applies task/didChange to a fetched run; returns the run to refresh. */
  applyTask(p: TaskDidChangeParams, now = new Date()): Change {
    const k = runKey(p.dagId, p.runId);
    const e = this.runs.get(k);
    if (!e) return { kind: 'root' };
    if (!e.tasks) return { kind: 'run', key: k };
    let ti = e.tasks.find((t) => t.taskId === p.taskId && t.mapIndex === p.mapIndex);
    if (!ti) {
      // A mapped task's expanded instance, or a task unknown so far.
      const parent = e.tasks.findIndex((t) => t.taskId === p.taskId);
      ti = {
        dagId: p.dagId,
        runId: p.runId,
        taskId: p.taskId,
        mapIndex: p.mapIndex,
        state: null,
        tryNumber: 0,
        maxTries: 1,
        operator: null,
        startDate: null,
        endDate: null,
        duration: null,
        error: null,
        nextTryAt: null,
      };
      // An expanded instance replaces its unexpanded placeholder (map index -1).
      if (parent >= 0 && e.tasks[parent]!.mapIndex === -1 && p.mapIndex >= 0) e.tasks.splice(parent, 1, ti);
      else if (parent >= 0) e.tasks.splice(lastIndexOf(e.tasks, p.taskId) + 1, 0, ti);
      else e.tasks.push(ti);
    }
    ti.state = p.state;
    ti.tryNumber = p.tryNumber;
    if (p.state === 'running') {
      ti.startDate = now.toISOString();
      ti.endDate = null;
      ti.duration = null;
      ti.error = null;
    }
    if (p.duration !== undefined) ti.duration = p.duration;
    if (p.error !== undefined) ti.error = p.error;
    ti.nextTryAt = p.nextTryAt ?? null;
    if (isFinished(p.state)) ti.endDate = now.toISOString();
    if (p.state === null || (p.state as string) === 'none') {
      ti.duration = null;
      ti.error = null;
    }
    return { kind: 'run', key: k };
  }

  /** Counts for the status bar: runs active now, and recent runs that failed. */
  counts(): { running: number; failed: number } {
    let running = 0;
    let failed = 0;
    for (const e of this.runs.values()) {
      if (e.run.state === 'running' || e.run.state === 'queued') running++;
      else if (e.run.state === 'failed') failed++;
    }
    return { running, failed };
  }
}

function lastIndexOf(tasks: TaskInstanceInfo[], taskId: string): number {
  for (let i = tasks.length - 1; i >= 0; i--) if (tasks[i]!.taskId === taskId) return i;
  return -1;
}

export function isFinished(state: TaskState | null): boolean {
  return state === 'success' || state === 'failed' || state === 'skipped' || state === 'upstream_failed' || state === 'removed';
}

/** Codicon and theme colour for a task or run state. */
export function stateIcon(state: TaskState | RunState | null): { id: string; color?: string } {
  switch (state) {
    case 'success':
      return { id: 'pass', color: 'testing.iconPassed' };
    case 'failed':
      return { id: 'error', color: 'testing.iconFailed' };
    case 'running':
      return { id: 'sync~spin', color: 'charts.blue' };
    case 'queued':
    case 'scheduled':
      return { id: 'clock', color: 'charts.yellow' };
    case 'up_for_retry':
      return { id: 'history', color: 'charts.orange' };
    case 'up_for_reschedule':
      return { id: 'watch', color: 'charts.purple' };
    case 'skipped':
      return { id: 'debug-step-over', color: 'disabledForeground' };
    case 'upstream_failed':
      return { id: 'warning', color: 'charts.orange' };
    case 'removed':
      return { id: 'trash' };
    default:
      return { id: 'circle-large-outline' };
  }
}

/** Human duration: `0.36 s`, `12.4 s`, `3 min 05 s`, `1 h 02 min`. */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds) || seconds < 0) return '';
  if (seconds < 10) return `${seconds.toFixed(2)} s`;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const m = Math.floor(seconds / 60);
  if (m < 60) return `${m} min ${String(Math.round(seconds % 60)).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

export function stateText(state: TaskState | RunState | null): string {
  return state === null ? 'none' : state.replaceAll('_', ' ');
}

/** The Runs tree row of a task instance: label, description, tooltip. */
export function taskInstanceRow(ti: TaskInstanceInfo, now = Date.now()): { label: string; description: string; tooltip: string } {
  const label = ti.mapIndex >= 0 ? `${ti.taskId} [${ti.mapIndex}]` : ti.taskId;
  const parts = [stateText(ti.state)];
  if (ti.tryNumber > 0) parts.push(ti.maxTries > 1 ? `try ${ti.tryNumber}/${ti.maxTries}` : `try ${ti.tryNumber}`);
  const running = ti.state === 'running' && ti.startDate ? (now - Date.parse(ti.startDate)) / 1000 : null;
  const d = formatDuration(ti.duration ?? running);
  if (d) parts.push(d);
  const tooltip = [
    `${ti.dagId} › ${ti.runId} › ${label}`,
    `State: ${stateText(ti.state)}`,
    ti.tryNumber > 0 ? `Try ${ti.tryNumber} of ${ti.maxTries}` : 'Not tried yet',
    d ? `Duration: ${d}` : '',
    ti.mapIndex >= 0 ? `Map index: ${ti.mapIndex}` : '',
    ti.nextTryAt ? `Next try at: ${ti.nextTryAt}` : '',
    ti.error ? `Error: ${inertLine(ti.error, 1000)}` : '',
  ]
    .filter(Boolean)
    .join('\n');
  return { label, description: parts.join(' · '), tooltip };
}

/** The Runs tree row of a run. */
export function runRow(r: RunInfo): { label: string; description: string; tooltip: string } {
  const start = r.startDate ? Date.parse(r.startDate) : NaN;
  const end = r.endDate ? Date.parse(r.endDate) : NaN;
  const d = Number.isFinite(start) && Number.isFinite(end) ? formatDuration((end - start) / 1000) : '';
  const description = [stateText(r.state), r.runType !== 'manual' ? r.runType : '', shortDate(r.logicalDate), d].filter(Boolean).join(' · ');
  return {
    label: r.dagId,
    description,
    tooltip: [`${r.dagId} › ${r.runId}`, `State: ${stateText(r.state)}`, `Logical date: ${r.logicalDate}`, d ? `Duration: ${d}` : '', Object.keys(r.conf).length ? `Conf: ${inertLine(JSON.stringify(r.conf), 1000)}` : '']
      .filter(Boolean)
      .join('\n'),
  };
}

function shortDate(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, '');
}

/** What to say when a run ends: the message and the failed task whose log to offer. */
export function endOfRunMessage(run: RunInfo, tasks: readonly TaskInstanceInfo[]): { ok: boolean; message: string; failedTask?: TaskInstanceInfo } {
  const start = run.startDate ? Date.parse(run.startDate) : NaN;
  const end = run.endDate ? Date.parse(run.endDate) : NaN;
  const took = Number.isFinite(start) && Number.isFinite(end) ? ` in ${formatDuration((end - start) / 1000)}` : '';
  if (run.state === 'success') {
    return { ok: true, message: `Hangar: run ${run.runId} of ${run.dagId} succeeded${took} (${tasks.length} task${tasks.length === 1 ? '' : 's'}).` };
  }
  const failed = tasks.filter((t) => t.state === 'failed');
  const first = failed[0];
  const upstream = tasks.filter((t) => t.state === 'upstream_failed').length;
  const what = first
    ? `task ${first.taskId}${first.mapIndex >= 0 ? ` [${first.mapIndex}]` : ''} failed${first.error ? `: ${firstLine(first.error)}` : ''}${failed.length > 1 ? ` (and ${failed.length - 1} more)` : ''}`
    : 'no task failed (the run was stopped)';
  return {
    ok: false,
    message: `Hangar: run ${run.runId} of ${run.dagId} failed${took}: ${what}${upstream ? `; ${upstream} downstream not run` : ''}.`,
    failedTask: first,
  };
}

function firstLine(s: string): string {
  return inertLine(s.split('\n')[0] ?? '', 160);
}
