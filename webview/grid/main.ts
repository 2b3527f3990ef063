/**
 * The grid webview: a DAG's last runs (columns, oldest → newest) by its tasks
 * (rows), a cell per task instance coloured by state, run headers as bars of
 * their duration coloured by run state. Mapped tasks are one row (the summary
 * state, counts per state on hover) that expands into a row per map index.
 * Only the cells in view are in the DOM (365 runs × 200 tasks stay fast).
 * Arrow keys, Home/End, PageUp/PageDown move across cells; Enter opens the
 * detail pane (tries, the log streamed while it runs, XComs, clear, mark);
 * Escape closes it; + and − expand and collapse a mapped task.
 * Task groups are rows of their own (webview/grid/rows.ts), closed at first
 * as in Airflow: a group's cells show the state of its task instances (counts
 * on hover); Enter, Space, + or − (or a click on the chevron) open and close
 * it, − on a task inside a group closes the group. Which groups are open is
 * kept with the rest of the state.
 *
 * Talks to the host only through src/protocol/webviews/grid.ts; every message
 * received is checked. State (DAG, page, expanded tasks, focus, selection) is
 * kept with setState, so hiding and reopening the panel loses nothing.
 */
import { el, byId, button, status, errText, inert } from '../shared/dom.ts';
import { byErrorText, requester } from '../shared/requests.ts';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import './style.css';
import { GRID_STATES, NO_TI, checkResult, parseHostMessage } from '../../src/protocol/webviews/grid.ts';
import type { GridPanelMethods, GridResult, GridTarget, TaskKey, WebviewMessage } from '../../src/protocol/webviews/grid.ts';
import { buildView, groupsOf, parentRow } from './rows.ts';
import type { GridView } from './rows.ts';
import type { TryInfo } from '../../src/protocol/runtime.ts';
import { RUN_TYPE_LETTER, cellTitle, countsText, formatDuration, moveFocus, rowLabel, runBars, runTitle, shortDate, stateClass, stateName, visibleRange } from './format.ts';

interface VsCodeApi {
  postMessage(m: WebviewMessage): void;
  getState(): unknown;
  setState(s: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;
const vscode = acquireVsCodeApi();
const scriptStart = performance.now();
// For bench/grid.e2e-bench.ts: when this script started, on the machine's clock.
document.body.dataset.scriptStartEpochMs = String(Date.now());

const LIMITS = [10, 25, 50, 100, 365, 1000];
const NAME_W = 220;
const HEADER_H = 56;
const COL_W = 18;
const ROW_H = 22;

interface State {
  dagId: string | null;
  limit: number;
  offset: number;
  expand: string[];
  /** Task groups shown open (their tasks below them). */
  open: string[];
  /** The focused cell, by task/map index and run (positions move as runs arrive). */
  focus: { taskId: string; mapIndex: number | null; runId: string } | null;
  selected: TaskKey | null;
  /** The try whose log the detail shows (null: the latest). */
  logTry: number | null;
}
/** Whether the panel starts afresh (no state saved by an earlier webview of it). */
const fresh = vscode.getState() === undefined;
function loadState(): State {
  const s = vscode.getState() as Partial<State> | undefined;
  return { dagId: s?.dagId ?? null, limit: s?.limit ?? 25, offset: s?.offset ?? 0, expand: s?.expand ?? [], open: s?.open ?? [], focus: s?.focus ?? null, selected: s?.selected ?? null, logTry: s?.logTry ?? null };
}
const state = loadState();
const save = () => vscode.setState(state);

/** The page as read; `grid` is it as shown (task groups folded: webview/grid/rows.ts). */
let page: GridResult | null = null;
let grid: GridView | null = null;
/** A task to show (its groups opened) when the next page arrives: the cell the panel was opened on. */
let reveal: string | null = null;
/** Counts of mapped summary cells by cell index. */
let countsByCell = new Map<number, number[]>();
let focus = { row: 0, col: 0 };
let firstPaint = true;

// ------------------------------------------------------------------ requests

const rpc = requester<GridPanelMethods>('grid', (m) => vscode.postMessage(m as WebviewMessage), byErrorText(checkResult));
const request = rpc.request;

window.addEventListener('message', (e: MessageEvent) => {
  const parsed = parseHostMessage(e.data);
  if (!parsed.ok) {
    console.error(`Hangar grid: rejected a message from the host: ${parsed.error}`);
    return;
  }
  const m = parsed.value;
  if (m.type === 'init') {
    applyTarget(m.target);
    void start();
  } else if (m.type === 'changed') {
    if (m.dagId === state.dagId) scheduleGrid(100);
  } else if (m.type === 'logLine') {
    const s = state.selected;
    const log = document.getElementById('log');
    if (s && log && log.dataset.following === 'true' && s.dagId === m.dagId && s.runId === m.runId && s.taskId === m.taskId && s.mapIndex === m.mapIndex && Number(log.dataset.try) === m.tryNumber) {
      const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.append(inert(m.line.endsWith('\n') ? m.line : `${m.line}\n`));
      if (stick) log.scrollTop = log.scrollHeight;
    }
  } else {
    rpc.settle(m);
  }
});

function applyTarget(t: GridTarget | null): void {
  if (!t) return;
  if (t.limit && (fresh || t.dagId !== state.dagId)) state.limit = t.limit;
  if (t.dagId !== state.dagId) {
    state.dagId = t.dagId;
    state.offset = 0;
    state.expand = [];
    state.open = [];
    state.focus = null;
    state.selected = null;
  }
  if (t.cell) {
    state.selected = t.cell;
    state.focus = { taskId: t.cell.taskId, mapIndex: t.cell.mapIndex >= 0 ? t.cell.mapIndex : null, runId: t.cell.runId };
    state.logTry = null;
    reveal = t.cell.taskId;
  }
  save();
}

// ------------------------------------------------------------------ layout

function buildPage(): void {
  const limits = LIMITS.includes(state.limit) ? LIMITS : [...LIMITS, state.limit].sort((a, b) => a - b);
  const limit = el('vscode-single-select', { id: 'f-limit', 'aria-label': 'Runs shown', class: 'limit-select' }, ...limits.map((n) => el('vscode-option', { value: String(n), ...(n === state.limit ? { selected: '' } : {}) }, `${n} runs`)));
  limit.addEventListener('change', () => {
    const n = Number((limit as unknown as { value: string }).value);
    if (!limits.includes(n) || n === state.limit) return;
    state.limit = n;
    state.offset = 0;
    save();
    void loadGrid();
  });
  const dag = el('vscode-single-select', { id: 'f-dag', 'aria-label': 'DAG', class: 'dag-select' });
  dag.addEventListener('change', () => {
    const v = ((dag as unknown as { value: string }).value || '').trim();
    if (!v || v === state.dagId) return;
    applyTarget({ dagId: v });
    void loadGrid();
  });
  document.body.replaceChildren(
    el(
      'div',
      { class: 'toolbar' },
      el('label', { class: 'filter' }, el('span', {}, 'DAG'), dag),
      el('label', { class: 'filter' }, el('span', {}, 'Runs'), limit),
      button('◀ Older', () => turnPage(+1), { secondary: '', id: 'older', title: 'Older runs' }),
      button('Newer ▶', () => turnPage(-1), { secondary: '', id: 'newer', title: 'Newer runs' }),
      el('span', { id: 'page-info', class: 'dim' }),
      el('span', { class: 'spacer' }),
      button('Refresh', () => void loadGrid(), { secondary: '', id: 'refresh' }),
    ),
    el('div', { id: 'status', class: 'status', role: 'status' }),
    el('div', { id: 'focus-info', class: 'focus-info', 'aria-live': 'polite' }),
    el(
      'div',
      { class: 'main' },
      el('div', { id: 'grid', class: 'grid', tabindex: '0', role: 'grid', 'aria-label': 'Task instances by run' }, el('div', { id: 'grid-inner', class: 'grid-inner' })),
      el('div', { id: 'detail', class: 'detail', hidden: '' }),
    ),
    legend(),
  );
  const g = byId('grid');
  g.addEventListener('scroll', () => scheduleRender());
  g.addEventListener('keydown', onKey);
  g.addEventListener('click', onClick);
  g.addEventListener('mouseover', (e) => {
    const cell = (e.target as HTMLElement).closest<HTMLElement>('.cell[data-row]');
    if (!cell || cell.title || !grid) return;
    const r = Number(cell.dataset.row);
    const c = Number(cell.dataset.col);
    cell.title = inert(cellTitle(grid, r, c, countsByCell.get(r * grid.runs.length + c)));
  });
  new ResizeObserver(() => scheduleRender()).observe(g);
}

function legend(): HTMLElement {
  return el(
    'div',
    { class: 'legend', 'aria-label': 'States' },
    ...GRID_STATES.filter((s) => s !== 'removed').map((s, i) => el('span', { class: 'legend-item' }, el('span', { class: `swatch cell ${stateClass(i)}` }), s === 'none' ? 'no state' : s.replaceAll('_', ' '))),
  );
}

function turnPage(dir: 1 | -1): void {
  if (!grid) return;
  const next = Math.max(0, state.offset + dir * state.limit);
  if (next === state.offset || (dir > 0 && next >= grid.totalRuns)) return;
  state.offset = next;
  save();
  void loadGrid();
}

async function loadDags(): Promise<void> {
  try {
    const r = await request('dags', {});
    const sel = byId('f-dag');
    const list = state.dagId && !r.dagIds.includes(state.dagId) ? [state.dagId, ...r.dagIds] : r.dagIds;
    sel.replaceChildren(...list.map((d) => el('vscode-option', { value: d, ...(d === state.dagId ? { selected: '' } : {}) }, d)));
    (sel as unknown as { value: string }).value = state.dagId ?? '';
    requestAnimationFrame(() => ((sel as unknown as { value: string }).value = state.dagId ?? ''));
  } catch (e) {
    status(`DAG choices: ${errText(e)}`, true);
  }
}

let started = false;
async function start(): Promise<void> {
  if (!started) {
    started = true;
    buildPage();
  }
  void loadDags();
  await loadGrid();
}

// ------------------------------------------------------------------ the grid

let gridTimer: ReturnType<typeof setTimeout> | undefined;
let loading: Promise<void> | null = null;
let again = false;
function scheduleGrid(ms: number): void {
  clearTimeout(gridTimer);
  gridTimer = setTimeout(() => void loadGrid(), ms);
}

async function loadGrid(): Promise<void> {
  if (!state.dagId) {
    status('No DAG chosen: use "Hangar: Show Grid" on a DAG.');
    return;
  }
  if (loading) {
    again = true;
    return loading;
  }
  const dagId = state.dagId;
  const t0 = performance.now();
  loading = (async () => {
    try {
      const key = `${dagId}\u0000${state.limit}\u0000${state.offset}\u0000${state.expand.join(',')}`;
      // A new page wider than the screen: first the runs that fit (the newest of the page), painted at once,
      // then the whole page. Live updates of a page already shown read it whole.
      const screenCols = Math.max(10, Math.ceil((byId('grid').clientWidth - NAME_W) / COL_W) + 4);
      if (key !== shownKey && state.limit > screenCols) {
        const part = await request('grid', { dagId, limit: screenCols, offset: state.offset, expand: state.expand });
        if (dagId !== state.dagId) return;
        showGrid(part, t0, true);
      }
      const g = await request('grid', { dagId, limit: state.limit, offset: state.offset, expand: state.expand });
      if (dagId !== state.dagId) return;
      shownKey = key;
      showGrid(g, t0, false);
    } catch (e) {
      status(`Grid of ${dagId}: ${errText(e)}`, true);
    } finally {
      loading = null;
      if (again) {
        again = false;
        scheduleGrid(50);
      }
    }
  })();
  return loading;
}

/** The page the grid shows whole (DAG, runs per page, offset, expanded tasks). */
let shownKey = '';

function showGrid(g: GridResult, t0: number, partial: boolean): void {
  const fetched = performance.now();
  const previous = grid;
  setGrid(g);
  const shown = grid!;
  if (partial) byId('page-info').textContent += ' · reading older runs…';
  status(g.runs.length === 0 ? (g.totalRuns === 0 ? `${g.dagId} has not run yet: run it and its runs appear here as they go.` : 'No runs on this page.') : '');
  if (g.runs.length > 0 && (firstPaint || !partial) && !document.body.dataset.fullPaintMs) {
    const first = firstPaint;
    firstPaint = false;
    requestAnimationFrame(() => {
      const now = String(Math.round(performance.now() - scriptStart));
      if (first) {
        document.body.dataset.firstPaintMs = now;
        document.body.dataset.firstPaintEpochMs = String(Date.now());
        document.body.dataset.fetchMs = String(Math.round(fetched - t0));
      }
      if (!partial) {
        document.body.dataset.fullPaintMs = now;
        document.body.dataset.fullPaintEpochMs = String(Date.now());
      }
    });
  }
  if (!partial) refreshDetailIfChanged(previous, shown);
}

function setGrid(raw: GridResult): void {
  page = raw;
  if (reveal !== null) {
    const more = groupsOf(raw, reveal).filter((id) => !state.open.includes(id));
    if (more.length) state.open = [...state.open, ...more];
    reveal = null;
    save();
  }
  const g = buildView(raw, new Set(state.open));
  grid = g;
  countsByCell = new Map(g.counts.map((c) => [c.cell, c.counts]));
  const first = g.totalRuns === 0 ? 0 : Math.max(1, g.totalRuns - g.offset - g.runs.length + 1);
  const last = g.totalRuns - g.offset;
  byId('page-info').textContent = g.runs.length ? `runs ${first}–${last} of ${g.totalRuns} (oldest → newest)` : `${g.totalRuns} runs`;
  byId('older').toggleAttribute('disabled', g.offset + g.runs.length >= g.totalRuns);
  byId('newer').toggleAttribute('disabled', g.offset === 0);
  const inner = byId('grid-inner');
  const gEl0 = byId('grid');
  // At the newest end (the right), stay there when runs are added (live, or the rest of a page arriving).
  const atRight = gEl0.dataset.loaded === 'true' && gEl0.scrollLeft + gEl0.clientWidth >= gEl0.scrollWidth - COL_W;
  inner.style.width = `${NAME_W + g.runs.length * COL_W + 8}px`;
  if (atRight) gEl0.scrollLeft = gEl0.scrollWidth;
  inner.style.height = `${HEADER_H + g.rows.length * ROW_H + 4}px`;
  gEl0.setAttribute('role', g.groups?.length ? 'treegrid' : 'grid');
  // Keep the focus on the same task and run when rows or runs moved; else the newest run of the first row.
  const f = state.focus;
  const row = f ? g.rows.findIndex((r) => r.taskId === f.taskId && r.mapIndex === f.mapIndex) : -1;
  const col = f ? g.runs.findIndex((r) => r.runId === f.runId) : -1;
  const wasNew = !byId('grid').dataset.loaded;
  focus = { row: row >= 0 ? row : Math.min(focus.row, Math.max(0, g.rows.length - 1)), col: col >= 0 ? col : Math.max(0, g.runs.length - 1) };
  if (wasNew) {
    byId('grid').dataset.loaded = 'true';
    // Open on the newest runs (the right end), the focused cell in view.
    const gEl = byId('grid');
    gEl.scrollLeft = Math.max(0, NAME_W + (focus.col + 1) * COL_W - gEl.clientWidth + 8);
    gEl.scrollTop = Math.max(0, HEADER_H + (focus.row + 1) * ROW_H - gEl.clientHeight);
  }
  render();
  showFocusInfo();
  if (state.selected && wasNew) void openDetail(state.selected);
}

let renderQueued = false;
function scheduleRender(): void {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    render();
  });
}

const cellId = (row: number, col: number) => `c-${row}-${col}`;

/** Draws the cells, run headers and task names in view (and nothing else). */
function render(): void {
  const g = grid;
  if (!g) return;
  const gEl = byId('grid');
  const inner = byId('grid-inner');
  const nRuns = g.runs.length;
  const [c0, c1] = visibleRange(Math.max(0, gEl.scrollLeft), Math.max(0, gEl.clientWidth - NAME_W), COL_W, nRuns);
  const [r0, r1] = visibleRange(Math.max(0, gEl.scrollTop), Math.max(0, gEl.clientHeight - HEADER_H), ROW_H, g.rows.length);
  const frag = document.createDocumentFragment();
  const running = GRID_STATES.indexOf('running');
  for (let r = r0; r < r1; r++) {
    const top = HEADER_H + r * ROW_H;
    for (let c = c0; c < c1; c++) {
      const i = r * nRuns + c;
      const code = g.states[i]!;
      const counts = countsByCell.get(i);
      const cell = el('div', {
        id: cellId(r, c),
        class: `cell ${stateClass(code)}${g.rows[r]!.kind === 'group' ? ' group' : counts ? ' mapped' : ''}${r === focus.row && c === focus.col ? ' focused' : ''}${isSelected(r, c) ? ' selected' : ''}${code === running ? ' live' : ''}`,
        role: 'gridcell',
        'data-row': String(r),
        'data-col': String(c),
        'data-state': code === NO_TI ? 'absent' : GRID_STATES[code]!,
        // The hover text is made when the pointer reaches the cell, and the spoken name for the focused cell only:
        // thousands of cells are drawn per scroll.
        ...(r === focus.row && c === focus.col ? { 'aria-label': cellLabel(g, r, c) } : {}),
      });
      cell.style.transform = `translate(${NAME_W + c * COL_W + 3}px, ${top + 4}px)`;
      frag.append(cell);
    }
  }
  // Run headers (sticky at the top while scrolling down).
  const head = el('div', { class: 'run-headers', style: '' });
  head.style.transform = `translateY(${gEl.scrollTop}px)`;
  const bars = runBars(g.runs, g.nowMs, HEADER_H - 22);
  for (let c = c0; c < c1; c++) {
    const run = g.runs[c]!;
    const h = el(
      'div',
      { class: `run-head${c === focus.col ? ' focused' : ''}`, 'data-col': String(c), title: runTitle(run, g.nowMs), role: 'columnheader', 'aria-label': `run ${run.runId}, ${run.state}` },
      el('div', { class: `run-bar r-${run.state}` }),
      el('div', { class: 'run-type' }, RUN_TYPE_LETTER[run.runType] ?? '?'),
    );
    (h.firstChild as HTMLElement).style.height = `${bars[c]}px`;
    h.style.transform = `translateX(${NAME_W + c * COL_W}px)`;
    head.append(h);
  }
  // Task names (sticky at the left while scrolling right).
  const names = el('div', { class: 'names' });
  names.style.transform = `translateX(${gEl.scrollLeft}px)`;
  for (let r = r0; r < r1; r++) {
    const row = g.rows[r]!;
    const label = row.label;
    const isGroup = row.kind === 'group';
    const name = el('div', {
      class: `name${row.mapIndex !== null ? ' map-index' : ''}${isGroup ? ' group' : ''}${r === focus.row ? ' focused' : ''}${row.kind === 'removed' ? ' removed' : ''}`,
      'data-row': String(r),
      role: 'rowheader',
      ...(isGroup ? { 'aria-expanded': String(!!row.open), 'data-group': row.taskId } : {}),
      ...(g.groups?.length ? { 'data-depth': String(row.depth) } : {}),
      title: isGroup ? `task group ${row.taskId} (${row.tasks} task${row.tasks === 1 ? '' : 's'})` : `${rowLabel(row)} (${row.kind}${row.mapped && row.mapIndex === null ? `, mapped: ${g.mapCounts[row.taskId] ?? 0} map indexes` : ''})`,
    });
    if (row.depth > 0) name.style.paddingLeft = `${8 + row.depth * 14 + (row.mapIndex !== null ? 8 : 0)}px`;
    if (isGroup) {
      name.append(el('span', { class: 'toggle', 'data-group-toggle': row.taskId, 'aria-hidden': 'true', title: row.open ? 'Close the group (−)' : 'Open the group (+)' }, row.open ? '▾' : '▸'));
    } else if (row.mapped && row.mapIndex === null) {
      const open = state.expand.includes(row.taskId);
      name.append(el('span', { class: 'toggle', 'data-toggle': row.taskId, role: 'button', 'aria-expanded': String(open), title: open ? 'Collapse the map indexes (−)' : 'Show each map index (+)' }, open ? '▾' : '▸'));
    } else if (g.groups?.length && row.mapIndex === null) {
      // Labels line up under a group's chevron column (as a tree's leaves).
      name.append(el('span', { class: 'toggle spacer', 'aria-hidden': 'true' }));
    }
    name.append(el('span', { class: 'label' }, label));
    if (row.mapped && row.mapIndex === null) name.append(el('span', { class: 'dim count' }, `×${g.mapCounts[row.taskId] ?? 0}`));
    if (isGroup) name.append(el('span', { class: 'dim count' }, `(${row.tasks})`));
    name.style.transform = `translateY(${HEADER_H + r * ROW_H}px)`;
    names.append(name);
  }
  const corner = el('div', { class: 'corner' }, el('span', { class: 'dim' }, 'task \\ run'));
  corner.style.transform = `translate(${gEl.scrollLeft}px, ${gEl.scrollTop}px)`;
  const cells = el('div', { class: 'cells' });
  cells.append(frag);
  inner.replaceChildren(cells, names, head, corner);
  gEl.setAttribute('aria-activedescendant', cellId(focus.row, focus.col));
  gEl.setAttribute('aria-rowcount', String(g.rows.length));
  gEl.setAttribute('aria-colcount', String(nRuns));
}

function cellLabel(g: GridView, r: number, c: number): string {
  const row = g.rows[r]!;
  const i = r * g.runs.length + c;
  const where = g.groups?.length ? ` (level ${row.depth + 1})` : '';
  if (row.kind === 'group') return `task group ${row.taskId}${where}, ${row.open ? 'open' : 'closed'}, ${row.tasks} task${row.tasks === 1 ? '' : 's'}, run ${g.runs[c]!.runId}: ${stateName(g.states[i]!)}${countsByCell.has(i) ? `, ${countsText(countsByCell.get(i)!)}` : ''}`;
  return `${rowLabel(row)}${where}, run ${g.runs[c]!.runId}: ${stateName(g.states[i]!)}`;
}

function isSelected(row: number, col: number): boolean {
  const s = state.selected;
  if (!s || !grid) return false;
  const r = grid.rows[row]!;
  return grid.runs[col]!.runId === s.runId && r.taskId === s.taskId && (r.mapIndex ?? -1) === s.mapIndex;
}

function showFocusInfo(): void {
  const g = grid;
  const info = byId('focus-info');
  if (!g || g.runs.length === 0 || g.rows.length === 0) {
    info.textContent = '';
    return;
  }
  const run = g.runs[focus.col]!;
  const i = focus.row * g.runs.length + focus.col;
  const code = g.states[i]!;
  const counts = countsByCell.get(i);
  const row = g.rows[focus.row]!;
  if (row.kind === 'group') {
    info.replaceChildren(el('span', { class: `chip ${stateClass(code)}-text` }, stateName(code)), ` task group ${row.taskId} · `, el('strong', {}, run.runId), ` · ${row.tasks} task${row.tasks === 1 ? '' : 's'}${counts ? `: ${countsText(counts)}` : ''}`);
    return;
  }
  info.replaceChildren(
    el('span', { class: `chip ${stateClass(code)}-text` }, stateName(code)),
    ` ${rowLabel(row)} · `,
    el('strong', {}, run.runId),
    ` · ${run.runType} · logical date ${shortDate(run.logicalDate)} · run ${run.state}, ${formatDuration(g.durations[i] ?? null)} for the task${g.tries[i]! > 1 ? ` (try ${g.tries[i]})` : ''}${counts ? ` · ${countsText(counts)}` : ''}`,
  );
}

function setFocus(row: number, col: number, scroll = true): void {
  const g = grid;
  if (!g) return;
  focus = { row, col };
  const r = g.rows[row];
  const run = g.runs[col];
  state.focus = r && run ? { taskId: r.taskId, mapIndex: r.mapIndex, runId: run.runId } : null;
  save();
  if (scroll) {
    const gEl = byId('grid');
    const x = NAME_W + col * COL_W;
    const y = HEADER_H + row * ROW_H;
    if (x < gEl.scrollLeft + NAME_W) gEl.scrollLeft = x - NAME_W;
    else if (x + COL_W > gEl.scrollLeft + gEl.clientWidth) gEl.scrollLeft = x + COL_W - gEl.clientWidth + 4;
    if (y < gEl.scrollTop + HEADER_H) gEl.scrollTop = y - HEADER_H;
    else if (y + ROW_H > gEl.scrollTop + gEl.clientHeight) gEl.scrollTop = y + ROW_H - gEl.clientHeight + 4;
  }
  render();
  showFocusInfo();
}

function onKey(e: KeyboardEvent): void {
  const g = grid;
  if (!g) return;
  const pageRows = Math.max(1, Math.floor((byId('grid').clientHeight - HEADER_H) / ROW_H) - 1);
  const to = moveFocus(focus, e.key, e.ctrlKey || e.metaKey, g.rows.length, g.runs.length, pageRows);
  if (to) {
    e.preventDefault();
    setFocus(to.row, to.col);
    return;
  }
  const row = g.rows[focus.row];
  if (row?.kind === 'group' && (e.key === 'Enter' || e.key === ' ' || e.key === '+' || e.key === '=' || e.key === '-' || e.key === '_')) {
    e.preventDefault();
    toggleGroup(row.taskId, e.key === 'Enter' || e.key === ' ' ? !row.open : e.key === '+' || e.key === '=');
  } else if (e.key === 'Enter' || e.key === ' ') {
    e.preventDefault();
    selectCell(focus.row, focus.col);
  } else if (e.key === 'Escape') {
    closeDetail();
  } else if ((e.key === '+' || e.key === '=') && row?.mapped) {
    e.preventDefault();
    toggleExpand(row.taskId, true);
  } else if ((e.key === '-' || e.key === '_') && row?.mapped) {
    e.preventDefault();
    toggleExpand(row.taskId, false);
  } else if ((e.key === '-' || e.key === '_') && row && row.depth > 0) {
    // − inside a group closes it, the focus on its row (a tree's Left).
    e.preventDefault();
    const p = parentRow(g.rows, focus.row);
    if (p >= 0) toggleGroup(g.rows[p]!.taskId, false);
  }
}

function onClick(e: MouseEvent): void {
  const t = e.target as HTMLElement;
  const groupToggle = t.closest<HTMLElement>('[data-group-toggle]');
  if (groupToggle) {
    toggleGroup(groupToggle.dataset.groupToggle!, !state.open.includes(groupToggle.dataset.groupToggle!));
    return;
  }
  const toggle = t.closest<HTMLElement>('[data-toggle]');
  if (toggle) {
    toggleExpand(toggle.dataset.toggle!, !state.expand.includes(toggle.dataset.toggle!));
    return;
  }
  const cell = t.closest<HTMLElement>('.cell[data-row]');
  if (cell) {
    const row = Number(cell.dataset.row);
    // A group's cell has no detail: it takes the focus (its counts show above the grid).
    if (grid?.rows[row]?.kind === 'group') setFocus(row, Number(cell.dataset.col), false);
    else selectCell(row, Number(cell.dataset.col));
    byId('grid').focus();
  }
}

/** Opens or closes a task group (no request: the page has every row); the focus moves to the group's row when it was inside. */
function toggleGroup(groupId: string, open: boolean): void {
  if (!page || !grid || open === state.open.includes(groupId)) return;
  state.open = open ? [...state.open, groupId] : state.open.filter((id) => id !== groupId);
  const f = state.focus;
  if (!open && f) {
    const at = grid.rows.findIndex((r) => r.taskId === f.taskId && r.mapIndex === f.mapIndex);
    const groupRow = grid.rows.findIndex((r) => r.kind === 'group' && r.taskId === groupId);
    let p = at;
    while (p >= 0 && p !== groupRow) p = parentRow(grid.rows, p);
    if (at >= 0 && p === groupRow && at !== groupRow) state.focus = { taskId: groupId, mapIndex: null, runId: f.runId };
  }
  save();
  setGrid(page);
}

function toggleExpand(taskId: string, open: boolean): void {
  if (open === state.expand.includes(taskId)) return;
  state.expand = open ? [...state.expand, taskId] : state.expand.filter((t) => t !== taskId);
  save();
  void loadGrid();
}

// ------------------------------------------------------------------ the detail pane

function selectCell(row: number, col: number): void {
  const g = grid;
  if (!g || g.rows[row]?.kind === 'group') return;
  setFocus(row, col, false);
  const r = g.rows[row]!;
  const key: TaskKey = { dagId: g.dagId, runId: g.runs[col]!.runId, taskId: r.taskId, mapIndex: r.mapIndex ?? -1 };
  state.selected = key;
  state.logTry = null;
  save();
  render();
  void openDetail(key);
}

function closeDetail(): void {
  state.selected = null;
  save();
  const d = byId('detail');
  d.hidden = true;
  d.replaceChildren();
  render();
  scheduleRender();
}

/** The grid cell of a task instance on the current page, or undefined. */
function cellOf(k: TaskKey): { row: number; col: number; i: number } | undefined {
  const g = grid;
  if (!g) return undefined;
  const col = g.runs.findIndex((r) => r.runId === k.runId);
  const row = g.rows.findIndex((r) => r.taskId === k.taskId && (r.mapIndex ?? -1) === k.mapIndex);
  if (col < 0 || row < 0) return undefined;
  return { row, col, i: row * g.runs.length + col };
}

/** Re-reads the detail when the selected task instance changed state or try. */
function refreshDetailIfChanged(before: GridView | null, after: GridView): void {
  const s = state.selected;
  if (!s || !before || byId('detail').hidden) return;
  const a = cellOf(s);
  const gBefore = grid;
  grid = before;
  const b = cellOf(s);
  grid = gBefore;
  if (!a) return;
  const changed = !b || before.states[b.i] !== after.states[a.i] || before.tries[b.i] !== after.tries[a.i] || JSON.stringify(countsByCell.get(a.i)) !== JSON.stringify(before.counts.find((c) => c.cell === b.i)?.counts);
  if (changed) void openDetail(s, true);
}

let detailSeq = 0;
async function openDetail(k: TaskKey, quiet = false): Promise<void> {
  const seq = ++detailSeq;
  const d = byId('detail');
  d.hidden = false;
  const g = grid;
  const at = cellOf(k);
  const row = at && g ? g.rows[at.row]! : null;
  const summary = !!row && row.mapped && row.mapIndex === null;
  const code = at && g ? g.states[at.i]! : NO_TI;
  const label = k.mapIndex >= 0 ? `${k.taskId}[${k.mapIndex}]` : k.taskId;
  const head = el(
    'div',
    { class: 'detail-head' },
    el('h2', { id: 'detail-title', title: label }, label),
    el('span', { class: `chip ${stateClass(code)}-text`, id: 'detail-state' }, stateName(code)),
    el('span', { class: 'spacer' }),
    button('✕', closeDetail, { secondary: '', title: 'Close (Escape)', 'aria-label': 'Close the detail', id: 'detail-close' }),
  );
  const sub = el('div', { class: 'dim detail-run', title: k.runId }, `run ${k.runId}`);
  const down = el('vscode-checkbox', { id: 'clear-down', label: 'Downstream', checked: '' });
  const up = el('vscode-checkbox', { id: 'clear-up', label: 'Upstream' });
  const checked = (c: HTMLElement) => (c as unknown as { checked: boolean }).checked;
  const said = el('div', { id: 'detail-status', class: 'detail-status', role: 'status' });
  const say = (text: string, isError = false) => {
    said.textContent = inert(text);
    said.classList.toggle('error', isError);
  };
  const act = async (what: string, f: () => Promise<string>) => {
    try {
      say(`${what}…`);
      say(await f());
      scheduleGrid(50);
    } catch (e) {
      say(`${what}: ${errText(e)}`, true);
    }
  };
  const actions = el(
    'div',
    { class: 'actions' },
    button('XComs', () => void request('openXComs', k).catch((e: unknown) => say(errText(e), true)), { secondary: '', id: 'open-xcoms', title: 'Open the XCom browser filtered to this task instance' }),
    button('Log in editor', () => void request('openLog', k).catch((e: unknown) => say(errText(e), true)), { secondary: '', id: 'open-log', ...(summary ? { disabled: '' } : {}) }),
    button('Gantt', () => void request('openGantt', { dagId: k.dagId, runId: k.runId }).catch((e: unknown) => say(errText(e), true)), { secondary: '', id: 'open-gantt', title: 'The Gantt chart of this run' }),
  );
  const changes = el(
    'div',
    { class: 'actions' },
    button('Clear', () => void act(`Clearing ${k.taskId}`, async () => `Cleared ${(await request('clear', { ...k, downstream: checked(down), upstream: checked(up) })).cleared.join(', ')}; running again.`), { id: 'clear', title: `Clear ${k.taskId}${row?.mapped ? ' (every map index)' : ''} and the tasks ticked, and run them again` }),
    down,
    up,
    button('Run again', () => void act(`Running ${k.taskId} again`, async () => `Cleared ${(await request('clear', { ...k, downstream: false, upstream: false })).cleared.join(', ')}; running it again.`), { secondary: '', id: 'run-again', title: `Clear only ${k.taskId} and run it again` }),
  );
  const marks = el(
    'div',
    { class: 'actions' },
    button('Mark success', () => void act(`Marking ${label} success`, async () => `Marked ${(await request('mark', { ...k, state: 'success' })).marked} task instance(s) success.`), { secondary: '', id: 'mark-success', ...(summary || code === NO_TI ? { disabled: '' } : {}) }),
    button('Mark failed', () => void act(`Marking ${label} failed`, async () => `Marked ${(await request('mark', { ...k, state: 'failed' })).marked} task instance(s) failed.`), { secondary: '', id: 'mark-failed', ...(summary || code === NO_TI ? { disabled: '' } : {}) }),
  );
  const body = el('div', { id: 'detail-body' });
  const keep = quiet ? document.getElementById('detail-status')?.textContent : '';
  if (keep) say(keep);
  if (!quiet || d.childElementCount === 0) d.replaceChildren(head, sub, actions, changes, marks, said, body);
  else d.replaceChildren(head, sub, actions, changes, marks, said, byId('detail-body') ?? body);
  if (code === NO_TI) {
    byId('detail-body').replaceChildren(el('p', { class: 'dim' }, 'This run has no instance of this task.'));
    return;
  }
  if (summary && at && g) {
    const counts = countsByCell.get(at.i) ?? [];
    byId('detail-body').replaceChildren(
      el('p', {}, `${g.mapCounts[k.taskId] ?? 0} map indexes: ${countsText(counts) || 'none yet'}.`),
      state.expand.includes(k.taskId) ? el('p', { class: 'dim' }, 'Pick a map index row for its tries and log.') : button('Show each map index', () => toggleExpand(k.taskId, true), { id: 'expand-detail' }),
    );
    return;
  }
  try {
    const tries = await request('tries', k);
    if (seq !== detailSeq) return;
    const wanted = state.logTry !== null && tries.some((t) => t.tryNumber === state.logTry) ? state.logTry : undefined;
    const log = await request('log', wanted === undefined ? k : { ...k, tryNumber: wanted });
    if (seq !== detailSeq) return;
    byId('detail-body').replaceChildren(triesTable(k, tries, log.tryNumber), logView(log.tryNumber, log.text, log.running));
    const pre = byId('log');
    pre.scrollTop = pre.scrollHeight;
  } catch (e) {
    if (seq === detailSeq) byId('detail-body').replaceChildren(el('p', { class: 'error' }, errText(e)));
  }
}

function triesTable(k: TaskKey, tries: TryInfo[], shown: number): HTMLElement {
  if (tries.length === 0) return el('p', { class: 'dim', id: 'tries' }, 'Not tried yet.');
  const rows = tries.map((t) => {
    const tr = el(
      'tr',
      { class: t.tryNumber === shown ? 'shown' : '', tabindex: '0', title: 'Show this try\'s log', 'data-try': String(t.tryNumber) },
      el('td', { class: 'num' }, String(t.tryNumber)),
      el('td', {}, el('span', { class: `${stateClass(GRID_STATES.indexOf(t.state as never))}-text` }, t.state.replaceAll('_', ' '))),
      el('td', { class: 'date' }, t.startDate ? shortDate(t.startDate).slice(5) + t.startDate.slice(16, 19) : '—'),
      el('td', { class: 'num' }, formatDuration(t.duration)),
      el('td', { class: 'error-text', title: t.error ?? '' }, t.error ? t.error.split('\n')[0]!.slice(0, 200) : ''),
    );
    const show = () => {
      state.logTry = t.tryNumber;
      save();
      void openDetail(k, true);
    };
    tr.addEventListener('click', show);
    tr.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') show();
    });
    return tr;
  });
  return el(
    'table',
    { class: 'tries', id: 'tries' },
    el('thead', {}, el('tr', {}, el('th', {}, 'Try'), el('th', {}, 'State'), el('th', {}, 'Started (UTC)'), el('th', {}, 'Duration'), el('th', {}, 'Error'))),
    el('tbody', {}, ...rows),
  );
}

function logView(tryNumber: number, text: string, running: boolean): HTMLElement {
  const pre = el('pre', { id: 'log', class: 'log', tabindex: '0', 'data-try': String(tryNumber), 'data-following': String(running), 'aria-label': `Log of try ${tryNumber}` }, text || (running ? '' : '(this try wrote nothing to its log)'));
  return el('div', { class: 'log-wrap' }, el('div', { class: 'dim' }, `Log of try ${tryNumber}${running ? ' (following)' : ''}`), pre);
}

// ------------------------------------------------------------------ start

vscode.postMessage({ type: 'ready' });
