/**
 * The authoring API's sync functions (src/runtime/dag/sync.ts forwards here):
 * `sftpSyncTasks(dag, options)` adds the seed's DAG shape, health_check → sync,
 * with connections resolved when the tasks run and the cursor kept in the
 * runtime's store.
 */
import type { Dag } from '../dag/dag.ts';
import { DagDefinitionError } from '../dag/dag.ts';
import { callerPosition } from '../dag/position.ts';
import type { SourcePosition } from '../dag/position.ts';
import type { SftpSyncOptions, SftpSyncTasks, SyncImplementation, SyncTransformerSpec } from '../dag/sync.ts';
import type { TaskContext, TaskRef } from '../dag/types.ts';
import { failWithoutRetry, taskServices } from '../executor/services.ts';
import type { TaskOutcome } from '../executor/services.ts';
import { SyncError, errorMessage } from './errors.ts';
import { checkHealth, runSync } from './pipeline.ts';
import type { HealthReport } from './pipeline.ts';
import { parseSftpUri } from './sftp-connection.ts';
import type { ParsedSftpUri } from './sftp-connection.ts';
import { SftpDestination, SftpSource } from './sftp.ts';
import { SyncStateMachine, validatePipelineId } from './state.ts';
import { maskToken, passThrough, replaceText, whitespaceToUnderscore } from './transform.ts';
import type { SyncLogger, SyncSummary, Transformer } from './types.ts';

const CONNECTION_ID_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,249}$/;

/** Builds the transformers named in a DAG file; throws on an unknown or malformed one. */
export function buildTransformers(specs: readonly SyncTransformerSpec[] | undefined): Transformer[] {
  if (specs === undefined) return [];
  if (!Array.isArray(specs)) throw new Error('transformers must be a list');
  return specs.map((s: SyncTransformerSpec, i) => {
    if (s === 'whitespace_to_underscore') return whitespaceToUnderscore();
    if (s === 'pass_through') return passThrough();
    if (s !== null && typeof s === 'object') {
      if (s.kind === 'mask_token') {
        if (typeof s.token !== 'string' || s.token === '') throw new Error(`transformers[${i}]: mask_token needs a non-empty token`);
        return maskToken(s.token);
      }
      if (s.kind === 'replace_text') {
        if (typeof s.token !== 'string' || s.token === '') throw new Error(`transformers[${i}]: replace_text needs a non-empty token`);
        if (typeof s.replacement !== 'string') throw new Error(`transformers[${i}]: replace_text needs a replacement string`);
        return replaceText(s.token, s.replacement);
      }
    }
    throw new Error(
      `transformers[${i}]: unknown transformer ${JSON.stringify(s)} (use 'whitespace_to_underscore', 'pass_through', ` +
        `{ kind: 'mask_token', token } or { kind: 'replace_text', token, replacement })`,
    );
  });
}

function positiveInt(v: unknown, name: string): void {
  if (v !== undefined && (!Number.isInteger(v) || (v as number) < 1)) throw new Error(`${name} must be a positive integer`);
}

/** Checks the options when the DAG file is loaded (connections are looked up only at run time). */
function validate(dag: Dag<any>, o: SftpSyncOptions, position: SourcePosition | undefined): string {
  const fail = (msg: string): never => {
    throw new DagDefinitionError(`sftpSyncTasks in DAG "${dag.id}": ${msg}`, position, dag.id);
  };
  if (o === null || typeof o !== 'object') fail('options are missing');
  let pipelineId = '';
  try {
    pipelineId = validatePipelineId(o.pipelineId ?? dag.id);
  } catch (err) {
    fail(errorMessage(err));
  }
  for (const side of ['source', 'destination'] as const) {
    const id = o[side];
    if (typeof id !== 'string' || !CONNECTION_ID_RE.test(id)) {
      fail(`${side} must be a connection id (e.g. 'sftp_src'), not ${JSON.stringify(id)}`);
    }
  }
  if (o.mode !== undefined && o.mode !== 'cursor' && o.mode !== 'manifest') fail(`mode must be 'cursor' or 'manifest', not "${String(o.mode)}"`);
  try {
    positiveInt(o.chunkSize, 'chunkSize');
    positiveInt(o.concurrency, 'concurrency');
    buildTransformers(o.transformers);
  } catch (err) {
    fail(errorMessage(err));
  }
  return pipelineId;
}

/** The SFTP endpoint of a connection, with errors naming pipeline, side and connection (never the password). */
function endpoint(ctx: TaskContext, pipelineId: string, side: 'source' | 'destination', connectionId: string): ParsedSftpUri {
  const where = `sync pipeline "${pipelineId}": ${side} connection "${connectionId}"`;
  let uri: string;
  let type: string;
  try {
    const c = ctx.connection(connectionId);
    uri = c.uri;
    type = c.type;
  } catch (err) {
    throw new SyncError(`${where}: ${errorMessage(err)}`, { cause: err });
  }
  if (type !== 'sftp') throw new SyncError(`${where} is a "${type}" connection; an SFTP sync needs sftp://user@host:port/root?fingerprint=SHA256:…`);
  try {
    return parseSftpUri(uri);
  } catch (err) {
    throw new SyncError(`${where}: ${errorMessage(err)}`, { cause: err });
  }
}

function syncLog(ctx: TaskContext): SyncLogger {
  return { info: (m) => ctx.log.info(m), warn: (m) => ctx.log.warn(m), error: (m) => ctx.log.error(m) };
}

/**
 * Both ends, or — when a connection is missing or malformed, which no retry
 * can fix — a failed outcome without retry whose reason names the variable to set.
 */
function ends(ctx: TaskContext, pipelineId: string, o: SftpSyncOptions): { source: SftpSource; destination: SftpDestination } | TaskOutcome {
  let src: ParsedSftpUri;
  let dst: ParsedSftpUri;
  try {
    src = endpoint(ctx, pipelineId, 'source', o.source);
    dst = endpoint(ctx, pipelineId, 'destination', o.destination);
  } catch (err) {
    ctx.log.error(errorMessage(err));
    return failWithoutRetry(errorMessage(err));
  }
  const log = syncLog(ctx);
  return {
    source: new SftpSource({ connection: src.options, root: src.root, log }),
    destination: new SftpDestination({ connection: dst.options, root: dst.root, log }),
  };
}

export function sftpSyncTasks(dag: Dag<any>, o: SftpSyncOptions): SftpSyncTasks {
  const position = callerPosition();
  if (!dag || typeof dag.addTask !== 'function') {
    throw new DagDefinitionError('sftpSyncTasks: the first argument must be a DAG', position);
  }
  const pipelineId = validate(dag, o, position);
  const taskOptions = { ...(o.taskOptions ?? {}) };

  const healthCheck = dag.addTask(
    o.healthCheckTaskId ?? 'health_check',
    'typescript',
    async (ctx: TaskContext): Promise<HealthReport | TaskOutcome> => {
      const e = ends(ctx, pipelineId, o);
      if (!('source' in e)) return e;
      return await checkHealth(e.source, e.destination, syncLog(ctx));
    },
    { ...taskOptions, doc: `Sync pipeline "${pipelineId}": connects ${o.source} and ${o.destination}, lists the source, proves the destination can write.` },
    position,
  ) as TaskRef<HealthReport>;

  const sync = dag.addTask(
    o.syncTaskId ?? 'sync',
    'typescript',
    async (ctx: TaskContext): Promise<SyncSummary | TaskOutcome> => {
      const e = ends(ctx, pipelineId, o);
      if (!('source' in e)) return e;
      const { source, destination } = e;
      const summary = await runSync({
        pipelineId,
        source,
        destination,
        state: new SyncStateMachine(taskServices(ctx).store.sync),
        transformers: buildTransformers(o.transformers),
        log: syncLog(ctx),
        ...(o.mode !== undefined ? { mode: o.mode } : {}),
        ...(o.propagateDeletes !== undefined ? { propagateDeletes: o.propagateDeletes } : {}),
        ...(o.chunkSize !== undefined ? { chunkSize: o.chunkSize } : {}),
        ...(o.concurrency !== undefined ? { concurrency: o.concurrency } : {}),
      });
      if (o.failOnFileErrors === true && summary.filesFailed > 0) {
        throw new SyncError(
          `sync pipeline "${pipelineId}": ${summary.filesFailed} file(s) failed: ` +
            summary.failures.slice(0, 5).map((f) => `${f.id}: ${f.error}`).join('; '),
        );
      }
      return summary;
    },
    { ...taskOptions, doc: `Sync pipeline "${pipelineId}": ${o.source} → ${o.destination}; returns the run summary.` },
    position,
  ) as TaskRef<SyncSummary>;

  healthCheck.before(sync);
  return { healthCheck, sync } as SftpSyncTasks;
}

export const syncImplementation: SyncImplementation = {
  sftpSyncTasks: (dag, options) => sftpSyncTasks(dag as Dag<any>, options),
};
