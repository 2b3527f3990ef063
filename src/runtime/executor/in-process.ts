import type { Dag } from '../dag/dag.ts';
import { runTaskTry } from './task-runner.ts';
import type { RunnerEnv } from './task-runner.ts';
import { invokeCallback } from './callbacks.ts';
import type { CallbackRequest, CallbackResult, ExecuteRequest, ExecuteResult, TaskExecutor } from './types.ts';

export interface InProcessContext {
  readonly env: RunnerEnv;
  /** The live DAG (its bundle imported into this process). */
  resolve(req: { dagFile: string; bundle: string; dagId: string }): Promise<{ dag: Dag<any> }>;
  onLine?: (req: ExecuteRequest, line: string) => void;
}

/**
 * Runs tasks in the runtime's own process: the fastest, and what the debugger
 * attaches to (breakpoints in DAG files are hit). The trade-off: the DAG's code is
 * imported into this process (the DAG processor parsed it elsewhere first, so a
 * file that hangs at import never gets here, but its tasks run here). A task past
 * its timeout is abandoned and failed; code that never yields cannot be stopped
 * here — use the isolated executor for untrusted or unstable tasks.
 */
export class InProcessExecutor implements TaskExecutor {
  readonly name = 'in-process';
  private readonly ctx: InProcessContext;

  constructor(ctx: InProcessContext) {
    this.ctx = ctx;
  }

  async execute(req: ExecuteRequest, signal?: AbortSignal, onStarted?: (pid: number) => void): Promise<ExecuteResult> {
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal?.reason ?? new Error('The run was cancelled'));
    signal?.addEventListener('abort', onAbort, { once: true });
    let timer: NodeJS.Timeout | undefined;
    try {
      const { dag } = await this.ctx.resolve(req);
      onStarted?.(process.pid);
      const onLine = this.ctx.onLine ? (line: string) => this.ctx.onLine!(req, line) : undefined;
      const work = runTaskTry(this.ctx.env, dag, req, controller.signal, onLine);
      const races: Promise<ExecuteResult>[] = [work];
      if (req.timeoutMs !== undefined) {
        races.push(
          new Promise((resolve) => {
            timer = setTimeout(() => {
              const error = `Task timed out after ${req.timeoutMs! / 1000}s (executionTimeout)`;
              controller.abort(new Error(error));
              resolve({ ok: false, error, timedOut: true, pid: process.pid });
            }, req.timeoutMs);
          }),
        );
      }
      races.push(
        new Promise((resolve) => {
          controller.signal.addEventListener(
            'abort',
            () => {
              const reason = controller.signal.reason as Error | undefined;
              resolve({ ok: false, error: reason?.message ?? 'cancelled', pid: process.pid, timedOut: /timed out/.test(reason?.message ?? '') });
            },
            { once: true },
          );
        }),
      );
      return await Promise.race(races);
    } catch (err) {
      return { ok: false, error: (err as Error).message, pid: process.pid };
    } finally {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async callback(req: CallbackRequest): Promise<CallbackResult> {
    try {
      const { dag } = await this.ctx.resolve(req);
      return await invokeCallback(dag, req);
    } catch (err) {
      return { ok: false, error: (err as Error).message };
    }
  }

  async close(): Promise<void> {}
}
