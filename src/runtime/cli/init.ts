import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

/** The root of the installed Hangar package (where package.json says "name": "hangar"). */
export function hangarPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'hangar')
      return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('Cannot find the Hangar package root');
    dir = up;
  }
}

const EXAMPLE_DAG = `import { dag } from 'hangar';

/** An example DAG: extract → transform → load, with data passed between tasks. */
export const exampleEtl = dag({
  id: 'example_etl',
  description: 'Extract numbers, square them, and report the total',
  schedule: '@daily',
  startDate: '2024-01-01',
  defaultArgs: { retries: 1, retryDelay: '5s' },
  tags: ['example'],
});

const extract = exampleEtl.task('extract', async (ctx) => {
  ctx.log.info(\`Extracting for \${ctx.ds}\`);
  return [1, 2, 3, 4];
});

const transform = exampleEtl.task('transform', { inputs: { numbers: extract } }, async (_ctx, { numbers }) =>
  numbers.map((n) => n * n),
);

exampleEtl.task(
  'load',
  { inputs: { squares: transform, target: 'report_{{ ds_nodash }}.json' } },
  async (ctx, { squares, target }) => {
    const total = squares.reduce((a, b) => a + b, 0);
    ctx.log.info(\`Writing \${total} to \${target}\`);
    return { target, total };
  },
);
`;

/**
 * Installs Hangar's type declarations (and Node's) under .hangar/types so the
 * editor type-checks DAG files against the API with nothing else to install.
 */
export function installTypes(workspace: string): string {
  const root = hangarPackageRoot();
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

export function initWorkspace(dir: string): string[] {
  const ws = resolve(dir);
  mkdirSync(ws, { recursive: true });
  const created: string[] = [];
  const write = (rel: string, text: string) => {
    const p = join(ws, rel);
    if (existsSync(p)) return;
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
    created.push(rel);
  };
  write(
    'hangar.json',
    JSON.stringify({ dagsFolder: 'dags', parallelism: 8, xcom: { backend: 'database' } }, null, 2) + '\n',
  );
  write('dags/example_etl.ts', EXAMPLE_DAG);
  write(
    'tsconfig.json',
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
          typeRoots: ['./.hangar/types'],
          types: ['node'],
          paths: { hangar: ['./.hangar/types/hangar/index.d.ts'] },
        },
        include: ['dags/**/*.ts'],
      },
      null,
      2,
    ) + '\n',
  );
  write('.gitignore', '.hangar/\n');
  installTypes(ws);
  created.push('.hangar/types/');
  return created;
}
