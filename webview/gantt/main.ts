/**
 * The Gantt panel webview, two views of a DAG:
 *
 * - **Gantt** of one run: a row per task instance (the DAG's order), a bar per
 *   try split into queued (hollow) and running (filled, coloured by the try's
 *   state); the waits between tries (a retry's delay, a sensor's reschedule)
 *   as dashed segments; the critical path's rows marked and its bars outlined.
 *   A click on a bar (or Enter on a row's label) opens the grid on that task
 *   instance. Follows a running run live.
 * - **Task duration** over the DAG's last runs: a line per task, the median
 *   across tasks per run and its middle half (25th–75th percentile) as a band;
 *   a task picked in the list is drawn on top.
 *
 * Charts are inline SVG built with DOM APIs, coloured by CSS classes on VS
 * Code's theme variables. Talks to the host only through
 * src/protocol/webviews/gantt.ts; every message received is checked. State
 * (run, view, runs, picked task) is kept with setState.
 */
import { el, svg, byId, button, status, errText } from '../shared/dom.ts';
import { byErrorText, requester } from '../shared/requests.ts';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import './style.css';
import { checkResult, parseHostMessage } from '../../src/protocol/webviews/gantt.ts';
import type { GanttPanelMethods, GanttResult, GanttTarget, GanttView, GridResult, WebviewMessage } from '../../src/protocol/webviews/gantt.ts';
import { KIND_TEXT, durationSeries, formatSeconds, segmentTitle, timeRange, timeTicks } from './format.ts';

interface VsCodeApi {
  postMessage(m: WebviewMessage): void;
  getState(): unknown;
  setState(s: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;
const vscode = acquireVsCodeApi();

const LABEL_W = 210;
const ROW_H = 20;
const AXIS_H = 24;
const DURATION_RUNS = [10, 25, 50, 100, 365];

interface State {
  dagId: string | null;
  runId: string | null;
  view: GanttView;
  limit: number;
  highlight: string | null;
}
const saved = vscode.getState() as Partial<State> | undefined;
const state: State = { dagId: saved?.dagId ?? null, runId: saved?.runId ?? null, view: saved?.view ?? 'gantt', limit: saved?.limit ?? 25, highlight: saved?.highlight ?? null };
const save = () => vscode.setState(state);

const rpc = requester<GanttPanelMethods>('Gantt', (m) => vscode.postMessage(m as WebviewMessage), byErrorText(checkResult));
const request = rpc.request;

window.addEventListener('message', (e: MessageEvent) => {
  const parsed = parseHostMessage(e.data);
  if (!parsed.ok) {
    console.error(`Hangar Gantt: rejected a message from the host: ${parsed.error}`);
    return;
  }
  const m = parsed.value;
  if (m.type === 'init') {
    applyTarget(m.target);
    void start();
  } else if (m.type === 'changed') {
    if (m.dagId !== state.dagId) return;
    if (state.view === 'duration' || m.runId === state.runId || m.runId === '*') schedule(150);
    else scheduleRuns();
  } else rpc.settle(m);
});

function applyTarget(t: GanttTarget | null): void {
  if (!t) return;
  const sameDag = t.dagId === state.dagId;
  if (!sameDag) state.highlight = null;
  state.dagId = t.dagId;
  state.runId = t.runId ?? (sameDag ? state.runId : null);
  if (t.view) state.view = t.view;
  save();
}

// ------------------------------------------------------------------ page

let built = false;
function buildPage(): void {
  built = true;
  const run = el('vscode-single-select', { id: 'f-run', 'aria-label': 'Run', class: 'run-select' });
  run.addEventListener('change', () => {
    const v = ((run as unknown as { value: string }).value || '').trim();
    if (!v || v === state.runId) return;
    state.runId = v;
    save();
    void draw();
  });
  const limit = el('vscode-single-select', { id: 'f-limit', 'aria-label': 'Runs', class: 'limit-select' }, ...DURATION_RUNS.map((n) => el('vscode-option', { value: String(n), ...(n === state.limit ? { selected: '' } : {}) }, `last ${n} runs`)));
  limit.addEventListener('change', () => {
    const n = Number((limit as unknown as { value: string }).value);
    if (!DURATION_RUNS.includes(n) || n === state.limit) return;
    state.limit = n;
    save();
    void draw();
  });
  const task = el('vscode-single-select', { id: 'f-task', 'aria-label': 'Task drawn on top', class: 'task-select' });
  task.addEventListener('change', () => {
    state.highlight = ((task as unknown as { value: string }).value || '').trim() || null;
    save();
    if (lastDurations) drawDurations(lastDurations);
  });
  document.body.replaceChildren(
    el(
      'div',
      { class: 'toolbar' },
      el('strong', { id: 'dag-id' }),
      el(
        'div',
        { class: 'views', role: 'tablist' },
        button('Gantt', () => setView('gantt'), { id: 'view-gantt', role: 'tab' }),
        button('Task duration', () => setView('duration'), { id: 'view-duration', role: 'tab' }),
      ),
      el('label', { class: 'filter only-gantt' }, el('span', {}, 'Run'), run),
      el('label', { class: 'filter only-duration' }, el('span', {}, 'Runs'), limit),
      el('label', { class: 'filter only-duration' }, el('span', {}, 'Task on top'), task),
      el('span', { class: 'spacer' }),
      button('Refresh', () => void draw(), { secondary: '', id: 'refresh' }),
    ),
    el('div', { id: 'status', class: 'status', role: 'status' }),
    el('div', { id: 'summary', class: 'summary' }),
    el('div', { id: 'chart', class: 'chart' }),
    el('div', { id: 'legend', class: 'legend' }),
  );
}

function setView(v: GanttView): void {
  state.view = v;
  save();
  void draw();
}

function showView(): void {
  document.body.dataset.view = state.view;
  for (const v of ['gantt', 'duration'] as const) {
    const b = byId(`view-${v}`);
    b.toggleAttribute('secondary', v !== state.view);
    b.setAttribute('aria-selected', String(v === state.view));
  }
}

async function start(): Promise<void> {
  if (!built) buildPage();
  byId('dag-id').textContent = state.dagId ?? '';
  await loadRuns();
  await draw();
}

let runsTimer: ReturnType<typeof setTimeout> | undefined;
function scheduleRuns(): void {
  clearTimeout(runsTimer);
  runsTimer = setTimeout(() => void loadRuns(), 300);
}

async function loadRuns(): Promise<void> {
  if (!state.dagId) return;
  try {
    const { runs } = await request('runs', { dagId: state.dagId });
    if (!state.runId && runs[0]) {
      state.runId = runs[0].runId;
      save();
    }
    const sel = byId('f-run');
    const list = state.runId && !runs.some((r) => r.runId === state.runId) ? [{ runId: state.runId, state: '', logicalDate: '' }, ...runs] : runs;
    sel.replaceChildren(...list.map((r) => el('vscode-option', { value: r.runId, description: r.state, ...(r.runId === state.runId ? { selected: '' } : {}) }, `${r.runId}${r.state ? ` (${r.state})` : ''}`)));
    (sel as unknown as { value: string }).value = state.runId ?? '';
    requestAnimationFrame(() => ((sel as unknown as { value: string }).value = state.runId ?? ''));
  } catch (e) {
    status(`Runs: ${errText(e)}`, true);
  }
}

let timer: ReturnType<typeof setTimeout> | undefined;
function schedule(ms: number): void {
  clearTimeout(timer);
  timer = setTimeout(() => void draw(), ms);
}

let seq = 0;
async function draw(): Promise<void> {
  showView();
  const my = ++seq;
  const dagId = state.dagId;
  if (!dagId) {
    status('No DAG chosen: use "Hangar: Show Gantt" on a run.');
    return;
  }
  try {
    if (state.view === 'gantt') {
      if (!state.runId) {
        status(`${dagId} has not run yet.`);
        byId('chart').replaceChildren();
        return;
      }
      const g = await request('gantt', { dagId, runId: state.runId });
      if (my !== seq) return;
      status(g.rows.length ? '' : 'This run has no task instances yet.');
      lastGantt = g;
      drawGantt(g);
    } else {
      const g = await request('durations', { dagId, limit: state.limit });
      if (my !== seq) return;
      status(g.runs.length ? '' : `${dagId} has not run yet.`);
      lastDurations = g;
      drawDurations(g);
    }
  } catch (e) {
    if (my === seq) status(errText(e), true);
  }
}

// ------------------------------------------------------------------ Gantt

let lastGantt: GanttResult | null = null;

function openGrid(g: GanttResult, row: number): void {
  const r = g.rows[row]!;
  void request('openGrid', { dagId: g.dagId, runId: g.runId, taskId: r.taskId, mapIndex: r.mapIndex }).catch((e: unknown) => status(errText(e), true));
}

function drawGantt(g: GanttResult): void {
  const chart = byId('chart');
  const width = Math.max(500, chart.clientWidth - 4);
  const plotW = width - LABEL_W - 16;
  const [t0, t1] = timeRange(g);
  const span = t1 - t0;
  const x = (ms: number) => LABEL_W + ((ms - t0) / span) * plotW;
  const height = AXIS_H + g.rows.length * ROW_H + 8;
  const root = svg('svg', { width, height, class: 'gantt', role: 'img', 'aria-label': `Gantt of run ${g.runId}` });
  for (const t of timeTicks(span / 1000).map((s) => s * 1000)) {
    root.append(svg('line', { x1: x(t0 + t), x2: x(t0 + t), y1: AXIS_H - 4, y2: height, class: 'tick' }), svg('text', { x: x(t0 + t), y: AXIS_H - 8, class: 'tick-label', 'text-anchor': 'middle' }, `+${formatSeconds(t / 1000)}`));
  }
  g.rows.forEach((r, i) => {
    const y = AXIS_H + i * ROW_H;
    if (r.critical) root.append(svg('rect', { x: 0, y, width, height: ROW_H, class: 'critical-row' }));
    const label = r.mapIndex >= 0 ? `${r.taskId}[${r.mapIndex}]` : r.taskId;
    const text = svg('text', { x: 6, y: y + ROW_H / 2 + 4, class: `row-label${r.critical ? ' critical' : ''}`, tabindex: '0', 'data-row': String(i), 'data-label': label, 'data-critical': String(r.critical), role: 'button', 'aria-label': `${label}: ${r.state ?? 'no state'}${r.critical ? ', on the critical path' : ''}. Enter opens it in the grid.` }, svg('title', {}, `${label} (${r.state ?? 'no state'}, ${r.tries} tries)${r.critical ? '\non the critical path' : ''}`), `${r.critical ? '◆ ' : ''}${label.length > 28 ? `${label.slice(0, 27)}…` : label}`);
    text.addEventListener('keydown', (e) => {
      if ((e as KeyboardEvent).key === 'Enter') openGrid(g, i);
    });
    root.append(text);
  });
  for (const s of g.segments) {
    const y = AXIS_H + s.row * ROW_H;
    const x0 = x(s.startMs);
    const w = Math.max(1.5, x(s.endMs ?? g.nowMs) - x0);
    const critical = g.rows[s.row]!.critical;
    const title = svg('title', {}, segmentTitle(g, s));
    let shape: SVGElement;
    if (s.kind === 'retry' || s.kind === 'reschedule') shape = svg('line', { x1: x0, x2: x0 + w, y1: y + ROW_H / 2, y2: y + ROW_H / 2, class: `seg wait k-${s.kind}` }, title);
    else shape = svg('rect', { x: x0, y: y + 4, width: w, height: ROW_H - 8, rx: 2, class: `seg k-${s.kind} s-${s.state}${critical ? ' critical' : ''}${s.endMs === null ? ' live' : ''}`, 'data-row': String(s.row), 'data-kind': s.kind, 'data-try': String(s.tryNumber) }, title);
    shape.addEventListener('click', () => openGrid(g, s.row));
    root.append(shape);
  }
  chart.replaceChildren(root);
  const end = g.endDate ? Date.parse(g.endDate) : g.nowMs;
  const began = g.startDate ? Date.parse(g.startDate) : null;
  byId('summary').textContent = `${g.runId} · ${g.runType} · ${g.runState}${began !== null ? ` · ${formatSeconds((end - began) / 1000)}${g.endDate ? '' : ' so far'}` : ''} · ${g.rows.length} task instances, ${g.segments.filter((s) => s.kind === 'running').length} running segments · critical path: ${g.criticalPath.map((c) => (c.mapIndex >= 0 ? `${c.taskId}[${c.mapIndex}]` : c.taskId)).join(' → ') || '—'}`;
  byId('legend').replaceChildren(
    ...(['queued', 'running', 'retry', 'reschedule'] as const).map((k) => el('span', { class: 'legend-item' }, el('span', { class: `swatch k-${k}` }), KIND_TEXT[k])),
    el('span', { class: 'legend-item' }, el('span', { class: 'swatch critical-swatch' }), 'critical path'),
  );
}

// ------------------------------------------------------------------ task duration

let lastDurations: GridResult | null = null;

function drawDurations(g: GridResult): void {
  const chart = byId('chart');
  const d = durationSeries(g);
  const sel = byId('f-task');
  sel.replaceChildren(el('vscode-option', { value: '' }, '(none)'), ...d.lines.map((l) => el('vscode-option', { value: l.taskId, ...(l.taskId === state.highlight ? { selected: '' } : {}) }, l.taskId)));
  (sel as unknown as { value: string }).value = state.highlight ?? '';
  const width = Math.max(500, chart.clientWidth - 4);
  const height = Math.max(260, Math.min(520, chart.clientHeight - 4 || 360));
  const left = 60;
  const bottom = 28;
  const plotW = width - left - 16;
  const plotH = height - bottom - 12;
  const n = d.runs.length;
  const max = d.max > 0 ? d.max : 1;
  const x = (i: number) => left + (n <= 1 ? plotW / 2 : (i / (n - 1)) * plotW);
  const y = (s: number) => 12 + plotH - (s / max) * plotH;
  const root = svg('svg', { width, height, class: 'durations', role: 'img', 'aria-label': `Task durations over the last ${n} runs` });
  for (const t of timeTicks(max, 5)) root.append(svg('line', { x1: left, x2: left + plotW, y1: y(t), y2: y(t), class: 'tick' }), svg('text', { x: left - 6, y: y(t) + 4, 'text-anchor': 'end', class: 'tick-label' }, formatSeconds(t)));
  const path = (vals: (number | null)[]) => {
    let s = '';
    let pen = false;
    vals.forEach((v, i) => {
      if (v === null) {
        pen = false;
        return;
      }
      s += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    });
    return s;
  };
  // The middle half across tasks per run, and its median.
  const band: string[] = [];
  const lower: string[] = [];
  d.p75.forEach((v, i) => v !== null && band.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`));
  d.p25.forEach((v, i) => v !== null && lower.push(`${x(i).toFixed(1)},${y(v).toFixed(1)}`));
  if (band.length) root.append(svg('polygon', { points: [...band, ...lower.reverse()].join(' '), class: 'band' }, svg('title', {}, 'middle half of the task durations (25th–75th percentile)')));
  for (const l of d.lines) {
    if (l.taskId === state.highlight) continue;
    root.append(svg('path', { d: path(l.values), class: 'line', 'data-task-id': l.taskId }, svg('title', {}, l.taskId)));
  }
  root.append(svg('path', { d: path(d.median), class: 'median' }, svg('title', {}, 'median task duration')));
  const top = d.lines.find((l) => l.taskId === state.highlight);
  if (top) root.append(svg('path', { d: path(top.values), class: 'line picked', 'data-task-id': top.taskId }, svg('title', {}, top.taskId)));
  d.runs.forEach((runId, i) => {
    if (n > 40 && i % Math.ceil(n / 20) !== 0 && i !== n - 1) return;
    root.append(svg('circle', { cx: x(i), cy: height - bottom + 8, r: 2, class: 'run-dot' }, svg('title', {}, runId)));
  });
  root.append(svg('text', { x: left, y: height - 4, class: 'tick-label' }, 'older'), svg('text', { x: left + plotW, y: height - 4, 'text-anchor': 'end', class: 'tick-label' }, 'newer runs'));
  chart.replaceChildren(root);
  byId('summary').textContent = `${d.lines.length} tasks over the last ${n} runs of ${g.dagId}; the longest took ${formatSeconds(d.max)}`;
  byId('legend').replaceChildren(
    el('span', { class: 'legend-item' }, el('span', { class: 'swatch line-swatch' }), 'a task'),
    el('span', { class: 'legend-item' }, el('span', { class: 'swatch median-swatch' }), 'median'),
    el('span', { class: 'legend-item' }, el('span', { class: 'swatch band-swatch' }), 'middle half of the tasks'),
    el('span', { class: 'legend-item' }, el('span', { class: 'swatch picked-swatch' }), 'task on top'),
  );
}

new ResizeObserver(() => {
  if (!built) return;
  if (state.view === 'duration' && lastDurations) drawDurations(lastDurations);
  else if (state.view === 'gantt' && lastGantt) drawGantt(lastGantt);
}).observe(document.body);

vscode.postMessage({ type: 'ready' });
