/**
 * "Render templates" (src/vscode/render.ts), in a real VS Code workbench from the packaged .vsix:
 * the CodeLens above a task with templated fields, the logical-date quick pick ("Enter a date…"),
 * and the read-only `hangar-render:` document showing the values rendered for that date — with the
 * connection's password masked (Airflow's Rendered Template view; airflow/models/renderedtifields.py
 * redacts secrets); a template error opens the DAG file at the template, with the message.
 *
 *   bash scripts/e2e/install-code-server.sh
 *   flock /tmp/hangar-e2e.lock npx node --test --test-reporter=spec test/e2e/render.e2e.ts
 *
 * Screenshots: test-results/e2e/render-*.png.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { packageHangarVsix, startWorkbench } from './harness.ts';

const PASSWORD = 'e2e-Pw-4471-secret';
const DAG = `import { dag } from 'hangar';

export const reports = dag({ id: 'reports', schedule: '@daily', startDate: '2024-01-01' });
reports.task(
  'load',
  { inputs: { url: 'postgres://{{ conn.warehouse.login }}:{{ conn.warehouse.password }}@{{ conn.warehouse.host }}/{{ ds_nodash }}', day: 'day={{ ds }}' } },
  async (_ctx, inputs) => inputs,
);
reports.task('plain', async () => 1);
reports.task('broken', { inputs: { q: 'x {{ nope }}' } }, async () => 1);
`;
/** Where the broken template's string literal is (1-based line and column). */
const BROKEN_AT = (() => {
  const before = DAG.slice(0, DAG.indexOf("'x {{ nope }}'")).split('\n');
  return { line: before.length, column: before.at(-1)!.length + 1 };
})();

let scratch = '';
let vsix = '';

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'hangar-e2e-render-'));
  vsix = join(scratch, 'hangar.vsix');
  packageHangarVsix(vsix);
  assert.ok(existsSync(vsix));
});

after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

test(
  'the Render templates CodeLens: a date chosen, the document shows the values rendered for it and the password masked',
  { timeout: 400_000 },
  async () => {
    const workspace = join(scratch, 'ws');
    await mkdir(join(workspace, 'dags'), { recursive: true });
    await writeFile(
      join(workspace, 'hangar.json'),
      JSON.stringify({ connections: { warehouse: `postgres://etl:${PASSWORD}@db.example.com:5432/dw` } }) +
        '\n',
    );
    await writeFile(join(workspace, 'dags', 'reports.ts'), DAG);
    const vs = await startWorkbench({ workspace, extensions: [vsix] });
    try {
      await vs.openView('DAGs');
      await vs.waitForTreeItem('DAGs', /^reports$/, { timeoutMs: 90_000 });
      await vs.openFile('dags/reports.ts');
      // A "Render templates" lens above `load` and `broken` (templated inputs), none above `plain`.
      const lens = vs.page.locator('.codelens-decoration a', { hasText: 'Render templates' });
      await lens.nth(1).waitFor({ state: 'visible', timeout: 60_000 });
      assert.equal(await lens.count(), 2);
      await vs.screenshot('render-01-codelens');
      await lens.first().click();

      // The date quick pick: next scheduled first, then "Enter a date…" (no runs yet).
      await vs.quickInput.waitFor({ state: 'visible', timeout: 20_000 });
      await vs.quickInputRows
        .filter({ hasText: 'Enter a date…' })
        .first()
        .waitFor({ state: 'visible', timeout: 20_000 });
      assert.deepEqual(await vs.quickItems(), ['Next scheduled run', 'Enter a date…']);
      await vs.pickQuickItem('Enter a date…');
      await vs.submitInput('2024-02-29');

      const docTab = vs.page.locator('.tabs-container .tab', {
        hasText: 'load (2024-02-29T00:00:00.000Z).rendered',
      });
      await docTab.first().waitFor({ timeout: 60_000 });
      const docEditor = vs.page.locator('.editor-group-container.active .monaco-editor').first();
      await docEditor.locator('.view-lines', { hasText: 'day=2024-02-29' }).waitFor({ timeout: 30_000 });
      const text = (await docEditor.locator('.view-lines').innerText()).replace(/\u00a0/g, ' ');
      await vs.screenshot('render-02-document');
      assert.match(text, /logical date 2024-02-29T00:00:00\.000Z \(the date chosen\)/);
      assert.match(text, /postgres:\/\/etl:\*\*\*@db\.example\.com\/20240229/);
      assert.match(text, /day=2024-02-29/);
      assert.ok(!text.includes(PASSWORD), 'the password is masked');
      // Read-only: typing changes nothing.
      await docEditor.locator('.view-lines').click();
      await vs.page.keyboard.type('tampered');
      await vs.page
        .locator('.monaco-editor-overlaymessage', { hasText: /read-only/i })
        .first()
        .waitFor({ timeout: 10_000 });
      assert.doesNotMatch(await docEditor.locator('.view-lines').innerText(), /tampered/);

      // A template error: the DAG file opens at the template's string literal; the message names DAG, task and field.
      await vs.page.locator('.tabs-container .tab', { hasText: 'reports.ts' }).first().click();
      await lens.nth(1).click();
      await vs.pickQuickItem('Next scheduled run');
      const note = await vs.waitForNotification(/field "inputs\.q"/, { timeoutMs: 60_000 });
      assert.ok(
        note.message.includes(
          `reports.ts:${BROKEN_AT.line}:${BROKEN_AT.column}: DAG "reports", task "broken", field "inputs.q": unknown template variable "nope"`,
        ),
        note.message,
      );
      const cursor = `Ln ${BROKEN_AT.line}, Col ${BROKEN_AT.column}`;
      const deadline = Date.now() + 20_000;
      while (!(await vs.statusBarItems()).some((t) => t.includes(cursor))) {
        if (Date.now() > deadline)
          throw new Error(`the cursor is not at ${cursor}: ${JSON.stringify(await vs.statusBarItems())}`);
        await vs.page.waitForTimeout(200);
      }
      // The active editor group's active tab is the DAG file (the rendered document stays in its group).
      await vs.page
        .locator('.editor-group-container.active .tab.active', { hasText: 'reports.ts' })
        .first()
        .waitFor({ state: 'visible', timeout: 10_000 });
      await vs.screenshot('render-03-template-error');
    } catch (err) {
      await vs.collectDiagnostics('render');
      throw err;
    } finally {
      await vs.stop();
    }
  },
);
