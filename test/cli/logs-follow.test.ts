/**
 * `hangar logs RUN TASK --follow` prints a task's log while it runs, try after try, and ends
 * when the task instance has ended. The task waits for a file that the test writes only once
 * the follower has printed the line before it: a follower that printed nothing until the end
 * would leave the test waiting, not pass it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HANGAR_BIN, hangar } from '../helpers/cli.ts';
import { tempWorkspace } from '../helpers/workspace.ts';

function start(args: string[]) {
  const child = spawn(process.execPath, [HANGAR_BIN, ...args], { env: { ...process.env, NO_COLOR: '1' } });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (b: Buffer) => (out.stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out.stderr += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, out, exited };
}

async function until(what: string, ok: () => boolean, detail: () => string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) assert.fail(`${what} did not happen:\n${detail()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test('hangar logs -f follows a running task through its retry to its end', { timeout: 180_000 }, async () => {
  const ws = tempWorkspace({
    'dags/follow.ts': `import { dag } from 'hangar';
import { existsSync } from 'node:fs';
export const d = dag({ id: 'follow', defaultArgs: { retries: 1, retryDelay: 0 } });
d.task('slow', async (ctx) => {
  if (ctx.tryNumber === 1) {
    ctx.log.info('first try gives up');
    throw new Error('not yet');
  }
  ctx.log.info('line A');
  while (!existsSync(${JSON.stringify(join('GO_DIR', 'go'))}.replace('GO_DIR', ctx.workspace))) await ctx.sleep(50);
  ctx.log.info('line B');
  return 1;
});
`,
  });
  try {
    const t = hangar(['trigger', 'follow', '--workspace', ws.root, '-o', 'json']);
    assert.equal(t.code, 0, t.stderr);
    const runId = (JSON.parse(t.stdout) as { run_id: string }).run_id;

    // Started before the run: it waits for the first try.
    const follower = start(['logs', runId, 'slow', '-f', '--workspace', ws.root]);
    await until(
      'the follower waiting',
      () => follower.out.stderr.includes('waiting for the first try'),
      () => follower.out.stderr,
    );
    const run = start(['run', 'follow', '--resume', runId, '--workspace', ws.root]);

    await until(
      'line A printed while the try runs',
      () => follower.out.stdout.includes('line A'),
      () => `${follower.out.stdout}\n${follower.out.stderr}\n${run.out.stderr}`,
    );
    assert.ok(!follower.out.stdout.includes('line B'));
    writeFileSync(join(ws.root, 'go'), '');
    assert.equal(await follower.exited, 0, follower.out.stderr);
    assert.equal(await run.exited, 0, run.out.stderr);

    const stdout = follower.out.stdout;
    assert.ok(stdout.indexOf('first try gives up') < stdout.indexOf('line A'), stdout);
    assert.ok(stdout.indexOf('line A') < stdout.indexOf('line B'), stdout);
    assert.match(stdout, /Error: not yet/);
    assert.match(
      follower.out.stderr,
      /— try 1 of 2 —[\s\S]*— try 2 of 2 —[\s\S]*"slow" of run "\S+" ended: success/,
    );

    // One try, already over: printed and done; the same lines as hangar logs --try 2.
    const again = hangar(['logs', runId, 'slow', '-f', '--try', '2', '--workspace', ws.root]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(
      again.stdout.trim(),
      hangar(['logs', runId, 'slow', '--try', '2', '--workspace', ws.root]).stdout.trim(),
    );
    assert.match(again.stderr, /try 2 ended: success/);

    // Refusals: a try that cannot come, a structured format.
    const none = hangar(['logs', runId, 'slow', '-f', '--try', '3', '--workspace', ws.root]);
    assert.equal(none.code, 3);
    assert.match(none.stderr, /has at most 2 tries; there is no try 3/);
    const json = hangar(['logs', runId, 'slow', '-f', '-o', 'json', '--workspace', ws.root]);
    assert.equal(json.code, 2);
    assert.match(json.stderr, /--follow prints the log as it grows: it has no JSON or YAML form/);
  } finally {
    ws.remove();
  }
});
