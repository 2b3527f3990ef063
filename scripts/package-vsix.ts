/**
 * `npm run package`: builds a self-contained .vsix of the extension.
 *
 * The normal build (esbuild.js) keeps npm packages external to the runtime, which
 * is right in the repository but not in an installed extension (a .vsix built with
 * --no-dependencies carries no node_modules). So this rebuilds the runtime server,
 * its worker, the DAG processor's parse child, the CLI and the Debug DAG entry with every package bundled in,
 * copies esbuild's native binary (DAG files are compiled with it at run time) to
 * dist/bin/, and points esbuild's JS API at it through ESBUILD_BINARY_PATH from a
 * banner. The binary makes the .vsix platform-specific: it is packaged with
 * `--target <platform>-<arch>` of this machine.
 *
 *   npm run package            → dist/hangar-<version>-<target>.vsix
 *   npm run package -- OUT.vsix
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import * as esbuild from 'esbuild';

const root = resolve(import.meta.dirname, '..');
const require = createRequire(join(root, 'package.json'));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
const target = `${process.platform === 'win32' ? 'win32' : process.platform}-${process.arch}`;
const out = resolve(process.argv[2] ?? join(root, 'dist', `hangar-${pkg.version}-${target}.vsix`));

const t0 = performance.now();
await esbuild.build({
  absWorkingDir: root,
  entryPoints: {
    server: 'src/runtime/server/main.ts',
    worker: 'src/runtime/executor/worker.ts',
    processor: 'src/runtime/processor/child.ts',
    cli: 'src/runtime/cli/main.ts',
    debug: 'src/runtime/server/debug-run.ts',
    'task-test': 'src/runtime/testing/task-test-main.ts',
  },
  outdir: 'dist/runtime',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  minify: true,
  sourcemap: false,
  // ssh2's native speed-ups are optional (it falls back to JavaScript when they do not load).
  external: ['*.node', 'cpu-features'],
  logLevel: 'warning',
  banner: {
    js: [
      "import { createRequire as __hangarCreateRequire } from 'node:module';",
      "import { existsSync as __hangarExists } from 'node:fs';",
      "import { fileURLToPath as __hangarPath } from 'node:url';",
      'const require = __hangarCreateRequire(import.meta.url);',
      // Bundled CommonJS packages (ssh2 for sync pipelines and the SFTP sensor) read __dirname/__filename.
      'const __filename = __hangarPath(import.meta.url);',
      "const __dirname = __hangarPath(new URL('.', import.meta.url));",
      // Before any bundled module runs (esbuild's API reads it when it loads).
      "{ const p = __hangarPath(new URL('../bin/esbuild', import.meta.url)); if (!process.env.ESBUILD_BINARY_PATH && __hangarExists(p)) process.env.ESBUILD_BINARY_PATH = p; }",
    ].join(' '),
  },
});

const binary = require.resolve(`@esbuild/${target}/bin/esbuild`);
mkdirSync(join(root, 'dist', 'bin'), { recursive: true });
copyFileSync(binary, join(root, 'dist', 'bin', 'esbuild'));
chmodSync(join(root, 'dist', 'bin', 'esbuild'), 0o755);

const vsce = join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
const res = spawnSync(
  process.execPath,
  [vsce, 'package', '--no-dependencies', '--skip-license', '--allow-missing-repository', '--target', target, '-o', out],
  { cwd: root, stdio: 'inherit' },
);
if (res.status !== 0) {
  console.error(`package: vsce failed (status ${res.status})`);
  process.exit(1);
}
console.log(`package: ${out} (${(statSync(out).size / 1e6).toFixed(1)} MB, ${Math.round(performance.now() - t0)} ms)`);
