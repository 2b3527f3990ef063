/**
 * Streaming transformers. Each is correct whatever the chunk boundaries are:
 * token searches carry the tail of a chunk into the next, text transforms
 * decode UTF-8 in streaming mode (a character split between chunks is decoded
 * once both halves arrived), and nothing depends on the chunk size.
 */
import { SyncError } from './errors.ts';
import type { PointInfo, Transformer } from './types.ts';

const encoder = new TextEncoder();

function toBytes(v: string | Uint8Array, what: string): Uint8Array {
  const b = typeof v === 'string' ? encoder.encode(v) : v;
  if (!(b instanceof Uint8Array)) throw new SyncError(`${what} must be a string or a Uint8Array`);
  return b;
}

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/** Chains transformers left to right. */
export function composeTransformers(
  transformers: readonly Transformer[],
  input: AsyncIterable<Uint8Array>,
  point: PointInfo,
): AsyncIterable<Uint8Array> {
  let stream = input;
  for (const t of transformers) stream = t.apply(stream, point);
  return stream;
}

/** Binary pass-through: no decoding, no copying. */
export function passThrough(): Transformer {
  return {
    name: 'passThrough',
    apply: (input) => input,
  };
}

/**
 * Replaces every occurrence of a byte sequence (non-overlapping, left to
 * right, like `String.prototype.replaceAll`). Works on raw bytes, so a UTF-8
 * token matches UTF-8 text without decoding it.
 */
export function replaceBytes(token: string | Uint8Array, replacement: string | Uint8Array): Transformer {
  const tok = asBuffer(toBytes(token, 'replaceBytes token'));
  const rep = asBuffer(toBytes(replacement, 'replaceBytes replacement'));
  if (tok.length === 0) throw new SyncError('replaceBytes: the token must not be empty');
  const keep = tok.length - 1;
  return {
    name: `replaceBytes(${tok.length} bytes)`,
    async *apply(input) {
      let carry: Buffer = Buffer.alloc(0);
      for await (const chunk of input) {
        const buf = carry.length === 0 ? asBuffer(chunk) : Buffer.concat([carry, chunk]);
        const parts: Buffer[] = [];
        let from = 0;
        for (;;) {
          const at = buf.indexOf(tok, from);
          if (at < 0) break;
          parts.push(buf.subarray(from, at), rep);
          from = at + tok.length;
        }
        // Everything before `safe` is final: no match can start there any more.
        const safe = Math.max(from, buf.length - keep);
        if (safe > from) parts.push(buf.subarray(from, safe));
        carry = Buffer.from(buf.subarray(safe));
        const out = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
        if (out.length > 0) yield out;
      }
      if (carry.length > 0) yield carry;
    },
  };
}

/** Masks a secret token with `*` of the same length (the seed's `password` → `********`). */
export function maskToken(token: string): Transformer {
  const t = replaceBytes(token, '*'.repeat([...token].length));
  return { name: `maskToken(${token.length} chars)`, apply: t.apply };
}

export interface TextOptions {
  /**
   * What to do with bytes that are not valid UTF-8: `fail` (default) fails the
   * file with a clear error instead of silently corrupting it; `replace`
   * substitutes U+FFFD.
   */
  invalid?: 'fail' | 'replace';
}

/** Decodes UTF-8 in streaming mode; each yielded string holds whole code points. */
async function* decodeUtf8(
  input: AsyncIterable<Uint8Array>,
  point: PointInfo,
  options: TextOptions,
): AsyncGenerator<string> {
  const decoder = new TextDecoder('utf-8', { fatal: (options.invalid ?? 'fail') === 'fail', ignoreBOM: true });
  let offset = 0;
  try {
    for await (const chunk of input) {
      const s = decoder.decode(chunk, { stream: true });
      offset += chunk.byteLength;
      if (s.length > 0) yield s;
    }
    const tail = decoder.decode();
    if (tail.length > 0) yield tail;
  } catch (err) {
    if (err instanceof TypeError) {
      throw new SyncError(
        `file "${point.id}" is not valid UTF-8 (within the first ${offset} bytes); a text transform cannot process it`,
      );
    }
    throw err;
  }
}

/**
 * A text transform applied to each decoded piece. `fn` must be local to
 * characters (it may not look at neighbours across pieces), e.g. a character
 * mapping. For token replacement use {@link replaceText}.
 */
export function mapText(name: string, fn: (text: string) => string, options: TextOptions = {}): Transformer {
  return {
    name,
    async *apply(input, point) {
      for await (const s of decodeUtf8(input, point, options)) {
        const out = fn(s);
        if (out.length > 0) yield encoder.encode(out);
      }
    },
  };
}

/** The seed's transform: every whitespace character (`\s`, Unicode-aware) becomes `_`. */
export function whitespaceToUnderscore(options: TextOptions = {}): Transformer {
  return mapText('whitespaceToUnderscore', (s) => s.replace(/\s/g, '_'), options);
}

/** Replaces a token in decoded UTF-8 text, across chunk boundaries. */
export function replaceText(token: string, replacement: string, options: TextOptions = {}): Transformer {
  if (token.length === 0) throw new SyncError('replaceText: the token must not be empty');
  const keep = token.length - 1;
  return {
    name: `replaceText(${token.length} chars)`,
    async *apply(input, point) {
      let carry = '';
      for await (const piece of decodeUtf8(input, point, options)) {
        const buf = carry + piece;
        let out = '';
        let from = 0;
        for (;;) {
          const at = buf.indexOf(token, from);
          if (at < 0) break;
          out += buf.slice(from, at) + replacement;
          from = at + token.length;
        }
        let safe = Math.max(from, buf.length - keep);
        // Never cut a surrogate pair in two.
        if (safe > from && safe < buf.length) {
          const c = buf.charCodeAt(safe - 1);
          if (c >= 0xd800 && c <= 0xdbff) safe -= 1;
        }
        out += buf.slice(from, safe);
        carry = buf.slice(safe);
        if (out.length > 0) yield encoder.encode(out);
      }
      if (carry.length > 0) yield encoder.encode(carry);
    },
  };
}
