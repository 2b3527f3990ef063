import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeClock } from '../../src/runtime/scheduler/clock.ts';
import { testRuntime } from '../helpers/runtime.ts';
import { startSshd } from '../helpers/sshd.ts';
import type { SshdServer } from '../helpers/sshd.ts';
import { closedPort, S3_CREDENTIALS, startS3rver } from '../xcom/helpers.ts';
import { S3Client, PutObjectCommand } from '@aws-sdk/client-s3';
import { drive, g, pokes, xcom } from './helpers.ts';

const T0 = Date.UTC(2024, 0, 15, 12);
const DATE = new Date(Date.UTC(2024, 0, 15));

let s3: Awaited<ReturnType<typeof startS3rver>>;
let sshd: SshdServer;
before(async () => {
  s3 = await startS3rver('sensor-bucket');
  sshd = await startSshd();
});
after(async () => {
  await s3.stop();
  await sshd.stop();
});

test('FileSensor: templated glob, minimum size, and "stable for" (a file still growing is not taken)', async () => {
  const clock = new FakeClock(T0);
  g.__grow = undefined;
  const t = await testRuntime(
    {
      'dags/f.ts': `import { dag, fileSensor } from 'hangar';
export const d = dag({ id: 'f' });
const s = fileSensor(d, 'wait', { path: 'landing/export_{{ ds_nodash }}_*.json', minSize: 10, stableFor: '30s',
  pokeInterval: '10s', timeout: '10m', onPoke: (e) => (globalThis as any).__grow?.(e.pokeNumber) });
`,
    },
    { clock },
  );
  try {
    const dir = join(t.ws.root, 'landing');
    mkdirSync(dir);
    writeFileSync(join(dir, 'export_20240114_a.json'), '{"other day": true}');
    writeFileSync(join(dir, 'export_20240115_a.json'), '{}'); // too small
    const big = join(dir, 'export_20240115_b.json');
    g.__grow = (n: number) => {
      // Growing until poke 3; then left alone.
      if (n === 1) writeFileSync(big, '{"rows": [1]}');
      if (n === 2 || n === 3) {
        writeFileSync(big, `{"rows": [${'1,'.repeat(n)}1]}`);
        utimesSync(big, new Date(T0 + n * 10_000), new Date(T0 + n * 10_000));
      }
    };
    const run = await drive(clock, t.rt.runDag('f', { logicalDate: DATE }));
    assert.equal(run.state, 'success');
    const rows = await pokes(t.rt, 'f', run.run_id, 'wait');
    // Written after pokes 1, 2 and 3 (onPoke): poke 4 (30 s) first sees the final size; taken 30 s later (60 s).
    assert.deepEqual(
      rows.map((r) => [(r.poked_at_ms - T0) / 1000, r.result]),
      [
        [0, 'not_yet'],
        [10, 'not_yet'],
        [20, 'not_yet'],
        [30, 'not_yet'],
        [40, 'not_yet'],
        [50, 'not_yet'],
        [60, 'done'],
      ],
    );
    const value = (await xcom(t.rt, 'f', run.run_id, 'wait')) as { path: string; size: number }[];
    assert.deepEqual(
      value.map((v) => v.path),
      [big],
    );
  } finally {
    await t.close();
  }
});

test('S3KeySensor on a real S3 API (s3rver): templated keys, wildcard, prefix, min size; all keys must be present', async () => {
  const clock = new FakeClock(T0);
  const client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    credentials: S3_CREDENTIALS,
    forcePathStyle: true,
  });
  const put = (Key: string, Body: string) =>
    client.send(new PutObjectCommand({ Bucket: 'sensor-bucket', Key, Body }));
  // Both sensors poke first at the same instant; the first file arrives once both have (which of
  // them the runtime starts first is its own business, and differs with the store's latency).
  let prefixPoked!: () => void;
  const firstPrefixPoke = new Promise<void>((r) => (prefixPoked = r));
  g.__prefixPoked = () => prefixPoked();
  g.__drop = async (n: number) => {
    if (n === 1) {
      await firstPrefixPoke;
      await put('raw/transactions_20240115.csv', 'id,amount\n1,100\n');
    }
    if (n === 2) await put('daily/config_20240115.yaml', 'x: 1');
    if (n === 3) await put('logs/part-0001.log', 'validated');
  };
  const t = await testRuntime(
    {
      'dags/s.ts': `import { dag, s3KeySensor } from 'hangar';
export const d = dag({ id: 's' });
s3KeySensor(d, 'all_three', {
  bucket: 's3://sensor-bucket',
  keys: ['raw/transactions_{{ ds_nodash }}.csv', 'daily/config_*.yaml', 's3://sensor-bucket/logs/part-*.log'],
  minSize: 2, pokeInterval: '1m', mode: 'reschedule', timeout: '1h',
  connection: { endpoint: '${s3.endpoint}', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } },
  onPoke: (e) => (globalThis as any).__drop(e.pokeNumber),
});
s3KeySensor(d, 'prefix', { bucket: 's3://sensor-bucket', keys: 'raw/', match: 'prefix', pokeInterval: '1m', mode: 'reschedule',
  connection: { endpoint: '${s3.endpoint}', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } },
  onPoke: () => (globalThis as any).__prefixPoked() });
`,
    },
    { clock },
  );
  try {
    const run = await drive(clock, t.rt.runDag('s', { logicalDate: DATE }), { settleMs: 30 });
    assert.equal(run.state, 'success');
    assert.deepEqual(
      (await pokes(t.rt, 's', run.run_id, 'all_three')).map((r) => r.result),
      ['not_yet', 'not_yet', 'not_yet', 'done'],
    );
    const value = (await xcom(t.rt, 's', run.run_id, 'all_three')) as { url: string; size: number }[];
    assert.deepEqual(
      value.map((v) => v.url),
      [
        's3://sensor-bucket/raw/transactions_20240115.csv',
        's3://sensor-bucket/daily/config_20240115.yaml',
        's3://sensor-bucket/logs/part-0001.log',
      ],
    );
    assert.ok((await pokes(t.rt, 's', run.run_id, 'prefix')).length >= 2);
  } finally {
    client.destroy();
    await t.close();
  }
});

test('S3KeySensor on file:// directory buckets (the seed mock tree), and an S3 endpoint that is down (a poke error naming bucket, key and endpoint; no secret)', async () => {
  const clock = new FakeClock(T0);
  const port = await closedPort();
  const t = await testRuntime(
    {
      'dags/m.ts': `import { dag, s3KeySensor } from 'hangar';
export const d = dag({ id: 'm' });
s3KeySensor(d, 'mock', { bucket: 'file://{{ params.root }}/data-bucket', keys: 'raw/daily_export_{{ ds_nodash }}.json', pokeInterval: '45s', timeout: '10m' });
s3KeySensor(d, 'down', { bucket: 's3://sensor-bucket', keys: 'raw/x.csv', pokeInterval: '1m', retries: 1, retryDelay: '2m',
  connection: { endpoint: 'http://127.0.0.1:${port}', requestTimeoutMs: 2000, credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'very-secret-value' } } });
`,
    },
    { clock },
  );
  try {
    const root = join(t.ws.root, 'mock-s3');
    mkdirSync(join(root, 'data-bucket', 'raw'), { recursive: true });
    const done = t.rt.runDag('m', { logicalDate: DATE, conf: { root } });
    await drive(clock, done, { until: T0 + 100_000, settleMs: 20 });
    writeFileSync(join(root, 'data-bucket', 'raw', 'daily_export_20240115.json'), '{"records": []}');
    const run = await drive(clock, done, { settleMs: 20 });
    assert.equal((await t.states(run.run_id)).mock, 'success');
    assert.equal((await t.states(run.run_id)).down, 'failed');
    const downPokes = await pokes(t.rt, 'm', run.run_id, 'down');
    assert.deepEqual(
      downPokes.map((p) => [p.try_number, p.result]),
      [
        [1, 'error'],
        [2, 'error'],
      ],
    );
    assert.match(
      downPokes[0]!.error!,
      new RegExp(
        `S3KeySensor "down" of DAG "m": S3 endpoint unreachable while checking s3://sensor-bucket/raw/x.csv at http://127.0.0.1:${port}`,
      ),
    );
    const ti = (await t.rt.store.tasks.get('m', run.run_id, 'down'))!;
    assert.doesNotMatch(ti.error! + downPokes.map((p) => p.error).join(''), /very-secret-value/);
  } finally {
    await t.close();
  }
});

test('SFTP sensor against a real OpenSSH server: pattern, newer-than (templated), host key checked', async () => {
  const clock = new FakeClock(T0);
  const dir = join(sshd.dir, 'inbox');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'report_old.csv'), 'a,b\n');
  utimesSync(join(dir, 'report_old.csv'), new Date(Date.UTC(2024, 0, 14)), new Date(Date.UTC(2024, 0, 14)));
  g.__sftpDrop = (n: number) => {
    if (n === 2) {
      writeFileSync(join(dir, 'report_new.csv'), 'a,b\n1,2\n');
      utimesSync(
        join(dir, 'report_new.csv'),
        new Date(Date.UTC(2024, 0, 15, 6)),
        new Date(Date.UTC(2024, 0, 15, 6)),
      );
    }
  };
  const conn = `{ host: '${sshd.host}', port: ${sshd.port}, username: '${sshd.username}', privateKey: ${JSON.stringify(sshd.privateKey)}, hostKey: { knownHostsFile: '${sshd.knownHostsFile}' } }`;
  const t = await testRuntime(
    {
      'dags/sf.ts': `import { dag, sftpSensor } from 'hangar';
export const d = dag({ id: 'sf' });
sftpSensor(d, 'wait', { connection: ${conn}, path: '${dir}/report_*.csv', newerThan: '{{ data_interval_end }}', mode: 'reschedule', pokeInterval: '1m', timeout: '1h',
  onPoke: (e) => (globalThis as any).__sftpDrop(e.pokeNumber) });
sftpSensor(d, 'wrong_key', { connection: { host: '${sshd.host}', port: ${sshd.port}, username: '${sshd.username}', privateKey: ${JSON.stringify(sshd.privateKey)}, hostKey: { fingerprint: 'SHA256:${'A'.repeat(43)}' } }, path: '${dir}/x' });
`,
    },
    { clock },
  );
  try {
    // Daily interval: [2024-01-14, 2024-01-15) for a manual run at 2024-01-15.
    const run = await drive(clock, t.rt.runDag('sf', { logicalDate: DATE }), { settleMs: 50 });
    assert.equal((await t.states(run.run_id)).wait, 'success');
    const value = (await xcom(t.rt, 'sf', run.run_id, 'wait')) as { path: string }[];
    assert.deepEqual(
      value.map((v) => v.path),
      [join(dir, 'report_new.csv')],
    );
    assert.deepEqual(
      (await pokes(t.rt, 'sf', run.run_id, 'wait')).map((p) => p.result),
      ['not_yet', 'not_yet', 'done'],
    );
    assert.equal((await t.states(run.run_id)).wrong_key, 'failed');
    assert.match(
      (await pokes(t.rt, 'sf', run.run_id, 'wrong_key'))[0]!.error!,
      /host key verification failed/,
    );
  } finally {
    await t.close();
  }
});

test('time sensors and the external task sensor (same logical date, from the store)', async () => {
  const clock = new FakeClock(Date.UTC(2024, 0, 15, 7));
  const t = await testRuntime(
    {
      'dags/up.ts': `import { dag } from 'hangar';
export const up = dag({ id: 'upstream_dag', schedule: '@daily', startDate: '2024-01-01' });
up.task('produce', async () => 'data');
`,
      'dags/tm.ts': `import { dag, timeSensor, timeDeltaSensor, dateTimeSensor, externalTaskSensor } from 'hangar';
export const d = dag({ id: 'tm', schedule: '@daily', startDate: '2024-01-01' });
timeSensor(d, 'at_0830', { at: '08:30', mode: 'reschedule', pokeInterval: '1h' });
timeDeltaSensor(d, 'delta', { delta: '2h', pokeInterval: '1h', mode: 'reschedule' });
dateTimeSensor(d, 'until', { target: '{{ macros.ds_add(ds, 1) }}T07:45:00Z', pokeInterval: '10m', mode: 'reschedule' });
externalTaskSensor(d, 'ext', { externalDagId: 'upstream_dag', externalTaskId: 'produce', pokeInterval: '5m', mode: 'reschedule' });
`,
    },
    { clock },
  );
  try {
    // Scheduled run for 2024-01-14: data interval [01-14, 01-15).
    const run = await t.rt.triggerRun('tm', {
      logicalDate: new Date(Date.UTC(2024, 0, 14)),
      runType: 'scheduled',
    });
    const done = t.rt.executeRun('tm', run.run_id);
    await drive(clock, done, { until: Date.UTC(2024, 0, 15, 7, 20), settleMs: 10 });
    await t.rt.runDag('upstream_dag', { logicalDate: new Date(Date.UTC(2024, 0, 14)), runType: 'scheduled' });
    await drive(clock, done, { settleMs: 10 });
    const at = async (task: string) =>
      (await pokes(t.rt, 'tm', run.run_id, task)).map((p) =>
        new Date(p.poked_at_ms).toISOString().slice(11, 16),
      );
    assert.deepEqual(await at('at_0830'), ['07:00', '08:00', '08:30']);
    assert.deepEqual(await at('delta'), ['07:00']);
    assert.deepEqual((await at('until')).slice(-2), ['07:40', '07:45']);
    const ext = await pokes(t.rt, 'tm', run.run_id, 'ext');
    assert.equal(ext.at(-1)!.result, 'done');
    assert.ok(
      ext.length >= 5 && ext.slice(0, -1).every((p) => p.result === 'not_yet'),
      'not yet while the upstream run did not exist',
    );
    assert.equal(await xcom(t.rt, 'tm', run.run_id, 'ext'), 'success');
    assert.deepEqual(await t.states(run.run_id, 'tm'), {
      at_0830: 'success',
      delta: 'success',
      until: 'success',
      ext: 'success',
    });
  } finally {
    await t.close();
  }
});
