/**
 * The trigger form webview ("Run DAG with Config…", as Airflow 3's trigger form): a
 * field per DAG param (text with its pattern, number with its bounds, a checkbox, a
 * dropdown for an enum, JSON for arrays and objects, a date, date-and-time or time picker
 * for a string with that format), defaults filled, descriptions shown, a field's problem
 * under it as you type (the runtime's own check, so the same words); a JSON tab with the
 * whole conf kept in sync; the logical date as a date-and-time picker (empty: now); a
 * date and time is picked in the webview's time zone and sent as UTC, as Airflow's form;
 * the recent configurations of the DAG to start from; Trigger sends the conf and shows
 * the run id or the runtime's error.
 *
 * Talks to the host only through src/protocol/webviews/trigger.ts; every message
 * received is checked. State (values, JSON, tab, date) is kept with setState.
 */
import { el, byId, button, status, errText, inert } from '../shared/dom.ts';
import { byErrorText, requester } from '../shared/requests.ts';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-checkbox/index.js';
import '@vscode-elements/elements/dist/vscode-label/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-textarea/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import './style.css';
import { checkResult, parseHostMessage } from '../../src/protocol/webviews/trigger.ts';
import type {
  RecentConf,
  TriggerDag,
  TriggerPanelMethods,
  WebviewMessage,
} from '../../src/protocol/webviews/trigger.ts';
import {
  confError,
  confText,
  defaultValues,
  fieldError,
  fieldsOf,
  formConf,
  fromPicker,
  isoToLocal,
  parseConfText,
  parseLogicalDate,
  pickerType,
  pickerValue,
  recentLabel,
  valuesFromConf,
  zoneLabel,
} from '../../src/protocol/webviews/trigger-form.ts';
import type { FieldValues, FormField } from '../../src/protocol/webviews/trigger-form.ts';

interface VsCodeApi {
  postMessage(m: WebviewMessage): void;
  getState(): unknown;
  setState(s: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;
const vscode = acquireVsCodeApi();
/** The time zone dates and times are picked in (Airflow's form: the browser's, unless the user chose one). */
const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';

type Tab = 'form' | 'json';
interface State {
  dagId: string | null;
  values: FieldValues;
  /** Conf keys that are no param (typed in the JSON tab). */
  extras: Record<string, unknown>;
  json: string;
  tab: Tab;
  /** The logical date picker's value: a wall time in `zone` (empty: now). */
  date: string;
  /** The status line (the last trigger's outcome), shown again when the panel is. */
  status: { text: string; error: boolean } | null;
}
const saved = vscode.getState() as Partial<State> | undefined;
const state: State = {
  dagId: saved?.dagId ?? null,
  values: saved?.values ?? {},
  extras: saved?.extras ?? {},
  json: saved?.json ?? '{}',
  tab: saved?.tab ?? 'form',
  date: saved?.date ?? '',
  status: saved?.status ?? null,
};
const save = () => vscode.setState(state);
/** Shows a line in the status and keeps it with the state. */
function say(text: string, error = false): void {
  state.status = { text, error };
  save();
  status(text, error);
}

let dag: TriggerDag | null = null;
let fields: FormField[] = [];
let recent: RecentConf[] = [];

const rpc = requester<TriggerPanelMethods>(
  'Trigger',
  (m) => vscode.postMessage(m as WebviewMessage),
  byErrorText(checkResult),
);

window.addEventListener('message', (e: MessageEvent) => {
  const parsed = parseHostMessage(e.data);
  if (!parsed.ok) {
    console.error(`Hangar Trigger: rejected a message from the host: ${parsed.error}`);
    return;
  }
  const m = parsed.value;
  if (m.type === 'init') {
    dag = m.dag;
    fields = fieldsOf(dag.params);
    recent = m.recent;
    if (m.fresh || state.dagId !== dag.dagId) {
      state.dagId = dag.dagId;
      state.values = defaultValues(fields, dag.params);
      state.extras = {};
      state.json = confText(formConf(fields, state.values).conf);
      state.date = '';
      state.status = null;
      state.tab = fields.length > 0 ? 'form' : 'json';
    } else {
      // Kept values of params that still exist; new params get their defaults.
      state.values = {
        ...defaultValues(fields, dag.params),
        ...Object.fromEntries(Object.entries(state.values).filter(([k]) => fields.some((f) => f.name === k))),
      };
    }
    if (fields.length === 0) state.tab = 'json';
    save();
    render();
  } else if (m.type === 'recent') {
    if (dag && m.dagId === dag.dagId) {
      recent = m.recent;
      renderRecent();
    }
  } else rpc.settle(m);
});

// ------------------------------------------------------------------ page

const valueOf = (e: HTMLElement): string => (e as unknown as { value: string }).value ?? '';
const setValue = (e: HTMLElement, v: string): void => void ((e as unknown as { value: string }).value = v);
const checkedOf = (e: HTMLElement): boolean => (e as unknown as { checked: boolean }).checked;

function render(): void {
  if (!dag) return;
  const d = dag;
  document.body.replaceChildren(
    el('h2', { id: 'title' }, `Trigger DAG: ${d.dagId}`),
    ...(d.description ? [el('p', { class: 'description', id: 'dag-description' }, d.description)] : []),
    el('div', { class: 'row', id: 'recent-row' }),
    el(
      'div',
      { class: 'tabs', role: 'tablist' },
      ...(fields.length > 0 ? [button('Form', () => setTab('form'), { id: 'tab-form', role: 'tab' })] : []),
      button('JSON', () => setTab('json'), { id: 'tab-json', role: 'tab' }),
      ...(fields.length === 0
        ? [
            el(
              'span',
              { class: 'hint', id: 'no-params' },
              'This DAG has no params: give the run configuration as JSON.',
            ),
          ]
        : []),
    ),
    el('div', { id: 'form', class: 'pane', role: 'tabpanel' }),
    el('div', { id: 'json', class: 'pane', role: 'tabpanel' }, jsonPane()),
    el(
      'div',
      { class: 'field' },
      el('vscode-label', { for: 'logical-date' }, 'Logical date'),
      el(
        'div',
        { class: 'row picker-row' },
        dateField(),
        button('Now', () => setDate(''), { id: 'date-now', secondary: '' }),
      ),
      el(
        'div',
        { class: 'hint', id: 'date-hint' },
        `Empty: now. In ${zoneLabel(zone)}; the run gets it in UTC.`,
      ),
      el('div', { class: 'field-error', id: 'date-error', role: 'alert' }),
    ),
    el('div', { class: 'field-error', id: 'conf-error', role: 'alert' }),
    el(
      'div',
      { class: 'row' },
      button('Trigger', () => void trigger(), { id: 'trigger' }),
    ),
    el('div', { id: 'status', class: 'status', role: 'status' }),
  );
  renderRecent();
  renderForm();
  showTab();
  checkAll();
  if (state.status) status(state.status.text, state.status.error);
}

function renderRecent(): void {
  const row = byId('recent-row');
  if (!row) return;
  if (recent.length === 0) {
    row.replaceChildren();
    return;
  }
  const sel = el(
    'vscode-single-select',
    { id: 'recent', 'aria-label': 'Recent configurations', class: 'recent' },
    el('vscode-option', { value: '' }, 'Choose a recent configuration…'),
    ...recent.map((r, i) => el('vscode-option', { value: String(i) }, recentLabel(r))),
  );
  sel.addEventListener('change', () => {
    const r = recent[Number(valueOf(sel))];
    if (!valueOf(sel) || !r) return;
    applyConf(r.conf);
    say(`Filled from the configuration of ${r.at.slice(0, 19).replace('T', ' ')}.`);
  });
  row.replaceChildren(el('vscode-label', { for: 'recent' }, 'Recent configurations'), sel);
}

function fieldControl(f: FormField): HTMLElement {
  const id = `p-${f.name}`;
  const raw = state.values[f.name];
  let c: HTMLElement;
  switch (f.kind) {
    case 'boolean':
      c = el('vscode-checkbox', { id, label: f.label });
      (c as unknown as { checked: boolean }).checked = raw === true;
      c.addEventListener('change', () => fieldChanged(f, checkedOf(c)));
      return c;
    case 'enum':
      c = el(
        'vscode-single-select',
        { id, 'aria-label': f.label },
        ...(f.required ? [el('vscode-option', { value: '' }, 'Choose…')] : []),
        ...f.options.map((o) =>
          el('vscode-option', { value: o.raw, ...(o.raw === raw ? { selected: '' } : {}) }, o.label),
        ),
      );
      setValue(c, String(raw ?? ''));
      c.addEventListener('change', () => fieldChanged(f, valueOf(c)));
      return c;
    case 'date':
    case 'datetime':
    case 'time':
      // A native picker (vscode-textfield wraps an <input> of that type); with seconds for a time, as Airflow's.
      c = el('vscode-textfield', {
        id,
        type: pickerType(f.kind)!,
        class: 'picker',
        'aria-label': f.label,
        ...(f.kind === 'date' ? {} : { step: '1' }),
      });
      setValue(c, pickerValue(f, raw, zone));
      c.addEventListener('input', () => fieldChanged(f, fromPicker(f, valueOf(c), zone)));
      return c;
    case 'json':
      c = el('vscode-textarea', { id, rows: '4', class: 'code', 'aria-label': f.label });
      setValue(c, String(raw ?? ''));
      c.addEventListener('input', () => fieldChanged(f, valueOf(c)));
      return c;
    default:
      c = el('vscode-textfield', {
        id,
        'aria-label': f.label,
        ...(f.kind === 'string' ? {} : { inputmode: 'decimal' }),
        ...(f.required ? { placeholder: 'required' } : {}),
      });
      setValue(c, String(raw ?? ''));
      c.addEventListener('input', () => fieldChanged(f, valueOf(c)));
      return c;
  }
}

function renderForm(): void {
  const form = byId('form');
  form.replaceChildren(
    ...fields.map((f) =>
      el(
        'div',
        { class: 'field', 'data-param': f.name },
        ...(f.kind === 'boolean'
          ? []
          : [el('vscode-label', { for: `p-${f.name}`, ...(f.required ? { required: '' } : {}) }, f.label)]),
        ...(hintFor(f) ? [el('span', { class: 'hint' }, hintFor(f))] : []),
        fieldControl(f),
        ...(f.description ? [el('div', { class: 'description' }, f.description)] : []),
        el('div', { class: 'field-error', id: `err-${f.name}`, role: 'alert' }),
      ),
    ),
  );
}

/** A field's hint: its name (when titled) and rules; a date and time says the zone it is picked in. */
function hintFor(f: FormField): string {
  const rules = f.kind === 'datetime' ? `${f.hint}, in ${zoneLabel(zone)}, sent as UTC` : f.hint;
  return !rules ? '' : f.label === f.name ? rules : `${f.name} · ${rules}`;
}

function jsonPane(): Node {
  const area = el('vscode-textarea', {
    id: 'conf-json',
    rows: '12',
    class: 'code',
    'aria-label': 'Run configuration as JSON',
  });
  setValue(area, state.json);
  area.addEventListener('input', () => {
    state.json = valueOf(area);
    const p = parseConfText(state.json);
    if (p.ok) {
      const v = valuesFromConf(fields, dag?.params ?? [], p.conf);
      state.values = v.values;
      state.extras = v.extras;
    }
    save();
    checkAll();
  });
  return el(
    'div',
    {},
    el('vscode-label', { for: 'conf-json' }, 'Run configuration (dag_run.conf)'),
    area,
    el('div', { class: 'field-error', id: 'json-error', role: 'alert' }),
  );
}

function dateField(): HTMLElement {
  const c = el('vscode-textfield', {
    id: 'logical-date',
    type: 'datetime-local',
    step: '1',
    class: 'picker',
    'aria-label': 'Logical date',
  });
  // A date kept by an older form (text with an offset, or a day alone) becomes the wall time it means here.
  if (/(Z|[+-]\d{2}:?\d{2})$/i.test(state.date)) state.date = isoToLocal(state.date, zone);
  else if (/^\d{4}-\d{2}-\d{2}$/.test(state.date)) state.date = `${state.date}T00:00`;
  setValue(c, state.date);
  c.addEventListener('input', () => {
    state.date = valueOf(c);
    save();
    checkAll();
  });
  return c;
}

function setDate(v: string): void {
  state.date = v;
  setValue(byId('logical-date'), v);
  save();
  checkAll();
}

function fieldChanged(f: FormField, raw: string | boolean): void {
  state.values[f.name] = raw;
  state.json = confText(formConf(fields, state.values, state.extras).conf);
  setValue(byId('conf-json'), state.json);
  save();
  checkAll();
}

/** Fills the form and the JSON from a conf (a recent configuration). */
function applyConf(conf: Record<string, unknown>): void {
  const v = valuesFromConf(fields, dag?.params ?? [], conf);
  state.values = v.values;
  state.extras = v.extras;
  state.json = confText(conf);
  save();
  renderForm();
  setValue(byId('conf-json'), state.json);
  checkAll();
}

function setTab(t: Tab): void {
  if (t === state.tab) return;
  state.tab = t;
  save();
  if (t === 'form') renderForm(); // the values the JSON set
  showTab();
  checkAll();
}

function showTab(): void {
  document.body.dataset.tab = state.tab;
  for (const t of ['form', 'json'] as const) {
    const b = document.getElementById(`tab-${t}`);
    if (!b) continue;
    b.toggleAttribute('secondary', t !== state.tab);
    b.setAttribute('aria-selected', String(t === state.tab));
  }
}

/**
 * The conf Trigger would send (the JSON tab's text when it is shown), or why there is none: the
 * runtime's verdict on the conf first (the same words it would answer), else a field it cannot read.
 */
function currentConf(): { conf: Record<string, unknown> } | { error: string } {
  if (!dag) return { error: 'No DAG' };
  if (state.tab === 'json') {
    const p = parseConfText(state.json);
    if (!p.ok) return { error: p.error };
    const runtime = confError(dag.dagId, dag.params, p.conf);
    return runtime ? { error: runtime } : { conf: p.conf };
  }
  const { conf, errors } = formConf(fields, state.values, state.extras);
  const runtime = confError(dag.dagId, dag.params, conf);
  if (runtime) return { error: runtime };
  const bad = Object.keys(errors);
  return bad.length > 0
    ? { error: `Fix ${bad.length === 1 ? `the field ${bad[0]}` : `the fields ${bad.join(', ')}`} first.` }
    : { conf };
}

/** Shows every problem: under each field, under the JSON, under the date, and the runtime's verdict on the whole conf. */
function checkAll(): boolean {
  if (!dag) return false;
  for (const f of fields) {
    const e = document.getElementById(`err-${f.name}`);
    const why = fieldError(f, state.values[f.name]);
    if (e) e.textContent = inert(why ?? '');
    e?.closest('.field')?.classList.toggle('invalid', !!why);
  }
  const p = parseConfText(state.json);
  byId('json-error').textContent = p.ok ? '' : inert(p.error);
  const d = parseLogicalDate(state.date, zone);
  byId('date-error').textContent = d.ok ? '' : `Logical date: ${d.error}`;
  const c = currentConf();
  const verdict = 'error' in c ? c.error : undefined;
  byId('conf-error').textContent = inert(verdict ?? '');
  return !verdict && d.ok;
}

let busy = false;
async function trigger(): Promise<void> {
  if (!dag || busy) return;
  const c = currentConf();
  const d = parseLogicalDate(state.date, zone);
  if (!checkAll() || 'error' in c || !d.ok) {
    say('Not triggered: the configuration breaks a rule (see above).', true);
    return;
  }
  busy = true;
  say(`Triggering ${dag.dagId}…`);
  try {
    const r = await rpc.request('trigger', {
      dagId: dag.dagId,
      conf: c.conf,
      ...(d.iso ? { logicalDate: d.iso } : {}),
    });
    say(`Triggered run ${r.runId} (logical date ${r.logicalDate}).`);
  } catch (e) {
    say(`Not triggered: ${errText(e)}`, true);
  } finally {
    busy = false;
  }
}

vscode.postMessage({ type: 'ready' });
