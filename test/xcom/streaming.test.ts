/** Chunked serialization (encodeChunks) and the streamed file/s3 path of the backend. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StreamingJson, decodeValue, encodeChunks, encodeValue, prepareValue } from '../../src/runtime/xcom/serializer.ts';
import { decodeEnvelope } from '../../src/runtime/xcom/index.ts';
import type { OffloadLayer } from '../../src/runtime/xcom/index.ts';
import { loc, workspace } from './helpers.ts';

const emoji = '😀';
const long = ('a'.repeat(262_143) + emoji).repeat(3) + 'é"\\\n\u2028' + '\ud800'; // pairs across slice ends, escapes, a lone surrogate

const VALUES: [string, unknown][] = [
  ['long string', long],
  ['object with a long string', { data: long, n: 1 }],
  ['records', Array.from({ length: 3000 }, (_, i) => ({ id: i, name: `r${i}`, tags: ['a', 'b'], nested: { x: [i, { y: i }] } }))],
  ['typed records', Array.from({ length: 500 }, (_, i) => ({ at: new Date(i * 1000), n: BigInt(i), u: undefined, m: new Map([[i, 'x']]) }))],
  ['$hx keys at every depth', { $hx: 1, a: [{ $hx: 'x', b: { $hx: null } }] }],
  ['holes and undefined', [1, , 3, undefined, { a: undefined, b: [undefined] }]], // eslint-disable-line no-sparse-arrays
  ['deep nesting', { a: { b: { c: { d: { e: [long.slice(0, 10), { f: 1 }] } } } } }],
  ['__proto__ key', JSON.parse('{"__proto__": {"polluted": 1}, "ok": [1, 2]}')],
  ['plain array whose runs of elements are broken by long strings and arrays', [{ a: 1 }, 'x', null, long, [1, [2, { b: long.slice(0, 99) }]], ...Array.from({ length: 2000 }, (_, i) => ({ i, s: 'é'.repeat(i % 50) })), long, 7]],
  ['scalars', 42],
  ['empty containers', { a: [], b: {}, c: '' }],
  ['NaN and -0 inside', { x: NaN, y: -0, z: [Infinity] }],
];

test('encodeChunks writes exactly the bytes encodeValue does, in chunks', () => {
  for (const [name, v] of VALUES) {
    const whole = encodeValue(loc(), v).bytes;
    for (const size of [7, 4096, 1 << 20]) {
      const chunks = [...encodeChunks(prepareValue(loc(), v), size)];
      assert.ok(Buffer.concat(chunks).equals(whole), `${name}, chunks of ${size}`);
      if (whole.byteLength > 4 * size) assert.ok(chunks.length > 1, `${name} came in several chunks`);
    }
  }
});

test('StreamingJson parses text fed in pieces of any size as decodeValue does', () => {
  const extra: [string, unknown][] = [
    ['array of strings with escapes and brackets', Array.from({ length: 300 }, (_, i) => `a\\"[${i}]{,}\u0001${emoji}`)],
    ['array of mixed', [1, 'two', [3, [4]], { five: [5, '5'] }, null, true, -0.5e-7]],
    ['empty array', []],
    ['short string', 'abc\\"\\u12'],
  ];
  for (const [name, v] of [...VALUES, ...extra]) {
    const e = encodeValue(loc(), v);
    if (e.format === 'bytes') continue;
    const text = e.bytes.toString('utf8');
    const expected = decodeValue(loc(), e.format, e.bytes);
    for (const piece of [1, 3, 7, 100, 65536]) {
      if (piece < 7 && text.length > 200_000) continue;
      const sj: StreamingJson = new StreamingJson(loc(), e.format as 'json' | 'typed-json', 50);
      for (let i = 0; i < text.length; i += piece) sj.write(text.slice(i, i + piece));
      assert.deepStrictEqual(sj.end(), expected, `${name}, pieces of ${piece}`);
    }
  }
  for (const bad of ['[1,2', '[1,2]x', '"abc', '[{"a":1}', '{"a":']) {
    const p = new StreamingJson(loc(), 'json', 1);
    assert.throws(() => {
      for (const c of bad) p.write(c);
      p.end();
    }, /XCom "return_value" .*not valid JSON/, bad);
  }
});

test('file backend: large values stream to the file and back, equal, with the whole-value format on disk', async () => {
  const ws = await workspace();
  try {
    const b = ws.backend({ backend: 'file' });
    for (const [name, v] of VALUES) {
      const l = loc('v', { taskId: name.replace(/\W/g, '_') });
      const s = await ws.put(b, l, v);
      const whole = encodeValue(l, v).bytes;
      assert.equal(s.sizeOriginal, whole.byteLength, name);
      const env = decodeEnvelope(l, s.data)!;
      if (whole.byteLength > 1024) {
        const off = env.header.layers[0] as OffloadLayer;
        assert.equal(off.codec, 'file');
        // The file holds exactly the serialized value: plain JSON for any other tool.
        assert.ok(readFileSync(join(ws.xcomRoot, ...off.filepath.split('/'))).equals(whole), name);
      } else assert.equal(env.header.layers.length, 0, `${name} inline`);
      // A hole comes back as undefined (documented); everything else exactly.
      const expected = name === 'holes and undefined' ? [1, undefined, 3, undefined, { a: undefined, b: [undefined] }] : v;
      assert.deepStrictEqual(await b.deserialize(l, s.data), expected, name);
    }
    // A damaged file is still caught on the streamed read path.
    const l = loc('damaged');
    const s = await ws.put(b, l, { data: long });
    const off = decodeEnvelope(l, s.data)!.header.layers[0] as OffloadLayer;
    const path = join(ws.xcomRoot, ...off.filepath.split('/'));
    const bytes = readFileSync(path);
    bytes[100] ^= 1;
    writeFileSync(path, bytes);
    await assert.rejects(b.deserialize(l, s.data), /XCom "damaged" .*SHA-256 does not match/);
    writeFileSync(path, bytes.subarray(0, 1000));
    await assert.rejects(b.deserialize(l, s.data), /XCom "damaged" .*truncated: 1000 of/);
    writeFileSync(path, Buffer.concat([bytes, Buffer.from('xx')]));
    await assert.rejects(b.deserialize(l, s.data), /XCom "damaged" .*longer than/);
  } finally {
    ws.close();
  }
});
