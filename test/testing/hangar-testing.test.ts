// hangar/testing: the module users import in their own tests (src/runtime/testing), driven
// here as a user's test would, and the example test of examples/tests run by `node --test`
// from the examples workspace (the package's "exports" resolve `hangar/testing` to dist/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { testDag, DagTestLoadError, FakeClock } from '../../src/runtime/testing/index.ts';
import { tempWorkspace } from '../helpers/workspace.ts';

const REPO = join(import.meta.dirname, '..', '..');

const PIPE = `import { dag } from 'hangar';
export const pipe = dag({ id: 'pipe', schedule: null, startDate: '2024-01-01' });
const a = pipe.task('a', async (ctx) => { ctx.log.info('a for ' + ctx.ds); ctx.xcom.push('extra', { n: 1 }); return 2; });
const b = pipe.task('b', { inputs: { x: a } }, async (ctx, { x }) => {
  if (ctx.conf.boom) throw new Error('boom at b');
  return x * 10;
});
pipe.task('c', { inputs: { y: b } }, async (_ctx, { y }) => y + 1);
`;

test('runDag runs on a throwaway store: states, decoded XComs, logs; close removes it', async () => {
  const ws = tempWorkspace({ 'dags/pipe.ts': PIPE });
  try {
    const t = await testDag(join(ws.root, 'dags', 'pipe.ts'), { date: '2024-05-02T00:00:00Z' });
    assert.equal(t.dagId, 'pipe');
    assert.deepEqual(t.taskIds, ['a', 'b', 'c']);
    const run = await t.runDag();
    assert.equal(run.state, 'success');
    assert.equal(run.logicalDate, '2024-05-02T00:00:00.000Z');
    assert.deepEqual(run.states, { a: 'success', b: 'success', c: 'success' });
    assert.equal(await t.xcom('c'), 21);
    assert.deepEqual(await t.xcom('a', 'extra'), { n: 1 });
    await t.expectXCom('b', 20);
    await assert.rejects(t.expectXCom('b', 21), /XCom "return_value" of task "b" \(DAG "pipe"/);
    assert.match(await t.logs('a'), /a for 2024-05-02/);
    const failed = await t.runDag({ conf: { boom: true }, date: '2024-05-03' });
    assert.equal(failed.state, 'failed');
    assert.deepEqual(failed.states, { a: 'success', b: 'failed', c: 'upstream_failed' });
    assert.match(failed.errors.b!, /boom at b/);
    assert.match(
      failed.errors.b!,
      new RegExp(`${join(ws.root, 'dags', 'pipe.ts').replace(/[.]/g, '\\.')}:5:`),
    );
    // The workspace's own store was never created: everything lived in the temporary folder.
    assert.equal(existsSync(join(ws.root, '.hangar', 'hangar.db')), false);
    assert.equal(existsSync(join(t.stateDir, 'hangar.db')), true);
    await t.close();
    assert.equal(existsSync(t.stateDir), false);
    await assert.rejects(t.xcom('a'), /is closed/);
  } finally {
    ws.remove();
  }
});

test('runTask runs one task alone, on upstream XComs the test gives', async () => {
  const ws = tempWorkspace({ 'dags/pipe.ts': PIPE });
  const t = await testDag(join(ws.root, 'dags', 'pipe.ts'), { clock: new FakeClock(Date.UTC(2024, 6, 1)) });
  try {
    const r = await t.runTask('b', { xcoms: { a: 7 } });
    assert.equal(r.taskState, 'success');
    assert.equal(r.value, 70);
    assert.deepEqual(r.states, { b: 'success' }, 'upstream tasks did not run');
    assert.match(r.runId, /^test__2024-07-01T00:00:00/);
    const bad = await t.runTask('b', { xcoms: { a: 1 }, conf: { boom: true } });
    assert.equal(bad.taskState, 'failed');
    assert.match(bad.error!, /Error: boom at b/);
    assert.match(bad.log, /boom at b/);
    await assert.rejects(t.runTask('nope'), /DAG "pipe" has no task "nope" \(tasks: a, b, c\)/);
    await assert.rejects(t.runTask('b', { xcoms: { zz: 1 } }), /has no task "zz"/);
  } finally {
    await t.close();
    ws.remove();
  }
});

test('a DAG file that fails to load is an error naming the file and line', async () => {
  const ws = tempWorkspace({
    'dags/bad.ts': `import { dag } from 'hangar';\nexport const d = dag({ id: 'bad', schedule: null, startDate: '2024-01-01' });\nthrow new Error('not today');\n`,
    'dags/two.ts': `import { dag } from 'hangar';\ndag({ id: 'one', schedule: null, startDate: '2024-01-01' }).task('t', async () => 1);\ndag({ id: 'two', schedule: null, startDate: '2024-01-01' }).task('t', async () => 2);\n`,
  });
  try {
    const err = await testDag(join(ws.root, 'dags', 'bad.ts')).then(
      () => assert.fail('loaded'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof DagTestLoadError);
    assert.equal(err.errors[0]!.line, 3);
    assert.match(err.message, /bad\.ts:3:\d+: Error: not today/);
    await assert.rejects(
      testDag(join(ws.root, 'dags', 'two.ts')),
      /defines several DAGs \(one, two\); pass \{ dagId \}/,
    );
    const two = await testDag(join(ws.root, 'dags', 'two.ts'), { dagId: 'two' });
    assert.equal((await two.runTask('t')).value, 2);
    await two.close();
    await assert.rejects(
      testDag(join(ws.root, 'dags', 'missing.ts')),
      /the DAG file .*missing\.ts does not exist/,
    );
    await assert.rejects(testDag(join(ws.root, 'dags', 'pipe.ts'), { date: 'soon' }), /does not exist/);
    await assert.rejects(
      testDag(join(ws.root, 'dags', 'two.ts'), { date: 'soon' }),
      /date is not a valid date: "soon"/,
    );
  } finally {
    ws.remove();
  }
});

test('HANGAR_STORE_URL does not redirect the throwaway store', async () => {
  const ws = tempWorkspace({ 'dags/pipe.ts': PIPE });
  const before = process.env.HANGAR_STORE_URL;
  process.env.HANGAR_STORE_URL = join(ws.root, 'real.db');
  try {
    const t = await testDag(join(ws.root, 'dags', 'pipe.ts'));
    await t.runTask('a');
    await t.close();
    assert.equal(existsSync(join(ws.root, 'real.db')), false);
  } finally {
    if (before === undefined) delete process.env.HANGAR_STORE_URL;
    else process.env.HANGAR_STORE_URL = before;
    ws.remove();
  }
});

test('examples/tests/etl.test.ts passes under `node --test`, run from the examples workspace as a user would (needs npm run build)', () => {
  // Without these the child would report to this runner instead of printing its results.
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  delete env.NODE_TEST_WORKER_ID;
  const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', 'tests/etl.test.ts'], {
    cwd: join(REPO, 'examples'),
    encoding: 'utf8',
    env,
  });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /ℹ pass 4/);
  assert.match(r.stdout, /ℹ fail 0/);
});

test('errorLocation: the first frame in the DAG file, else the first in the workspace outside node_modules', async () => {
  const { errorLocation } = await import('../../src/runtime/testing/index.ts');
  const stack = [
    'Error: nope',
    '    at check (/w/node_modules/lib/index.js:3:9)',
    '    at helper (/w/lib/helpers.ts:10:5)',
    '    at file:///w/dags/etl.ts:24:11',
  ].join('\n');
  assert.deepEqual(errorLocation(stack, '/w/dags/etl.ts', '/w'), {
    file: '/w/dags/etl.ts',
    line: 24,
    column: 11,
  });
  assert.deepEqual(errorLocation(stack, '/w/dags/other.ts', '/w'), {
    file: '/w/lib/helpers.ts',
    line: 10,
    column: 5,
  });
  assert.equal(errorLocation(stack, '/w/dags/other.ts'), null);
});
