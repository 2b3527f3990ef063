/**
 * The DAG graph webview: the DAG laid out left to right (dagre, layout.ts), as
 * SVG, nodes coloured by the state of the selected run, a mapped task as one
 * grouped node with its map indexes counted by state. Clicking a node offers
 * its log, its XComs and its source line. Talks to the host only through
 * src/protocol/webviews/dag-graph.ts; every message received is checked.
 * The DAG and run shown are kept with setState.
 */
import './style.css';
import { parseHostMessage } from '../../src/protocol/webviews/dag-graph.ts';
import type { GraphInstance, GraphRun, GraphTask, WebviewMessage } from '../../src/protocol/webviews/dag-graph.ts';
import { buildGraph, edgePath, layoutGraph, nodeLines } from './layout.ts';
import type { PlacedNode } from './layout.ts';

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
}
const saved = vscode.getState() as Partial<State> | undefined;
const state: State = { dagId: saved?.dagId ?? null, runId: saved?.runId ?? null };
const save = () => vscode.setState(state);

let tasks: GraphTask[] = [];
let runs: GraphRun[] = [];
let instances: GraphInstance[] = [];
let selected: string | null = null;

// ------------------------------------------------------------------ DOM helpers

const SVG = 'http://www.w3.org/2000/svg';
function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}
function svg(tag: string, attrs: Record<string, string | number> = {}, ...children: (Node | string)[]): SVGElement {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  e.append(...children);
  return e;
}
function byId<T extends HTMLElement>(id: string): T {
  return document.getElementById(id) as T;
}
const label = (s: string) => s.replace(/_/g, ' ');

// ------------------------------------------------------------------ page

document.body.replaceChildren(
  el('header', { class: 'bar' },
    el('h1', { id: 'title' }, 'DAG graph'),
    el('label', { class: 'run-pick' }, el('span', {}, 'Run'), el('select', { id: 'run', 'aria-label': 'Run' })),
    el('span', { id: 'status', class: 'status', role: 'status' }, 'Loading…'),
  ),
  el('div', { id: 'graph-wrap', class: 'graph-wrap' }),
  el('div', { id: 'menu', class: 'menu', role: 'menu', hidden: '' }),
);

byId<HTMLSelectElement>('run').addEventListener('change', (e) => {
  const v = (e.target as HTMLSelectElement).value;
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

function status(text: string, isError = false): void {
  const s = byId('status');
  s.textContent = text;
  s.classList.toggle('error', isError);
}

function renderRuns(): void {
  const select = byId<HTMLSelectElement>('run');
  const options = runs.map((r) => {
    const o = el('option', { value: r.runId }, `${r.runId} · ${label(r.state)}`);
    o.selected = r.runId === state.runId;
    return o;
  });
  if (runs.length === 0) options.push(el('option', { value: '' }, 'no runs yet'));
  select.replaceChildren(...options);
  select.disabled = runs.length === 0;
}

function renderStatus(): void {
  const run = runs.find((r) => r.runId === state.runId);
  if (!run) return status(`${tasks.length} task(s) · not run yet`);
  status(`${tasks.length} task(s) · run ${label(run.state)}`);
  byId('run').dataset.state = run.state;
}

function nodeElement(n: PlacedNode): SVGElement {
  const x = n.x - n.width / 2;
  const y = n.y - n.height / 2;
  const children: SVGElement[] = [];
  if (n.mapped) children.push(svg('rect', { class: 'stack', x: x + 5, y: y - 5, width: n.width, height: n.height, rx: 6 }));
  children.push(
    svg('rect', { class: 'box', x, y, width: n.width, height: n.height, rx: 6 }),
    svg('rect', { class: 'stripe', x, y, width: 6, height: n.height, rx: 3 }),
    svg('text', { class: 'task-id', x: x + 14, y: y + 18 }, n.id),
    ...nodeLines(n).map((line, i) => svg('text', { class: `meta${i ? ' counts' : ''}`, x: x + 14, y: y + 34 + 16 * i }, line)),
  );
  children.push(svg('title', {}, `${n.id} (${n.kind})${n.mapped ? `, mapped into ${n.count}` : ''}: ${label(n.state)}`));
  const g = svg('g', {
    class: `node state-${n.state}${n.mapped ? ' mapped' : ''}${n.id === selected ? ' selected' : ''}`,
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
  const layout = layoutGraph(buildGraph(tasks, instances));
  const defs = svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: 'auto-start-reverse' }, svg('path', { class: 'arrow', d: 'M0,0 L10,5 L0,10 z' })));
  const edges = layout.edges.map((e) => svg('path', { class: 'edge', d: edgePath(e.points), 'marker-end': 'url(#arrow)', 'data-from': e.from, 'data-to': e.to }));
  const nodes = layout.nodes.map(nodeElement);
  const root = svg('svg', { id: 'graph', width: Math.ceil(layout.width), height: Math.ceil(layout.height), viewBox: `0 0 ${Math.ceil(layout.width)} ${Math.ceil(layout.height)}`, role: 'img', 'aria-label': `Graph of ${state.dagId ?? 'the DAG'}` }, defs, svg('g', { class: 'edges' }, ...edges), svg('g', { class: 'nodes' }, ...nodes));
  wrap.replaceChildren(root);
  const menu = byId('menu');
  if (!menu.hidden && selected) {
    const n = layout.nodes.find((x) => x.id === selected);
    if (n) fillMenu(n);
  }
}

// ------------------------------------------------------------------ the node menu

let menuIndex: number | null = null;

function closeMenu(): void {
  byId('menu').hidden = true;
  selected = null;
  menuIndex = null;
  for (const g of document.querySelectorAll('.node.selected')) g.classList.remove('selected');
}

function action(id: string, text: string, run: () => void, disabled = false): HTMLButtonElement {
  const b = el('button', { id, class: 'action', role: 'menuitem' }, text);
  b.disabled = disabled;
  b.addEventListener('click', (e) => {
    e.stopPropagation();
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
      const c = el('button', { class: `chip state-${i.state}${menuIndex === i.mapIndex ? ' chosen' : ''}`, 'data-map-index': String(i.mapIndex), title: `[${i.mapIndex}] ${label(i.state)}` }, String(i.mapIndex));
      c.addEventListener('click', (e) => {
        e.stopPropagation();
        menuIndex = menuIndex === i.mapIndex ? null : i.mapIndex;
        fillMenu(n);
      });
      return c;
    });
    items.push(el('div', { class: 'menu-hint' }, menuIndex === null ? 'Map index (log asks when none is chosen):' : `Map index ${menuIndex}:`), el('div', { class: 'chips' }, ...chips));
  }
  items.push(
    action('menu-log', 'Open log', () => vscode.postMessage({ type: 'openLog', taskId: n.id, mapIndex: menuIndex }), !hasRun),
    action('menu-xcoms', 'Show XComs', () => vscode.postMessage({ type: 'showXComs', taskId: n.id, mapIndex: menuIndex }), !hasRun),
    action('menu-source', n.line ? `Go to source (line ${n.line})` : 'Go to source', () => vscode.postMessage({ type: 'goToSource', taskId: n.id }), n.line === null),
  );
  menu.replaceChildren(...items);
}

function openMenu(n: PlacedNode, g: SVGElement): void {
  if (selected !== n.id) menuIndex = null;
  for (const x of document.querySelectorAll('.node.selected')) x.classList.remove('selected');
  selected = n.id;
  g.classList.add('selected');
  fillMenu(n);
  const menu = byId('menu');
  menu.hidden = false;
  const box = g.getBoundingClientRect();
  const left = Math.min(box.left + window.scrollX, window.scrollX + window.innerWidth - menu.offsetWidth - 8);
  menu.style.left = `${Math.max(4, left)}px`;
  menu.style.top = `${box.bottom + window.scrollY + 6}px`;
  (menu.querySelector('button:not([disabled])') as HTMLButtonElement | null)?.focus();
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
