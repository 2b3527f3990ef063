// One build for every target: the extension (cjs, vscode external), the runtime
// and CLI (esm, node), and the webviews (browser). Type checking is apart: `npm run typecheck`.
import * as esbuild from 'esbuild';
import { existsSync, readdirSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const common = { bundle: true, sourcemap: true, logLevel: 'warning', minify: production };

const targets = [];

if (existsSync('src/extension.ts')) {
  targets.push({
    ...common,
    entryPoints: ['src/extension.ts'],
    outfile: 'dist/extension.cjs',
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    external: ['vscode'],
  });
}

// The TypeScript server plugin (contributes.typescriptServerPlugins): CommonJS, tsserver require()s it
// and wants module.exports to be the factory; scripts/package-vsix.ts ships it as node_modules/hangar-ts-plugin.
if (existsSync('src/ts-plugin/index.ts')) {
  targets.push({
    ...common,
    entryPoints: ['src/ts-plugin/index.ts'],
    outfile: 'dist/ts-plugin/index.cjs',
    format: 'cjs',
    platform: 'node',
    target: 'node18',
    external: ['typescript'],
    footer: { js: 'module.exports = module.exports.default;' },
  });
}

targets.push({
  ...common,
  entryPoints: {
    cli: 'src/runtime/cli/main.ts',
    ...(existsSync('src/runtime/server/main.ts') ? { server: 'src/runtime/server/main.ts' } : {}),
    ...(existsSync('src/runtime/executor/worker.ts') ? { worker: 'src/runtime/executor/worker.ts' } : {}),
    processor: 'src/runtime/processor/child.ts',
    // `hangar/testing` (package.json "exports"): the runtime, for users' own tests.
    testing: 'src/runtime/testing/index.ts',
    'task-test': 'src/runtime/testing/task-test-main.ts',
  },
  outdir: 'dist/runtime',
  outExtension: { '.js': '.mjs' },
  format: 'esm',
  platform: 'node',
  target: 'node22',
  // esbuild itself stays a runtime dependency: it compiles the user's DAG files.
  packages: 'external',
  banner: { js: "import { createRequire as __hangarCreateRequire } from 'node:module'; const require = __hangarCreateRequire(import.meta.url);" },
});

// The node:test reporter of the Test Explorer's "Your tests" (node --test --test-reporter=<it>): no packages.
targets.push({
  ...common,
  entryPoints: ['src/vscode/user-tests-reporter.ts'],
  outfile: 'dist/user-tests-reporter.mjs',
  format: 'esm',
  platform: 'node',
  target: 'node22',
});

if (existsSync('webview')) {
  for (const panel of readdirSync('webview', { withFileTypes: true })) {
    if (!panel.isDirectory() || !existsSync(`webview/${panel.name}/main.ts`)) continue;
    targets.push({
      ...common,
      entryPoints: [`webview/${panel.name}/main.ts`],
      outfile: `dist/webview/${panel.name}.js`,
      format: 'iife',
      platform: 'browser',
      target: 'es2022',
    });
  }
}

if (watch) {
  for (const t of targets) await (await esbuild.context(t)).watch();
  console.log('esbuild: watching');
} else {
  await Promise.all(targets.map((t) => esbuild.build(t)));
}
