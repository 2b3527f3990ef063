/** Sync pipelines: Source → Transformers → Destination with a cursor in the store (store.sync). */
export type {
  Cursor,
  DataPoint,
  Destination,
  DestinationWrite,
  FileResult,
  FileStatus,
  PointInfo,
  ReadOptions,
  Source,
  SyncLogger,
  SyncSummary,
  Transformer,
} from './types.ts';
export { compareCursor } from './types.ts';
export {
  ChangedWhileReadError,
  HealthCheckError,
  HostKeyError,
  SftpError,
  SftpTimeoutError,
  SyncError,
} from './errors.ts';
export { SYNC_SCHEMA_SQL } from '../store/sync-schema.ts';
export { SyncStateMachine } from './state.ts';
export type { ManifestEntry } from './state.ts';
export {
  composeTransformers,
  mapText,
  maskToken,
  passThrough,
  replaceBytes,
  replaceText,
  whitespaceToUnderscore,
} from './transform.ts';
export type { TextOptions } from './transform.ts';
export { SftpSession, fingerprintOf, parseSftpUri, sftpLabel, validateSftpOptions } from './sftp-connection.ts';
export type { ParsedSftpUri, SftpConnectionOptions, SftpHostKeyPolicy, SftpTimeouts } from './sftp-connection.ts';
export { SftpDestination, SftpSource } from './sftp.ts';
export type { SftpDestinationOptions, SftpSourceOptions } from './sftp.ts';
export { LocalDestination, LocalSource } from './local.ts';
export type { LocalDestinationOptions, LocalSourceOptions } from './local.ts';
export { checkHealth, runSync } from './pipeline.ts';
export type { HealthReport, SyncPipelineOptions } from './pipeline.ts';
export { healthCheckTask, syncPipelineTasks, syncTask } from './dag.ts';
export type { SyncDagSpec, SyncTaskContext } from './dag.ts';

// The authoring API's sync functions (src/runtime/dag/sync.ts) forward here.
import { SYNC_IMPLEMENTATION } from '../dag/sync.ts';
import { syncImplementation } from './api.ts';
(globalThis as Record<symbol, unknown>)[SYNC_IMPLEMENTATION] = syncImplementation;
export { buildTransformers, sftpSyncTasks } from './api.ts';
