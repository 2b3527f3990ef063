/**
 * addTypesToFolder (src/runtime/cli/editor-types.ts, shared with `hangar init`): what the extension writes when the user
 * answers "Add" in a folder `hangar init` did not make — init's declarations under
 * .hangar/types and a `paths` entry for `hangar` in tsconfig.json. Checked with the
 * real TypeScript compiler: the DAG file then type-checks against the real API.
 * Needs dist/types (`npm run build`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { hangarPackageRoot } from '../../src/runtime/cli/init.ts';
import { addTypesToFolder, HANGAR_TYPES_PATH } from '../../src/runtime/cli/editor-types.ts';

const DAG = `import { dag } from 'hangar';
export const etl = dag({ id: 'etl', startDate: '2024-01-01' });
etl.task('t', async (ctx) => { const n: number = ctx.ds; return n; });
`;

function folder(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-add-types-'));
  mkdirSync(join(dir, 'dags'));
  writeFileSync(join(dir, 'dags', 'etl.ts'), DAG);
  return dir;
}

/** The errors tsc reports for the folder's tsconfig.json. */
function typeErrors(dir: string): string[] {
  const configFile = join(dir, 'tsconfig.json');
  const parsed = ts.getParsedCommandLineOfConfigFile(
    configFile,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) =>
        assert.fail(ts.flattenDiagnosticMessageText(d.messageText, '\n')),
    },
  );
  assert.ok(parsed);
  const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => !d.file || d.file.fileName.endsWith('etl.ts')) // the DAG file's errors and the global ones
    .map((d) => `TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
}

test('addTypesToFolder: no tsconfig → init’s tsconfig and declarations; the DAG file type-checks', () => {
  const dir = folder();
  try {
    assert.deepEqual(addTypesToFolder(dir, { root: hangarPackageRoot() }), [
      '.hangar/types/',
      'tsconfig.json',
    ]);
    assert.ok(existsSync(join(dir, '.hangar', 'types', 'hangar', 'index.d.ts')));
    const config = JSON.parse(readFileSync(join(dir, 'tsconfig.json'), 'utf8')) as {
      compilerOptions: { paths: Record<string, string[]> };
      include: string[];
    };
    assert.deepEqual(config.compilerOptions.paths, { hangar: [HANGAR_TYPES_PATH] });
    assert.deepEqual(config.include, ['dags/**/*.ts']);
    // Resolved, and real types: the deliberate mistake is the only error.
    const errors = typeErrors(dir);
    assert.equal(errors.length, 1, errors.join(' | '));
    assert.match(errors[0]!, /^TS2322: Type 'string' is not assignable to type 'number'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('addTypesToFolder: an existing tsconfig keeps its options and gains the paths entry (relative to baseUrl)', () => {
  const dir = folder();
  try {
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          noEmit: true,
          baseUrl: 'dags',
          paths: { '@lib/*': ['lib/*'] },
        },
        include: ['dags/**/*.ts'],
      }),
    );
    assert.deepEqual(addTypesToFolder(dir, { root: hangarPackageRoot() }), [
      '.hangar/types/',
      'tsconfig.json',
    ]);
    const config = JSON.parse(readFileSync(join(dir, 'tsconfig.json'), 'utf8')) as {
      compilerOptions: Record<string, unknown>;
    };
    assert.deepEqual(config.compilerOptions, {
      strict: true,
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      noEmit: true,
      baseUrl: 'dags',
      paths: { '@lib/*': ['lib/*'], hangar: ['../.hangar/types/hangar/index.d.ts'] },
    });
    const errors = typeErrors(dir).filter((e) => !e.startsWith('TS5101')); // baseUrl's deprecation notice in newer TS
    assert.equal(errors.length, 1, errors.join(' | '));
    assert.match(errors[0]!, /^TS2322/);

    // Again: hangar is already mapped, so tsconfig.json is left alone.
    const before = readFileSync(join(dir, 'tsconfig.json'), 'utf8');
    assert.deepEqual(addTypesToFolder(dir, { root: hangarPackageRoot() }), ['.hangar/types/']);
    assert.equal(readFileSync(join(dir, 'tsconfig.json'), 'utf8'), before);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('addTypesToFolder: a tsconfig with comments is not rewritten, and nothing is written', () => {
  const dir = folder();
  try {
    const text = '{\n  // mine\n  "compilerOptions": { "strict": true }\n}\n';
    writeFileSync(join(dir, 'tsconfig.json'), text);
    assert.throws(
      () => addTypesToFolder(dir, { root: hangarPackageRoot() }),
      (err: Error) =>
        err.message.includes(join(dir, 'tsconfig.json')) &&
        err.message.includes('is not plain JSON') &&
        err.message.includes(`"hangar": ["${HANGAR_TYPES_PATH}"]`),
    );
    assert.equal(readFileSync(join(dir, 'tsconfig.json'), 'utf8'), text);
    assert.equal(existsSync(join(dir, '.hangar')), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('addTypesToFolder from an installed extension (dist/types, no @types/node): the tsconfig names no types', () => {
  const dir = folder();
  const extension = mkdtempSync(join(tmpdir(), 'hangar-extension-'));
  try {
    mkdirSync(join(extension, 'dist'));
    cpSync(join(hangarPackageRoot(), 'dist', 'types'), join(extension, 'dist', 'types'), { recursive: true });
    writeFileSync(join(extension, 'package.json'), '{ "name": "hangar" }\n');
    assert.deepEqual(addTypesToFolder(dir, { root: extension, dagsFolder: 'flows' }), [
      '.hangar/types/',
      'tsconfig.json',
    ]);
    assert.equal(existsSync(join(dir, '.hangar', 'types', 'node')), false);
    const config = JSON.parse(readFileSync(join(dir, 'tsconfig.json'), 'utf8')) as {
      compilerOptions: Record<string, unknown>;
      include: string[];
    };
    assert.equal('types' in config.compilerOptions, false);
    assert.equal('typeRoots' in config.compilerOptions, false);
    assert.deepEqual(config.include, ['flows/**/*.ts']);
    config.include = ['dags/**/*.ts'];
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(config));
    const errors = typeErrors(dir);
    assert.equal(errors.length, 1, errors.join(' | '));
    assert.match(errors[0]!, /^TS2322/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(extension, { recursive: true, force: true });
  }
});
