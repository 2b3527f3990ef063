/**
 * `hangar worker`: takes tries from BullMQ queues and runs each in a local task process
 * (the isolated executor: a task that throws, hangs or dies fails alone), with the DAG bundle
 * the scheduler parsed, fetched by hash from S3 and checked. The store is the source of truth:
 * a try is claimed there before it runs (a redelivered job runs nothing twice) and its outcome
 * is written there before the job is acknowledged. Logs are uploaded while the try runs and
 * when it ends. The worker heart-beats in the store; at each beat it stops the tries the
 * scheduler cancelled, cleared, marked or settled without it.
 */
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Job, Worker as BullWorker } from 'bullmq';
import type { WorkspaceConfig } from '../config.ts';
import { IsolatedExecutor } from '../executor/isolated.ts';
import { tryLogPath } from '../executor/logger.ts';
import type { CallbackResult, ExecuteRequest, ExecuteResult } from '../executor/types.ts';
import { nowIso } from '../store/clock.ts';
import type { Store } from '../store/store.ts';
import type { TryKey } from '../store/repos/dispatch.ts';
import { BundleCache, RemoteError, RemoteObjects } from './remote.ts';
import type { Redis } from 'ioredis';
import {
  bullQueueName,
  hangarVersion,
  logChannel,
  newsChannel,
  parseJob,
  tryJobId,
  tryKeyOf,
} from './protocol.ts';
import type { CallbackJob, LogLinesMessage, TryJob, TryJobReturn, TryNewsMessage } from './protocol.ts';
import { OutageReporter, redisOptions } from './redis.ts';

export interface WorkerServiceOptions {
  readonly config: WorkspaceConfig;
  readonly store: Store;
  /** Hangar queue names to take tries from (default `default`). */
  readonly queues: readonly string[];
  /** Tries run at once (default 4). */
  readonly concurrency: number;
  readonly log: (line: string) => void;
}

interface Running {
  readonly key: TryKey;
  readonly abort: AbortController;
}

/** How long a try's log lines wait to be published together. */
const LINES_WINDOW_MS = 50;

const keyString = (k: TryKey) => JSON.stringify([k.dag_id, k.run_id, k.task_id, k.map_index, k.try_number]);

/** A fresh id per worker process: host, pid and a random part (a restarted worker is a new worker). */
function newWorkerId(): string {
  return `${osHostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

export class WorkerService {
  readonly id = newWorkerId();
  private readonly opts: WorkerServiceOptions;
  private readonly executor: IsolatedExecutor;
  private readonly bundles: BundleCache;
  private readonly logs: RemoteObjects;
  private readonly running = new Map<string, Running>();
  private readonly bull: BullWorker[] = [];
  private readonly outage: OutageReporter;
  private beatTimer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  private stopped = false;
  /** Publishes live log lines and the news of tries (a connection of its own: BullMQ's block). */
  private publisher: Redis | undefined;

  /** Log lines not yet published, by job id. */
  private readonly unsent = new Map<string, string[]>();
  private sendTimer: NodeJS.Timeout | undefined;

  /** Publishes the lines logged since the last time (of one job, or of all). */
  private sendLines(job?: string): void {
    const d = this.opts.config.distributed!;
    const jobs = job === undefined ? [...this.unsent.keys()] : [job];
    for (const j of jobs) {
      const lines = this.unsent.get(j);
      if (!lines) continue;
      this.unsent.delete(j);
      void this.publisher
        ?.publish(logChannel(d.prefix), JSON.stringify({ job: j, lines } satisfies LogLinesMessage))
        .catch(() => undefined);
    }
    if (this.unsent.size === 0 && this.sendTimer) {
      clearTimeout(this.sendTimer);
      this.sendTimer = undefined;
    } else if (job === undefined) this.sendTimer = undefined;
  }

  /** Tells the schedulers what was just stored about a try (best effort: they read the store when they hear nothing). */
  private tell(news: TryNewsMessage): void {
    void this.publisher
      ?.publish(newsChannel(this.opts.config.distributed!.prefix), JSON.stringify(news))
      .catch(() => undefined);
  }

  constructor(opts: WorkerServiceOptions) {
    const d = opts.config.distributed;
    if (!d)
      throw new Error(
        `${join(opts.config.root, 'hangar.json')}: hangar worker needs "executor": "distributed" (with queue.redis and logs.remote)`,
      );
    this.opts = opts;
    this.executor = new IsolatedExecutor({
      maxWorkers: opts.concurrency,
      maxOldSpaceMb: opts.config.workerMaxOldSpaceMb,
      // The lines a try logs, published for the scheduler's live tail (the log itself goes to S3):
      // together, those of a short window, and before the news of the try's end.
      onLine: (req, line) => {
        const job = tryJobId({
          dag_id: req.dagId,
          run_id: req.runId,
          task_id: req.taskId,
          map_index: req.mapIndex,
          try_number: req.tryNumber,
        });
        const lines = this.unsent.get(job);
        if (lines) lines.push(line);
        else this.unsent.set(job, [line]);
        this.sendTimer ??= setTimeout(() => this.sendLines(), LINES_WINDOW_MS);
      },
    });
    this.bundles = new BundleCache(
      new RemoteObjects(d.bundles, opts.config.connections),
      join(opts.config.hangarDir, 'bundles'),
    );
    this.logs = new RemoteObjects(d.logs, opts.config.connections);
    this.outage = new OutageReporter(d.redisRedacted, opts.log);
  }

  private get heartbeatMs(): number {
    return Math.min(5000, Math.max(200, (this.opts.config.scheduler.heartbeatTimeoutSeconds * 1000) / 6));
  }

  async start(): Promise<void> {
    const d = this.opts.config.distributed!;
    const { Redis } = await import('ioredis');
    this.publisher = new Redis({
      ...redisOptions(d.redisUrl),
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false,
    });
    this.publisher.on('error', () => undefined); // the workers' BullMQ connections report outages
    const at = nowIso();
    await this.opts.store.dispatch.registerWorker({
      worker_id: this.id,
      hostname: osHostname(),
      pid: process.pid,
      queues: this.opts.queues.join(','),
      concurrency: this.opts.concurrency,
      version: hangarVersion(),
      started_at: at,
      heartbeat_at: at,
    });
    this.beatTimer = setInterval(() => {
      this.beating ??= this.beat().finally(() => (this.beating = undefined));
    }, this.heartbeatMs);
    const { Worker } = await import('bullmq');
    const lockDuration = Math.max(5000, this.opts.config.scheduler.heartbeatTimeoutSeconds * 1000);
    for (const q of this.opts.queues) {
      const w = new Worker(bullQueueName(q), (job: Job) => this.process(job), {
        connection: redisOptions(d.redisUrl),
        prefix: d.prefix,
        concurrency: this.opts.concurrency,
        lockDuration,
        stalledInterval: lockDuration,
        autorun: true,
      });
      w.on('error', this.outage.error);
      w.on('active', this.outage.ok);
      this.bull.push(w);
    }
  }

  /** Heartbeat, and stop what the scheduler no longer wants run here. */
  private async beat(): Promise<void> {
    const { store } = this.opts;
    try {
      await store.dispatch.beat(this.id, nowIso());
      if (this.running.size === 0) return;
      // Only tries that were running before the query: one claimed while it ran is not in its answer.
      const before = [...this.running];
      const open = new Map((await store.dispatch.open(this.id)).map((r) => [keyString(r), r]));
      for (const [k, run] of before) {
        if (this.running.get(k) !== run) continue; // it ended meanwhile
        const row = open.get(k);
        let why: string | undefined;
        if (!row) why = 'the scheduler settled this try without this worker (it was presumed gone)';
        else if (row.cancel) why = row.cancel;
        else if (
          row.ti_try_number !== run.key.try_number ||
          (row.ti_state !== 'queued' && row.ti_state !== 'running')
        ) {
          why = `its task instance is now ${row.ti_state ?? 'cleared'} (try ${row.ti_try_number ?? 0})`;
        }
        if (why && !run.abort.signal.aborted) {
          this.opts.log(
            `stopping ${run.key.dag_id}.${run.key.task_id} try ${run.key.try_number} of ${run.key.run_id}: ${why}`,
          );
          run.abort.abort(new Error(`Stopped on worker ${this.id}: ${why}`));
        }
      }
    } catch (err) {
      this.opts.log(`heartbeat failed (the store at ${store.location}): ${(err as Error).message}`);
    }
  }

  private async process(job: Job): Promise<unknown> {
    this.outage.ok();
    let data;
    try {
      data = parseJob(job.data);
    } catch (err) {
      this.opts.log(`job ${job.id} refused: ${(err as Error).message}`);
      throw err;
    }
    if (data.kind === 'callback') return this.runCallback(data);
    return this.runTry(data);
  }

  private async runTry(job: TryJob): Promise<TryJobReturn> {
    const { store, config, log } = this.opts;
    const key = tryKeyOf(job);
    const what = `${job.dagId}.${job.taskId}${job.mapIndex >= 0 ? `[${job.mapIndex}]` : ''} try ${job.tryNumber} of ${job.runId}`;
    if (!(await store.dispatch.claim(key, this.id, osHostname(), nowIso()))) {
      log(`${what}: already taken, ended or cancelled (a repeated delivery): nothing to do`);
      return { ran: false, recorded: false };
    }
    const self = { pid: process.pid, hostname: osHostname() };
    const jobId = tryJobId(key);
    /** Records the outcome and, once it is stored, tells the schedulers. */
    const finish = async (result: ExecuteResult, ran: boolean): Promise<TryJobReturn> => {
      this.sendLines(jobId);
      if (await store.dispatch.finish(key, this.id, JSON.stringify(result), nowIso())) {
        this.tell({ job: jobId, ended: true });
        return { ran, recorded: true };
      }
      log(`${what}: its outcome was not recorded: the scheduler had settled the try already`);
      return { ran, recorded: false };
    };
    if (job.version !== hangarVersion()) {
      const error = `Worker ${this.id} runs Hangar ${hangarVersion()}, but the scheduler that queued this try runs Hangar ${job.version}: refused (run one version on every machine)`;
      log(`${what}: ${error}`);
      return finish({ ok: false, error, pid: self.pid, hostname: self.hostname }, false);
    }
    let bundle: string;
    try {
      bundle = await this.bundles.get(job.bundleHash);
    } catch (err) {
      const error = `Worker ${this.id} could not get the DAG bundle of ${job.dagFile}: ${(err as Error).message}`;
      log(`${what}: ${error}`);
      return finish(
        {
          ok: false,
          error,
          noRetry: err instanceof RemoteError && err.code === 'tampered',
          pid: self.pid,
          hostname: self.hostname,
        },
        false,
      );
    }
    const logPath = tryLogPath(config.logsDir, job.dagId, job.runId, job.taskId, job.mapIndex, job.tryNumber);
    const req: ExecuteRequest = {
      workspace: config.root,
      dagFile: job.dagFile,
      bundle,
      bundleHash: job.bundleHash,
      queue: 'local',
      dagId: job.dagId,
      runId: job.runId,
      run: job.run,
      taskId: job.taskId,
      mapIndex: job.mapIndex,
      tryNumber: job.tryNumber,
      maxTries: job.maxTries,
      logPath,
      timeoutMs: job.timeoutMs ?? undefined,
    };
    const abort = new AbortController();
    const k = keyString(key);
    this.running.set(k, { key, abort });
    log(`${what}: started`);
    const uploader = new LogUploader(this.logs, logPath, job.logKey, log);
    const timer = setInterval(() => void uploader.upload(), 1000);
    let result: ExecuteResult;
    // The start is recorded here (the try and its task instance `running`), before the end is.
    let started: Promise<void> | undefined;
    try {
      result = await this.executor.execute(req, abort.signal, (pid) => {
        started = store.dispatch
          .started(key, this.id, pid, self.hostname, nowIso())
          // The scheduler hears of it (and need not read it back).
          .then(() => this.tell({ job: jobId, started: { pid, hostname: self.hostname } }))
          .catch((err: unknown) =>
            log(`${what}: its start could not be recorded: ${(err as Error).message}`),
          );
      });
    } finally {
      clearInterval(timer);
      this.running.delete(k);
    }
    await started;
    await uploader.upload(true);
    result = { ...result, hostname: self.hostname };
    const returned = await finish(result, true);
    log(`${what}: ${result.ok ? 'done' : `failed: ${result.error.split('\n')[0]}`}`);
    return returned;
  }

  /** Runs a callback the scheduler recorded in the store: claimed there first (a repeated delivery runs nothing), its outcome written there. */
  private async runCallback(job: CallbackJob): Promise<CallbackResult> {
    const { store, log } = this.opts;
    const what = `the ${job.name} callback of ${job.dagId}${job.taskId ? `.${job.taskId}` : ''}`;
    if (!(await store.dispatch.claimCallback(job.id, this.id, nowIso()))) {
      log(`${what}: already taken, ended or given up by the scheduler (a repeated delivery): nothing to do`);
      return { ok: false, error: 'not run here: already taken or ended' };
    }
    const finish = async (result: CallbackResult): Promise<CallbackResult> => {
      if (await store.dispatch.finishCallback(job.id, this.id, JSON.stringify(result), nowIso()))
        this.tell({ job: job.id, ended: true });
      else log(`${what}: its outcome was not recorded: the scheduler had given up on it`);
      return result;
    };
    if (job.version !== hangarVersion()) {
      return finish({
        ok: false,
        error: `Worker ${this.id} runs Hangar ${hangarVersion()}, but the scheduler runs Hangar ${job.version}: refused`,
      });
    }
    let bundle: string;
    try {
      bundle = await this.bundles.get(job.bundleHash);
    } catch (err) {
      return finish({
        ok: false,
        error: `Worker ${this.id} could not get the DAG bundle of ${job.dagFile}: ${(err as Error).message}`,
      });
    }
    const localLog = join(this.opts.config.tmpDir, `callback-${randomBytes(6).toString('hex')}.log`);
    try {
      const result = await this.executor.callback({
        workspace: this.opts.config.root,
        dagFile: job.dagFile,
        bundle,
        bundleHash: job.bundleHash,
        dagId: job.dagId,
        taskId: job.taskId ?? undefined,
        name: job.name,
        context: job.context,
        timeoutMs: job.timeoutMs,
        logPath: job.logKey ? localLog : undefined,
      });
      // What the callback printed goes after the try's own log.
      if (job.logKey && existsSync(localLog)) {
        const before = await this.logs.get(job.logKey).catch(() => Buffer.alloc(0));
        await this.logs
          .put(job.logKey, Buffer.concat([before, readFileSync(localLog)]))
          .catch((err: unknown) => log(`callback log not uploaded: ${(err as Error).message}`));
      }
      return await finish(result);
    } finally {
      rmSync(localLog, { force: true });
    }
  }

  /**
   * Stops taking tries; lets running ones finish for up to `graceMs`, then stops them (their
   * outcome says so, and the scheduler retries them by policy); leaves the store saying so.
   */
  async stop(graceMs: number): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    await this.opts.store.dispatch.setWorkerState(this.id, 'stopping', nowIso()).catch(() => {});
    for (const w of this.bull) void w.pause(true).catch(() => {});
    const closing = Promise.allSettled(this.bull.map((w) => w.close()));
    const deadline = new Promise<'late'>((r) => setTimeout(() => r('late'), graceMs).unref());
    if ((await Promise.race([closing.then(() => 'done' as const), deadline])) === 'late') {
      for (const run of this.running.values())
        run.abort.abort(
          new Error(
            `Stopped: worker ${this.id} was asked to stop and its grace period (${graceMs / 1000} s) ended`,
          ),
        );
      await Promise.race([closing, new Promise((r) => setTimeout(r, 10_000).unref())]);
    }
    clearInterval(this.beatTimer);
    await this.beating;
    await this.executor.close();
    this.sendLines();
    this.publisher?.disconnect();
    await this.opts.store.dispatch.setWorkerState(this.id, 'stopped', nowIso()).catch(() => {});
  }
}

/** Uploads a try's log to S3 while it grows, and once more at the end. */
class LogUploader {
  private sent = -1;
  private busy: Promise<void> | undefined;
  private warned = false;
  private readonly remote: RemoteObjects;
  private readonly file: string;
  private readonly key: string;
  private readonly log: (line: string) => void;

  constructor(remote: RemoteObjects, file: string, key: string, log: (line: string) => void) {
    this.remote = remote;
    this.file = file;
    this.key = key;
    this.log = log;
  }

  async upload(final = false): Promise<void> {
    if (this.busy) {
      await this.busy;
      if (!final) return;
    }
    this.busy = (async () => {
      const size = existsSync(this.file) ? statSync(this.file).size : 0;
      if (size === this.sent && !(final && this.sent < 0)) return;
      try {
        await this.remote.put(
          this.key,
          size ? readFileSync(this.file) : Buffer.alloc(0),
          `upload of the log ${this.key}`,
        );
        this.sent = size;
      } catch (err) {
        if (final || !this.warned)
          this.log(
            `${(err as Error).message}${final ? ` (the log stays at ${this.file} on this machine)` : ''}`,
          );
        this.warned = true;
      }
    })().finally(() => (this.busy = undefined));
    await this.busy;
  }
}
