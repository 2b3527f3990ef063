/**
 * DAG loading: 500 generated DAG files, loaded cold (empty compile cache) and warm
 * (cache present), each in a fresh process as `hangar list` would. The floor,
 * measured in the same run: esbuild bundling the same files (what a cold load
 * cannot avoid) and importing the already-compiled modules (what a warm load cannot avoid).
 *
 *   npm run bench:load            (HANGAR_BENCH_FILES=500, HANGAR_BENCH_REPEAT=3)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const FILES = Number(process.env.HANGAR_BENCH_FILES ?? 500);
const REPEAT = Number(process.env.HANGAR_BENCH_REPEAT ?? 3);
const TASKS_PER_DAG = 10;

function dagSource(i: number): string {
  const lines = [
    `import { dag } from 'hangar';`,
    `interface Row { id: number; value: string }`,
    `export const d${i} = dag({ id: 'generated_${i}', schedule: '@daily', startDate: '2024-01-01', tags: ['bench'] });`,
    `const t0 = d${i}.task('t0', async (): Promise<Row[]> => [{ id: 1, value: 'a' }]);`,
  ];
  for (let t = 1; t < TASKS_PER_DAG; t++) {
    lines.push(`const t${t} = d${i}.task('t${t}', { inputs: { rows: t${t - 1} } }, async (_ctx, { rows }) => rows.map((r) => ({ ...r, id: r.id + ${t} })));`);
  }
  return lines.join('\n') + '\n';
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function child(mode: string, ws: string): Promise<void> {
  let started: number;
  if (mode === 'hangar') {
    const { loadDagBag } = await import('../src/runtime/loader/index.ts');
    started = performance.now();
    const bag = await loadDagBag(join(ws, 'dags'), join(ws, '.hangar', 'cache'));
    const ms = performance.now() - started;
    if (bag.errors.length) throw new Error(bag.errors[0]!.message);
    process.stdout.write(JSON.stringify({ ms, dags: bag.dags.size, compiled: bag.stats.compiled, cached: bag.stats.cached }));
  } else if (mode === 'floor-esbuild') {
    const esbuild = await import('esbuild');
    started = performance.now();
    const dir = join(ws, 'dags');
    for (const f of readdirSync(dir)) {
      await esbuild.build({ entryPoints: [join(dir, f)], bundle: true, write: false, format: 'esm', platform: 'node', sourcemap: 'inline', external: ['hangar'], logLevel: 'silent' });
    }
    process.stdout.write(JSON.stringify({ ms: performance.now() - started }));
  } else if (mode === 'floor-import') {
    const dir = join(ws, '.hangar', 'cache', 'dags');
    (globalThis as Record<symbol, unknown>)[Symbol.for('hangar.api.v1')] = await import('../src/runtime/dag/index.ts');
    const importStarted = performance.now();
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.mjs'))) await import(pathToFileURL(join(dir, f)).href);
    process.stdout.write(JSON.stringify({ ms: performance.now() - importStarted }));
  }
}

function measure(mode: string, ws: string): { ms: number; compiled?: number; cached?: number } {
  const r = spawnSync(process.execPath, [import.meta.filename, '--child', mode, ws], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${mode} failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as { ms: number; compiled?: number; cached?: number };
}

async function main(): Promise<void> {
  const ws = mkdtempSync(join(tmpdir(), 'hangar-bench-load-'));
  mkdirSync(join(ws, 'dags'));
  for (let i = 0; i < FILES; i++) writeFileSync(join(ws, 'dags', `dag_${i}.ts`), dagSource(i));
  const cold: number[] = [];
  const warm: number[] = [];
  const floorBuild: number[] = [];
  const floorImport: number[] = [];
  try {
    for (let r = 0; r < REPEAT; r++) {
      rmSync(join(ws, '.hangar'), { recursive: true, force: true });
      const c = measure('hangar', ws);
      if (c.compiled !== FILES) throw new Error(`cold load compiled ${c.compiled} files, expected ${FILES}`);
      cold.push(c.ms);
      const w = measure('hangar', ws);
      if (w.cached !== FILES) throw new Error(`warm load used the cache for ${w.cached} files, expected ${FILES}`);
      warm.push(w.ms);
      floorBuild.push(measure('floor-esbuild', ws).ms);
      floorImport.push(measure('floor-import', ws).ms);
    }
  } finally {
    rmSync(ws, { recursive: true, force: true });
  }
  const result = {
    files: FILES,
    tasksPerDag: TASKS_PER_DAG,
    repeat: REPEAT,
    coldMs: median(cold),
    warmMs: median(warm),
    floorEsbuildMs: median(floorBuild),
    floorImportMs: median(floorImport),
    coldPerFileMs: median(cold) / FILES,
    warmPerFileMs: median(warm) / FILES,
    coldVsFloor: median(cold) / median(floorBuild),
    warmVsFloor: median(warm) / median(floorImport),
  };
  const f = (n: number) => n.toFixed(1);
  console.log(`Loading ${FILES} DAG files (${TASKS_PER_DAG} tasks each), median of ${REPEAT}, fresh process each:`);
  console.log(`  what                        total ms   per file ms   vs floor`);
  console.log(`  hangar cold (compile)       ${f(result.coldMs).padStart(8)}   ${result.coldPerFileMs.toFixed(2).padStart(11)}   ${result.coldVsFloor.toFixed(2)}x esbuild alone (${f(result.floorEsbuildMs)} ms)`);
  console.log(`  hangar warm (cache)         ${f(result.warmMs).padStart(8)}   ${result.warmPerFileMs.toFixed(2).padStart(11)}   ${result.warmVsFloor.toFixed(2)}x import alone (${f(result.floorImportMs)} ms)`);
  console.log(JSON.stringify(result));
}

if (process.argv[2] === '--child') await child(process.argv[3]!, process.argv[4]!);
else await main();
