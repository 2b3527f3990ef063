/**
 * SLA / deadline checks of sensors, done by the runtime (a run observer), not
 * by the sensor's own loop: they fire even while the sensor waits for a slot,
 * sits in `up_for_reschedule`, or hangs in a poke.
 *
 * For each sensor with `sla`, each level's deadline is
 * `anchor + after`, the anchor being the run's logical date, its data interval
 * end, or its start (`run_start`: the runtime clock's time when a runtime first
 * ran the run, persisted in `sensor_sla_anchors` so that a resumed run keeps
 * its deadlines). A clock timer fires at the deadline; if the sensor has not
 * finished by then, the miss is inserted in `sensor_sla_misses` (primary key:
 * DAG, run, task, level) and only the insert that created the row calls
 * `onSlaMiss` — once, even across restarts or two runtimes on one store.
 */
import type { TaskSpec } from '../processor/serialized.ts';
import type { RunObserverContext, RunObserver } from '../scheduler/observers.ts';
import { FINISHED_STATES } from '../store/records.ts';
import type { TaskState } from '../store/records.ts';
import type { SensorSettings, SlaMissEvent } from './types.ts';

export function sensorSettingsOf(task: Pick<TaskSpec, 'kind' | 'extra'>): SensorSettings | undefined {
  return task.kind === 'sensor' ? (task.extra['sensor'] as SensorSettings | undefined) : undefined;
}

export function slaObserver(o: RunObserverContext): RunObserver | undefined {
  const sensors = [...o.dag.tasks.values()].filter((t) => sensorSettingsOf(t)?.sla);
  if (sensors.length === 0 || o.run.run_type === 'test') return undefined;
  const { store, clock, run } = o;
  let anchor: number | undefined;
  const timers = new Set<unknown>();
  let disposed = false;
  // Timers longer than setTimeout's limit (~24.8 days) are re-armed in steps.
  const MAX_DELAY = 2_147_483_647;
  const arm = (fn: () => void, atMs: number) => {
    const delay = Math.max(0, atMs - clock.now());
    const h = clock.setTimeout(
      () => {
        timers.delete(h);
        if (disposed) return;
        if (atMs - clock.now() > 0 && delay >= MAX_DELAY) arm(fn, atMs);
        else fn();
      },
      Math.min(delay, MAX_DELAY),
    );
    timers.add(h);
  };

  const check = async (task: TaskSpec, settings: SensorSettings, level: string, deadlineMs: number) => {
    if (disposed) return;
    const states = await store.sensors.taskInstanceStates(run.dag_id, run.run_id, task.id);
    if (states.length > 0 && states.every((state) => state !== null && FINISHED_STATES.has(state))) return;
    const taskState: TaskState | null = states.find((state) => state === null || !FINISHED_STATES.has(state)) ?? null;
    const deadline = new Date(deadlineMs).toISOString();
    const inserted = await store.sensors.insertSlaMiss({
      dag_id: run.dag_id,
      run_id: run.run_id,
      task_id: task.id,
      level,
      deadline_ms: deadlineMs,
      deadline,
      detected_ms: clock.now(),
      task_state: taskState,
    });
    if (!inserted) return;
    o.events.emit('warning', {
      dagId: run.dag_id,
      runId: run.run_id,
      taskId: task.id,
      message: `SLA miss (${level}): sensor "${task.id}" of DAG "${run.dag_id}" had not finished by ${deadline} (state ${taskState ?? 'none'})`,
    });
    if (settings.onSlaMiss) {
      const event: SlaMissEvent = {
        dagId: run.dag_id,
        runId: run.run_id,
        taskId: task.id,
        mapIndex: -1,
        level,
        deadline,
        taskState,
      };
      const r = await o.runCallback({ taskId: task.id, name: 'onSlaMiss', context: { ...event } });
      if (!r.ok) {
        o.events.emit('warning', {
          dagId: run.dag_id,
          runId: run.run_id,
          taskId: task.id,
          message: `onSlaMiss callback of sensor "${task.id}" failed (ignored): ${r.error}`,
        });
      }
    }
  };

  // Reads the store, so it runs after the observer is returned; dispose waits for it.
  const start = async (): Promise<void> => {
    for (const task of sensors) {
      const settings = sensorSettingsOf(task)!;
      const sla = settings.sla!;
      const base =
        sla.relativeTo === 'logical_date'
          ? Date.parse(run.logical_date)
          : sla.relativeTo === 'data_interval_end'
            ? Date.parse(run.data_interval_end)
            : (anchor ??= await store.sensors.slaAnchor(run.dag_id, run.run_id, clock.now()));
      for (const { afterMs, level } of sla.levels) {
        if (disposed) return;
        if (await store.sensors.hasSlaMiss(run.dag_id, run.run_id, task.id, level)) continue;
        const deadlineMs = base + afterMs;
        arm(() => void check(task, settings, level, deadlineMs).catch(warn), deadlineMs);
      }
    }
  };
  const warn = (err: unknown): void => {
    o.events.emit('warning', {
      dagId: run.dag_id,
      runId: run.run_id,
      message: `SLA checks of run "${run.run_id}" of DAG "${run.dag_id}" failed: ${(err as Error)?.message ?? String(err)}`,
    });
  };
  const started = start().catch(warn);
  return {
    async dispose() {
      disposed = true;
      await started;
      for (const t of timers) clock.clearTimeout(t);
    },
  };
}
