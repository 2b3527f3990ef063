/**
 * The XCom backend boundary.
 *
 * Glossary:
 * - location: where an XCom lives (DAG, run, task, map index, key). Backends bind
 *   stored bytes to it (encryption uses it as associated data, file storage as a path).
 * - envelope: the bytes stored in the `xcom.value` column. It names the chain of
 *   codecs applied so any backend can decode any stored value (see docs/xcom-format.md).
 * - chain: the codec names applied in order, e.g. ['json', 'gzip', 'aes-256-gcm', 'file'].
 *   The first one is the serialization format (`json`, `typed-json` or `bytes`).
 * - object store: where offloaded values live: the workspace's XCom directory (`file`),
 *   a `file://` directory bucket (`file`) or an `s3://bucket/prefix` (`s3`).
 */

export interface XComLocation {
  readonly dagId: string;
  readonly runId: string;
  readonly taskId: string;
  /** -1 for a task that is not mapped, as in Airflow. */
  readonly mapIndex: number;
  readonly key: string;
}

/** What a backend hands the store to persist in one `xcom` row. */
export interface StoredXCom {
  /** The envelope: the bytes written to the row's `value` column. */
  readonly data: Uint8Array;
  /** Codecs applied, in order; shown as badges by the XCom browser. */
  readonly chain: readonly string[];
  /** Size of the value once serialized, before compression or encryption. */
  readonly sizeOriginal: number;
  /** Size of what was stored (inline bytes, or the offloaded file/object). */
  readonly sizeStored: number;
  /** Whether the value was treated as sensitive (masked in views, encrypted if a key exists). */
  readonly sensitive: boolean;
}

export interface SerializeOptions {
  /** Explicit sensitivity from the task or the push; undefined means "detect". */
  readonly sensitive?: boolean;
  /**
   * Per-task or per-push backend override (`database`, `file`, `compressed`,
   * `encrypted`, `hybrid`, `s3`); undefined means the workspace's default.
   */
  readonly backend?: string;
}

export interface XComBackend {
  readonly name: string;
  serialize(loc: XComLocation, value: unknown, opts?: SerializeOptions): Promise<StoredXCom>;
  deserialize(loc: XComLocation, data: Uint8Array): Promise<unknown>;
  /** Removes whatever the envelope points at outside the row (files, objects). */
  purge(loc: XComLocation, data: Uint8Array): Promise<void>;
}

/** Optional sink for the backend's log lines (compression statistics, warnings). Never given secrets. */
export type XComLogFn = (level: 'debug' | 'info' | 'warn', message: string) => void;
