/** -o table|json|yaml|plain, the list filters, `hangar info`, `hangar config`, and bad input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { parse as parseYaml } from 'yaml';
import { openWorkspaceStore } from '../helpers/store.ts';
import { tempWorkspace } from '../helpers/workspace.ts';
import { HANGAR_BIN, hangar } from '../helpers/cli.ts';

const DAGS = {
  'dags/pair.ts': `import { dag } from 'hangar';
export const d = dag({ id: 'pair', schedule: '@daily' });
const a = d.task('ok', async (ctx) => { await ctx.xcom.push('extra', 1); return ctx.ds; });
d.task('bad', { inputs: { day: a } }, async (_c, { day }) => { if (day.endsWith('2')) throw new Error('no'); return day; });
`,
};
const KEY = Buffer.alloc(32, 3).toString('base64');

function setup() {
  const ws = tempWorkspace(DAGS, {
    parallelism: 4,
    connections: { files: 'sftp://deploy:filepw@files.internal:2222/in' },
    xcom: { backend: 'database' },
  });
  const h = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    hangar([...args, '--workspace', ws.root], { env });
  assert.equal(h(['run', 'pair', '--date', '2024-01-01']).code, 0);
  assert.equal(h(['run', 'pair', '--date', '2024-01-02']).code, 1);
  assert.equal(h(['trigger', 'pair', '--date', '2024-01-03']).code, 0);
  return { ws, h };
}

test('cli formats: -o json, yaml, table and plain print the same rows; --json is -o json', () => {
  const { ws, h } = setup();
  try {
    const json = JSON.parse(h(['runs', '-o', 'json']).stdout) as { run_id: string; state: string }[];
    assert.deepEqual(JSON.parse(h(['runs', '--json']).stdout), json);
    assert.deepEqual(JSON.parse(h(['runs', '--output=json']).stdout), json);
    const yaml = h(['runs', '-o', 'yaml']);
    assert.equal(yaml.code, 0, yaml.stderr);
    assert.deepEqual(parseYaml(yaml.stdout), json, 'YAML holds the same data as JSON');
    assert.match(yaml.stdout, /^- dag_id: pair$/m);

    const table = h(['runs', '-o', 'table']).stdout.split('\n');
    assert.match(table[0]!, /^dag\s+run\s+state\s+logical date/);
    assert.match(table[1]!, /^-+\s+-+/, 'table: a rule under the header');
    const plain = h(['runs', '-o', 'plain']).stdout.trimEnd().split('\n');
    assert.match(plain[0]!, /^dag\s+run\s+state/);
    assert.equal(plain.length, 1 + json.length, 'plain: the header and one line per run, no rule');
    assert.deepEqual(
      plain.slice(1).map((l) => l.split(/\s+/)[1]),
      json.map((r) => r.run_id),
    );

    // A failing run in YAML mode: the result on stdout, the error in YAML on stderr.
    const failed = h(['run', 'pair', '--date', '2024-01-12', '-o', 'yaml']);
    assert.equal(failed.code, 1);
    assert.equal((parseYaml(failed.stdout) as { run: { state: string } }).run.state, 'failed');
    assert.deepEqual(parseYaml(failed.stderr), {
      error: {
        code: 'run_failed',
        message: 'Run "manual__2024-01-12T00:00:00+00:00" of DAG "pair" failed (failed: bad)',
        exit_code: 1,
        dag_id: 'pair',
        run_id: 'manual__2024-01-12T00:00:00+00:00',
      },
    });

    for (const [args, message] of [
      [['runs', '-o', 'xml'], /--output must be one of table, json, yaml, plain, not "xml"/],
      [['runs', '--json', '-o', 'yaml'], /--json and --output yaml contradict each other/],
    ] as const) {
      const r = h([...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
    }
    const usage = h(['runs', '--json', '--frob']);
    assert.equal(usage.code, 2);
    assert.equal(
      (JSON.parse(usage.stderr) as { error: { code: string } }).error.code,
      'usage',
      'JSON mode: errors are JSON',
    );
  } finally {
    ws.remove();
  }
});

test('cli filters: runs --state --run-type --since --limit, tasks --state, xcom list --limit; bad values are usage errors', async () => {
  const { ws, h } = setup();
  try {
    const ids = (args: string[]) =>
      (JSON.parse(h([...args, '--json']).stdout) as { run_id: string }[]).map((r) => r.run_id);
    assert.deepEqual(ids(['runs']), [
      'manual__2024-01-03T00:00:00+00:00',
      'manual__2024-01-02T00:00:00+00:00',
      'manual__2024-01-01T00:00:00+00:00',
    ]);
    assert.deepEqual(ids(['runs', '--state', 'failed']), ['manual__2024-01-02T00:00:00+00:00']);
    assert.deepEqual(ids(['runs', '--state', 'queued']), ['manual__2024-01-03T00:00:00+00:00']);
    assert.deepEqual(ids(['runs', '--limit', '1']), ['manual__2024-01-03T00:00:00+00:00']);
    assert.deepEqual(ids(['runs', '--run-type', 'manual', '--since', '1h', '--limit', '2']), [
      'manual__2024-01-03T00:00:00+00:00',
      'manual__2024-01-02T00:00:00+00:00',
    ]);
    assert.deepEqual(ids(['runs', '--run-type', 'backfill']), []);
    assert.equal(h(['test', 'pair', 'ok', '--date', '2024-01-05']).code, 0);
    assert.deepEqual(ids(['runs', '--run-type', 'test']).length, 1);
    // --since counts back from now, by when a run started (or was queued): back-date the first run.
    const store = await openWorkspaceStore(ws.root);
    await store.sql.run(
      `UPDATE dag_runs SET queued_at = ?, start_date = ?, end_date = ? WHERE run_id = ?`,
      new Date(Date.now() - 8 * 86_400_000).toISOString(),
      new Date(Date.now() - 8 * 86_400_000).toISOString(),
      new Date(Date.now() - 8 * 86_400_000 + 1000).toISOString(),
      'manual__2024-01-01T00:00:00+00:00',
    );
    await store.close();
    assert.ok(!ids(['runs', '--since', '7d']).includes('manual__2024-01-01T00:00:00+00:00'));
    assert.ok(ids(['runs', '--since', '9d']).includes('manual__2024-01-01T00:00:00+00:00'));
    assert.ok(ids(['runs', '--since', '7d']).includes('manual__2024-01-02T00:00:00+00:00'));

    const tasks = JSON.parse(
      h(['tasks', 'manual__2024-01-02T00:00:00+00:00', '--state', 'failed', '--json']).stdout,
    ) as { task_id: string }[];
    assert.deepEqual(
      tasks.map((t) => t.task_id),
      ['bad'],
    );
    const none = JSON.parse(
      h(['tasks', 'manual__2024-01-03T00:00:00+00:00', '--state', 'none', '--json']).stdout,
    ) as { task_id: string; state: null }[];
    assert.deepEqual(
      none.map((t) => [t.task_id, t.state]),
      [
        ['ok', null],
        ['bad', null],
      ],
      'a triggered run: tasks in no state yet',
    );
    const xcoms = JSON.parse(
      h(['xcom', 'list', '--dag', 'pair', '--limit', '2', '--json']).stdout,
    ) as unknown[];
    assert.equal(xcoms.length, 2);

    for (const [args, message] of [
      [['runs', '--limit', '0'], /--limit must be a whole number of at least 1, not "0"/],
      [['runs', '--limit=-3'], /--limit must be a whole number of at least 1, not "-3"/],
      [['runs', '--limit', 'ten'], /--limit must be a whole number/],
      [
        ['runs', '--since', 'last week'],
        /--since must be a duration such as 7d, 12h, 30m or 90s, not "last week"/,
      ],
      [['runs', '--state', 'done'], /--state must be one of queued, running, success, failed, not "done"/],
      [['runs', '--run-type', 'cron'], /--run-type must be one of manual, scheduled, backfill, test/],
      [
        ['tasks', 'manual__2024-01-02T00:00:00+00:00', '--state', 'broken'],
        /--state must be one of none, scheduled/,
      ],
      [['xcom', 'list', '--dag', 'pair', '--limit', '0'], /--limit must be a whole number of at least 1/],
    ] as const) {
      const r = h([...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
    }
  } finally {
    ws.remove();
  }
});

test('cli info: versions, paths, executor, connections by id and type, XCom key ids — never a secret', () => {
  const { ws, h } = setup();
  try {
    const env = {
      HANGAR_CONN_WAREHOUSE: 'postgres://etl:s3cr3t-pw@db.internal:5432/a',
      HANGAR_XCOM_KEYS: `new:${KEY},old:${KEY}`,
    };
    const r = h(['info', '--json'], env);
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse(r.stdout) as Record<string, any>;
    assert.equal(info.versions.node, process.versions.node);
    // The workspace's store: the default SQLite file, or the suite's PostgreSQL database (its server's version).
    const configured = (JSON.parse(readFileSync(join(ws.root, 'hangar.json'), 'utf8')) as { store?: string })
      .store;
    if (configured === undefined) assert.match(info.versions.sqlite, /^3\.\d+\.\d+$/);
    else {
      assert.equal(info.versions.sqlite, null);
      assert.match(info.versions.postgres, /^\d+\.\d+ /);
    }
    assert.match(info.versions.typescript, /^5\./);
    assert.equal(info.paths.workspace, ws.root);
    assert.equal(info.paths.dags_folder, `${ws.root}/dags`);
    // The PostgreSQL database is shown without its password.
    assert.equal(
      info.paths.store,
      configured === undefined ? `${ws.root}/.hangar/hangar.db` : configured.replace(/:[^:@/]+@/, '@'),
    );
    assert.equal(info.paths.xcom_root, `${ws.root}/.hangar/xcom`);
    assert.equal(info.executor, 'isolated');
    assert.equal(info.parallelism, 4);
    assert.deepEqual(info.connections, [
      { conn_id: 'files', conn_type: 'sftp', source: 'hangar.json' },
      { conn_id: 'warehouse', conn_type: 'postgres', source: 'env:HANGAR_CONN_WAREHOUSE' },
    ]);
    assert.deepEqual(info.xcom.keys, [
      { key_id: 'new', primary: true, encryptions: 0 },
      { key_id: 'old', primary: false, encryptions: 0 },
    ]);
    const text = h(['info'], env);
    assert.match(text.stdout, /xcom keys\s+new \(primary\): 0 encryptions, old: 0 encryptions/);
    assert.match(text.stdout, /warehouse\s+postgres\s+env:HANGAR_CONN_WAREHOUSE/);
    const storePassword =
      configured === undefined ? undefined : decodeURIComponent(new URL(configured).password);
    for (const out of [r.stdout, text.stdout]) {
      assert.doesNotMatch(out, /s3cr3t-pw|filepw/, 'no connection password');
      if (storePassword) assert.ok(!out.includes(storePassword), 'no store password');
      assert.ok(!out.includes(KEY), 'no key material');
    }
  } finally {
    ws.remove();
  }
});

test('cli config: every effective setting with its source, secrets masked; get KEY; a wrong key suggests the nearest', () => {
  const { ws, h } = setup();
  try {
    const env = {
      HANGAR_CONN_WAREHOUSE: 'postgres://etl:s3cr3t-pw@db.internal:5432/a',
      HANGAR_XCOM_KEYS: `new:${KEY}`,
      HANGAR_XCOM_PASSPHRASE: 'open sesame',
    };
    const r = h(['config', 'list', '--json', '--executor', 'in-process'], env);
    assert.equal(r.code, 0, r.stderr);
    const by = Object.fromEntries(
      (JSON.parse(r.stdout) as { key: string; value: unknown; source: string }[]).map((s) => [
        s.key,
        [s.value, s.source],
      ]),
    );
    assert.deepEqual(by.parallelism, [4, 'hangar.json']);
    assert.deepEqual(by.dagsFolder, ['dags', 'default']);
    assert.deepEqual(by.executor, ['in-process', 'cli:--executor']);
    assert.deepEqual(by['xcom.backend'], ['database', 'hangar.json']);
    assert.deepEqual(by['xcom.fileThreshold'], [1024, 'default']);
    assert.deepEqual(by['connections.files'], ['sftp://deploy:***@files.internal:2222/in', 'hangar.json']);
    assert.deepEqual(by['connections.warehouse'], [
      'postgres://etl:***@db.internal:5432/a',
      'env:HANGAR_CONN_WAREHOUSE',
    ]);
    assert.deepEqual(by['xcom.encryption.keys'], ['new:***', 'env:HANGAR_XCOM_KEYS']);
    assert.deepEqual(by['xcom.encryption.passphrase'], ['***', 'env:HANGAR_XCOM_PASSPHRASE']);
    const text = h(['config', 'list'], env).stdout;
    assert.match(text, /^parallelism\s+4\s+hangar\.json$/m);
    for (const out of [r.stdout, text])
      assert.doesNotMatch(out, /s3cr3t-pw|filepw|open sesame|[A-Za-z0-9+/]{43}=/);

    assert.deepEqual(JSON.parse(h(['config', 'get', 'parallelism', '--json']).stdout), {
      key: 'parallelism',
      value: 4,
      source: 'hangar.json',
    });
    assert.equal(h(['config', 'get', 'parallelism', '-o', 'plain']).stdout.trim(), '4');
    assert.equal(h(['config', 'get', 'executor']).stdout.trim(), 'executor = isolated  (default)');
    assert.deepEqual(JSON.parse(h(['config', 'get', 'xcom.encryption.keyFile', '--json']).stdout), {
      key: 'xcom.encryption.keyFile',
      value: null,
      source: 'unset',
    });
    const wrong = h(['config', 'get', 'paralelism']);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /no configuration key "paralelism" \(did you mean parallelism\?\)/);
    const wrongJson = h(['config', 'get', 'xcom.filethreshold', '--json']);
    assert.equal(wrongJson.code, 2);
    assert.match(
      (JSON.parse(wrongJson.stderr) as { error: { message: string } }).error.message,
      /did you mean xcom\.fileThreshold/,
    );
  } finally {
    ws.remove();
  }
});

test('cli: Ctrl+C stops a run: exit 130, an "interrupted" error naming the run in JSON mode, the run so far on stdout', async () => {
  const ws = tempWorkspace({
    'dags/slow.ts': `import { dag } from 'hangar';
import { writeFileSync } from 'node:fs';
export const d = dag({ id: 'slow' });
d.task('wait', async (ctx) => { writeFileSync(${JSON.stringify('STARTED')}, ctx.runId); await new Promise((r) => setTimeout(r, 60_000)); });
`,
  });
  try {
    const child = spawn(
      process.execPath,
      [HANGAR_BIN, 'run', 'slow', '--date', '2024-01-01', '--json', '--workspace', ws.root],
      {
        cwd: ws.root,
        env: { ...process.env, NO_COLOR: '1' },
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 60_000;
    while (!existsSync(join(ws.root, 'STARTED'))) {
      assert.ok(Date.now() < deadline, `the task never started: ${stderr}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill('SIGINT');
    assert.equal(await exited, 130, stderr);
    const err = (JSON.parse(stderr) as { error: { code: string; run_id: string; exit_code: number } }).error;
    assert.deepEqual(
      [err.code, err.run_id, err.exit_code],
      ['interrupted', 'manual__2024-01-01T00:00:00+00:00', 130],
    );
    assert.ok(
      (JSON.parse(stdout) as { run: { run_id: string } }).run.run_id,
      'the run as it stands is printed',
    );
  } finally {
    ws.remove();
  }
});

test('cli config: store and Redis URLs print with their passwords masked, from hangar.json or the environment; the distributed keys are known', () => {
  // config list reads hangar.json and the environment only: the store is not opened.
  const ws = tempWorkspace(
    {},
    {
      store: 'postgres://hangar:pg-s3cr3t@db.internal:5432/hangar',
      executor: 'distributed',
      queue: { redis: 'redis://:r3dis-s3cr3t@redis.internal:6379' },
      logs: { remote: 's3://team/logs', connection: 'hangar_s3' },
    },
  );
  try {
    const list = (env: NodeJS.ProcessEnv) => {
      const r = hangar(['config', 'list', '--json', '--workspace', ws.root], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.doesNotMatch(r.stdout, /pg-s3cr3t|r3dis-s3cr3t|env-pw/);
      return Object.fromEntries(
        (JSON.parse(r.stdout) as { key: string; value: unknown; source: string }[]).map((s) => [
          s.key,
          [s.value, s.source],
        ]),
      );
    };
    const file = list({});
    assert.deepEqual(file.store, ['postgres://hangar:***@db.internal:5432/hangar', 'hangar.json']);
    assert.deepEqual(file['queue.redis'], ['redis://:***@redis.internal:6379', 'hangar.json']);
    assert.deepEqual(file['logs.remote'], ['s3://team/logs', 'hangar.json']);
    const env = list({
      HANGAR_REDIS_URL: 'redis://worker:env-pw@redis.other:6380/2',
      HANGAR_STORE_URL: 'postgres://u:env-pw@db.other/h',
    });
    assert.deepEqual(env['queue.redis'], ['redis://worker:***@redis.other:6380/2', 'env:HANGAR_REDIS_URL']);
    assert.deepEqual(env.store, ['postgres://u:***@db.other/h', 'env:HANGAR_STORE_URL']);
    const get = hangar(['config', 'get', 'bundles.remote', '--json', '--workspace', ws.root]);
    assert.deepEqual(JSON.parse(get.stdout), { key: 'bundles.remote', value: null, source: 'unset' });
  } finally {
    ws.remove();
  }
});
