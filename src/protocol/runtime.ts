/**
 * The protocol between the extension (client) and the runtime server (a child
 * process speaking JSON-RPC over stdio with `vscode-jsonrpc`). One constant per
 * method, named `area/verb`; each says which way it travels:
 *
 *   → extension to runtime server (requests unless said otherwise)
 *   ← runtime server to extension (notifications)
 *
 * Plain JSON types only: both sides import this file and nothing else across the
 * boundary. Times are ISO 8601 strings (UTC), durations are seconds.
 *
 * Glossary: a DAG has tasks; a run is one execution of a DAG for a logical date;
 * a task instance (TI) is one task in one run (and one map index for mapped
 * tasks, -1 otherwise); a try is one attempt of a task instance, with its log.
 */
import { NotificationType, RequestType, RequestType0 } from 'vscode-jsonrpc';
import type { XComFilter, XComFacets, XComLoc, XComPage, XComRawResult, XComReadResult, PathStep } from './webviews/xcom-values.ts';
import type { BenchRunParams, BenchResults, BenchProgress } from './webviews/xcom-bench.ts';
import type { SensorDetail, SensorInstancesResult } from './webviews/sensor-values.ts';
import type { GridParams, GridResult } from './webviews/grid-values.ts';
import type { GanttResult } from './webviews/gantt-values.ts';
import type { ParamSchema } from '../runtime/dag/params.ts';

export type TaskState =
  | 'scheduled'
  | 'queued'
  | 'running'
  | 'success'
  | 'failed'
  | 'up_for_retry'
  | 'up_for_reschedule'
  | 'skipped'
  | 'upstream_failed'
  | 'removed';
export type RunState = 'queued' | 'running' | 'success' | 'failed';
export type RunType = 'manual' | 'scheduled' | 'backfill' | 'test' | 'asset_triggered';

/** A 1-based line and column in a file (absolute path). */
export interface Position {
  file: string;
  line: number;
  column: number;
}

export interface TaskInfo {
  taskId: string;
  /** `typescript` (a TypeScript function; `python` in stores written before it was renamed), `bash`, `sensor`, … (an operator's kind). */
  kind: string;
  upstream: string[];
  downstream: string[];
  /** Whether the task is mapped (dynamic task mapping). */
  mapped: boolean;
  /** A setup or teardown task (absent: neither). */
  role?: 'setup' | 'teardown';
  retries: number;
  position: Position | null;
  /** The innermost task group the task is in (its full id); null or absent outside groups. */
  group?: string | null;
  /** Settings the editor's hover shows; absent from runtimes before it. */
  pool?: string;
  poolSlots?: number;
  /** The distributed executor's queue (`default` unless set). */
  queue?: string;
  triggerRule?: string;
  /** Seconds; null: none. */
  executionTimeout?: number | null;
  /** Whether the task has templated fields (task/render shows them); absent: none. */
  templated?: boolean;
}

/** A task group (Airflow's TaskGroup), for the tree and the graph. */
export interface TaskGroupInfo {
  /** The full id (`outer.inner` when the parent prefixes). */
  groupId: string;
  /** The id as written, without the parent's prefix. */
  label: string;
  parent: string | null;
  tooltip: string | null;
  position: Position | null;
}

/** The next scheduled run of a DAG (Airflow's DagModel.next_dagrun fields). */
export interface NextRunInfo {
  logicalDate: string;
  dataIntervalStart: string;
  dataIntervalEnd: string;
  /** When the scheduler may create it. */
  runAfter: string;
}

export interface DagInfo {
  dagId: string;
  /** Absolute path of the DAG file. */
  file: string;
  description: string | null;
  schedule: string | null;
  /** The IANA zone (or `UTC±HH:MM`) the schedule ticks in. */
  timezone: string;
  /** Paused DAGs get no scheduled runs (kept in the store). */
  isPaused: boolean;
  /** The next scheduled run; null without a schedule or after the end date. */
  nextRun: NextRunInfo | null;
  tags: string[];
  position: Position | null;
  /** Tasks in topological order. */
  tasks: TaskInfo[];
  /** Assets (data-aware scheduling); absent from runtimes before assets. */
  assets?: DagAssets;
  /** Task groups in definition order (absent: none). */
  groups?: TaskGroupInfo[];
  /** The DAG's params in declaration order (the trigger form's fields); absent from runtimes before the form. */
  params?: DagParamInfo[];
}

/** A DAG param: its default and, when declared with `param()` (Airflow's Param), its rules. */
export interface DagParamInfo {
  name: string;
  /** The default as JSON; absent when the param has none and must be given in the run's conf. */
  default?: unknown;
  /** The rules (JSON-Schema keywords); absent for a plain value (no rules). */
  schema?: ParamSchema;
}

/**
 * A DAG's assets: those it is scheduled on, with the tasks (`dag.task`) that update each
 * (which DAGs feed it), and those its tasks update, with the DAGs each one schedules.
 */
export interface DagAssets {
  consumes: { uri: string; producers: string[] }[];
  produces: { uri: string; tasks: string[]; consumers: string[] }[];
}

/** A DAG file that failed to load (compile error, import-time throw, validation error). */
export interface LoadError {
  file: string;
  /** 1-based; null when the position is unknown. */
  line: number | null;
  column: number | null;
  message: string;
  dagId: string | null;
}

export interface DagListResult {
  dags: DagInfo[];
  errors: LoadError[];
  /** Every DAG file that was looked at (absolute paths). */
  files: string[];
  /** Milliseconds the load took. */
  ms: number;
  /** How long each file took the DAG processor (in `files` order). */
  timings: FileTiming[];
  /** Files whose import ran past `parseBudgetMs`, naming the slow statement where found; absent from older runtimes. */
  warnings?: LoadError[];
}

/** The DAG processor's timings of one file. */
export interface FileTiming {
  file: string;
  /** Compiling with esbuild; null when the compile cache had it. */
  compileMs: number | null;
  /** Importing in a parse child; null when it was not imported. */
  importMs: number | null;
  totalMs: number;
  /** Parsed in this load (false: its stored result was still valid). */
  parsed: boolean;
  /** When its stored result was made (ISO 8601). */
  parsedAt: string;
}

export interface RunInfo {
  dagId: string;
  runId: string;
  runType: RunType;
  state: RunState;
  logicalDate: string;
  queuedAt: string;
  startDate: string | null;
  endDate: string | null;
  /** JSON object the run was triggered with. */
  conf: Record<string, unknown>;
}

export interface TaskInstanceInfo {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  state: TaskState | null;
  tryNumber: number;
  maxTries: number;
  operator: string | null;
  startDate: string | null;
  endDate: string | null;
  /** Seconds, once finished (or of the current try while running, if known). */
  duration: number | null;
  error: string | null;
  nextTryAt: string | null;
}

export interface TryInfo {
  tryNumber: number;
  state: TaskState;
  startDate: string | null;
  endDate: string | null;
  duration: number | null;
  error: string | null;
  logPath: string | null;
}

export interface XComInfo {
  key: string;
  mapIndex: number;
  /** Codecs the value went through (serialize, compress, encrypt, offload…). */
  chain: string[];
  sizeOriginal: number;
  sizeStored: number;
  sensitive: boolean;
  createdAt: string;
  /** A short JSON preview of the decoded value, or why it could not be decoded. */
  preview: string;
}

// ------------------------------------------------------------------ lifecycle

export interface InitializeParams {
  /** Absolute path of the workspace folder (where `hangar.json` lives). */
  workspace: string;
  /** Overrides of `hangar.json` from the `hangar.*` settings. */
  config: {
    dagsFolder?: string;
    store?: string;
    parallelism?: number;
    executor?: 'isolated' | 'in-process';
    xcom?: Record<string, unknown>;
    /** Milliseconds a DAG file's import may take before it gets a warning (`parseBudgetMs` of hangar.json). */
    parseBudgetMs?: number;
  };
  /**
   * How often the server reads the store for runs and task instances other processes changed
   * (a scheduler in a terminal, the team's workers), reported as run/didChange and
   * task/didChange: milliseconds, default 1000; 0 turns it off.
   */
  watchMs?: number;
}
export interface InitializeResult {
  /** Node version of the server, e.g. `v24.21.0`. */
  node: string;
  pid: number;
  /** Resolved paths. */
  dagsFolder: string;
  storePath: string;
  logsDir: string;
}
/** → Start the runtime for a workspace. Must be the first request. */
export const Initialize = new RequestType<InitializeParams, InitializeResult, void>('runtime/initialize');
/** → Stop active runs, close the store; the process exits after answering. */
export const Shutdown = new RequestType0<void, void>('runtime/shutdown');

// ------------------------------------------------------------------ DAGs

export interface DagListParams {
  /** Re-read DAG files from disk (the extension sends this when a DAG file was saved). */
  reload?: boolean;
}
/** → The DAGs and load errors (loads on first call, or when `reload`). */
export const DagList = new RequestType<DagListParams, DagListResult, void>('dag/list');

export interface DagParseBufferParams {
  /** Absolute path of the DAG file (under the DAG folder) the text is the unsaved buffer of. */
  file: string;
  /** The buffer's text. */
  text: string;
  /** Do not parse a file whose last parse (saved or buffer) took longer than this many ms: answer `slow`. */
  slowMs?: number;
}
export interface DagParseBufferResult {
  file: string;
  /**
   * `parsed`: `dags`, `errors`, `warnings` are the buffer's (the file's part of a `dag/list`);
   * `superseded`: a newer text of the file was sent meanwhile, ignore this answer;
   * `slow`: not parsed, the file's last parse took `lastMs` > `slowMs` (it is parsed when saved).
   */
  status: 'parsed' | 'superseded' | 'slow';
  dags: DagInfo[];
  errors: LoadError[];
  warnings: LoadError[];
  compileMs: number | null;
  importMs: number | null;
  totalMs: number;
  /** The file's last parse took this long (ms), when known. */
  lastMs: number | null;
}
/**
 * → Parses the unsaved text of a DAG file in a parse child, as the saved file would be (same budgets,
 * the file's real path), without writing the file or changing the saved DAGs runs use (a preview).
 */
export const DagParseBuffer = new RequestType<DagParseBufferParams, DagParseBufferResult, void>('dag/parseBuffer');

export interface DagRunParams {
  dagId: string;
  /** ISO date; default now. */
  logicalDate?: string;
  conf?: Record<string, unknown>;
}
/** → Trigger a run and start executing it; answers at once with the run (follow it with `run/didChange`). */
export const DagRun = new RequestType<DagRunParams, RunInfo, void>('dag/run');

export interface DagBackfillParams {
  dagId: string;
  /** ISO dates, inclusive range of schedule ticks. */
  from: string;
  to: string;
}
/** → Create and run one run per schedule interval in the range (in the background); answers with the number of intervals. */
export const DagBackfill = new RequestType<DagBackfillParams, { runs: number }, void>('dag/backfill');

export interface DagPauseParams {
  dagId: string;
  paused: boolean;
}
/** → Pause or unpause a DAG (kept in the store); answers with the DAG as listed now. */
export const DagPause = new RequestType<DagPauseParams, DagInfo, void>('dag/pause');

// ------------------------------------------------------------------ the scheduler

export interface SchedulerSetParams {
  /** Run the scheduler loop in this runtime server (creates and runs scheduled runs). */
  enabled: boolean;
}
export interface SchedulerState {
  enabled: boolean;
}
/** → Turn the scheduler loop of the runtime server on or off; off lets running tries finish (a few seconds' grace). */
export const SchedulerSet = new RequestType<SchedulerSetParams, SchedulerState, void>('scheduler/set');
/** ← A line of the scheduler's log (what it created and why). */
export const SchedulerDidLog = new NotificationType<{ line: string }>('scheduler/didLog');

// ------------------------------------------------------------------ runs and tasks

export interface RunListParams {
  dagId?: string;
  /** Most runs to return (default 20, at most 500), newest first. */
  limit?: number;
}
/** → Recent runs, newest first. */
export const RunList = new RequestType<RunListParams, RunInfo[], void>('run/list');

export interface RunRef {
  dagId: string;
  runId: string;
}
export interface RunCancelResult {
  /** Whether a run was stopped here, or asked to stop (`elsewhere`). */
  cancelled: boolean;
  /**
   * The run is not running in this runtime: the process that runs it (a scheduler in a
   * terminal, the team's) was asked through the store and stops it at its next heartbeat.
   */
  elsewhere?: boolean;
}
/** → Cancel a run: stopped here if it runs here (its running tries are stopped), else asked of the process that runs it. */
export const RunCancel = new RequestType<RunRef, RunCancelResult, void>('run/cancel');

/**
 * → Resume a run that is not running in this runtime (interrupted by a crash or a restart, a
 * task marked by hand, created by `hangar trigger`): runs it to its end as `hangar run DAG
 * --resume RUN` does (a run another live runtime owns is followed, not run twice); answers at
 * once with the run.
 */
export const RunResume = new RequestType<RunRef, RunInfo, void>('run/resume');

/** → Task instances of a run, in the DAG's topological order. */
export const TaskList = new RequestType<RunRef, TaskInstanceInfo[], void>('task/list');

export interface TaskRunParams {
  dagId: string;
  taskId: string;
  logicalDate?: string;
}
/** → Run one task alone (Airflow's `tasks test`) in a run of its own; answers at once with that run. */
export const TaskRun = new RequestType<TaskRunParams, RunInfo, void>('task/run');

export interface TaskTestResult {
  dagId: string;
  taskId: string;
  /** The task's state at the end: `success` passes, anything else fails. */
  state: TaskState | null;
  /** The try's log. */
  log: string;
  /** The error (source-mapped stack) when it failed. */
  error: string | null;
  /** Where it threw: the stack's first frame in the DAG file (else in another workspace file). */
  errorPosition: Position | null;
  /** Seconds the test took (opening the throwaway runtime, parsing the file, the try). */
  duration: number;
}
/**
 * → The Test Explorer's test of one task: `hangar test DAG TASK` on a throwaway store (a temporary
 * SQLite file, removed after), a worker process for the try; answers when the try has ended.
 * Nothing is written to the workspace's store.
 */
export const TaskTest = new RequestType<TaskRunParams, TaskTestResult, void>('task/test');

export interface TaskRenderParams {
  dagId: string;
  taskId: string;
  /** Default: the DAG's next scheduled logical date (an unscheduled DAG's: now). */
  logicalDate?: string;
  /** An existing run: its logical date and conf (not with logicalDate/conf). */
  runId?: string;
  conf?: Record<string, unknown>;
}
export interface RenderedFieldInfo {
  /** `command`, `target`, `inputs.NAME` or `expand.NAME`. */
  field: string;
  /** -1, or the map index the value is for. */
  mapIndex: number;
  /** As written in the DAG file. */
  template: unknown;
  /** Rendered, secrets masked as `***`. */
  rendered: unknown;
}
export interface TaskRenderResult {
  dagId: string;
  taskId: string;
  source: 'run' | 'date' | 'next' | 'now';
  runId: string;
  logicalDate: string;
  dataIntervalStart: string;
  dataIntervalEnd: string;
  conf: Record<string, unknown>;
  fields: RenderedFieldInfo[];
  mapped: boolean;
  /** A mapped task whose map indexes cannot be known yet: why. */
  mapNote: string | null;
  xcomInputs: { name: string; taskId: string; key: string }[];
}
/** Why a render failed, when it is the DAG's fault: a template error (with its field and position) or a conf the params refuse. */
export interface TaskRenderFailure {
  code: 'template_error' | 'invalid_params';
  message: string;
  field: string | null;
  position: Position | null;
}
/**
 * → A task's templated fields rendered as its try would (Airflow's `airflow tasks render`): for the
 * next scheduled logical date, a date, or a run. An unknown DAG, task or run is an error; a template
 * error answers `{ failure }`.
 */
export const TaskRender = new RequestType<TaskRenderParams, { result: TaskRenderResult | null; failure: TaskRenderFailure | null }, void>('task/render');

export interface TaskRef extends RunRef {
  taskId: string;
  mapIndex?: number;
}
/** → Tries of a task instance with their log files. */
export const TaskTries = new RequestType<TaskRef, TryInfo[], void>('task/tries');

export interface TaskLogParams extends TaskRef {
  /** Default: the latest try. */
  tryNumber?: number;
}
export interface TaskLogResult {
  tryNumber: number;
  logPath: string | null;
  text: string;
  /** Whether the try is still running (more lines will come as `log/didAppend`). */
  running: boolean;
}
/** → The log of one try of a task instance. */
export const TaskLog = new RequestType<TaskLogParams, TaskLogResult, void>('task/log');

export interface TaskClearParams extends RunRef {
  taskIds: string[];
  downstream?: boolean;
  upstream?: boolean;
  onlyFailed?: boolean;
  /** Run the run again after clearing (default true). */
  rerun?: boolean;
}
/** → Clear task instances (and their XComs) so they run again; answers with the cleared task ids. */
export const TaskClear = new RequestType<TaskClearParams, { cleared: string[] }, void>('task/clear');

export interface TaskMarkParams extends RunRef {
  taskId: string;
  state: 'success' | 'failed';
  mapIndex?: number;
}
/** → Mark a task instance success or failed by hand. */
export const TaskMark = new RequestType<TaskMarkParams, { marked: number }, void>('task/mark');

/** → XComs a task instance pushed, with previews. */
export const XComList = new RequestType<TaskRef, XComInfo[], void>('xcom/list');

// ------------------------------------------------------------------ variables

/** A variable as the editor may know it: its key, where it comes from and what its value is, never a secret. */
export interface VariableSummary {
  key: string;
  /** `store`, or `env:HANGAR_VAR_KEY` when the environment sets (or overrides) it. */
  source: string;
  /** What the value parses as: `object`, `array`, `string`, `number`, `boolean`, `null`; null: not JSON (plain text). */
  json: 'object' | 'array' | 'string' | 'number' | 'boolean' | 'null' | null;
  /** Its key looks secret (Airflow's sensitive field names): its value is never sent. */
  sensitive: boolean;
  /** The value's start (at most 40 characters), only when neither the key nor the value looks secret. */
  preview?: string;
}
/** → Every variable (stored, and HANGAR_VAR_* of the runtime's environment), for the editor's completion and Problems. */
export const VariableList = new RequestType<Record<string, never>, VariableSummary[], void>('variable/list');

// ------------------------------------------------------------------ the XCom browser

export type { XComLoc, XComFilter, XComRow, XComPage, XComFacets, ValueNode, XComReadResult, XComRawResult, PathStep } from './webviews/xcom-values.ts';

export interface XComQueryParams extends XComFilter {
  /** First row (default 0). */
  offset?: number;
  /** Rows per page (default 100, at most 1000). */
  limit?: number;
}
/** → One page of stored XComs matching a filter (metadata only, ordered by run, task, map index, key), with the total. */
export const XComQuery = new RequestType<XComQueryParams, XComPage, void>('xcom/query');

/** → Distinct DAGs with XComs, runs of `dagId`, tasks of `runId`: the XCom browser's filter choices. */
export const XComFacetsRequest = new RequestType<{ dagId?: string; runId?: string }, XComFacets, void>('xcom/facets');

export interface XComReadParams {
  loc: XComLoc;
  /** Node to return (default the root) and the first child / character / byte of its page. */
  path?: PathStep[];
  offset?: number;
  /** Children (or 1/1000 of the characters) per page (default 200, at most 5000). */
  limit?: number;
  /** Send a sensitive value (default false: masked). */
  reveal?: boolean;
}
/** → Decode one XCom in the runtime (decompress, decrypt with the keys from `secrets/set`) and answer one page of it. */
export const XComRead = new RequestType<XComReadParams, XComReadResult, void>('xcom/read');

/** → The whole decoded value as JSON text (typed values tagged as strings), for copying or a read-only document. */
export const XComReadText = new RequestType<{ loc: XComLoc; reveal?: boolean }, { text: string; sensitive: boolean }, void>('xcom/readText');

/** → The raw envelope of one XCom and its integrity (checksum, GCM tag, file present); nothing decrypted is returned. */
export const XComReadRaw = new RequestType<{ loc: XComLoc }, XComRawResult, void>('xcom/readRaw');

/** → Delete one XCom (its row, pulls and offloaded file/object). */
export const XComDelete = new RequestType<{ loc: XComLoc }, { rows: number; objects: number }, void>('xcom/delete');

/** → Delete every XCom of a run. */
export const XComClearRun = new RequestType<RunRef, { rows: number; objects: number; bytesFreed: number }, void>('xcom/clearRun');

/** → Remove offloaded files/objects no row refers to (older than 10 minutes). */
export const XComSweep = new RequestType<{ dryRun?: boolean }, { scanned: number; orphans: number; removed: number; bytesFreed: number }, void>('xcom/sweep');

// ------------------------------------------------------------------ the sensor panel

export type { SensorDetail, SensorInstancesResult, SensorInstanceSummary, SensorPoke, CurvePoint, PlannedPoke, SlaDeadline, BreakerInfo, SensorHistoryStats } from './webviews/sensor-values.ts';

export interface SensorInstancesParams {
  dagId?: string;
  runId?: string;
  taskId?: string;
  /** Only instances that may still poke (default false). */
  liveOnly?: boolean;
  /** Most instances (default 200, at most 1000), newest run first. */
  limit?: number;
}
/** → Sensor task instances, live and past: mode, outcome, pokes, breaker state. */
export const SensorInstances = new RequestType<SensorInstancesParams, SensorInstancesResult, void>('sensor/instances');

/** → One sensor instance: its pokes, the intervals against the strategy's curve, planned pokes, timeout and SLA deadlines, breaker, history statistics. */
export const SensorDetailRequest = new RequestType<TaskRef, SensorDetail, void>('sensor/detail');

// ------------------------------------------------------------------ the grid view

export type { GridParams, GridResult, GridRun, GridRow, GridCounts } from './webviews/grid-values.ts';
/** → One page of a DAG's runs (newest first, shown oldest → newest) by its tasks, compact: the grid view's data, read with one query. */
export const GridData = new RequestType<GridParams, GridResult, void>('grid/data');

export type { GanttResult, GanttRow, GanttSegment, SegmentKind } from './webviews/gantt-values.ts';
/** → One run's tries as segments (queued, running, retry and reschedule waits) with its critical path: the Gantt view's data. */
export const GanttData = new RequestType<RunRef, GanttResult, void>('gantt/data');

// ------------------------------------------------------------------ secrets

export interface SecretsSetParams {
  /** XCom encryption keys: id → 32 bytes as base64. The first listed is primary unless `primaryKeyId`. */
  xcomKeys?: { id: string; key: string }[];
  primaryKeyId?: string;
  /** Credentials of the S3 object store (the XCom s3/hybrid backends). */
  s3?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | null;
}
/** → Hand secrets from VS Code's SecretStorage to the runtime (kept in memory only; never logged). */
export const SecretsSet = new RequestType<SecretsSetParams, { xcomKeyIds: string[]; s3: boolean }, void>('secrets/set');

export interface XComRotateResult {
  targetKeyId: string;
  examined: number;
  rotated: number;
  alreadyCurrent: number;
  failed: number;
  complete: boolean;
}
/** → Re-encrypt stored XComs with the primary key (after `secrets/set` made a new key primary). */
export const XComRotate = new RequestType<Record<string, never>, XComRotateResult, void>('xcom/rotate');

// ------------------------------------------------------------------ benchmarks

export type { BenchRunParams, BenchResults, BenchRow, BenchTarget, BenchProgress } from './webviews/xcom-bench.ts';

/** → Run the XCom backends benchmark (`hangar bench xcom`) in the runtime server, one at a time; cells reported as `bench/progress`; answers with the results. */
export const BenchXCom = new RequestType<BenchRunParams, BenchResults, void>('bench/xcom');
/** → Stop the benchmark under way (between cells); its `bench/xcom` request then fails ("cancelled"). */
export const BenchCancel = new RequestType<Record<string, never>, { cancelled: boolean }, void>('bench/cancel');
/** ← The benchmark under way measured a cell: cells done of total, and which. */
export const BenchDidProgress = new NotificationType<BenchProgress>('bench/progress');

// ------------------------------------------------------------------ notifications

export interface RunDidChangeParams {
  dagId: string;
  runId: string;
  state: RunState;
  reason?: string;
}
/** ← A run changed state (queued, running, success, failed). */
export const RunDidChange = new NotificationType<RunDidChangeParams>('run/didChange');

export interface TaskDidChangeParams {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  state: TaskState;
  tryNumber: number;
  duration?: number;
  error?: string;
  nextTryAt?: string;
  logPath?: string;
}
/** ← A task instance changed state (already written to the store). */
export const TaskDidChange = new NotificationType<TaskDidChangeParams>('task/didChange');

/** ← Mapped task expanded into `count` instances. */
export const TaskDidExpand = new NotificationType<{ dagId: string; runId: string; taskId: string; count: number }>(
  'task/didExpand',
);

export interface LogDidAppendParams {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  tryNumber: number;
  line: string;
}
/** ← A line was written to a running try's log. */
export const LogDidAppend = new NotificationType<LogDidAppendParams>('log/didAppend');

/**
 * ← A warning from the runtime (recovered orphan tries, misconfiguration…). `keyUsage`: the
 * primary XCom key has encrypted enough values that it should be replaced (the editor shows it
 * with a way to rotate, not only in its log).
 */
export interface RuntimeWarning {
  message: string;
  dagId?: string;
  runId?: string;
  taskId?: string;
  keyUsage?: { keyId: string; encryptions: number };
}
export const RuntimeDidWarn = new NotificationType<RuntimeWarning>('runtime/didWarn');

/** ← DAG files were (re)loaded: the new DAG list, for trees, CodeLens and diagnostics. */
export const DagsDidLoad = new NotificationType<DagListResult>('dag/didLoad');

/** JSON-RPC error code the server uses for invalid params (JSON-RPC's own). */
export const INVALID_PARAMS = -32602;
/** Error code for a DAG, run or task that does not exist. */
export const NOT_FOUND = -32004;
