/**
 * The editor knows your DAGs as you type (src/vscode/authoring.ts over
 * src/runtime/authoring/), in a real VS Code workbench from the packaged
 * .vsix: typing `.before('` in a DAG file offers the DAG's task ids, an
 * unknown id is a Problem at its string with a quick fix to the nearest id,
 * go to definition jumps from a reference to the task's definition, and F2
 * renames a task id across two files (refusing an existing id is a unit test of the core);
 * a hover on a task id shows its settings and last runs, and its link opens the DAG's grid.
 *
 *   bash scripts/e2e/install-code-server.sh
 *   flock /tmp/hangar-e2e.lock npx node --test --test-reporter=spec test/e2e/authoring.e2e.ts
 *
 * Screenshots: test-results/e2e/authoring-*.png.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
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
etl.task('transform', async (ctx) => ctx.xcom.pull('extract'));
etl.task('load', { pool: 'warehouse_pool' }, async (ctx) => ctx.connection('warehouse').host).after('transform');
extract.before('transform');
`;

/** Another DAG whose sensor waits for etl's `load`: a rename of `load` reaches it. */
const REPORT = `import { dag, externalTaskSensor } from 'hangar';

export const report = dag({ id: 'report', schedule: null });
externalTaskSensor(report, 'wait_for_load', { externalDagId: 'etl', externalTaskId: 'load', mode: 'reschedule' });
`;

let scratch = '';
let vsix = '';

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'hangar-e2e-authoring-'));
  vsix = join(scratch, 'hangar.vsix');
  packageHangarVsix(vsix);
  assert.ok(existsSync(vsix));
});

after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

async function editorText(vs: Workbench): Promise<string> {
  return (await vs.page.locator('.part.editor .monaco-editor .view-lines').first().innerText()).replace(
    /\u00a0/g,
    ' ',
  );
}

/** The cursor's line and column from the status bar ("Ln 5, Col 11"). */
async function cursor(vs: Workbench): Promise<{ line: number; column: number } | undefined> {
  const item = (await vs.statusBarItems()).find((s) => /^Ln \d+, Col \d+/.test(s));
  const m = item && /^Ln (\d+), Col (\d+)/.exec(item);
  return m ? { line: Number(m[1]), column: Number(m[2]) } : undefined;
}

async function waitUntil(what: string, fn: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(200);
  }
}

/**
 * Ctrl+G to a line (and column): returns once the box has closed and the status bar shows the cursor
 * there, so the keys pressed next reach the editor and not the closing box.
 */
async function goToLine(vs: Workbench, line: number, column?: number): Promise<void> {
  await vs.page.keyboard.press('Control+G');
  await vs.quickInput.waitFor({ state: 'visible' });
  await vs.typeInQuickInput(column === undefined ? String(line) : `${line}:${column}`);
  await vs.page.keyboard.press('Enter');
  await vs.quickInput.waitFor({ state: 'hidden' });
  await waitUntil(
    `the cursor at line ${line}${column === undefined ? '' : `, column ${column}`}`,
    async () => {
      const at = await cursor(vs);
      return at?.line === line && (column === undefined || at.column === column);
    },
  );
}

test(
  'typing in a DAG file: task ids offered, an unknown id is a Problem with a quick fix, go to definition jumps, F2 renames across files',
  { timeout: 300_000 },
  async () => {
    const workspace = join(scratch, 'ws');
    await mkdir(join(workspace, 'dags'), { recursive: true });
    await writeFile(
      join(workspace, 'hangar.json'),
      JSON.stringify(
        {
          connections: { warehouse: 'postgres://etl:s3cret@db.internal:5432/dw' },
          pools: { warehouse_pool: 4 },
        },
        null,
        2,
      ),
    );
    await writeFile(join(workspace, 'dags', 'etl.ts'), ETL);
    await writeFile(join(workspace, 'dags', 'report.ts'), REPORT);
    const vs = await startWorkbench({ workspace, extensions: [vsix] });
    try {
      // The DAG processor parsed the file (the tree shows the DAG).
      await vs.openView('DAGs');
      await vs.waitForTreeItem('DAGs', /^etl$/, { timeoutMs: 90_000 });
      await vs.openFile('dags/etl.ts');

      // Completion: on the last (empty) line, `extract.before('` offers the DAG's task ids with their kind and line.
      await goToLine(vs, 8);
      await delay(300);
      await vs.page.keyboard.type("extract.before('", { delay: 40 });
      const suggest = vs.page.locator('.editor-widget.suggest-widget .monaco-list-row');
      await suggest.first().waitFor({ state: 'visible', timeout: 20_000 });
      const deadline = Date.now() + 20_000;
      let rows: string[] = [];
      while (Date.now() < deadline) {
        rows = (await suggest.allInnerTexts()).map((r) => r.replace(/\s+/g, ' ').trim());
        if (rows.some((r) => r.startsWith('load'))) break;
        await delay(200);
      }
      assert.ok(
        rows.some((r) => /^transform\b.*typescript task of etl, line 5/.test(r)),
        JSON.stringify(rows),
      );
      assert.ok(
        rows.some((r) => /^load\b/.test(r)) && rows.some((r) => /^extract\b/.test(r)),
        JSON.stringify(rows),
      );
      await vs.screenshot('authoring-01-completion');
      await vs.page.keyboard.press('Escape');

      // A typo: a Problem at the string while typing (before any save), with a quick fix.
      await vs.page.keyboard.type('lod', { delay: 40 });
      const problem = await vs.waitForProblem(/DAG "etl" has no task "lod"/, { timeoutMs: 20_000 });
      assert.equal(problem.source, 'hangar');
      assert.equal(problem.line, 8);
      assert.match(problem.message, /Did you mean "load"\?/);
      await vs.screenshot('authoring-02-problem');
      // Back in the editor (the Problems panel has the focus), inside 'lod': the quick fix.
      await vs.page
        .locator('.part.editor .monaco-editor .view-line', { hasText: "before('lod')" })
        .first()
        .click();
      await vs.page.keyboard.press('End');
      for (let i = 0; i < 3; i++) await vs.page.keyboard.press('ArrowLeft');
      await vs.page.keyboard.press('Control+.');
      const fix = vs.page.locator('.action-widget .monaco-list-row', { hasText: 'Change to "load"' });
      await fix.first().waitFor({ state: 'visible', timeout: 15_000 });
      await vs.screenshot('authoring-03-quick-fix');
      await fix.first().click();
      await vs.waitForNoProblem(/has no task "lod"/, { timeoutMs: 20_000 });
      assert.match(await editorText(vs), /extract\.before\('load'\)/);

      // Go to definition from `.after('transform')` (line 6) to `etl.task('transform'` (line 5).
      await goToLine(vs, 6);
      await vs.page.keyboard.press('End');
      for (let i = 0; i < 4; i++) await vs.page.keyboard.press('ArrowLeft'); // inside 'transform'
      await vs.page.keyboard.press('F12');
      let at: { line: number; column: number } | undefined;
      const until = Date.now() + 15_000;
      while (Date.now() < until) {
        at = await cursor(vs);
        if (at?.line === 5) break;
        await delay(200);
      }
      assert.deepEqual(at, { line: 5, column: 11 });
      await vs.screenshot('authoring-04-definition');

      // Hover on the definition's id (the cursor is in 'transform'): the task's kind, settings and last runs,
      // and a trusted link that opens the DAG's grid.
      const hover = vs.page.locator('.monaco-hover:not(.hidden) .monaco-hover-content, .monaco-hover:not(.hidden) .hover-contents');
      let hoverText = '';
      const hoverUntil = Date.now() + 30_000;
      while (Date.now() < hoverUntil) {
        await vs.runCommand('Show or Focus Hover');
        await hover.first().waitFor({ state: 'visible', timeout: 5_000 }).catch(() => undefined);
        hoverText = (await hover.allInnerTexts().catch(() => [] as string[])).join('\n').replace(/\u00a0/g, ' ');
        if (/Open in grid/.test(hoverText)) break;
        await vs.page.keyboard.press('Escape');
        await delay(500);
      }
      assert.match(hoverText, /transform · typescript task of DAG etl/, hoverText);
      assert.match(hoverText, /retries: 0 · pool: default_pool · queue: default · trigger rule: all_success · execution timeout: none/, hoverText);
      assert.match(hoverText, /after: extract/, hoverText);
      assert.match(hoverText, /Last runs: none yet/, hoverText);
      await vs.screenshot('authoring-05-hover');
      await hover.locator('a', { hasText: 'Open in grid' }).first().click();
      await vs.page.locator('.tabs-container .tab', { hasText: 'Grid: etl' }).first().waitFor({ timeout: 20_000 });
      await vs.screenshot('authoring-06-hover-grid');
      await vs.openFile('dags/etl.ts');

      // F2 on `load` (line 6): its definition, `.before('load')` and the other file's sensor are renamed.
      await goToLine(vs, 6, 12); // etl.task('l|oad'
      // The rename box, focused (typed into only through its own element: a box that closed never edits the file).
      const box = vs.page.locator('.rename-box input.rename-input, .rename-box input').first();
      const focused = (): Promise<boolean> =>
        box.evaluate(
          (e: unknown) =>
            (e as { ownerDocument: { activeElement: unknown } }).ownerDocument.activeElement === e,
        );
      let focus = '';
      for (let attempt = 0; ; attempt++) {
        await vs.page.keyboard.press('F2');
        const open = await box.waitFor({ state: 'visible', timeout: 5_000 }).then(
          () => true,
          () => false,
        );
        // The box is shown before it takes the focus: give it a moment.
        const until = Date.now() + 3_000;
        while (open && !(await focused()) && Date.now() < until) await delay(100);
        if (open && (await focused())) break;
        focus = await vs.page.evaluate(() => {
          const a = (
            globalThis as unknown as {
              document: { activeElement: { tagName: string; className: string } | null };
            }
          ).document.activeElement;
          return a ? `${a.tagName}.${a.className}` : 'nothing';
        });
        if (attempt === 3)
          throw new Error(`F2 did not open a focused rename box (open: ${open}; focus on ${focus})`);
        await vs.page.keyboard.press('Escape');
        await delay(500);
      }
      await box.fill('load_dw');
      await vs.screenshot('authoring-07-rename');
      await box.press('Enter');
      await waitUntil(
        'the rename in etl.ts',
        async () =>
          /etl\.task\('load_dw'/.test(await editorText(vs)) &&
          /extract\.before\('load_dw'\)/.test(await editorText(vs)),
      );
      await vs.openFile('dags/report.ts');
      await waitUntil('the rename in report.ts', async () =>
        /externalTaskId: 'load_dw'/.test(await editorText(vs)),
      );
      await vs.screenshot('authoring-08-renamed-other-file');
    } catch (e) {
      await vs.collectDiagnostics('authoring-failure');
      throw e;
    } finally {
      await vs.stop();
    }
  },
);
