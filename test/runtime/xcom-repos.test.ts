/**
 * The XCom and key repositories (src/runtime/store/repos/xcoms.ts, keys.ts) and the XCom
 * maintenance built on them (rotation, clear, sweep, lineage, decode), on both dialects:
 * the same calls against a migrated SQLite file and a real PostgreSQL database
 * (test/helpers/postgres.ts) give the same answers.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { migrate } from '../../src/runtime/store/migrate.ts';
import { openDriver } from '../../src/runtime/store/open.ts';
import { XComRepository } from '../../src/runtime/store/repos/xcoms.ts';
import { KeyRepository } from '../../src/runtime/store/repos/keys.ts';
import type { SqlDriver } from '../../src/runtime/store/sql.ts';
import { parseStoreTarget } from '../../src/runtime/store/target.ts';
import type { XComRecord } from '../../src/runtime/store/records.ts';
import { Keyring, clearXComs, createXComBackend, decodeEnvelope, decodeXCom, listXComLineage, loadKeyring, rotateXComKeys, sweepOrphans } from '../../src/runtime/xcom/index.ts';
import type { EncryptionLayer, HangarXComBackend, OffloadLayer, XComLocation } from '../../src/runtime/xcom/index.ts';
import { freshDatabase } from '../helpers/postgres.ts';

const DIALECTS = {
  sqlite: async (dir: string): Promise<SqlDriver> => openDriver(parseStoreTarget('.hangar/hangar.db', dir)),
  postgres: async (): Promise<SqlDriver> => openDriver(parseStoreTarget((await freshDatabase()).url, '/')),
};

const loc = (key: string, over: Partial<XComLocation> = {}): XComLocation => ({ dagId: 'd', runId: 'r1', taskId: 'produce', mapIndex: -1, key, ...over });
const keyOf = (l: XComLocation) => ({ dag_id: l.dagId, run_id: l.runId, task_id: l.taskId, map_index: l.mapIndex, key: l.key });

function record(l: XComLocation, value: Uint8Array, over: Partial<XComRecord> = {}): XComRecord {
  return { ...keyOf(l), value, chain: '["json"]', size_original: value.byteLength, size_stored: value.byteLength, sensitive: 0, created_at: '2024-01-01T00:00:00.000Z', ...over };
}

async function push(xcoms: XComRepository, b: HangarXComBackend, l: XComLocation, value: unknown, createdAt = new Date().toISOString()): Promise<void> {
  const s = await b.serialize(l, value);
  await xcoms.put(record(l, s.data, { chain: JSON.stringify(s.chain), size_original: s.sizeOriginal, size_stored: s.sizeStored, sensitive: s.sensitive ? 1 : 0, created_at: createdAt }));
}

for (const [dialect, open] of Object.entries(DIALECTS)) {
  describe(`XCom repositories on ${dialect}`, () => {
    test('push, get, list by filter (literal prefix), delete, pulls, metadata pages, facets', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'hangar-xcom-repos-'));
      const sql = await open(dir);
      try {
        await migrate(sql);
        const x = new XComRepository(sql);
        const bytes = (s: string) => new TextEncoder().encode(s);
        for (const [key, over] of [['data_source_a', {}], ['data_source_b', {}], ['dataXsourceXc', {}], ['other', { taskId: 'load', mapIndex: 2 }], ['other', { runId: 'r2' }]] as const)
          await x.put(record(loc(key, over), bytes(`"${key}"`)));
        // an upsert replaces value and metadata
        await x.put(record(loc('other', { runId: 'r2' }), bytes('"new"'), { sensitive: 1, created_at: '2024-01-02T00:00:00.000Z' }));
        const got = (await x.get('d', 'r2', 'produce', 'other'))!;
        assert.equal(Buffer.from(got.value).toString(), '"new"');
        assert.deepEqual([got.sensitive, got.size_original, got.map_index, got.created_at], [1, 5, -1, '2024-01-02T00:00:00.000Z']);
        assert.equal(await x.get('d', 'r2', 'produce', 'other', 0), undefined);

        assert.deepEqual((await x.list({ dagId: 'd', keyPrefix: 'data_source_' })).map((r) => r.key), ['data_source_a', 'data_source_b'], '_ is literal');
        assert.deepEqual((await x.list({ dagId: 'd', runId: 'r1' })).map((r) => [r.task_id, r.map_index, r.key]), [
          ['load', 2, 'other'],
          ['produce', -1, 'dataXsourceXc'],
          ['produce', -1, 'data_source_a'],
          ['produce', -1, 'data_source_b'],
        ], 'keys in binary order on both dialects');
        assert.deepEqual((await x.list({ dagId: 'd', createdBefore: '2024-01-01T12:00:00.000Z' })).length, 4);
        assert.equal(await x.count(), 5);
        assert.equal(await x.count({ dagId: 'd', runId: 'r1', taskId: 'produce' }), 3);
        const page = await x.listMeta({ dagId: 'd' }, { limit: 2, offset: 3 });
        assert.deepEqual(page.map((r) => [r.run_id, r.task_id, r.key]), [['r1', 'produce', 'data_source_b'], ['r2', 'produce', 'other']]);
        assert.ok(!('value' in page[0]!), 'metadata only');
        assert.deepEqual(await x.getMeta(keyOf(loc('nope'))), undefined);
        assert.deepEqual([await x.dagIds(), await x.runIds('d'), await x.taskIds('d', 'r1')], [['d'], ['r2', 'r1'], ['load', 'produce']]);

        const a = keyOf(loc('data_source_a'));
        await x.recordPull(a, { task_id: 'consume', map_index: -1 }, '2024-01-01T00:00:03.000Z');
        await x.recordPull(a, { task_id: 'report', map_index: 1 }, '2024-01-01T00:00:02.000Z');
        await x.recordPull(a, { task_id: 'consume', map_index: -1 }, '2024-01-01T00:00:01.000Z');
        assert.deepEqual(await x.pulls(a), [
          { taskId: 'consume', mapIndex: -1, at: '2024-01-01T00:00:01.000Z' },
          { taskId: 'report', mapIndex: 1, at: '2024-01-01T00:00:02.000Z' },
        ]);

        const gone = await x.delete({ dagId: 'd', runId: 'r1', key: 'other' });
        assert.deepEqual(gone.map((r) => [r.task_id, r.map_index, Buffer.from(r.value).toString()]), [['load', 2, '"other"']]);
        assert.equal(await x.count(), 4);
        assert.equal(await x.deleteWithPulls([a, keyOf(loc('missing'))]), 1);
        assert.deepEqual(await x.pulls(a), [], 'lineage went with the row');

        // compare-and-swap on the value
        const b = (await x.get('d', 'r1', 'produce', 'data_source_b'))!;
        assert.equal(await x.replaceValue(b, bytes('"stale"'), bytes('"lost"'), 6), false);
        assert.equal(await x.replaceValue(b, b.value, bytes('"swapped"'), 9), true);
        const swapped = (await x.get('d', 'r1', 'produce', 'data_source_b'))!;
        assert.deepEqual([Buffer.from(swapped.value).toString(), swapped.size_stored], ['"swapped"', 9]);
        // heads and whole values
        const heads = await x.heads(3);
        assert.deepEqual(heads.map((h) => [h.key, Buffer.from(h.head).toString()]).sort(), [['dataXsourceXc', '"da'], ['data_source_b', '"sw'], ['other', '"ne']]);
        assert.equal(Buffer.from((await x.value(b))!).toString(), '"swapped"');
      } finally {
        await sql.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test('keys: passphrase salts created once, encryptions counted, rotation progress', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'hangar-xcom-repos-'));
      const sql = await open(dir);
      try {
        await migrate(sql);
        const k = new KeyRepository(sql);
        const salt = randomBytes(16);
        const first = await k.saltOrCreate('p', () => ({ kdf: 'scrypt', salt, params: '{"N":1024,"r":8,"p":1}' }));
        assert.ok(Buffer.from(first.salt).equals(salt));
        const again = await k.saltOrCreate('p', () => assert.fail('the salt exists'));
        assert.ok(Buffer.from(again.salt).equals(salt));
        assert.deepEqual((await k.salts()).map((s) => [s.key_id, s.kdf, s.params]), [['p', 'scrypt', '{"N":1024,"r":8,"p":1}']]);

        assert.equal(await k.recordEncryptions('k1'), 1);
        assert.equal(await k.recordEncryptions('k1', 5), 6);
        assert.equal(await k.recordEncryptions('k2', 2), 2);
        await k.setEncryptions('k2', 2 ** 31);
        assert.equal(await k.recordEncryptions('k2'), 2 ** 31 + 1, 'counts past 32 bits');
        assert.deepEqual([...(await k.usage())], [['k1', 6], ['k2', 2 ** 31 + 1]]);

        await k.startRotation('new', '2024-01-01T00:00:00.000Z');
        await k.recordRotation('new', 3, 0, '2024-01-01T00:00:01.000Z');
        await k.recordRotation('new', 2, 1, '2024-01-01T00:00:02.000Z');
        assert.deepEqual(await k.rotation('new'), { target_key_id: 'new', started_at: '2024-01-01T00:00:00.000Z', updated_at: '2024-01-01T00:00:02.000Z', finished_at: null, rotated: 5, failed: 1 });
        await k.finishRotation('new', '2024-01-01T00:00:03.000Z');
        assert.equal((await k.rotation('new'))!.finished_at, '2024-01-01T00:00:03.000Z');
        await k.startRotation('new', '2024-01-02T00:00:00.000Z');
        const restarted = (await k.rotation('new'))!;
        assert.deepEqual([restarted.started_at, restarted.finished_at, restarted.rotated], ['2024-01-01T00:00:00.000Z', null, 5], 'a restart keeps the count and reopens');
        assert.equal(await k.rotation('other'), undefined);
      } finally {
        await sql.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    test('maintenance over the repositories: rotation (paged, resumable), lineage, decode, clear by age, sweep', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'hangar-xcom-repos-'));
      const sql = await open(dir);
      const backends: HangarXComBackend[] = [];
      try {
        await migrate(sql);
        const store = { xcoms: new XComRepository(sql), keys: new KeyRepository(sql) };
        const backend = (keyring?: Keyring, extra: object = {}) => {
          const b = createXComBackend({ backend: 'hybrid', hybrid: { offloadThreshold: 2000 }, ...extra }, { workspaceRoot: dir, xcomRoot: join(dir, 'xcom'), keyring, keys: store.keys, env: {} });
          backends.push(b);
          return b;
        };
        const oldKey = { id: 'old', key: randomBytes(32) };
        const newKey = { id: 'new', key: randomBytes(32) };
        const before = backend(new Keyring([oldKey]));
        const values = new Map<string, unknown>();
        for (let i = 0; i < 7; i++) {
          const v = { password: `pw-${i}`, blob: i % 2 ? randomBytes(3000).toString('base64') : 'short' };
          values.set(`secret_${i}`, v);
          await push(store.xcoms, before, loc(`secret_${i}`), v);
        }
        await push(store.xcoms, before, loc('public'), { hello: 'world' }, '2020-01-01T00:00:00.000Z');
        assert.equal(await store.xcoms.countEncrypted(), 7);
        assert.deepEqual([...(await store.keys.usage())], [['old', 7]]);

        const after = backend(new Keyring([newKey, oldKey]));
        const ac = new AbortController();
        const p1 = await rotateXComKeys(store, after, { batchSize: 2, signal: ac.signal, onProgress: (p) => p.rotated >= 3 && ac.abort() });
        assert.deepEqual([p1.rotated, p1.complete], [3, false]);
        const p2 = await rotateXComKeys(store, after, { batchSize: 2 });
        assert.deepEqual([p2.rotated, p2.alreadyCurrent, p2.complete], [4, 3, true]);
        const keyIds = (await store.xcoms.list({ dagId: 'd', keyPrefix: 'secret_' })).map((r) => (decodeEnvelope(loc('x'), r.value)!.header.layers.find((l) => l.codec === 'aes-256-gcm') as EncryptionLayer).key_id);
        assert.deepEqual(keyIds, Array(7).fill('new'));
        assert.deepEqual(await store.keys.rotation('new').then((r) => [r!.rotated, r!.finished_at !== null]), [7, true]);
        const onlyNew = backend(new Keyring([newKey]));
        for (const [key, v] of values) assert.deepEqual((await decodeXCom(store, onlyNew, loc(key))).value, v);
        const raw = await decodeXCom(store, onlyNew, loc('secret_1'), { raw: true });
        assert.equal(raw.integrity.status, 'ok');
        assert.ok(offloadOf(raw.header!), 'an offloaded value');

        await store.xcoms.recordPull(keyOf(loc('public')), { task_id: 'consume', map_index: 0 }, '2024-01-01T00:00:00.000Z');
        const lineage = await listXComLineage(store, { dagId: 'd', runId: 'r1' });
        assert.equal(lineage.length, 8);
        assert.deepEqual(lineage.find((l) => l.loc.key === 'public')!.pulledBy, [{ taskId: 'consume', mapIndex: 0, at: '2024-01-01T00:00:00.000Z' }]);

        const cleared = await clearXComs(store, onlyNew, { dagId: 'd', olderThan: '7d' });
        assert.deepEqual([cleared.rows, cleared.objects], [1, 0]);
        assert.deepEqual(await store.xcoms.pulls(keyOf(loc('public'))), []);
        const file = join(dir, 'xcom', ...(offloadOf(raw.header!)!.filepath.split('/')));
        assert.ok(existsSync(file));
        await sql.run('DELETE FROM xcom WHERE key = ?', 'secret_1');
        const sweep = await sweepOrphans(store, onlyNew, { minAgeMs: 0 });
        assert.deepEqual([sweep.removed, sweep.referenced], [1, 2], 'the file of the row deleted by hand; the other offloaded values stay');
        assert.ok(!existsSync(file));

        // A passphrase key: the salt is created in this store once; a second backend derives the same key.
        const p = await loadKeyring({ passphrase: 'a long passphrase' }, { workspaceRoot: dir, keys: store.keys, env: {} });
        const enc = backend(undefined, { backend: 'encrypted', encryption: { passphrase: 'a long passphrase' } });
        assert.deepEqual((await enc.ready())!.ids, ['passphrase']);
        const s = await enc.serialize(loc('creds'), { password: 'x' });
        assert.deepEqual(await backend(p).deserialize(loc('creds'), s.data), { password: 'x' });
        assert.equal((await store.keys.salts()).length, 1);
      } finally {
        for (const b of backends) b.close();
        await sql.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

function offloadOf(h: { layers: readonly { codec: string }[] }): OffloadLayer | undefined {
  return h.layers.find((l) => l.codec === 'file' || l.codec === 's3') as OffloadLayer | undefined;
}
