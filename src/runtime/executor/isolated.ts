import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FromWorker, ToWorker } from './protocol.ts';
import type { CallbackRequest, CallbackResult, ExecuteRequest, ExecuteResult, TaskExecutor } from './types.ts';

export interface IsolatedOptions {
  /** Most worker processes alive at once (they are started on demand). */
  readonly maxWorkers: number;
  /** A worker is replaced after this many tries, to bound leaks in long sessions. */
  readonly maxTriesPerWorker?: number;
  /** V8 heap limit of a worker, in MiB: a task that allocates without bound dies alone. */
  readonly maxOldSpaceMb?: number;
  readonly onLine?: (req: ExecuteRequest, line: string) => void;
}

/**
 * The Node flags of a worker process. The young generation is capped at 16 MiB semi-spaces, as Node ≤ 20
 * had it: Node 22+ sizes them from the heap limit (64 MiB here), and a task decoding a 100 MiB XCom of
 * records then peaked at 3.3× the value's size instead of 2.6× (`node bench/xcom.bench.ts`, memory check),
 * for no measurable gain in decode time.
 */
export function workerExecArgv(maxOldSpaceMb = 4096): string[] {
  return [`--max-old-space-size=${maxOldSpaceMb}`, '--max-semi-space-size=16', '--enable-source-maps', '--expose-gc'];
}

interface Worker {
  readonly child: ChildProcess;
  readonly ready: Promise<void>;
  busy?: { id: number; req: ExecuteRequest; resolve: (r: ExecuteResult) => void; stderr: string[]; timer?: NodeJS.Timeout; timedOut?: boolean; cancelled?: string };
  /** A callback it is running. */
  call?: { id: number; resolve: (r: CallbackResult) => void; timer: NodeJS.Timeout; timedOut?: boolean };
  tries: number;
  dead: boolean;
}

/** The worker entry: the bundled one next to the bundled runtime, or the TypeScript source. */
function workerEntry(): string {
  for (const name of ['./worker.mjs', './executor/worker.mjs', './worker.ts']) {
    const p = fileURLToPath(new URL(name, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error('Cannot find the Hangar worker entry point (worker.mjs or worker.ts)');
}

/**
 * Runs each try in a pool of worker processes, so that a task that throws,
 * hangs, exhausts its memory or calls process.exit fails alone: the runtime
 * records why and starts another worker. A try past its executionTimeout is
 * killed (SIGKILL) with its worker.
 */
export class IsolatedExecutor implements TaskExecutor {
  readonly name = 'isolated';
  private readonly options: IsolatedOptions;
  private readonly idle: Worker[] = [];
  private readonly all = new Set<Worker>();
  private readonly waiting: ((w: Worker) => void)[] = [];
  private nextId = 1;
  private closed = false;
  private readonly entry = workerEntry();

  constructor(options: IsolatedOptions) {
    this.options = options;
  }

  get workerCount(): number {
    return this.all.size;
  }

  private spawn(): Worker {
    const execArgv = workerExecArgv(this.options.maxOldSpaceMb);
    const child = fork(this.entry, [], { execArgv, stdio: ['ignore', 'pipe', 'pipe', 'ipc'], serialization: 'advanced' });
    let markReady!: () => void;
    const worker: Worker = { child, ready: new Promise((r) => (markReady = r)), tries: 0, dead: false };
    this.all.add(worker);
    const capture = (chunk: Buffer) => {
      // Output that bypassed the worker's own redirection (e.g. V8's fatal errors) is kept for the try's log.
      const text = chunk.toString('utf8');
      if (worker.busy) worker.busy.stderr.push(text);
    };
    child.stdout!.on('data', capture);
    child.stderr!.on('data', capture);
    child.on('message', (msg: FromWorker) => {
      if (msg.type === 'ready') markReady();
      else if (msg.type === 'log' && worker.busy?.id === msg.id) this.options.onLine?.(worker.busy.req, msg.line);
      else if (msg.type === 'callback-result' && worker.call?.id === msg.id) {
        const call = worker.call;
        worker.call = undefined;
        clearTimeout(call.timer);
        call.resolve(msg.result);
        this.release(worker);
      } else if (msg.type === 'result' && worker.busy?.id === msg.id) {
        const busy = worker.busy;
        worker.busy = undefined;
        if (busy.timer) clearTimeout(busy.timer);
        busy.resolve(msg.result);
        this.release(worker);
      }
    });
    child.on('exit', (code, signal) => {
      worker.dead = true;
      this.all.delete(worker);
      const i = this.idle.indexOf(worker);
      if (i >= 0) this.idle.splice(i, 1);
      markReady();
      const call = worker.call;
      if (call) {
        worker.call = undefined;
        clearTimeout(call.timer);
        call.resolve({ ok: false, error: call.timedOut ? 'it did not finish in time; its process was killed' : `its process (pid ${child.pid}) ${signal ? `was killed by ${signal}` : `exited with code ${code}`}` });
      }
      const busy = worker.busy;
      if (busy) {
        worker.busy = undefined;
        if (busy.timer) clearTimeout(busy.timer);
        const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        let error: string;
        if (busy.timedOut) error = `Task timed out after ${busy.req.timeoutMs! / 1000}s (executionTimeout); its process was killed`;
        else if (busy.cancelled) error = busy.cancelled;
        else {
          const output = busy.stderr.join('').trim();
          const oom = /heap out of memory|Reached heap limit|Allocation failed/i.test(output);
          error = `The task's process (pid ${child.pid}) ${how}${oom ? ': it ran out of memory' : ''}${output ? `\n${output.split('\n').slice(-20).join('\n')}` : ''}`;
        }
        appendLog(busy.req.logPath, error);
        busy.resolve({ ok: false, error, crashed: true, timedOut: busy.timedOut, pid: child.pid ?? -1 });
      }
      // Someone may be waiting for a worker that can now be started.
      if (this.waiting.length && !this.closed) this.waiting.shift()!(this.spawn());
    });
    return worker;
  }

  private acquire(): Promise<Worker> {
    const w = this.idle.pop();
    if (w) return Promise.resolve(w);
    if (this.all.size < this.options.maxWorkers) return Promise.resolve(this.spawn());
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(worker: Worker): void {
    worker.tries++;
    if (worker.dead) return;
    if (worker.tries >= (this.options.maxTriesPerWorker ?? 1000) || this.closed) {
      worker.child.kill('SIGTERM');
      return;
    }
    const next = this.waiting.shift();
    if (next) next(worker);
    else this.idle.push(worker);
  }

  async execute(req: ExecuteRequest, signal?: AbortSignal, onStarted?: (pid: number) => void): Promise<ExecuteResult> {
    if (this.closed) return { ok: false, error: 'The runtime is shutting down', pid: process.pid };
    const worker = await this.acquire();
    await worker.ready;
    if (worker.dead) return this.execute(req, signal, onStarted);
    const id = this.nextId++;
    return new Promise<ExecuteResult>((resolveTry) => {
      // The run's signal outlives this try: its listener must go when the try ends, or they pile up.
      const resolve = (r: ExecuteResult) => {
        signal?.removeEventListener('abort', onAbort);
        resolveTry(r);
      };
      const busy: NonNullable<Worker['busy']> = { id, req, resolve, stderr: [] };
      worker.busy = busy;
      if (req.timeoutMs !== undefined) {
        busy.timer = setTimeout(() => {
          busy.timedOut = true;
          worker.child.kill('SIGKILL');
        }, req.timeoutMs);
      }
      const onAbort = () => {
        if (worker.busy !== busy) return;
        busy.cancelled = (signal?.reason as Error | undefined)?.message ?? 'The run was cancelled';
        worker.child.kill('SIGKILL');
      };
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
      onStarted?.(worker.child.pid ?? -1);
      worker.child.send({ type: 'run', id, req } satisfies ToWorker);
    });
  }

  async callback(req: CallbackRequest): Promise<CallbackResult> {
    if (this.closed) return { ok: false, error: 'The runtime is shutting down' };
    const worker = await this.acquire();
    await worker.ready;
    if (worker.dead) return this.callback(req);
    const id = this.nextId++;
    return new Promise<CallbackResult>((resolve) => {
      // The worker enforces the budget itself; this is the backstop for code that never yields.
      const timer = setTimeout(() => {
        if (worker.call?.id !== id) return;
        worker.call.timedOut = true;
        worker.child.kill('SIGKILL');
      }, req.timeoutMs + 2000);
      worker.call = { id, resolve, timer };
      worker.child.send({ type: 'callback', id, req } satisfies ToWorker);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const exits = [...this.all].map((w) => new Promise<void>((r) => (w.dead ? r() : w.child.once('exit', () => r()))));
    for (const w of this.all) w.child.kill(w.busy || w.call ? 'SIGKILL' : 'SIGTERM');
    await Promise.all(exits);
  }
}

function appendLog(path: string, text: string): void {
  try {
    mkdirSync(dirname(path), { recursive: true });
    appendFileSync(path, `[${new Date().toISOString()}] ERROR - ${text}\n`);
  } catch {
    // the error is in the store either way
  }
}
