/**
 * The seed's test_custom_backends DAG, run through the real CLI: once out of the box
 * (no key, no object store), once with a key and a real S3 API server (s3rver).
 * Checks what the store holds: chains, sizes, files, decoded values.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { createXComBackend, Keyring, decodeEnvelope } from '../../src/runtime/xcom/index.ts';
import type { HangarXComBackend, OffloadLayer } from '../../src/runtime/xcom/index.ts';
import type { XComRecord } from '../../src/runtime/store/index.ts';
import { openWorkspaceStore } from '../helpers/store.ts';
import { tempWorkspace } from '../helpers/workspace.ts';
import { HANGAR_BIN, hangar } from '../helpers/cli.ts';
import { spawn } from 'node:child_process';

/** The CLI without blocking this process (the S3 server runs in it). */
function hangarAsync(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [HANGAR_BIN, ...args], {
      env: { ...process.env, NO_COLOR: '1', ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}
import { S3_CREDENTIALS, startS3rver } from '../xcom/helpers.ts';

const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples');
const DAG = 'test_custom_backends';
const RUN_ID = 'manual__2024-01-15T00:00:00+00:00';
const BACKENDS = ['database', 'file', 'compressed', 'encrypted', 'hybrid', 's3'];
const KEYS = [
  'small_config',
  'medium_structured',
  'large_dataset',
  'repetitive',
  'sensitive',
  'random_bytes',
];

function workspace(config?: object) {
  const ws = tempWorkspace();
  // Written through the workspace, which keeps the suite's store in it.
  ws.write(
    'hangar.json',
    config ? JSON.stringify(config) : readFileSync(join(EXAMPLES, 'hangar.json'), 'utf8'),
  );
  cpSync(join(EXAMPLES, 'dags', `${DAG}.ts`), join(ws.dags, `${DAG}.ts`));
  return ws;
}

const sha256 = (b: Uint8Array) => 'sha256:' + createHash('sha256').update(b).digest('hex');

test('test_custom_backends out of the box: every backend but encrypted and s3 works; those two fail saying what to configure', async () => {
  const ws = workspace();
  try {
    const r = hangar(['run', DAG, '--workspace', ws.root, '--date', '2024-01-15'], {
      env: { HANGAR_XCOM_KEYS: '' },
    });
    // The run's leaf (compare_backends, trigger rule all_done) succeeds, so the run does.
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const store = await openWorkspaceStore(ws.root);
    try {
      const tis = new Map((await store.tasks.list(DAG, RUN_ID)).map((t) => [t.task_id, t]));
      for (const b of ['database', 'file', 'compressed', 'hybrid'])
        assert.equal(tis.get(`store_${b}`)!.state, 'success', b);
      assert.equal(tis.get('push_file_reference')!.state, 'success');
      assert.equal(tis.get('compare_backends')!.state, 'success');
      assert.equal(tis.get('store_encrypted')!.state, 'failed');
      assert.match(
        tis.get('store_encrypted')!.error!,
        /XCom "sensitive" of task "store_encrypted" \(DAG "test_custom_backends", run "[^"]+"\): is sensitive \(object key "password", object key "api_key", object key "token"\) and the encrypted backend has no key: set HANGAR_XCOM_KEYS/,
      );
      assert.equal(tis.get('store_s3')!.state, 'failed');
      assert.match(tis.get('store_s3')!.error!, /The s3 XCom backend needs xcom\.objectStore\.url/);
      // The report says which backends failed, and still checked the others and the file reference.
      const report = JSON.parse(
        hangar([
          'xcom',
          'get',
          '--dag',
          DAG,
          '--run',
          RUN_ID,
          '--task',
          'compare_backends',
          '--workspace',
          ws.root,
          '--json',
        ]).stdout,
      ).value;
      assert.deepEqual(report.failed, ['encrypted', 's3']);
      assert.equal(report.backends.file.ok, true);
      assert.equal(report.file_reference.records, 20_000);
      // Nothing sensitive went anywhere: the encrypted task refused before storing the value.
      assert.equal(await store.xcoms.get(DAG, RUN_ID, 'store_encrypted', 'sensitive'), undefined);
    } finally {
      await store.close();
    }
  } finally {
    ws.remove();
  }
});

test('test_custom_backends with a key and a real S3 server: chains, sizes, files and values of every backend', async () => {
  const s3 = await startS3rver('hangar-xcom');
  const key = randomBytes(32);
  const objectStore = { url: 's3://hangar-xcom/xcom', endpoint: s3.endpoint, region: 'us-east-1' };
  // The credentials come from a Hangar connection (endpoint from its host and port), not the AWS chain.
  const ws = workspace({
    dagsFolder: 'dags',
    parallelism: 4,
    xcom: { backend: 'database', objectStore: { url: objectStore.url, connection: 'local_s3' } },
  });
  const env = {
    HANGAR_XCOM_KEYS: `demo:${key.toString('base64')}`,
    HANGAR_CONN_LOCAL_S3: `aws://${S3_CREDENTIALS.accessKeyId}:${S3_CREDENTIALS.secretAccessKey}@${new URL(s3.endpoint).host}?region_name=us-east-1`,
    AWS_ACCESS_KEY_ID: '',
    AWS_SECRET_ACCESS_KEY: '',
    AWS_PROFILE: '',
  };
  let backend: HangarXComBackend | undefined;
  const store = () => openWorkspaceStore(ws.root);
  try {
    const r = await hangarAsync(['run', DAG, '--workspace', ws.root, '--date', '2024-01-15'], env);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const st = await store();
    backend = createXComBackend(
      { objectStore },
      {
        workspaceRoot: ws.root,
        xcomRoot: join(ws.root, '.hangar', 'xcom'),
        keyring: new Keyring([{ id: 'demo', key }]),
        env: {},
        objectStoreCredentials: S3_CREDENTIALS,
      },
    );
    try {
      for (const t of await st.tasks.list(DAG, RUN_ID))
        assert.equal(t.state, 'success', `${t.task_id}: ${t.error}`);

      const chains: Record<string, Record<string, string>> = {};
      const values: Record<string, Record<string, unknown>> = {};
      for (const b of BACKENDS) {
        chains[b] = {};
        values[b] = {};
        for (const k of KEYS) {
          const row = await st.xcoms.get(DAG, RUN_ID, `store_${b}`, k);
          assert.ok(row, `${b}/${k} stored`);
          const loc = { dagId: DAG, runId: RUN_ID, taskId: `store_${b}`, mapIndex: -1, key: k };
          chains[b]![k] = (JSON.parse(row.chain) as string[]).join('>');
          const env = decodeEnvelope(loc, row.value)!;
          assert.equal(env.header.backend, b);
          assert.deepEqual(env.header.chain, JSON.parse(row.chain));
          assert.equal(row.sensitive, k === 'sensitive' ? 1 : 0, `${b}/${k} sensitivity`);
          // An offloaded value: the row holds only the envelope; the file/object has the recorded size and SHA-256.
          const off = env.header.layers.at(-1) as OffloadLayer | undefined;
          if (off && (off.codec === 'file' || off.codec === 's3')) {
            assert.equal(env.payload.byteLength, 0);
            assert.equal(off.size_bytes, row.size_stored);
            if (off.codec === 'file') {
              const path = join(ws.root, '.hangar', 'xcom', ...off.filepath.split('/'));
              assert.equal(statSync(path).size, row.size_stored);
              assert.equal(sha256(readFileSync(path)), off.checksum);
            } else {
              const path = join(s3.dir, 'hangar-xcom', 'xcom', ...off.filepath.split('/'));
              assert.ok(
                existsSync(path + '._S3rver_object') || existsSync(path),
                `${b}/${k} object in the bucket (${off.filepath})`,
              );
            }
          } else {
            assert.ok(env.payload.byteLength > 0);
            assert.equal(env.payload.byteLength, row.size_stored, `${b}/${k} inline size`);
          }
          values[b]![k] = await backend.deserialize(loc, row.value);
        }
      }
      // The chains each backend chose for the seed's data types.
      assert.deepEqual(chains, {
        database: {
          small_config: 'json',
          medium_structured: 'typed-json',
          large_dataset: 'typed-json',
          repetitive: 'json',
          sensitive: 'json',
          random_bytes: 'bytes',
        },
        file: {
          small_config: 'json',
          medium_structured: 'typed-json>file',
          large_dataset: 'typed-json>file',
          repetitive: 'json>file',
          sensitive: 'json',
          random_bytes: 'bytes>file',
        },
        compressed: {
          small_config: 'json',
          medium_structured: 'typed-json>gzip',
          large_dataset: 'typed-json>gzip',
          repetitive: 'json>gzip',
          sensitive: 'json',
          random_bytes: 'bytes',
        },
        encrypted: {
          small_config: 'json',
          medium_structured: 'typed-json',
          large_dataset: 'typed-json',
          repetitive: 'json',
          sensitive: 'json>aes-256-gcm',
          random_bytes: 'bytes',
        },
        hybrid: {
          small_config: 'json',
          medium_structured: 'typed-json>gzip',
          large_dataset: 'typed-json>gzip>s3',
          repetitive: 'json>gzip',
          sensitive: 'json>aes-256-gcm',
          random_bytes: 'bytes>s3',
        },
        s3: {
          small_config: 'json',
          medium_structured: 'typed-json>s3',
          large_dataset: 'typed-json>s3',
          repetitive: 'json>s3',
          sensitive: 'json',
          random_bytes: 'bytes>s3',
        },
      });
      // Sizes: the large dataset is over the seed's 1 MB; compression pays on structured and repetitive data.
      const rows = new Map<string, XComRecord>();
      for (const b of Object.keys(chains))
        for (const k of KEYS) rows.set(`${b}/${k}`, (await st.xcoms.get(DAG, RUN_ID, `store_${b}`, k))!);
      const size = (b: string, k: string) => rows.get(`${b}/${k}`)!;
      assert.ok(size('database', 'large_dataset').size_original > 1024 * 1024);
      assert.ok(
        size('compressed', 'large_dataset').size_stored < size('database', 'large_dataset').size_stored * 0.5,
      );
      assert.ok(
        size('compressed', 'repetitive').size_stored < size('compressed', 'repetitive').size_original / 50,
      );
      assert.equal(
        size('compressed', 'random_bytes').size_stored,
        256 * 1024,
        'random bytes stay uncompressed',
      );
      assert.ok(size('database', 'small_config').size_original < 100);
      // Every backend gives back the same values, of the right types.
      for (const b of BACKENDS)
        for (const k of KEYS)
          assert.ok(
            isDeepStrictEqual(values[b]![k], values.database![k]),
            `${b}/${k} equals the database copy`,
          );
      const medium = values.database!.medium_structured as {
        records: { timestamp: unknown }[];
        symbols: unknown;
        generated: unknown;
      };
      assert.ok(
        medium.records[0]!.timestamp instanceof Date &&
          medium.symbols instanceof Set &&
          medium.generated instanceof Date,
      );
      assert.equal((values.database!.large_dataset as unknown[]).length, 8000);
      assert.ok(Buffer.isBuffer(values.database!.random_bytes));
      assert.equal((values.hybrid!.sensitive as { password: string }).password, 'hunter2-correct-horse');
      // The ciphertext does not contain the secret.
      assert.ok(!Buffer.from(size('encrypted', 'sensitive').value).toString('latin1').includes('hunter2'));

      // The file reference: an inline XCom pointing at a managed NDJSON file.
      const refRow = (await st.xcoms.get(DAG, RUN_ID, 'push_file_reference', 'market_data_file'))!;
      const ref = (await backend.deserialize(
        { dagId: DAG, runId: RUN_ID, taskId: 'push_file_reference', mapIndex: -1, key: 'market_data_file' },
        refRow.value,
      )) as { filepath: string; record_count: number; size_bytes: number; checksum: string; format: string };
      assert.equal(ref.format, 'ndjson');
      assert.equal(ref.record_count, 20_000);
      const file = readFileSync(join(ws.root, '.hangar', 'xcom', ...ref.filepath.split('/')));
      assert.equal(file.byteLength, ref.size_bytes);
      assert.equal(sha256(file), ref.checksum);
      assert.equal(file.toString('utf8').trimEnd().split('\n').length, 20_000);
      assert.deepEqual(
        decodeEnvelope(
          { dagId: DAG, runId: RUN_ID, taskId: 'push_file_reference', mapIndex: -1, key: 'market_data_file' },
          refRow.value,
        )!.header.refs,
        [['xcom-root', ref.filepath]],
      );

      const report = (await backend.deserialize(
        { dagId: DAG, runId: RUN_ID, taskId: 'compare_backends', mapIndex: -1, key: 'return_value' },
        (await st.xcoms.get(DAG, RUN_ID, 'compare_backends', 'return_value'))!.value,
      )) as {
        failed: string[];
        file_reference: { records: number; raw_feed_bytes: number };
        refused: string[];
      };
      assert.deepEqual(report.failed, []);
      assert.deepEqual(report.file_reference, {
        records: 20_000,
        raw_feed_bytes: 64 * 'feed line 0\n'.length + 54,
      });
      assert.match(
        report.refused[0]!,
        /XCom "bad_function" of task "compare_backends" .*cannot be stored: a function \(transform\) at \$\.transform/,
      );
      assert.match(
        report.refused[1]!,
        /cannot be stored: an instance of class Clock with behaviour \(tick\) at \$\.when/,
      );

      // Lineage: compare_backends pulled every value and the file reference.
      const lineage = JSON.parse(
        (
          await hangarAsync(
            ['xcom', 'lineage', '--dag', DAG, '--run', RUN_ID, '--workspace', ws.root, '--json'],
            env,
          )
        ).stdout,
      ) as {
        xcom: { task_id: string; key: string };
        pulled_by: { task_id: string }[];
      }[];
      const pulled = (task: string, k: string) =>
        lineage.find((l) => l.xcom.task_id === task && l.xcom.key === k)!.pulled_by.map((p) => p.task_id);
      for (const b of BACKENDS)
        for (const k of KEYS) assert.deepEqual(pulled(`store_${b}`, k), ['compare_backends']);
      assert.deepEqual(pulled('push_file_reference', 'market_data_file'), ['compare_backends']);

      // Clearing the producer removes its XComs and the managed file with them.
      const cleared = await hangarAsync(
        [
          'xcom',
          'clear',
          '--dag',
          DAG,
          '--run',
          RUN_ID,
          '--task',
          'push_file_reference',
          '--workspace',
          ws.root,
          '--json',
        ],
        env,
      );
      assert.equal(cleared.code, 0, cleared.stderr);
      const c = JSON.parse(cleared.stdout) as { rows: number; objects: number; bytes_freed: number };
      assert.equal(c.rows, 3);
      assert.equal(c.objects, 2);
      assert.ok(c.bytes_freed >= ref.size_bytes);
      assert.ok(!existsSync(join(ws.root, '.hangar', 'xcom', ...ref.filepath.split('/'))));
    } finally {
      await st.close();
    }
  } finally {
    backend?.close();
    ws.remove();
    await s3.stop();
  }
});
