/**
 * Sensors in the authoring API: the public types and the functions DAG files
 * call. The implementation lives in src/runtime/sensors/ and registers itself
 * here when the runtime loads it (this folder stays free of runtime imports, so
 * its declarations ship alone to `.hangar/types/`).
 *
 * Glossary:
 * - **poke**: one check of the condition; it returns done / not yet (optionally a value).
 * - **sensor instance**: one sensor task instance of one run; its timeout runs from its first poke.
 * - **mode**: `poke` holds a worker slot and sleeps between pokes; `reschedule`
 *   pokes once per try body and frees its slot until the next poke (`up_for_reschedule`).
 * - **interval strategy**: how long to wait after a "not yet" (recorded with each poke).
 * - **circuit breaker**: after N consecutive poke *errors* the sensor stops poking for a cool-down.
 * - **SLA level**: a deadline (relative to the run's start or its logical date)
 *   checked by the runtime; a miss is recorded and its callback fires once.
 */
import type { Duration } from './duration.ts';
import type { TaskContext, TaskOptions, TaskRef } from './types.ts';

export type SensorMode = 'poke' | 'reschedule';

/** Jitter applied to the strategy's interval `d` (AWS's "Exponential Backoff And Jitter" names). */
export type Jitter =
  /** `random(0, d)` */
  | 'full'
  /** `d/2 + random(0, d/2)` */
  | 'equal'
  /** `min(maxWait, random(base, previous × 3))` — needs the previous interval (persisted). */
  | 'decorrelated'
  /** `d × (1 ± ratio)`, the seed's ±10 % (ratio 0.1). */
  | { readonly ratio: number };

export interface SensorHistory {
  /** Waits (first poke → done, ms) of the last successful instances of this sensor, newest last. */
  readonly recentWaitsMs: readonly number[];
}

export interface IntervalInfo {
  /** Pokes made so far by this sensor instance (1 after the first poke). */
  readonly pokes: number;
  /** Milliseconds since the first poke. */
  readonly elapsedMs: number;
  /** The interval chosen after the previous poke, if any. */
  readonly previousMs: number | undefined;
  readonly history: SensorHistory;
}

export type IntervalStrategy =
  | { readonly kind: 'fixed'; readonly interval: Duration; readonly jitter?: Jitter }
  /** initial, initial + step, initial + 2·step, … capped at maxWait. */
  | {
      readonly kind: 'linear';
      readonly initial: Duration;
      readonly step?: Duration;
      readonly maxWait?: Duration;
      readonly jitter?: Jitter;
    }
  /** initial · multiplier^n, capped at maxWait. */
  | {
      readonly kind: 'exponential';
      readonly initial: Duration;
      readonly multiplier?: number;
      readonly maxWait: Duration;
      readonly jitter?: Jitter;
    }
  /**
   * The seed's AdaptiveSensor: the average wait of the last `window` successful
   * instances of this sensor divided by `divisor`, clamped to [base, max]; `base` without history.
   */
  | {
      readonly kind: 'adaptive';
      readonly base: Duration;
      readonly max: Duration;
      readonly window?: number;
      readonly divisor?: number;
      readonly jitter?: Jitter;
    }
  /** Any function of the poke count, elapsed time, previous interval and history; returns a duration. */
  | { readonly kind: 'custom'; readonly next: (info: IntervalInfo) => Duration; readonly jitter?: Jitter };

export interface CircuitBreakerOptions {
  /** Consecutive poke errors (not "not yet" results) that open the breaker. */
  readonly threshold: number;
  /** How long it stays open before one half-open probe is let through. */
  readonly coolDown: Duration;
  /** While open: fail the try at once without retry (`fail`, default) or wait for the cool-down (`reschedule`). */
  readonly whenOpen?: 'fail' | 'reschedule';
}

export interface SlaLevel {
  /** Offset from the anchor (`relativeTo`). */
  readonly after: Duration;
  /** A name for the level: `warn`, `page`… (defaults to `sla`). */
  readonly level?: string;
}

export interface SlaOptions {
  /** `run_start` (default: when the runtime started the run), `logical_date`, or `data_interval_end`. */
  readonly relativeTo?: 'run_start' | 'logical_date' | 'data_interval_end';
  /** One deadline, or escalation levels (e.g. warn at 30 min, page at 45 min). */
  readonly levels: readonly SlaLevel[];
}

export interface SensorEventBase {
  readonly dagId: string;
  readonly runId: string;
  readonly taskId: string;
  readonly mapIndex: number;
}

export interface PokeEvent extends SensorEventBase {
  readonly tryNumber: number;
  readonly pokeNumber: number;
  readonly result: PokeResultKind;
  readonly durationMs: number;
  /** The wait chosen before the next poke (undefined when done / ended). */
  readonly nextIntervalMs: number | undefined;
  readonly error: string | undefined;
  readonly mode: SensorMode;
}

export interface TimeoutEvent extends SensorEventBase {
  readonly elapsedMs: number;
  readonly timeoutMs: number;
  readonly pokes: number;
  readonly softFail: boolean;
}

export interface SlaMissEvent extends SensorEventBase {
  readonly level: string;
  /** ISO time of the missed deadline. */
  readonly deadline: string;
  /** The sensor's state when the miss was detected. */
  readonly taskState: string | null;
}

export type PokeResultKind = 'done' | 'not_yet' | 'error' | 'timeout' | 'breaker_open';

/** Airflow's PokeReturnValue: done or not, and the value that becomes the sensor's XCom. */
export interface PokeReturnValue<T = unknown> {
  readonly done: boolean;
  readonly value?: T;
  /** When not done: poke again no later than this time (ms on the runtime's clock), e.g. a time sensor's target. */
  readonly wakeAt?: number;
}

export type PokeOutcome<T> = boolean | PokeReturnValue<T>;

/** What a poke receives: the task context plus the sensor's own bits. */
export interface PokeContext extends TaskContext {
  /** This poke's number within the sensor instance (1-based, across reschedules and retries). */
  readonly pokeNumber: number;
  /** Aborted when the poke passes its own time limit (`pokeTimeout`) or the task is aborted. */
  readonly pokeSignal: AbortSignal;
  /** A small JSON value kept with the sensor instance across pokes, reschedules and restarts. */
  readonly memo: { get<M = unknown>(): M | undefined; set(value: unknown): void };
}

export type PokeFn<T, I> = (ctx: PokeContext, inputs: I) => PokeOutcome<T> | Promise<PokeOutcome<T>>;

export interface SensorOptions<I extends Record<string, unknown> = {}> extends Omit<
  TaskOptions<I, {}>,
  'expand' | 'branch' | 'shortCircuit'
> {
  /** `poke` (default) holds its slot; `reschedule` frees it between pokes. */
  readonly mode?: SensorMode;
  /** A fixed interval (default 60 s) or a strategy. */
  readonly pokeInterval?: Duration | IntervalStrategy;
  /** From the first poke, across reschedules, retries and restarts (default 7 days, as Airflow). */
  readonly timeout?: Duration;
  /** A timeout (or an open breaker that fails) makes the sensor `skipped`, not `failed`. */
  readonly softFail?: boolean;
  /** Retry a timed-out sensor (its timeout starts again). Airflow never does; default false. */
  readonly retryOnTimeout?: boolean;
  /** A time limit for one poke; a poke past it counts as an error (retries and breaker apply). */
  readonly pokeTimeout?: Duration;
  readonly circuitBreaker?: CircuitBreakerOptions;
  readonly sla?: SlaOptions | Duration;
  readonly onPoke?: (e: PokeEvent) => void | Promise<void>;
  readonly onTimeout?: (e: TimeoutEvent) => void | Promise<void>;
  readonly onSlaMiss?: (e: SlaMissEvent) => void | Promise<void>;
}

// ---------------------------------------------------------------- built-in sensors

/** FileSensor: a path or glob (`*`, `?`, `**`, `[…]`), templated; relative paths are relative to the workspace. */
export interface FileSensorOptions extends SensorOptions {
  readonly path: string;
  /** Minimum size in bytes of a matching file (default 0). */
  readonly minSize?: number;
  /** Take a file only once its size and mtime have not changed for this long (a file still being written is not taken). */
  readonly stableFor?: Duration;
}

export interface ObjectStoreConnection {
  /** An S3 API endpoint (`http://127.0.0.1:4568`); default: AWS. */
  readonly endpoint?: string;
  readonly region?: string;
  /** Default: the AWS SDK's chain (environment, profile…). Never logged. */
  readonly credentials?: {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly sessionToken?: string;
  };
  /** Path-style URLs (default: on when an endpoint is given). */
  readonly forcePathStyle?: boolean;
  /** Per request (default 10 s). */
  readonly requestTimeoutMs?: number;
}

/**
 * S3KeySensor on `s3://bucket` (through @aws-sdk/client-s3) or on a `file:///dir`
 * directory bucket (the seeds' mock S3 tree). Every key must be present.
 */
export interface S3KeySensorOptions extends SensorOptions {
  /** `s3://bucket` or `file:///path/to/bucket`; optional when every key is a full URL. */
  readonly bucket?: string;
  /** One key or many (all must be present); templated; a full `s3://…`/`file://…` URL is allowed. */
  readonly keys: string | readonly string[];
  /** `exact` (default), `wildcard` (`*`, `?`; the default when a key contains them) or `prefix` (any object under it). */
  readonly match?: 'exact' | 'wildcard' | 'prefix';
  readonly minSize?: number;
  readonly connection?: ObjectStoreConnection;
}

export interface SftpSensorConnection {
  readonly host: string;
  readonly port?: number;
  readonly username: string;
  readonly password?: string;
  readonly privateKey?: string;
  readonly passphrase?: string;
  /** How to check the server's host key (required): a known_hosts file or a pinned `SHA256:…` fingerprint. */
  readonly hostKey:
    | { readonly knownHostsFile: string }
    | { readonly fingerprint: string }
    | { readonly insecureAcceptAnyHostKey: true };
  readonly timeouts?: { readonly connectMs?: number; readonly operationMs?: number };
}

/** SFTP sensor: a path, or a pattern in its last segment (`/in/report_*.csv`), templated. */
export interface SftpSensorOptions extends SensorOptions {
  /** `sftp://user@host:port?fingerprint=SHA256:…` (see the sync docs) or connection options. */
  readonly connection: string | SftpSensorConnection;
  readonly path: string;
  /** Only files modified after this time count (ISO text is templated, e.g. '{{ data_interval_start }}'). */
  readonly newerThan?: string | Date;
  readonly minSize?: number;
}

/** Waits until a moment: an ISO time (templated) or a Date. */
export interface DateTimeSensorOptions extends SensorOptions {
  readonly target: string | Date;
}

/** Waits until a time of day (UTC, `HH:MM[:SS]`) on the day the run's data interval ends. */
export interface TimeSensorOptions extends SensorOptions {
  readonly at: string;
}

/** Waits until the run's data interval end plus a delta. */
export interface TimeDeltaSensorOptions extends SensorOptions {
  readonly delta: Duration;
}

/** Waits for a task (or the whole run) of another DAG's run for the same logical date. */
export interface ExternalTaskSensorOptions extends SensorOptions {
  readonly externalDagId: string;
  /** Omitted: the external run itself must reach an allowed state. */
  readonly externalTaskId?: string;
  /** Default ['success']. */
  readonly allowedStates?: readonly string[];
  /** States that fail the sensor (default ['failed', 'upstream_failed']). */
  readonly failedStates?: readonly string[];
  /** The external run's logical date is this run's minus this (Airflow's execution_delta). */
  readonly executionDelta?: Duration;
}

// ---------------------------------------------------------------- the functions

/** What the runtime's sensor module provides (registered under a global symbol). */
export interface SensorImplementation {
  sensor(dag: unknown, id: string, a: unknown, b?: unknown): TaskRef<any>;
  fileSensor(dag: unknown, id: string, options: FileSensorOptions): TaskRef<any>;
  s3KeySensor(dag: unknown, id: string, options: S3KeySensorOptions): TaskRef<any>;
  sftpSensor(dag: unknown, id: string, options: SftpSensorOptions): TaskRef<any>;
  dateTimeSensor(dag: unknown, id: string, options: DateTimeSensorOptions): TaskRef<any>;
  timeSensor(dag: unknown, id: string, options: TimeSensorOptions): TaskRef<any>;
  timeDeltaSensor(dag: unknown, id: string, options: TimeDeltaSensorOptions): TaskRef<any>;
  externalTaskSensor(dag: unknown, id: string, options: ExternalTaskSensorOptions): TaskRef<any>;
}

export const SENSOR_IMPLEMENTATION = Symbol.for('hangar.sensors.implementation');

function impl(): SensorImplementation {
  const i = (globalThis as Record<symbol, SensorImplementation | undefined>)[SENSOR_IMPLEMENTATION];
  if (!i)
    throw new Error('Hangar sensors are not loaded in this process (import src/runtime/sensors/index.ts)');
  return i;
}

/** The DAG a sensor is added to (any Hangar DAG). */
export interface SensorDag {
  readonly id: string;
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
  dag: SensorDag,
  id: string,
  poke: PokeFn<T, I>,
): TaskRef<T>;
export function sensor<T = undefined, I extends Record<string, unknown> = {}>(
  dag: SensorDag,
  id: string,
  options: SensorOptions<I>,
  poke: PokeFn<T, I>,
): TaskRef<T>;
export function sensor(dag: SensorDag, id: string, a: unknown, b?: unknown): TaskRef<any> {
  return impl().sensor(dag, id, a, b);
}

/** Matched files: `{ path, size, mtime }[]` is the sensor's XCom. */
export function fileSensor(
  dag: SensorDag,
  id: string,
  options: FileSensorOptions,
): TaskRef<{ path: string; size: number; mtime: string }[]> {
  return impl().fileSensor(dag, id, options);
}
/** The objects found: `{ url, key, size }[]` is the sensor's XCom. */
export function s3KeySensor(
  dag: SensorDag,
  id: string,
  options: S3KeySensorOptions,
): TaskRef<{ url: string; key: string; size: number }[]> {
  return impl().s3KeySensor(dag, id, options);
}
export function sftpSensor(
  dag: SensorDag,
  id: string,
  options: SftpSensorOptions,
): TaskRef<{ path: string; size: number; mtime: string }[]> {
  return impl().sftpSensor(dag, id, options);
}
export function dateTimeSensor(
  dag: SensorDag,
  id: string,
  options: DateTimeSensorOptions,
): TaskRef<undefined> {
  return impl().dateTimeSensor(dag, id, options);
}
export function timeSensor(dag: SensorDag, id: string, options: TimeSensorOptions): TaskRef<undefined> {
  return impl().timeSensor(dag, id, options);
}
export function timeDeltaSensor(
  dag: SensorDag,
  id: string,
  options: TimeDeltaSensorOptions,
): TaskRef<undefined> {
  return impl().timeDeltaSensor(dag, id, options);
}
/** The external task instance's (or run's) state is the sensor's XCom. */
export function externalTaskSensor(
  dag: SensorDag,
  id: string,
  options: ExternalTaskSensorOptions,
): TaskRef<string> {
  return impl().externalTaskSensor(dag, id, options);
}
