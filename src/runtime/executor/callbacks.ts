/** Finding and calling a DAG's callbacks, in a process that has imported the DAG's code. */
import type { Dag } from '../dag/dag.ts';
import type { CallbackRequest, CallbackResult } from './types.ts';

/** Calls the callback a request names on a live DAG, within its time budget. */
export async function invokeCallback(dag: Dag<any>, req: CallbackRequest): Promise<CallbackResult> {
  const whose = req.taskId === undefined ? `DAG "${req.dagId}"` : `task "${req.taskId}" of DAG "${req.dagId}"`;
  let fn: unknown;
  if (req.taskId === undefined) {
    fn = req.name === 'onSuccess' ? dag.onSuccess : req.name === 'onFailure' ? dag.onFailure : undefined;
  } else {
    const task = dag.tasks.get(req.taskId);
    if (!task) return { ok: false, error: `${whose} is no longer in ${req.dagFile}` };
    fn = req.name === 'onSlaMiss' ? (task.extra['sensor'] as { onSlaMiss?: unknown } | undefined)?.onSlaMiss : task.options[req.name];
  }
  if (typeof fn !== 'function') return { ok: false, error: `${whose} has no ${req.name} callback in ${req.dagFile}` };
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      Promise.resolve().then(() => (fn as (ctx: unknown) => unknown)(req.context)),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`did not finish within ${req.timeoutMs / 1000}s`)), req.timeoutMs);
      }),
    ]);
    return { ok: true };
  } catch (err) {
    return { ok: false, error: err instanceof Error ? `${err.name}: ${err.message}` : `threw ${String(err)}` };
  } finally {
    if (timer) clearTimeout(timer);
  }
}
