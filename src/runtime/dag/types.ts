import type { Duration } from './duration.ts';
import type { Asset, AssetEvent } from './assets.ts';

/** Airflow's trigger rules: when a task may run, from the states of its direct upstream tasks. */
export type TriggerRule =
  | 'all_success'
  | 'all_failed'
  | 'all_done'
  | 'all_skipped'
  | 'one_success'
  | 'one_failed'
  | 'one_done'
  | 'none_failed'
  | 'none_failed_min_one_success'
  | 'none_skipped'
  | 'always'
  /** A teardown's rule (set by `teardown`): all upstream done, and at least one of its setups succeeded. */
  | 'all_done_setup_success';

export const TRIGGER_RULES: readonly TriggerRule[] = [
  'all_success',
  'all_failed',
  'all_done',
  'all_skipped',
  'one_success',
  'one_failed',
  'one_done',
  'none_failed',
  'none_failed_min_one_success',
  'none_skipped',
  'always',
  'all_done_setup_success',
];

export interface Logger {
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string, ...args: unknown[]): void;
}

export interface XComPushOptions {
  /** Treat the value as sensitive (encrypted when a key is configured, masked in views). */
  readonly sensitive?: boolean;
  /** The backend for this one value, overriding the task's and the workspace's. */
  readonly backend?: string;
  /**
   * pushFile/pushRecords: where the file goes, the workspace's XCom directory (`local`,
   * the default) or the configured object store (`object-store`, xcom.objectStore).
   */
  readonly target?: 'local' | 'object-store';
  /** pushFile: how many records the bytes hold, recorded in the reference (default 1). */
  readonly recordCount?: number;
}

/**
 * A file the XCom backend manages (ctx.xcom.pushRecords / pushFile): the seed's file
 * reference format, plus the store, a SHA-256 checksum and the content format.
 */
export interface XComFileRef {
  readonly data_type: 'file_reference';
  readonly _xcom_file_backend: true;
  /** `xcom-root` (the workspace's XCom directory), `file:///dir` or `s3://bucket/prefix`. */
  readonly store: string;
  /** Relative to the store. */
  readonly filepath: string;
  readonly size_bytes: number;
  readonly record_count: number;
  readonly created_at: string;
  /** `sha256:<hex>` of the file. */
  readonly checksum: string;
  /** `ndjson`: one serialized record per line (pushRecords); `binary`: opaque bytes (pushFile). */
  readonly format: 'ndjson' | 'binary';
  readonly cleanup_required: true;
}

export interface XComPullOptions {
  /** For mapped tasks: one map index; omitted means all of them, as a list in map index order. */
  readonly mapIndex?: number;
}

/** A reference to some task's XCom, usable as a task input (TaskFlow style). */
export interface XComArg<T> {
  readonly kind: 'xcom-arg';
  readonly taskId: string;
  readonly key: string;
  /** Phantom field carrying the value's type; never set at run time. */
  readonly __type?: T;
}

/** The XCom API a task sees. Pulls are scoped to the current run. */
export interface XComApi {
  push(key: string, value: unknown, options?: XComPushOptions): Promise<void>;
  /** A task's return value, typed by the task. */
  pull<T>(task: TaskRef<T>): Promise<T | undefined>;
  /** Any XCom of a task of this run (`key` defaults to `return_value`). */
  pull<T = unknown>(task: string | TaskRef<unknown>, key?: string, options?: XComPullOptions): Promise<T | undefined>;
  /** Values of many tasks for one key, in the order given (undefined where missing). */
  pullMany(taskIds: readonly string[], key?: string): Promise<unknown[]>;
  /** Keys one task pushed, optionally only those starting with a prefix (the dynamic keys pattern). */
  keys(task: string | TaskRef<unknown>, prefix?: string): Promise<string[]>;
  /** Every key → value one task pushed under a prefix. */
  pullPrefix(task: string | TaskRef<unknown>, prefix: string): Promise<Record<string, unknown>>;
  /** Removes XComs of this run (the seed's cleanup pattern); returns how many were removed. */
  clear(task: string | TaskRef<unknown>, selector?: { key?: string; prefix?: string }): Promise<number>;
  /**
   * Streams records (any XCom-storable values) into a file the XCom backend manages,
   * one per line (NDJSON in Hangar's typed JSON), and pushes the small reference under `key`.
   * Never holds the dataset whole; the file is removed with the XCom (clear, re-push, cleanup).
   */
  pushRecords(
    key: string,
    records: Iterable<unknown> | AsyncIterable<unknown>,
    options?: XComPushOptions,
  ): Promise<XComFileRef>;
  /** Streams bytes (a Buffer, or chunks from a stream / async iterable) into a managed file and pushes its reference under `key`. */
  pushFile(
    key: string,
    bytes: Uint8Array | Iterable<Uint8Array | string> | AsyncIterable<Uint8Array | string>,
    options?: XComPushOptions,
  ): Promise<XComFileRef>;
  /**
   * Reads back the records of a reference pushed with pushRecords, one at a time, checking
   * size and SHA-256 as they pass. `source` is a task (then `key`, default `return_value`,
   * names the XCom and the pull is recorded in lineage) or a reference already pulled.
   */
  readRecords<T = unknown>(
    source: string | TaskRef<unknown> | XComFileRef,
    key?: string,
    options?: XComPullOptions,
  ): AsyncIterable<T>;
  /** The bytes of a managed file as a stream (verified as it passes; a missing, truncated or altered file is an error naming the XCom). */
  openFile(
    source: string | TaskRef<unknown> | XComFileRef,
    key?: string,
    options?: XComPullOptions,
  ): Promise<AsyncIterable<Uint8Array>>;
}

/** Variables from a task (Airflow's `Variable.get`/`Variable.set`); templates read them as `{{ var.value.key }}`. */
export interface VariablesApi {
  /** The value; `fallback` when there is none (an error naming the key without one). */
  get(key: string, fallback?: string): Promise<string>;
  /** The value parsed as JSON (`Variable.get(key, deserialize_json=True)`). */
  getJson<T = unknown>(key: string, fallback?: T): Promise<T>;
  /** Stores a text value (a key overridden by `HANGAR_VAR_<KEY>` still reads the environment's). */
  set(key: string, value: string, description?: string): Promise<void>;
  /** Stores a value as its JSON text. */
  setJson(key: string, value: unknown, description?: string): Promise<void>;
  /** Removes a stored variable; false when there was none. */
  delete(key: string): Promise<boolean>;
}

/** What every task receives. Field names follow Airflow's template context where one exists. */
export interface TaskContext<P extends Params = Params> {
  readonly dagId: string;
  readonly taskId: string;
  readonly runId: string;
  readonly mapIndex: number;
  readonly tryNumber: number;
  readonly maxTries: number;
  readonly logicalDate: Date;
  readonly dataIntervalStart: Date;
  readonly dataIntervalEnd: Date;
  /** The logical date as YYYY-MM-DD. */
  readonly ds: string;
  readonly params: P;
  /** The run's configuration (`--conf`). */
  readonly conf: Readonly<Record<string, unknown>>;
  readonly log: Logger;
  readonly xcom: XComApi;
  /** Variables (Airflow's Variable): the environment's `HANGAR_VAR_<KEY>` first, then the store. */
  readonly variables: VariablesApi;
  /** Aborted when the task times out or the run is cancelled. */
  readonly signal: AbortSignal;
  /** Absolute path of the workspace. */
  readonly workspace: string;
  /** A scratch directory for this try, inside the workspace's .hangar folder. */
  readonly tmpDir: string;
  /** Renders a template with Airflow's macros (`{{ ds }}`, `{{ macros.ds_add(ds, 1) }}`…). */
  render(template: string): string;
  /**
   * A connection by id (HANGAR_CONN_<ID> in the environment, or `connections` in hangar.json).
   * Its password is masked in logs from then on.
   */
  connection(id: string): ConnectionInfo;
  /** The runtime's time in milliseconds (a fake clock in tests): use it rather than Date.now() for waits. */
  now(): number;
  /** Waits on the runtime's clock; rejects when the task is aborted (timeout, cancelled run). */
  sleep(ms: number): Promise<void>;
  /** The template context, as Airflow's `get_current_context()`. */
  readonly templateContext: Readonly<Record<string, unknown>>;
  /**
   * For a run its asset schedule created (run type `asset_triggered`): the asset events it
   * consumes, by URI, oldest first (Airflow's `triggering_asset_events`). Empty otherwise.
   */
  readonly triggeringAssetEvents: Readonly<Record<string, readonly AssetEvent[]>>;
  /**
   * The event this task's success will record for one of its outlets; set `extra` (JSON) to
   * describe the update (Airflow's `outlet_events[asset].extra`). An asset that is not one of
   * the task's outlets is an error.
   */
  outletEvents(asset: Asset): { extra: Record<string, unknown> };
}

export type Params = Record<string, unknown>;

/** A named endpoint with credentials (Airflow's Connection). */
export interface ConnectionInfo {
  readonly id: string;
  /** The URI scheme: sftp, s3, postgres, http… */
  readonly type: string;
  readonly host: string;
  readonly port: number | undefined;
  readonly login: string | undefined;
  readonly password: string | undefined;
  /** The URI path without its leading slash. */
  readonly path: string;
  /** Query parameters. */
  readonly extra: Readonly<Record<string, string>>;
  /** The URI as configured, password included. */
  readonly uri: string;
}

export interface TaskCallbackContext {
  readonly dagId: string;
  readonly taskId: string;
  readonly runId: string;
  readonly mapIndex: number;
  readonly tryNumber: number;
  readonly error?: string;
}
export type TaskCallback = (ctx: TaskCallbackContext) => void | Promise<void>;

export interface DagCallbackContext {
  readonly dagId: string;
  readonly runId: string;
  readonly state: 'success' | 'failed';
  readonly failedTasks: readonly string[];
}
export type DagCallback = (ctx: DagCallbackContext) => void | Promise<void>;

/** Arguments every task may set; a DAG's `defaultArgs` sets them for all its tasks. */
export interface TaskDefaults {
  readonly owner?: string;
  /** The DAG's time zone, when set in `defaultArgs` (the DAG's own `timezone` wins). */
  readonly timezone?: string;
  readonly retries?: number;
  readonly retryDelay?: Duration;
  readonly retryExponentialBackoff?: boolean;
  readonly maxRetryDelay?: Duration;
  /** Randomise each retry delay by up to this fraction (0..1), to spread retries out. */
  readonly retryJitter?: number;
  readonly executionTimeout?: Duration;
  /**
   * Airflow's depends_on_past: the task runs only once the same task of the previous run
   * succeeded or was skipped (the first run has no previous one and is not held).
   */
  readonly dependsOnPast?: boolean;
  /** Airflow's wait_for_downstream (implies dependsOnPast): the previous run's direct downstream tasks of this task must be done too. */
  readonly waitForDownstream?: boolean;
  readonly triggerRule?: TriggerRule;
  readonly pool?: string;
  readonly poolSlots?: number;
  /**
   * The queue the distributed executor sends this task to (Airflow's Celery `queue`, default
   * `default`): only `hangar worker --queues …` processes that listen on it run it.
   */
  readonly queue?: string;
  readonly onExecute?: TaskCallback;
  readonly onSuccess?: TaskCallback;
  readonly onFailure?: TaskCallback;
  readonly onRetry?: TaskCallback;
}

/** Something a task can take as input: a literal, another task's output, or an XCom reference. */
export type Input<T> = T | TaskRef<T> | XComArg<T>;
export type Inputs = Record<string, unknown>;
export type Resolved<X> = X extends TaskRef<infer T> ? T : X extends XComArg<infer T> ? T : X;
export type ResolvedInputs<I extends Inputs> = { [K in keyof I]: Resolved<I[K]> };
export type ExpandedInputs<E extends Inputs> = {
  [K in keyof E]: Resolved<E[K]> extends readonly (infer U)[] ? U : never;
};

export interface TaskOptions<I extends Inputs = Inputs, E extends Inputs = Inputs> extends TaskDefaults {
  /** Inputs: literals (strings are templated, as Airflow's op_kwargs) or other tasks' outputs (creates the dependency). */
  readonly inputs?: I;
  /** Dynamic task mapping: one task instance per element of each list (literal or an upstream XCom). */
  readonly expand?: E;
  readonly doc?: string;
  /** Marks the return value sensitive. */
  readonly sensitive?: boolean;
  /** The XCom backend for this task's pushes (`database`, `file`, `compressed`, `encrypted`, `hybrid`, `s3`). */
  readonly xcomBackend?: string;
  /** A branch task returns the task id(s) to follow among its direct downstream tasks; the rest are skipped. */
  readonly branch?: boolean;
  /** A short-circuit task: a falsy return value skips everything downstream. */
  readonly shortCircuit?: boolean;
  /** With shortCircuit: skip only the direct downstream tasks and let trigger rules decide the rest. */
  readonly ignoreDownstreamTriggerRules?: boolean;
  /**
   * A setup task (Airflow's `as_setup()`): it creates something its work needs (a cluster, a
   * temporary table); the teardowns that name it in `setups` release it. Tasks downstream of a
   * setup run only once it succeeded. A task named in a teardown's `setups` is a setup anyway.
   */
  readonly setup?: boolean;
  /**
   * A teardown task (Airflow's `as_teardown(setups=…)`): it runs once everything upstream is done,
   * even when the work failed, as long as one of its setups succeeded. It does not decide the
   * run's state unless `failRunOnFailure` is true. Its trigger rule is `all_done_setup_success`.
   */
  readonly teardown?: TeardownOptions;
  /** Assets this task updates: its success records an asset event for each (Airflow's outlets). */
  readonly outlets?: readonly Asset[];
}

/** A teardown's settings: the setups whose resources it releases (at least one). */
export interface TeardownOptions {
  /** The setup task(s) this teardown releases; each becomes upstream of the teardown and a setup. */
  readonly setups: TaskRef<any> | string | readonly (TaskRef<any> | string)[];
  /** Airflow's `on_failure_fail_dagrun`: a failure of this teardown fails the run (default false). */
  readonly failRunOnFailure?: boolean;
}

export type TaskFn<I extends Inputs, R> = (ctx: TaskContext, inputs: I) => R | Promise<R>;

/** The handle `dag.task()` returns: the task itself, usable as another task's input. */
export interface TaskRef<T> {
  readonly kind: 'task';
  readonly id: string;
  readonly dagId: string;
  /** The return value (`return_value` XCom) of this task. */
  readonly output: XComArg<T>;
  /** Another XCom this task pushes. */
  xcom<V = unknown>(key: string): XComArg<V>;
  /** Makes the given tasks (or task groups: their root tasks) run after this one; returns the last, for chaining. */
  before<R extends TaskRef<any> | TaskGroupRef>(...tasks: (R | string)[]): R;
  /** Makes this task run after the given ones (a task group: after its leaf tasks); returns this task. */
  after(...tasks: (TaskRef<any> | TaskGroupRef | string)[]): this;
  /** Phantom field carrying the value's type; never set at run time. */
  readonly __type?: T;
}

/**
 * A task group as a dependency (Airflow's TaskGroup): `group.before(t)` makes `t` run
 * after the group's leaf tasks, `group.after(t)` makes its root tasks run after `t`.
 */
export interface TaskGroupRef {
  readonly kind: 'group';
  /** The full group id (`outer.inner` when the parent prefixes its children's ids). */
  readonly id: string;
  /** The id as written, without the parent's prefix. */
  readonly label: string;
  readonly dagId: string;
  /** Makes the given tasks (or groups) run after this group's leaf tasks; returns the last, for chaining. */
  before<R extends TaskRef<any> | TaskGroupRef>(...tasks: (R | string)[]): R;
  /** Makes this group's root tasks run after the given tasks (or groups' leaf tasks); returns this group. */
  after(...tasks: (TaskRef<any> | TaskGroupRef | string)[]): this;
}

/** Options of a task group (Airflow's TaskGroup arguments). */
export interface TaskGroupOptions {
  /** Task arguments for the group's tasks: over the DAG's (and the parent group's) defaultArgs, under the task's own options. */
  readonly defaultArgs?: TaskDefaults;
  /** Prefix the ids of the group's tasks and subgroups with the group id (`extract.load`); default true. */
  readonly prefixGroupId?: boolean;
  /** Shown when hovering the group in the editor's views. */
  readonly tooltip?: string;
}
