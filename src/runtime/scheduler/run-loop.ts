import type { CallbackRequest, CallbackResult, ExecuteRequest, ExecuteResult, TaskExecutor } from '../executor/types.ts';
import { tryRunOf } from '../executor/types.ts';
import type { DagSpec, TaskSpec } from '../processor/serialized.ts';
import { tryLogPath } from '../executor/logger.ts';
import { describeError, resolveExpandLists } from '../executor/task-runner.ts';
import type { XComBackend } from '../xcom/index.ts';
import type { Store } from '../store/store.ts';
import { nowIso } from '../store/store.ts';
import type { DagRunRecord, RunState, TaskInstanceRecord, TaskState } from '../store/records.ts';
import type { TryEnd } from '../store/repos/tasks.ts';
import type { TryKey } from '../store/repos/dispatch.ts';
import { FINISHED_STATES } from '../store/records.ts';
import { buildTemplateContext } from '../templating/index.ts';
import type { Clock } from './clock.ts';
import { retryDelayMs } from './retry.ts';
import { evaluateSetupConstraint, evaluateTriggerRule } from './trigger-rules.ts';
import type { SetupCounts, TriggerDecision, UpstreamCounts } from './trigger-rules.ts';
import { effectiveLeaves, hasSetups, relevantSetups } from './setup-teardown.ts';
import type { RuntimeEvents } from '../events.ts';
import type { Pools } from './pools.ts';
import { runObserverFactories } from './observers.ts';
import type { RunObserver, RunObserverFactory } from './observers.ts';
import { failOrphanTry } from './maintenance.ts';
import { describeOwner, hostName as hostname, processAlive, selfOwner } from './owner.ts';
import { Variables } from '../variables.ts';
import { isStoreUnwritable } from '../store/unwritable.ts';

export interface RunLoopDeps {
  readonly store: Store;
  readonly executor: TaskExecutor;
  readonly backend: XComBackend;
  readonly clock: Clock;
  readonly events: RuntimeEvents;
  readonly pools: Pools;
  readonly workspace: string;
  readonly logsDir: string;
  readonly parallelism: { running: number; readonly limit: number };
  /** How often to look at task instances another runtime claimed. */
  readonly externalPollMs?: number;
  /** Watchers of the run (SLA checks…); default: the registered ones. */
  readonly observers?: readonly RunObserverFactory[];
  /** How long a callback of the DAG's code may run (default 60 s). */
  readonly callbackTimeoutMs?: number;
  /** How often the run's owner beats (default 5 s; the runtime: a sixth of scheduler.heartbeatTimeoutSeconds). */
  readonly heartbeatMs?: number;
}

interface TI {
  readonly task: TaskSpec;
  readonly mapIndex: number;
  state: TaskState | null;
  tryNumber: number;
  readonly maxTries: number;
  /** Claimed by another runtime: we watch it instead of running it. */
  external?: boolean;
  /** Waiting in the ready queue for a slot. */
  inReady?: boolean;
}

const isUnfinished = (s: TaskState | null) => s === null || !FINISHED_STATES.has(s);

interface Completion {
  readonly ti: TI;
  readonly req: ExecuteRequest;
  readonly result: ExecuteResult;
  readonly startDate: string;
  readonly endDate: string;
}

/** A state change of the loop's, waiting for the turn's commit (RunLoop.inTurn). */
interface PendingWrite {
  readonly ti: TI;
  readonly state: TaskState;
  readonly extra: Partial<TaskInstanceRecord>;
  readonly tryNumber: number;
}

type MutableCounts = { -readonly [K in keyof UpstreamCounts]: UpstreamCounts[K] };

const zeroCounts = (): MutableCounts => ({ upstream: 0, success: 0, skipped: 0, failed: 0, upstreamFailed: 0, removed: 0, done: 0 });

function bump(c: MutableCounts, state: TaskState | null, by: number): void {
  switch (state) {
    case 'success':
      c.success += by;
      c.done += by;
      break;
    case 'skipped':
      c.skipped += by;
      c.done += by;
      break;
    case 'failed':
      c.failed += by;
      c.done += by;
      break;
    case 'upstream_failed':
      c.upstreamFailed += by;
      c.done += by;
      break;
    case 'removed':
      c.removed += by;
      c.done += by;
      break;
    default:
      break;
  }
}

const key = (taskId: string, mapIndex: number) => `${taskId}\u0000${mapIndex}`;

/** How often a task held by dependsOnPast looks at the previous run again. */
const PAST_RECHECK_MS = 2000;

/** The pool every task is in unless it names another (Airflow's default_pool). */
const DEFAULT_POOL = 'default_pool';
/** How often a task waiting for a named pool that other processes fill looks again. */
const POOL_RECHECK_MS = 500;

/**
 * Drives one DAG run to its end. The scheduling is incremental: each task keeps
 * the counts of its upstream states, updated when an upstream task instance
 * changes, so a state change costs O(out-degree) and a run O(tasks + edges).
 */
export class RunLoop {
  private readonly deps: RunLoopDeps;
  private readonly dag: DagSpec;
  private run: DagRunRecord;
  private readonly tis = new Map<string, TI>();
  private readonly byTask = new Map<string, TI[]>();
  private readonly counts = new Map<string, MutableCounts>();
  private readonly candidates = new Set<string>();
  /** Ready task instances in arrival order; sensor pokes wait behind ordinary tasks. */
  private readonly ready = new ReadyQueue();
  /** Ready task instances whose state is still none: written `scheduled` if they must wait for a slot. */
  private readonly unmarked = new Set<TI>();
  private readonly running = new Set<string>();
  private readonly timers = new Set<unknown>();
  private readonly abort = new AbortController();
  private wake: (() => void) | undefined;
  private pending = 0;
  private failedReason: string | undefined;
  /** Why a task instance is held by dependsOnPast, last reported (said once per reason). */
  private readonly heldBy = new Map<string, string>();
  /** Set by drain(): no new tries start; the loop ends once running ones have. */
  private draining = false;
  /** Why the run is no longer this runtime's (another took it over), once it is not. */
  private lost: string | undefined;
  /** The store's disk is full or read-only (a write, a beat or a try said so): the loop stops at its next turn. */
  private unwritable: Error | undefined;
  private activeInDag = 0;
  private unfinished = 0;
  /** Tries that ended and are not yet in the store; written together, one commit per loop turn. */
  private readonly completed: Completion[] = [];
  /** Tries adopted from a runtime that stopped, launched when the loop starts. */
  private readonly adopted: { ti: TI; launch: () => Promise<void> }[] = [];
  /** A look at the named pools is due (their slots were taken by other processes). */
  private poolRecheck = false;
  /** State changes not yet written: the next turn writes them in its transaction, then reports them. */
  private readonly writes: PendingWrite[] = [];
  /** Setup tasks: a task's relevant setups that are not its direct upstream, and who waits on each. */
  private readonly indirectSetups = new Map<string, string[]>();
  private readonly setupDependents = new Map<string, string[]>();

  constructor(deps: RunLoopDeps, dag: DagSpec, run: DagRunRecord) {
    this.deps = deps;
    this.dag = dag;
    this.run = run;
    if (hasSetups(dag.tasks)) {
      for (const [taskId, setups] of relevantSetups(dag.tasks)) {
        const indirect = setups.filter((s) => !dag.tasks.get(taskId)!.upstream.has(s));
        if (indirect.length === 0) continue;
        this.indirectSetups.set(taskId, indirect);
        for (const s of indirect) {
          let list = this.setupDependents.get(s);
          if (!list) this.setupDependents.set(s, (list = []));
          list.push(taskId);
        }
      }
    }
  }

  /** Runs until every task instance has finished; returns the run's final state. */
  async execute(signal?: AbortSignal): Promise<RunState> {
    const { store, clock } = this.deps;
    const onCancel = () => this.cancel(signal?.reason instanceof Error ? signal.reason.message : 'The run was cancelled');
    if (signal?.aborted) onCancel();
    signal?.addEventListener('abort', onCancel, { once: true });
    // Parallelism is shared by the runs of a runtime: a slot another run frees may be ours.
    const onSlotFreed = () => {
      if (this.ready.size > 0) this.poke();
    };
    this.deps.events.on('slot-freed', onSlotFreed);
    let heartbeat: NodeJS.Timeout | undefined;
    const observers: RunObserver[] = [];
    try {
      await this.loadTaskInstances();
      // The run is this runtime's (Runtime.executeRun took it). Liveness for crash recovery: another
      // runtime treats the run as orphaned once the heartbeat stops; a beat that finds the run
      // taken over stops the run here (the turn's ownership check keeps it from writing meanwhile).
      const owner = selfOwner();
      heartbeat = setInterval(() => {
        store.runs.beat(this.run.dag_id, this.run.run_id, owner, nowIso()).then(
          ({ mine, cancel }) => {
            if (!mine) this.lose();
            else if (cancel !== null) this.cancel(cancel);
          },
          (err: unknown) => {
            // A busy or unreachable store: the next beat will do. A full or read-only disk: stop.
            if (isStoreUnwritable(err)) this.halt(err as Error);
          },
        );
      }, this.deps.heartbeatMs ?? 5_000);
      heartbeat.unref();
      for (const factory of this.deps.observers ?? runObserverFactories()) {
        try {
          const o = factory({ dag: this.dag, run: this.run, store, clock, events: this.deps.events, runCallback: (r) => this.runCallback(r) });
          if (o) observers.push(o);
        } catch (err) {
          this.deps.events.emit('warning', { dagId: this.dag.id, runId: this.run.run_id, message: `A run observer failed to start (ignored): ${describeError(err)}` });
        }
      }
      if (this.dag.dagrunTimeoutMs !== undefined) {
        // Stored times are wall-clock times; the timer runs on the runtime's clock (a fake one in tests):
        // what is left is the timeout less the time the run has already been going.
        const elapsed = Math.max(0, Date.now() - Date.parse(this.run.start_date ?? nowIso()));
        const remaining = Math.max(0, this.dag.dagrunTimeoutMs - elapsed);
        this.addTimer(() => this.cancel(`The run exceeded its dagrunTimeout of ${this.dag.dagrunTimeoutMs! / 1000}s`), remaining);
      }
      for (const { ti, launch } of this.adopted.splice(0)) this.launchAdopted(ti, launch);
      for (;;) {
        // Nothing more is claimed or written once the store's disk has failed: the catch below stops the tries.
        if (this.unwritable) throw this.unwritable;
        await this.drainCompleted();
        await this.schedulePass();
        await this.dispatch();
        if (this.unfinished === 0 && this.running.size === 0 && this.completed.length === 0) break;
        if (this.draining && this.running.size === 0 && this.completed.length === 0) return await this.suspend();
        if (this.running.size === 0 && this.completed.length === 0 && this.ready.size === 0 && this.candidates.size === 0 && this.timers.size === 0) {
          if (this.failedReason) {
            this.finishUnfinished('skipped');
            break;
          }
          // Nothing can ever run again: Airflow's deadlock.
          this.failedReason = 'Deadlock: no task can run (their trigger rules can never be met)';
          this.finishUnfinished('upstream_failed');
          break;
        }
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          if (this.pending > 0) resolve();
        });
        this.wake = undefined;
        this.pending = 0;
        // Give timers and I/O a turn: in-process tries that finish without real I/O (sensor pokes in
        // reschedule mode) would otherwise chain in microtasks and starve other tasks' timers.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      return await this.finishRun();
    } catch (err) {
      // The store failed under the loop (unreachable, a dropped connection): what this loop holds in
      // memory can no longer be written. Its tries stop (recorded as lost and retried when the run
      // resumes; a distributed try goes on on its worker and is adopted then), and the error goes up.
      if (!this.lost && this.running.size > 0) {
        const why = isStoreUnwritable(err) ? (err as Error).message : describeError(err);
        this.abort.abort(new Error(`Stopped: the store failed under the run (${why}); the run resumes once it answers`));
        const until = Date.now() + 30_000;
        while (this.running.size > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      }
      throw err;
    } finally {
      if (heartbeat) clearInterval(heartbeat);
      for (const o of observers) {
        try {
          await o.dispose();
        } catch (err) {
          this.deps.events.emit('warning', { dagId: this.dag.id, runId: this.run.run_id, message: `A run observer failed to stop (ignored): ${describeError(err)}` });
        }
      }
      signal?.removeEventListener('abort', onCancel);
      this.deps.events.off('slot-freed', onSlotFreed);
      for (const t of this.timers) clock.clearTimeout(t);
      this.timers.clear();
    }
  }

  /**
   * Stops starting tries (a scheduler shutting down): the tries already running go on, and
   * once they have ended the run is left for another runtime to resume (`running`, no owner).
   */
  drain(): void {
    this.draining = true;
    this.poke();
  }

  /** Aborts the running tries without ending the run (a drain's grace period is over). */
  stopTries(reason: string): void {
    this.draining = true;
    this.abort.abort(new Error(reason));
    this.poke();
  }

  private async suspend(): Promise<RunState> {
    await this.inTurn(() => this.deps.store.runs.release(this.run.dag_id, this.run.run_id, selfOwner()));
    this.deps.events.emit('warning', { dagId: this.dag.id, runId: this.run.run_id, message: `Run "${this.run.run_id}" left for the next scheduler: no running tries, the rest will resume` });
    return 'running';
  }

  /** Stops the run: running tries are aborted and what has not finished is skipped. */
  cancel(reason: string): void {
    if (this.failedReason) return;
    this.failedReason = reason;
    this.candidates.clear();
    for (const ti of this.ready.drain()) {
      ti.inReady = false;
      this.setState(ti, 'skipped', { error: reason });
    }
    this.abort.abort(new Error(reason));
    this.poke();
  }

  private poke(): void {
    this.pending++;
    this.wake?.();
  }

  /**
   * Runs fn after ms on the runtime's clock. Work that fn starts asynchronously (a store read)
   * keeps the timer counted until it is done, so the loop never takes that moment for a deadlock.
   */
  private addTimer(fn: () => unknown, ms: number): void {
    const handle = this.deps.clock.setTimeout(() => {
      const done = () => {
        this.timers.delete(handle);
        this.poke();
      };
      const r = fn();
      if (!(r instanceof Promise)) return done();
      r.catch((err: unknown) => {
        if (isStoreUnwritable(err)) return this.halt(err as Error);
        this.deps.events.emit('warning', { dagId: this.dag.id, runId: this.run.run_id, message: `Run "${this.run.run_id}": ${describeError(err)}` });
      }).finally(done);
    }, ms);
    this.timers.add(handle);
  }

  // ---- state --------------------------------------------------------------------

  private async loadTaskInstances(): Promise<void> {
    const rows = await this.deps.store.tasks.list(this.run.dag_id, this.run.run_id);
    for (const task of this.dag.tasks.values()) this.counts.set(task.id, zeroCounts());
    for (const row of rows) {
      const task = this.dag.tasks.get(row.task_id);
      if (!task) continue; // removed from the DAG file since the run was created
      this.addTI(task, row.map_index, row.state, row.try_number, row.max_tries);
    }
    for (const task of this.dag.tasks.values()) {
      // A test run holds only the task under test; it runs without its upstream.
      if (!this.byTask.has(task.id) && this.run.run_type !== 'test') {
        // A task added to the DAG after the run was created.
        await this.deps.store.tasks.insert([{ dag_id: this.run.dag_id, run_id: this.run.run_id, task_id: task.id, map_index: -1, max_tries: task.retries + 1, operator: task.kind, pool: task.pool, state: null }]);
        this.addTI(task, -1, null, 0, task.retries + 1);
      }
    }
    for (const ti of this.tis.values()) {
      if (ti.state === 'running' || ti.state === 'queued') {
        // Left over from a runtime that is gone (crash recovery marks these first), or claimed by another runtime.
        const row = (await this.deps.store.tasks.get(this.run.dag_id, this.run.run_id, ti.task.id, ti.mapIndex))!;
        const tryKey = { dag_id: row.dag_id, run_id: row.run_id, task_id: row.task_id, map_index: row.map_index, try_number: row.try_number };
        if (this.deps.executor.adoptable && (await this.deps.executor.adoptable(tryKey))) {
          // Still running on a worker (distributed executor): follow it to its end instead of failing it.
          const tries = await this.deps.store.tasks.listTries(row.dag_id, row.run_id, row.task_id, row.map_index);
          const record = tries.find((t) => t.try_number === row.try_number);
          const logPath =
            record?.log_path ??
            this.deps.executor.logPathFor?.(row.dag_id, row.run_id, row.task_id, row.map_index, row.try_number) ??
            tryLogPath(this.deps.logsDir, row.dag_id, row.run_id, row.task_id, row.map_index, row.try_number);
          this.running.add(key(ti.task.id, ti.mapIndex));
          this.adopted.push({ ti, launch: this.launcher(ti, row.try_number, logPath, record?.start_date ?? row.start_date ?? nowIso(), ti.state) });
          continue;
        }
        this.watchExternal(ti, row);
      } else if (ti.state === 'up_for_retry' || ti.state === 'up_for_reschedule') {
        const row = (await this.deps.store.tasks.get(this.run.dag_id, this.run.run_id, ti.task.id, ti.mapIndex))!;
        const at = row.next_try_at ? Date.parse(row.next_try_at) : this.deps.clock.now();
        this.addTimer(() => this.candidates.add(key(ti.task.id, ti.mapIndex)), Math.max(0, at - this.deps.clock.now()));
      } else if (ti.state === null || ti.state === 'scheduled') {
        this.candidates.add(key(ti.task.id, ti.mapIndex));
      }
    }
  }

  private addTI(task: TaskSpec, mapIndex: number, state: TaskState | null, tryNumber: number, maxTries: number): TI {
    const ti: TI = { task, mapIndex, state, tryNumber, maxTries };
    this.tis.set(key(task.id, mapIndex), ti);
    if (isUnfinished(state)) this.unfinished++;
    let list = this.byTask.get(task.id);
    if (!list) this.byTask.set(task.id, (list = []));
    list.push(ti);
    for (const d of task.downstream) {
      const c = this.counts.get(d)!;
      c.upstream++;
      bump(c, state, 1);
    }
    return ti;
  }

  private removeTI(ti: TI): void {
    this.tis.delete(key(ti.task.id, ti.mapIndex));
    if (isUnfinished(ti.state)) this.unfinished--;
    const list = this.byTask.get(ti.task.id)!;
    list.splice(list.indexOf(ti), 1);
    for (const d of ti.task.downstream) {
      const c = this.counts.get(d)!;
      c.upstream--;
      bump(c, ti.state, -1);
    }
  }

  /**
   * A state change decided by this loop: the counts of downstream tasks follow at once; the
   * store gets it in the turn's transaction (inTurn), and it is reported once committed.
   */
  private setState(ti: TI, state: TaskState, extra: Partial<TaskInstanceRecord> = {}): void {
    this.applyState(ti, ti.state, state);
    this.writes.push({ ti, state, extra, tryNumber: ti.tryNumber });
  }

  /**
   * Runs fn in one transaction with the state changes pending (one commit per turn), then
   * reports those changes: nothing is reported before it is committed.
   */
  private async inTurn<T>(fn: () => Promise<T>): Promise<T> {
    const { store } = this.deps;
    let written: PendingWrite[] = [];
    const result = await store.sql.tx(async () => {
      await this.checkOwner();
      const r = await fn();
      written = this.writes.splice(0);
      await store.tasks.updateMany(written.map((w) => ({ key: { dag_id: this.run.dag_id, run_id: this.run.run_id, task_id: w.ti.task.id, map_index: w.ti.mapIndex }, fields: { state: w.state, ...w.extra } })));
      return r;
    });
    for (const w of written) this.report(w.ti, w.state, w.extra, w.tryNumber);
    return result;
  }

  /**
   * At the start of each turn's transaction: the run must still be this runtime's. Another
   * scheduler takes a run over only when its heartbeat has been silent for the heartbeat
   * timeout (a store that was unreachable, a process that was stopped): then this loop must
   * not write another state. On PostgreSQL the row stays locked to the end of the turn.
   */
  private async checkOwner(): Promise<void> {
    const now = await this.deps.store.runs.ownerOf(this.run.dag_id, this.run.run_id);
    const me = selfOwner();
    if (now && now.owner_pid === me.pid && now.owner_host === me.host) return;
    const by = now?.owner_pid != null ? `taken over by ${describeOwner(now)}` : 'released by crash recovery elsewhere';
    throw this.lose(`Run "${this.run.run_id}" of DAG "${this.dag.id}" is no longer this runtime's (${by}; its heartbeat had been silent too long): its tries here were stopped and nothing more is written`);
  }

  /**
   * The store's disk is full or read-only: claim nothing more, write nothing more; the loop's next
   * turn throws the error (its tries are stopped there, and settled when the run resumes).
   */
  private halt(err: Error): void {
    this.unwritable ??= err;
    this.draining = true;
    this.poke();
  }

  /** The run was taken over: stop its tries here; the loop ends at its next turn. */
  private lose(reason = `Run "${this.run.run_id}" of DAG "${this.dag.id}" was taken over by another runtime`): Error {
    this.lost ??= reason;
    this.draining = true;
    if (!this.abort.signal.aborted) this.abort.abort(new Error(this.lost));
    this.poke();
    return new Error(this.lost);
  }

  /** Applies a state already written to the store, and reports it. */
  private announce(ti: TI, state: TaskState, extra: Partial<TaskInstanceRecord> = {}): void {
    this.applyState(ti, ti.state, state);
    this.report(ti, state, extra, ti.tryNumber);
  }

  private report(ti: TI, state: TaskState, extra: Partial<TaskInstanceRecord>, tryNumber: number): void {
    this.deps.events.emit('task', {
      dagId: this.run.dag_id,
      runId: this.run.run_id,
      taskId: ti.task.id,
      mapIndex: ti.mapIndex,
      state,
      tryNumber,
      nextTryAt: extra.next_try_at ?? undefined,
      error: extra.error ?? undefined,
      duration: extra.duration ?? undefined,
    });
  }

  private applyState(ti: TI, old: TaskState | null, state: TaskState): void {
    ti.state = state;
    if (old === state) return;
    this.unfinished += (isUnfinished(state) ? 1 : 0) - (isUnfinished(old) ? 1 : 0);
    for (const d of ti.task.downstream) {
      const c = this.counts.get(d)!;
      bump(c, old, -1);
      bump(c, state, 1);
      if (FINISHED_STATES.has(state)) for (const dti of this.byTask.get(d) ?? []) this.candidates.add(key(d, dti.mapIndex));
    }
    // Tasks that wait on this setup without it being their direct upstream look again.
    const dependents = this.setupDependents.get(ti.task.id);
    if (dependents && FINISHED_STATES.has(state)) for (const d of dependents) for (const dti of this.byTask.get(d) ?? []) this.candidates.add(key(d, dti.mapIndex));
  }

  /**
   * Airflow's TriggerRuleDep for one task instance: first the setup constraint (its relevant setups
   * that are not direct upstream must have succeeded; teardowns have none), then its trigger rule
   * over its direct upstream (a teardown's all_done_setup_success counts the setups among them).
   */
  private decide(task: TaskSpec): TriggerDecision {
    const indirect = this.indirectSetups.get(task.id);
    const constraint = indirect ? evaluateSetupConstraint(this.countsOf(indirect)) : 'run';
    if (constraint === 'skipped' || constraint === 'upstream_failed') return constraint;
    let setups: SetupCounts | undefined;
    if (task.triggerRule === 'all_done_setup_success') {
      const c = this.countsOf([...task.upstream].filter((u) => this.dag.tasks.get(u)!.isSetup));
      setups = { upstream: c.upstream, success: c.success, skipped: c.skipped };
    }
    const direct = evaluateTriggerRule(task.triggerRule, this.counts.get(task.id)!, setups);
    return direct === 'run' && constraint === 'wait' ? 'wait' : direct;
  }

  /** The state counts of every task instance of the given tasks (a few setups: counted when asked). */
  private countsOf(taskIds: readonly string[]): MutableCounts {
    const c = zeroCounts();
    for (const id of taskIds) {
      for (const ti of this.byTask.get(id) ?? []) {
        c.upstream++;
        bump(c, ti.state, 1);
      }
    }
    return c;
  }

  // ---- scheduling -----------------------------------------------------------------

  private async schedulePass(): Promise<void> {
    while (this.candidates.size > 0) {
      const batch = [...this.candidates];
      this.candidates.clear();
      for (const k of batch) {
        const ti = this.tis.get(k);
        if (!ti || ti.external) continue;
        if (ti.state === 'up_for_retry' || ti.state === 'up_for_reschedule') {
          this.queue(ti);
          continue;
        }
        if (ti.state !== null && ti.state !== 'scheduled') continue;
        if (this.failedReason) continue;
        const decision = this.decide(ti.task);
        if (decision === 'wait') continue;
        if (decision === 'skipped' || decision === 'upstream_failed') {
          this.setState(ti, decision, { end_date: nowIso() });
          continue;
        }
        if (ti.task.dependsOnPast && this.run.run_type !== 'test' && !(await this.pastAllows(ti))) continue;
        if (ti.task.expand && ti.mapIndex === -1) {
          await this.expand(ti);
          continue;
        }
        this.queue(ti);
      }
    }
  }

  /**
   * Airflow's PrevDagrunDep (depends_on_past / wait_for_downstream): the same task instance
   * of the previous run (the previous non-manual run when the DAG catches up) must have
   * succeeded or been skipped, and with wait_for_downstream its direct downstream task
   * instances too. The first run passes. A held task instance is looked at again later.
   */
  private async pastAllows(ti: TI): Promise<boolean> {
    const { store } = this.deps;
    const prev = await store.runs.previous(this.run.dag_id, this.run.logical_date, this.dag.catchup);
    if (!prev) return true;
    const rowsOf = async (taskId: string, mapIndex?: number) => {
      const all = await store.tasks.listOfTask(this.run.dag_id, prev.run_id, taskId);
      const same = mapIndex === undefined ? all : all.filter((r) => r.map_index === mapIndex);
      return same.length || mapIndex !== -1 ? same : all;
    };
    const done = (s: TaskState | null) => s === 'success' || s === 'skipped';
    let why: string | undefined;
    const mine = await rowsOf(ti.task.id, ti.mapIndex);
    if (mine.length === 0) why = `the previous run "${prev.run_id}" has no task instance of it yet`;
    else if (!mine.every((r) => done(r.state))) why = `in the previous run "${prev.run_id}" it is ${mine.map((r) => r.state ?? 'none').join(', ')}, not success or skipped`;
    else if (ti.task.waitForDownstream) {
      for (const d of ti.task.downstream) {
        const rows = await rowsOf(d);
        if (!rows.every((r) => done(r.state))) {
          why = `waitForDownstream: in the previous run "${prev.run_id}" its downstream task "${d}" is ${rows.map((r) => r.state ?? 'none').join(', ')}`;
          break;
        }
      }
    }
    if (why === undefined) return true;
    const k = key(ti.task.id, ti.mapIndex);
    if (this.heldBy.get(k) !== why) {
      this.heldBy.set(k, why);
      this.deps.events.emit('warning', { dagId: this.dag.id, runId: this.run.run_id, taskId: ti.task.id, message: `Task "${ti.task.id}" of run "${this.run.run_id}" waits (dependsOnPast): ${why}` });
    }
    this.addTimer(() => this.candidates.add(k), PAST_RECHECK_MS);
    return false;
  }

  /** Replaces a mapped task's placeholder with one task instance per element (none: skipped). */
  private async expand(placeholder: TI): Promise<void> {
    const task = placeholder.task;
    let lists: Record<string, unknown[]>;
    try {
      const templateScope = buildTemplateContext({
        dagId: this.dag.id,
        taskId: task.id,
        runId: this.run.run_id,
        mapIndex: -1,
        tryNumber: 0,
        logicalDate: new Date(this.run.logical_date),
        dataIntervalStart: new Date(this.run.data_interval_start),
        dataIntervalEnd: new Date(this.run.data_interval_end),
        params: { ...this.dag.params, ...(JSON.parse(this.run.conf) as object) },
        conf: JSON.parse(this.run.conf) as Record<string, unknown>,
        variable: await new Variables(this.deps.store).reader(),
      });
      lists = await resolveExpandLists(
        { store: this.deps.store, backend: this.deps.backend, dag: this.dag, runId: this.run.run_id, taskId: task.id, mapIndex: -1 },
        task,
        templateScope,
      );
    } catch (err) {
      this.setState(placeholder, 'failed', { error: describeError(err), end_date: nowIso() });
      return;
    }
    const n = Object.values(lists).reduce((acc, l) => acc * l.length, 1);
    if (n === 0) {
      this.setState(placeholder, 'skipped', { end_date: nowIso(), error: 'expanded over an empty list' });
      return;
    }
    await this.deps.store.tasks.expand({ dag_id: this.run.dag_id, run_id: this.run.run_id, task_id: task.id, map_index: -1, max_tries: task.retries + 1, operator: task.kind, pool: task.pool, state: null }, n);
    this.removeTI(placeholder);
    for (let i = 0; i < n; i++) {
      this.addTI(task, i, null, 0, task.retries + 1);
      this.candidates.add(key(task.id, i));
    }
    this.deps.events.emit('expanded', { dagId: this.run.dag_id, runId: this.run.run_id, taskId: task.id, count: n });
  }

  /** Puts a task instance in the ready queue; it is written as `scheduled` only if it has to wait for a slot. */
  private queue(ti: TI): void {
    if (ti.inReady) return;
    ti.inReady = true;
    this.ready.add(ti);
    if (ti.state === null) this.unmarked.add(ti);
  }

  /**
   * Starts what can start. Claims and `scheduled` writes of one turn share a
   * commit; nothing is reported or launched before that commit.
   */
  private async dispatch(): Promise<void> {
    const { parallelism } = this.deps;
    const full = parallelism.running >= parallelism.limit || this.activeInDag >= this.dag.maxActiveTasks;
    // Nothing to claim or write: no transaction (a turn woken by a try's start, or with every slot taken).
    if (this.writes.length === 0 && this.unmarked.size === 0 && (this.ready.size === 0 || this.draining || full)) return;
    const launches: (() => void)[] = [];
    await this.inTurn(async () => {
      await this.dispatchReady(launches);
      for (const ti of this.unmarked) {
        this.unmarked.delete(ti);
        if (ti.state !== null || !ti.inReady) continue;
        this.setState(ti, 'scheduled');
      }
    });
    for (const launch of launches) launch();
  }

  private async dispatchReady(launches: (() => void)[]): Promise<void> {
    const { pools, parallelism } = this.deps;
    if (this.draining) return;
    // Claimed together at the end of the pass (one statement), or before a named pool is counted
    // in the store (which must see the claims before it).
    const batch: { ti: TI; release: () => void }[] = [];
    for (const ti of this.ready) {
      if (parallelism.running >= parallelism.limit || this.activeInDag >= this.dag.maxActiveTasks) break;
      let acquired: boolean;
      try {
        acquired = pools.tryAcquire(ti.task.pool, ti.task.poolSlots);
      } catch (err) {
        this.ready.delete(ti);
        ti.inReady = false;
        this.setState(ti, 'failed', { error: `Task "${ti.task.id}": ${(err as Error).message}`, end_date: nowIso() });
        continue;
      }
      if (!acquired) continue;
      const release = () => pools.release(ti.task.pool, ti.task.poolSlots);
      // A named pool is shared by every process on the store (other schedulers, a CLI run beside the
      // editor): its slots in use are counted there, in this turn's transaction. The default pool is
      // counted per process (its size bounds each one), which spares every claim a query.
      if (ti.task.pool !== DEFAULT_POOL) {
        await this.claim(batch.splice(0), launches);
        if (!(await this.deps.store.tasks.poolHasRoom(ti.task.pool, ti.task.poolSlots, pools.size(ti.task.pool)))) {
          release();
          if (!this.poolRecheck) {
            // Slots freed by another process wake nothing here: look again in a while.
            this.poolRecheck = true;
            this.addTimer(() => {
              this.poolRecheck = false;
              this.poke();
            }, POOL_RECHECK_MS);
          }
          continue;
        }
      }
      this.ready.delete(ti);
      ti.inReady = false;
      // Counted now: the limits above see the tries of this pass; given back if a claim loses.
      parallelism.running++;
      this.activeInDag++;
      batch.push({ ti, release });
    }
    await this.claim(batch, launches);
  }

  /**
   * Claims the next try of each task instance (guarded updates, one statement, inside the
   * dispatch transaction) and adds what starts each once that is committed. A task instance
   * another runtime claimed first is watched instead.
   */
  private async claim(batch: readonly { ti: TI; release: () => void }[], launches: (() => void)[]): Promise<void> {
    if (batch.length === 0) return;
    const { store, executor, parallelism } = this.deps;
    const startDate = nowIso();
    // Handed to worker processes, a try is `queued` until a worker starts it; in this process it runs at once.
    const claimState = executor.name === 'in-process' ? 'running' : 'queued';
    const claims = batch.map(({ ti }) => {
      const tryNumber = ti.tryNumber + 1;
      const logPath = executor.logPathFor
        ? executor.logPathFor(this.run.dag_id, this.run.run_id, ti.task.id, ti.mapIndex, tryNumber)
        : tryLogPath(this.deps.logsDir, this.run.dag_id, this.run.run_id, ti.task.id, ti.mapIndex, tryNumber);
      return { key: { dag_id: this.run.dag_id, run_id: this.run.run_id, task_id: ti.task.id, map_index: ti.mapIndex }, expectedTryNumber: ti.tryNumber, log_path: logPath, pool_slots: ti.task.poolSlots };
    });
    const won = await store.tasks.claimTries(claims, [null, 'scheduled', 'up_for_retry', 'up_for_reschedule'], { pid: process.pid, hostname: hostname(), start_date: startDate }, claimState);
    const claimed: { key: TryKey; queue: string }[] = [];
    for (let i = 0; i < batch.length; i++) {
      const { ti, release } = batch[i]!;
      if (!won[i]) {
        parallelism.running--;
        this.activeInDag--;
        release();
        this.watchExternal(ti, (await store.tasks.get(this.run.dag_id, this.run.run_id, ti.task.id, ti.mapIndex))!);
        continue;
      }
      claimed.push({ key: { ...claims[i]!.key, try_number: ti.tryNumber + 1 }, queue: ti.task.queue });
    }
    await executor.claimed?.(claimed, this.dag.bundle.hash);
    for (let i = 0; i < batch.length; i++) {
      if (!won[i]) continue;
      const { ti, release } = batch[i]!;
      const tryNumber = ti.tryNumber + 1;
      ti.tryNumber = tryNumber;
      this.running.add(key(ti.task.id, ti.mapIndex));
      const launch = this.launcher(ti, tryNumber, claims[i]!.log_path, startDate, claimState);
      launches.push(() => {
        void launch().finally(() => {
          parallelism.running--;
          this.activeInDag--;
          release();
          this.deps.events.emit('slot-freed', {});
          this.poke();
        });
      });
    }
  }

  /**
   * What runs a claimed try through the executor and records its end as completed: for a try
   * claimed now, or one adopted from a runtime that stopped (`state` is then what it was left in).
   */
  private launcher(ti: TI, tryNumber: number, logPath: string, startDate: string, claimState: TaskState): () => Promise<void> {
    const { store } = this.deps;
    const k = key(ti.task.id, ti.mapIndex);
    const tiKey = { dag_id: this.run.dag_id, run_id: this.run.run_id, task_id: ti.task.id, map_index: ti.mapIndex };
    return async () => {
      this.applyState(ti, ti.state, claimState);
      this.deps.events.emit('task', { dagId: this.run.dag_id, runId: this.run.run_id, taskId: ti.task.id, mapIndex: ti.mapIndex, state: claimState, tryNumber, logPath });
      const req: ExecuteRequest = {
        workspace: this.deps.workspace,
        dagFile: this.dag.fileloc,
        bundle: this.dag.bundle.path,
        bundleHash: this.dag.bundle.hash,
        queue: ti.task.queue,
        dagId: this.dag.id,
        runId: this.run.run_id,
        run: tryRunOf(this.run),
        taskId: ti.task.id,
        mapIndex: ti.mapIndex,
        tryNumber,
        maxTries: ti.maxTries,
        logPath,
        timeoutMs: ti.task.executionTimeoutMs,
      };
      let result: ExecuteResult;
      // The worker's start, written before the try's end is (the end waits for it).
      let started: Promise<void> | undefined;
      try {
        result = await this.deps.executor.execute(req, this.abort.signal, (pid, host, recorded) => {
          if (claimState === 'running') return;
          started = (recorded ? Promise.resolve() : store.tasks.markTryRunning(tiKey, tryNumber, pid, host)).then(
            () => {
              this.applyState(ti, ti.state, 'running');
              this.deps.events.emit('task', { dagId: this.run.dag_id, runId: this.run.run_id, taskId: ti.task.id, mapIndex: ti.mapIndex, state: 'running', tryNumber, logPath });
            },
            (err: unknown) => {
              if (isStoreUnwritable(err)) return this.halt(err as Error);
              this.deps.events.emit('warning', { dagId: this.dag.id, runId: this.run.run_id, taskId: ti.task.id, message: `Task "${ti.task.id}": its start could not be recorded: ${describeError(err)}` });
            },
          );
        });
      } catch (err) {
        result = { ok: false, error: describeError(err), pid: process.pid };
      }
      await started;
      this.running.delete(k);
      // The try could not write to the store (its XCom, its start): the disk is the store's, so the run stops.
      if (!result.ok && result.storeUnwritable) this.halt(Object.assign(new Error(result.error), { name: 'StoreUnwritableError' }));
      this.completed.push({ ti, req, result, startDate, endDate: nowIso() });
    };
  }

  /** Runs an adopted try within this runtime's limits (its pool slot is taken if free; it runs either way). */
  private launchAdopted(ti: TI, launch: () => Promise<void>): void {
    const { pools, parallelism } = this.deps;
    let acquired = false;
    try {
      acquired = pools.tryAcquire(ti.task.pool, ti.task.poolSlots);
    } catch {
      // an unknown pool: the try was started under it elsewhere; it finishes here
    }
    parallelism.running++;
    this.activeInDag++;
    this.deps.events.emit('warning', { dagId: this.dag.id, runId: this.run.run_id, taskId: ti.task.id, message: `Task "${ti.task.id}" try ${ti.tryNumber}: adopted from the runtime that stopped (it goes on where it runs)` });
    void launch().finally(() => {
      parallelism.running--;
      this.activeInDag--;
      if (acquired) pools.release(ti.task.pool, ti.task.poolSlots);
      this.deps.events.emit('slot-freed', {});
      this.poke();
    });
  }

  /** Writes every ended try of this turn in one transaction, then reports them and runs what follows. */
  private async drainCompleted(): Promise<void> {
    if (this.completed.length === 0) return;
    const batch = this.completed.splice(0);
    const followUps: (() => Promise<void> | void)[] = [];
    await this.inTurn(async () => {
      const ends: TryEnd[] = [];
      for (const c of batch) followUps.push(await this.finishTry(c, ends));
      await this.deps.store.tasks.endTries(ends);
    });
    for (const f of followUps) await f();
  }

  /**
   * How a try ended, added to `ends` (written together inside drainCompleted's transaction);
   * returns what to do once committed.
   */
  private async finishTry(c: Completion, ends: TryEnd[]): Promise<() => Promise<void> | void> {
    const { ti, req, result, startDate, endDate } = c;
    const { store, clock } = this.deps;
    const duration = (Date.parse(endDate) - Date.parse(startDate)) / 1000;
    const tiKey = { dag_id: this.run.dag_id, run_id: this.run.run_id, task_id: ti.task.id, map_index: ti.mapIndex };
    let state: TaskState;
    let nextTryAt: string | null = null;
    let delay = 0;
    const error = result.ok ? (result.skipped ?? null) : result.error;
    if (result.ok && result.reschedule && !this.failedReason) {
      return this.reschedule(ti, req, result.reschedule.at, startDate, endDate, duration, result.pid, result.hostname ?? hostname(), ends);
    }
    // skipTask / failWithoutRetry (executor/services.ts): a sensor's softFail and its timeout.
    if (result.ok && result.skipped !== undefined) state = 'skipped';
    else if (result.ok) state = 'success';
    else if (!this.failedReason && !result.noRetry && ti.tryNumber < ti.maxTries) {
      state = 'up_for_retry';
      delay = retryDelayMs(ti.task, { dagId: this.dag.id, taskId: ti.task.id, runId: this.run.run_id, mapIndex: ti.mapIndex }, ti.tryNumber);
      nextTryAt = new Date(clock.now() + delay).toISOString();
    } else state = 'failed';
    ends.push({
      t: { ...tiKey, try_number: ti.tryNumber, state: state === 'up_for_retry' ? 'failed' : state, start_date: startDate, end_date: endDate, duration, pid: result.pid, hostname: result.hostname ?? hostname(), error, log_path: req.logPath },
      fields: { state, end_date: endDate, duration, error, next_try_at: nextTryAt, pid: result.pid },
    });
    // Assets: a success records an event per outlet, in this same transaction (Airflow's register_asset_change).
    if (state === 'success' && ti.task.outlets.length > 0) {
      await store.assets.recordEvents(ti.task.outlets, { dagId: this.run.dag_id, runId: this.run.run_id, taskId: ti.task.id, mapIndex: ti.mapIndex }, endDate, result.ok ? result.assetExtra : undefined);
    }
    return async () => {
      this.announce(ti, state, { next_try_at: nextTryAt, error, duration });
      if (state === 'up_for_retry') this.addTimer(() => this.candidates.add(key(ti.task.id, ti.mapIndex)), delay);
      await this.runTaskCallback(ti, state, error);
      if (result.ok) this.applyBranching(ti, result);
    };
  }

  /**
   * A sensor in reschedule mode that is not done: its slot is free again, and it
   * waits as `up_for_reschedule` until its next poke, persisted so that a restart
   * resumes it. The try is not used up: the next poke runs under the same try number.
   */
  private reschedule(ti: TI, req: ExecuteRequest, at: string, startDate: string, endDate: string, duration: number, pid: number, host: string, ends: TryEnd[]): () => void {
    const { clock } = this.deps;
    const tiKey = { dag_id: this.run.dag_id, run_id: this.run.run_id, task_id: ti.task.id, map_index: ti.mapIndex };
    const atMs = Date.parse(at);
    const nextTryAt = new Date(Number.isNaN(atMs) ? clock.now() : atMs).toISOString();
    ends.push({
      t: { ...tiKey, try_number: ti.tryNumber, state: 'up_for_reschedule', start_date: startDate, end_date: endDate, duration, pid, hostname: host, error: null, log_path: req.logPath },
      fields: { state: 'up_for_reschedule', try_number: ti.tryNumber - 1, end_date: endDate, duration, next_try_at: nextTryAt, pid },
    });
    return () => {
      ti.tryNumber -= 1;
      this.announce(ti, 'up_for_reschedule', { next_try_at: nextTryAt, duration });
      this.addTimer(() => this.candidates.add(key(ti.task.id, ti.mapIndex)), Math.max(0, Date.parse(nextTryAt) - clock.now()));
    };
  }

  /** Branch and short-circuit results skip tasks, as Airflow's SkipMixin does. */
  private applyBranching(ti: TI, result: Extract<ExecuteResult, { ok: true }>): void {
    const task = ti.task;
    let toSkip: string[] = [];
    if (result.follow) {
      const follow = new Set(result.follow);
      toSkip = [...task.downstream].filter((d) => !follow.has(d));
    } else if (result.proceed === false) {
      if (task.ignoreDownstreamTriggerRules === false) toSkip = [...task.downstream];
      else {
        const seen = new Set<string>();
        const stack = [...task.downstream];
        while (stack.length) {
          const d = stack.pop()!;
          if (seen.has(d)) continue;
          seen.add(d);
          stack.push(...this.dag.tasks.get(d)!.downstream);
        }
        toSkip = [...seen];
      }
    }
    for (const taskId of toSkip) {
      for (const dti of [...(this.byTask.get(taskId) ?? [])]) {
        if (dti.state === null || dti.state === 'scheduled') {
          this.ready.delete(dti);
          dti.inReady = false;
          this.setState(dti, 'skipped', { end_date: nowIso() });
        }
      }
    }
  }

  /** Runs a callback of the DAG's code through the executor (a task worker, or this process for in-process). */
  private runCallback(r: Pick<CallbackRequest, 'taskId' | 'name' | 'context' | 'logPath'>): Promise<CallbackResult> {
    return this.deps.executor.callback({
      workspace: this.deps.workspace,
      dagFile: this.dag.fileloc,
      bundle: this.dag.bundle.path,
      bundleHash: this.dag.bundle.hash,
      dagId: this.dag.id,
      timeoutMs: this.deps.callbackTimeoutMs ?? 60_000,
      ...r,
    });
  }

  private async runTaskCallback(ti: TI, state: TaskState, error: string | null): Promise<void> {
    const name = state === 'success' ? 'onSuccess' : state === 'failed' ? 'onFailure' : state === 'up_for_retry' ? 'onRetry' : undefined;
    if (!name || !ti.task.callbacks[name]) return;
    const context = { dagId: this.dag.id, taskId: ti.task.id, runId: this.run.run_id, mapIndex: ti.mapIndex, tryNumber: ti.tryNumber, ...(error === null ? {} : { error }) };
    const logPath = tryLogPath(this.deps.logsDir, this.run.dag_id, this.run.run_id, ti.task.id, ti.mapIndex, ti.tryNumber);
    const r = await this.runCallback({ taskId: ti.task.id, name, context, logPath });
    if (!r.ok) this.deps.events.emit('warning', { dagId: this.dag.id, runId: this.run.run_id, taskId: ti.task.id, message: `${name} callback of task "${ti.task.id}" failed (ignored): ${r.error}` });
  }

  /** Watches a task instance that another runtime owns, until it finishes. */
  private watchExternal(ti: TI, row: TaskInstanceRecord): void {
    ti.external = true;
    this.applyState(ti, ti.state, row.state ?? 'running');
    const check = async () => {
      const now = await this.deps.store.tasks.get(this.run.dag_id, this.run.run_id, ti.task.id, ti.mapIndex);
      if ((now?.state === 'running' || now?.state === 'queued') && now.pid !== null && now.hostname === hostname() && !processAlive(now.pid)) {
        // Its runtime or worker died without finishing it: settle it (once, guarded) and take it over.
        await failOrphanTry(this.deps.store, this.dag, now, this.deps.clock.now(), `The process running this try (pid ${now.pid}) is gone`);
        this.addTimer(check, 0);
        return;
      }
      const state = now?.state ?? null;
      if (state !== ti.state && state !== null) {
        ti.tryNumber = now!.try_number;
        this.applyState(ti, ti.state, state);
        this.deps.events.emit('task', { dagId: this.run.dag_id, runId: this.run.run_id, taskId: ti.task.id, mapIndex: ti.mapIndex, state, tryNumber: ti.tryNumber });
      }
      if (state !== null && FINISHED_STATES.has(state)) {
        ti.external = false;
        return;
      }
      if (state === 'up_for_retry' || state === 'scheduled' || state === null) {
        // The other runtime gave it back; we may run it.
        ti.external = false;
        this.candidates.add(key(ti.task.id, ti.mapIndex));
        return;
      }
      this.addTimer(check, this.deps.externalPollMs ?? 250);
    };
    this.addTimer(check, this.deps.externalPollMs ?? 250);
  }

  private finishUnfinished(state: TaskState): void {
    for (const ti of this.tis.values()) {
      if (ti.state === null || (!FINISHED_STATES.has(ti.state) && ti.state !== 'running')) this.setState(ti, state, { end_date: nowIso(), error: this.failedReason ?? null });
    }
  }

  private async finishRun(): Promise<RunState> {
    // Teardowns do not decide the run's state unless they fail it (failRunOnFailure): Airflow's effective leaves.
    const leaves = effectiveLeaves(this.dag.tasks);
    const leafStates =
      this.run.run_type === 'test'
        ? [...this.tis.values()].map((ti) => ti.state)
        : leaves.flatMap((id) => (this.byTask.get(id) ?? []).map((ti) => ti.state));
    let state: RunState;
    if (this.failedReason) state = 'failed';
    else if (leafStates.some((s) => s === 'failed' || s === 'upstream_failed')) state = 'failed';
    else state = 'success';
    const failedTasks = [...this.tis.values()].filter((ti) => ti.state === 'failed').map((ti) => ti.task.id);
    // A cancel asked from another process is answered: the request goes with the run's end.
    await this.inTurn(() => this.deps.store.runs.update(this.run.dag_id, this.run.run_id, { state, end_date: nowIso(), owner_pid: null, owner_host: null, cancel_requested: null }));
    this.deps.events.emit('run', { dagId: this.run.dag_id, runId: this.run.run_id, state, reason: this.failedReason });
    const name = state === 'success' ? 'onSuccess' : 'onFailure';
    if (this.dag.callbacks[name]) {
      const r = await this.runCallback({ name, context: { dagId: this.dag.id, runId: this.run.run_id, state, failedTasks } });
      if (!r.ok) this.deps.events.emit('warning', { dagId: this.dag.id, runId: this.run.run_id, message: `DAG ${name} callback failed (ignored): ${r.error}` });
    }
    return state;
  }
}

/**
 * The ready queue: ordinary tasks first, then sensor pokes, each in arrival
 * order, so a crowd of sensors never starves ordinary tasks of slots. Sets keep
 * insertion order and O(1) removal, so dispatching from a queue of 10,000 is cheap.
 */
class ReadyQueue {
  private readonly tasks = new Set<TI>();
  private readonly sensors = new Set<TI>();

  get size(): number {
    return this.tasks.size + this.sensors.size;
  }
  add(ti: TI): void {
    (ti.task.kind === 'sensor' ? this.sensors : this.tasks).add(ti);
  }
  delete(ti: TI): void {
    this.tasks.delete(ti);
    this.sensors.delete(ti);
  }
  drain(): TI[] {
    const all = [...this];
    this.tasks.clear();
    this.sensors.clear();
    return all;
  }
  *[Symbol.iterator](): IterableIterator<TI> {
    yield* this.tasks;
    yield* this.sensors;
  }
}
