/**
 * The runtime server as the extension meets it: a child process speaking
 * JSON-RPC over stdio (src/runtime/server/main.ts), driven through the typed
 * protocol constants, in a fresh temp workspace per test.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node.js';
import type { MessageConnection } from 'vscode-jsonrpc/node.js';
import * as P from '../../src/protocol/runtime.ts';
import { tempWorkspace } from '../helpers/workspace.ts';
import { HANGAR_BIN } from '../helpers/cli.ts';
import { openWorkspaceStore } from '../helpers/store.ts';

const SERVER = resolve(import.meta.dirname, '..', '..', 'src', 'runtime', 'server', 'main.ts');

const DAG = `import { dag } from 'hangar';
export const etl = dag({ id: 'etl', schedule: '@daily', startDate: '2024-01-01' });
const extract = etl.task('extract', async (ctx) => { console.log('extracting for', ctx.ds); return { rows: 2 }; });
const load = etl.task('load', { inputs: { data: extract } }, async (_ctx, { data }) => {
  if (process.env.HANGAR_TEST_FAIL_LOAD === '1') throw new Error('load exploded');
  return data.rows;
});
etl.task('slow', { inputs: { n: load } }, async (ctx) => { await new Promise((r) => setTimeout(r, Number(ctx.params.sleepMs ?? 0))); return 'done'; });
`;

interface Server {
  child: ChildProcess;
  rpc: MessageConnection;
  workspace: string;
  notes: { method: string; params: any }[];
  stderr: string[];
}

const live: Server[] = [];

async function startServer(
  files: Record<string, string> = { 'dags/etl.ts': DAG },
  env: Record<string, string> = {},
): Promise<Server> {
  // On the suite's store (SQLite, or PostgreSQL under HANGAR_TEST_STORE=postgres).
  const workspace = tempWorkspace(files, { executor: 'in-process' }).root;
  const child = spawn(process.execPath, [SERVER], {
    cwd: workspace,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const stderr: string[] = [];
  child.stderr!.on('data', (c: Buffer) => stderr.push(c.toString()));
  const rpc = createMessageConnection(
    new StreamMessageReader(child.stdout!),
    new StreamMessageWriter(child.stdin!),
  );
  const notes: Server['notes'] = [];
  rpc.onNotification((method, params) => notes.push({ method, params }));
  rpc.listen();
  const s = { child, rpc, workspace, notes, stderr };
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

async function until<T>(
  what: string,
  fn: () => T | undefined | Promise<T | undefined>,
  ms = 20_000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function runEnded(s: Server, runId: string): Promise<any> {
  return until(
    `run ${runId} to end`,
    () =>
      s.notes.find(
        (n) =>
          n.method === 'run/didChange' &&
          n.params.runId === runId &&
          (n.params.state === 'success' || n.params.state === 'failed'),
      )?.params,
  );
}

async function rpcError(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code: number; message: string };
  }
  assert.fail('expected the request to fail');
}

describe('runtime server over JSON-RPC', { timeout: 120_000 }, () => {
  test('a DAG file that spins at import never reaches the server: it keeps answering, reports the file, and runs the other DAGs', async () => {
    const s = await startServer({
      'hangar.json': JSON.stringify({ executor: 'in-process', dagFileTimeout: 3 }),
      'dags/etl.ts': DAG,
      'dags/spin.ts': `import { dag } from 'hangar';\nexport const d = dag({ id: 'spin' });\nwhile (true) {}\n`,
    });
    let listed = false;
    const listing = s.rpc.sendRequest(P.DagList, {}).finally(() => (listed = true));
    // While the spinning file is being parsed (and then stopped), other requests are answered.
    let answered = 0;
    while (!listed) {
      const started = Date.now();
      await s.rpc.sendRequest(P.RunList, {});
      assert.ok(Date.now() - started < 2000, 'run/list answered while a DAG file spins');
      answered++;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(answered >= 5, `the server answered ${answered} requests while parsing`);
    const list = await listing;
    assert.deepEqual(
      list.dags.map((d) => d.dagId),
      ['etl'],
    );
    assert.equal(list.errors.length, 1);
    assert.equal(list.errors[0]!.file, join(s.workspace, 'dags', 'spin.ts'));
    assert.match(
      list.errors[0]!.message,
      /its import ran for more than 3 s \(dagFileTimeout\) without giving the event loop a turn/,
    );
    assert.equal(list.timings.length, 2);
    const run = await s.rpc.sendRequest(P.DagRun, { dagId: 'etl' });
    assert.equal((await runEnded(s, run.runId)).state, 'success');
    // A reload with nothing changed does not parse the spinning file again.
    const again = await s.rpc.sendRequest(P.DagList, { reload: true });
    assert.deepEqual(
      again.timings.map((t) => t.parsed),
      [false, false],
    );
    assert.equal(again.errors.length, 1);
  });

  test('lists DAGs with tasks in order, kinds and positions', async () => {
    const s = await startServer();
    const list = await s.rpc.sendRequest(P.DagList, {});
    assert.deepEqual(list.errors, []);
    assert.equal(list.dags.length, 1);
    const etl = list.dags[0]!;
    assert.equal(etl.dagId, 'etl');
    assert.equal(etl.file, join(s.workspace, 'dags', 'etl.ts'));
    assert.deepEqual(etl.position && { file: etl.position.file, line: etl.position.line }, {
      file: etl.file,
      line: 2,
    });
    assert.deepEqual(
      etl.tasks.map((t) => [t.taskId, t.kind, t.upstream]),
      [
        ['extract', 'typescript', []],
        ['load', 'typescript', ['extract']],
        ['slow', 'typescript', ['load']],
      ],
    );
    assert.equal(etl.tasks[1]!.position?.line, 4);
  });

  test('validates params and names what was wrong', async () => {
    const s = await startServer();
    const bad = await rpcError(s.rpc.sendRequest(P.DagRun, { dagId: 42 } as never));
    assert.equal(bad.code, P.INVALID_PARAMS);
    assert.equal(bad.message, 'dag/run: "dagId" must be a non-empty string, not number 42');
    const missing = await rpcError(s.rpc.sendRequest(P.TaskList, { dagId: 'etl' } as never));
    assert.equal(missing.message, 'task/list: "runId" must be a non-empty string, not missing');
    const notObject = await rpcError(s.rpc.sendRequest('dag/run', [1, 2]));
    assert.equal(notObject.message, 'dag/run: params must be an object, not an array');
    const date = await rpcError(s.rpc.sendRequest(P.DagRun, { dagId: 'etl', logicalDate: 'yesterday' }));
    assert.equal(date.message, 'dag/run: "logicalDate" must be an ISO date, not "yesterday"');
    const conf = await rpcError(s.rpc.sendRequest(P.DagRun, { dagId: 'etl', conf: [] as never }));
    assert.match(conf.message, /"conf" must be a JSON object, not an array/);
    const limit = await rpcError(s.rpc.sendRequest(P.RunList, { limit: 0 }));
    assert.match(limit.message, /"limit" must be a whole number from 1 to 500, not number 0/);
    const mark = await rpcError(
      s.rpc.sendRequest(P.TaskMark, { dagId: 'etl', runId: 'x', taskId: 'a', state: 'done' as never }),
    );
    assert.equal(mark.code, P.NOT_FOUND, 'the run is checked first');
    const unknown = await rpcError(s.rpc.sendRequest(P.DagRun, { dagId: 'nope' }));
    assert.equal(unknown.code, P.NOT_FOUND);
    assert.equal(unknown.message, 'No DAG "nope" (found: etl)');
    const again = await rpcError(s.rpc.sendRequest(P.Initialize, { workspace: s.workspace, config: {} }));
    assert.match(again.message, /already initialised/);
  });

  test('a run: notifications follow the store, in order, with logs; the log of a try is readable', async () => {
    const s = await startServer();
    await s.rpc.sendRequest(P.DagList, {});
    const run = await s.rpc.sendRequest(P.DagRun, { dagId: 'etl', conf: { sleepMs: 1 } });
    assert.equal(run.state, 'queued');
    assert.deepEqual(run.conf, { sleepMs: 1 });
    const end = await runEnded(s, run.runId);
    assert.equal(end.state, 'success');
    const tasks = s.notes
      .filter((n) => n.method === 'task/didChange' && n.params.runId === run.runId)
      .map((n) => `${n.params.taskId}:${n.params.state}`);
    for (const t of ['extract', 'load', 'slow'])
      assert.ok(tasks.indexOf(`${t}:running`) < tasks.indexOf(`${t}:success`), tasks.join(' '));
    assert.ok(tasks.indexOf('extract:success') < tasks.indexOf('load:running'));
    const log = s.notes.find(
      (n) =>
        n.method === 'log/didAppend' && n.params.taskId === 'extract' && /extracting for/.test(n.params.line),
    );
    assert.ok(log, 'console output of a task arrives as log/didAppend');
    const tis = await s.rpc.sendRequest(P.TaskList, { dagId: 'etl', runId: run.runId });
    assert.deepEqual(
      tis.map((t) => [t.taskId, t.state, t.tryNumber]),
      [
        ['extract', 'success', 1],
        ['load', 'success', 1],
        ['slow', 'success', 1],
      ],
    );
    const text = await s.rpc.sendRequest(P.TaskLog, { dagId: 'etl', runId: run.runId, taskId: 'extract' });
    assert.equal(text.tryNumber, 1);
    assert.equal(text.running, false);
    assert.match(text.text, /extracting for \d{4}-\d{2}-\d{2}/);
    const runs = await s.rpc.sendRequest(P.RunList, { dagId: 'etl' });
    assert.equal(runs[0]!.runId, run.runId);
    assert.equal(runs[0]!.state, 'success');
    const xcoms = await s.rpc.sendRequest(P.XComList, { dagId: 'etl', runId: run.runId, taskId: 'extract' });
    assert.deepEqual(
      xcoms.map((x) => [x.key, JSON.parse(x.preview)]),
      [['return_value', { rows: 2 }]],
    );
  });

  test('a failing task, then clear with downstream re-runs it; mark changes a state by hand', async () => {
    const s = await startServer(undefined, { HANGAR_TEST_FAIL_LOAD: '1' });
    const run = await s.rpc.sendRequest(P.DagRun, { dagId: 'etl' });
    assert.equal((await runEnded(s, run.runId)).state, 'failed');
    const tis = await s.rpc.sendRequest(P.TaskList, { dagId: 'etl', runId: run.runId });
    assert.deepEqual(
      tis.map((t) => t.state),
      ['success', 'failed', 'upstream_failed'],
    );
    assert.match(tis[1]!.error ?? '', /load exploded/);
    const log = await s.rpc.sendRequest(P.TaskLog, { dagId: 'etl', runId: run.runId, taskId: 'load' });
    assert.match(log.text, /load exploded/);
    s.notes.length = 0;
    const cleared = await s.rpc.sendRequest(P.TaskClear, {
      dagId: 'etl',
      runId: run.runId,
      taskIds: ['load'],
      downstream: true,
    });
    assert.deepEqual(cleared.cleared.sort(), ['load', 'slow']);
    assert.equal(
      (await runEnded(s, run.runId)).state,
      'failed',
      'still failing: the environment did not change',
    );
    const after = await s.rpc.sendRequest(P.TaskList, { dagId: 'etl', runId: run.runId });
    assert.equal(after[1]!.tryNumber, 2);
    const marked = await s.rpc.sendRequest(P.TaskMark, {
      dagId: 'etl',
      runId: run.runId,
      taskId: 'load',
      state: 'success',
    });
    assert.equal(marked.marked, 1);
    assert.ok(
      s.notes.some(
        (n) => n.method === 'task/didChange' && n.params.taskId === 'load' && n.params.state === 'success',
      ),
    );
    const noTask = await rpcError(
      s.rpc.sendRequest(P.TaskClear, { dagId: 'etl', runId: run.runId, taskIds: ['ghost'] }),
    );
    assert.equal(noTask.message, 'DAG "etl" has no task "ghost"');
  });

  test('run/cancel stops an active run', async () => {
    const s = await startServer();
    const run = await s.rpc.sendRequest(P.DagRun, { dagId: 'etl', conf: { sleepMs: 60_000 } });
    await until('slow to run', () =>
      s.notes.find(
        (n) => n.method === 'task/didChange' && n.params.taskId === 'slow' && n.params.state === 'running',
      ),
    );
    const t = Date.now();
    assert.deepEqual(await s.rpc.sendRequest(P.RunCancel, { dagId: 'etl', runId: run.runId }), {
      cancelled: true,
    });
    const end = await runEnded(s, run.runId);
    assert.equal(end.state, 'failed');
    assert.ok(Date.now() - t < 15_000, 'cancelled promptly');
  });

  test('dag/list reload picks up a broken file at its line, then its fix', async () => {
    const s = await startServer();
    await s.rpc.sendRequest(P.DagList, {});
    const broken = join(s.workspace, 'dags', 'broken.ts');
    await writeFile(
      broken,
      "import { dag } from 'hangar';\nexport const b = dag({ id: 'b' });\nconst x = ;\n",
    );
    const bad = await s.rpc.sendRequest(P.DagList, { reload: true });
    assert.deepEqual(
      bad.errors.map((e) => [e.file, e.line, e.column]),
      [[broken, 3, 11]],
    );
    assert.ok(
      s.notes.some((n) => n.method === 'dag/didLoad' && n.params.errors.length === 1),
      'reload is also announced',
    );
    await writeFile(
      broken,
      "import { dag } from 'hangar';\nexport const b = dag({ id: 'b' });\nb.task('t', async () => 1);\n",
    );
    const good = await s.rpc.sendRequest(P.DagList, { reload: true });
    assert.deepEqual(good.errors, []);
    assert.deepEqual(
      good.dags.map((d) => d.dagId),
      ['b', 'etl'],
    );
  });

  test('secrets/set validates keys without echoing them and never logs them', async () => {
    const s = await startServer();
    const key = Buffer.alloc(32, 9).toString('base64');
    const r = await s.rpc.sendRequest(P.SecretsSet, {
      xcomKeys: [{ id: 'k1', key }],
      primaryKeyId: 'k1',
      s3: { accessKeyId: 'AKIA123', secretAccessKey: 'very-secret-value' },
    });
    assert.deepEqual(r, { xcomKeyIds: ['k1'], s3: true });
    const short = Buffer.alloc(8, 1).toString('base64');
    const bad = await rpcError(s.rpc.sendRequest(P.SecretsSet, { xcomKeys: [{ id: 'k2', key: short }] }));
    assert.equal(bad.code, P.INVALID_PARAMS);
    assert.match(bad.message, /XCom key "k2" is not usable/);
    assert.ok(!bad.message.includes(short), 'the key material is not echoed');
    const badId = await rpcError(s.rpc.sendRequest(P.SecretsSet, { xcomKeys: [{ id: 'bad id', key }] }));
    assert.match(badId.message, /xcomKeys\[0\]\.id "bad id" is invalid/);
    const primary = await rpcError(
      s.rpc.sendRequest(P.SecretsSet, { xcomKeys: [{ id: 'k1', key }], primaryKeyId: 'k9' }),
    );
    assert.match(primary.message, /primaryKeyId "k9" is not among the keys \(k1\)/);
    // The runtime still works after the secrets swap, and the key made it to the XCom backend.
    const run = await s.rpc.sendRequest(P.DagRun, { dagId: 'etl' });
    assert.equal((await runEnded(s, run.runId)).state, 'success');
    const rotated = await s.rpc.sendRequest(P.XComRotate, {});
    assert.equal(rotated.targetKeyId, 'k1');
    const out = s.stderr.join('') + JSON.stringify(s.notes);
    for (const secret of [key, 'very-secret-value'])
      assert.ok(!out.includes(secret), 'a secret reached the output');
  });

  test('run/resume finishes a run a killed process left running (its try retried), and refuses one already running here', async () => {
    const RESUME = `import { dag } from 'hangar';
import { existsSync, writeFileSync } from 'node:fs';
export const d = dag({ id: 'resume', schedule: null, startDate: '2024-01-01' });
d.task('slow', { retries: 1, retryDelay: 0 }, async (ctx) => {
  writeFileSync('started-' + ctx.tryNumber, 'x');
  await new Promise((r) => setTimeout(r, ctx.tryNumber === 1 ? 60_000 : 1500));
  return ctx.tryNumber;
});
`;
    const s = await startServer({ 'dags/etl.ts': DAG, 'dags/resume.ts': RESUME });
    await s.rpc.sendRequest(P.DagList, {});
    // A `hangar run` in a terminal, killed (a crash) while its task runs.
    const cli = spawn(process.execPath, [HANGAR_BIN, 'run', 'resume', '--workspace', s.workspace, '-o', 'json'], {
      cwd: s.workspace,
      stdio: 'ignore',
    });
    await until('the first try to start', () => (existsSync(join(s.workspace, 'started-1')) ? true : undefined), 60_000);
    cli.kill('SIGKILL');
    await new Promise((r) => cli.once('exit', r));
    const runs = await s.rpc.sendRequest(P.RunList, { dagId: 'resume' });
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.state, 'running', 'left running by the killed process');
    const runId = runs[0]!.runId;
    const resumed = await s.rpc.sendRequest(P.RunResume, { dagId: 'resume', runId });
    assert.equal(resumed.runId, runId);
    await until('the second try to start', () => (existsSync(join(s.workspace, 'started-2')) ? true : undefined));
    const again = await rpcError(s.rpc.sendRequest(P.RunResume, { dagId: 'resume', runId }));
    assert.match(again.message, /Run ".*" of DAG "resume" is already running in this runtime/);
    assert.equal((await runEnded(s, runId)).state, 'success');
    const tis = await s.rpc.sendRequest(P.TaskList, { dagId: 'resume', runId });
    assert.deepEqual(
      tis.map((t) => [t.taskId, t.state, t.tryNumber]),
      [['slow', 'success', 2]],
    );
    const missing = await rpcError(s.rpc.sendRequest(P.RunResume, { dagId: 'resume', runId: 'nope' }));
    assert.match(missing.message, /nope/);
  });

  test('run/cancel of a run another process runs asks it through the store: it stops at its next heartbeat, its task killed; a queued run nobody took ends failed at once', async () => {
    const LONG = `import { dag } from 'hangar';
import { writeFileSync } from 'node:fs';
export const d = dag({ id: 'long', schedule: null, startDate: '2024-01-01' });
const t = d.task('long_task', async () => {
  writeFileSync('long-started', 'x');
  await new Promise((r) => setTimeout(r, 60_000));
  writeFileSync('long-finished', 'x');
});
t.before(d.task('after_long', async () => 'never'));
`;
    // Tasks in processes of their own (isolated), as by default: a cancelled try's process is killed.
    const s = await startServer({ 'hangar.json': JSON.stringify({ executor: 'isolated' }), 'dags/etl.ts': DAG, 'dags/long.ts': LONG });
    await s.rpc.sendRequest(P.DagList, {});
    const cli = spawn(process.execPath, [HANGAR_BIN, 'run', 'long', '--workspace', s.workspace], {
      cwd: s.workspace,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    cli.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    cli.stderr!.on('data', (c: Buffer) => (out += c.toString()));
    const exit = new Promise<number | null>((r) => cli.once('exit', (code) => r(code)));
    await until('the long task to start', () => (existsSync(join(s.workspace, 'long-started')) ? true : undefined), 60_000).catch((e: Error) => assert.fail(e.message + '\n' + out));
    const runId = (await s.rpc.sendRequest(P.RunList, { dagId: 'long' }))[0]!.runId;
    const asked = Date.now();
    assert.deepEqual(await s.rpc.sendRequest(P.RunCancel, { dagId: 'long', runId }), { cancelled: true, elsewhere: true });
    const code = await exit;
    assert.ok(Date.now() - asked < 20_000, `stopped within a heartbeat or two (${Date.now() - asked} ms)`);
    assert.notEqual(code, 0, out);
    assert.match(out, /Cancelled from VS Code on /);
    assert.equal(existsSync(join(s.workspace, 'long-finished')), false, 'the task was stopped, not let finish');
    const run = (await s.rpc.sendRequest(P.RunList, { dagId: 'long' }))[0]!;
    assert.equal(run.state, 'failed');
    const tis = await s.rpc.sendRequest(P.TaskList, { dagId: 'long', runId });
    assert.deepEqual(
      tis.map((t) => [t.taskId, t.state]),
      [
        ['long_task', 'failed'],
        ['after_long', 'skipped'],
      ],
    );
    // Asking again: the run has ended.
    assert.deepEqual(await s.rpc.sendRequest(P.RunCancel, { dagId: 'long', runId }), { cancelled: false, elsewhere: false });
    // A run created by `hangar trigger` and taken by no process: it ends failed at once.
    const trig = spawnSync(process.execPath, [HANGAR_BIN, 'trigger', 'long', '--workspace', s.workspace, '--json'], { encoding: 'utf8' });
    const queuedId = (JSON.parse(trig.stdout) as { run_id: string }).run_id;
    assert.deepEqual(await s.rpc.sendRequest(P.RunCancel, { dagId: 'long', runId: queuedId }), { cancelled: true, elsewhere: true });
    const queued = (await s.rpc.sendRequest(P.RunList, { dagId: 'long' })).find((r) => r.runId === queuedId)!;
    assert.equal(queued.state, 'failed');
  });

  test('a primary XCom key past 2^30 encryptions: the editor is told once (with the key and its count), not the key itself; again only past another 2^20', async () => {
    const s = await startServer();
    const key = Buffer.alloc(32, 7).toString('base64');
    const store = await openWorkspaceStore(s.workspace);
    try {
      await store.keys.setEncryptions('k1', 2 ** 30 + 5);
    } finally {
      await store.close();
    }
    const usage = () => s.notes.filter((n) => n.method === 'runtime/didWarn' && n.params.keyUsage);
    // Setting the key restarts the idle runtime with it: the count is read then.
    await s.rpc.sendRequest(P.SecretsSet, { xcomKeys: [{ id: 'k1', key }], primaryKeyId: 'k1' });
    const warned = await until('the key usage warning', () => usage()[0]);
    assert.deepEqual(warned.params.keyUsage, { keyId: 'k1', encryptions: 2 ** 30 + 5 });
    assert.match(warned.params.message, /XCom key "k1" has encrypted 1,073,741,829 values; .* 2\^32 .*NIST SP 800-38D.*hangar xcom rotate-key/);
    assert.ok(!JSON.stringify(s.notes).includes(key), 'the key material is not in any notification');
    // A run ends: the same block of 2^20 is not warned again.
    const run = await s.rpc.sendRequest(P.DagRun, { dagId: 'etl' });
    await runEnded(s, run.runId);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(usage().length, 1);
    // Past another 2^20 (another process encrypting under the key): told after the next run.
    const again = await openWorkspaceStore(s.workspace);
    try {
      await again.keys.setEncryptions('k1', 2 ** 30 + 2 ** 20 + 1);
    } finally {
      await again.close();
    }
    const second = await s.rpc.sendRequest(P.DagRun, { dagId: 'etl' });
    await runEnded(s, second.runId);
    await until('the second warning', () => usage()[1]);
    assert.equal(usage()[1]!.params.keyUsage.encryptions, 2 ** 30 + 2 ** 20 + 1);
  });

  test('scheduler/set runs the scheduler loop in the server; dag/pause and the DAG list show paused and the next run', async () => {
    const TICK = `import { dag } from 'hangar';
export const t = dag({ id: 'tick', schedule: '1s', startDate: new Date(Date.now() - 1500), catchup: false, maxActiveRuns: 1 });
t.task('work', async () => 1);
`;
    const s = await startServer({
      'dags/tick.ts': TICK,
      'dags/zoned.ts': `import { dag } from 'hangar';
export const z = dag({ id: 'zoned', schedule: '@daily', timezone: 'Europe/Amsterdam', startDate: '2024-03-30', catchup: true });
z.task('t', async () => 1);
`,
    });
    const list = await s.rpc.sendRequest(P.DagList, {});
    const zoned = list.dags.find((d) => d.dagId === 'zoned')!;
    assert.equal(zoned.timezone, 'Europe/Amsterdam');
    assert.equal(zoned.isPaused, false);
    // The first interval: local midnight 30 March to local midnight 31 March (Amsterdam, +01:00).
    assert.deepEqual(zoned.nextRun, {
      logicalDate: '2024-03-29T23:00:00.000Z',
      dataIntervalStart: '2024-03-29T23:00:00.000Z',
      dataIntervalEnd: '2024-03-30T23:00:00.000Z',
      runAfter: '2024-03-30T23:00:00.000Z',
    });
    const paused = await s.rpc.sendRequest(P.DagPause, { dagId: 'zoned', paused: true });
    assert.equal(paused.isPaused, true);
    assert.equal((await s.rpc.sendRequest(P.SchedulerSet, { enabled: true })).enabled, true);
    const created = await until(
      'a scheduled run of tick',
      () =>
        s.notes.find(
          (n) => n.method === 'run/didChange' && n.params.dagId === 'tick' && n.params.state === 'queued',
        )?.params,
    );
    assert.match(created.runId, /^scheduled__/);
    await runEnded(s, created.runId);
    assert.ok(
      s.notes.some(
        (n) => n.method === 'scheduler/didLog' && /created scheduled__\S+ of DAG "tick"/.test(n.params.line),
      ),
    );
    assert.ok(
      !s.notes.some((n) => n.method === 'run/didChange' && n.params.dagId === 'zoned'),
      'a paused DAG gets no runs',
    );
    assert.equal((await s.rpc.sendRequest(P.SchedulerSet, { enabled: false })).enabled, false);
    assert.ok(s.notes.some((n) => n.method === 'scheduler/didLog' && n.params.line === 'scheduler stopped'));
  });

  test("runs another process makes (hangar run in a terminal, a team's scheduler) reach the client live, each change once; the server's own runs are not reported twice", async () => {
    const s = await startServer();
    await s.rpc.sendRequest(P.DagList, {});
    // Another process on the same store: the CLI, as a user would start it in a terminal.
    const cli = spawn(
      process.execPath,
      [HANGAR_BIN, 'run', 'etl', '--conf', '{"sleepMs": 2500}', '--workspace', s.workspace, '-o', 'json'],
      { env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    cli.stdout!.on('data', (c: Buffer) => (out += c.toString()));
    let exited = false;
    const exit = new Promise<number | null>((r) => cli.once('exit', (code) => ((exited = true), r(code))));
    // While it runs: its run and its running task reach the client, before the CLI is done.
    const running = await until('the other process\'s run, running', () =>
      s.notes.find((n) => n.method === 'run/didChange' && n.params.dagId === 'etl' && n.params.state === 'running'),
    );
    await until('its slow task, running', () =>
      s.notes.find(
        (n) => n.method === 'task/didChange' && n.params.taskId === 'slow' && n.params.state === 'running',
      ),
    );
    assert.equal(exited, false, 'seen while the other process ran, not after');
    assert.equal(await exit, 0, out);
    const runId = (JSON.parse(out) as { run: { run_id: string } }).run.run_id;
    assert.equal(running.params.runId, runId);
    await runEnded(s, runId);
    for (const task of ['extract', 'load', 'slow'])
      await until(`${task} success`, () =>
        s.notes.find(
          (n) =>
            n.method === 'task/didChange' &&
            n.params.runId === runId &&
            n.params.taskId === task &&
            n.params.state === 'success',
        ),
      );
    // Each change once: one success of the run, one per task.
    const count = (pred: (n: Server['notes'][number]) => boolean) => s.notes.filter(pred).length;
    assert.equal(count((n) => n.method === 'run/didChange' && n.params.runId === runId && n.params.state === 'success'), 1);
    for (const task of ['extract', 'load', 'slow'])
      assert.equal(
        count((n) => n.method === 'task/didChange' && n.params.runId === runId && n.params.taskId === task && n.params.state === 'success'),
        1,
        task,
      );
    // A run of the server's own: reported by its runtime, and not again by the watcher.
    const own = await s.rpc.sendRequest(P.DagRun, { dagId: 'etl', conf: { sleepMs: 0 } });
    await runEnded(s, own.runId);
    await new Promise((r) => setTimeout(r, 2500)); // two reads of the watcher after the end
    assert.equal(count((n) => n.method === 'run/didChange' && n.params.runId === own.runId && n.params.state === 'success'), 1);
    for (const task of ['extract', 'load', 'slow'])
      assert.equal(
        count((n) => n.method === 'task/didChange' && n.params.runId === own.runId && n.params.taskId === task && n.params.state === 'success'),
        1,
        `own run: ${task}`,
      );
  });
});
