/**
 * The grid view in a real VS Code (code-server + Chromium), from the packaged
 * .vsix: run a DAG with a mapped task (one map index fails on its first try),
 * open "Hangar: Show Grid", check cells and their colours, watch a second run
 * go live (a running cell, its log streamed in the detail pane), move with the
 * keyboard, expand the mapped row, clear the failed map index from the grid
 * (it runs again and succeeds, and the task after it too), open the XCom
 * browser from a cell, hide and show the panel (same selection), open the
 * Gantt of the run from a cell (a bar per try, the critical path) and the task
 * durations, and take screenshots in the dark, light and high-contrast themes.
 * Then a DAG with task groups (one nested, a mapped task inside): a group is
 * one row with its aggregated state until opened, by click or keyboard, and
 * stays open when the panel is hidden and shown again.
 *
 *   npm run test:e2e   (screenshots: test-results/e2e/grid-*.png)
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { packageHangarVsix, startWorkbench } from './harness.ts';
import { contrastFailures, measure, panelFrame } from './contrast.ts';
import type { Measured, Spec } from './contrast.ts';

const GRID_SPECS: Spec[] = [
  { name: 'task name', text: '#grid .name:not(.focused):not(.map-index) .label' },
  { name: 'focused task name', text: '#grid .name.focused .label' },
  { name: 'map index name', text: '#grid .name.map-index:not(.focused) .label' },
  { name: 'mapped count', text: '#grid .name .count' },
  { name: 'run type', text: '#grid .run-type' },
  { name: 'corner', text: '#grid .corner span' },
  { name: 'page info', text: '#page-info' },
  { name: 'focused cell info', text: '#focus-info' },
  { name: 'legend', text: '.legend-item' },
  { name: 'detail title', text: '#detail-title' },
  { name: 'detail state', text: '#detail-state' },
  { name: 'detail run', text: '.detail-run' },
  { name: 'tries header', text: '#tries th' },
  { name: 'shown try state', text: '#tries tbody tr.shown td span' },
  { name: 'log', text: '#log' },
];
const GANTT_SPECS: Spec[] = [
  { name: 'row label', text: 'svg.gantt .row-label:not(.critical)' },
  { name: 'time axis', text: 'svg.gantt .tick-label' },
  { name: 'summary', text: '#summary' },
  { name: 'legend', text: '.legend-item' },
];

const DAG = `import { dag } from 'hangar';

export const d = dag({ id: 'grid_demo', schedule: null, description: 'A fan-out with a mapped task and a slow task' });

const extract = d.task('extract', async () => ['a.csv', 'b.csv', 'c.csv']);
const size = d.task('size', { expand: { file: extract } }, async (ctx, { file }) => {
  if (ctx.mapIndex === 2 && ctx.tryNumber === 1) throw new Error('cannot size ' + file);
  return file.length;
});
d.task('slow', { inputs: { files: extract } }, async (ctx) => {
  const n = 12;
  for (let i = 1; i <= n; i++) {
    console.log('tick ' + i);
    await new Promise((r) => setTimeout(r, 400));
  }
  return n;
});
d.task('total', { inputs: { sizes: size } }, async (_ctx, { sizes }) => sizes.length);
`;

const GROUPS_DAG = `import { dag } from 'hangar';

export const d = dag({ id: 'grid_groups', schedule: null, description: 'Task groups in the grid' });

const start = d.task('start', async () => ['x', 'y']);
const extract = d.group('extract', (g) => {
  g.task('a', async () => 1);
  g.task('parts', { expand: { item: start } }, async (ctx, { item }) => {
    if (ctx.mapIndex === 1) throw new Error('bad part ' + item);
    return item;
  });
  g.group('inner', (i) => i.task('deep', async () => 2));
});
const end = d.task('end', async () => 3);
d.chain(start, extract, end);
`;

let scratch = '';
let vsix = '';

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'hangar-e2e-grid-'));
  vsix = join(scratch, 'hangar.vsix');
  packageHangarVsix(vsix);
});

after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

type Styles = { getComputedStyle(e: unknown): { backgroundColor: string; borderTopColor: string } };

describe('Hangar grid in a real VS Code (code-server)', { timeout: 900_000 }, () => {
  test('grid: cells by state, live run with its log, keyboard, mapped row, clear, XComs, themes', async () => {
    const workspace = join(scratch, 'ws');
    await mkdir(join(workspace, 'dags'), { recursive: true });
    await writeFile(join(workspace, 'hangar.json'), JSON.stringify({ dagsFolder: 'dags' }));
    await writeFile(join(workspace, 'dags', 'grid_demo.ts'), DAG);
    const vs = await startWorkbench({ workspace, extensions: [vsix] });
    try {
      await vs.openView('DAGs');
      await vs.waitForTreeItem('DAGs', 'grid_demo', { timeoutMs: 90_000 });
      await vs.runCommand('Hangar: Run DAG...');
      await vs.pickQuickItem('grid_demo');
      await vs.waitForNotification(/run .* of grid_demo (succeeded|failed)/, { timeoutMs: 120_000 });
      await vs.clearNotifications();

      await vs.runCommand('Hangar: Show Grid');
      await vs.pickQuickItem('grid_demo');
      const frame = vs.page.frameLocator('iframe.webview').frameLocator('#active-frame');
      const rowOf = async (label: string) => Number(await frame.locator('#grid .name', { has: frame.locator('.label', { hasText: new RegExp(`^${label.replace(/[[\]]/g, '\\$&')}$`) }) }).first().getAttribute('data-row'));
      const cell = (row: number, col: number) => frame.locator(`#grid .cell[data-row="${row}"][data-col="${col}"]`);
      await frame.locator('#grid .cell[data-row]').first().waitFor({ timeout: 60_000 });
      assert.deepEqual(await frame.locator('#grid .name .label').allTextContents(), ['extract', 'size', 'slow', 'total']);
      const [extract, size, slow, total] = [await rowOf('extract'), await rowOf('size'), await rowOf('slow'), await rowOf('total')];
      assert.equal(await cell(extract, 0).getAttribute('data-state'), 'success');
      assert.equal(await cell(size, 0).getAttribute('data-state'), 'failed', 'the mapped row shows its worst map index');
      assert.match((await cell(size, 0).getAttribute('class')) ?? '', /\bmapped\b/);
      const hoverText = async (row: number, col: number) => {
        await cell(row, col).hover();
        return (await cell(row, col).getAttribute('title')) ?? '';
      };
      assert.match(await hoverText(size, 0), /map indexes: 2 success · 1 failed/);
      assert.match(await hoverText(extract, 0), /duration: \d/);
      assert.equal(await cell(total, 0).getAttribute('data-state'), 'upstream_failed');
      assert.match(await frame.locator('#grid .name', { hasText: 'size' }).first().innerText(), /×3/);
      assert.equal(await frame.locator('#grid .run-head').count(), 1);
      assert.match((await frame.locator('#grid .run-head').getAttribute('title')) ?? '', /state: failed\nlogical date: .*\nduration: .*\ntype: manual/);
      // Colours: from the theme, distinct per state and from the background.
      const bg = async (row: number, col: number) => cell(row, col).evaluate((e) => (globalThis as unknown as Styles).getComputedStyle(e).backgroundColor);
      const body = await frame.locator('body').evaluate((b) => (globalThis as unknown as Styles).getComputedStyle(b).backgroundColor);
      const [ok, failed, upstream] = [await bg(extract, 0), await bg(size, 0), await bg(total, 0)];
      assert.equal(new Set([ok, failed, upstream, body, 'rgba(0, 0, 0, 0)']).size, 5, `filled and distinct: success ${ok}, failed ${failed}, upstream_failed ${upstream}, background ${body}`);
      assert.equal(await frame.locator('body').evaluate((b) => (b as unknown as { ownerDocument: { querySelectorAll(s: string): { length: number } } }).ownerDocument.querySelectorAll('button, select, input').length), 0, 'no native controls');
      await vs.screenshot('grid-01-dark');
      const contrast: Record<string, Measured[]> = {};

      // A second run, with a slow task that logs as it goes: its column appears, the slow cell runs, and its
      // log streams into the detail pane.
      await vs.runCommand('Hangar: Run DAG...');
      await vs.pickQuickItem('grid_demo');
      await cell(slow, 1).and(frame.locator('[data-state="running"]')).waitFor({ timeout: 60_000 });
      await cell(slow, 1).click();
      await frame.locator('#detail-title', { hasText: 'slow' }).waitFor({ timeout: 10_000 });
      await frame.locator('#log[data-following="true"]').waitFor({ timeout: 10_000 });
      const first = await frame.locator('#log').innerText();
      await frame.locator('#log', { hasText: 'tick 10' }).waitFor({ timeout: 30_000 });
      assert.ok(!first.includes('tick 10'), `the log grew while the detail was open (first: ${JSON.stringify(first.slice(-80))})`);
      await vs.screenshot('grid-02-live-log');
      await vs.waitForNotification(/run .* of grid_demo (succeeded|failed)/, { timeoutMs: 120_000 });
      await cell(slow, 1).and(frame.locator('[data-state="success"]')).waitFor({ timeout: 30_000 });
      await frame.locator('#detail-state', { hasText: 'success' }).waitFor({ timeout: 30_000 });
      await vs.clearNotifications();

      // Keyboard: the focus moves across cells; Enter opens the detail of the focused cell.
      await frame.locator('#grid').focus();
      await vs.page.keyboard.press('Control+Home');
      await frame.locator(`#grid .cell.focused[data-row="0"][data-col="0"]`).waitFor({ timeout: 5_000 });
      await vs.page.keyboard.press('ArrowRight');
      await vs.page.keyboard.press('ArrowDown');
      await frame.locator(`#grid .cell.focused[data-row="1"][data-col="1"]`).waitFor({ timeout: 5_000 });
      assert.match(await frame.locator('#focus-info').innerText(), /size · .*manual/);
      assert.equal(await frame.locator('#grid').getAttribute('aria-activedescendant'), 'c-1-1');
      assert.match((await cell(1, 1).getAttribute('aria-label')) ?? '', /^size, run .*: (success|failed)$/, 'the focused cell has a spoken name');
      await vs.page.keyboard.press('End');
      await vs.page.keyboard.press('ArrowDown');
      await vs.page.keyboard.press('Enter');
      await frame.locator('#detail-title', { hasText: /^slow$/ }).waitFor({ timeout: 10_000 });
      await vs.screenshot('grid-03-keyboard');

      // The mapped row, expanded with "+": a row per map index; index 2 failed in both runs.
      await vs.page.keyboard.press('Control+Home');
      await vs.page.keyboard.press('ArrowDown');
      await vs.page.keyboard.press('+');
      await frame.locator('#grid .name.map-index').nth(2).waitFor({ timeout: 15_000 });
      assert.deepEqual(await frame.locator('#grid .name .label').allTextContents(), ['extract', 'size', '[0]', '[1]', '[2]', 'slow', 'total']);
      const idx2 = await rowOf('[2]');
      assert.equal(await cell(idx2, 1).getAttribute('data-state'), 'failed');
      assert.equal(await cell(idx2 - 1, 1).getAttribute('data-state'), 'success');

      // Clear size[2] of the newest run with its downstream: it runs again (try 2 succeeds), and so does total.
      await cell(idx2, 1).click();
      await frame.locator('#detail-title', { hasText: 'size[2]' }).waitFor({ timeout: 10_000 });
      await frame.locator('#tries tbody tr').first().waitFor({ timeout: 10_000 });
      assert.match((await frame.locator('#run-again').getAttribute('title')) ?? '', /^Clear only size and run it again$/);
      await frame.locator('#clear').click();
      const totalRow = await rowOf('total');
      await cell(idx2, 1).and(frame.locator('[data-state="success"]')).waitFor({ timeout: 60_000 });
      await cell(totalRow, 1).and(frame.locator('[data-state="success"]')).waitFor({ timeout: 60_000 });
      await frame.locator('#tries tbody tr').nth(1).waitFor({ timeout: 30_000 });
      assert.deepEqual(await frame.locator('#tries tbody tr td:first-child').allTextContents(), ['1', '2'], 'the earlier try is kept');
      assert.equal(await cell(await rowOf('size'), 1).getAttribute('data-state'), 'success', 'the summary follows its map indexes');
      assert.equal(await cell(idx2, 0).getAttribute('data-state'), 'failed', 'the other run is untouched');
      await vs.screenshot('grid-04-cleared');
      await vs.clearNotifications();

      // XComs of a cell: the XCom browser opens filtered to it.
      await cell(await rowOf('extract'), 1).click();
      await frame.locator('#detail-title', { hasText: /^extract$/ }).waitFor({ timeout: 10_000 });
      await frame.locator('#open-xcoms').click();
      await vs.page.locator('.tabs-container .tab', { hasText: 'XCom' }).first().waitFor({ timeout: 15_000 });

      // Back to the grid tab: the webview was rebuilt (hidden behind the XCom browser) with the same selection.
      await vs.page.locator('.tabs-container .tab', { hasText: 'Grid: grid_demo' }).click();
      await frame.locator('#detail-title', { hasText: /^extract$/ }).waitFor({ timeout: 30_000 });
      await frame.locator('#grid .cell.selected').waitFor({ timeout: 10_000 });
      assert.equal(await frame.locator('#grid .name.map-index').count(), 3, 'still expanded');

      // The Gantt of the newest run, from a cell's detail: a bar per try, size[2]'s two tries with the wait
      // between them, the critical path marked; then the task durations over both runs.
      await frame.locator('#open-gantt').click();
      await vs.page.locator('.tabs-container .tab', { hasText: 'Gantt: grid_demo' }).waitFor({ timeout: 15_000 });
      await frame.locator('svg.gantt rect.seg[data-kind="running"]').first().waitFor({ timeout: 30_000 });
      const labels = await frame.locator('svg.gantt .row-label').evaluateAll((ls) => ls.map((l) => `${l.getAttribute('data-critical') === 'true' ? '◆ ' : ''}${l.getAttribute('data-label')}`));
      assert.deepEqual(labels.map((l) => l.replace(/^◆ /, '')), ['extract', 'size[0]', 'size[1]', 'size[2]', 'slow', 'total']);
      assert.ok(labels[0]!.startsWith('◆ ') && labels[5]!.startsWith('◆ '), `the critical path runs from extract to total: ${labels.join(', ')}`);
      const size2 = labels.findIndex((l) => l.endsWith('size[2]'));
      assert.equal(await frame.locator(`svg.gantt rect.seg[data-kind="running"][data-row="${size2}"]`).count(), 2, 'one bar per try');
      assert.equal(await frame.locator(`svg.gantt rect.seg[data-row="${size2}"][data-try="1"]`).last().getAttribute('class').then((c) => /\bs-failed\b/.test(c ?? '')), true);
      assert.match(await frame.locator('#summary').innerText(), /critical path: extract → .*/);
      await vs.screenshot('grid-06-gantt-dark');
      contrast['Dark Modern · Gantt'] = await measure(await panelFrame(vs, 'svg.gantt'), GANTT_SPECS);
      await frame.locator('#view-duration').click();
      await frame.locator('svg.durations path.median').waitFor({ timeout: 30_000 });
      assert.equal(await frame.locator('svg.durations path.line').count(), 4, 'a line per task');
      assert.equal(await frame.locator('svg.durations polygon.band').count(), 1);
      await vs.screenshot('grid-07-task-duration-dark');
      await frame.locator('#view-gantt').click();
      await frame.locator('svg.gantt').waitFor({ timeout: 30_000 });
      await vs.page.locator('.tabs-container .tab', { hasText: 'Grid: grid_demo' }).click();
      await frame.locator('#grid .cell.selected').waitFor({ timeout: 30_000 });
      await frame.locator('#log').waitFor({ timeout: 30_000 });
      contrast['Dark Modern · grid'] = await measure(await panelFrame(vs, '#grid .cell.selected'), GRID_SPECS);

      // Light and high-contrast themes.
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
        await new Promise((r) => setTimeout(r, 300));
        const page = await frame.locator('body').evaluate((b) => (globalThis as unknown as Styles).getComputedStyle(b).backgroundColor);
        const colours = [await bg(extract, 0), await bg(idx2, 0), await bg(totalRow, 0)];
        assert.equal(new Set([...colours, page, 'rgba(0, 0, 0, 0)']).size, 5, `${theme.label}: success, failed, upstream_failed are filled, differ from each other and from the background (${colours.join(', ')}, ${page})`);
        await vs.screenshot(`grid-05-${theme.file}`);
        await frame.locator('#log').waitFor({ timeout: 30_000 });
        contrast[`${theme.label} · grid`] = await measure(await panelFrame(vs, '#grid .cell.selected'), GRID_SPECS);
        if (theme.file === 'light') {
          await vs.page.locator('.tabs-container .tab', { hasText: 'Gantt: grid_demo' }).click();
          await frame.locator('svg.gantt rect.seg').first().waitFor({ timeout: 30_000 });
          await vs.screenshot('grid-06-gantt-light');
          contrast['Light Modern · Gantt'] = await measure(await panelFrame(vs, 'svg.gantt'), GANTT_SPECS);
          await vs.page.locator('.tabs-container .tab', { hasText: 'Grid: grid_demo' }).click();
          await frame.locator('#grid .cell.selected').waitFor({ timeout: 30_000 });
        }
      }
      // Text reads at 4.5:1 or more in every theme (the measure of test/e2e/themes.e2e.ts).
      await writeFile(join(vs.resultsDir, 'grid-contrast.json'), JSON.stringify(contrast, null, 2));
      const failures = Object.entries(contrast).flatMap(([where, list]) => contrastFailures(where, list));
      assert.deepEqual(failures, [], `text below 4.5:1 contrast:\n${failures.join('\n')}`);
    } catch (e) {
      await vs.collectDiagnostics('grid-failure').catch(() => undefined);
      throw e;
    } finally {
      await vs.stop();
    }
  });

  test('grid: task groups are rows that open and close (click, Enter, +/−), aggregated state, kept when hidden', async () => {
    const workspace = join(scratch, 'ws-groups');
    await mkdir(join(workspace, 'dags'), { recursive: true });
    await writeFile(join(workspace, 'hangar.json'), JSON.stringify({ dagsFolder: 'dags' }));
    await writeFile(join(workspace, 'dags', 'grid_groups.ts'), GROUPS_DAG);
    const vs = await startWorkbench({ workspace, extensions: [vsix] });
    try {
      await vs.openView('DAGs');
      await vs.waitForTreeItem('DAGs', 'grid_groups', { timeoutMs: 90_000 });
      await vs.runCommand('Hangar: Run DAG...');
      await vs.pickQuickItem('grid_groups');
      await vs.waitForNotification(/run .* of grid_groups failed/, { timeoutMs: 120_000 });
      await vs.clearNotifications();
      await vs.runCommand('Hangar: Show Grid');
      await vs.pickQuickItem('grid_groups');
      const frame = vs.page.frameLocator('iframe.webview').frameLocator('#active-frame');
      const labels = () => frame.locator('#grid .name .label').allTextContents();
      const rowOf = async (label: string) => Number(await frame.locator('#grid .name', { has: frame.locator('.label', { hasText: new RegExp(`^${label.replace(/[[\]]/g, '\\$&')}$`) }) }).first().getAttribute('data-row'));
      const cell = (row: number) => frame.locator(`#grid .cell[data-row="${row}"][data-col="0"]`);
      await frame.locator('#grid .cell[data-row]').first().waitFor({ timeout: 60_000 });

      // Closed at first: one row for the group, its cell the worst state of its task instances, counts on hover.
      assert.deepEqual(await labels(), ['start', 'extract', 'end']);
      assert.equal(await frame.locator('#grid').getAttribute('role'), 'treegrid');
      const group = frame.locator('#grid .name.group[data-group="extract"]');
      assert.equal(await group.getAttribute('aria-expanded'), 'false');
      assert.equal(await cell(1).getAttribute('data-state'), 'failed');
      assert.equal(await cell(2).getAttribute('data-state'), 'upstream_failed');
      await cell(1).hover();
      assert.equal(await cell(1).getAttribute('title'), `task group extract · ${await frame.locator('#grid .run-head').first().getAttribute('aria-label').then((l) => l!.replace(/^run (.*), \w+$/, '$1'))}\nstate: failed\ntask instances: 3 success · 1 failed`);
      await vs.screenshot('grid-08-groups-closed');

      // Opened with a click on the chevron: its tasks by their short id, indented; the nested group closed.
      await group.locator('[data-group-toggle]').click();
      await frame.locator('#grid .name[data-group="extract.inner"]').waitFor({ timeout: 10_000 });
      assert.deepEqual(await labels(), ['start', 'extract', 'parts', 'a', 'inner', 'end'], 'tasks in topological order inside the group');
      assert.equal(await group.getAttribute('aria-expanded'), 'true');
      assert.equal(await frame.locator('#grid .name', { hasText: 'parts' }).first().getAttribute('data-depth'), '1');
      assert.equal(await cell(await rowOf('inner')).getAttribute('data-state'), 'success');

      // Keyboard: Enter on the nested group opens it; + on the mapped task inside shows its map indexes;
      // − on a task inside a group closes the group and focuses its row; Enter on the outer group closes it.
      await frame.locator('#grid').focus();
      await vs.page.keyboard.press('Control+Home');
      for (let i = 0; i < 4; i++) await vs.page.keyboard.press('ArrowDown');
      await frame.locator(`#grid .cell.focused[data-row="${await rowOf('inner')}"]`).waitFor({ timeout: 5_000 });
      assert.match((await frame.locator('#grid .cell.focused').getAttribute('aria-label')) ?? '', /^task group extract\.inner \(level 2\), closed, 1 task, run .*: success/);
      await vs.page.keyboard.press('Enter');
      await frame.locator('#grid .name .label', { hasText: /^deep$/ }).waitFor({ timeout: 10_000 });
      assert.deepEqual(await labels(), ['start', 'extract', 'parts', 'a', 'inner', 'deep', 'end']);
      await vs.page.keyboard.press('ArrowUp');
      await vs.page.keyboard.press('ArrowUp');
      await vs.page.keyboard.press('+');
      await frame.locator('#grid .name.map-index').nth(1).waitFor({ timeout: 15_000 });
      assert.deepEqual(await labels(), ['start', 'extract', 'parts', '[0]', '[1]', 'a', 'inner', 'deep', 'end']);
      assert.equal(await cell(await rowOf('[1]')).getAttribute('data-state'), 'failed', 'a map index of a mapped task inside a group');
      assert.equal(await cell(await rowOf('parts')).getAttribute('data-state'), 'failed');
      await vs.screenshot('grid-09-groups-open');
      for (let i = 0; i < 5; i++) await vs.page.keyboard.press('ArrowDown');
      await frame.locator(`#grid .cell.focused[data-row="${await rowOf('deep')}"]`).waitFor({ timeout: 5_000 });
      await vs.page.keyboard.press('-');
      await frame.locator(`#grid .cell.focused[data-row="${await rowOf('inner')}"]`).waitFor({ timeout: 5_000 });
      assert.deepEqual(await labels(), ['start', 'extract', 'parts', '[0]', '[1]', 'a', 'inner', 'end']);
      assert.equal(await frame.locator('#grid .name[data-group="extract.inner"]').getAttribute('aria-expanded'), 'false');

      // Hidden behind an editor and shown again: the webview is rebuilt with the same groups open.
      await vs.openFile('dags/grid_groups.ts');
      await vs.page.locator('.tabs-container .tab', { hasText: 'Grid: grid_groups' }).click();
      await frame.locator('#grid .name.map-index').nth(1).waitFor({ timeout: 30_000 });
      assert.deepEqual(await labels(), ['start', 'extract', 'parts', '[0]', '[1]', 'a', 'inner', 'end']);

      await frame.locator('#grid').focus();
      await vs.page.keyboard.press('Control+Home');
      await vs.page.keyboard.press('ArrowDown');
      await vs.page.keyboard.press('Enter');
      await frame.locator('#grid .name .label', { hasText: /^a$/ }).waitFor({ state: 'detached', timeout: 10_000 });
      assert.deepEqual(await labels(), ['start', 'extract', 'end']);
      assert.equal(await frame.locator('#detail').isHidden(), true, 'a group row has no detail pane');
      await vs.screenshot('grid-10-groups-keyboard-closed');
    } catch (e) {
      await vs.collectDiagnostics('grid-groups-failure').catch(() => undefined);
      throw e;
    } finally {
      await vs.stop();
    }
  });
});
