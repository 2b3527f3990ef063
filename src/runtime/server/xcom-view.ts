/**
 * Decoded XCom values made JSON-safe for the XCom browser: typed (dates, bytes,
 * big integers, maps, sets keep their type) and paged (one page of children,
 * characters or bytes per node; deep containers are sent unexpanded and fetched
 * by path). Pure functions: the runtime server calls them, tests call them.
 */
import type { ChildNode, PathStep, ValueNode } from '../../protocol/webviews/xcom-values.ts';

export interface PageOptions {
  /** First child, character or byte of the node's page. */
  offset: number;
  /** Children per page at the top node (strings: ×100 characters, bytes: ×8 bytes). */
  limit: number;
  /** Levels of containers below the top node that are sent expanded. */
  depth?: number;
}

/** Children per page of nodes below the top one. */
const NESTED_LIMIT = 50;

/** The value at `path` below `root`; throws a readable error when the path does not lead anywhere. */
export function valueAt(root: unknown, path: readonly PathStep[]): unknown {
  let v = root;
  for (const [i, step] of path.entries()) {
    const where = () => `path ${JSON.stringify(path.slice(0, i + 1))}`;
    if (v instanceof Map) {
      if (typeof step !== 'number') throw new Error(`${where()}: a map is indexed by entry number`);
      const e = [...v.entries()][step];
      if (!e) throw new Error(`${where()}: no such map entry`);
      v = e[1];
    } else if (v instanceof Set) {
      if (typeof step !== 'number') throw new Error(`${where()}: a set is indexed by member number`);
      const arr = [...v];
      if (step < 0 || step >= arr.length) throw new Error(`${where()}: no such set member`);
      v = arr[step];
    } else if (Array.isArray(v)) {
      if (typeof step !== 'number' || step < 0 || step >= v.length) throw new Error(`${where()}: no such index`);
      v = v[step];
    } else if (v !== null && typeof v === 'object' && !isBinary(v) && !(v instanceof Date) && !(v instanceof RegExp)) {
      if (typeof step !== 'string' || !Object.hasOwn(v, step)) throw new Error(`${where()}: no such key`);
      v = (v as Record<string, unknown>)[step];
    } else {
      throw new Error(`${where()}: a ${typeName(v)} has no children`);
    }
  }
  return v;
}

function isBinary(v: unknown): v is ArrayBufferView | ArrayBuffer {
  return ArrayBuffer.isView(v) || v instanceof ArrayBuffer;
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'object';
  return typeof v;
}

function hexOf(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

/** One node of a value, paged as `opts` says. */
export function toNode(v: unknown, opts: PageOptions): ValueNode {
  const depth = opts.depth ?? 2;
  switch (typeof v) {
    case 'undefined':
      return { t: 'undefined' };
    case 'boolean':
      return { t: 'boolean', v };
    case 'number':
      return { t: 'number', v: Number.isFinite(v) ? (Object.is(v, -0) ? '-0' : v) : String(v) };
    case 'bigint':
      return { t: 'bigint', v: v.toString() };
    case 'string': {
      const size = opts.limit * 100;
      return { t: 'string', v: v.slice(opts.offset, opts.offset + size), offset: opts.offset, length: v.length };
    }
    case 'function':
    case 'symbol':
      return { t: 'string', v: String(v), offset: 0, length: String(v).length };
  }
  if (v === null) return { t: 'null' };
  if (v instanceof Date) return { t: 'date', v: Number.isNaN(v.getTime()) ? null : v.toISOString() };
  if (v instanceof RegExp) return { t: 'regexp', v: String(v) };
  if (isBinary(v)) {
    const bytes = v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    const size = opts.limit * 8;
    const kind = v instanceof ArrayBuffer ? 'ArrayBuffer' : (v.constructor?.name ?? 'bytes');
    return { t: 'bytes', kind, hex: hexOf(bytes.subarray(opts.offset, opts.offset + size)), offset: opts.offset, length: bytes.byteLength };
  }
  const nested = (x: unknown): ValueNode => toNode(x, { offset: 0, limit: NESTED_LIMIT, depth: depth - 1 });
  const page = <T>(all: T[], make: (x: T, i: number) => ChildNode) =>
    depth < 0 && all.length > 0 ? null : all.slice(opts.offset, opts.offset + opts.limit).map((x, j) => make(x, opts.offset + j));
  if (Array.isArray(v)) return { t: 'array', size: v.length, offset: opts.offset, children: page(v, (x, i) => ({ label: i, node: nested(x) })) };
  if (v instanceof Set) {
    const all = [...v];
    return { t: 'set', size: all.length, offset: opts.offset, children: page(all, (x, i) => ({ label: i, node: nested(x) })) };
  }
  if (v instanceof Map) {
    const all = [...v.entries()];
    return {
      t: 'map',
      size: all.length,
      offset: opts.offset,
      children: page(all, ([k, x], i) => ({ label: i, mapKey: toNode(k, { offset: 0, limit: 10, depth: -1 }), node: nested(x) })),
    };
  }
  const obj = v as Record<string, unknown>;
  const keys = Object.keys(obj);
  return { t: 'object', size: keys.length, offset: opts.offset, children: page(keys, (k) => ({ label: k, node: nested(obj[k]) })) };
}

/**
 * The whole value as JSON text for copying or a read-only document. Values JSON
 * cannot carry are written so a reader sees what they were: big integers as
 * `"123n"`, bytes as `{"$bytes": "<base64>", "type": "Buffer"}`, maps as
 * `{"$map": [[k, v], …]}`, sets as `{"$set": […]}`, undefined as null.
 */
export function toJsonText(value: unknown): string {
  const b64 = (u: Uint8Array) => {
    let s = '';
    for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode(...u.subarray(i, i + 0x8000));
    return btoa(s);
  };
  const conv = (v: unknown): unknown => {
    if (typeof v === 'bigint') return `${v}n`;
    if (v === undefined) return null;
    if (typeof v === 'number' && !Number.isFinite(v)) return String(v);
    if (v === null || typeof v !== 'object') return v;
    if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString();
    if (v instanceof RegExp) return String(v);
    if (isBinary(v)) {
      const bytes = v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      return { $bytes: b64(bytes), type: v instanceof ArrayBuffer ? 'ArrayBuffer' : v.constructor.name };
    }
    if (v instanceof Map) return { $map: [...v.entries()].map(([k, x]) => [conv(k), conv(x)]) };
    if (v instanceof Set) return { $set: [...v].map(conv) };
    if (Array.isArray(v)) return v.map(conv);
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) out[k] = conv((v as Record<string, unknown>)[k]);
    return out;
  };
  return JSON.stringify(conv(value), null, 2);
}
