/**
 * The distributed executor (BullMQ on Redis, `hangar worker` processes, PostgreSQL store,
 * s3rver for bundles, logs and XComs), all on loopback on this machine:
 *
 *  (a) throughput of no-op tasks through Hangar against a floor measured in the same run on
 *      the same Redis: raw BullMQ jobs (add → process → complete) with as many worker
 *      processes and the same concurrency; reported as a ratio (Hangar's tasks/s ÷ the floor's);
 *  (b) 400 I/O-bound tasks (each awaits 100 ms) with 1, 2, 4 and 8 workers: wall time and
 *      speed-up over one worker (linear would be ×2, ×4, ×8);
 *  (c) the time from a task's end on one worker to its downstream task starting (its process
 *      running it) on a worker: median and p99 over a chain.
 *
 * With (a), what a try costs wherever it goes: CPU time per task of each process kind on this
 * machine (the scheduler, the workers and their task processes, PostgreSQL, Redis, and this
 * process, which runs s3rver), read from /proc around one run, and the store's transactions per
 * task (pg_stat_database). Less sensitive to a busy machine than the wall times.
 *
 * Times of Hangar runs are the run's own (start to end, from the store). Each figure is the
 * median of HANGAR_BENCH_RUNS (default 3) runs.
 *
 *   node bench/distributed.bench.ts     (HANGAR_BENCH_RUNS=3  HANGAR_BENCH_NOOP=400  HANGAR_BENCH_WORKERS=1,2,4,8)
 */
import { fork } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../src/runtime/store/store.ts';
import { parseStoreTarget } from '../src/runtime/store/target.ts';
import { redisOptions } from '../src/runtime/distributed/redis.ts';
import { startDeployment } from '../test/distributed/deployment.ts';
import type { Deployment } from '../test/distributed/deployment.ts';

const RUNS = Number(process.env.HANGAR_BENCH_RUNS ?? 3);
const NOOP = Number(process.env.HANGAR_BENCH_NOOP ?? 400);
const WORKER_COUNTS = (process.env.HANGAR_BENCH_WORKERS ?? '1,2,4,8').split(',').map(Number);
const CONCURRENCY = 8;
const THROUGHPUT_WORKERS = 2;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

const fanOut = (id: string, n: number, body: string) =>
  `import { dag } from 'hangar';\nexport const d = dag({ id: '${id}', schedule: null, startDate: '2024-01-01', maxActiveTasks: 1000 });\nconst root = d.task('root', async () => 0);\nfor (let i = 1; i < ${n}; i++) root.before(d.task('t' + i, ${body}));\n`;
const chain = (id: string, n: number) =>
  `import { dag } from 'hangar';\nexport const d = dag({ id: '${id}', schedule: null, startDate: '2024-01-01' });\nlet prev = d.task('c0', async () => 0);\nfor (let i = 1; i < ${n}; i++) { const t = d.task('c' + i, async () => i); prev.before(t); prev = t; }\n`;

/** Runs a DAG with `hangar run` and returns the run's own duration (the store's start and end), in seconds. */
async function runDag(
  dep: Deployment,
  store: Store,
  dagId: string,
): Promise<{ seconds: number; runId: string }> {
  const r = await dep.hangar(['run', dagId, '--workspace', dep.schedulerRoot, '-o', 'json']);
  if (r.code !== 0) {
    const failed = await store.sql.all<{ task_id: string; error: string }>(
      "SELECT task_id, error FROM task_tries WHERE dag_id = ? AND state = 'failed' ORDER BY end_date DESC LIMIT 3",
      dagId,
    );
    throw new Error(
      `hangar run ${dagId} failed: ${failed.map((f) => `${f.task_id}: ${f.error}`).join('\n')}`,
    );
  }
  const runId = (JSON.parse(r.out) as { run: { run_id: string } }).run.run_id;
  const run = (await store.runs.get(dagId, runId))!;
  return { seconds: (Date.parse(run.end_date!) - Date.parse(run.start_date!)) / 1000, runId };
}

/** The floor: raw BullMQ no-op jobs through `workers` processes of `concurrency` each, on the same Redis. */
async function bullFloor(redisUrl: string, n: number, workers: number, concurrency: number): Promise<number> {
  const { Queue, QueueEvents } = await import('bullmq');
  const name = `floor-${Date.now()}`;
  const connection = redisOptions(redisUrl);
  const dir = mkdtempSync(join(tmpdir(), 'hangar-floor-'));
  const script = join(dir, 'w.mjs');
  writeFileSync(
    script,
    `import { Worker } from ${JSON.stringify(import.meta.resolve('bullmq'))};
const w = new Worker(${JSON.stringify(name)}, async () => undefined, { connection: ${JSON.stringify(connection)}, prefix: 'floor', concurrency: ${concurrency} });
w.on('ready', () => process.send('ready'));
process.on('message', async () => { await w.close(); process.exit(0); });`,
  );
  const procs = Array.from({ length: workers }, () => fork(script, [], { stdio: 'ignore' }));
  await Promise.all(procs.map((p) => new Promise((r) => p.once('message', r))));
  const queue = new Queue(name, { connection, prefix: 'floor' });
  // From the stream's start (the queue is new): events of jobs that complete before the first
  // XREAD is issued are read too (with the default '$' a busy machine lost some and waited forever).
  const events = new QueueEvents(name, { connection, prefix: 'floor', lastEventId: '0-0' });
  await events.waitUntilReady();
  let done = 0;
  const all = new Promise<void>((resolve) =>
    events.on('completed', () => {
      if (++done === n) resolve();
    }),
  );
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await queue.add('noop', { i }, { removeOnComplete: true });
  await all;
  const seconds = (performance.now() - t0) / 1000;
  for (const p of procs) p.send('stop');
  await Promise.all(procs.map((p) => new Promise((r) => p.once('exit', r))));
  await events.close();
  await queue.obliterate({ force: true });
  await queue.close();
  rmSync(dir, { recursive: true, force: true });
  return seconds;
}

/** CPU seconds (user + system) of every process on this machine now, by pid, with its command line. */
function cpuByPid(): Map<number, { cmd: string; cpu: number }> {
  const hz = 100; // USER_HZ on Linux
  const out = new Map<number, { cmd: string; cpu: number }>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8').replaceAll('\0', ' ');
      out.set(Number(d), { cmd, cpu: (Number(f[11]) + Number(f[12])) / hz });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

function kindOf(pid: number, cmd: string): string | undefined {
  if (pid === process.pid) return 'bench (s3rver)';
  if (cmd.startsWith('postgres')) return 'PostgreSQL';
  if (cmd.includes('redis-server')) return 'Redis';
  if (/worker\.(mjs|ts)/.test(cmd)) return 'task processes';
  if (cmd.includes(' worker ')) return 'hangar worker';
  if (cmd.includes(' run ')) return 'scheduler (hangar run)';
  return undefined;
}

/**
 * Runs `fn` and returns the CPU each process kind used meanwhile. Processes that end during the
 * run (the `hangar run` itself) are sampled every 50 ms, so their last reading counts.
 */
async function cpuDuring(fn: () => Promise<void>): Promise<Map<string, number>> {
  const first = cpuByPid();
  const last = new Map(first);
  // A process that has exited (not yet reaped) has an empty command line: keep the one seen before.
  const note = () => {
    for (const [pid, v] of cpuByPid())
      last.set(pid, { cmd: v.cmd || (last.get(pid)?.cmd ?? ''), cpu: v.cpu });
  };
  const timer = setInterval(note, 50);
  try {
    await fn();
  } finally {
    clearInterval(timer);
  }
  note();
  const by = new Map<string, number>();
  for (const [pid, v] of last) {
    const kind = kindOf(pid, v.cmd);
    if (!kind) continue;
    by.set(kind, (by.get(kind) ?? 0) + v.cpu - (first.get(pid)?.cpu ?? 0));
  }
  return by;
}

async function setWorkers(dep: Deployment, n: number): Promise<void> {
  const running = dep.workers.filter((w) => w.child.exitCode === null && w.child.signalCode === null);
  for (const w of running.slice(n)) w.child.kill('SIGTERM');
  await Promise.all(running.slice(n).map((w) => w.exited));
  for (let i = running.length; i < n; i++)
    await dep.startWorker(`w${dep.workers.length + 1}`, ['--concurrency', String(CONCURRENCY)]);
}

const dep = await startDeployment({
  dags: {
    'noop.ts': fanOut('noop', NOOP, 'async () => undefined'),
    'io.ts': fanOut('io', 400, 'async () => { await new Promise((r) => setTimeout(r, 100)); }'),
    'warm.ts': fanOut(
      'warm',
      2 * CONCURRENCY * Math.max(...WORKER_COUNTS),
      'async () => { await new Promise((r) => setTimeout(r, 200)); }',
    ),
    'chain.ts': chain('chain', 60),
  },
  config: { parallelism: 256, scheduler: { heartbeatTimeoutSeconds: 30, gracePeriodSeconds: 5 } },
});
const store = await Store.open(parseStoreTarget(dep.db.url, dep.schedulerRoot));
try {
  console.log(
    `distributed executor on this machine: PostgreSQL, Redis, s3rver on loopback; workers of concurrency ${CONCURRENCY}; median of ${RUNS}\n`,
  );

  // (a) throughput
  await setWorkers(dep, THROUGHPUT_WORKERS);
  await runDag(dep, store, 'warm');
  const floor: number[] = [];
  const hangar: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    floor.push(await bullFloor(dep.redis.url, NOOP, THROUGHPUT_WORKERS, CONCURRENCY));
    hangar.push((await runDag(dep, store, 'noop')).seconds);
  }
  const floorRate = NOOP / median(floor);
  const hangarRate = NOOP / median(hangar);
  console.log(`(a) ${NOOP} no-op tasks, ${THROUGHPUT_WORKERS} workers × ${CONCURRENCY}`);
  console.log(`    raw BullMQ (floor): ${median(floor).toFixed(2)} s, ${floorRate.toFixed(0)} jobs/s`);
  console.log(`    Hangar:             ${median(hangar).toFixed(2)} s, ${hangarRate.toFixed(0)} tasks/s`);
  console.log(`    ratio: ${(hangarRate / floorRate).toFixed(3)} of the floor (goal ≥ 0.5)`);
  const commits = async () =>
    Number(
      (await store.sql.get<{ n: number }>(
        'SELECT xact_commit AS n FROM pg_stat_database WHERE datname = current_database()',
      ))!.n,
    );
  // pg_stat_database is updated when a backend reports (about every second): let it settle around the run.
  await new Promise((r) => setTimeout(r, 1500));
  const before = await commits();
  const cpu = await cpuDuring(async () => void (await runDag(dep, store, 'noop')));
  await new Promise((r) => setTimeout(r, 1500));
  const perTask = (x: number) => `${((x / NOOP) * 1000).toFixed(1)} ms`;
  const total = [...cpu.values()].reduce((a, b) => a + b, 0);
  console.log(`    CPU per task (one more run): ${perTask(total)} in all`);
  for (const [kind, v] of [...cpu].sort((a, b) => b[1] - a[1]))
    console.log(`      ${kind.padEnd(24)} ${perTask(v)}`);
  console.log(`    store transactions per task: ${(((await commits()) - before) / NOOP).toFixed(1)}\n`);

  // (b) scaling
  console.log(`(b) 400 tasks awaiting 100 ms each`);
  const base: Record<number, number> = {};
  for (const n of WORKER_COUNTS) {
    await setWorkers(dep, n);
    await runDag(dep, store, 'warm');
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) times.push((await runDag(dep, store, 'io')).seconds);
    base[n] = median(times);
    const ideal = (400 * 0.1) / (n * CONCURRENCY);
    console.log(
      `    ${n} worker${n === 1 ? ' ' : 's'}: ${median(times).toFixed(2)} s (ideal ${ideal.toFixed(2)} s)` +
        (n === WORKER_COUNTS[0]
          ? ''
          : `, speed-up ×${(base[WORKER_COUNTS[0]!]! / median(times)).toFixed(2)} of ×${n / WORKER_COUNTS[0]!} (${((base[WORKER_COUNTS[0]!]! / median(times) / (n / WORKER_COUNTS[0]!)) * 100).toFixed(0)}% of linear)`),
    );
  }

  // (c) hand-off latency
  await setWorkers(dep, 2);
  const gaps: number[] = [];
  let crossed = 0;
  for (let i = 0; i < RUNS; i++) {
    const { runId } = await runDag(dep, store, 'chain');
    const rows = await store.sql.all<{
      task_id: string;
      worker_id: string;
      running_at: string;
      ended_at: string;
    }>(
      "SELECT task_id, worker_id, running_at, ended_at FROM try_dispatch WHERE dag_id = 'chain' AND run_id = ?",
      runId,
    );
    const by = new Map(rows.map((r) => [r.task_id, r]));
    for (let k = 1; k < 60; k++) {
      const up = by.get(`c${k - 1}`)!;
      const down = by.get(`c${k}`)!;
      gaps.push(Date.parse(down.running_at) - Date.parse(up.ended_at));
      if (up.worker_id !== down.worker_id) crossed++;
    }
  }
  console.log(
    `\n(c) a task's end → its downstream task running, over ${gaps.length} hand-offs (${crossed} to the other worker)`,
  );
  console.log(`    median ${median(gaps)} ms, p99 ${pct(gaps, 99)} ms`);
} finally {
  await store.close();
  await dep.close();
}
