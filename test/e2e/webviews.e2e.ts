/**
 * Hangar's webviews in a real VS Code (code-server + Chromium), from the packaged
 * .vsix, driven through the UI: set an XCom key from the palette, run a DAG that
 * pushes compressed, encrypted and prefixed XComs, tamper with one in the store,
 * then open the XCom browser, filter, decode, keep filter / selection / expanded
 * nodes across hiding the panel, open a value as a read-only document, save it
 * to a file, reveal, and see the tampered one fail.
 *
 *   npm run test:e2e   (screenshots: test-results/e2e/webviews-*.png)
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { packageHangarVsix, startWorkbench } from './harness.ts';

const DAG = `import { dag } from 'hangar';

export const demo = dag({ id: 'webview_demo', schedule: null, description: 'XComs for the XCom browser' });

demo.task('produce', async (ctx) => {
  const rows = Array.from({ length: 3000 }, (_, i) => ({ id: i, city: 'Lisbon', note: 'the same words, over and over' }));
  await ctx.xcom.push('report', { rows, at: new Date('2024-05-01T10:00:00Z') }, { backend: 'compressed' });
  await ctx.xcom.push('api_token', { token: 'hunter2-e2e-secret' }, { backend: 'encrypted', sensitive: true });
  await ctx.xcom.push('broken_token', { token: 'will-be-tampered' }, { backend: 'encrypted', sensitive: true });
  for (const n of ['a', 'b', 'c']) await ctx.xcom.push('part_' + n, { n });
  return 'done';
});
`;

let scratch = '';
let vsix = '';

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'hangar-e2e-webviews-'));
  vsix = join(scratch, 'hangar.vsix');
  packageHangarVsix(vsix);
});

after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('Hangar webviews in a real VS Code (code-server)', { timeout: 900_000 }, () => {
  test('XCom browser: filter, decode a compressed value, decrypt after setting a key, a tampered value says why', async () => {
    const workspace = join(scratch, 'ws');
    await mkdir(join(workspace, 'dags'), { recursive: true });
    await writeFile(join(workspace, 'hangar.json'), JSON.stringify({ dagsFolder: 'dags', xcom: { backend: 'database' } }));
    await writeFile(join(workspace, 'dags', 'webview_demo.ts'), DAG);
    const vs = await startWorkbench({ workspace, extensions: [vsix] });
    try {
      await vs.openView('DAGs');
      await vs.waitForTreeItem('DAGs', 'webview_demo', { timeoutMs: 90_000 });

      // The key, from the palette (as a user would paste one).
      const key = randomBytes(32).toString('base64');
      // Typing a 44-character key into the palette on a loaded machine can lose the prompt; a user would
      // simply try again, and so does the test (once), rather than fail on the UI's timing.
      for (let attempt = 1; ; attempt++) {
        await vs.runCommand('Hangar: Set Encryption Key');
        await vs.pickQuickItem('Enter an existing key');
        await vs.submitInput('e2e');
        await vs.submitInput(key);
        try {
          await vs.waitForNotification(/XCom key "e2e" is now the primary key/, { timeoutMs: attempt === 1 ? 20_000 : 60_000 });
          break;
        } catch (err) {
          if (attempt >= 2) throw err;
          await vs.closeQuickInput();
        }
      }

      await vs.runCommand('Hangar: Run DAG...');
      await vs.pickQuickItem('webview_demo');
      await vs.waitForNotification(/run .* of webview_demo succeeded/, { timeoutMs: 120_000 });

      // Tamper with one encrypted value in the store: flip its last ciphertext byte.
      const db = new DatabaseSync(join(workspace, '.hangar', 'hangar.db'));
      const row = db.prepare("SELECT value FROM xcom WHERE key = 'broken_token'").get() as { value: Uint8Array };
      const bytes = Buffer.from(row.value);
      bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
      db.prepare("UPDATE xcom SET value = ? WHERE key = 'broken_token'").run(bytes);
      db.close();

      await vs.runCommand('Hangar: Open XCom Browser');
      const frame = vs.page.frameLocator('iframe.webview').frameLocator('#active-frame');
      const rowOf = (k: string) => frame.locator(`#table tbody tr[data-key="${k}"]`);
      await rowOf('report').waitFor({ timeout: 60_000 });
      assert.equal(await frame.locator('#table tbody tr').count(), 7);
      assert.match(await rowOf('report').innerText(), /gzip|zstd|brotli/);
      assert.match(await rowOf('api_token').innerText(), /encrypted/);
      await vs.screenshot('webviews-01-xcom-browser');

      // Filter by key prefix.
      await frame.locator('#f-keyPrefix input').fill('part_');
      await frame.locator('#table tbody tr[data-key="report"]').waitFor({ state: 'detached', timeout: 10_000 });
      assert.deepEqual(await frame.locator('#table tbody tr').evaluateAll((trs) => trs.map((t) => t.getAttribute('data-key'))), ['part_a', 'part_b', 'part_c']);
      assert.match(await frame.locator('#range').innerText(), /1–3 of 3/);
      await vs.screenshot('webviews-02-filtered');
      await frame.locator('#f-keyPrefix input').fill('');
      await rowOf('report').waitFor({ timeout: 10_000 });

      // A compressed value, decoded in the runtime, as a typed tree.
      await rowOf('report').click();
      await frame.locator('#tree').waitFor({ timeout: 30_000 });
      const tree = await frame.locator('#tree').innerText();
      assert.match(tree, /Array\(3000\)/);
      assert.match(tree, /2024-05-01T10:00:00\.000Z/);
      assert.match(tree, /Date/);
      await vs.screenshot('webviews-03-decoded-compressed');

      // State survives hiding the panel: filter, selection, expanded tree node.
      await frame.locator('#f-keyPrefix input').fill('rep');
      await frame.locator('#table tbody tr[data-key="part_a"]').waitFor({ state: 'detached', timeout: 10_000 });
      await frame.locator('#tree details[data-path=\'["rows"]\'] > summary').click();
      await frame.locator('#tree details[data-path=\'["rows"]\'][open] details[data-path=\'["rows",0]\']').waitFor({ timeout: 10_000 });
      await frame.locator('body').evaluate(() => ((globalThis as unknown as { hangarMark: number }).hangarMark = 1));
      await vs.openFile('hangar.json'); // over the panel, in its group: the webview is torn down (no retainContextWhenHidden)
      await vs.page.locator('.tabs-container .tab.active', { hasText: 'hangar.json' }).waitFor({ timeout: 15_000 });
      await vs.page.locator('.tabs-container .tab', { hasText: 'XCom Browser' }).click();
      await frame.locator('#tree details[data-path=\'["rows"]\'][open] details[data-path=\'["rows",0]\']').waitFor({ timeout: 30_000 });
      assert.equal(await frame.locator('body').evaluate(() => (globalThis as unknown as { hangarMark?: number }).hangarMark), undefined, 'the webview was rebuilt');
      assert.equal(await frame.locator('#f-keyPrefix input').inputValue(), 'rep');
      assert.deepEqual(await frame.locator('#table tbody tr').evaluateAll((trs) => trs.map((t) => t.getAttribute('data-key'))), ['report']);
      assert.match((await rowOf('report').getAttribute('class')) ?? '', /\bselected\b/);
      await vs.screenshot('webviews-03b-shown-again');

      // The whole value as a read-only document beside the browser.
      await frame.locator('#open-doc').click();
      const docTab = vs.page.locator('.tabs-container .tab', { hasText: 'report.json' });
      await docTab.first().waitFor({ timeout: 30_000 });
      const docEditor = vs.page.locator('.editor-group-container.active .monaco-editor').first();
      await docEditor.locator('.view-lines', { hasText: '"rows"' }).waitFor({ timeout: 30_000 });
      await docEditor.locator('.view-lines').click();
      await vs.page.keyboard.type('tampered');
      await vs.page.locator('.monaco-editor-overlaymessage', { hasText: /read-only/i }).first().waitFor({ timeout: 10_000 });
      assert.doesNotMatch(await docEditor.locator('.view-lines').innerText(), /tampered/);
      assert.equal(await vs.page.locator('.tabs-container .tab.dirty').count(), 0, 'nothing is dirty');
      assert.match(await frame.locator('#status').innerText(), /Opened .* of JSON, read-only/);
      await vs.screenshot('webviews-03c-read-only-document');

      // Save to file…: the save dialog offers the workspace and a name from the task and key.
      await frame.locator('#save-file').click();
      await vs.quickInput.waitFor({ timeout: 15_000 });
      // The dialog fills in the folder first, then the suggested name.
      let offered = '';
      for (const end = Date.now() + 15_000; Date.now() < end && !/produce\.report\.json$/.test(offered); await new Promise((r) => setTimeout(r, 200))) {
        offered = await vs.quickInput.inputValue();
      }
      assert.equal(offered, join(workspace, 'produce.report.json'));
      await vs.page.keyboard.press('Enter');
      const saved = join(workspace, 'produce.report.json');
      await frame.locator('#status', { hasText: /Saved .* to / }).waitFor({ timeout: 30_000 });
      const json = JSON.parse(await readFile(saved, 'utf8')) as { rows: unknown[]; at: string };
      assert.equal(json.rows.length, 3000);
      assert.equal(json.at, '2024-05-01T10:00:00.000Z');

      await frame.locator('#f-keyPrefix input').fill('');
      await rowOf('api_token').waitFor({ timeout: 10_000 });

      // The encrypted, sensitive value: masked, then revealed (decrypted with the key from secret storage).
      await rowOf('api_token').click();
      await frame.locator('#masked').waitFor({ timeout: 30_000 });
      assert.doesNotMatch(await frame.locator('#detail').innerText(), /hunter2/);
      await frame.locator('#reveal').click();
      await frame.locator('#tree').waitFor({ timeout: 30_000 });
      assert.match(await frame.locator('#tree').innerText(), /hunter2-e2e-secret/);
      await vs.screenshot('webviews-04-decrypted');

      // The tampered one says why, offers a key, and its raw envelope shows the failed integrity check.
      await rowOf('broken_token').click();
      const failure = frame.locator('#failure');
      await failure.waitFor({ timeout: 30_000 });
      assert.equal(await failure.getAttribute('data-reason'), 'wrong-key-or-tampered');
      assert.match(await failure.innerText(), /wrong key or tampered/i);
      await frame.locator('#set-key').waitFor();
      await frame.locator('#raw-toggle').click();
      await frame.locator('#integrity').waitFor({ timeout: 30_000 });
      assert.equal(await frame.locator('#integrity').getAttribute('data-status'), 'authentication');
      await vs.screenshot('webviews-05-tampered');
    } catch (e) {
      await vs.collectDiagnostics('webviews-failure').catch(() => undefined);
      throw e;
    } finally {
      await vs.stop();
    }
  });
});
