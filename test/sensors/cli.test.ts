import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Store } from '../../src/runtime/store/store.ts';
import { hangar, HANGAR_BIN } from '../helpers/cli.ts';
import { openWorkspaceStore } from '../helpers/store.ts';
import { tempWorkspace } from '../helpers/workspace.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const DAG = `import { dag, fileSensor } from 'hangar';
export const d = dag({ id: 'resumable' });
const found = fileSensor(d, 'found', { path: 'inbox/arrives.txt', mode: 'reschedule', pokeInterval: '500ms', timeout: '20s' });
const never = fileSensor(d, 'never', { path: 'inbox/never.txt', mode: 'reschedule', pokeInterval: '500ms', timeout: '5s', softFail: true });
d.task('after', async () => 'ok').after(found);
`;

test('kill the runtime (SIGKILL) while sensors are rescheduled; hangar run --resume continues them with what is left of their timeout', async () => {
  const ws = tempWorkspace({ 'dags/resumable.ts': DAG, 'inbox/.keep': '' }, { dagsFolder: 'dags' });
  const child = spawn(process.execPath, [HANGAR_BIN, 'run', 'resumable', '--workspace', ws.root], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '1' },
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  let store: Store | undefined;
  try {
    // Wait until both sensors have poked at least twice and wait as up_for_reschedule.
    let runId = '';
    const deadline = Date.now() + 30_000;
    for (;;) {
      assert.ok(Date.now() < deadline, `sensors never reached up_for_reschedule: ${out}`);
      await sleep(100);
      try {
        store ??= await openWorkspaceStore(ws.root);
      } catch {
        continue;
      }
      const run = (await store.runs.list({ dagId: 'resumable' }))[0];
      if (!run) continue;
      runId = run.run_id;
      const tis = await store.tasks.list('resumable', runId);
      const n = (await store.sensors.listPokes({ dagId: 'resumable', runId })).length;
      if (n >= 4 && tis.filter((t) => t.state === 'up_for_reschedule').length === 2) break;
    }
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const before = await store!.sensors.listPokes({ dagId: 'resumable', runId });
    const firstNever = (await store!.sensors.getInstance({
      dagId: 'resumable',
      runId,
      taskId: 'never',
      mapIndex: -1,
    }))!.first_poke_ms;
    // The file arrives while no runtime runs.
    writeFileSync(join(ws.root, 'inbox', 'arrives.txt'), 'data');
    await sleep(1000);
    const r = hangar(['run', 'resumable', '--resume', runId, '--workspace', ws.root, '--json']);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    const summary = JSON.parse(r.stdout) as {
      task_instances: { task_id: string; state: string; try_number: number }[];
    };
    const states = Object.fromEntries(
      summary.task_instances.map((t) => [t.task_id, [t.state, t.try_number]]),
    );
    assert.deepEqual(states, { found: ['success', 1], never: ['skipped', 1], after: ['success', 1] });
    const after = await store!.sensors.listPokes({ dagId: 'resumable', runId });
    const neverPokes = after.filter((p) => p.task_id === 'never');
    // The poke count continued, and the timeout ran from the very first poke (before the kill).
    const neverBefore = before.filter((p) => p.task_id === 'never').length;
    assert.ok(neverPokes.length > neverBefore);
    assert.deepEqual(
      neverPokes.map((p) => p.poke_number),
      neverPokes.map((_, i) => i + 1),
    );
    const last = neverPokes.at(-1)!;
    assert.equal(last.result, 'timeout');
    assert.ok(
      // Timers may fire a millisecond early against Date.now(): allow that much.
      last.poked_at_ms - firstNever >= 4990 && last.poked_at_ms - firstNever < 6500,
      `timed out ${last.poked_at_ms - firstNever} ms after the first poke`,
    );
    const inst = (await store!.sensors.getInstance({
      dagId: 'resumable',
      runId,
      taskId: 'found',
      mapIndex: -1,
    }))!;
    assert.equal(inst.outcome, 'success');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    await store?.close();
    ws.remove();
  }
});

test('hangar sensors stats [DAG] [--json]: success rate, waits, timeouts, pokes per success', async () => {
  const ws = tempWorkspace(
    {
      'dags/st.ts': `import { dag, sensor } from 'hangar';
export const d = dag({ id: 'st' });
sensor(d, 'ok', { pokeInterval: '100ms', timeout: '10s' }, (ctx) => ctx.pokeNumber === 3);
sensor(d, 'late', { pokeInterval: '100ms', timeout: '300ms', softFail: true }, () => false);
`,
    },
    { dagsFolder: 'dags' },
  );
  try {
    assert.equal(hangar(['run', 'st', '--workspace', ws.root, '--date', '2024-01-01']).code, 0);
    assert.equal(hangar(['run', 'st', '--workspace', ws.root, '--date', '2024-01-02']).code, 0);
    const r = hangar(['sensors', 'stats', 'st', '--workspace', ws.root, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const stats = JSON.parse(r.stdout) as Record<string, unknown>[];
    const by = Object.fromEntries(stats.map((s) => [s.task_id, s]));
    assert.equal(by.ok!.instances, 2);
    assert.equal(by.ok!.success_rate, 1);
    assert.equal(by.ok!.pokes_per_success, 3);
    assert.ok((by.ok!.avg_wait as number) >= 0.2 && (by.ok!.p95_wait as number) >= 0.2, 'waits in seconds');
    assert.equal(by.late!.timeouts, 2);
    assert.equal(by.late!.timeout_rate, 1);
    assert.equal(by.late!.success_rate, 0);
    assert.equal(by.late!.pokes_per_success, null);
    const text = hangar(['sensors', 'stats', '--workspace', ws.root]);
    assert.equal(text.code, 0);
    assert.match(text.stdout, /st\s+│?\s*ok\s+.*100\.0%/);
    assert.match(text.stdout, /late\s+.*2 \(100\.0%\)/);
    assert.equal(hangar(['sensors', 'stats', 'nope', '--workspace', ws.root]).code, 3);
    assert.equal(hangar(['sensors', 'frob', '--workspace', ws.root]).code, 2);
  } finally {
    ws.remove();
  }
});
