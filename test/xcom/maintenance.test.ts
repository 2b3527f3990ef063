import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Buffer } from 'node:buffer';
import { existsSync, writeFileSync, mkdirSync, utimesSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { randomBytes } from 'node:crypto';
import {
  Keyring,
  clearXComs,
  decodeEnvelope,
  decodeXCom,
  listXComLineage,
  openXComFile,
  readXComRecords,
  rotateXComKeys,
  sweepOrphans,
  writeXComFile,
  writeXComRecords,
} from '../../src/runtime/xcom/index.ts';
import type { EncryptionLayer, OffloadLayer } from '../../src/runtime/xcom/index.ts';
import { workspace, loc, seedData } from './helpers.ts';

const keyIdOf = (data: Uint8Array) => (decodeEnvelope(loc(), data)!.header.layers.find((l) => l.codec === 'aes-256-gcm') as EncryptionLayer).key_id;

test('key rotation: interrupted half-way, resumed, nothing lost (inline and offloaded values)', async () => {
  const ws = await workspace();
  try {
    const oldKey = { id: 'old', key: randomBytes(32) };
    const newKey = { id: 'new', key: randomBytes(32) };
    const before = ws.backend({ backend: 'hybrid', hybrid: { offloadThreshold: 2000 } }, new Keyring([oldKey]));
    const values = new Map<string, unknown>();
    for (let i = 0; i < 10; i++) {
      const l = loc(`secret_${i}`, { taskId: `t${i % 3}` });
      const v = { password: `pw-${i}`, blob: i % 2 ? randomBytes(3000).toString('base64') : 'short' };
      values.set(l.key, v);
      await ws.put(before, l, v);
    }
    await ws.put(before, loc('public'), { hello: 'world' });
    const offloaded = async () => (await ws.store.xcoms.list({ dagId: loc().dagId })).filter((r) => (JSON.parse(r.chain) as string[]).includes('file')).length;
    assert.equal(await offloaded(), 5);

    const after = ws.backend({ backend: 'hybrid', hybrid: { offloadThreshold: 2000 } }, new Keyring([newKey, oldKey]));
    const ac = new AbortController();
    const p1 = await rotateXComKeys(ws.store, after, { signal: ac.signal, batchSize: 3, onProgress: (p) => p.rotated >= 5 && ac.abort() });
    assert.equal(p1.complete, false);
    assert.equal(p1.rotated, 5);
    const ids = async () => (await ws.store.xcoms.list({ dagId: loc().dagId, keyPrefix: 'secret_' })).map((r) => keyIdOf(r.value));
    assert.equal((await ids()).length, 10);
    assert.deepEqual((await ids()).sort(), [...Array(5).fill('new'), ...Array(5).fill('old')]);
    // mid-rotation every value still reads
    for (const [key, v] of values) {
      const l = loc(key, { taskId: `t${Number(key.split('_')[1]) % 3}` });
      assert.deepEqual((await decodeXCom(ws.store, after, l)).value, v);
    }
    const p2 = await rotateXComKeys(ws.store, after);
    assert.equal(p2.complete, true);
    assert.equal(p2.rotated, 5);
    assert.equal(p2.alreadyCurrent, 5);
    assert.deepEqual(await ids(), Array(10).fill('new'));
    // The old key can go: everything reads with the new key alone
    const onlyNew = ws.backend({}, new Keyring([newKey]));
    for (const [key, v] of values) assert.deepEqual((await decodeXCom(ws.store, onlyNew, loc(key, { taskId: `t${Number(key.split('_')[1]) % 3}` }))).value, v);
    // old offloaded objects were removed; nothing orphaned
    const sweep = await sweepOrphans(ws.store, onlyNew, { dryRun: true, minAgeMs: 0 });
    assert.equal(sweep.orphans.length, 0, JSON.stringify(sweep.orphans));
    assert.equal(await offloaded(), 5);
    const status = await ws.store.keys.rotations();
    assert.deepEqual(
      status.map((r) => ({ target: r.target_key_id, done: r.finished_at !== null, rotated: r.rotated, failed: r.failed })),
      [{ target: 'new', done: true, rotated: 10, failed: 0 }],
    );
    // a row whose key is gone is reported, left untouched, and the rotation is not complete
    const lost = ws.backend({ backend: 'encrypted' }, new Keyring([{ id: 'lost', key: randomBytes(32) }]));
    await ws.put(lost, loc('orphan_secret'), { token: 'x' });
    const p3 = await rotateXComKeys(ws.store, onlyNew);
    assert.equal(p3.complete, false);
    assert.equal(p3.failed.length, 1);
    assert.equal(p3.failed[0]!.code, 'no-key');
    const after3 = (await ws.store.keys.rotation('new'))!;
    assert.equal(after3.finished_at, null, 'a rotation with a failure is not finished');
    assert.equal(after3.failed, 1);
    assert.equal(keyIdOf((await ws.row(loc('orphan_secret')))!.value), 'lost', 'left untouched');
  } finally {
    ws.close();
  }
});

test('clearXComs removes rows, lineage and files (by run, by age); sweepOrphans finds files whose rows are gone', async () => {
  const ws = await workspace();
  try {
    const b = ws.backend({ backend: 'file' });
    const old = new Date(Date.now() - 10 * 86_400_000).toISOString();
    await ws.put(b, loc('a', { runId: 'r1' }), 'x'.repeat(5000), { createdAt: old });
    await ws.put(b, loc('b', { runId: 'r1' }), 'small', { createdAt: old });
    await ws.put(b, loc('a', { runId: 'r2' }), 'y'.repeat(5000));
    await ws.put(b, loc('a', { runId: 'r3', dagId: 'other' }), 'z'.repeat(5000));
    const pulled = { dag_id: 'test_custom_backends', run_id: 'r1', task_id: 'produce', map_index: -1, key: 'a' };
    await ws.store.xcoms.recordPull(pulled, { task_id: 'consume', map_index: -1 }, '2024-01-01T00:00:02.000Z');
    await ws.store.xcoms.recordPull(pulled, { task_id: 'report', map_index: 3 }, '2024-01-01T00:00:01.000Z');
    await ws.store.xcoms.recordPull(pulled, { task_id: 'consume', map_index: -1 }, '2024-01-01T00:00:03.000Z');
    const fileOf = async (runId: string) => {
      const off = decodeEnvelope(loc(), (await ws.row(loc('a', { runId })))!.value)!.header.layers[0] as OffloadLayer;
      return join(ws.xcomRoot, ...off.filepath.split('/'));
    };
    const f1 = await fileOf('r1');
    const f2 = await fileOf('r2');
    const lineage = await listXComLineage(ws.store, { dagId: 'test_custom_backends', runId: 'r1' });
    assert.deepEqual(lineage.map((x) => x.loc.key), ['a', 'b']);
    // each puller once, at its first pull, earliest first
    assert.deepEqual(lineage.find((x) => x.loc.key === 'a')!.pulledBy, [
      { taskId: 'report', mapIndex: 3, at: '2024-01-01T00:00:01.000Z' },
      { taskId: 'consume', mapIndex: -1, at: '2024-01-01T00:00:02.000Z' },
    ]);
    assert.deepEqual(lineage.find((x) => x.loc.key === 'b')!.pulledBy, []);
    assert.equal(lineage.find((x) => x.loc.key === 'a')!.pushedBy.taskId, 'produce');

    const r = await clearXComs(ws.store, b, { dagId: 'test_custom_backends', olderThan: '7d' });
    assert.equal(r.rows, 2);
    assert.equal(r.objects, 1);
    assert.ok(r.bytesFreed > 5000);
    assert.ok(!existsSync(f1));
    assert.ok(existsSync(f2));
    assert.deepEqual(await ws.store.xcoms.pulls(pulled), [], 'lineage goes with the rows');
    const r2 = await clearXComs(ws.store, b, { dagId: 'test_custom_backends', runId: 'r2' });
    assert.equal(r2.rows, 1);
    assert.ok(!existsSync(f2));
    assert.equal(await ws.store.xcoms.count(), 1, 'other DAG untouched');
    assert.equal(await ws.store.xcoms.count({ dagId: 'other' }), 1);

    // orphans: a row deleted by hand, a stale temp file; a fresh file is left alone (a push in flight)
    await ws.put(b, loc('gone'), 'g'.repeat(4000));
    const goneFile = await (async () => {
      const off = decodeEnvelope(loc(), (await ws.row(loc('gone')))!.value)!.header.layers[0] as OffloadLayer;
      return join(ws.xcomRoot, ...off.filepath.split('/'));
    })();
    // the row deleted by hand, its file left behind
    await ws.store.sql.run("DELETE FROM xcom WHERE key = 'gone'");
    mkdirSync(join(ws.xcomRoot, 'd'), { recursive: true });
    writeFileSync(join(ws.xcomRoot, 'd', 'x.json.tmp-1234'), 'partial');
    const hourAgo = new Date(Date.now() - 3_600_000);
    utimesSync(goneFile, hourAgo, hourAgo);
    utimesSync(join(ws.xcomRoot, 'd', 'x.json.tmp-1234'), hourAgo, hourAgo);
    writeFileSync(join(ws.xcomRoot, 'd', 'fresh.json'), 'in flight');
    const dry = await sweepOrphans(ws.store, b, { dryRun: true });
    assert.equal(dry.orphans.length, 2);
    assert.ok(existsSync(goneFile));
    const sw = await sweepOrphans(ws.store, b);
    assert.equal(sw.removed, 2);
    assert.equal(sw.bytesFreed, 4002 + 7);
    assert.ok(!existsSync(goneFile));
    assert.ok(existsSync(join(ws.xcomRoot, 'd', 'fresh.json')));
    assert.equal(sw.referenced, 1, 'the other DAG\'s file is referenced');
  } finally {
    ws.close();
  }
});

test('decodeXCom: decoded value, or the raw envelope with an integrity status', async () => {
  const ws = await workspace();
  try {
    const kr = new Keyring([{ id: 'k', key: randomBytes(32) }]);
    const b = ws.backend({ backend: 'hybrid', hybrid: { offloadThreshold: 1000 } }, kr);
    await ws.put(b, loc('cfg'), { a: 1 });
    await ws.put(b, loc('creds'), { password: 'pw' });
    await ws.put(b, loc('big'), seedData('medium', 20_000));
    const v = await decodeXCom(ws.store, b, loc('cfg'));
    assert.deepEqual(v.value, { a: 1 });
    assert.deepEqual(v.chain, ['json']);
    const raw = await decodeXCom(ws.store, b, loc('creds'), { raw: true });
    assert.equal(raw.integrity.status, 'ok');
    assert.equal(raw.header!.sensitive, true);
    assert.ok(!Buffer.from(raw.envelope).toString('latin1').includes('"pw"'));
    const nokey = ws.backend({});
    assert.equal((await decodeXCom(ws.store, nokey, loc('creds'), { raw: true })).integrity.status, 'unverified');
    await assert.rejects(decodeXCom(ws.store, nokey, loc('creds')), /no XCom key is configured/);
    // corrupt the offloaded file: raw mode reports it
    const off = decodeEnvelope(loc(), (await ws.row(loc('big')))!.value)!.header.layers.at(-1) as OffloadLayer;
    const f = join(ws.xcomRoot, ...off.filepath.split('/'));
    const bytes = readFileSync(f);
    bytes[10]! ^= 1;
    writeFileSync(f, bytes);
    const r = await decodeXCom(ws.store, b, loc('big'), { raw: true });
    assert.equal(r.integrity.status, 'checksum');
    assert.match(r.integrity.detail!, /XCom "big"/);
    await assert.rejects(decodeXCom(ws.store, b, loc('nope')), /XCom "nope" of task "produce".*does not exist/);
  } finally {
    ws.close();
  }
});

test('file references for user data: stream a large dataset into a managed file, read it back as a verified stream, cleaned with its XCom', async () => {
  const ws = await workspace();
  try {
    const b = ws.backend({ backend: 'database' });
    const l = loc('data_source_market_data', { taskId: 'ingest_data' });
    async function* rows() {
      for (let i = 0; i < 20_000; i++) yield { symbol: `STOCK_${i}`, price: i / 100, at: new Date(1705312800000 + i), volume: BigInt(i) * 1000n };
    }
    const ref = await writeXComRecords(b, l, rows());
    assert.equal(ref.record_count, 20_000);
    assert.equal(ref.data_type, 'file_reference');
    assert.equal(ref._xcom_file_backend, true);
    assert.ok(ref.size_bytes > 1_000_000);
    await ws.put(b, l, ref);
    // the pushed XCom is just the reference; it comes back and the data streams out
    const got = (await decodeXCom(ws.store, b, l)).value as typeof ref;
    let n = 0;
    for await (const r of readXComRecords(b, got, l)) {
      const row = r as { symbol: string; at: Date; volume: bigint };
      if (n === 12_345) assert.deepEqual(row, { symbol: 'STOCK_12345', price: 123.45, at: new Date(1705312800000 + 12_345), volume: 12_345_000n });
      n++;
    }
    assert.equal(n, 20_000);
    // binary stream
    const blob = randomBytes(3 << 20);
    const bref = await writeXComFile(b, loc('blob'), Readable.from([blob.subarray(0, 1 << 20), blob.subarray(1 << 20)]));
    const chunks: Buffer[] = [];
    for await (const c of await openXComFile(b, bref)) chunks.push(c as Buffer);
    assert.ok(Buffer.concat(chunks).equals(blob));
    // a corrupted file errors at the end of the stream
    const f = join(ws.xcomRoot, ...bref.filepath.split('/'));
    const bytes = readFileSync(f);
    bytes[5]! ^= 1;
    writeFileSync(f, bytes);
    await assert.rejects(async () => {
      for await (const _ of await openXComFile(b, bref, loc('blob'))) void _;
    }, /XCom "blob".*SHA-256 does not match/);
    // clearing the XCom that holds the reference removes the file
    const file = join(ws.xcomRoot, ...ref.filepath.split('/'));
    assert.ok(existsSync(file));
    const cleared = await clearXComs(ws.store, b, { dagId: l.dagId, runId: l.runId, taskId: 'ingest_data' });
    assert.equal(cleared.objects, 1);
    assert.ok(!existsSync(file));
    // a tampered reference cannot escape the store
    await assert.rejects(openXComFile(b, { ...bref, filepath: '../../../etc/passwd' }), /outside the XCom store/);
  } finally {
    ws.close();
  }
});
