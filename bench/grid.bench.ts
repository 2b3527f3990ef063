/**
 * The grid's runtime side with 365 runs × 200 tasks (75,000 task instances,
 * bench/grid-seed.ts): `grid/data` for the whole year in the runtime server's
 * service (the one query + shaping), then its JSON text both ways (what the
 * JSON-RPC pipe and postMessage carry), against a floor measured in the same
 * run: the bare SQL read of the same task instances (no join, no shaping).
 * For scale, the N+1 way the grid avoids: `run/list` then `task/list` per run.
 * Median of 5 (after one warm-up).
 *
 *   node bench/grid.bench.ts
 */
import { rmSync } from 'node:fs';
import { DatabaseSync } from 'node:sqlite';
import { RuntimeService } from '../src/runtime/server/service.ts';
import type { GanttResult, GridResult, InitializeResult, RunInfo } from '../src/protocol/runtime.ts';
import { GANTT_TASKS, RUNS, TASKS, gridWorkspace, seedGrid } from './grid-seed.ts';

const REPS = 5;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number) => Math.round(x * 10) / 10;

const dir = gridWorkspace();
const t0 = performance.now();
const tis = await seedGrid(dir);
const seedMs = Math.round(performance.now() - t0);
const svc = new RuntimeService(() => undefined);
const init = (await svc.handle('runtime/initialize', { workspace: dir, config: {} })) as InitializeResult;
await svc.handle('dag/list', {});
const db = new DatabaseSync(init.storePath, { readOnly: true });

const times: Record<string, number[]> = { floor: [], grid: [], stringify: [], parse: [], nPlusOne: [], ganttFloor: [], gantt: [] };
const ganttRun = `manual__${new Date(Date.UTC(2024, 0, 1)).toISOString()}`;
let segments = 0;
let bytes = 0;
let cells = 0;
for (let i = 0; i <= REPS; i++) {
  let s = performance.now();
  const stmt = db.prepare('SELECT run_id, task_id, map_index, state, try_number, duration, start_date, end_date FROM task_instances WHERE dag_id = ?');
  stmt.setReturnArrays(true);
  const raw = stmt.all('big_grid');
  const floor = performance.now() - s;
  if (raw.length !== tis) throw new Error(`the floor read ${raw.length} rows, not ${tis}`);

  s = performance.now();
  const g = (await svc.handle('grid/data', { dagId: 'big_grid', limit: RUNS })) as GridResult;
  const grid = performance.now() - s;
  if (g.runs.length !== RUNS || g.rows.length !== TASKS) throw new Error(`grid/data answered ${g.runs.length} runs × ${g.rows.length} rows`);
  s = performance.now();
  const text = JSON.stringify(g);
  const stringify = performance.now() - s;
  s = performance.now();
  JSON.parse(text);
  const parse = performance.now() - s;

  s = performance.now();
  const runs = (await svc.handle('run/list', { dagId: 'big_grid', limit: RUNS })) as RunInfo[];
  for (const r of runs) await svc.handle('task/list', { dagId: 'big_grid', runId: r.runId });
  const nPlusOne = performance.now() - s;

  s = performance.now();
  const triesRaw = db.prepare('SELECT * FROM task_tries WHERE dag_id = ? AND run_id = ?').all('gantt_big', ganttRun);
  const ganttFloor = performance.now() - s;
  if (triesRaw.length !== GANTT_TASKS * 2) throw new Error(`the Gantt floor read ${triesRaw.length} tries`);
  s = performance.now();
  const gantt = (await svc.handle('gantt/data', { dagId: 'gantt_big', runId: ganttRun })) as GanttResult;
  JSON.stringify(gantt);
  const ganttMs = performance.now() - s;
  segments = gantt.segments.length;
  if (gantt.criticalPath.length !== GANTT_TASKS / 10) throw new Error(`critical path of ${gantt.criticalPath.length} tasks`);

  if (i === 0) continue; // warm-up
  times.ganttFloor!.push(ganttFloor);
  times.gantt!.push(ganttMs);
  bytes = text.length;
  cells = g.states.length;
  times.floor!.push(floor);
  times.grid!.push(grid);
  times.stringify!.push(stringify);
  times.parse!.push(parse);
  times.nPlusOne!.push(nPlusOne);
}
db.close();
await svc.shutdown();
rmSync(dir, { recursive: true, force: true });

const floor = median(times.floor!);
console.log(`\ngrid/data: ${RUNS} runs × ${TASKS} tasks (${tis} task instances, seeded in ${seedMs} ms), ${cells} cells, ${(bytes / 1024).toFixed(0)} KiB of JSON; median of ${REPS}\n`);
console.log('| measurement | median ms | × floor |\n| --- | ---: | ---: |');
const row = (name: string, xs: number[]) => console.log(`| ${name} | ${round(median(xs))} | ${round(median(xs) / floor)} |`);
row('floor: bare SQL read of the same task instances', times.floor!);
row('grid/data (two queries + shaping)', times.grid!);
row('JSON.stringify of the result', times.stringify!);
row('JSON.parse of the result', times.parse!);
row('grid/data + JSON both ways', times.grid!.map((g, i) => g + times.stringify![i]! + times.parse![i]!));
row('for scale: run/list + task/list per run (N+1)', times.nPlusOne!);

const gFloor = median(times.ganttFloor!);
console.log(`\ngantt/data: one run of ${GANTT_TASKS} tasks, ${GANTT_TASKS * 2} tries → ${segments} segments; median of ${REPS}\n`);
console.log('| measurement | median ms | × floor |\n| --- | ---: | ---: |');
console.log(`| floor: bare SQL read of the run's tries | ${round(gFloor)} | 1 |`);
console.log(`| gantt/data (three queries + segments + critical path) + JSON.stringify | ${round(median(times.gantt!))} | ${round(median(times.gantt!) / gFloor)} |`);
