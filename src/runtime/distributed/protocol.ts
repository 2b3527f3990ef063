/**
 * What goes through the queue between a scheduler and `hangar worker` processes: one BullMQ
 * job per try (its id is the try's identity, so enqueuing twice is a no-op) or per callback.
 * A worker checks every job it takes (a queue is a boundary: other versions, other writers).
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hangarPackageRoot } from '../cli/init.ts';
import type { CallbackRequest, TryRun } from '../executor/types.ts';
import type { TryKey } from '../store/repos/dispatch.ts';

export interface TryJob {
  readonly kind: 'try';
  /** The scheduler's Hangar version: a worker on another one refuses the try. */
  readonly version: string;
  readonly bundleHash: string;
  /** The DAG file on the scheduler's machine (for messages). */
  readonly dagFile: string;
  readonly dagId: string;
  readonly runId: string;
  /** The run's fixed fields, so that the worker need not read the run (its id is `runId`). */
  readonly run: TryRun;
  readonly taskId: string;
  readonly mapIndex: number;
  readonly tryNumber: number;
  readonly maxTries: number;
  readonly timeoutMs: number | null;
  /** Where the log goes, relative to the logs location. */
  readonly logKey: string;
}

/** What a worker's try job returns: whether it ran the try, and whether its outcome is the one stored. */
export interface TryJobReturn {
  readonly ran: boolean;
  readonly recorded: boolean;
}

export interface CallbackJob {
  readonly kind: 'callback';
  /** The callback's record in the store (callback_dispatch) and its job id. */
  readonly id: string;
  readonly version: string;
  readonly bundleHash: string;
  readonly dagFile: string;
  readonly dagId: string;
  readonly taskId: string | null;
  readonly name: CallbackRequest['name'];
  readonly context: Readonly<Record<string, unknown>>;
  readonly timeoutMs: number;
  readonly logKey: string | null;
}

export type JobData = TryJob | CallbackJob;

let version: string | undefined;
/** This Hangar's version (package.json). */
export function hangarVersion(): string {
  return (version ??= (
    JSON.parse(readFileSync(join(hangarPackageRoot(), 'package.json'), 'utf8')) as { version: string }
  ).version);
}

/** The BullMQ queue of a Hangar queue name. */
export function bullQueueName(queue: string): string {
  return `tasks.${queue}`;
}

/** The job id of a try: a hash of its identity (BullMQ ids may not hold `:`, which run ids do). */
export function tryJobId(k: TryKey): string {
  return `try-${createHash('sha256')
    .update(JSON.stringify([k.dag_id, k.run_id, k.task_id, k.map_index, k.try_number]))
    .digest('hex')
    .slice(0, 40)}`;
}

/** A new callback's id (its record in the store and its job id). */
export function newCallbackId(): string {
  return `callback-${randomBytes(16).toString('hex')}`;
}

export function tryKeyOf(j: TryJob): TryKey {
  return {
    dag_id: j.dagId,
    run_id: j.runId,
    task_id: j.taskId,
    map_index: j.mapIndex,
    try_number: j.tryNumber,
  };
}

/** Checks a job's data; throws naming the first field that is wrong. */
export function parseJob(data: unknown): JobData {
  const d = data as Record<string, unknown>;
  if (!d || typeof d !== 'object') throw new Error('job data is not an object');
  const str = (k: string) => {
    if (typeof d[k] !== 'string' || d[k] === '') throw new Error(`job field ${k} must be a non-empty string`);
    return d[k] as string;
  };
  const int = (k: string, min: number) => {
    if (!Number.isInteger(d[k]) || (d[k] as number) < min)
      throw new Error(`job field ${k} must be a whole number ≥ ${min}`);
    return d[k] as number;
  };
  str('version');
  if (!/^[0-9a-f]{64}$/.test(str('bundleHash')))
    throw new Error('job field bundleHash must be a sha256 in hex');
  str('dagFile');
  // Ids name folders (logs, XCom files): only what a DAG may declare (dag/dag.ts), never a path.
  const id = (k: string) => {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,249}$/.test(str(k)))
      throw new Error(`job field ${k} is not a DAG or task id`);
  };
  id('dagId');
  if (d.kind === 'try') {
    str('runId');
    // What a job of another version carries may differ: its key is enough for the worker to refuse it by version.
    if (d.version === hangarVersion()) {
      const run = d.run as Record<string, unknown> | null;
      if (!run || typeof run !== 'object') throw new Error('job field run must be an object');
      for (const k of ['run_type', 'logical_date', 'data_interval_start', 'data_interval_end', 'conf'])
        if (typeof run[k] !== 'string') throw new Error(`job field run.${k} must be a string`);
      if (run.run_id !== d.runId) throw new Error("job field run.run_id must be the job's runId");
    }
    id('taskId');
    int('mapIndex', -1);
    int('tryNumber', 1);
    int('maxTries', 1);
    if (d.timeoutMs !== null) int('timeoutMs', 1);
    str('logKey');
    return d as unknown as TryJob;
  }
  if (d.kind === 'callback') {
    if (!/^callback-[0-9a-f]{32}$/.test(str('id'))) throw new Error('job field id is not a callback id');
    if (d.taskId !== null) id('taskId');
    if (!['onSuccess', 'onFailure', 'onRetry', 'onSlaMiss'].includes(d.name as string))
      throw new Error('job field name must be a callback name');
    if (!d.context || typeof d.context !== 'object') throw new Error('job field context must be an object');
    int('timeoutMs', 1);
    if (d.logKey !== null) str('logKey');
    return d as unknown as CallbackJob;
  }
  throw new Error(`job kind must be "try" or "callback", not ${JSON.stringify(d.kind)}`);
}

/** The Redis pub/sub channel on which workers publish the lines their tries log, for live tails. */
export function logChannel(prefix: string): string {
  return `${prefix}:try-log-lines`;
}

/**
 * Log lines of a try, published together: those it logged within a short window (a
 * publish per line cost the worker and the scheduler a Redis round trip and a parse each).
 */
export interface LogLinesMessage {
  readonly job: string;
  readonly lines: readonly string[];
}

/** A log-lines message, or undefined when the text is not one. */
export function parseLogLines(text: string): LogLinesMessage | undefined {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    return undefined;
  }
  const o = m as { job?: unknown; lines?: unknown };
  return typeof o?.job === 'string' && Array.isArray(o.lines) && o.lines.every((l) => typeof l === 'string')
    ? { job: o.job, lines: o.lines as string[] }
    : undefined;
}

/**
 * Where workers tell schedulers what they have just written to the store about a try (Redis
 * pub/sub): its start (taken as said: it only shows the try running) and its end (a wake: the
 * outcome is read from the store, the source of truth, not from a channel anyone on the Redis
 * may publish on). A message lost to a reconnect is made up for by the scheduler's backstop
 * read of the store.
 */
export function newsChannel(prefix: string): string {
  return `${prefix}:try-news`;
}

/** A try's start (`started`: the pid and machine running it) or its end (`ended`), once stored. */
export type TryNewsMessage =
  | { readonly job: string; readonly started: { readonly pid: number; readonly hostname: string } }
  | { readonly job: string; readonly ended: true };

/** A news message as received (a boundary: anything may be published on a channel). */
export function parseTryNews(text: string): TryNewsMessage | undefined {
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (!m || typeof m !== 'object' || typeof m.job !== 'string') return undefined;
  const s = m.started as Record<string, unknown> | undefined;
  if (s && typeof s === 'object' && typeof s.pid === 'number' && typeof s.hostname === 'string')
    return { job: m.job, started: { pid: s.pid, hostname: s.hostname } };
  if (m.ended === true) return { job: m.job, ended: true };
  return undefined;
}
