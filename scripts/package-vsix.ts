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
 * The TypeScript server plugin (src/ts-plugin, contributes.typescriptServerPlugins) must be
 * <extension>/node_modules/hangar-ts-plugin/ for tsserver to find it, and vsce leaves out
 * node_modules/ when packaging --no-dependencies: so it is added to the .vsix afterwards
 * (dist/ts-plugin/index.cjs as its index.js, beside a package.json). Its declarations,
 * dist/types/*.d.ts, are packaged as usual (.vscodeignore).
 *
 *   npm run package            → dist/hangar-<version>-<target>.vsix
 *   npm run package -- OUT.vsix
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, createWriteStream, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
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

// The declarations the TypeScript server plugin resolves 'hangar' to (what `npm run build` writes).
const tsc = spawnSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.types.json'], {
  cwd: root,
  stdio: 'inherit',
});
if (tsc.status !== 0) {
  console.error(`package: tsc -p tsconfig.types.json failed (status ${tsc.status})`);
  process.exit(1);
}

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
await addTsPlugin(out);
console.log(`package: ${out} (${(statSync(out).size / 1e6).toFixed(1)} MB, ${Math.round(performance.now() - t0)} ms)`);

/** Rewrites the .vsix with extension/node_modules/hangar-ts-plugin/{package.json,index.js} added. */
async function addTsPlugin(vsix: string): Promise<void> {
  // vsce's own zip libraries (dev dependencies of this repository through @vscode/vsce).
  const vsceRequire = createRequire(require.resolve('@vscode/vsce/package.json'));
  const yauzl = vsceRequire('yauzl') as Yauzl;
  const yazl = vsceRequire('yazl') as { ZipFile: new () => ZipWriter };
  const plugin = readFileSync(join(root, 'dist', 'ts-plugin', 'index.cjs'));
  const zip = new yazl.ZipFile();
  await new Promise<void>((done, fail) => {
    yauzl.open(vsix, { lazyEntries: true }, (err, reader) => {
      if (err || !reader) return fail(err ?? new Error(`cannot read ${vsix}`));
      reader.on('error', fail);
      reader.on('end', () => done());
      reader.on('entry', (entry: ZipEntry) => {
        if (entry.fileName.endsWith('/')) return reader.readEntry();
        reader.openReadStream(entry, (e, stream) => {
          if (e || !stream) return fail(e ?? new Error(`cannot read ${entry.fileName} in ${vsix}`));
          const chunks: Buffer[] = [];
          stream.on('data', (c) => chunks.push(c as Buffer));
          stream.on('end', () => {
            // Keep the Unix mode (dist/bin/esbuild must stay executable).
            const mode = entry.externalFileAttributes >>> 16;
            zip.addBuffer(Buffer.concat(chunks), entry.fileName, {
              mtime: entry.getLastModDate(),
              ...(mode ? { mode } : {}),
            });
            reader.readEntry();
          });
        });
      });
      reader.readEntry();
    });
  });
  const dir = 'extension/node_modules/hangar-ts-plugin/';
  zip.addBuffer(
    Buffer.from(JSON.stringify({ name: 'hangar-ts-plugin', version: pkg.version, main: 'index.js', private: true }, null, 2) + '\n'),
    `${dir}package.json`,
  );
  zip.addBuffer(plugin, `${dir}index.js`);
  zip.end();
  const tmp = `${vsix}.tmp`;
  await new Promise<void>((done, fail) => {
    zip.outputStream.pipe(createWriteStream(tmp)).on('close', done).on('error', fail);
  });
  renameSync(tmp, vsix);
}

// The parts of yauzl's and yazl's APIs used above (neither ships types).
interface ZipEntry {
  fileName: string;
  externalFileAttributes: number;
  getLastModDate(): Date;
}
interface ZipReader {
  on(event: 'error', cb: (e: Error) => void): void;
  on(event: 'end', cb: () => void): void;
  on(event: 'entry', cb: (entry: ZipEntry) => void): void;
  readEntry(): void;
  openReadStream(entry: ZipEntry, cb: (err: Error | null, stream?: NodeJS.ReadableStream) => void): void;
}
interface Yauzl {
  open(path: string, options: { lazyEntries: boolean }, cb: (err: Error | null, reader?: ZipReader) => void): void;
}
interface ZipWriter {
  addBuffer(data: Buffer, name: string, options?: { mtime?: Date; mode?: number }): void;
  end(): void;
  outputStream: NodeJS.ReadableStream;
}
