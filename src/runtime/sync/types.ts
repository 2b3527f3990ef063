/**
 * Sync pipelines — glossary.
 *
 * - **DataPoint**: one file, the atomic unit of transfer. Its id is its path
 *   relative to the source root with `/` separators; its content is streamed
 *   in chunks and never loaded whole.
 * - **Cursor**: `(mtimeMs, id)` of the last data point committed in order. The
 *   source orders data points by `(mtimeMs, id)` so ties are deterministic.
 * - **Source**: lists data points after a cursor and streams their content.
 * - **Destination**: receives one data point at a time through a
 *   {@link DestinationWrite}: write under a temporary name, commit (atomic move
 *   into place, previous version backed up), revert (restore the previous
 *   version byte for byte), release (drop the backup once the state is saved).
 * - **Transformer**: a streaming, composable function from chunks to chunks,
 *   correct whatever the chunk boundaries are.
 * - **StateMachine**: persists the cursor, the manifest of synced files and the
 *   per-file results of each run in SQLite.
 */

export interface Cursor {
  /** Modification time in milliseconds since the epoch (whole seconds for SFTP). */
  mtimeMs: number;
  id: string;
}

export interface ReadOptions {
  /** Size of each chunk read from the source (bytes). */
  chunkSize: number;
  /**
   * The consumer promises not to keep a chunk once it asks for the next one,
   * so the source may recycle chunk buffers (less garbage, lower peak memory).
   * The pipeline sets it when no transformer runs.
   */
  reuseBuffers?: boolean;
}

export interface DataPoint {
  /** Path relative to the source root, `/`-separated. */
  readonly id: string;
  readonly size: number;
  readonly mtimeMs: number;
  /**
   * Streams the content. After the last chunk the source checks that size and
   * mtime are unchanged and throws {@link ChangedWhileReadError} otherwise.
   */
  read(options: ReadOptions): AsyncIterable<Uint8Array>;
}

export interface Source {
  /** Human-readable location without secrets, e.g. `sftp://user@host:22/data`. */
  readonly description: string;
  connect(): Promise<void>;
  /** Lists the root; throws if the source cannot be read. */
  healthCheck(): Promise<void>;
  /** All regular files with `(mtimeMs, id) > after` (all when `after` is null), ordered by `(mtimeMs, id)`. */
  list(after: Cursor | null): Promise<DataPoint[]>;
  /** Closes connections; never throws, never hangs. */
  close(): Promise<void>;
}

export interface PointInfo {
  id: string;
  size: number;
  mtimeMs: number;
}

export interface DestinationWrite {
  /**
   * Appends a chunk to the temporary file. May return before the bytes are
   * acknowledged, but never keeps a reference to `chunk` after it resolves.
   */
  write(chunk: Uint8Array): Promise<void>;
  /** Waits for every write, then moves the temporary file into place atomically (backing up the previous file). */
  commit(): Promise<void>;
  /** Before commit: discards the temporary file. After commit: restores the previous file (or removes the new one). */
  revert(): Promise<void>;
  /** After the state is persisted: removes the backup. */
  release(): Promise<void>;
  readonly bytesWritten: number;
}

export interface Destination {
  readonly description: string;
  connect(): Promise<void>;
  /** Lists the root and proves it can write, rename and delete a probe file. */
  healthCheck(): Promise<void>;
  begin(point: PointInfo): Promise<DestinationWrite>;
  /** Removes a file (deletion propagation). Missing files are not an error. */
  remove(id: string): Promise<void>;
  close(): Promise<void>;
}

/** A streaming transform over one file's chunks. Stateful per call. */
export interface Transformer {
  readonly name: string;
  apply(input: AsyncIterable<Uint8Array>, point: PointInfo): AsyncIterable<Uint8Array>;
  /**
   * The transformer never keeps a reference to an input chunk once it asks for the next one (what it
   * carries over, it copies). When every transformer of a pipeline says so, the source reuses its read
   * buffers (less garbage: a 1 GiB file masked through maskToken peaked at 174 MiB without this).
   */
  readonly dropsInput?: boolean;
}

export type FileStatus = 'synced' | 'skipped' | 'failed' | 'changed' | 'deleted';

export interface FileResult {
  id: string;
  status: FileStatus;
  size: number;
  mtimeMs: number;
  bytesRead: number;
  bytesWritten: number;
  durationMs: number;
  error?: string;
}

export interface SyncSummary {
  pipelineId: string;
  runId: string;
  mode: 'cursor' | 'manifest';
  source: string;
  destination: string;
  filesListed: number;
  filesSynced: number;
  filesSkipped: number;
  filesFailed: number;
  filesDeleted: number;
  /** Bytes read from the source for synced files. */
  bytesRead: number;
  /** Bytes written to the destination (after transforms) — the bytes moved. */
  bytesMoved: number;
  durationMs: number;
  cursorBefore: Cursor | null;
  cursorAfter: Cursor | null;
  /** Failed and changed files (at most 100), with their errors. */
  failures: { id: string; status: FileStatus; error: string }[];
}

export interface SyncLogger {
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

export function compareCursor(a: Cursor, b: Cursor): number {
  if (a.mtimeMs !== b.mtimeMs) return a.mtimeMs < b.mtimeMs ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function isAfter(point: Cursor, after: Cursor | null): boolean {
  return after === null || compareCursor(point, after) > 0;
}

export function sortPoints<T extends Cursor>(points: T[]): T[] {
  return points.sort(compareCursor);
}
