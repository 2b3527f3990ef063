/**
 * The sensor panel in a real VS Code (code-server + Chromium), from the
 * packaged .vsix: open "Hangar: Open Sensor Panel", run a slow sensor and
 * watch its pokes arrive live; run examples/dags/sensor_demo.ts, open the
 * panel from a sensor task's context menu in the Runs view and see its pokes
 * (an error, a retry, not yet, done), the curve, the deadlines and the
 * statistics; hide the panel and find the same sensor when it is shown again.
 *
 *   npm run test:e2e   (screenshots: test-results/e2e/sensors-*.png)
 */
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT, packageHangarVsix, startWorkbench } from './harness.ts';

/** A sensor slow enough to watch: a poke every second, done at the eighth. */
const SLOW_DAG = `import { dag, sensor } from 'hangar';

export const slow = dag({ id: 'e2e_slow_sensor', schedule: null, description: 'A sensor to watch live' });

sensor(slow, 'wait_slowly', { mode: 'poke', pokeInterval: '1s', timeout: '60s' }, async (ctx) => ctx.pokeNumber >= 8);
`;

let scratch = '';
let vsix = '';

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'hangar-e2e-sensors-'));
  vsix = join(scratch, 'hangar.vsix');
  packageHangarVsix(vsix);
});

after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('Hangar sensor panel in a real VS Code (code-server)', { timeout: 900_000 }, () => {
  test('sensor panel: pokes arrive live; a sensor run opened from the Runs view shows its pokes, curve, deadlines and stats', async () => {
    const workspace = join(scratch, 'ws');
    await mkdir(join(workspace, 'dags'), { recursive: true });
    await writeFile(join(workspace, 'hangar.json'), JSON.stringify({ dagsFolder: 'dags' }));
    await writeFile(join(workspace, 'dags', 'e2e_slow_sensor.ts'), SLOW_DAG);
    await copyFile(join(REPO_ROOT, 'examples', 'dags', 'sensor_demo.ts'), join(workspace, 'dags', 'sensor_demo.ts'));
    const vs = await startWorkbench({ workspace, extensions: [vsix] });
    try {
      await vs.openView('DAGs');
      await vs.waitForTreeItem('DAGs', 'sensor_demo', { timeoutMs: 90_000 });
      await vs.waitForTreeItem('DAGs', 'e2e_slow_sensor');

      // The panel first, empty; then a run: its pokes appear without touching the panel.
      await vs.runCommand('Hangar: Open Sensor Panel');
      const frame = vs.page.frameLocator('iframe.webview').frameLocator('#active-frame');
      await frame.locator('#status', { hasText: 'No sensor has run yet' }).waitFor({ timeout: 60_000 });
      // The DAG picker closed under the click once in CI (the row listed, then "not visible": focus taken
      // from the quick input as the panel settled); the picker is opened again then, up to three times.
      for (let attempt = 1; ; attempt++) {
        await vs.runCommand('Hangar: Run DAG...');
        try {
          await vs.pickQuickItem('e2e_slow_sensor', { clickTimeoutMs: 10_000 });
          break;
        } catch (err) {
          if (attempt >= 3) throw err;
          await vs.page.keyboard.press('Escape');
        }
      }
      const pokeRows = frame.locator('#pokes tbody tr[data-poke]');
      await frame.locator('body[data-live="true"] #pokes tbody tr[data-poke="1"]').waitFor({ timeout: 60_000 });
      const seen = await pokeRows.count();
      assert.ok(seen < 8, `still poking when first seen (${seen} pokes)`);
      await frame.locator(`#pokes tbody tr[data-poke="${seen + 1}"]`).waitFor({ timeout: 15_000 });
      assert.match(await frame.locator('#badges').innerText(), /poking/);
      assert.ok((await frame.locator('#timeline .now').count()) === 1, 'a live sensor shows "now"');
      assert.ok((await frame.locator('#timeline .poke.planned').count()) >= 1, 'and its planned next pokes');
      await vs.screenshot('sensors-01-live');
      await frame.locator('body[data-live="false"]').waitFor({ timeout: 30_000 });
      assert.equal(await pokeRows.count(), 8);
      assert.deepEqual(await frame.locator('#pokes tbody tr[data-poke] .result').allInnerTexts(), [...Array(7).fill('not yet'), 'done']);
      assert.equal(await frame.locator('#timeline .poke.result-done').count(), 1);
      assert.equal(await frame.locator('#timeline .poke.result-not_yet').count(), 7);
      assert.equal(await frame.locator('#timeline .poke.planned').count(), 0, 'nothing planned once done');
      await vs.waitForNotification(/run .* of e2e_slow_sensor succeeded/, { timeoutMs: 60_000 });
      await vs.clearNotifications();

      // The example: one sensor errs on its first poke, is retried, then is ready. Opened from the Runs view.
      await vs.runCommand('Hangar: Run DAG...');
      await vs.pickQuickItem('sensor_demo');
      await vs.waitForNotification(/run .* of sensor_demo succeeded/, { timeoutMs: 120_000 });
      await vs.clearNotifications();
      await vs.openView('Runs');
      await vs.waitForTreeItem('Runs', 'wait_for_partner_api', { timeoutMs: 30_000 });
      await vs.treeItemContextAction('Runs', 'wait_for_partner_api', 'Open Sensor Panel');
      await frame.locator('#detail h2', { hasText: 'wait_for_partner_api' }).waitFor({ timeout: 30_000 });
      await frame.locator('#pokes tbody tr[data-poke="3"]').waitFor({ timeout: 30_000 });
      assert.deepEqual(await frame.locator('#pokes tbody tr[data-poke] .result').allInnerTexts(), ['error', 'not yet', 'done']);
      assert.match(await frame.locator('#pokes tbody tr[data-poke="1"]').innerText(), /503 Service Unavailable/);
      assert.match(await frame.locator('#badges').innerText(), /success[\s\S]*mode: reschedule[\s\S]*breaker: closed/);
      assert.match(await frame.locator('#breaker').innerText(), /0 of 3 consecutive errors open it for 5s/);
      assert.equal(await frame.locator('#stat-success .stat-value').innerText(), '100%');
      assert.match(await frame.locator('#stat-avg .stat-value').innerText(), /^\d(\.\d+)?s$/);
      assert.equal(await frame.locator('#timeline .try-label').textContent(), 'try 2');
      assert.equal(await frame.locator('#intervals .band').count(), 1, '±20 % jitter band');
      await vs.screenshot('sensors-02-partner-api');

      // The other sensor of that run: three pokes, the exponential curve, the timeout and both SLA levels as lines.
      await frame.locator('#instances tbody tr[data-task-id="wait_for_flag"]').first().click();
      await frame.locator('#detail h2', { hasText: 'wait_for_flag' }).waitFor({ timeout: 30_000 });
      await frame.locator('#pokes tbody tr[data-poke="3"]').waitFor({ timeout: 30_000 });
      assert.deepEqual(await frame.locator('#pokes tbody tr[data-poke] .result').allInnerTexts(), ['not yet', 'not yet', 'done']);
      assert.equal(await frame.locator('#timeline .deadline-timeout:not(.off-chart)').count(), 1);
      assert.equal(await frame.locator('#timeline .deadline-sla:not(.off-chart)').count(), 2);
      assert.equal(await frame.locator('#intervals .curve').count(), 1);
      assert.equal(await frame.locator('#intervals .chosen').count(), 2);
      assert.match(await frame.locator('#facts').innerText(), /exponential: from 1s, ×2 per poke, at most 4s/);
      await vs.screenshot('sensors-03-flag');

      // Hidden behind another editor and shown again: the webview is rebuilt and shows the same sensor.
      await frame.locator('body').evaluate(() => ((globalThis as unknown as { hangarMark: number }).hangarMark = 1));
      await vs.openFile('hangar.json');
      await vs.page.locator('.tabs-container .tab.active', { hasText: 'hangar.json' }).waitFor({ timeout: 15_000 });
      await vs.page.locator('.tabs-container .tab', { hasText: 'Sensors' }).click();
      await frame.locator('#detail h2', { hasText: 'wait_for_flag' }).waitFor({ timeout: 30_000 });
      assert.equal(await frame.locator('body').evaluate(() => (globalThis as unknown as { hangarMark?: number }).hangarMark), undefined, 'the webview was rebuilt');
      assert.match((await frame.locator('#instances tbody tr.selected').getAttribute('data-task-id')) ?? '', /^wait_for_flag$/);
      assert.equal(await frame.locator('#f-dag').evaluate((e) => (e as unknown as { value: string }).value), 'sensor_demo', 'the DAG filter the Runs view set');

      // Light and high-contrast themes: the same panel, coloured from the theme's variables.
      for (const theme of [
        { label: 'Light Modern', kind: 'vscode-light', workbench: 'vs', file: 'light' },
        { label: 'Dark High Contrast', kind: 'vscode-high-contrast', workbench: 'hc-black', file: 'hc-dark' },
        { label: 'Light High Contrast', kind: 'vscode-high-contrast-light', workbench: 'hc-light', file: 'hc-light' },
      ]) {
        await vs.runCommand('Preferences: Color Theme');
        await vs.typeInQuickInput(theme.label, { replace: true });
        await vs.pickQuickItem(theme.label);
        await vs.page.waitForFunction(`document.querySelector('.monaco-workbench')?.classList.contains(${JSON.stringify(theme.workbench)})`, undefined, { timeout: 30_000 });
        await frame.locator(`body[data-vscode-theme-kind="${theme.kind}"]`).waitFor({ state: 'attached', timeout: 30_000 });
        await new Promise((r) => setTimeout(r, 300)); // let the new variables paint
        // The pokes are drawn in the theme's chart colours, distinct from the background.
        type Styles = { getComputedStyle(e: unknown): { fill: string; backgroundColor: string } };
        const fills = await frame.locator('#timeline .poke circle').evaluateAll((cs) => cs.map((c) => (globalThis as unknown as Styles).getComputedStyle(c).fill));
        const bg = await frame.locator('body').evaluate((b) => (globalThis as unknown as Styles).getComputedStyle(b).backgroundColor);
        assert.equal(new Set(fills).size, 2, `two results, two colours in ${theme.label}: ${fills.join(', ')}`);
        assert.ok(!fills.includes(bg), `poke colours differ from the background in ${theme.label}`);
        await vs.screenshot(`sensors-04-${theme.file}`);
      }
    } catch (e) {
      await vs.collectDiagnostics('sensors-failure').catch(() => undefined);
      throw e;
    } finally {
      await vs.stop();
    }
  });
});
