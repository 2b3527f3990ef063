/**
 * vscode-free logic for the DAGs tree, diagnostics, CodeLens, settings, log
 * document addresses and command input: plain functions tested with node:test.
 */
import { inertLine, markdownText } from '../protocol/inert.ts';
import type { DagInfo, DagListResult, FileTiming, InitializeParams, LoadError, TaskGroupInfo, TaskInfo } from '../protocol/runtime.ts';

/** Codicon for a task kind. */
export function taskKindIcon(task: Pick<TaskInfo, 'kind' | 'mapped'>): string {
  if (task.mapped) return 'layers';
  switch (task.kind) {
    case 'typescript':
    case 'python': // the name of TypeScript tasks in stores written before it was renamed
    case 'task':
      return 'symbol-method';
    case 'bash':
      return 'terminal';
    case 'sensor':
      return 'eye';
    case 'sync':
      return 'arrow-swap';
    case 'branch':
      return 'git-branch';
    case 'empty':
      return 'circle-small';
    default:
      return 'symbol-event';
  }
}

export function taskDescription(t: TaskInfo): string {
  const parts = [t.kind];
  if (t.mapped) parts.push('mapped');
  if (t.upstream.length) parts.push(`← ${t.upstream.join(', ')}`);
  return parts.join(' · ');
}

/** One child row of a DAG in the tree for its assets: what it is scheduled on (fed by) and what it updates (feeds). */
export interface AssetRow {
  readonly key: string;
  readonly label: string;
  readonly description: string;
  readonly tooltip: string;
  readonly icon: string;
}

/**
 * The DAG's asset rows, before its tasks: `← s3://…` for each asset it is scheduled on (with the
 * tasks that update it: which DAGs feed it), `→ s3://…` for each asset its tasks update (with
 * the DAGs that asset schedules).
 */
export function assetRows(d: DagInfo): AssetRow[] {
  const a = d.assets;
  if (!a) return [];
  const rows: AssetRow[] = [];
  for (const c of a.consumes) {
    rows.push({
      key: `consumes:${c.uri}`,
      label: `← ${c.uri}`,
      description: c.producers.length ? `updated by ${c.producers.join(', ')}` : 'no task in this workspace updates it',
      tooltip: `${d.dagId} runs when this asset is updated (its schedule: ${d.schedule ?? ''})${c.producers.length ? `; updated by ${c.producers.join(', ')}` : ''}`,
      icon: 'database',
    });
  }
  for (const p of a.produces) {
    rows.push({
      key: `produces:${p.uri}`,
      label: `→ ${p.uri}`,
      description: `by ${p.tasks.join(', ')}${p.consumers.length ? ` · schedules ${p.consumers.join(', ')}` : ''}`,
      tooltip: `A success of ${p.tasks.join(', ')} records an event of this asset${p.consumers.length ? `, which triggers ${p.consumers.join(', ')}` : ''}`,
      icon: 'database',
    });
  }
  return rows;
}

/** A row under a DAG (or a task group) in the DAGs tree. */
export type DagTreeChild = { type: 'group'; group: TaskGroupInfo; taskCount: number } | { type: 'task'; task: TaskInfo };

/**
 * The rows under a DAG (`groupId` null) or one of its task groups: its tasks and subgroups,
 * each group where its first task comes in the DAG's topological order (groups without
 * tasks last, in definition order), so that a collapsed group keeps the DAG's reading order.
 */
export function dagTreeChildren(dag: DagInfo, groupId: string | null): DagTreeChild[] {
  const groups = new Map((dag.groups ?? []).map((g) => [g.groupId, g]));
  const count = new Map<string, number>();
  const out: DagTreeChild[] = [];
  const placed = new Set<string>();
  for (const task of dag.tasks) {
    const own = task.group ?? null;
    for (let g = own === null ? undefined : groups.get(own); g; g = g.parent === null ? undefined : groups.get(g.parent)) count.set(g.groupId, (count.get(g.groupId) ?? 0) + 1);
    if (own === groupId) {
      out.push({ type: 'task', task });
      continue;
    }
    // The child of `groupId` on the way up from the task's group, if the task is inside `groupId`.
    let child: TaskGroupInfo | undefined;
    for (let g = own === null ? undefined : groups.get(own); g; g = g.parent === null ? undefined : groups.get(g.parent)) {
      if (g.parent === groupId) {
        child = g;
        break;
      }
    }
    if (child && !placed.has(child.groupId)) {
      placed.add(child.groupId);
      out.push({ type: 'group', group: child, taskCount: 0 });
    }
  }
  for (const g of groups.values()) if (g.parent === groupId && !placed.has(g.groupId)) out.push({ type: 'group', group: g, taskCount: 0 });
  return out.map((c) => (c.type === 'group' ? { ...c, taskCount: count.get(c.group.groupId) ?? 0 } : c));
}

/** A task's label in the tree: under its group, the id without the group's prefix (Airflow's label). */
export function taskLabel(task: Pick<TaskInfo, 'taskId' | 'group'>): string {
  return task.group && task.taskId.startsWith(`${task.group}.`) ? task.taskId.slice(task.group.length + 1) : task.taskId;
}

export function groupDescription(c: Extract<DagTreeChild, { type: 'group' }>): string {
  return `task group · ${c.taskCount} task${c.taskCount === 1 ? '' : 's'}`;
}

export function dagDescription(d: DagInfo): string {
  const parts = [`${d.tasks.length} task${d.tasks.length === 1 ? '' : 's'}`, d.assets?.consumes.length ? `on assets ${d.schedule}` : (d.schedule ?? 'manual only')];
  if (d.isPaused) parts.push('paused');
  else if (d.nextRun) parts.push(`next ${formatLocal(d.nextRun.runAfter, d.timezone)}`);
  return [...parts, ...d.tags.map((t) => `#${t}`)].join(' · ');
}

/** The DAG's tooltip (Markdown): schedule, zone, paused, the next run in local time and UTC, and how long its file took to parse. */
export function dagTooltip(d: DagInfo, timing?: FileTiming): string {
  const lines = [`**${d.dagId}**`];
  // The description is the DAG author's text, not Markdown: shown as written (markup, links and bidi inert), cut at 1,000 characters.
  if (d.description) lines.push(markdownText(inertLine(d.description, 1000)));
  const zone = d.timezone === 'UTC' ? 'UTC' : d.timezone;
  if (d.assets?.consumes.length) lines.push(`Scheduled on assets: \`${d.schedule}\`${d.isPaused ? ' — **paused**' : ''}`);
  else lines.push(d.schedule ? `Schedule: \`${d.schedule}\` in ${zone}${d.isPaused ? ' — **paused**' : ''}` : 'Manual runs only');
  if (d.nextRun) {
    const both = (iso: string) => (d.timezone === 'UTC' ? formatLocal(iso, 'UTC') : `${formatLocal(iso, d.timezone)} (${formatLocal(iso, 'UTC')})`);
    lines.push(
      `Next run: logical date ${both(d.nextRun.logicalDate)}, data interval ${both(d.nextRun.dataIntervalStart)} → ${both(d.nextRun.dataIntervalEnd)}; created after ${both(d.nextRun.runAfter)}${d.isPaused ? ' once unpaused' : ''}`,
    );
  }
  lines.push(d.file);
  if (timing) {
    const ms = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${Math.round(n)} ms`);
    const parts = [timing.compileMs === null ? 'compile cached' : `compile ${ms(timing.compileMs)}`, timing.importMs === null ? null : `import ${ms(timing.importMs)}`].filter(Boolean);
    lines.push(`Last parsed at ${formatLocal(timing.parsedAt, d.timezone)}, in ${ms(timing.totalMs)} (${parts.join(', ')})`);
  }
  return lines.join('\n\n');
}

/** `YYYY-MM-DD HH:MM` in a zone (IANA or `UTC±HH:MM`), with the zone's abbreviation or offset; the ISO text if the zone is unknown. */
export function formatLocal(iso: string, zone: string): string {
  const d = new Date(iso);
  const fixed = /^UTC([+-]\d\d:\d\d)$/.exec(zone);
  try {
    const f = new Intl.DateTimeFormat('en-CA', { timeZone: fixed ? fixed[1] : zone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZoneName: 'short' });
    const p = Object.fromEntries(f.formatToParts(d).map((x) => [x.type, x.value]));
    return `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute} ${p.timeZoneName}`;
  } catch {
    return iso;
  }
}

/** The status bar text of the scheduler toggle. */
export function schedulerStatus(enabled: boolean): { text: string; tooltip: string } {
  return enabled
    ? { text: '$(watch) Scheduler on', tooltip: 'Hangar creates and runs scheduled runs while this window is open. Click to turn it off.' }
    : { text: '$(debug-pause) Scheduler off', tooltip: 'Scheduled DAGs do not run from this window. Click to run the scheduler here (remembered for this workspace).' };
}

/** One diagnostic of a DAG file: 0-based range for VS Code. */
export interface FileDiagnostic {
  line: number;
  column: number;
  message: string;
}

/**
 * Load errors grouped by file, as diagnostics (0-based positions; an unknown
 * position is the first line). The message drops the `file:line:col: ` prefix
 * the runtime puts in front, since the Problems panel shows the position.
 */
export function diagnosticsByFile(errors: readonly LoadError[]): Map<string, FileDiagnostic[]> {
  const out = new Map<string, FileDiagnostic[]>();
  for (const e of errors) {
    const list = out.get(e.file) ?? [];
    list.push({ line: Math.max(0, (e.line ?? 1) - 1), column: Math.max(0, (e.column ?? 1) - 1), message: stripPosition(e.message, e.file) });
    out.set(e.file, list);
  }
  return out;
}

export function stripPosition(message: string, file: string): string {
  if (message.startsWith(file)) return message.slice(file.length).replace(/^(:\d+(:\d+)?)?:\s*/, '') || message;
  return message;
}

/** Where to put CodeLenses in a file: one per DAG defined there (0-based line). */
export function lensesForFile(list: DagListResult | undefined, file: string): { dagId: string; line: number }[] {
  if (!list) return [];
  return list.dags
    .filter((d) => (d.position?.file ?? d.file) === file)
    .map((d) => ({ dagId: d.dagId, line: Math.max(0, (d.position?.line ?? 1) - 1) }))
    .sort((a, b) => a.line - b.line);
}

/** Reads `hangar.*` settings (through `get`) into the runtime's config overrides; unset means `hangar.json` decides. */
export function configFromSettings(get: (key: string) => unknown): InitializeParams['config'] {
  const config: InitializeParams['config'] = {};
  const str = (k: string): string | undefined => {
    const v = get(k);
    return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
  };
  const num = (k: string): number | undefined => {
    const v = get(k);
    return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined;
  };
  const dagsFolder = str('dagsFolder');
  if (dagsFolder) config.dagsFolder = dagsFolder;
  const store = str('store');
  if (store) config.store = store;
  const parallelism = num('parallelism');
  if (parallelism) config.parallelism = Math.floor(parallelism);
  const executor = str('executor');
  if (executor === 'isolated' || executor === 'in-process') config.executor = executor;
  const xcom: Record<string, unknown> = {};
  const backend = str('xcom.backend');
  if (backend) xcom.backend = backend;
  const fileThreshold = num('xcom.fileThreshold');
  if (fileThreshold) xcom.fileThreshold = fileThreshold;
  const compressionThreshold = num('xcom.compressionThreshold');
  if (compressionThreshold) xcom.compression = { threshold: compressionThreshold };
  const objectStoreUrl = str('xcom.objectStoreUrl');
  if (objectStoreUrl) xcom.objectStore = { url: objectStoreUrl };
  const objectStoreThreshold = num('xcom.objectStoreThreshold');
  if (objectStoreThreshold) xcom.objectStoreThreshold = objectStoreThreshold;
  if (Object.keys(xcom).length) config.xcom = xcom;
  const parseBudgetMs = num('parseBudgetMs');
  if (parseBudgetMs) config.parseBudgetMs = Math.round(parseBudgetMs);
  return config;
}

// ------------------------------------------------------------------ log documents

/** Which log a `hangar-log:` document shows; `tryNumber` undefined = the latest try (it follows retries). */
export interface LogRef {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  tryNumber?: number;
}

export const LOG_SCHEME = 'hangar-log';

/** Path (the tab title is its last segment) and query of a log document. */
export function logUriParts(ref: LogRef): { path: string; query: string } {
  const name = `${ref.taskId}${ref.mapIndex >= 0 ? `[${ref.mapIndex}]` : ''}${ref.tryNumber ? ` try ${ref.tryNumber}` : ''}.log`;
  const q = new URLSearchParams({ dag: ref.dagId, run: ref.runId, task: ref.taskId, map: String(ref.mapIndex) });
  if (ref.tryNumber) q.set('try', String(ref.tryNumber));
  return { path: `/${ref.dagId}/${ref.runId.replace(/[/\\]/g, '_')}/${name}`, query: q.toString() };
}

export function parseLogQuery(query: string): LogRef {
  const q = new URLSearchParams(query);
  const dagId = q.get('dag');
  const runId = q.get('run');
  const taskId = q.get('task');
  const map = Number(q.get('map') ?? '-1');
  const t = q.get('try');
  if (!dagId || !runId || !taskId || !Number.isInteger(map)) throw new Error(`Not a Hangar log address: ?${query} (needs dag, run, task and map)`);
  const tryNumber = t === null ? undefined : Number(t);
  if (tryNumber !== undefined && (!Number.isInteger(tryNumber) || tryNumber < 1)) throw new Error(`Not a Hangar log address: try "${t}" is not a whole number ≥ 1`);
  return { dagId, runId, taskId, mapIndex: map, tryNumber };
}

/** Whether a log line/notification for (dag, run, task, map, try) belongs to the document `ref`. */
export function logRefMatches(ref: LogRef, e: { dagId: string; runId: string; taskId: string; mapIndex: number; tryNumber?: number }): boolean {
  return (
    ref.dagId === e.dagId &&
    ref.runId === e.runId &&
    ref.taskId === e.taskId &&
    ref.mapIndex === e.mapIndex &&
    (ref.tryNumber === undefined || e.tryNumber === undefined || ref.tryNumber === e.tryNumber)
  );
}

// ------------------------------------------------------------------ command input

/** Parses a date typed for Backfill (YYYY-MM-DD or full ISO, UTC); returns an ISO string or throws naming the field. */
export function parseDateInput(text: string, what: string): string {
  const t = text.trim();
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(t)) {
    throw new Error(`${what}: "${t}" is not a date like 2024-01-31 or 2024-01-31T06:00:00Z`);
  }
  const iso = t.length === 10 ? `${t}T00:00:00Z` : /Z|[+-]\d{2}:?\d{2}$/.test(t) ? t.replace(' ', 'T') : `${t.replace(' ', 'T')}Z`;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) throw new Error(`${what}: "${t}" is not a valid date`);
  return d.toISOString();
}

/** Checks an XCom key typed by the user: 32 bytes as base64 (44 characters); returns an error message or undefined. */
export function checkKeyMaterial(text: string): string | undefined {
  const t = text.trim();
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(t)) return 'An XCom key is 32 random bytes in base64 (44 characters, A-Z a-z 0-9 + /, = padding)';
  const bytes = Buffer.from(t, 'base64').byteLength;
  if (bytes !== 32) return `An XCom key must be 32 bytes; this one decodes to ${bytes}`;
  return undefined;
}

export function checkKeyId(text: string, existing: readonly string[]): string | undefined {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(text)) return 'A key id is 1 to 64 of A-Z a-z 0-9 . _ -';
  if (existing.includes(text)) return `There is already a key "${text}"`;
  return undefined;
}

/** The next key id for a rotation: `key-N+1` after the highest `key-N`. */
export function nextKeyId(existing: readonly string[]): string {
  let n = 0;
  for (const id of existing) {
    const m = /^key-(\d+)$/.exec(id);
    if (m) n = Math.max(n, Number(m[1]));
  }
  return `key-${n + 1}`;
}
