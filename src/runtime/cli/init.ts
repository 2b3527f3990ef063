import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initTsconfig, installTypes } from './editor-types.ts';

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
  write('tsconfig.json', initTsconfig());
  write('.gitignore', '.hangar/\n');
  installTypes(ws, hangarPackageRoot());
  created.push('.hangar/types/');
  return created;
}
