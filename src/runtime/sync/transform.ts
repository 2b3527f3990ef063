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
    dropsInput: true,
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
    dropsInput: true,
    async *apply(input) {
      // `carry`: the last `keep` bytes seen (copied), where a match may still start.
      let carry: Buffer = Buffer.alloc(0);
      for await (const chunk0 of input) {
        const chunk = asBuffer(chunk0);
        if (chunk.length === 0) continue;
        let start = 0; // chunk[0..start) is accounted for
        if (carry.length > 0) {
          if (chunk.length < keep) {
            // A tiny chunk: join it to the carry and treat the two as one small buffer.
            const buf = Buffer.concat([carry, chunk]);
            const { out, rest } = scan(buf);
            carry = Buffer.from(rest);
            for (const o of out) yield o;
            continue;
          }
          // The seam: a match starting in the carry ends within the chunk's first `keep` bytes.
          const seam = Buffer.concat([carry, chunk.subarray(0, keep)]);
          let from = 0;
          for (;;) {
            const at = seam.indexOf(tok, from);
            if (at < 0 || at >= carry.length) break;
            if (at > from) yield seam.subarray(from, at);
            yield rep;
            from = at + tok.length;
          }
          if (from < carry.length) yield seam.subarray(from, carry.length);
          start = Math.max(0, from - carry.length);
        }
        const { out, rest } = scan(chunk, start);
        carry = Buffer.from(rest); // copied: the chunk's memory may be reused
        // Pieces of the chunk go out as views, not joined: the destination copies what it keeps.
        for (const o of out) yield o;
      }
      if (carry.length > 0) yield carry;
    },
  };

  /** Replaces every match in buf[from..]; returns the final pieces and the tail where a match may still start. */
  function scan(buf: Buffer, from = 0): { out: Buffer[]; rest: Buffer } {
    const out: Buffer[] = [];
    for (;;) {
      const at = buf.indexOf(tok, from);
      if (at < 0) break;
      if (at > from) out.push(buf.subarray(from, at));
      out.push(rep);
      from = at + tok.length;
    }
    // Everything before `safe` is final: no match can start there any more.
    const safe = Math.max(from, buf.length - keep);
    if (safe > from) out.push(buf.subarray(from, safe));
    return { out, rest: buf.subarray(safe) };
  }
}

/** Masks a secret token with `*` of the same length (the seed's `password` → `********`). */
export function maskToken(token: string): Transformer {
  const t = replaceBytes(token, '*'.repeat([...token].length));
  return { name: `maskToken(${token.length} chars)`, apply: t.apply, dropsInput: true };
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
    dropsInput: true, // each chunk is decoded (copied into a string) before the next is asked for
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
    dropsInput: true, // decodes (copies) each chunk before asking for the next
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
