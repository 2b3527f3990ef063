import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as api from '../dag/index.ts';
import { beginCollecting, endCollecting, DagDefinitionError } from '../dag/dag.ts';
import type { Dag } from '../dag/dag.ts';
import { setUserFileFilter } from '../dag/position.ts';
import { compileDagFile, DagCompileError } from './compile.ts';
import type { CompiledDagFile } from './compile.ts';
import { HANGAR_API_KEY } from './api-global.ts';

export { DagCompileError } from './compile.ts';

/** A DAG file that could not be loaded, with the position of the problem. */
export interface DagLoadError {
  readonly file: string;
  readonly line: number | null;
  readonly column: number | null;
  readonly message: string;
  readonly dagId?: string;
}

export interface DagBag {
  readonly dags: Map<string, Dag<any>>;
  readonly errors: DagLoadError[];
  readonly files: string[];
  readonly stats: { compiled: number; cached: number; ms: number };
}

const API_EXPORTS = Object.keys(api).sort();
/**
 * Modules already imported, by compiled output path, with their validated DAGs: ESM can't re-run a
 * module, and a worker asks for the same file on every try, so import and validation happen once.
 */
const imported = new Map<string, { dags: Dag<any>[]; errors: DagLoadError[] } | { error: unknown }>();

/** Makes the authoring API reachable from compiled DAG files and turns on source-mapped stack traces. */
export function installRuntimeApi(): void {
  (globalThis as Record<symbol, unknown>)[Symbol.for(HANGAR_API_KEY)] = api;
  process.setSourceMapsEnabled(true);
}

/** DAG files in a folder: .ts/.mts/.js/.mjs files that mention `hangar` (as Airflow's safe mode), recursively. */
export function discoverDagFiles(folder: string): string[] {
  if (!existsSync(folder)) return [];
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const p = join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (/\.(ts|mts|js|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) {
        if (readFileSync(p, 'utf8').includes('hangar')) out.push(p);
      }
    }
  };
  walk(folder);
  return out;
}

/** Loads one DAG file: compile (cached), import, collect its DAGs, validate them. */
export async function loadDagFile(
  file: string,
  cacheDir: string,
  precompiled?: Promise<CompiledDagFile>,
): Promise<{ dags: Dag<any>[]; errors: DagLoadError[]; fromCache: boolean }> {
  installRuntimeApi();
  const abs = resolve(file);
  let compiled;
  try {
    compiled = await (precompiled ?? compileDagFile(abs, cacheDir, API_EXPORTS));
  } catch (err) {
    if (err instanceof DagCompileError) {
      return { dags: [], errors: [{ file: err.file, line: err.line ?? null, column: err.column ?? null, message: err.message }], fromCache: false };
    }
    return { dags: [], errors: [{ file: abs, line: null, column: null, message: `${abs}: ${(err as Error).message}` }], fromCache: false };
  }
  const inputs = new Set(compiled.inputs);
  let entry = imported.get(compiled.output);
  if (!entry) {
    const outputUrl = pathToFileURL(compiled.output).href;
    setUserFileFilter((f) => f === outputUrl || f === compiled.output);
    beginCollecting();
    let defined: Dag<any>[] | undefined;
    let failure: unknown;
    try {
      await import(outputUrl);
      defined = endCollecting();
    } catch (err) {
      endCollecting();
      failure = err;
    } finally {
      setUserFileFilter(undefined);
    }
    if (defined) {
      const dags: Dag<any>[] = [];
      const errors: DagLoadError[] = [];
      for (const d of defined) {
        d.fileloc = abs;
        try {
          d.validate();
          dags.push(d);
        } catch (err) {
          errors.push(errorWithPosition(err, abs, inputs, d.id));
        }
      }
      entry = { dags, errors };
    } else entry = { error: failure };
    imported.set(compiled.output, entry);
  }
  if ('error' in entry) {
    return { dags: [], errors: [errorWithPosition(entry.error, abs, inputs)], fromCache: compiled.fromCache };
  }
  return { dags: entry.dags, errors: entry.errors, fromCache: compiled.fromCache };
}

/** Loads every DAG file of a folder. One bad file never stops the others. */
export async function loadDagBag(dagsFolder: string, cacheDir: string): Promise<DagBag> {
  const started = performance.now();
  const files = discoverDagFiles(dagsFolder);
  const dags = new Map<string, Dag<any>>();
  const errors: DagLoadError[] = [];
  let compiled = 0;
  let cached = 0;
  // Compile up to 8 files at once (esbuild works in parallel), then import them one by one, in order.
  const compiling = new Map<string, Promise<CompiledDagFile>>();
  let next = 0;
  const startNext = () => {
    const f = files[next++];
    if (f === undefined) return;
    const p = compileDagFile(f, cacheDir, API_EXPORTS);
    p.catch(() => undefined);
    compiling.set(f, p);
    void p.finally(startNext).catch(() => undefined);
  };
  for (let i = 0; i < 8; i++) startNext();
  for (const file of files) {
    while (!compiling.has(file)) await new Promise((r) => setImmediate(r));
    const r = await loadDagFile(file, cacheDir, compiling.get(file));
    compiling.delete(file);
    if (r.fromCache) cached++;
    else compiled++;
    errors.push(...r.errors);
    for (const d of r.dags) {
      const existing = dags.get(d.id);
      if (existing) {
        errors.push({
          file: d.fileloc,
          line: d.position?.line ?? null,
          column: d.position?.column ?? null,
          dagId: d.id,
          message: `${d.fileloc}${d.position ? `:${d.position.line}:${d.position.column}` : ''}: duplicate DAG id "${d.id}" (already defined in ${existing.fileloc})`,
        });
        continue;
      }
      dags.set(d.id, d);
    }
  }
  return { dags, errors, files, stats: { compiled, cached, ms: performance.now() - started } };
}

function errorWithPosition(err: unknown, file: string, inputs: Set<string>, dagId?: string): DagLoadError {
  if (err instanceof DagDefinitionError) {
    const p = err.position;
    return { file: p?.file ?? file, line: p?.line ?? null, column: p?.column ?? null, message: err.message, dagId };
  }
  const e = err instanceof Error ? err : new Error(`threw a non-Error value: ${safeString(err)}`);
  const stack = e.stack ?? '';
  for (const line of stack.split('\n').slice(1)) {
    const m = /\(?((?:file:\/\/)?\/[^():]+):(\d+):(\d+)\)?\s*$/.exec(line);
    if (!m) continue;
    let f = m[1]!;
    if (f.startsWith('file://')) f = decodeURIComponent(new URL(f).pathname);
    if (inputs.has(f)) {
      return { file: f, line: Number(m[2]), column: Number(m[3]), message: `${f}:${m[2]}:${m[3]}: ${e.name}: ${e.message}`, dagId };
    }
  }
  return { file, line: null, column: null, message: `${file}: ${e.name}: ${e.message}`, dagId };
}

function safeString(v: unknown): string {
  try {
    return typeof v === 'string' ? v : JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

export function fileMtime(file: string): number {
  return statSync(file).mtimeMs;
}
