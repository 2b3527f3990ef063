import { existsSync, readdirSync, readFileSync } from 'node:fs';
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

const API_EXPORTS = Object.keys(api).sort();
/**
 * Modules already imported, by compiled output path, with their validated DAGs: ESM can't re-run a
 * module, and a worker asks for the same file on every try, so import and validation happen once.
 */
const imported = new Map<string, Promise<{ dags: Dag<any>[]; errors: DagLoadError[] } | { error: unknown }>>();

let evaluating: Promise<unknown> = Promise.resolve();

async function evaluate(abs: string, bundlePath: string, inputSet: Set<string>): Promise<{ dags: Dag<any>[]; errors: DagLoadError[] } | { error: unknown }> {
  const outputUrl = pathToFileURL(bundlePath).href;
  setUserFileFilter((f) => f === outputUrl || f === bundlePath);
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
  if (!defined) return { error: failure };
  const dags: Dag<any>[] = [];
  const errors: DagLoadError[] = [];
  for (const d of defined) {
    d.fileloc = abs;
    try {
      d.validate();
      dags.push(d);
    } catch (err) {
      errors.push(errorWithPosition(err, abs, inputSet, d.id));
    }
  }
  return { dags, errors };
}

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

/**
 * Imports a compiled DAG file (a bundle) into this process, collects the DAGs it
 * defines and validates them. Only processes that are meant to run user code call
 * this: the DAG processor's children, task workers, and the in-process executor.
 */
export async function importBundle(
  file: string,
  bundlePath: string,
  inputs: readonly string[] = [file],
): Promise<{ dags: Dag<any>[]; errors: DagLoadError[] }> {
  installRuntimeApi();
  const abs = resolve(file);
  const inputSet = new Set(inputs);
  // One import per bundle, even when several tries ask at once: ESM evaluates a module once, so a second
  // concurrent import would see no DAGs being defined.
  // Evaluations run one after another: the DAGs a module defines are collected in one global list.
  let pending = imported.get(bundlePath);
  if (!pending) {
    pending = evaluating.then(() => evaluate(abs, bundlePath, inputSet));
    evaluating = pending.then(
      () => undefined,
      () => undefined,
    );
    imported.set(bundlePath, pending);
  }
  const entry = await pending;
  if ('error' in entry) return { dags: [], errors: [errorWithPosition(entry.error, abs, inputSet)] };
  return { dags: entry.dags, errors: entry.errors };
}

/** Turns a compile failure into the import error of its file. */
export function compileErrorOf(file: string, err: unknown): DagLoadError {
  if (err instanceof DagCompileError) return { file: err.file, line: err.line ?? null, column: err.column ?? null, message: err.message };
  return { file, line: null, column: null, message: `${file}: ${(err as Error)?.message ?? String(err)}` };
}

/**
 * Compiles (cached) and imports one DAG file into this process. For processes that
 * run user code only (see importBundle); everyone else asks the DAG processor.
 */
export async function loadDagFile(file: string, cacheDir: string): Promise<{ dags: Dag<any>[]; errors: DagLoadError[]; compiled?: CompiledDagFile }> {
  const abs = resolve(file);
  let compiled: CompiledDagFile;
  try {
    compiled = await compileDagFile(abs, cacheDir, API_EXPORTS);
  } catch (err) {
    return { dags: [], errors: [compileErrorOf(abs, err)] };
  }
  return { ...(await importBundle(abs, compiled.output, compiled.inputs)), compiled };
}

/** The names the `hangar` module exports to DAG files (part of the compile cache key). */
export function apiExports(): readonly string[] {
  return API_EXPORTS;
}

function errorWithPosition(err: unknown, file: string, inputs: Set<string>, dagId?: string): DagLoadError {
  if (err instanceof DagDefinitionError) {
    const p = err.position;
    return { file: p?.file ?? file, line: p?.line ?? null, column: p?.column ?? null, message: err.message, dagId };
  }
  const e = err instanceof Error ? err : new Error(`threw a non-Error value: ${safeString(err)}`);
  const missing = (e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND' ? /Cannot find (?:package|module) '([^']+)'/.exec(e.message) : null;
  if (missing) {
    // Say which import, in the user's file, rather than the compiled module's path.
    const pkg = missing[1]!.startsWith('/') ? missing[1]! : missing[1]!.split('/').slice(0, missing[1]!.startsWith('@') ? 2 : 1).join('/');
    let line: number | null = null;
    let column: number | null = null;
    try {
      const lines = readFileSync(file, 'utf8').split('\n');
      const i = lines.findIndex((l) => l.includes(`'${pkg}`) || l.includes(`"${pkg}`));
      if (i >= 0) {
        line = i + 1;
        column = lines[i]!.indexOf(pkg);
      }
    } catch {
      // unreadable: no position
    }
    return {
      file,
      line,
      column,
      dagId,
      message: `${file}${line ? `:${line}:${column}` : ''}: imports the package "${pkg}", which is not installed (npm install ${pkg} in the workspace, or a folder above it)`,
    };
  }
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

