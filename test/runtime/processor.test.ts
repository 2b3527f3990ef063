/**
 * The DAG processor (src/runtime/processor/): DAG files are imported in child
 * processes with a time and a memory budget, never in the process that asks; one
 * bad file never stops the others, and no parse process outlives the command.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { hangar } from '../helpers/cli.ts';
import { tempWorkspace } from '../helpers/workspace.ts';
import { Runtime } from '../../src/runtime/runtime.ts';

const GOOD = `import { dag } from 'hangar';
export const good = dag({ id: 'good', schedule: '@daily', startDate: '2024-01-01' });
const a = good.task('a', async () => 1);
good.task('b', { inputs: { x: a } }, async (_ctx, { x }) => x + 1);
`;

/** Every kind of bad DAG file the issue names, with what its error must say. */
const BAD: Record<string, { text: string; message: RegExp; line?: number }> = {
  'spin.ts': {
    text: `import { dag } from 'hangar';\nexport const d = dag({ id: 'spin' });\nwhile (true) {}\n`,
    message: /spin\.ts: its import ran for more than 2 s \(dagFileTimeout\) without giving the event loop a turn, e\.g\. an endless loop/,
  },
  'never.ts': {
    text: `import { dag } from 'hangar';\nexport const d = dag({ id: 'never' });\nawait new Promise(() => {});\n`,
    message: /never\.ts: its import did not finish within 2 s \(dagFileTimeout\): it was still waiting, e\.g\. on a top-level await that never settles/,
  },
  'exits.ts': {
    text: `import { dag } from 'hangar';\nexport const d = dag({ id: 'exits' });\nprocess.exit(7);\n`,
    message: /exits\.ts: it ended the process with exit code 7 while being imported \(process\.exit\(\) at top level\?\)/,
  },
  'interval.ts': {
    text: `import { dag } from 'hangar';\nexport const d = dag({ id: 'interval' });\nsetInterval(() => {}, 1000);\n`,
    message: /interval\.ts: left work running after it was imported \(Timeout ×1/,
  },
  'alloc.ts': {
    text: `import { dag } from 'hangar';\nexport const d = dag({ id: 'alloc' });\nexport const big = Buffer.alloc(1024 * 1024 * 1024, 1);\n`,
    // Filling a gigabyte on a busy machine may hit the time budget before the memory one: both stop it.
    message: /alloc\.ts: its import (used more than 256 MiB of memory \(dagFileMemoryMb\)|ran for more than 2 s)/,
  },
  'heap.ts': {
    text: `import { dag } from 'hangar';\nexport const d = dag({ id: 'heap' });\nconst keep: number[][] = [];\nfor (;;) keep.push(new Array(1e6).fill(1.5));\n`,
    message: /heap\.ts: its import (used more than 256 MiB of memory \(dagFileMemoryMb\)|ran for more than 2 s)/,
  },
  'noisy.ts': {
    text: `import { dag } from 'hangar';\nexport const d = dag({ id: 'noisy' });\nprocess.stdout.write('x'.repeat(10 * 1024 * 1024));\n`,
    message: /noisy\.ts: wrote 10\.0 MiB to stdout\/stderr while being imported \(the limit is 1\.0 MiB; the rest was dropped\)/,
  },
  'throws_string.ts': {
    text: `import { dag } from 'hangar';\nexport const d = dag({ id: 'strthrow' });\nthrow 'config missing';\n`,
    message: /throws_string\.ts: Error: threw a non-Error value: config missing/,
  },
  'missing_pkg.ts': {
    text: `import { dag } from 'hangar';\nimport { nope } from 'not-installed-pkg';\nexport const d = dag({ id: 'missing' });\nnope();\n`,
    message: /missing_pkg\.ts:2:\d+: imports the package "not-installed-pkg", which is not installed/,
    line: 2,
  },
  'syntax.ts': {
    text: `import { dag } from 'hangar';\nexport const d = dag({ id: 'syntax' });\nd.task('a', async () => { return 1 +; });\n`,
    message: /syntax\.ts:3:\d+: Unexpected ";"/,
    line: 3,
  },
  'zz_duplicate.ts': {
    text: GOOD,
    message: /zz_duplicate\.ts:2:\d+: duplicate DAG id "good": also defined in .*good\.ts:2:\d+ \(that one is used\)/,
    line: 2,
  },
};

/** Processes whose environment carries the mark: what a command left behind. */
function processesMarked(mark: string): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      if (readFileSync(`/proc/${pid}/environ`, 'latin1').includes(`HANGAR_TEST_MARK=${mark}`)) out.push(Number(pid));
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

test('hangar list: every kind of bad DAG file is one clear error naming it; the good DAG loads; no process is left; budget failures are not parsed again', async () => {
  const files: Record<string, string> = { 'hangar.json': JSON.stringify({ dagFileTimeout: 2, dagFileMemoryMb: 256 }), 'dags/good.ts': GOOD };
  for (const [name, c] of Object.entries(BAD)) files[`dags/${name}`] = c.text;
  const ws = tempWorkspace(files);
  const mark = randomUUID();
  try {
    const r = hangar(['list', '--json', '--timings', '--workspace', ws.root], { env: { HANGAR_TEST_MARK: mark }, timeoutMs: 90_000 });
    assert.equal(r.signal, null, `hangar list returned (stderr: ${r.stderr})`);
    assert.equal(r.code, 3, 'import errors: exit code 3');
    const err = JSON.parse(r.stderr) as { error: { code: string; files: string[] } };
    assert.equal(err.error.code, 'load_error');
    assert.equal(err.error.files.length, Object.keys(BAD).length, 'the error names every bad file');
    const out = JSON.parse(r.stdout) as {
      dags: { dag_id: string; tasks: { task_id: string }[] }[];
      import_errors: { fileloc: string; line: number | null; message: string }[];
      timings: { fileloc: string; parsed_now: boolean; total_seconds: number }[];
    };
    assert.deepEqual(await out.dags.map((d) => d.dag_id), ['good']);
    assert.deepEqual(out.dags[0]!.tasks.map((t) => t.task_id), ['a', 'b']);
    for (const [name, c] of Object.entries(BAD)) {
      const errors = out.import_errors.filter((e) => e.fileloc === join(ws.dags, name));
      assert.equal(errors.length, 1, `${name}: one error (${JSON.stringify(out.import_errors.map((e) => e.message))})`);
      assert.match(errors[0]!.message, c.message, name);
      if (c.line !== undefined) assert.equal(errors[0]!.line, c.line, `${name}: the line`);
    }
    assert.equal(out.import_errors.length, Object.keys(BAD).length);
    assert.equal(out.timings.length, Object.keys(BAD).length + 1);
    assert.ok(out.timings.every((t) => t.parsed_now), 'a cold list parses every file');
    assert.deepEqual(processesMarked(mark), [], 'no parse process outlives hangar list');

    // Nothing changed: files stopped by a budget are not imported again (one endless loop must not cost every
    // `hangar list` its budget); other failures (a package that may be installed since) are.
    const again = hangar(['list', '--json', '--timings', '--workspace', ws.root], { env: { HANGAR_TEST_MARK: mark }, timeoutMs: 90_000 });
    const t2 = JSON.parse(again.stdout) as typeof out;
    const parsed = new Set(t2.timings.filter((t) => t.parsed_now).map((t) => t.fileloc));
    for (const name of ['spin.ts', 'never.ts', 'alloc.ts', 'heap.ts', 'good.ts']) assert.ok(!parsed.has(join(ws.dags, name)), `${name} is not parsed again`);
    for (const name of ['missing_pkg.ts', 'exits.ts']) assert.ok(parsed.has(join(ws.dags, name)), `${name} is parsed again`);
    assert.equal(t2.import_errors.length, out.import_errors.length, 'the stored errors are reported again');

    // Fixed files load, and their errors are gone.
    ws.write('dags/spin.ts', `import { dag } from 'hangar';\nexport const d = dag({ id: 'spin' });\nd.task('t', async () => 1);\n`);
    rmSync(join(ws.dags, 'never.ts'));
    const fixed = JSON.parse(hangar(['list', '--json', '--workspace', ws.root], { timeoutMs: 90_000 }).stdout) as typeof out;
    assert.deepEqual(await fixed.dags.map((d) => d.dag_id), ['good', 'spin']);
    assert.ok(!fixed.import_errors.some((e) => /spin\.ts|never\.ts/.test(e.fileloc)));
    const db = await Runtime.open(ws.root);
    try {
      const stored = (await db.store.dags.listImportErrors()).map((e) => e.fileloc);
      assert.ok(!stored.includes(join(ws.dags, 'spin.ts')) && !stored.includes(join(ws.dags, 'never.ts')), 'cleared in the store');
      assert.ok(stored.includes(join(ws.dags, 'exits.ts')));
      assert.ok(!(await db.store.dags.listFiles()).some((f) => f.fileloc.endsWith('never.ts')), 'a removed file is forgotten');
    } finally {
      await db.close();
    }
  } finally {
    ws.remove();
  }
});

test('hangar dags errors and dags reparse', () => {
  const ws = tempWorkspace({ 'hangar.json': JSON.stringify({ dagFileTimeout: 2 }), 'dags/good.ts': GOOD, 'dags/spin.ts': BAD['spin.ts']!.text });
  try {
    const errors = hangar(['dags', 'errors', '--workspace', ws.root], { timeoutMs: 60_000 });
    assert.equal(errors.code, 3);
    assert.match(errors.stdout, /spin\.ts: its import ran for more than 2 s/);
    const none = tempWorkspace({ 'dags/good.ts': GOOD });
    try {
      const r = hangar(['dags', 'errors', '--workspace', none.root]);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /No import errors in /);
    } finally {
      none.remove();
    }
    const reparse = hangar(['dags', 'reparse', '--json', '--workspace', ws.root], { timeoutMs: 60_000 });
    const j = JSON.parse(reparse.stdout) as { files: number; parsed: number; dags: number; import_errors: unknown[] };
    assert.deepEqual([j.files, j.parsed, j.dags, j.import_errors.length], [2, 2, 1, 1], 'every file parsed again, the spinning one too');
    const bad = hangar(['dags', 'sideways', '--workspace', ws.root]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown "dags" command "sideways" \(known: pause, unpause, errors, reparse\)/);
  } finally {
    ws.remove();
  }
});

test('a file saved again while it is being parsed is parsed again: the result is of its latest content', async () => {
  const slow = `import { dag } from 'hangar';\nawait new Promise((r) => setTimeout(r, 1500));\nexport const d = dag({ id: 'first_version' });\nd.task('t', async () => 1);\n`;
  const ws = tempWorkspace({ 'dags/edited.ts': slow });
  const rt = await Runtime.open(ws.root);
  try {
    const loading = rt.loadDags();
    await new Promise((r) => setTimeout(r, 700));
    ws.write('dags/edited.ts', `import { dag } from 'hangar';\nexport const d = dag({ id: 'second_version' });\nd.task('t', async () => 1);\n`);
    const bag = await loading;
    assert.deepEqual([...(await bag.dags.keys())], ['second_version']);
    assert.deepEqual(bag.errors, []);
    const row = (await rt.store.dags.listFiles())[0]!;
    assert.match(row.dags, /second_version/);
  } finally {
    await rt.close();
    ws.remove();
  }
});

test('serialized DAGs: structure, settings, params, positions and callbacks without code; tries import the parsed bundle', async () => {
  const ws = tempWorkspace({
    'dags/shape.ts': `import { dag, fileSensor } from 'hangar';
export const d = dag({
  id: 'shape', schedule: '0 6 * * 1-5', startDate: '2024-03-01', catchup: true, maxActiveRuns: 2, dagrunTimeout: '1h',
  params: { table: 'trades', when: new Date('2024-01-02T00:00:00Z'), limit: 5 }, tags: ['finance'],
  onFailure: async () => {},
});
const a = d.task('a', { retries: 2, retryDelay: '30s', pool: 'db', onRetry: () => {} }, async () => [1, 2]);
const m = d.task('m', { expand: { x: a }, triggerRule: 'all_done' }, async (_c, { x }) => x);
fileSensor(d, 'wait', { path: '/tmp/x', mode: 'reschedule', timeout: '5m', pokeInterval: { kind: 'custom', next: function every(info) { return 1000 * info.pokes; } } }).before(m);
`,
  });
  const rt = await Runtime.open(ws.root, { config: { executor: 'isolated' } });
  try {
    const bag = await rt.loadDags();
    assert.deepEqual(bag.errors, []);
    const d = rt.getDag('shape');
    assert.equal(d.scheduleText, '0 6 * * 1-5');
    assert.equal(d.startDate?.toISOString(), '2024-03-01T00:00:00.000Z');
    assert.deepEqual([d.catchup, d.maxActiveRuns, d.dagrunTimeoutMs], [true, 2, 3_600_000]);
    assert.deepEqual(d.params, { table: 'trades', when: new Date('2024-01-02T00:00:00Z'), limit: 5 });
    assert.deepEqual(d.callbacks, { onSuccess: false, onFailure: true });
    assert.deepEqual(d.topologicalOrder(), ['a', 'wait', 'm']);
    const a = (await d.tasks.get('a'))!;
    assert.deepEqual([a.retries, a.retryDelayMs, a.pool, a.callbacks.onRetry, a.callbacks.onSuccess], [2, 30_000, 'db', true, false]);
    assert.equal(a.position?.line, 7);
    const m = (await d.tasks.get('m'))!;
    assert.deepEqual(m.expand, { x: { kind: 'task', id: 'a', dagId: 'shape' } });
    assert.deepEqual([...m.upstream].sort(), ['a', 'wait']);
    assert.equal(m.triggerRule, 'all_done');
    const sensor = (await d.tasks.get('wait'))!.extra['sensor'] as { mode: string; timeoutMs: number; strategy: { kind: string; next: () => unknown } };
    assert.deepEqual([sensor.mode, sensor.timeoutMs, sensor.strategy.kind], ['reschedule', 300_000, 'custom']);
    assert.throws(() => sensor.strategy.next(), /the function "every" runs only in a task's process, not here/);
    // The scheduler's process never imported the DAG file: no DAG was defined here.
    const { endCollecting } = await import('../../src/runtime/dag/dag.ts');
    assert.deepEqual(endCollecting(), []);
    assert.equal(d.bundle.path.startsWith(join(ws.root, '.hangar', 'cache', 'dags')), true);
    assert.match(d.bundle.hash, /^[0-9a-f]{64}$/);
  } finally {
    await rt.close();
    ws.remove();
  }
});

test('a run started before an edit finishes on the code it was parsed from (the bundle), in worker processes', async () => {
  const v = (n: number) => `import { dag } from 'hangar';
export const d = dag({ id: 'versioned' });
const a = d.task('a', async () => { await new Promise((r) => setTimeout(r, 800)); return ${n}; });
d.task('b', { inputs: { x: a } }, async (_c, { x }) => ({ x, code: ${n} }));
`;
  const ws = tempWorkspace({ 'dags/versioned.ts': v(1) });
  const rt = await Runtime.open(ws.root, { config: { executor: 'isolated' } });
  try {
    await rt.loadDags();
    const run = await rt.triggerRun('versioned');
    const done = rt.executeRun('versioned', run.run_id);
    await new Promise((r) => setTimeout(r, 200));
    ws.write('dags/versioned.ts', v(2));
    await rt.loadDags();
    await done;
    const row = (await rt.store.xcoms.get('versioned', run.run_id, 'b', 'return_value', -1))!;
    assert.ok(row);
    const value = await rt.backend.deserialize({ dagId: 'versioned', runId: run.run_id, taskId: 'b', mapIndex: -1, key: 'return_value' }, row.value);
    assert.deepEqual(value, { x: 1, code: 1 }, 'both tries ran the first version');
  } finally {
    await rt.close();
    ws.remove();
  }
});

test('callbacks run in a task worker, not in the scheduler: a task callback prints into its try’s log; a DAG callback runs with its run', async () => {
  const ws = tempWorkspace({
    'dags/cb.ts': `import { dag } from 'hangar';
import { appendFileSync } from 'node:fs';
export const d = dag({
  id: 'cbw',
  onFailure: (c) => { appendFileSync(${JSON.stringify('MARKER')}, 'dag:' + c.state + ':' + process.pid + '\\n'); },
});
d.task('bad', {
  onFailure: (c) => { console.log('cleanup notice for ' + c.taskId + ' in pid ' + process.pid); throw new Error('callback bug'); },
}, async () => { throw new Error('nope'); });
`.replace('MARKER', '__MARKER__'),
  });
  const marker = join(ws.root, 'dag-callback.txt');
  ws.write('dags/cb.ts', readFileSync(join(ws.dags, 'cb.ts'), 'utf8').replace('__MARKER__', marker));
  const rt = await Runtime.open(ws.root, { config: { executor: 'isolated' } });
  const warnings: string[] = [];
  rt.events.on('warning', (w) => warnings.push(w.message));
  try {
    await rt.loadDags();
    const run = await rt.runDag('cbw');
    assert.equal(run.state, 'failed');
    const log = readFileSync((await rt.store.tasks.listTries('cbw', run.run_id, 'bad', -1))[0]!.log_path!, 'utf8');
    const m = /cleanup notice for bad in pid (\d+)/.exec(log);
    assert.ok(m, log);
    assert.notEqual(Number(m[1]), process.pid, 'the callback ran in a worker process');
    assert.match(log, /onFailure callback failed \(ignored\): Error: callback bug/);
    assert.ok(warnings.some((w) => /onFailure callback of task "bad" failed \(ignored\): Error: callback bug/.test(w)), warnings.join('\n'));
    const dagCallback = readFileSync(marker, 'utf8');
    assert.match(dagCallback, /^dag:failed:\d+\n$/);
    assert.notEqual(Number(/:(\d+)\n/.exec(dagCallback)![1]), process.pid);
  } finally {
    await rt.close();
    ws.remove();
  }
});
