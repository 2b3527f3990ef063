/**
 * Live structure (no vscode here): the DAG list the trees, the graph and the Problems panel show is
 * the runtime's saved `dag/list` with, for each DAG file whose editor buffer has unsaved changes, the
 * structure `dag/parseBuffer` found in the buffer in place of the saved file's.
 */
import type { DagInfo, DagListResult, DagParseBufferResult, LoadError } from '../protocol/runtime.ts';

/** What is known of one file's unsaved buffer. */
export type LiveFileState =
  /**
   * The buffer's structure (`version`: the document version it was parsed from); `good`: the DAGs of
   * the last buffer of the file that loaded, shown while the buffer fails to (a half-typed line).
   */
  | { kind: 'parsed'; version: number; result: DagParseBufferResult; good?: DagInfo[] }
  /** Not parsed while typing: the file's last parse took `lastMs` > the limit; it is parsed when saved. */
  | { kind: 'slow'; version: number; lastMs: number; limitMs: number };

export interface LiveList extends DagListResult {
  /** DAG ids shown from an unsaved buffer. */
  unsaved: Set<string>;
  /** Files not parsed while typing, with their last parse time and the limit (ms). */
  slow: Map<string, { lastMs: number; limitMs: number }>;
}

/** Whether a buffer failed to load as a whole (errors, no DAG): the tree keeps the last structure that loaded. */
export function fails(r: DagParseBufferResult): boolean {
  return r.dags.length === 0 && r.errors.length > 0;
}

/**
 * The saved list with each parsed buffer's DAGs, errors and warnings in place of its file's. While a
 * buffer fails to load, its errors are shown and its DAGs are the last buffer's that loaded (else the
 * saved file's), so the tree does not lose the DAG at every half-typed line.
 */
export function applyLive(saved: DagListResult, live: ReadonlyMap<string, LiveFileState>): LiveList {
  const unsaved = new Set<string>();
  const slow = new Map<string, { lastMs: number; limitMs: number }>();
  const replaced = new Set<string>();
  const structure = new Map<string, DagInfo[]>();
  for (const [file, s] of live) {
    if (s.kind === 'slow') {
      slow.set(file, { lastMs: s.lastMs, limitMs: s.limitMs });
      continue;
    }
    replaced.add(file);
    const shown = fails(s.result) ? s.good : s.result.dags;
    if (shown) structure.set(file, shown);
  }
  if (replaced.size === 0) return { ...saved, unsaved, slow };
  const dags: DagInfo[] = saved.dags.filter((d) => !structure.has(d.file));
  const errors: LoadError[] = saved.errors.filter((e) => !replaced.has(e.file));
  const warnings: LoadError[] = (saved.warnings ?? []).filter((e) => !replaced.has(e.file));
  const byId = new Map(dags.map((d) => [d.dagId, d]));
  for (const file of replaced) {
    const r = (live.get(file) as Extract<LiveFileState, { kind: 'parsed' }>).result;
    errors.push(...r.errors);
    warnings.push(...r.warnings);
    for (const d of structure.get(file) ?? []) {
      const other = byId.get(d.dagId);
      if (other) {
        // As the DAG processor does on save: the id is kept by the other file, the buffer gets the error.
        const p = d.position;
        errors.push({
          file,
          line: p?.line ?? null,
          column: p?.column ?? null,
          dagId: d.dagId,
          message: `${file}${p ? `:${p.line}:${p.column}` : ''}: duplicate DAG id "${d.dagId}": also defined in ${other.file}${other.position ? `:${other.position.line}:${other.position.column}` : ''} (unsaved)`,
        });
        continue;
      }
      byId.set(d.dagId, d);
      dags.push(d);
      unsaved.add(d.dagId);
    }
  }
  dags.sort((a, b) => a.dagId.localeCompare(b.dagId));
  return { ...saved, dags, errors, warnings, unsaved, slow };
}

/** The next step for a buffer change: parse it after the debounce, or go back to the saved state. */
export function liveAction(doc: {
  isDirty: boolean;
  isTrusted: boolean;
  enabled: boolean;
  isDagFile: boolean;
}): 'parse' | 'saved' | 'ignore' {
  if (!doc.isDagFile) return 'ignore';
  if (!doc.isTrusted || !doc.enabled) return 'saved';
  return doc.isDirty ? 'parse' : 'saved';
}

/** The tree tooltip's line for a DAG shown from a buffer, or from a file too slow to parse while typing. */
export function liveTooltip(dagId: string, file: string, list: LiveList): string | undefined {
  if (list.unsaved.has(dagId))
    return '**(unsaved)**: the structure of the editor buffer, parsed as you type; runs use the saved file';
  const s = list.slow.get(file);
  if (s) {
    const ms = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(2)} s` : `${Math.round(n)} ms`);
    return `Not re-parsed while you type: the file's last parse took ${ms(s.lastMs)}, more than ${ms(s.limitMs)} (\`hangar.liveStructure.slowMs\`); it is parsed when saved`;
  }
  return undefined;
}
