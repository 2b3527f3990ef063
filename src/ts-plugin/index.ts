/**
 * A TypeScript server plugin, contributed by the extension
 * (`contributes.typescriptServerPlugins`): in a folder that holds DAG files, an
 * `import … from 'hangar'` (or `'hangar/<module>'`) that TypeScript cannot
 * resolve on its own resolves to the declarations the extension ships
 * (dist/types). Nothing is written to the workspace: only module resolution in
 * the TypeScript server changes. A `hangar` TypeScript resolves itself (a
 * tsconfig `paths` entry from `hangar init`, an installed package) wins.
 *
 * Built to CommonJS by esbuild.js (dist/ts-plugin/index.cjs, whose
 * module.exports is this default export, as tsserver wants); the .vsix carries
 * it as node_modules/hangar-ts-plugin/ (scripts/package-vsix.ts), where
 * tsserver looks for plugins. It must not import vscode or the runtime.
 */
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import type * as ts from 'typescript';

type Ts = typeof ts;

export interface HangarPluginConfig {
  /** The folder of Hangar's .d.ts files (default: found beside this file). */
  typesDir?: string;
}

/** Where the declarations are, seen from the plugin's file in the .vsix or in dist/. */
function defaultTypesDir(): string | undefined {
  const candidates = [
    join(__dirname, '..', '..', 'dist', 'types'), // <extension>/node_modules/hangar-ts-plugin/index.js
    join(__dirname, '..', 'types'), // <repo>/dist/ts-plugin/index.cjs
  ];
  return candidates.find((d) => existsSync(join(d, 'index.d.ts')));
}

const MODULE = /^hangar(?:\/([A-Za-z0-9_-]+))?$/;

/** The .d.ts file `hangar` or `hangar/<module>` names, when it exists in typesDir. */
export function hangarDeclarationFile(moduleName: string, typesDir: string): string | undefined {
  const m = MODULE.exec(moduleName);
  if (!m) return undefined;
  const file = join(typesDir, `${m[1] ?? 'index'}.d.ts`);
  return existsSync(file) ? file : undefined;
}

/**
 * Whether a file belongs to a folder that holds DAG files: it lies under a
 * `dags` folder, or a folder above it has a hangar.json.
 */
export function inDagFolder(file: string, isFile: (p: string) => boolean = isRegularFile): boolean {
  const abs = resolve(file);
  if (abs.split(sep).slice(0, -1).includes('dags')) return true;
  for (let dir = dirname(abs); ;) {
    if (isFile(join(dir, 'hangar.json'))) return true;
    const up = dirname(dir);
    if (up === dir) return false;
    dir = up;
  }
}

function isRegularFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function init(modules: { typescript: Ts }): ts.server.PluginModule {
  const tsm = modules.typescript;
  let typesDir: string | undefined;
  const folderCache = new Map<string, boolean>();
  const applies = (containingFile: string): boolean => {
    const dir = dirname(containingFile);
    let v = folderCache.get(dir);
    if (v === undefined) folderCache.set(dir, (v = inDagFolder(containingFile)));
    return v;
  };
  const redirect = (name: string, containingFile: string): ts.ResolvedModuleFull | undefined => {
    if (!typesDir || !MODULE.test(name) || !applies(containingFile)) return undefined;
    const file = hangarDeclarationFile(name, typesDir);
    if (!file) return undefined;
    return { resolvedFileName: file, extension: tsm.Extension.Dts, isExternalLibraryImport: true };
  };

  return {
    create(info) {
      typesDir = (info.config as HangarPluginConfig | undefined)?.typesDir ?? typesDir ?? defaultTypesDir();
      const log = (s: string) => info.project.projectService.logger.info(`[hangar-ts-plugin] ${s}`);
      log(typesDir ? `'hangar' resolves to ${typesDir} in folders with DAG files` : 'no declarations found');
      const host = info.languageServiceHost;

      const literals = host.resolveModuleNameLiterals?.bind(host);
      host.resolveModuleNameLiterals = (
        moduleLiterals,
        containingFile,
        redirected,
        options,
        sourceFile,
        reused,
      ) => {
        const results = literals
          ? literals(moduleLiterals, containingFile, redirected, options, sourceFile, reused)
          : moduleLiterals.map((lit) =>
              tsm.resolveModuleName(
                lit.text,
                containingFile,
                options,
                host,
                undefined,
                redirected,
                tsm.getModeForUsageLocation(sourceFile, lit, options),
              ),
            );
        return results.map((r, i) => {
          if (r.resolvedModule) return r;
          const resolvedModule = redirect(moduleLiterals[i]!.text, containingFile);
          return resolvedModule ? { resolvedModule } : r;
        });
      };

      // TypeScript before 5.0 asks resolveModuleNames instead.
      const names = (host as { resolveModuleNames?: ResolveModuleNames }).resolveModuleNames?.bind(host);
      if (names) {
        (host as { resolveModuleNames?: ResolveModuleNames }).resolveModuleNames = (
          moduleNames,
          containingFile,
          ...rest
        ) =>
          names(moduleNames, containingFile, ...rest).map(
            (r, i) => r ?? redirect(moduleNames[i]!, containingFile),
          );
      }
      return info.languageService;
    },
    onConfigurationChanged(config: HangarPluginConfig) {
      if (config.typesDir) typesDir = config.typesDir;
    },
  };
}

type ResolveModuleNames = (
  moduleNames: string[],
  containingFile: string,
  ...rest: unknown[]
) => (ts.ResolvedModule | undefined)[];

export default init;
