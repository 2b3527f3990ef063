/**
 * DAG loading through the DAG processor against the in-process loader it replaced,
 * measured in the same run: N generated DAG files (default 200 × 50 tasks), each
 * measured in a fresh process as `hangar list` would.
 *
 *   - processor cold: empty compile cache and store: compile here, import in parse children;
 *   - processor warm: nothing changed: the store's serialized DAGs after re-hashing the files;
 *   - in-process cold/warm: the loader before the DAG processor (compile, then import every
 *     file into the asking process), kept here as the baseline;
 *   - save → visible: in one long-lived process (the runtime server), one file gains a task
 *     and the processor runs again, until the new task is in its DAG.
 *
 *   npm run bench:load            (HANGAR_BENCH_FILES=200, HANGAR_BENCH_TASKS=50, HANGAR_BENCH_REPEAT=3)
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const FILES = Number(process.env.HANGAR_BENCH_FILES ?? 200);
const TASKS_PER_DAG = Number(process.env.HANGAR_BENCH_TASKS ?? 50);
const REPEAT = Number(process.env.HANGAR_BENCH_REPEAT ?? 3);

function dagSource(i: number, extraTask = false): string {
  const lines = [
    `import { dag } from 'hangar';`,
    `interface Row { id: number; value: string }`,
    `export const d${i} = dag({ id: 'generated_${i}', schedule: '@daily', startDate: '2024-01-01', tags: ['bench'] });`,
    `const t0 = d${i}.task('t0', async (): Promise<Row[]> => [{ id: 1, value: 'a' }]);`,
  ];
  for (let t = 1; t < TASKS_PER_DAG; t++) {
    lines.push(`const t${t} = d${i}.task('t${t}', { inputs: { rows: t${t - 1} }, retries: ${t % 3} }, async (_ctx, { rows }) => rows.map((r) => ({ ...r, id: r.id + ${t} })));`);
  }
  if (extraTask) lines.push(`d${i}.task('added', async () => 'new');`);
  return lines.join('\n') + '\n';
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

interface Measured {
  ms: number;
  dags: number;
  parsed?: number;
}

async function child(mode: string, ws: string): Promise<void> {
  const dags = join(ws, 'dags');
  const cache = join(ws, '.hangar', 'cache');
  if (mode === 'in-process') {
    // The loader before the DAG processor: compile (8 at once, cached by content), then import each file here.
    const { compileDagFile } = await import('../src/runtime/loader/compile.ts');
    const { apiExports, discoverDagFiles, importBundle } = await import('../src/runtime/loader/index.ts');
    const started = performance.now();
    const files = discoverDagFiles(dags);
    const compiling = new Map<string, Promise<Awaited<ReturnType<typeof compileDagFile>>>>();
    let next = 0;
    const startNext = () => {
      const f = files[next++];
      if (f === undefined) return;
      const p = compileDagFile(f, cache, apiExports());
      compiling.set(f, p);
      void p.finally(startNext).catch(() => undefined);
    };
    for (let i = 0; i < 8; i++) startNext();
    let count = 0;
    for (const f of files) {
      while (!compiling.has(f)) await new Promise((r) => setImmediate(r));
      const c = await compiling.get(f)!;
      const r = await importBundle(f, c.output, c.inputs);
      if (r.errors.length) throw new Error(r.errors[0]!.message);
      count += r.dags.length;
    }
    process.stdout.write(JSON.stringify({ ms: performance.now() - started, dags: count } satisfies Measured));
  } else if (mode === 'processor') {
    const { Runtime } = await import('../src/runtime/runtime.ts');
    const rt = await Runtime.open(ws);
    const started = performance.now();
    const bag = await rt.loadDags();
    const ms = performance.now() - started;
    await rt.close();
    if (bag.errors.length) throw new Error(bag.errors[0]!.message);
    process.stdout.write(JSON.stringify({ ms, dags: bag.dags.size, parsed: bag.stats.parsed } satisfies Measured));
  } else if (mode === 'save') {
    // A long-lived process (the runtime server): warm, then one file is saved with a new task.
    const { Runtime } = await import('../src/runtime/runtime.ts');
    const rt = await Runtime.open(ws);
    await rt.loadDags();
    const samples: number[] = [];
    for (let r = 0; r < REPEAT; r++) {
      const i = r % FILES;
      writeFileSync(join(dags, `dag_${i}.ts`), dagSource(i, true));
      const started = performance.now();
      const bag = await rt.loadDags();
      if (!bag.dags.get(`generated_${i}`)?.tasks.has('added')) throw new Error('the saved structure is not visible');
      samples.push(performance.now() - started);
      writeFileSync(join(dags, `dag_${i}.ts`), dagSource(i));
      await rt.loadDags();
    }
    await rt.close();
    process.stdout.write(JSON.stringify({ ms: median(samples), dags: FILES } satisfies Measured));
  }
}

function measure(mode: string, ws: string): Measured {
  const r = spawnSync(process.execPath, [import.meta.filename, '--child', mode, ws], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${mode} failed: ${r.stderr}`);
  const m = JSON.parse(r.stdout) as Measured;
  if (m.dags !== FILES) throw new Error(`${mode} loaded ${m.dags} DAGs, expected ${FILES}`);
  return m;
}

async function main(): Promise<void> {
  const ws = mkdtempSync(join(tmpdir(), 'hangar-bench-load-'));
  mkdirSync(join(ws, 'dags'));
  for (let i = 0; i < FILES; i++) writeFileSync(join(ws, 'dags', `dag_${i}.ts`), dagSource(i));
  const s = { pCold: [] as number[], pWarm: [] as number[], iCold: [] as number[], iWarm: [] as number[] };
  let save: number;
  try {
    for (let r = 0; r < REPEAT; r++) {
      // Alternate the two loaders so that a busy moment of the machine falls on both.
      rmSync(join(ws, '.hangar'), { recursive: true, force: true });
      const pc = measure('processor', ws);
      if (pc.parsed !== FILES) throw new Error(`a cold load parsed ${pc.parsed} files, expected ${FILES}`);
      s.pCold.push(pc.ms);
      const pw = measure('processor', ws);
      if (pw.parsed !== 0) throw new Error(`a warm load parsed ${pw.parsed} files, expected none`);
      s.pWarm.push(pw.ms);
      rmSync(join(ws, '.hangar'), { recursive: true, force: true });
      s.iCold.push(measure('in-process', ws).ms);
      s.iWarm.push(measure('in-process', ws).ms);
    }
    measure('processor', ws);
    save = measure('save', ws).ms;
  } finally {
    rmSync(ws, { recursive: true, force: true });
  }
  const result = {
    files: FILES,
    tasksPerDag: TASKS_PER_DAG,
    repeat: REPEAT,
    processorColdMs: median(s.pCold),
    processorWarmMs: median(s.pWarm),
    inProcessColdMs: median(s.iCold),
    inProcessWarmMs: median(s.iWarm),
    coldRatio: median(s.pCold) / median(s.iCold),
    warmRatio: median(s.pWarm) / median(s.iWarm),
    saveToVisibleMs: save,
  };
  const f = (n: number) => n.toFixed(0).padStart(8);
  console.log(`Loading ${FILES} DAG files × ${TASKS_PER_DAG} tasks, median of ${REPEAT}, a fresh process each (as hangar list):`);
  console.log(`  what            DAG processor ms   in-process loader ms   ratio (target)`);
  console.log(`  cold            ${f(result.processorColdMs)}           ${f(result.inProcessColdMs)}             ${result.coldRatio.toFixed(2)}x (≤ 1.5x)`);
  console.log(`  warm            ${f(result.processorWarmMs)}           ${f(result.inProcessWarmMs)}             ${result.warmRatio.toFixed(2)}x (≤ 1x)`);
  console.log(`  save → visible  ${f(result.saveToVisibleMs)}   (one file changed, in a long-lived process; median of ${REPEAT})`);
  console.log(JSON.stringify(result));
}

if (process.argv[2] === '--child') await child(process.argv[3]!, process.argv[4]!);
else await main();
