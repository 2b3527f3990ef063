import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeEnvelope, BACKEND_NAMES } from '../../src/runtime/xcom/index.ts';
import type { EnvelopeHeader } from '../../src/runtime/xcom/index.ts';
import { workspace, loc, keyring, seedData } from './helpers.ts';

const everyType = () => ({
  when: new Date('2024-01-15T10:00:00Z'),
  bytes: Buffer.from('bin'),
  map: new Map([['k', new Set([1, 2])]]),
  big: 2n ** 70n,
  nothing: undefined,
  text: 'y'.repeat(3000),
  rows: Array.from({ length: 50 }, (_, i) => ({ i, name: `row ${i}` })),
});

const header = (data: Uint8Array): EnvelopeHeader => decodeEnvelope(loc(), data)!.header;

test('every backend round-trips every supported type, small and large, and reads values of every other backend', async () => {
  const ws = await workspace();
  try {
    const kr = keyring('k1');
    // One workspace configuration (shared keys and object store), each backend as the default in turn.
    const objectStore = { url: 'file://' + join(ws.root, 'bucket') };
    const backends = Object.fromEntries(BACKEND_NAMES.map((n) => [n, ws.backend({ backend: n, objectStore }, kr)]));
    const values: unknown[] = [everyType(), 'small', 42, null, undefined, randomBytes(5000), seedData('medium', 20_000), seedData('repetitive', 10_000), seedData('sensitive', 200)];
    for (const [name, b] of Object.entries(backends)) {
      for (const [i, v] of values.entries()) {
        const l = loc(`v${i}`, { taskId: name });
        const stored = await b.serialize(l, v);
        assert.equal(stored.chain[0], header(stored.data).format);
        for (const [other, reader] of Object.entries(backends)) {
          assert.deepStrictEqual(await reader.deserialize(l, stored.data), v, `${name} → ${other}, value ${i}`);
        }
      }
    }
    // A workspace without that object store cannot read its objects, and says so.
    const s = await backends.s3!.serialize(loc('big'), 'q'.repeat(5000));
    await assert.rejects(ws.backend({}, kr).deserialize(loc('big'), s.data), /XCom "big".*lives in file:\/\/.*bucket, which is not the configured object store/);
  } finally {
    ws.close();
  }
});

test('per-push backend override and a legacy plain-JSON row are read by the default backend', async () => {
  const ws = await workspace();
  try {
    const b = ws.backend({ backend: 'database' });
    const s = await b.serialize(loc(), { x: 'z'.repeat(2000) }, { backend: 'compressed' });
    assert.deepEqual(s.chain, ['json', 'gzip']);
    assert.deepEqual(await b.deserialize(loc(), Buffer.from('{"legacy":[1,2]}')), { legacy: [1, 2] });
    await assert.rejects(b.serialize(loc(), 1, { backend: 'nope' }), /Unknown XCom backend "nope"/);
    assert.throws(() => ws.backend({ backend: 'nope' }), /Unknown XCom backend "nope"/);
    assert.throws(() => ws.backend({ backend: 's3' }), /needs xcom.objectStore.url/);
  } finally {
    ws.close();
  }
});

test('database backend stores inline; chain and sizes are reported', async () => {
  const ws = await workspace();
  try {
    const b = ws.backend();
    const s = await b.serialize(loc(), { a: 1 });
    assert.deepEqual(s.chain, ['json']);
    assert.equal(s.sizeOriginal, 7);
    assert.equal(s.sizeStored, 7);
    assert.equal(s.sensitive, false);
    const h = header(s.data);
    assert.equal(h.backend, 'database');
    assert.equal(h.layers.length, 0);
  } finally {
    ws.close();
  }
});

test('file backend: threshold, seed reference format, layout, atomic write, cleanup on purge', async () => {
  const ws = await workspace();
  try {
    const b = ws.backend({ backend: 'file' });
    const small = await b.serialize(loc('small'), { key: 'value' });
    assert.deepEqual(small.chain, ['json'], 'small data stays inline');
    const l = loc('data/../../etc', { mapIndex: 3, runId: 'scheduled__2024-01-15T00:00:00+00:00' });
    const big = { data: 'x'.repeat(2000), rows: [1, 2, 3] };
    const s = await b.serialize(l, big);
    assert.deepEqual(s.chain, ['json', 'file']);
    const off = header(s.data).layers[0] as unknown as Record<string, unknown>;
    assert.equal(off._xcom_file_backend, true);
    assert.equal(off.store, 'xcom-root');
    assert.equal(off.record_count, 1);
    assert.match(String(off.checksum), /^sha256:[0-9a-f]{64}$/);
    assert.match(String(off.created_at), /^\d{4}-\d\d-\d\dT/);
    const path = String(off.filepath);
    assert.match(path, /^test_custom_backends\/scheduled__2024-01-15T00%3A00%3A00%2B00%3A00\/produce\/3\/data%2F\.\.%2F\.\.%2Fetc\.[a-z0-9-]+\.json$/);
    const full = join(ws.xcomRoot, ...path.split('/'));
    assert.equal(readFileSync(full, 'utf8'), JSON.stringify(big));
    assert.equal(off.size_bytes, s.sizeStored);
    assert.deepEqual(await b.deserialize(l, s.data), big);
    // a re-push writes a new file, so purging the replaced value never removes the new one
    const s2 = await b.serialize(l, big);
    assert.notEqual((header(s2.data).layers[0] as { filepath: string }).filepath, path);
    await b.purge(l, s.data);
    assert.ok(!existsSync(full));
    assert.deepEqual(await b.deserialize(l, s2.data), big);
    // threshold is configurable
    const b2 = ws.backend({ backend: 'file', fileThreshold: 10_000 });
    assert.deepEqual((await b2.serialize(l, big)).chain, ['json']);
  } finally {
    ws.close();
  }
});

test('compressed backend: threshold, keeps the original when compression does not pay, seed fields, zstd and brotli', async () => {
  const ws = await workspace();
  try {
    const b = ws.backend({ backend: 'compressed' });
    assert.deepEqual((await b.serialize(loc(), 'x'.repeat(50))).chain, ['json'], 'under 100 B');
    const rep = await b.serialize(loc(), seedData('repetitive', 5000));
    assert.deepEqual(rep.chain, ['json', 'gzip']);
    const layer = header(rep.data).layers[0] as unknown as Record<string, unknown>;
    assert.equal(layer._xcom_compressed, true);
    assert.equal(layer.algorithm, 'gzip');
    assert.equal(layer.original_size, rep.sizeOriginal);
    assert.equal(layer.compressed_size, rep.sizeStored);
    assert.ok((layer.compression_ratio as number) < 0.05);
    const rnd = await b.serialize(loc(), randomBytes(4000));
    assert.deepEqual(rnd.chain, ['bytes'], 'random bytes do not compress: original kept');
    assert.equal(rnd.sizeStored, 4000);
    assert.match(String(header(rnd.data).layers.length), /^0$/);
    for (const algorithm of ['zstd', 'brotli'] as const) {
      const bz = ws.backend({ backend: 'compressed', compression: { algorithm } });
      const v = seedData('medium', 30_000);
      const s = await bz.serialize(loc(), v);
      assert.deepEqual(s.chain, ['json', algorithm]);
      assert.ok(s.sizeStored < s.sizeOriginal / 3);
      assert.deepEqual(await b.deserialize(loc(), s.data), v);
    }
    assert.ok(b.stats.compressed.gzip!.values >= 1);
    assert.throws(() => ws.backend({ backend: 'compressed', compression: { algorithm: 'lz4' as never } }), /unknown compression algorithm "lz4"/);
  } finally {
    ws.close();
  }
});

test('hybrid backend decides per value and records its reasons', async () => {
  const ws = await workspace();
  try {
    const b = ws.backend({ backend: 'hybrid', hybrid: { offloadThreshold: 4096 } }, keyring('k1'));
    const cases: [string, unknown, string[]][] = [
      ['config', seedData('small', 0), ['json']],
      ['repetitive', seedData('repetitive', 100_000), ['json', 'gzip']],
      ['random', randomBytes(50_000), ['bytes', 'file']],
      ['dataset', seedData('large', 400_000), ['json', 'gzip', 'file']],
      ['creds', seedData('sensitive', 100), ['json', 'aes-256-gcm']],
      ['big_secret', { password: randomBytes(20_000).toString('hex') }, ['json', 'gzip', 'aes-256-gcm', 'file']],
    ];
    for (const [key, v, chain] of cases) {
      const s = await b.serialize(loc(key), v);
      assert.deepEqual(s.chain, chain, key);
      const h = header(s.data);
      assert.ok(h.decision, key);
      assert.equal(h.decision!.compress, chain.includes('gzip'));
      assert.equal(h.decision!.encrypt, chain.includes('aes-256-gcm'));
      assert.equal(h.decision!.offload, chain.includes('file'));
      assert.ok(h.decision!.reasons.length > 0);
      assert.deepStrictEqual(await b.deserialize(loc(key), s.data), v);
    }
    const r = header((await b.serialize(loc('random'), randomBytes(50_000))).data).decision!;
    assert.ok(r.reasons.some((x) => /not worth compressing/.test(x)), r.reasons.join('; '));
    assert.ok(r.estimated_ratio! > 0.9);
    // sensitive without a key: stored, flagged, and the reason says why it is not encrypted
    const warnings: string[] = [];
    const nokey = ws.backend({ backend: 'hybrid' });
    const s = await nokey.serialize(loc('db_password'), 'hunter2');
    assert.equal(s.sensitive, true);
    assert.deepEqual(s.chain, ['json']);
    assert.ok(header(s.data).decision!.reasons.some((x) => /no XCom key/.test(x)));
    void warnings;
  } finally {
    ws.close();
  }
});
