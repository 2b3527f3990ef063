/**
 * The Hangar extension in a real VS Code workbench (code-server + Chromium), from
 * its packaged .vsix, driven only through the UI: palette, quick picks, the Runs
 * tree, its context menu, notifications, the Problems panel and editors.
 *
 *   bash scripts/e2e/install-code-server.sh && npm run test:e2e
 *
 * Screenshots: test-results/e2e/hangar-*.png. Figures (activation time, Runs tree
 * latency) are printed and written to test-results/e2e/hangar-figures.json.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_RESULTS_DIR, REPO_ROOT, packageHangarVsix, startWorkbench } from './harness.ts';
import type { TreeItem, Workbench } from './harness.ts';

const LOG = /hangar-dev\.hangar[/\\]Hangar\.log$/;
const EXAMPLE_DAG = 'financial_analytics_pipeline';
const EXAMPLE_TASKS = ['ingest_data', 'assess_quality', 'analyze_risk', 'generate_reports', 'cleanup_resources'];

let scratch = '';
let vsix = '';
const figures: Record<string, unknown> = {};

/** A DAG whose middle task fails until `fixed.flag` exists in the workspace. */
function flakyDag(workspace: string): string {
  return `import { existsSync } from 'node:fs';
import { dag } from 'hangar';

export const flaky = dag({ id: 'flaky_pipeline', schedule: null, description: 'Fails until fixed.flag exists' });

const extract = flaky.task('extract', async () => ({ rows: 3 }));
const load = flaky.task('load_rows', { inputs: { data: extract } }, async (_ctx, { data }) => {
  console.log('loading', data.rows, 'rows');
  if (!existsSync(${JSON.stringify(join(workspace, 'fixed.flag'))})) throw new Error('boom: the warehouse rejected 3 rows');
  return data.rows;
});
flaky.task('report', { inputs: { n: load } }, async (_ctx, { n }) => \`loaded \${n}\`);
`;
}

/** A DAG file with a syntax error on line 5. */
const BROKEN_DAG = `import { dag } from 'hangar';

export const broken = dag({ id: 'broken_pipeline', schedule: null });
broken.task('only', async () => 1);
const oops = ;
`;

async function makeWorkspace(name: string): Promise<string> {
  const dir = join(scratch, name);
  await cp(join(REPO_ROOT, 'examples'), dir, {
    recursive: true,
    filter: (src) => !src.includes(`${join('examples', '.hangar')}`),
  });
  await writeFile(join(dir, 'dags', 'flaky_pipeline.ts'), flakyDag(dir));
  return dir;
}

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'hangar-e2e-ext-'));
  vsix = join(scratch, 'hangar.vsix');
  const t = performance.now();
  // The real package: `npm run package` = node esbuild.js --production && node scripts/package-vsix.ts OUT
  packageHangarVsix(vsix);
  figures.packageMs = Math.round(performance.now() - t);
  assert.ok(existsSync(vsix), 'the .vsix was written');
});

after(async () => {
  await mkdir(DEFAULT_RESULTS_DIR, { recursive: true });
  await writeFile(join(DEFAULT_RESULTS_DIR, 'hangar-figures.json'), JSON.stringify(figures, null, 2));
  console.log(`figures: ${JSON.stringify(figures)}`);
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

async function withWorkbench(label: string, opts: Parameters<typeof startWorkbench>[0], body: (vs: Workbench) => Promise<void>): Promise<void> {
  const vs = await startWorkbench(opts);
  console.log(`[${label}] timings (ms): ${JSON.stringify(vs.timings)}`);
  try {
    await body(vs);
  } catch (e) {
    const dir = await vs.collectDiagnostics(`${label}-failure`);
    console.log(`[${label}] diagnostics saved in ${dir}`);
    throw e;
  } finally {
    await vs.stop();
  }
}

/** Task rows (level 2) of the Runs tree under the run row of `dagId` that is expanded. */
async function taskRows(vs: Workbench): Promise<TreeItem[]> {
  return (await vs.treeItems('Runs')).filter((i) => i.level === 2);
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await delay(150);
  }
}

/** Text of the active editor (Monaco renders lines as .view-line spans). */
async function editorText(vs: Workbench): Promise<string> {
  const text = await vs.page.locator('.part.editor .monaco-editor .view-lines').first().innerText();
  return text.replace(/\u00a0/g, ' ');
}

/** Records, in the page, when each Runs-tree task row first shows `success` (ms since epoch, page clock = this machine's). */
async function watchRunsTree(vs: Workbench): Promise<void> {
  // A string, evaluated in the page (the tests' tsconfig has no DOM types).
  await vs.page.evaluate(`(() => {
    const seen = {};
    window.__hangarSeen = seen;
    const scan = () => {
      for (const pane of document.querySelectorAll('.pane')) {
        if (!/^\\s*Runs\\s*$/i.test(pane.querySelector('.pane-header h3.title')?.textContent ?? '')) continue;
        for (const row of pane.querySelectorAll('.monaco-list-row[aria-level="2"]')) {
          const label = row.querySelector('.label-name')?.textContent?.trim() ?? '';
          const desc = row.querySelector('.label-description')?.textContent ?? '';
          const key = label + '|' + desc.split(' · ')[0];
          if (!(key in seen)) seen[key] = Date.now();
        }
      }
    };
    new MutationObserver(scan).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
  })()`);
}

/** The progress notification of a run closes once the run has ended. */
async function waitForNoNotification(vs: Workbench, text: RegExp): Promise<void> {
  await waitFor(`the notification ${text} to close`, async () => ((await vs.notifications()).some((n) => text.test(n.message)) ? undefined : true), 10_000);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
}

describe('Hangar extension in a real VS Code (code-server)', { timeout: 900_000 }, () => {
  test('run from the palette, Problems for a broken file, a failing task and its log, clear and re-run', async () => {
    const workspace = await makeWorkspace('trusted');
    await withWorkbench('hangar-trusted', { workspace, extensions: [vsix] }, async (vs) => {
      // Activation is cheap and says how long it took, in its own log channel.
      const log = await vs.waitForLog(LOG, /Hangar activated in [\d.]+ ms/, { timeoutMs: 30_000 });
      figures.activationMs = Number(/Hangar activated in ([\d.]+) ms/.exec(log)![1]);

      // The DAGs tree lists the real DAGs with their tasks.
      await vs.openView('DAGs');
      await vs.waitForTreeItem('DAGs', EXAMPLE_DAG, { timeoutMs: 60_000 });
      await vs.waitForTreeItem('DAGs', 'flaky_pipeline');
      const ready = await vs.readLog(LOG);
      const m = /Runtime ready in (\d+) ms/.exec(ready);
      if (m) figures.runtimeStartMs = Number(m[1]);

      // Run DAG... from the palette; the Runs tree shows every task reaching success.
      await vs.openView('Runs');
      await watchRunsTree(vs);
      await vs.runCommand('Hangar: Run DAG...');
      await vs.pickQuickItem(EXAMPLE_DAG);
      const rows = await waitFor(
        'every task of the example DAG to show success in the Runs tree',
        async () => {
          const r = await taskRows(vs);
          return r.length === EXAMPLE_TASKS.length && r.every((x) => x.description.startsWith('success')) ? r : undefined;
        },
        120_000,
      );
      assert.deepEqual(
        rows.map((r) => r.label),
        EXAMPLE_TASKS,
      );
      for (const r of rows) assert.match(r.description, /^success · try 1\/2 · \d+\.\d+ s$/, `row ${r.label}: ${r.description}`);
      await vs.waitForNotification(/run .* of financial_analytics_pipeline succeeded/);
      await waitForNoNotification(vs, /Running financial_analytics_pipeline/);
      assert.match((await vs.statusBarItems()).join(' | '), /Hangar/);
      await vs.screenshot('hangar-01-run-succeeded');

      // Latency: when each row showed success in the page vs. when the runtime ended the try (the store's end_date).
      const seen = (await vs.page.evaluate('window.__hangarSeen')) as Record<string, number>;
      const db = new DatabaseSync(join(workspace, '.hangar', 'hangar.db'), { readOnly: true });
      const ends = db.prepare(`SELECT task_id, end_date FROM task_instances WHERE dag_id = ?`).all(EXAMPLE_DAG) as { task_id: string; end_date: string }[];
      db.close();
      const latencies = ends.map((e) => seen[`${e.task_id}|success`]! - Date.parse(e.end_date)).filter((x) => Number.isFinite(x));
      assert.equal(latencies.length, EXAMPLE_TASKS.length, `saw ${JSON.stringify(seen)}`);
      figures.runsTreeLatencyMs = { median: median(latencies), max: Math.max(...latencies), samples: latencies };

      // A DAG file with a syntax error: its error is in the Problems panel at its line.
      await writeFile(join(workspace, 'dags', 'broken_pipeline.ts'), BROKEN_DAG);
      await vs.runCommand('Hangar: Reload DAG Files');
      const problem = await vs.waitForProblem(/Unexpected ";"/);
      assert.deepEqual(
        { file: problem.file, line: problem.line, column: problem.column, source: problem.source, kind: problem.kind },
        { file: join(workspace, 'dags', 'broken_pipeline.ts'), line: 5, column: 14, source: 'hangar', kind: 'error' },
      );
      await vs.waitForTreeItem('DAGs', 'dags/broken_pipeline.ts');
      await vs.openFile('dags/broken_pipeline.ts');
      await vs.screenshot('hangar-02-problem');

      // Fix it in the editor and save: the save reloads the DAG files and the problem clears.
      await vs.page.keyboard.press('Control+G');
      await vs.quickInput.waitFor({ state: 'visible' });
      await vs.typeInQuickInput('5');
      await vs.page.keyboard.press('Enter');
      await vs.page.keyboard.press('Home');
      await vs.page.keyboard.press('Shift+End');
      await vs.page.keyboard.type('const oops = 1;', { delay: 20 });
      await vs.page.keyboard.press('Control+S');
      await vs.waitForNoProblem(/Unexpected ";"/, { timeoutMs: 30_000 });
      await vs.waitForTreeItem('DAGs', /^broken_pipeline$/);
      assert.match(readFileSync(join(workspace, 'dags', 'broken_pipeline.ts'), 'utf8'), /^const oops = 1;$/m);
      await vs.screenshot('hangar-03-problem-fixed');

      // A failing task: the end-of-run message offers its log, which shows the error.
      await vs.runCommand('Hangar: Run DAG...');
      await vs.pickQuickItem('flaky_pipeline');
      const failed = await vs.waitForNotification(/run .* of flaky_pipeline failed( in [^:]+)?: task load_rows failed: .*boom/, { timeoutMs: 90_000 });
      assert.ok(failed.buttons.includes('Open Log'), JSON.stringify(failed));
      await waitFor('the Runs tree to show the failure', async () => {
        const r = await taskRows(vs);
        const states = Object.fromEntries(r.map((x) => [x.label, x.description.split(' · ')[0]]));
        return states.extract === 'success' && states.load_rows === 'failed' && states.report === 'upstream failed' ? r : undefined;
      });
      await vs.screenshot('hangar-04-run-failed');
      await vs.clickNotificationButton(/of flaky_pipeline failed/, 'Open Log');
      const logText = await waitFor('the log document', async () => {
        const t = await editorText(vs);
        return /boom: the warehouse rejected 3 rows/.test(t) ? t : undefined;
      });
      assert.match(logText, /flaky_pipeline \/ manual__.* \/ load_rows · try 1/);
      assert.match(logText, /loading 3 rows/);
      await vs.screenshot('hangar-05-failed-task-log');

      // Clear the failed task (with downstream) from the Runs tree's context menu; it runs again and succeeds.
      await writeFile(join(workspace, 'fixed.flag'), 'fixed\n');
      await vs.openView('Runs');
      await vs.treeItemContextAction('Runs', 'load_rows', 'Clear Task...');
      await vs.pickQuickItem('Clear with downstream');
      const rerun = await waitFor(
        'the cleared tasks to run again and succeed',
        async () => {
          const r = await taskRows(vs);
          const by = Object.fromEntries(r.map((x) => [x.label, x.description]));
          return /^success · try 2/.test(by.load_rows ?? '') && /^success · try 1/.test(by.report ?? '') && /^success · try 1/.test(by.extract ?? '') ? by : undefined;
        },
        90_000,
      );
      assert.match(rerun.load_rows!, /^success · try 2 · /);
      await vs.waitForNotification(/run .* of flaky_pipeline succeeded/);
      await waitForNoNotification(vs, /Re-running load_rows/);
      await vs.screenshot('hangar-06-cleared-and-rerun');

      // Nothing secret or broken in the extension's log; the runtime ran in its own process.
      const finalLog = await vs.readLog(LOG);
      assert.match(finalLog, /Runtime ready in \d+ ms \(pid \d+, node v24\./);
      assert.doesNotMatch(finalLog, /Activation failed|uncaught|unhandled/i);
    });
  });

  test('Debug DAG stops at a breakpoint in the .ts DAG file, with the task context in scope', async () => {
    const workspace = await makeWorkspace('debug');
    await writeFile(join(workspace, 'fixed.flag'), 'fixed\n');
    await withWorkbench('hangar-debug', { workspace, extensions: [vsix] }, async (vs) => {
      await vs.openFile('dags/flaky_pipeline.ts');
      // Line 8: console.log('loading', data.rows, 'rows') inside load_rows.
      await vs.page.keyboard.press('Control+G');
      await vs.quickInput.waitFor({ state: 'visible' });
      await vs.typeInQuickInput('8');
      await vs.page.keyboard.press('Enter');
      await vs.runCommand('Debug: Toggle Breakpoint');
      await vs.page.locator('.codicon-debug-breakpoint').first().waitFor({ state: 'visible', timeout: 10_000 });
      // CodeLens above the DAG definition: Run | Debug.
      const lenses = await waitFor('the CodeLens', async () => {
        const t = (await vs.page.locator('.codelens-decoration').allInnerTexts()).join(' ');
        return /Run/.test(t) && /Debug/.test(t) ? t : undefined;
      });
      assert.match(lenses, /Run\s*\|\s*Debug/);
      await vs.runCommand('Hangar: Debug DAG...');
      await vs.pickQuickItem('flaky_pipeline');
      const paused = vs.page.locator('.debug-call-stack .state.label, .debug-call-stack .state-label', { hasText: /paused on breakpoint/i }).first();
      await paused.waitFor({ state: 'visible', timeout: 90_000 });
      const frame = await vs.page.locator('.debug-call-stack .monaco-list-row.selected, .debug-call-stack .monaco-list-row').filter({ hasText: 'flaky_pipeline.ts' }).first().innerText();
      assert.match(frame, /flaky_pipeline\.ts/);
      assert.match(frame, /8/);
      // The task's scope: expand "Local" in the Variables view; the task's inputs and context are there.
      const local = vs.page.locator('.debug-variables .monaco-list-row', { hasText: /^\s*Local/ }).first();
      await local.click();
      const variables = await waitFor('the task inputs in the Variables view', async () => {
        const t = (await vs.page.locator('.debug-variables').innerText()).replace(/[\s\u00a0]+/g, ' ');
        return /data[\s=:]*\{\s*rows:\s*3\s*\}/.test(t) ? t : undefined;
      }, 20_000);
      assert.match(variables, /_ctx[\s=:]*\{\s*dagId:\s*'flaky_pipeline'/, variables);
      await vs.screenshot('hangar-09-debug-breakpoint');
      await vs.runCommand('Debug: Continue');
      await vs.page.locator('.debug-toolbar').waitFor({ state: 'hidden', timeout: 60_000 });
      const runs = new DatabaseSync(join(workspace, '.hangar', 'hangar.db'), { readOnly: true });
      const state = runs.prepare(`SELECT state FROM dag_runs WHERE dag_id = 'flaky_pipeline' ORDER BY id DESC LIMIT 1`).get() as { state: string } | undefined;
      runs.close();
      assert.equal(state?.state, 'success', 'the debugged run finished');
    });
  });

  test('in Restricted Mode nothing is compiled or run, and the views say why and how to trust', async () => {
    const workspace = await makeWorkspace('untrusted');
    await withWorkbench('hangar-restricted', { workspace, extensions: [vsix], workspaceTrust: 'restricted' }, async (vs) => {
      assert.equal(await vs.isRestricted(), true);
      await vs.waitForLog(LOG, /Restricted Mode: nothing is compiled or run/, { timeoutMs: 30_000 });
      await vs.openView('DAGs');
      const welcome = vs.viewPane('DAGs').locator('.welcome-view-content');
      await welcome.waitFor({ state: 'visible', timeout: 15_000 });
      assert.match(await welcome.innerText(), /does nothing in Restricted Mode[\s\S]*Manage Workspace Trust/);
      await vs.screenshot('hangar-07-restricted');
      await vs.openFile('dags/flaky_pipeline.ts');
      await delay(1500);
      assert.equal(await vs.page.locator('.codelens-decoration').count(), 0, 'no CodeLens in Restricted Mode');
      assert.equal(existsSync(join(workspace, '.hangar')), false, 'nothing was compiled or stored');
      assert.deepEqual(runtimeProcesses(vs), [], 'no runtime process in Restricted Mode');

      // Trusting the folder brings the DAGs (and the runtime) up.
      await vs.trustWorkspace();
      await vs.openView('DAGs');
      await vs.waitForTreeItem('DAGs', 'flaky_pipeline', { timeoutMs: 60_000 });
      const [pid] = runtimeProcesses(vs);
      assert.ok(pid, 'the runtime started once trusted');
      await vs.screenshot('hangar-08-trusted');

      // The runtime dies: the extension says so and starts another one.
      process.kill(pid, 'SIGKILL');
      await vs.waitForNotification(/The Hangar runtime stopped unexpectedly \(SIGKILL\); restarting it/);
      const next = await waitFor('a new runtime process', async () => runtimeProcesses(vs).find((p) => p !== pid));
      assert.notEqual(next, pid);
      await vs.waitForLog(LOG, /Runtime exited unexpectedly \(code -, signal SIGKILL\)/);
      await vs.waitForTreeItem('DAGs', 'flaky_pipeline');
      await vs.runCommand('Hangar: Run DAG...');
      await vs.pickQuickItem('flaky_pipeline');
      await vs.waitForNotification(/run .* of flaky_pipeline failed/, { timeoutMs: 60_000 });
      await waitFor('the run row to show the failure', async () => ((await vs.treeItems('Runs')).some((i) => i.level === 1 && i.description.startsWith('failed')) ? true : undefined));
      await waitForNoNotification(vs, /Running flaky_pipeline/);
      await vs.screenshot('hangar-10-restarted-runtime');
    });
  });
});

/** PIDs of runtime servers started from this workbench's extensions dir. */
function runtimeProcesses(vs: Workbench): number[] {
  const pids: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, 'utf8');
      if (cmd.includes(vs.extensionsDir) && cmd.includes('server.mjs')) pids.push(Number(e));
    } catch {
      /* exited */
    }
  }
  return pids;
}
