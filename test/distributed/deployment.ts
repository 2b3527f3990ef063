/**
 * Test harness: a distributed Hangar deployment on loopback — a real PostgreSQL (the store),
 * Redis (BullMQ's queues), s3rver (bundles, logs, XCom values) — with one folder per machine:
 * the scheduler's (DAG files and hangar.json) and one per worker (hangar.json only, as a
 * worker on another machine has: it gets the DAG code from S3).
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshDatabase } from '../helpers/postgres.ts';
import type { TestDatabase } from '../helpers/postgres.ts';
import { startRedis } from '../helpers/redis.ts';
import type { RedisServer } from '../helpers/redis.ts';
import { startHangar } from '../helpers/scheduler-process.ts';
import type { SchedulerProcess } from '../helpers/scheduler-process.ts';
import { S3_CREDENTIALS, startS3rver } from '../xcom/helpers.ts';

export interface Deployment {
  readonly base: string;
  readonly db: TestDatabase;
  readonly redis: RedisServer;
  readonly s3: { endpoint: string; dir: string; pause(): Promise<void>; resume(): Promise<void> };
  /** The scheduler machine's workspace (DAG files in dags/). */
  readonly schedulerRoot: string;
  /** Environment of every process (the S3 connection). */
  readonly env: NodeJS.ProcessEnv;
  readonly config: Record<string, unknown>;
  /**
   * Runs a `hangar` command to its end without blocking this process (s3rver answers from
   * it: spawnSync would stall every S3 call the command makes).
   */
  hangar(args: string[]): Promise<{ code: number | null; out: string }>;
  /** Starts `hangar worker` in a folder of its own; resolves once it says it started. */
  startWorker(name: string, args?: string[]): Promise<SchedulerProcess>;
  readonly workers: SchedulerProcess[];
  close(): Promise<void>;
}

export async function startDeployment(
  options: { dags?: Record<string, string>; dagsFrom?: string; config?: Record<string, unknown> } = {},
): Promise<Deployment> {
  const [db, redis, s3] = await Promise.all([freshDatabase(), startRedis(), startS3rver('hangar')]);
  const base = mkdtempSync(join(tmpdir(), 'hangar-deploy-'));
  const port = new URL(s3.endpoint).port;
  const env = {
    HANGAR_CONN_S3: `aws://${S3_CREDENTIALS.accessKeyId}:${S3_CREDENTIALS.secretAccessKey}@127.0.0.1:${port}`,
  };
  const config: Record<string, unknown> = {
    store: db.url,
    executor: 'distributed',
    queue: { redis: redis.url },
    logs: { remote: 's3://hangar/deploy/logs', connection: 's3' },
    bundles: { remote: 's3://hangar/deploy/bundles', connection: 's3' },
    xcom: { backend: 's3', objectStore: { url: 's3://hangar/deploy/xcom', connection: 's3' } },
    scheduler: { heartbeatTimeoutSeconds: 4, gracePeriodSeconds: 5 },
    ...options.config,
  };
  const schedulerRoot = join(base, 'scheduler');
  mkdirSync(join(schedulerRoot, 'dags'), { recursive: true });
  if (options.dagsFrom) cpSync(options.dagsFrom, join(schedulerRoot, 'dags'), { recursive: true });
  for (const [name, text] of Object.entries(options.dags ?? {}))
    writeFileSync(join(schedulerRoot, 'dags', name), text);
  writeFileSync(join(schedulerRoot, 'hangar.json'), JSON.stringify(config, null, 2));
  const workers: SchedulerProcess[] = [];
  return {
    base,
    db,
    redis,
    s3,
    schedulerRoot,
    env,
    config,
    workers,
    async hangar(args) {
      const p = startHangar(args, env);
      const code = await p.exited;
      // Let the last output drain.
      await new Promise((r) => setImmediate(r));
      return { code, out: p.lines.join('\n') };
    },
    async startWorker(name, args = []) {
      const root = join(base, name);
      mkdirSync(root, { recursive: true });
      writeFileSync(join(root, 'hangar.json'), JSON.stringify(config, null, 2));
      const w = startHangar(['worker', '--workspace', root, ...args], env);
      workers.push(w);
      await w.waitFor(/worker \S+ started/, 30_000);
      return w;
    },
    async close() {
      for (const w of workers)
        if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGKILL');
      await Promise.all(workers.map((w) => w.exited));
      await redis.stop();
      await s3.stop();
      rmSync(base, { recursive: true, force: true });
    },
  };
}
