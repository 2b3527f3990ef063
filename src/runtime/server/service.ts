/**
 * The runtime server's logic, apart from the transport: validates params,
 * drives one `Runtime` per workspace, turns its events into protocol
 * notifications. `main.ts` wires it to JSON-RPC over stdio; tests call it directly.
 */
import { readTryLog } from '../distributed/remote.ts';
import { assetLinks, producedAssets, scheduledAssets } from '../asset-graph.ts';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Runtime } from '../runtime.ts';
import { StoreWatcher } from '../store-watch.ts';
import type { WatchedTaskEvent } from '../store-watch.ts';
import type { RunEvent } from '../events.ts';
import { looksSecret } from '../variables.ts';
import type { Variables } from '../variables.ts';
import { taskTestProgram } from '../testing/index.ts';
import { spawn } from 'node:child_process';
import { hostname, tmpdir } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';
import type { DagBag } from '../processor/index.ts';
import type { DagSpec } from '../processor/serialized.ts';
import type { ParamSpec } from '../dag/params.ts';
import type { DagRunRecord, TaskInstanceRecord, TaskTryRecord } from '../store/records.ts';
import { tryLogPath } from '../executor/logger.ts';
import { HangarXComBackend, loadKeyring, parseKeyMaterial, rotateXComKeys } from '../xcom/index.ts';
import { NONCE_WARN_AT, nonceWarning } from '../xcom/crypto.ts';
import type * as P from '../../protocol/runtime.ts';
import { InvalidParamsError, date, oneOf, optBool, optDate, optInt, optObject, optStr, paramsOf, str, strArray } from './validate.ts';
import type { Params } from './validate.ts';
import { XComBrowserService } from './xcom-browser.ts';
import { BenchService } from './bench.ts';
import { SensorService } from './sensors.ts';
import { gridParams, queryGrid, shapeGrid } from './grid.ts';
import { nextRunOf, SchedulerService } from '../scheduler/service.ts';
import { queryGantt, shapeGantt } from './gantt.ts';
import { RenderError, renderTask, templatedFields } from '../render.ts';

/** A DAG, run or task named in a request does not exist. */
export class NotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotFoundError';
  }
}

/** How the service reports notifications (method name from the protocol, params). */
export type Notify = (method: string, params: unknown) => void;

const KEY_ID_RE = /^[A-Za-z0-9._-]{1,64}$/;

export class RuntimeService {
  private runtime: Runtime | undefined;
  private init: P.InitializeParams | undefined;
  private loaded = false;
  private readonly active = new Map<string, AbortController>();
  private readonly notify: Notify;
  private secrets: { keyIds: string[]; s3: boolean } = { keyIds: [], s3: false };
  private scheduler: SchedulerService | undefined;
  /** The primary XCom key's count of encryptions last warned about, by 2^20 block (checkKeyUsage). */
  private readonly keyUsageWarned = new Map<string, number>();
  /** Follows what other processes do to the store (store-watch.ts). */
  private watcher: StoreWatcher | undefined;
  private readonly xcoms = new XComBrowserService(() => this.rt());
  private readonly bench = new BenchService((method, params) => this.notify(method, params));
  private readonly sensors = new SensorService(
    () => this.rt(),
    async (dagId) => (await this.bag()).dags.get(dagId),
    (message) => new NotFoundError(message),
  );

  constructor(notify: Notify) {
    this.notify = notify;
  }

  /** Dispatches one request by method name; throws InvalidParamsError / NotFoundError / Error. */
  async handle(method: string, raw: unknown, token?: { readonly isCancellationRequested: boolean; onCancellationRequested(f: () => void): { dispose(): void } }): Promise<unknown> {
    const p = paramsOf(method, raw);
    switch (method) {
      case 'runtime/initialize':
        return this.initialize(method, p);
      case 'runtime/shutdown':
        return this.shutdown();
      case 'dag/list':
        return this.dagList(optBool(method, p, 'reload') ?? false);
      case 'dag/parseBuffer':
        return this.dagParseBuffer(method, p);
      case 'dag/run':
        return this.dagRun(method, p);
      case 'dag/backfill':
        return this.dagBackfill(method, p);
      case 'dag/pause':
        return this.dagPause(method, p);
      case 'scheduler/set':
        return this.schedulerSet(method, p);
      case 'run/list':
        return this.runList(method, p);
      case 'run/cancel':
        return this.runCancel(method, p);
      case 'run/resume':
        return this.runResume(method, p);
      case 'task/list':
        return this.taskList(method, p);
      case 'task/run':
        return this.taskRun(method, p);
      case 'task/test':
        return this.taskTest(method, p, token);
      case 'task/render':
        return this.taskRender(method, p);
      case 'task/tries':
        return this.taskTries(method, p);
      case 'task/log':
        return this.taskLog(method, p);
      case 'task/clear':
        return this.taskClear(method, p);
      case 'task/mark':
        return this.taskMark(method, p);
      case 'xcom/list':
        return this.xcomList(method, p);
      case 'variable/list':
        return variableSummaries(this.rt().variables);
      case 'secrets/set':
        return this.secretsSet(method, p);
      case 'xcom/rotate':
        return this.xcomRotate();
      case 'xcom/query':
        return this.xcoms.query(method, p);
      case 'xcom/facets':
        return this.xcoms.facets(method, p);
      case 'xcom/read':
        return this.xcoms.read(method, p);
      case 'xcom/readText':
        return this.xcoms.readText(method, p);
      case 'xcom/readRaw':
        return this.xcoms.readRaw(method, p);
      case 'xcom/delete':
        return this.xcoms.delete(method, p);
      case 'xcom/clearRun':
        return this.xcoms.clearRun(method, p);
      case 'xcom/sweep':
        return this.xcoms.sweep(method, p);
      case 'sensor/instances':
        return this.sensors.instances(method, p);
      case 'sensor/detail':
        return this.sensors.detail(method, p);
      case 'grid/data':
        return this.gridData(method, p);
      case 'gantt/data':
        return this.ganttData(method, p);
      case 'bench/xcom':
        return this.bench.xcom(method, p);
      case 'bench/cancel':
        return this.bench.cancel();
      default:
        throw new InvalidParamsError(`Unknown method "${method}"`);
    }
  }

  // ---------------------------------------------------------------- lifecycle

  private async initialize(method: string, p: Params): Promise<P.InitializeResult> {
    if (this.runtime) throw new Error('runtime/initialize: the runtime is already initialised');
    const workspace = str(method, p, 'workspace');
    if (!existsSync(workspace)) throw new InvalidParamsError(`${method}: workspace folder ${workspace} does not exist`);
    const c = optObject(method, p, 'config') ?? {};
    const config: P.InitializeParams['config'] = {};
    const dagsFolder = optStr(method, c, 'dagsFolder');
    if (dagsFolder) config.dagsFolder = dagsFolder;
    const store = optStr(method, c, 'store');
    if (store) config.store = store;
    const parallelism = optInt(method, c, 'parallelism', 1, 1024);
    if (parallelism) config.parallelism = parallelism;
    if (c.executor !== undefined) config.executor = oneOf(method, c, 'executor', ['isolated', 'in-process'] as const);
    const xcom = optObject(method, c, 'xcom');
    if (xcom) config.xcom = xcom;
    const parseBudgetMs = optInt(method, c, 'parseBudgetMs', 1);
    if (parseBudgetMs) config.parseBudgetMs = parseBudgetMs;
    const watchMs = optInt(method, p, 'watchMs', 0, 3_600_000);
    this.init = { workspace, config, ...(watchMs !== undefined ? { watchMs } : {}) };
    const rt = await this.start();
    return {
      node: process.version,
      pid: process.pid,
      dagsFolder: rt.config.dagsFolder,
      storePath: rt.config.storePath,
      logsDir: rt.config.logsDir,
    };
  }

  private async start(): Promise<Runtime> {
    const init = this.init!;
    const rt = await Runtime.open(init.workspace, { config: init.config as never });
    rt.events.on('task', (e) => this.taskChanged(e));
    rt.events.on('run', (e) => this.runChanged(e));
    rt.events.on('log', (e) => this.notify('log/didAppend', e));
    rt.events.on('expanded', (e) => this.notify('task/didExpand', e));
    rt.events.on('warning', (e) => this.notify('runtime/didWarn', e));
    this.runtime = rt;
    this.loaded = false;
    this.xcoms.invalidate();
    await this.watcher?.stop();
    this.watcher = undefined;
    if (init.watchMs !== 0) {
      this.watcher = new StoreWatcher(rt.store, {
        intervalMs: init.watchMs ?? 1000,
        onRun: (e) => this.notify('run/didChange', e),
        onTask: (e) => this.notify('task/didChange', e),
        onError: (err) =>
          this.notify('runtime/didWarn', {
            message: `Runs started elsewhere are not followed for now: the store could not be read (${err.message})`,
          }),
      });
      this.watcher.start();
    }
    void this.checkKeyUsage();
    return rt;
  }

  /** A task instance's change this runtime made: to the client, and to the watcher (not to report it again). */
  private taskChanged(e: WatchedTaskEvent): void {
    this.watcher?.saw({ kind: 'task', event: e });
    this.notify('task/didChange', e);
  }

  private runChanged(e: RunEvent): void {
    this.watcher?.saw({ kind: 'run', event: e });
    this.notify('run/didChange', e);
    if (e.state === 'success' || e.state === 'failed') void this.checkKeyUsage();
  }

  /**
   * Random 96-bit nonces are safe for 2^32 encryptions per key (NIST SP 800-38D): from 2^30
   * under the primary key (counted in the store), the editor is told — when the runtime starts
   * and after a run — once, then again every 2^20 more, as the task log and `hangar info` are.
   */
  private async checkKeyUsage(): Promise<void> {
    const rt = this.runtime;
    if (!rt || !(rt.backend instanceof HangarXComBackend)) return;
    try {
      const keyring = await rt.backend.ready();
      if (!keyring) return;
      const keyId = keyring.primaryId;
      const encryptions = (await rt.store.keys.usage()).get(keyId) ?? 0;
      if (encryptions < NONCE_WARN_AT) return;
      const block = Math.floor(encryptions / 2 ** 20);
      if (this.keyUsageWarned.get(keyId) === block) return;
      this.keyUsageWarned.set(keyId, block);
      this.notify('runtime/didWarn', { message: nonceWarning(keyId, encryptions), keyUsage: { keyId, encryptions } });
    } catch {
      // A keyring that failed to load is reported where it is used; the store's own failures too.
    }
  }

  async shutdown(): Promise<void> {
    this.bench.cancel();
    await this.watcher?.stop();
    this.watcher = undefined;
    await this.stopScheduler();
    for (const c of this.active.values()) c.abort(new Error('The runtime is shutting down'));
    const rt = this.runtime;
    this.runtime = undefined;
    if (rt) await rt.close();
  }

  private rt(): Runtime {
    if (!this.runtime) throw new Error('The runtime is not initialised: send runtime/initialize first');
    return this.runtime;
  }

  // ---------------------------------------------------------------- DAGs

  private async bag(): Promise<DagBag> {
    const rt = this.rt();
    if (!this.loaded || !rt.dagBag) {
      await rt.loadDags();
      if (!this.loaded) await rt.recover(); // runs left running by a runtime that died (a crash, a restart)
      this.loaded = true;
    }
    return rt.dagBag!;
  }

  async dagList(reload: boolean): Promise<P.DagListResult> {
    const rt = this.rt();
    if (reload) {
      await rt.loadDags();
      this.loaded = true;
      await this.scheduler?.recompute();
      const result = await dagListResult(rt.dagBag!, rt);
      this.notify('dag/didLoad', result);
      return result;
    }
    return dagListResult(await this.bag(), rt);
  }

  /** The structure of an unsaved buffer of a DAG file (a view state: the store's DAGs stay the saved file's). */
  private async dagParseBuffer(method: string, p: Params): Promise<P.DagParseBufferResult> {
    const file = str(method, p, 'file');
    const text = p.text;
    if (typeof text !== 'string') throw new InvalidParamsError(`${method}: "text" must be the buffer's text (a string)`);
    if (text.length > 16 << 20) throw new InvalidParamsError(`${method}: the text of ${file} is over 16 MiB`);
    const slowMs = optInt(method, p, 'slowMs', 0);
    const rt = this.rt();
    const rel = relative(rt.config.dagsFolder, file);
    if (!isAbsolute(file) || !rel || rel.startsWith('..') || isAbsolute(rel) || !/\.(ts|mts|js|mjs)$/.test(file)) {
      throw new InvalidParamsError(`${method}: ${file} is not a DAG file under the DAG folder ${rt.config.dagsFolder}`);
    }
    await this.bag(); // the saved state first (and each file's last parse time)
    const r = await rt.processor.parseBuffer(file, text, slowMs === undefined ? {} : { slowMs });
    const view = await dagListResult({ dags: r.dags, errors: r.errors, warnings: r.warnings, files: [r.file], timings: [], stats: { parsed: 1, reused: 0, ms: r.totalMs } }, rt);
    return {
      file: r.file,
      status: r.status,
      dags: view.dags,
      errors: view.errors,
      warnings: view.warnings ?? [],
      compileMs: r.compileMs === null ? null : Math.round(r.compileMs * 10) / 10,
      importMs: r.importMs === null ? null : Math.round(r.importMs * 10) / 10,
      totalMs: Math.round(r.totalMs * 10) / 10,
      lastMs: r.lastMs === null ? null : Math.round(r.lastMs * 10) / 10,
    };
  }

  private async dagPause(method: string, p: Params): Promise<P.DagInfo> {
    const dagId = str(method, p, 'dagId');
    const paused = optBool(method, p, 'paused');
    if (paused === undefined) throw new InvalidParamsError(`${method}: "paused" must be true or false`);
    await this.dag(dagId);
    const rt = this.rt();
    await rt.store.dags.setPaused(dagId, paused);
    const info = (await dagListResult(rt.dagBag!, rt)).dags.find((d) => d.dagId === dagId)!;
    return info;
  }

  // ---------------------------------------------------------------- the scheduler

  private async schedulerSet(method: string, p: Params): Promise<P.SchedulerState> {
    const enabled = optBool(method, p, 'enabled');
    if (enabled === undefined) throw new InvalidParamsError(`${method}: "enabled" must be true or false`);
    if (enabled && !this.scheduler) {
      await this.bag();
      const rt = this.rt();
      const svc = new SchedulerService(rt, {
        // The extension reloads the DAGs when a file is saved (dag/list with reload).
        watch: false,
        // VS Code closing or the toggle turned off: a short grace, then tries stop (the next scheduler retries them).
        graceMs: Math.min(rt.config.scheduler.gracePeriodSeconds * 1000, 5000),
        log: (line) => this.notify('scheduler/didLog', { line }),
        onCreated: (dagId, runId) => this.runChanged({ dagId, runId, state: 'queued' }),
        loadDags: false,
      });
      this.scheduler = svc;
      await svc.start();
    } else if (!enabled) {
      await this.stopScheduler();
    }
    return { enabled: !!this.scheduler };
  }

  private async stopScheduler(): Promise<void> {
    const svc = this.scheduler;
    this.scheduler = undefined;
    if (svc) await svc.stop();
  }

  private async dag(dagId: string): Promise<DagSpec> {
    const bag = await this.bag();
    const dag = bag.dags.get(dagId);
    if (dag) return dag;
    const err = bag.errors.find((e) => e.dagId === dagId);
    if (err) throw new Error(`DAG "${dagId}" failed to load: ${err.message}`);
    throw new NotFoundError(`No DAG "${dagId}" (found: ${[...bag.dags.keys()].join(', ') || 'none'})`);
  }

  private async dagRun(method: string, p: Params): Promise<P.RunInfo> {
    const dagId = str(method, p, 'dagId');
    const logicalDate = optDate(method, p, 'logicalDate');
    const conf = optObject(method, p, 'conf');
    await this.dag(dagId);
    const rt = this.rt();
    const run = await rt.triggerRun(dagId, { logicalDate, conf });
    this.runChanged({ dagId, runId: run.run_id, state: run.state });
    this.execute(dagId, run.run_id, (signal) => rt.executeRun(dagId, run.run_id, signal));
    return runInfo(run);
  }

  /** Runs `work` in the background, cancellable through run/cancel; failures are reported as warnings. */
  private execute(dagId: string, runId: string, work: (signal: AbortSignal) => Promise<unknown>): void {
    const key = `${dagId}\u0000${runId}`;
    const ctl = new AbortController();
    this.active.set(key, ctl);
    work(ctl.signal)
      .catch(async (err: unknown) => {
        this.notify('runtime/didWarn', { dagId, runId, message: `Run "${runId}" of DAG "${dagId}" stopped: ${(err as Error).message}` });
        const run = await this.runtime?.store.runs.get(dagId, runId);
        if (run) this.runChanged({ dagId, runId, state: run.state, reason: (err as Error).message });
      })
      .finally(() => this.active.delete(key));
  }

  private async dagBackfill(method: string, p: Params): Promise<{ runs: number }> {
    const dagId = str(method, p, 'dagId');
    const from = date(method, p, 'from');
    const to = date(method, p, 'to');
    if (from > to) throw new InvalidParamsError(`${method}: "from" (${from.toISOString()}) is after "to" (${to.toISOString()})`);
    const dag = await this.dag(dagId);
    const { scheduleOf, ticksBetween } = await import('../dag/schedule.ts');
    const runs = [...ticksBetween(scheduleOf(dag), from, to)].length;
    if (runs === 0) throw new InvalidParamsError(`${method}: DAG "${dagId}" has no schedule interval between ${from.toISOString()} and ${to.toISOString()}`);
    const rt = this.rt();
    this.execute(dagId, `backfill__${from.toISOString()}__${to.toISOString()}`, (signal) => rt.backfill(dagId, from, to, signal));
    return { runs };
  }

  // ---------------------------------------------------------------- runs and tasks

  private async runList(method: string, p: Params): Promise<P.RunInfo[]> {
    const dagId = optStr(method, p, 'dagId');
    const limit = optInt(method, p, 'limit', 1, 500) ?? 20;
    return (await this.rt().store.runs.list({ dagId, limit })).map(runInfo);
  }

  private async runRef(method: string, p: Params): Promise<DagRunRecord> {
    const dagId = str(method, p, 'dagId');
    const runId = str(method, p, 'runId');
    const run = await this.rt().store.runs.get(dagId, runId);
    if (!run) throw new NotFoundError(`DAG "${dagId}" has no run "${runId}"`);
    return run;
  }

  private async runResume(method: string, p: Params): Promise<P.RunInfo> {
    const run = await this.runRef(method, p);
    const rt = this.rt();
    // Started here, or by the scheduler this server runs: one run loop per run in a process.
    if (this.active.has(`${run.dag_id}\u0000${run.run_id}`) || rt.isExecuting(run.dag_id, run.run_id))
      throw new Error(`Run "${run.run_id}" of DAG "${run.dag_id}" is already running in this runtime`);
    await this.dag(run.dag_id);
    this.execute(run.dag_id, run.run_id, (signal) => rt.executeRun(run.dag_id, run.run_id, signal));
    return runInfo(run);
  }

  private async runCancel(method: string, p: Params): Promise<P.RunCancelResult> {
    const run = await this.runRef(method, p);
    let cancelled = false;
    for (const [key, ctl] of this.active) {
      const [dagId, runId] = key.split('\u0000');
      if (dagId === run.dag_id && (runId === run.run_id || runId!.startsWith('backfill__'))) {
        ctl.abort(new Error('Cancelled from VS Code'));
        cancelled = true;
      }
    }
    if (cancelled) return { cancelled };
    // Run by another process (a scheduler in a terminal, the team's): asked through the store.
    const requested = await this.rt().store.runs.requestCancel(run.dag_id, run.run_id, `Cancelled from VS Code on ${hostname()}`);
    return { cancelled: requested, elsewhere: requested };
  }

  private async taskList(method: string, p: Params): Promise<P.TaskInstanceInfo[]> {
    const run = await this.runRef(method, p);
    const tis = await this.rt().store.tasks.list(run.dag_id, run.run_id);
    const dag = (await this.bag()).dags.get(run.dag_id);
    const order = new Map((dag ? dag.topologicalOrder() : []).map((id: string, i: number) => [id, i]));
    tis.sort((a, b) => (order.get(a.task_id) ?? 1e9) - (order.get(b.task_id) ?? 1e9) || a.task_id.localeCompare(b.task_id) || a.map_index - b.map_index);
    return tis.map(taskInstanceInfo);
  }

  private async taskRender(method: string, p: Params): Promise<{ result: P.TaskRenderResult | null; failure: P.TaskRenderFailure | null }> {
    const dagId = str(method, p, 'dagId');
    const taskId = str(method, p, 'taskId');
    const logicalDate = optDate(method, p, 'logicalDate');
    const runId = optStr(method, p, 'runId');
    const conf = optObject(method, p, 'conf');
    await this.dag(dagId);
    try {
      const r = await renderTask(this.rt(), dagId, taskId, { logicalDate, runId, conf });
      return { result: { ...r, fields: [...r.fields], xcomInputs: [...r.xcomInputs] }, failure: null };
    } catch (err) {
      if (!(err instanceof RenderError)) throw err;
      if (err.code === 'not_found') throw new NotFoundError(err.message);
      if (err.code === 'usage') throw new InvalidParamsError(err.message);
      const position = err.position ? { file: err.position.file, line: err.position.line, column: err.position.column } : null;
      return { result: null, failure: { code: err.code, message: err.message, field: err.field ?? null, position } };
    }
  }

  private async taskRun(method: string, p: Params): Promise<P.RunInfo> {
    const dagId = str(method, p, 'dagId');
    const taskId = str(method, p, 'taskId');
    const logicalDate = optDate(method, p, 'logicalDate');
    const dag = await this.dag(dagId);
    if (!dag.tasks.has(taskId)) throw new NotFoundError(`DAG "${dagId}" has no task "${taskId}" (tasks: ${[...dag.tasks.keys()].join(', ')})`);
    const rt = this.rt();
    const ctl = new AbortController();
    // testTask inserts its run synchronously before its first await, so the newest run is it.
    const done = rt.testTask(dagId, taskId, logicalDate, ctl.signal);
    const run = (await rt.store.runs.list({ dagId, limit: 1 }))[0]!;
    const key = `${dagId}\u0000${run.run_id}`;
    this.active.set(key, ctl);
    this.runChanged({ dagId, runId: run.run_id, state: run.state });
    done
      .catch((err: unknown) => this.notify('runtime/didWarn', { dagId, runId: run.run_id, taskId, message: `Task "${taskId}" stopped: ${(err as Error).message}` }))
      .finally(() => this.active.delete(key));
    return runInfo(run);
  }

  /**
   * The Test Explorer's task test: `hangar test` semantics on a throwaway store (hangar/testing), in a
   * process of its own (a task that exits or hangs does not take the server down), answered at its end.
   */
  private async taskTest(method: string, p: Params, token?: { readonly isCancellationRequested: boolean; onCancellationRequested(f: () => void): { dispose(): void } }): Promise<P.TaskTestResult> {
    const dagId = str(method, p, 'dagId');
    const taskId = str(method, p, 'taskId');
    const logicalDate = optDate(method, p, 'logicalDate');
    const dag = await this.dag(dagId);
    if (!dag.tasks.has(taskId)) throw new NotFoundError(`DAG "${dagId}" has no task "${taskId}" (tasks: ${[...dag.tasks.keys()].join(', ')})`);
    // The settings' overrides apply (XCom backend, parallelism), but not their store, folder or executor.
    const config: Record<string, unknown> = { ...this.init?.config };
    for (const k of ['executor', 'dagsFolder', 'store']) delete config[k];
    const dir = mkdtempSync(join(tmpdir(), 'hangar-task-test-'));
    const resultFile = join(dir, 'result.json');
    try {
      const args = [taskTestProgram(), this.rt().config.root, dag.fileloc, dagId, taskId, resultFile, logicalDate?.toISOString() ?? '', JSON.stringify(config)];
      const output = await new Promise<string>((resolve, reject) => {
        const child = spawn(process.execPath, args, { cwd: this.rt().config.root, stdio: ['ignore', 'pipe', 'pipe'] });
        // A cancelled request (the Test Explorer's run cancelled) stops the task's process.
        const cancel = token?.onCancellationRequested(() => child.kill('SIGKILL'));
        let text = '';
        child.stdout.on('data', (d: Buffer) => (text += d.toString('utf8')));
        child.stderr.on('data', (d: Buffer) => (text += d.toString('utf8')));
        child.on('error', reject);
        child.on('close', () => {
          cancel?.dispose();
          resolve(text);
        });
      });
      if (token?.isCancellationRequested) throw new Error(`The test of task "${taskId}" of DAG "${dagId}" was cancelled (its process was stopped)`);
      if (!existsSync(resultFile)) throw new Error(`The test of task "${taskId}" of DAG "${dagId}" ended without a result:\n${output.trim()}`);
      const result = JSON.parse(readFileSync(resultFile, 'utf8')) as P.TaskTestResult | { fatal: string };
      if ('fatal' in result) throw new Error(`The test of task "${taskId}" of DAG "${dagId}" could not run: ${result.fatal}`);
      return result;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  private async taskRef(method: string, p: Params): Promise<{ run: DagRunRecord; taskId: string; mapIndex: number }> {
    const run = await this.runRef(method, p);
    const taskId = str(method, p, 'taskId');
    const mapIndex = optInt(method, p, 'mapIndex', -1) ?? -1;
    if (!(await this.rt().store.tasks.get(run.dag_id, run.run_id, taskId, mapIndex))) {
      throw new NotFoundError(`Run "${run.run_id}" of DAG "${run.dag_id}" has no task instance "${taskId}"${mapIndex >= 0 ? ` [${mapIndex}]` : ''}`);
    }
    return { run, taskId, mapIndex };
  }

  private async taskTries(method: string, p: Params): Promise<P.TryInfo[]> {
    const { run, taskId, mapIndex } = await this.taskRef(method, p);
    return (await this.rt().store.tasks.listTries(run.dag_id, run.run_id, taskId, mapIndex)).map(tryInfo);
  }

  private async taskLog(method: string, p: Params): Promise<P.TaskLogResult> {
    const { run, taskId, mapIndex } = await this.taskRef(method, p);
    const rt = this.rt();
    const ti = (await rt.store.tasks.get(run.dag_id, run.run_id, taskId, mapIndex))!;
    const requested = optInt(method, p, 'tryNumber', 1);
    const tries = await rt.store.tasks.listTries(run.dag_id, run.run_id, taskId, mapIndex);
    const tryNumber = requested ?? Math.max(ti.try_number, ...tries.map((t) => t.try_number), 1);
    if (requested !== undefined && requested > Math.max(ti.try_number, 1)) {
      throw new NotFoundError(`Task "${taskId}" of run "${run.run_id}" has no try ${requested} (latest: ${ti.try_number})`);
    }
    const t = tries.find((x) => x.try_number === tryNumber);
    const logPath = t?.log_path ?? tryLogPath(rt.config.logsDir, run.dag_id, run.run_id, taskId, mapIndex, tryNumber);
    const text = (await readTryLog(rt.config, logPath)) ?? '';
    const running = ti.try_number === tryNumber && (ti.state === 'running' || ti.state === 'queued' || ti.state === 'scheduled' || ti.state === 'up_for_reschedule');
    return { tryNumber, logPath, text, running };
  }

  private async taskClear(method: string, p: Params): Promise<{ cleared: string[] }> {
    const run = await this.runRef(method, p);
    const taskIds = strArray(method, p, 'taskIds');
    const options = {
      taskIds,
      downstream: optBool(method, p, 'downstream') ?? false,
      upstream: optBool(method, p, 'upstream') ?? false,
      onlyFailed: optBool(method, p, 'onlyFailed') ?? false,
    };
    const rerun = optBool(method, p, 'rerun') ?? true;
    const dag = await this.dag(run.dag_id);
    for (const id of taskIds) if (!dag.tasks.has(id)) throw new NotFoundError(`DAG "${run.dag_id}" has no task "${id}"`);
    const rt = this.rt();
    const cleared = await rt.clear(run.dag_id, run.run_id, options);
    for (const ti of cleared) this.taskChanged({ dagId: ti.dag_id, runId: ti.run_id, taskId: ti.task_id, mapIndex: ti.map_index, state: ti.state, tryNumber: ti.try_number });
    const after = (await rt.store.runs.get(run.dag_id, run.run_id))!;
    this.runChanged({ dagId: run.dag_id, runId: run.run_id, state: after.state });
    if (rerun && cleared.length > 0) this.execute(run.dag_id, run.run_id, (signal) => rt.executeRun(run.dag_id, run.run_id, signal));
    return { cleared: [...new Set(cleared.map((t) => t.task_id))] };
  }

  private async taskMark(method: string, p: Params): Promise<{ marked: number }> {
    const run = await this.runRef(method, p);
    const taskId = str(method, p, 'taskId');
    const state = oneOf(method, p, 'state', ['success', 'failed'] as const);
    const mapIndex = optInt(method, p, 'mapIndex', -1);
    const marked = await this.rt().mark(run.dag_id, run.run_id, taskId, state, mapIndex);
    for (const ti of marked) this.taskChanged({ dagId: ti.dag_id, runId: ti.run_id, taskId: ti.task_id, mapIndex: ti.map_index, state: ti.state, tryNumber: ti.try_number });
    return { marked: marked.length };
  }

  /** One page of a DAG's runs by its tasks (the grid view); tasks from the DAG list, states with one query. */
  private async gridData(method: string, p: Params): Promise<P.GridResult> {
    const { dagId, limit, offset, expand } = gridParams(method, p);
    const list = await this.dagList(false);
    const dag = list.dags.find((d) => d.dagId === dagId);
    const page = await queryGrid(this.rt().store, dagId, limit, offset);
    if (!dag && page.totalRuns === 0) {
      const err = list.errors.find((e) => e.dagId === dagId);
      if (err) throw new Error(`DAG "${dagId}" failed to load: ${err.message}`);
      throw new NotFoundError(`No DAG "${dagId}" (found: ${list.dags.map((d) => d.dagId).join(', ') || 'none'})`);
    }
    return shapeGrid(dagId, dag ? dag.tasks : null, page, { limit, offset, expand, nowMs: Date.now(), groups: dag?.groups });
  }

  /** One run's tries as Gantt segments, with the critical path; tasks (order, upstream) from the DAG list. */
  private async ganttData(method: string, p: Params): Promise<P.GanttResult> {
    const run = await this.runRef(method, p);
    const dag = (await this.dagList(false)).dags.find((d) => d.dagId === run.dag_id);
    return shapeGantt(run, dag ? dag.tasks : null, await queryGantt(this.rt().store, run.dag_id, run.run_id), Date.now());
  }

  private async xcomList(method: string, p: Params): Promise<P.XComInfo[]> {
    const { run, taskId, mapIndex } = await this.taskRef(method, p);
    const rt = this.rt();
    const rows = await rt.store.xcoms.list({ dagId: run.dag_id, runId: run.run_id, taskId, mapIndex });
    const out: P.XComInfo[] = [];
    for (const x of rows) {
      let preview: string;
      try {
        const value = await rt.backend.deserialize({ dagId: x.dag_id, runId: x.run_id, taskId: x.task_id, mapIndex: x.map_index, key: x.key }, x.value);
        preview = x.sensitive ? '«sensitive: hidden»' : truncate(JSON.stringify(value, null, 2) ?? String(value), 100_000);
      } catch (err) {
        preview = `«cannot decode: ${(err as Error).message}»`;
      }
      let chain: string[] = [];
      try {
        chain = JSON.parse(x.chain) as string[];
      } catch {
        /* shown empty */
      }
      out.push({ key: x.key, mapIndex: x.map_index, chain, sizeOriginal: x.size_original, sizeStored: x.size_stored, sensitive: !!x.sensitive, createdAt: x.created_at, preview });
    }
    return out;
  }

  private async xcomRotate(): Promise<P.XComRotateResult> {
    const rt = this.rt();
    if (!(rt.backend instanceof HangarXComBackend)) throw new Error('xcom/rotate: this runtime\'s XCom backend does not support key rotation');
    if (!(await rt.backend.ready())) throw new Error('xcom/rotate: no XCom key is set; set one first (Hangar: Set Encryption Key)');
    const r = await rotateXComKeys(rt.store, rt.backend);
    return { targetKeyId: r.targetKeyId, examined: r.examined, rotated: r.rotated, alreadyCurrent: r.alreadyCurrent, failed: r.failed.length, complete: r.complete };
  }

  // ---------------------------------------------------------------- secrets

  private async secretsSet(method: string, p: Params): Promise<{ xcomKeyIds: string[]; s3: boolean }> {
    const rt = this.rt();
    const enc = (rt.config.xcom.encryption ?? {}) as { keyEnv?: string };
    const keyEnv = enc.keyEnv ?? 'HANGAR_XCOM_KEYS';
    if (p.xcomKeys !== undefined) {
      if (!Array.isArray(p.xcomKeys)) throw new InvalidParamsError(`${method}: "xcomKeys" must be an array of {id, key}`);
      const parts: string[] = [];
      const ids: string[] = [];
      for (const [i, k] of (p.xcomKeys as unknown[]).entries()) {
        const o = paramsOf(`${method} xcomKeys[${i}]`, k);
        const id = str(`${method}: xcomKeys[${i}]`, o, 'id');
        if (!KEY_ID_RE.test(id)) throw new InvalidParamsError(`${method}: xcomKeys[${i}].id ${JSON.stringify(id)} is invalid (1-64 of A-Z a-z 0-9 . _ -)`);
        const material = str(`${method}: xcomKeys[${i}]`, o, 'key');
        try {
          parseKeyMaterial(material, `XCom key "${id}"`);
        } catch (err) {
          // Never echo the material itself.
          throw new InvalidParamsError(`${method}: XCom key "${id}" is not usable: ${(err as Error).message.replaceAll(material, '«key»')}`);
        }
        parts.push(`${id}:${material}`);
        ids.push(id);
      }
      const primary = optStr(method, p, 'primaryKeyId');
      if (primary && !ids.includes(primary)) throw new InvalidParamsError(`${method}: primaryKeyId "${primary}" is not among the keys (${ids.join(', ')})`);
      if (primary) parts.sort((a, b) => Number(b.startsWith(`${primary}:`)) - Number(a.startsWith(`${primary}:`)));
      if (parts.length) process.env[keyEnv] = parts.join(',');
      else delete process.env[keyEnv];
      this.secrets.keyIds = primary ? [primary, ...ids.filter((i) => i !== primary)] : ids;
    }
    if (p.s3 !== undefined) {
      if (p.s3 === null) {
        delete process.env.AWS_ACCESS_KEY_ID;
        delete process.env.AWS_SECRET_ACCESS_KEY;
        delete process.env.AWS_SESSION_TOKEN;
        this.secrets.s3 = false;
      } else {
        const s = paramsOf(`${method} s3`, p.s3);
        process.env.AWS_ACCESS_KEY_ID = str(`${method}: s3`, s, 'accessKeyId');
        process.env.AWS_SECRET_ACCESS_KEY = str(`${method}: s3`, s, 'secretAccessKey');
        const token = optStr(`${method}: s3`, s, 'sessionToken');
        if (token) process.env.AWS_SESSION_TOKEN = token;
        else delete process.env.AWS_SESSION_TOKEN;
        this.secrets.s3 = true;
      }
    }
    if (this.active.size === 0) {
      // Idle: start a fresh runtime so the XCom backend and every future worker see the new secrets.
      const wasLoaded = this.loaded;
      // The watcher reads the store being closed: stopped first (start() makes a new one).
      await this.watcher?.stop();
      this.watcher = undefined;
      await rt.close();
      const fresh = await this.start();
      if (wasLoaded) {
        await fresh.loadDags();
        this.loaded = true;
      }
    } else if (rt.backend instanceof HangarXComBackend) {
      // Runs are active: the in-process backend takes the keys now; worker processes already started keep theirs.
      rt.backend.setKeyring(await loadKeyring(rt.config.xcom.encryption ?? {}, { workspaceRoot: rt.config.root, keys: rt.store.keys, env: process.env }));
      this.notify('runtime/didWarn', { message: 'New secrets apply to runs started from now; tasks already running keep the previous ones.' });
    }
    return { xcomKeyIds: this.secrets.keyIds, s3: this.secrets.s3 };
  }
}

function truncate(s: string, max: number): string {
  return s.length > max ? `${s.slice(0, max)}\n… (${s.length - max} more characters)` : s;
}

/** A DAG's params for the trigger form: defaults as JSON (a Date becomes its ISO text), rules as declared. */
function dagParams(values: Readonly<Record<string, unknown>>, specs: Readonly<Record<string, ParamSpec>>): P.DagParamInfo[] {
  const names = [...new Set([...Object.keys(values), ...Object.keys(specs)])];
  return names.map((name) => ({
    name,
    ...(Object.hasOwn(values, name) && values[name] !== undefined ? { default: JSON.parse(JSON.stringify(values[name]) ?? 'null') as unknown } : {}),
    ...(specs[name] ? { schema: specs[name].schema } : {}),
  }));
}

export async function dagListResult(bag: DagBag, rt: Runtime): Promise<P.DagListResult> {
  const paused = await rt.store.dags.paused();
  const now = rt.clock.now();
  const next = new Map(await Promise.all([...bag.dags.values()].map(async (d) => [d.id, await nextRunOf(d, rt.store, now)] as const)));
  const links = assetLinks(bag.dags.values()).byAsset;
  const dags: P.DagInfo[] = [...bag.dags.values()]
    .map((d) => ({
      dagId: d.id,
      file: d.fileloc,
      description: d.description ?? null,
      schedule: d.scheduleText,
      timezone: d.timezone,
      isPaused: paused.get(d.id) ?? false,
      nextRun: nextRunInfo(next.get(d.id)),
      tags: [...d.tags],
      position: pos(d.position),
      tasks: (d.topologicalOrder() as string[]).map((id) => {
        const t = d.tasks.get(id)!;
        return {
          taskId: id,
          kind: t.kind,
          upstream: [...t.upstream],
          downstream: [...t.downstream],
          mapped: t.expand !== undefined,
          ...(templatedFields(t).length ? { templated: true } : {}),
          ...(t.isSetup ? { role: 'setup' as const } : t.isTeardown ? { role: 'teardown' as const } : {}),
          retries: t.retries,
          position: pos(t.position),
          group: t.group.at(-1) ?? null,
          pool: t.pool,
          poolSlots: t.poolSlots,
          queue: t.queue,
          triggerRule: t.triggerRule,
          executionTimeout: t.executionTimeoutMs === undefined ? null : t.executionTimeoutMs / 1000,
        };
      }),
      assets: {
        consumes: scheduledAssets(d).map((uri) => ({ uri, producers: (links.get(uri)?.producers ?? []).map((p) => `${p.dagId}.${p.taskId}`) })),
        produces: producedAssets(d).map((uri) => ({
          uri,
          tasks: [...d.tasks.values()].filter((t) => t.outlets.includes(uri)).map((t) => t.id),
          consumers: links.get(uri)?.consumers ?? [],
        })),
      },
      groups: [...d.groups.values()].map((g) => ({ groupId: g.id, label: g.label, parent: g.parent, tooltip: g.tooltip ?? null, position: pos(g.position) })),
      params: dagParams(d.params, d.paramSpecs),
    }))
    .sort((a, b) => a.dagId.localeCompare(b.dagId));
  return {
    dags,
    errors: bag.errors.map((e) => ({ file: e.file, line: e.line, column: e.column, message: e.message, dagId: e.dagId ?? null })),
    warnings: (bag.warnings ?? []).map((e) => ({ file: e.file, line: e.line, column: e.column, message: e.message, dagId: e.dagId ?? null })),
    files: [...bag.files],
    ms: Math.round(bag.stats.ms),
    timings: bag.timings.map((t) => ({
      file: t.file,
      compileMs: t.compileMs === null ? null : Math.round(t.compileMs * 10) / 10,
      importMs: t.importMs === null ? null : Math.round(t.importMs * 10) / 10,
      totalMs: Math.round(t.totalMs * 10) / 10,
      parsed: t.parsed,
      parsedAt: t.parsedAt,
    })),
  };
}

/** The editor's view of the variables: JSON-ness and, for a value that looks like no secret, its start. */
export async function variableSummaries(variables: Variables): Promise<P.VariableSummary[]> {
  return (await variables.list(true)).map((v) => {
    let json: P.VariableSummary['json'];
    try {
      const x = JSON.parse(v.value) as unknown;
      json = x === null ? 'null' : Array.isArray(x) ? 'array' : (typeof x as 'object' | 'string' | 'number' | 'boolean');
    } catch {
      json = null;
    }
    const show = !v.sensitive && !looksSecret(v.value);
    return {
      key: v.key,
      source: v.source,
      json,
      sensitive: v.sensitive,
      ...(show ? { preview: v.value.length > 40 ? `${v.value.slice(0, 39)}…` : v.value } : {}),
    };
  });
}

function nextRunInfo(n: Awaited<ReturnType<typeof nextRunOf>>): P.NextRunInfo | null {
  if (!n) return null;
  return { logicalDate: n.logicalDate.toISOString(), dataIntervalStart: n.dataInterval.start.toISOString(), dataIntervalEnd: n.dataInterval.end.toISOString(), runAfter: n.runAfter.toISOString() };
}

function pos(p: { file: string; line: number; column: number } | undefined): P.Position | null {
  if (!p) return null;
  try {
    return { file: p.file, line: p.line, column: p.column };
  } catch {
    return null;
  }
}

function parseConf(s: string): Record<string, unknown> {
  try {
    const v = JSON.parse(s) as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export function runInfo(r: DagRunRecord): P.RunInfo {
  return {
    dagId: r.dag_id,
    runId: r.run_id,
    runType: r.run_type,
    state: r.state,
    logicalDate: r.logical_date,
    queuedAt: r.queued_at,
    startDate: r.start_date,
    endDate: r.end_date,
    conf: parseConf(r.conf),
  };
}

export function taskInstanceInfo(t: TaskInstanceRecord): P.TaskInstanceInfo {
  return {
    dagId: t.dag_id,
    runId: t.run_id,
    taskId: t.task_id,
    mapIndex: t.map_index,
    state: t.state,
    tryNumber: t.try_number,
    maxTries: t.max_tries,
    operator: t.operator,
    startDate: t.start_date,
    endDate: t.end_date,
    duration: t.duration,
    error: t.error,
    nextTryAt: t.next_try_at,
  };
}

function tryInfo(t: TaskTryRecord): P.TryInfo {
  return { tryNumber: t.try_number, state: t.state, startDate: t.start_date, endDate: t.end_date, duration: t.duration, error: t.error, logPath: t.log_path };
}
