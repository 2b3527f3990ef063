import { AsyncLocalStorage } from 'node:async_hooks';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Dag, TaskDefinition } from '../dag/dag.ts';
import { isTaskRef, isXComArg } from '../dag/dag.ts';
import type { TaskContext } from '../dag/types.ts';
import { conditionUris, isAsset } from '../dag/assets.ts';
import type { Asset, AssetEvent } from '../dag/assets.ts';
import type { Store } from '../store/store.ts';
import type { DagRunRecord } from '../store/records.ts';
import { buildTemplateContext, renderDeep, renderTemplate } from '../templating/index.ts';
import type { TemplateContextInput } from '../templating/index.ts';
import type { XComBackend } from '../xcom/index.ts';
import { ensureDir, formatArgs, safeSegment, TryLog } from './logger.ts';
import type { ExecuteRequest, ExecuteResult } from './types.ts';
import { createXComApi, pullXCom, pushXCom, RETURN_KEY } from './xcom-api.ts';
import type { XComScope } from './xcom-api.ts';
import type { Clock } from '../scheduler/clock.ts';
import { getConnection } from '../connections.ts';
import { isRescheduleRequest, isTaskOutcome, TASK_SERVICES } from './services.ts';
import type { TaskServices } from './services.ts';
import { Variables } from '../variables.ts';
import { isStoreUnwritable } from '../store/unwritable.ts';
// Registers the sensor implementation behind the authoring API (dag/sensors.ts) and the SLA observer, in the runtime and in workers.
import '../sensors/index.ts';
import '../sync/index.ts';

/** Whether a DAG bundle's templates may read variables, by bundle hash (a bundle never changes). */
const readsVariables = new Map<string, boolean>();

/**
 * Whether the tries of a bundle read the variables up front (for `var` in templates, which render
 * synchronously): only when its code mentions `var.` or `var[` — in JavaScript that is never code,
 * only text (a template, a comment). A no-op try so spares a store read. A template that builds
 * `var.…` from pieces finds no variables, and says why.
 */
function bundleReadsVariables(req: Pick<ExecuteRequest, 'bundle' | 'bundleHash'>): boolean {
  let reads = readsVariables.get(req.bundleHash);
  if (reads === undefined) {
    try {
      reads = /\bvar\s*[.[]/.test(readFileSync(req.bundle, 'utf8'));
    } catch {
      reads = true;
    }
    readsVariables.set(req.bundleHash, reads);
  }
  return reads;
}

const VARIABLES_NOT_READ = (key: string) =>
  new Error(
    `variable "${key}": variables were not read for this try (its DAG file mentions no var.… template; a template built from pieces is not seen): read it with ctx.variables.get('${key}')`,
  );

export interface RunnerEnv {
  readonly store: Store;
  readonly backend: XComBackend;
  readonly tmpDir: string;
  readonly clock: Clock;
  /** Connections configured in hangar.json (the environment is looked at first). */
  readonly connections: Readonly<Record<string, string>>;
}

/** A wait on the runtime's clock that an abort signal ends early (with the signal's reason). */
export function sleepOn(clock: Clock, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason ?? new Error('aborted'));
    const onAbort = () => {
      clock.clearTimeout(handle);
      reject(signal.reason ?? new Error('aborted'));
    };
    const handle = clock.setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, Math.max(0, ms));
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

const currentLog = new AsyncLocalStorage<TryLog>();

/** Writes to the log of the task try running in this async context (XCom statistics, warnings); nowhere otherwise. */
export function logToCurrentTry(level: 'debug' | 'info' | 'warn', message: string): void {
  currentLog.getStore()?.write(level === 'warn' ? 'WARNING' : level === 'debug' ? 'DEBUG' : 'INFO', message);
}
let consolePatched = false;

/** Routes console output of a task running in this process to its try's log. */
function patchConsole(): void {
  if (consolePatched) return;
  consolePatched = true;
  const levels = [
    ['log', 'INFO'],
    ['info', 'INFO'],
    ['debug', 'DEBUG'],
    ['warn', 'WARNING'],
    ['error', 'ERROR'],
  ] as const;
  for (const [method, level] of levels) {
    const original = console[method].bind(console);
    console[method] = (...args: unknown[]) => {
      const log = currentLog.getStore();
      if (log) log.write(level, formatArgs(args[0], args.slice(1)));
      else original(...args);
    };
  }
}

/** A try whose log file could not be written: its error is the one line that says which file and why. */
class LogUnwritableError extends Error {
  constructor(failure: string) {
    super(`The try failed: ${failure}`);
    this.name = 'LogUnwritableError';
  }
}

export function describeError(err: unknown): string {
  if (err instanceof Error) return err.stack ?? `${err.name}: ${err.message}`;
  let text: string;
  try {
    text = typeof err === 'string' ? JSON.stringify(err) : (JSON.stringify(err) ?? String(err));
  } catch {
    text = String(err);
  }
  return `The task threw a non-Error value: ${text}`;
}

/** The cartesian product of expand lists, as Airflow's expand() over several arguments. */
export function expandCombination(lists: Record<string, readonly unknown[]>, index: number): Record<string, unknown> {
  const keys = Object.keys(lists);
  const out: Record<string, unknown> = {};
  let rest = index;
  for (let i = keys.length - 1; i >= 0; i--) {
    const list = lists[keys[i]!]!;
    out[keys[i]!] = list[rest % list.length];
    rest = Math.floor(rest / list.length);
  }
  return out;
}

export async function resolveExpandLists(
  scope: XComScope,
  task: Pick<TaskDefinition, 'id' | 'expand'>,
  templateScope: Record<string, unknown>,
): Promise<Record<string, unknown[]>> {
  const lists: Record<string, unknown[]> = {};
  for (const [name, value] of Object.entries(task.expand ?? {})) {
    const resolved = await resolveInput(scope, value, templateScope);
    if (!Array.isArray(resolved)) {
      throw new Error(
        `Task "${task.id}" expands "${name}" over ${resolved === undefined ? 'a missing XCom' : typeof resolved}; expand needs a list`,
      );
    }
    lists[name] = resolved;
  }
  return lists;
}

async function resolveInput(scope: XComScope, value: unknown, templateScope: Record<string, unknown>): Promise<unknown> {
  if (isTaskRef(value)) return pullXCom(scope, value.id, RETURN_KEY);
  if (isXComArg(value)) return pullXCom(scope, value.taskId, value.key);
  return renderInput(value, templateScope);
}

/**
 * What a task instance's templates see (its run's conf over the DAG's params, the run's dates,
 * variables and connections): the one context the task runner renders with, and `hangar render`.
 */
export function taskTemplateContext(
  dag: Pick<Dag<any>, 'id' | 'params'>,
  taskId: string,
  run: Pick<DagRunRecord, 'run_id' | 'logical_date' | 'data_interval_start' | 'data_interval_end' | 'conf'>,
  mapIndex: number,
  tryNumber: number,
  lookups: Pick<TemplateContextInput, 'variable' | 'connection'>,
): { templateContext: Record<string, unknown>; params: Record<string, unknown>; conf: Record<string, unknown> } {
  const conf = JSON.parse(run.conf) as Record<string, unknown>;
  const params = { ...dag.params, ...conf };
  const templateContext = buildTemplateContext({
    ...lookups,
    dagId: dag.id,
    taskId,
    runId: run.run_id,
    mapIndex,
    tryNumber,
    logicalDate: new Date(run.logical_date),
    dataIntervalStart: new Date(run.data_interval_start),
    dataIntervalEnd: new Date(run.data_interval_end),
    params,
    conf,
  });
  return { templateContext, params, conf };
}

/** Renders a literal input (Airflow's op_kwargs) as a try does: every string in it, recursively. */
export function renderInput(value: unknown, templateScope: Record<string, unknown>): unknown {
  return renderDeep(value, templateScope);
}

/**
 * Runs one try of one task instance in this process: resolves its inputs
 * (XComs, templates, the mapped element), runs it with its context, stores its
 * return value, and says how it ended. The scheduler decides the state.
 */
export async function runTaskTry(
  env: RunnerEnv,
  dag: Dag<any>,
  req: ExecuteRequest,
  signal: AbortSignal,
  onLine?: (line: string) => void,
  attach?: (write: (level: 'INFO' | 'WARNING', text: string) => void) => void,
): Promise<ExecuteResult> {
  const task = dag.tasks.get(req.taskId);
  const run = req.run;
  const log = new TryLog(req.logPath, onLine);
  attach?.((level, text) => log.write(level, text));
  if (!task) {
    log.error(`Task "${req.taskId}" is not in DAG "${dag.id}" (was it removed from ${dag.fileloc}?)`);
    log.close();
    return { ok: false, error: `Task "${req.taskId}" is not in DAG "${dag.id}"`, pid: process.pid };
  }
  patchConsole();
  const scope: XComScope = { store: env.store, backend: env.backend, dag, runId: run.run_id, taskId: task.id, mapIndex: req.mapIndex, backendName: task.options.xcomBackend };
  const variables = new Variables(env.store);
  // Read once per try, inside the try (a store that fails fails the try, with its reason).
  let readVariable: (key: string) => string | undefined = () => undefined;
  const { templateContext, params, conf } = taskTemplateContext(dag, task.id, run, req.mapIndex, req.tryNumber, {
    variable: (key) => readVariable(key),
    connection: (id) => getConnection(id, env.connections),
  });
  const tmpDirPath = join(env.tmpDir, `${dag.id}`, safeSegment(run.run_id), `${task.id}${req.mapIndex >= 0 ? `.${req.mapIndex}` : ''}`);
  const started = Date.now();
  log.meta(
    'INFO',
    `Starting attempt ${req.tryNumber} of ${req.maxTries}: ${dag.id}.${task.id}${req.mapIndex >= 0 ? `[${req.mapIndex}]` : ''} run ${run.run_id} (pid ${process.pid})`,
  );
  return currentLog.run(log, async () => {
    try {
      readVariable = bundleReadsVariables(req)
        ? await variables.reader()
        : (key) => {
            throw VARIABLES_NOT_READ(key);
          };
      const inputs: Record<string, unknown> = {};
      for (const [name, value] of Object.entries(task.inputs)) inputs[name] = await resolveInput(scope, value, templateContext);
      if (task.expand) {
        const lists = await resolveExpandLists(scope, task, templateContext);
        Object.assign(inputs, expandCombination(lists, req.mapIndex));
      }
      const outletEvents = new Map<string, { extra: Record<string, unknown> }>();
      const ctx: TaskContext = {
        dagId: dag.id,
        taskId: task.id,
        runId: run.run_id,
        mapIndex: req.mapIndex,
        tryNumber: req.tryNumber,
        maxTries: req.maxTries,
        logicalDate: new Date(run.logical_date),
        dataIntervalStart: new Date(run.data_interval_start),
        dataIntervalEnd: new Date(run.data_interval_end),
        ds: templateContext.ds as string,
        params,
        conf,
        log,
        xcom: createXComApi(scope),
        variables: {
          get: (key, fallback) => variables.get(key, fallback),
          getJson: <T>(key: string, fallback?: T) => variables.getJson(key, fallback) as Promise<T>,
          set: (key, value, description) => variables.set(key, value, description),
          setJson: (key, value, description) => variables.set(key, JSON.stringify(value), description),
          delete: (key) => variables.delete(key),
        },
        signal,
        workspace: req.workspace,
        // Created on first use: most tasks never need it.
        get tmpDir() {
          ensureDir(tmpDirPath);
          return tmpDirPath;
        },
        render: (t: string) => renderTemplate(t, templateContext),
        templateContext,
        connection: (id: string) => getConnection(id, env.connections),
        now: () => env.clock.now(),
        sleep: (ms: number) => sleepOn(env.clock, ms, signal),
        triggeringAssetEvents: await triggeringAssetEvents(env.store, dag, run),
        outletEvents: (a: Asset) => {
          if (!isAsset(a) || !task.outlets.includes(a.uri)) {
            throw new Error(`ctx.outletEvents: ${isAsset(a) ? `asset ${a.uri}` : 'the argument'} is not an outlet of task "${task.id}" (its outlets: ${task.outlets.join(', ') || 'none'})`);
          }
          let event = outletEvents.get(a.uri);
          if (!event) outletEvents.set(a.uri, (event = { extra: {} }));
          return event;
        },
      };
      Object.defineProperty(ctx, TASK_SERVICES, { value: { store: env.store, clock: env.clock, backend: env.backend } satisfies TaskServices, enumerable: false });
      if (task.options.onExecute) {
        try {
          await task.options.onExecute({ dagId: dag.id, taskId: task.id, runId: run.run_id, mapIndex: req.mapIndex, tryNumber: req.tryNumber });
        } catch (err) {
          log.error(`onExecute callback failed (ignored): ${describeError(err)}`);
        }
      }
      const value = await task.fn(ctx, inputs);
      if (signal.aborted) throw signal.reason ?? new Error('aborted');
      // A log that could not be written fails the try (before its XCom is pushed): its retry runs once the file can be.
      if (log.failure) throw new LogUnwritableError(log.failure);
      if (isRescheduleRequest(value)) {
        log.meta('INFO', `Rescheduling: next poke at ${value.at.toISOString()}`);
        return { ok: true, pid: process.pid, reschedule: { at: value.at.toISOString() } };
      }
      if (isTaskOutcome(value)) {
        if (value.state === 'skipped') {
          log.meta('INFO', `Marking task as SKIPPED: ${value.reason}`);
          return { ok: true, pid: process.pid, skipped: value.reason };
        }
        log.error(`Task failed (not retried): ${value.reason}`);
        return { ok: false, error: value.reason, pid: process.pid, noRetry: true };
      }
      if (value !== undefined) await pushXCom(scope, RETURN_KEY, value, { sensitive: task.options.sensitive });
      const result: ExecuteResult = { ok: true, pid: process.pid, ...branchOutcome(task, value), ...outletExtra(outletEvents) };
      log.meta('INFO', `Marking task as SUCCESS after ${((Date.now() - started) / 1000).toFixed(3)}s`);
      return result;
    } catch (err) {
      // The store's disk is full or read-only: not the task's failure; the runtime stops the run (run-loop.ts).
      if (isStoreUnwritable(err)) return { ok: false, error: (err as Error).message, pid: process.pid, storeUnwritable: true };
      const error = err instanceof LogUnwritableError ? err.message : describeError(err);
      log.error(`Task failed: ${error}`);
      return { ok: false, error: log.failure && !(err instanceof LogUnwritableError) ? `${error}\n(and ${log.failure})` : error, pid: process.pid };
    } finally {
      log.close();
    }
  });
}

function branchOutcome(task: TaskDefinition, value: unknown): { follow?: string[]; proceed?: boolean } {
  if (task.options.branch) {
    const ids = value === null || value === undefined ? [] : Array.isArray(value) ? value : [value];
    for (const id of ids) {
      if (typeof id !== 'string' || !task.downstream.has(id)) {
        throw new Error(
          `Branch task "${task.id}" returned ${JSON.stringify(id)}, which is not one of its downstream tasks (${[...task.downstream].join(', ') || 'none'})`,
        );
      }
    }
    return { follow: ids as string[] };
  }
  if (task.options.shortCircuit) return { proceed: Boolean(value) };
  return {};
}

/**
 * The asset events an asset-triggered run consumes, by URI (Airflow's triggering_asset_events:
 * the DAG's assets' events after its previous asset-triggered run, up to this run's logical date).
 */
export async function triggeringAssetEvents(
  store: Store,
  dag: Pick<Dag<any>, 'id' | 'scheduleSpec'>,
  run: Pick<DagRunRecord, 'run_type' | 'logical_date'>,
): Promise<Record<string, AssetEvent[]>> {
  const out: Record<string, AssetEvent[]> = {};
  if (run.run_type !== 'asset_triggered' || dag.scheduleSpec.kind !== 'assets') return out;
  const uris = conditionUris(dag.scheduleSpec.condition);
  const previous = await store.assets.previousTriggered(dag.id, run.logical_date);
  for (const e of await store.assets.eventsBetween(uris, previous, run.logical_date)) {
    (out[e.uri] ??= []).push({
      uri: e.uri,
      sourceDagId: e.source_dag_id,
      sourceRunId: e.source_run_id,
      sourceTaskId: e.source_task_id,
      sourceMapIndex: e.source_map_index === null ? null : Number(e.source_map_index),
      timestamp: new Date(e.timestamp),
      extra: JSON.parse(e.extra) as Record<string, unknown>,
    });
  }
  return out;
}

/** The extras a task set on its outlet events, as JSON (what crosses to the scheduler with the result). */
function outletExtra(events: ReadonlyMap<string, { extra: Record<string, unknown> }>): { assetExtra?: Record<string, Record<string, unknown>> } {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [uri, e] of events) {
    let extra: unknown;
    try {
      extra = JSON.parse(JSON.stringify(e.extra ?? {}));
    } catch (err) {
      throw new Error(`the extra of the outlet event of ${uri} is not JSON: ${(err as Error).message}`);
    }
    if (extra === null || typeof extra !== 'object' || Array.isArray(extra)) throw new Error(`the extra of the outlet event of ${uri} must be an object`);
    if (Object.keys(extra).length) out[uri] = extra as Record<string, unknown>;
  }
  return Object.keys(out).length ? { assetExtra: out } : {};
}
