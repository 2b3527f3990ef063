/**
 * The runtime side of the grid view (`grid/data`): one page of a DAG's runs by
 * its tasks, read with one SQL query (the page of runs joined with their task
 * instances; no query per run or task) and shaped into the compact form of
 * src/protocol/webviews/grid-values.ts.
 *
 * The DAG's tasks come from the DAG list the server already answers
 * (`dag/list`'s `TaskInfo`, topological order), never from the DAG files; tasks
 * found in runs but no longer in the DAG are appended as `removed` rows.
 */
import type { DatabaseSync } from 'node:sqlite';
import type { TaskInfo } from '../../protocol/runtime.ts';
import { GRID_STATES, NO_TI, stateCode, summaryState } from '../../protocol/webviews/grid-values.ts';
import type { GridCounts, GridResult, GridRow, GridRun } from '../../protocol/webviews/grid-values.ts';
import { InvalidParamsError, optInt, str } from './validate.ts';
import type { Params } from './validate.ts';

export const DEFAULT_GRID_RUNS = 25;
export const MAX_GRID_RUNS = 1000;

/** Columns of the one query, in order (rows come back as arrays). */
const GRID_SQL = `
WITH page AS (
  SELECT run_id, run_type, state, logical_date, queued_at, start_date, end_date, id
  FROM dag_runs WHERE dag_id = ?
  ORDER BY logical_date DESC, id DESC LIMIT ? OFFSET ?
)
SELECT p.run_id, p.run_type, p.state, p.logical_date, p.queued_at, p.start_date, p.end_date,
       ti.task_id, ti.map_index, ti.state, ti.try_number, ti.duration, ti.start_date, ti.end_date,
       (SELECT COUNT(*) FROM dag_runs WHERE dag_id = ?)
FROM page p
LEFT JOIN task_instances ti ON ti.dag_id = ? AND ti.run_id = p.run_id
ORDER BY p.logical_date, p.id`;

/** One row of GRID_SQL. */
export type GridSqlRow = [
  runId: string,
  runType: string,
  runState: string,
  logicalDate: string,
  queuedAt: string,
  runStart: string | null,
  runEnd: string | null,
  taskId: string | null,
  mapIndex: number | null,
  state: string | null,
  tryNumber: number | null,
  duration: number | null,
  start: string | null,
  end: string | null,
  total: number,
];

/** Reads one page of the grid with one query. */
export function queryGrid(db: DatabaseSync, dagId: string, limit: number, offset: number): GridSqlRow[] {
  const stmt = db.prepare(GRID_SQL);
  stmt.setReturnArrays(true);
  return stmt.all(dagId, limit, offset, dagId, dagId) as unknown as GridSqlRow[];
}

/** Seconds with 3 decimals under 10 s, whole above (Airflow's `truncate_task_duration`, airflow/www/views.py). */
export function roundDuration(s: number): number {
  return s > 10 ? Math.round(s) : Math.round(s * 1000) / 1000;
}

/**
 * Shapes the rows of GRID_SQL into a GridResult. `tasks` is the DAG's task list (null: the DAG is not
 * loaded; rows then come from the runs alone); `expand` names mapped tasks shown per map index too.
 */
export function shapeGrid(dagId: string, tasks: readonly Pick<TaskInfo, 'taskId' | 'kind' | 'mapped'>[] | null, sqlRows: readonly GridSqlRow[], opts: { limit: number; offset: number; expand: readonly string[]; nowMs: number }): GridResult {
  const runs: GridRun[] = [];
  const runIndex = new Map<string, number>();
  let totalRuns = 0;
  // Per task: per run column: instances [mapIndex, state code, try, duration, startMs, endMs].
  type Ti = [mapIndex: number, code: number, tries: number, duration: number | null, startMs: number | null, endMs: number | null];
  const byTask = new Map<string, Ti[][]>();
  for (const r of sqlRows) {
    totalRuns = r[14];
    let col = runIndex.get(r[0]);
    if (col === undefined) {
      col = runs.length;
      runIndex.set(r[0], col);
      runs.push({ runId: r[0], runType: r[1] as GridRun['runType'], state: r[2] as GridRun['state'], logicalDate: r[3], queuedAt: r[4], startDate: r[5], endDate: r[6] });
    }
    const taskId = r[7];
    if (taskId === null) continue; // a run without task instances yet
    let cols = byTask.get(taskId);
    if (!cols) byTask.set(taskId, (cols = []));
    const startMs = r[12] === null ? null : Date.parse(r[12]);
    const endMs = r[13] === null ? null : Date.parse(r[13]);
    const code = stateCode(r[9] as never);
    let duration = r[11];
    if (duration === null && startMs !== null && (GRID_STATES[code] === 'running' || GRID_STATES[code] === 'queued')) duration = Math.max(0, (opts.nowMs - startMs) / 1000);
    (cols[col] ??= []).push([r[8]!, code, r[10] ?? 0, duration === null ? null : roundDuration(duration), startMs, endMs]);
  }

  const known = new Map<string, { kind: string; mapped: boolean }>();
  const order: string[] = [];
  for (const t of tasks ?? []) {
    known.set(t.taskId, { kind: t.kind, mapped: t.mapped });
    order.push(t.taskId);
  }
  const extra = [...byTask.keys()].filter((id) => !known.has(id)).sort();
  for (const id of extra) {
    // Not in the DAG (removed from it, or the DAG is not loaded): mapped if any instance has a map index.
    const mapped = byTask.get(id)!.some((c) => c?.some((t) => t[0] >= 0));
    known.set(id, { kind: tasks ? 'removed' : 'task', mapped });
    order.push(id);
  }

  const nRuns = runs.length;
  const rows: GridRow[] = [];
  const states: number[] = [];
  const tries: number[] = [];
  const durations: (number | null)[] = [];
  const counts: GridCounts[] = [];
  const mapCounts: Record<string, number> = {};
  const expand = new Set(opts.expand);

  for (const taskId of order) {
    const info = known.get(taskId)!;
    const cols = byTask.get(taskId) ?? [];
    rows.push({ taskId, mapIndex: null, kind: info.kind, mapped: info.mapped });
    let maxIndex = -1;
    for (let c = 0; c < nRuns; c++) {
      const tis = cols[c];
      if (!tis || tis.length === 0) {
        states.push(NO_TI);
        tries.push(0);
        durations.push(null);
        continue;
      }
      if (!info.mapped) {
        const t = tis[0]!;
        states.push(t[1]);
        tries.push(t[2]);
        durations.push(t[3]);
        continue;
      }
      const cell = states.length;
      const count = new Array<number>(GRID_STATES.length).fill(0);
      let start = Infinity;
      let end = -Infinity;
      let open = false;
      let top = 0;
      for (const t of tis) {
        count[t[1]]!++;
        if (t[0] > maxIndex) maxIndex = t[0];
        if (t[2] > top) top = t[2];
        if (t[4] !== null) start = Math.min(start, t[4]);
        if (t[5] !== null) end = Math.max(end, t[5]);
        else if (t[4] !== null) open = true;
      }
      const summary = summaryState(tis.map((t) => t[1]));
      states.push(summary);
      tries.push(top);
      const span = start === Infinity ? null : open ? (opts.nowMs - start) / 1000 : end === -Infinity ? null : (end - start) / 1000;
      durations.push(span === null ? null : roundDuration(Math.max(0, span)));
      counts.push({ cell, counts: count });
    }
    if (info.mapped) {
      mapCounts[taskId] = maxIndex + 1;
      if (expand.has(taskId)) {
        for (let i = 0; i <= maxIndex; i++) {
          rows.push({ taskId, mapIndex: i, kind: info.kind, mapped: true });
          for (let c = 0; c < nRuns; c++) {
            const t = cols[c]?.find((x) => x[0] === i);
            states.push(t ? t[1] : NO_TI);
            tries.push(t ? t[2] : 0);
            durations.push(t ? t[3] : null);
          }
        }
      }
    }
  }
  return { dagId, totalRuns, offset: opts.offset, limit: opts.limit, nowMs: opts.nowMs, runs, rows, states, tries, durations, counts, mapCounts };
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
