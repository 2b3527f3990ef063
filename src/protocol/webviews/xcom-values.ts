/**
 * The shapes the XCom browser shows, shared by the runtime protocol
 * (src/protocol/runtime.ts: `xcom/query`, `xcom/read`, `xcom/readRaw`) and the
 * XCom browser webview. Plain JSON only: no imports, no DOM, no Node.
 *
 * Glossary: a location (`XComLoc`) names one XCom; a value node (`ValueNode`) is
 * a decoded value made JSON-safe with its type kept (dates, bytes, big integers,
 * maps, sets…) and paged: containers carry at most one page of children
 * (`offset` + `children.length` of `size`), strings at most one page of characters;
 * the rest is fetched with `xcom/read` at the node's `path` and a new `offset`.
 */

export interface XComLoc {
  dagId: string;
  runId: string;
  taskId: string;
  /** -1 for a task that is not mapped. */
  mapIndex: number;
  key: string;
}

export interface XComFilter {
  dagId?: string;
  runId?: string;
  taskId?: string;
  mapIndex?: number;
  /** Exact key. */
  key?: string;
  /** Keys starting with this (literal: `_` and `%` are not wildcards). */
  keyPrefix?: string;
}

/** One row of the XCom browser's table (metadata only: never the value). */
export interface XComRow extends XComLoc {
  /** Codecs the value went through, e.g. ["json", "gzip", "aes-256-gcm", "file"]. */
  chain: string[];
  sizeOriginal: number;
  sizeStored: number;
  sensitive: boolean;
  createdAt: string;
  /** Task ids (with `[map index]` when mapped) that pulled the value, first pull first. */
  pulledBy: string[];
}

export interface XComPage {
  /** Rows matching the filter (all pages). */
  total: number;
  offset: number;
  rows: XComRow[];
  /** Milliseconds the runtime spent answering. */
  ms: number;
}

/** What the filter drop-downs offer: DAGs with XComs, runs of the chosen DAG, tasks of the chosen run. */
export interface XComFacets {
  dagIds: string[];
  runIds: string[];
  taskIds: string[];
}

/** A step from a node to one of its children: an object key, or an index (arrays, maps, sets). */
export type PathStep = string | number;

export type ValueNode =
  | { t: 'null' }
  | { t: 'undefined' }
  | { t: 'boolean'; v: boolean }
  /** `v` is a string for NaN, Infinity, -Infinity and -0. */
  | { t: 'number'; v: number | string }
  | { t: 'bigint'; v: string }
  /** ISO 8601, or null for an invalid date. */
  | { t: 'date'; v: string | null }
  | { t: 'regexp'; v: string }
  /** `v` is one page of characters starting at `offset`; `length` is the whole string's. */
  | { t: 'string'; v: string; offset: number; length: number }
  /** Binary: `hex` is one page of bytes from `offset`; `kind` is Buffer, Uint8Array, Float64Array, ArrayBuffer… */
  | { t: 'bytes'; kind: string; hex: string; offset: number; length: number }
  | ContainerNode;

export interface ContainerNode {
  t: 'array' | 'object' | 'map' | 'set';
  /** Number of children in all. */
  size: number;
  /** Index of the first child in `children`. */
  offset: number;
  /**
   * One page of children, or null when not loaded yet (deep nodes: fetched on expand).
   * Object children are labelled by their key; array and set children by their index;
   * map children are `{ key, value }` pairs shown as `entry`.
   */
  children: ChildNode[] | null;
}

export interface ChildNode {
  /** What the tree shows before the value: an object key, or the index. */
  label: PathStep;
  /** For maps: the entry's key. */
  mapKey?: ValueNode;
  node: ValueNode;
}

/** Why a value could not be decoded, for the user: `no-key`, `wrong-key-or-tampered`, `tampered`, `missing`, or `error`. */
export type DecodeFailure = 'no-key' | 'wrong-key-or-tampered' | 'tampered' | 'missing' | 'error';

export type XComReadResult =
  | { ok: true; masked: false; node: ValueNode; path: PathStep[]; chain: string[]; sensitive: boolean; ms: number }
  /** A sensitive value the user did not ask to reveal: nothing of it is sent. */
  | { ok: true; masked: true; chain: string[]; sensitive: true; ms: number }
  | { ok: false; reason: DecodeFailure; code: string; message: string; chain: string[]; sensitive: boolean };

export interface XComRawResult {
  chain: string[];
  sensitive: boolean;
  sizeOriginal: number;
  sizeStored: number;
  createdAt: string;
  /** The envelope header as stored (JSON), or null for a legacy row (plain JSON). */
  header: unknown;
  /** Bytes of the whole envelope and of its inline payload (empty when offloaded). */
  envelopeBytes: number;
  payloadBytes: number;
  /** First bytes of the envelope, hex (never decrypted content). */
  headHex: string;
  integrity: { status: string; detail?: string };
}
