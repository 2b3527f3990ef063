/**
 * `import … from 'hangar'` in a folder `hangar init` did not make, in a real VS Code
 * workbench from the packaged .vsix (issue #15):
 *  - the TypeScript server plugin (src/ts-plugin) resolves 'hangar' for a DAG file under
 *    dags/: no "Cannot find module 'hangar'" in Problems, the deliberate type error is
 *    reported (the types are real), a hover on `dag` shows its signature, and nothing
 *    is written into the folder;
 *  - where the plugin does not help (here: a DAG folder set by `hangar.dagsFolder`, which
 *    the plugin does not know), Hangar asks before writing; "Add" writes .hangar/types
 *    and tsconfig.json and the error goes away.
 *
 *   bash scripts/e2e/install-code-server.sh
 *   flock /tmp/hangar-e2e.lock npx node --test --test-reporter=spec test/e2e/types.e2e.ts
 *
 * Screenshots: test-results/e2e/types-*.png.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { packageHangarVsix, startWorkbench } from './harness.ts';
import type { Workbench } from './harness.ts';

const ETL = `import { dag } from 'hangar';

export const etl = dag({ id: 'etl', schedule: null, startDate: '2024-01-01' });
etl.task('extract', async (ctx) => {
  const day: number = ctx.ds;
  return day;
});
`;

const MISSING = /Cannot find module 'hangar'/;
const REAL_TYPE_ERROR = /Type 'string' is not assignable to type 'number'/;

let scratch = '';
let vsix = '';

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'hangar-e2e-types-'));
  vsix = join(scratch, 'hangar.vsix');
  packageHangarVsix(vsix);
  assert.ok(existsSync(vsix));
});

after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/**
 * Every file under `dir` with its content, but for the runtime's own state under .hangar/
 * (its compile cache, store and logs: the runtime starts when a DAG file opens).
 */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of readdirSync(dir, { recursive: true }) as string[]) {
    const p = join(dir, rel);
    if (/^\.hangar($|[\\/](cache|logs)($|[\\/])|[\\/]hangar\.db)/.test(rel)) continue;
    try {
      out[rel] = readFileSync(p, 'utf8');
    } catch {
      out[rel] = '<dir>';
    }
  }
  return out;
}

/** Ctrl+G to a line and column, then "Show or Focus Hover": the hover's text. */
async function hoverAt(vs: Workbench, line: number, column: number): Promise<string> {
  await vs.page.keyboard.press('Control+G');
  await vs.quickInput.waitFor({ state: 'visible' });
  await vs.typeInQuickInput(`${line}:${column}`);
  await vs.page.keyboard.press('Enter');
  await vs.quickInput.waitFor({ state: 'hidden' });
  await delay(300);
  const hover = vs.page.locator(
    '.monaco-hover:not(.hidden) .monaco-hover-content, .monaco-hover:not(.hidden) .hover-contents',
  );
  const deadline = Date.now() + 30_000;
  let text = '';
  while (Date.now() < deadline) {
    await vs.runCommand('Show or Focus Hover');
    await hover
      .first()
      .waitFor({ state: 'visible', timeout: 5_000 })
      .catch(() => undefined);
    text = (await hover.allInnerTexts().catch(() => [] as string[])).join('\n').replace(/\u00a0/g, ' ');
    // Until the TypeScript server has loaded the project, the hover is "loading…" or absent.
    if (/dag<Params>/.test(text)) return text;
    await vs.page.keyboard.press('Escape');
    await delay(500);
  }
  return text;
}

test(
  "a folder with dags/ and no hangar init: 'hangar' resolves through the TypeScript plugin, nothing is written",
  { timeout: 300_000 },
  async () => {
    const workspace = join(scratch, 'plain');
    await mkdir(join(workspace, 'dags'), { recursive: true });
    await writeFile(join(workspace, 'dags', 'etl.ts'), ETL);
    const before = snapshot(workspace);
    const vs = await startWorkbench({ workspace, extensions: [vsix] });
    try {
      await vs.openFile('dags/etl.ts');
      // The type error only a real TaskContext can give: ctx.ds is a string.
      const problem = await vs.waitForProblem(REAL_TYPE_ERROR, { timeoutMs: 90_000 });
      assert.equal(problem.line, 5);
      const problems = await vs.problems();
      assert.ok(!problems.some((p) => MISSING.test(p.message)), JSON.stringify(problems));
      const errors = problems.filter((p) => p.kind === 'error');
      assert.equal(errors.length, 1, `one error, the deliberate one: ${JSON.stringify(problems)}`);
      await vs.screenshot('types-plugin-problems');

      const hover = await hoverAt(vs, 3, 20);
      assert.match(hover, /dag<Params>\(options: DagOptions<Params>\): Dag<Params>/);
      await vs.screenshot('types-plugin-hover');
      await vs.page.keyboard.press('Escape');

      // No prompt: the plugin helped, so Hangar had nothing to ask.
      const notes = await vs.notifications();
      assert.ok(!notes.some((n) => /type declarations/.test(n.message)), JSON.stringify(notes));
      assert.deepEqual(snapshot(workspace), before, 'nothing written into the folder');
    } catch (e) {
      await vs.collectDiagnostics('types-plugin');
      throw e;
    } finally {
      await vs.stop();
    }
  },
);

test(
  'where the plugin cannot help, Hangar asks; nothing is written before "Add", and "Add" fixes the import',
  { timeout: 300_000 },
  async () => {
    const workspace = join(scratch, 'flows-ws');
    await mkdir(join(workspace, 'flows'), { recursive: true });
    await mkdir(join(workspace, 'dags'), { recursive: true });
    // dags/ activates the extension; the DAG folder is flows/ (a setting the plugin does not read).
    await writeFile(join(workspace, 'dags', 'unused.ts'), 'export const unused = 1;\n');
    await writeFile(join(workspace, 'flows', 'etl.ts'), ETL);
    const before = snapshot(workspace);
    const vs = await startWorkbench({
      workspace,
      extensions: [vsix],
      // tsserver's verbose log lands in the failure diagnostics (test-results/e2e/types-prompt/vscode-logs).
      settings: { 'hangar.dagsFolder': 'flows', 'typescript.tsserver.log': 'verbose' },
    });
    try {
      await vs.openFile('flows/etl.ts');
      await vs.waitForProblem(MISSING, { timeoutMs: 90_000 });
      const note = await vs.waitForNotification(/Hangar can add its type declarations to this folder/, {
        timeoutMs: 60_000,
      });
      assert.deepEqual(note.buttons, ['Add', 'Not now', 'Never']);
      await vs.screenshot('types-prompt');
      assert.deepEqual(snapshot(workspace), before, 'nothing written before the answer');

      await vs.clickNotificationButton(/Hangar can add its type declarations/, 'Add');
      await vs.waitForNotification(/Hangar wrote \.hangar\/types\/ and tsconfig\.json/);
      assert.ok(existsSync(join(workspace, '.hangar', 'types', 'hangar', 'index.d.ts')));
      const tsconfig = JSON.parse(readFileSync(join(workspace, 'tsconfig.json'), 'utf8')) as {
        compilerOptions: { paths: Record<string, string[]> };
        include: string[];
      };
      assert.deepEqual(tsconfig.compilerOptions.paths, { hangar: ['./.hangar/types/hangar/index.d.ts'] });
      assert.deepEqual(tsconfig.include, ['flows/**/*.ts']);

      // TypeScript picks the new tsconfig up: the import resolves, the real type error remains.
      await vs.waitForNoProblem(MISSING, { timeoutMs: 90_000 });
      await vs.waitForProblem(REAL_TYPE_ERROR, { timeoutMs: 60_000 });
      await vs.screenshot('types-prompt-added');
    } catch (e) {
      await vs.collectDiagnostics('types-prompt');
      throw e;
    } finally {
      await vs.stop();
    }
  },
);
