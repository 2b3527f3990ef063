/**
 * The grid's pure helpers (no DOM): durations, labels, the window of cells
 * to draw for a scroll position, and keyboard moves. Unit-tested in
 * test/webviews/grid.test.ts.
 */
import { GRID_STATES, NO_TI } from '../../src/protocol/webviews/grid-values.ts';
import type { GridResult, GridRow, GridRun } from '../../src/protocol/webviews/grid-values.ts';

/** Seconds as people read them: 850ms, 12.3s, 4m 05s, 1h 02m, 2d 3h. */
export function formatDuration(s: number | null): string {
  if (s === null || !Number.isFinite(s)) return '—';
  if (s < 1) return `${Math.round(s * 1000)}ms`;
  if (s < 60) return `${s < 10 ? s.toFixed(1) : Math.round(s)}s`;
  const t = Math.round(s);
  const pad = (n: number) => String(n).padStart(2, '0');
  if (t < 3600) return `${Math.floor(t / 60)}m ${pad(t % 60)}s`;
  if (t < 86_400) return `${Math.floor(t / 3600)}h ${pad(Math.floor((t % 3600) / 60))}m`;
  return `${Math.floor(t / 86_400)}d ${Math.floor((t % 86_400) / 3600)}h`;
}

/** A run's duration in seconds: start → end, or → now while it runs; null before it starts. */
export function runDuration(r: Pick<GridRun, 'startDate' | 'endDate'>, nowMs: number): number | null {
  if (!r.startDate) return null;
  const end = r.endDate ? Date.parse(r.endDate) : nowMs;
  return Math.max(0, (end - Date.parse(r.startDate)) / 1000);
}

/** `2024-01-02 03:04` (UTC) from an ISO date. */
export function shortDate(iso: string): string {
  return iso.slice(0, 16).replace('T', ' ');
}

export const RUN_TYPE_LETTER: Record<string, string> = { manual: 'M', scheduled: 'S', backfill: 'B', test: 'T', asset_triggered: 'A' };

export function stateName(code: number): string {
  return code === NO_TI ? 'no task instance' : (GRID_STATES[code] ?? 'unknown').replaceAll('_', ' ');
}

/** The CSS class of a state code. */
export function stateClass(code: number): string {
  return code === NO_TI ? 's-absent' : `s-${GRID_STATES[code] ?? 'none'}`;
}

/** `2 success · 1 failed` from a mapped cell's counts (index = state code). */
export function countsText(counts: readonly number[]): string {
  const parts: string[] = [];
  counts.forEach((n, code) => {
    if (n > 0) parts.push(`${n} ${stateName(code)}`);
  });
  return parts.join(' · ');
}

export function rowLabel(row: Pick<GridRow, 'taskId' | 'mapIndex'>): string {
  return row.mapIndex === null ? row.taskId : `${row.taskId}[${row.mapIndex}]`;
}

/** The hover text of a cell. */
export function cellTitle(g: GridResult, row: number, col: number, counts?: readonly number[]): string {
  const r = g.rows[row]!;
  const run = g.runs[col]!;
  const i = row * g.runs.length + col;
  const code = g.states[i]!;
  const lines = [`${r.kind === 'group' ? `task group ${r.taskId}` : rowLabel(r)} · ${run.runId}`, `state: ${stateName(code)}`];
  if (code !== NO_TI && r.kind !== 'group') {
    lines.push(`duration: ${formatDuration(g.durations[i]!)}${code === GRID_STATES.indexOf('running') ? ' so far' : ''}`);
    if (g.tries[i]! > 0) lines.push(`try: ${g.tries[i]}`);
  }
  if (counts) lines.push(`${r.kind === 'group' ? 'task instances' : 'map indexes'}: ${countsText(counts)}`);
  return lines.join('\n');
}

/** The hover text of a run's header. */
export function runTitle(run: GridRun, nowMs: number): string {
  return [run.runId, `state: ${run.state}`, `logical date: ${shortDate(run.logicalDate)} UTC`, `duration: ${formatDuration(runDuration(run, nowMs))}${run.endDate ? '' : run.startDate ? ' so far' : ''}`, `type: ${run.runType}`].join('\n');
}

/** The first and one-past-last index to draw along an axis, with `overscan` extra on each side. */
export function visibleRange(scroll: number, viewport: number, pitch: number, count: number, overscan = 4): [number, number] {
  const first = Math.max(0, Math.floor(scroll / pitch) - overscan);
  const last = Math.min(count, Math.ceil((scroll + viewport) / pitch) + overscan);
  return [first, Math.max(first, last)];
}

export interface Pos {
  row: number;
  col: number;
}

/** Where a key moves the focused cell (null: the key does not move it). `page` is the rows of one screen. */
export function moveFocus(p: Pos, key: string, ctrl: boolean, rows: number, cols: number, page: number): Pos | null {
  if (rows === 0 || cols === 0) return null;
  const clamp = (row: number, col: number): Pos => ({ row: Math.min(rows - 1, Math.max(0, row)), col: Math.min(cols - 1, Math.max(0, col)) });
  switch (key) {
    case 'ArrowUp':
      return clamp(p.row - 1, p.col);
    case 'ArrowDown':
      return clamp(p.row + 1, p.col);
    case 'ArrowLeft':
      return clamp(p.row, p.col - 1);
    case 'ArrowRight':
      return clamp(p.row, p.col + 1);
    case 'Home':
      return ctrl ? clamp(0, 0) : clamp(p.row, 0);
    case 'End':
      return ctrl ? clamp(rows - 1, cols - 1) : clamp(p.row, cols - 1);
    case 'PageUp':
      return clamp(p.row - Math.max(1, page), p.col);
    case 'PageDown':
      return clamp(p.row + Math.max(1, page), p.col);
    default:
      return null;
  }
}

/** The bar height (px, at least 2) of each run's header: its duration against the longest on the page. */
export function runBars(runs: readonly GridRun[], nowMs: number, maxPx: number): number[] {
  const d = runs.map((r) => runDuration(r, nowMs) ?? 0);
  const max = Math.max(0, ...d);
  return d.map((x) => (max > 0 ? Math.max(2, Math.round((x / max) * maxPx)) : 2));
}
