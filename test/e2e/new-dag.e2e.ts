/**
 * "Hangar: New DAG…" in a real VS Code (code-server + Chromium), from the packaged .vsix: in a
 * workspace whose DAG folder is empty the DAGs view offers New DAG…; the command run from the
 * palette lists the templates, takes a DAG id (a bad one is refused as typed), writes the file,
 * opens it with the cursor in the first task's body, and the DAG appears in the DAGs tree.
 *
 *   npm run test:e2e   (screenshots: test-results/e2e/new-dag-*.png)
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { DAG_TEMPLATES, dagTemplatesFolder, renderDagTemplate } from '../../src/runtime/new-dag.ts';
import { packageHangarVsix, REPO_ROOT, startWorkbench } from './harness.ts';
import type { Workbench } from './harness.ts';

/** The cursor's line and column from the status bar ("Ln 5, Col 11"). */
async function cursor(vs: Workbench): Promise<string> {
  return (await vs.statusBarItems()).find((s) => /^Ln \d+, Col \d+/.test(s)) ?? '';
}

async function waitUntil(what: string, fn: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(200);
  }
}

let scratch = '';
let vsix = '';

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'hangar-e2e-new-dag-'));
  vsix = join(scratch, 'hangar.vsix');
  packageHangarVsix(vsix);
});

after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('New DAG (code-server)', { timeout: 600_000 }, () => {
  test('from the palette: a template, a DAG id checked as typed, the file opened at the first task, the DAG in the tree', async () => {
    const workspace = join(scratch, 'ws');
    await mkdir(join(workspace, 'flows'), { recursive: true });
    await writeFile(join(workspace, 'hangar.json'), JSON.stringify({ dagsFolder: 'flows' }) + '\n');
    const vs = await startWorkbench({ workspace, extensions: [vsix] });
    try {
      // An empty DAG folder: the DAGs view's welcome offers New DAG….
      await vs.openView('DAGs');
      const welcome = vs.viewPane('DAGs').locator('.welcome-view-content');
      await welcome.getByText(/no DAG file in the DAG folder yet/).waitFor({ timeout: 90_000 });
      await welcome.getByRole('button', { name: 'New DAG…' }).waitFor();
      await vs.screenshot('new-dag-welcome');

      await vs.runCommand('Hangar: New DAG…');
      // The palette's rows give way to the template pick.
      await waitUntil('the template pick', async () => (await vs.quickItems()).includes('ETL'));
      // Each template's row: its label, and its description under it.
      assert.deepEqual(
        await vs.quickItems(),
        DAG_TEMPLATES.flatMap((t) => [t.label, t.description]),
      );
      await vs.pickQuickItem('Branching');

      // The id box suggests a name; an invalid id is refused as typed, naming the character.
      await vs.typeInQuickInput('my flow', { replace: true });
      const message = vs.page.locator('.quick-input-widget .quick-input-message');
      await waitUntil('the id to be refused', async () =>
        /a space at position 3 is not allowed/.test((await message.innerText().catch(() => '')) ?? ''),
      );
      await vs.screenshot('new-dag-bad-id');
      await vs.submitInput('my_flow');

      // The file is written from the template and opened with the cursor in the first task's body.
      const file = join(workspace, 'flows', 'my_flow.ts');
      const expected = renderDagTemplate(
        await readFile(join(dagTemplatesFolder(REPO_ROOT), 'branching.ts'), 'utf8'),
        'my_flow',
      );
      await waitUntil(
        'the editor of my_flow.ts',
        async () =>
          (await vs.page.locator('.tabs-container .tab.active', { hasText: 'my_flow.ts' }).count()) > 0,
      );
      assert.equal(await readFile(file, 'utf8'), expected.text);
      await waitUntil('the cursor in the first task', async () =>
        (await cursor(vs)).startsWith(`Ln ${expected.line}, Col ${expected.column}`),
      );
      const line = (await vs.page.locator('.part.editor .monaco-editor .view-line').allInnerTexts()).find(
        (l) => l.replace(/\u00a0/g, ' ').includes('firstOfMonth ='),
      );
      assert.ok(line, 'the first task body is on screen');

      // The new DAG appears in the DAGs view (the trusted workspace reloads the DAG files).
      await vs.waitForTreeItem('DAGs', 'my_flow', { timeoutMs: 90_000 });
      await vs.screenshot('new-dag-opened');
    } catch (e) {
      await vs.collectDiagnostics('new-dag');
      throw e;
    } finally {
      await vs.stop();
    }
  });
});
