/**
 * Sync pipelines in the authoring API: the public types and the function DAG
 * files call. The implementation lives in src/runtime/sync/ and registers
 * itself here when the runtime loads it (this folder stays free of runtime
 * imports, so its declarations ship alone to `.hangar/types/`).
 *
 * ```ts
 * import { dag, sftpSyncTasks } from 'hangar';
 * export const d = dag({ id: 'sftp_sync', schedule: '@hourly', startDate: '2024-01-01' });
 * const { healthCheck, sync } = sftpSyncTasks(d, {
 *   source: 'sftp_src',        // HANGAR_CONN_SFTP_SRC=sftp://user@host:22/in?fingerprint=SHA256:…
 *   destination: 'sftp_dst',   // HANGAR_CONN_SFTP_DST=sftp://user@host:22/out?fingerprint=SHA256:…
 *   transformers: ['whitespace_to_underscore'],
 * });
 * ```
 *
 * Glossary: a **data point** is one file; the **cursor** `(mtime, id)` is the
 * last data point committed in order (kept per pipeline in the runtime's
 * store); **manifest** mode also compares name, size and mtime with what the
 * pipeline last synced, so files copied in with an old mtime are not skipped.
 */
import type { TaskDefaults, TaskRef } from './types.ts';

/** A streaming transform applied to each file's content, in order. */
export type SyncTransformerSpec =
  /** The seed's transform: every whitespace character becomes `_` (UTF-8 text). */
  | 'whitespace_to_underscore'
  /** Bytes unchanged (binary files). */
  | 'pass_through'
  /** Replaces every occurrence of `token` by asterisks of the same length (bytes). */
  | { readonly kind: 'mask_token'; readonly token: string }
  /** Replaces `token` by `replacement` in UTF-8 text. */
  | { readonly kind: 'replace_text'; readonly token: string; readonly replacement: string };

export interface SftpSyncOptions {
  /** Names the cursor and manifest in the store (default: the DAG id). */
  readonly pipelineId?: string;
  /**
   * Connection id of the source (`ctx.connection(id)`: `HANGAR_CONN_<ID>` or
   * hangar.json). Its URI is `sftp://user[:password]@host[:port]/absolute/root`
   * with `?fingerprint=SHA256:…` or `?known_hosts=/path` (host keys are always
   * verified), and optionally `private_key_file=/path`.
   */
  readonly source: string;
  /** Connection id of the destination (same URI form). */
  readonly destination: string;
  readonly transformers?: readonly SyncTransformerSpec[];
  /** `cursor` (default) or `manifest` (see the glossary). */
  readonly mode?: 'cursor' | 'manifest';
  /** Delete destination files this pipeline synced whose source is gone (default false). */
  readonly propagateDeletes?: boolean;
  /** Bytes per chunk read (default 256 KiB); no transform depends on it. */
  readonly chunkSize?: number;
  /** Files transferred at the same time (default 8). */
  readonly concurrency?: number;
  /** Fail the sync task when a file failed (default false: the summary lists it and the next run retries it). */
  readonly failOnFileErrors?: boolean;
  /** Task ids (default `health_check` and `sync`). */
  readonly healthCheckTaskId?: string;
  readonly syncTaskId?: string;
  /** Options for both tasks (retries, timeouts, pool…). */
  readonly taskOptions?: TaskDefaults;
}

/** The cursor: the last data point committed in order. */
export interface SyncCursor {
  /** Modification time in ms since the epoch (whole seconds for SFTP). */
  readonly mtimeMs: number;
  readonly id: string;
}

/** The sync task's XCom. */
export interface SyncSummary {
  readonly pipelineId: string;
  readonly runId: string;
  readonly mode: 'cursor' | 'manifest';
  /** Locations without secrets (`sftp://user@host:22/in`). */
  readonly source: string;
  readonly destination: string;
  readonly filesListed: number;
  readonly filesSynced: number;
  readonly filesSkipped: number;
  readonly filesFailed: number;
  readonly filesDeleted: number;
  readonly bytesRead: number;
  /** Bytes written to the destination (after transforms). */
  readonly bytesMoved: number;
  readonly durationMs: number;
  readonly cursorBefore: SyncCursor | null;
  readonly cursorAfter: SyncCursor | null;
  /** Failed and changed files (at most 100), with their errors. */
  readonly failures: readonly { readonly id: string; readonly status: string; readonly error: string }[];
}

/** The health check task's XCom. */
export interface SyncHealthReport {
  readonly source: string;
  readonly destination: string;
  readonly durationMs: number;
}

export interface SftpSyncTasks {
  /** Connects both sides, lists the source root, proves the destination can write. */
  readonly healthCheck: TaskRef<SyncHealthReport>;
  /** Runs after the health check; its return value is the {@link SyncSummary}. */
  readonly sync: TaskRef<SyncSummary>;
}

/** The DAG the tasks are added to (any Hangar DAG). */
export interface SyncDag {
  readonly id: string;
}

/** What the runtime's sync module provides (registered under a global symbol). */
export interface SyncImplementation {
  sftpSyncTasks(dag: unknown, options: SftpSyncOptions): SftpSyncTasks;
}

export const SYNC_IMPLEMENTATION = Symbol.for('hangar.sync.implementation');

function impl(): SyncImplementation {
  const i = (globalThis as Record<symbol, SyncImplementation | undefined>)[SYNC_IMPLEMENTATION];
  if (!i) throw new Error('Hangar sync pipelines are not loaded in this process (import src/runtime/sync/index.ts)');
  return i;
}

/**
 * The seed's DAG shape for an SFTP → SFTP sync: `health_check` → `sync`. The
 * connections are looked up when the tasks run (a missing one fails the task,
 * naming its environment variable), so the DAG loads without them.
 */
export function sftpSyncTasks(dag: SyncDag, options: SftpSyncOptions): SftpSyncTasks {
  return impl().sftpSyncTasks(dag, options);
}
