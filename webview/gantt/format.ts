/**
 * The Gantt panel's pure helpers (no DOM): the time range and ticks of a run,
 * segment labels, and the task-duration series (a line per task, the run's
 * median and middle half across tasks). Unit-tested in test/webviews/gantt.test.ts.
 */
import type { GanttResult, GanttSegment } from '../../src/protocol/webviews/gantt-values.ts';
import type { GridResult } from '../../src/protocol/webviews/grid-values.ts';
import { NO_TI } from '../../src/protocol/webviews/grid-values.ts';

/** Seconds as people read them: 850ms, 12.3s, 4m 05s, 1h 02m. */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '—';
  if (s < 1) return `${Math.round(s * 1000)}ms`;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)}s`;
  const t = Math.round(s);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (t < 3600) return `${Math.floor(t / 60)}m ${pad(t % 60)}s`;
  return `${Math.floor(t / 3600)}h ${pad(Math.floor((t % 3600) / 60))}m`;
}

/** The time range drawn: the first segment (or the run's start) to the last end (or now, while something runs). */
export function timeRange(g: Pick<GanttResult, 'segments' | 'nowMs' | 'startDate' | 'queuedAt'>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (const s of g.segments) {
    lo = Math.min(lo, s.startMs);
    hi = Math.max(hi, s.endMs ?? g.nowMs);
  }
  if (lo === Infinity) {
    lo = Date.parse(g.startDate ?? g.queuedAt);
    hi = lo + 1000;
  }
  if (hi - lo < 1) hi = lo + 1;
  return [lo, hi];
}

/** A round step (1, 2 or 5 × a power of ten) that cuts `span` into about `n` pieces. */
export function niceStep(span: number, n = 6): number {
  const raw = span / Math.max(1, n);
  const p = 10 ** Math.floor(Math.log10(raw));
  const m = raw / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

/** Ticks (ms from the start) of a time axis `span` ms long. */
export function timeTicks(span: number, n = 6): number[] {
  const step = niceStep(span, n);
  const out: number[] = [];
  for (let t = 0; t <= span + 1e-9; t += step) out.push(t);
  return out;
}

export const KIND_TEXT: Record<GanttSegment['kind'], string> = { queued: 'queued', running: 'running', retry: 'before the next try (a retry or a clear)', reschedule: 'rescheduled (waiting)' };

/** The hover text of a segment. */
export function segmentTitle(g: GanttResult, s: GanttSegment): string {
  const row = g.rows[s.row]!;
  const end = s.endMs ?? g.nowMs;
  const label = row.mapIndex >= 0 ? `${row.taskId}[${row.mapIndex}]` : row.taskId;
  return `${label} · try ${s.tryNumber}\n${KIND_TEXT[s.kind]}${s.kind === 'running' || s.kind === 'queued' ? ` (${s.state.replaceAll('_', ' ')})` : ''}: ${formatSeconds((end - s.startMs) / 1000)}${s.endMs === null ? ' so far' : ''}\nfrom ${new Date(s.startMs).toISOString().slice(11, 23)} UTC`;
}

export interface DurationSeries {
  /** Run ids, oldest → newest (the x axis). */
  runs: string[];
  /** A line per task: seconds per run (null: no duration in that run). */
  lines: { taskId: string; values: (number | null)[] }[];
  /** Per run, across the tasks that have a duration: the median and the middle half (25th–75th percentile). */
  median: (number | null)[];
  p25: (number | null)[];
  p75: (number | null)[];
  max: number;
}

/** The value at fraction `q` of sorted `xs` (linear between neighbours). */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (i - lo);
}

/** Task durations over runs from the grid's data: one line per task (mapped tasks: first start → last end). */
export function durationSeries(g: GridResult): DurationSeries {
  const n = g.runs.length;
  const lines: DurationSeries['lines'] = [];
  g.rows.forEach((row, r) => {
    if (row.mapIndex !== null) return;
    const values: (number | null)[] = [];
    for (let c = 0; c < n; c++) {
      const i = r * n + c;
      values.push(g.states[i] === NO_TI ? null : (g.durations[i] ?? null));
    }
    lines.push({ taskId: row.taskId, values });
  });
  const median: (number | null)[] = [];
  const p25: (number | null)[] = [];
  const p75: (number | null)[] = [];
  let max = 0;
  for (let c = 0; c < n; c++) {
    const xs = lines.map((l) => l.values[c]).filter((v): v is number => v !== null && v !== undefined).sort((a, b) => a - b);
    if (xs.length) max = Math.max(max, xs[xs.length - 1]!);
    median.push(xs.length ? quantile(xs, 0.5) : null);
    p25.push(xs.length ? quantile(xs, 0.25) : null);
    p75.push(xs.length ? quantile(xs, 0.75) : null);
  }
  return { runs: g.runs.map((r) => r.runId), lines, median, p25, p75, max };
}
