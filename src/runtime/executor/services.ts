/**
 * What runtime modules built on tasks (sensors, sync pipelines) reach from a
 * task context, beyond the public API: the store, the clock and the XCom
 * backend of the process running the try. Not for DAG authors.
 */
import type { TaskContext } from '../dag/types.ts';
import type { Clock } from '../scheduler/clock.ts';
import type { Store } from '../store/store.ts';
import type { XComBackend } from '../xcom/index.ts';

export const TASK_SERVICES = Symbol.for('hangar.taskServices');

export interface TaskServices {
  readonly store: Store;
  readonly clock: Clock;
  readonly backend: XComBackend;
}

export function taskServices(ctx: TaskContext): TaskServices {
  const services = (ctx as unknown as Record<symbol, TaskServices | undefined>)[TASK_SERVICES];
  if (!services) throw new Error(`Task "${ctx.taskId}": this context does not come from the Hangar runtime`);
  return services;
}

const RESCHEDULE = Symbol.for('hangar.reschedule');

/** What a task body returns to be run again later with its slot freed (sensors in reschedule mode). */
export interface RescheduleRequest {
  readonly [RESCHEDULE]: true;
  readonly at: Date;
}

export function rescheduleAt(at: Date): RescheduleRequest {
  if (Number.isNaN(at.getTime())) throw new Error('rescheduleAt: not a valid date');
  return { [RESCHEDULE]: true, at };
}

export function isRescheduleRequest(value: unknown): value is RescheduleRequest {
  return !!value && typeof value === 'object' && (value as Record<symbol, unknown>)[RESCHEDULE] === true;
}

const OUTCOME = Symbol.for('hangar.taskOutcome');

/**
 * What a task body returns to end its try other than by success or an error:
 * `skipped` (Airflow's AirflowSkipException; a sensor's softFail) or `failed`
 * with no retry left taken (Airflow's AirflowFailException; a sensor timeout).
 * The runner and the run loop handle it like a reschedule request.
 */
export interface TaskOutcome {
  readonly [OUTCOME]: true;
  readonly state: 'skipped' | 'failed';
  readonly reason: string;
}

/** Ends the try as `skipped`, with the reason recorded as the task instance's note. */
export function skipTask(reason: string): TaskOutcome {
  return { [OUTCOME]: true, state: 'skipped', reason };
}

/** Ends the try as `failed` and does not retry it, whatever `retries` says. */
export function failWithoutRetry(reason: string): TaskOutcome {
  return { [OUTCOME]: true, state: 'failed', reason };
}

export function isTaskOutcome(value: unknown): value is TaskOutcome {
  return !!value && typeof value === 'object' && (value as Record<symbol, unknown>)[OUTCOME] === true;
}
