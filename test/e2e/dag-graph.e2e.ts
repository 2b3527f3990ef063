/**
 * The DAG graph panel in a real VS Code (code-server + Chromium), from the
 * packaged .vsix: run a small DAG with a fan-out and a mapped task (one of its
 * map indexes fails), open "Hangar: Show DAG Graph", check the nodes and their
 * state classes in the webview, follow a new run, pick the older run and a map
 * index, hide the panel (another editor over it: the webview is torn down) and
 * show it again with the same run, node and map index, then "Go to source".
 *
 * Then a DAG with task groups: clusters, a group collapsed into one node and expanded again.
 *
 *   npm run test:e2e   (screenshots: test-results/e2e/dag-graph-*.png)
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { packageHangarVsix, startWorkbench } from './harness.ts';

const DAG = `import { dag } from 'hangar';

export const d = dag({ id: 'graph_demo', schedule: null, description: 'A fan-out with a mapped task' });

const extract = d.task('extract', async () => ['a.csv', 'b.csv', 'c.csv']);
const size = d.task('size', { expand: { file: extract } }, async (ctx, { file }) => {
  if (ctx.mapIndex === 2) throw new Error('cannot size ' + file);
  return file.length;
});
const audit = d.task('audit', { inputs: { files: extract } }, async (_ctx, { files }) => files.length);
d.task('total', { inputs: { sizes: size, n: audit } }, async (_ctx, { sizes, n }) => sizes.length + n);
`;
const EXTRACT_LINE = DAG.split('\n').findIndex((l) => l.includes("d.task('extract'")) + 1;

/** Task groups: a cluster with a subgroup, collapsed into one node from its title. */
const GROUPED = `import { dag } from 'hangar';

export const g = dag({ id: 'graph_groups', schedule: null });

const start = g.task('start', async () => 1);
const extract = g.group('extract', { tooltip: 'pull the rows' }, (e) => {
  const a = e.task('a', async () => 1);
  e.group('clean', (c) => c.task('dedupe', { inputs: { a } }, async () => 2));
  e.task('b', { inputs: { a } }, async () => 3);
});
const load = g.task('load', async () => 4);
g.chain(start, extract, load);
`;

let scratch = '';
let vsix = '';

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'hangar-e2e-dag-graph-'));
  vsix = join(scratch, 'hangar.vsix');
  packageHangarVsix(vsix);
});

after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe('Hangar DAG graph in a real VS Code (code-server)', { timeout: 900_000 }, () => {
  test('DAG graph: nodes coloured by the run, the mapped task grouped, Go to source', async () => {
    const workspace = join(scratch, 'ws');
    await mkdir(join(workspace, 'dags'), { recursive: true });
    await writeFile(join(workspace, 'hangar.json'), JSON.stringify({ dagsFolder: 'dags' }));
    await writeFile(join(workspace, 'dags', 'graph_demo.ts'), DAG);
    await writeFile(join(workspace, 'dags', 'graph_groups.ts'), GROUPED);
    const vs = await startWorkbench({ workspace, extensions: [vsix] });
    try {
      await vs.openView('DAGs');
      await vs.waitForTreeItem('DAGs', 'graph_demo', { timeoutMs: 90_000 });

      await vs.runCommand('Hangar: Run DAG...');
      await vs.pickQuickItem('graph_demo');
      await vs.waitForNotification(/run .* of graph_demo (succeeded|failed)/, { timeoutMs: 120_000 });
      await vs.clearNotifications();

      await vs.runCommand('Hangar: Show DAG Graph');
      await vs.pickQuickItem('graph_demo');
      const frame = vs.page.frameLocator('iframe.webview').frameLocator('#active-frame');
      const node = (id: string) => frame.locator(`#graph .node[data-task-id="${id}"]`);
      await node('total').waitFor({ timeout: 60_000 });
      assert.equal(await frame.locator('#graph .node').count(), 4, 'one node per task, the mapped one grouped');
      assert.equal(await frame.locator('#graph .edge').count(), 4, 'one edge per dependency');
      const classes = async (id: string) => (await node(id).getAttribute('class')) ?? '';
      assert.match(await classes('extract'), /\bstate-success\b/);
      assert.match(await classes('audit'), /\bstate-success\b/);
      assert.match(await classes('size'), /\bstate-failed\b/);
      assert.match(await classes('size'), /\bmapped\b/);
      assert.equal(await node('size').getAttribute('data-count'), '3');
      assert.match(await node('size').innerHTML(), /1 failed · 2 success/);
      assert.match(await classes('total'), /\bstate-upstream_failed\b/);
      // The run picker is a vscode-single-select (@vscode-elements), set to the shown run.
      const picked = () => frame.locator('#run').evaluate((e) => (e as unknown as { value: string }).value);
      assert.equal(await picked(), await frame.locator('body').getAttribute('data-run-id'));
      assert.equal(await frame.locator('#run vscode-option[selected]').getAttribute('data-state'), 'failed');
      assert.equal(await frame.locator('body').evaluate((b) => (b as unknown as { ownerDocument: { querySelectorAll(s: string): { length: number } } }).ownerDocument.querySelectorAll('button, select, input').length), 0, 'no native controls');
      // Laid out left to right: extract before the fan-out, total last.
      const x = async (id: string) => (await node(id).boundingBox())!.x;
      assert.ok((await x('extract')) < (await x('size')) && (await x('size')) < (await x('total')));
      await vs.screenshot('dag-graph-01-graph');

      // A grouped node's menu lists its map indexes.
      await node('size').click();
      await frame.locator('#menu:not([hidden]) .chip[data-map-index="2"].state-failed').waitFor({ timeout: 10_000 });
      await vs.screenshot('dag-graph-02-mapped-menu');
      await vs.page.keyboard.press('Escape');
      await frame.locator('#menu').waitFor({ state: 'hidden', timeout: 5_000 });

      // Live: a new run of the DAG, triggered while the graph shows the latest run, replaces it.
      const firstRun = await frame.locator('body').getAttribute('data-run-id');
      await vs.runCommand('Hangar: Run DAG...');
      await vs.pickQuickItem('graph_demo');
      await frame.locator('#run vscode-option').nth(1).waitFor({ state: 'attached', timeout: 60_000 });
      await vs.waitForNotification(/run .* of graph_demo (succeeded|failed)/, { timeoutMs: 120_000 });
      await frame.locator(`body:not([data-run-id="${firstRun}"])`).waitFor({ state: 'attached', timeout: 30_000 });
      await frame.locator('#graph .node[data-task-id="total"].state-upstream_failed').waitFor({ timeout: 30_000 });
      await frame.locator('#graph .node[data-task-id="size"].state-failed[data-count="3"]').waitFor({ timeout: 30_000 });
      const secondRun = await frame.locator('body').getAttribute('data-run-id');
      assert.notEqual(secondRun, firstRun, 'the graph follows the new run');
      assert.equal(await picked(), secondRun);
      await vs.clearNotifications();

      // Pick the older run in the picker (a click on the dropdown, then on its option).
      await frame.locator('#run').click();
      await frame.locator('#run li[role="option"]', { hasText: firstRun! }).click();
      await frame.locator(`body[data-run-id="${firstRun}"]`).waitFor({ state: 'attached', timeout: 30_000 });
      assert.equal(await picked(), firstRun);

      // A grouped node: choose map index 2.
      await node('size').click();
      await frame.locator('#menu .chip[data-map-index="2"]').click();
      await frame.locator('#menu .chip[data-map-index="2"].chosen').waitFor({ timeout: 5_000 });

      // Hide the panel: open another editor in its group (no retainContextWhenHidden, so the webview is torn
      // down: the mark left in its window is gone afterwards), then show it again from its tab.
      await frame.locator('body').evaluate(() => ((globalThis as unknown as { hangarMark: number }).hangarMark = 1));
      await vs.openFile('hangar.json');
      await vs.page.locator('.tabs-container .tab.active', { hasText: 'hangar.json' }).waitFor({ timeout: 15_000 });
      await vs.page.locator('.tabs-container .tab', { hasText: 'Graph: graph_demo' }).click();
      await frame.locator('#menu:not([hidden]) .chip[data-map-index="2"].chosen').waitFor({ timeout: 30_000 });
      assert.equal(await frame.locator('body').evaluate(() => (globalThis as unknown as { hangarMark?: number }).hangarMark), undefined, 'the webview was rebuilt');
      assert.equal(await frame.locator('#menu').getAttribute('data-task-id'), 'size');
      assert.match((await node('size').getAttribute('class')) ?? '', /\bselected\b/);
      assert.equal(await frame.locator('body').getAttribute('data-run-id'), firstRun, 'the same run');
      assert.equal(await picked(), firstRun);
      await vs.screenshot('dag-graph-03-shown-again');

      // "Open log" with the map index chosen before the panel was hidden: its log opens beside the graph.
      await frame.locator('#menu-log').click();
      await vs.page.locator('.tabs-container .tab', { hasText: 'size[2].log' }).first().waitFor({ timeout: 15_000 });
      await vs.page.locator('.monaco-editor .view-lines', { hasText: 'cannot size c.csv' }).first().waitFor({ timeout: 15_000 });
      await vs.screenshot('dag-graph-04-log');

      // Click a node, "Go to source": the DAG file opens at the task's line.
      await node('extract').click();
      await frame.locator('#menu-source').click();
      await vs.page.locator('.tabs-container .tab.active', { hasText: 'graph_demo.ts' }).waitFor({ timeout: 15_000 });
      const deadline = Date.now() + 10_000;
      let cursor = '';
      while (Date.now() < deadline) {
        cursor = (await vs.statusBarItems()).find((t) => /Ln \d+/.test(t)) ?? '';
        if (cursor.includes(`Ln ${EXTRACT_LINE},`)) break;
        await new Promise((r) => setTimeout(r, 250));
      }
      assert.match(cursor, new RegExp(`Ln ${EXTRACT_LINE},`));
      // The CodeLens above the DAG offers the graph too.
      await vs.page.locator('.codelens-decoration', { hasText: 'Graph' }).first().waitFor({ timeout: 30_000 });
      await vs.screenshot('dag-graph-05-go-to-source');

      // Task groups: a run, then its graph: clusters around the groups' tasks; a group's title collapses it.
      await vs.runCommand('Hangar: Run DAG...');
      await vs.pickQuickItem('graph_groups');
      await vs.waitForNotification(/run .* of graph_groups succeeded/, { timeoutMs: 120_000 });
      await vs.clearNotifications();
      await vs.runCommand('Hangar: Show DAG Graph');
      await vs.pickQuickItem('graph_groups');
      await frame.locator('body[data-dag-id="graph_groups"] #graph .node[data-task-id="load"].state-success').waitFor({ timeout: 60_000 });
      assert.equal(await frame.locator('#graph .cluster').count(), 2, 'extract and its subgroup clean');
      assert.equal(await frame.locator('#graph .node').count(), 5);
      assert.equal(await frame.locator('#graph .cluster[data-cluster-id="extract"]').getAttribute('data-state'), 'success');
      assert.equal((await node('extract.clean.dedupe').locator('.task-id').textContent())?.trim(), 'dedupe', 'labelled without the group prefix');
      await vs.screenshot('dag-graph-06-groups');
      await frame.locator('#graph .cluster-title[data-group-id="extract"]').click();
      const folded = frame.locator('#graph .node.group-node[data-group-id="extract"]');
      await folded.waitFor({ timeout: 10_000 });
      assert.equal(await folded.getAttribute('data-count'), '3');
      assert.match((await folded.getAttribute('class')) ?? '', /\bstate-success\b/);
      assert.equal(await frame.locator('#graph .node').count(), 3, 'start, the group, load');
      assert.equal(await frame.locator('#graph .edge').count(), 2, 'start → extract → load');
      assert.equal(await frame.locator('#graph .cluster').count(), 0);
      await vs.screenshot('dag-graph-07-group-collapsed');
      await folded.click();
      await frame.locator('#graph .cluster[data-cluster-id="extract"]').waitFor({ timeout: 10_000 });
      assert.equal(await frame.locator('#graph .node').count(), 5, 'expanded again');
    } catch (e) {
      await vs.collectDiagnostics('dag-graph-failure').catch(() => undefined);
      throw e;
    } finally {
      await vs.stop();
    }
  });
});
