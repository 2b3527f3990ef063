/**
 * The XCom benchmarks panel in a real VS Code (code-server + Chromium), from the
 * packaged .vsix: "Hangar: XCom Benchmarks", run the quick benchmark in the
 * runtime (progress in the panel and in a VS Code notification), see the three
 * charts drawn with the measured points, bars and target lines and the data
 * table, save the result to .hangar/bench/, run again while the panel is hidden
 * (no retainContextWhenHidden: it is rebuilt from its state and the host's latest
 * result), compare with the saved run (dashed series, per-cell change table),
 * and cancel a run.
 *
 *   npm run test:e2e   (screenshots: test-results/e2e/xcom-bench-*.png)
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { packageHangarVsix, startWorkbench } from './harness.ts';

/** Lets the palette that clearNotifications used fade out before a screenshot. */
const settle = () => new Promise((r) => setTimeout(r, 800));

let scratch = '';
let vsix = '';

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'hangar-e2e-xcom-bench-'));
  vsix = join(scratch, 'hangar.vsix');
  packageHangarVsix(vsix);
});

after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('Hangar XCom benchmarks in a real VS Code (code-server)', { timeout: 900_000 }, () => {
  test('XCom benchmarks: run with progress, charts, save, run again hidden, compare, cancel', async () => {
    const workspace = join(scratch, 'ws');
    await mkdir(join(workspace, 'dags'), { recursive: true });
    await writeFile(join(workspace, 'hangar.json'), JSON.stringify({ dagsFolder: 'dags' }));
    const vs = await startWorkbench({ workspace, extensions: [vsix] });
    try {
      await vs.runCommand('Hangar: XCom Benchmarks');
      const frame = vs.page.frameLocator('iframe.webview').frameLocator('#active-frame');
      await frame.locator('#empty').waitFor({ timeout: 60_000 });
      await frame.locator('#saved-section', { hasText: 'None yet' }).waitFor({ timeout: 30_000 });

      // Run the quick benchmark: progress shows in the panel (cells done of total) and as a VS Code notification.
      await frame.locator('#run').click();
      await frame.locator('#progress-text', { hasText: /\d+ of \d+ cells · \w+ \w+ / }).waitFor({ timeout: 60_000 });
      const progress = await frame.locator('#progress-text').innerText();
      const total = Number(/of (\d+) cells/.exec(progress)![1]);
      await vs.waitForNotification(/XCom benchmark/, { timeoutMs: 30_000 });
      await frame.locator('#meta').waitFor({ timeout: 120_000 });
      assert.equal(await frame.locator('body[data-running]').count(), 0);

      // The data table has every cell measured; the charts have its points, bars and targets.
      const rows = await frame.locator('#data tbody tr').count();
      assert.equal(rows, total, 'one table row per measured cell');
      const backends = await frame.locator('#data tbody tr').evaluateAll((trs) => [...new Set(trs.map((t) => t.getAttribute('data-backend')))]);
      assert.deepEqual(backends, ['database', 'file', 'compressed', 'encrypted', 'hybrid', 's3']);
      const mediumRows = await frame.locator('#data tbody tr[data-type="medium"]').count();
      assert.equal(await frame.locator('#chart-time circle.point').count(), mediumRows, 'chart (a): one point per medium cell');
      assert.equal(await frame.locator('#chart-time path.series').count(), 6, 'one line per backend');
      // A point's position follows its value: larger values sit higher (smaller y) on the log axis.
      const pts = await frame.locator('#chart-time circle.point[data-backend="compressed"]').evaluateAll((cs) => cs.map((c) => ({ size: Number(c.getAttribute('data-size')), ms: Number(c.getAttribute('data-ms')), cy: Number(c.getAttribute('cy')) })));
      assert.equal(pts.length, mediumRows / 6);
      const bySize = [...pts].sort((a, b) => a.size - b.size);
      assert.ok(bySize.at(-1)!.ms > bySize[0]!.ms && bySize.at(-1)!.cy < bySize[0]!.cy, `1 MiB takes longer than 100 B and is drawn higher: ${JSON.stringify(bySize)}`);
      assert.ok((await frame.locator('#chart-stored rect.bar').count()) >= 6 * 4, 'chart (b): a bar per backend and data type');
      assert.equal(await frame.locator('#chart-throughput rect.bar').count(), 6, 'chart (c): a bar per backend');
      const targets = await frame.locator('#chart-throughput line.target').evaluateAll((ls) => ls.map((l) => [l.getAttribute('data-backend'), l.getAttribute('data-target')]));
      assert.deepEqual(targets, [['file', '0.5'], ['compressed', '0.8'], ['encrypted', '0.8']]);
      assert.equal(await frame.locator('#targets li').count(), 3);
      assert.match(await frame.locator('#chart-time circle.point >> nth=0').innerHTML(), /<title>[^<]+ · medium · /, 'points have tooltips');
      const firstMeta = await frame.locator('#meta').innerText();
      await vs.clearNotifications();
      await settle();
      await vs.screenshot('xcom-bench-01-charts');

      // Save it: a file in .hangar/bench/, listed under "Saved runs".
      await frame.locator('#save').click();
      await frame.locator('#saved tbody tr').waitFor({ timeout: 30_000 });
      const benchDir = join(workspace, '.hangar', 'bench');
      const files = readdirSync(benchDir).filter((f) => /^xcom-.*\.json$/.test(f));
      assert.equal(files.length, 1);
      const savedJson = JSON.parse(await readFile(join(benchDir, files[0]!), 'utf8')) as { rows: unknown[]; meta: { quick: boolean } };
      assert.equal(savedJson.rows.length, total);
      assert.equal(savedJson.meta.quick, true);
      assert.equal(await frame.locator('#saved tbody tr').getAttribute('data-file'), files[0]);
      assert.match(await frame.locator('#meta').innerText(), new RegExp(`saved as ${files[0]!.replace(/\./g, '\\.')}`));
      assert.equal(await frame.locator('#save').innerText(), 'Saved');

      // Run again and hide the panel while it runs (its webview is torn down), then show it again:
      // it comes back with the new result.
      await frame.locator('#run').click();
      await frame.locator('#progress-text', { hasText: /of \d+ cells/ }).waitFor({ timeout: 60_000 });
      await frame.locator('body').evaluate(() => ((globalThis as unknown as { hangarMark: number }).hangarMark = 1));
      await vs.openFile('hangar.json');
      await vs.page.locator('.tabs-container .tab.active', { hasText: 'hangar.json' }).waitFor({ timeout: 15_000 });
      await new Promise((r) => setTimeout(r, 1500));
      await vs.page.locator('.tabs-container .tab', { hasText: 'XCom Benchmarks' }).click();
      await frame.locator('#meta').waitFor({ timeout: 60_000 });
      assert.equal(await frame.locator('body').evaluate(() => (globalThis as unknown as { hangarMark?: number }).hangarMark), undefined, 'the webview was rebuilt');
      const deadline = Date.now() + 120_000;
      while ((await frame.locator('#meta').innerText()) === firstMeta && Date.now() < deadline) await new Promise((r) => setTimeout(r, 500));
      assert.notEqual(await frame.locator('#meta').innerText(), firstMeta, 'the second run’s result is shown');
      await frame.locator('body:not([data-running])').waitFor({ state: 'attached', timeout: 60_000 });
      assert.equal(await frame.locator('#data tbody tr').count(), total);

      // Compare with the saved run: dashed series and markers, and the change of every cell.
      await frame.locator(`#saved tbody tr[data-file="${files[0]}"] .compare`).click();
      await frame.locator('#changes tbody tr').first().waitFor({ timeout: 30_000 });
      assert.equal(await frame.locator('#changes tbody tr').count(), total, 'every cell is in both runs');
      assert.equal(await frame.locator('#chart-time path.series.before').count(), 6);
      assert.equal(await frame.locator('#chart-time circle.point.before').count(), mediumRows);
      assert.ok((await frame.locator('#chart-stored line.before-tick').count()) >= 6 * 4);
      assert.equal(await frame.locator('#chart-throughput line.before-tick').count(), 6);
      assert.match(await frame.locator('#compare-meta').innerText(), new RegExp(files[0]!.replace(/\./g, '\\.')));
      assert.match(await frame.locator('#changes tbody tr >> nth=0').innerText(), /→/);
      await frame.locator(`#saved tbody tr.comparing[data-file="${files[0]}"]`).waitFor({ timeout: 10_000 });
      await vs.clearNotifications();
      await frame.locator('#chart-time').scrollIntoViewIfNeeded();
      await settle();
      await vs.screenshot('xcom-bench-02-compare');

      // Cancel a run: it stops between cells and says so; the result shown stays.
      const shownMeta = await frame.locator('#meta').innerText();
      await frame.locator('#run').click();
      await frame.locator('#progress-text', { hasText: /of \d+ cells/ }).waitFor({ timeout: 60_000 });
      await frame.locator('#cancel').click();
      await frame.locator('#status', { hasText: 'Cancelled.' }).waitFor({ timeout: 60_000 });
      assert.equal(await frame.locator('body[data-running]').count(), 0);
      assert.equal(await frame.locator('#meta').innerText(), shownMeta);
      await vs.screenshot('xcom-bench-03-cancelled');

      // Other themes: the charts take their colours from the theme's variables.
      for (const [theme, shot] of [['Light Modern', 'xcom-bench-04-light'], ['Dark High Contrast', 'xcom-bench-05-high-contrast']] as const) {
        await vs.runCommand('Preferences: Color Theme');
        await vs.typeInQuickInput(theme); // the list is virtualised: filter it first
        await vs.pickQuickItem(theme);
        await vs.page.waitForTimeout(1500);
        await frame.locator('#chart-throughput').scrollIntoViewIfNeeded();
        await vs.screenshot(shot);
      }
    } catch (e) {
      await vs.collectDiagnostics('xcom-bench-failure').catch(() => undefined);
      throw e;
    } finally {
      await vs.stop();
    }
  });
});
