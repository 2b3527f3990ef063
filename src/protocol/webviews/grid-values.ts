/**
 * The values of the grid view (`grid/data`): the last N runs of a DAG by its
 * tasks, in a compact, column-free form so that 365 runs × 200 tasks (73,000
 * cells) travel as a few flat arrays instead of 73,000 objects.
 *
 * Cells are row-major: the cell of row `r` and run `c` is at `r * runs.length + c`.
 * Runs go oldest → newest (left to right, as Airflow's grid).
 *
 * Plain JSON, no DOM, no Node: the runtime server, the extension and the
 * webview import this file.
 */
import type { RunState, RunType, TaskState } from '../runtime.ts';

/** Cell state codes: index into this list; `none` is a task instance with no state yet. */
export const GRID_STATES = ['none', 'scheduled', 'queued', 'running', 'success', 'failed', 'up_for_retry', 'up_for_reschedule', 'skipped', 'upstream_failed', 'removed'] as const;
export type GridState = (typeof GRID_STATES)[number];
/** A cell with no task instance (the run predates the task, or the task was never created in it). */
export const NO_TI = -1;

export function stateCode(s: TaskState | null): number {
  const i = GRID_STATES.indexOf((s ?? 'none') as GridState);
  return i < 0 ? 0 : i;
}

/**
 * The state a mapped task shows for a run: the first of these its map indexes have. Airflow's order
 * (airflow/www/utils.py, `priority` used by `get_mapped_summary`), without the states Hangar has not.
 */
export const MAPPED_PRIORITY: readonly GridState[] = ['failed', 'upstream_failed', 'up_for_retry', 'up_for_reschedule', 'queued', 'scheduled', 'running', 'none', 'success', 'skipped', 'removed'];

/** The summary state of several state codes (a mapped task's instances in one run); NO_TI when there are none. */
export function summaryState(codes: Iterable<number>): number {
  const seen = new Set(codes);
  for (const s of MAPPED_PRIORITY) {
    const c = GRID_STATES.indexOf(s);
    if (seen.has(c)) return c;
  }
  return NO_TI;
}

export interface GridRun {
  runId: string;
  runType: RunType;
  state: RunState;
  logicalDate: string;
  queuedAt: string;
  startDate: string | null;
  endDate: string | null;
}

export interface GridRow {
  taskId: string;
  /** null: the task itself (for a mapped task, the summary of its map indexes); ≥ 0: one map index of an expanded mapped task. */
  mapIndex: number | null;
  /** `task`, `bash`, `sensor`, … ; `removed` for a task in the runs but no longer in the DAG. */
  kind: string;
  mapped: boolean;
  /** The innermost task group the task is in (its full id); absent outside groups. */
  group?: string;
}

/** A task group of the DAG (Airflow's TaskGroup): the grid shows it as a row that collapses its tasks. */
export interface GridGroup {
  /** The full id (`outer.inner` when the parent prefixes). */
  groupId: string;
  /** The id as written, without the parent's prefix. */
  label: string;
  parent: string | null;
}

/** A mapped task's count of map indexes per state in one run (index = state code). */
export interface GridCounts {
  cell: number;
  counts: number[];
}

export interface GridParams {
  dagId: string;
  /** Runs per page (default 25, at most 1000), newest first. */
  limit?: number;
  /** Newest runs to skip (page further back); default 0. */
  offset?: number;
  /** Mapped tasks shown with a row per map index too. */
  expand?: string[];
}

export interface GridResult {
  dagId: string;
  /** Runs of the DAG in the store, all pages. */
  totalRuns: number;
  offset: number;
  limit: number;
  /** The server's clock when it answered (durations of running cells are up to it). */
  nowMs: number;
  runs: GridRun[];
  rows: GridRow[];
  /** Per cell: state code (index into GRID_STATES) or NO_TI. */
  states: number[];
  /** Per cell: the latest try number (0: not tried). For a mapped summary: the highest. */
  tries: number[];
  /** Per cell: seconds (of the latest try; of the try so far when running; a mapped summary: first start → last end), or null. */
  durations: (number | null)[];
  /** Counts per state of mapped summary cells. */
  counts: GridCounts[];
  /** Map indexes seen per mapped task on this page (the most of any run). */
  mapCounts: Record<string, number>;
  /** The DAG's task groups in definition order; absent when it has none. */
  groups?: GridGroup[];
}

/** Checks a grid/data result's shape; answers what is wrong, or undefined. */
export function gridProblem(r: unknown): string | undefined {
  if (typeof r !== 'object' || r === null) return 'the grid is not an object';
  const g = r as Record<string, unknown>;
  if (typeof g.dagId !== 'string' || !Array.isArray(g.runs) || !Array.isArray(g.rows)) return 'the grid lacks dagId, runs or rows';
  if (![g.totalRuns, g.offset, g.limit, g.nowMs].every((n) => typeof n === 'number' && Number.isFinite(n))) return 'the grid lacks totalRuns, offset, limit or nowMs';
  const n = g.runs.length * g.rows.length;
  for (const k of ['states', 'tries', 'durations'] as const) {
    const a = g[k];
    if (!Array.isArray(a) || a.length !== n) return `the grid's ${k} do not have one entry per cell (${n})`;
  }
  for (const x of g.runs as unknown[]) {
    const run = x as Record<string, unknown>;
    if (typeof run !== 'object' || run === null || typeof run.runId !== 'string' || typeof run.state !== 'string' || typeof run.logicalDate !== 'string' || typeof run.runType !== 'string')
      return 'a run lacks its runId, state, type or logical date';
  }
  for (const x of g.rows as unknown[]) {
    const row = x as Record<string, unknown>;
    if (typeof row !== 'object' || row === null || typeof row.taskId !== 'string' || !(row.mapIndex === null || typeof row.mapIndex === 'number') || typeof row.mapped !== 'boolean')
      return 'a row lacks its taskId, mapIndex or mapped';
    if (row.group !== undefined && typeof row.group !== 'string') return `the row of ${row.taskId} has a group that is not a string`;
  }
  if (g.groups !== undefined) {
    if (!Array.isArray(g.groups)) return 'the grid\'s groups are not a list';
    for (const x of g.groups as unknown[]) {
      const gr = x as Record<string, unknown>;
      if (typeof gr !== 'object' || gr === null || typeof gr.groupId !== 'string' || typeof gr.label !== 'string' || !(gr.parent === null || typeof gr.parent === 'string'))
        return 'a task group lacks its groupId, label or parent';
    }
  }
  if (!(g.states as unknown[]).every((s) => typeof s === 'number' && Number.isInteger(s) && s >= NO_TI && s < GRID_STATES.length)) return 'a cell has an unknown state code';
  if (!Array.isArray(g.counts) || !(g.counts as unknown[]).every((c) => typeof c === 'object' && c !== null && typeof (c as GridCounts).cell === 'number' && Array.isArray((c as GridCounts).counts)))
    return 'the grid\'s counts are malformed';
  if (typeof g.mapCounts !== 'object' || g.mapCounts === null) return 'the grid lacks mapCounts';
  return undefined;
}
