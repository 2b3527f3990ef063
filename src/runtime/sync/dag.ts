/**
 * The seed's DAG shape as plain task bodies: a health check task, then a sync
 * task whose return value (its XCom) is the run summary.
 *
 *   const spec: SyncDagSpec = {
 *     pipelineId: 'sftp_sync',
 *     source: () => new SftpSource({ connection: parseSftpUri(srcUri).options, root: '/data/in' }),
 *     destination: () => new SftpDestination({ connection: ..., root: '/data/out' }),
 *     transformers: [whitespaceToUnderscore()],
 *     store: () => store, // the Store that keeps the cursor (a task has taskServices(ctx).store)
 *   };
 *   const health = task('health_check', healthCheckTask(spec));
 *   const sync = task('sync', syncTask(spec)); // after health
 *
 * Source and destination are factories: each task (and each retry) opens its
 * own connections and closes them whatever happens.
 */
import type { Store } from '../store/store.ts';
import { SyncError } from './errors.ts';
import { checkHealth, runSync } from './pipeline.ts';
import type { HealthReport } from './pipeline.ts';
import { SyncStateMachine, validatePipelineId } from './state.ts';
import type { Destination, Source, SyncSummary, Transformer } from './types.ts';

/** The part of a Hangar task context these task bodies use. */
export interface SyncTaskContext {
  log: { info(msg: string): void; warn(msg: string): void; error(msg: string): void };
}

export interface SyncDagSpec {
  pipelineId: string;
  source: () => Source | Promise<Source>;
  destination: () => Destination | Promise<Destination>;
  /** The store that keeps the cursor, manifest and results (the runtime's: `taskServices(ctx).store`). */
  store: Store | (() => Store);
  /** Built per run (transformers are stateless factories, but a function keeps the door open). */
  transformers?: readonly Transformer[] | (() => readonly Transformer[]);
  mode?: 'cursor' | 'manifest';
  propagateDeletes?: boolean;
  chunkSize?: number;
  concurrency?: number;
  /** Fail the sync task when any file failed (default false: the summary reports them and the next run retries). */
  failOnFileErrors?: boolean;
}

function checkSpec(spec: SyncDagSpec): void {
  validatePipelineId(spec.pipelineId);
  for (const k of ['source', 'destination'] as const) {
    if (typeof spec[k] !== 'function') throw new SyncError(`sync pipeline "${spec.pipelineId}": ${k} must be a function returning a ${k}`);
  }
  if (spec.store === undefined || spec.store === null) throw new SyncError(`sync pipeline "${spec.pipelineId}": store is missing`);
}

/** Task body: connect both sides, list the source root, prove the destination can write; then close. */
export function healthCheckTask(spec: SyncDagSpec): (ctx: SyncTaskContext) => Promise<HealthReport> {
  checkSpec(spec);
  return async (ctx) => {
    const source = await spec.source();
    const destination = await spec.destination();
    return await checkHealth(source, destination, ctx.log);
  };
}

/** Task body: run the sync (health checks again, transfer, tear-down) and return the summary. */
export function syncTask(spec: SyncDagSpec): (ctx: SyncTaskContext) => Promise<SyncSummary> {
  checkSpec(spec);
  return async (ctx) => {
    const store = typeof spec.store === 'function' ? spec.store() : spec.store;
    const source = await spec.source();
    const destination = await spec.destination();
    const transformers = typeof spec.transformers === 'function' ? spec.transformers() : (spec.transformers ?? []);
    const summary = await runSync({
      pipelineId: spec.pipelineId,
      source,
      destination,
      state: new SyncStateMachine(store.sync),
      transformers,
      log: ctx.log,
      ...(spec.mode !== undefined ? { mode: spec.mode } : {}),
      ...(spec.propagateDeletes !== undefined ? { propagateDeletes: spec.propagateDeletes } : {}),
      ...(spec.chunkSize !== undefined ? { chunkSize: spec.chunkSize } : {}),
      ...(spec.concurrency !== undefined ? { concurrency: spec.concurrency } : {}),
    });
    if (spec.failOnFileErrors === true && summary.filesFailed > 0) {
      throw new SyncError(
        `sync pipeline "${spec.pipelineId}": ${summary.filesFailed} file(s) failed: ` +
          summary.failures.slice(0, 5).map((f) => `${f.id}: ${f.error}`).join('; '),
      );
    }
    return summary;
  };
}

/** Both task bodies of the seed's DAG shape (health check → sync). */
export function syncPipelineTasks(spec: SyncDagSpec): {
  healthCheck: (ctx: SyncTaskContext) => Promise<HealthReport>;
  sync: (ctx: SyncTaskContext) => Promise<SyncSummary>;
} {
  return { healthCheck: healthCheckTask(spec), sync: syncTask(spec) };
}
