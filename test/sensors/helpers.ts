import type { TaskEvent } from '../../src/runtime/events.ts';
import type { Runtime } from '../../src/runtime/runtime.ts';
import type { FakeClock } from '../../src/runtime/scheduler/clock.ts';
import type { PokeRow } from '../../src/runtime/sensors/index.ts';

export const g = globalThis as unknown as Record<string, any>;

const tick = (ms = 3) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits until the test runtime's store has stopped changing for a few ms, so that
 * a poke already under way (real file or network I/O) records its result before
 * the fake clock moves on; on a loaded machine a fixed settle time is not enough.
 */
async function quiesce(done: () => boolean): Promise<void> {
  const changes = g.__hangarStoreChanges as (() => number) | undefined;
  if (!changes) return;
  let last = changes();
  for (let quiet = 0, i = 0; quiet < 3 && i < 500 && !done(); i++) {
    await tick(4);
    const now = changes();
    quiet = now === last ? quiet + 1 : 0;
    last = now;
  }
}

/**
 * Runs `work` while moving the fake clock from timer to timer, letting real
 * I/O settle (a few ms of real time) between steps. Returns what `work` returns.
 */
export async function drive<T>(
  clock: FakeClock,
  work: Promise<T>,
  opts: { maxSteps?: number; settleMs?: number; until?: number } = {},
): Promise<T> {
  let done = false;
  let error: unknown;
  let value: T | undefined;
  work.then(
    (v) => ((done = true), (value = v)),
    (e) => ((done = true), (error = e)),
  );
  for (let i = 0; i < (opts.maxSteps ?? 100_000) && !done; i++) {
    await tick(opts.settleMs);
    await quiesce(() => done);
    if (done) break;
    const next = clock.nextTimerAt();
    if (next === undefined) continue;
    if (opts.until !== undefined && next > opts.until) {
      clock.advance(Math.max(0, opts.until - clock.now()));
      break;
    }
    clock.advance(Math.max(0, next - clock.now()));
  }
  if (!done) {
    if (opts.until !== undefined) return undefined as T;
    throw new Error('drive: the work did not finish');
  }
  if (error) throw error;
  return value as T;
}

export function waitForTask(rt: Runtime, pred: (e: TaskEvent) => boolean): Promise<TaskEvent> {
  return new Promise((resolve) => {
    const on = (e: TaskEvent) => {
      if (pred(e)) {
        rt.events.off('task', on);
        resolve(e);
      }
    };
    rt.events.on('task', on);
  });
}

export async function xcom(
  rt: Runtime,
  dagId: string,
  runId: string,
  taskId: string,
  key = 'return_value',
  mapIndex = -1,
): Promise<unknown> {
  const row = await rt.store.xcoms.get(dagId, runId, taskId, key, mapIndex);
  return row ? rt.backend.deserialize({ dagId, runId, taskId, mapIndex, key }, row.value) : undefined;
}

export function pokes(rt: Runtime, dagId: string, runId?: string, taskId?: string): Promise<PokeRow[]> {
  return rt.store.sensors.listPokes({ dagId, runId, taskId });
}

/** The waits between successive pokes, from the recorded poke times (ms). */
export function gaps(rows: readonly PokeRow[]): number[] {
  return rows.slice(1).map((r, i) => r.poked_at_ms - rows[i]!.poked_at_ms);
}
