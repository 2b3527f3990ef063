/**
 * The XCom benchmarks panel's chart data, without a DOM: scales and ticks,
 * size classes (measured sizes vary a little around the requested ones), the
 * series and bars of each chart, and the pairing of a run's cells with an
 * earlier run's for comparison. Unit-tested in test/webviews/xcom-bench.test.ts.
 */
import { BENCH_BACKENDS } from '../../src/protocol/webviews/xcom-bench.ts';
import type { BenchResults, BenchRow } from '../../src/protocol/webviews/xcom-bench.ts';

const KiB = 1024;
const MiB = 1024 * 1024;

/** Times are rounded to microseconds by the benchmark; a log axis shows 0 as this. */
export const MIN_MS = 0.001;

export function formatBytes(n: number): string {
  const f = (x: number) => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1).replace(/\.0$/, '') : x.toFixed(2).replace(/\.?0+$/, ''));
  if (n >= MiB) return `${f(n / MiB)} MiB`;
  if (n >= KiB) return `${f(n / KiB)} KiB`;
  return `${Math.round(n)} B`;
}

export function formatMs(ms: number): string {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 100) return `${ms.toFixed(0)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  if (ms >= 0.1) return `${ms.toFixed(2)} ms`;
  return `${(ms * 1000).toFixed(0)} µs`;
}

/** An axis tick of milliseconds: "10 µs", "1 ms", "100 ms", "2 s". */
export function formatMsTick(ms: number): string {
  if (ms >= 1000) return `${+(ms / 1000).toPrecision(3)} s`;
  if (ms >= 1) return `${+ms.toPrecision(3)} ms`;
  return `${+(ms * 1000).toPrecision(3)} µs`;
}

/** A relative change as text: "+12%", "−30%", "±0%"; "—" when there is no earlier value. */
export function formatChange(now: number, before: number | undefined): string {
  if (before === undefined || !Number.isFinite(before)) return '—';
  if (before === 0) return now === 0 ? '±0%' : 'new';
  const pct = ((now - before) / before) * 100;
  const r = Math.abs(pct) >= 10 ? Math.round(pct) : Math.round(pct * 10) / 10;
  return r === 0 ? '±0%' : `${r > 0 ? '+' : '−'}${Math.abs(r)}%`;
}

// ------------------------------------------------------------------ scales

export type Scale = ((v: number) => number) & { domain: [number, number]; log: boolean };

export function linearScale(d0: number, d1: number, r0: number, r1: number): Scale {
  const span = d1 - d0 || 1;
  const s = ((v: number) => r0 + ((v - d0) / span) * (r1 - r0)) as Scale;
  s.domain = [d0, d1];
  s.log = false;
  return s;
}

/** A log10 scale; values ≤ 0 are drawn at the domain's low end. */
export function logScale(d0: number, d1: number, r0: number, r1: number): Scale {
  const l0 = Math.log10(d0);
  const span = Math.log10(d1) - l0 || 1;
  const s = ((v: number) => r0 + ((Math.log10(Math.max(v, d0)) - l0) / span) * (r1 - r0)) as Scale;
  s.domain = [d0, d1];
  s.log = true;
  return s;
}

/** The powers of ten enclosing [min, max] (so every value lies inside the axis). */
export function logDomain(min: number, max: number): [number, number] {
  const lo = 10 ** Math.floor(Math.log10(Math.max(min, Number.MIN_VALUE)));
  let hi = 10 ** Math.ceil(Math.log10(Math.max(max, min)));
  if (hi <= lo) hi = lo * 10;
  return [lo, hi];
}

/** Ticks of a log axis: every power of ten in the domain (1-2-5 steps when it spans less than two decades). */
export function logTicks(d0: number, d1: number): number[] {
  const out: number[] = [];
  const decades = Math.log10(d1 / d0);
  const steps = decades < 2 ? [1, 2, 5] : [1];
  for (let e = Math.floor(Math.log10(d0)); e <= Math.ceil(Math.log10(d1)); e++) {
    for (const m of steps) {
      const v = m * 10 ** e;
      if (v >= d0 * (1 - 1e-9) && v <= d1 * (1 + 1e-9)) out.push(Number(v.toPrecision(12)));
    }
  }
  return out;
}

/** Ticks of a log axis of bytes: powers of 1024 (and ×10, ×100 between them when they are few). */
export function byteTicks(d0: number, d1: number): number[] {
  const out: number[] = [];
  for (let u = 1; u <= d1 * 1024; u *= 1024) {
    for (const m of [1, 10, 100]) {
      const v = m * u;
      if (v >= d0 * (1 - 1e-9) && v <= d1 * (1 + 1e-9)) out.push(v);
    }
  }
  return out;
}

/**
 * The domain of a log axis of bytes: from the power of 1024 (or ×10, ×100 of it) at or below min, to the one at or above max,
 * within 5% (a 1 MiB value measures 1,048,686 bytes as JSON: the axis still ends at 1 MiB).
 */
export function byteDomain(min: number, max: number): [number, number] {
  const all: number[] = [];
  for (let u = 1; u <= 1024 ** 4; u *= 1024) for (const m of [1, 10, 100]) all.push(m * u);
  const lo = [...all].reverse().find((v) => v <= min * 1.05) ?? 1;
  const hi = all.find((v) => v * 1.05 >= max) ?? max;
  return [lo, hi > lo ? hi : lo * 10];
}

/** "Nice" linear ticks from 0 (or min) to at least max: steps of 1, 2 or 5 × 10^k. */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const out: number[] = [];
  for (let v = Math.floor(min / step) * step; v <= max + step * 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  if (out[out.length - 1]! < max - step * 1e-9) out.push(Number((out[out.length - 1]! + step).toPrecision(12)));
  return out;
}

// ------------------------------------------------------------------ sizes

/** Cells measured at one requested size: their serialized sizes differ a little by data type. */
export interface SizeClass {
  /** The requested size, as near as can be told (a round size within 10%, else the smallest measured). */
  nominal: number;
  label: string;
  min: number;
  max: number;
}

const ROUND_SIZES: number[] = [];
for (const u of [1, KiB, MiB, KiB * MiB]) for (const m of [1, 2, 4, 5, 8, 10, 16, 20, 25, 32, 50, 64, 100, 128, 200, 256, 500, 512]) ROUND_SIZES.push(m * u);

/** Groups measured sizes into the requested sizes they came from: a new class starts past twice the current one's smallest. */
export function sizeClasses(sizes: readonly number[]): SizeClass[] {
  const sorted = [...new Set(sizes)].sort((a, b) => a - b);
  const out: SizeClass[] = [];
  for (const s of sorted) {
    const last = out[out.length - 1];
    if (last && s < last.min * 2) last.max = s;
    else out.push({ nominal: s, label: '', min: s, max: s });
  }
  for (const c of out) {
    let best = c.min;
    let dist = Infinity;
    for (const r of ROUND_SIZES) {
      const d = Math.abs(Math.log(r / c.min));
      if (d < dist) [best, dist] = [r, d];
    }
    c.nominal = dist <= Math.log(1.1) && best <= c.max * 1.1 ? best : c.min;
    c.label = formatBytes(c.nominal);
  }
  return out;
}

export function classOf(classes: readonly SizeClass[], size: number): SizeClass | undefined {
  return classes.find((c) => size >= c.min && size <= c.max);
}

// ------------------------------------------------------------------ colours and orders

/** A backend's colour index (0–5, the --vscode-charts-* colours in style.css); unknown backends after the known ones. */
export function backendIndex(backend: string, all: readonly string[] = BENCH_BACKENDS): number {
  const i = all.indexOf(backend);
  return (i >= 0 ? i : all.length) % 6;
}

/** Backends in the benchmark's order, then any others. */
export function backendsOf(r: BenchResults): string[] {
  const seen = [...new Set(r.rows.map((x) => x.backend))];
  return seen.sort((a, b) => rank(BENCH_BACKENDS, a) - rank(BENCH_BACKENDS, b) || a.localeCompare(b));
}

export function dataTypesOf(r: BenchResults, order: readonly string[]): string[] {
  return [...new Set(r.rows.map((x) => x.dataType))].sort((a, b) => rank(order, a) - rank(order, b) || a.localeCompare(b));
}

function rank(order: readonly string[], x: string): number {
  const i = order.indexOf(x);
  return i < 0 ? order.length : i;
}

// ------------------------------------------------------------------ series

export interface Point {
  x: number;
  y: number;
  row: BenchRow;
}
export interface Series {
  backend: string;
  points: Point[];
}

export type TimeKind = 'serialize' | 'deserialize';

/** Chart (a): per backend, the median time of `kind` against value size for one data type, by size. Zero times are shown as MIN_MS. */
export function timeSeries(r: BenchResults, dataType: string, kind: TimeKind): Series[] {
  return backendsOf(r)
    .map((backend) => ({
      backend,
      points: r.rows
        .filter((x) => x.backend === backend && x.dataType === dataType)
        .map((row) => ({ x: row.size, y: Math.max(MIN_MS, kind === 'serialize' ? row.serializeMs : row.deserializeMs), row }))
        .sort((a, b) => a.x - b.x),
    }))
    .filter((s) => s.points.length > 0);
}

export interface Bar {
  backend: string;
  dataType: string;
  value: number;
  row: BenchRow;
}

/** Chart (b): one group per data type, one bar per backend, at one size class: stored bytes or the stored/serialized ratio. */
export function storedGroups(r: BenchResults, cls: SizeClass, metric: 'ratio' | 'stored', typeOrder: readonly string[]): { dataType: string; bars: Bar[] }[] {
  const backends = backendsOf(r);
  return dataTypesOf(r, typeOrder)
    .map((dataType) => ({
      dataType,
      bars: backends
        .map((backend) => r.rows.find((x) => x.backend === backend && x.dataType === dataType && x.size >= cls.min && x.size <= cls.max))
        .filter((row): row is BenchRow => row !== undefined)
        .map((row) => ({ backend: row.backend, dataType: row.dataType, value: metric === 'ratio' ? row.ratio : row.storedBytes, row })),
    }))
    .filter((g) => g.bars.length > 0);
}

export interface ThroughputBar {
  backend: string;
  /** The bar: the chosen data type's vsFloor, or the worst over the data types. */
  value: number;
  /** The cell the bar shows (the worst one for "worst"). */
  row: BenchRow;
  /** Every data type's value (drawn as dots when the bar is the worst). */
  dots: { dataType: string; value: number; row: BenchRow }[];
  /** The backend's target (lowest acceptable vsFloor), if it has one. */
  target?: number;
}

/** Chart (c): per backend at one size class, round-trip throughput as a ratio of the raw floor, with the backend's target. */
export function throughputBars(r: BenchResults, cls: SizeClass, dataType: string | 'worst'): ThroughputBar[] {
  const out: ThroughputBar[] = [];
  for (const backend of backendsOf(r)) {
    const cells = r.rows.filter((x) => x.backend === backend && x.size >= cls.min && x.size <= cls.max && (dataType === 'worst' || x.dataType === dataType));
    if (cells.length === 0) continue;
    const row = cells.reduce((a, b) => (b.vsFloor < a.vsFloor ? b : a));
    const target = r.targets.find((t) => t.backend === backend)?.target;
    out.push({ backend, value: row.vsFloor, row, dots: cells.map((c) => ({ dataType: c.dataType, value: c.vsFloor, row: c })), ...(target !== undefined ? { target } : {}) });
  }
  return out;
}

// ------------------------------------------------------------------ comparison

/** The earlier run's cell for each cell of this run: same backend and data type, the nearest size within 1.5×. */
export function matchRows(now: readonly BenchRow[], before: readonly BenchRow[]): Map<BenchRow, BenchRow> {
  const out = new Map<BenchRow, BenchRow>();
  const used = new Set<BenchRow>();
  for (const row of now) {
    let best: BenchRow | undefined;
    let dist = Math.log(1.5);
    for (const b of before) {
      if (b.backend !== row.backend || b.dataType !== row.dataType || used.has(b)) continue;
      const d = Math.abs(Math.log(b.size / row.size));
      if (d <= dist) [best, dist] = [b, d];
    }
    if (best) {
      out.set(row, best);
      used.add(best);
    }
  }
  return out;
}

export interface Change {
  row: BenchRow;
  before: BenchRow;
  /** Relative changes (0.1 = 10% more); negative time changes are improvements. */
  serialize: number;
  deserialize: number;
  stored: number;
  /** vsFloor now − before (positive is better). */
  vsFloor: number;
}

const rel = (now: number, before: number) => (before === 0 ? (now === 0 ? 0 : Infinity) : (now - before) / before);

/** Per-cell change between this run and an earlier one (cells measured in both). */
export function changes(now: BenchResults, before: BenchResults): Change[] {
  const m = matchRows(now.rows, before.rows);
  const out: Change[] = [];
  for (const row of now.rows) {
    const b = m.get(row);
    if (!b) continue;
    out.push({
      row,
      before: b,
      serialize: rel(row.serializeMs, b.serializeMs),
      deserialize: rel(row.deserializeMs, b.deserializeMs),
      stored: rel(row.storedBytes, b.storedBytes),
      vsFloor: Math.round((row.vsFloor - b.vsFloor) * 1000) / 1000,
    });
  }
  return out;
}

/** Whether a time change is worth calling out: more than `threshold` either way (benchmarks are noisy; default 25%). */
export function verdict(change: number, threshold = 0.25): 'faster' | 'slower' | 'same' {
  if (change <= -threshold) return 'faster';
  if (change >= threshold) return 'slower';
  return 'same';
}
