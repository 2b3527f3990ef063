// The runtime server's `task/test` (the Test Explorer's task test): `hangar test` semantics on a
// throwaway store, answered with the try's state, log and where it threw in the DAG file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { RuntimeService } from '../../src/runtime/server/service.ts';
import type { TaskTestResult, RunInfo } from '../../src/protocol/runtime.ts';
import { tempWorkspace } from '../helpers/workspace.ts';

const DAG = `import { dag } from 'hangar';
export const d = dag({ id: 'tt', schedule: null, startDate: '2024-01-01' });
d.task('ok', async (ctx) => { ctx.log.info('ok ran for ' + ctx.ds); return 1; });
d.task('bad', async (ctx) => {
  ctx.log.info('about to fail');
  throw new Error('bad task');
});
`;

test('task/test runs one task on a throwaway store: state, log, the throwing line; the workspace store gets no run', async () => {
  const ws = tempWorkspace({ 'dags/tt.ts': DAG });
  const s = new RuntimeService(() => {});
  try {
    await s.handle('runtime/initialize', { workspace: ws.root, config: {} });
    const ok = (await s.handle('task/test', {
      dagId: 'tt',
      taskId: 'ok',
      logicalDate: '2024-02-03T00:00:00Z',
    })) as TaskTestResult;
    assert.equal(ok.state, 'success', ok.error ?? ok.log);
    assert.match(ok.log, /ok ran for 2024-02-03/);
    assert.equal(ok.error, null);
    assert.equal(ok.errorPosition, null);
    const bad = (await s.handle('task/test', { dagId: 'tt', taskId: 'bad' })) as TaskTestResult;
    assert.equal(bad.state, 'failed');
    assert.match(bad.log, /about to fail/);
    assert.match(bad.error!, /Error: bad task/);
    assert.deepEqual(
      { ...bad.errorPosition, column: 0 },
      { file: join(ws.root, 'dags', 'tt.ts'), line: 6, column: 0 },
    );
    assert.deepEqual((await s.handle('run/list', {})) as RunInfo[], []);
    await assert.rejects(
      s.handle('task/test', { dagId: 'tt' }),
      /task\/test: "taskId" must be a non-empty string, not missing/,
    );
    await assert.rejects(
      s.handle('task/test', { dagId: 'tt', taskId: 'nope' }),
      /DAG "tt" has no task "nope" \(tasks: ok, bad\)/,
    );
    await assert.rejects(
      s.handle('task/test', { dagId: 'tt', taskId: 'ok', logicalDate: 'soon' }),
      /"logicalDate" must be an ISO date/,
    );
  } finally {
    await s.handle('runtime/shutdown', {});
    ws.remove();
  }
});

test(
  'task/test cancelled (the Test Explorer run cancelled): the task process is stopped and the request fails saying so',
  { timeout: 120_000 },
  async () => {
    const pidFile = join(tmpdir(), `hangar-tt-hang-${process.pid}-${Date.now()}.pid`);
    const ws = tempWorkspace({
      'dags/hang.ts': `import { dag } from 'hangar';
import { writeFileSync } from 'node:fs';
export const d = dag({ id: 'hang', schedule: null });
d.task('forever', async () => {
  writeFileSync(${JSON.stringify(pidFile)}, String(process.pid));
  await new Promise(() => setInterval(() => undefined, 1000));
});
`,
    });
    const s = new RuntimeService(() => {});
    // The token vscode-jsonrpc hands a request handler ($/cancelRequest cancels it).
    const listeners: (() => void)[] = [];
    const token = {
      isCancellationRequested: false,
      onCancellationRequested(f: () => void) {
        listeners.push(f);
        return { dispose: () => undefined };
      },
    };
    try {
      await s.handle('runtime/initialize', { workspace: ws.root, config: {} });
      const pending = s.handle('task/test', { dagId: 'hang', taskId: 'forever' }, token);
      pending.catch(() => undefined);
      for (let i = 0; !existsSync(pidFile); i++) {
        assert.ok(i < 600, 'the task started (wrote its pid)');
        await delay(100);
      }
      const pid = Number(readFileSync(pidFile, 'utf8'));
      assert.doesNotThrow(() => process.kill(pid, 0), 'the task process runs');
      token.isCancellationRequested = true;
      for (const f of listeners) f();
      await assert.rejects(
        pending,
        /The test of task "forever" of DAG "hang" was cancelled \(its process was stopped\)/,
      );
      assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, 'the task process is gone');
    } finally {
      await s.handle('runtime/shutdown', {});
      rmSync(pidFile, { force: true });
      ws.remove();
    }
  },
);
