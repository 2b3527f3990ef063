/**
 * The XCom browser webview: filters, a server-paged table, and the selected
 * value decoded on demand as a collapsible, typed JSON tree. Talks to the host
 * only through the protocol in src/protocol/webviews/xcom-browser.ts; every
 * message received is checked. State (filter, page, selection) is kept with
 * setState, so hiding and reopening the panel loses nothing.
 */
import { el, byId, button, status, errText, inert } from '../shared/dom.ts';
import { byErrorText, requester } from '../shared/requests.ts';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import './style.css';
import { PAGE_SIZE, checkResult, parseHostMessage } from '../../src/protocol/webviews/xcom-browser.ts';
import type {
  ChildNode,
  PathStep,
  ValueNode,
  WebviewMessage,
  XComBrowserMethods,
  XComFilter,
  XComLoc,
  XComPage,
  XComRow,
} from '../../src/protocol/webviews/xcom-browser.ts';
import { chainBadges, failureText, formatBytes, formatDate, formatRatio, isContainer, lastOffset, nextOffset, normaliseFilter, pageRange, prevOffset, remaining, scalarText, typeLabel } from './format.ts';

interface VsCodeApi {
  postMessage(m: WebviewMessage): void;
  getState(): unknown;
  setState(s: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;
const vscode = acquireVsCodeApi();

interface State {
  filter: XComFilter;
  offset: number;
  selected: XComLoc | null;
  showRaw: boolean;
  /** Tree nodes of the selected value the user expanded (paths as JSON) and collapsed (the root is open by default). */
  expanded: string[];
  collapsed: string[];
  /** Scroll positions: the table, the value tree, the page. */
  tableScroll: number;
  treeScroll: number;
  pageScroll: number;
}
function loadState(): State {
  const s = vscode.getState() as Partial<State> | undefined;
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0);
  return {
    filter: s?.filter ?? {},
    offset: s?.offset ?? 0,
    selected: s?.selected ?? null,
    showRaw: s?.showRaw ?? false,
    expanded: strings(s?.expanded),
    collapsed: strings(s?.collapsed),
    tableScroll: num(s?.tableScroll),
    treeScroll: num(s?.treeScroll),
    pageScroll: num(s?.pageScroll),
  };
}
const state = loadState();
const save = () => vscode.setState(state);
/** Scroll positions to put back once, after the first rows / the first tree are shown (the panel was hidden and rebuilt). */
const restore = { table: state.tableScroll, tree: state.treeScroll, page: state.pageScroll };
let saveTimer: ReturnType<typeof setTimeout> | undefined;
/** Saves soon (scrolling fires often). */
const saveSoon = () => {
  clearTimeout(saveTimer);
  saveTimer = setTimeout(save, 100);
};
const pathId = (p: PathStep[]) => JSON.stringify(p);

// ------------------------------------------------------------------ requests

const rpc = requester<XComBrowserMethods>('XCom browser', (m) => vscode.postMessage(m as WebviewMessage), byErrorText(checkResult));
const request = rpc.request;

window.addEventListener('message', (e: MessageEvent) => {
  const parsed = parseHostMessage(e.data);
  if (!parsed.ok) {
    console.error(`Hangar XCom browser: rejected a message from the host: ${parsed.error}`);
    return;
  }
  const m = parsed.value;
  if (m.type === 'init') {
    if (m.filter) {
      state.filter = m.filter;
      state.offset = 0;
      state.selected = null;
      state.expanded = [];
      state.collapsed = [];
      state.tableScroll = state.treeScroll = 0;
      restore.table = restore.tree = 0;
    }
    save();
    void start();
  } else if (m.type === 'refresh') {
    void refresh(true);
  } else {
    rpc.settle(m);
  }
});

// ------------------------------------------------------------------ DOM helpers


// ------------------------------------------------------------------ filters

type FieldName = 'dagId' | 'runId' | 'taskId' | 'mapIndex' | 'key' | 'keyPrefix';
const fieldValue = (name: FieldName) => ((byId(`f-${name}`) as unknown as { value: string }).value ?? '').trim();

function setSelectOptions(name: 'dagId' | 'runId' | 'taskId', values: string[], current: string | undefined) {
  const sel = byId(`f-${name}`);
  const list = current && !values.includes(current) ? [current, ...values] : values;
  sel.replaceChildren(el('vscode-option', { value: '' }, '(any)'), ...list.map((v) => el('vscode-option', { value: v }, v)));
  (sel as unknown as { value: string }).value = current ?? '';
}

async function loadFacets() {
  try {
    const f = await request('facets', { ...(state.filter.dagId ? { dagId: state.filter.dagId } : {}), ...(state.filter.runId ? { runId: state.filter.runId } : {}) });
    setSelectOptions('dagId', f.dagIds, state.filter.dagId);
    setSelectOptions('runId', f.runIds, state.filter.runId);
    setSelectOptions('taskId', f.taskIds, state.filter.taskId);
  } catch (e) {
    status(`Filter choices: ${errText(e)}`, true);
  }
}

let debounce: ReturnType<typeof setTimeout> | undefined;
function onFilterChange(changed: FieldName) {
  clearTimeout(debounce);
  debounce = setTimeout(() => {
    const raw = { dagId: fieldValue('dagId'), runId: fieldValue('runId'), taskId: fieldValue('taskId'), mapIndex: fieldValue('mapIndex'), key: fieldValue('key'), keyPrefix: fieldValue('keyPrefix') };
    if (changed === 'dagId') raw.runId = raw.taskId = '';
    if (changed === 'runId') raw.taskId = '';
    const f = normaliseFilter(raw);
    if (typeof f === 'string') return status(f, true);
    state.filter = f;
    state.offset = 0;
    save();
    if (changed === 'dagId' || changed === 'runId') void loadFacets();
    void loadPage();
  }, changed === 'dagId' || changed === 'runId' || changed === 'taskId' ? 0 : 250);
}

function buildFilters(): HTMLElement {
  const sel = (name: 'dagId' | 'runId' | 'taskId', label: string) => {
    const s = el('vscode-single-select', { id: `f-${name}`, 'aria-label': label, class: 'filter-select' }, el('vscode-option', { value: '' }, '(any)'));
    s.addEventListener('change', () => onFilterChange(name));
    return el('label', { class: 'filter' }, el('span', {}, label), s);
  };
  const field = (name: 'mapIndex' | 'key' | 'keyPrefix', label: string, placeholder: string) => {
    const t = el('vscode-textfield', { id: `f-${name}`, placeholder, 'aria-label': label });
    (t as unknown as { value: string }).value = name === 'mapIndex' ? (state.filter.mapIndex === undefined ? '' : String(state.filter.mapIndex)) : (state.filter[name] ?? '');
    t.addEventListener('input', () => onFilterChange(name));
    return el('label', { class: 'filter' }, el('span', {}, label), t);
  };
  return el(
    'div',
    { class: 'filters' },
    sel('dagId', 'DAG'),
    sel('runId', 'Run'),
    sel('taskId', 'Task'),
    field('mapIndex', 'Map index', 'any'),
    field('key', 'Key', 'exact key'),
    field('keyPrefix', 'Key prefix', 'e.g. source_payload_'),
  );
}

// ------------------------------------------------------------------ table

let page: XComPage | undefined;
const sameLoc = (a: XComLoc | null, b: XComLoc) => !!a && a.dagId === b.dagId && a.runId === b.runId && a.taskId === b.taskId && a.mapIndex === b.mapIndex && a.key === b.key;
const locOf = (r: XComRow): XComLoc => ({ dagId: r.dagId, runId: r.runId, taskId: r.taskId, mapIndex: r.mapIndex, key: r.key });

async function loadPage() {
  const t0 = performance.now();
  status('Loading…');
  try {
    page = await request('query', { filter: state.filter, offset: state.offset, limit: PAGE_SIZE });
    renderTable();
    status(`${pageRange(page.offset, page.rows.length, page.total)} · ${page.ms} ms in the runtime, ${Math.round(performance.now() - t0)} ms in all`);
  } catch (e) {
    status(`Cannot list XComs: ${errText(e)}`, true);
  }
}

function renderTable() {
  if (!page) return;
  const p = page;
  const head = el('tr', {}, ...['Key', 'Task', 'Backend', 'Original', 'Stored', 'Ratio', 'Created', 'Pulled by'].map((h) => el('th', { scope: 'col' }, h)));
  const rows = p.rows.map((r) => {
    const tr = el(
      'tr',
      { tabindex: '0', 'data-key': r.key, class: sameLoc(state.selected, locOf(r)) ? 'selected' : '' },
      el('td', { class: 'key', title: `${r.dagId} / ${r.runId}` }, r.key, r.sensitive ? el('span', { class: 'lock', title: 'sensitive: masked until revealed' }, 'sensitive') : ''),
      el('td', { class: 'task', title: r.taskId }, r.mapIndex >= 0 ? `${r.taskId}[${r.mapIndex}]` : r.taskId),
      el('td', { class: 'badges' }, ...chainBadges(r.chain).map((b) => el('span', { class: `badge badge-${b.kind}` }, b.label))),
      el('td', { class: 'num' }, formatBytes(r.sizeOriginal)),
      el('td', { class: 'num' }, formatBytes(r.sizeStored)),
      el('td', { class: 'num' }, formatRatio(r.sizeOriginal, r.sizeStored)),
      el('td', { class: 'date' }, formatDate(r.createdAt)),
      el('td', {}, r.pulledBy.join(', ') || '—'),
    );
    const pick = () => select(r);
    tr.addEventListener('click', pick);
    tr.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        pick();
      }
    });
    return tr;
  });
  byId('table').replaceChildren(el('thead', {}, head), el('tbody', {}, ...(rows.length ? rows : [el('tr', {}, el('td', { colspan: '8', class: 'empty' }, 'No XComs match the filter.'))])));
  if (restore.table) {
    byId('table-wrap').scrollTop = restore.table;
    restore.table = 0;
  }
  const prev = prevOffset(p.offset, PAGE_SIZE);
  const next = nextOffset(p.offset, p.rows.length, p.total);
  const go = (o: number | undefined) => () => {
    if (o === undefined) return;
    state.offset = o;
    state.tableScroll = 0;
    save();
    byId('table-wrap').scrollTop = 0;
    void loadPage();
  };
  byId('pager').replaceChildren(
    button('« First', go(prev === undefined ? undefined : 0), { secondary: '', ...(prev === undefined ? { disabled: '' } : {}) }),
    button('‹ Previous', go(prev), { secondary: '', ...(prev === undefined ? { disabled: '' } : {}) }),
    el('span', { class: 'range', id: 'range' }, pageRange(p.offset, p.rows.length, p.total)),
    button('Next ›', go(next), { secondary: '', ...(next === undefined ? { disabled: '' } : {}) }),
    button('Last »', go(next === undefined ? undefined : lastOffset(p.total, PAGE_SIZE)), { secondary: '', ...(next === undefined ? { disabled: '' } : {}) }),
    el('span', { class: 'spacer' }),
    button('Clear run’s XComs', () => void action('clearRun'), { secondary: '', id: 'clear-run', ...(state.filter.dagId && state.filter.runId ? {} : { disabled: '', title: 'Choose a DAG and a run first' }) }),
    button('Sweep orphans', () => void action('sweep'), { secondary: '', id: 'sweep' }),
  );
}

// ------------------------------------------------------------------ detail

let revealed = false;
let selectedRow: XComRow | undefined;

function select(r: XComRow) {
  if (!sameLoc(state.selected, locOf(r))) {
    state.expanded = [];
    state.collapsed = [];
    state.treeScroll = 0;
    restore.tree = 0;
  }
  state.selected = locOf(r);
  selectedRow = r;
  revealed = false;
  save();
  for (const tr of document.querySelectorAll('#table tbody tr')) tr.classList.toggle('selected', (tr as HTMLElement).dataset.key === r.key && tr === document.activeElement);
  renderTable();
  void showDetail();
}

async function showDetail() {
  const loc = state.selected;
  const detail = byId('detail');
  if (!loc) {
    detail.replaceChildren(el('p', { class: 'hint' }, 'Select an XCom to decode it.'));
    return;
  }
  const title = el('h2', {}, loc.key, el('span', { class: 'where' }, ` ${loc.taskId}${loc.mapIndex >= 0 ? `[${loc.mapIndex}]` : ''} · ${loc.runId} · ${loc.dagId}`));
  const actions = el('div', { class: 'actions' });
  const body = el('div', { class: 'value', id: 'value' }, 'Decoding…');
  const raw = el('div', { class: 'raw', id: 'raw' });
  detail.replaceChildren(title, actions, body, raw);
  const t0 = performance.now();
  let r;
  try {
    r = await request('read', { loc, path: [], offset: 0, reveal: revealed });
  } catch (e) {
    body.replaceChildren(el('p', { class: 'error' }, `Cannot read: ${errText(e)}`));
    return;
  }
  if (!sameLoc(state.selected, loc)) return; // another row was selected meanwhile
  const rawBtn = button(state.showRaw ? 'Hide raw envelope' : 'Raw envelope & integrity', () => {
    state.showRaw = !state.showRaw;
    save();
    void showDetail();
  }, { secondary: '', id: 'raw-toggle' });
  if (!r.ok) {
    const f = failureText(r.reason);
    body.replaceChildren(
      el('div', { class: 'failure', role: 'alert', id: 'failure', 'data-reason': r.reason }, el('strong', {}, f.title), el('p', { class: 'detail' }, r.message), f.offerKey ? button('Set Encryption Key', () => void setKey(), { id: 'set-key' }) : ''),
    );
    actions.replaceChildren(rawBtn, button('Delete XCom', () => void action('delete'), { secondary: '', id: 'delete' }));
  } else if (r.masked) {
    body.replaceChildren(el('div', { class: 'masked', id: 'masked' }, el('span', {}, '•••••••• sensitive value, hidden '), button('Reveal', () => {
      revealed = true;
      void showDetail();
    }, { id: 'reveal' })));
    actions.replaceChildren(rawBtn, button('Delete XCom', () => void action('delete'), { secondary: '', id: 'delete' }));
  } else {
    const tree = el('div', { class: 'tree', id: 'tree', role: 'tree' });
    tree.addEventListener('scroll', () => {
      state.treeScroll = tree.scrollTop;
      saveSoon();
    });
    tree.append(renderNode(loc, r.path, r.node, null, !state.collapsed.includes(pathId(r.path))));
    body.replaceChildren(el('p', { class: 'meta', id: 'decode-meta' }, `Decoded in ${r.ms} ms in the runtime (${Math.round(performance.now() - t0)} ms in all)${r.sensitive ? ' · sensitive: revealed' : ''}`), tree);
    if (restore.tree) {
      const top = restore.tree;
      restore.tree = 0;
      requestAnimationFrame(() => (tree.scrollTop = top));
    }
    actions.replaceChildren(
      button('Copy value', () => void action('copy'), { id: 'copy' }),
      button('Open as document', () => void action('openDocument'), { secondary: '', id: 'open-doc', title: 'Open the whole value as a read-only JSON document' }),
      button('Save to file…', () => void action('saveFile'), { secondary: '', id: 'save-file', title: 'Save the whole value as a JSON file' }),
      rawBtn,
      ...(r.sensitive ? [button('Hide', () => {
        revealed = false;
        void showDetail();
      }, { secondary: '' })] : []),
      button('Delete XCom', () => void action('delete'), { secondary: '', id: 'delete' }),
    );
  }
  if (state.showRaw) void showRaw(loc, raw);
}

async function showRaw(loc: XComLoc, target: HTMLElement) {
  target.replaceChildren('Reading the envelope…');
  try {
    const r = await request('readRaw', { loc });
    const ok = r.integrity.status === 'ok';
    target.replaceChildren(
      el('h3', {}, 'Raw envelope'),
      el('p', { class: `integrity ${ok ? 'ok' : 'bad'}`, id: 'integrity', 'data-status': r.integrity.status }, `Integrity: ${r.integrity.status}${r.integrity.detail ? ` — ${r.integrity.detail}` : ok ? ' — checksum / GCM tag verified, file present' : ''}`),
      el('p', {}, `Envelope ${formatBytes(r.envelopeBytes)} · inline payload ${formatBytes(r.payloadBytes)} · original ${formatBytes(r.sizeOriginal)} · stored ${formatBytes(r.sizeStored)}`),
      el('pre', { class: 'header' }, JSON.stringify(r.header, null, 2) ?? 'legacy row: plain JSON'),
      r.headHex ? el('pre', { class: 'hex' }, (r.headHex.match(/.{1,64}/g) ?? []).join('\n')) : el('p', { class: 'hint' }, 'Bytes not shown: a sensitive value stored without encryption.'),
    );
  } catch (e) {
    target.replaceChildren(el('p', { class: 'error' }, `Cannot read the envelope: ${errText(e)}`));
  }
}

function renderNode(loc: XComLoc, path: PathStep[], node: ValueNode, child: ChildNode | null, open: boolean): HTMLElement {
  const label = child ? el('span', { class: 'label' }, child.mapKey ? `${scalarText(child.mapKey) || typeLabel(child.mapKey)} → ` : typeof child.label === 'number' ? `[${child.label}] ` : `${child.label}: `) : '';
  const type = el('span', { class: `type type-${node.t}` }, typeLabel(node));
  if (!isContainer(node)) {
    const value = el('span', { class: `scalar scalar-${node.t}` }, scalarText(node));
    const row = el('div', { class: 'leaf', role: 'treeitem' }, label, value, ' ', type);
    const more = remaining(node, node.t === 'string' ? node.v.length : node.t === 'bytes' ? node.hex.length / 2 : 0);
    if (more > 0) {
      let shownEnd = node.t === 'string' ? node.offset + node.v.length : node.t === 'bytes' ? node.offset + node.hex.length / 2 : 0;
      const btn = button(`Load more (${more.toLocaleString('en-US')} ${node.t === 'string' ? 'characters' : 'bytes'} left)`, () => {
        void request('read', { loc, path, offset: shownEnd, reveal: revealed }).then((r) => {
          if (!r.ok || r.masked) return;
          const n = r.node;
          let left = 0;
          if (n.t === 'string') {
            value.textContent = (value.textContent ?? '').replace(/…$/, '') + inert(JSON.stringify(n.v).slice(1, -1)) + (n.offset + n.v.length < n.length ? '…' : '"');
            shownEnd = n.offset + n.v.length;
            left = n.length - shownEnd;
          } else if (n.t === 'bytes') {
            value.textContent = (value.textContent ?? '').replace(/ …$/, '') + ' ' + (n.hex.match(/../g) ?? []).join(' ') + (n.offset + n.hex.length / 2 < n.length ? ' …' : '');
            shownEnd = n.offset + n.hex.length / 2;
            left = n.length - shownEnd;
          }
          if (left <= 0) btn.remove();
          else btn.textContent = `Load more (${left.toLocaleString('en-US')} left)`;
        }, (e: unknown) => status(errText(e), true));
      }, { secondary: '', class: 'more' });
      row.append(' ', btn);
    }
    return row;
  }
  const details = el('details', { role: 'treeitem', 'data-path': pathId(path) });
  const id = pathId(path);
  details.open = child ? open || state.expanded.includes(id) : open;
  const summary = el('summary', {}, label, type);
  const kids = el('div', { class: 'children', role: 'group' });
  details.append(summary, kids);
  let loaded = 0;
  const append = (n: typeof node) => {
    for (const c of n.children ?? []) kids.append(renderNode(loc, [...path, c.label === undefined ? 0 : n.t === 'object' ? c.label : Number(c.label)], c.node, c, false));
    loaded = n.offset + (n.children?.length ?? 0);
    kids.querySelector(':scope > .more-row')?.remove();
    const left = n.size - loaded;
    if (left > 0) {
      const btn = button(`Load more (${left.toLocaleString('en-US')} left)`, () => void fetchChildren(loaded), { secondary: '', class: 'more' });
      kids.append(el('div', { class: 'more-row' }, btn));
    }
  };
  const fetchChildren = async (offset: number) => {
    try {
      const r = await request('read', { loc, path, offset, reveal: revealed });
      if (r.ok && !r.masked && isContainer(r.node)) append(r.node);
    } catch (e) {
      kids.append(el('p', { class: 'error' }, errText(e)));
    }
  };
  if (node.children) append(node);
  else if (details.open) void fetchChildren(0);
  details.addEventListener('toggle', () => {
    if (!node.children && details.open && loaded === 0) void fetchChildren(0);
    // Remember what the user opened and closed, for when the panel is shown again.
    state.expanded = state.expanded.filter((x) => x !== id);
    state.collapsed = state.collapsed.filter((x) => x !== id);
    if (child && details.open) state.expanded.push(id);
    if (!child && !details.open) state.collapsed.push(id);
    save();
  });
  return details;
}

// ------------------------------------------------------------------ actions

async function action(kind: 'copy' | 'openDocument' | 'saveFile' | 'delete' | 'clearRun' | 'sweep') {
  try {
    if (kind === 'clearRun') {
      if (!state.filter.dagId || !state.filter.runId) return;
      const r = await request('clearRun', { dagId: state.filter.dagId, runId: state.filter.runId });
      status(`Deleted ${r.rows} XCom(s) of run ${state.filter.runId}`);
      state.selected = null;
      return void refresh(false);
    }
    if (kind === 'sweep') {
      const r = await request('sweep', {});
      return status(`Swept ${r.removed} orphaned file(s), ${formatBytes(r.bytesFreed)} freed`);
    }
    const loc = state.selected;
    if (!loc) return;
    if (kind === 'delete') {
      const r = await request('delete', { loc });
      if (r.rows > 0) {
        state.selected = null;
        save();
        status(`Deleted XCom ${loc.key}`);
        return void refresh(false);
      }
      return;
    }
    if (kind === 'saveFile') {
      const r = await request('saveFile', { loc, reveal: revealed });
      return status(r.path === null ? 'Not saved' : `Saved ${formatBytes(r.bytes)} of JSON to ${r.path}`);
    }
    const r = await request(kind, { loc, reveal: revealed });
    status(kind === 'copy' ? `Copied ${formatBytes(r.bytes)} of JSON` : `Opened ${formatBytes(r.bytes)} of JSON, read-only`);
  } catch (e) {
    status(errText(e), true);
  }
}

async function setKey() {
  try {
    const r = await request('setKey', {});
    if (r.keySet) void showDetail();
  } catch (e) {
    status(errText(e), true);
  }
}

async function refresh(keepSelection: boolean) {
  await loadFacets();
  await loadPage();
  if (!keepSelection) save();
  if (selectedRow && !state.selected) selectedRow = undefined;
  void showDetail();
}

// ------------------------------------------------------------------ start

let started = false;
async function start() {
  if (!started) {
    started = true;
    document.body.replaceChildren(
      buildFilters(),
      el('div', { class: 'status', id: 'status', role: 'status' }),
      el('div', { class: 'table-wrap', id: 'table-wrap' }, el('table', { id: 'table', class: 'xcoms' })),
      el('div', { class: 'pager', id: 'pager' }),
      el('section', { class: 'detail', id: 'detail', 'aria-label': 'Selected XCom' }),
    );
    byId('table-wrap').addEventListener('scroll', () => {
      state.tableScroll = byId('table-wrap').scrollTop;
      saveSoon();
    });
    window.addEventListener('scroll', () => {
      state.pageScroll = window.scrollY;
      saveSoon();
    });
  } else {
    for (const name of ['mapIndex', 'key', 'keyPrefix'] as const) {
      (byId(`f-${name}`) as unknown as { value: string }).value = name === 'mapIndex' ? (state.filter.mapIndex === undefined ? '' : String(state.filter.mapIndex)) : (state.filter[name] ?? '');
    }
  }
  await refresh(true);
  if (restore.page) {
    const top = restore.page;
    restore.page = 0;
    requestAnimationFrame(() => window.scrollTo(0, top));
  }
}

vscode.postMessage({ type: 'ready' });
