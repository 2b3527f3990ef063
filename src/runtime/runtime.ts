import { loadConfig } from './config.ts';
import { declaredAssets } from './asset-graph.ts';
import type { HangarConfigFile, StatePlacement, WorkspaceConfig } from './config.ts';
import { manualDataInterval, scheduleOf, scheduledDataInterval, ticksBetween } from './dag/schedule.ts';
import { validateRunParams } from './dag/params.ts';
import { Variables } from './variables.ts';
import { RuntimeEvents } from './events.ts';
import { InProcessExecutor } from './executor/in-process.ts';
import type { ExecuteRequest, TaskExecutor } from './executor/types.ts';
import { IsolatedExecutor } from './executor/isolated.ts';
import { DistributedExecutor } from './distributed/executor.ts';
import { logToCurrentTry } from './executor/task-runner.ts';
import { importBundle } from './loader/index.ts';
import { DagProcessor } from './processor/index.ts';
import type { DagBag, ProcessOptions } from './processor/index.ts';
import type { DagSpec } from './processor/serialized.ts';
import { systemClock } from './scheduler/clock.ts';
import type { Clock } from './scheduler/clock.ts';
import { Pools } from './scheduler/pools.ts';
import { RunLoop } from './scheduler/run-loop.ts';
import { clearTasks, markTask, recoverOrphans } from './scheduler/maintenance.ts';
import { selfOwner } from './scheduler/owner.ts';
import type { ClearOptions, RecoveredTask } from './scheduler/maintenance.ts';
import { Store, nowIso } from './store/store.ts';
import type { DagRunRecord, RunState, RunType, TaskInstanceRecord } from './store/records.ts';
import { isoformat } from './templating/index.ts';
import { createXComBackend } from './xcom/index.ts';
import type { XComBackend } from './xcom/index.ts';

export interface RuntimeOptions {
  readonly config?: Partial<HangarConfigFile>;
  readonly clock?: Clock;
  /** Supplies the executor; by default the configured one. */
  readonly executor?: (runtime: Runtime) => TaskExecutor;
  /** Keep the store, logs, caches and XCom files there rather than in the workspace's .hangar (a throwaway runtime). */
  readonly placement?: StatePlacement;
}

export interface TriggerOptions {
  /** The logical date; defaults to now. */
  readonly logicalDate?: Date;
  readonly conf?: Record<string, unknown>;
  readonly runType?: RunType;
  readonly runId?: string;
}

/**
 * The embedded runtime: one workspace, its store, its DAGs and an executor.
 * The CLI and the VS Code extension's runtime server both drive this class.
 */
export class Runtime {
  readonly config: WorkspaceConfig;
  readonly store: Store;
  readonly events = new RuntimeEvents();
  readonly clock: Clock;
  readonly backend: XComBackend;
  readonly pools: Pools;
  readonly executor: TaskExecutor;
  private readonly parallelism: { running: number; limit: number };
  private bag: DagBag | undefined;
  readonly processor: DagProcessor;
  private readonly activeRuns = new Map<string, RunLoop>();

  /** Opens a workspace's runtime: its configuration, and its store (migrated to this code's schema). */
  static async open(workspace: string, options: RuntimeOptions = {}): Promise<Runtime> {
    const config = loadConfig(workspace, options.config, options.placement);
    return new Runtime(config, await Store.open(config.storeTarget), options);
  }

  private constructor(config: WorkspaceConfig, store: Store, options: RuntimeOptions) {
    this.config = config;
    this.store = store;
    this.store.dags.pausedAtCreation = this.config.scheduler.dagsArePausedAtCreation;
    this.clock = options.clock ?? systemClock;
    this.backend = createXComBackend(this.config.xcom, {
      workspaceRoot: this.config.root,
      xcomRoot: this.config.xcomDir,
      keys: this.store.keys,
      connections: this.config.connections,
      log: logToCurrentTry,
    });
    this.pools = new Pools(this.config.pools);
    this.processor = new DagProcessor(this.config.dagsFolder, this.config.cacheDir, this.store, {
      timeoutMs: this.config.dagFileTimeoutMs,
      memoryMb: this.config.dagFileMemoryMb,
      parseBudgetMs: this.config.parseBudgetMs,
    });
    this.parallelism = { running: 0, limit: this.config.parallelism };
    this.executor = options.executor ? options.executor(this) : this.defaultExecutor();
  }

  private defaultExecutor(): TaskExecutor {
    const onLine = (req: ExecuteRequest, line: string) =>
      this.events.emit('log', { dagId: req.dagId, runId: req.runId, taskId: req.taskId, mapIndex: req.mapIndex, tryNumber: req.tryNumber, line });
    if (this.config.executor === 'distributed') {
      return new DistributedExecutor({
        store: this.store,
        config: this.config.distributed!,
        connections: this.config.connections,
        heartbeatTimeoutMs: this.config.scheduler.heartbeatTimeoutSeconds * 1000,
        pollMs: this.config.distributed!.pollMs,
        warn: (message) => this.events.emit('warning', { message }),
        onLine,
      });
    }
    if (this.config.executor === 'isolated') {
      return new IsolatedExecutor({ maxWorkers: this.config.parallelism, maxOldSpaceMb: this.config.workerMaxOldSpaceMb, onLine });
    }
    return new InProcessExecutor({
      env: { store: this.store, backend: this.backend, tmpDir: this.config.tmpDir, clock: this.clock, connections: this.config.connections },
      // The trade-off of this executor: the DAG's code (the bundle the processor parsed) is imported here.
      resolve: async (req) => {
        const loaded = await importBundle(req.dagFile, req.bundle);
        const dag = loaded.dags.find((d) => d.id === req.dagId);
        if (!dag) throw new Error(`DAG "${req.dagId}" is not defined in ${req.dagFile}${loaded.errors[0] ? `: ${loaded.errors[0].message}` : ''}`);
        return { dag };
      },
      onLine,
    });
  }

  /**
   * Brings the DAGs up to date through the DAG processor (files that changed are parsed in child
   * processes; the others come from the store) and records DAGs and import errors in the store.
   */
  async loadDags(options: ProcessOptions = {}): Promise<DagBag> {
    const bag = await this.processor.process(options);
    const now = nowIso();
    await this.store.sql.tx(async () => {
      for (const d of bag.dags.values()) {
        await this.store.dags.upsert({
          dag_id: d.id,
          fileloc: d.fileloc,
          description: d.description ?? null,
          schedule: d.scheduleText,
          tags: JSON.stringify(d.tags),
          task_ids: JSON.stringify([...d.tasks.keys()]),
          last_parsed_at: now,
        });
      }
      await this.store.dags.replaceImportErrors(bag.errors.map((e) => ({ fileloc: e.file, dag_id: e.dagId ?? null, message: e.message, line: e.line, col: e.column, seen_at: now })));
      await this.store.assets.syncDeclared(...declaredAssets(bag.dags.values()), now);
    });
    this.bag = bag;
    return bag;
  }

  /** Airflow's Variables: stored in the store, overridden by HANGAR_VAR_<KEY>. */
  get variables(): Variables {
    return new Variables(this.store);
  }

  get dagBag(): DagBag | undefined {
    return this.bag;
  }

  getDag(dagId: string): DagSpec {
    const dag = this.bag?.dags.get(dagId);
    if (!dag) {
      const error = this.bag?.errors.find((e) => e.dagId === dagId);
      if (error) throw new Error(`DAG "${dagId}" failed to load: ${error.message}`);
      const known = [...(this.bag?.dags.keys() ?? [])];
      throw new Error(`No DAG "${dagId}" in ${this.config.dagsFolder}${known.length ? ` (found: ${known.join(', ')})` : ''}`);
    }
    return dag;
  }

  /** Creates a run and its task instances (Airflow's `dags trigger`). */
  async triggerRun(dagId: string, options: TriggerOptions = {}): Promise<DagRunRecord> {
    const dag = this.getDag(dagId);
    const runType = options.runType ?? 'manual';
    let logicalDate = options.logicalDate ?? new Date(this.clock.now());
    if (Number.isNaN(logicalDate.getTime())) throw new Error('The logical date is not a valid date');
    if (options.logicalDate === undefined && options.runId === undefined) {
      // Airflow puts microseconds in manual run ids; two runs in the same millisecond get the next one.
      while (await this.store.runs.get(dagId, `${runType}__${isoformat(logicalDate)}`)) logicalDate = new Date(logicalDate.getTime() + 1);
    }
    const interval = runType === 'manual' ? manualDataInterval(scheduleOf(dag), logicalDate) : scheduledDataInterval(scheduleOf(dag), logicalDate);
    const runId = options.runId ?? `${runType}__${isoformat(logicalDate)}`;
    const conf = options.conf ?? {};
    if (typeof conf !== 'object' || conf === null || Array.isArray(conf)) throw new Error('The run configuration (--conf) must be a JSON object');
    // Airflow's Param: checked before the run exists, so a bad --conf runs nothing.
    validateRunParams(dagId, dag.paramSpecs, dag.params, conf);
    return this.store.sql.tx(async () => {
      const run = await this.store.runs.insert({
        dag_id: dagId,
        run_id: runId,
        run_type: runType,
        logical_date: logicalDate.toISOString(),
        data_interval_start: interval.start.toISOString(),
        data_interval_end: interval.end.toISOString(),
        state: 'queued',
        conf: JSON.stringify(conf),
        queued_at: nowIso(),
      });
      await this.store.tasks.insert([...dag.tasks.values()].map((t) => ({ dag_id: dagId, run_id: runId, task_id: t.id, map_index: -1, max_tries: t.retries + 1, operator: t.kind, pool: t.pool, state: null })));
      return run;
    });
  }

  /**
   * Settles runs whose runtime died (SIGKILL, power loss): their running tries
   * fail or go up for retry. Runs owned by a live runtime are left alone.
   */
  async recover(only?: { dagId: string; runId: string }): Promise<RecoveredTask[]> {
    const recovered = await recoverOrphans(
      this.store,
      (id) => this.bag?.dags.get(id),
      this.clock.now(),
      this.config.scheduler.heartbeatTimeoutSeconds * 1000,
      undefined,
      only,
      this.executor.adoptable?.bind(this.executor),
    );
    for (const r of recovered) {
      this.events.emit('warning', { dagId: r.dagId, runId: r.runId, taskId: r.taskId, message: `Recovered task "${r.taskId}" of run "${r.runId}" left by a runtime that stopped: now ${r.state ?? 'none'}` });
    }
    return recovered;
  }

  /** Clears task instances of a run so that they run again; returns what was cleared. */
  async clear(dagId: string, runId: string, options: ClearOptions = {}): Promise<TaskInstanceRecord[]> {
    const dag = this.getDag(dagId);
    const run = await this.store.runs.get(dagId, runId);
    if (!run) throw new Error(`DAG "${dagId}" has no run "${runId}"`);
    if (this.activeRuns.has(`${dagId}\u0000${runId}`)) throw new Error(`Run "${runId}" is running in this runtime; stop it before clearing`);
    await this.recover({ dagId, runId });
    return clearTasks(this.store, this.backend, dag, run, options);
  }

  /** Marks a task success or failed by hand. */
  async mark(dagId: string, runId: string, taskId: string, state: 'success' | 'failed', mapIndex?: number): Promise<TaskInstanceRecord[]> {
    const run = await this.store.runs.get(dagId, runId);
    if (!run) throw new Error(`DAG "${dagId}" has no run "${runId}"`);
    return markTask(this.store, run, taskId, state, mapIndex);
  }

  /** Runs (or resumes) a run until it ends. */
  async executeRun(dagId: string, runId: string, signal?: AbortSignal): Promise<RunState> {
    const dag = this.getDag(dagId);
    if (!(await this.store.runs.get(dagId, runId))) throw new Error(`DAG "${dagId}" has no run "${runId}"`);
    await this.recover({ dagId, runId });
    if ((await this.store.runs.get(dagId, runId))!.state === 'queued' && !(await this.waitForRunSlot(dag, runId, signal))) {
      return this.followRun(dagId, runId, signal);
    }
    // A run another live runtime owns (a scheduler elsewhere): follow it rather than run it twice.
    const before = (await this.store.runs.get(dagId, runId))!;
    if (!(await this.store.runs.take(dagId, runId, selfOwner(), nowIso()))) return this.followRun(dagId, runId, signal);
    if (before.state !== 'running') this.events.emit('run', { dagId, runId, state: 'running' });
    const run = (await this.store.runs.get(dagId, runId))!;
    const loop = new RunLoop(
      {
        store: this.store,
        executor: this.executor,
        backend: this.backend,
        clock: this.clock,
        events: this.events,
        pools: this.pools,
        workspace: this.config.root,
        logsDir: this.config.logsDir,
        parallelism: this.parallelism,
        heartbeatMs: Math.min(5_000, (this.config.scheduler.heartbeatTimeoutSeconds * 1000) / 6),
      },
      dag,
      run,
    );
    const k = `${dagId}\u0000${runId}`;
    this.activeRuns.set(k, loop);
    try {
      return await loop.execute(signal);
    } finally {
      this.activeRuns.delete(k);
    }
  }

  /**
   * Claims a queued run for this process if the DAG is under its maxActiveRuns (counted
   * over scheduled, manual and backfill runs, in every process sharing the store).
   */
  async claimRun(dagId: string, runId: string): Promise<boolean> {
    const dag = this.getDag(dagId);
    if (!(await this.store.runs.claim(dagId, runId, dag.maxActiveRuns, selfOwner(), nowIso()))) return false;
    this.events.emit('run', { dagId, runId, state: 'running' });
    return true;
  }

  /**
   * Waits until the DAG has a free run slot and claims the run (a queued run only).
   * False when another runtime took the run meanwhile.
   */
  private async waitForRunSlot(dag: DagSpec, runId: string, signal?: AbortSignal): Promise<boolean> {
    let told = false;
    while (!(await this.claimRun(dag.id, runId))) {
      const run = await this.store.runs.get(dag.id, runId);
      if (!run || run.state !== 'queued') return false;
      if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('The run was cancelled');
      if (!told) {
        this.events.emit('warning', { dagId: dag.id, runId, message: `Run "${runId}" waits: DAG "${dag.id}" already has ${dag.maxActiveRuns} running run(s) (maxActiveRuns)` });
        told = true;
      }
      await new Promise<void>((resolve) => this.clock.setTimeout(resolve, 1000));
    }
    return true;
  }

  /** Waits for a run another runtime is executing to end; returns its state. */
  private async followRun(dagId: string, runId: string, signal?: AbortSignal): Promise<RunState> {
    for (;;) {
      const run = await this.store.runs.get(dagId, runId);
      if (!run || run.state === 'success' || run.state === 'failed' || signal?.aborted) return run?.state ?? 'failed';
      await new Promise<void>((resolve) => this.clock.setTimeout(resolve, 1000));
    }
  }

  /** Stops starting new tries in every run of this runtime; running tries go on (the scheduler's shutdown). */
  drainRuns(): void {
    for (const loop of this.activeRuns.values()) loop.drain();
  }

  /** Stops the running tries of every run of this runtime, after a drain's grace period. */
  stopRunningTries(reason: string): void {
    for (const loop of this.activeRuns.values()) loop.stopTries(reason);
  }

  /** How many runs this runtime is executing now. */
  get executingRuns(): number {
    return this.activeRuns.size;
  }

  /** Whether this runtime is executing the run now. */
  isExecuting(dagId: string, runId: string): boolean {
    return this.activeRuns.has(`${dagId}\u0000${runId}`);
  }

  /** Triggers a run and runs it to the end. */
  async runDag(dagId: string, options: TriggerOptions = {}, signal?: AbortSignal): Promise<DagRunRecord> {
    const run = await this.triggerRun(dagId, options);
    await this.executeRun(dagId, run.run_id, signal);
    return (await this.store.runs.get(dagId, run.run_id))!;
  }

  /**
   * Airflow's `tasks test`: runs one task for a logical date without its
   * upstream tasks, in a run of its own (run type `test`), so its log and XComs
   * can be inspected like any other.
   */
  async testTask(
    dagId: string,
    taskId: string,
    logicalDate?: Date,
    signal?: AbortSignal,
    options: { conf?: Record<string, unknown>; beforeRun?: (run: DagRunRecord) => Promise<void> } = {},
  ): Promise<DagRunRecord> {
    const dag = this.getDag(dagId);
    const task = dag.tasks.get(taskId);
    if (!task) throw new Error(`DAG "${dagId}" has no task "${taskId}" (tasks: ${[...dag.tasks.keys()].join(', ')})`);
    const date = logicalDate ?? new Date(Math.floor(this.clock.now() / 1000) * 1000);
    const interval = manualDataInterval(scheduleOf(dag), date);
    const runId = `test__${isoformat(date)}__${taskId}__${Date.now().toString(36)}`;
    await this.store.sql.tx(async () => {
      await this.store.runs.insert({
        dag_id: dagId,
        run_id: runId,
        run_type: 'test',
        logical_date: date.toISOString(),
        data_interval_start: interval.start.toISOString(),
        data_interval_end: interval.end.toISOString(),
        state: 'queued',
        conf: JSON.stringify(options.conf ?? {}),
        queued_at: nowIso(),
      });
      await this.store.tasks.insert([{ dag_id: dagId, run_id: runId, task_id: taskId, map_index: -1, max_tries: 1, operator: task.kind, pool: task.pool, state: null }]);
    });
    if (options.beforeRun) await options.beforeRun((await this.store.runs.get(dagId, runId))!);
    await this.executeRun(dagId, runId, signal);
    return (await this.store.runs.get(dagId, runId))!;
  }

  /** Creates one run per schedule interval between two dates, in order, and runs them. */
  async backfill(dagId: string, from: Date, to: Date, signal?: AbortSignal): Promise<DagRunRecord[]> {
    const dag = this.getDag(dagId);
    const out: DagRunRecord[] = [];
    for (const tick of ticksBetween(scheduleOf(dag), from, to)) {
      if (signal?.aborted) break;
      const runId = `backfill__${isoformat(tick)}`;
      const existing = await this.store.runs.get(dagId, runId);
      const run = existing ?? (await this.triggerRun(dagId, { logicalDate: tick, runType: 'backfill', runId }));
      if (run.state !== 'success') await this.executeRun(dagId, run.run_id, signal);
      out.push((await this.store.runs.get(dagId, run.run_id))!);
    }
    return out;
  }

  async close(): Promise<void> {
    for (const loop of this.activeRuns.values()) loop.cancel('The runtime is shutting down');
    await this.processor.close();
    await this.executor.close();
    await this.store.close();
  }
}
