import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { testRuntime } from '../helpers/runtime.ts';
import { openWorkspaceStore } from '../helpers/store.ts';
import { tempWorkspace } from '../helpers/workspace.ts';
import { hangar, HANGAR_BIN } from '../helpers/cli.ts';

const FAULTS = `import { dag } from 'hangar';
export const d = dag({ id: 'faults' });
d.task('throws_string', async () => { throw 'a plain string'; });
d.task('throws_object', async () => { throw { code: 42, reason: 'object' }; });
d.task('hangs', { executionTimeout: 0.5 }, async () => { for (;;) {} });
d.task('exits', async () => { console.log('about to exit'); process.exit(1); });
d.task('oom', async () => { const hog: string[][] = []; for (;;) hog.push(new Array(1e5).fill('x'.repeat(32))); });
d.task('fine', async () => 'still fine');
`;

test('isolation: a task that throws a non-Error, hangs, exits or exhausts memory fails alone, with the reason', async () => {
  const t = await testRuntime(
    { 'dags/faults.ts': FAULTS },
    { config: { executor: 'isolated', parallelism: 3, workerMaxOldSpaceMb: 64 } },
  );
  try {
    const run = await t.rt.runDag('faults');
    const ti = async (id: string) => (await t.rt.store.tasks.get('faults', run.run_id, id))!;
    assert.equal((await ti('fine')).state, 'success', 'the runtime carried on');
    for (const id of ['throws_string', 'throws_object', 'hangs', 'exits', 'oom'])
      assert.equal((await ti(id)).state, 'failed', id);
    assert.match((await ti('throws_string')).error!, /non-Error value: "a plain string"/);
    assert.match((await ti('throws_object')).error!, /non-Error value: \{"code":42,"reason":"object"\}/);
    assert.match((await ti('hangs')).error!, /timed out after 0\.5s/);
    assert.match((await ti('exits')).error!, /exited with code 1/);
    assert.match((await ti('oom')).error!, /was killed by SIGABRT: it ran out of memory/);
    const exitLog = readFileSync(
      (await t.rt.store.tasks.listTries('faults', run.run_id, 'exits'))[0]!.log_path!,
      'utf8',
    );
    assert.match(exitLog, /INFO - about to exit/);
    assert.match(exitLog, /ERROR - The task's process \(pid \d+\) exited with code 1/);
    assert.notEqual((await ti('exits')).pid, process.pid, 'tries ran in worker processes');
  } finally {
    await t.close();
  }
});

const SLOW = `import { dag } from 'hangar';
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
export const d = dag({ id: 'slow_chain' });
const first = d.task('first', async () => 1);
const second = d.task('second', { retries: 1, retryDelay: 0 }, async (ctx) => {
  appendFileSync(join(ctx.workspace, 'second.log'), 'try ' + ctx.tryNumber + '\\n');
  writeFileSync(join(ctx.workspace, 'second.started'), String(process.pid));
  if (ctx.tryNumber === 1) await new Promise((r) => setTimeout(r, 60_000));
  return 'done on try ' + ctx.tryNumber;
});
const third = d.task('third', async () => 3);
first.before(second).before(third);
void existsSync;
`;

async function waitFor(cond: () => boolean, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('crash recovery: the runtime killed with SIGKILL mid-run; the next start fails the orphaned try and --resume finishes the run', async () => {
  const ws = tempWorkspace({ 'dags/slow.ts': SLOW });
  try {
    const child = spawn(
      process.execPath,
      [HANGAR_BIN, 'run', 'slow_chain', '--date', '2024-05-01', '--workspace', ws.root],
      { stdio: 'ignore' },
    );
    await waitFor(() => existsSync(join(ws.root, 'second.started')));
    const workerPid = Number(readFileSync(join(ws.root, 'second.started'), 'utf8'));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const runId = 'manual__2024-05-01T00:00:00+00:00';
    const store = await openWorkspaceStore(ws.root);
    assert.equal(
      (await store.tasks.get('slow_chain', runId, 'second'))!.state,
      'running',
      'left running by the dead runtime',
    );
    await store.close();
    // The worker notices its runtime is gone and exits by itself.
    await waitFor(() => {
      try {
        process.kill(workerPid, 0);
        return false;
      } catch {
        return true;
      }
    });
    const resumed = hangar(['run', 'slow_chain', '--resume', runId, '--workspace', ws.root]);
    assert.equal(resumed.code, 0, resumed.stdout + resumed.stderr);
    assert.match(resumed.stdout, /Recovered task "second"/);
    const after = await openWorkspaceStore(ws.root);
    try {
      const tries = await after.tasks.listTries('slow_chain', runId, 'second');
      assert.deepEqual(
        tries.map((x) => x.state),
        ['failed', 'success'],
      );
      assert.match(tries[0]!.error!, /stopped before it ended/);
      assert.equal((await after.runs.get('slow_chain', runId))!.state, 'success');
      assert.equal((await after.tasks.get('slow_chain', runId, 'third'))!.state, 'success');
      assert.equal(readFileSync(join(ws.root, 'second.log'), 'utf8'), 'try 1\ntry 2\n');
    } finally {
      await after.close();
    }
  } finally {
    ws.remove();
  }
});

test('crash recovery: without retries left, the orphaned try fails and its downstream is upstream_failed — nothing stays running', async () => {
  const ws = tempWorkspace({ 'dags/slow.ts': SLOW.replace('retries: 1', 'retries: 0') });
  try {
    const child = spawn(
      process.execPath,
      [HANGAR_BIN, 'run', 'slow_chain', '--date', '2024-05-02', '--workspace', ws.root],
      { stdio: 'ignore' },
    );
    await waitFor(() => existsSync(join(ws.root, 'second.started')));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const runId = 'manual__2024-05-02T00:00:00+00:00';
    const resumed = hangar(['run', 'slow_chain', '--resume', runId, '--workspace', ws.root]);
    assert.equal(resumed.code, 1);
    const store = await openWorkspaceStore(ws.root);
    try {
      const states = (await store.tasks.list('slow_chain', runId)).map((x) => [x.task_id, x.state]);
      assert.deepEqual(states, [
        ['first', 'success'],
        ['second', 'failed'],
        ['third', 'upstream_failed'],
      ]);
      assert.equal((await store.runs.get('slow_chain', runId))!.state, 'failed');
    } finally {
      await store.close();
    }
  } finally {
    ws.remove();
  }
});

test('two runtimes on one store never run the same try twice', async () => {
  const n = 24;
  const ws = tempWorkspace({
    'dags/wide.ts': `import { dag } from 'hangar';
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
export const d = dag({ id: 'wide' });
const root = d.task('root', async () => 0);
for (let i = 0; i < ${n}; i++) {
  root.before(d.task('leaf_' + i, async (ctx) => {
    appendFileSync(join(ctx.workspace, 'ran.log'), ctx.taskId + ' ' + process.ppid + '\\n');
    await new Promise((r) => setTimeout(r, 20));
  }));
}
`,
  });
  try {
    // Create the run without running it, then let two runtimes race to run it.
    const created = hangar(['trigger', 'wide', '--date', '2024-06-01', '--workspace', ws.root]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, /Created run manual__2024-06-01T00:00:00\+00:00 of wide \(queued\)/);
    const runId = 'manual__2024-06-01T00:00:00+00:00';
    const racers = [0, 1].map(
      () =>
        new Promise<{ code: number | null; out: string }>((resolve) => {
          const c = spawn(
            process.execPath,
            [HANGAR_BIN, 'run', 'wide', '--resume', runId, '--workspace', ws.root],
            { env: { ...process.env, NO_COLOR: '1' } },
          );
          let out = '';
          c.stdout.on('data', (d) => (out += d));
          c.stderr.on('data', (d) => (out += d));
          // A racer that never ends is a failure to report, not a hung suite.
          const guard = setTimeout(() => {
            out += '\n[test] killed after 90 s';
            c.kill('SIGKILL');
          }, 90_000);
          c.on('exit', (code) => {
            clearTimeout(guard);
            resolve({ code, out });
          });
        }),
    );
    const results = await Promise.all(racers);
    for (const r of results) assert.equal(r.code, 0, r.out);
    const lines = readFileSync(join(ws.root, 'ran.log'), 'utf8').trim().split('\n');
    const tasks = lines.map((l) => l.split(' ')[0]);
    assert.equal(tasks.length, n, 'each leaf ran exactly once');
    assert.equal(new Set(tasks).size, n);
    const runners = new Set(lines.map((l) => l.split(' ')[1]));
    const store = await openWorkspaceStore(ws.root);
    try {
      for (const ti of await store.tasks.list('wide', runId)) assert.equal(ti.try_number, 1, ti.task_id);
      assert.equal((await store.runs.get('wide', runId))!.state, 'success');
    } finally {
      await store.close();
    }
    assert.ok(runners.size >= 1);
  } finally {
    ws.remove();
  }
});
