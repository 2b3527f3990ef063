/**
 * The CLI's JSON contract: every verb run with --json on a copy of the example
 * workspace, its output validated against docs/cli-schema/<name>.json, and the
 * published schemas checked against their declaration (src/runtime/cli/schemas.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { OUTPUTS, SCHEMA_VERSION } from '../../src/runtime/cli/schemas.ts';
import type { OutputName } from '../../src/runtime/cli/schemas.ts';
import { SCHEMA_DIR, schemaFiles } from '../../scripts/cli-schema.ts';
import { tempWorkspace } from '../helpers/workspace.ts';
import { hangar } from '../helpers/cli.ts';
import { freshDatabase, testStoreKind } from '../helpers/postgres.ts';

const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples');
const DAG = 'financial_analytics_pipeline';
const RUN = 'manual__2024-01-15T00:00:00+00:00';
const NOOP =
  "import { dag } from 'hangar';\nexport const d = dag({ id: 'noop', schedule: '@daily' });\nd.task('t', async () => 1);\n";
const ASSET_DAGS = {
  'dags/assets.ts': `import { dag, asset } from 'hangar';
const orders = asset('s3://bucket/orders');
export const p = dag({ id: 'producer' });
p.task('load', { outlets: [orders] }, async () => 1);
export const c = dag({ id: 'report', schedule: [orders] });
c.task('t', async () => 1);
`,
};
const KEYS = { HANGAR_XCOM_KEYS: 'k2:' + Buffer.alloc(32, 7).toString('base64') };

function validator() {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  ajv.addKeyword({ keyword: 'schemaVersion', schemaType: 'number' });
  const compiled = new Map<string, ReturnType<typeof ajv.compile>>();
  return (name: OutputName, data: unknown, what: string) => {
    if (!compiled.has(name)) {
      const schema = JSON.parse(readFileSync(join(SCHEMA_DIR, `${name}.json`), 'utf8')) as Record<
        string,
        unknown
      >;
      assert.equal(schema.schemaVersion, SCHEMA_VERSION, `${name}.json carries the schema version`);
      compiled.set(name, ajv.compile(schema));
    }
    const validate = compiled.get(name)!;
    assert.ok(
      validate(data),
      `${what} does not match docs/cli-schema/${name}.json: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(data, null, 2).slice(0, 2000)}`,
    );
  };
}

test('cli schema: docs/cli-schema/ is what src/runtime/cli/schemas.ts declares (npm run cli-schema)', () => {
  for (const [file, text] of schemaFiles()) {
    assert.equal(
      readFileSync(join(SCHEMA_DIR, file), 'utf8'),
      text,
      `docs/cli-schema/${file} is stale: run npm run cli-schema`,
    );
  }
});

test(
  'cli schema: every verb with --json on the example workspace matches its schema',
  { timeout: 600_000 },
  async () => {
    const pgDb = await freshDatabase();
    const ws = tempWorkspace();
    // An empty folder for hangar init, which writes its own hangar.json (the default store).
    const fresh = tempWorkspace({}, undefined, { store: 'sqlite' });
    // db backup, verify and copy need a SQLite store: under HANGAR_TEST_STORE=postgres they run on a
    // SQLite workspace beside, with runs of its own (the example workspace's are in PostgreSQL).
    const sqliteWs =
      testStoreKind() === 'postgres'
        ? tempWorkspace({ 'dags/noop.ts': NOOP }, undefined, { store: 'sqlite' })
        : ws;
    const validate = validator();
    const seen = new Set<OutputName>();
    /** Runs a verb in JSON mode: stdout is one document, nothing but it. */
    const json = (
      name: OutputName,
      args: string[],
      opts: { code?: number | 'work may fail'; env?: NodeJS.ProcessEnv; workspace?: string } = {},
    ) => {
      const r = hangar([...args, '--json', '--workspace', opts.workspace ?? ws.root], { env: opts.env });
      if (opts.code === 'work may fail' && r.code === 1)
        validate('error', JSON.parse(r.stderr), `hangar ${args.join(' ')} --json (stderr)`);
      else assert.equal(r.code, opts.code ?? 0, `hangar ${args.join(' ')}: ${r.stdout}\n${r.stderr}`);
      // Nothing else: no progress, no Node warnings (ExperimentalWarning…) on stderr.
      if (r.code === 0) assert.equal(r.stderr, '', `hangar ${args.join(' ')} --json wrote to stderr`);
      const data = JSON.parse(r.stdout) as unknown;
      validate(name, data, `hangar ${args.join(' ')} --json`);
      seen.add(name);
      return { data, stderr: r.stderr };
    };
    const error = (args: string[], code: number, errCode: string) => {
      const r = hangar([...args, '--json', '--workspace', ws.root]);
      assert.equal(r.code, code, r.stderr);
      const doc = JSON.parse(r.stderr) as { error: { code: string; exit_code: number } };
      validate('error', doc, `hangar ${args.join(' ')} --json (stderr)`);
      assert.equal(doc.error.code, errCode);
      assert.equal(doc.error.exit_code, code);
      seen.add('error');
      return doc.error as Record<string, unknown>;
    };
    try {
      cpSync(EXAMPLES, ws.root, { recursive: true, filter: (src) => !src.includes('.hangar') });
      // Written again through the workspace, which keeps the suite's store in it.
      ws.write('hangar.json', readFileSync(join(EXAMPLES, 'hangar.json'), 'utf8'));
      const init = hangar(['init', fresh.root, '--json']);
      assert.equal(init.code, 0, init.stderr);
      validate('init', JSON.parse(init.stdout), 'hangar init --json');
      seen.add('init');
      // A DAG file from a template, in the workspace init made (test/cli/new.test.ts checks every template).
      const made = json('new', ['new', 'from_template', '--template', 'mapping'], { workspace: fresh.root }).data as { dag_id: string };
      assert.equal(made.dag_id, 'from_template');

      const list = json('list', ['list']).data as { dags: { dag_id: string; tasks: { kind: string }[] }[] };
      assert.ok(list.dags.some((d) => d.dag_id === DAG));
      const kinds = new Set(list.dags.flatMap((d) => d.tasks.map((t) => t.kind)));
      assert.ok(kinds.has('typescript') && kinds.has('sensor') && !kinds.has('python'), [...kinds].join());

      // A workspace that never ran a worker: none (test/distributed/e2e.test.ts validates real rows).
      assert.deepEqual(json('workers', ['workers', '--all']).data, { workers: [] });
      // Assets, on a workspace of their own: a producer's run records an event (test/cli/assets.test.ts checks the values).
      const assetsWs = tempWorkspace(ASSET_DAGS);
      try {
        json('run', ['run', 'producer'], { workspace: assetsWs.root });
        const assets = json('assets-list', ['assets', 'list'], { workspace: assetsWs.root }).data as { assets: unknown[] };
        assert.equal(assets.assets.length, 1);
        const events = json('assets-events', ['assets', 'events'], { workspace: assetsWs.root }).data as { events: unknown[] };
        assert.equal(events.events.length, 1);
        json('assets-update', ['assets', 'update', 's3://bucket/orders', '--extra', '{"by": "hand"}'], { workspace: assetsWs.root });
      } finally {
        assetsWs.remove();
      }
      json('variables-set', ['variables', 'set', 'api_token', 's3cr3t']);
      json('variables-set', ['variables', 'set', 'region', 'eu']);
      const vars = json('variables-list', ['variables', 'list']).data as { key: string; value: string }[];
      assert.deepEqual(
        vars.map((v) => `${v.key}=${v.value}`),
        ['api_token=***', 'region=eu'],
      );
      assert.deepEqual(json('variables-get', ['variables', 'get', 'region']).data, {
        key: 'region',
        value: 'eu',
      });
      const exported = join(ws.root, 'vars.json');
      assert.equal(
        (json('variables-export', ['variables', 'export', exported]).data as { exported: number }).exported,
        2,
      );
      json('variables-delete', ['variables', 'delete', 'region']);
      assert.equal(
        (json('variables-import', ['variables', 'import', exported]).data as { imported: number }).imported,
        2,
      );
      const timed = json('list', ['list', '--timings']).data as {
        timings: { fileloc: string; parsed_now: boolean }[];
      };
      assert.ok(
        timed.timings.length > 0 && timed.timings.every((t) => !t.parsed_now),
        'nothing changed since the first list',
      );
      assert.deepEqual(
        (json('dags-errors', ['dags', 'errors']).data as { import_errors: unknown[] }).import_errors,
        [],
      );
      const reparsed = json('dags-reparse', ['dags', 'reparse']).data as { files: number; parsed: number };
      assert.equal(reparsed.parsed, reparsed.files);

      const paused = json('dags-pause', ['dags', 'pause', DAG]).data as { is_paused: boolean };
      assert.equal(paused.is_paused, true);
      assert.equal(
        (json('dags-pause', ['dags', 'unpause', DAG]).data as { is_paused: boolean }).is_paused,
        false,
      );

      const run = json('run', ['run', DAG, '--date', '2024-01-15']).data as {
        run: { run_id: string; state: string };
      };
      assert.deepEqual([run.run.run_id, run.run.state], [RUN, 'success']);
      json('run', ['run', 'sensor_demo', '--date', '2024-01-10']);
      json('run', ['test', DAG, 'ingest_data', '--date', '2024-01-16']);
      const trig = json('trigger', [
        'trigger',
        DAG,
        '--date',
        '2024-01-20',
        '--conf',
        '{"external_feeds_size":"small"}',
      ]).data as { conf: unknown; run_id: string };
      assert.deepEqual(trig.conf, { external_feeds_size: 'small' }, 'user data keeps its own keys');
      json('backfill', ['backfill', DAG, '--from', '2024-02-01', '--to', '2024-02-02']);
      json('clear', ['clear', RUN, 'cleanup_resources']);
      json('clear', ['clear', RUN, 'cleanup_resources', '--no-run']);
      json('mark', ['mark', RUN, 'cleanup_resources', 'success']);
      const runs = json('runs', ['runs']).data as { run_id: string }[];
      assert.ok(runs.length >= 5);
      json('tasks', ['tasks', RUN]);
      // A task with a templated input, for a date and for a past run (test/cli/render.test.ts checks the values).
      const rendered = json('render', ['render', DAG, 'generate_reports', '--date', '2024-01-15']).data as { fields: { field: string; rendered: unknown }[] };
      assert.deepEqual(rendered.fields.find((f) => f.field === 'inputs.reportDate')?.rendered, '2024-01-15');
      json('render', ['render', DAG, 'generate_reports', '--run', RUN]);
      assert.equal(error(['render', DAG, 'generate_reports', '--conf', '[1]'], 2, 'usage').task_id, 'generate_reports');
      json('logs', ['logs', RUN, 'ingest_data']);
      const xcoms = json('xcom-list', ['xcom', 'list', '--dag', DAG, '--run', RUN]).data as {
        task_id: string;
        key: string;
      }[];
      const ret = xcoms.find((x) => x.key === 'return_value')!;
      json('xcom-get', ['xcom', 'get', '--dag', DAG, '--run', RUN, '--task', ret.task_id]);
      json('xcom-get-raw', ['xcom', 'get', '--dag', DAG, '--run', RUN, '--task', ret.task_id, '--raw']);
      json('xcom-lineage', ['xcom', 'lineage', '--dag', DAG, '--run', RUN]);
      json('xcom-rotate-key', ['xcom', 'rotate-key'], { env: KEYS });
      json('xcom-clear', ['xcom', 'clear', '--dag', DAG, '--run', 'backfill__2024-02-01T00:00:00+00:00']);
      json('xcom-sweep', ['xcom', 'sweep', '--dry-run', '--min-age', '0s']);
      json('xcom-gen-key', ['xcom', 'gen-key']);
      const stats = json('sensors-stats', ['sensors', 'stats']).data as unknown[];
      assert.ok(stats.length >= 2, 'the sensor demo recorded pokes');
      // A missed speed target (a busy machine) is exit 1 with the results printed all the same.
      json('bench-xcom', ['bench', 'xcom', '--quick'], { code: 'work may fail' });
      const info = json('info', ['info'], {
        env: { ...KEYS, HANGAR_CONN_WAREHOUSE: 'postgres://etl:pw@db/x' },
      }).data as { connections: unknown[]; xcom: { keys: unknown[] } };
      assert.deepEqual(info.connections, [
        { conn_id: 'warehouse', conn_type: 'postgres', source: 'env:HANGAR_CONN_WAREHOUSE' },
      ]);
      assert.deepEqual(info.xcom.keys, [{ key_id: 'k2', primary: true, encryptions: 0 }]);
      json('config-list', ['config', 'list']);
      if (sqliteWs !== ws) {
        const backfill = hangar([
          'backfill',
          'noop',
          '--from',
          '2024-01-01',
          '--to',
          '2024-01-05',
          '--workspace',
          sqliteWs.root,
        ]);
        assert.equal(backfill.code, 0, backfill.stderr);
      }
      const backedUp = json('db-backup', ['db', 'backup', join(sqliteWs.root, 'backup')], {
        workspace: sqliteWs.root,
      }).data as { runs: number };
      assert.ok(backedUp.runs >= 5);
      json('db-backup', ['db', 'verify', join(sqliteWs.root, 'backup')], { workspace: sqliteWs.root });
      assert.deepEqual(
        (json('db-migrate', ['db', 'migrate']).data as { applied: unknown[] }).applied,
        [],
        'the runs above migrated the store',
      );
      assert.equal((json('db-check', ['db', 'check']).data as { up_to_date: boolean }).up_to_date, true);
      const copied = json('db-copy', ['db', 'copy', '--to', pgDb.url], { workspace: sqliteWs.root }).data as {
        copied: number;
        to: string;
      };
      assert.ok(
        copied.copied > 0 && !copied.to.includes(pgDb.server.password),
        'the history went into PostgreSQL; the password is not printed',
      );
      // A store without the schema yet: check says so (exit 1, migration_pending) and creates nothing.
      const { stderr } = json('db-check', ['db', 'check', '--store', join(fresh.root, 'none.db')], {
        code: 1,
      });
      validate('error', JSON.parse(stderr), 'hangar db check --json (stderr)');
      assert.equal((JSON.parse(stderr) as { error: { code: string } }).error.code, 'migration_pending');
      json('config-get', ['config', 'get', 'parallelism']);

      assert.deepEqual(error(['run', 'nope'], 3, 'not_found').dag_id, 'nope');
      assert.deepEqual(error(['tasks', 'no_such_run'], 3, 'not_found').run_id, 'no_such_run');
      error(['runs', '--limit', '0'], 2, 'usage');
      error(['frobnicate'], 2, 'usage');

      const missing = (Object.keys(OUTPUTS) as OutputName[]).filter((n) => !seen.has(n));
      assert.deepEqual(missing, [], 'every output declared in schemas.ts is exercised here');
    } finally {
      ws.remove();
      fresh.remove();
      sqliteWs.remove();
      rmSync(join(ws.root), { recursive: true, force: true });
    }
  },
);
