/**
 * Hangar's editor features with TypeScript 7's native language server (`tsgo --lsp`), in a real
 * VS Code workbench from the packaged .vsix, with `js/ts.experimental.useTsgo: true`:
 *  - the native server is the one answering: a `tsgo --lsp --stdio` process runs in the
 *    workbench and no tsserver.js does (VS Code's built-in TypeScript extension stood down),
 *    and tsgo's own messages are in its output channel;
 *  - Hangar's id features, VS Code language providers merged with tsgo's: task ids completed
 *    (kind and line), an unknown id is a Problem with a quick fix, go to definition, F2 renames
 *    a task id across two files;
 *  - `import … from 'hangar'` in a folder without `hangar init`: tsgo loads no tsserver plugin,
 *    so "Cannot find module 'hangar'"; Hangar's Add / Not now / Never prompt; after "Add" the
 *    error goes and the real type error is reported by tsgo.
 *
 * The marketplace extension TypeScriptTeam.native-preview cannot be downloaded here: its
 * stand-in test/e2e/tsgo-extension/ (same id, same client: vscode-languageclient starting
 * `tsgo --lsp` over stdio) runs tsgo from the devDependency @typescript/native-preview.
 *
 *   bash scripts/e2e/install-code-server.sh
 *   flock /tmp/hangar-e2e.lock npx node --test --test-reporter=spec test/e2e/tsgo.e2e.ts
 *
 * Screenshots: test-results/e2e/tsgo-*.png.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import * as esbuild from 'esbuild';
import { addTypesToFolder } from '../../src/runtime/cli/editor-types.ts';
import { E2E_DIR, REPO_ROOT, packageHangarVsix, packageVsix, startWorkbench } from './harness.ts';
import type { Workbench } from './harness.ts';

const TSDK = join(REPO_ROOT, 'node_modules', '@typescript', 'native-preview');
const TSGO_VERSION = (JSON.parse(readFileSync(join(TSDK, 'package.json'), 'utf8')) as { version: string })
  .version;

/** What turns TypeScript 7 on: the setting VS Code 1.139's built-in extension reads, and where tsgo is. */
const TSGO_SETTINGS = {
  'js/ts.experimental.useTsgo': true,
  'typescript.native-preview.tsdk': TSDK,
};

/** The stand-in's LogOutputChannel (exthost<N>/TypeScriptTeam.native-preview/typescript-native-preview.log). */
const TSGO_LOG = /typescriptteam\.native-preview[/\\]typescript-native-preview\.log$/i;

const ETL = `import { dag } from 'hangar';

export const etl = dag({ id: 'etl', schedule: null });
const extract = etl.task('extract', async () => [1, 2, 3]);
etl.task('transform', async (ctx) => ctx.xcom.pull('extract'));
etl.task('load', { pool: 'warehouse_pool' }, async (ctx) => ctx.connection('warehouse').host).after('transform');
extract.before('transform');
`;

const REPORT = `import { dag, externalTaskSensor } from 'hangar';

export const report = dag({ id: 'report', schedule: null });
externalTaskSensor(report, 'wait_for_load', { externalDagId: 'etl', externalTaskId: 'load', mode: 'reschedule' });
`;

/** A DAG file whose one error is a real type error (ctx.ds is a string): only real types give it. */
const TYPED_ETL = `import { dag } from 'hangar';

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
let tsgoVsix = '';

/** The stand-in extension: its source bundled with vscode-languageclient by esbuild, then packaged. */
async function packageTsgoExtension(outFile: string): Promise<string> {
  const dir = join(scratch, 'tsgo-extension');
  cpSync(join(E2E_DIR, 'tsgo-extension'), dir, { recursive: true });
  await esbuild.build({
    // From the source in the repo, so that vscode-languageclient resolves from its node_modules.
    entryPoints: [join(E2E_DIR, 'tsgo-extension', 'extension.mts')],
    outfile: join(dir, 'dist', 'extension.cjs'),
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    external: ['vscode'],
    logLevel: 'warning',
  });
  return packageVsix(dir, outFile);
}

before(async () => {
  assert.ok(existsSync(TSDK), `${TSDK}: run npm ci (devDependency @typescript/native-preview)`);
  scratch = await mkdtemp(join(tmpdir(), 'hangar-e2e-tsgo-'));
  vsix = packageHangarVsix(join(scratch, 'hangar.vsix'));
  tsgoVsix = await packageTsgoExtension(join(scratch, 'native-preview.vsix'));
});

after(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** The command lines of the workbench's processes (code-server's group: extension host and its children). */
function commandLines(vs: Workbench): string[] {
  const out: string[] = [];
  for (const pid of vs.survivingProcesses()) {
    try {
      out.push(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim());
    } catch {
      /* exited meanwhile */
    }
  }
  return out;
}

/**
 * The native server is the one answering: tsgo runs as `tsgo --lsp --stdio`, no tsserver.js
 * runs (the built-in extension starts one for any open TypeScript file unless it stood down),
 * and the stand-in's channel has messages from tsgo itself.
 */
async function assertTsgoAnswers(vs: Workbench): Promise<string> {
  await vs.waitForLog(TSGO_LOG, `Language server started: tsgo ${TSGO_VERSION}`, { timeoutMs: 60_000 });
  // A line tsgo itself sent (window/logMessage), not the stand-in.
  const log = await vs.waitForLog(TSGO_LOG, /handled method 'initialized'/);
  const lines = commandLines(vs);
  assert.ok(
    lines.some((l) => /native-preview-linux-x64\/lib\/tsgo --lsp --stdio$/.test(l)),
    `a tsgo --lsp --stdio process: ${JSON.stringify(lines)}`,
  );
  assert.ok(
    !lines.some((l) => /tsserver(\.web)?\.js/.test(l)),
    `no tsserver.js process: ${JSON.stringify(lines)}`,
  );
  return log;
}

/** The cursor's line and column from the status bar ("Ln 5, Col 11"). */
async function cursor(vs: Workbench): Promise<{ line: number; column: number } | undefined> {
  const item = (await vs.statusBarItems()).find((s) => /^Ln \d+, Col \d+/.test(s));
  const m = item && /^Ln (\d+), Col (\d+)/.exec(item);
  return m ? { line: Number(m[1]), column: Number(m[2]) } : undefined;
}

async function waitUntil(what: string, fn: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(200);
  }
}

/** Ctrl+G to a line (and column); returns once the status bar shows the cursor there. */
async function goToLine(vs: Workbench, line: number, column?: number): Promise<void> {
  await vs.page.keyboard.press('Control+G');
  await vs.quickInput.waitFor({ state: 'visible' });
  await vs.typeInQuickInput(column === undefined ? String(line) : `${line}:${column}`);
  await vs.page.keyboard.press('Enter');
  await vs.quickInput.waitFor({ state: 'hidden' });
  await waitUntil(
    `the cursor at line ${line}${column === undefined ? '' : `, column ${column}`}`,
    async () => {
      const at = await cursor(vs);
      return at?.line === line && (column === undefined || at.column === column);
    },
  );
}

/** Ctrl+G to a line and column, then "Show or Focus Hover" until the hover has `want`: the hover's text. */
async function hoverAt(vs: Workbench, line: number, column: number, want: RegExp): Promise<string> {
  await goToLine(vs, line, column);
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
    if (want.test(text)) return text;
    await vs.page.keyboard.press('Escape');
    await delay(500);
  }
  return text;
}

/**
 * Every file under `dir` with its content, but for the runtime's own state under .hangar/
 * (its compile cache, store and logs: the runtime starts when a DAG file opens).
 */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of readdirSync(dir, { recursive: true }) as string[]) {
    if (/^\.hangar($|[\\/](cache|logs)($|[\\/])|[\\/]hangar\.db)/.test(rel)) continue;
    try {
      out[rel] = readFileSync(join(dir, rel), 'utf8');
    } catch {
      out[rel] = '<dir>';
    }
  }
  return out;
}

test(
  'control: with js/ts.experimental.useTsgo false, the built-in tsserver answers and the stand-in starts nothing',
  { timeout: 300_000 },
  async () => {
    const workspace = join(scratch, 'control');
    await mkdir(join(workspace, 'dags'), { recursive: true });
    await writeFile(join(workspace, 'dags', 'etl.ts'), TYPED_ETL);
    const vs = await startWorkbench({
      workspace,
      extensions: [tsgoVsix, vsix],
      settings: { ...TSGO_SETTINGS, 'js/ts.experimental.useTsgo': false },
    });
    try {
      await vs.openFile('dags/etl.ts');
      // The plugin works with tsserver: the real type error, no "Cannot find module 'hangar'".
      await vs.waitForProblem(REAL_TYPE_ERROR, { timeoutMs: 90_000 });
      const lines = commandLines(vs);
      // The same process check that the tests below make, seen failing the other way here.
      assert.ok(
        lines.some((l) => /tsserver\.js/.test(l)),
        `a tsserver.js process: ${JSON.stringify(lines)}`,
      );
      assert.ok(!lines.some((l) => /\/tsgo --lsp/.test(l)), `no tsgo process: ${JSON.stringify(lines)}`);
      await vs.waitForLog(TSGO_LOG, /TypeScript 7 Native Preview is disabled/);
      assert.ok(!(await vs.problems()).some((p) => MISSING.test(p.message)));
    } catch (e) {
      await vs.collectDiagnostics('tsgo-control-failure');
      throw e;
    } finally {
      await vs.stop();
    }
  },
);

test(
  'with tsgo answering: task ids offered, an unknown id is a Problem with a quick fix, go to definition, F2 renames across files',
  { timeout: 300_000 },
  async () => {
    const workspace = join(scratch, 'ws');
    await mkdir(join(workspace, 'dags'), { recursive: true });
    await writeFile(
      join(workspace, 'hangar.json'),
      JSON.stringify(
        {
          connections: { warehouse: 'postgres://etl:s3cret@db.internal:5432/dw' },
          pools: { warehouse_pool: 4 },
        },
        null,
        2,
      ),
    );
    await writeFile(join(workspace, 'dags', 'etl.ts'), ETL);
    await writeFile(join(workspace, 'dags', 'report.ts'), REPORT);
    // What `hangar init` (or the prompt's "Add") writes: with tsgo, the declarations come from here.
    addTypesToFolder(workspace, { root: REPO_ROOT, dagsFolder: 'dags' });
    const vs = await startWorkbench({ workspace, extensions: [tsgoVsix, vsix], settings: TSGO_SETTINGS });
    try {
      await vs.openView('DAGs');
      await vs.waitForTreeItem('DAGs', /^etl$/, { timeoutMs: 90_000 });
      await vs.openFile('dags/etl.ts');

      // tsgo resolves 'hangar' through the declarations: a hover on `dag` shows its signature,
      // and the file has no error.
      const log = await assertTsgoAnswers(vs);
      const signature = /dag<Params[^(]*>\(options: DagOptions<Params>\): Dag<Params>/;
      const hoverText = await hoverAt(vs, 3, 20, signature);
      assert.match(hoverText, signature);
      await vs.screenshot('tsgo-01-hover-from-tsgo');
      await vs.page.keyboard.press('Escape');
      const initial = await vs.problems();
      assert.ok(!initial.some((p) => p.kind === 'error'), `no error in etl.ts: ${JSON.stringify(initial)}`);

      await vs.openFile('dags/etl.ts');
      // Completion: `extract.before('` offers the DAG's task ids with their kind and line.
      await goToLine(vs, 8);
      await delay(300);
      await vs.page.keyboard.type("extract.before('", { delay: 40 });
      const suggest = vs.page.locator('.editor-widget.suggest-widget .monaco-list-row');
      await suggest.first().waitFor({ state: 'visible', timeout: 20_000 });
      const deadline = Date.now() + 20_000;
      let rows: string[] = [];
      while (Date.now() < deadline) {
        rows = (await suggest.allInnerTexts()).map((r) => r.replace(/\s+/g, ' ').trim());
        if (rows.some((r) => r.startsWith('load'))) break;
        await delay(200);
      }
      assert.ok(
        rows.some((r) => /^transform\b.*typescript task of etl, line 5/.test(r)),
        JSON.stringify(rows),
      );
      assert.ok(
        rows.some((r) => /^load\b/.test(r)) && rows.some((r) => /^extract\b/.test(r)),
        JSON.stringify(rows),
      );
      await vs.screenshot('tsgo-02-completion');
      await vs.page.keyboard.press('Escape');

      // A typo: a Problem from Hangar at the string while typing, with a quick fix.
      await vs.page.keyboard.type('lod', { delay: 40 });
      const problem = await vs.waitForProblem(/DAG "etl" has no task "lod"/, { timeoutMs: 20_000 });
      assert.equal(problem.source, 'hangar');
      assert.equal(problem.line, 8);
      assert.match(problem.message, /Did you mean "load"\?/);
      await vs.screenshot('tsgo-03-problem');
      await vs.page
        .locator('.part.editor .monaco-editor .view-line', { hasText: "before('lod')" })
        .first()
        .click();
      await vs.page.keyboard.press('End');
      for (let i = 0; i < 3; i++) await vs.page.keyboard.press('ArrowLeft');
      await vs.page.keyboard.press('Control+.');
      const fix = vs.page.locator('.action-widget .monaco-list-row', { hasText: 'Change to "load"' });
      await fix.first().waitFor({ state: 'visible', timeout: 15_000 });
      await vs.screenshot('tsgo-04-quick-fix');
      await fix.first().click();
      await vs.waitForNoProblem(/has no task "lod"/, { timeoutMs: 20_000 });
      assert.match(await vs.editorText(), /extract\.before\('load'\)/);

      // Go to definition from `.after('transform')` (line 6) to `etl.task('transform'` (line 5).
      await goToLine(vs, 6);
      await vs.page.keyboard.press('End');
      for (let i = 0; i < 4; i++) await vs.page.keyboard.press('ArrowLeft');
      await vs.page.keyboard.press('F12');
      let at: { line: number; column: number } | undefined;
      const until = Date.now() + 15_000;
      while (Date.now() < until) {
        at = await cursor(vs);
        if (at?.line === 5) break;
        await delay(200);
      }
      assert.deepEqual(at, { line: 5, column: 11 });
      await vs.screenshot('tsgo-05-definition');

      // F2 on `load` (line 6): its definition, `.before('load')` and the other file's sensor are renamed.
      await goToLine(vs, 6, 12);
      const box = vs.page.locator('.rename-box input.rename-input, .rename-box input').first();
      const focused = (): Promise<boolean> =>
        box.evaluate(
          (e: unknown) =>
            (e as { ownerDocument: { activeElement: unknown } }).ownerDocument.activeElement === e,
        );
      for (let attempt = 0; ; attempt++) {
        await vs.page.keyboard.press('F2');
        const open = await box.waitFor({ state: 'visible', timeout: 5_000 }).then(
          () => true,
          () => false,
        );
        const focusUntil = Date.now() + 3_000;
        while (open && !(await focused()) && Date.now() < focusUntil) await delay(100);
        if (open && (await focused())) break;
        if (attempt === 3) {
          await vs.screenshot('tsgo-rename-refused');
          throw new Error(`F2 did not open a focused rename box (open: ${open})`);
        }
        await vs.page.keyboard.press('Escape');
        await delay(500);
      }
      await box.fill('load_dw');
      await vs.screenshot('tsgo-06-rename');
      await box.press('Enter');
      await waitUntil(
        'the rename in etl.ts',
        async () =>
          /etl\.task\('load_dw'/.test(await vs.editorText()) &&
          /extract\.before\('load_dw'\)/.test(await vs.editorText()),
      );
      await vs.openFile('dags/report.ts');
      await waitUntil('the rename in report.ts', async () =>
        /externalTaskId: 'load_dw'/.test(await vs.editorText()),
      );
      await vs.screenshot('tsgo-07-renamed-other-file');

      // Still tsgo alone at the end (the built-in did not start a tsserver along the way).
      await assertTsgoAnswers(vs);
      assert.match(log, /Resolved to .*native-preview-linux-x64[/\\]lib[/\\]tsgo/);
    } catch (e) {
      await vs.collectDiagnostics('tsgo-authoring-failure');
      throw e;
    } finally {
      await vs.stop();
    }
  },
);

test(
  'a folder without hangar init: tsgo loads no plugin, so "Cannot find module \'hangar\'"; Hangar asks, and after Add the import resolves',
  { timeout: 300_000 },
  async () => {
    const workspace = join(scratch, 'plain');
    await mkdir(join(workspace, 'dags'), { recursive: true });
    await writeFile(join(workspace, 'dags', 'etl.ts'), TYPED_ETL);
    const before = snapshot(workspace);
    const vs = await startWorkbench({ workspace, extensions: [tsgoVsix, vsix], settings: TSGO_SETTINGS });
    try {
      await vs.openFile('dags/etl.ts');
      // With the classic tsserver the plugin resolves 'hangar' here (types.e2e.ts); tsgo loads no plugin.
      const missing = await vs.waitForProblem(MISSING, { timeoutMs: 90_000 });
      assert.equal(missing.line, 1);
      await assertTsgoAnswers(vs);
      const note = await vs.waitForNotification(/Hangar can add its type declarations to this folder/, {
        timeoutMs: 60_000,
      });
      assert.deepEqual(note.buttons, ['Add', 'Not now', 'Never']);
      await vs.screenshot('tsgo-08-prompt');
      assert.deepEqual(snapshot(workspace), before, 'nothing written before the answer');

      await vs.clickNotificationButton(/Hangar can add its type declarations/, 'Add');
      await vs.waitForNotification(/Hangar wrote \.hangar\/types\/ and tsconfig\.json/);
      assert.ok(existsSync(join(workspace, '.hangar', 'types', 'hangar', 'index.d.ts')));
      const tsconfig = JSON.parse(readFileSync(join(workspace, 'tsconfig.json'), 'utf8')) as {
        compilerOptions: { paths: Record<string, string[]> };
      };
      assert.deepEqual(tsconfig.compilerOptions.paths, { hangar: ['./.hangar/types/hangar/index.d.ts'] });

      // tsgo picks the new tsconfig up: the import resolves, and the real type error is reported.
      await vs.waitForNoProblem(MISSING, { timeoutMs: 90_000 });
      const typeError = await vs.waitForProblem(REAL_TYPE_ERROR, { timeoutMs: 60_000 });
      assert.equal(typeError.line, 5);
      const errors = (await vs.problems()).filter((p) => p.kind === 'error');
      assert.equal(errors.length, 1, `one error, the deliberate one: ${JSON.stringify(errors)}`);
      await vs.screenshot('tsgo-09-added');
      await assertTsgoAnswers(vs);
    } catch (e) {
      await vs.collectDiagnostics('tsgo-types-failure');
      throw e;
    } finally {
      await vs.stop();
    }
  },
);
