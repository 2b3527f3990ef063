/**
 * What other processes do to the store, as the runtime's own events: the editor's runtime
 * server runs this so that its trees, grid, Gantt and log documents follow runs it did not
 * start — a `hangar scheduler` or `hangar run` in a terminal beside the editor (SQLite), or the
 * team's schedulers and workers (PostgreSQL).
 *
 * Every `intervalMs` it reads the task instances changed since the newest change it has seen
 * (minus `marginMs`: a transaction that commits after a later one, or a writer whose clock is a
 * little behind, still counts), and the runs queued, running or ended in that window; it
 * reports each one whose state (and try) differ from what it last saw or was told. On SQLite
 * it reads nothing while no other connection has committed (PRAGMA data_version). The first
 * read only learns the state; changes are reported from the second on. What this process's
 * runtime reports itself is told to `saw()`, so it is not reported twice.
 */
import type { RunEvent, TaskEvent } from './events.ts';
import type { TaskState } from './store/records.ts';
import type { Store } from './store/store.ts';

/** A task instance's change: as the runtime's own event, or a clear (no state). */
export type WatchedTaskEvent = Omit<TaskEvent, 'state'> & { state: TaskState | null };

export interface StoreWatcherOptions {
  /** Between reads (default 1000 ms). */
  readonly intervalMs?: number;
  /** How far before the newest change seen each read looks again (default 10 s). */
  readonly marginMs?: number;
  /** At most this many task instances a read (default 20,000: the oldest changes first). */
  readonly limit?: number;
  readonly onRun: (e: RunEvent) => void;
  readonly onTask: (e: WatchedTaskEvent) => void;
  /** A read failed (the store is unreachable): said once until a read succeeds again. */
  readonly onError?: (err: Error) => void;
  readonly now?: () => number;
}

const tiKey = (dagId: string, runId: string, taskId: string, mapIndex: number) =>
  `${dagId}\u0000${runId}\u0000${taskId}\u0000${mapIndex}`;
const runKey = (dagId: string, runId: string) => `${dagId}\u0000${runId}`;

export class StoreWatcher {
  private readonly store: Store;
  private readonly opts: StoreWatcherOptions;
  /** Task instance → its state and try as last seen or told, and when it changed (ms). */
  private readonly tasks = new Map<string, { sig: string; at: number }>();
  /** Run → its state as last seen or told. */
  private runs = new Map<string, string>();
  /** The newest `updated_at` read so far (ms). */
  private newest: number | undefined;
  private version: number | undefined;
  private primed = false;
  /** The last read hit the limit: there is more to read. */
  private behind = false;
  /** …and all its rows had the same change time. */
  private stuck = false;
  private failing = false;
  private timer: NodeJS.Timeout | undefined;
  private reading: Promise<void> | undefined;
  private stopped = false;

  constructor(store: Store, opts: StoreWatcherOptions) {
    this.store = store;
    this.opts = opts;
  }

  start(): void {
    if (this.timer || this.stopped) return;
    const tick = () => {
      this.reading = this.read().finally(() => {
        this.reading = undefined;
        if (!this.stopped) this.timer = setTimeout(tick, this.opts.intervalMs ?? 1000);
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.reading;
  }

  /** What this process's runtime reported itself (already in the store): not to be reported again. */
  saw(e: { kind: 'task'; event: WatchedTaskEvent } | { kind: 'run'; event: RunEvent }): void {
    if (e.kind === 'task') {
      const t = e.event;
      this.tasks.set(tiKey(t.dagId, t.runId, t.taskId, t.mapIndex), {
        sig: `${t.state}|${t.tryNumber}`,
        at: (this.opts.now ?? Date.now)(),
      });
    } else this.runs.set(runKey(e.event.dagId, e.event.runId), e.event.state);
  }

  /** One read (exposed for tests; the timer calls it). */
  async read(): Promise<void> {
    const { store, opts } = this;
    const now = (opts.now ?? Date.now)();
    try {
      const version = await store.views.othersWrote();
      if (this.primed && version !== undefined && version === this.version) return;
      const margin = opts.marginMs ?? 10_000;
      // The window: from the newest change seen, less the margin (a transaction that commits
      // after a later one, a writer whose clock is a little behind).
      const horizon = Math.min(this.newest ?? now, now) - margin;
      // After a read that hit the limit, the next goes on from its newest change (within the
      // margin, more changes than the limit would otherwise be read again forever); after one
      // whose rows all had one change time (one statement wrote them, e.g. a large mapped
      // expansion), past it: those left unread are shown when their run is next read whole.
      const from = this.behind ? this.newest! + (this.stuck ? 1 : 0) : horizon;
      const limit = opts.limit ?? 20_000;
      const [tis, runs] = await Promise.all([
        store.views.changedTasks(new Date(from).toISOString(), limit),
        store.views.watchedRuns(new Date(horizon).toISOString()),
      ]);
      this.behind = tis.length >= limit;
      this.stuck = this.behind && tis[0]!.updated_at === tis[tis.length - 1]!.updated_at;
      // Behind: read again next time, whatever data_version says.
      this.version = this.behind ? undefined : version;
      for (const ti of tis) {
        const mapIndex = Number(ti.map_index);
        const tryNumber = Number(ti.try_number);
        const key = tiKey(ti.dag_id, ti.run_id, ti.task_id, mapIndex);
        const sig = `${ti.state}|${tryNumber}`;
        const at = Date.parse(ti.updated_at);
        if (at > (this.newest ?? -Infinity)) this.newest = at;
        const known = this.tasks.get(key);
        this.tasks.set(key, { sig, at: Math.max(at, known?.at ?? at) });
        if (!this.primed || known?.sig === sig) continue;
        opts.onTask({
          dagId: ti.dag_id,
          runId: ti.run_id,
          taskId: ti.task_id,
          mapIndex,
          state: ti.state,
          tryNumber,
          ...(ti.next_try_at ? { nextTryAt: ti.next_try_at } : {}),
          ...(ti.error ? { error: ti.error } : {}),
          ...(ti.duration !== null ? { duration: Number(ti.duration) } : {}),
        });
      }
      const seenRuns = new Map<string, string>();
      for (const r of runs) {
        const key = runKey(r.dag_id, r.run_id);
        seenRuns.set(key, r.state);
        if (this.primed && this.runs.get(key) !== r.state)
          opts.onRun({ dagId: r.dag_id, runId: r.run_id, state: r.state });
      }
      // Only what is in the window is kept: an instance or run that leaves it and changes again
      // comes back with a newer change (reported: it is one).
      const keepFrom = Math.min(this.newest ?? now, now) - margin;
      for (const [key, t] of this.tasks) if (t.at < keepFrom) this.tasks.delete(key);
      this.runs = seenRuns;
      this.primed = true;
      this.failing = false;
    } catch (err) {
      if (!this.failing) opts.onError?.(err as Error);
      this.failing = true;
    }
  }
}
