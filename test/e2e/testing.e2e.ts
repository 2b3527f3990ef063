/**
 * The Test Explorer (src/vscode/testing.ts), in a real VS Code workbench from the packaged .vsix:
 * the Testing view lists a DAG file's "DAG loads" test, its DAG and its tasks; running them, a
 * task test passes, one fails with its message at the line that threw, and a DAG file that does
 * not load fails its "DAG loads" test at the error's line. The Debug profile stops at a
 * breakpoint in a task's body (the DAG file, under VS Code's JavaScript debugger) and the test
 * passes once continued; cancelling a run stops the task's process. "Your tests": a workspace's
 * own node:test file using hangar/testing is listed with its tests, run (one passes, one fails with
 * its assertion's message), one test runs
 * alone, and the Debug profile stops at a breakpoint in the test's body.
 *
 *   bash scripts/e2e/install-code-server.sh
 *   flock /tmp/hangar-e2e.lock npx node --test --test-reporter=spec test/e2e/testing.e2e.ts
 *
 * Screenshots: test-results/e2e/testing-*.png.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { REPO_ROOT, packageHangarVsix, startWorkbench } from './harness.ts';
import type { Workbench } from './harness.ts';

const ETL = `import { dag } from 'hangar';

export const etl = dag({ id: 'etl', schedule: null });
etl.task('extract', async (ctx) => {
  ctx.log.info('extracted three rows');
  return [1, 2, 3];
});
etl.task('explode', async (ctx) => {
  ctx.log.info('about to explode');
  throw new Error('kaboom in explode');
});
`;

const BROKEN = `import { dag } from 'hangar';

export const broken = dag({ id: 'broken', schedule: null });
throw new Error('broken at import');
`;

let scratch = '';
let vsix = '';

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'hangar-e2e-testing-'));
  vsix = join(scratch, 'hangar.vsix');
  packageHangarVsix(vsix);
  assert.ok(existsSync(vsix));
});

after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

interface Row {
  label: string;
  level: number;
  state: 'passed' | 'failed' | 'other';
  aria: string;
}

/** The Test Explorer's rows: their aria labels are "label (state)", e.g. "extract (Passed)". */
async function rows(vs: Workbench): Promise<Row[]> {
  const raw = await vs.page
    .locator('.monaco-list-row[aria-label]')
    .filter({ has: vs.page.locator('.computed-state') })
    .evaluateAll((els) =>
      els.map((el) => ({
        aria: el.getAttribute('aria-label') ?? '',
        level: Number(el.getAttribute('aria-level') ?? '1'),
      })),
    );
  return raw.map(({ aria, level }) => {
    const m = /^(.*?) \(([^()]*)\)(?:, .*)?$/.exec(aria); // "explode (Failed), in 1.1s"
    const status = m?.[2] ?? '';
    return {
      label: m?.[1] ?? aria,
      level,
      state: /passed/i.test(status) ? 'passed' : /failed|errored/i.test(status) ? 'failed' : 'other',
      aria,
    };
  });
}

/** The text of the first call-stack row matching `re` (the stack renders after the pause). */
async function waitForFrame(vs: Workbench, re: RegExp): Promise<string> {
  const deadline = Date.now() + 30_000;
  let rows: string[] = [];
  while (Date.now() < deadline) {
    rows = await vs.page.locator('.debug-call-stack .monaco-list-row').allInnerTexts();
    const hit = rows.find((r) => re.test(r));
    if (hit) return hit;
    await new Promise((r) => setTimeout(r, 200));
  }
  return rows.join(' | ');
}

async function waitForRows(
  vs: Workbench,
  what: string,
  ok: (r: Row[]) => boolean,
  timeoutMs = 60_000,
): Promise<Row[]> {
  const deadline = Date.now() + timeoutMs;
  let last: Row[];
  for (;;) {
    last = await rows(vs).catch(() => []);
    if (ok(last)) return last;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; rows: ${JSON.stringify(last)}`);
    await delay(300);
  }
}

/** Expands every collapsed row of the Test Explorer (its tree shows files collapsed). */
async function expandAll(vs: Workbench): Promise<void> {
  for (let i = 0; i < 10; i++) {
    const collapsed = vs.page
      .locator('.monaco-list-row[aria-expanded="false"]')
      .filter({ has: vs.page.locator('.computed-state') });
    if ((await collapsed.count()) === 0) return;
    await collapsed.first().locator('.monaco-tl-twistie').click();
    await delay(200);
  }
}

test(
  'the Testing view lists DAG files, DAGs and tasks; a task passes, one fails with its message, a broken file fails "DAG loads" with its error',
  { timeout: 400_000 },
  async () => {
    const workspace = join(scratch, 'ws');
    await mkdir(join(workspace, 'dags'), { recursive: true });
    await writeFile(join(workspace, 'hangar.json'), '{}\n');
    await writeFile(join(workspace, 'dags', 'etl.ts'), ETL);
    await writeFile(join(workspace, 'dags', 'broken.ts'), BROKEN);
    const vs = await startWorkbench({ workspace, extensions: [vsix] });
    try {
      await vs.openView('DAGs');
      await vs.waitForTreeItem('DAGs', /^etl$/, { timeoutMs: 90_000 });
      await vs.openView('Test Explorer');
      await waitForRows(
        vs,
        'the DAG files',
        (r) => r.some((x) => x.label === 'dags/etl.ts') && r.some((x) => x.label === 'dags/broken.ts'),
      );
      await expandAll(vs);
      const listed = await waitForRows(vs, 'the tasks', (r) =>
        ['DAG loads', 'etl', 'extract', 'explode'].every((l) => r.some((x) => x.label === l)),
      );
      await vs.screenshot('testing-01-listed');
      assert.ok(listed.filter((x) => x.label === 'DAG loads').length === 2, JSON.stringify(listed));

      await vs.runCommand(/^Test: Run All Tests$/);
      const done = await waitForRows(
        vs,
        'the results',
        (r) =>
          ['extract', 'explode'].every((l) => r.find((x) => x.label === l)?.state !== 'other') &&
          r.filter((x) => x.label === 'DAG loads' && x.state !== 'other').length === 2,
        180_000,
      );
      await vs.screenshot('testing-02-results');
      assert.equal(done.find((x) => x.label === 'extract')?.state, 'passed', JSON.stringify(done));
      assert.equal(done.find((x) => x.label === 'explode')?.state, 'failed', JSON.stringify(done));
      const loads = done
        // The Test Results view lists the same names without a state: the explorer's rows only.
        .filter((x) => x.label === 'DAG loads' && x.state !== 'other')
        .map((x) => x.state)
        .sort();
      assert.deepEqual(loads, ['failed', 'passed'], JSON.stringify(done));

      // Each failure's message is shown in the Test Results tree. Its location (the line that threw)
      // is checked where it is made, without the UI (test/testing/: task/test's error location).
      // Opening a message from that tree did not move the editor in code-server; no peek opens by
      // itself (testing.automaticallyOpenPeekView defaults to "never") and "Test: Go to Next Test
      // Failure" from the palette did not open one either (tried in the "your tests" test below).
      for (const message of [/Error: kaboom in explode/, /broken\.ts:4:7: Error: broken at import/]) {
        await vs.page
          .locator('.monaco-list-row')
          .filter({ hasText: message })
          .last()
          .waitFor({ state: 'visible', timeout: 20_000 });
      }
      await vs.screenshot('testing-03-messages');
    } catch (err) {
      await vs.collectDiagnostics('testing');
      throw err;
    } finally {
      await vs.stop();
    }
  },
);

const DEBUGGED = `import { dag } from 'hangar';

export const dbg = dag({ id: 'dbg', schedule: null });
dbg.task('step', async (ctx) => {
  const rows = [1, 2, 3];
  ctx.log.info('rows: ' + rows.length);
  return rows.length;
});
`;

const hanging = (pidFile: string) => `import { dag } from 'hangar';
import { writeFileSync } from 'node:fs';

export const hang = dag({ id: 'hang', schedule: null });
hang.task('forever', async () => {
  writeFileSync(${JSON.stringify(pidFile)}, String(process.pid));
  await new Promise(() => setInterval(() => undefined, 1000));
});
`;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test(
  'the Debug profile stops at a breakpoint in the task body; cancelling a run stops the task process',
  { timeout: 400_000 },
  async () => {
    const workspace = join(scratch, 'ws-debug');
    await mkdir(join(workspace, 'dags'), { recursive: true });
    await writeFile(join(workspace, 'hangar.json'), '{}\n');
    await writeFile(join(workspace, 'dags', 'dbg.ts'), DEBUGGED);
    const vs = await startWorkbench({ workspace, extensions: [vsix] });
    try {
      await vs.openView('DAGs');
      await vs.waitForTreeItem('DAGs', /^dbg$/, { timeoutMs: 90_000 });
      // A breakpoint on line 6: ctx.log.info('rows: ' + rows.length), in the task's body.
      await vs.openFile('dags/dbg.ts');
      await vs.page.keyboard.press('Control+G');
      await vs.quickInput.waitFor({ state: 'visible' });
      await vs.typeInQuickInput('6');
      await vs.page.keyboard.press('Enter');
      await vs.runCommand('Debug: Toggle Breakpoint');
      await vs.page
        .locator('.codicon-debug-breakpoint')
        .first()
        .waitFor({ state: 'visible', timeout: 10_000 });

      await vs.openView('Test Explorer');
      await waitForRows(vs, 'the DAG file', (r) => r.some((x) => x.label === 'dags/dbg.ts'));
      await expandAll(vs);
      await waitForRows(vs, 'the task', (r) => r.some((x) => x.label === 'step'));
      await vs.runCommand(/^Test: Debug All Tests$/);
      const paused = vs.page
        .locator('.debug-call-stack .state.label, .debug-call-stack .state-label', {
          hasText: /paused on breakpoint/i,
        })
        .first();
      await paused.waitFor({ state: 'visible', timeout: 120_000 });
      const frame = await vs.page
        .locator('.debug-call-stack .monaco-list-row')
        .filter({ hasText: 'dbg.ts' })
        .first()
        .innerText();
      assert.match(frame, /dbg\.ts\s*6:\d+/, `the top frame is the task body in the DAG file: ${frame}`);
      await vs.screenshot('testing-04-debug-breakpoint');
      await vs.runCommand('Debug: Continue');
      await vs.page.locator('.debug-toolbar').waitFor({ state: 'hidden', timeout: 60_000 });
      await vs.openView('Test Explorer');
      const debugged = await waitForRows(
        vs,
        'the debugged test passing',
        (r) => r.find((x) => x.label === 'step')?.state === 'passed',
        60_000,
      );
      assert.equal(debugged.find((x) => x.label === 'step')?.state, 'passed');

      // Cancelling a run: the task test's process (the runtime's child running the task) is stopped.
      const pidFile = join(scratch, 'forever.pid');
      await writeFile(join(workspace, 'dags', 'hang.ts'), hanging(pidFile));
      // Written behind the editor's back: the Testing view's refresh reloads the DAG files.
      await vs.runCommand(/^Test: Refresh Tests$/);
      await waitForRows(vs, 'the hanging DAG file', (r) => r.some((x) => x.label === 'dags/hang.ts'));
      await expandAll(vs);
      await waitForRows(vs, 'the hanging task', (r) => r.some((x) => x.label === 'forever'));
      await vs.runCommand(/^Test: Run All Tests$/);
      for (let i = 0; !existsSync(pidFile); i++) {
        assert.ok(i < 600, 'the hanging task started');
        await delay(200);
      }
      const pid = Number(readFileSync(pidFile, 'utf8'));
      assert.ok(alive(pid), 'the task process runs');
      await vs.runCommand(/^Test: Cancel Test Run$/);
      for (let i = 0; alive(pid); i++) {
        assert.ok(i < 300, `the task process ${pid} was stopped`);
        await delay(100);
      }
      const cancelled = await waitForRows(vs, 'the cancelled test reported skipped', (r) =>
        /\(skipped\)/i.test(r.find((x) => x.label === 'forever')?.aria ?? ''),
      );
      assert.notEqual(cancelled.find((x) => x.label === 'forever')?.state, 'passed');
      await vs.screenshot('testing-05-cancelled');
    } catch (err) {
      await vs.collectDiagnostics('testing-debug');
      throw err;
    } finally {
      await vs.stop();
    }
  },
);

const USER_DAG = `import { dag } from 'hangar';

export const rows = dag({ id: 'rows', schedule: null });
rows.task('extract', async (ctx) => {
  ctx.log.info('extracting');
  return [1, 2, 3];
});
`;

/** A user's own node:test file using hangar/testing; each test notes its name in `ranFile` (which ran, and alone). */
const userTest = (ranFile: string) => `import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync } from 'node:fs';
import { testDag } from 'hangar/testing';
import type { DagTest } from 'hangar/testing';

let t: DagTest;
before(async () => {
  t = await testDag('dags/rows.ts');
});
after(() => t.close());

test('extract returns three rows', async () => {
  appendFileSync(${JSON.stringify(ranFile)}, 'three\\n');
  const r = await t.runTask('extract');
  console.log('extract ended ' + r.taskState);
  assert.deepEqual(r.value, [1, 2, 3]);
});

test('extract returns four rows', async () => {
  appendFileSync(${JSON.stringify(ranFile)}, 'four\\n');
  const r = await t.runTask('extract');
  assert.deepEqual(r.value, [1, 2, 3, 4]);
});
`;
/** The failing assertion's line in userTest (1-based). */
const FAILING_LINE = 23;

test(
  'your tests: a node:test file using hangar/testing is listed with its tests; run, one passes, one fails with its assertion; one runs alone; Debug stops in the test',
  { timeout: 400_000 },
  async () => {
    const workspace = join(scratch, 'ws-user');
    const ranFile = join(scratch, 'user-ran.txt');
    await mkdir(join(workspace, 'dags'), { recursive: true });
    await mkdir(join(workspace, 'tests'), { recursive: true });
    await mkdir(join(workspace, 'node_modules'), { recursive: true });
    // Hangar installed in the workspace as `npm install --save-dev <folder>` does: a link to the package.
    await symlink(REPO_ROOT, join(workspace, 'node_modules', 'hangar'), 'dir');
    await writeFile(join(workspace, 'hangar.json'), '{}\n');
    await writeFile(join(workspace, 'dags', 'rows.ts'), USER_DAG);
    await writeFile(join(workspace, 'tests', 'rows.test.ts'), userTest(ranFile));
    assert.match(userTest(ranFile).split('\n')[FAILING_LINE - 1]!, /\[1, 2, 3, 4\]/);
    const vs = await startWorkbench({ workspace, extensions: [vsix] });
    try {
      await vs.openView('DAGs');
      await vs.waitForTreeItem('DAGs', /^rows$/, { timeoutMs: 90_000 });
      await vs.openView('Test Explorer');
      await waitForRows(vs, 'the "Your tests" group', (r) => r.some((x) => x.label === 'Your tests'));
      await expandAll(vs);
      // Listed before any run, from the file's text.
      await waitForRows(vs, 'the user tests', (r) =>
        ['tests/rows.test.ts', 'extract returns three rows', 'extract returns four rows'].every((l) =>
          r.some((x) => x.label === l),
        ),
      );
      await vs.screenshot('testing-06-user-listed');

      // With the test file open, run the tests of that file.
      await vs.openFile('tests/rows.test.ts');
      await vs.runCommand(/^Test: Run Tests in Current File$/);
      const done = await waitForRows(
        vs,
        'the user tests results',
        (r) =>
          ['extract returns three rows', 'extract returns four rows'].every(
            (l) => r.find((x) => x.label === l)?.state !== 'other',
          ),
        180_000,
      );
      assert.equal(done.find((x) => x.label === 'extract returns three rows')?.state, 'passed', JSON.stringify(done));
      assert.equal(done.find((x) => x.label === 'extract returns four rows')?.state, 'failed', JSON.stringify(done));
      assert.deepEqual(readFileSync(ranFile, 'utf8').trim().split('\n').sort(), ['four', 'three']);

      // The failure's message is in the Test Results tree (its location, the assertion's line in the test
      // file, is checked without the UI in test/testing/user-tests-model.test.ts). VS Code opens no peek by
      // itself (testing.automaticallyOpenPeekView is "never"), and "Test: Go to Next Test Failure" from the
      // palette did not open one in code-server.
      await vs.page
        .locator('.monaco-list-row')
        .filter({ hasText: /Expected values to be strictly deep-equal/ })
        .last()
        .waitFor({ state: 'visible', timeout: 20_000 });
      await vs.screenshot('testing-07-user-results');
      await vs.page.keyboard.press('Escape');

      // One test alone: the cursor in "extract returns three rows", "Test: Run Test at Cursor".
      await rm(ranFile, { force: true });
      await vs.page.keyboard.press('Control+G');
      await vs.quickInput.waitFor({ state: 'visible' });
      await vs.typeInQuickInput('16');
      await vs.page.keyboard.press('Enter');
      await vs.runCommand(/^Test: Run Test at Cursor$/);
      for (let i = 0; !existsSync(ranFile); i++) {
        assert.ok(i < 600, 'the test at the cursor ran');
        await delay(200);
      }
      await waitForRows(
        vs,
        'the single test passing',
        (r) => r.find((x) => x.label === 'extract returns three rows')?.state === 'passed',
        120_000,
      );
      // Give the other test the time to have run, had it been started too.
      await delay(3000);
      assert.deepEqual(readFileSync(ranFile, 'utf8').trim().split('\n'), ['three']);
      await vs.openView('Test Explorer');
      await vs.screenshot('testing-08-user-single');

      // Debug: a breakpoint in the test's body (line 16, its console.log), "Test: Debug Test at Cursor".
      await vs.openFile('tests/rows.test.ts');
      await vs.page.keyboard.press('Control+G');
      await vs.quickInput.waitFor({ state: 'visible' });
      await vs.typeInQuickInput('16');
      await vs.page.keyboard.press('Enter');
      await vs.runCommand('Debug: Toggle Breakpoint');
      await vs.page.locator('.codicon-debug-breakpoint').first().waitFor({ state: 'visible', timeout: 10_000 });
      await rm(ranFile, { force: true });
      await vs.runCommand(/^Test: Debug Test at Cursor$/);
      await vs.page
        .locator('.debug-call-stack .state.label, .debug-call-stack .state-label', { hasText: /paused on breakpoint/i })
        .first()
        .waitFor({ state: 'visible', timeout: 120_000 });
      // A stack frame's row (the session's row is named after the file too): file and line:column.
      const frame = await waitForFrame(vs, /rows\.test\.ts\s*16:\d+/);
      assert.match(frame, /rows\.test\.ts\s*16:\d+/, `the top frame is the test's body: ${frame}`);
      await vs.screenshot('testing-09-user-debug-breakpoint');
      await vs.runCommand('Debug: Continue');
      await vs.page.locator('.debug-toolbar').waitFor({ state: 'hidden', timeout: 60_000 });
      await vs.openView('Test Explorer');
      await waitForRows(
        vs,
        'the debugged user test passing',
        (r) => r.find((x) => x.label === 'extract returns three rows')?.state === 'passed',
        60_000,
      );
      assert.deepEqual(readFileSync(ranFile, 'utf8').trim().split('\n'), ['three'], 'the debugged test ran, alone');
    } catch (err) {
      await vs.collectDiagnostics('testing-user');
      throw err;
    } finally {
      await vs.stop();
    }
  },
);
