/**
 * The authoring core (src/runtime/authoring/): what the editor knows about the
 * ids in DAG files, on fixture workspaces parsed by the real DAG processor
 * (the same `dag/list` result the extension reads), without VS Code.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AuthoringModel, lineCol } from '../../src/runtime/authoring/model.ts';
import { scan } from '../../src/runtime/authoring/scanner.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { dagListResult } from '../../src/runtime/server/service.ts';
import type { DagListResult } from '../../src/protocol/runtime.ts';
import { tempWorkspace } from '../helpers/workspace.ts';
import type { TempWorkspace } from '../helpers/workspace.ts';

const ETL = `import { dag } from 'hangar';

export const etl = dag({ id: 'etl', schedule: null });
const extract = etl.task('extract', async () => [1, 2, 3]);
etl.task('transform', async (ctx) => ctx.xcom.pull('extract'));
etl.task('load', { pool: 'warehouse_pool' }, async (ctx) => {
  const c = ctx.connection('warehouse');
  const rows = await ctx.xcom.pull<number[]>('transform');
  return rows?.length ?? c.host;
}).after('transform');
extract.before('transform');
for (let i = 0; i < 3; i++) etl.task('part_' + i, async () => i).after('extract');
etl.task('merge', async (ctx) => ctx.xcom.pullMany(['part_0', \`part_\${1}\`])).after('part_0', 'part_1', 'part_2');
`;

const REPORT = `import { dag, externalTaskSensor } from 'hangar';

export const report = dag({ id: 'report', schedule: null });
const wait = externalTaskSensor(report, 'wait_for_load', { externalDagId: 'etl', externalTaskId: 'load', mode: 'reschedule' });
report.task('publish', async () => 1).after('wait_for_load');
`;

const CONFIG = {
  connections: { warehouse: 'postgres://etl:s3cret@db.internal:5432/dw' },
  pools: { warehouse_pool: 4 },
};

let ws: TempWorkspace;
let list: DagListResult;
let files: Record<string, string>;

before(async () => {
  ws = tempWorkspace({ 'dags/etl.ts': ETL, 'dags/report.ts': REPORT }, CONFIG);
  const rt = await Runtime.open(ws.root, { config: { executor: 'in-process' } });
  try {
    const bag = await rt.loadDags();
    assert.deepEqual(bag.errors, []);
    list = await dagListResult(bag, rt);
  } finally {
    await rt.close();
  }
  files = { etl: join(ws.dags, 'etl.ts'), report: join(ws.dags, 'report.ts') };
});
after(() => ws.remove());

/** A model over the fixture, reading other files from disk unless overridden. */
function model(overrides: Record<string, string> = {}, env: Record<string, string> = {}): AuthoringModel {
  const m = new AuthoringModel((f) => overrides[f] ?? readFileSync(f, 'utf8'));
  m.update({
    list,
    config: { file: join(ws.root, 'hangar.json'), text: readFileSync(join(ws.root, 'hangar.json'), 'utf8') },
    env,
  });
  return m;
}

/** The offset just after the n-th (0-based) occurrence of `needle` in text. */
function after_(text: string, needle: string, n = 0): number {
  let at = -1;
  for (let i = 0; i <= n; i++) at = text.indexOf(needle, at + 1);
  assert.ok(at >= 0, `${needle} not in text`);
  return at + needle.length;
}

test('the scanner finds the id strings and what each names; ids built at run time are dynamic', () => {
  const sites = scan(ETL).map((s) => `${s.kind}:${s.value}${s.dynamic ? ' (dynamic)' : ''}`);
  assert.deepEqual(sites, [
    'dagDef:etl',
    'taskDef:extract',
    'taskDef:transform',
    'task:extract',
    'taskDef:load',
    'pool:warehouse_pool',
    'connection:warehouse',
    'task:transform',
    'task:transform',
    'task:transform',
    'taskDef:part_ (dynamic)',
    'task:extract',
    'taskDef:merge',
    'task:part_0',
    'task:part_ (dynamic)',
    'task:part_0',
    'task:part_1',
    'task:part_2',
  ]);
  const ext = scan(REPORT).find((s) => s.kind === 'externalTask')!;
  assert.equal(ext.value, 'load');
  assert.equal(ext.dagId, 'etl');
});

test("completion inside .after('…') offers the DAG's task ids with kind and line, including ids built at run time", () => {
  const text = ETL.replace(".after('transform');", ".after('tr');");
  const r = model().completions(files.etl, text, after_(text, ".after('tr"))!;
  assert.ok(r);
  const labels = r.items.map((i) => i.label).sort();
  assert.deepEqual(labels, ['extract', 'load', 'merge', 'part_0', 'part_1', 'part_2', 'transform']);
  assert.equal(r.items.find((i) => i.label === 'extract')!.detail, 'typescript task of etl, line 4');
  // The range replaced is the string's value.
  assert.equal(text.slice(r.start, r.end), 'tr');
});

test('completion while the string is still unclosed, and in ctx.xcom.pull', () => {
  const text = ETL.replace("ctx.xcom.pull('extract'))", "ctx.xcom.pull('ex");
  const r = model().completions(files.etl, text, after_(text, "pull('ex"))!;
  assert.ok(r.items.some((i) => i.label === 'extract'));
  assert.equal(text.slice(r.start, r.end), 'ex');
});

test('completion of connections shows type and host, never the password; pools show their slots', () => {
  const m = model({}, { HANGAR_CONN_S3_RAW: 's3://AKIA:topsecret@bucket.example' });
  const r = m.completions(files.etl, ETL, after_(ETL, "connection('"))!;
  const byLabel = Object.fromEntries(r.items.map((i) => [i.label, i.detail]));
  assert.equal(byLabel.warehouse, 'postgres db.internal:5432 (hangar.json)');
  assert.equal(byLabel.s3_raw, 's3 bucket.example (HANGAR_CONN_S3_RAW)');
  assert.ok(!JSON.stringify(r.items).includes('s3cret') && !JSON.stringify(r.items).includes('topsecret'));
  const p = m.completions(files.etl, ETL, after_(ETL, "pool: '"))!;
  assert.deepEqual(p.items.map((i) => `${i.label}: ${i.detail}`).sort(), [
    'default_pool: pool, 128 slots',
    'warehouse_pool: pool, 4 slots',
  ]);
});

test('an external-task sensor completes DAG ids, and task ids of the DAG it names (another file)', () => {
  const m = model();
  const dags = m.completions(files.report, REPORT, after_(REPORT, "externalDagId: '"))!;
  assert.deepEqual(dags.items.map((i) => i.label).sort(), ['etl', 'report']);
  const tasks = m.completions(files.report, REPORT, after_(REPORT, "externalTaskId: '"))!;
  assert.ok(tasks.items.some((i) => i.label === 'load' && i.detail.startsWith('typescript task of etl')));
  assert.ok(!tasks.items.some((i) => i.label === 'publish'));
});

test('go to definition: a task id jumps to its definition, across files; a connection and a pool to hangar.json', () => {
  const m = model();
  const def = m.definition(files.etl, ETL, after_(ETL, ".after('tr"));
  assert.deepEqual(def, [
    { file: files.etl, start: { line: 4, character: 10 }, end: { line: 4, character: 19 } },
  ]);
  assert.equal(ETL.split('\n')[4]!.slice(10, 19), 'transform');
  const ext = m.definition(files.report, REPORT, after_(REPORT, "externalTaskId: 'lo"));
  assert.equal(ext[0]!.file, files.etl);
  assert.equal(
    ETL.split('\n')[ext[0]!.start.line]!.slice(ext[0]!.start.character, ext[0]!.end.character),
    'load',
  );
  const dagDef = m.definition(files.report, REPORT, after_(REPORT, "externalDagId: 'e"));
  assert.equal(dagDef[0]!.file, files.etl);
  assert.equal(dagDef[0]!.start.line, 2);
  const config = readFileSync(join(ws.root, 'hangar.json'), 'utf8');
  const conn = m.definition(files.etl, ETL, after_(ETL, "connection('w"))[0]!;
  assert.equal(conn.file, join(ws.root, 'hangar.json'));
  const at = config.indexOf('"warehouse"') + 1;
  assert.deepEqual(conn.start, lineCol(config, at));
  // A task defined with an id built at run time: the processor's position of the call.
  const dyn = m.definition(files.etl, ETL, after_(ETL, ".after('part_0', 'part_"));
  assert.deepEqual(
    dyn.map((l) => l.start.line),
    [11],
  );
});

test('find references: every string naming the task, in every DAG file, with or without the definition', () => {
  const m = model();
  const refs = m.references(files.etl, ETL, after_(ETL, "etl.task('lo"));
  assert.deepEqual(
    refs.map((r) => `${r.file === files.etl ? 'etl' : 'report'}:${r.start.line + 1}`),
    ['etl:6', 'report:4'],
  );
  const noDecl = m.references(files.etl, ETL, after_(ETL, "etl.task('lo"), false);
  assert.deepEqual(
    noDecl.map((r) => r.start.line + 1),
    [4],
  );
  // Another DAG's task with the same name is not a reference.
  assert.equal(m.references(files.etl, ETL, after_(ETL, "etl.task('tr")).length, 4);
});

test('rename a task id: its definition and every reference, across files; an existing or invalid id is refused', () => {
  const m = model();
  const at = after_(REPORT, "externalTaskId: 'lo");
  assert.deepEqual(m.prepareRename(files.report, REPORT, at), {
    start: REPORT.indexOf("'load'") + 1,
    end: REPORT.indexOf("'load'") + 5,
    placeholder: 'load',
  });
  const r = m.rename(files.report, REPORT, at, 'load_dw');
  assert.ok('edits' in r);
  assert.deepEqual(
    r.edits.map(
      (e) =>
        `${e.file === files.etl ? 'etl' : 'report'}:${e.start.line + 1}:${e.start.character}-${e.end.character}=${e.newText}`,
    ),
    [
      'etl:6:10-14=load_dw',
      `report:4:${REPORT.split('\n')[3]!.indexOf("'load'") + 1}-${REPORT.split('\n')[3]!.indexOf("'load'") + 5}=load_dw`,
    ],
  );
  assert.deepEqual(m.rename(files.report, REPORT, at, 'extract'), {
    error: 'DAG "etl" already has a task "extract"',
  });
  assert.deepEqual(m.rename(files.report, REPORT, at, 'part_1'), {
    error: 'DAG "etl" already has a task "part_1"',
  });
  assert.match(
    (m.rename(files.report, REPORT, at, 'no spaces') as { error: string }).error,
    /not a valid task id/,
  );
  // A task whose id is built at run time is renamed where it is built.
  assert.match(
    (m.prepareRename(files.etl, ETL, after_(ETL, ".after('part_0', 'part_")) as { error: string }).error,
    /built at run time \(line 12\)/,
  );
  assert.match(
    (m.prepareRename(files.etl, ETL, after_(ETL, "connection('w")) as { error: string }).error,
    /task ids only/,
  );
});

test('diagnostics: unknown task, DAG, connection and pool ids at their string, each with the nearest id as its fix', () => {
  const text = ETL.replace(".after('transform');", ".after('transfrom');")
    .replace("connection('warehouse')", "connection('warehose')")
    .replace("pool: 'warehouse_pool'", "pool: 'warehouse_pol'");
  const report = REPORT.replace("externalDagId: 'etl'", "externalDagId: 'elt'");
  const m = model({ [files.etl]: text });
  const d = m.diagnostics(files.etl, text);
  assert.deepEqual(
    d.map((x) => [x.message, x.severity, text.slice(x.start, x.end), x.suggestion]),
    [
      [
        'No pool "warehouse_pol": add it under "pools" in hangar.json',
        'warning',
        'warehouse_pol',
        'warehouse_pool',
      ],
      [
        'No connection "warehose": add it under "connections" in hangar.json, or set HANGAR_CONN_WAREHOSE',
        'warning',
        'warehose',
        'warehouse',
      ],
      ['DAG "etl" has no task "transfrom" (.after())', 'error', 'transfrom', 'transform'],
    ],
  );
  const r = m.diagnostics(files.report, report);
  assert.deepEqual(
    r.map((x) => [x.message, x.suggestion]),
    [['No DAG "elt" in the workspace (externalDagId:)', 'etl']],
  );
  const badTask = REPORT.replace("externalTaskId: 'load'", "externalTaskId: 'lod'");
  assert.deepEqual(
    m.diagnostics(files.report, badTask).map((x) => [x.message, x.suggestion]),
    [['DAG "etl" has no task "lod" (externalTaskId:)', 'load']],
  );
});

test('no false Problems: ids built at run time, ids of tasks built in a loop, a task typed but not parsed yet, a connection from the environment', () => {
  const m = model({}, { HANGAR_CONN_LAKE: 'sftp://u:pw@lake.example:22/in' });
  assert.deepEqual(m.diagnostics(files.etl, ETL), []);
  const typed = `${ETL}etl.task('audit', async () => 1).after('merge');\netl.task('notify', async () => 1).after('audit', 'part_' + 7, \`x\${1}\`);\nconst lake = (c: any) => c.connection('lake');\n`;
  assert.deepEqual(m.diagnostics(files.etl, typed), []);
  assert.ok(
    m
      .completions(files.etl, typed, after_(typed, ".after('audit"))!
      .items.some((i) => i.label === 'audit' && i.detail === 'task of etl (not parsed yet)'),
  );
});

test('before the first parse, and in a file that does not load, the editor reports nothing it cannot know', () => {
  const m = new AuthoringModel(() => undefined);
  m.update({ list: null });
  assert.deepEqual(m.diagnostics(files.etl, ETL.replace(".after('transform')", ".after('nope')")), []);
  // The buffer's own definitions still complete.
  const r = m.completions(files.etl, ETL, after_(ETL, ".after('tr"))!;
  assert.ok(r.items.some((i) => i.label === 'extract'));
  // A failed file may define the DAG an external sensor names: no Problem.
  const m2 = new AuthoringModel((f) => readFileSync(f, 'utf8'));
  m2.update({
    list: {
      ...list,
      errors: [{ file: join(ws.dags, 'broken.ts'), line: 1, column: 1, message: 'x', dagId: null }],
    },
  });
  assert.deepEqual(m2.diagnostics(files.report, REPORT.replace("'etl'", "'broken_dag'")), []);
});

test('a file with two DAGs: each string belongs to the DAG defined above it', () => {
  const two = `import { dag } from 'hangar';
export const a = dag({ id: 'two_a', schedule: null });
a.task('x', async () => 1);
export const b = dag({ id: 'two_b', schedule: null });
b.task('y', async () => 1).after('x');
`;
  const m = new AuthoringModel(() => undefined);
  m.update({ list: null });
  const f = join(ws.dags, 'two.ts');
  assert.equal(m.dagAt(f, two, two.indexOf("after('x")), 'two_b');
  assert.deepEqual(
    m.completions(f, two, after_(two, "after('"))!.items.map((i) => i.label),
    ['y'],
  );
});

test('a file that fails to load keeps its last good structure: the typo that broke it gets its Problem and fix', () => {
  const m = model();
  const broken = ETL.replace("extract.before('transform');", "extract.before('lod');");
  m.update({
    list: {
      ...list,
      dags: list.dags.filter((d) => d.dagId !== 'etl'),
      errors: [
        {
          file: files.etl,
          line: 7,
          column: 9,
          message: 'DAG "etl": dependency extract >> lod names a task "lod" that does not exist',
          dagId: 'etl',
        },
      ],
    },
  });
  assert.deepEqual(
    m.diagnostics(files.etl, broken).map((d) => [d.message, d.suggestion]),
    [['DAG "etl" has no task "lod" (.before())', 'load']],
  );
  // Once the file loads again, its new structure replaces the kept one.
  m.update({ list });
  assert.deepEqual(m.diagnostics(files.etl, ETL), []);
});
