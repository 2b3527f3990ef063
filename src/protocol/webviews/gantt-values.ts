/**
 * The values of the Gantt view (`gantt/data`): one run's task instances as
 * rows and their tries as segments on a time axis, each try split into the
 * time it was queued (claimed, waiting for a worker) and the time it ran; the
 * waits between tries (a retry's delay, a sensor's reschedule) are segments of
 * their own, and each poke of a sensor in reschedule mode is a running segment.
 * The critical path (the chain of task instances that decided when the run
 * ended) is marked on its rows.
 *
 * Plain JSON, no DOM, no Node: the runtime server, the extension and the
 * webview import this file.
 */
import type { RunState, RunType, TaskState } from '../runtime.ts';

export type SegmentKind = 'queued' | 'running' | 'retry' | 'reschedule';

export interface GanttSegment {
  /** Index into `rows`. */
  row: number;
  tryNumber: number;
  kind: SegmentKind;
  startMs: number;
  /** null: still going (draw to `nowMs`). */
  endMs: number | null;
  /** The try's state (for a wait: the state the try before it ended in). */
  state: TaskState;
}

export interface GanttRow {
  taskId: string;
  /** -1 unless mapped. */
  mapIndex: number;
  state: TaskState | null;
  tries: number;
  /** On the critical path. */
  critical: boolean;
}

export interface GanttResult {
  dagId: string;
  runId: string;
  runType: RunType;
  runState: RunState;
  logicalDate: string;
  queuedAt: string;
  startDate: string | null;
  endDate: string | null;
  nowMs: number;
  /** Task instances in the DAG's topological order (map indexes in order). */
  rows: GanttRow[];
  segments: GanttSegment[];
  /** Task ids along the critical path, first to last. */
  criticalPath: { taskId: string; mapIndex: number }[];
}

export interface GanttParams {
  dagId: string;
  runId: string;
}

const KINDS: readonly string[] = ['queued', 'running', 'retry', 'reschedule'];

/** Checks a gantt/data result's shape; answers what is wrong, or undefined. */
export function ganttProblem(r: unknown): string | undefined {
  if (typeof r !== 'object' || r === null) return 'the Gantt data is not an object';
  const g = r as Record<string, unknown>;
  if (typeof g.dagId !== 'string' || typeof g.runId !== 'string' || typeof g.runState !== 'string' || typeof g.nowMs !== 'number') return 'the Gantt data lacks dagId, runId, runState or nowMs';
  if (!Array.isArray(g.rows) || !Array.isArray(g.segments) || !Array.isArray(g.criticalPath)) return 'the Gantt data lacks rows, segments or criticalPath';
  for (const x of g.rows as unknown[]) {
    const row = x as Record<string, unknown>;
    if (typeof row !== 'object' || row === null || typeof row.taskId !== 'string' || typeof row.mapIndex !== 'number' || typeof row.critical !== 'boolean') return 'a row lacks its taskId, mapIndex or critical';
  }
  const n = g.rows.length;
  for (const x of g.segments as unknown[]) {
    const s = x as Record<string, unknown>;
    if (typeof s !== 'object' || s === null || typeof s.row !== 'number' || !Number.isInteger(s.row) || s.row < 0 || s.row >= n) return 'a segment names no row';
    if (!KINDS.includes(s.kind as string) || typeof s.startMs !== 'number' || !(s.endMs === null || typeof s.endMs === 'number') || typeof s.tryNumber !== 'number') return 'a segment lacks its kind, try or times';
  }
  return undefined;
}
