/**
 * The scheduler service (`hangar scheduler`, and the extension's runtime server when its
 * scheduler is on): creates runs when their data interval closes, starts queued runs,
 * resumes runs a stopped runtime left, re-reads the DAG files when they change, and on
 * shutdown lets running tries finish before it exits.
 *
 * Run creation follows Airflow 2's scheduler (airflow/jobs/scheduler_job_runner.py,
 * `_create_dag_runs` / `_start_queued_dagruns`) and DagModel's next_dagrun fields: a DAG's
 * next run is its timetable's next_dagrun_info after its last scheduled (or backfill) run;
 * it is created once `run_after` has passed, unless the DAG is paused or already has
 * maxActiveRuns queued or running runs. The creation is a guarded insert on the run id and
 * logical date, so schedulers sharing a store create each run once.
 *
 * A DAG scheduled on assets gets a run when its queued asset events satisfy its condition
 * (createAssetTriggeredRuns; the queue is read and emptied under a row lock).
 */
import { watch } from 'node:fs';
import type { FSWatcher } from 'node:fs';
import type { DagSpec } from '../processor/serialized.ts';
import { formatInZone, scheduleOf, timeRestrictionOf } from '../dag/schedule.ts';
import { validateRunParams } from '../dag/params.ts';
import { conditionUris, evaluateCondition } from '../dag/assets.ts';
import type { DagRunInfo, DataInterval, ScheduledDagData } from '../dag/schedule.ts';
import type { Runtime } from '../runtime.ts';
import { nowIso } from '../store/store.ts';
import type { Store } from '../store/store.ts';
import type { DagRunRecord } from '../store/records.ts';
import type { RecoveredTask } from './maintenance.ts';
import { isoformat } from '../templating/index.ts';
import { selfOwner } from './owner.ts';

export interface SchedulerServiceOptions {
  /** Where the scheduler says what it does (one line each). */
  readonly log?: (line: string) => void;
  /** Longest sleep between loop turns (default: the workspace's scheduler.pollSeconds). */
  readonly pollMs?: number;
  /** How long running tries may take to end on stop() (default: scheduler.gracePeriodSeconds). */
  readonly graceMs?: number;
  /** Re-read the DAG files when they change (default true). */
  readonly watch?: boolean;
  /** Load the DAGs on start (default true); false when the host has loaded them and calls recompute() after each load. */
  readonly loadDags?: boolean;
  /** Called after a run was created (the runtime server notifies the extension). */
  readonly onCreated?: (dagId: string, runId: string) => void;
}

/** The next run of a DAG as the scheduler sees it (Airflow's DagModel.next_dagrun*). */
export interface NextRun {
  readonly logicalDate: Date;
  readonly dataInterval: DataInterval;
  /** When it may be created (next_dagrun_create_after). */
  readonly runAfter: Date;
}

/** The next scheduled run of a DAG after its last scheduled/backfill run, at `now` (plain DAG data only). */
export async function nextRunOf(dag: ScheduledDagData & { readonly id: string }, store: Store, now: number): Promise<NextRun | undefined> {
  const last = await store.runs.lastAutomated(dag.id);
  const lastInterval = last ? { start: new Date(last.data_interval_start), end: new Date(last.data_interval_end) } : undefined;
  return scheduleOf(dag).nextDagRunInfo(lastInterval, timeRestrictionOf(dag), now);
}

/** What the scheduler created in one loop turn (for tests and the log). */
export interface CreatedRun {
  readonly dagId: string;
  readonly runId: string;
  readonly info: DagRunInfo;
}

interface Entry {
  info: DagRunInfo | undefined;
  /** The reason the DAG's next run waits, last logged (so it is said once). */
  waiting?: string;
}

export class SchedulerService {
  readonly runtime: Runtime;
  private readonly log: (line: string) => void;
  private readonly pollMs: number;
  private readonly graceMs: number;
  private readonly watchFiles: boolean;
  private readonly loadOnStart: boolean;
  private readonly onCreated: (dagId: string, runId: string) => void;
  private readonly next = new Map<string, Entry>();
  private readonly executing = new Map<string, Promise<void>>();
  private readonly paused = new Map<string, boolean>();
  private watcher: FSWatcher | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;
  private reloadWanted = false;
  private stopping = false;
  private wake: (() => void) | undefined;
  private loopDone: Promise<void> | undefined;
  private lastErrors = '';
  private lastRecovery = Number.NEGATIVE_INFINITY;

  constructor(runtime: Runtime, options: SchedulerServiceOptions = {}) {
    this.runtime = runtime;
    this.log = options.log ?? (() => {});
    this.pollMs = options.pollMs ?? runtime.config.scheduler.pollSeconds * 1000;
    this.graceMs = options.graceMs ?? runtime.config.scheduler.gracePeriodSeconds * 1000;
    this.watchFiles = options.watch ?? true;
    this.loadOnStart = options.loadDags ?? true;
    this.onCreated = options.onCreated ?? (() => {});
  }

  private get clock() {
    return this.runtime.clock;
  }

  /** Loads the DAGs, settles what a stopped runtime left, and starts the loop. */
  async start(): Promise<void> {
    if (this.loadOnStart || !this.runtime.dagBag) await this.reload();
    else await this.recompute();
    const recovered = await this.runtime.recover();
    this.lastRecovery = this.clock.now();
    for (const r of recovered) this.log(`recovered task "${r.taskId}" of run "${r.runId}" (DAG "${r.dagId}") left by a stopped runtime: now ${r.state ?? 'none'}`);
    if (this.watchFiles) this.startWatching();
    this.loopDone = this.loop();
  }

  /** Re-reads the DAG folder (the loader recompiles changed files) and recomputes next runs. */
  async reload(): Promise<void> {
    this.reloadWanted = false;
    await this.runtime.loadDags();
    await this.recompute();
  }

  /** Recomputes each DAG's next run from the DAGs the runtime has loaded (after a load). */
  async recompute(): Promise<void> {
    const bag = this.runtime.dagBag;
    if (!bag) return;
    const errors = bag.errors.map((e) => e.message).join('\n');
    if (errors !== this.lastErrors) {
      for (const e of bag.errors) this.log(`DAG file failed to load: ${e.message}`);
      this.lastErrors = errors;
    }
    const now = this.clock.now();
    const seen = new Set<string>();
    for (const dag of bag.dags.values()) {
      seen.add(dag.id);
      const before = this.next.get(dag.id);
      const info = await nextRunOf(dag, this.runtime.store, now);
      this.next.set(dag.id, { info, waiting: before?.waiting });
      if (!before) this.log(`DAG "${dag.id}" (${dag.fileloc}): ${describeSchedule(dag, info)}`);
    }
    for (const id of [...this.next.keys()]) if (!seen.has(id)) this.next.delete(id);
  }

  /** The next run of each scheduled DAG, as last computed. */
  nextRuns(): Map<string, DagRunInfo | undefined> {
    return new Map([...this.next].map(([id, e]) => [id, e.info]));
  }

  /**
   * One turn of the loop: creates the runs that are due and starts queued ones.
   * Returns the runs it created and when the next turn is needed.
   */
  async tick(): Promise<{ created: CreatedRun[]; nextAt: number; createMs: number; startMs: number }> {
    const t0 = performance.now();
    const { store } = this.runtime;
    const bag = this.runtime.dagBag;
    const now = this.clock.now();
    let nextAt = now + this.pollMs;
    const created: CreatedRun[] = [];
    if (!bag || this.stopping) return { created, nextAt, createMs: 0, startMs: 0 };
    const paused = await store.dags.paused();
    const active = await store.runs.activeCounts();
    for (const dag of bag.dags.values()) {
      const entry = this.next.get(dag.id);
      if (!entry) continue;
      const isPaused = paused.get(dag.id) ?? false;
      const was = this.paused.get(dag.id);
      this.paused.set(dag.id, isPaused);
      if (was !== undefined && was !== isPaused) {
        this.log(`DAG "${dag.id}" ${isPaused ? 'paused: no new runs' : 'unpaused'}`);
        if (!isPaused) entry.info = await nextRunOf(dag, store, now);
      }
      if (isPaused) continue;
      while (entry.info && entry.info.runAfter.getTime() <= now) {
        const n = active.get(dag.id) ?? 0;
        if (n >= dag.maxActiveRuns) {
          this.say(entry, `DAG "${dag.id}": next run (logical date ${isoformat(entry.info.logicalDate)}) waits, ${n} active run(s) of maxActiveRuns ${dag.maxActiveRuns}`);
          break;
        }
        const info = entry.info;
        const following = scheduleOf(dag).nextDagRunInfo(info.dataInterval, timeRestrictionOf(dag), now);
        if (!dag.catchup && following && following.runAfter.getTime() <= now) {
          // Catchup off and more than one interval due (the scheduler was away): skip to the
          // latest, as Airflow does when it re-computes next_dagrun at the next parse.
          entry.info = following;
          continue;
        }
        const runId = `scheduled__${isoformat(info.logicalDate)}`;
        const made = await this.createRun(dag, runId, info);
        if (made) {
          created.push({ dagId: dag.id, runId, info });
          active.set(dag.id, n + 1);
          this.log(`created ${runId} of DAG "${dag.id}": ${reason(dag, info)}`);
          this.onCreated(dag.id, runId);
        }
        entry.waiting = undefined;
        entry.info = following;
      }
      if (entry.info && entry.info.runAfter.getTime() > now) nextAt = Math.min(nextAt, entry.info.runAfter.getTime());
    }
    await this.createAssetTriggeredRuns(bag.dags, paused, active, created);
    const t1 = performance.now();
    await this.recoverGone(now);
    await this.startRuns(paused);
    return { created, nextAt, createMs: t1 - t0, startMs: performance.now() - t1 };
  }

  private say(entry: Entry, line: string): void {
    if (entry.waiting === line) return;
    entry.waiting = line;
    this.log(line);
  }

  /**
   * Asset-triggered runs (Airflow's DagModel.dags_needing_dagruns for asset-scheduled DAGs and
   * the scheduler's _create_dag_runs_asset_triggered): a DAG whose queued asset events satisfy
   * its condition gets one queued run, unless it is paused or at maxActiveRuns (then its events
   * wait in the queue, and the next run consumes them all). One small read per turn, only when
   * some DAG is scheduled on assets.
   */
  private async createAssetTriggeredRuns(dags: ReadonlyMap<string, DagSpec>, paused: Map<string, boolean>, active: Map<string, number>, created: CreatedRun[]): Promise<void> {
    if (![...dags.values()].some((d) => d.scheduleSpec.kind === 'assets')) return;
    const { store } = this.runtime;
    for (const q of await store.assets.queued()) {
      const dag = dags.get(q.dagId);
      if (!dag || dag.scheduleSpec.kind !== 'assets' || paused.get(dag.id)) continue;
      const condition = dag.scheduleSpec.condition;
      if (!evaluateCondition(condition, new Set(q.uris.keys()))) continue;
      const entry = this.next.get(dag.id) ?? { info: undefined };
      const n = active.get(dag.id) ?? 0;
      if (n >= dag.maxActiveRuns) {
        this.say(entry, `DAG "${dag.id}": its assets were updated, the run waits: ${n} active run(s) of maxActiveRuns ${dag.maxActiveRuns}`);
        continue;
      }
      try {
        validateRunParams(dag.id, dag.paramSpecs, dag.params, {});
      } catch (err) {
        this.say(entry, `cannot create an asset-triggered run of DAG "${dag.id}": ${(err as Error).message}`);
        continue;
      }
      let consumed = 0;
      const run = await store.assets.createTriggeredRun(
        dag.id,
        async (queued) => {
          // Decided again on the rows read under the lock: another scheduler may have taken them.
          if (!evaluateCondition(condition, new Set(queued.keys()))) return undefined;
          // The logical date is the newest queued event's time (Airflow 2's dataset-triggered
          // runs; Airflow 3's run_after), after the previous asset-triggered run's.
          let at = Math.max(...[...queued.values()].map((v) => Date.parse(v)));
          const last = await store.assets.lastTriggered(dag.id);
          if (last !== undefined && at <= Date.parse(last)) at = Date.parse(last) + 1;
          const logicalDate = new Date(at);
          const events = await store.assets.eventsBetween(conditionUris(condition), last, logicalDate.toISOString());
          consumed = events.length;
          const start = events.length > 0 ? events[0]!.timestamp : logicalDate.toISOString();
          return {
            run: {
              dag_id: dag.id,
              run_id: `asset_triggered__${isoformat(logicalDate)}`,
              run_type: 'asset_triggered',
              logical_date: logicalDate.toISOString(),
              data_interval_start: start < logicalDate.toISOString() ? start : logicalDate.toISOString(),
              data_interval_end: logicalDate.toISOString(),
              state: 'queued',
              conf: '{}',
              queued_at: nowIso(),
            },
            tasks: (runId) => this.insertTasks(dag, runId),
          };
        },
        (r) => store.runs.insertIfAbsent(r),
      );
      if (!run) continue;
      const logicalDate = new Date(run.logical_date);
      const info: DagRunInfo = { logicalDate, dataInterval: { start: new Date(run.data_interval_start), end: logicalDate }, runAfter: logicalDate };
      created.push({ dagId: dag.id, runId: run.run_id, info });
      active.set(dag.id, n + 1);
      entry.waiting = undefined;
      this.log(`created ${run.run_id} of DAG "${dag.id}": assets updated (${[...q.uris.keys()].join(', ')}; ${consumed} event(s)), schedule ${dag.scheduleText}`);
      this.onCreated(dag.id, run.run_id);
    }
  }

  private async insertTasks(dag: DagSpec, runId: string): Promise<void> {
    await this.runtime.store.tasks.insert([...dag.tasks.values()].map((t) => ({ dag_id: dag.id, run_id: runId, task_id: t.id, map_index: -1, max_tries: t.retries + 1, operator: t.kind, pool: t.pool, state: null })));
  }

  private async createRun(dag: DagSpec, runId: string, info: DagRunInfo): Promise<boolean> {
    const { store } = this.runtime;
    try {
      validateRunParams(dag.id, dag.paramSpecs, dag.params, {});
    } catch (err) {
      this.say(this.next.get(dag.id)!, `cannot create ${runId}: ${(err as Error).message}`);
      return false;
    }
    return store.sql.tx(async () => {
      const ok = await store.runs.insertIfAbsent({
        dag_id: dag.id,
        run_id: runId,
        run_type: 'scheduled',
        logical_date: info.logicalDate.toISOString(),
        data_interval_start: info.dataInterval.start.toISOString(),
        data_interval_end: info.dataInterval.end.toISOString(),
        state: 'queued',
        conf: '{}',
        queued_at: nowIso(),
      });
      if (!ok) return false;
      await this.insertTasks(dag, runId);
      return true;
    });
  }

  /**
   * Every half heartbeat timeout: settles runs whose runtime is gone (a scheduler on another
   * machine that stopped beating, a process here that died), so that startRuns adopts them.
   * Airflow's scheduler does this every orphaned_tasks_check_interval (adopt_or_reset_orphaned_tasks).
   */
  private async recoverGone(now: number): Promise<void> {
    const every = (this.runtime.config.scheduler.heartbeatTimeoutSeconds * 1000) / 2;
    if (now - this.lastRecovery < every) return;
    this.lastRecovery = now;
    this.logRecovered(await this.runtime.recover());
  }

  private logRecovered(recovered: readonly RecoveredTask[]): void {
    for (const r of recovered) {
      this.log(`recovered task "${r.taskId}" of run "${r.runId}" (DAG "${r.dagId}") left by a runtime that stopped: now ${r.state ?? 'none'}`);
    }
  }

  /** Starts queued runs (oldest logical date first, within maxActiveRuns) and resumes orphaned ones. */
  private async startRuns(paused: Map<string, boolean>): Promise<void> {
    const { store } = this.runtime;
    const rows = await store.runs.startable();
    for (const run of rows) {
      const k = `${run.dag_id}\u0000${run.run_id}`;
      if (this.executing.has(k) || this.stopping) continue;
      const dag = this.runtime.dagBag?.dags.get(run.dag_id);
      if (!dag) continue;
      if (run.state === 'queued') {
        if (paused.get(run.dag_id)) continue; // Airflow starts no queued run of a paused DAG
        if (!(await this.runtime.claimRun(run.dag_id, run.run_id))) continue;
        this.log(`started ${run.run_id} of DAG "${run.dag_id}"`);
      } else {
        // A running run without an owner (its runtime gave it back or was found gone): the tries
        // that no live worker runs are settled before the run is adopted. Once it is adopted, this
        // process owns it and the recovery that executeRun does would find nothing gone, so a try
        // left `running` by this process's earlier loop (a store outage) would be waited on forever.
        this.logRecovered(await this.runtime.recover({ dagId: run.dag_id, runId: run.run_id }));
        if (!(await store.runs.adopt(run.dag_id, run.run_id, selfOwner(), nowIso()))) continue;
        this.log(`resuming ${run.run_id} of DAG "${run.dag_id}", left by a runtime that stopped`);
      }
      this.execute(k, run);
    }
  }

  private execute(k: string, run: DagRunRecord): void {
    const p = this.runtime
      .executeRun(run.dag_id, run.run_id)
      .then((state) => {
        if (state === 'running' || state === 'queued') return;
        this.log(`run ${run.run_id} of DAG "${run.dag_id}" ended: ${state}`);
      })
      .catch(async (err: unknown) => {
        this.log(`run ${run.run_id} of DAG "${run.dag_id}" could not run: ${(err as Error).message}`);
        await this.giveBack(run);
      })
      .finally(() => {
        this.executing.delete(k);
        this.wake?.();
      });
    this.executing.set(k, p);
  }

  /**
   * Leaves a run whose loop failed (the store went away under it) without an owner, so that
   * this scheduler, or another, resumes it once the store answers: while this process is alive
   * and owns it, no one would count it gone. Retries until the store takes the release.
   */
  private async giveBack(run: DagRunRecord): Promise<void> {
    let said = false;
    while (!this.stopping) {
      try {
        await this.runtime.store.runs.release(run.dag_id, run.run_id, selfOwner());
        if (said) this.log(`the store answers again: run ${run.run_id} of DAG "${run.dag_id}" will resume`);
        return;
      } catch (err) {
        if (!said) this.log(`the store is unreachable (${(err as Error).message}): run ${run.run_id} of DAG "${run.dag_id}" resumes once it answers`);
        said = true;
      }
      await new Promise((r) => setTimeout(r, Math.min(this.pollMs, 1000)));
    }
  }

  /** Resolves when no run this scheduler started is executing. */
  async idle(): Promise<void> {
    while (this.executing.size > 0) await Promise.all([...this.executing.values()]);
  }

  private async loop(): Promise<void> {
    let failing: string | undefined;
    while (!this.stopping) {
      if (this.reloadWanted) {
        try {
          await this.reload();
        } catch (err) {
          this.log(`reading the DAG files failed: ${(err as Error).message}`);
        }
      }
      let nextAt: number;
      try {
        nextAt = (await this.tick()).nextAt;
        if (failing !== undefined) this.log('scheduler loop turns succeed again');
        failing = undefined;
      } catch (err) {
        // Once per cause, not once per turn: an unreachable store fails every turn until it is back.
        const message = (err as Error).message;
        if (message !== failing) this.log(`scheduler loop turn failed (retrying every ${this.pollMs / 1000} s): ${message}`);
        failing = message;
        nextAt = this.clock.now() + this.pollMs;
      }
      if (this.stopping) break;
      await new Promise<void>((resolve) => {
        const handle = this.clock.setTimeout(() => done(), Math.max(0, Math.min(nextAt - this.clock.now(), this.pollMs)));
        const done = () => {
          this.clock.clearTimeout(handle);
          this.wake = undefined;
          resolve();
        };
        this.wake = done;
      });
    }
  }

  private startWatching(): void {
    try {
      this.watcher = watch(this.runtime.config.dagsFolder, { recursive: true }, (_event, name) => {
        if (name && !/\.(ts|mts|js|mjs|json)$/.test(String(name))) return;
        clearTimeout(this.reloadTimer);
        this.reloadTimer = setTimeout(() => {
          this.reloadWanted = true;
          this.log(`DAG files changed${name ? ` (${String(name)})` : ''}: reloading`);
          this.wake?.();
        }, 200);
      });
      this.watcher.on('error', (err) => this.log(`watching ${this.runtime.config.dagsFolder} failed: ${err.message}`));
    } catch (err) {
      this.log(`not watching ${this.runtime.config.dagsFolder} for changes: ${(err as Error).message}`);
    }
  }

  /**
   * Stops: no new runs or tries; running tries get the grace period to end, then are
   * stopped (recorded as failed tries, retried by the next scheduler if they have tries
   * left). Runs not finished are left for the next scheduler to resume.
   */
  async stop(): Promise<void> {
    if (this.stopping) return this.loopDone;
    this.stopping = true;
    this.watcher?.close();
    clearTimeout(this.reloadTimer);
    this.wake?.();
    await this.loopDone;
    if (this.executing.size > 0) {
      this.log(`stopping: waiting up to ${this.graceMs / 1000}s for ${this.executing.size} run(s)' running tries to end`);
      this.runtime.drainRuns();
      let timer: unknown;
      const grace = new Promise<'grace'>((resolve) => (timer = this.clock.setTimeout(() => resolve('grace'), this.graceMs)));
      const outcome = await Promise.race([this.idle().then(() => 'idle' as const), grace]);
      this.clock.clearTimeout(timer);
      if (outcome === 'grace') {
        this.log('stopping: the grace period is over, stopping the running tries');
        this.runtime.stopRunningTries(`The scheduler stopped and its grace period of ${this.graceMs / 1000}s is over`);
        await this.idle();
      }
    }
    this.log('scheduler stopped');
  }
}

function describeSchedule(dag: DagSpec, info: DagRunInfo | undefined): string {
  if (dag.scheduleSpec.kind === 'none') return 'no schedule (manual runs only)';
  if (dag.scheduleSpec.kind === 'assets') return `scheduled on assets ${dag.scheduleText}: a run when they are updated`;
  const zone = dag.timezone === 'UTC' ? '' : ` in ${dag.timezone}`;
  if (!info) return `schedule ${dag.scheduleText}${zone}: no further runs${dag.endDate ? ` (endDate ${new Date(dag.endDate).toISOString()})` : ''}`;
  return `schedule ${dag.scheduleText}${zone}, catchup ${dag.catchup ? 'on' : 'off'}: next run ${isoformat(info.logicalDate)}, created after ${formatInZone(info.runAfter, dag.timezone)}`;
}

function reason(dag: DagSpec, info: DagRunInfo): string {
  const z = dag.timezone;
  const span =
    info.dataInterval.start.getTime() === info.dataInterval.end.getTime()
      ? `due at ${formatInZone(info.runAfter, z)}`
      : `data interval ${formatInZone(info.dataInterval.start, z)} → ${formatInZone(info.dataInterval.end, z)} closed`;
  return `${span} (schedule ${dag.scheduleText}${z === 'UTC' ? '' : ` in ${z}`}, catchup ${dag.catchup ? 'on' : 'off'})`;
}
