/**
 * The runtime side of the Gantt view (`gantt/data`): one run's task instances,
 * their tries and the pokes of its sensors in reschedule mode (three queries
 * whatever the run's size), shaped into segments (queued, running, and the
 * waits between tries) with the critical path marked. The DAG's tasks (order,
 * upstream) come from the DAG list the server already answers, never from the
 * DAG files.
 */
import type { Store } from '../store/store.ts';
import type { GanttPoke, GanttTi, GanttTry } from '../store/repos/views.ts';
import type { TaskInfo, TaskState } from '../../protocol/runtime.ts';
import type { GanttResult, GanttRow, GanttSegment } from '../../protocol/webviews/gantt-values.ts';
import type { DagRunRecord } from '../store/records.ts';

export type { GanttPoke, GanttTi, GanttTry } from '../store/repos/views.ts';

/** The task instances, tries and reschedule-mode pokes of one run (store/repos/views.ts, on either store). */
export function queryGantt(store: Store, dagId: string, runId: string): Promise<{ tis: GanttTi[]; tries: GanttTry[]; pokes: GanttPoke[] }> {
  return store.views.ganttRows(dagId, runId);
}

const ms = (iso: string | null): number | null => (iso === null ? null : Date.parse(iso));

/**
 * Shapes a run's rows into the Gantt. `tasks`: the DAG's tasks in topological order (null: the DAG is not
 * loaded: rows by task id, no critical path across tasks).
 */
export function shapeGantt(
  run: Pick<DagRunRecord, 'dag_id' | 'run_id' | 'run_type' | 'state' | 'logical_date' | 'queued_at' | 'start_date' | 'end_date'>,
  tasks: readonly Pick<TaskInfo, 'taskId' | 'upstream'>[] | null,
  data: { tis: readonly GanttTi[]; tries: readonly GanttTry[]; pokes: readonly GanttPoke[] },
  nowMs: number,
): GanttResult {
  const order = new Map((tasks ?? []).map((t, i) => [t.taskId, i]));
  const tis = [...data.tis].sort((a, b) => (order.get(a.task_id) ?? 1e9) - (order.get(b.task_id) ?? 1e9) || a.task_id.localeCompare(b.task_id) || a.map_index - b.map_index);
  const rows: GanttRow[] = tis.map((t) => ({ taskId: t.task_id, mapIndex: t.map_index, state: t.state, tries: t.try_number, critical: false }));
  const rowOf = new Map(tis.map((t, i) => [`${t.task_id}\u0000${t.map_index}`, i]));
  const pokesOf = new Map<string, GanttPoke[]>();
  for (const p of data.pokes) {
    const k = `${p.task_id}\u0000${p.map_index}\u0000${p.try_number}`;
    let l = pokesOf.get(k);
    if (!l) pokesOf.set(k, (l = []));
    l.push(p);
  }

  const segments: GanttSegment[] = [];
  let prev: { row: number; endMs: number | null; state: TaskState } | null = null;
  for (const t of data.tries) {
    const row = rowOf.get(`${t.task_id}\u0000${t.map_index}`);
    if (row === undefined) continue;
    if (prev && prev.row !== row) prev = null;
    const claim = ms(t.start_date);
    if (claim === null) continue;
    const pokes = pokesOf.get(`${t.task_id}\u0000${t.map_index}\u0000${t.try_number}`);
    // The wait since the try before: a retry's delay, or a reschedule.
    const first = pokes?.[0]?.poked_at_ms ?? claim;
    if (prev && prev.endMs !== null && first > prev.endMs) {
      segments.push({ row, tryNumber: t.try_number, kind: prev.state === 'up_for_reschedule' ? 'reschedule' : 'retry', startMs: prev.endMs, endMs: first, state: prev.state });
    }
    if (pokes && pokes.length > 1) {
      // A sensor in reschedule mode: each poke ran on its own; the store keeps one try row (the last poke).
      for (let i = 0; i < pokes.length; i++) {
        const p = pokes[i]!;
        const last = i === pokes.length - 1;
        const end = last ? (ms(t.end_date) ?? (t.state === 'running' ? null : p.poked_at_ms + p.duration_ms)) : p.poked_at_ms + p.duration_ms;
        segments.push({ row, tryNumber: t.try_number, kind: 'running', startMs: p.poked_at_ms, endMs: end, state: last ? t.state : 'up_for_reschedule' });
        const next = pokes[i + 1];
        if (next && next.poked_at_ms > p.poked_at_ms + p.duration_ms) {
          segments.push({ row, tryNumber: t.try_number, kind: 'reschedule', startMs: p.poked_at_ms + p.duration_ms, endMs: next.poked_at_ms, state: 'up_for_reschedule' });
        }
      }
    } else {
      const running = ms(t.running_at);
      const end = ms(t.end_date);
      if (running !== null && running > claim) segments.push({ row, tryNumber: t.try_number, kind: 'queued', startMs: claim, endMs: running, state: t.state });
      if (t.state === 'queued' && running === null) segments.push({ row, tryNumber: t.try_number, kind: 'queued', startMs: claim, endMs: end, state: t.state });
      else segments.push({ row, tryNumber: t.try_number, kind: 'running', startMs: running ?? claim, endMs: end, state: t.state });
    }
    prev = { row, endMs: ms(t.end_date), state: t.state };
  }

  const criticalPath = tasks ? criticalPathOf(tis, tasks, nowMs) : [];
  for (const c of criticalPath) {
    const r = rowOf.get(`${c.taskId}\u0000${c.mapIndex}`);
    if (r !== undefined) rows[r]!.critical = true;
  }
  return {
    dagId: run.dag_id,
    runId: run.run_id,
    runType: run.run_type,
    runState: run.state,
    logicalDate: run.logical_date,
    queuedAt: run.queued_at,
    startDate: run.start_date,
    endDate: run.end_date,
    nowMs,
    rows,
    segments,
    criticalPath,
  };
}

/**
 * The chain of task instances that decided when the run ended: from the one that ended last, back
 * through, at each step, the instance of an upstream task that ended last (the one it waited for), to a
 * task with no upstream. Task instances never started are not on it.
 */
export function criticalPathOf(tis: readonly GanttTi[], tasks: readonly Pick<TaskInfo, 'taskId' | 'upstream'>[], nowMs: number): { taskId: string; mapIndex: number }[] {
  const upstream = new Map(tasks.map((t) => [t.taskId, t.upstream]));
  const byTask = new Map<string, GanttTi[]>();
  for (const t of tis) {
    if (t.start_date === null) continue;
    let l = byTask.get(t.task_id);
    if (!l) byTask.set(t.task_id, (l = []));
    l.push(t);
  }
  const end = (t: GanttTi) => ms(t.end_date) ?? nowMs;
  let cur: GanttTi | undefined;
  for (const l of byTask.values()) for (const t of l) if (!cur || end(t) > end(cur)) cur = t;
  const path: { taskId: string; mapIndex: number }[] = [];
  const seen = new Set<string>();
  while (cur && !seen.has(cur.task_id)) {
    seen.add(cur.task_id);
    path.push({ taskId: cur.task_id, mapIndex: cur.map_index });
    let next: GanttTi | undefined;
    for (const u of upstream.get(cur.task_id) ?? []) for (const t of byTask.get(u) ?? []) if (!next || end(t) > end(next)) next = t;
    cur = next;
  }
  return path.reverse();
}
