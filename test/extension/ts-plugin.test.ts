/**
 * The TypeScript server plugin (src/ts-plugin, built to dist/ts-plugin/index.cjs by
 * `npm run build`): loaded with the real `typescript` package as tsserver loads it,
 * over a LanguageService of a temp folder with a DAG file that imports 'hangar' and
 * no tsconfig `paths` (a folder `hangar init` did not make).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';

const ROOT = join(import.meta.dirname, '..', '..');
const require = createRequire(import.meta.url);
const pluginFactory = require(join(ROOT, 'dist', 'ts-plugin', 'index.cjs')) as (m: {
  typescript: typeof ts;
}) => ts.server.PluginModule;

const DAG = `import { dag } from 'hangar';

export const etl = dag({ id: 'etl', schedule: '@daily', startDate: '2024-01-01' });
etl.task('extract', async (ctx) => {
  const day: number = ctx.ds;
  return day;
});
dag({ id: 42 });
`;

/** A LanguageService over `files` (absolute paths), with the plugin or without. */
function languageService(
  files: string[],
  options: ts.CompilerOptions,
  withPlugin: boolean,
): ts.LanguageService {
  const host: ts.LanguageServiceHost = {
    getCompilationSettings: () => options,
    getScriptFileNames: () => files,
    getScriptVersion: () => '1',
    getScriptSnapshot: (f) => {
      const text = ts.sys.readFile(f);
      return text === undefined ? undefined : ts.ScriptSnapshot.fromString(text);
    },
    getCurrentDirectory: () => tmpdir(),
    getDefaultLibFileName: (o) => ts.getDefaultLibFilePath(o),
    fileExists: ts.sys.fileExists,
    readFile: ts.sys.readFile,
    readDirectory: ts.sys.readDirectory,
    directoryExists: ts.sys.directoryExists,
    getDirectories: ts.sys.getDirectories,
  };
  const service = ts.createLanguageService(host);
  if (!withPlugin) return service;
  const info = {
    languageServiceHost: host,
    languageService: service,
    project: { projectService: { logger: { info: () => {} } } },
    config: {},
  } as unknown as ts.server.PluginCreateInfo;
  return pluginFactory({ typescript: ts }).create(info);
}

function messages(service: ts.LanguageService, file: string): string[] {
  return [...service.getSyntacticDiagnostics(file), ...service.getSemanticDiagnostics(file)].map(
    (d) => `TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`,
  );
}

// What VS Code gives a folder without a tsconfig (an inferred project), and what a user's tsconfig without paths may say.
const OPTION_SETS: [string, ts.CompilerOptions][] = [
  [
    'inferred project (no tsconfig)',
    {
      module: ts.ModuleKind.ESNext,
      moduleResolution: ts.ModuleResolutionKind.Bundler,
      target: ts.ScriptTarget.ES2020,
      strict: true,
      allowJs: true,
    },
  ],
  [
    'tsconfig with NodeNext and no paths',
    {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2023,
      strict: true,
    },
  ],
  [
    'classic node resolution',
    { module: ts.ModuleKind.CommonJS, moduleResolution: ts.ModuleResolutionKind.Node10, strict: true },
  ],
];

for (const [label, options] of OPTION_SETS) {
  test(`ts plugin: 'hangar' resolves to the shipped declarations in a dags folder (${label})`, () => {
    const dir = mkdtempSync(join(tmpdir(), 'hangar-ts-plugin-'));
    try {
      mkdirSync(join(dir, 'dags'));
      const file = join(dir, 'dags', 'etl.ts');
      writeFileSync(file, DAG);
      const before = readdirSync(dir, { recursive: true }).sort();

      // Without the plugin, TypeScript cannot find the module: what the user sees today.
      const plain = messages(languageService([file], options, false), file);
      assert.ok(
        plain.some((m) => m.startsWith('TS2307') && m.includes("'hangar'")),
        `expected "Cannot find module 'hangar'" without the plugin, got ${plain.join(' | ')}`,
      );

      const service = languageService([file], options, true);
      const found = messages(service, file);
      assert.ok(!found.some((m) => m.includes('Cannot find module')), found.join(' | '));
      // The types are real, not `any`: ctx.ds is a string, and id must be a string.
      assert.ok(
        found.some(
          (m) => m.startsWith('TS2322') && m.includes("'string' is not assignable to type 'number'"),
        ),
        `ctx.ds assigned to a number should be an error: ${found.join(' | ')}`,
      );
      assert.ok(
        found.some(
          (m) => m.startsWith('TS2322') && m.includes("'number' is not assignable to type 'string'"),
        ),
        `dag({ id: 42 }) should be an error: ${found.join(' | ')}`,
      );
      assert.equal(found.length, 2, found.join(' | '));

      const text = readFileSync(file, 'utf8');
      const hover = service.getQuickInfoAtPosition(file, text.indexOf('dag({'));
      const shown = ts.displayPartsToString(hover?.displayParts);
      assert.match(shown, /dag<Params>\(options: DagOptions<Params>\): Dag<Params>/);
      const ctxHover = ts.displayPartsToString(
        service.getQuickInfoAtPosition(file, text.indexOf('ctx)'))?.displayParts,
      );
      assert.match(ctxHover, /\(parameter\) ctx: TaskContext/);
      const definition = service.getDefinitionAtPosition(file, text.indexOf('dag }'));
      assert.equal(definition?.[0]?.fileName, join(ROOT, 'dist', 'types', 'dag.d.ts'));

      // Nothing was written into the folder.
      assert.deepEqual(readdirSync(dir, { recursive: true }).sort(), before);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('ts plugin: a folder with hangar.json counts; other folders and other modules are left alone', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-ts-plugin-'));
  try {
    const options = OPTION_SETS[0]![1];
    mkdirSync(join(dir, 'flows'));
    mkdirSync(join(dir, 'other'));
    const inProject = join(dir, 'flows', 'etl.ts');
    const outside = join(dir, 'other', 'etl.ts');
    const subpath = join(dir, 'flows', 'sub.ts');
    writeFileSync(
      inProject,
      "import { dag } from 'hangar';\nexport const d = dag({ id: 'x', startDate: '2024-01-01' });\n",
    );
    writeFileSync(
      subpath,
      "import { param } from 'hangar/params';\nimport { x } from 'hangar/nope';\nexport const p = [param, x];\n",
    );
    writeFileSync(outside, "import { dag } from 'hangar';\nexport const d = dag;\n");

    // No hangar.json and no dags folder: not a folder of DAG files.
    let service = languageService([inProject, outside], options, true);
    assert.ok(messages(service, inProject).some((m) => m.startsWith('TS2307')));

    mkdirSync(join(dir, 'proj'));
    const proj = join(dir, 'proj');
    for (const f of ['etl.ts', 'sub.ts']) writeFileSync(join(proj, f), readFileSync(join(dir, 'flows', f)));
    writeFileSync(join(proj, 'hangar.json'), '{ "dagsFolder": "." }\n');
    service = languageService([join(proj, 'etl.ts'), join(proj, 'sub.ts'), outside], options, true);
    assert.deepEqual(messages(service, join(proj, 'etl.ts')), []);
    // hangar/<module> resolves when the module exists; a made-up one stays an error.
    assert.deepEqual(messages(service, join(proj, 'sub.ts')), [
      "TS2307: Cannot find module 'hangar/nope' or its corresponding type declarations.",
    ]);
    assert.ok(messages(service, outside).some((m) => m.startsWith('TS2307') && m.includes("'hangar'")));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
