/**
 * The grid's first paint end to end, in a real VS Code (code-server + Chromium,
 * the packaged .vsix), with 365 runs × 200 tasks (bench/grid-seed.ts):
 * from choosing "Hangar: Show Grid" and the DAG in the palette to the first
 * cells visible (the runs that fit on screen, read first), and to the whole
 * page of 365 runs painted (the panel closed in between), against a floor measured in
 * the same run: the same for `tiny_grid` (one task, one run: what opening any
 * grid costs: the webview, its bundle, one request). Also reported: the
 * webview's own figures (script start → first cells painted, and the
 * `grid/data` round trip as the webview sees it). The first open also starts
 * the runtime and loads the DAGs, and is reported apart. Median of 3.
 * Run by hand (not part of the test suite):
 *
 *   flock /tmp/hangar-e2e.lock npx node bench/grid.e2e-bench.ts
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, startWorkbench } from '../test/e2e/harness.ts';
import { RUNS, TASKS, gridWorkspace, seedGrid } from './grid-seed.ts';

const REPS = 3;
const scratch = await mkdtemp(join(tmpdir(), 'hangar-grid-e2e-bench-'));
const vsix = join(scratch, 'hangar.vsix');
for (const args of [['esbuild.js', '--production'], ['scripts/package-vsix.ts', vsix]]) {
  const res = spawnSync(process.execPath, args, { cwd: REPO_ROOT, encoding: 'utf8', timeout: 300_000 });
  if (res.status !== 0) throw new Error(`${args.join(' ')} failed:\n${res.stdout}${res.stderr}`);
}
const dir = gridWorkspace('hangar-grid-e2e-bench-ws-');
const tis = await seedGrid(dir);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const figures: Record<string, number[]> = { tiny: [], big: [], bigWhole: [], bigPaint: [], bigFetch: [], bigFullPaint: [], tinyPaint: [], tinyScript: [], bigScript: [] };
let clickEpoch = 0;
const painted: Record<string, number[]> = { tiny: [], big: [], bigWhole: [] };
let cold: number;
let whole = 0;
const vs = await startWorkbench({ workspace: dir, extensions: [vsix], settings: { 'hangar.grid.runs': RUNS } });
try {
  await vs.page.locator('.statusbar').waitFor();
  const frame = vs.page.frameLocator('iframe.webview').frameLocator('#active-frame');

  /** Palette → "Hangar: Show Grid" → the DAG: ms from the click on the DAG to its first cell visible, and to the whole page painted. */
  const open = async (dagId: string): Promise<number> => {
    await vs.runCommand('Hangar: Show Grid');
    const row = vs.quickInputRows.filter({ has: vs.page.locator('.label-name', { hasText: new RegExp(`^${dagId}$`) }) }).first();
    await row.waitFor({ state: 'visible', timeout: 120_000 });
    const start = performance.now();
    clickEpoch = Date.now();
    await row.click();
    await frame.locator('#grid .cell[data-row]').first().waitFor({ state: 'visible', timeout: 120_000 });
    const ms = Math.round(performance.now() - start);
    await frame.locator('body[data-full-paint-ms]').waitFor({ state: 'attached', timeout: 120_000 });
    whole = Math.round(performance.now() - start);
    return ms;
  };
  const close = async () => {
    await vs.runCommand('View: Close All Editors');
    await frame.locator('body').waitFor({ state: 'detached', timeout: 15_000 }).catch(() => undefined);
  };
  const webviewFigure = async (name: string) => Number(await frame.locator('body').getAttribute(`data-${name}`));

  cold = await open('big_grid');
  await close();
  for (let i = 0; i < REPS; i++) {
    figures.tiny!.push(await open('tiny_grid'));
    figures.tinyPaint!.push(await webviewFigure('first-paint-ms'));
    figures.tinyScript!.push((await webviewFigure('script-start-epoch-ms')) - clickEpoch);
    painted.tiny!.push((await webviewFigure('first-paint-epoch-ms')) - clickEpoch);
    await close();
    figures.big!.push(await open('big_grid'));
    figures.bigPaint!.push(await webviewFigure('first-paint-ms'));
    figures.bigScript!.push((await webviewFigure('script-start-epoch-ms')) - clickEpoch);
    painted.big!.push((await webviewFigure('first-paint-epoch-ms')) - clickEpoch);
    painted.bigWhole!.push((await webviewFigure('full-paint-epoch-ms')) - clickEpoch);
    figures.bigFetch!.push(await webviewFigure('fetch-ms'));
    figures.bigFullPaint!.push(await webviewFigure('full-paint-ms'));
    figures.bigWhole!.push(whole);
    const info = await frame.locator('#page-info').innerText();
    if (i === 0) console.log(`  page: ${info}`);
    if (i === REPS - 1) await vs.screenshot('grid-e2e-bench');
    await close();
  }
} catch (e) {
  await vs.collectDiagnostics('grid-e2e-bench-failure').catch(() => undefined);
  throw e;
} finally {
  await vs.stop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
}

const floor = median(figures.tiny!);
console.log(`\nGrid first paint end to end: ${RUNS} runs × ${TASKS} tasks (${tis} task instances), code-server + Chromium, median of ${REPS}\n`);
console.log('| measurement | median ms | runs ms |\n| --- | ---: | --- |');
const row = (name: string, xs: number[]) => console.log(`| ${name} | ${median(xs)} | ${xs.join(', ')} |`);
row('floor: DAG picked → first cell visible, tiny_grid (1 × 1)', figures.tiny!);
row('  of which DAG picked → the webview\'s script starts', figures.tinyScript!);
row('  of which the webview: script start → first cells painted', figures.tinyPaint!);
row(`DAG picked → first cell visible, big_grid (${RUNS} × ${TASKS})`, figures.big!);
row('  of which DAG picked → the webview\'s script starts', figures.bigScript!);
row('  of which the webview: script start → first cells painted', figures.bigPaint!);
row('  of which the first grid/data (the runs that fit on screen) as the webview sees it', figures.bigFetch!);
row(`DAG picked → whole page (${RUNS} runs) painted`, figures.bigWhole!);
row('  of which the webview: script start → whole page painted', figures.bigFullPaint!);
console.log('\nOn the machine\'s clock (the webview notes the frame after it drew; Playwright sees a cell later when the');
console.log('webview\'s thread is busy with the rest of the page):\n');
console.log('| measurement | median ms | runs ms |\n| --- | ---: | --- |');
row('floor: DAG picked → first cells painted, tiny_grid', painted.tiny!);
row(`DAG picked → first cells painted, big_grid (${RUNS} × ${TASKS})`, painted.big!);
row(`DAG picked → whole page painted, big_grid`, painted.bigWhole!);
console.log(`\nfirst paint over the floor: ${median(painted.big!) - median(painted.tiny!)} ms`);
console.log(`\nover the floor: ${median(figures.big!) - floor} ms; first open (runtime start and DAG load included): ${cold} ms`);
