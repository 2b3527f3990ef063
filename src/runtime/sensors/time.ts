/**
 * Time sensors, on the runtime's clock: until a moment (DateTimeSensor), until a
 * time of day on the day the data interval ends (TimeSensor), or until the
 * data interval's end plus a delta (TimeDeltaSensor). Each poke asks to be
 * woken at the target (wakeAt), so the last wait is never longer than needed.
 */
import { callerPosition } from '../dag/position.ts';
import type { Dag } from '../dag/dag.ts';
import { DagDefinitionError } from '../dag/dag.ts';
import { durationMs } from '../dag/duration.ts';
import type { TaskRef } from '../dag/types.ts';
import { defineSensor } from './engine.ts';
import type {
  DateTimeSensorOptions,
  PokeContext,
  PokeReturnValue,
  SensorOptions,
  TimeDeltaSensorOptions,
  TimeSensorOptions,
} from './types.ts';

function untilSensor(
  dag: Dag<any>,
  id: string,
  options: SensorOptions,
  target: (ctx: PokeContext) => number,
  type: string,
  label: string,
  position: ReturnType<typeof callerPosition>,
): TaskRef<undefined> {
  const poke = (ctx: PokeContext): PokeReturnValue<undefined> => {
    const at = target(ctx);
    const now = ctx.now();
    if (now >= at) return { done: true };
    ctx.log.info(`Waiting until ${new Date(at).toISOString()} (${((at - now) / 1000).toFixed(1)}s left)`);
    return { done: false, wakeAt: at };
  };
  return defineSensor(dag, id, options, poke, type, label, position);
}

export function dateTimeSensor(
  dag: Dag<any>,
  id: string,
  options: DateTimeSensorOptions,
): TaskRef<undefined> {
  const position = callerPosition();
  const what = `DateTimeSensor "${String(id)}" of DAG "${dag?.id}"`;
  if (!options || (typeof options.target !== 'string' && !(options.target instanceof Date)))
    throw new DagDefinitionError(`${what} needs a target (ISO time or Date)`, position, dag?.id);
  const label = options.target instanceof Date ? options.target.toISOString() : options.target;
  return untilSensor(
    dag,
    id,
    options,
    (ctx) => {
      const text = options.target instanceof Date ? options.target.toISOString() : ctx.render(options.target);
      const t = Date.parse(text);
      if (Number.isNaN(t)) throw new Error(`${what}: target "${text}" is not a time`);
      return t;
    },
    'time',
    label,
    position,
  );
}

export function timeSensor(dag: Dag<any>, id: string, options: TimeSensorOptions): TaskRef<undefined> {
  const position = callerPosition();
  const what = `TimeSensor "${String(id)}" of DAG "${dag?.id}"`;
  const m =
    options && typeof options.at === 'string' ? /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(options.at) : null;
  if (!m || Number(m[1]) > 23 || Number(m[2]) > 59 || Number(m[3] ?? 0) > 59)
    throw new DagDefinitionError(`${what}: at must be a UTC time of day HH:MM[:SS]`, position, dag?.id);
  const offset = (Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3] ?? 0)) * 1000;
  return untilSensor(
    dag,
    id,
    options,
    (ctx) => {
      const end = ctx.dataIntervalEnd;
      return Date.UTC(end.getUTCFullYear(), end.getUTCMonth(), end.getUTCDate()) + offset;
    },
    'time',
    `${options.at} UTC`,
    position,
  );
}

export function timeDeltaSensor(
  dag: Dag<any>,
  id: string,
  options: TimeDeltaSensorOptions,
): TaskRef<undefined> {
  const position = callerPosition();
  const what = `TimeDeltaSensor "${String(id)}" of DAG "${dag?.id}"`;
  let delta: number;
  try {
    delta = durationMs(options?.delta, `${what} delta`);
  } catch (err) {
    throw new DagDefinitionError((err as Error).message, position, dag?.id);
  }
  return untilSensor(
    dag,
    id,
    options,
    (ctx) => ctx.dataIntervalEnd.getTime() + delta,
    'time',
    `data_interval_end + ${delta / 1000}s`,
    position,
  );
}
