/**
 * Hangar's webviews are readable in light, dark and high-contrast themes: in a
 * real VS Code (code-server + Chromium), from the packaged .vsix, the XCom
 * browser and the DAG graph are opened side by side, the colour theme is
 * switched from the palette ("Preferences: Color Theme"), and in each theme the
 * contrast ratio of text against what is behind it (computed styles in the
 * webview frames, WCAG 2 formula) is measured for table cells, the selected
 * row, badges, the sensitive marker, tree labels and values, node labels and
 * the node menu. Every one must reach 4.5:1.
 *
 *   npm run test:e2e   (screenshots: test-results/e2e/themes-*.png, figures: themes-contrast.json)
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { packageHangarVsix, startWorkbench } from './harness.ts';
import { measure, panelFrame } from './contrast.ts';
import type { Measured, Spec } from './contrast.ts';

const DAG = `import { dag } from 'hangar';

export const d = dag({ id: 'theme_demo', schedule: null, description: 'XComs and a mapped task, for the theme check' });

const extract = d.task('extract', async (ctx) => {
  const rows = Array.from({ length: 500 }, (_, i) => ({ id: i, note: 'the same words, over and over' }));
  await ctx.xcom.push('report', { rows, at: new Date('2024-05-01T10:00:00Z'), ok: true, count: 500 }, { backend: 'compressed' });
  await ctx.xcom.push('token', { token: 'not-shown' }, { sensitive: true });
  await ctx.xcom.push('blob', 'x'.repeat(5000), { backend: 'file' });
  return ['a.csv', 'b.csv', 'c.csv'];
});
const size = d.task('size', { expand: { file: extract } }, async (ctx, { file }) => {
  if (ctx.mapIndex === 2) throw new Error('cannot size ' + file);
  return file.length;
});
d.task('total', { inputs: { sizes: size } }, async (_ctx, { sizes }) => sizes.length);
`;

const XCOM_SPECS: Spec[] = [
  { name: 'table header', text: '#table thead th' },
  { name: 'table cell', text: '#table tbody tr:not(.selected) td.num' },
  { name: 'key cell', text: '#table tbody tr:not(.selected) td.key' },
  { name: 'selected row', text: '#table tbody tr.selected td.num' },
  { name: 'sensitive marker', text: '#table tbody tr:not(.selected) .lock' },
  { name: 'badge: format', text: '#table tbody tr:not(.selected) .badge-format' },
  { name: 'badge: compression (selected row)', text: '#table tbody tr.selected .badge-compression' },
  { name: 'badge: format (selected row)', text: '#table tbody tr.selected .badge-format' },
  { name: 'badge: storage', text: '#table tbody tr:not(.selected) .badge-storage' },
  { name: 'filter label', text: '.filter > span' },
  { name: 'status line', text: '#status' },
  { name: 'pager range', text: '#range' },
  { name: 'value title', text: '#detail h2' },
  { name: 'decode meta', text: '#decode-meta' },
  { name: 'tree key', text: '#tree .label' },
  { name: 'tree type', text: '#tree .type' },
  { name: 'tree date', text: '#tree .scalar-date' },
  { name: 'tree number', text: '#tree .scalar-number' },
  { name: 'tree boolean', text: '#tree .scalar-boolean' },
];
const GRAPH_SPECS: Spec[] = [
  { name: 'title', text: '#title' },
  { name: 'status', text: '#status' },
  { name: 'node label', text: '.node[data-task-id="extract"] .task-id', bg: '.node[data-task-id="extract"] .box' },
  { name: 'node kind', text: '.node[data-task-id="extract"] .meta', bg: '.node[data-task-id="extract"] .box' },
  { name: 'failed node label', text: '.node[data-task-id="size"] .task-id', bg: '.node[data-task-id="size"] .box' },
  { name: 'mapped counts', text: '.node[data-task-id="size"] .counts', bg: '.node[data-task-id="size"] .box' },
  { name: 'menu title', text: '#menu .menu-title' },
  { name: 'menu hint', text: '#menu .menu-hint' },
];

let scratch = '';
let vsix = '';

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'hangar-e2e-themes-'));
  vsix = join(scratch, 'hangar.vsix');
  packageHangarVsix(vsix);
});

after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

const THEMES = [
  { label: 'Dark Modern', kind: 'vscode-dark', workbench: 'vs-dark', file: 'dark' },
  { label: 'Light Modern', kind: 'vscode-light', workbench: 'vs', file: 'light' },
  { label: 'Dark High Contrast', kind: 'vscode-high-contrast', workbench: 'hc-black', file: 'hc-dark' },
  { label: 'Light High Contrast', kind: 'vscode-high-contrast-light', workbench: 'hc-light', file: 'hc-light' },
];

describe('Hangar webviews in light, dark and high-contrast themes (code-server)', { timeout: 900_000 }, () => {
  test('XCom browser and DAG graph: text contrast ≥ 4.5:1 in every theme', async () => {
    const workspace = join(scratch, 'ws');
    await mkdir(join(workspace, 'dags'), { recursive: true });
    await writeFile(join(workspace, 'hangar.json'), JSON.stringify({ dagsFolder: 'dags', xcom: { backend: 'database' } }));
    await writeFile(join(workspace, 'dags', 'theme_demo.ts'), DAG);
    const vs = await startWorkbench({ workspace, extensions: [vsix] });
    try {
      await vs.openView('DAGs');
      await vs.waitForTreeItem('DAGs', 'theme_demo', { timeoutMs: 90_000 });
      await vs.runCommand('Hangar: Run DAG...');
      await vs.pickQuickItem('theme_demo');
      await vs.waitForNotification(/run .* of theme_demo (succeeded|failed)/, { timeoutMs: 120_000 });
      await vs.clearNotifications();

      // The XCom browser in a right-hand group, the graph on the left: both visible at once.
      await vs.openFile('hangar.json');
      await vs.runCommand('Hangar: Open XCom Browser');
      await panelFrame(vs, '#table tbody tr[data-key="report"]');
      await vs.runCommand('View: Move Editor into Right Group');
      await vs.runCommand('View: Focus First Editor Group');
      await vs.runCommand('Hangar: Show DAG Graph');
      await vs.pickQuickItem('theme_demo');
      const graph = await panelFrame(vs, '#graph .node[data-task-id="size"].state-failed');
      await graph.locator('#graph .node[data-task-id="size"]').click();
      await graph.locator('#menu:not([hidden]) .menu-hint').waitFor({ timeout: 10_000 });
      const xcom = await panelFrame(vs, '#table tbody tr[data-key="report"]');
      await xcom.locator('#table tbody tr[data-key="report"]').click();
      await xcom.locator('#tree .scalar-date').waitFor({ timeout: 30_000 });

      const results: Record<string, { xcom: Measured[]; graph: Measured[] }> = {};
      for (const theme of THEMES) {
        if (theme.label !== 'Dark Modern') {
          await vs.runCommand('Preferences: Color Theme');
          await vs.typeInQuickInput(theme.label, { replace: true });
          await vs.pickQuickItem(theme.label);
        }
        await vs.page.waitForFunction(`document.querySelector('.monaco-workbench')?.classList.contains(${JSON.stringify(theme.workbench)})`, undefined, { timeout: 30_000 });
        for (const f of [xcom, graph]) await f.waitForFunction(`document.body.getAttribute('data-vscode-theme-kind') === ${JSON.stringify(theme.kind)}`, undefined, { timeout: 30_000 });
        await new Promise((r) => setTimeout(r, 300)); // let the new variables paint before the screenshot
        await vs.screenshot(`themes-${theme.file}`);
        results[theme.label] = { xcom: await measure(xcom, XCOM_SPECS), graph: await measure(graph, GRAPH_SPECS) };
      }
      await writeFile(join(vs.resultsDir, 'themes-contrast.json'), JSON.stringify(results, null, 2));

      const failures: string[] = [];
      for (const [theme, r] of Object.entries(results)) {
        for (const [panel, list] of Object.entries(r)) {
          for (const m of list) {
            if (m.error || m.ratio === undefined) failures.push(`${theme} · ${panel} · ${m.name}: ${m.error}`);
            else if (m.ratio < 4.5) failures.push(`${theme} · ${panel} · ${m.name}: ${m.ratio}:1 (${m.fg} on ${m.bg})`);
          }
        }
      }
      console.log(Object.entries(results).map(([t, r]) => `${t}: lowest ${Math.min(...[...r.xcom, ...r.graph].map((m) => m.ratio ?? 0))}:1`).join('\n'));
      assert.deepEqual(failures, [], `text below 4.5:1 contrast:\n${failures.join('\n')}`);
    } catch (e) {
      await vs.collectDiagnostics('themes-failure').catch(() => undefined);
      throw e;
    } finally {
      await vs.stop();
    }
  });
});
