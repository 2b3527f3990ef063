/**
 * The distributed executor (the scheduler's side): each try becomes a BullMQ job on its
 * task's queue, run by a `hangar worker` on any machine. The queue only carries the job;
 * the store is where a try is claimed and where its outcome is written (repos/dispatch.ts),
 * so that Redis losing or redelivering a job changes nothing:
 *
 * - a try is recorded in `try_dispatch` and enqueued under a job id that is its identity;
 * - a worker claims it with a guarded update before it runs it (a second delivery finds it
 *   claimed and does nothing), and writes the outcome back with another;
 * - this side waits for the outcome: told by the worker (Redis pub/sub) once it has stored the
 *   try's start and its end, it reads the outcome from the store; it reads the store as a
 *   backstop when told nothing. A job that vanished before any worker claimed it (Redis restarted
 *   without persistence) is enqueued again; a try whose worker stopped heart-beating for
 *   `scheduler.heartbeatTimeoutSeconds` ends as crashed, and Hangar's retries take over
 *   (Airflow's zombie tasks). Retries are never BullMQ's.
 */
import { hostname as osHostname } from 'node:os';
import type { Queue } from 'bullmq';
import type { DistributedConfig } from '../config.ts';
import { tryLogPath } from '../executor/logger.ts';
import type {
  CallbackRequest,
  CallbackResult,
  ExecuteRequest,
  ExecuteResult,
  TaskExecutor,
} from '../executor/types.ts';
import type { Store } from '../store/store.ts';
import { nowIso } from '../store/clock.ts';
import type { DispatchRecord, TryKey } from '../store/repos/dispatch.ts';
import { BundlePublisher, RemoteObjects } from './remote.ts';
import type { Redis } from 'ioredis';
import {
  bullQueueName,
  hangarVersion,
  newCallbackId,
  logChannel,
  parseLogLines,
  newsChannel,
  parseTryNews,
  tryJobId,
  tryKeyOf,
} from './protocol.ts';
import type { CallbackJob, TryJob, TryNewsMessage } from './protocol.ts';
import { OutageReporter, redisOptions } from './redis.ts';

export interface DistributedExecutorOptions {
  readonly store: Store;
  readonly config: DistributedConfig;
  readonly connections: Readonly<Record<string, string>>;
  /** A worker silent this long is gone: its tries end as crashed. */
  readonly heartbeatTimeoutMs: number;
  /**
   * How soon a waiting try first looks at the store without news from its worker (default 1 s;
   * `queue.pollMs`): the backstop for news that was lost (a Redis reconnect). It doubles while
   * nothing changes, up to a third of the heartbeat timeout (at most 5 s), so that hundreds of
   * queued tries do not each read the store every second.
   */
  readonly pollMs?: number;
  /** Operational messages (Redis or S3 away and back). */
  readonly warn?: (message: string) => void;
  /** A line a try logged on its worker, as it comes (Redis pub/sub: best effort; the full log is in S3). */
  readonly onLine?: (req: ExecuteRequest, line: string) => void;
}

/** The relative log path of a try under the logs location (the same layout as a local logs folder). */
export function tryLogKey(
  dagId: string,
  runId: string,
  taskId: string,
  mapIndex: number,
  tryNumber: number,
): string {
  return tryLogPath('', dagId, runId, taskId, mapIndex, tryNumber).replace(/^\/+/, '');
}

export class DistributedExecutor implements TaskExecutor {
  readonly name = 'distributed';
  private readonly opts: DistributedExecutorOptions;
  private readonly logs: RemoteObjects;
  private readonly publisher: BundlePublisher;
  private readonly queues = new Map<string, Promise<Queue>>();
  /** Waiting tries by job id: woken by their worker's news. */
  private readonly waiters = new Map<string, Waiter>();
  private readonly outage: OutageReporter;
  private closed = false;
  /** Tries recorded as queued in their claim's transaction (claimed()), by job id, until executed. */
  private readonly recorded = new Set<string>();
  /** Tries waited for, by job id: where live log lines go (when onLine is set). */
  private readonly live = new Map<string, ExecuteRequest>();
  private subscriber: Promise<Redis> | undefined;
  /**
   * Reads of dispatch records, one query for those asked for in the same turn: the tries that a
   * burst of news wakes, and the backstop reads of hundreds of waiting tries.
   */
  private readonly reads: Coalescer<TryKey, DispatchRecord | undefined>;
  private readonly adders = new Map<string, Coalescer<TryJob, unknown>>();

  constructor(opts: DistributedExecutorOptions) {
    this.opts = opts;
    this.logs = new RemoteObjects(opts.config.logs, opts.connections);
    this.publisher = new BundlePublisher(new RemoteObjects(opts.config.bundles, opts.connections));
    this.outage = new OutageReporter(opts.config.redisRedacted, (m) => opts.warn?.(m));
    this.reads = new Coalescer((keys: TryKey[]) => opts.store.dispatch.getMany(keys));
  }

  logPathFor(dagId: string, runId: string, taskId: string, mapIndex: number, tryNumber: number): string {
    return this.logs.urlOf(tryLogKey(dagId, runId, taskId, mapIndex, tryNumber));
  }

  async claimed(tries: readonly { key: TryKey; queue: string }[], bundleHash: string): Promise<void> {
    // Inside the run loop's claim transaction: a claim that is not committed is never executed.
    const added = await this.opts.store.dispatch.enqueue(
      tries.map((t) => ({ key: t.key, queue: t.queue, bundleHash })),
      nowIso(),
    );
    tries.forEach((t, i) => {
      if (added[i]) this.recorded.add(tryJobId(t.key));
    });
  }

  async adoptable(key: TryKey): Promise<boolean> {
    const row = await this.reads.call(key);
    if (!row) return false;
    if (row.outcome !== null || row.worker_id === null) return true;
    const worker = await this.opts.store.dispatch.worker(row.worker_id);
    return (
      !!worker &&
      worker.state !== 'stopped' &&
      Date.now() - Date.parse(worker.heartbeat_at) <= this.opts.heartbeatTimeoutMs
    );
  }

  /** Jobs to add to a queue, added together (one Redis round trip) when asked for in the same turn. */
  private adder(name: string): Coalescer<TryJob, unknown> {
    let a = this.adders.get(name);
    if (!a) {
      a = new Coalescer<TryJob, unknown>(async (jobs: TryJob[]) => {
        const queue = await this.queue(name);
        return queue.addBulk(
          jobs.map((job) => ({
            name: 'try',
            data: job,
            opts: { jobId: tryJobId(tryKeyOf(job)), removeOnComplete: true, removeOnFail: true, attempts: 1 },
          })),
        );
      });
      this.adders.set(name, a);
    }
    return a;
  }

  private queue(name: string): Promise<Queue> {
    let q = this.queues.get(name);
    if (!q) {
      q = (async () => {
        const { Queue } = await import('bullmq');
        const queue = new Queue(bullQueueName(name), {
          connection: redisOptions(this.opts.config.redisUrl),
          prefix: this.opts.config.prefix,
        });
        queue.on('error', this.outage.error);
        return queue;
      })();
      this.queues.set(name, q);
    }
    return q;
  }

  /** Subscribes (once) to the workers' news of tries and their live log lines. */
  private subscribe(): void {
    if (this.subscriber) return;
    const news = newsChannel(this.opts.config.prefix);
    this.subscriber = (async () => {
      const { Redis } = await import('ioredis');
      const sub = new Redis(redisOptions(this.opts.config.redisUrl));
      sub.on('error', this.outage.error);
      sub.on('message', (channel: string, text: string) => {
        if (channel === news) {
          const m = parseTryNews(text);
          if (m) {
            this.outage.ok();
            this.waiters.get(m.job)?.wake(m);
          }
          return;
        }
        const m = parseLogLines(text);
        const req = m ? this.live.get(m.job) : undefined;
        if (m && req) for (const line of m.lines) this.opts.onLine?.(req, line);
      });
      await sub.subscribe(news, ...(this.opts.onLine ? [logChannel(this.opts.config.prefix)] : []));
      return sub;
    })();
    this.subscriber.catch((err: unknown) =>
      this.opts.warn?.(`news of tries unavailable (the store is read instead): ${(err as Error).message}`),
    );
  }

  async execute(
    req: ExecuteRequest,
    signal?: AbortSignal,
    onStarted?: (pid: number, hostname?: string, recorded?: boolean) => void,
  ): Promise<ExecuteResult> {
    const { store } = this.opts;
    const key: TryKey = {
      dag_id: req.dagId,
      run_id: req.runId,
      task_id: req.taskId,
      map_index: req.mapIndex,
      try_number: req.tryNumber,
    };
    const jobId = tryJobId(key);
    const self = { pid: process.pid, hostname: osHostname() };
    if (this.closed) return { ok: false, error: 'The runtime is shutting down', pid: self.pid };
    try {
      await this.publisher.publish(req.bundle, req.bundleHash);
    } catch (err) {
      return {
        ok: false,
        error: `Task "${req.taskId}": its DAG bundle could not be published: ${(err as Error).message}`,
        pid: self.pid,
      };
    }
    const job: TryJob = {
      kind: 'try',
      version: hangarVersion(),
      bundleHash: req.bundleHash,
      dagFile: req.dagFile,
      dagId: req.dagId,
      runId: req.runId,
      run: req.run,
      taskId: req.taskId,
      mapIndex: req.mapIndex,
      tryNumber: req.tryNumber,
      maxTries: req.maxTries,
      timeoutMs: req.timeoutMs ?? null,
      logKey: tryLogKey(req.dagId, req.runId, req.taskId, req.mapIndex, req.tryNumber),
    };
    const queue = await this.queue(req.queue);
    const enqueue = () => this.adder(req.queue).call(job);
    // News and live log lines: subscribed before the job can start (the first time), then routed by job id.
    this.subscribe();
    await this.subscriber?.catch(() => undefined);
    this.live.set(jobId, req);
    // Registered before the job is queued: news of a fast job is not missed.
    const waiter = new Waiter();
    this.waiters.set(jobId, waiter);
    try {
      // A try adopted from another scheduler is in the store already, perhaps taken or ended: it is
      // not queued again. One claimed here was recorded in its claim's transaction.
      if (
        this.recorded.delete(jobId) ||
        (await store.dispatch.enqueue([{ key, queue: req.queue, bundleHash: req.bundleHash }], nowIso()))[0]
      ) {
        await enqueue();
        this.outage.ok();
      }
    } catch (err) {
      this.live.delete(jobId);
      this.waiters.delete(jobId);
      throw err;
    }

    const pollMs = this.opts.pollMs ?? 1000;
    const maxPollMs = Math.max(pollMs, Math.min(5000, this.opts.heartbeatTimeoutMs / 3));
    let napMs = pollMs;
    let startedReported = false;
    let cancelAsked = false;
    let lastJobCheck = Date.now();
    const onAbort = () => waiter.wake();
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      // Nothing to read before the job has been anywhere: the store is read when BullMQ says the
      // job started or ended, or when a poll interval passed without a word (then the worker's
      // heartbeat is checked too). A store round trip per wake, not per interval and per state.
      let woken = await waiter.nap(pollMs);
      for (;;) {
        if (this.closed)
          return { ok: false, error: 'The runtime is shutting down', crashed: true, pid: self.pid };
        const news = waiter.take();
        if (news && !signal?.aborted) {
          // The worker stored the start (try and task instance running): shown without a read.
          if (!startedReported) {
            startedReported = true;
            onStarted?.(news.started.pid, news.started.hostname, true);
          }
          woken = await waiter.nap(pollMs);
          continue;
        }
        const row = await this.reads.call(key);
        if (!row)
          return {
            ok: false,
            error: `Task "${req.taskId}": its dispatch record vanished from the store`,
            pid: self.pid,
          };
        if (row.outcome !== null) {
          const result = JSON.parse(row.outcome) as ExecuteResult;
          if (!startedReported && row.pid !== null) onStarted?.(row.pid, row.hostname ?? undefined, true);
          return result;
        }
        if (row.worker_id !== null && row.pid !== null && !startedReported) {
          startedReported = true;
          // The worker wrote the start (try and task instance `running`) with its pid.
          onStarted?.(row.pid, row.hostname ?? undefined, true);
        }
        if (signal?.aborted && !cancelAsked) {
          cancelAsked = true;
          const reason = (signal.reason as Error | undefined)?.message ?? 'The run was cancelled';
          const cancelled: ExecuteResult = {
            ok: false,
            error: reason,
            crashed: true,
            pid: self.pid,
            hostname: self.hostname,
          };
          if (await store.dispatch.settle(key, JSON.stringify(cancelled), nowIso(), true)) {
            await queue.remove(jobId).catch(() => 0);
            return cancelled;
          }
          await store.dispatch.requestCancel(key, reason);
          continue;
        }
        if (woken) {
          // Woken by the job's news: what it was is read above; nothing to check until the next one.
        } else if (row.worker_id !== null) {
          const worker = await store.dispatch.worker(row.worker_id);
          const silentMs = worker ? Date.now() - Date.parse(worker.heartbeat_at) : Infinity;
          if (!worker || worker.state === 'stopped' || silentMs > this.opts.heartbeatTimeoutMs) {
            const why = !worker
              ? `its worker ${row.worker_id} is not registered`
              : worker.state === 'stopped'
                ? `its worker ${worker.worker_id} on ${worker.hostname} stopped without ending it`
                : `its worker ${worker.worker_id} on ${worker.hostname} (pid ${worker.pid}) sent no heartbeat for ${Math.round(silentMs / 1000)} s (heartbeat timeout ${this.opts.heartbeatTimeoutMs / 1000} s)`;
            const crashed: ExecuteResult = {
              ok: false,
              error: `The try was lost: ${why}`,
              crashed: true,
              pid: row.pid ?? -1,
              hostname: row.hostname ?? undefined,
            };
            if (await store.dispatch.settle(key, JSON.stringify(crashed), nowIso())) return crashed;
            continue; // the worker's outcome arrived meanwhile
          }
        } else if (Date.now() - lastJobCheck >= 5 * pollMs) {
          // Nobody took it yet: is the job still in Redis? (A Redis restarted without persistence lost it.)
          lastJobCheck = Date.now();
          const present = await queue.getJob(jobId).catch(() => 'unknown' as const);
          if (present === undefined) {
            const again = await this.reads.call(key);
            if (again && again.worker_id === null && again.outcome === null) {
              this.opts.warn?.(
                `Task "${req.taskId}" try ${req.tryNumber} of run ${req.runId}: its job was no longer in Redis (restarted?); queued again`,
              );
              await enqueue();
            }
          }
        }
        // Woken: the next silence is looked at soon; silent: later and later (the worker's news wakes it).
        napMs = woken ? pollMs : Math.min(maxPollMs, napMs * 2);
        woken = await waiter.nap(napMs);
      }
    } finally {
      this.waiters.delete(jobId);
      this.live.delete(jobId);
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Runs a callback on a worker (on the `default` queue: the task's queue is not known here).
   * Its record is in the store, claimed and ended there as a try's is; this side waits for the
   * worker's news and reads the store as a backstop, so that a Redis restart loses nothing.
   */
  async callback(req: CallbackRequest): Promise<CallbackResult> {
    if (this.closed) return { ok: false, error: 'The runtime is shutting down' };
    const { store } = this.opts;
    const id = newCallbackId();
    const failed = (why: string): CallbackResult => ({
      ok: false,
      error: `The ${req.name} callback did not run on a worker: ${why}`,
    });
    const waiter = new Waiter();
    let recorded = false;
    try {
      await this.publisher.publish(req.bundle, req.bundleHash);
      const job: CallbackJob = {
        kind: 'callback',
        id,
        version: hangarVersion(),
        bundleHash: req.bundleHash,
        dagFile: req.dagFile,
        dagId: req.dagId,
        taskId: req.taskId ?? null,
        name: req.name,
        context: req.context,
        timeoutMs: req.timeoutMs,
        logKey: req.logPath?.startsWith(this.logs.url + '/')
          ? req.logPath.slice(this.logs.url.length + 1)
          : null,
      };
      const queue = await this.queue('default');
      const enqueue = () =>
        queue.add('callback', job, { jobId: id, removeOnComplete: true, removeOnFail: true, attempts: 1 });
      this.subscribe();
      await this.subscriber?.catch(() => undefined);
      this.waiters.set(id, waiter);
      await store.dispatch.enqueueCallback(
        { id, dag_id: req.dagId, task_id: req.taskId ?? null, name: req.name },
        nowIso(),
      );
      recorded = true;
      await enqueue();
      // The callback's own budget, and time for a worker to take it.
      const deadline = Date.now() + req.timeoutMs + 30_000;
      const pollMs = this.opts.pollMs ?? 1000;
      const maxPollMs = Math.max(pollMs, Math.min(5000, this.opts.heartbeatTimeoutMs / 3));
      let napMs = pollMs;
      let lastJobCheck = Date.now();
      for (;;) {
        const woken = await waiter.nap(Math.max(0, Math.min(napMs, deadline - Date.now())));
        waiter.take();
        if (this.closed) return { ok: false, error: 'The runtime is shutting down' };
        const row = await store.dispatch.getCallback(id);
        if (!row) return failed('its record vanished from the store');
        if (row.outcome !== null) return JSON.parse(row.outcome) as CallbackResult;
        let lost: string | undefined;
        if (Date.now() >= deadline) {
          lost =
            row.worker_id === null
              ? `no worker took it within ${Math.round((req.timeoutMs + 30_000) / 1000)} s`
              : `its worker ${row.worker_id} did not end it within ${Math.round((req.timeoutMs + 30_000) / 1000)} s`;
        } else if (row.worker_id !== null && !woken) {
          const worker = await store.dispatch.worker(row.worker_id);
          const silentMs = worker ? Date.now() - Date.parse(worker.heartbeat_at) : Infinity;
          if (!worker || worker.state === 'stopped' || silentMs > this.opts.heartbeatTimeoutMs)
            lost = `its worker ${row.worker_id} stopped or sent no heartbeat for ${Math.round(silentMs / 1000)} s`;
        } else if (row.worker_id === null && Date.now() - lastJobCheck >= 5 * pollMs) {
          // Nobody took it yet: is the job still in Redis? (A Redis restarted without persistence lost it.)
          lastJobCheck = Date.now();
          if ((await queue.getJob(id).catch(() => 'unknown' as const)) === undefined) {
            this.opts.warn?.(
              `The ${req.name} callback of DAG "${req.dagId}": its job was no longer in Redis (restarted?); queued again`,
            );
            await enqueue();
          }
        }
        if (lost !== undefined) {
          const result = failed(lost);
          if (await store.dispatch.settleCallback(id, JSON.stringify(result), nowIso())) {
            await queue.remove(id).catch(() => 0);
            return result;
          }
          continue; // its worker's outcome arrived meanwhile
        }
        napMs = woken ? pollMs : Math.min(maxPollMs, napMs * 2);
      }
    } catch (err) {
      return failed((err as Error).message);
    } finally {
      this.waiters.delete(id);
      if (recorded) await store.dispatch.deleteCallback(id).catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const waiter of this.waiters.values()) waiter.wake();
    for (const q of await Promise.allSettled(this.queues.values()))
      if (q.status === 'fulfilled') await q.value.close().catch(() => {});
    this.logs.close();
    const sub = await this.subscriber?.catch(() => undefined);
    sub?.disconnect();
  }
}

/**
 * A try waiting for news of its job: a wake before the nap is kept, not lost. What the wakes
 * since the last `take()` ask for: the store read, unless every one was a start.
 */
class Waiter {
  private woken = false;
  /** A wake without news or with an end came: the store must be read. */
  private mustRead = false;
  private started: Extract<TryNewsMessage, { started: unknown }> | undefined;
  private resolve: ((woken: boolean) => void) | undefined;

  wake(news?: TryNewsMessage): void {
    if (news && 'started' in news) this.started = news;
    else this.mustRead = true;
    if (this.resolve) this.resolve(true);
    else this.woken = true;
  }

  /** The start heard, when that is all the wakes since the last call said; otherwise undefined (read the store). */
  take(): Extract<TryNewsMessage, { started: unknown }> | undefined {
    const start = this.mustRead ? undefined : this.started;
    this.mustRead = false;
    this.started = undefined;
    return start;
  }

  /** Resolves true when woken (now, or while napping), false when `ms` passed first. */
  nap(ms: number): Promise<boolean> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve(true);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(false), ms);
      const done = (woken: boolean) => {
        clearTimeout(timer);
        this.resolve = undefined;
        resolve(woken);
      };
      this.resolve = done;
    });
  }
}

/**
 * Calls made in the same turn of the event loop, answered together by one call of `many` (a
 * store query, a Redis pipeline): each caller gets its own answer, or the batch's error.
 */
export class Coalescer<I, O> {
  private pending: { item: I; resolve: (o: O) => void; reject: (err: unknown) => void }[] = [];
  private readonly many: (items: I[]) => Promise<readonly O[]>;

  constructor(many: (items: I[]) => Promise<readonly O[]>) {
    this.many = many;
  }

  call(item: I): Promise<O> {
    return new Promise((resolve, reject) => {
      if (this.pending.push({ item, resolve, reject }) === 1) setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending.splice(0);
    try {
      const out = await this.many(batch.map((b) => b.item));
      batch.forEach((b, i) => b.resolve(out[i] as O));
    } catch (err) {
      for (const b of batch) b.reject(err);
    }
  }
}
