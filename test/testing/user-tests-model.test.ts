// "Your tests" in the Test Explorer, without VS Code (src/vscode/user-tests-model.ts and the
// reporter src/vscode/user-tests-reporter.ts): which files, the scan of their tests, ids, the
// name pattern that runs one test alone, where a failure is, and node:test's real events (a real
// `node --test` run with the reporter) mapped to passed/failed/skipped items.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  NodeTestRun,
  escapeRegExp,
  failureLocation,
  fileFailureMessage,
  namePattern,
  needsStripTypesFlag,
  nodeTestArgs,
  parseReporterLine,
  parseUserTestId,
  reporterEvent,
  scanTests,
  testCwd,
  userTestId,
  usesHangarTesting,
  withPaths,
} from '../../src/vscode/user-tests-model.ts';
import type { ReporterEvent, UserTestResult } from '../../src/vscode/user-tests-model.ts';

const REPORTER = join(import.meta.dirname, '..', '..', 'src', 'vscode', 'user-tests-reporter.ts');

const FILE = `import { test, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { testDag } from 'hangar/testing';

test('passes', () => {
  console.log('hello from passes');
  assert.equal(1, 1);
});

test("fails (on purpose) $1", () => {
  const n: number = 2;
  assert.equal(n, 3);
});

describe('group', () => {
  it('inner ok', () => {});
  it('inner ok', () => {}); // same name twice
  // test('commented out', () => {});
  it.skip('skipped', () => {});
});

test('parent', async (t) => {
  await t.test('child', () => { throw new Error('child broke'); });
  await t.test(\`child two\`, () => {});
});
const s = "test('not a call')";
test(\`dynamic \${s}\`, () => {});
`;

test('a file uses hangar/testing through an import, a type import, import() or require()', () => {
  assert.ok(usesHangarTesting(`import { testDag } from 'hangar/testing';`));
  assert.ok(usesHangarTesting(`import type { DagTest } from "hangar/testing";`));
  assert.ok(usesHangarTesting(`const { testDag } = await import('hangar/testing');`));
  assert.ok(usesHangarTesting(`const h = require('hangar/testing');`));
  assert.ok(!usesHangarTesting(`import { dag } from 'hangar';`));
  assert.ok(!usesHangarTesting(`import { x } from 'hangar/testing-extra';`));
});

test('the scan finds test/it/describe/t.test calls with literal names, nested as written, skipping comments and strings', () => {
  const tree = scanTests(FILE);
  const shape = (ts: ReturnType<typeof scanTests>): unknown =>
    ts.map((t) => [t.name, t.kind, t.line, t.column, ...(t.children.length ? [shape(t.children)] : [])]);
  assert.deepEqual(shape(tree), [
    ['passes', 'test', 5, 1],
    ['fails (on purpose) $1', 'test', 10, 1],
    [
      'group',
      'suite',
      15,
      1,
      [
        ['inner ok', 'test', 16, 3],
        ['inner ok', 'test', 17, 3],
        ['skipped', 'test', 19, 3],
      ],
    ],
    [
      'parent',
      'test',
      22,
      1,
      [
        ['child', 'test', 23, 9],
        ['child two', 'test', 24, 9],
      ],
    ],
  ]);
  // Same-named siblings are told apart by their order, as the runner's events are.
  const paths = withPaths(tree);
  assert.deepEqual(
    paths[2]!.children.map((c) => c.path),
    [
      [
        { name: 'group', n: 1 },
        { name: 'inner ok', n: 1 },
      ],
      [
        { name: 'group', n: 1 },
        { name: 'inner ok', n: 2 },
      ],
      [
        { name: 'group', n: 1 },
        { name: 'skipped', n: 1 },
      ],
    ],
  );
});

test('ids round-trip, whatever the names hold', () => {
  const path = [
    { name: 'a "quoted" / name', n: 1 },
    { name: 'twice', n: 2 },
  ];
  const id = userTestId('/ws/tests/x.test.ts', path);
  assert.ok(!id.includes('\0'));
  assert.deepEqual(parseUserTestId(id), { kind: 'test', file: '/ws/tests/x.test.ts', path });
  assert.deepEqual(parseUserTestId('ufile:/ws/a.test.ts'), { kind: 'file', file: '/ws/a.test.ts' });
  assert.deepEqual(parseUserTestId('usertests'), { kind: 'group' });
  assert.equal(parseUserTestId('task:etl/extract'), undefined);
  assert.equal(parseUserTestId('utest:not json'), undefined);
  assert.equal(parseUserTestId('utest:["/f", ["x", 1]]'), undefined);
});

test('the name pattern is anchored and escaped; a subtest of a test runs with that test, one of a suite alone', () => {
  assert.equal(
    escapeRegExp('a.b*c(d)[e]{f}|g^h$i\\j/k-l+m?'),
    'a\\.b\\*c\\(d\\)\\[e\\]\\{f\\}\\|g\\^h\\$i\\\\j\\/k\\-l\\+m\\?',
  );
  const p = (...names: string[]) => names.map((name) => ({ name, n: 1 }));
  assert.equal(namePattern(p('fails (on purpose) $1'), ['test']), '^fails \\(on purpose\\) \\$1$');
  assert.equal(namePattern(p('group', 'inner ok'), ['suite', 'test']), '^group inner ok$');
  assert.equal(namePattern(p('parent', 'child'), ['test', 'test']), '^parent$');
  assert.equal(namePattern(p('parent', 'child'), [undefined, 'test']), '^parent$');
  assert.equal(namePattern(p('outer', 'group', 'x'), ['suite', 'suite', 'test']), '^outer group x$');
  assert.ok(new RegExp(namePattern(p('fails (on purpose) $1'), ['test'])).test('fails (on purpose) $1'));
  assert.ok(!new RegExp(namePattern(p('fails'), ['test'])).test('fails (on purpose) $1'));
});

test('a failure is located at the first stack frame in the test file, else in the workspace outside node_modules', () => {
  const stack = [
    'AssertionError [ERR_ASSERTION]: Expected values to be strictly equal:',
    '',
    '2 !== 3',
    '',
    '    at check (file:///ws/node_modules/lib/index.js:3:9)',
    '    at helper (/ws/tests/helpers.ts:7:3)',
    '    at TestContext.<anonymous> (file:///ws/tests/etl%20x.test.ts:12:10)',
    '    at Test.runInAsyncScope (node:async_hooks:227:14)',
  ].join('\n');
  assert.deepEqual(failureLocation(stack, '/ws/tests/etl x.test.ts', '/ws'), {
    file: '/ws/tests/etl x.test.ts',
    line: 12,
    column: 10,
  });
  assert.deepEqual(failureLocation(stack, '/ws/tests/other.test.ts', '/ws'), {
    file: '/ws/tests/helpers.ts',
    line: 7,
    column: 3,
  });
  assert.equal(failureLocation('Error: x\n    at node:internal/x:1:1', '/ws/a.test.ts', '/ws'), undefined);
  assert.equal(failureLocation(undefined, '/ws/a.test.ts', '/ws'), undefined);
});

test('the command line: the reporter, the patterns, the file; the type-stripping flag only on a Node that needs it', () => {
  const args = nodeTestArgs({
    file: '/ws/a.test.ts',
    reporter: '/ext/r.mjs',
    patterns: ['^a$', '^b$'],
    nodeVersion: '24.21.0',
  });
  assert.deepEqual(args, [
    '--enable-source-maps',
    '--test',
    '--test-reporter=/ext/r.mjs',
    '--test-reporter-destination=stdout',
    '--test-name-pattern=^a$',
    '--test-name-pattern=^b$',
    '/ws/a.test.ts',
  ]);
  assert.equal(
    nodeTestArgs({ file: '/ws/a.test.ts', reporter: 'r', patterns: [], nodeVersion: '22.15.1' })[0],
    '--experimental-strip-types',
  );
  assert.equal(needsStripTypesFlag('v22.18.0'), false);
  assert.equal(needsStripTypesFlag('23.5.0'), true);
  assert.equal(needsStripTypesFlag('23.6.0'), false);
  assert.equal(
    nodeTestArgs({ file: '/ws/a.test.mjs', reporter: 'r', patterns: [], nodeVersion: '22.15.1' })[0],
    '--enable-source-maps',
  );
});

test('a test runs in the nearest folder with hangar.json, else package.json, up to the workspace', () => {
  const have = new Set(['/ws/hangar.json', '/ws/pkg/package.json']);
  const exists = (p: string) => have.has(p);
  assert.equal(testCwd('/ws/tests/a.test.ts', '/ws', exists), '/ws');
  assert.equal(testCwd('/ws/pkg/tests/a.test.ts', '/ws', exists), '/ws');
  assert.equal(
    testCwd('/ws/pkg/tests/a.test.ts', '/ws', (p) => p === '/ws/pkg/package.json'),
    '/ws/pkg',
  );
  assert.equal(
    testCwd('/ws/x/a.test.ts', '/ws', () => false),
    '/ws',
  );
});

test('node:test events through the reporter: start/pass/fail/skip, nesting, output; the file as a whole', () => {
  const cwd = '/ws';
  const file = '/ws/tests/a.test.ts';
  assert.equal(
    reporterEvent(
      { type: 'test:start', data: { name: 'tests/a.test.ts', nesting: 0, file, line: 1, column: 1 } },
      cwd,
    ),
    undefined,
  );
  assert.deepEqual(
    reporterEvent(
      {
        type: 'test:fail',
        data: {
          name: 'tests/a.test.ts',
          nesting: 0,
          file,
          line: 1,
          column: 1,
          details: {
            duration_ms: 80,
            error: { message: 'test failed', failureType: 'testCodeFailure', cause: {} },
          },
        },
      },
      cwd,
    ),
    {
      type: 'file',
      file,
      passed: false,
      durationMs: 80,
      error: { message: 'test failed', failureType: 'testCodeFailure' },
    },
  );
  assert.deepEqual(
    reporterEvent(
      { type: 'test:stdout', data: { file: 'tests/a.test.ts', entryFile: file, message: 'hi\n' } },
      cwd,
    ),
    {
      type: 'stdout',
      file,
      message: 'hi\n',
    },
  );
  assert.equal(reporterEvent({ type: 'test:enqueue', data: {} }, cwd), undefined);
  assert.equal(
    parseReporterLine('{"type":"start","name":"x","nesting":0,"file":"f","line":1,"column":1}')?.type,
    'start',
  );
  assert.equal(parseReporterLine('{"type":"other"}'), undefined);
  assert.equal(parseReporterLine('plain output'), undefined);
  assert.equal(parseReporterLine('{broken'), undefined);
  assert.match(
    fileFailureMessage(
      'tests/a.test.ts',
      { message: 'test failed' },
      "Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'hangar' imported from /ws/tests/a.test.ts\n",
    ),
    /tests\/a\.test\.ts failed as a whole \(test failed\):\nError \[ERR_MODULE_NOT_FOUND\][^]*install Hangar in the workspace/,
  );
});

/** Runs `node --test` on a file with Hangar's reporter: its events and the results NodeTestRun makes of them. */
function runReal(dir: string, file: string, patterns: string[] = []) {
  const r = spawnSync(
    process.execPath,
    nodeTestArgs({ file, reporter: REPORTER, patterns, nodeVersion: process.versions.node }),
    // This file runs under node --test itself: the child must not take itself for one of its subtests.
    { cwd: dir, encoding: 'utf8', timeout: 60_000, env: { ...process.env, NODE_TEST_CONTEXT: undefined } },
  );
  const events = r.stdout
    .split('\n')
    .map(parseReporterLine)
    .filter((e): e is ReporterEvent => !!e);
  const follow = new NodeTestRun(file, dir);
  const started: string[] = [];
  const results: UserTestResult[] = [];
  for (const e of events) {
    if (e.type === 'start')
      started.push(
        follow
          .start(e)
          .path.map((s) => s.name + (s.n > 1 ? `#${s.n}` : ''))
          .join(' > '),
      );
    else if (e.type === 'pass' || e.type === 'fail') results.push(follow.end(e));
  }
  const byName = (name: string) => {
    const found = results.filter(
      (x) => x.path.map((s) => s.name + (s.n > 1 ? `#${s.n}` : '')).join(' > ') === name,
    );
    assert.equal(found.length, 1, `one result for ${name}: ${JSON.stringify(results.map((x) => x.path))}`);
    return found[0]!;
  };
  return { status: r.status, events, started, results, byName, stderr: r.stderr };
}

test('a real node --test run with the reporter: items by path, outcomes, durations, the failing line, a diff, output; one test alone', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-user-tests-'));
  try {
    const file = join(dir, 'a.test.ts');
    // Without hangar/testing itself (its own tests are in hangar-testing.test.ts): the runner's behaviour is what is under test.
    writeFileSync(
      file,
      FILE.replace("import { testDag } from 'hangar/testing';", '// (no import of the package here)'),
    );
    const all = runReal(dir, file);
    assert.equal(all.status, 1, all.stderr);
    assert.deepEqual(all.started, [
      'passes',
      'fails (on purpose) $1',
      'group',
      'group > inner ok',
      'group > inner ok#2',
      'group > skipped',
      'parent',
      'parent > child',
      'parent > child two',
      "dynamic test('not a call')",
    ]);
    assert.equal(all.byName('passes').outcome, 'passed');
    assert.ok(all.byName('passes').durationMs > 0);
    const failed = all.byName('fails (on purpose) $1');
    assert.equal(failed.outcome, 'failed');
    assert.match(failed.message!, /^Expected values to be strictly equal:\n\n2 !== 3/);
    assert.match(failed.message!, /a\.test\.ts:12:10/);
    assert.deepEqual(failed.location, { file, line: 12, column: 10 });
    assert.deepEqual([failed.expected, failed.actual], ['3', '2']);
    assert.equal(all.byName('group > inner ok#2').outcome, 'passed');
    assert.equal(all.byName('group > skipped').outcome, 'skipped');
    assert.equal(all.byName('group').kind, 'suite');
    assert.equal(all.byName('group').outcome, 'passed');
    const child = all.byName('parent > child');
    assert.equal(child.outcome, 'failed');
    assert.deepEqual(child.location, { file, line: 23, column: 39 });
    assert.equal(child.expected, undefined);
    assert.equal(all.byName('parent').outcome, 'failed');
    assert.equal(all.byName("dynamic test('not a call')").outcome, 'passed');
    const out = all.events.filter((e) => e.type === 'stdout');
    assert.deepEqual(
      out.map((e) => e.type === 'stdout' && e.message),
      ['hello from passes\n'],
    );

    // One test alone, by the pattern the extension builds for its item.
    const alone = runReal(dir, file, [namePattern([{ name: 'fails (on purpose) $1', n: 1 }], ['test'])]);
    assert.deepEqual(alone.started, ['fails (on purpose) $1']);
    assert.equal(alone.results.length, 1);
    const inSuite = runReal(dir, file, [
      namePattern(
        [
          { name: 'group', n: 1 },
          { name: 'skipped', n: 1 },
        ],
        ['suite', 'test'],
      ),
    ]);
    assert.deepEqual(inSuite.started, ['group', 'group > skipped']);

    // A file that cannot load: one event for the file as a whole, its stderr says why.
    const broken = join(dir, 'broken.test.ts');
    writeFileSync(
      broken,
      `import { testDag } from 'hangar/testing';\nimport { test } from 'node:test';\ntest('never', () => {});\n`,
    );
    const b = runReal(dir, broken);
    assert.deepEqual(b.started, []);
    const fileEvent = b.events.find((e) => e.type === 'file');
    assert.ok(fileEvent && fileEvent.type === 'file' && !fileEvent.passed, JSON.stringify(b.events));
    const stderr = b.events.map((e) => (e.type === 'stderr' ? e.message : '')).join('');
    assert.match(stderr, /Cannot find package 'hangar'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
