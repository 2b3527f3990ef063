/**
 * A workspace for the grid benchmarks: `big_grid`, a DAG of 200 tasks (10 of
 * them mapped over 8 items) with 365 daily runs in the store (75,000 task
 * instances and as many tries, mostly succeeded, some failed, retried,
 * skipped or upstream_failed), and `tiny_grid`, one task and one run (the
 * floor: what opening any grid costs). Rows are written straight into the
 * store (after the runtime created its schema), in one transaction.
 */
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Runtime } from '../src/runtime/runtime.ts';

export const RUNS = 365;
export const TASKS = 200;
export const MAPPED = 10;
export const MAP_WIDTH = 8;
/** gantt_big: one run of 500 tasks (10 chains of 50), each tried twice: 1,000 tries. */
export const GANTT_TASKS = 500;

export function gridWorkspace(prefix = 'hangar-grid-bench-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(join(dir, 'dags'));
  writeFileSync(join(dir, 'hangar.json'), JSON.stringify({ dagsFolder: 'dags', executor: 'in-process' }));
  writeFileSync(
    join(dir, 'dags', 'big_grid.ts'),
    `import { dag } from 'hangar';
export const d = dag({ id: 'big_grid', schedule: '@daily', startDate: '2024-01-01' });
const items = d.task('t0', async () => [1, 2, 3, 4, 5, 6, 7, 8]);
let prev = items;
for (let i = 1; i < ${TASKS}; i++) {
  const t = i % ${TASKS / MAPPED} === 0
    ? d.task('t' + i, { expand: { x: items } }, async (_ctx, { x }) => x)
    : d.task('t' + i, async () => i);
  if (i % 4 === 0) prev.before(t);
  if (i % 4 === 3) prev = t;
}
`,
  );
  writeFileSync(
    join(dir, 'dags', 'gantt_big.ts'),
    `import { dag } from 'hangar';
export const d = dag({ id: 'gantt_big', schedule: null });
const chains = [];
for (let i = 0; i < ${GANTT_TASKS}; i++) {
  const t = d.task('g' + i, async () => i);
  if (i >= 10) chains[i % 10].before(t);
  chains[i % 10] = t;
}
`,
  );
  writeFileSync(join(dir, 'dags', 'tiny_grid.ts'), `import { dag } from 'hangar';\nexport const d = dag({ id: 'tiny_grid', schedule: null });\nd.task('only', async () => 1);\n`);
  return dir;
}

/** Fills the store of `dir` with the runs; answers the number of task instances written. */
export async function seedGrid(dir: string): Promise<number> {
  const rt = await Runtime.open(dir, {});
  const db = rt.store.db;
  const run = db.prepare(
    `INSERT INTO dag_runs (dag_id, run_id, run_type, logical_date, data_interval_start, data_interval_end, state, conf, queued_at, start_date, end_date)
     VALUES (?, ?, ?, ?, ?, ?, ?, '{}', ?, ?, ?)`,
  );
  const ti = db.prepare(
    `INSERT INTO task_instances (dag_id, run_id, task_id, map_index, try_number, max_tries, state, operator, start_date, end_date, duration, updated_at)
     VALUES (?, ?, ?, ?, ?, 2, ?, 'python', ?, ?, ?, ?)`,
  );
  const tr = db.prepare(
    `INSERT INTO task_tries (dag_id, run_id, task_id, map_index, try_number, state, start_date, end_date, duration)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  let n = 0;
  db.exec('BEGIN');
  const day0 = Date.UTC(2024, 0, 1);
  for (let r = 0; r < RUNS; r++) {
    const logical = new Date(day0 + r * 86_400_000);
    const runId = `scheduled__${logical.toISOString()}`;
    const start = logical.getTime() + 86_400_000;
    const failedRun = r % 17 === 5;
    run.run('big_grid', runId, r % 50 === 0 ? 'manual' : 'scheduled', logical.toISOString(), logical.toISOString(), new Date(start).toISOString(), failedRun ? 'failed' : 'success', new Date(start).toISOString(), new Date(start).toISOString(), new Date(start + 600_000).toISOString());
    for (let t = 0; t < TASKS; t++) {
      const mapped = t > 0 && t % (TASKS / MAPPED) === 0;
      for (let m = mapped ? 0 : -1; m < (mapped ? MAP_WIDTH : 0); m++) {
        const state = failedRun && t === 101 ? 'failed' : failedRun && t > 101 && t % 4 === 0 ? 'upstream_failed' : (r + t) % 97 === 0 ? 'skipped' : 'success';
        const tries = (r * 7 + t) % 53 === 0 ? 2 : state === 'upstream_failed' || state === 'skipped' ? 0 : 1;
        const s = start + t * 2_000;
        const dur = 0.5 + ((r * 31 + t * 17 + m) % 100) / 10;
        const iso = (ms: number) => new Date(ms).toISOString();
        ti.run('big_grid', runId, `t${t}`, m, tries, state, tries ? iso(s) : null, iso(s + dur * 1000), tries ? dur : null, iso(s + dur * 1000));
        for (let k = 1; k <= tries; k++) tr.run('big_grid', runId, `t${t}`, m, k, k < tries ? 'failed' : state, iso(s), iso(s + dur * 1000), dur);
        n++;
      }
    }
  }
  const tiny = `manual__${new Date(day0).toISOString()}`;
  run.run('tiny_grid', tiny, 'manual', new Date(day0).toISOString(), new Date(day0).toISOString(), new Date(day0).toISOString(), 'success', new Date(day0).toISOString(), new Date(day0).toISOString(), new Date(day0 + 1000).toISOString());
  ti.run('tiny_grid', tiny, 'only', -1, 1, 'success', new Date(day0).toISOString(), new Date(day0 + 1000).toISOString(), 1, new Date(day0 + 1000).toISOString());
  // gantt_big: every task fails once, waits, and succeeds on its second try; queued 50 ms before each run.
  const gRun = `manual__${new Date(day0).toISOString()}`;
  run.run('gantt_big', gRun, 'manual', new Date(day0).toISOString(), new Date(day0).toISOString(), new Date(day0).toISOString(), 'success', new Date(day0).toISOString(), new Date(day0).toISOString(), new Date(day0 + 3_600_000).toISOString());
  const trR = db.prepare(
    `INSERT INTO task_tries (dag_id, run_id, task_id, map_index, try_number, state, start_date, end_date, duration, running_at)
     VALUES ('gantt_big', ?, ?, -1, ?, ?, ?, ?, ?, ?)`,
  );
  for (let i = 0; i < GANTT_TASKS; i++) {
    const s0 = day0 + Math.floor(i / 10) * 6_000;
    const iso = (ms: number) => new Date(ms).toISOString();
    ti.run('gantt_big', gRun, `g${i}`, -1, 2, 'success', iso(s0), iso(s0 + 5_000), 2, iso(s0 + 5_000));
    trR.run(gRun, `g${i}`, 1, 'failed', iso(s0), iso(s0 + 1_000), 1, iso(s0 + 50));
    trR.run(gRun, `g${i}`, 2, 'success', iso(s0 + 3_000), iso(s0 + 5_000), 2, iso(s0 + 3_050));
  }
  db.exec('COMMIT');
  await rt.close();
  return n;
}
