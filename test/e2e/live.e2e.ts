/**
 * Live structure while you type (src/vscode/live.ts over the runtime's dag/parseBuffer), in a real
 * VS Code workbench from the packaged .vsix: a task typed in a DAG file, not saved, appears in the
 * DAGs tree under the DAG marked "(unsaved)"; a syntax error typed is a Problem at its line; undone,
 * it goes; undone back to the saved text, the tree is the saved file's again. Nothing is saved.
 *
 *   bash scripts/e2e/install-code-server.sh
 *   npm run build && flock /tmp/hangar-e2e.lock npx node --test --test-reporter=spec test/e2e/live.e2e.ts
 *
 * Screenshots: test-results/e2e/live-*.png.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { packageHangarVsix, startWorkbench } from './harness.ts';
import type { Workbench } from './harness.ts';

const ETL = `import { dag } from 'hangar';

export const etl = dag({ id: 'etl', schedule: null });
const extract = etl.task('extract', async () => [1, 2, 3]);
etl.task('load', async () => 1).after(extract);
`;

let scratch = '';
let vsix = '';

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'hangar-e2e-live-'));
  vsix = join(scratch, 'hangar.vsix');
  packageHangarVsix(vsix);
  assert.ok(existsSync(vsix));
});

after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

async function waitUntil(what: string, fn: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(200);
  }
}

async function cursorLine(vs: Workbench): Promise<number | undefined> {
  const item = (await vs.statusBarItems()).find((s) => /^Ln \d+, Col \d+/.test(s));
  const m = item && /^Ln (\d+)/.exec(item);
  return m ? Number(m[1]) : undefined;
}

async function goToLine(vs: Workbench, line: number): Promise<void> {
  await vs.page.keyboard.press('Control+G');
  await vs.quickInput.waitFor({ state: 'visible' });
  await vs.typeInQuickInput(String(line));
  await vs.page.keyboard.press('Enter');
  await vs.quickInput.waitFor({ state: 'hidden' });
  await waitUntil(`the cursor at line ${line}`, async () => (await cursorLine(vs)) === line);
}

async function editorText(vs: Workbench): Promise<string> {
  return (await vs.page.locator('.part.editor .monaco-editor .view-lines').first().innerText()).replace(
    /\u00a0/g,
    ' ',
  );
}

/** The DAGs tree's labels under etl (level 2) and etl's description (etl expanded first if it is not). */
async function etlRows(vs: Workbench): Promise<{ description: string; tasks: string[] }> {
  let items = await vs.treeItems('DAGs');
  let i = items.findIndex((r) => r.label === 'etl' && r.level === 1);
  if (i < 0) return { description: '', tasks: [] };
  if (items[i]!.expanded === false) {
    await vs.treeItem('DAGs', /^etl$/).locator('.monaco-tl-twistie').click();
    await delay(300);
    items = await vs.treeItems('DAGs');
    i = items.findIndex((r) => r.label === 'etl' && r.level === 1);
    if (i < 0) return { description: '', tasks: [] };
  }
  const tasks: string[] = [];
  for (const r of items.slice(i + 1)) {
    if (r.level === 1) break;
    tasks.push(r.label);
  }
  return { description: items[i]!.description, tasks };
}

test(
  'typing in a DAG file without saving: the tree shows the typed task, a syntax error is a Problem at its line, undo takes it away',
  { timeout: 300_000 },
  async () => {
    const workspace = join(scratch, 'ws');
    await mkdir(join(workspace, 'dags'), { recursive: true });
    await writeFile(join(workspace, 'hangar.json'), '{}\n');
    await writeFile(join(workspace, 'dags', 'etl.ts'), ETL);
    // VS Code in a browser saves after a delay by default: off, so the buffer stays unsaved.
    const vs = await startWorkbench({ workspace, extensions: [vsix], settings: { 'files.autoSave': 'off' } });
    try {
      await vs.openView('DAGs');
      await vs.waitForTreeItem('DAGs', /^etl$/, { timeoutMs: 90_000 });
      await vs.treeItem('DAGs', /^etl$/).locator('.monaco-tl-twistie').click();
      await waitUntil('the saved tasks under etl', async () => (await etlRows(vs)).tasks.includes('load'));
      assert.doesNotMatch((await etlRows(vs)).description, /unsaved/);

      // A new task on the last (empty) line, not saved: the tree follows the buffer.
      await vs.openFile('dags/etl.ts');
      await goToLine(vs, 6);
      await delay(300);
      await vs.page.keyboard.type("etl.task('typed_live', async () => 2);", { delay: 30 });
      await vs.page.keyboard.press('Escape');
      await waitUntil('the typed task in the DAGs tree', async () =>
        (await etlRows(vs)).tasks.includes('typed_live'),
      );
      const typed = await etlRows(vs);
      assert.match(typed.description, /^\(unsaved\) · 3 tasks/);
      assert.deepEqual([...typed.tasks].sort(), ['extract', 'load', 'typed_live']);
      assert.equal(readFileSync(join(workspace, 'dags', 'etl.ts'), 'utf8'), ETL, 'nothing was saved');
      await vs.screenshot('live-01-typed-task');

      // A syntax error on the next line: a Problem from Hangar at its line (the DAG processor's compile error).
      await vs.page.keyboard.press('End');
      await vs.page.keyboard.press('Enter');
      await vs.page.keyboard.type('const broken = ;', { delay: 30 });
      await vs.page.keyboard.press('Escape');
      const problem = await vs.waitForProblem(/Unexpected ";"/, { timeoutMs: 30_000 });
      assert.equal(problem.source, 'hangar');
      assert.equal(problem.line, 7);
      assert.equal(problem.kind, 'error');
      await vs.screenshot('live-02-problem');

      // Undo the error: the Problem goes and the typed task is back in the tree.
      await vs.page
        .locator('.part.editor .monaco-editor .view-line', { hasText: 'const broken' })
        .first()
        .click();
      for (let i = 0; i < 30 && /const broken/.test(await editorText(vs)); i++) {
        await vs.page.keyboard.press('Control+Z');
        await delay(100);
      }
      assert.doesNotMatch(await editorText(vs), /const broken/);
      await vs.waitForNoProblem(/Unexpected ";"/, { timeoutMs: 30_000 });
      await waitUntil('the typed task back in the tree', async () =>
        (await etlRows(vs)).tasks.includes('typed_live'),
      );
      await vs.screenshot('live-03-undone');

      // Undo back to the saved text: the tree is the saved file's again.
      await vs.page
        .locator('.part.editor .monaco-editor .view-line', { hasText: 'typed_live' })
        .first()
        .click();
      const lines = (t: string) =>
        t
          .split('\n')
          .map((l) => l.trimEnd())
          .filter((l) => l.trim() !== '')
          .join('\n');
      for (let i = 0; i < 60 && lines(await editorText(vs)) !== lines(ETL); i++) {
        await vs.page.keyboard.press('Control+Z');
        await delay(100);
      }
      await waitUntil('the saved structure in the tree', async () => {
        const r = await etlRows(vs);
        return !r.tasks.includes('typed_live') && r.tasks.includes('load') && !/unsaved/.test(r.description);
      });
      assert.equal(readFileSync(join(workspace, 'dags', 'etl.ts'), 'utf8'), ETL, 'nothing was saved');
      await vs.screenshot('live-04-saved-state');
    } catch (err) {
      await vs.collectDiagnostics('live').catch(() => '');
      throw err;
    } finally {
      await vs.stop();
    }
  },
);
