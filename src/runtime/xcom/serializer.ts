/**
 * The XCom serializer: JSON plus the types a TypeScript task returns in practice
 * (Date, Uint8Array/Buffer and the other typed arrays, ArrayBuffer, Map, Set,
 * BigInt, undefined, RegExp, NaN/±Infinity/-0), round-tripping exactly.
 *
 * Formats (the first entry of an envelope's chain):
 * - `json`: plain JSON, produced when the value holds nothing JSON cannot carry exactly.
 *   Read back with `JSON.parse` only.
 * - `typed-json`: JSON where values JSON cannot carry are tagged objects `{"$hx": tag, ...}`;
 *   a plain object that itself has a `$hx` key is wrapped as `{"$hx":"obj","v":{...}}`.
 * - `bytes`: a top-level Uint8Array/Buffer stored as is (no base64, no copy).
 *
 * Nothing here can execute code on read: no eval, no constructors looked up by
 * name from the data (tags map to a fixed table), and `__proto__`/`constructor`
 * keys are written as own data properties, so they cannot pollute prototypes.
 */
import { Buffer } from 'node:buffer';
import type { XComLocation } from './types.ts';
import { XComError } from './errors.ts';

export type SerialFormat = 'json' | 'typed-json' | 'bytes';

export interface EncodedValue {
  readonly format: SerialFormat;
  readonly bytes: Buffer;
  /** For the `bytes` format: which constructor to rebuild (`Buffer` or `Uint8Array`). */
  readonly bytesType?: 'Buffer' | 'Uint8Array';
  /** Words that made the value look sensitive (object keys), at most a few. */
  readonly sensitiveKeys: readonly string[];
  /** Length of a top-level list (or Map/Set size), otherwise 1, as in the seed's file reference. */
  readonly recordCount: number;
  /** User file references (`_xcom_file_backend` objects) found in the value: [store, filepath]. */
  readonly fileRefs: readonly (readonly [string, string])[];
}

/** The seed's sensitive keywords, matched as whole words of identifiers (plurals of the nouns too). */
export const DEFAULT_SENSITIVE_KEYWORDS: readonly string[] = ['password', 'secret', 'token', 'key', 'credential', 'ssn'];

/** Words of an identifier: `apiKey` → api, key; `AWS_SECRET_ACCESS_KEY` → aws, secret, access, key; `monkey` → monkey. */
export function identifierWords(name: string): string[] {
  const out: string[] = [];
  const re = /[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+/g;
  for (const m of name.matchAll(re)) out.push(m[0].toLowerCase());
  return out;
}

/** Decides whether key names look sensitive, by word match against keywords. Caches per name. */
export class SensitivityDetector {
  private readonly words: Set<string>;
  private readonly cache = new Map<string, boolean>();

  constructor(keywords: readonly string[] = DEFAULT_SENSITIVE_KEYWORDS) {
    this.words = new Set();
    for (const k of keywords) {
      const w = k.toLowerCase();
      this.words.add(w);
      // Plurals of nouns ("passwords", "tokens"), but not "keys": lists of keys are everywhere and are not secrets.
      if (w !== 'key') this.words.add(w.endsWith('s') ? w + 'es' : w + 's');
    }
    // Common spellings of the same ideas.
    if (this.words.has('password')) for (const w of ['passwd', 'passphrase', 'pwd']) this.words.add(w);
    if (this.words.has('key')) this.words.add('apikey');
  }

  isSensitiveName(name: string): boolean {
    let r = this.cache.get(name);
    if (r === undefined) {
      r = false;
      for (const w of identifierWords(name)) {
        if (this.words.has(w)) {
          r = true;
          break;
        }
      }
      if (this.cache.size > 50_000) this.cache.clear();
      this.cache.set(name, r);
    }
    return r;
  }
}

const TYPED_ARRAYS: Record<string, new (buf: ArrayBuffer, offset: number, length: number) => ArrayBufferView> = {
  Uint8Array,
  Int8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
};

interface ScanState {
  readonly loc: XComLocation;
  readonly detector: SensitivityDetector | undefined;
  readonly stack: unknown[];
  readonly path: (string | number)[];
  sensitive: string[];
  typed: boolean;
  refs: [string, string][];
}

function pathText(path: readonly (string | number)[]): string {
  let s = '$';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : /^[A-Za-z_$][\w$]*$/.test(p) ? `.${p}` : `[${JSON.stringify(p)}]`;
  return s;
}

function fail(st: ScanState, what: string, hint?: string): never {
  throw new XComError(
    'unserializable',
    st.loc,
    `cannot be stored: ${what} at ${pathText(st.path)}${hint ? `; ${hint}` : ''}. XComs carry data: JSON values, Date, Uint8Array/Buffer, Map, Set, BigInt, undefined, RegExp`,
  );
}

function className(o: object): string {
  const c = (o as { constructor?: { name?: unknown } }).constructor;
  return typeof c === 'function' && typeof c.name === 'string' && c.name ? c.name : 'an unnamed class';
}

function methodsOf(proto: object | null): string[] {
  const names: string[] = [];
  while (proto && proto !== Object.prototype) {
    for (const n of Object.getOwnPropertyNames(proto)) {
      if (n === 'constructor') continue;
      const d = Object.getOwnPropertyDescriptor(proto, n);
      if (d && (typeof d.value === 'function' || d.get || d.set)) names.push(n);
    }
    proto = Object.getPrototypeOf(proto) as object | null;
  }
  return names;
}

const DEEP = 256;

/**
 * Walks the value once: rejects what cannot be stored, notes whether plain JSON
 * suffices, collects sensitive object keys and user file references.
 */
function scan(v: unknown, st: ScanState): void {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      if (!Number.isFinite(v) || Object.is(v, -0)) st.typed = true;
      return;
    case 'undefined':
    case 'bigint':
      st.typed = true;
      return;
    case 'function':
      return fail(st, `a function${(v as { name?: string }).name ? ` (${(v as { name?: string }).name})` : ''}`);
    case 'symbol':
      return fail(st, `a symbol (${String(v)})`);
    default:
      break;
  }
  if (v === null) return;
  const o = v as object;
  const stack = st.stack;
  if (stack.length >= DEEP && stack.includes(o)) {
    // A cycle makes the depth grow without end, so checking only deep stacks finds every cycle cheaply.
    const first = stack.indexOf(o);
    fail(st, `a circular reference (back to ${pathText(st.path.slice(0, first))})`);
  }
  if (stack.length > 5000) fail(st, 'nesting deeper than 5000 levels');
  if (Array.isArray(o)) {
    stack.push(o);
    const n = o.length;
    for (let i = 0; i < n; i++) {
      if (!(i in o)) st.typed = true; // a hole comes back as undefined; tag it
      st.path.push(i);
      scan(o[i], st);
      st.path.pop();
    }
    stack.pop();
    return;
  }
  const proto = Object.getPrototypeOf(o) as object | null;
  if (proto === Object.prototype || proto === null) {
    stack.push(o);
    const keys = Object.keys(o);
    if (Object.getOwnPropertySymbols(o).length > 0) fail(st, 'an object with symbol keys');
    const det = st.detector;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      if (k === '$hx') st.typed = true;
      if (det !== undefined && st.sensitive.length < 8 && det.isSensitiveName(k) && !st.sensitive.includes(k)) st.sensitive.push(k);
      const child = (o as Record<string, unknown>)[k];
      st.path.push(k);
      scan(child, st);
      st.path.pop();
    }
    if (keys.length >= 4 && (o as Record<string, unknown>)._xcom_file_backend === true) {
      const r = o as Record<string, unknown>;
      if (r.data_type === 'file_reference' && typeof r.filepath === 'string') {
        st.refs.push([typeof r.store === 'string' ? r.store : 'xcom-root', r.filepath]);
      }
    }
    stack.pop();
    return;
  }
  if (o instanceof Date || ArrayBuffer.isView(o) || o instanceof ArrayBuffer || o instanceof RegExp) {
    if (ArrayBuffer.isView(o) && !(o instanceof DataView) && !TYPED_ARRAYS[className(o)] && !Buffer.isBuffer(o)) {
      fail(st, `a ${className(o)}`);
    }
    if (o instanceof DataView) fail(st, 'a DataView (store its buffer instead)');
    st.typed = true;
    return;
  }
  if (o instanceof Map) {
    st.typed = true;
    stack.push(o);
    let i = 0;
    for (const [k, val] of o) {
      st.path.push(`<map key ${i}>`);
      scan(k, st);
      st.path.pop();
      st.path.push(typeof k === 'string' || typeof k === 'number' ? `<map ${String(k)}>` : `<map value ${i}>`);
      if (typeof k === 'string' && st.detector !== undefined && st.sensitive.length < 8 && st.detector.isSensitiveName(k)) st.sensitive.push(k);
      scan(val, st);
      st.path.pop();
      i++;
    }
    stack.pop();
    return;
  }
  if (o instanceof Set) {
    st.typed = true;
    stack.push(o);
    let i = 0;
    for (const val of o) {
      st.path.push(`<set ${i++}>`);
      scan(val, st);
      st.path.pop();
    }
    stack.pop();
    return;
  }
  if (o instanceof Promise) fail(st, 'a Promise (await it before returning or pushing)');
  if (o instanceof WeakMap || o instanceof WeakSet) fail(st, `a ${className(o)}`);
  if (o instanceof Error) fail(st, `an Error (${className(o)}); push its message instead`);
  const methods = methodsOf(proto);
  fail(
    st,
    methods.length > 0
      ? `an instance of class ${className(o)} with behaviour (${methods.slice(0, 5).join(', ')})`
      : `an instance of class ${className(o)}`,
    methods.length > 0 ? 'return a plain object instead' : 'return a plain object instead (its class would be lost)',
  );
}


const SLOW = Symbol('slow');

/**
 * The fast walk: no path, no ancestor stack. Anything unusual (an error to
 * report, or depth beyond DEEP, which every cycle reaches) throws SLOW and the
 * careful walk (scan) runs again to produce a precise message.
 */
function scanFast(v: unknown, st: ScanState, depth: number): void {
  const t = typeof v;
  if (t === 'string' || t === 'boolean') return;
  if (t === 'number') {
    if (!Number.isFinite(v as number) || Object.is(v, -0)) st.typed = true;
    return;
  }
  if (t === 'undefined' || t === 'bigint') {
    st.typed = true;
    return;
  }
  if (t !== 'object') throw SLOW;
  if (v === null) return;
  if (depth > DEEP) throw SLOW;
  if (Array.isArray(v)) {
    const n = v.length;
    for (let i = 0; i < n; i++) {
      const x = v[i];
      if (x === undefined && !(i in v)) st.typed = true;
      if (x !== null && typeof x === 'object') scanFast(x, st, depth + 1);
      else if (typeof x !== 'string') scanFast(x, st, depth + 1);
    }
    return;
  }
  const proto = Object.getPrototypeOf(v) as object | null;
  if (proto === Object.prototype || proto === null) {
    const o = v as Record<string, unknown>;
    const det = st.detector;
    const keys = Object.keys(o);
    const n = keys.length;
    for (let i = 0; i < n; i++) {
      const k = keys[i]!;
      if (k === '$hx') st.typed = true;
      if (det !== undefined && det.isSensitiveName(k) && st.sensitive.length < 8 && !st.sensitive.includes(k)) st.sensitive.push(k);
      const x = o[k];
      if (typeof x !== 'string') scanFast(x, st, depth + 1);
    }
    if (Object.getOwnPropertySymbols(o).length > 0) throw SLOW;
    if (n >= 4 && o._xcom_file_backend === true && o.data_type === 'file_reference' && typeof o.filepath === 'string') {
      st.refs.push([typeof o.store === 'string' ? o.store : 'xcom-root', o.filepath]);
    }
    return;
  }
  // Everything else (Date, bytes, Map, Set, class instances…) goes the careful way.
  throw SLOW;
}

function b64(view: ArrayBufferView | ArrayBuffer): string {
  const b = view instanceof ArrayBuffer ? Buffer.from(view) : Buffer.from(view.buffer, view.byteOffset, view.byteLength);
  return b.toString('base64');
}

function setOwn(out: Record<string, unknown>, k: string, v: unknown): void {
  if (k === '__proto__') Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  else out[k] = v;
}

/** Builds the tagged tree; only called once scan() found something JSON cannot carry. */
function tag(v: unknown): unknown {
  switch (typeof v) {
    case 'number':
      if (Number.isFinite(v) && !Object.is(v, -0)) return v;
      return { $hx: 'num', v: Object.is(v, -0) ? '-0' : String(v) };
    case 'undefined':
      return { $hx: 'undef' };
    case 'bigint':
      return { $hx: 'bigint', v: v.toString() };
    case 'object':
      break;
    default:
      return v;
  }
  if (v === null) return null;
  if (Array.isArray(v)) {
    const out = new Array<unknown>(v.length);
    for (let i = 0; i < v.length; i++) out[i] = tag(v[i]);
    return out;
  }
  const proto = Object.getPrototypeOf(v) as object | null;
  if (proto === Object.prototype || proto === null) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) setOwn(out, k, tag((v as Record<string, unknown>)[k]));
    return '$hx' in out ? { $hx: 'obj', v: out } : out;
  }
  if (v instanceof Date) return { $hx: 'date', v: Number.isNaN(v.getTime()) ? null : v.toISOString() };
  if (Buffer.isBuffer(v)) return { $hx: 'bytes', t: 'Buffer', v: b64(v) };
  if (ArrayBuffer.isView(v)) return { $hx: 'bytes', t: className(v), v: b64(v) };
  if (v instanceof ArrayBuffer) return { $hx: 'bytes', t: 'ArrayBuffer', v: b64(v) };
  if (v instanceof RegExp) return { $hx: 'regexp', v: v.source, f: v.flags };
  if (v instanceof Map) return { $hx: 'map', v: Array.from(v, ([k, x]) => [tag(k), tag(x)]) };
  if (v instanceof Set) return { $hx: 'set', v: Array.from(v, tag) };
  return v; // unreachable: scan() rejected everything else
}

export interface EncodeOptions {
  /** Detects sensitive object keys; omitted means no detection. */
  readonly detector?: SensitivityDetector;
}

/** A value checked and classified, ready to be written whole (encodeValue) or in chunks (encodeChunks). */
export interface PreparedValue extends Omit<EncodedValue, 'bytes'> {
  readonly value: unknown;
  /** For the `bytes` format: the value's bytes (no copy). */
  readonly bytes?: Buffer;
}

/** Checks a value for the XCom `loc`. Throws an XComError naming the XCom and the path of anything unsupported. */
export function prepareValue(loc: XComLocation, value: unknown, opts: EncodeOptions = {}): PreparedValue {
  if (value instanceof Uint8Array && (Buffer.isBuffer(value) || value.constructor === Uint8Array)) {
    return {
      value,
      format: 'bytes',
      bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength),
      bytesType: Buffer.isBuffer(value) ? 'Buffer' : 'Uint8Array',
      sensitiveKeys: [],
      recordCount: 1,
      fileRefs: [],
    };
  }
  let st: ScanState = { loc, detector: opts.detector, stack: [], path: [], sensitive: [], typed: false, refs: [] };
  try {
    scanFast(value, st, 0);
  } catch (err) {
    if (err !== SLOW) throw err;
    st = { loc, detector: opts.detector, stack: [], path: [], sensitive: [], typed: false, refs: [] };
    try {
      scan(value, st);
    } catch (e) {
      if (e instanceof RangeError) throw new XComError('unserializable', loc, 'cannot be stored: nested too deeply', { cause: e });
      throw e;
    }
  }
  const recordCount = Array.isArray(value) ? value.length : value instanceof Map || value instanceof Set ? value.size : 1;
  return { value, format: st.typed ? 'typed-json' : 'json', sensitiveKeys: st.sensitive, recordCount, fileRefs: st.refs };
}

/** The serialized bytes of a prepared value, whole (one native JSON.stringify). */
export function encodePrepared(p: PreparedValue): Buffer {
  if (p.bytes) return p.bytes;
  return Buffer.from(JSON.stringify(p.format === 'typed-json' ? tag(p.value) : p.value), 'utf8');
}

/** Serializes a value for the XCom `loc`. Throws an XComError naming the XCom and the path of anything unsupported. */
export function encodeValue(loc: XComLocation, value: unknown, opts: EncodeOptions = {}): EncodedValue {
  const p = prepareValue(loc, value, opts);
  return { format: p.format, ...(p.bytesType ? { bytesType: p.bytesType } : {}), bytes: encodePrepared(p), sensitiveKeys: p.sensitiveKeys, recordCount: p.recordCount, fileRefs: p.fileRefs };
}

/** Containers this deep or less are written member by member; deeper ones with one JSON.stringify each. */
const CHUNK_DEPTH = 3;
/** Strings longer than this are written in slices. */
const LONG_STRING = 256 * 1024;
/** Output size aimed at by one batch of array elements in encodeChunks. */
const BATCH_CHARS = 32 * 1024;

/**
 * The same bytes as encodeValue, as a sequence of chunks of about `chunkSize`
 * bytes, so a large value is never held twice more as one string and one buffer.
 * Arrays and plain objects down to CHUNK_DEPTH levels are written member by member
 * (each member with the native JSON.stringify), long strings in slices.
 */
export function* encodeChunks(p: PreparedValue, chunkSize = 1 << 20): Generator<Buffer> {
  if (p.bytes) {
    for (let i = 0; i < p.bytes.byteLength; i += chunkSize) yield p.bytes.subarray(i, i + chunkSize);
    return;
  }
  const typed = p.format === 'typed-json';
  let pending = '';
  const ready: Buffer[] = [];
  // Plain functions append; generators only at the container levels, resumed once per finished chunk.
  const emit = (s: string): void => {
    pending += s;
    if (pending.length >= chunkSize) {
      ready.push(Buffer.from(pending, 'utf8'));
      pending = '';
    }
  };
  const leaf = (x: unknown): void => emit(JSON.stringify(typed ? tag(x) : x) ?? 'null');
  function* longString(v: string): Generator<Buffer> {
    emit('"');
    for (let i = 0; i < v.length; ) {
      let end = Math.min(v.length, i + LONG_STRING);
      const c = v.charCodeAt(end - 1);
      if (end < v.length && c >= 0xd800 && c <= 0xdbff) end--; // never split a surrogate pair
      emit(JSON.stringify(v.slice(i, end)).slice(1, -1));
      i = end;
      if (ready.length) yield* drain();
    }
    emit('"');
  }
  const isPlain = (x: unknown): x is Record<string, unknown> => {
    if (x === null || typeof x !== 'object' || Array.isArray(x)) return false;
    const proto = Object.getPrototypeOf(x) as object | null;
    return proto === Object.prototype || proto === null;
  };
  function* drain(): Generator<Buffer> {
    while (ready.length) yield ready.shift()!;
  }
  // Arrays and plain objects down to CHUNK_DEPTH are written member by member; an array's
  // elements that are objects (records) go whole through the native JSON.stringify.
  function* write(v: unknown, depth: number): Generator<Buffer> {
    if (typeof v === 'string' && v.length > LONG_STRING) {
      yield* longString(v);
    } else if (depth < CHUNK_DEPTH && Array.isArray(v)) {
      emit('[');
      const n = v.length;
      // Plain JSON: runs of elements that need no recursion go through one native JSON.stringify per
      // batch (a slice), sized to about BATCH_CHARS of output from what the previous batch produced.
      let batch = 16;
      for (let i = 0; i < n; ) {
        if (i > 0) emit(',');
        const x = v[i];
        if (Array.isArray(x) || (typeof x === 'string' && x.length > LONG_STRING)) {
          yield* write(x, depth + 1);
          i++;
        } else if (typed) {
          leaf(x);
          i++;
        } else {
          let end = i + 1;
          while (end < n && end - i < batch) {
            const y = v[end];
            if (Array.isArray(y) || (typeof y === 'string' && y.length > LONG_STRING)) break;
            end++;
          }
          const text = end - i === 1 ? (JSON.stringify(x) ?? 'null') : JSON.stringify(v.slice(i, end)).slice(1, -1);
          emit(text);
          batch = Math.max(1, Math.min(4096, Math.floor((batch * BATCH_CHARS) / Math.max(1, text.length))));
          i = end;
        }
        if (ready.length) yield* drain();
      }
      emit(']');
    } else if (depth < CHUNK_DEPTH && isPlain(v)) {
      const keys = Object.keys(v);
      const wrap = typed && keys.includes('$hx');
      emit(wrap ? '{"$hx":"obj","v":{' : '{');
      let first = true;
      for (const k of keys) {
        const x = v[k];
        if (!typed && x === undefined) continue; // as JSON.stringify (cannot happen: scan made it typed)
        emit(`${first ? '' : ','}${JSON.stringify(k)}:`);
        first = false;
        if (Array.isArray(x) || isPlain(x) || (typeof x === 'string' && x.length > LONG_STRING)) yield* write(x, depth + 1);
        else leaf(x);
        if (ready.length) yield* drain();
      }
      emit(wrap ? '}}' : '}');
    } else {
      leaf(v);
    }
    if (ready.length) yield* drain();
  }
  yield* write(p.value, 0);
  if (pending.length > 0) yield Buffer.from(pending, 'utf8');
}

function corrupt(loc: XComLocation, what: string): never {
  throw new XComError('corrupt', loc, `stored value is corrupt: ${what}`);
}

function fromB64(loc: XComLocation, s: unknown): Buffer {
  if (typeof s !== 'string') corrupt(loc, 'bytes tag without base64 text');
  return Buffer.from(s, 'base64');
}

function untag(loc: XComLocation, v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (x !== null && typeof x === 'object') v[i] = untag(loc, x);
    }
    return v;
  }
  const o = v as Record<string, unknown>;
  const t = o.$hx;
  if (t === undefined) {
    for (const k of Object.keys(o)) {
      const x = o[k];
      if (x !== null && typeof x === 'object') setOwn(o, k, untag(loc, x));
    }
    return o;
  }
  switch (t) {
    case 'obj': {
      const inner = o.v;
      if (inner === null || typeof inner !== 'object' || Array.isArray(inner)) corrupt(loc, 'obj tag without an object');
      for (const k of Object.keys(inner)) setOwn(inner as Record<string, unknown>, k, untag(loc, (inner as Record<string, unknown>)[k]));
      return inner;
    }
    case 'undef':
      return undefined;
    case 'num':
      if (o.v === 'NaN') return NaN;
      if (o.v === 'Infinity') return Infinity;
      if (o.v === '-Infinity') return -Infinity;
      if (o.v === '-0') return -0;
      return corrupt(loc, `unknown number ${JSON.stringify(o.v)}`);
    case 'bigint':
      if (typeof o.v !== 'string' || !/^-?\d+$/.test(o.v)) corrupt(loc, 'bigint tag without digits');
      return BigInt(o.v);
    case 'date':
      if (o.v === null) return new Date(NaN);
      if (typeof o.v !== 'string') corrupt(loc, 'date tag without text');
      return new Date(o.v);
    case 'bytes': {
      const b = fromB64(loc, o.v);
      if (o.t === 'Buffer') return b;
      const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
      if (o.t === 'ArrayBuffer') return ab;
      const ctor = typeof o.t === 'string' && Object.hasOwn(TYPED_ARRAYS, o.t) ? TYPED_ARRAYS[o.t] : undefined;
      if (!ctor) return corrupt(loc, `unknown bytes type ${JSON.stringify(o.t)}`);
      const per = (ctor as unknown as { BYTES_PER_ELEMENT: number }).BYTES_PER_ELEMENT;
      if (ab.byteLength % per !== 0) corrupt(loc, `${o.t} of ${ab.byteLength} bytes`);
      return new ctor(ab, 0, ab.byteLength / per);
    }
    case 'regexp':
      if (typeof o.v !== 'string' || typeof o.f !== 'string') corrupt(loc, 'regexp tag without source');
      try {
        return new RegExp(o.v, o.f);
      } catch {
        return corrupt(loc, 'invalid regexp');
      }
    case 'map': {
      if (!Array.isArray(o.v)) corrupt(loc, 'map tag without entries');
      const m = new Map<unknown, unknown>();
      for (const e of o.v as unknown[]) {
        if (!Array.isArray(e) || e.length !== 2) corrupt(loc, 'map entry is not a pair');
        m.set(untag(loc, e[0]), untag(loc, e[1]));
      }
      return m;
    }
    case 'set': {
      if (!Array.isArray(o.v)) corrupt(loc, 'set tag without members');
      const s = new Set<unknown>();
      for (const e of o.v as unknown[]) s.add(untag(loc, e));
      return s;
    }
    default:
      return corrupt(loc, `unknown type tag ${JSON.stringify(t)}`);
  }
}

const isWs = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
const BATCH = 1 << 20;

/**
 * Parses JSON text fed in pieces. A top-level array is parsed a batch of
 * elements at a time (boundaries found by a scan that tracks strings, escapes
 * and depth) and a top-level string a fragment at a time (never cutting an
 * escape), so the whole text is never held next to the result. Anything else is
 * gathered and parsed at the end. Typed JSON is untagged element by element.
 */
export class StreamingJson {
  private readonly loc: XComLocation;
  private readonly typed: boolean;
  private mode: 'start' | 'array' | 'string' | 'whole' | 'done' = 'start';
  private carry = '';
  private readonly parts: string[] = [];
  private readonly out: unknown[] = [];
  // array scan state: the text since the last parsed batch, in pieces
  private readonly pending: string[] = [];
  private pendingChars = 0;
  private depth = 1;
  private inStr = false;
  private esc = false;

  private readonly batch: number;

  /** `whole`: gather the text and parse it at the end (faster for values that fit in memory twice). */
  constructor(loc: XComLocation, format: 'json' | 'typed-json', batchChars = BATCH, whole = false) {
    this.loc = loc;
    this.typed = format === 'typed-json';
    this.batch = batchChars;
    if (whole) this.mode = 'whole';
  }

  write(text: string): void {
    if (text.length === 0) return;
    if (this.mode === 'start') {
      const t = this.carry + text;
      let i = 0;
      while (i < t.length && isWs(t.charCodeAt(i))) i++;
      if (i === t.length) {
        this.carry = t;
        return;
      }
      const c = t[i];
      this.carry = '';
      if (c === '[') {
        this.mode = 'array';
        text = t.slice(i + 1);
      } else if (c === '"') {
        this.mode = 'string';
        text = t.slice(i + 1);
      } else {
        this.mode = 'whole';
        text = t;
      }
    }
    if (this.mode === 'whole') this.parts.push(text);
    else if (this.mode === 'array') this.writeArray(text);
    else if (this.mode === 'string') this.writeString(text);
    else if (this.mode === 'done' && !/^\s*$/.test(text)) corrupt(this.loc, 'not valid JSON (text after the end of the value)');
  }

  private parseBatch(s: string): void {
    if (/^\s*$/.test(s)) return;
    let parsed: unknown[];
    try {
      parsed = JSON.parse('[' + s + ']') as unknown[];
    } catch (err) {
      corrupt(this.loc, `not valid JSON (${(err as Error).message})`);
    }
    for (const x of parsed) this.out.push(this.typed && x !== null && typeof x === 'object' ? untag(this.loc, x) : x);
  }

  /**
   * Scans each piece once, keeping the text since the last parsed batch as a list of pieces (never
   * re-concatenated per piece, so one huge element fed in small pieces stays linear).
   */
  private writeArray(text: string): void {
    let depth = this.depth;
    let inStr = this.inStr;
    let esc = this.esc;
    let from = 0;
    const n = text.length;
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (inStr) {
        if (esc) esc = false;
        else if (c === 0x5c) esc = true;
        else if (c === 0x22) inStr = false;
        continue;
      }
      if (c === 0x22) inStr = true;
      else if (c === 0x5b || c === 0x7b) depth++;
      else if (c === 0x5d || c === 0x7d) {
        depth--;
        if (depth === 0) {
          this.parseBatch(this.takePending(text.slice(from, i)));
          this.mode = 'done';
          if (!/^\s*$/.test(text.slice(i + 1))) corrupt(this.loc, 'not valid JSON (text after the end of the value)');
          return;
        }
      } else if (c === 0x2c && depth === 1 && this.pendingChars + (i - from) >= this.batch) {
        this.parseBatch(this.takePending(text.slice(from, i)));
        from = i + 1;
      }
    }
    if (from < n) {
      const rest = from === 0 ? text : text.slice(from);
      this.pending.push(rest);
      this.pendingChars += rest.length;
    }
    this.depth = depth;
    this.inStr = inStr;
    this.esc = esc;
  }

  /** The text since the last batch, ending with `tail`; the list starts over. */
  private takePending(tail: string): string {
    this.pending.push(tail);
    const s = this.pending.length === 1 ? this.pending[0]! : this.pending.join('');
    this.pending.length = 0;
    this.pendingChars = 0;
    return s;
  }

  private writeString(text: string): void {
    const s = this.carry + text;
    // Hold back the last character (it may be the closing quote) and any escape cut in two.
    let cut = s.length - 1;
    const b = s.lastIndexOf('\\', cut - 1);
    if (b >= 0 && b >= cut - 6) {
      let k = 0;
      while (b - k >= 0 && s.charCodeAt(b - k) === 0x5c) k++;
      if (k % 2 === 1) {
        const need = s[b + 1] === 'u' ? 6 : 2;
        if (b + need > cut) cut = b;
      }
    }
    if (cut <= 0) {
      this.carry = s;
      return;
    }
    this.parseFragment(s.slice(0, cut));
    this.carry = s.slice(cut);
  }

  private parseFragment(f: string): void {
    try {
      this.parts.push(JSON.parse('"' + f + '"') as string);
    } catch (err) {
      corrupt(this.loc, `not valid JSON (${(err as Error).message})`);
    }
  }

  end(): unknown {
    switch (this.mode) {
      case 'array':
        return corrupt(this.loc, 'not valid JSON (unterminated array)');
      case 'done':
        return this.out;
      case 'string': {
        const rest = this.carry.trimEnd();
        if (!rest.endsWith('"')) corrupt(this.loc, 'not valid JSON (unterminated string)');
        this.parseFragment(rest.slice(0, -1));
        // Concatenated, not joined: V8 keeps the fragments as one string (a rope) instead of copying them all again.
        let out = '';
        for (const part of this.parts) out += part;
        this.parts.length = 0;
        return out;
      }
      default: {
        const text = this.mode === 'start' ? this.carry : this.parts.length === 1 ? this.parts[0]! : this.parts.join('');
        this.parts.length = 0;
        return decodeText(this.loc, this.typed ? 'typed-json' : 'json', text);
      }
    }
  }
}

/** Reads back a `json` or `typed-json` value from its text. */
export function decodeText(loc: XComLocation, format: SerialFormat, text: string): unknown {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    corrupt(loc, `not valid JSON (${(err as Error).message})`);
  }
  return format === 'typed-json' ? untag(loc, parsed) : parsed;
}

/** Reads back what encodeValue produced. */
export function decodeValue(loc: XComLocation, format: SerialFormat, bytes: Uint8Array, bytesType?: string): unknown {
  if (format === 'bytes') {
    const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return bytesType === 'Uint8Array' ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : b;
  }
  const text = Buffer.isBuffer(bytes) ? bytes.toString('utf8') : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    corrupt(loc, `not valid JSON (${(err as Error).message})`);
  }
  return format === 'typed-json' ? untag(loc, parsed) : parsed;
}
