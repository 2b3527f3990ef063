/**
 * Scheduler overhead: DAGs of no-op tasks (a chain, a wide fan-out and a fan-in)
 * at 1,000 and 10,000 tasks, in-process and isolated (worker processes), on the
 * embedded SQLite store and on PostgreSQL (the test harness's local server, fsync off,
 * as in CI). Prints total time and per-task overhead, the 10k/1k ratio (no quadratic
 * scheduling), and floors measured in the same run: each store's committed single-row
 * write (its unit of work; in-process rows are divided by their store's floor) and an
 * IPC round trip to a forked worker (isolated rows).
 *
 *   npm run bench:scheduler     (HANGAR_BENCH_SIZES=1000,10000  HANGAR_BENCH_MODES=in-process,isolated
 *                                HANGAR_BENCH_STORES=sqlite,postgres)
 */
import { fork } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Runtime } from '../src/runtime/runtime.ts';
import { openDriver } from '../src/runtime/store/open.ts';
import { parseStoreTarget } from '../src/runtime/store/target.ts';
import { freshDatabase } from '../test/helpers/postgres.ts';

const SIZES = (process.env.HANGAR_BENCH_SIZES ?? '1000,10000').split(',').map(Number);
const MODES = (process.env.HANGAR_BENCH_MODES ?? 'in-process,isolated').split(',') as (
  'in-process' | 'isolated'
)[];
const STORES = (process.env.HANGAR_BENCH_STORES ?? 'sqlite,postgres').split(',') as ('sqlite' | 'postgres')[];
const SHAPES = ['chain', 'fan_out', 'fan_in'] as const;

function dagFile(shape: (typeof SHAPES)[number], n: number): string {
  const id = `${shape}_${n}`;
  const body = {
    chain: `let prev = d.task('t0', noop);\nfor (let i = 1; i < ${n}; i++) { const t = d.task('t' + i, noop); prev.before(t); prev = t; }`,
    fan_out: `const root = d.task('root', noop);\nfor (let i = 1; i < ${n}; i++) root.before(d.task('t' + i, noop));`,
    fan_in: `const sink = d.task('sink', noop);\nfor (let i = 1; i < ${n}; i++) sink.after(d.task('t' + i, noop));`,
  }[shape];
  return `import { dag } from 'hangar';\nconst noop = async () => undefined;\nexport const d = dag({ id: '${id}', maxActiveTasks: 1000000 });\n${body}\n`;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function sqliteFloorUs(dir: string, n = 5000): number {
  const db = new DatabaseSync(join(dir, 'floor.db'));
  db.exec(
    'PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)',
  );
  const ins = db.prepare('INSERT INTO t (k, v) VALUES (?, ?)');
  const started = performance.now();
  for (let i = 0; i < n; i++) ins.run(i, 'x');
  const us = ((performance.now() - started) * 1000) / n;
  db.close();
  return us;
}

/** A committed single-row write on PostgreSQL, through the store's driver (autocommit INSERT). */
async function postgresFloorUs(url: string, n = 2000): Promise<number> {
  const sql = openDriver(parseStoreTarget(url, '/'));
  try {
    await sql.exec('CREATE TABLE floor (k BIGINT PRIMARY KEY, v TEXT NOT NULL)');
    for (let i = 0; i < 50; i++) await sql.run('INSERT INTO floor (k, v) VALUES (?, ?)', -1 - i, 'x');
    const started = performance.now();
    for (let i = 0; i < n; i++) await sql.run('INSERT INTO floor (k, v) VALUES (?, ?)', i, 'x');
    return ((performance.now() - started) * 1000) / n;
  } finally {
    await sql.close();
  }
}

async function ipcFloorUs(dir: string, n = 2000): Promise<number> {
  const script = join(dir, 'echo.mjs');
  writeFileSync(
    script,
    "process.on('message', (m) => process.send(m)); process.on('disconnect', () => process.exit(0));\n",
  );
  const child = fork(script, [], { serialization: 'advanced' });
  const roundTrip = () =>
    new Promise<void>((r) => {
      child.once('message', () => r());
      child.send({ type: 'run', id: 1, req: { dagId: 'x', runId: 'y', taskId: 'z' } });
    });
  await roundTrip();
  const started = performance.now();
  for (let i = 0; i < n; i++) await roundTrip();
  const us = ((performance.now() - started) * 1000) / n;
  child.kill();
  return us;
}

interface Row {
  store: string;
  mode: string;
  shape: string;
  tasks: number;
  totalMs: number;
  perTaskMs: number;
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'hangar-bench-sched-'));
  const rows: Row[] = [];
  try {
    mkdirSync(join(root, 'dags'));
    for (const shape of SHAPES)
      for (const n of SIZES) writeFileSync(join(root, 'dags', `${shape}_${n}.ts`), dagFile(shape, n));
    const sqliteUs = sqliteFloorUs(root);
    const ipcUs = await ipcFloorUs(root);
    const floors: Record<string, number> = { sqlite: sqliteUs };
    for (const store of STORES) {
      let url: string | undefined;
      if (store === 'postgres') {
        url = (await freshDatabase()).url;
        floors.postgres = await postgresFloorUs(url);
      }
      for (const mode of MODES) {
        const rt = await Runtime.open(root, {
          config: {
            executor: mode,
            parallelism: mode === 'isolated' ? 2 : 16,
            ...(url ? { store: url } : {}),
          },
        });
        try {
          const bag = await rt.loadDags();
          if (bag.errors.length) throw new Error(bag.errors[0]!.message);
          for (const shape of SHAPES) {
            for (const n of SIZES) {
              const started = performance.now();
              const run = await rt.runDag(`${shape}_${n}`);
              const ms = performance.now() - started;
              if (run.state !== 'success') throw new Error(`${shape}_${n} ${mode} ${store}: ${run.state}`);
              rows.push({ store, mode, shape, tasks: n, totalMs: ms, perTaskMs: ms / n });
              process.stderr.write(`  ${store} ${mode} ${shape} ${n}: ${ms.toFixed(0)} ms\n`);
            }
          }
        } finally {
          await rt.close();
        }
      }
    }
    console.log(
      `Scheduler overhead, no-op tasks (floors this run: SQLite committed write ${sqliteUs.toFixed(1)} µs${floors.postgres !== undefined ? `, PostgreSQL committed write ${floors.postgres.toFixed(1)} µs` : ''}, IPC round trip ${ipcUs.toFixed(1)} µs)`,
    );
    console.log('  store     mode        shape     tasks   total ms   per task ms   per task / floor');
    for (const r of rows) {
      const floor = r.mode === 'isolated' ? ipcUs : floors[r.store]!;
      console.log(
        `  ${r.store.padEnd(8)}  ${r.mode.padEnd(10)}  ${r.shape.padEnd(8)} ${String(r.tasks).padStart(6)}  ${r.totalMs.toFixed(0).padStart(9)}  ${r.perTaskMs.toFixed(3).padStart(12)}   ${((r.perTaskMs * 1000) / floor).toFixed(1).padStart(6)}x ${r.mode === 'isolated' ? 'IPC' : `${r.store} write`}`,
      );
    }
    const scaling: Record<string, number> = {};
    if (SIZES.length >= 2) {
      const [small, large] = [Math.min(...SIZES), Math.max(...SIZES)];
      for (const store of STORES) {
        for (const mode of MODES) {
          for (const shape of SHAPES) {
            const a = rows.find(
              (r) => r.store === store && r.mode === mode && r.shape === shape && r.tasks === small,
            )!;
            const b = rows.find(
              (r) => r.store === store && r.mode === mode && r.shape === shape && r.tasks === large,
            )!;
            scaling[`${store}/${mode}/${shape}`] = b.totalMs / a.totalMs;
          }
        }
      }
      console.log(
        `  ${large}/${small} total-time ratios: ${Object.entries(scaling)
          .map(([k, v]) => `${k} ${v.toFixed(1)}x`)
          .join(', ')}`,
      );
    }
    console.log(
      JSON.stringify({
        floors: { sqliteWriteUs: sqliteUs, postgresWriteUs: floors.postgres ?? null, ipcRoundTripUs: ipcUs },
        rows,
        scaling,
        medianPerTaskMs: median(rows.map((r) => r.perTaskMs)),
      }),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
