/**
 * The scheduler service's own cost, with 200 DAGs (one no-op task each):
 *
 * 1. Loop time per tick on a fake clock: 200 DAGs on a 1-minute cron for 10 simulated
 *    minutes, a loop turn every 5 simulated seconds (the default poll). Turns that create
 *    runs (200 at once) and turns with nothing due are timed apart; the runs themselves
 *    are executed between turns and not counted. Floor, measured in the same run: the
 *    store's unit of work for one run, a committed SQLite transaction inserting a run row
 *    and a task-instance row.
 * 2. CPU of an idle scheduler on the real clock: 200 @daily DAGs with nothing due, the
 *    real loop (and its file watcher) for HANGAR_BENCH_IDLE_S seconds (default 20), as a
 *    share of one core; floor: the same process sleeping for the same time.
 *
 *   npm run bench:scheduler-service
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Runtime } from '../src/runtime/runtime.ts';
import { FakeClock } from '../src/runtime/scheduler/clock.ts';
import { SchedulerService } from '../src/runtime/scheduler/service.ts';

const DAGS = Number(process.env.HANGAR_BENCH_DAGS ?? 200);
const IDLE_S = Number(process.env.HANGAR_BENCH_IDLE_S ?? 20);

function workspace(schedule: string, startDate: string): string {
  const root = mkdtempSync(join(tmpdir(), 'hangar-sched-bench-'));
  mkdirSync(join(root, 'dags'));
  writeFileSync(join(root, 'hangar.json'), JSON.stringify({ executor: 'in-process' }));
  for (let i = 0; i < DAGS; i++) {
    writeFileSync(
      join(root, 'dags', `d${i}.ts`),
      `import { dag } from 'hangar';\nexport const d = dag({ id: 'd${i}', schedule: '${schedule}', startDate: '${startDate}', catchup: false });\nd.task('t', async () => undefined);\n`,
    );
  }
  return root;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)]!;

function runInsertFloorUs(dir: string, n = 3000): number {
  const db = new DatabaseSync(join(dir, 'floor.db'));
  db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;
    CREATE TABLE r (dag_id TEXT, run_id TEXT, state TEXT, PRIMARY KEY (dag_id, run_id));
    CREATE TABLE ti (dag_id TEXT, run_id TEXT, task_id TEXT, state TEXT, PRIMARY KEY (dag_id, run_id, task_id));`);
  const r = db.prepare('INSERT INTO r VALUES (?, ?, ?)');
  const ti = db.prepare('INSERT INTO ti VALUES (?, ?, ?, ?)');
  const started = performance.now();
  for (let i = 0; i < n; i++) {
    db.exec('BEGIN');
    r.run('d', `run${i}`, 'queued');
    ti.run('d', `run${i}`, 't', null);
    db.exec('COMMIT');
  }
  const us = ((performance.now() - started) * 1000) / n;
  db.close();
  return us;
}

async function tickBench(): Promise<void> {
  const start = Date.parse('2024-01-01T00:00:00Z');
  const root = workspace('* * * * *', '2024-01-01T00:00:00Z');
  const clock = new FakeClock(start + 30_000);
  const rt = await Runtime.open(root, { clock });
  try {
    const t0 = performance.now();
    const svc = new SchedulerService(rt, { watch: false });
    await svc.reload();
    const loadMs = performance.now() - t0;
    const idle: number[] = [];
    const creating: number[] = [];
    const createOnly: number[] = [];
    const startOnly: number[] = [];
    let created = 0;
    for (let s = 0; s < 600; s += 5) {
      clock.advance(5_000);
      const t = performance.now();
      const r = await svc.tick();
      const ms = performance.now() - t;
      if (r.created.length) {
        creating.push(ms);
        createOnly.push(r.createMs);
        startOnly.push(r.startMs);
        created += r.created.length;
      } else idle.push(ms);
      await svc.idle();
    }
    await svc.stop();
    const floorUs = runInsertFloorUs(root);
    const perRunUs = (median(createOnly) * 1000) / DAGS;
    const startUs = (median(startOnly) * 1000) / DAGS;
    console.log(`\n1. ${DAGS} DAGs on a 1-minute cron, 10 simulated minutes, a loop turn every 5 s (fake clock)`);
    console.log(`   DAG files loaded in ${loadMs.toFixed(0)} ms; ${created} runs created in ${creating.length} turns`);
    console.log(`   turn with nothing due:     median ${idle.length ? median(idle).toFixed(2) : '-'} ms, p95 ${idle.length ? p95(idle).toFixed(2) : '-'} ms (${idle.length} turns)`);
    console.log(`   turn creating ${DAGS} runs:   median ${median(creating).toFixed(1)} ms, p95 ${p95(creating).toFixed(1)} ms, of which`);
    console.log(`     deciding and creating:  ${perRunUs.toFixed(0)} µs per run (timetable, guarded insert of the run and its task instance)`);
    console.log(`     claiming and starting:  ${startUs.toFixed(0)} µs per run (maxActiveRuns claim, the run loop's start, up to its first await)`);
    console.log(`   floor: one committed run + task-instance insert = ${floorUs.toFixed(0)} µs  → creating is ${(perRunUs / floorUs).toFixed(1)}× the floor per run`);
  } finally {
    await rt.close();
    rmSync(root, { recursive: true, force: true });
  }
}

async function cpuDuring(ms: number, work?: () => Promise<() => Promise<void>>): Promise<number> {
  const stop = work ? await work() : undefined;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, ms));
  const c = process.cpuUsage(c0);
  const wall = performance.now() - t0;
  await stop?.();
  return ((c.user + c.system) / 1000 / wall) * 100;
}

async function idleBench(): Promise<void> {
  const root = workspace('@daily', new Date(Date.now() - 3_600_000).toISOString());
  const rt = await Runtime.open(root);
  try {
    // Nothing due: catchup off, so each DAG's next run is created after the coming midnight.
    const floor = await cpuDuring(IDLE_S * 1000);
    let svc: SchedulerService | undefined;
    const busy = await cpuDuring(IDLE_S * 1000, async () => {
      svc = new SchedulerService(rt);
      await svc.start();
      await new Promise((r) => setTimeout(r, 1000)); // past the start-up load
      return () => svc!.stop();
    });
    const created = (await rt.store.runs.list({ limit: 1 })).length;
    console.log(`\n2. idle scheduler, ${DAGS} @daily DAGs with nothing due, real clock, ${IDLE_S} s (poll every ${rt.config.scheduler.pollSeconds} s, watching the DAG folder)`);
    console.log(`   CPU: ${busy.toFixed(2)}% of a core; floor (the same process asleep): ${floor.toFixed(2)}%; runs created: ${created} (expected 0)`);
    console.log(`   target < 1% of a core: ${busy < 1 ? 'met' : 'NOT met'}`);
  } finally {
    await rt.close();
    rmSync(root, { recursive: true, force: true });
  }
}

await tickBench();
await idleBench();
