/**
 * `npm run test:desktop`: the extension-host suite (suite.ts) in a real desktop
 * VS Code downloaded by @vscode/test-electron — for machines that can download
 * VS Code (CI here cannot, so it runs the code-server e2e suite instead).
 *
 *   npm run test:desktop            # VS Code stable
 *   VSCODE_VERSION=1.100.0 npm run test:desktop
 */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { spawnSync } from 'node:child_process';
import * as esbuild from 'esbuild';
import { runTests } from '@vscode/test-electron';

const root = resolve(import.meta.dirname, '..', '..', '..');
const scratch = await mkdtemp(join(tmpdir(), 'hangar-desktop-'));
let code = 1;
try {
  const build = spawnSync(process.execPath, ['esbuild.js'], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) throw new Error('node esbuild.js failed');
  // The suite runs in the extension host, which loads CommonJS: bundle it (vscode stays external).
  const suite = join(scratch, 'suite.cjs');
  await esbuild.build({ entryPoints: [join(import.meta.dirname, 'suite.ts')], bundle: true, format: 'cjs', platform: 'node', target: 'node20', external: ['vscode'], outfile: suite, logLevel: 'warning' });
  const workspace = join(scratch, 'workspace');
  await cp(join(root, 'examples'), workspace, { recursive: true, filter: (src) => !src.includes(join('examples', '.hangar')) });
  await writeFile(join(workspace, '.vscode-test-marker'), '');
  await runTests({
    version: process.env.VSCODE_VERSION ?? 'stable',
    extensionDevelopmentPath: root,
    extensionTestsPath: suite,
    launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust', '--skip-welcome', '--skip-release-notes'],
    extensionTestsEnv: { HANGAR_TEST_WORKSPACE: workspace },
  });
  code = 0;
} catch (err) {
  console.error(`test:desktop failed: ${(err as Error).message}`);
} finally {
  await rm(scratch, { recursive: true, force: true });
}
process.exit(code);
