import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { join } from 'node:path';
import { clearXComs, createXComBackend, decodeEnvelope, sweepOrphans, XComError, writeXComFile, openXComFile } from '../../src/runtime/xcom/index.ts';
import type { OffloadLayer } from '../../src/runtime/xcom/index.ts';
import { workspace, loc, seedData, startS3rver, closedPort, keyring } from './helpers.ts';

let s3: Awaited<ReturnType<typeof startS3rver>>;
before(async () => {
  s3 = await startS3rver('hangar-xcom');
});
after(async () => {
  await s3.stop();
});

const store = (over: Record<string, unknown> = {}) => ({ url: 's3://hangar-xcom/xcoms/dev', endpoint: s3.endpoint, region: 'us-east-1', ...over });

test('s3 backend against a real S3 API server: round-trips, object layout, purge', async () => {
  const ws = await workspace();
  try {
    const b = ws.backend({ backend: 's3', objectStore: store() });
    const ctx = { workspaceRoot: ws.root };
    void ctx;
    for (const [i, v] of [seedData('small', 0), seedData('medium', 50_000), randomBytes(200_000), seedData('repetitive', 10_000)].entries()) {
      const l = loc(`k${i}`);
      const s = await b.serialize(l, v);
      assert.deepStrictEqual(await b.deserialize(l, s.data), v);
      if (i > 0) {
        assert.equal(s.chain.at(-1), 's3');
        const off = decodeEnvelope(l, s.data)!.header.layers.at(-1) as OffloadLayer;
        assert.equal(off.store, 's3://hangar-xcom/xcoms/dev');
        assert.match(off.filepath, /^test_custom_backends\/manual__2024-01-15T14%3A30%3A22\/produce\/-1\/k\d\./);
        await b.purge(l, s.data);
        await assert.rejects(b.deserialize(l, s.data), (e: unknown) => e instanceof XComError && e.code === 'missing' && /XCom "k\d"/.test(e.message));
      }
    }
  } finally {
    ws.close();
  }
}, );

test('s3: multipart upload for large values, and hybrid offloading encrypted+compressed values to S3', async () => {
  const ws = await workspace();
  try {
    const b = ws.backend({ backend: 's3', objectStore: store({ multipartThreshold: 6 << 20, partSize: 5 << 20 }) });
    const big = randomBytes(13 << 20);
    const s = await b.serialize(loc('big'), big);
    const back = (await b.deserialize(loc('big'), s.data)) as Buffer;
    assert.ok(back.equals(big));
    // streamed user file through multipart
    const ref = await writeXComFile(b, loc('stream'), (async function* () {
      for (let i = 0; i < 3; i++) yield big.subarray(i * (4 << 20), (i + 1) * (4 << 20));
    })(), { target: 'object-store' });
    assert.equal(ref.store, 's3://hangar-xcom/xcoms/dev');
    const chunks: Buffer[] = [];
    for await (const c of await openXComFile(b, ref)) chunks.push(c as Buffer);
    assert.ok(Buffer.concat(chunks).equals(big.subarray(0, 12 << 20)));

    const h = ws.backend({ backend: 'hybrid', objectStore: store(), hybrid: { offloadThreshold: 1000 } }, keyring('k1'));
    const secret = { password: 'x', rows: seedData('medium', 30_000) };
    const hs = await h.serialize(loc('creds'), secret);
    assert.deepEqual(hs.chain, ['json', 'gzip', 'aes-256-gcm', 's3']);
    assert.deepEqual(await h.deserialize(loc('creds'), hs.data), secret);
    // cleanup and sweep reach the bucket
    await ws.put(h, loc('kept'), seedData('medium', 10_000));
    await ws.put(h, loc('cleared'), seedData('medium', 10_000));
    const c = await clearXComs(ws.store, h, { dagId: 'test_custom_backends', runId: loc().runId });
    assert.equal(c.rows, 2);
    assert.equal(c.objects, 2);
    const sw = await sweepOrphans(ws.store, h, { minAgeMs: 0 });
    assert.ok(sw.removed >= 3, `big, stream, creds objects have no rows: removed ${sw.removed}`);
    const again = await sweepOrphans(ws.store, h, { minAgeMs: 0, dryRun: true });
    assert.equal(again.orphans.length, 0);
  } finally {
    ws.close();
  }
});

test('s3 endpoint unreachable: a clear error within bounded time (refused connection, and a server that never answers)', async () => {
  const ws = await workspace();
  const sockets: Socket[] = [];
  const silent: Server = createServer((s) => sockets.push(s));
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  try {
    const port = await closedPort();
    const refused = ws.backend({ backend: 's3', objectStore: store({ endpoint: `http://127.0.0.1:${port}`, timeoutMs: 1000, connectTimeoutMs: 500 }) });
    let t = Date.now();
    await assert.rejects(refused.serialize(loc('k'), 'v'.repeat(5000)), (e: unknown) => {
      assert.ok(e instanceof XComError, String(e));
      assert.equal(e.code, 'unavailable');
      assert.match(e.message, new RegExp(`XCom "k" of task "produce".*S3 endpoint s3://hangar-xcom/xcoms/dev at http://127.0.0.1:${port} unreachable`));
      return true;
    });
    assert.ok(Date.now() - t < 5000, `took ${Date.now() - t} ms`);
    const addr = silent.address() as { port: number };
    const hung = ws.backend({ backend: 's3', objectStore: store({ endpoint: `http://127.0.0.1:${addr.port}`, timeoutMs: 800, connectTimeoutMs: 500, maxAttempts: 1 }) });
    t = Date.now();
    await assert.rejects(hung.serialize(loc('k'), 'v'.repeat(5000)), /unreachable/);
    const took = Date.now() - t;
    assert.ok(took < 4000, `took ${took} ms`);
  } finally {
    for (const s of sockets) s.destroy();
    silent.close();
    ws.close();
  }
});

test('s3 credentials from a Hangar connection: the right secret works, a wrong one and a missing connection are clear errors', async () => {
  const ws = await workspace();
  const host = new URL(s3.endpoint).host;
  const backendWith = (env: NodeJS.ProcessEnv, connections: Record<string, string> = {}) =>
    createXComBackend(
      { backend: 's3', objectStore: { url: 's3://hangar-xcom/xcoms/conn', connection: 'local_s3', maxAttempts: 1 } },
      { workspaceRoot: ws.root, xcomRoot: join(ws.root, '.hangar', 'xcom'), env, connections },
    );
  try {
    // From the environment (as VS Code's SecretStorage hands it over); endpoint from host and port.
    const good = backendWith({ HANGAR_CONN_LOCAL_S3: `aws://S3RVER:S3RVER@${host}?region_name=us-east-1` });
    const s = await good.serialize(loc('conn_key'), 'v'.repeat(5000));
    assert.equal(s.chain.at(-1), 's3');
    assert.equal(await good.deserialize(loc('conn_key'), s.data), 'v'.repeat(5000));
    good.close();
    // From hangar.json's connections, with endpoint_url as an extra.
    const viaConfig = backendWith({}, { local_s3: `aws://S3RVER:S3RVER@s3.invalid?endpoint_url=${encodeURIComponent(s3.endpoint)}` });
    assert.equal(await viaConfig.deserialize(loc('conn_key'), s.data), 'v'.repeat(5000));
    viaConfig.close();

    // s3rver checks the access key id but not SigV4 signatures, so a wrong key id stands for wrong credentials.
    const wrong = backendWith({ HANGAR_CONN_LOCAL_S3: `aws://NOT-A-KEY:not-the-secret@${host}` });
    await assert.rejects(wrong.serialize(loc('k'), 'v'.repeat(5000)), (e: unknown) => {
      assert.ok(e instanceof XComError, String(e));
      assert.match(e.message, /XCom "k" of task "produce"/);
      assert.match(e.message, /InvalidAccessKeyId|Access Key Id you provided does not exist/);
      assert.doesNotMatch(e.message, /not-the-secret/);
      return true;
    });
    wrong.close();

    assert.throws(() => backendWith({}), (e: unknown) => {
      assert.ok(e instanceof XComError);
      assert.match(e.message, /XCom object store: No connection "local_s3": set HANGAR_CONN_LOCAL_S3/);
      return true;
    });
    assert.throws(() => backendWith({ HANGAR_CONN_LOCAL_S3: `aws://${host}` }), /connection "local_s3" has no access key id and secret/);
  } finally {
    ws.close();
  }
});
