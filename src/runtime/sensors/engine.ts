/**
 * The sensor engine: a sensor is a task (kind `sensor`) whose body is a poke.
 *
 * - `poke` mode: the body pokes, sleeps on the runtime's clock (`ctx.sleep`),
 *   pokes again… holding its worker slot.
 * - `reschedule` mode: the body pokes once; when the answer is "not yet" it
 *   returns `rescheduleAt(next)`, the run loop frees the slot and persists the
 *   next poke time (`up_for_reschedule`), and a timer wakes it.
 *
 * The timeout runs from the sensor instance's first poke, kept in
 * `sensor_instances` on the runtime's clock, so it survives reschedules,
 * retries and restarts. A timeout fails the sensor without retry (Airflow's
 * AirflowSensorTimeout) unless `retryOnTimeout`; `softFail` makes it skipped.
 * Errors thrown by the poke fail the try as any task error (retries apply) and
 * feed the circuit breaker. Every poke is recorded.
 */
import { callerPosition } from '../dag/position.ts';
import type { SourcePosition } from '../dag/position.ts';
import type { Dag } from '../dag/dag.ts';
import { DagDefinitionError } from '../dag/dag.ts';
import { durationMs } from '../dag/duration.ts';
import type { Duration } from '../dag/duration.ts';
import type { TaskContext, TaskRef } from '../dag/types.ts';
import { failWithoutRetry, rescheduleAt, skipTask, taskServices } from '../executor/services.ts';
import type { Clock } from '../scheduler/clock.ts';
import type { Store } from '../store/store.ts';
import { breakerGate, breakerRecord } from './breaker.ts';
import { describeStrategy, nextInterval, toStrategy } from './intervals.ts';
import type { InstanceKey, InstanceOutcome } from '../store/repos/sensors.ts';
import type {
  PokeContext,
  PokeEvent,
  PokeFn,
  PokeOutcome,
  PokeResultKind,
  SensorOptions,
  SensorSettings,
  SlaOptions,
} from './types.ts';

/** Airflow's default sensor timeout: 7 days. */
export const DEFAULT_SENSOR_TIMEOUT_MS = 7 * 24 * 3_600_000;

const SENSOR_FIELDS = [
  'mode',
  'pokeInterval',
  'timeout',
  'softFail',
  'retryOnTimeout',
  'pokeTimeout',
  'circuitBreaker',
  'sla',
  'onPoke',
  'onTimeout',
  'onSlaMiss',
] as const;

/** A sensor timed out (Airflow's AirflowSensorTimeout); its message names the DAG and sensor. */
export class SensorTimeoutError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SensorTimeoutError';
  }
}

/**
 * Defines a sensor: a task whose body is `poke`, called until it says done.
 *
 * ```ts
 * sensor(etl, 'wait_for_flag', { mode: 'reschedule', pokeInterval: '30s', timeout: '10m' },
 *   async (ctx) => existsSync(ctx.render('/data/{{ ds_nodash }}.flag')));
 * ```
 * The poke returns `true`/`false`, or `{ done, value }` whose value becomes the
 * sensor's XCom (Airflow's PokeReturnValue).
 */
export function sensor<T = undefined, I extends Record<string, unknown> = {}>(
  dag: Dag<any>,
  id: string,
  poke: PokeFn<T, I>,
): TaskRef<T>;
export function sensor<T = undefined, I extends Record<string, unknown> = {}>(
  dag: Dag<any>,
  id: string,
  options: SensorOptions<I>,
  poke: PokeFn<T, I>,
): TaskRef<T>;
export function sensor(dag: Dag<any>, id: string, a: unknown, b?: unknown): TaskRef<any> {
  const position = callerPosition();
  const poke = (typeof a === 'function' ? a : b) as PokeFn<unknown, Record<string, unknown>>;
  const options = (typeof a === 'function' ? {} : (a ?? {})) as SensorOptions<Record<string, unknown>>;
  return defineSensor(dag, id, options, poke, 'custom', undefined, position);
}

/** Used by the built-in sensors: registers the task with its settings. */
export function defineSensor(
  dag: Dag<any>,
  id: string,
  options: SensorOptions<any>,
  poke: PokeFn<any, any>,
  sensorType: string,
  target: string | undefined,
  position: SourcePosition | undefined,
): TaskRef<any> {
  // A task group (`sensor(g, …)` inside `dag.group()`) adds the sensor to its DAG: name that DAG.
  const dagId = (dag as { dagId?: string } | undefined)?.dagId ?? dag?.id;
  const what = `sensor "${String(id)}" of DAG "${dagId}"`;
  if (!dag || typeof dag.addTask !== 'function')
    throw new DagDefinitionError(`${what}: the first argument must be a DAG`, position);
  if (typeof poke !== 'function')
    throw new DagDefinitionError(`${what} needs a poke function`, position, dagId);
  let settings: SensorSettings;
  try {
    settings = resolveSettings(options, { ...dag.defaultArgs }, what, sensorType, target);
  } catch (err) {
    throw new DagDefinitionError((err as Error).message, position, dagId);
  }
  const taskOptions: Record<string, unknown> = { ...options };
  for (const f of SENSOR_FIELDS) delete taskOptions[f];
  const fn = (ctx: TaskContext, inputs: Record<string, unknown>) =>
    runSensor(ctx, inputs, settings, options, poke);
  return dag.addTask(id, 'sensor', fn, taskOptions, position, { sensor: settings });
}

function resolveSettings(
  o: SensorOptions<any>,
  defaults: Record<string, unknown>,
  what: string,
  sensorType: string,
  target: string | undefined,
): SensorSettings {
  const mode = o.mode ?? 'poke';
  if (mode !== 'poke' && mode !== 'reschedule')
    throw new Error(`${what}: mode must be 'poke' or 'reschedule', not "${String(mode)}"`);
  const strategy = toStrategy(o.pokeInterval, what);
  const timeoutMs =
    o.timeout === undefined ? DEFAULT_SENSOR_TIMEOUT_MS : durationMs(o.timeout, `${what} timeout`);
  const pokeTimeoutMs =
    o.pokeTimeout === undefined ? undefined : durationMs(o.pokeTimeout, `${what} pokeTimeout`);
  let breaker: SensorSettings['breaker'];
  if (o.circuitBreaker) {
    const cb = o.circuitBreaker;
    if (!Number.isInteger(cb.threshold) || cb.threshold < 1)
      throw new Error(`${what}: circuitBreaker.threshold must be a whole number ≥ 1`);
    const whenOpen = cb.whenOpen ?? 'fail';
    if (whenOpen !== 'fail' && whenOpen !== 'reschedule')
      throw new Error(`${what}: circuitBreaker.whenOpen must be 'fail' or 'reschedule'`);
    breaker = {
      threshold: cb.threshold,
      coolDownMs: durationMs(cb.coolDown, `${what} circuitBreaker.coolDown`),
      whenOpen,
    };
  }
  let sla: SensorSettings['sla'];
  if (o.sla !== undefined) {
    const s: SlaOptions = typeof o.sla === 'object' ? o.sla : { levels: [{ after: o.sla }] };
    const relativeTo = s.relativeTo ?? 'run_start';
    if (!['run_start', 'logical_date', 'data_interval_end'].includes(relativeTo))
      throw new Error(`${what}: sla.relativeTo must be run_start, logical_date or data_interval_end`);
    if (!Array.isArray(s.levels) || s.levels.length === 0)
      throw new Error(`${what}: sla needs at least one level ({ after: '30m', level: 'warn' })`);
    const levels = s.levels.map((l, i) => ({
      afterMs: durationMs(l.after, `${what} sla.levels[${i}].after`),
      level: l.level ?? (s.levels.length === 1 ? 'sla' : `level${i + 1}`),
    }));
    if (new Set(levels.map((l) => l.level)).size !== levels.length)
      throw new Error(`${what}: sla level names must be distinct`);
    sla = { relativeTo, levels };
  }
  void defaults;
  return {
    mode,
    strategy,
    timeoutMs,
    softFail: o.softFail ?? false,
    retryOnTimeout: o.retryOnTimeout ?? false,
    pokeTimeoutMs,
    breaker,
    sla,
    onSlaMiss: o.onSlaMiss,
    sensorType,
    target,
  };
}

function normalizeOutcome(value: unknown, what: string): { done: boolean; value: unknown; wakeAt?: number } {
  if (typeof value === 'boolean') return { done: value, value: undefined };
  if (value && typeof value === 'object' && typeof (value as { done?: unknown }).done === 'boolean') {
    const v = value as { done: boolean; value?: unknown; wakeAt?: unknown };
    return {
      done: v.done,
      value: v.value,
      wakeAt: typeof v.wakeAt === 'number' && Number.isFinite(v.wakeAt) ? v.wakeAt : undefined,
    };
  }
  throw new Error(
    `${what}: the poke returned ${value === undefined ? 'nothing' : typeof value}; it must return true/false or { done, value }`,
  );
}

async function callback<E>(
  ctx: TaskContext,
  name: string,
  fn: ((e: E) => void | Promise<void>) | undefined,
  event: E,
): Promise<void> {
  if (!fn) return;
  try {
    await fn(event);
  } catch (err) {
    ctx.log.warn(
      `${name} callback of sensor "${ctx.taskId}" failed (ignored): ${(err as Error)?.message ?? String(err)}`,
    );
  }
}

function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  try {
    return typeof err === 'string' ? err : JSON.stringify(err);
  } catch {
    return String(err);
  }
}

/** Runs the poke with its own time limit (on the runtime's clock); the poke sees `pokeSignal` abort when it passes. */
async function pokeWithLimit(
  ctx: TaskContext,
  clock: Clock,
  limitMs: number | undefined,
  pokeNumber: number,
  what: string,
  poke: PokeFn<unknown, any>,
  inputs: unknown,
  memo: PokeContext['memo'],
): Promise<PokeOutcome<unknown>> {
  const ac = new AbortController();
  const onAbort = () => ac.abort(ctx.signal.reason);
  if (ctx.signal.aborted) ac.abort(ctx.signal.reason);
  else ctx.signal.addEventListener('abort', onAbort, { once: true });
  const pctx = Object.create(ctx, {
    pokeNumber: { value: pokeNumber },
    pokeSignal: { value: ac.signal },
    memo: { value: memo },
  }) as PokeContext;
  let handle: unknown;
  const work = Promise.resolve().then(() => poke(pctx, inputs));
  work.catch(() => undefined); // abandoned after a time limit: its late rejection is not ours to report
  try {
    if (limitMs === undefined) return await work;
    const limit = new Promise<never>((_, reject) => {
      handle = clock.setTimeout(() => {
        const e = new Error(
          `${what}: poke ${pokeNumber} did not finish within ${limitMs / 1000}s (pokeTimeout); abandoned`,
        );
        ac.abort(e);
        reject(e);
      }, limitMs);
    });
    return await Promise.race([work, limit]);
  } finally {
    if (handle !== undefined) clock.clearTimeout(handle);
    ctx.signal.removeEventListener('abort', onAbort);
  }
}

/** One try body of a sensor: pokes until done (poke mode) or once (reschedule mode). */
export async function runSensor(
  ctx: TaskContext,
  inputs: Record<string, unknown>,
  s: SensorSettings,
  hooks: Pick<SensorOptions, 'onPoke' | 'onTimeout'>,
  poke: PokeFn<unknown, any>,
): Promise<unknown> {
  const { store, clock } = taskServices(ctx);
  const key: InstanceKey = { dagId: ctx.dagId, runId: ctx.runId, taskId: ctx.taskId, mapIndex: ctx.mapIndex };
  const what = `Sensor "${ctx.taskId}"${ctx.mapIndex >= 0 ? `[${ctx.mapIndex}]` : ''} of DAG "${ctx.dagId}"`;
  const strategyLabel = describeStrategy(s.strategy);
  const inst = await store.sensors.startInstance(key, clock.now());
  const first = inst.first_poke_ms;
  const deadline = first + s.timeoutMs;
  let pokes = inst.pokes;
  let lastInterval = inst.last_interval_ms ?? undefined;
  // The memo is read once per try (only this instance writes it) and written after each poke that set it.
  let memoText = inst.fresh ? undefined : ((await store.sensors.getMemo(key)) ?? undefined);
  let memoDirty = false;
  const memo: PokeContext['memo'] = {
    get: <M>() => (memoText === undefined ? undefined : (JSON.parse(memoText) as M)),
    set: (v: unknown) => {
      const text = v === undefined ? undefined : JSON.stringify(v);
      if (text !== undefined && text.length > 1_000_000)
        throw new Error(`Sensor "${key.taskId}" of DAG "${key.dagId}": memo is larger than 1 MB`);
      memoText = text;
      memoDirty = true;
    },
  };
  const saveMemo = async (): Promise<void> => {
    if (!memoDirty) return;
    memoDirty = false;
    await store.sensors.setMemo(key, memoText ?? null);
  };
  if (pokes > 0)
    ctx.log.info(
      `${what}: resuming after ${pokes} poke(s); ${Math.max(0, (deadline - clock.now()) / 1000).toFixed(1)}s of its ${s.timeoutMs / 1000}s timeout left`,
    );

  const record = async (
    result: PokeResultKind,
    atMs: number,
    duration: number,
    error: string | null,
    next: number | null,
    end?: { outcome: InstanceOutcome; endedMs: number },
  ) => {
    await store.sensors.recordPoke(
      key,
      {
        tryNumber: ctx.tryNumber,
        pokeNumber: pokes,
        mode: s.mode,
        atMs,
        durationMs: duration,
        result,
        error,
        nextIntervalMs: next,
        strategy: strategyLabel,
      },
      {
        pokes,
        lastIntervalMs: lastInterval ?? null,
        outcome: end?.outcome,
        endedMs: end?.endedMs,
        waitMs: end && end.outcome === 'success' ? end.endedMs - first : undefined,
      },
    );
    const event: PokeEvent = {
      ...key,
      tryNumber: ctx.tryNumber,
      pokeNumber: pokes,
      result,
      durationMs: duration,
      nextIntervalMs: next ?? undefined,
      error: error ?? undefined,
      mode: s.mode,
    };
    await callback(ctx, 'onPoke', hooks.onPoke, event);
  };

  const wait = async (ms: number): Promise<unknown> => {
    if (s.mode === 'reschedule') return rescheduleAt(new Date(clock.now() + ms));
    await ctx.sleep(ms);
    return CONTINUE;
  };

  const timedOut = async (now: number): Promise<unknown> => {
    const elapsed = now - first;
    const message = `${what} timed out after ${(elapsed / 1000).toFixed(1)}s (timeout ${s.timeoutMs / 1000}s, ${pokes} poke(s))`;
    ctx.log.error(message);
    await callback(ctx, 'onTimeout', hooks.onTimeout, {
      ...key,
      elapsedMs: elapsed,
      timeoutMs: s.timeoutMs,
      pokes,
      softFail: s.softFail,
    });
    if (s.retryOnTimeout && ctx.tryNumber < ctx.maxTries)
      throw new SensorTimeoutError(`${message}; retrying (retryOnTimeout)`);
    return s.softFail
      ? skipTask(`${message}; skipped (softFail)`)
      : failWithoutRetry(`SensorTimeoutError: ${message}`);
  };

  for (;;) {
    const now = clock.now();
    if (s.breaker) {
      const gate = await breakerGate(store, ctx.dagId, ctx.taskId, now, s.breaker);
      if (gate.kind === 'open') {
        pokes += 1;
        const reason = `${what}: circuit breaker open until ${new Date(gate.untilMs).toISOString()} after ${s.breaker.threshold} consecutive poke errors (last: ${gate.lastError ?? 'unknown'})`;
        if (s.breaker.whenOpen === 'fail') {
          const outcome: InstanceOutcome = s.softFail ? 'skipped' : 'failed';
          await record('breaker_open', now, 0, reason, null, { outcome, endedMs: now });
          ctx.log.error(reason);
          return s.softFail
            ? skipTask(`${reason}; skipped (softFail)`)
            : failWithoutRetry(`CircuitOpenError: ${reason}`);
        }
        if (now >= deadline) {
          await record('timeout', now, 0, reason, null, { outcome: 'timeout', endedMs: now });
          const r = await timedOut(now);
          return r;
        }
        const ms = Math.max(1, Math.min(gate.untilMs - now, deadline - now));
        await record('breaker_open', now, 0, reason, ms);
        ctx.log.warn(`${reason}; next attempt in ${(ms / 1000).toFixed(1)}s`);
        const r = await wait(ms);
        if (r !== CONTINUE) return r;
        continue;
      }
      if (gate.kind === 'probe') ctx.log.info(`${what}: circuit breaker half-open; this poke is the probe`);
    }

    pokes += 1;
    const started = performance.now();
    let outcome: { done: boolean; value: unknown; wakeAt?: number } | undefined;
    let error: unknown;
    try {
      outcome = normalizeOutcome(
        await pokeWithLimit(ctx, clock, s.pokeTimeoutMs, pokes, what, poke, inputs, memo),
        what,
      );
    } catch (err) {
      error = err;
    }
    const duration = performance.now() - started;
    await saveMemo();
    const after = clock.now();
    if (ctx.signal.aborted) throw ctx.signal.reason ?? new Error('aborted');

    if (error !== undefined || !outcome) {
      const message = errorText(error);
      if (s.breaker) {
        const t = await breakerRecord(store, ctx.dagId, ctx.taskId, after, s.breaker, message);
        if (t) ctx.log.warn(`${what}: circuit breaker ${t} (cool-down ${s.breaker.coolDownMs / 1000}s)`);
      }
      const last = ctx.tryNumber >= ctx.maxTries;
      await record(
        'error',
        now,
        duration,
        message,
        null,
        last ? { outcome: 'failed', endedMs: after } : undefined,
      );
      const wrapped = new Error(`${what}: poke ${pokes} failed: ${message}`, { cause: error });
      if (error instanceof Error && error.stack)
        wrapped.stack = `${wrapped.name}: ${wrapped.message}\n${error.stack.split('\n').slice(1).join('\n')}`;
      throw wrapped;
    }
    if (s.breaker) {
      const t = await breakerRecord(store, ctx.dagId, ctx.taskId, after, s.breaker, null);
      if (t) ctx.log.info(`${what}: circuit breaker ${t}`);
    }
    if (outcome.done) {
      await record('done', now, duration, null, null, { outcome: 'success', endedMs: after });
      ctx.log.info(`${what}: done at poke ${pokes} after ${((after - first) / 1000).toFixed(1)}s`);
      return outcome.value;
    }
    if (after >= deadline) {
      await record('timeout', now, duration, null, null, { outcome: 'timeout', endedMs: after });
      return await timedOut(after);
    }
    const interval = nextInterval(s.strategy, {
      pokes,
      elapsedMs: after - first,
      previousMs: lastInterval,
      history: {
        recentWaitsMs:
          s.strategy.kind === 'adaptive' ? await recentWaitsOf(store, ctx, s.strategy.window ?? 10) : [],
      },
    });
    lastInterval = interval;
    // The last poke happens at the deadline rather than after it; a poke may ask to be woken sooner (wakeAt).
    const ms = Math.max(
      1,
      Math.min(interval, deadline - after, outcome.wakeAt === undefined ? Infinity : outcome.wakeAt - after),
    );
    await record('not_yet', now, duration, null, ms);
    ctx.log.info(
      `${what}: poke ${pokes}: not yet; next poke in ${(ms / 1000).toFixed(1)}s (${strategyLabel})`,
    );
    const r = await wait(ms);
    if (r !== CONTINUE) return r;
  }
}

const CONTINUE = Symbol('continue');

function recentWaitsOf(store: Store, ctx: TaskContext, n: number): Promise<number[]> {
  return store.sensors.recentWaits(ctx.dagId, ctx.taskId, n);
}

/** Re-exported for built-ins that take durations. */
export function ms(d: Duration, what: string): number {
  return durationMs(d, what);
}
