/**
 * The DAG graph webview: the DAG laid out left to right (dagre, layout.ts), as
 * SVG, nodes coloured by the state of the selected run, a mapped task as one
 * grouped node with its map indexes counted by state. Clicking a node offers
 * its log, its XComs and its source line. Talks to the host only through
 * src/protocol/webviews/dag-graph.ts; every message received is checked.
 * Task groups are boxes around their tasks; clicking a group's title collapses it
 * into one node (with the group's edges), clicking that node expands it again.
 * Controls are @vscode-elements/elements components. The DAG and run shown, the
 * selected node (its menu and map index), the collapsed groups and the scroll
 * position are kept with setState, so hiding and showing the panel again loses nothing.
 */
import { el, svg, byId, status } from '../shared/dom.ts';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-label/index.js';
import './style.css';
import { parseHostMessage } from '../../src/protocol/webviews/dag-graph.ts';
import type { GraphGroup, GraphInstance, GraphRun, GraphTask, WebviewMessage } from '../../src/protocol/webviews/dag-graph.ts';
import { buildGraph, edgePath, layoutGraph, nodeLines } from './layout.ts';
import type { PlacedCluster, PlacedNode } from './layout.ts';

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
  /** The node whose menu is open, and the map index chosen in it. */
  selected: string | null;
  menuIndex: number | null;
  scrollX: number;
  scrollY: number;
  /** Task groups drawn as one node. */
  collapsed: string[];
}
const saved = vscode.getState() as Partial<State> | undefined;
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);
const state: State = {
  dagId: saved?.dagId ?? null,
  runId: saved?.runId ?? null,
  selected: typeof saved?.selected === 'string' ? saved.selected : null,
  menuIndex: typeof saved?.menuIndex === 'number' && Number.isInteger(saved.menuIndex) ? saved.menuIndex : null,
  scrollX: num(saved?.scrollX),
  scrollY: num(saved?.scrollY),
  collapsed: Array.isArray(saved?.collapsed) ? saved.collapsed.filter((g): g is string => typeof g === 'string') : [],
};
const save = () => vscode.setState(state);
/** Put back once, after the first graph is drawn (the panel was hidden and rebuilt). */
let restorePending = state.selected !== null || state.scrollX > 0 || state.scrollY > 0;
let scrollTimer: ReturnType<typeof setTimeout> | undefined;
window.addEventListener('scroll', () => {
  if (restorePending) return;
  state.scrollX = window.scrollX;
  state.scrollY = window.scrollY;
  clearTimeout(scrollTimer);
  scrollTimer = setTimeout(save, 100);
});

let tasks: GraphTask[] = [];
let groups: GraphGroup[] = [];
let runs: GraphRun[] = [];
let instances: GraphInstance[] = [];

// ------------------------------------------------------------------ DOM helpers

const label = (s: string) => s.replace(/_/g, ' ');
/** A node's text cut to its box (ids run to 250 characters; nodes are at most 360px wide): the whole id is in the node's title. */
const fit = (text: string, width: number, charWidth = 8.4) => {
  const max = Math.max(4, Math.floor((width - 22) / charWidth));
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
};

// ------------------------------------------------------------------ page

document.body.replaceChildren(
  el('header', { class: 'bar' },
    el('h1', { id: 'title' }, 'DAG graph'),
    el('div', { class: 'run-pick' }, el('vscode-label', { for: 'run' }, 'Run'), el('vscode-single-select', { id: 'run', 'aria-label': 'Run', class: 'run-select' })),
    el('span', { id: 'status', class: 'status', role: 'status' }, 'Loading…'),
  ),
  el('div', { id: 'graph-wrap', class: 'graph-wrap' }),
  el('div', { id: 'menu', class: 'menu', role: 'menu', hidden: '' }),
);

/** The run picker (a vscode-single-select). */
const runPicker = () => byId('run') as HTMLElement & { value: string; disabled: boolean };
runPicker().addEventListener('change', () => {
  const v = runPicker().value;
  if ((v || null) === state.runId) return;
  state.runId = v || null;
  save();
  vscode.postMessage({ type: 'selectRun', runId: state.runId });
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') closeMenu();
});
document.addEventListener('click', (e) => {
  const menu = byId('menu');
  if (!menu.hidden && !menu.contains(e.target as Node) && !(e.target as Element).closest?.('.node')) closeMenu();
});


function renderRuns(): void {
  const select = runPicker();
  const options = runs.map((r) => el('vscode-option', { value: r.runId, 'data-state': r.state, ...(r.runId === state.runId ? { selected: '' } : {}) }, `${r.runId} · ${label(r.state)}`));
  if (runs.length === 0) options.push(el('vscode-option', { value: '', selected: '' }, 'no runs yet'));
  select.replaceChildren(...options);
  select.value = state.runId ?? '';
  select.disabled = runs.length === 0;
}

function renderStatus(): void {
  const run = runs.find((r) => r.runId === state.runId);
  if (!run) return status(`${tasks.length} task(s) · not run yet`);
  status(`${tasks.length} task(s) · run ${label(run.state)}`);
  byId('run').dataset.state = run.state;
}

/** Collapses or expands a task group, and draws the graph again. */
function toggleGroup(groupId: string): void {
  const set = new Set(state.collapsed);
  if (set.has(groupId)) set.delete(groupId);
  else set.add(groupId);
  state.collapsed = [...set];
  if (state.selected !== null && !tasks.some((t) => t.taskId === state.selected)) state.selected = null;
  closeMenu();
  render();
  (document.querySelector(`[data-group-id="${CSS.escape(groupId)}"]`) as SVGElement | null)?.focus();
}

function activate(g: SVGElement, run: () => void): void {
  g.addEventListener('click', (e) => {
    e.stopPropagation();
    run();
  });
  g.addEventListener('keydown', (e) => {
    if ((e as KeyboardEvent).key === 'Enter' || (e as KeyboardEvent).key === ' ') {
      e.preventDefault();
      run();
    }
  });
}

/** An expanded group: a box behind its tasks, its title collapses it. */
function clusterElement(c: PlacedCluster): SVGElement {
  const x = c.x - c.width / 2;
  const y = c.y - c.height / 2;
  const title = svg('g', { class: 'cluster-title', 'data-group-id': c.id, tabindex: 0, role: 'button', 'aria-expanded': 'true', 'aria-label': `Task group ${c.id}: collapse` },
    svg('text', { class: 'cluster-label', x: x + 8, y: y + 15 }, `▾ ${c.label}`),
    svg('title', {}, `Task group ${c.id}${c.tooltip ? `: ${c.tooltip}` : ''} (click to collapse)`),
  );
  activate(title, () => toggleGroup(c.id));
  return svg('g', { class: `cluster state-${c.state}`, 'data-cluster-id': c.id, 'data-state': c.state }, svg('rect', { class: 'cluster-box', x, y, width: c.width, height: c.height, rx: 8 }), title);
}

/** A collapsed group: one node, clicking it expands the group. */
function groupNodeElement(n: PlacedNode): SVGElement {
  const x = n.x - n.width / 2;
  const y = n.y - n.height / 2;
  const group = groups.find((g) => g.groupId === n.id);
  const g = svg('g', {
    class: `node group-node state-${n.state}`,
    'data-group-id': n.id,
    'data-state': n.state,
    'data-count': n.taskCount,
    tabindex: 0,
    role: 'button',
    'aria-expanded': 'false',
    'aria-label': `Task group ${n.id}, ${n.taskCount} tasks: ${label(n.state)}; expand`,
  },
    svg('rect', { class: 'stack', x: x + 5, y: y - 5, width: n.width, height: n.height, rx: 10 }),
    svg('rect', { class: 'box', x, y, width: n.width, height: n.height, rx: 10 }),
    svg('rect', { class: 'stripe', x, y, width: 6, height: n.height, rx: 3 }),
    svg('text', { class: 'task-id', x: x + 14, y: y + 18 }, fit(`▸ ${n.label}`, n.width)),
    ...nodeLines(n).map((line, i) => svg('text', { class: `meta${i ? ' counts' : ''}`, x: x + 14, y: y + 34 + 16 * i }, line)),
    svg('title', {}, `Task group ${n.id}${group?.tooltip ? `: ${group.tooltip}` : ''}, ${n.taskCount} task(s): ${label(n.state)} (click to expand)`),
  );
  activate(g, () => toggleGroup(n.id));
  return g;
}

function nodeElement(n: PlacedNode): SVGElement {
  if (n.isGroup) return groupNodeElement(n);
  const x = n.x - n.width / 2;
  const y = n.y - n.height / 2;
  const children: SVGElement[] = [];
  if (n.mapped) children.push(svg('rect', { class: 'stack', x: x + 5, y: y - 5, width: n.width, height: n.height, rx: 6 }));
  children.push(
    svg('rect', { class: 'box', x, y, width: n.width, height: n.height, rx: 6 }),
    svg('rect', { class: 'stripe', x, y, width: 6, height: n.height, rx: 3 }),
    svg('text', { class: 'task-id', x: x + 14, y: y + 18 }, fit(n.label, n.width)),
    ...nodeLines(n).map((line, i) => svg('text', { class: `meta${i ? ' counts' : ''}`, x: x + 14, y: y + 34 + 16 * i }, line)),
  );
  children.push(svg('title', {}, `${n.id} (${n.role ? `${n.role}, ` : ''}${n.kind})${n.mapped ? `, mapped into ${n.count}` : ''}: ${label(n.state)}`));
  const g = svg('g', {
    class: `node state-${n.state}${n.mapped ? ' mapped' : ''}${n.id === state.selected ? ' selected' : ''}`,
    'data-task-id': n.id,
    'data-state': n.state,
    ...(n.mapped ? { 'data-count': n.count } : {}),
    tabindex: 0,
    role: 'button',
    'aria-label': `${n.id}: ${label(n.state)}`,
  }, ...children);
  const open = () => openMenu(n, g);
  g.addEventListener('click', open);
  g.addEventListener('keydown', (e) => {
    if ((e as KeyboardEvent).key === 'Enter' || (e as KeyboardEvent).key === ' ') {
      e.preventDefault();
      open();
    }
  });
  return g;
}

function render(): void {
  const wrap = byId('graph-wrap');
  if (tasks.length === 0) {
    wrap.replaceChildren(el('p', { class: 'hint' }, 'This DAG has no tasks.'));
    return;
  }
  const known = new Set(groups.map((g) => g.groupId));
  const layout = layoutGraph(buildGraph(tasks, instances, groups, new Set(state.collapsed.filter((g) => known.has(g)))));
  const defs = svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, svg('path', { class: 'arrow', d: 'M0,0 L10,5 L0,10 z' })));
  const edges = layout.edges.map((e) => svg('path', { class: e.setupTeardown ? 'edge setup-teardown' : 'edge', d: edgePath(e.points), 'marker-end': 'url(#arrow)', 'data-from': e.from, 'data-to': e.to }));
  const nodes = layout.nodes.map(nodeElement);
  const root = svg('svg', { id: 'graph', width: Math.ceil(layout.width), height: Math.ceil(layout.height), viewBox: `0 0 ${Math.ceil(layout.width)} ${Math.ceil(layout.height)}`, role: 'img', 'aria-label': `Graph of ${state.dagId ?? 'the DAG'}` }, defs, svg('g', { class: 'clusters' }, ...layout.clusters.map(clusterElement)), svg('g', { class: 'edges' }, ...edges), svg('g', { class: 'nodes' }, ...nodes));
  wrap.replaceChildren(root);
  const menu = byId('menu');
  if (restorePending) {
    // Shown again: the same scroll position, the same node selected with its menu open.
    restorePending = false;
    window.scrollTo(state.scrollX, state.scrollY);
    const n = state.selected ? layout.nodes.find((x) => x.id === state.selected) : undefined;
    const g = n ? root.querySelector(`.node[data-task-id="${CSS.escape(n.id)}"]`) : null;
    if (n && g) openMenu(n, g as SVGElement, false);
    else closeMenu();
  } else if (!menu.hidden && state.selected) {
    const n = layout.nodes.find((x) => x.id === state.selected);
    if (n) fillMenu(n);
  }
}

// ------------------------------------------------------------------ the node menu

function closeMenu(): void {
  byId('menu').hidden = true;
  state.selected = null;
  state.menuIndex = null;
  save();
  for (const g of document.querySelectorAll('.node.selected')) g.classList.remove('selected');
}

function action(id: string, text: string, run: () => void, disabled = false): HTMLElement {
  const b = el('vscode-button', { id, class: 'action', role: 'menuitem', secondary: '', ...(disabled ? { disabled: '' } : {}) }, text);
  b.addEventListener('click', (e) => {
    e.stopPropagation();
    if (b.hasAttribute('disabled')) return;
    run();
    closeMenu();
  });
  return b;
}

function fillMenu(n: PlacedNode): void {
  const menu = byId('menu');
  menu.dataset.taskId = n.id;
  const hasRun = state.runId !== null && n.state !== 'none';
  const items: (Node | string)[] = [el('div', { class: 'menu-title' }, n.id, el('span', { class: 'meta' }, ` ${n.kind} · ${label(n.state)}`))];
  if (n.mapped && n.indexes.length > 0) {
    const chips = n.indexes.map((i) => {
      const chosen = state.menuIndex === i.mapIndex;
      const c = el('vscode-button', { class: `chip state-${i.state}${chosen ? ' chosen' : ''}`, 'data-map-index': String(i.mapIndex), title: `[${i.mapIndex}] ${label(i.state)}`, 'aria-pressed': String(chosen), ...(chosen ? {} : { secondary: '' }) }, String(i.mapIndex));
      c.addEventListener('click', (e) => {
        e.stopPropagation();
        state.menuIndex = state.menuIndex === i.mapIndex ? null : i.mapIndex;
        save();
        fillMenu(n);
      });
      return c;
    });
    items.push(el('div', { class: 'menu-hint' }, state.menuIndex === null ? 'Map index (log asks when none is chosen):' : `Map index ${state.menuIndex}:`), el('div', { class: 'chips' }, ...chips));
  }
  items.push(el('div', { class: 'actions' },
    action('menu-log', 'Open log', () => vscode.postMessage({ type: 'openLog', taskId: n.id, mapIndex: state.menuIndex }), !hasRun),
    action('menu-xcoms', 'Show XComs', () => vscode.postMessage({ type: 'showXComs', taskId: n.id, mapIndex: state.menuIndex }), !hasRun),
    action('menu-source', n.line ? `Go to source (line ${n.line})` : 'Go to source', () => vscode.postMessage({ type: 'goToSource', taskId: n.id }), n.line === null),
  ));
  menu.replaceChildren(...items);
}

function openMenu(n: PlacedNode, g: SVGElement, focus = true): void {
  if (state.selected !== n.id) state.menuIndex = null;
  if (state.menuIndex !== null && !n.indexes.some((i) => i.mapIndex === state.menuIndex)) state.menuIndex = null;
  for (const x of document.querySelectorAll('.node.selected')) x.classList.remove('selected');
  state.selected = n.id;
  save();
  g.classList.add('selected');
  fillMenu(n);
  const menu = byId('menu');
  menu.hidden = false;
  const box = g.getBoundingClientRect();
  const left = Math.min(box.left + window.scrollX, window.scrollX + window.innerWidth - menu.offsetWidth - 8);
  menu.style.left = `${Math.max(4, left)}px`;
  menu.style.top = `${box.bottom + window.scrollY + 6}px`;
  if (focus) (menu.querySelector('vscode-button.action:not([disabled])') as HTMLElement | null)?.focus();
}

// ------------------------------------------------------------------ messages

window.addEventListener('message', (e: MessageEvent) => {
  const parsed = parseHostMessage(e.data);
  if (!parsed.ok) {
    console.error(`Hangar DAG graph: rejected a message from the host: ${parsed.error}`);
    return;
  }
  const m = parsed.value;
  switch (m.type) {
    case 'graph':
      if (m.dagId !== state.dagId) closeMenu();
      state.dagId = m.dagId;
      state.runId = m.runId;
      save();
      tasks = m.tasks;
      groups = m.groups ?? [];
      runs = m.runs;
      instances = m.instances;
      byId('title').textContent = m.dagId;
      document.body.dataset.dagId = m.dagId;
      document.body.dataset.runId = m.runId ?? '';
      renderRuns();
      renderStatus();
      render();
      break;
    case 'instances':
      if (m.runId !== state.runId) return;
      instances = m.instances;
      render();
      break;
    case 'error':
      status(m.message, true);
      break;
  }
});

vscode.postMessage({ type: 'ready', dagId: state.dagId, runId: state.runId });
