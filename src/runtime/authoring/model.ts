/**
 * What the editor knows about the ids in DAG files, without VS Code: for a
 * file's current text and the workspace's DAG structure (the DAG processor's
 * `dag/list` result: DAGs, their tasks, kinds and source positions) plus
 * hangar.json's connections and pools, the HANGAR_CONN_* and HANGAR_VAR_* names and
 * the runtime's variables (keys and JSON-ness, never a secret), it answers
 * completions, definitions, references, renames and diagnostics at the id
 * strings the scanner finds. It never imports a DAG file: the structure comes
 * from the last parse, the buffer's own definitions from scanning its text.
 *
 * Offsets are UTF-16 offsets into the text (what VS Code's positionAt takes).
 */
import type { DagInfo, DagListResult, TaskInfo, VariableSummary } from '../../protocol/runtime.ts';
import { normalizeAssetUri } from '../dag/assets.ts';
import { clockStartDates, scan, tokenize } from './scanner.ts';
import type { Site, SiteKind } from './scanner.ts';

export type { Site, SiteKind } from './scanner.ts';

export interface AuthoringFacts {
  /** The DAG processor's last result (null before the first load: only the buffer's own ids are known). */
  readonly list: DagListResult | null;
  /** hangar.json's path and text (connections and pools are read from it, with their positions); null: there is none; undefined: not known (no connection or pool Problems). */
  readonly config?: { readonly file: string; readonly text: string } | null;
  /** Environment variables (only HANGAR_CONN_* are read, and of those only the type and host). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Connection ids known elsewhere (e.g. kept in VS Code's secret storage), without their URIs. */
  readonly extraConnections?: readonly string[];
  /** The runtime's variables (`variable/list`); undefined: not known (no variable Problems). */
  readonly variables?: readonly VariableSummary[];
}

/** 0-based line and character. */
export interface LineCol {
  readonly line: number;
  readonly character: number;
}

export interface Location {
  readonly file: string;
  readonly start: LineCol;
  readonly end: LineCol;
}

export interface Completion {
  readonly label: string;
  readonly detail: string;
  readonly kind: IdKind;
}

export type IdKind = 'task' | 'dag' | 'connection' | 'pool' | 'variable' | 'queue' | 'asset';

export interface CompletionResult {
  readonly items: Completion[];
  /** The offsets of the string's value the chosen item replaces. */
  readonly start: number;
  readonly end: number;
}

export interface Diagnostic {
  readonly start: number;
  readonly end: number;
  readonly message: string;
  readonly severity: 'error' | 'warning';
  /** The id's kind, or `startDate` for the lint of a start date read from the clock. */
  readonly kind: SiteKind | 'startDate';
  readonly value: string;
  /** The nearest existing id (the quick fix), if one is near enough. */
  readonly suggestion?: string;
}

export interface TextEdit extends Location {
  readonly newText: string;
}

/** What a string in a DAG file names, resolved against the workspace. */
interface Target {
  kind: IdKind;
  /** For tasks: the DAG they belong to. */
  dagId?: string;
  id: string;
}

interface Conn {
  id: string;
  type: string;
  host: string;
  source: string;
  def?: Location;
}

const TASK_ID_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,249}$/;
const CONN_PREFIX = 'HANGAR_CONN_';
const VAR_PREFIX = 'HANGAR_VAR_';
/** Airflow's default Celery queue (`[operators] default_queue`): a task without `queue` goes there. */
export const DEFAULT_QUEUE = 'default';

/** Task hover facts: the task as the last parse knows it (null: only in the buffer so far). */
export interface TaskAt {
  readonly dagId: string;
  readonly taskId: string;
  readonly task: TaskInfo | null;
  /** The id string's offsets (the hover's range). */
  readonly start: number;
  readonly end: number;
}

/** The ids used across the DAG files (other than the one being edited), indexed once per update. */
interface WorkspaceUses {
  /** Variable keys set by a task (`ctx.variables.set('k', …)`): they exist once that task ran. */
  variablesSet: Map<string, string[]>;
  queues: Map<string, { file: string; count: number }[]>;
  /** Normalised asset URI → the files that name it. */
  assets: Map<string, string[]>;
}

export class AuthoringModel {
  private facts: AuthoringFacts = { list: null };
  private readonly readFile: (file: string) => string | undefined;
  private readonly scans = new Map<string, { text: string; sites: Site[] }>();
  private dagsById = new Map<string, DagInfo>();
  private dagsByFile = new Map<string, DagInfo[]>();
  private conns = new Map<string, Conn>();
  private pools = new Map<string, { slots: number; def?: Location }>();
  private variables = new Map<string, VariableSummary>();
  private uses: WorkspaceUses | undefined;
  private readonly uris = new Map<string, string | null>();
  private readonly owners = new Map<
    string,
    { text: string; marks: { list: { at: number; dagId: string }[]; fallback: string | undefined } }
  >();

  /** `readFile`: the current text of a DAG file (an open editor's buffer, else the disk), undefined when unreadable. */
  constructor(readFile: (file: string) => string | undefined) {
    this.readFile = readFile;
  }

  update(facts: AuthoringFacts): void {
    // A file that fails to load now keeps its last good structure: while a typo breaks the
    // import (`.after('lod')`), its ids are still known and the typo gets its Problem and fix.
    let list = facts.list;
    if (list && this.facts.list) {
      const failed = new Set(list.errors.map((e) => e.file));
      const present = new Set(list.dags.map((d) => d.file));
      const kept = this.facts.list.dags.filter(
        (d) => failed.has(d.file) && !present.has(d.file) && !list!.dags.some((x) => x.dagId === d.dagId),
      );
      if (kept.length) list = { ...list, dags: [...list.dags, ...kept] };
    }
    this.facts = { ...facts, list };
    this.owners.clear();
    this.uses = undefined;
    this.variables = new Map((facts.variables ?? []).map((v) => [v.key, v]));
    for (const [name, value] of Object.entries(facts.env ?? {})) {
      if (!name.startsWith(VAR_PREFIX) || value === undefined) continue;
      if ([...this.variables.keys()].some((k) => varEnvName(k) === name)) continue;
      const key = name.slice(VAR_PREFIX.length).toLowerCase();
      this.variables.set(key, { key, source: `env:${name}`, json: jsonKind(value), sensitive: false });
    }
    this.dagsById = new Map();
    this.dagsByFile = new Map();
    for (const d of list?.dags ?? []) {
      this.dagsById.set(d.dagId, d);
      const l = this.dagsByFile.get(d.file) ?? [];
      l.push(d);
      this.dagsByFile.set(d.file, l);
    }
    this.conns = new Map();
    this.pools = new Map([['default_pool', { slots: 128 }]]);
    const cfg = facts.config ? parseConfig(facts.config.text) : undefined;
    if (facts.config && cfg) {
      const text = facts.config.text;
      for (const [id, uri] of Object.entries(cfg.connections)) {
        const at = cfg.keyAt.get(`connections.${id}`);
        this.conns.set(id, {
          id,
          ...describeUri(uri),
          source: 'hangar.json',
          def: at && location(facts.config.file, text, at[0], at[1]),
        });
      }
      for (const [id, slots] of Object.entries(cfg.pools)) {
        const at = cfg.keyAt.get(`pools.${id}`);
        this.pools.set(id, { slots, def: at && location(facts.config.file, text, at[0], at[1]) });
      }
    }
    for (const [name, value] of Object.entries(facts.env ?? {})) {
      if (!name.startsWith(CONN_PREFIX) || !value) continue;
      const id = name.slice(CONN_PREFIX.length).toLowerCase();
      if (![...this.conns.keys()].some((c) => envName(c) === name))
        this.conns.set(id, { id, ...describeUri(value), source: name });
    }
    for (const id of facts.extraConnections ?? [])
      if (!this.conns.has(id)) this.conns.set(id, { id, type: '', host: '', source: 'secret storage' });
  }

  /** The id strings of a text (cached per file while its text is unchanged). */
  sites(file: string, text: string): Site[] {
    const c = this.scans.get(file);
    if (c && c.text === text) return c.sites;
    const sites = scan(text);
    this.scans.set(file, { text, sites });
    return sites;
  }

  /** The id string at an offset (the cursor anywhere inside its quotes). */
  siteAt(file: string, text: string, offset: number): Site | undefined {
    return this.sites(file, text).find((s) => offset >= s.valueStart && offset <= s.valueEnd);
  }

  /** The DAG a position of a file belongs to: the one whose definition (or a task's) comes last before it. */
  dagAt(file: string, text: string, offset: number): string | undefined {
    const marks = this.ownerMarks(file, text);
    // The last mark at or before the offset (marks are in text order): binary search.
    let lo = 0;
    let hi = marks.list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (marks.list[mid]!.at <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo > 0 ? marks.list[lo - 1]!.dagId : marks.fallback;
  }

  /** Per file text: the offsets where a DAG's part of the file starts (cached with the scan; cleared by update). */
  private ownerMarks(
    file: string,
    text: string,
  ): { list: { at: number; dagId: string }[]; fallback: string | undefined } {
    const key = file;
    const cached = this.owners.get(key);
    if (cached && cached.text === text) return cached.marks;
    const inList = this.dagsByFile.get(file) ?? [];
    const sites = this.sites(file, text);
    const list: { at: number; dagId: string }[] = [];
    for (const s of sites) {
      if (s.dynamic) continue;
      let dagId: string | undefined;
      if (s.kind === 'dagDef') dagId = s.value;
      else if (s.kind === 'taskDef' && inList.length > 1)
        dagId = inList.find((d) => d.tasks.some((t) => t.taskId === defId(s)))?.dagId;
      if (dagId) list.push({ at: s.start, dagId });
    }
    const fallback = inList[0]?.dagId ?? list[0]?.dagId;
    const marks = { list, fallback };
    this.owners.set(key, { text, marks });
    return marks;
  }

  /** Task ids a DAG has: the last parse's, plus the ones the buffer defines with a plain string. */
  private taskIds(dagId: string, file?: string, text?: string): Map<string, TaskInfo | null> {
    const out = new Map<string, TaskInfo | null>();
    for (const t of this.dagsById.get(dagId)?.tasks ?? []) out.set(t.taskId, t);
    if (file !== undefined && text !== undefined) {
      for (const s of this.sites(file, text)) {
        if (
          s.kind === 'taskDef' &&
          !s.dynamic &&
          !out.has(defId(s)) &&
          this.dagAt(file, text, s.start) === dagId
        )
          out.set(defId(s), null);
      }
    }
    return out;
  }

  private target(file: string, text: string, s: Site): Target | undefined {
    if (s.dynamic) return undefined;
    switch (s.kind) {
      case 'task':
      case 'taskDef': {
        const dagId = this.dagAt(file, text, s.start);
        return dagId ? { kind: 'task', dagId, id: defId(s) } : undefined;
      }
      case 'externalTask':
        return s.dagId !== undefined ? { kind: 'task', dagId: s.dagId, id: s.value } : undefined;
      case 'dag':
      case 'dagDef':
        return { kind: 'dag', id: s.value };
      case 'connection':
        return { kind: 'connection', id: s.value };
      case 'pool':
        return { kind: 'pool', id: s.value };
      case 'variable':
        return { kind: 'variable', id: s.value };
      case 'queue':
        return { kind: 'queue', id: s.value };
      case 'asset': {
        const uri = this.assetUri(s.value);
        return uri ? { kind: 'asset', id: uri } : undefined;
      }
    }
  }

  /** An asset URI as the runtime records it (Airflow's _sanitize_uri); null when it is not a valid URI. */
  private assetUri(written: string): string | null {
    let u = this.uris.get(written);
    if (u === undefined) {
      try {
        u = normalizeAssetUri(written);
      } catch {
        u = null;
      }
      if (this.uris.size > 5000) this.uris.clear();
      this.uris.set(written, u);
    }
    return u;
  }

  /** The variable keys, queues and asset URIs of the workspace's other DAG files (scanned once per update). */
  private workspaceUses(): WorkspaceUses {
    if (this.uses) return this.uses;
    const uses: WorkspaceUses = { variablesSet: new Map(), queues: new Map(), assets: new Map() };
    for (const f of this.facts.list?.files ?? []) {
      const text = this.readFile(f);
      if (text === undefined) continue;
      this.addUses(uses, f, this.sites(f, text));
    }
    return (this.uses = uses);
  }

  private addUses(uses: WorkspaceUses, file: string, sites: readonly Site[]): void {
    for (const s of sites) {
      if (s.dynamic || s.value === '') continue;
      if (s.kind === 'variable' && /\.set(Json)?\(\)$/.test(s.via)) push(uses.variablesSet, s.value, file);
      else if (s.kind === 'queue') {
        const l = uses.queues.get(s.value) ?? [];
        const e = l.find((x) => x.file === file);
        if (e) e.count++;
        else l.push({ file, count: 1 });
        uses.queues.set(s.value, l);
      } else if (s.kind === 'asset') {
        const uri = this.assetUri(s.value);
        if (uri) push(uses.assets, uri, file);
      }
    }
  }

  /** The workspace's uses with `file`'s replaced by those of its current text. */
  private usesWith(file: string, text: string): WorkspaceUses {
    const base = this.workspaceUses();
    const out: WorkspaceUses = {
      variablesSet: without(base.variablesSet, file),
      queues: new Map(
        [...base.queues].map(([k, l]) => [k, l.filter((x) => x.file !== file)] as const).filter(([, l]) => l.length),
      ),
      assets: without(base.assets, file),
    };
    this.addUses(out, file, this.sites(file, text));
    return out;
  }

  /** Whether a variable exists for the editor: in the store, as HANGAR_VAR_*, or set by a task of the workspace. */
  private variableKnown(key: string, uses: WorkspaceUses): boolean {
    if (this.variables.has(key) || uses.variablesSet.has(key)) return true;
    const env = this.facts.env?.[varEnvName(key)];
    return env !== undefined;
  }

  /** Who uses each queue: the parsed tasks (`dag.task` ids), else the files naming it. */
  private queueUsers(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const d of this.dagsById.values())
      for (const t of d.tasks) if (t.queue !== undefined) push(out, t.queue, `${d.dagId}.${t.taskId}`);
    return out;
  }

  /** An asset's producers (`dag.task`) and the DAGs it schedules, from the last parse. */
  private assetFacts(uri: string): { producers: { dagId: string; taskId: string }[]; consumers: string[] } {
    const producers: { dagId: string; taskId: string }[] = [];
    const consumers = new Set<string>();
    for (const d of this.dagsById.values()) {
      for (const p of d.assets?.produces ?? []) if (p.uri === uri) for (const t of p.tasks) producers.push({ dagId: d.dagId, taskId: t });
      for (const c of d.assets?.consumes ?? []) if (c.uri === uri) consumers.add(d.dagId);
    }
    return { producers, consumers: [...consumers] };
  }

  /** The task whose id string is at an offset (a definition or a reference): what the hover shows. */
  taskAt(file: string, text: string, offset: number): TaskAt | undefined {
    const s = this.siteAt(file, text, offset);
    if (!s || (s.kind !== 'taskDef' && s.kind !== 'task' && s.kind !== 'externalTask')) return undefined;
    const t = this.target(file, text, s);
    if (!t || t.kind !== 'task') return undefined;
    const task = this.dagsById.get(t.dagId!)?.tasks.find((x) => x.taskId === t.id) ?? null;
    return { dagId: t.dagId!, taskId: t.id, task, start: s.valueStart, end: s.valueEnd };
  }

  completions(file: string, text: string, offset: number): CompletionResult | undefined {
    const s = this.siteAt(file, text, offset);
    if (!s || s.kind === 'taskDef' || s.kind === 'dagDef') return undefined;
    const range = { start: s.valueStart, end: s.valueEnd };
    const items: Completion[] = [];
    if (s.kind === 'task' || s.kind === 'externalTask') {
      const dagId = s.kind === 'task' ? this.dagAt(file, text, s.start) : s.dagId;
      if (!dagId) return undefined;
      const sameFile = s.kind === 'task' || this.dagsById.get(dagId)?.file === file;
      for (const [id, t] of this.taskIds(dagId, sameFile ? file : undefined, sameFile ? text : undefined)) {
        items.push({
          label: id,
          kind: 'task',
          detail: t
            ? `${t.kind}${t.mapped ? ' (mapped)' : ''} task of ${dagId}${t.position ? `, line ${t.position.line}` : ''}`
            : `task of ${dagId} (not parsed yet)`,
        });
      }
    } else if (s.kind === 'dag') {
      for (const d of this.dagsById.values())
        items.push({
          label: d.dagId,
          kind: 'dag',
          detail: `DAG, ${d.tasks.length} task${d.tasks.length === 1 ? '' : 's'} (${baseName(d.file)}${d.position ? `:${d.position.line}` : ''})`,
        });
    } else if (s.kind === 'connection') {
      for (const c of this.conns.values())
        items.push({
          label: c.id,
          kind: 'connection',
          detail: `${c.type || 'connection'}${c.host ? ` ${c.host}` : ''} (${c.source})`,
        });
    } else if (s.kind === 'pool') {
      for (const [id, p] of this.pools)
        items.push({ label: id, kind: 'pool', detail: `pool, ${p.slots} slot${p.slots === 1 ? '' : 's'}` });
    } else if (s.kind === 'variable') {
      const uses = this.usesWith(file, text);
      for (const v of this.variables.values()) items.push({ label: v.key, kind: 'variable', detail: variableDetail(v) });
      for (const [key, files] of uses.variablesSet)
        if (!this.variables.has(key))
          items.push({ label: key, kind: 'variable', detail: `variable set by a task (${[...new Set(files)].map(baseName).join(', ')})` });
    } else if (s.kind === 'queue') {
      const users = this.queueUsers();
      const names = new Set([DEFAULT_QUEUE, ...users.keys(), ...this.usesWith(file, text).queues.keys()]);
      for (const q of names) {
        const u = users.get(q) ?? [];
        items.push({
          label: q,
          kind: 'queue',
          detail: u.length
            ? `queue of ${u.length} task${u.length === 1 ? '' : 's'}: ${u.slice(0, 3).join(', ')}${u.length > 3 ? ', …' : ''}`
            : q === DEFAULT_QUEUE
              ? 'queue (the default)'
              : 'queue (in a file not parsed yet)',
        });
      }
    } else if (s.kind === 'asset') {
      const uris = new Set<string>();
      for (const d of this.dagsById.values()) {
        for (const p of d.assets?.produces ?? []) uris.add(p.uri);
        for (const c of d.assets?.consumes ?? []) uris.add(c.uri);
      }
      for (const [uri, files] of this.workspaceUses().assets) if (files.some((f) => f !== file)) uris.add(uri);
      for (const uri of uris) {
        const { producers, consumers } = this.assetFacts(uri);
        const parts = [
          producers.length ? `produced by ${producers.map((p) => `${p.dagId}.${p.taskId}`).join(', ')}` : 'no producer',
          ...(consumers.length ? [`schedules ${consumers.join(', ')}`] : []),
        ];
        items.push({ label: uri, kind: 'asset', detail: `asset: ${parts.join('; ')}` });
      }
    }
    return { items, ...range };
  }

  /** Where the id at an offset is defined (a task's definition, a DAG's, a connection's or pool's key in hangar.json). */
  definition(file: string, text: string, offset: number): Location[] {
    const s = this.siteAt(file, text, offset);
    if (!s) return [];
    const t = this.target(file, text, s);
    if (!t) return [];
    // An asset: every task that updates it (its outlets); a variable: the tasks that set it.
    if (t.kind === 'asset') return this.assetProducerDefs(t.id, file, text);
    if (t.kind === 'variable')
      return this.referenceSites(t, file, text)
        .filter((r) => /\.set(Json)?\(\)$/.test(r.site.via))
        .map((r) => location(r.file, r.text, r.site.valueStart, r.site.valueEnd));
    const d = this.definitionOf(t, file, text);
    return d ? [d] : [];
  }

  /** Where the tasks updating an asset are defined (their id strings), from the last parse. */
  private assetProducerDefs(uri: string, file: string, text: string): Location[] {
    const out: Location[] = [];
    for (const p of this.assetFacts(uri).producers) {
      const d = this.definitionOf({ kind: 'task', dagId: p.dagId, id: p.taskId }, file, text);
      if (d) out.push(d);
    }
    return out;
  }

  /** Where the DAGs an asset schedules are defined (their id strings). */
  private assetConsumerDefs(uri: string, file: string, text: string): Location[] {
    const out: Location[] = [];
    for (const dagId of this.assetFacts(uri).consumers) {
      const d = this.definitionOf({ kind: 'dag', id: dagId }, file, text);
      if (d) out.push(d);
    }
    return out;
  }

  private definitionOf(t: Target, file: string, text: string): Location | undefined {
    if (t.kind === 'variable' || t.kind === 'queue') return undefined;
    if (t.kind === 'asset') return this.assetProducerDefs(t.id, file, text)[0];
    if (t.kind === 'connection') return this.conns.get(t.id)?.def;
    if (t.kind === 'pool') return this.pools.get(t.id)?.def;
    if (t.kind === 'dag') {
      const d = this.dagsById.get(t.id);
      const dfile = d?.file ?? file;
      const dtext = dfile === file ? text : this.readFile(dfile);
      const site =
        dtext !== undefined
          ? this.sites(dfile, dtext).find((s) => s.kind === 'dagDef' && !s.dynamic && s.value === t.id)
          : undefined;
      if (site && dtext !== undefined) return location(dfile, dtext, site.valueStart, site.valueEnd);
      return d?.position ? pointLocation(d.position) : undefined;
    }
    const dag = this.dagsById.get(t.dagId!);
    const dfile = dag?.file ?? file;
    const dtext = dfile === file ? text : this.readFile(dfile);
    if (dtext !== undefined) {
      const defs = this.sites(dfile, dtext).filter(
        (s) =>
          s.kind === 'taskDef' &&
          !s.dynamic &&
          defId(s) === t.id &&
          this.dagAt(dfile, dtext, s.start) === t.dagId,
      );
      if (defs.length) return location(dfile, dtext, defs[0]!.valueStart, defs[0]!.valueEnd);
    }
    // Defined with an id built at run time: the processor's position of the call.
    const task = dag?.tasks.find((x) => x.taskId === t.id);
    return task?.position ? pointLocation(task.position) : undefined;
  }

  /** Every string in the DAG files naming the same id (and its definition when asked). */
  references(file: string, text: string, offset: number, includeDeclaration = true): Location[] {
    const s = this.siteAt(file, text, offset);
    const t = s && this.target(file, text, s);
    if (!t) return [];
    const out = this.referenceSites(t, file, text)
      .filter((r) => includeDeclaration || (r.site.kind !== 'taskDef' && r.site.kind !== 'dagDef'))
      .map((r) => location(r.file, r.text, r.site.valueStart, r.site.valueEnd));
    if (includeDeclaration && (t.kind === 'connection' || t.kind === 'pool')) {
      const d = this.definitionOf(t, file, text);
      if (d) out.unshift(d);
    }
    if (t.kind === 'asset') {
      // Its producers (the tasks updating it) and consumers (the DAGs it schedules), in any file.
      const seen = new Set(out.map(key));
      for (const l of [...this.assetProducerDefs(t.id, file, text), ...this.assetConsumerDefs(t.id, file, text)])
        if (!seen.has(key(l))) {
          seen.add(key(l));
          out.push(l);
        }
    }
    return out;
  }

  private referenceSites(
    t: Target,
    file: string,
    text: string,
  ): { file: string; text: string; site: Site }[] {
    const files = new Set(this.facts.list?.files ?? []);
    files.add(file);
    const out: { file: string; text: string; site: Site }[] = [];
    for (const f of files) {
      const ftext = f === file ? text : this.readFile(f);
      if (ftext === undefined) continue;
      for (const site of this.sites(f, ftext)) {
        const other = this.target(f, ftext, site);
        if (other && other.kind === t.kind && other.id === t.id && other.dagId === t.dagId)
          out.push({ file: f, text: ftext, site });
      }
    }
    return out;
  }

  /** Whether the id at an offset can be renamed: its range, or why not. */
  prepareRename(
    file: string,
    text: string,
    offset: number,
  ): { start: number; end: number; placeholder: string } | { error: string } {
    const s = this.siteAt(file, text, offset);
    if (!s) return { error: 'Not a task id' };
    if (s.dynamic) return { error: 'This id is built at run time; rename it where it is built' };
    if (s.kind !== 'task' && s.kind !== 'taskDef' && s.kind !== 'externalTask')
      return { error: 'Hangar renames task ids only' };
    const t = this.target(file, text, s);
    if (!t)
      return { error: `Hangar does not know the DAG of task "${s.value}" (its DAG id is built at run time)` };
    const def = this.referenceSites(t, file, text).find((r) => r.site.kind === 'taskDef');
    if (!def) {
      const task = this.dagsById.get(t.dagId!)?.tasks.find((x) => x.taskId === t.id);
      return {
        error: task
          ? `Task "${t.id}" of DAG "${t.dagId}" is defined with an id built at run time (line ${task.position?.line ?? '?'}); rename it there`
          : `DAG "${t.dagId}" has no task "${t.id}"`,
      };
    }
    return { start: s.valueStart, end: s.valueEnd, placeholder: s.value };
  }

  /** The edits renaming the task id at an offset, in every DAG file; refused when the new id exists or is not a valid id. */
  rename(
    file: string,
    text: string,
    offset: number,
    newId: string,
  ): { edits: TextEdit[] } | { error: string } {
    const p = this.prepareRename(file, text, offset);
    if ('error' in p) return p;
    const s = this.siteAt(file, text, offset)!;
    const t = this.target(file, text, s)!;
    // At a definition inside a task group, the new id is typed without the group's prefix.
    if (s.prefix) newId = s.prefix + newId;
    if (newId === t.id) return { edits: [] };
    if (!TASK_ID_RE.test(newId) || newId === '.' || newId === '..')
      return { error: `"${newId}" is not a valid task id (letters, digits, _ . -; at most 250)` };
    const dag = this.dagsById.get(t.dagId!);
    const dfile = dag?.file ?? file;
    const dtext = dfile === file ? text : this.readFile(dfile);
    if (this.taskIds(t.dagId!, dtext !== undefined ? dfile : undefined, dtext).has(newId))
      return { error: `DAG "${t.dagId}" already has a task "${newId}"` };
    const sites = this.referenceSites(t, file, text);
    const grouped = sites.find((r) => r.site.prefix && !newId.startsWith(r.site.prefix));
    if (grouped)
      return { error: `Task "${t.id}" is defined in a task group: its new id must keep the prefix "${grouped.site.prefix}"` };
    const edits = sites.map((r) => ({
      ...location(r.file, r.text, r.site.valueStart, r.site.valueEnd),
      newText: r.site.prefix ? newId.slice(r.site.prefix.length) : newId,
    }));
    return { edits };
  }

  /** Unknown ids in a file's text, each at its string. Dynamic ids are never reported. */
  diagnostics(file: string, text: string): Diagnostic[] {
    const out: Diagnostic[] = [];
    let uses: WorkspaceUses | undefined;
    const usesNow = () => (uses ??= this.usesWith(file, text));
    const errors = this.facts.list?.errors ?? [];
    const known = new Map<string, Map<string, TaskInfo | null>>();
    const taskIdsOf = (dagId: string, inFile: boolean) => {
      const key = `${inFile ? 'f' : 'x'}:${dagId}`;
      let ids = known.get(key);
      if (!ids) known.set(key, (ids = inFile ? this.taskIds(dagId, file, text) : this.taskIds(dagId)));
      return ids;
    };
    for (const s of this.sites(file, text)) {
      if (s.dynamic || s.kind === 'taskDef' || s.kind === 'dagDef') continue;
      if (s.value === '' && s.valueEnd === s.valueStart) continue; // being typed
      const report = (message: string, known: Iterable<string>, severity: 'error' | 'warning' = 'warning') =>
        out.push({
          start: s.valueStart,
          end: s.valueEnd,
          message,
          severity,
          kind: s.kind,
          value: s.value,
          suggestion: nearest(s.value, known),
        });
      if (s.kind === 'task') {
        const dagId = this.dagAt(file, text, s.start);
        // Only against a DAG the processor parsed: before its first parse or when its file fails to load, nothing is known for sure.
        if (!dagId || !this.dagsById.has(dagId)) continue;
        const ids = taskIdsOf(dagId, true);
        if (!ids.has(s.value))
          report(
            `DAG "${dagId}" has no task "${s.value}" (${s.via})`,
            ids.keys(),
            s.via === 'ctx.xcom.pull()' || s.via.startsWith('ctx.xcom') || s.via.endsWith(':')
              ? 'warning'
              : 'error',
          );
      } else if (s.kind === 'dag' || (s.kind === 'externalTask' && s.dagId !== undefined)) {
        const dagId = s.kind === 'dag' ? s.value : s.dagId!;
        if (!this.facts.list || this.dagsById.has(dagId)) {
          if (s.kind === 'externalTask' && this.facts.list) {
            const ids = taskIdsOf(dagId, false);
            if (!ids.has(s.value)) report(`DAG "${dagId}" has no task "${s.value}" (${s.via})`, ids.keys());
          }
          continue;
        }
        if (s.kind === 'externalTask') continue; // the DAG id's own Problem says it
        // A file that failed to load may define it: say nothing rather than something false.
        if (errors.some((e) => e.dagId === dagId || e.dagId === null)) continue;
        report(`No DAG "${dagId}" in the workspace (${s.via})`, this.dagsById.keys());
      } else if (s.kind === 'variable') {
        // A key read without a fallback that exists nowhere: a warning, not an error (it may be set before the run).
        if (s.optional || this.facts.variables === undefined || /\.(set|setJson|delete)\(\)$/.test(s.via)) continue;
        if (!this.variableKnown(s.value, usesNow()))
          report(
            `No variable "${s.value}" in the store or the environment (${varEnvName(s.value)}): set it before the run (hangar variables set ${s.value} VALUE)`,
            [...this.variables.keys(), ...usesNow().variablesSet.keys()],
          );
      } else if (s.kind === 'queue') {
        // Any queue name is valid (a worker listens on it or not): only a likely typo of a queue more tasks use is reported.
        const u = usesNow().queues;
        const parsed = this.queueUsers();
        if (s.value === DEFAULT_QUEUE) continue;
        // How many tasks use a queue: the last parse's, or the strings of the files (unsaved ones included).
        const count = (q: string) =>
          Math.max(parsed.get(q)?.length ?? 0, (u.get(q) ?? []).reduce((n, x) => n + x.count, 0));
        const known = new Set([DEFAULT_QUEUE, ...parsed.keys(), ...u.keys()]);
        known.delete(s.value);
        const near = nearest(s.value, known);
        if (near && (near === DEFAULT_QUEUE || count(near) > count(s.value)))
          report(
            `No other task uses queue "${s.value}": only a worker started with --queues ${s.value} runs this task`,
            [near],
          );
      } else if (s.kind === 'asset') {
        continue;
      } else if (this.facts.config === undefined) {
        continue; // hangar.json not read: connections and pools unknown
      } else if (s.kind === 'connection') {
        if (!this.conns.has(s.value))
          report(
            `No connection "${s.value}": add it under "connections" in hangar.json, or set ${envName(s.value)}`,
            this.conns.keys(),
          );
      } else if (s.kind === 'pool') {
        if (!this.pools.has(s.value))
          report(`No pool "${s.value}": add it under "pools" in hangar.json`, this.pools.keys());
      }
    }
    for (const c of clockStartDates(text))
      out.push({
        start: c.start,
        end: c.end,
        message: `startDate reads the clock (${c.clock}${c.via ? ` through "${c.via}"` : ''}): every parse gives another start date, so the scheduler computes other data intervals each time; use a fixed date such as '2024-01-01'`,
        severity: 'warning',
        kind: 'startDate',
        value: text.slice(c.start, c.end),
      });
    return out.sort((a, b) => a.start - b.start);
  }
}

/** HANGAR_VAR_<KEY>, as src/runtime/variables.ts names it. */
export function varEnvName(key: string): string {
  return `${VAR_PREFIX}${key.toUpperCase()}`;
}

function jsonKind(value: string): VariableSummary['json'] {
  try {
    const x = JSON.parse(value) as unknown;
    return x === null ? 'null' : Array.isArray(x) ? 'array' : (typeof x as 'object' | 'string' | 'number' | 'boolean');
  } catch {
    return null;
  }
}

/** A variable's completion detail: what its value is and where it comes from; a secret's value never. */
function variableDetail(v: VariableSummary): string {
  const what = v.json === 'object' || v.json === 'array' ? `JSON ${v.json}` : v.json === null ? 'text' : `JSON ${v.json}`;
  const value = v.sensitive ? ', value hidden' : v.preview !== undefined ? ` ${JSON.stringify(v.preview)}` : '';
  const source = v.source.startsWith('env:') ? v.source.slice(4) : v.source;
  return `variable, ${what}${value} (${source})`;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const l = m.get(k);
  if (l) l.push(v);
  else m.set(k, [v]);
}

function without(m: Map<string, string[]>, file: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [k, l] of m) {
    const r = l.filter((f) => f !== file);
    if (r.length) out.set(k, r);
  }
  return out;
}

function key(l: Location): string {
  return `${l.file}:${l.start.line}:${l.start.character}`;
}

/** HANGAR_CONN_<ID>, as src/runtime/connections.ts names it. */
export function envName(id: string): string {
  return `${CONN_PREFIX}${id.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

/** A connection URI's type and host; never its login or password. */
function describeUri(uri: string): { type: string; host: string } {
  try {
    const u = new URL(uri);
    return {
      type: u.protocol.replace(/:$/, ''),
      host: decodeURIComponent(u.hostname) + (u.port ? `:${u.port}` : ''),
    };
  } catch {
    return { type: 'invalid URI', host: '' };
  }
}

/** hangar.json's connections and pools, with the offsets of each key's string. Undefined when it is not valid JSON. */
function parseConfig(text: string):
  | {
      connections: Record<string, string>;
      pools: Record<string, number>;
      keyAt: Map<string, [number, number]>;
    }
  | undefined {
  let json: { connections?: unknown; pools?: unknown };
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    return undefined;
  }
  const connections: Record<string, string> = {};
  const pools: Record<string, number> = {};
  if (json.connections && typeof json.connections === 'object')
    for (const [k, v] of Object.entries(json.connections)) if (typeof v === 'string') connections[k] = v;
  if (json.pools && typeof json.pools === 'object')
    for (const [k, v] of Object.entries(json.pools)) if (typeof v === 'number') pools[k] = v;
  // Key positions: a string followed by ':' at depth 2 under "connections"/"pools".
  const keyAt = new Map<string, [number, number]>();
  const toks = tokenize(text);
  const path: (string | undefined)[] = [];
  let pendingKey: string | undefined;
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.kind === 'punct' && (t.text === '{' || t.text === '[')) {
      path.push(pendingKey);
      pendingKey = undefined;
    } else if (t.kind === 'punct' && (t.text === '}' || t.text === ']')) path.pop();
    else if (t.kind === 'string' && toks[i + 1]?.text === ':') {
      pendingKey = t.value;
      if (path.length === 2 && (path[1] === 'connections' || path[1] === 'pools'))
        keyAt.set(`${path[1]}.${t.value}`, [t.start + 1, t.end - 1]);
    } else if (t.kind === 'punct' && t.text === ',') pendingKey = undefined;
  }
  return { connections, pools, keyAt };
}

/** The closest id by edit distance, if close enough to be a typo of it. */
export function nearest(value: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = distance(value.toLowerCase(), k.toLowerCase());
    if (d < bestD) {
      best = k;
      bestD = d;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.ceil(value.length / 2)) ? best : undefined;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return row[b.length]!;
}

export function lineCol(text: string, offset: number): LineCol {
  let line = 0;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, character: offset - lineStart };
}

function location(file: string, text: string, start: number, end: number): Location {
  return { file, start: lineCol(text, start), end: lineCol(text, end) };
}

/** A processor position (1-based) as an empty location. */
function pointLocation(p: { file: string; line: number; column: number }): Location {
  const at = { line: Math.max(0, p.line - 1), character: Math.max(0, p.column - 1) };
  return { file: p.file, start: at, end: at };
}

function baseName(file: string): string {
  return file.slice(Math.max(file.lastIndexOf('/'), file.lastIndexOf('\\')) + 1);
}

/** The id a task definition gives its task: the groups' prefix (if any) and the string. */
function defId(s: Site): string {
  return s.prefix ? s.prefix + s.value : s.value;
}
