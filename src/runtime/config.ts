import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import type { XComConfig } from './xcom/index.ts';
import { resolveStoreTarget } from './store/target.ts';
import { parseS3Url } from './s3.ts';
import type { StoreTarget } from './store/target.ts';

/** The workspace configuration, `hangar.json` at the workspace root. Every field is optional. */
export interface HangarConfigFile {
  /** Folder of DAG files, relative to the workspace (default `dags`). */
  dagsFolder?: string;
  /** SQLite file of the metadata store (default `.hangar/hangar.db`). */
  store?: string;
  /** Most task tries running at once in this runtime (default: 2 × CPUs, at least 4). */
  parallelism?: number;
  /** Pools and their slots; `default_pool` has 128 unless set. */
  pools?: Record<string, number>;
  /**
   * How tasks run: `isolated` (a worker process per try, the default), `in-process`, or
   * `distributed` (tries go through a Redis queue to `hangar worker` processes on any machine).
   */
  executor?: 'isolated' | 'in-process' | 'distributed';
  /** The distributed executor's queue: BullMQ on Redis. */
  queue?: QueueConfigFile;
  /** Where the distributed executor keeps task logs (and, unless `bundles` says otherwise, DAG bundles). */
  logs?: RemoteConfigFile;
  /** Where the distributed executor publishes compiled DAG files, by content hash (default: `<logs.remote>/bundles`). */
  bundles?: RemoteConfigFile;
  /** V8 heap limit of each worker process in MiB (isolated executor); a task over it dies alone. */
  workerMaxOldSpaceMb?: number;
  /** Connections by id → URI (secrets belong in HANGAR_CONN_<ID> environment variables instead). */
  connections?: Record<string, string>;
  xcom?: XComConfig;
  /** The scheduler service (`hangar scheduler`, or the extension's toggle). */
  scheduler?: SchedulerConfig;
  /** Seconds one DAG file may take to be imported by the DAG processor (default 30, as Airflow's dagbag_import_timeout). */
  dagFileTimeout?: number;
  /** MiB of memory one DAG file's import may use (default 512). */
  dagFileMemoryMb?: number;
  /** Milliseconds a DAG file's import may take before it is warned about, naming its slow statement (default 2000). */
  parseBudgetMs?: number;
}

export interface QueueConfigFile {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS); HANGAR_REDIS_URL overrides it. */
  redis?: string;
  /** Prefix of BullMQ's keys in Redis (default `hangar`): deployments sharing a Redis keep apart by it. */
  prefix?: string;
  /**
   * Milliseconds a scheduler's waiting try first waits, without news from its worker, before it
   * reads the store (default 1000; it doubles while nothing changes, up to a third of the
   * heartbeat timeout and at most 5 s — or this value, if larger).
   */
  pollMs?: number;
}

export interface RemoteConfigFile {
  /** `s3://bucket[/prefix]` */
  remote?: string;
  /** A connection id (aws://KEY_ID:SECRET@HOST:PORT?region_name=…, from HANGAR_CONN_<ID>) with the credentials and endpoint. */
  connection?: string;
  /** Endpoint of an S3-compatible server, when no connection gives it. */
  endpoint?: string;
  region?: string;
}

/** An S3 location, resolved: where and how to reach it (credentials come from the connection, at use). */
export interface RemoteLocation {
  readonly url: string;
  readonly connection?: string;
  readonly endpoint?: string;
  readonly region?: string;
}

export interface DistributedConfig {
  /** The Redis URL, with its password if it has one (never printed: see redisRedacted). */
  readonly redisUrl: string;
  readonly redisRedacted: string;
  readonly prefix: string;
  /** queue.pollMs: the scheduler's backstop read of a try's state when its worker said nothing. */
  readonly pollMs: number;
  readonly logs: RemoteLocation;
  readonly bundles: RemoteLocation;
}

export interface SchedulerConfig {
  /** New DAGs start paused (Airflow's dags_are_paused_at_creation). Default false. */
  dagsArePausedAtCreation?: boolean;
  /** On SIGINT/SIGTERM, how long running tries may take to finish before they are stopped (default 30). */
  gracePeriodSeconds?: number;
  /** Longest sleep between two scheduler loop turns, to notice pauses and runs made elsewhere (default 5). */
  pollSeconds?: number;
  /**
   * How long a run's heartbeat may be silent before another scheduler takes the run over
   * (Airflow's scheduler_health_check_threshold; default 30). The owner beats every sixth of it, at most every 5 s.
   */
  heartbeatTimeoutSeconds?: number;
}

export interface WorkspaceConfig {
  readonly root: string;
  readonly dagsFolder: string;
  readonly hangarDir: string;
  /** Where the metadata store is: hangar.json's `store` (a file or a postgres:// URL), HANGAR_STORE_URL first. */
  readonly storeTarget: StoreTarget;
  /** The SQLite file (or, for PostgreSQL, the URL without its password): for messages and file-only features. */
  readonly storePath: string;
  readonly logsDir: string;
  readonly cacheDir: string;
  readonly xcomDir: string;
  readonly tmpDir: string;
  readonly parallelism: number;
  readonly pools: Readonly<Record<string, number>>;
  readonly executor: 'isolated' | 'in-process' | 'distributed';
  /** Set when the executor is `distributed`. */
  readonly distributed: DistributedConfig | undefined;
  /** `logs.remote`: where task logs are kept in S3 (the distributed executor's), readable from any machine. */
  readonly remoteLogs: RemoteLocation | undefined;
  readonly workerMaxOldSpaceMb: number;
  readonly connections: Readonly<Record<string, string>>;
  readonly xcom: XComConfig;
  readonly scheduler: Required<SchedulerConfig>;
  /** The DAG processor's budgets per file. */
  readonly dagFileTimeoutMs: number;
  readonly dagFileMemoryMb: number;
  /** An import slower than this gets a warning naming its slow top-level statement (the file still loads). */
  readonly parseBudgetMs: number;
}

export const CONFIG_FILE = 'hangar.json';

/**
 * Where a runtime keeps its state, instead of the workspace's: `stateDir` holds the store
 * (a SQLite file, whatever hangar.json or HANGAR_STORE_URL say), logs, compile cache,
 * XCom files and temporary files. The throwaway runtimes of `hangar/testing` use it.
 */
export interface StatePlacement {
  readonly stateDir: string;
}

export function loadConfig(workspace: string, overrides: Partial<HangarConfigFile> = {}, placement?: StatePlacement): WorkspaceConfig {
  const root = resolve(workspace);
  if (!existsSync(root)) throw new Error(`Workspace folder ${root} does not exist`);
  const file = join(root, CONFIG_FILE);
  let fromFile: HangarConfigFile = {};
  if (existsSync(file)) {
    try {
      fromFile = JSON.parse(readFileSync(file, 'utf8')) as HangarConfigFile;
    } catch (err) {
      throw new Error(`${file}: not valid JSON: ${(err as Error).message}`);
    }
    if (!fromFile || typeof fromFile !== 'object' || Array.isArray(fromFile)) {
      throw new Error(`${file}: must hold a JSON object`);
    }
  }
  const c: HangarConfigFile = { ...fromFile, ...overrides };
  const hangarDir = placement ? resolve(placement.stateDir) : join(root, '.hangar');
  const at = (p: string) => (isAbsolute(p) ? p : join(root, p));
  const parallelism = c.parallelism ?? 16;
  if (!Number.isInteger(parallelism) || parallelism < 1) throw new Error(`${file}: parallelism must be a whole number ≥ 1`);
  if (c.executor !== undefined && c.executor !== 'isolated' && c.executor !== 'in-process' && c.executor !== 'distributed') {
    throw new Error(`${file}: executor must be "isolated", "in-process" or "distributed", not ${JSON.stringify(c.executor)}`);
  }
  const dagFileTimeout = c.dagFileTimeout ?? 30;
  if (typeof dagFileTimeout !== 'number' || !(dagFileTimeout > 0) || dagFileTimeout > 3600) {
    throw new Error(`${file}: dagFileTimeout must be a number of seconds between 0 and 3600, not ${JSON.stringify(dagFileTimeout)}`);
  }
  const dagFileMemoryMb = c.dagFileMemoryMb ?? 512;
  if (!Number.isInteger(dagFileMemoryMb) || dagFileMemoryMb < 64) {
    throw new Error(`${file}: dagFileMemoryMb must be a whole number of MiB ≥ 64, not ${JSON.stringify(dagFileMemoryMb)}`);
  }
  const parseBudgetMs = c.parseBudgetMs ?? 2000;
  if (typeof parseBudgetMs !== 'number' || !Number.isFinite(parseBudgetMs) || parseBudgetMs < 1) {
    throw new Error(`${file}: parseBudgetMs must be a number of milliseconds ≥ 1, not ${JSON.stringify(parseBudgetMs)}`);
  }
  let storeTarget: StoreTarget;
  try {
    storeTarget = resolveStoreTarget({ root, configured: c.store, explicit: placement ? join(hangarDir, 'hangar.db') : undefined, env: process.env });
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
  return {
    root,
    dagsFolder: at(c.dagsFolder ?? 'dags'),
    hangarDir,
    storeTarget,
    storePath: storeTarget.kind === 'sqlite' ? storeTarget.path : storeTarget.redacted,
    logsDir: join(hangarDir, 'logs'),
    cacheDir: join(hangarDir, 'cache'),
    xcomDir: join(hangarDir, 'xcom'),
    tmpDir: join(hangarDir, 'tmp'),
    parallelism,
    pools: { default_pool: 128, ...(c.pools ?? {}) },
    executor: c.executor ?? 'isolated',
    distributed: c.executor === 'distributed' ? distributedConfig(c, file, process.env) : undefined,
    remoteLogs: remoteLocation(c.logs, 'logs', file),
    workerMaxOldSpaceMb: c.workerMaxOldSpaceMb ?? 4096,
    connections: c.connections ?? {},
    xcom: c.xcom ?? {},
    scheduler: schedulerConfig(c.scheduler, file),
    dagFileTimeoutMs: Math.round(dagFileTimeout * 1000),
    dagFileMemoryMb,
    parseBudgetMs,
  };
}

/** `redis://user:secret@host` → `redis://user:***@host`: for messages. */
export function redactRedisUrl(url: string): string {
  return url.replace(/^(rediss?:\/\/)([^@/]*)@/, (_m, scheme: string, auth: string) => `${scheme}${auth.includes(':') ? `${auth.slice(0, auth.indexOf(':'))}:***` : '***'}@`);
}

function remoteLocation(r: RemoteConfigFile | undefined, what: string, file: string): RemoteLocation | undefined {
  if (r === undefined) return undefined;
  if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new Error(`${file}: ${what} must be an object like {"remote": "s3://bucket/prefix"}`);
  if (r.remote === undefined) return undefined;
  if (typeof r.remote !== 'string' || !parseS3Url(r.remote)) {
    throw new Error(`${file}: ${what}.remote must be s3://bucket[/prefix], not ${JSON.stringify(r.remote)}`);
  }
  for (const k of ['connection', 'endpoint', 'region'] as const) {
    if (r[k] !== undefined && typeof r[k] !== 'string') throw new Error(`${file}: ${what}.${k} must be a string`);
  }
  return { url: r.remote.replace(/\/+$/, ''), connection: r.connection, endpoint: r.endpoint, region: r.region };
}

function distributedConfig(c: HangarConfigFile, file: string, env: NodeJS.ProcessEnv): DistributedConfig {
  const q = c.queue ?? {};
  if (typeof q !== 'object' || q === null || Array.isArray(q)) throw new Error(`${file}: queue must be an object like {"redis": "redis://host:6379"}`);
  const redisUrl = env.HANGAR_REDIS_URL || q.redis;
  if (!redisUrl) throw new Error(`${file}: the distributed executor needs a Redis: set queue.redis to redis://host:port (or HANGAR_REDIS_URL)`);
  if (typeof redisUrl !== 'string' || !/^rediss?:\/\/[^/]+/.test(redisUrl)) {
    throw new Error(`${file}: queue.redis must be redis://[user:password@]host:port[/db], not ${JSON.stringify(typeof redisUrl === 'string' ? redactRedisUrl(redisUrl) : redisUrl)}`);
  }
  const prefix = q.prefix ?? 'hangar';
  if (typeof prefix !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(prefix)) throw new Error(`${file}: queue.prefix must be 1–64 letters, digits, _ . or -`);
  const pollMs = q.pollMs ?? 1000;
  if (!Number.isInteger(pollMs) || pollMs < 10) throw new Error(`${file}: queue.pollMs must be a whole number of milliseconds ≥ 10, not ${JSON.stringify(q.pollMs)}`);
  const logs = remoteLocation(c.logs, 'logs', file);
  if (!logs) throw new Error(`${file}: the distributed executor keeps task logs in S3, where any machine reads them: set logs.remote to s3://bucket/prefix`);
  const bundles = remoteLocation(c.bundles, 'bundles', file) ?? { ...logs, url: `${logs.url}/bundles` };
  return { redisUrl, redisRedacted: redactRedisUrl(redisUrl), prefix, pollMs, logs, bundles };
}

function schedulerConfig(c: SchedulerConfig | undefined, file: string): Required<SchedulerConfig> {
  if (c !== undefined && (typeof c !== 'object' || c === null || Array.isArray(c))) throw new Error(`${file}: scheduler must be an object`);
  const out = { dagsArePausedAtCreation: c?.dagsArePausedAtCreation ?? false, gracePeriodSeconds: c?.gracePeriodSeconds ?? 30, pollSeconds: c?.pollSeconds ?? 5, heartbeatTimeoutSeconds: c?.heartbeatTimeoutSeconds ?? 30 };
  if (typeof out.dagsArePausedAtCreation !== 'boolean') throw new Error(`${file}: scheduler.dagsArePausedAtCreation must be true or false`);
  if (typeof out.gracePeriodSeconds !== 'number' || !(out.gracePeriodSeconds >= 0)) throw new Error(`${file}: scheduler.gracePeriodSeconds must be a number ≥ 0`);
  if (typeof out.pollSeconds !== 'number' || !(out.pollSeconds > 0)) throw new Error(`${file}: scheduler.pollSeconds must be a number > 0`);
  if (typeof out.heartbeatTimeoutSeconds !== 'number' || !(out.heartbeatTimeoutSeconds >= 1)) throw new Error(`${file}: scheduler.heartbeatTimeoutSeconds must be a number ≥ 1`);
  return out;
}
