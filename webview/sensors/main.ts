/**
 * The sensor panel webview: the sensor task instances (live and past) and, for
 * the selected one, a timeline of its pokes (result, duration, error) with the
 * planned next pokes, now, and the timeout and SLA deadlines as lines; the
 * interval chosen after each poke against the strategy's curve (and its
 * jitter band); the mode, the circuit breaker's state and the sensor's history
 * statistics; and every poke in a table. Charts are inline SVG built with DOM
 * APIs, coloured by CSS classes on VS Code's theme variables.
 *
 * Talks to the host only through src/protocol/webviews/sensors.ts; every
 * message received is checked. A live instance is re-read every second while
 * the panel is visible. State (filter, selection) is kept with setState, so
 * hiding and reopening the panel loses nothing.
 */
import { SVG_NS, el, byId, button, status, errText, inert } from '../shared/dom.ts';
import { byErrorText, requester } from '../shared/requests.ts';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import './style.css';
import { LIVE_POLL_MS, checkResult, parseHostMessage } from '../../src/protocol/webviews/sensors.ts';
import type { SensorDetail, SensorInstanceSummary, SensorInstancesResult, SensorKey, SensorPanelMethods, SensorTarget, WebviewMessage } from '../../src/protocol/webviews/sensors.ts';
import { BREAKER_TEXT, RESULT_TEXT, formatClock, formatMs, formatPokeMs, formatRate, instanceLabel, intervalAxisMax, intervalPokeCount, niceStep, stateWord, ticks, timelineRange } from './format.ts';

interface VsCodeApi {
  postMessage(m: WebviewMessage): void;
  getState(): unknown;
  setState(s: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;
const vscode = acquireVsCodeApi();

interface State {
  dagId: string | null;
  runId: string | null;
  liveOnly: boolean;
  selected: SensorKey | null;
}
function loadState(): State {
  const s = vscode.getState() as Partial<State> | undefined;
  return { dagId: s?.dagId ?? null, runId: s?.runId ?? null, liveOnly: s?.liveOnly ?? false, selected: s?.selected ?? null };
}
const state = loadState();
const save = () => vscode.setState(state);

// ------------------------------------------------------------------ requests

const rpc = requester<SensorPanelMethods>('sensor panel', (m) => vscode.postMessage(m as WebviewMessage), byErrorText(checkResult));
const request = rpc.request;

window.addEventListener('message', (e: MessageEvent) => {
  const parsed = parseHostMessage(e.data);
  if (!parsed.ok) {
    console.error(`Hangar sensor panel: rejected a message from the host: ${parsed.error}`);
    return;
  }
  const m = parsed.value;
  if (m.type === 'init') {
    applyTarget(m.target);
    void start();
  } else if (m.type === 'changed') {
    const all = m.dagId === '*';
    if (all || !state.dagId || state.dagId === m.dagId) scheduleList(150);
    const s = state.selected;
    if (s && (all || (s.dagId === m.dagId && s.runId === m.runId))) scheduleDetail(150);
  } else {
    rpc.settle(m);
  }
});

function applyTarget(t: SensorTarget | null): void {
  if (!t) return;
  state.dagId = t.dagId ?? null;
  // A sensor instance: the list shows that sensor's DAG (its other runs too); a run: that run.
  state.runId = t.taskId ? null : (t.runId ?? null);
  if (t.dagId && t.runId && t.taskId) {
    state.selected = { dagId: t.dagId, runId: t.runId, taskId: t.taskId, mapIndex: t.mapIndex ?? -1 };
    state.liveOnly = false;
  } else state.selected = null;
  save();
}

// ------------------------------------------------------------------ DOM helpers

function svg(tag: string, attrs: Record<string, string | number> = {}, ...children: (Node | string)[]): SVGElement {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, typeof v === 'number' ? String(Math.round(v * 10) / 10) : v);
  e.append(...children.map((c) => (typeof c === 'string' ? inert(c) : c)));
  return e;
}
const title = (text: string) => svg('title', {}, text);
const sameKey = (a: SensorKey | null, b: SensorKey) => !!a && a.dagId === b.dagId && a.runId === b.runId && a.taskId === b.taskId && a.mapIndex === b.mapIndex;
const keyOf = (i: SensorInstanceSummary): SensorKey => ({ dagId: i.dagId, runId: i.runId, taskId: i.taskId, mapIndex: i.mapIndex });
const cls = (s: string) => s.replace(/[^a-z_-]/gi, '_');

// ------------------------------------------------------------------ filters

function buildToolbar(): HTMLElement {
  const dag = el('vscode-single-select', { id: 'f-dag', 'aria-label': 'DAG', class: 'filter-select' }, el('vscode-option', { value: '' }, '(every DAG)'));
  dag.addEventListener('change', () => {
    state.dagId = ((dag as unknown as { value: string }).value || '').trim() || null;
    state.runId = null;
    save();
    void loadList();
  });
  const live = el('vscode-checkbox', { id: 'f-live', label: 'Live only' });
  (live as unknown as { checked: boolean }).checked = state.liveOnly;
  live.addEventListener('change', () => {
    state.liveOnly = (live as unknown as { checked: boolean }).checked;
    save();
    void loadList();
  });
  return el(
    'div',
    { class: 'toolbar' },
    el('label', { class: 'filter' }, el('span', {}, 'DAG'), dag),
    el('span', { class: 'run-filter', id: 'run-filter' }),
    live,
    el('span', { class: 'spacer' }),
    button('Refresh', () => void refresh(), { secondary: '', id: 'refresh' }),
  );
}

async function loadDags(): Promise<void> {
  try {
    const r = await request('dags', {});
    const sel = byId('f-dag');
    const list = state.dagId && !r.dagIds.includes(state.dagId) ? [state.dagId, ...r.dagIds] : r.dagIds;
    const opt = (value: string, label: string) => el('vscode-option', { value, ...(value === (state.dagId ?? '') ? { selected: '' } : {}) }, label);
    sel.replaceChildren(opt('', '(every DAG)'), ...list.map((d) => opt(d, d)));
    // The select takes in its new options asynchronously: set the value once it has them, too.
    (sel as unknown as { value: string }).value = state.dagId ?? '';
    requestAnimationFrame(() => ((sel as unknown as { value: string }).value = state.dagId ?? ''));
  } catch (e) {
    status(`DAG choices: ${errText(e)}`, true);
  }
}

function renderRunFilter(): void {
  const f = byId('run-filter');
  if (!state.runId) return f.replaceChildren();
  f.replaceChildren(
    el('span', { class: 'chip' }, `run ${state.runId}`),
    button('Every run', () => {
      state.runId = null;
      save();
      void loadList();
    }, { secondary: '', id: 'every-run' }),
  );
}

// ------------------------------------------------------------------ the instances list

let list: SensorInstancesResult | undefined;
let listTimer: ReturnType<typeof setTimeout> | undefined;
let listLoading = false;

function scheduleList(ms: number): void {
  clearTimeout(listTimer);
  listTimer = setTimeout(() => void loadList(), ms);
}

async function loadList(): Promise<void> {
  if (listLoading) return scheduleList(200);
  listLoading = true;
  clearTimeout(listTimer);
  renderRunFilter();
  try {
    list = await request('instances', { liveOnly: state.liveOnly, ...(state.dagId ? { dagId: state.dagId } : {}), ...(state.dagId && state.runId ? { runId: state.runId } : {}) });
    renderList();
    const n = list.instances.length;
    const live = list.instances.filter((i) => i.live).length;
    status(n === 0 ? 'No sensor has run yet with this filter.' : `${n} sensor instance${n === 1 ? '' : 's'}${live ? `, ${live} live` : ''}`);
    if (!state.selected && list.instances[0]) select(list.instances[0]);
    // The counts of live instances move between state changes (pokes in poke mode): re-read while any is live.
    if (live) scheduleList(2 * LIVE_POLL_MS);
  } catch (e) {
    status(`Cannot list sensors: ${errText(e)}`, true);
  } finally {
    listLoading = false;
  }
}

function renderList(): void {
  if (!list) return;
  const focused = document.activeElement instanceof HTMLTableRowElement && document.activeElement.closest('#instances') ? document.activeElement.rowIndex : -1;
  const head = el('tr', {}, ...['Sensor', 'Run', 'Mode', 'State', 'Pokes', 'Last poke', 'Wait', 'Breaker'].map((h) => el('th', { scope: 'col' }, h)));
  const rows = list.instances.map((i) => {
    const word = stateWord(i);
    const tr = el(
      'tr',
      {
        tabindex: '0',
        'data-task-id': i.taskId,
        'data-run-id': i.runId,
        'data-map-index': String(i.mapIndex),
        class: `${sameKey(state.selected, keyOf(i)) ? 'selected' : ''}${i.live ? ' live' : ''}`,
        'aria-selected': sameKey(state.selected, keyOf(i)) ? 'true' : 'false',
      },
      el('td', { class: 'sensor', title: i.dagId }, instanceLabel(i), el('span', { class: 'dim' }, ` ${i.dagId}`)),
      el('td', { class: 'run', title: `logical date ${i.logicalDate}` }, i.runId),
      el('td', {}, i.mode ?? '—'),
      el('td', {}, el('span', { class: `state state-${cls(i.outcome ?? (i.live ? 'live' : (i.taskState ?? 'none')))}` }, word)),
      el('td', { class: 'num' }, String(i.pokes)),
      el('td', {}, i.lastResult ? el('span', { class: `result result-${cls(i.lastResult)}` }, RESULT_TEXT[i.lastResult] ?? i.lastResult) : '—'),
      el('td', { class: 'num' }, i.waitMs !== null ? formatMs(i.waitMs) : i.live && i.firstPokeMs !== null && list ? `${formatMs(list.nowMs - i.firstPokeMs)}…` : '—'),
      el('td', {}, el('span', { class: `breaker breaker-${cls(i.breaker)}` }, BREAKER_TEXT[i.breaker] ?? i.breaker)),
    );
    const pick = () => select(i);
    tr.addEventListener('click', pick);
    tr.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        pick();
      }
    });
    return tr;
  });
  byId('instances').replaceChildren(el('thead', {}, head), el('tbody', {}, ...(rows.length ? rows : [el('tr', {}, el('td', { colspan: '8', class: 'empty' }, state.liveOnly ? 'No sensor is poking or waiting now.' : 'No sensor instances.'))])));
  if (focused >= 0) (byId<HTMLTableElement>('instances').rows[focused] as HTMLElement | undefined)?.focus();
}

function select(i: SensorInstanceSummary): void {
  state.selected = keyOf(i);
  save();
  renderList();
  detail = undefined;
  void loadDetail();
}

// ------------------------------------------------------------------ the detail

let detail: SensorDetail | undefined;
let detailTimer: ReturnType<typeof setTimeout> | undefined;
let detailLoading = false;

function scheduleDetail(ms: number): void {
  clearTimeout(detailTimer);
  detailTimer = setTimeout(() => void loadDetail(), ms);
}

async function loadDetail(): Promise<void> {
  const key = state.selected;
  const box = byId('detail');
  if (!key) {
    box.replaceChildren(el('p', { class: 'hint' }, 'Select a sensor instance to see its pokes.'));
    return;
  }
  if (detailLoading) return scheduleDetail(200);
  detailLoading = true;
  clearTimeout(detailTimer);
  if (!detail) box.replaceChildren(el('p', { class: 'hint' }, 'Loading…'));
  try {
    const d = await request('detail', key);
    if (!sameKey(state.selected, key)) return; // another instance was selected meanwhile
    const wasLive = detail?.instance.live;
    detail = d;
    renderDetail(d);
    // The list's row of this instance moves with it (pokes, last poke, state) between list reads.
    const row = list?.instances.findIndex((x) => sameKey(key, keyOf(x))) ?? -1;
    if (list && row >= 0) {
      list.instances[row] = d.instance;
      list.nowMs = d.nowMs;
      renderList();
    }
    if (d.instance.live) scheduleDetail(LIVE_POLL_MS);
    else if (wasLive) scheduleList(0); // it just ended: the list's row too
  } catch (e) {
    box.replaceChildren(el('p', { class: 'error', role: 'alert' }, `Cannot read ${instanceLabel(key)} of run ${key.runId}: ${errText(e)}`));
  } finally {
    detailLoading = false;
  }
}

function badge(text: string, kind: string, tip?: string): HTMLElement {
  return el('span', { class: `badge ${kind}`, ...(tip ? { title: tip } : {}) }, text);
}

function stat(label: string, value: string, id: string, tip?: string): HTMLElement {
  return el('div', { class: 'stat', id, ...(tip ? { title: tip } : {}) }, el('div', { class: 'stat-value' }, value), el('div', { class: 'stat-label' }, label));
}

function renderDetail(d: SensorDetail): void {
  const i = d.instance;
  const word = stateWord(i);
  const b = d.breaker;
  const head = el(
    'div',
    { class: 'detail-head' },
    el('h2', {}, instanceLabel(i), el('span', { class: 'where' }, ` ${i.dagId} · ${i.runId}`)),
    el('span', { class: 'spacer' }),
    button('Open log', () => void request('openLog', keyOf(i)).catch((e: unknown) => status(errText(e), true)), { secondary: '', id: 'open-log' }),
  );
  const badges = el(
    'div',
    { class: 'badges', id: 'badges' },
    badge(word, `state state-${cls(i.outcome ?? (i.live ? 'live' : (i.taskState ?? 'none')))}`, `task state: ${i.taskState ?? 'none'}`),
    badge(`mode: ${i.mode ?? 'unknown'}`, 'mode', i.mode === 'reschedule' ? 'frees its worker slot between pokes (up_for_reschedule)' : 'holds its worker slot and sleeps between pokes'),
    badge(`breaker: ${BREAKER_TEXT[b.state] ?? b.state}`, `breaker breaker-${cls(b.state)}`),
    ...(i.sensorType ? [badge(i.sensorType, 'kind', 'sensor type')] : []),
  );
  const facts = el('p', { class: 'facts', id: 'facts' });
  const factBits: string[] = [];
  if (d.strategyText) factBits.push(`Interval: ${d.strategyText}.`);
  if (d.timeoutMs !== null) factBits.push(`Timeout ${formatMs(d.timeoutMs)} from the first poke${d.timeoutDeadlineMs !== null ? ` (${formatClock(d.timeoutDeadlineMs)})` : ''}.`);
  if (d.sla.length) factBits.push(`SLA${d.slaRelativeTo ? ` from ${d.slaRelativeTo.replaceAll('_', ' ')}` : ''}: ${d.sla.map((l) => `${l.level} at ${formatClock(l.deadlineMs)}${l.missedMs !== null ? ' (missed)' : ''}`).join(', ')}.`);
  if (i.firstPokeMs !== null) factBits.push(`${d.totalPokes} poke${d.totalPokes === 1 ? '' : 's'} since ${formatClock(i.firstPokeMs)}${i.waitMs !== null ? `, done after ${formatMs(i.waitMs)}` : i.live ? `, waiting for ${formatMs(d.nowMs - i.firstPokeMs)}` : ''}.`);
  facts.textContent = inert(factBits.join(' '));
  const st = d.stats;
  const stats = el(
    'div',
    { class: 'stats', id: 'stats', 'aria-label': 'History of this sensor' },
    stat('success rate', formatRate(st?.successRate), 'stat-success', st ? `${st.successes} of ${st.instances - st.waiting} finished instances` : undefined),
    stat('average wait', formatMs(st?.avgWaitMs), 'stat-avg', 'first poke → done, successful instances'),
    stat('p95 wait', formatMs(st?.p95WaitMs), 'stat-p95', 'first poke → done, successful instances (nearest rank)'),
    stat('timeouts', formatRate(st?.timeoutRate), 'stat-timeouts', st ? `${st.timeouts} timed out` : undefined),
    stat('pokes / success', st?.pokesPerSuccess === null || st?.pokesPerSuccess === undefined ? '—' : st.pokesPerSuccess.toFixed(1), 'stat-pps'),
    stat('instances', st ? String(st.instances) : '0', 'stat-instances', st ? `${st.successes} success · ${st.timeouts} timeout · ${st.failures} failed · ${st.skipped} skipped · ${st.waiting} waiting` : undefined),
    stat('poke errors', st ? String(st.pokeErrors) : '0', 'stat-errors'),
    stat('SLA misses', st ? String(st.slaMisses) : '0', 'stat-sla'),
  );
  const breaker = el(
    'p',
    { class: `breaker-line breaker-${cls(b.state)}`, id: 'breaker' },
    `Circuit breaker ${BREAKER_TEXT[b.state] ?? b.state}`,
    b.threshold !== null ? ` · ${b.consecutiveErrors} of ${b.threshold} consecutive errors open it for ${formatMs(b.coolDownMs)} (then ${b.whenOpen === 'reschedule' ? 'wait' : 'fail'})` : b.consecutiveErrors ? ` · ${b.consecutiveErrors} consecutive errors` : ' · none configured',
    b.openUntilMs !== null && b.state !== 'closed' ? ` · open until ${formatClock(b.openUntilMs)}` : '',
    b.openedCount ? ` · opened ${b.openedCount}×` : '',
    b.lastError ? el('span', { class: 'dim' }, ` · last error: ${b.lastError}`) : '',
  );
  const timeline = el('div', { class: 'chart', id: 'timeline' });
  const intervals = el('div', { class: 'chart', id: 'intervals' });
  const children: (Node | string)[] = [head, badges, facts, stats, breaker];
  if (d.note) children.push(el('p', { class: 'note', id: 'note' }, d.note));
  children.push(
    el('h3', {}, 'Timeline'),
    legend([['done', 'done'], ['not_yet', 'not yet'], ['error', 'error'], ['breaker_open', 'breaker open'], ['timeout', 'timed out'], ['planned', 'planned'], ['line-timeout', 'timeout'], ['line-sla', 'SLA'], ['line-now', 'now']]),
    timeline,
    el('h3', {}, 'Intervals against the strategy'),
    legend([['curve', 'strategy (before jitter)'], ['band', 'jitter range'], ['chosen', 'interval chosen'], ['planned', 'planned']]),
    intervals,
    el('h3', {}, `Pokes${d.totalPokes > d.pokes.length ? ` (the latest ${d.pokes.length} of ${d.totalPokes})` : ''}`),
    pokeTable(d),
  );
  const box = byId('detail');
  const scroll = box.scrollTop;
  box.replaceChildren(...children);
  box.scrollTop = scroll;
  document.body.dataset.live = String(i.live);
  drawCharts();
}

function legend(items: [string, string][]): HTMLElement {
  return el('div', { class: 'legend', 'aria-hidden': 'true' }, ...items.map(([k, label]) => el('span', { class: 'legend-item' }, el('span', { class: `swatch swatch-${k}` }), label)));
}

function pokeTable(d: SensorDetail): HTMLElement {
  const first = d.instance.firstPokeMs ?? d.pokes[0]?.atMs ?? 0;
  const head = el('tr', {}, ...['#', 'Try', 'At', '', 'Result', 'Duration', 'Next interval', 'Error'].map((h) => el('th', { scope: 'col' }, h)));
  const rows = d.pokes.map((p) =>
    el(
      'tr',
      { 'data-poke': String(p.pokeNumber), class: `poke-row result-row-${cls(p.result)}` },
      el('td', { class: 'num' }, String(p.pokeNumber)),
      el('td', { class: 'num' }, String(p.tryNumber)),
      el('td', { class: 'date' }, formatClock(p.atMs)),
      el('td', { class: 'num dim' }, `+${formatMs(p.atMs - first)}`),
      el('td', {}, el('span', { class: `result result-${cls(p.result)}` }, RESULT_TEXT[p.result] ?? p.result)),
      el('td', { class: 'num' }, formatPokeMs(p.durationMs)),
      el('td', { class: 'num' }, p.nextIntervalMs === null ? '—' : formatMs(p.nextIntervalMs)),
      el('td', { class: 'error-text' }, p.error ?? ''),
    ),
  );
  const planned = d.planned.map((p) =>
    el(
      'tr',
      { class: 'planned-row' },
      el('td', { class: 'num' }, String(p.pokeNumber)),
      el('td', {}, ''),
      el('td', { class: 'date' }, formatClock(p.atMs)),
      el('td', { class: 'num dim' }, `+${formatMs(p.atMs - first)}`),
      el('td', {}, el('span', { class: 'result result-planned' }, 'planned')),
      el('td', {}, ''),
      el('td', { class: 'num' }, `after ${formatMs(p.intervalMs)}`),
      el('td', {}, ''),
    ),
  );
  const empty = rows.length === 0 ? [el('tr', {}, el('td', { colspan: '8', class: 'empty' }, 'No pokes yet.'))] : [];
  return el('div', { class: 'table-wrap pokes-wrap' }, el('table', { id: 'pokes', class: 'grid' }, el('thead', {}, head), el('tbody', {}, ...rows, ...planned, ...empty)));
}

// ------------------------------------------------------------------ charts

function chartWidth(box: HTMLElement): number {
  return Math.max(320, Math.floor(box.clientWidth || 640));
}

function drawCharts(): void {
  if (!detail) return;
  const t = byId('timeline');
  const iv = byId('intervals');
  if (t) t.replaceChildren(drawTimeline(detail, chartWidth(t)));
  if (iv) iv.replaceChildren(drawIntervals(detail, chartWidth(iv)));
}

function drawTimeline(d: SensorDetail, width: number): Node {
  const range = timelineRange(d);
  if (!range) return el('p', { class: 'hint' }, 'No pokes yet: the timeline starts at the first poke.');
  const H = 150;
  const L = 16;
  const R = 16;
  const laneY = 78;
  const axisY = 118;
  const x = (ms: number) => L + ((ms - range.start) / (range.end - range.start)) * (width - L - R);
  const first = d.instance.firstPokeMs ?? d.pokes[0]!.atMs;
  const root = svg('svg', { width, height: H, viewBox: `0 0 ${width} ${H}`, class: 'timeline', role: 'img', 'aria-label': `Timeline of ${d.pokes.length} pokes` });

  // Axis: time since the first poke.
  const axis = svg('g', { class: 'axis' });
  axis.append(svg('line', { x1: L, x2: width - R, y1: axisY, y2: axisY }));
  const step = niceStep(range.end - range.start, Math.max(3, Math.floor(width / 110)));
  for (const tk of ticks(range.start - first, range.end - first, step)) {
    const tx = x(first + tk);
    axis.append(svg('line', { x1: tx, x2: tx, y1: axisY, y2: axisY + 4 }), svg('text', { x: tx, y: axisY + 16, 'text-anchor': 'middle' }, tk === 0 ? '0' : `${tk > 0 ? '+' : ''}${formatMs(tk)}`));
  }
  root.append(axis);

  // Deadlines (and now) as vertical lines, labels staggered at the top.
  const lines = svg('g', { class: 'deadlines' });
  let row = 0;
  const vline = (at: number, klass: string, label: string, tip: string) => {
    const lx = x(at);
    const y = 12 + (row++ % 3) * 13;
    const anchor = lx > width - 80 ? 'end' : lx < 80 ? 'start' : 'middle';
    lines.append(svg('g', { class: klass }, title(tip), svg('line', { x1: lx, x2: lx, y1: y + 3, y2: axisY }), svg('text', { x: lx, y, 'text-anchor': anchor }, label)));
  };
  for (const m of range.deadlines) {
    const klass = `deadline deadline-${m.kind}${m.missed ? ' missed' : ''}`;
    const tip = `${m.label} at ${formatClock(m.atMs)}${m.missed ? ' (missed)' : ''}`;
    if (m.offChart === null) vline(m.atMs, klass, `${m.label}${m.missed ? ' ✗' : ''}`, tip);
    else {
      const y = 12 + (row++ % 3) * 13;
      const after = m.offChart === 'after';
      const when = after ? `at +${formatMs(m.atMs - first)}` : `at −${formatMs(first - m.atMs)}`;
      lines.append(svg('g', { class: `${klass} off-chart` }, title(tip), svg('text', { x: after ? width - 2 : 2, y, 'text-anchor': after ? 'end' : 'start' }, after ? `${m.label} ${when} →` : `← ${m.label} ${when}`)));
    }
  }
  if (d.instance.live) vline(d.nowMs, 'now', 'now', `now: ${formatClock(d.nowMs)}`);
  root.append(lines);

  // The waits between pokes, then the pokes: a bar as long as the poke took, a dot coloured by its result.
  const waits = svg('g', { class: 'waits' });
  for (let k = 1; k < d.pokes.length; k++) {
    const a = d.pokes[k - 1]!;
    const b = d.pokes[k]!;
    waits.append(svg('line', { x1: x(a.atMs + a.durationMs), x2: x(b.atMs), y1: laneY, y2: laneY, class: b.tryNumber !== a.tryNumber ? 'wait retry' : 'wait' }));
  }
  const last = d.pokes.at(-1);
  if (last && d.planned.length) {
    const pts = [last.atMs + last.durationMs, ...d.planned.map((p) => p.atMs)];
    for (let k = 1; k < pts.length; k++) waits.append(svg('line', { x1: x(pts[k - 1]!), x2: x(pts[k]!), y1: laneY, y2: laneY, class: 'wait planned' }));
  } else if (last && d.instance.live) waits.append(svg('line', { x1: x(last.atMs + last.durationMs), x2: x(d.nowMs), y1: laneY, y2: laneY, class: 'wait planned' }));
  root.append(waits);

  const pokes = svg('g', { class: 'pokes' });
  let prevTry = 0;
  let lastLabelX = -Infinity;
  for (const p of d.pokes) {
    const px = x(p.atMs);
    const g = svg('g', { class: `poke result-${cls(p.result)}`, 'data-poke': String(p.pokeNumber), tabindex: '0' });
    g.append(title(`poke ${p.pokeNumber} (try ${p.tryNumber}) at ${formatClock(p.atMs)}: ${RESULT_TEXT[p.result] ?? p.result}, took ${formatPokeMs(p.durationMs)}${p.nextIntervalMs !== null ? `; next in ${formatMs(p.nextIntervalMs)}` : ''}${p.error ? `\n${p.error}` : ''}`));
    const w = x(p.atMs + p.durationMs) - px;
    if (w >= 2) g.append(svg('rect', { x: px, y: laneY - 4, width: w, height: 8, rx: 2, class: 'duration' }));
    g.append(svg('circle', { cx: px, cy: laneY, r: 6 }));
    if (p.result === 'error' || p.result === 'timeout' || p.result === 'breaker_open') g.append(svg('path', { d: `M${px - 3} ${laneY - 3}L${px + 3} ${laneY + 3}M${px + 3} ${laneY - 3}L${px - 3} ${laneY + 3}`, class: 'mark' }));
    if (px - lastLabelX >= 18) {
      g.append(svg('text', { x: px, y: laneY + 22, 'text-anchor': 'middle', class: 'poke-label' }, String(p.pokeNumber)));
      lastLabelX = px;
    }
    if (p.tryNumber !== prevTry && prevTry !== 0) g.append(svg('text', { x: px, y: laneY - 12, 'text-anchor': 'middle', class: 'try-label' }, `try ${p.tryNumber}`));
    prevTry = p.tryNumber;
    pokes.append(g);
  }
  for (const p of d.planned) {
    const px = x(p.atMs);
    pokes.append(svg('g', { class: 'poke planned', 'data-planned': String(p.pokeNumber) }, title(`planned poke ${p.pokeNumber} at ${formatClock(p.atMs)} (after ${formatMs(p.intervalMs)})`), svg('circle', { cx: px, cy: laneY, r: 5 })));
  }
  root.append(pokes);
  return root;
}

function drawIntervals(d: SensorDetail, width: number): Node {
  const hasChosen = d.pokes.some((p) => p.nextIntervalMs !== null);
  if (d.curve.length === 0 && !hasChosen) return el('p', { class: 'hint' }, d.pokes.length ? 'No interval was chosen: the sensor finished at its first poke.' : 'No pokes yet.');
  const H = 170;
  const L = 56;
  const R = 16;
  const T = 10;
  const B = 30;
  const n = intervalPokeCount(d);
  const yMax = intervalAxisMax(d);
  const x = (poke: number) => L + ((poke - 1) / Math.max(1, n - 1)) * (width - L - R);
  const y = (ms: number) => T + (1 - ms / yMax) * (H - T - B);
  const root = svg('svg', { width, height: H, viewBox: `0 0 ${width} ${H}`, class: 'intervals', role: 'img', 'aria-label': `Intervals of ${d.pokes.length} pokes against the strategy` });
  const axis = svg('g', { class: 'axis' });
  axis.append(svg('line', { x1: L, x2: width - R, y1: y(0), y2: y(0) }), svg('line', { x1: L, x2: L, y1: T, y2: y(0) }));
  for (const v of ticks(0, yMax, niceStep(yMax, 4))) {
    axis.append(svg('line', { x1: L - 4, x2: width - R, y1: y(v), y2: y(v), class: v === 0 ? '' : 'grid' }), svg('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end' }, formatMs(v)));
  }
  const xStep = Math.max(1, Math.ceil(n / Math.max(2, Math.floor((width - L - R) / 36))));
  for (let k = 1; k <= n; k += xStep) axis.append(svg('text', { x: x(k), y: H - B + 16, 'text-anchor': 'middle' }, String(k)));
  axis.append(svg('text', { x: width - R, y: H - 2, 'text-anchor': 'end', class: 'axis-title' }, 'after poke #'));
  root.append(axis);

  if (d.curve.length) {
    const upper = d.curve.map((c) => `${x(c.poke).toFixed(1)},${y(c.maxMs).toFixed(1)}`);
    const lower = d.curve.map((c) => `${x(c.poke).toFixed(1)},${y(c.minMs).toFixed(1)}`).reverse();
    if (d.curve.some((c) => c.maxMs !== c.minMs)) root.append(svg('polygon', { points: [...upper, ...lower].join(' '), class: 'band' }));
    root.append(svg('polyline', { points: d.curve.map((c) => `${x(c.poke).toFixed(1)},${y(c.baseMs).toFixed(1)}`).join(' '), class: 'curve' }, title('the strategy’s interval before jitter')));
  }
  const dots = svg('g', { class: 'dots' });
  for (const p of d.pokes) {
    if (p.nextIntervalMs === null) continue;
    const c = d.curve.find((k) => k.poke === p.pokeNumber);
    dots.append(svg('circle', { cx: x(p.pokeNumber), cy: y(p.nextIntervalMs), r: 4.5, class: 'chosen', 'data-poke': String(p.pokeNumber) }, title(`after poke ${p.pokeNumber}: waited ${formatMs(p.nextIntervalMs)}${c ? ` (strategy ${formatMs(c.baseMs)}${c.minMs !== c.maxMs ? `, jitter ${formatMs(c.minMs)}–${formatMs(c.maxMs)}` : ''})` : ''}`)));
  }
  // The interval before planned poke k is waited after poke k − 1; the first one is already a chosen dot.
  for (const p of d.planned.slice(1)) {
    dots.append(svg('circle', { cx: x(p.pokeNumber - 1), cy: y(p.intervalMs), r: 4, class: 'planned' }, title(`planned: after poke ${p.pokeNumber - 1}, wait ${formatMs(p.intervalMs)}`)));
  }
  root.append(dots);
  return root;
}

let resizeTimer: ReturnType<typeof setTimeout> | undefined;
new ResizeObserver(() => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(drawCharts, 100);
}).observe(document.body);

// ------------------------------------------------------------------ start

async function refresh(): Promise<void> {
  await loadDags();
  await loadList();
  await loadDetail();
}

let started = false;
async function start(): Promise<void> {
  if (!started) {
    started = true;
    document.body.replaceChildren(
      buildToolbar(),
      el('div', { class: 'status', id: 'status', role: 'status' }),
      el('div', { class: 'table-wrap instances-wrap' }, el('table', { id: 'instances', class: 'grid' })),
      el('section', { class: 'detail', id: 'detail', 'aria-label': 'Selected sensor instance' }),
    );
  }
  (byId('f-live') as unknown as { checked: boolean }).checked = state.liveOnly;
  detail = undefined;
  await refresh();
}

vscode.postMessage({ type: 'ready' });
