/**
 * Operations on stored runs that are not the run loop itself: crash recovery
 * (runs whose runtime died), clearing tasks for a re-run, and marking tasks.
 */
import type { DagSpec } from '../processor/serialized.ts';
import type { Store } from '../store/store.ts';
import { nowIso } from '../store/store.ts';
import type { DagRunRecord, TaskInstanceRecord, TaskState } from '../store/records.ts';
import type { TiKey } from '../store/repos/tasks.ts';
import type { XComBackend } from '../xcom/index.ts';
import { retryDelayMs } from './retry.ts';
import { describeOwner, ownerGone, processAlive } from './owner.ts';
import { setupsAndTeardownsToClear } from './setup-teardown.ts';

export interface RecoveredTask {
  readonly dagId: string;
  readonly runId: string;
  readonly taskId: string;
  readonly mapIndex: number;
  readonly state: TaskState | null;
}

/**
 * Finds runs whose runtime is gone (scheduler/owner.ts: nobody owns them, their heartbeat
 * is older than `staleMs`, or their process on this host is dead) and settles what it left
 * behind: a `running` try fails (and is retried if it has tries left); `scheduled`/`queued`
 * tasks go back to be scheduled again. The run is then owned by nobody, for a scheduler to
 * adopt. Several schedulers may find the same run gone: the first to release it (a guarded
 * update on the owner and heartbeat it saw) settles it; the others leave it.
 * Airflow's counterpart: SchedulerJobRunner.adopt_or_reset_orphaned_tasks (airflow/jobs/scheduler_job_runner.py).
 */
export async function recoverOrphans(
  store: Store,
  dags: (dagId: string) => DagSpec | undefined,
  now: number,
  staleMs: number,
  isAlive: (pid: number) => boolean = processAlive,
  only?: { dagId: string; runId: string },
  adoptable?: (key: TiKey & { try_number: number }) => Promise<boolean>,
): Promise<RecoveredTask[]> {
  const recovered: RecoveredTask[] = [];
  // One run: a keyed lookup, so starting many runs does not scan every active run each time.
  const runs = await store.runs.active(only);
  for (const run of runs) {
    if (run.state === 'queued' && run.owner_pid === null) continue; // never started: nothing to settle
    if (!ownerGone(run, now, staleMs, isAlive)) continue;
    const dag = dags(run.dag_id);
    await store.sql.tx(async () => {
      if (!(await store.runs.releaseGone(run))) return; // another scheduler settled it, or its owner beat
      const tis = (await store.tasks.list(run.dag_id, run.run_id)).filter((t) => t.state === 'running' || t.state === 'queued' || t.state === 'scheduled');
      for (const ti of tis) {
        const key = { dag_id: ti.dag_id, run_id: ti.run_id, task_id: ti.task_id, map_index: ti.map_index };
        if (ti.state === 'scheduled') {
          await store.tasks.update(key, { state: null });
          recovered.push({ dagId: ti.dag_id, runId: ti.run_id, taskId: ti.task_id, mapIndex: ti.map_index, state: null });
          continue;
        }
        // A try on a live worker of the distributed executor outlives its scheduler: the next owner follows it.
        if (adoptable && (await adoptable({ ...key, try_number: ti.try_number }))) continue;
        const state = await failOrphanTry(store, dag, ti, now, `The runtime running this try (${describeOwner(run)}) stopped before it ended (its process is gone or its heartbeat stopped)`);
        if (state === undefined) continue;
        recovered.push({ dagId: ti.dag_id, runId: ti.run_id, taskId: ti.task_id, mapIndex: ti.map_index, state });
      }
    });
  }
  return recovered;
}

/**
 * Ends a `running` try whose process is gone: failed, or up for retry when it
 * has tries left. Guarded on state and try number, so it settles a try once.
 */
export async function failOrphanTry(store: Store, dag: DagSpec | undefined, ti: TaskInstanceRecord, now: number, error: string): Promise<TaskState | undefined> {
  const task = dag?.tasks.get(ti.task_id);
  const retry = ti.try_number < ti.max_tries;
  const state: TaskState = retry ? 'up_for_retry' : 'failed';
  const ident = { dagId: ti.dag_id, taskId: ti.task_id, runId: ti.run_id, mapIndex: ti.map_index };
  const nextTryAt = retry ? new Date(now + (task ? retryDelayMs(task, ident, ti.try_number) : 0)).toISOString() : null;
  return (await store.tasks.settleOrphanTry(ti, state, error, nextTryAt)) ? state : undefined;
}

export interface ClearOptions {
  readonly taskIds?: readonly string[];
  readonly downstream?: boolean;
  readonly upstream?: boolean;
  /** Only task instances that failed (failed, upstream_failed): Airflow's "clear failed". */
  readonly onlyFailed?: boolean;
}

/**
 * Which task ids a clear touches. A cleared task brings its setups and their teardowns along, so
 * that it runs again inside what its setups make (Airflow's DAG.partial_subset; setup-teardown.ts).
 */
export function tasksToClear(dag: DagSpec, tis: readonly TaskInstanceRecord[], o: ClearOptions): Set<string> {
  const chosen = new Set<string>(o.taskIds ?? (o.onlyFailed ? [] : [...dag.tasks.keys()]));
  if (o.onlyFailed) for (const ti of tis) if (ti.state === 'failed' || ti.state === 'upstream_failed') chosen.add(ti.task_id);
  for (const id of chosen) if (!dag.tasks.has(id)) throw new Error(`DAG "${dag.id}" has no task "${id}"`);
  const walk = (dir: 'upstream' | 'downstream') => {
    const stack = [...chosen];
    while (stack.length) {
      for (const next of dag.tasks.get(stack.pop()!)![dir]) {
        if (!chosen.has(next)) {
          chosen.add(next);
          stack.push(next);
        }
      }
    }
  };
  const base = new Set(chosen);
  if (o.downstream) walk('downstream');
  if (o.upstream) {
    const down = new Set(chosen);
    chosen.clear();
    for (const b of base) chosen.add(b);
    walk('upstream');
    for (const d of down) chosen.add(d);
  }
  for (const id of setupsAndTeardownsToClear(dag.tasks, base, o)) chosen.add(id);
  return chosen;
}

/**
 * Clears task instances of a run so they run again (Airflow's clear): their
 * XComs go, each gets its retries again, every earlier try keeps its log, and
 * the run goes back to `queued`.
 */
export async function clearTasks(store: Store, backend: XComBackend, dag: DagSpec, run: DagRunRecord, options: ClearOptions): Promise<TaskInstanceRecord[]> {
  const tis = await store.tasks.list(run.dag_id, run.run_id);
  if (tis.some((t) => t.state === 'running')) {
    const running = tis.filter((t) => t.state === 'running').map((t) => t.task_id);
    throw new Error(`Run "${run.run_id}" of DAG "${run.dag_id}" has running tasks (${running.join(', ')}); wait for them or stop the run first`);
  }
  const ids = tasksToClear(dag, tis, options);
  const failedOnly = options.onlyFailed && !options.taskIds && !options.downstream && !options.upstream;
  const cleared = tis.filter((t) => ids.has(t.task_id) && (!failedOnly || t.state === 'failed' || t.state === 'upstream_failed'));
  for (const ti of cleared) {
    for (const x of await store.xcoms.list({ dagId: ti.dag_id, runId: ti.run_id, taskId: ti.task_id, mapIndex: ti.map_index })) {
      await backend.purge({ dagId: x.dag_id, runId: x.run_id, taskId: x.task_id, mapIndex: x.map_index, key: x.key }, x.value);
    }
  }
  await store.sql.tx(async () => {
    for (const ti of cleared) {
      await store.xcoms.delete({ dagId: ti.dag_id, runId: ti.run_id, taskId: ti.task_id, mapIndex: ti.map_index });
      const task = dag.tasks.get(ti.task_id);
      await store.tasks.update(
        { dag_id: ti.dag_id, run_id: ti.run_id, task_id: ti.task_id, map_index: ti.map_index },
        { state: null, max_tries: ti.try_number + (task?.retries ?? 0) + 1, end_date: null, duration: null, error: null, next_try_at: null },
      );
    }
    await store.runs.update(run.dag_id, run.run_id, { state: 'queued', end_date: null });
  });
  return cleared;
}

/** Marks task instances success or failed by hand (Airflow's "mark success/failed"). */
export async function markTask(store: Store, run: DagRunRecord, taskId: string, state: 'success' | 'failed', mapIndex?: number): Promise<TaskInstanceRecord[]> {
  const tis = (await store.tasks.list(run.dag_id, run.run_id)).filter((t) => t.task_id === taskId && (mapIndex === undefined || t.map_index === mapIndex));
  if (tis.length === 0) throw new Error(`Run "${run.run_id}" of DAG "${run.dag_id}" has no task "${taskId}"${mapIndex !== undefined ? `[${mapIndex}]` : ''}`);
  if (tis.some((t) => t.state === 'running')) throw new Error(`Task "${taskId}" is running; it cannot be marked ${state} now`);
  await store.sql.tx(async () => {
    for (const ti of tis) await store.tasks.update({ dag_id: ti.dag_id, run_id: ti.run_id, task_id: ti.task_id, map_index: ti.map_index }, { state, end_date: nowIso(), error: state === 'failed' ? 'marked failed by hand' : null });
    if (run.state === 'success' || run.state === 'failed') await store.runs.update(run.dag_id, run.run_id, { state: 'queued', end_date: null });
  });
  return (await store.tasks.list(run.dag_id, run.run_id)).filter((t) => t.task_id === taskId);
}
