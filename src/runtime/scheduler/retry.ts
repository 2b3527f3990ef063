import { createHash } from 'node:crypto';
import type { TaskDefinition } from '../dag/dag.ts';

/**
 * The wait before the next try, as Airflow computes it: `retryDelay`, or with
 * exponential backoff delay × 2^(try−1) spread deterministically over
 * [base, 2·base) by a hash of the task instance, capped by `maxRetryDelay`.
 * `retryJitter` (0..1) additionally spreads a fixed delay by up to that fraction.
 */
export function retryDelayMs(
  task: Pick<TaskDefinition, 'retryDelayMs' | 'retryExponentialBackoff' | 'maxRetryDelayMs' | 'retryJitter'>,
  ident: { dagId: string; taskId: string; runId: string; mapIndex: number },
  failedTryNumber: number,
  random: () => number = Math.random,
): number {
  let delay = task.retryDelayMs;
  if (task.retryExponentialBackoff && delay > 0) {
    const base = Math.ceil(delay * 2 ** Math.max(0, failedTryNumber - 1));
    const hash = createHash('sha1')
      .update(`${ident.dagId}#${ident.taskId}#${ident.runId}#${ident.mapIndex}#${failedTryNumber}`)
      .digest();
    const spread = hash.readUInt32BE(0) % base;
    delay = base + spread;
  } else if (task.retryJitter > 0) {
    delay = delay * (1 + Math.min(1, task.retryJitter) * random());
  }
  if (task.maxRetryDelayMs !== undefined) delay = Math.min(delay, task.maxRetryDelayMs);
  return Math.min(Math.round(delay), 24 * 3_600_000 * 365);
}
