/**
 * The runtime side of the grid view (`grid/data`): one page of a DAG's runs by
 * its tasks, read with two queries whatever the page's size (the page of runs;
 * every task instance of those runs; never a query per run or task) and shaped
 * into the compact form of src/protocol/webviews/grid-values.ts.
 *
 * The DAG's tasks come from the DAG list the server already answers
 * (`dag/list`'s `TaskInfo`, topological order), never from the DAG files; tasks
 * found in runs but no longer in the DAG are appended as `removed` rows.
 */
import type { Store } from '../store/store.ts';
import type { GridCellRow } from '../store/repos/views.ts';
import type { TaskGroupInfo, TaskInfo } from '../../protocol/runtime.ts';
import { GRID_STATES, NO_TI, summaryState } from '../../protocol/webviews/grid-values.ts';
import type { GridResult, GridRow, GridRun } from '../../protocol/webviews/grid-values.ts';
import { InvalidParamsError, optInt, str } from './validate.ts';
import type { Params } from './validate.ts';

export const DEFAULT_GRID_RUNS = 25;
export const MAX_GRID_RUNS = 1000;

export type { GridCellRow } from '../store/repos/views.ts';

/**
 * A page of runs (oldest → newest), the DAG's run count, and the cells of those runs: two queries,
 * whatever the number of runs and tasks (store/repos/views.ts, on either store).
 */
export async function queryGrid(store: Store, dagId: string, limit: number, offset: number): Promise<{ runs: GridRun[]; totalRuns: number; cells: GridCellRow[] }> {
  const { runs: page, total } = await store.views.gridRuns(dagId, limit, offset);
  const runs: GridRun[] = page.reverse().map((r) => ({
    runId: r.run_id,
    runType: r.run_type as GridRun['runType'],
    state: r.state as GridRun['state'],
    logicalDate: r.logical_date,
    queuedAt: r.queued_at,
    startDate: r.start_date,
    endDate: r.end_date,
  }));
  if (runs.length === 0) return { runs, totalRuns: total, cells: [] };
  const cells = await store.views.gridCells(
    dagId,
    runs.map((r) => r.runId),
    GRID_STATES,
  );
  return { runs, totalRuns: total, cells };
}

/** Seconds with 3 decimals under 10 s, whole above (Airflow's `truncate_task_duration`, airflow/www/views.py). */
export function roundDuration(s: number): number {
  return s > 10 ? Math.round(s) : Math.round(s * 1000) / 1000;
}

const RUNNING = GRID_STATES.indexOf('running');
const QUEUED = GRID_STATES.indexOf('queued');

/**
 * Shapes a page (runs oldest → newest and their cells) into a GridResult, writing straight into flat
 * arrays. `tasks` is the DAG's task list (null: the DAG is not loaded; rows then come from the runs alone);
 * `expand` names mapped tasks shown per map index too; `groups` are the DAG's task groups (a row names its
 * task's innermost group; the webview folds them).
 */
export function shapeGrid(
  dagId: string,
  tasks: readonly Pick<TaskInfo, 'taskId' | 'kind' | 'mapped' | 'group'>[] | null,
  page: { runs: GridRun[]; totalRuns: number; cells: readonly GridCellRow[] },
  opts: { limit: number; offset: number; expand: readonly string[]; nowMs: number; groups?: readonly TaskGroupInfo[] },
): GridResult {
  const { runs, cells } = page;
  const nRuns = runs.length;
  const expand = new Set(opts.expand);

  // Pass 1: the rows (the DAG's tasks, then tasks found only in the runs) and each mapped task's width.
  const info = new Map<string, { kind: string; mapped: boolean; width: number; group?: string }>();
  const order: string[] = [];
  for (const t of tasks ?? []) {
    info.set(t.taskId, { kind: t.kind, mapped: t.mapped, width: 0, ...(t.group ? { group: t.group } : {}) });
    order.push(t.taskId);
  }
  const extra: string[] = [];
  for (const c of cells) {
    let t = info.get(c[1]);
    if (!t) {
      info.set(c[1], (t = { kind: tasks ? 'removed' : 'task', mapped: false, width: 0 }));
      extra.push(c[1]);
    }
    if (c[2] >= 0) {
      t.mapped = t.mapped || !tasks || t.kind === 'removed';
      if (c[2] + 1 > t.width) t.width = c[2] + 1;
    }
  }
  order.push(...extra.sort());
  const rows: GridRow[] = [];
  /** First row of each task; a mapped task's map index i is at first + 1 + i when expanded. */
  const firstRow = new Map<string, number>();
  const mapCounts: Record<string, number> = {};
  for (const id of order) {
    const t = info.get(id)!;
    firstRow.set(id, rows.length);
    const group = t.group ? { group: t.group } : {};
    rows.push({ taskId: id, mapIndex: null, kind: t.kind, mapped: t.mapped, ...group });
    if (t.mapped) {
      mapCounts[id] = t.width;
      if (expand.has(id)) for (let i = 0; i < t.width; i++) rows.push({ taskId: id, mapIndex: i, kind: t.kind, mapped: true, ...group });
    }
  }

  // Pass 2: every cell, straight into its place.
  const n = rows.length * nRuns;
  const states = new Array<number>(n).fill(NO_TI);
  const tries = new Array<number>(n).fill(0);
  const durations = new Array<number | null>(n).fill(null);
  const counts = new Map<number, number[]>();
  const spans = new Map<number, { start: number; end: number; open: boolean; codes: number[] }>();
  for (const c of cells) {
    const [col, taskId, mapIndex, code, tryNumber, duration, startMs, endMs] = c;
    const t = info.get(taskId)!;
    const base = firstRow.get(taskId)!;
    let d = duration;
    if (d === null && startMs !== null && (code === RUNNING || code === QUEUED)) d = Math.max(0, (opts.nowMs - startMs) / 1000);
    const dur = d === null ? null : roundDuration(d);
    if (!t.mapped || mapIndex < 0) {
      const i = base * nRuns + col;
      states[i] = code;
      tries[i] = tryNumber;
      durations[i] = dur;
      if (!t.mapped) continue;
    }
    if (mapIndex >= 0 && expand.has(taskId)) {
      const i = (base + 1 + mapIndex) * nRuns + col;
      states[i] = code;
      tries[i] = tryNumber;
      durations[i] = dur;
    }
    // The mapped task's summary cell.
    const cell = base * nRuns + col;
    let count = counts.get(cell);
    if (!count) counts.set(cell, (count = new Array<number>(GRID_STATES.length).fill(0)));
    count[code]!++;
    let span = spans.get(cell);
    if (!span) spans.set(cell, (span = { start: Infinity, end: -Infinity, open: false, codes: [] }));
    if (tryNumber > tries[cell]!) tries[cell] = tryNumber;
    if (startMs !== null) span.start = Math.min(span.start, startMs);
    if (endMs !== null) span.end = Math.max(span.end, endMs);
    else if (startMs !== null) span.open = true;
  }
  for (const [cell, count] of counts) {
    states[cell] = summaryState(count.flatMap((k, code) => (k > 0 ? [code] : [])));
    const s = spans.get(cell)!;
    const secs = s.start === Infinity ? null : s.open ? (opts.nowMs - s.start) / 1000 : s.end === -Infinity ? null : (s.end - s.start) / 1000;
    durations[cell] = secs === null ? null : roundDuration(Math.max(0, secs));
  }
  return {
    dagId,
    totalRuns: page.totalRuns,
    offset: opts.offset,
    limit: opts.limit,
    nowMs: opts.nowMs,
    runs,
    rows,
    states,
    tries,
    durations,
    counts: [...counts].sort((a, b) => a[0] - b[0]).map(([cell, c]) => ({ cell, counts: c })),
    mapCounts,
    ...(opts.groups?.length ? { groups: opts.groups.map((gr) => ({ groupId: gr.groupId, label: gr.label, parent: gr.parent })) } : {}),
  };
}

/** Checks grid/data's params. */
export function gridParams(method: string, p: Params): { dagId: string; limit: number; offset: number; expand: string[] } {
  const dagId = str(method, p, 'dagId');
  const limit = optInt(method, p, 'limit', 1, MAX_GRID_RUNS) ?? DEFAULT_GRID_RUNS;
  const offset = optInt(method, p, 'offset', 0) ?? 0;
  let expand: string[] = [];
  if (p.expand !== undefined) {
    if (!Array.isArray(p.expand) || !p.expand.every((x) => typeof x === 'string' && x.length > 0)) {
      throw new InvalidParamsError(`${method}: "expand" must be an array of task ids`);
    }
    expand = p.expand as string[];
  }
  return { dagId, limit, offset, expand };
}
