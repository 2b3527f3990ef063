/**
 * Sensors at scale, on the real clock: N sensors in reschedule mode sharing 2
 * worker slots (parallelism 2, in-process) with a chain of ordinary tasks.
 *
 * Measured, from the store:
 * - poke lateness: each rescheduled poke's time minus its planned time (the
 *   previous poke + the recorded interval); goal: within 1 s;
 * - ordinary tasks: start of each chain task minus the end of its predecessor
 *   (when it became ready); goal: within 1 s;
 * - CPU of this process (the runtime) over an idle window while every sensor
 *   waits in up_for_reschedule; goal: < 5 % of one core;
 * - the cost of N pending reschedules (first round of pokes per sensor, heap),
 *   at 1,000 and 10,000: the ratio should stay near 10×.
 * Floor in the same run: one committed SQLite write (WAL, synchronous NORMAL).
 *
 *   node bench/sensors.bench.ts      (HANGAR_BENCH_SIZES=1000,10000)
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Runtime } from '../src/runtime/runtime.ts';

const SIZES = (process.env.HANGAR_BENCH_SIZES ?? '1000,10000').split(',').map(Number);
const CHAIN = 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function dagFile(n: number, firstIntervalMs: number, spreadMs: number): string {
  // Sensor i: first poke at the start, then every firstIntervalMs + (i mod 1000)·spreadMs/1000; done at its 3rd poke.
  return `import { dag, sensor } from 'hangar';
export const d = dag({ id: 'sensors_${n}', maxActiveTasks: 1000000 });
let prev = d.task('ordinary_0', async () => { await new Promise((r) => setTimeout(r, 100)); });
for (let i = 1; i < ${CHAIN}; i++) { const t = d.task('ordinary_' + i, async () => { await new Promise((r) => setTimeout(r, 100)); }); prev.before(t); prev = t; }
for (let i = 0; i < ${n}; i++) {
  sensor(d, 's' + i, { mode: 'reschedule', timeout: '10m', pokeInterval: (${firstIntervalMs} + (i % 1000) * ${spreadMs / 1000}) / 1000 }, (ctx) => ctx.pokeNumber >= 3);
}
`;
}

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

const pct = (xs: number[], p: number) =>
  xs.length
    ? [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil((p / 100) * xs.length) - 1)]!
    : NaN;

interface Result {
  sensors: number;
  firstRoundMs: number;
  perSensorFirstPokeUs: number;
  heapPerPendingKb: number;
  idleWindowMs: number;
  idleCpuPct: number;
  lateP50Ms: number;
  lateP99Ms: number;
  lateMaxMs: number;
  latePokes: number;
  ordinaryWaitMaxMs: number;
  ordinaryWaitP50Ms: number;
  runMs: number;
  state: string;
}

async function runOne(n: number): Promise<Result> {
  const root = mkdtempSync(join(tmpdir(), 'hangar-bench-sensors-'));
  try {
    mkdirSync(join(root, 'dags'));
    // The second round of pokes starts well after the first (an idle window) and is spread over 5 s.
    const firstInterval = n <= 1000 ? 6000 : 25_000;
    writeFileSync(join(root, 'dags', 'bench.ts'), dagFile(n, firstInterval, 5000));
    writeFileSync(join(root, 'hangar.json'), JSON.stringify({ dagsFolder: 'dags', parallelism: 2 }));
    const rt = await Runtime.open(root, { config: { executor: 'in-process', parallelism: 2 } });
    await rt.loadDags();
    const dagId = `sensors_${n}`;
    global.gc?.();
    const heap0 = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    const run = await rt.triggerRun(dagId);
    const done = rt.executeRun(dagId, run.run_id);
    let pending = 0;
    const onTask = (e: { state: string }) => {
      if (e.state === 'up_for_reschedule') pending++;
    };
    rt.events.on('task', onTask);
    // First round: every sensor poked once and waits.
    while (pending < n) await sleep(20);
    const firstRoundMs = performance.now() - t0;
    global.gc?.();
    const heap1 = process.memoryUsage().heapUsed;
    // Idle window: every sensor waits; let the ordinary chain finish first (2 s of sleeps).
    while (performance.now() - t0 < CHAIN * 100 + 500) await sleep(20);
    const nextDue = (
      rt.store.db
        .prepare(
          "SELECT MIN(next_try_at) AS m FROM task_instances WHERE dag_id = ? AND state = 'up_for_reschedule'",
        )
        .get(dagId) as { m: string }
    ).m;
    const windowMs = Math.min(2000, Date.parse(nextDue) - Date.now() - 300);
    let idleCpuPct = NaN;
    if (windowMs > 300) {
      const c0 = process.cpuUsage();
      const w0 = performance.now();
      await sleep(windowMs);
      const c = process.cpuUsage(c0);
      idleCpuPct = ((c.user + c.system) / 1000 / (performance.now() - w0)) * 100;
    }
    const state = await done;
    const runMs = performance.now() - t0;
    rt.events.off('task', onTask);
    // Lateness of rescheduled pokes.
    const pokes = await rt.store.sensors.listPokes({ dagId, runId: run.run_id });
    const byTask = new Map<string, typeof pokes>();
    for (const p of pokes) (byTask.get(p.task_id) ?? byTask.set(p.task_id, []).get(p.task_id)!).push(p);
    const late: number[] = [];
    for (const rows of byTask.values()) {
      for (let i = 1; i < rows.length; i++)
        late.push(rows[i]!.poked_at_ms - (rows[i - 1]!.poked_at_ms + rows[i - 1]!.next_interval_ms!));
    }
    // Ordinary tasks: start minus the end of the predecessor.
    const tries = (await rt.store.tasks.listTries(dagId, run.run_id)).filter((t) => t.task_id.startsWith('ordinary_'));
    const byId = new Map(tries.map((t) => [t.task_id, t]));
    const waits: number[] = [];
    for (let i = 1; i < CHAIN; i++) {
      const a = byId.get(`ordinary_${i - 1}`)!;
      const b = byId.get(`ordinary_${i}`)!;
      waits.push(Date.parse(b.start_date!) - Date.parse(a.end_date!));
    }
    await rt.close();
    return {
      sensors: n,
      firstRoundMs,
      perSensorFirstPokeUs: (firstRoundMs * 1000) / n,
      heapPerPendingKb: (heap1 - heap0) / 1024 / n,
      idleWindowMs: windowMs,
      idleCpuPct,
      lateP50Ms: pct(late, 50),
      lateP99Ms: pct(late, 99),
      lateMaxMs: Math.max(...late),
      latePokes: late.filter((x) => x > 1000).length,
      ordinaryWaitMaxMs: Math.max(...waits),
      ordinaryWaitP50Ms: pct(waits, 50),
      runMs,
      state,
    };
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

const floorDir = mkdtempSync(join(tmpdir(), 'hangar-bench-floor-'));
const sqliteUs = sqliteFloorUs(floorDir);
rmSync(floorDir, { recursive: true, force: true });
const results: Result[] = [];
for (const n of SIZES) results.push(await runOne(n));

const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
const rows = results.map((r) => [
  r.sensors,
  f(r.firstRoundMs, 0),
  f(r.perSensorFirstPokeUs, 0),
  f(r.perSensorFirstPokeUs / sqliteUs, 0),
  f(r.heapPerPendingKb, 2),
  `${f(r.idleCpuPct, 2)} % (${f(r.idleWindowMs, 0)} ms)`,
  `${f(r.lateP50Ms, 0)} / ${f(r.lateP99Ms, 0)} / ${f(r.lateMaxMs, 0)}`,
  r.latePokes,
  `${f(r.ordinaryWaitP50Ms, 0)} / ${f(r.ordinaryWaitMaxMs, 0)}`,
  r.state,
]);
const headers = [
  'sensors',
  'first round ms',
  'µs/sensor',
  '× sqlite write',
  'heap KB/pending',
  'idle CPU',
  'poke late p50/p99/max ms',
  'pokes >1 s late',
  'ordinary wait p50/max ms',
  'run',
];
const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
console.log(headers.map((h, i) => h.padEnd(widths[i]!)).join('  '));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows) console.log(r.map((c, i) => String(c).padEnd(widths[i]!)).join('  '));
const small = results.find((r) => r.sensors === 1000);
const big = results.find((r) => r.sensors === 10000);
const ratio = small && big ? big.firstRoundMs / small.firstRoundMs : undefined;
if (ratio !== undefined)
  console.log(
    `\n10,000 / 1,000 pending reschedules: first round ${ratio.toFixed(1)}× (goal ≈ 10×), heap per pending ${f(big!.heapPerPendingKb, 2)} vs ${f(small!.heapPerPendingKb, 2)} KB`,
  );
console.log(`floor: one committed SQLite write ${sqliteUs.toFixed(1)} µs`);
console.log(
  JSON.stringify({ bench: 'sensors', sqliteWriteUs: sqliteUs, ratio10kTo1k: ratio, results }, null, 2),
);
