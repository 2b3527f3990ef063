/**
 * The XCom benchmarks webview: run `hangar bench xcom` in the runtime (quick or
 * full, an algorithm, some backends) with its progress, then three charts drawn
 * as SVG with DOM APIs — (a) time per backend against value size (log-log,
 * serialize or deserialize), (b) stored size and ratio per backend and data type,
 * (c) round-trip throughput as a ratio of the raw floor with each backend's
 * target — and the data table. A result can be saved (`.hangar/bench/`) and an
 * earlier saved run chosen for comparison: its series are drawn dashed and a
 * table lists the change of every cell.
 *
 * Talks to the host only through src/protocol/webviews/xcom-bench.ts; every
 * message received is checked. State (options, result, comparison, chart
 * choices) is kept with setState, so hiding and reopening the panel loses nothing.
 */
import { el, svg, byId, button, status, errText } from '../shared/dom.ts';
import { requester } from '../shared/requests.ts';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';
import '@vscode-elements/elements/dist/vscode-radio-group/index.js';
import '@vscode-elements/elements/dist/vscode-radio/index.js';
import '@vscode-elements/elements/dist/vscode-label/index.js';
import './style.css';
import { BENCH_ALGORITHMS, BENCH_BACKENDS, BENCH_DATA_TYPES, checkBenchResults, checkResult, parseHostMessage } from '../../src/protocol/webviews/xcom-bench.ts';
import type { BenchAlgorithm, BenchProgress, BenchResults, BenchRow, SavedRun, WebviewMessage, XComBenchMethods } from '../../src/protocol/webviews/xcom-bench.ts';
import {
  backendIndex,
  backendsOf,
  byteDomain,
  byteTicks,
  changes,
  classOf,
  dataTypesOf,
  formatBytes,
  formatChange,
  formatMs,
  formatMsTick,
  linearScale,
  logDomain,
  logScale,
  logTicks,
  matchRows,
  niceTicks,
  sizeClasses,
  storedGroups,
  throughputBars,
  timeSeries,
  verdict,
} from './charts.ts';
import type { Scale, SizeClass, TimeKind } from './charts.ts';

interface VsCodeApi {
  postMessage(m: WebviewMessage): void;
  getState(): unknown;
  setState(s: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;
const vscode = acquireVsCodeApi();

// ------------------------------------------------------------------ state

interface State {
  options: { quick: boolean; algorithm: BenchAlgorithm; backends: string[] };
  results: BenchResults | null;
  /** The saved file the result came from or was saved as. */
  savedAs: string | null;
  compareFile: string | null;
  compare: BenchResults | null;
  timeType: string;
  timeKind: TimeKind;
  storedSize: number | null;
  storedMetric: 'ratio' | 'stored';
  tpSize: number | null;
  tpType: string;
}

function loadState(): State {
  const s = (vscode.getState() ?? {}) as Partial<State>;
  const results = (() => {
    try {
      return s.results ? checkBenchResults(s.results) : null;
    } catch {
      return null;
    }
  })();
  const compare = (() => {
    try {
      return s.compare ? checkBenchResults(s.compare) : null;
    } catch {
      return null;
    }
  })();
  const o = s.options;
  return {
    options: {
      quick: typeof o?.quick === 'boolean' ? o.quick : true,
      algorithm: o && (BENCH_ALGORITHMS as readonly string[]).includes(o.algorithm) ? o.algorithm : 'gzip',
      backends: Array.isArray(o?.backends) && o.backends.length ? o.backends.filter((b) => (BENCH_BACKENDS as readonly string[]).includes(b)) : [...BENCH_BACKENDS],
    },
    results,
    savedAs: typeof s.savedAs === 'string' ? s.savedAs : null,
    compareFile: compare && typeof s.compareFile === 'string' ? s.compareFile : null,
    compare,
    timeType: typeof s.timeType === 'string' ? s.timeType : 'medium',
    timeKind: s.timeKind === 'deserialize' ? 'deserialize' : 'serialize',
    storedSize: typeof s.storedSize === 'number' ? s.storedSize : null,
    storedMetric: s.storedMetric === 'stored' ? 'stored' : 'ratio',
    tpSize: typeof s.tpSize === 'number' ? s.tpSize : null,
    tpType: typeof s.tpType === 'string' ? s.tpType : 'worst',
  };
}
const state = loadState();
const save = () => vscode.setState(state);
let running: BenchProgress | null = null;
let saved: SavedRun[] = [];

// ------------------------------------------------------------------ requests

const rpc = requester<XComBenchMethods>('XCom benchmarks', (m) => vscode.postMessage(m as WebviewMessage), checkResult);
const request = rpc.request;

window.addEventListener('message', (e: MessageEvent) => {
  const parsed = parseHostMessage(e.data);
  if (!parsed.ok) {
    console.error(`Hangar XCom benchmarks: rejected a message from the host: ${parsed.error}`);
    return;
  }
  const m = parsed.value;
  switch (m.type) {
    case 'init':
      running = m.running;
      // The latest run of this window, if it is newer than what the panel shows (it finished while the panel was hidden or closed).
      if (m.latest && (!state.results || Date.parse(m.latest.results.meta.date) > Date.parse(state.results.meta.date))) adopt(m.latest.results, null);
      renderRunBar();
      renderAll();
      void loadSaved();
      break;
    case 'progress':
      running = { done: m.done, total: m.total, label: m.label };
      renderRunBar();
      break;
    case 'runDone':
      running = null;
      adopt(m.results, null);
      renderRunBar();
      renderAll();
      status(`Measured ${m.results.rows.length} cells${missedText(m.results)}.`);
      break;
    case 'runFailed':
      running = null;
      renderRunBar();
      status(m.cancelled ? 'Cancelled.' : `The benchmark failed: ${m.error}`, !m.cancelled);
      break;
    case 'response':
      rpc.settle(m);
      break;
  }
});

function adopt(results: BenchResults, savedAs: string | null): void {
  state.results = results;
  state.savedAs = savedAs;
  save();
}

const missedText = (r: BenchResults) => {
  const missed = r.targets.filter((t) => !t.ok).length;
  return r.targets.length ? `; ${missed ? `${missed} of ${r.targets.length} targets missed` : `all ${r.targets.length} targets met`}` : '';
};

// ------------------------------------------------------------------ DOM helpers

/** An SVG tooltip. */
const tip = (text: string) => svg('title', {}, text);
function select(id: string, label: string, options: [string, string][], value: string, onChange: (v: string) => void): HTMLElement {
  const s = el('vscode-single-select', { id, 'aria-label': label, class: 'chart-select' }, ...options.map(([v, t]) => el('vscode-option', { value: v }, t)));
  (s as unknown as { value: string }).value = value;
  s.addEventListener('change', () => onChange((s as unknown as { value: string }).value));
  return el('label', { class: 'field' }, el('span', {}, label), s);
}
const dateText = (iso: string) => new Date(iso).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
const runText = (r: BenchResults) => `${dateText(r.meta.date)} · ${r.meta.quick ? 'quick' : 'full'} · ${r.meta.algorithm} · Node ${r.meta.node} · ${r.meta.cpus} CPUs`;

// ------------------------------------------------------------------ layout

function build(): void {
  const backends = el(
    'div',
    { class: 'backends', role: 'group', 'aria-label': 'Backends' },
    ...BENCH_BACKENDS.map((b) => {
      const c = el('vscode-checkbox', { id: `b-${b}`, label: b, 'data-backend': b });
      (c as unknown as { checked: boolean }).checked = state.options.backends.includes(b);
      c.addEventListener('change', () => {
        const on = BENCH_BACKENDS.filter((x) => (byId(`b-${x}`) as unknown as { checked: boolean }).checked);
        state.options.backends = on;
        save();
        renderRunBar();
      });
      return c;
    }),
  );
  document.body.replaceChildren(
    el('h1', {}, 'XCom Benchmarks'),
    el(
      'p',
      { class: 'hint' },
      'Runs ',
      el('code', {}, 'hangar bench xcom'),
      ' in the Hangar runtime: every backend against the raw operation it builds on, measured in the same run on the same bytes. Medians; 1 = as fast as the floor.',
    ),
    el(
      'div',
      { class: 'controls' },
      select('mode', 'Run', [['quick', 'Quick (3 sizes, a few seconds)'], ['full', 'Full (100 B … 16 MiB, minutes)']], state.options.quick ? 'quick' : 'full', (v) => {
        state.options.quick = v === 'quick';
        save();
      }),
      select('algorithm', 'Compression', BENCH_ALGORITHMS.map((a) => [a, a]), state.options.algorithm, (v) => {
        state.options.algorithm = v as BenchAlgorithm;
        save();
      }),
      el('div', { class: 'field' }, el('span', {}, 'Backends'), backends),
      el('div', { class: 'run-buttons' }, button('Run Benchmark', () => void run(), { id: 'run' }), button('Cancel', () => void cancel(), { id: 'cancel', secondary: '' })),
    ),
    el('div', { id: 'run-bar', class: 'run-bar' }, el('vscode-progress-bar', { id: 'progress', 'aria-label': 'Benchmark progress' }), el('span', { id: 'progress-text', class: 'progress-text' })),
    el('div', { id: 'status', class: 'status', role: 'status' }),
    el('section', { id: 'result' }),
    el('section', { id: 'saved-section' }),
  );
  renderRunBar();
}

function renderRunBar(): void {
  const bar = byId('run-bar');
  bar.hidden = !running;
  const runBtn = byId('run');
  const none = state.options.backends.length === 0;
  runBtn.toggleAttribute('disabled', !!running || none);
  byId('cancel').toggleAttribute('disabled', !running);
  document.body.toggleAttribute('data-running', !!running);
  if (!running) return;
  const p = byId('progress') as unknown as { value?: number; max: number; indeterminate: boolean };
  if (running.total > 0) {
    p.max = running.total;
    p.value = running.done;
    p.indeterminate = false;
  } else p.indeterminate = true;
  byId('progress-text').textContent = running.total ? `${running.done} of ${running.total} cells · ${running.label}` : 'Starting…';
}

async function run(): Promise<void> {
  if (state.options.backends.length === 0) return status('Choose at least one backend.', true);
  try {
    running = { done: 0, total: 0, label: 'starting' };
    renderRunBar();
    status(`Running the ${state.options.quick ? 'quick' : 'full'} benchmark…`);
    await request('run', { quick: state.options.quick, algorithm: state.options.algorithm, backends: state.options.backends });
  } catch (e) {
    running = null;
    renderRunBar();
    status(errText(e), true);
  }
}

async function cancel(): Promise<void> {
  try {
    await request('cancel', {});
    status('Cancelling…');
  } catch (e) {
    status(errText(e), true);
  }
}

// ------------------------------------------------------------------ saved runs and comparison

async function loadSaved(): Promise<void> {
  try {
    saved = (await request('list', {})).runs;
  } catch (e) {
    status(`Saved runs: ${errText(e)}`, true);
  }
  renderSaved();
}

async function saveResult(saveAs: boolean): Promise<void> {
  if (!state.results) return;
  try {
    const r = await request('save', { results: state.results, saveAs });
    if (!r.path) return;
    if (r.file) state.savedAs = r.file;
    save();
    status(`Saved ${r.path}`);
    await loadSaved();
    renderSummary();
  } catch (e) {
    status(`Cannot save: ${errText(e)}`, true);
  }
}

async function compareWith(file: string | null): Promise<void> {
  if (file === null) {
    state.compare = null;
    state.compareFile = null;
  } else {
    try {
      state.compare = (await request('load', { file })).results;
      state.compareFile = file;
    } catch (e) {
      return status(`Cannot compare: ${errText(e)}`, true);
    }
  }
  save();
  renderAll();
}

async function showSaved(file: string): Promise<void> {
  try {
    const r = (await request('load', { file })).results;
    adopt(r, file);
    if (state.compareFile === file) await compareWith(null);
    renderAll();
    status(`Showing the saved run ${file}.`);
  } catch (e) {
    status(`Cannot open ${file}: ${errText(e)}`, true);
  }
}

function renderSaved(): void {
  const s = byId('saved-section');
  const head = el('h2', {}, 'Saved runs');
  if (saved.length === 0) {
    s.replaceChildren(head, el('p', { class: 'hint' }, 'None yet. Save a result to compare a later run with it (files go to .hangar/bench/).'));
    return;
  }
  const rows = saved.map((r) => {
    const comparing = state.compareFile === r.file;
    const tr = el(
      'tr',
      { 'data-file': r.file, class: comparing ? 'comparing' : '' },
      el('td', {}, dateText(r.date)),
      el('td', {}, r.quick ? 'quick' : 'full'),
      el('td', {}, r.algorithm),
      el('td', { class: 'num' }, String(r.rows)),
      el('td', { class: r.missed ? 'miss' : 'ok' }, r.missed ? `${r.missed} missed` : 'all met'),
      el('td', { class: 'file' }, r.file),
      el(
        'td',
        { class: 'actions' },
        comparing
          ? button('Stop Comparing', () => void compareWith(null), { secondary: '', class: 'stop-compare' })
          : button('Compare', () => void compareWith(r.file), { secondary: '', class: 'compare' }),
        button('Show', () => void showSaved(r.file), { secondary: '', class: 'show' }),
        button('Open JSON', () => void request('open', { file: r.file }).catch((e: unknown) => status(errText(e), true)), { secondary: '', class: 'open' }),
      ),
    );
    return tr;
  });
  s.replaceChildren(
    head,
    el(
      'div',
      { class: 'table-wrap' },
      el(
        'table',
        { id: 'saved', class: 'grid' },
        el('thead', {}, el('tr', {}, ...['Date', 'Run', 'Compression', 'Cells', 'Targets', 'File', ''].map((h) => el('th', {}, h)))),
        el('tbody', {}, ...rows),
      ),
    ),
  );
}

// ------------------------------------------------------------------ result

function renderAll(): void {
  renderSummary();
  renderCharts();
  renderSaved();
}

function renderSummary(): void {
  const sec = byId('result');
  const r = state.results;
  if (!r) {
    sec.replaceChildren(el('p', { class: 'hint', id: 'empty' }, 'No result yet: choose the options and run the benchmark.'));
    return;
  }
  const c = state.compare;
  const targets = el(
    'ul',
    { class: 'targets', id: 'targets' },
    ...r.targets.map((t) => {
      const before = c?.targets.find((x) => x.name === t.name || x.backend === t.backend);
      return el(
        'li',
        { 'data-backend': t.backend, class: t.ok ? 'ok' : 'miss' },
        el('span', { class: `verdict ${t.ok ? 'ok' : 'miss'}` }, t.ok ? 'MET' : 'MISSED'),
        ` ${t.name}: worst ${t.worst ?? 'n/a'}`,
        before ? el('span', { class: 'before' }, ` (earlier: ${before.worst ?? 'n/a'}, ${before.ok ? 'met' : 'missed'})`) : '',
      );
    }),
  );
  sec.replaceChildren(
    el(
      'div',
      { class: 'summary' },
      el('div', { class: 'meta', id: 'meta' }, el('strong', {}, 'This run: '), runText(r), state.savedAs ? ` · saved as ${state.savedAs}` : ''),
      c ? el('div', { class: 'meta', id: 'compare-meta' }, el('strong', {}, 'Compared with: '), `${runText(c)} · ${state.compareFile ?? ''} (dashed)`) : '',
      el(
        'div',
        { class: 'actions' },
        button(state.savedAs ? 'Saved' : 'Save', () => void saveResult(false), { id: 'save', ...(state.savedAs ? { disabled: '' } : {}) }),
        button('Save As…', () => void saveResult(true), { id: 'save-as', secondary: '' }),
      ),
    ),
    targets,
    el('div', { id: 'charts', class: 'charts' }),
    el('h2', {}, 'Cells'),
    el('div', { class: 'table-wrap' }, dataTable(r)),
    ...(c ? [el('h2', {}, 'Change against the earlier run'), el('div', { class: 'table-wrap' }, changeTable(r, c))] : []),
  );
}

// ------------------------------------------------------------------ charts

const W = 600;
const H = 300;
const M = { l: 66, r: 14, t: 12, b: 46 };
const X0 = M.l;
const X1 = W - M.r;
const Y0 = H - M.b;
const Y1 = M.t;

function chartCard(id: string, title: string, controls: HTMLElement[], body: SVGElement, legend: HTMLElement, note?: string): HTMLElement {
  return el(
    'figure',
    { class: 'card', id },
    el('figcaption', {}, title),
    el('div', { class: 'chart-controls' }, ...controls),
    body,
    legend,
    ...(note ? [el('p', { class: 'hint note' }, note)] : []),
  );
}

function frame(label: string): SVGElement {
  return svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label, class: 'chart', preserveAspectRatio: 'xMidYMid meet' });
}

function axes(g: SVGElement, x: Scale | null, y: Scale, xTicks: number[], yTicks: number[], xFmt: (v: number) => string, yFmt: (v: number) => string, xLabel: string, yLabel: string): void {
  for (const t of yTicks) {
    const py = y(t);
    g.append(svg('line', { class: 'grid-line', x1: X0, x2: X1, y1: py, y2: py }), svg('text', { class: 'tick', x: X0 - 6, y: py + 4, 'text-anchor': 'end' }, yFmt(t)));
  }
  if (x) {
    for (const t of xTicks) {
      const px = x(t);
      g.append(svg('line', { class: 'grid-line', x1: px, x2: px, y1: Y1, y2: Y0 }), svg('text', { class: 'tick', x: px, y: Y0 + 16, 'text-anchor': 'middle' }, xFmt(t)));
    }
  }
  g.append(
    svg('line', { class: 'axis', x1: X0, x2: X1, y1: Y0, y2: Y0 }),
    svg('line', { class: 'axis', x1: X0, x2: X0, y1: Y1, y2: Y0 }),
    svg('text', { class: 'axis-label', x: (X0 + X1) / 2, y: H - 6, 'text-anchor': 'middle' }, xLabel),
    svg('text', { class: 'axis-label', x: 14, y: (Y0 + Y1) / 2, 'text-anchor': 'middle', transform: `rotate(-90 14 ${(Y0 + Y1) / 2})` }, yLabel),
  );
}

function legend(backends: string[], extra: HTMLElement[] = []): HTMLElement {
  return el(
    'ul',
    { class: 'legend' },
    ...backends.map((b) => el('li', { 'data-backend': b }, el('span', { class: `swatch c${backendIndex(b)}` }), b)),
    ...extra,
  );
}

function compareKey(): HTMLElement[] {
  if (!state.compare) return [];
  return [el('li', { class: 'key' }, el('span', { class: 'swatch-line' }), 'this run'), el('li', { class: 'key' }, el('span', { class: 'swatch-line dashed' }), `earlier (${dateText(state.compare.meta.date)})`)];
}

const typeOptions = (types: string[]): [string, string][] => types.map((t) => [t, t]);

function renderCharts(): void {
  const host = document.getElementById('charts');
  const r = state.results;
  if (!host || !r) return;
  const types = dataTypesOf(r, BENCH_DATA_TYPES);
  const classes = sizeClasses(r.rows.map((x) => x.size));
  if (!types.includes(state.timeType)) state.timeType = types.includes('medium') ? 'medium' : types[0]!;
  const largest = classes[classes.length - 1]!;
  const pickClass = (nominal: number | null) => classes.find((c) => c.nominal === nominal) ?? largest;
  if (state.tpType !== 'worst' && !types.includes(state.tpType)) state.tpType = 'worst';
  host.replaceChildren(timeChart(r, types), storedChart(r, classes, pickClass(state.storedSize)), throughputChart(r, types, classes, pickClass(state.tpSize)));
}

/** Chart (a): time per backend against value size, log-log. */
function timeChart(r: BenchResults, types: string[]): HTMLElement {
  const kind = state.timeKind;
  const now = timeSeries(r, state.timeType, kind);
  const before = state.compare ? timeSeries(state.compare, state.timeType, kind) : [];
  const all = [...now, ...before].flatMap((s) => s.points);
  const root = frame(`${kind} time per backend against value size, ${state.timeType} values`);
  const g = svg('g');
  root.append(g);
  if (all.length === 0) {
    g.append(svg('text', { class: 'empty', x: W / 2, y: H / 2, 'text-anchor': 'middle' }, `No ${state.timeType} cells`));
  } else {
    const [x0, x1] = byteDomain(Math.min(...all.map((p) => p.x)), Math.max(...all.map((p) => p.x)));
    const [y0, y1] = logDomain(Math.min(...all.map((p) => p.y)), Math.max(...all.map((p) => p.y)));
    const x = logScale(x0, x1, X0 + 8, X1 - 8);
    const y = logScale(y0, y1, Y0, Y1);
    axes(g, x, y, byteTicks(x0, x1), logTicks(y0, y1), formatBytes, formatMsTick, 'value size (serialized, log)', `${kind} time, median (log)`);
    const draw = (series: typeof now, earlier: boolean) => {
      for (const s of series) {
        const c = `c${backendIndex(s.backend)}`;
        const d = s.points.map((p, i) => `${i ? 'L' : 'M'}${x(p.x).toFixed(1)},${y(p.y).toFixed(1)}`).join(' ');
        g.append(svg('path', { class: `series ${c}${earlier ? ' before' : ''}`, d, 'data-backend': s.backend }));
        for (const p of s.points) {
          const ms = kind === 'serialize' ? p.row.serializeMs : p.row.deserializeMs;
          const floorMs = kind === 'serialize' ? p.row.floor.serializeMs : p.row.floor.deserializeMs;
          g.append(
            svg(
              'circle',
              { class: `point ${c}${earlier ? ' before' : ''}`, cx: x(p.x).toFixed(1), cy: y(p.y).toFixed(1), r: earlier ? 3 : 3.5, 'data-backend': s.backend, 'data-size': p.x, 'data-ms': ms },
              tip(`${earlier ? 'Earlier run: ' : ''}${s.backend} · ${p.row.dataType} · ${formatBytes(p.x)}\n${kind}: ${formatMs(ms)} (floor ${p.row.floor.name}: ${formatMs(floorMs)})\nchain: ${p.row.chain.join(' > ')}`),
            ),
          );
        }
      }
    };
    draw(before, true);
    draw(now, false);
  }
  const kindPick = el(
    'vscode-radio-group',
    { id: 'time-kind', 'aria-label': 'Time' },
    ...(['serialize', 'deserialize'] as const).map((k) => {
      const radio = el('vscode-radio', { name: 'time-kind', value: k, label: k }, k);
      (radio as unknown as { checked: boolean }).checked = k === kind;
      radio.addEventListener('change', () => {
        if (!(radio as unknown as { checked: boolean }).checked) return;
        state.timeKind = k;
        save();
        renderCharts();
      });
      return radio;
    }),
  );
  return chartCard(
    'chart-time',
    'Time per backend against value size',
    [
      select('time-type', 'Data type', typeOptions(types), state.timeType, (v) => {
        state.timeType = v;
        save();
        renderCharts();
      }),
      el('div', { class: 'field' }, el('span', {}, 'Time'), kindPick),
    ],
    root,
    legend(backendsOf(r), compareKey()),
  );
}

function sizeOptions(classes: SizeClass[]): [string, string][] {
  return classes.map((c) => [String(c.nominal), c.label]);
}

/** Chart (b): stored size or ratio per backend (bars) and data type (groups), at one value size. */
function storedChart(r: BenchResults, classes: SizeClass[], cls: SizeClass): HTMLElement {
  const metric = state.storedMetric;
  const groups = storedGroups(r, cls, metric, BENCH_DATA_TYPES);
  const matched = state.compare ? matchRows(r.rows, state.compare.rows) : new Map<BenchRow, BenchRow>();
  const valueOf = (row: BenchRow) => (metric === 'ratio' ? row.ratio : row.storedBytes);
  const values = groups.flatMap((g) => g.bars.flatMap((b) => [b.value, ...(matched.has(b.row) ? [valueOf(matched.get(b.row)!)] : [])]));
  const root = frame(`stored ${metric === 'ratio' ? 'ratio' : 'size'} per backend and data type at ${cls.label}`);
  const g = svg('g');
  root.append(g);
  let y: Scale;
  if (metric === 'ratio') {
    const ticks = niceTicks(0, Math.max(1, ...values) * 1.1);
    y = linearScale(0, ticks[ticks.length - 1]!, Y0, Y1);
    axes(g, null, y, [], ticks, () => '', (v) => String(v), 'data type', 'stored ÷ serialized size');
    g.append(svg('line', { class: 'ref', x1: X0, x2: X1, y1: y(1), y2: y(1) }, tip('1 = stored as large as serialized')));
  } else {
    const [d0, d1] = byteDomain(Math.max(1, Math.min(...values)), Math.max(...values));
    y = logScale(d0, d1, Y0, Y1);
    axes(g, null, y, [], byteTicks(d0, d1), () => '', formatBytes, 'data type', 'stored size (log)');
  }
  const groupW = (X1 - X0) / Math.max(1, groups.length);
  for (const [gi, grp] of groups.entries()) {
    const gx = X0 + gi * groupW;
    const barW = Math.min(18, (groupW - 12) / Math.max(1, grp.bars.length));
    const start = gx + (groupW - barW * grp.bars.length) / 2;
    g.append(svg('text', { class: 'tick', x: gx + groupW / 2, y: Y0 + 16, 'text-anchor': 'middle' }, grp.dataType));
    for (const [bi, b] of grp.bars.entries()) {
      const bx = start + bi * barW;
      const top = y(b.value);
      const before = matched.get(b.row);
      g.append(
        svg(
          'rect',
          { class: `bar c${backendIndex(b.backend)}`, x: (bx + 1).toFixed(1), y: Math.min(top, Y0 - 1).toFixed(1), width: (barW - 2).toFixed(1), height: Math.max(1, Y0 - top).toFixed(1), 'data-backend': b.backend, 'data-type': b.dataType },
          tip(
            `${b.backend} · ${b.dataType} · ${formatBytes(b.row.size)}\nstored ${formatBytes(b.row.storedBytes)} of ${formatBytes(b.row.size)} (ratio ${b.row.ratio})\nchain: ${b.row.chain.join(' > ')}` +
              (before ? `\nearlier: stored ${formatBytes(before.storedBytes)} (ratio ${before.ratio})` : ''),
          ),
        ),
      );
      if (before) {
        const py = y(valueOf(before));
        g.append(svg('line', { class: `before-tick c${backendIndex(b.backend)}`, x1: bx - 1, x2: bx + barW + 1, y1: py, y2: py }, tip(`earlier: ${metric === 'ratio' ? before.ratio : formatBytes(before.storedBytes)}`)));
      }
    }
  }
  return chartCard(
    'chart-stored',
    'Stored size and ratio per backend and data type',
    [
      select('stored-size', 'Value size', sizeOptions(classes), String(cls.nominal), (v) => {
        state.storedSize = Number(v);
        save();
        renderCharts();
      }),
      select('stored-metric', 'Show', [['ratio', 'ratio (stored ÷ serialized)'], ['stored', 'stored size']], metric, (v) => {
        state.storedMetric = v === 'stored' ? 'stored' : 'ratio';
        save();
        renderCharts();
      }),
    ],
    root,
    legend(backendsOf(r), state.compare ? [el('li', { class: 'key' }, el('span', { class: 'swatch-line dashed' }), 'earlier run')] : []),
  );
}

/** Chart (c): round-trip throughput ÷ the raw floor's, per backend at one size, with each backend's target as a line. */
function throughputChart(r: BenchResults, types: string[], classes: SizeClass[], cls: SizeClass): HTMLElement {
  const bars = throughputBars(r, cls, state.tpType);
  const before = state.compare ? throughputBars(state.compare, classOf(sizeClasses(state.compare.rows.map((x) => x.size)), cls.nominal) ?? cls, state.tpType) : [];
  const values = [...bars.flatMap((b) => [b.value, ...b.dots.map((d) => d.value), b.target ?? 0]), ...before.map((b) => b.value), 1];
  const cap = Math.min(3, Math.max(1.2, ...values) * 1.05);
  const ticks = niceTicks(0, cap);
  const y = linearScale(0, ticks[ticks.length - 1]!, Y0, Y1);
  const root = frame(`throughput as a ratio of the raw floor per backend at ${cls.label}`);
  const g = svg('g');
  root.append(g);
  axes(g, null, y, [], ticks, () => '', (v) => `${v}×`, 'backend', 'throughput ÷ raw floor (1 = as fast)');
  const yc = (v: number) => y(Math.min(v, ticks[ticks.length - 1]!));
  g.append(svg('line', { class: 'ref', x1: X0, x2: X1, y1: y(1), y2: y(1) }, tip('1 = as fast as the raw floor')));
  const slot = (X1 - X0) / Math.max(1, bars.length);
  for (const [i, b] of bars.entries()) {
    const c = `c${backendIndex(b.backend)}`;
    const cx = X0 + slot * (i + 0.5);
    const bw = Math.min(44, slot * 0.55);
    const top = yc(b.value);
    const what = state.tpType === 'worst' ? `worst of the data types (${b.row.dataType})` : b.row.dataType;
    g.append(
      svg(
        'rect',
        { class: `bar ${c}`, x: (cx - bw / 2).toFixed(1), y: top.toFixed(1), width: bw.toFixed(1), height: Math.max(1, Y0 - top).toFixed(1), 'data-backend': b.backend, 'data-value': b.value },
        tip(`${b.backend} · ${formatBytes(b.row.size)} · ${what}\n${b.value}× the floor (${b.row.floor.name})${b.target !== undefined ? `\ntarget ≥ ${b.target}: ${b.value >= b.target ? 'met' : 'missed'}` : ''}`),
      ),
      svg('text', { class: 'tick', x: cx, y: Y0 + 16, 'text-anchor': 'middle' }, b.backend),
    );
    if (b.value > ticks[ticks.length - 1]!) g.append(svg('text', { class: 'clipped', x: cx, y: top - 4, 'text-anchor': 'middle' }, `${b.value}×`));
    if (state.tpType === 'worst' && b.dots.length > 1) {
      for (const [j, d] of b.dots.entries()) {
        const dx = cx - bw / 2 + ((j + 0.5) * bw) / b.dots.length;
        g.append(svg('circle', { class: 'dot', cx: dx.toFixed(1), cy: yc(d.value).toFixed(1), r: 2.5, 'data-type': d.dataType }, tip(`${b.backend} · ${d.dataType}: ${d.value}× the floor`)));
      }
    }
    if (b.target !== undefined) {
      const ty = y(b.target);
      g.append(
        svg('line', { class: `target ${c}`, x1: cx - slot * 0.45, x2: cx + slot * 0.45, y1: ty, y2: ty, 'data-backend': b.backend, 'data-target': b.target }, tip(`${b.backend} target: ≥ ${b.target}× the floor (cells ≥ 1 MiB)`)),
        svg('text', { class: 'target-label', x: cx + slot * 0.45, y: ty - 4, 'text-anchor': 'end' }, `≥ ${b.target}`),
      );
    }
    const earlier = before.find((x) => x.backend === b.backend);
    if (earlier) {
      const py = yc(earlier.value);
      g.append(svg('line', { class: `before-tick ${c}`, x1: cx - bw / 2 - 3, x2: cx + bw / 2 + 3, y1: py, y2: py }, tip(`earlier: ${earlier.value}× the floor (${earlier.row.dataType})`)));
    }
  }
  const extra = [
    el('li', { class: 'key' }, el('span', { class: 'swatch-line target-key' }), 'target (lowest acceptable, cells ≥ 1 MiB)'),
    ...(state.tpType === 'worst' ? [el('li', { class: 'key' }, el('span', { class: 'swatch-dot' }), 'each data type')] : []),
    ...(state.compare ? [el('li', { class: 'key' }, el('span', { class: 'swatch-line dashed' }), 'earlier run')] : []),
  ];
  return chartCard(
    'chart-throughput',
    'Throughput as a ratio of the raw floor',
    [
      select('tp-size', 'Value size', sizeOptions(classes), String(cls.nominal), (v) => {
        state.tpSize = Number(v);
        save();
        renderCharts();
      }),
      select('tp-type', 'Data type', [['worst', 'worst of all'], ...typeOptions(types)], state.tpType, (v) => {
        state.tpType = v;
        save();
        renderCharts();
      }),
    ],
    root,
    legend(backendsOf(r), extra),
    cls.nominal < 1024 * 1024 ? 'The targets apply to values of 1 MiB and more; below that, fixed costs dominate.' : undefined,
  );
}

// ------------------------------------------------------------------ tables

function td(text: string, cls = ''): HTMLElement {
  return el('td', cls ? { class: cls } : {}, text);
}

function dataTable(r: BenchResults): HTMLElement {
  const head = ['Size', 'Data type', 'Backend', 'Chain', 'Serialize', 'Deserialize', 'Stored', 'Ratio', 'Floor', 'Floor ser.', 'Floor de.', 'vs floor'];
  return el(
    'table',
    { id: 'data', class: 'grid' },
    el('thead', {}, el('tr', {}, ...head.map((h) => el('th', {}, h)))),
    el(
      'tbody',
      {},
      ...r.rows.map((x) =>
        el(
          'tr',
          { 'data-backend': x.backend, 'data-type': x.dataType, 'data-size': String(x.size) },
          td(formatBytes(x.size), 'num'),
          td(x.dataType),
          el('td', {}, el('span', { class: `swatch c${backendIndex(x.backend)}` }), x.backend),
          td(x.chain.join(' > '), 'chain'),
          td(formatMs(x.serializeMs), 'num'),
          td(formatMs(x.deserializeMs), 'num'),
          td(formatBytes(x.storedBytes), 'num'),
          td(x.ratio.toFixed(3), 'num'),
          td(x.floor.name),
          td(formatMs(x.floor.serializeMs), 'num'),
          td(formatMs(x.floor.deserializeMs), 'num'),
          td(`${x.vsFloor.toFixed(2)}×`, 'num'),
        ),
      ),
    ),
  );
}

/** A before → now cell; lower is better (times, stored bytes); changes under 25% are noise on a shared machine. */
function changeCell(now: number, before: number, fmt: (v: number) => string): HTMLElement {
  const rel = before === 0 ? (now === 0 ? 0 : Infinity) : (now - before) / before;
  const v = verdict(rel);
  const word = v === 'faster' ? 'better' : v === 'slower' ? 'worse' : '';
  return el('td', { class: `num change ${word}`, title: `before ${fmt(before)}, now ${fmt(now)}` }, `${fmt(before)} → ${fmt(now)} (${formatChange(now, before)})${word ? ` ${word}` : ''}`);
}

function changeTable(r: BenchResults, c: BenchResults): HTMLElement {
  const rows = changes(r, c);
  if (rows.length === 0) return el('p', { class: 'hint', id: 'changes' }, 'The two runs have no cell in common (other backends, data types or sizes).');
  const head = ['Size', 'Data type', 'Backend', 'Serialize', 'Deserialize', 'Stored', 'vs floor'];
  return el(
    'table',
    { id: 'changes', class: 'grid' },
    el('thead', {}, el('tr', {}, ...head.map((h) => el('th', {}, h)))),
    el(
      'tbody',
      {},
      ...rows.map((x) =>
        el(
          'tr',
          { 'data-backend': x.row.backend, 'data-type': x.row.dataType },
          td(formatBytes(x.row.size), 'num'),
          td(x.row.dataType),
          el('td', {}, el('span', { class: `swatch c${backendIndex(x.row.backend)}` }), x.row.backend),
          changeCell(x.row.serializeMs, x.before.serializeMs, formatMs),
          changeCell(x.row.deserializeMs, x.before.deserializeMs, formatMs),
          changeCell(x.row.storedBytes, x.before.storedBytes, formatBytes),
          el('td', { class: `num change ${x.vsFloor >= 0.1 ? 'better' : x.vsFloor <= -0.1 ? 'worse' : ''}` }, `${x.before.vsFloor.toFixed(2)} → ${x.row.vsFloor.toFixed(2)} (${x.vsFloor >= 0 ? '+' : '−'}${Math.abs(x.vsFloor).toFixed(2)})`),
        ),
      ),
    ),
  );
}

// ------------------------------------------------------------------ start

build();
renderAll();
vscode.postMessage({ type: 'ready' });
