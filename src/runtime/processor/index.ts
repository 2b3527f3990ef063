/**
 * The DAG processor: turns the DAG folder into serialized DAGs without running
 * user code in the process that asks (the CLI, the scheduler, the runtime server).
 *
 * For each DAG file: if neither it nor any workspace file it bundles changed since
 * the store's record (same content hashes, same parser), the record is used as it
 * is. Otherwise the file is compiled here (esbuild; no user code runs) and imported
 * in a parse child (see child.ts) with a time and a memory budget; a child that
 * overruns either, exits, or leaves work running is killed and the file reported.
 * Results, import errors and timings are kept in the store per file.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compileDagBuffer, compileDagFile } from '../loader/compile.ts';
import type { CompiledDagFile } from '../loader/compile.ts';
import { apiExports, compileErrorOf, discoverDagFiles } from '../loader/index.ts';
import type { DagLoadError } from '../loader/index.ts';
import type { Store } from '../store/store.ts';
import type { DagFileRecord } from '../store/records.ts';
import type { FromParser, ParseResult, SlowImport, ToParser } from './protocol.ts';
import { dagSpecFrom, SERIALIZED_DAG_VERSION } from './serialized.ts';
import type { DagSpec, SerializedDag } from './serialized.ts';

export interface ProcessorBudgets {
  /** Milliseconds one file's import may take. */
  readonly timeoutMs: number;
  /** MiB of memory (resident) one file's import may use. */
  readonly memoryMb: number;
  /** Bytes of stdout/stderr one file may write at import (default 1 MiB). */
  readonly outputBytes?: number;
  /**
   * Milliseconds an import may take before the file gets a warning naming its slow top-level
   * statement (`parseBudgetMs`, default 2000); the file still loads.
   */
  readonly parseBudgetMs?: number;
}

/** What the processor made of an editor's unsaved text of a DAG file (see DagProcessor.parseBuffer). */
export interface BufferParse {
  readonly file: string;
  /**
   * parsed: `dags`/`errors`/`warnings` are the buffer's; superseded: a newer text of the file was
   * asked for meanwhile (this result is stale); slow: not parsed, the file's last parse took `lastMs`,
   * more than the caller's limit (it is parsed when saved).
   */
  readonly status: 'parsed' | 'superseded' | 'slow';
  readonly dags: Map<string, DagSpec>;
  readonly errors: DagLoadError[];
  readonly warnings: DagLoadError[];
  readonly compileMs: number | null;
  readonly importMs: number | null;
  readonly totalMs: number;
  /** The last parse's total time of the file (ms), when known. */
  readonly lastMs: number | null;
}

export interface BufferParseOptions {
  /** Do not parse a file whose last parse (saved or buffer) took longer than this (ms). */
  readonly slowMs?: number;
}

/** How long one file took, as the processor measured it. */
export interface FileTiming {
  readonly file: string;
  /** Compiling (esbuild); null when the compile cache had it. */
  readonly compileMs: number | null;
  /** Importing in a parse child; null when nothing was imported. */
  readonly importMs: number | null;
  readonly totalMs: number;
  /** Whether this pass parsed it (false: the stored result was still valid). */
  readonly parsed: boolean;
  readonly parsedAt: string;
}

export interface DagBag {
  readonly dags: Map<string, DagSpec>;
  readonly errors: DagLoadError[];
  /** Files over the parse budget (parseBudgetMs): one warning each, naming the slow statement where found. */
  readonly warnings: DagLoadError[];
  readonly files: string[];
  readonly timings: FileTiming[];
  readonly stats: { readonly parsed: number; readonly reused: number; readonly ms: number };
}

export interface ProcessOptions {
  /** Parse every file again, even unchanged ones and ones a budget stopped. */
  readonly force?: boolean;
}

function sha(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The parse child entry: the bundled one next to the bundled runtime, or the TypeScript source. */
function childEntry(): string {
  for (const name of ['./processor.mjs', './processor/child.mjs', './child.ts']) {
    const p = fileURLToPath(new URL(name, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error('Cannot find the Hangar DAG processor entry point (processor.mjs or child.ts)');
}

let parserVersionMemo: string | undefined;
/** The parser's identity: a record made by another build of Hangar is parsed again. */
function parserVersion(): string {
  parserVersionMemo ??= sha(`v${SERIALIZED_DAG_VERSION}\0${apiExports().join(',')}\0`).slice(0, 16) + sha(readFileSync(childEntry())).slice(0, 16);
  return parserVersionMemo;
}

/** Resident memory of a process in bytes (Linux); undefined where /proc is not there. */
function rssOf(pid: number): number | undefined {
  try {
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

interface Outcome {
  readonly dags: readonly SerializedDag[];
  readonly errors: readonly DagLoadError[];
  readonly importMs: number | null;
  readonly budgetFailure: boolean;
  /** Where the import was when it ran past the parse budget. */
  readonly slow?: SlowImport;
  /** Wall time from the moment a child took the file to its answer. */
  readonly ms: number;
}

interface Child {
  readonly proc: ChildProcess;
  readonly ready: Promise<void>;
  dead: boolean;
  files: number;
  /** Unsaved buffers imported: each leaves its module (and DAGs) in the child's memory for good. */
  buffers: number;
  stderr: string;
  onMessage?: (msg: FromParser) => void;
  onExit?: (code: number | null, signal: NodeJS.Signals | null) => void;
}

/** Parse children, started on demand, at most `size` at once. */
class ParsePool {
  private readonly idle: Child[] = [];
  private readonly all = new Set<Child>();
  private readonly waiting: ((c: Child) => void)[] = [];
  private readonly entry = childEntry();
  private nextId = 1;
  private readonly size: number;
  private readonly budgets: ProcessorBudgets;
  constructor(size: number, budgets: ProcessorBudgets) {
    this.size = size;
    this.budgets = budgets;
  }

  private spawn(): Child {
    const proc = fork(this.entry, [], {
      execArgv: [`--max-old-space-size=${this.budgets.memoryMb}`, '--enable-source-maps'],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    // Output pipes never keep the asking process alive; the child and its channel do while it is in use (hold).
    for (const s of [proc.stdout, proc.stderr]) (s as { unref?: () => void } | null)?.unref?.();
    let markReady!: () => void;
    const child: Child = { proc, ready: new Promise((r) => (markReady = r)), dead: false, files: 0, buffers: 0, stderr: '' };
    this.all.add(child);
    const keep = (chunk: Buffer) => {
      child.stderr = (child.stderr + chunk.toString('utf8')).slice(-4096);
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    proc.on('message', (msg: FromParser) => {
      if (msg.type === 'ready') markReady();
      else child.onMessage?.(msg);
    });
    proc.on('exit', (code, signal) => {
      child.dead = true;
      this.all.delete(child);
      const i = this.idle.indexOf(child);
      if (i >= 0) this.idle.splice(i, 1);
      markReady();
      child.onExit?.(code, signal);
      if (this.waiting.length) this.waiting.shift()!(this.spawn());
    });
    return child;
  }

  /** An idle child must not keep a long-lived process's event loop alive; a busy one must. */
  private hold(c: Child, busy: boolean): void {
    const channel = c.proc.channel as { ref?: () => void; unref?: () => void } | undefined;
    if (busy) {
      c.proc.ref();
      channel?.ref?.();
    } else {
      c.proc.unref();
      channel?.unref?.();
    }
  }

  private acquire(): Promise<Child> {
    const c = this.idle.pop();
    if (c) {
      this.hold(c, true);
      return Promise.resolve(c);
    }
    if (this.all.size < this.size) return Promise.resolve(this.spawn());
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(c: Child, recycle: boolean): void {
    c.files++;
    c.onMessage = undefined;
    c.onExit = undefined;
    if (c.dead) return;
    if (recycle || c.files >= 1000) {
      c.proc.kill('SIGKILL');
      return;
    }
    const next = this.waiting.shift();
    if (next) next(c);
    else {
      this.hold(c, false);
      this.idle.push(c);
    }
  }

  async parse(file: string, compiled: Pick<CompiledDagFile, 'output' | 'inputs'>, buffer = false): Promise<Outcome> {
    const child = await this.acquire();
    await child.ready;
    if (child.dead) return this.parse(file, compiled, buffer);
    const id = this.nextId++;
    const took = performance.now();
    const { timeoutMs, memoryMb } = this.budgets;
    return new Promise<Outcome>((resolve) => {
      let settled = false;
      let killedFor: string | undefined;
      const finish = (o: Omit<Outcome, 'ms'>, recycle: boolean) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearInterval(memory);
        // A child that imported many buffers (a module per keystroke pause) is replaced before they add up.
        if (buffer && ++child.buffers >= 25) recycle = true;
        this.release(child, recycle);
        resolve({ ...o, ms: performance.now() - took });
      };
      const fail = (message: string, budgetFailure: boolean) =>
        finish({ dags: [], errors: [{ file, line: null, column: null, message: `${file}: ${message}` }], importMs: null, budgetFailure }, true);
      const kill = (why: string) => {
        killedFor ??= why;
        child.proc.kill('SIGKILL');
      };
      const seconds = `${+(timeoutMs / 1000).toFixed(3)} s`;
      const timer = setTimeout(() => {
        // Over the budget: a child that still answers is waiting (a top-level await that never settles);
        // one that does not is busy (an endless loop).
        let answered = false;
        child.onMessage = (msg) => {
          if (msg.type === 'pong') answered = true;
          else if (msg.type === 'result' && msg.id === id) handle(msg);
        };
        child.proc.send({ type: 'ping' } satisfies ToParser);
        setTimeout(() => {
          if (settled) return;
          kill(
            answered
              ? `its import did not finish within ${seconds} (dagFileTimeout): it was still waiting, e.g. on a top-level await that never settles; the parse was stopped`
              : `its import ran for more than ${seconds} (dagFileTimeout) without giving the event loop a turn, e.g. an endless loop at top level; the parse was stopped`,
          );
        }, 300).unref();
      }, timeoutMs);
      const limit = memoryMb * 1024 * 1024;
      const memory = setInterval(() => {
        const rss = child.proc.pid === undefined ? undefined : rssOf(child.proc.pid);
        if (rss !== undefined && rss > limit) kill(`its import used more than ${memoryMb} MiB of memory (dagFileMemoryMb); the parse was stopped`);
      }, 50);
      const handle = (msg: ParseResult) =>
        finish({ dags: msg.dags, errors: msg.errors, importMs: msg.importMs, budgetFailure: false, ...(msg.slow ? { slow: msg.slow } : {}) }, msg.tainted);
      child.onMessage = (msg) => {
        if (msg.type === 'result' && msg.id === id) handle(msg);
      };
      child.onExit = (code, signal) => {
        if (killedFor) return fail(killedFor, true);
        const out = child.stderr;
        if (/heap out of memory|Reached heap limit|Allocation failed/i.test(out)) {
          return fail(`its import used more than ${memoryMb} MiB of memory (dagFileMemoryMb): the JavaScript heap ran out`, true);
        }
        const tail = out.trim().split('\n').slice(-5).join('\n');
        fail(
          signal
            ? `the process importing it was killed by ${signal}${tail ? `\n${tail}` : ''}`
            : `it ended the process with exit code ${code} while being imported (process.exit() at top level?)${tail ? `\n${tail}` : ''}`,
          false,
        );
      };
      child.stderr = '';
      child.proc.send({
        type: 'parse',
        id,
        file,
        bundle: compiled.output,
        inputs: compiled.inputs,
        outputLimit: this.budgets.outputBytes ?? 1 << 20,
        ...(this.budgets.parseBudgetMs !== undefined ? { budgetMs: this.budgets.parseBudgetMs } : {}),
      } satisfies ToParser);
    });
  }

  async close(): Promise<void> {
    const exits = [...this.all].map((c) => new Promise<void>((r) => (c.dead ? r() : c.proc.once('exit', () => r()))));
    for (const c of this.all) {
      this.hold(c, true);
      c.proc.kill('SIGKILL');
    }
    await Promise.all(exits);
  }
}

/** Parses a DAG folder into serialized DAGs, reusing the store's results for files that did not change. */
export class DagProcessor {
  /** Parse children kept between passes of a long-lived process (closed after a minute idle, or by close()). */
  private pool: ParsePool | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private passes = 0;
  /** The last parse's total time per file (ms), saved or buffer: a slow file is not parsed on keystrokes. */
  private readonly lastMs = new Map<string, number>();
  /** Per file: the newest buffer asked for and the parse in flight (one per file; the newest wins). */
  private readonly live = new Map<string, { latest: number; busy: Promise<unknown> | undefined }>();
  private readonly dagsFolder: string;
  private readonly cacheDir: string;
  private readonly store: Store;
  private readonly budgets: ProcessorBudgets;
  constructor(dagsFolder: string, cacheDir: string, store: Store, budgets: ProcessorBudgets) {
    this.dagsFolder = dagsFolder;
    this.cacheDir = cacheDir;
    this.store = store;
    this.budgets = budgets;
  }

  async process(options: ProcessOptions = {}): Promise<DagBag> {
    const started = performance.now();
    const files = discoverDagFiles(this.dagsFolder);
    const version = parserVersion();
    const known = new Map((await this.store.dags.listFiles()).map((r) => [r.fileloc, r]));
    const records = new Map<string, DagFileRecord>();
    const timings = new Map<string, FileTiming>();
    const stale: string[] = [];
    for (const file of files) {
      const row = known.get(file);
      if (row && !options.force && this.stillValid(row, version)) {
        records.set(file, row);
        this.lastMs.set(file, row.total_ms);
        timings.set(file, { file, compileMs: row.compile_ms, importMs: row.import_ms, totalMs: row.total_ms, parsed: false, parsedAt: row.parsed_at });
      } else stale.push(file);
    }
    if (stale.length) {
      if (this.idleTimer) clearTimeout(this.idleTimer);
      this.passes++;
      const pool = (this.pool ??= new ParsePool(Math.max(1, Math.min(availableParallelism(), 4)), this.budgets));
      try {
        await mapLimit(stale, 8, async (file) => {
          const rec = await this.parseFile(file, pool, version);
          records.set(file, rec);
          this.lastMs.set(file, rec.total_ms);
          timings.set(file, { file, compileMs: rec.compile_ms, importMs: rec.import_ms, totalMs: rec.total_ms, parsed: true, parsedAt: rec.parsed_at });
        });
      } finally {
        if (--this.passes === 0) {
          this.idleTimer = setTimeout(() => void this.close(), 60_000);
          this.idleTimer.unref();
        }
      }
    }
    // Files in their folder order; a DAG id defined twice is kept from the first file and an error on the second.
    const dags = new Map<string, DagSpec>();
    const errors: DagLoadError[] = [];
    const warnings: DagLoadError[] = [];
    for (const file of files) {
      const rec = records.get(file)!;
      errors.push(...(JSON.parse(rec.errors) as DagLoadError[]));
      warnings.push(...(JSON.parse(rec.warnings ?? '[]') as DagLoadError[]));
      for (const s of JSON.parse(rec.dags) as SerializedDag[]) {
        const existing = dags.get(s.dagId);
        if (existing) {
          const p = s.position;
          errors.push({
            file,
            line: p?.line ?? null,
            column: p?.column ?? null,
            dagId: s.dagId,
            message: `${file}${p ? `:${p.line}:${p.column}` : ''}: duplicate DAG id "${s.dagId}": also defined in ${existing.fileloc}${existing.position ? `:${existing.position.line}:${existing.position.column}` : ''} (that one is used)`,
          });
          continue;
        }
        try {
          dags.set(s.dagId, dagSpecFrom(s, { path: rec.bundle_path!, hash: rec.bundle_hash! }));
        } catch (err) {
          errors.push({ file, line: s.position?.line ?? null, column: s.position?.column ?? null, dagId: s.dagId, message: `${file}: ${(err as Error).message}` });
        }
      }
    }
    const changed = stale.map((f) => records.get(f)!);
    if (changed.length || known.size !== files.length || [...known.keys()].some((k) => !records.has(k))) (await this.store.dags.saveFiles(changed, files));
    return {
      dags,
      errors,
      warnings,
      files,
      timings: files.map((f) => timings.get(f)!),
      stats: { parsed: stale.length, reused: files.length - stale.length, ms: performance.now() - started },
    };
  }

  /** Stops the parse children. */
  async close(): Promise<void> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const pool = this.pool;
    this.pool = undefined;
    await pool?.close();
  }

  /** Whether a stored result still describes the file: same parser, same content of it and of everything it bundles. */
  private stillValid(row: DagFileRecord, version: string): boolean {
    if (row.parser_version !== version) return false;
    const errors = JSON.parse(row.errors) as unknown[];
    // A file that failed for another reason than its budget (a missing package, say) may load now.
    if (errors.length > 0 && row.budget_failure === 0 && (JSON.parse(row.dags) as unknown[]).length === 0) return false;
    if (row.bundle_path && !existsSync(row.bundle_path)) return false;
    try {
      if (sha(readFileSync(row.fileloc)) !== row.content_hash) return false;
      for (const [p, hash] of Object.entries(JSON.parse(row.inputs) as Record<string, string>)) {
        if (p !== row.fileloc && sha(readFileSync(p)) !== hash) return false;
      }
    } catch {
      return false;
    }
    return true;
  }

  /** The parse-budget warning of an import that took longer than parseBudgetMs, naming where it was. */
  private budgetWarnings(file: string, outcome: Outcome): DagLoadError[] {
    const budget = this.budgets.parseBudgetMs;
    if (budget === undefined || outcome.importMs === null || outcome.importMs <= budget) return [];
    const st = outcome.slow?.statement;
    const over = `its import took ${seconds(outcome.importMs)}, over the parse budget of ${seconds(budget)} (parseBudgetMs)`;
    if (st) {
      const where = st.file === file ? `line ${st.line}` : `${st.file}:${st.line}`;
      const at = st.atLine !== st.line ? ` (running line ${st.atLine})` : '';
      return [
        {
          file: st.file,
          line: st.line,
          column: 1,
          message: `${st.file}:${st.line}:1: ${over}: the slow top-level statement is at ${where}${at}: \`${st.text}\` (${st.hits} of ${outcome.slow!.samples} samples)`,
        },
      ];
    }
    const why = outcome.slow
      ? `it was not running the file's top level when sampled (${outcome.slow.samples} samples): awaiting, e.g. a top-level await of slow I/O`
      : 'its slow part ended before it could be sampled';
    return [{ file, line: null, column: null, message: `${file}: ${over}; ${why}` }];
  }

  /**
   * Parses the unsaved text of a DAG file (an editor's buffer) in a parse child, as the saved file
   * would be (same compile options, budgets, real path for imports and positions), without writing
   * the file or touching the store: the saved file's record, bundle and DAGs stay what runs use.
   * One parse per file at a time; a newer text supersedes older ones (those waiting are not parsed,
   * the one in flight is answered as superseded). With `slowMs`, a file whose last parse took longer
   * is not parsed (status `slow`).
   */
  async parseBuffer(file: string, text: string, options: BufferParseOptions = {}): Promise<BufferParse> {
    const abs = resolvePath(file);
    const empty = { file: abs, dags: new Map<string, DagSpec>(), errors: [], warnings: [], compileMs: null, importMs: null, totalMs: 0 };
    const last = this.lastMs.get(abs) ?? null;
    if (options.slowMs !== undefined && last !== null && last > options.slowMs) return { ...empty, status: 'slow', lastMs: last };
    let slot = this.live.get(abs);
    if (!slot) this.live.set(abs, (slot = { latest: 0, busy: undefined }));
    const generation = ++slot.latest;
    while (slot.busy) {
      await slot.busy;
      if (generation !== slot.latest) return { ...empty, status: 'superseded', lastMs: this.lastMs.get(abs) ?? null };
    }
    const parsing = this.parseBufferNow(abs, text);
    const busy = (slot.busy = parsing.catch(() => undefined));
    try {
      const r = await parsing;
      return generation === slot.latest ? r : { ...r, status: 'superseded' };
    } finally {
      if (slot.busy === busy) slot.busy = undefined;
      if (generation === slot.latest && !slot.busy) this.live.delete(abs);
    }
  }

  private async parseBufferNow(file: string, text: string): Promise<BufferParse> {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.passes++;
    const pool = (this.pool ??= new ParsePool(Math.max(1, Math.min(availableParallelism(), 4)), this.budgets));
    const t0 = performance.now();
    let output: string | undefined;
    try {
      let outcome: Outcome;
      let compileMs: number;
      try {
        const compiled = await compileDagBuffer(file, text, this.cacheDir, apiExports());
        output = compiled.output;
        compileMs = performance.now() - t0;
        outcome = await pool.parse(file, compiled, true);
      } catch (err) {
        compileMs = performance.now() - t0;
        outcome = { dags: [], errors: [compileErrorOf(file, err)], importMs: null, budgetFailure: false, ms: 0 };
      }
      const dags = new Map<string, DagSpec>();
      const errors = [...outcome.errors];
      for (const s of outcome.dags) {
        if (dags.has(s.dagId)) continue; // the child reports a DAG id defined twice in one file
        try {
          dags.set(s.dagId, dagSpecFrom(s, { path: output!, hash: '' }));
        } catch (err) {
          errors.push({ file, line: s.position?.line ?? null, column: s.position?.column ?? null, dagId: s.dagId, message: `${file}: ${(err as Error).message}` });
        }
      }
      const totalMs = compileMs + outcome.ms;
      this.lastMs.set(file, totalMs);
      return { file, status: 'parsed', dags, errors, warnings: this.budgetWarnings(file, outcome), compileMs, importMs: outcome.importMs, totalMs, lastMs: totalMs };
    } finally {
      // The buffer's bundle served this parse only (the module stays in the child until it is recycled).
      if (output) rmSync(output, { force: true });
      if (--this.passes === 0) {
        this.idleTimer = setTimeout(() => void this.close(), 60_000);
        this.idleTimer.unref();
      }
    }
  }

  private async parseFile(file: string, pool: ParsePool, version: string): Promise<DagFileRecord> {
    // A file saved again while it was being parsed is parsed again (up to three times), so the result is of its latest content.
    for (let attempt = 1; ; attempt++) {
      let compiled: CompiledDagFile | undefined;
      let outcome: Outcome;
      let compileMs: number | null;
      const t0 = performance.now();
      try {
        compiled = await compileDagFile(file, this.cacheDir, apiExports());
        compileMs = compiled.fromCache ? null : performance.now() - t0;
        outcome = await pool.parse(file, compiled);
      } catch (err) {
        compileMs = performance.now() - t0;
        outcome = { dags: [], errors: [compileErrorOf(file, err)], importMs: null, budgetFailure: false, ms: 0 };
      }
      let current: string | undefined;
      try {
        current = sha(readFileSync(file));
      } catch {
        current = undefined;
      }
      const parsedHash = compiled?.inputHashes[file] ?? current ?? '';
      if (attempt < 3 && current !== undefined && current !== parsedHash) continue;
      return {
        fileloc: file,
        content_hash: parsedHash,
        inputs: JSON.stringify(compiled?.inputHashes ?? { [file]: parsedHash }),
        parser_version: version,
        bundle_path: compiled?.output ?? null,
        bundle_hash: compiled?.outputHash ?? null,
        dags: JSON.stringify(outcome.dags),
        errors: JSON.stringify(outcome.errors),
        warnings: JSON.stringify(this.budgetWarnings(file, outcome)),
        budget_failure: outcome.budgetFailure ? 1 : 0,
        compile_ms: compileMs,
        import_ms: outcome.importMs,
        total_ms: (compileMs ?? 0) + outcome.ms,
        parsed_at: new Date().toISOString(),
      };
    }
  }
}

/** `1234.5` ms as `1.23 s`. */
function seconds(ms: number): string {
  return `${+(ms / 1000).toFixed(2)} s`;
}

async function mapLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
