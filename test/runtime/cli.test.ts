import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { testStoreConfig } from '../helpers/store.ts';
import { tempWorkspace } from '../helpers/workspace.ts';
import { hangar } from '../helpers/cli.ts';

const DAGS = {
  'dags/flaky.ts': `import { dag } from 'hangar';
export const d = dag({ id: 'flaky', schedule: '@daily' });
const a = d.task('say', async (ctx) => { ctx.log.info('hello from ' + ctx.ds); console.log('console line'); return ctx.ds; });
d.task('boom', { inputs: { day: a } }, async (_ctx, { day }) => { throw new Error('exploded on ' + day); });
`,
  'dags/broken.ts': `import { dag } from 'hangar';\nexport const d = dag({ id: 'broken' });\nd.task('x', async () => { return ; ) });\n`,
};

test('cli: list shows DAGs and load errors (exit 3), with --json', () => {
  const ws = tempWorkspace(DAGS);
  try {
    const r = hangar(['list', '--workspace', ws.root]);
    assert.equal(r.code, 3);
    assert.match(r.stdout, /flaky {2}\(@daily\)/);
    assert.match(r.stdout, /boom {2}← say/);
    assert.match(r.stdout, /Load error: .*broken\.ts:3:\d+/);
    const j = JSON.parse(hangar(['list', '--json', '--workspace', ws.root]).stdout) as {
      dags: { dag_id: string; tasks: { kind: string }[] }[];
      import_errors: { fileloc: string; line: number }[];
    };
    assert.deepEqual(
      j.dags.map((d) => d.dag_id),
      ['flaky'],
    );
    assert.deepEqual(
      j.dags[0]!.tasks.map((t) => t.kind),
      ['typescript', 'typescript'],
      'a TypeScript task is not reported as python',
    );
    assert.equal(j.import_errors[0]!.line, 3);
  } finally {
    ws.remove();
  }
});

test('cli: a failing run exits 1, points at the log, and logs keep every line', () => {
  const ws = tempWorkspace(DAGS);
  try {
    const r = hangar(['run', 'flaky', '--date', '2024-03-01', '--workspace', ws.root]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /boom\s+failed.*Error: exploded on 2024-03-01/);
    assert.match(r.stdout, /Run manual__2024-03-01T00:00:00\+00:00 of flaky: failed/);
    assert.match(r.stdout, /log: hangar logs manual__2024-03-01T00:00:00\+00:00 boom --dag flaky/);
    assert.match(
      r.stderr,
      /failed to load .*broken\.ts/,
      'load errors of other files are reported, not fatal',
    );
    const log = hangar(['logs', 'manual__2024-03-01T00:00:00+00:00', 'say', '--workspace', ws.root]);
    assert.equal(log.code, 0);
    assert.match(log.stdout, /INFO - hello from 2024-03-01/);
    assert.match(log.stdout, /INFO - console line/);
    const boom = hangar(['logs', 'manual__2024-03-01T00:00:00+00:00', 'boom', '--workspace', ws.root]);
    assert.match(boom.stdout, /ERROR - Task failed: Error: exploded on 2024-03-01/);
    assert.match(boom.stdout, /flaky\.ts:4:\d+/, 'stack trace points at the DAG file');
    const noTry = hangar([
      'logs',
      'manual__2024-03-01T00:00:00+00:00',
      'boom',
      '--try',
      '5',
      '--workspace',
      ws.root,
    ]);
    assert.equal(noTry.code, 3);
    assert.match(noTry.stderr, /has 1 tries; there is no try 5/);
    const tasks = JSON.parse(
      hangar(['tasks', 'manual__2024-03-01T00:00:00+00:00', '--json', '--workspace', ws.root]).stdout,
    ) as { task_id: string; state: string }[];
    assert.deepEqual(
      tasks.map((t) => [t.task_id, t.state]),
      [
        ['say', 'success'],
        ['boom', 'failed'],
      ],
    );
    const runs = JSON.parse(hangar(['runs', '--json', '--workspace', ws.root]).stdout) as {
      run_id: string;
      state: string;
      data_interval_start: string;
    }[];
    assert.deepEqual(
      runs.map((x) => [x.run_id, x.state, x.data_interval_start]),
      [['manual__2024-03-01T00:00:00+00:00', 'failed', '2024-02-29T00:00:00.000Z']],
    );
  } finally {
    ws.remove();
  }
});

test('cli: test runs one task alone; usage errors exit 2; unknown DAGs exit 3', () => {
  const ws = tempWorkspace(DAGS);
  try {
    const t = hangar(['test', 'flaky', 'say', '--date', '2024-03-02', '--workspace', ws.root]);
    assert.equal(t.code, 0, t.stdout + t.stderr);
    assert.match(t.stdout, /│ .*INFO - hello from 2024-03-02/, 'the task log is streamed');
    const usage = hangar(['run', '--workspace', ws.root]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /missing the DAG id/);
    const badConf = hangar(['run', 'flaky', '--conf', '{nope', '--workspace', ws.root]);
    assert.equal(badConf.code, 2);
    assert.match(badConf.stderr, /--conf is not valid JSON/);
    const badDate = hangar(['run', 'flaky', '--date', 'yesterday', '--workspace', ws.root]);
    assert.equal(badDate.code, 2);
    const missing = hangar(['run', 'nope', '--workspace', ws.root]);
    assert.equal(missing.code, 3);
    assert.match(missing.stderr, /No DAG "nope" in .*dags \(found: flaky\)/);
    const brokenDag = hangar(['run', 'broken', '--workspace', ws.root]);
    assert.equal(brokenDag.code, 3);
  } finally {
    ws.remove();
  }
});

test('cli: init scaffolds a workspace whose example runs and type-checks', () => {
  // An empty folder (no hangar.json of the test's): init writes its own.
  const ws = tempWorkspace({}, undefined, { store: 'sqlite' });
  try {
    const init = hangar(['init', ws.root]);
    assert.equal(init.code, 0, init.stderr);
    for (const f of [
      'hangar.json',
      'dags/example_etl.ts',
      'tsconfig.json',
      '.hangar/types/hangar/index.d.ts',
      '.hangar/types/node/package.json',
    ]) {
      assert.ok(existsSync(join(ws.root, f)), f);
    }
    // The example runs on the suite's store: init's hangar.json, with the test's PostgreSQL database under HANGAR_TEST_STORE=postgres.
    const config = join(ws.root, 'hangar.json');
    const store = testStoreConfig();
    if (store.store !== undefined)
      writeFileSync(
        config,
        JSON.stringify({ ...(JSON.parse(readFileSync(config, 'utf8')) as object), ...store }),
      );
    const tsc = spawnSync(
      process.execPath,
      [join(process.cwd(), 'node_modules/typescript/bin/tsc'), '-p', ws.root],
      { encoding: 'utf8' },
    );
    assert.equal(tsc.status, 0, tsc.stdout);
    // A type error in a DAG file is caught by the same configuration.
    ws.write(
      'dags/wrong.ts',
      `import { dag } from 'hangar';\nexport const w = dag({ id: 'w' });\nconst a = w.task('a', async () => 'text');\nw.task('b', { inputs: { n: a } }, async (_c, { n }) => n.toFixed(2));\n`,
    );
    const tsc2 = spawnSync(
      process.execPath,
      [join(process.cwd(), 'node_modules/typescript/bin/tsc'), '-p', ws.root],
      { encoding: 'utf8' },
    );
    assert.match(
      tsc2.stdout,
      /wrong\.ts\(4,\d+\): error TS\d+: Property 'toFixed' does not exist on type 'string'/,
    );
    ws.write('dags/wrong.ts', '');
    const run = hangar(['run', 'example_etl', '--date', '2024-01-15', '--workspace', ws.root]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const x = hangar([
      'xcom',
      'get',
      '--dag',
      'example_etl',
      '--run',
      'manual__2024-01-15T00:00:00+00:00',
      '--task',
      'load',
      '--workspace',
      ws.root,
    ]);
    assert.deepEqual(JSON.parse(x.stdout), { target: 'report_20240115.json', total: 30 });
    assert.ok(readFileSync(join(ws.root, '.gitignore'), 'utf8').includes('.hangar/'));
  } finally {
    ws.remove();
  }
});

test('connections: from HANGAR_CONN_<ID> or hangar.json, parsed, and their passwords masked in logs', () => {
  const ws = tempWorkspace(
    {
      'dags/conn.ts': `import { dag } from 'hangar';
export const d = dag({ id: 'conn' });
d.task('use', async (ctx) => {
  const env = ctx.connection('warehouse');
  const cfg = ctx.connection('files');
  ctx.log.info('connecting with ' + env.uri);
  return { type: env.type, host: env.host, port: env.port, login: env.login, path: env.path, extra: env.extra, cfgType: cfg.type, cfgHost: cfg.host };
});
d.task('missing', async (ctx) => ctx.connection('nowhere'));
`,
    },
    { connections: { files: 'sftp://deploy@files.internal:2222/incoming' } },
  );
  try {
    const r = hangar(['run', 'conn', '--date', '2024-01-01', '--workspace', ws.root], {
      env: { HANGAR_CONN_WAREHOUSE: 'postgres://etl:s3cr3t-pw@db.internal:5432/analytics?sslmode=require' },
    });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const x = hangar([
      'xcom',
      'get',
      '--dag',
      'conn',
      '--run',
      'manual__2024-01-01T00:00:00+00:00',
      '--task',
      'use',
      '--json',
      '--workspace',
      ws.root,
    ]);
    assert.deepEqual((JSON.parse(x.stdout) as { value: unknown }).value, {
      type: 'postgres',
      host: 'db.internal',
      port: 5432,
      login: 'etl',
      path: 'analytics',
      extra: { sslmode: 'require' },
      cfgType: 'sftp',
      cfgHost: 'files.internal',
    });
    const log = hangar(['logs', 'manual__2024-01-01T00:00:00+00:00', 'use', '--workspace', ws.root]);
    assert.match(log.stdout, /connecting with postgres:\/\/etl:\*\*\*@db\.internal/);
    assert.doesNotMatch(log.stdout, /s3cr3t-pw/);
    const missing = hangar(['tasks', 'manual__2024-01-01T00:00:00+00:00', '--json', '--workspace', ws.root]);
    const err = (JSON.parse(missing.stdout) as { task_id: string; error: string }[]).find(
      (t) => t.task_id === 'missing',
    )!.error;
    assert.match(
      err,
      /No connection "nowhere": set HANGAR_CONN_NOWHERE to its URI, or add it under "connections" in hangar.json/,
    );
  } finally {
    ws.remove();
  }
});
