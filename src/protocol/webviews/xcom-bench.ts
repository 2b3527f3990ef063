/**
 * The XCom benchmarks panel's message protocol between its webview
 * (webview/xcom-bench) and the extension host (src/vscode/panels/xcom-bench.ts),
 * and the benchmark's results as plain JSON (what `bench/xcom` answers, what
 * `hangar bench xcom --json` prints and what the panel saves under `.hangar/bench/`):
 *
 *   → webview to host: `ready`, then `request`s (one per method below, with an id)
 *   ← host to webview: `init` (a run under way, the latest result), `progress`,
 *     `runDone` / `runFailed`, a `response` per request
 *
 * Every message received is checked by the parse functions here (both sides use
 * them); a malformed one is rejected with a reason and logged. Results read from
 * a saved file go through `parseBenchResults` too.
 * No DOM, no Node, no vscode: the webview bundle, the host and the runtime import this file.
 */
import { int, Invalid, isObj, MAX_TEXT, need, requestEnvelope, responseMessage, text, wrap } from './validate.ts';
import type { Parsed } from './validate.ts';

export type { Parsed } from './validate.ts';

/** The backends the benchmark measures (the runtime's BACKEND_NAMES; a test keeps them equal). */
export const BENCH_BACKENDS = ['database', 'file', 'compressed', 'encrypted', 'hybrid', 's3'] as const;
/** The seed's data types (bench/xcom.bench.ts DATA_TYPES; a test keeps them equal). */
export const BENCH_DATA_TYPES = ['small', 'medium', 'large', 'repetitive', 'sensitive', 'random'] as const;
export const BENCH_ALGORITHMS = ['gzip', 'zstd', 'brotli'] as const;
export type BenchAlgorithm = (typeof BENCH_ALGORITHMS)[number];

/** The error message of a `bench/xcom` request stopped by `bench/cancel`. */
export const BENCH_CANCELLED = 'The benchmark was cancelled';

/** Largest value size a client may ask for (the full run's largest is 16 MiB). */
export const MAX_BENCH_SIZE = 64 * 1024 * 1024;
/** Most rows a result may hold (the full run has about 200). */
export const MAX_BENCH_ROWS = 5000;

/** One cell: a backend, a data type and a value size. Times are medians in milliseconds. */
export interface BenchRow {
  backend: string;
  dataType: string;
  /** Serialized size of the value in bytes. */
  size: number;
  chain: string[];
  serializeMs: number;
  deserializeMs: number;
  storedBytes: number;
  /** storedBytes / size. */
  ratio: number;
  /** The raw operation the backend is compared with, measured in the same run on the same bytes. */
  floor: { name: string; serializeMs: number; deserializeMs: number };
  /** Backend round-trip throughput ÷ floor round-trip throughput (1 = as fast as the floor). */
  vsFloor: number;
}

export interface BenchTarget {
  name: string;
  /** The backend the target is about (the first word of its name). */
  backend: string;
  /** Lowest acceptable vsFloor over the cells ≥ 1 MiB. */
  target: number;
  /** The lowest measured; null when no cell ≥ 1 MiB was measured. */
  worst: number | null;
  ok: boolean;
}

export interface BenchResults {
  meta: { node: string; cpus: number; quick: boolean; date: string; algorithm: string };
  rows: BenchRow[];
  targets: BenchTarget[];
}

/** `bench/xcom` params: what to measure (all optional; default: the quick or the full run). */
export interface BenchRunParams {
  quick?: boolean;
  algorithm?: BenchAlgorithm;
  backends?: string[];
  dataTypes?: string[];
  /** Serialized value sizes in bytes. */
  sizes?: number[];
  /** Repetitions per cell (medians are reported). */
  repeat?: number;
}

/** `bench/progress`: cells done of total; the cell just measured. */
export interface BenchProgress {
  done: number;
  total: number;
  label: string;
}

/** A saved run in the workspace's `.hangar/bench/`. */
export interface SavedRun {
  /** File name only (`xcom-….json`). */
  file: string;
  date: string;
  quick: boolean;
  algorithm: string;
  rows: number;
  /** Targets missed. */
  missed: number;
}

/** The requests the webview makes: params and result of each. */
export interface XComBenchMethods {
  /** Start a run (its result comes as `runDone`); fails if one is under way. */
  run: { params: { quick: boolean; algorithm: BenchAlgorithm; backends: string[] }; result: { started: true } };
  /** Stop the run under way. */
  cancel: { params: Record<string, never>; result: { cancelled: boolean } };
  /** Save a result: to `.hangar/bench/xcom-<timestamp>.json`, or where a save dialog says (`saveAs`). */
  save: { params: { results: BenchResults; saveAs: boolean }; result: { file: string | null; path: string | null } };
  /** The saved runs, newest first. */
  list: { params: Record<string, never>; result: { runs: SavedRun[] } };
  /** Read one saved run (by file name). */
  load: { params: { file: string }; result: { results: BenchResults } };
  /** Open one saved run's JSON in an editor. */
  open: { params: { file: string }; result: { opened: true } };
}
export type XComBenchMethod = keyof XComBenchMethods;
export const METHODS: readonly XComBenchMethod[] = ['run', 'cancel', 'save', 'list', 'load', 'open'];

export type RequestMessage = { [M in XComBenchMethod]: { type: 'request'; id: number; method: M; params: XComBenchMethods[M]['params'] } }[XComBenchMethod];

/** → webview to host. */
export type WebviewMessage = { type: 'ready' } | RequestMessage;

/** ← host to webview. */
export type HostMessage =
  /** On `ready`: the run under way (if any) and the latest finished run of this window (if any). */
  | { type: 'init'; running: BenchProgress | null; latest: { seq: number; results: BenchResults } | null }
  | ({ type: 'progress' } & BenchProgress)
  | { type: 'runDone'; seq: number; results: BenchResults }
  | { type: 'runFailed'; error: string; cancelled: boolean }
  | { type: 'response'; id: number; ok: true; result: unknown }
  | { type: 'response'; id: number; ok: false; error: string };

/** Saved runs are `xcom-<something>.json` directly in `.hangar/bench/`: a name, never a path. */
export const SAVED_FILE_RE = /^xcom-[A-Za-z0-9._-]{1,200}\.json$/;

/** The file name a run saved at `date` gets. */
export function savedFileName(date: Date): string {
  return `xcom-${date.toISOString().replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z')}.json`;
}

// ------------------------------------------------------------------ checks

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const nonNeg = (v: unknown): v is number => num(v) && v >= 0;

function row(v: unknown, i: number): BenchRow {
  const w = `rows[${i}]`;
  need(isObj(v), `${w} must be an object`);
  need(text(v.backend) && text(v.dataType), `${w} needs a backend and a dataType`);
  need(int(v.size, 1, Number.MAX_SAFE_INTEGER), `${w}.size must be a whole number of bytes ≥ 1`);
  need(Array.isArray(v.chain) && v.chain.length <= 16 && v.chain.every(text), `${w}.chain must be a list of codec names`);
  for (const k of ['serializeMs', 'deserializeMs', 'ratio', 'vsFloor'] as const) need(nonNeg(v[k]), `${w}.${k} must be a number ≥ 0`);
  need(int(v.storedBytes, 0), `${w}.storedBytes must be a whole number ≥ 0`);
  const f = v.floor;
  need(isObj(f) && text(f.name) && nonNeg(f.serializeMs) && nonNeg(f.deserializeMs), `${w}.floor needs a name and its times`);
  return {
    backend: v.backend,
    dataType: v.dataType,
    size: v.size,
    chain: [...(v.chain as string[])],
    serializeMs: v.serializeMs as number,
    deserializeMs: v.deserializeMs as number,
    storedBytes: v.storedBytes,
    ratio: v.ratio as number,
    floor: { name: f.name, serializeMs: f.serializeMs, deserializeMs: f.deserializeMs },
    vsFloor: v.vsFloor as number,
  };
}

function target(v: unknown, i: number): BenchTarget {
  const w = `targets[${i}]`;
  need(isObj(v) && text(v.name), `${w} needs a name`);
  need(nonNeg(v.target), `${w}.target must be a number ≥ 0`);
  need(v.worst === null || nonNeg(v.worst), `${w}.worst must be a number or null`);
  need(typeof v.ok === 'boolean', `${w}.ok must be true or false`);
  const backend = v.backend === undefined ? v.name.split(/\s/)[0]! : v.backend;
  need(text(backend), `${w}.backend must be a backend name`);
  return { name: v.name, backend, target: v.target, worst: v.worst, ok: v.ok };
}

/** Checks a benchmark result (from the runtime, a message or a saved file, including `hangar bench xcom --json` output); extra fields are dropped. */
export function checkBenchResults(v: unknown, where = 'results'): BenchResults {
  need(isObj(v), `${where} must be an object`);
  const m = v.meta;
  need(isObj(m), `${where}.meta must be an object`);
  need(typeof m.node === 'string' && int(m.cpus, 0) && typeof m.quick === 'boolean' && text(m.date) && text(m.algorithm), `${where}.meta needs node, cpus, quick, date and algorithm`);
  need(!Number.isNaN(Date.parse(m.date)), `${where}.meta.date must be a date`);
  need(Array.isArray(v.rows) && v.rows.length <= MAX_BENCH_ROWS, `${where}.rows must be a list of at most ${MAX_BENCH_ROWS} cells`);
  need(Array.isArray(v.targets) && v.targets.length <= 64, `${where}.targets must be a list`);
  return {
    meta: { node: m.node.slice(0, MAX_TEXT), cpus: m.cpus, quick: m.quick, date: m.date, algorithm: m.algorithm },
    rows: v.rows.map(row),
    targets: v.targets.map(target),
  };
}

export function parseBenchResults(v: unknown): Parsed<BenchResults> {
  return wrap(() => checkBenchResults(v));
}

function progress(v: Record<string, unknown>, where: string): BenchProgress {
  need(int(v.done, 0) && int(v.total, 0) && v.done <= v.total, `${where}: "done" and "total" must be whole numbers, done ≤ total`);
  need(typeof v.label === 'string' && v.label.length <= MAX_TEXT, `${where}: "label" must be a string`);
  return { done: v.done, total: v.total, label: v.label };
}

function empty(v: unknown, m: string): Record<string, never> {
  need(isObj(v) && Object.keys(v).length === 0, `${m}: params must be {}`);
  return {};
}

function fileName(v: unknown, m: string): string {
  need(typeof v === 'string' && SAVED_FILE_RE.test(v), `${m}: "file" must be the name of a saved run (xcom-….json), not a path`);
  return v;
}

function params(method: XComBenchMethod, p: unknown): RequestMessage['params'] {
  need(isObj(p), `${method}: params must be an object`);
  switch (method) {
    case 'run': {
      need(typeof p.quick === 'boolean', 'run: "quick" must be true or false');
      need(typeof p.algorithm === 'string' && (BENCH_ALGORITHMS as readonly string[]).includes(p.algorithm), `run: "algorithm" must be one of ${BENCH_ALGORITHMS.join(', ')}`);
      const b = p.backends;
      need(
        Array.isArray(b) && b.length > 0 && b.length <= BENCH_BACKENDS.length && b.every((x) => (BENCH_BACKENDS as readonly unknown[]).includes(x)) && new Set(b).size === b.length,
        `run: "backends" must be a non-empty list of distinct backends among ${BENCH_BACKENDS.join(', ')}`,
      );
      return { quick: p.quick, algorithm: p.algorithm as BenchAlgorithm, backends: [...(b as string[])] };
    }
    case 'save':
      need(typeof p.saveAs === 'boolean', 'save: "saveAs" must be true or false');
      return { results: checkBenchResults(p.results, 'save: results'), saveAs: p.saveAs };
    case 'load':
    case 'open':
      return { file: fileName(p.file, method) };
    case 'cancel':
    case 'list':
      return empty(p, method);
  }
}

/** Host side: checks a message from the webview. */
export function parseWebviewMessage(m: unknown): Parsed<WebviewMessage> {
  return wrap(() => requestEnvelope(m, METHODS, params) as WebviewMessage);
}

/** Webview side: checks a message from the host. */
export function parseHostMessage(m: unknown): Parsed<HostMessage> {
  return wrap((): HostMessage => {
    need(isObj(m), 'a message must be an object');
    switch (m.type) {
      case 'init': {
        need(m.running === null || isObj(m.running), 'init: "running" must be progress or null');
        const running = m.running === null ? null : progress(m.running, 'init: running');
        let latest: { seq: number; results: BenchResults } | null = null;
        if (m.latest !== null) {
          need(isObj(m.latest) && int(m.latest.seq, 1), 'init: "latest" must be {seq, results} or null');
          latest = { seq: m.latest.seq, results: checkBenchResults(m.latest.results, 'init: latest.results') };
        }
        return { type: 'init', running, latest };
      }
      case 'progress':
        return { type: 'progress', ...progress(m, 'progress') };
      case 'runDone':
        need(int(m.seq, 1), 'runDone: "seq" must be a whole number ≥ 1');
        return { type: 'runDone', seq: m.seq, results: checkBenchResults(m.results, 'runDone: results') };
      case 'runFailed':
        need(typeof m.error === 'string' && typeof m.cancelled === 'boolean', 'runFailed: needs an error and whether it was cancelled');
        return { type: 'runFailed', error: m.error, cancelled: m.cancelled };
      case 'response':
        return responseMessage(m);
      default:
        throw new Invalid(`unknown message type ${JSON.stringify(m.type)}`);
    }
  });
}

function savedRun(v: unknown, i: number): SavedRun {
  need(isObj(v), `list: runs[${i}] must be an object`);
  need(typeof v.file === 'string' && SAVED_FILE_RE.test(v.file) && text(v.date) && typeof v.quick === 'boolean' && text(v.algorithm), `list: runs[${i}] needs file, date, quick and algorithm`);
  need(int(v.rows, 0) && int(v.missed, 0), `list: runs[${i}] needs counts of rows and missed targets`);
  return { file: v.file, date: v.date, quick: v.quick, algorithm: v.algorithm, rows: v.rows, missed: v.missed };
}

/** Webview side: checks (and normalises) a result before it is used; a malformed one is an error, not a crash. */
export function checkResult<M extends XComBenchMethod>(method: M, r: unknown): Parsed<XComBenchMethods[M]['result']> {
  return wrap(() => {
    need(isObj(r), `${method}: the result is not an object`);
    switch (method) {
      case 'run':
        need(r.started === true, 'run: the result does not say it started');
        return { started: true };
      case 'cancel':
        need(typeof r.cancelled === 'boolean', 'cancel: the result lacks "cancelled"');
        return { cancelled: r.cancelled };
      case 'save':
        need((r.file === null || typeof r.file === 'string') && (r.path === null || typeof r.path === 'string'), 'save: the result lacks file and path');
        return { file: r.file, path: r.path };
      case 'list':
        need(Array.isArray(r.runs), 'list: the result lacks "runs"');
        return { runs: r.runs.map(savedRun) };
      case 'load':
        return { results: checkBenchResults(r.results, 'load: results') };
      case 'open':
        need(r.opened === true, 'open: the result does not say it opened');
        return { opened: true };
    }
    throw new Invalid(`unknown method ${String(method)}`);
  }) as Parsed<XComBenchMethods[M]['result']>;
}

/** What a saved file's list entry shows; throws Invalid (with the reason) for a file that is not a benchmark result. */
export function savedRunOf(file: string, json: unknown): SavedRun {
  const r = checkBenchResults(json, file);
  return { file, date: r.meta.date, quick: r.meta.quick, algorithm: r.meta.algorithm, rows: r.rows.length, missed: r.targets.filter((t) => !t.ok).length };
}
