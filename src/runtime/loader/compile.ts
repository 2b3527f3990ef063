import * as esbuild from 'esbuild';
import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync, existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { HANGAR_API_KEY } from './api-global.ts';

export interface CompiledDagFile {
  /** The source file. */
  readonly file: string;
  /** The compiled module (ESM, inline source map). */
  readonly output: string;
  /** Absolute paths of every workspace file bundled into it. */
  readonly inputs: readonly string[];
  /** sha256 of each of those files' content, as compiled (the entry file's included). */
  readonly inputHashes: Readonly<Record<string, string>>;
  /** sha256 of the compiled module. */
  readonly outputHash: string;
  readonly fromCache: boolean;
}

export class DagCompileError extends Error {
  readonly file: string;
  readonly line: number | undefined;
  readonly column: number | undefined;
  constructor(file: string, line: number | undefined, column: number | undefined, message: string) {
    super(`${file}${line ? `:${line}:${column ?? 0}` : ''}: ${message}`);
    this.name = 'DagCompileError';
    this.file = file;
    this.line = line;
    this.column = column;
  }
}

interface Manifest {
  readonly key: string;
  readonly inputs: Record<string, string>;
  readonly output: string;
  readonly outputHash: string;
}

const COMPILER_VERSION = `esbuild-${esbuild.version}-hangar-1`;

function sha(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

function shimSource(exportNames: readonly string[]): string {
  const key = JSON.stringify(HANGAR_API_KEY);
  return [
    `const api = globalThis[Symbol.for(${key})];`,
    `if (!api) throw new Error("The Hangar runtime is not loaded: DAG files run inside Hangar (hangar run, or the VS Code extension)");`,
    ...exportNames.map((n) => `export const ${n} = api[${JSON.stringify(n)}];`),
  ].join('\n');
}

/**
 * Compiles one DAG file with esbuild into an ES module with an inline source map.
 * `hangar` resolves to the running runtime's API; npm packages stay external and
 * resolve from the workspace's node_modules; the workspace's own modules are bundled.
 * Output is cached by content: a warm load re-hashes the inputs and reuses the output.
 */
export async function compileDagFile(
  file: string,
  cacheDir: string,
  apiExports: readonly string[],
): Promise<CompiledDagFile> {
  const abs = resolve(file);
  const dir = join(cacheDir, 'dags');
  mkdirSync(dir, { recursive: true });
  const source = readFileSync(abs);
  const key = sha(`${COMPILER_VERSION}\0${apiExports.join(',')}\0${abs}\0`) + sha(source);
  const manifestPath = join(dir, `${basename(abs).replace(/[^A-Za-z0-9_.-]/g, '_')}-${sha(abs).slice(0, 16)}.json`);
  if (existsSync(manifestPath)) {
    try {
      const m = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
      if (m.key === key && m.outputHash && existsSync(m.output) && inputsUnchanged(m.inputs, abs)) {
        return { file: abs, output: m.output, inputs: Object.keys(m.inputs), inputHashes: m.inputs, outputHash: m.outputHash, fromCache: true };
      }
    } catch {
      // A corrupt manifest is a cache miss.
    }
  }
  let result: esbuild.BuildResult<{ write: false; metafile: true }>;
  try {
    result = await esbuild.build({
      entryPoints: [abs],
      ...buildOptions(dir, apiExports),
    });
  } catch (err) {
    throw compileFailure(err, dir, abs);
  }
  const out = result.outputFiles[0]!;
  const inputs: Record<string, string> = {};
  for (const input of Object.keys(result.metafile.inputs)) {
    if (input.startsWith('hangar-api:')) continue;
    const p = resolve(dir, input);
    inputs[p] = p === abs ? sha(source) : sha(readFileSync(p));
  }
  const outputHash = sha(out.contents);
  const outputPath = join(dir, `${basename(abs).replace(/[^A-Za-z0-9_.-]/g, '_')}-${key.slice(64, 80)}-${outputHash.slice(0, 12)}.mjs`);
  writeAtomic(outputPath, out.contents);
  writeAtomic(manifestPath, JSON.stringify({ key, inputs, output: outputPath, outputHash } satisfies Manifest));
  return { file: abs, output: outputPath, inputs: Object.keys(inputs), inputHashes: inputs, outputHash, fromCache: false };
}

/** How a DAG file (saved or a buffer) is bundled: one module, npm packages left to Node, the hangar API shimmed. */
function buildOptions(dir: string, apiExports: readonly string[]) {
  return {
    bundle: true,
    write: false,
    metafile: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    sourcemap: 'inline',
    packages: 'external',
    logLevel: 'silent',
    absWorkingDir: dir,
    outfile: join(dir, 'out.mjs'),
    plugins: [hangarApiPlugin(apiExports)],
  } as const satisfies esbuild.BuildOptions;
}

function hangarApiPlugin(apiExports: readonly string[]): esbuild.Plugin {
  return {
    name: 'hangar-api',
    setup(build: esbuild.PluginBuild) {
      build.onResolve({ filter: /^hangar$/ }, (args: esbuild.OnResolveArgs) => ({ path: args.path, namespace: 'hangar-api' }));
      build.onLoad({ filter: /.*/, namespace: 'hangar-api' }, () => ({
        contents: shimSource(apiExports),
        loader: 'js',
      }));
    },
  };
}

/** An esbuild failure as the DagCompileError of the file (and line) it names. */
function compileFailure(err: unknown, dir: string, abs: string): unknown {
  const failure = err as esbuild.BuildFailure;
  const first = failure.errors?.[0];
  if (first) {
    const where = first.location;
    const errFile = where?.file ? resolve(dir, where.file) : abs;
    return new DagCompileError(errFile, where?.line, where ? where.column + 1 : undefined, first.text);
  }
  return err;
}

/** A DAG file's unsaved text, compiled as the file would be (its real path: relative imports, positions). */
export interface CompiledDagBuffer {
  readonly file: string;
  /** The compiled module, written beside the cache's bundles under a name of its own; the caller removes it. */
  readonly output: string;
  readonly inputs: readonly string[];
  readonly outputHash: string;
}

/**
 * Compiles the text of an unsaved editor buffer of a DAG file, exactly as compileDagFile compiles
 * the saved file (same options, `hangar` shim, external packages) but from memory: the file on disk
 * is not read or written, and the compile cache's manifest of the saved file is left alone. Imports
 * resolve from the file's folder and the source map names the file's real path.
 */
export async function compileDagBuffer(file: string, text: string, cacheDir: string, apiExports: readonly string[]): Promise<CompiledDagBuffer> {
  const abs = resolve(file);
  const dir = join(cacheDir, 'dags');
  mkdirSync(dir, { recursive: true });
  const loader = /\.m?js$/.test(abs) ? 'js' : 'ts';
  let result: esbuild.BuildResult<{ write: false; metafile: true }>;
  try {
    result = await esbuild.build({
      stdin: { contents: text, resolveDir: dirname(abs), sourcefile: abs, loader },
      ...buildOptions(dir, apiExports),
    });
  } catch (err) {
    throw compileFailure(err, dir, abs);
  }
  const out = result.outputFiles[0]!;
  const inputs = new Set<string>([abs]);
  for (const input of Object.keys(result.metafile.inputs)) {
    if (!input.startsWith('hangar-api:') && input !== '<stdin>') inputs.add(resolve(dir, input));
  }
  const outputHash = sha(out.contents);
  // A name of its own per parse (two parses of the same text may overlap): the child imports it by path once.
  const outputPath = join(dir, `${basename(abs).replace(/[^A-Za-z0-9_.-]/g, '_')}-buffer-${randomUUID().slice(0, 8)}-${outputHash.slice(0, 12)}.mjs`);
  writeAtomic(outputPath, out.contents);
  return { file: abs, output: outputPath, inputs: [...inputs], outputHash };
}

function inputsUnchanged(inputs: Record<string, string>, entry: string): boolean {
  for (const [p, hash] of Object.entries(inputs)) {
    if (p === entry) continue; // the entry is covered by the key
    try {
      if (sha(readFileSync(p)) !== hash) return false;
    } catch {
      return false;
    }
  }
  return true;
}

function writeAtomic(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, data);
  renameSync(tmp, path);
}
