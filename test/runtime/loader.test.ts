import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Runtime } from '../../src/runtime/runtime.ts';
import { tempWorkspace } from '../helpers/workspace.ts';

const GOOD = `import { dag } from 'hangar';
export const good = dag({ id: 'good' });
const a = good.task('a', async () => 1);
good.task('b', { inputs: { x: a } }, async (_ctx, { x }) => x + 1);
`;

/** Loads a folder as the CLI does: through the DAG processor (parse children), into a fresh store. */
async function loadFolder(ws: { root: string }) {
  const rt = await Runtime.open(ws.root);
  try {
    return await rt.loadDags();
  } finally {
    await rt.close();
  }
}

async function errorsOf(files: Record<string, string>) {
  const ws = tempWorkspace({ 'dags/good.ts': GOOD, ...files });
  return { bag: await loadFolder(ws), ws };
}

function lineOf(text: string, needle: string): number {
  return text.split('\n').findIndex((l) => l.includes(needle)) + 1;
}

const CASES: { name: string; text: string; marker: string; message: RegExp }[] = [
  {
    name: 'a cycle',
    text: `import { dag } from 'hangar';
export const d = dag({ id: 'cyclic' });
const a = d.task('a', async () => 1);
const b = d.task('b', async () => 2);
const c = d.task('c', async () => 3);
a.before(b);
b.before(c);
c.before(a);
`,
    marker: "d.task('a'",
    message: /DAG "cyclic" has a cycle: a → b → c → a/,
  },
  {
    name: 'a duplicate task id',
    text: `import { dag } from 'hangar';
export const d = dag({ id: 'dup' });
d.task('same', async () => 1);
d.task('same', async () => 2);
`,
    marker: "d.task('same', async () => 2)",
    message: /duplicate task id "same" in DAG "dup" \(first defined at .*broken\.ts:3:/,
  },
  {
    name: 'a dependency on an unknown task',
    text: `import { dag } from 'hangar';
export const d = dag({ id: 'unknown_dep' });
const a = d.task('a', async () => 1);
a.before('does_not_exist');
`,
    marker: "a.before('does_not_exist')",
    message: /names a task "does_not_exist" that does not exist/,
  },
  {
    name: 'an invalid task id',
    text: `import { dag } from 'hangar';
export const d = dag({ id: 'bad_ids' });
d.task('../escape', async () => 1);
`,
    marker: "d.task('../escape'",
    message: /invalid task id "\.\.\/escape"/,
  },
  {
    name: 'an invalid DAG id',
    text: `import { dag } from 'hangar';
export const d = dag({ id: 'has/slash' });
`,
    marker: "dag({ id: 'has/slash' })",
    message: /invalid DAG id "has\/slash"/,
  },
  {
    name: 'a syntax error',
    text: `import { dag } from 'hangar';
export const d = dag({ id: 'syntax' });
d.task('a', async () => { return 1 +; });
`,
    marker: 'return 1 +;',
    message: /Unexpected ";"/,
  },
  {
    name: 'a file that throws on import',
    text: `import { dag } from 'hangar';
export const d = dag({ id: 'throws' });
throw new Error('config missing');
`,
    marker: "throw new Error('config missing')",
    message: /Error: config missing/,
  },
  {
    name: 'an unknown schedule preset',
    text: `import { dag } from 'hangar';
export const d = dag({ id: 'bad_schedule', schedule: '@sometimes' });
`,
    marker: "dag({ id: 'bad_schedule'",
    message: /unknown schedule preset "@sometimes"/,
  },
];

for (const c of CASES) {
  test(`validation: ${c.name} is an error naming the file and line, and other files still load`, async () => {
    const { bag, ws } = await errorsOf({ 'dags/broken.ts': c.text });
    try {
      assert.deepEqual([...bag.dags.keys()], ['good'], 'the good DAG still loads');
      assert.equal(bag.errors.length, 1, JSON.stringify(bag.errors));
      const e = bag.errors[0]!;
      assert.equal(e.file, join(ws.dags, 'broken.ts'));
      assert.equal(e.line, lineOf(c.text, c.marker), e.message);
      assert.match(e.message, c.message);
      assert.ok(e.message.startsWith(`${join(ws.dags, 'broken.ts')}:${e.line}:`), e.message);
    } finally {
      ws.remove();
    }
  });
}

test('validation: the same DAG id in two files names both', async () => {
  const { bag, ws } = await errorsOf({ 'dags/zz_copy.ts': GOOD });
  try {
    assert.equal(bag.dags.get('good')!.fileloc, join(ws.dags, 'good.ts'));
    assert.equal(bag.errors.length, 1);
    assert.match(bag.errors[0]!.message, /zz_copy\.ts:2:\d+: duplicate DAG id "good": also defined in .*good\.ts:2:\d+ \(that one is used\)/);
    assert.equal(bag.errors[0]!.file, join(ws.dags, 'zz_copy.ts'));
  } finally {
    ws.remove();
  }
});

test('loader: a task error has a stack trace that points at the TypeScript line', async () => {
  const text = `import { dag } from 'hangar';
import { helper } from './lib/helper.ts';
export const d = dag({ id: 'stack' });
interface Row { id: number }
d.task('fails', async () => {
  const rows: Row[] = [{ id: 1 }];
  helper(rows.length);
});
`;
  const ws = tempWorkspace({
    'dags/stack.ts': text,
    'dags/lib/helper.ts': `// no hangar import here: a plain module\nexport function helper(n: number): never {\n  const why: string = 'bad input ' + n;\n  throw new RangeError(why);\n}\n`,
  });
  const rt = await Runtime.open(ws.root);
  try {
    await rt.loadDags();
    const run = await rt.runDag('stack');
    assert.equal(run.state, 'failed');
    const ti = (await rt.store.tasks.get('stack', run.run_id, 'fails'))!;
    assert.match(ti.error!, /RangeError: bad input 1/);
    assert.match(ti.error!, new RegExp(`${join(ws.dags, 'lib', 'helper.ts').replaceAll('/', '\\/')}:4:\\d+`));
    assert.match(ti.error!, new RegExp(`${join(ws.dags, 'stack.ts').replaceAll('/', '\\/')}:7:\\d+`));
  } finally {
    await rt.close();
    ws.remove();
  }
});

test('loader: a file is parsed again only when it or a workspace module it imports changed', async () => {
  const ws = tempWorkspace({
    'dags/cached.ts': `import { dag } from 'hangar';\nimport { ID } from './lib/id.ts';\nexport const d = dag({ id: ID });\nd.task('t', async () => 1);\n`,
    'dags/lib/id.ts': `export const ID = 'first';\n`,
  });
  try {
    const cold = await loadFolder(ws);
    assert.deepEqual([cold.stats.parsed, cold.stats.reused], [1, 0]);
    assert.deepEqual([...cold.dags.keys()], ['first']);
    assert.ok(cold.timings[0]!.parsed && cold.timings[0]!.compileMs! > 0 && cold.timings[0]!.importMs! > 0, JSON.stringify(cold.timings));
    const warm = await loadFolder(ws);
    assert.deepEqual([warm.stats.parsed, warm.stats.reused], [0, 1], 'nothing changed: the stored result is used');
    assert.deepEqual([...warm.dags.keys()], ['first']);
    assert.equal(warm.timings[0]!.parsed, false);
    ws.write('dags/lib/id.ts', `export const ID = 'second';\n`);
    const changed = await loadFolder(ws);
    assert.equal(changed.stats.parsed, 1, 'a change in an imported module parses the file again');
    assert.deepEqual([...changed.dags.keys()], ['second']);
  } finally {
    ws.remove();
  }
});

test("loader: DAG files import npm packages from the workspace's node_modules", async () => {
  const ws = tempWorkspace({
    'dags/uses_pkg.ts': `import { dag } from 'hangar';\nimport { shout } from 'shouty';\nexport const d = dag({ id: shout('pkg') });\nd.task('t', async () => 1);\n`,
  });
  mkdirSync(join(ws.root, 'node_modules', 'shouty'), { recursive: true });
  writeFileSync(join(ws.root, 'node_modules', 'shouty', 'package.json'), JSON.stringify({ name: 'shouty', type: 'module', exports: './index.js' }));
  writeFileSync(join(ws.root, 'node_modules', 'shouty', 'index.js'), `export const shout = (s) => s.toUpperCase() + '_ok';\n`);
  try {
    const bag = await loadFolder(ws);
    assert.deepEqual(bag.errors, []);
    assert.deepEqual([...bag.dags.keys()], ['PKG_ok']);
  } finally {
    ws.remove();
  }
});

test('loader: files that do not mention hangar are not DAG files', async () => {
  const ws = tempWorkspace({ 'dags/util.ts': `export const x = 1;\nthrow new Error('never imported');\n`, 'dags/good.ts': GOOD });
  try {
    const bag = await loadFolder(ws);
    assert.deepEqual(bag.files, [join(ws.dags, 'good.ts')]);
    assert.deepEqual(bag.errors, []);
  } finally {
    ws.remove();
  }
});
