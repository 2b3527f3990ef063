/**
 * `grid/data` (the grid view's one request) over real JSON-RPC: the runtime
 * server as a child process, a fresh workspace per test, real runs.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node.js';
import type { MessageConnection } from 'vscode-jsonrpc/node.js';
import * as P from '../../src/protocol/runtime.ts';
import { tempWorkspace } from '../helpers/workspace.ts';
import { GRID_STATES, NO_TI } from '../../src/protocol/webviews/grid-values.ts';

const SERVER = resolve(import.meta.dirname, '..', '..', 'src', 'runtime', 'server', 'main.ts');

const DAG = `import { dag } from 'hangar';
export const d = dag({ id: 'fan', schedule: null });
const list = d.task('list', async () => ['a', 'b', 'c']);
const each = d.task('each', { expand: { item: list } }, async (ctx, { item }) => {
  if (ctx.mapIndex === 1 && ctx.params.fail) throw new Error('no ' + item);
  return item;
});
d.task('after', { inputs: { all: each } }, async (_ctx, { all }) => all.length);
`;

interface Server {
  child: ChildProcess;
  rpc: MessageConnection;
  workspace: string;
  notes: { method: string; params: any }[];
}
const live: Server[] = [];

const FLAKY = `import { dag } from 'hangar';
export const d = dag({ id: 'flaky', schedule: null });
const a = d.task('a', async () => 1);
const b = d.task('b', { retries: 1, retryDelay: 0.3 }, async (ctx) => {
  if (ctx.tryNumber === 1) throw new Error('first try fails');
  await new Promise((r) => setTimeout(r, 100));
  return 2;
});
const c = d.task('c', async () => 3);
d.task('side', async () => 4);
a.before(b);
b.before(c);
`;

async function startServer(executor: 'in-process' | 'isolated' = 'in-process'): Promise<Server> {
  // On the suite's store (SQLite, or PostgreSQL under HANGAR_TEST_STORE=postgres).
  const workspace = tempWorkspace({ 'dags/fan.ts': DAG, 'dags/flaky.ts': FLAKY }, { executor }).root;
  const child = spawn(process.execPath, [SERVER], { cwd: workspace, stdio: ['pipe', 'pipe', 'pipe'] });
  const rpc = createMessageConnection(
    new StreamMessageReader(child.stdout!),
    new StreamMessageWriter(child.stdin!),
  );
  const notes: Server['notes'] = [];
  rpc.onNotification((method, params) => notes.push({ method, params }));
  rpc.listen();
  const s = { child, rpc, workspace, notes };
  live.push(s);
  await rpc.sendRequest(P.Initialize, { workspace, config: {} });
  return s;
}

afterEach(async () => {
  for (const s of live.splice(0)) {
    const exited = new Promise((r) => s.child.once('exit', r));
    await s.rpc.sendRequest(P.Shutdown).catch(() => undefined);
    await exited;
    s.rpc.dispose();
    await rm(s.workspace, { recursive: true, force: true });
  }
});

async function until<T>(what: string, fn: () => T | undefined, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function runToEnd(
  s: Server,
  conf: Record<string, unknown>,
  logicalDate: string,
  dagId = 'fan',
): Promise<string> {
  const run = await s.rpc.sendRequest(P.DagRun, { dagId, conf, logicalDate });
  await until(`run ${run.runId}`, () =>
    s.notes.find(
      (n) =>
        n.method === 'run/didChange' &&
        n.params.runId === run.runId &&
        (n.params.state === 'success' || n.params.state === 'failed'),
    ),
  );
  return run.runId;
}

const code = (s: string) => GRID_STATES.indexOf(s as never);

describe('grid/data over JSON-RPC', { timeout: 120_000 }, () => {
  test("runs oldest → newest by the DAG's tasks; a mapped task summarised with counts, expanded per map index; pages", async () => {
    const s = await startServer();
    const ok = await runToEnd(s, {}, '2024-01-01T00:00:00Z');
    const bad = await runToEnd(s, { fail: true }, '2024-01-02T00:00:00Z');
    const g = await s.rpc.sendRequest(P.GridData, { dagId: 'fan' });
    assert.equal(g.totalRuns, 2);
    assert.deepEqual(
      g.runs.map((r) => [r.runId, r.state, r.runType]),
      [
        [ok, 'success', 'manual'],
        [bad, 'failed', 'manual'],
      ],
    );
    assert.deepEqual(
      g.rows.map((r) => [r.taskId, r.mapIndex, r.mapped]),
      [
        ['list', null, false],
        ['each', null, true],
        ['after', null, false],
      ],
    );
    const cell = (row: number, col: number) => row * g.runs.length + col;
    assert.deepEqual(
      g.states.map((c) => (c === NO_TI ? '-' : GRID_STATES[c])),
      ['success', 'success', 'success', 'failed', 'success', 'upstream_failed'],
    );
    assert.deepEqual(g.tries, [1, 1, 1, 1, 1, 0], 'upstream_failed was never tried');
    assert.ok(
      g.durations.slice(0, 5).every((d) => typeof d === 'number' && d >= 0),
      'every tried cell has a duration',
    );
    assert.deepEqual(g.mapCounts, { each: 3 });
    const failedCounts = g.counts.find((c) => c.cell === cell(1, 1))!.counts;
    assert.equal(failedCounts[code('success')], 2);
    assert.equal(failedCounts[code('failed')], 1);
    assert.equal(g.counts.find((c) => c.cell === cell(1, 0))!.counts[code('success')], 3);

    const x = await s.rpc.sendRequest(P.GridData, { dagId: 'fan', expand: ['each'] });
    assert.deepEqual(
      x.rows.map((r) => `${r.taskId}${r.mapIndex === null ? '' : `[${r.mapIndex}]`}`),
      ['list', 'each', 'each[0]', 'each[1]', 'each[2]', 'after'],
    );
    // each[1] of the second run failed; the others succeeded.
    assert.deepEqual(
      x.states.slice(2 * 2, 5 * 2).map((c) => GRID_STATES[c]),
      ['success', 'success', 'success', 'failed', 'success', 'success'],
    );

    const older = await s.rpc.sendRequest(P.GridData, { dagId: 'fan', limit: 1, offset: 1 });
    assert.deepEqual(
      older.runs.map((r) => r.runId),
      [ok],
    );
    assert.equal(older.totalRuns, 2);
    const newest = await s.rpc.sendRequest(P.GridData, { dagId: 'fan', limit: 1 });
    assert.deepEqual(
      newest.runs.map((r) => r.runId),
      [bad],
    );
    const none = await s.rpc.sendRequest(P.GridData, { dagId: 'fan', offset: 5 });
    assert.deepEqual([none.runs.length, none.states.length, none.rows.length], [0, 0, 3]);
  });

  test('a task removed from the DAG keeps its row (kind "removed"); bad params and unknown DAGs are refused by name', async () => {
    const s = await startServer();
    await runToEnd(s, {}, '2024-01-01T00:00:00Z');
    await writeFile(join(s.workspace, 'dags', 'fan.ts'), DAG.replace(/d\.task\('after'[^\n]*\n/, ''));
    await s.rpc.sendRequest(P.DagList, { reload: true });
    const g = await s.rpc.sendRequest(P.GridData, { dagId: 'fan' });
    assert.deepEqual(
      g.rows.map((r) => [r.taskId, r.kind]),
      [
        ['list', 'typescript'],
        ['each', 'typescript'],
        ['after', 'removed'],
      ],
    );
    assert.equal(GRID_STATES[g.states[2]!], 'success');

    const err = async (p: Promise<unknown>) =>
      p.then(
        () => assert.fail('expected an error'),
        (e: { code: number; message: string }) => e,
      );
    const limit = await err(s.rpc.sendRequest(P.GridData, { dagId: 'fan', limit: 0 }));
    assert.equal(limit.code, P.INVALID_PARAMS);
    assert.equal(limit.message, 'grid/data: "limit" must be a whole number from 1 to 1000, not number 0');
    const expand = await err(s.rpc.sendRequest(P.GridData, { dagId: 'fan', expand: 'each' as never }));
    assert.equal(expand.message, 'grid/data: "expand" must be an array of task ids');
    const unknown = await err(s.rpc.sendRequest(P.GridData, { dagId: 'nope' }));
    assert.equal(unknown.code, P.NOT_FOUND);
    assert.equal(unknown.message, 'No DAG "nope" (found: fan, flaky)');
  });
});

describe('grid/data of a DAG with task groups', { timeout: 120_000 }, () => {
  test("each row names its task's innermost group, and the DAG's groups come along (the webview folds them)", async () => {
    const s = await startServer();
    await writeFile(
      join(s.workspace, 'dags', 'grouped.ts'),
      `import { dag } from 'hangar';
export const d = dag({ id: 'grouped', schedule: null });
const start = d.task('start', async () => 1);
const g = d.group('extract', (e) => {
  e.task('a', async () => 2);
  e.group('inner', (i) => i.task('deep', async () => 3));
});
d.chain(start, g);
`,
    );
    await s.rpc.sendRequest(P.DagList, { reload: true });
    await runToEnd(s, {}, '2024-01-01T00:00:00Z', 'grouped');
    const g = await s.rpc.sendRequest(P.GridData, { dagId: 'grouped' });
    assert.deepEqual(
      g.rows.map((r) => [r.taskId, r.group ?? null]),
      [
        ['start', null],
        ['extract.a', 'extract'],
        ['extract.inner.deep', 'extract.inner'],
      ],
    );
    assert.deepEqual(g.groups, [
      { groupId: 'extract', label: 'extract', parent: null },
      { groupId: 'extract.inner', label: 'inner', parent: 'extract' },
    ]);
    assert.deepEqual(g.states, [code('success'), code('success'), code('success')]);
    assert.equal(
      'groups' in (await s.rpc.sendRequest(P.GridData, { dagId: 'fan' })),
      false,
      'a DAG without groups: no groups',
    );
  });
});

describe('gantt/data over JSON-RPC', { timeout: 120_000 }, () => {
  test("tries as queued and running segments (worker processes), a retry's wait between them, the critical path", async () => {
    const s = await startServer('isolated');
    const runId = await runToEnd(s, {}, '2024-01-01T00:00:00Z', 'flaky');
    const g = await s.rpc.sendRequest(P.GanttData, { dagId: 'flaky', runId });
    assert.equal(g.runState, 'success');
    const rows = Object.fromEntries(g.rows.map((r, i) => [r.taskId, { ...r, i }]));
    assert.deepEqual(
      Object.values(rows)
        .map((r) => [r.taskId, r.state, r.tries])
        .sort(),
      [
        ['a', 'success', 1],
        ['b', 'success', 2],
        ['c', 'success', 1],
        ['side', 'success', 1],
      ],
    );
    assert.ok(rows.a!.i < rows.b!.i && rows.b!.i < rows.c!.i, "rows in the DAG's order");
    const b = g.segments.filter((x) => x.row === rows.b!.i);
    assert.deepEqual(
      b.filter((x) => x.kind !== 'queued').map((x) => [x.kind, x.tryNumber, x.state]),
      [
        ['running', 1, 'failed'],
        ['retry', 2, 'failed'],
        ['running', 2, 'success'],
      ],
    );
    const retry = b.find((x) => x.kind === 'retry')!;
    assert.ok(
      retry.endMs! - retry.startMs >= 250,
      `the retry waited its delay (${retry.endMs! - retry.startMs} ms)`,
    );
    // Handed to a worker process: a try is queued until the worker starts it (running_at), then running.
    const queued = g.segments.filter((x) => x.kind === 'queued');
    assert.ok(queued.length >= 1, 'the first try waited for a worker process to start');
    for (const q of queued) {
      const run = g.segments.find(
        (x) => x.row === q.row && x.tryNumber === q.tryNumber && x.kind === 'running',
      )!;
      assert.equal(run.startMs, q.endMs, 'running starts when queued ends');
    }
    assert.ok(g.segments.every((x) => x.endMs !== null && x.endMs >= x.startMs));
    assert.deepEqual(g.criticalPath, [
      { taskId: 'a', mapIndex: -1 },
      { taskId: 'b', mapIndex: -1 },
      { taskId: 'c', mapIndex: -1 },
    ]);
    assert.deepEqual(
      ['a', 'b', 'c', 'side'].map((id) => rows[id]!.critical),
      [true, true, true, false],
      'side ended before c, so it did not decide the end',
    );
    const missing = await s.rpc.sendRequest(P.GanttData, { dagId: 'flaky', runId: 'nope' }).then(
      () => assert.fail('expected an error'),
      (e: { code: number; message: string }) => e,
    );
    assert.equal(missing.code, P.NOT_FOUND);
    assert.equal(missing.message, 'DAG "flaky" has no run "nope"');
  });
});
