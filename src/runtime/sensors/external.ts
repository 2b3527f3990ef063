/**
 * ExternalTaskSensor: waits for a task (or the whole run) of another DAG's run
 * for the same logical date (minus `executionDelta`), read from the store.
 * A state in `failedStates` fails the poke with an error naming the external
 * DAG, run and task (retries apply; with softFail after the last try it is a failure still).
 */
import { callerPosition } from '../dag/position.ts';
import type { Dag } from '../dag/dag.ts';
import { DagDefinitionError } from '../dag/dag.ts';
import { durationMs } from '../dag/duration.ts';
import type { TaskRef } from '../dag/types.ts';
import { taskServices } from '../executor/services.ts';
import { defineSensor } from './engine.ts';
import type { ExternalTaskSensorOptions, PokeContext, PokeReturnValue } from './types.ts';

export function externalTaskSensor(
  dag: Dag<any>,
  id: string,
  options: ExternalTaskSensorOptions,
): TaskRef<string> {
  const position = callerPosition();
  const what = `ExternalTaskSensor "${String(id)}" of DAG "${dag?.id}"`;
  if (!options || typeof options.externalDagId !== 'string' || options.externalDagId === '')
    throw new DagDefinitionError(`${what} needs externalDagId`, position, dag?.id);
  let delta = 0;
  try {
    if (options.executionDelta !== undefined)
      delta = durationMs(options.executionDelta, `${what} executionDelta`);
  } catch (err) {
    throw new DagDefinitionError((err as Error).message, position, dag?.id);
  }
  const allowed = new Set(options.allowedStates ?? ['success']);
  const failed = new Set(options.failedStates ?? ['failed', 'upstream_failed']);
  const poke = async (ctx: PokeContext): Promise<PokeReturnValue<string>> => {
    const { store } = taskServices(ctx);
    const logical = new Date(ctx.logicalDate.getTime() - delta).toISOString();
    const runs = await store.sensors.runsAtLogicalDate(options.externalDagId, logical);
    const target = `DAG "${options.externalDagId}"${options.externalTaskId ? ` task "${options.externalTaskId}"` : ''} for logical date ${logical}`;
    if (runs.length === 0) {
      ctx.log.info(`No run yet of ${target}`);
      return { done: false };
    }
    const run = runs[0]!;
    let state: string | null;
    if (options.externalTaskId) {
      const tis = (await store.sensors.taskInstanceStates(options.externalDagId, run.run_id, options.externalTaskId)).map(
        (state) => ({ state: state as string | null }),
      );
      if (tis.length === 0)
        throw new Error(
          `${what}: run "${run.run_id}" of DAG "${options.externalDagId}" has no task "${options.externalTaskId}"`,
        );
      // Mapped: every instance must be allowed; any failed fails.
      state =
        tis.find((t) => t.state !== null && failed.has(t.state))?.state ??
        (tis.every((t) => t.state !== null && allowed.has(t.state))
          ? tis[0]!.state
          : (tis.find((t) => t.state === null || !allowed.has(t.state))?.state ?? null));
    } else state = run.state;
    if (state !== null && failed.has(state))
      throw new Error(`${what}: ${target} (run "${run.run_id}") is ${state}`);
    if (state !== null && allowed.has(state)) {
      ctx.log.info(`${target} (run "${run.run_id}") is ${state}`);
      return { done: true, value: state };
    }
    ctx.log.info(
      `${target} (run "${run.run_id}") is ${state ?? 'none'}; waiting for ${[...allowed].join('/')}`,
    );
    return { done: false };
  };
  return defineSensor(
    dag,
    id,
    options,
    poke,
    'external',
    `${options.externalDagId}${options.externalTaskId ? '.' + options.externalTaskId : ''}`,
    position,
  );
}
