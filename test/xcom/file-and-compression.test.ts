import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, truncateSync, unlinkSync, writeFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as zlib from 'node:zlib';
import { decodeEnvelope, encodeEnvelope, encodeSegment, XComError } from '../../src/runtime/xcom/index.ts';
import type { EnvelopeHeader, OffloadLayer } from '../../src/runtime/xcom/index.ts';
import { workspace, loc, seedData } from './helpers.ts';

const L = loc('market_data', { taskId: 'ingest_data' });
const hdr = (d: Uint8Array) => decodeEnvelope(L, d)!;
const filePathOf = (root: string, d: Uint8Array) => join(root, ...(hdr(d).header.layers.at(-1) as OffloadLayer).filepath.split('/'));

function xcomError(code: string, pattern: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof XComError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, /XCom "market_data" of task "ingest_data" \(DAG "test_custom_backends", run "manual__2024-01-15T14:30:22"\)/);
    assert.match(err.message, pattern);
    return true;
  };
}

test('file backend: missing, truncated and corrupted files are clear errors naming the XCom', async () => {
  const ws = await workspace();
  try {
    const b = ws.backend({ backend: 'file' });
    // JSON (parsed as it is read) and bytes (read in pieces, hashed while the next piece is read).
    for (const v of [seedData('medium', 10_000), randomBytes(2.5 * 1024 * 1024)]) {
      const s1 = await b.serialize(L, v);
      const f1 = filePathOf(ws.xcomRoot, s1.data);
      unlinkSync(f1);
      await assert.rejects(b.deserialize(L, s1.data), xcomError('missing', /is missing from the XCom directory/));

      const s2 = await b.serialize(L, v);
      const f2 = filePathOf(ws.xcomRoot, s2.data);
      truncateSync(f2, 100);
      await assert.rejects(b.deserialize(L, s2.data), xcomError('truncated', /truncated: 100 of \d+ bytes/));

      const s3 = await b.serialize(L, v);
      const f3 = filePathOf(ws.xcomRoot, s3.data);
      const bytes = readFileSync(f3);
      bytes[50]! ^= 0x20;
      writeFileSync(f3, bytes);
      await assert.rejects(b.deserialize(L, s3.data), xcomError('checksum', /SHA-256 does not match/));

      const s4 = await b.serialize(L, v);
      writeFileSync(filePathOf(ws.xcomRoot, s4.data), Buffer.concat([readFileSync(filePathOf(ws.xcomRoot, s4.data)), Buffer.from('extra')]));
      await assert.rejects(b.deserialize(L, s4.data), xcomError('corrupt', /the reference says/));
      const s5 = await b.serialize(L, v);
      assert.deepStrictEqual(await b.deserialize(L, s5.data), v);
    }
    const s4 = await b.serialize(L, seedData('medium', 10_000));

    // a corrupt envelope (header length beyond the data)
    const bad = Buffer.from(s4.data.subarray(0, 12));
    await assert.rejects(b.deserialize(L, bad), xcomError('corrupt', /envelope is corrupt/));
    const v9 = Buffer.from(s4.data);
    v9[3] = 9;
    await assert.rejects(b.deserialize(L, v9), xcomError('unsupported', /version 9/));
  } finally {
    ws.close();
  }
});

test('file references whose path is absolute or climbs out of the root are refused (tampered database)', async () => {
  const ws = await workspace();
  try {
    const b = ws.backend({ backend: 'file' });
    writeFileSync(join(ws.root, 'outside.json'), '{"stolen":true}');
    const s = await b.serialize(L, seedData('medium', 5000));
    const env = hdr(s.data);
    const off = env.header.layers[0] as OffloadLayer;
    for (const filepath of ['/etc/passwd', '../../outside.json', 'a/../../../outside.json', '..\\..\\outside.json', 'C:/Windows/win.ini', 'a//b', './x', 'a\0b']) {
      const tampered = encodeEnvelope({ ...env.header, layers: [{ ...off, filepath }] } as EnvelopeHeader, env.payload);
      await assert.rejects(b.deserialize(L, tampered), xcomError('unsafe-path', /outside the XCom store/), filepath);
      await b.purge(L, tampered); // refused silently (logged), never deletes outside the root
    }
    assert.equal(readFileSync(join(ws.root, 'outside.json'), 'utf8'), '{"stolen":true}');
    // a file:// store that is not configured is never read
    const other = encodeEnvelope({ ...env.header, layers: [{ ...off, store: 'file:///etc', filepath: 'passwd' }] } as EnvelopeHeader, env.payload);
    await assert.rejects(b.deserialize(L, other), xcomError('config', /not the configured object store/));
  } finally {
    ws.close();
  }
});

test('path segments are encoded safely', () => {
  assert.equal(encodeSegment('..'), '%2E%2E');
  assert.equal(encodeSegment('run_2024-01-15.v1'), 'run_2024-01-15.v1');
  for (const s of ['..', '.', '.hidden', 'a/b', 'a\\b', 'CON', 'nul.txt', '', 'x'.repeat(300), 'ümlaut ✈', 'trailing.']) {
    const e = encodeSegment(s);
    assert.match(e, /^[A-Za-z0-9_.%~-]+$/, s);
    assert.ok(!e.startsWith('.') && !e.endsWith('.') && e !== '', s);
    assert.ok(!/^(con|prn|aux|nul|com\d|lpt\d)(\.|$)/i.test(e), s);
    assert.ok(e.length <= 120, s);
  }
  assert.notEqual(encodeSegment('x'.repeat(300)), encodeSegment('x'.repeat(299) + 'y'));
  assert.notEqual(encodeSegment('a/b'), encodeSegment('a%2Fb'));
});

test('no temporary files remain after writes; the stored file is complete', async () => {
  const ws = await workspace();
  try {
    const b = ws.backend({ backend: 'file' });
    for (let i = 0; i < 5; i++) await b.serialize(loc(`k${i}`), randomBytes(3000));
    const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [e.name]));
    const files = walk(ws.xcomRoot);
    assert.equal(files.length, 5);
    assert.ok(files.every((f) => !f.includes('.tmp-')));
  } finally {
    ws.close();
  }
});

test('decompression bombs and lying headers are errors, not out-of-memory', async () => {
  const ws = await workspace();
  try {
    const b = ws.backend({ backend: 'compressed', limits: { maxDecompressedBytes: 64 << 20, maxStoredBytes: 8 << 20 } });
    const s = await b.serialize(L, seedData('repetitive', 10_000));
    const env = hdr(s.data);
    const layer = env.header.layers[0]!;
    // 64 MiB of zeros compresses to ~64 KiB of gzip; the envelope claims 10 KiB.
    const bomb = gzipSync(Buffer.alloc(64 << 20), { level: 9 });
    const bombEnv = encodeEnvelope({ ...env.header, layers: [{ ...layer, compressed_size: bomb.byteLength }] } as EnvelopeHeader, bomb);
    const before = process.memoryUsage().rss;
    await assert.rejects(b.deserialize(L, bombEnv), xcomError('too-large', /expands beyond its declared/));
    assert.ok(process.memoryUsage().rss - before < 48 << 20, 'did not inflate the bomb');
    // a header claiming a huge size is refused before any work
    const liar = encodeEnvelope({ ...env.header, size_original: 2 ** 40, layers: [{ ...layer, original_size: 2 ** 40, compressed_size: bomb.byteLength }] } as EnvelopeHeader, bomb);
    await assert.rejects(b.deserialize(L, liar), xcomError('too-large', /over the limit/));
    // stored-size limit
    const huge = encodeEnvelope(env.header, randomBytes(9 << 20));
    await assert.rejects(b.deserialize(L, huge), xcomError('too-large', /exceeds the limit of 8388608 bytes/));
    // zstd and brotli bombs too
    const z = zlib as unknown as { zstdCompressSync(b: Buffer): Buffer };
    for (const [alg, data] of [['zstd', z.zstdCompressSync(Buffer.alloc(32 << 20))], ['brotli', zlib.brotliCompressSync(Buffer.alloc(32 << 20))]] as const) {
      const e = encodeEnvelope({ ...env.header, chain: ['json', alg], layers: [{ ...layer, codec: alg, algorithm: alg, compressed_size: data.byteLength }] } as EnvelopeHeader, data);
      await assert.rejects(b.deserialize(L, e), xcomError('too-large', /expands beyond/), alg);
    }
    // garbage that is not gzip
    const garbage = encodeEnvelope(env.header, randomBytes(200));
    await assert.rejects(b.deserialize(L, garbage), xcomError('corrupt', /does not decompress/));
    // shorter than declared
    const short = encodeEnvelope({ ...env.header, layers: [{ ...layer, original_size: 20_000 }] } as EnvelopeHeader, env.payload);
    await assert.rejects(b.deserialize(L, short), xcomError('corrupt', /decompressed to 10011 bytes, the envelope declares 20000/));
  } finally {
    ws.close();
  }
});

test('interoperability: gzip and zstd payloads stored by Hangar decompress with the gzip and zstd command-line tools', async () => {
  const ws = await workspace();
  try {
    const v = seedData('medium', 50_000);
    for (const [algorithm, tool] of [['gzip', 'gzip'], ['zstd', 'zstd']] as const) {
      // inline: the payload after the header is a standard stream
      const b = ws.backend({ backend: 'compressed', compression: { algorithm } });
      const s = await b.serialize(L, v);
      assert.deepEqual(s.chain, ['json', algorithm]);
      const out = execFileSync(tool, ['-d', '-c'], { input: hdr(s.data).payload });
      assert.deepEqual(JSON.parse(out.toString('utf8')), v);
      // offloaded by the hybrid backend: the file itself is a .json.gz / .json.zst
      const h = ws.backend({ backend: 'hybrid', compression: { algorithm }, hybrid: { offloadThreshold: 100 } });
      const s2 = await h.serialize(L, v);
      assert.deepEqual(s2.chain, ['json', algorithm, 'file']);
      const file = filePathOf(ws.xcomRoot, s2.data);
      assert.ok(file.endsWith(algorithm === 'gzip' ? '.json.gz' : '.json.zst'), file);
      assert.deepEqual(JSON.parse(execFileSync(tool, ['-d', '-c', file]).toString('utf8')), v);
    }
  } finally {
    ws.close();
  }
});
