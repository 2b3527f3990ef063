/**
 * Pure helpers of the sensor panel: durations, rates, labels, and the
 * geometry of its two charts (time range and ticks of the timeline, scales
 * of the interval chart). No DOM: unit-tested in test/webviews/sensors.test.ts.
 */
import type { SensorDetail, SensorInstanceSummary } from '../../src/protocol/webviews/sensors.ts';

/** A duration as people write them: 250ms, 1.5s, 30s, 1m30s, 1h30m, 7d. */
export function formatMs(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const neg = ms < 0 ? '−' : '';
  ms = Math.abs(ms);
  if (ms < 1000) return `${neg}${Math.round(ms)}ms`;
  if (ms < 60_000) return `${neg}${Number((ms / 1000).toFixed(ms < 10_000 ? 2 : 0))}s`;
  const parts: string[] = [];
  let s = Math.round(ms / 1000);
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
    if (parts.length === 2) break;
  }
  return neg + parts.join('');
}

/** A poke's duration: fractions of a millisecond are common. */
export function formatPokeMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)}ms` : formatMs(ms);
}

export function formatRate(r: number | null | undefined): string {
  return r === null || r === undefined || !Number.isFinite(r) ? '—' : `${(r * 100).toFixed(r === 1 || r === 0 ? 0 : 1)}%`;
}

/** A time on the runtime clock, as local time with milliseconds. */
export function formatClock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

export function instanceLabel(i: { taskId: string; mapIndex: number }): string {
  return i.mapIndex >= 0 ? `${i.taskId}[${i.mapIndex}]` : i.taskId;
}

/** The instance's state in a word: how it ended, or what it does now. */
export function stateWord(i: Pick<SensorInstanceSummary, 'outcome' | 'live' | 'taskState' | 'pokes'>): string {
  if (i.outcome) return i.outcome;
  if (i.live) {
    if (i.taskState === 'up_for_reschedule') return 'waiting (rescheduled)';
    if (i.taskState === 'up_for_retry') return 'waiting (retry)';
    return i.pokes === 0 ? (i.taskState ?? 'pending') : 'poking';
  }
  return i.taskState ?? 'not run';
}

export const RESULT_TEXT: Record<string, string> = {
  done: 'done',
  not_yet: 'not yet',
  error: 'error',
  timeout: 'timed out',
  breaker_open: 'breaker open',
};

export const BREAKER_TEXT: Record<string, string> = { closed: 'closed', open: 'open', half_open: 'half-open' };

/** A "nice" step for about `target` ticks over `span` ms: 1, 2, 5 × 10ⁿ below a second, then clock-friendly steps. */
export function niceStep(span: number, target = 6): number {
  const raw = Math.max(span, 1) / Math.max(1, target);
  const steps = [1, 2, 5, 10, 20, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000];
  for (const s of steps) if (s >= raw) return s;
  return Math.ceil(raw / 86_400_000) * 86_400_000;
}

export function ticks(from: number, to: number, step: number): number[] {
  const out: number[] = [];
  for (let t = Math.ceil(from / step) * step; t <= to + 1e-9 && out.length < 200; t += step) out.push(t === 0 ? 0 : t); // never -0
  return out;
}

export interface DeadlineMark {
  kind: 'timeout' | 'sla';
  label: string;
  atMs: number;
  missed: boolean;
  /** Outside the chart (far before the first poke, or far after the last): drawn as an arrow at that edge. */
  offChart: 'before' | 'after' | null;
}

export interface TimelineRange {
  start: number;
  end: number;
  deadlines: DeadlineMark[];
}

/** How far past the pokes (× their span) a deadline may be and still stretch the timeline to show it. */
export const DEADLINE_STRETCH = 4;

/**
 * The time range of the timeline: from the first poke to the last poke, the
 * planned ones and (if live) now; stretched to take in the timeout and SLA
 * deadlines when they are near, else those are marked off the chart.
 */
export function timelineRange(d: Pick<SensorDetail, 'pokes' | 'planned' | 'instance' | 'nowMs' | 'timeoutDeadlineMs' | 'sla'>): TimelineRange | null {
  const first = d.instance.firstPokeMs ?? d.pokes[0]?.atMs;
  if (first === undefined || first === null) return null;
  let end = first;
  for (const p of d.pokes) end = Math.max(end, p.atMs + p.durationMs);
  for (const p of d.planned) end = Math.max(end, p.atMs);
  if (d.instance.live) end = Math.max(end, d.nowMs);
  const span = Math.max(end - first, 1000);
  const marks: Omit<DeadlineMark, 'offChart'>[] = [];
  if (d.timeoutDeadlineMs !== null) marks.push({ kind: 'timeout', label: 'timeout', atMs: d.timeoutDeadlineMs, missed: d.instance.outcome === 'timeout' });
  for (const l of d.sla) marks.push({ kind: 'sla', label: `SLA ${l.level}`, atMs: l.deadlineMs, missed: l.missedMs !== null });
  let lo = first;
  let hi = first + span;
  for (const m of marks) {
    if (m.atMs > hi && m.atMs <= first + span * DEADLINE_STRETCH) hi = m.atMs;
    if (m.atMs < lo && m.atMs >= first - span * DEADLINE_STRETCH) lo = m.atMs;
  }
  const pad = (hi - lo) * 0.03;
  const start = lo - (lo < first ? pad : 0);
  const to = hi + pad;
  return { start, end: to, deadlines: marks.map((m) => ({ ...m, offChart: m.atMs > to ? 'after' : m.atMs < start ? 'before' : null })) };
}

/** The top of the interval chart's y axis: the largest interval shown, rounded up to a nice step. */
export function intervalAxisMax(d: Pick<SensorDetail, 'curve' | 'pokes' | 'planned'>): number {
  let max = 0;
  for (const c of d.curve) max = Math.max(max, c.maxMs, c.baseMs);
  for (const p of d.pokes) if (p.nextIntervalMs !== null) max = Math.max(max, p.nextIntervalMs);
  for (const p of d.planned) max = Math.max(max, p.intervalMs);
  if (max <= 0) return 1000;
  const step = niceStep(max, 4);
  return Math.ceil((max * 1.05) / step) * step;
}

/** Pokes drawn in the interval chart: 1 … the last poke, planned or curve point. */
export function intervalPokeCount(d: Pick<SensorDetail, 'curve' | 'pokes' | 'planned'>): number {
  return Math.max(2, d.curve.length, d.pokes.at(-1)?.pokeNumber ?? 0, d.planned.at(-1)?.pokeNumber ?? 0);
}
