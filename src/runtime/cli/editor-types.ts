/**
 * The editor's view of `import … from 'hangar'`: the declarations `hangar init`
 * installs under .hangar/types, the tsconfig.json it writes, and the same two
 * added to a folder init did not make (the extension's "Add", src/vscode/types-prompt.ts).
 * `root` is the Hangar package (or installed extension) that holds dist/types.
 * No import.meta here: the extension's CommonJS bundle uses this module too.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';

/**
 * Installs Hangar's type declarations (and Node's) under .hangar/types so the
 * editor type-checks DAG files against the API with nothing else to install.
 */
export function installTypes(workspace: string, root: string): string {
  const src = join(root, 'dist', 'types');
  if (!existsSync(src))
    throw new Error(`Hangar's type declarations are missing (${src}); run "npm run build" in ${root}`);
  const target = join(workspace, '.hangar', 'types');
  const hangarTypes = join(target, 'hangar');
  mkdirSync(hangarTypes, { recursive: true });
  for (const f of readdirSync(src)) {
    if (!f.endsWith('.d.ts')) continue;
    // Relative imports in the declarations name .ts files; point them at the .d.ts beside them.
    const text = readFileSync(join(src, f), 'utf8').replace(
      /(from\s+['"]\.{1,2}\/[^'"]+)\.ts(['"])/g,
      '$1.js$2',
    );
    writeFileSync(join(hangarTypes, f), text);
  }
  try {
    const nodeTypes = dirname(createRequire(join(root, 'package.json')).resolve('@types/node/package.json'));
    cpSync(nodeTypes, join(target, 'node'), { recursive: true });
  } catch {
    // Without @types/node, DAG files still type-check as long as they do not import node: modules.
  }
  return target;
}

/** Where `hangar` points in a tsconfig's `paths` (relative to the tsconfig's folder). */
export const HANGAR_TYPES_PATH = './.hangar/types/hangar/index.d.ts';

/**
 * The tsconfig.json `hangar init` writes. Without Node's types in .hangar/types/node
 * (an installed extension carries none), it names no `types`: `types: ["node"]` would
 * then be an error of its own.
 */
export function initTsconfig(dagsFolder = 'dags', nodeTypes = true): string {
  return (
    JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2023',
          lib: ['ES2023'],
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          allowImportingTsExtensions: true,
          ...(nodeTypes ? { typeRoots: ['./.hangar/types'], types: ['node'] } : {}),
          paths: { hangar: [HANGAR_TYPES_PATH] },
        },
        include: [`${dagsFolder}/**/*.ts`],
      },
      null,
      2,
    ) + '\n'
  );
}

/**
 * What the editor needs to type-check `import … from 'hangar'` in a folder `hangar init`
 * did not make (the extension's "Add" when its TypeScript server plugin cannot help):
 * the declarations under .hangar/types, as init installs them, and a `paths` entry for
 * `hangar` in the folder's tsconfig.json: init's tsconfig when there is none; else the
 * entry is added to the existing one (its other options kept), unless `hangar` is
 * already mapped. A tsconfig.json that is not plain JSON (comments, trailing commas)
 * is not rewritten: the error says what to add by hand. Returns the paths written.
 */
export function addTypesToFolder(
  workspace: string,
  options: { root: string; dagsFolder?: string },
): string[] {
  const ws = resolve(workspace);
  const tsconfig = join(ws, 'tsconfig.json');
  let update: (() => void) | undefined;
  if (!existsSync(tsconfig)) {
    update = () =>
      writeFileSync(
        tsconfig,
        initTsconfig(options.dagsFolder, existsSync(join(ws, '.hangar', 'types', 'node', 'index.d.ts'))),
      );
  } else {
    const text = readFileSync(tsconfig, 'utf8');
    let config: { compilerOptions?: { baseUrl?: string; paths?: Record<string, string[]> } };
    try {
      config = JSON.parse(text) as typeof config;
      if (!config || typeof config !== 'object' || Array.isArray(config)) throw new Error('not an object');
    } catch (err) {
      throw new Error(
        `${tsconfig} is not plain JSON (${(err as Error).message}), so Hangar does not rewrite it: add "paths": { "hangar": ["${HANGAR_TYPES_PATH}"] } to its compilerOptions by hand`,
      );
    }
    const compilerOptions = (config.compilerOptions ??= {});
    if (!compilerOptions.paths?.hangar) {
      // paths are relative to baseUrl when there is one, else to the tsconfig's folder.
      const base = compilerOptions.baseUrl ? resolve(ws, compilerOptions.baseUrl) : ws;
      let rel = relative(base, join(ws, HANGAR_TYPES_PATH)).split(sep).join('/');
      if (!rel.startsWith('.')) rel = `./${rel}`;
      compilerOptions.paths = { ...compilerOptions.paths, hangar: [rel] };
      update = () => writeFileSync(tsconfig, JSON.stringify(config, null, 2) + '\n');
    }
  }
  const written = [relative(ws, installTypes(ws, options.root)) + '/'];
  if (update) {
    update();
    written.push('tsconfig.json');
  }
  return written;
}
