/**
 * Live structure: from a keystroke in a 500-task DAG file's unsaved buffer to its new structure,
 * runtime side (the `dag/parseBuffer` request → its result: compile the buffer, import it in a parse
 * child, serialize, shape as DagInfo), against a floor measured in the same run: the same file saved
 * and parsed through the normal path (`dag/list` with reload: re-hash, compile, import, store).
 * The editor adds its pause (`hangar.liveStructure.debounceMs`, 400 ms by default) before the request.
 *
 *   npm run bench:live            (HANGAR_BENCH_TASKS=500, HANGAR_BENCH_REPEAT=30)
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RuntimeService } from '../src/runtime/server/service.ts';
import type { DagListResult, DagParseBufferResult } from '../src/protocol/runtime.ts';

const TASKS = Number(process.env.HANGAR_BENCH_TASKS ?? 500);
const REPEAT = Number(process.env.HANGAR_BENCH_REPEAT ?? 30);

function source(extra: string): string {
  const lines = [
    `import { dag } from 'hangar';`,
    `export const big = dag({ id: 'big', schedule: '@daily', startDate: '2024-01-01' });`,
    `const t0 = big.task('t0', async () => 0);`,
  ];
  for (let t = 1; t < TASKS; t++)
    lines.push(
      `const t${t} = big.task('t${t}', { inputs: { n: t${t - 1} }, retries: ${t % 3} }, async (_ctx, { n }) => n + ${t});`,
    );
  return `${lines.join('\n')}\n${extra}`;
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => sorted(xs)[Math.floor(xs.length / 2)]!;
const p95 = (xs: number[]) => sorted(xs)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.95) - 1)]!;
const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

const root = mkdtempSync(join(tmpdir(), 'hangar-bench-live-'));
mkdirSync(join(root, 'dags'));
const file = join(root, 'dags', 'big.ts');
writeFileSync(file, source(''));
const service = new RuntimeService(() => undefined);
try {
  await service.handle('runtime/initialize', { workspace: root, config: {} });
  await service.handle('dag/list', {}); // cold: starts the parse children, fills the store

  // Floor: the saved file changed (one task more each time) and parsed through the normal path.
  const floor: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    writeFileSync(file, source(`big.task('saved_${i}', async () => ${i});\n`));
    const t0 = performance.now();
    const l = (await service.handle('dag/list', { reload: true })) as DagListResult;
    floor.push(performance.now() - t0);
    if (!l.dags[0]!.tasks.some((t) => t.taskId === `saved_${i}`))
      throw new Error('the saved task is missing');
  }

  // Live: a keystroke's buffer (one task more each time), request → result.
  const live: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const t0 = performance.now();
    const r = (await service.handle('dag/parseBuffer', {
      file,
      text: source(`big.task('typed_${i}', async () => ${i});\n`),
    })) as DagParseBufferResult;
    live.push(performance.now() - t0);
    if (r.status !== 'parsed' || !r.dags[0]!.tasks.some((t) => t.taskId === `typed_${i}`))
      throw new Error(`the typed task is missing (${r.status})`);
  }

  const out = {
    tasks: TASKS,
    repeat: REPEAT,
    live: { medianMs: +median(live).toFixed(1), p95Ms: +p95(live).toFixed(1) },
    floor: { medianMs: +median(floor).toFixed(1), p95Ms: +p95(floor).toFixed(1) },
  };
  console.log(`${TASKS}-task DAG file, ${REPEAT} times each`);
  console.log(
    `  buffer → structure (dag/parseBuffer):      median ${fmt(out.live.medianMs)}, p95 ${fmt(out.live.p95Ms)}`,
  );
  console.log(
    `  floor: saved file parsed (dag/list reload): median ${fmt(out.floor.medianMs)}, p95 ${fmt(out.floor.p95Ms)}`,
  );
  console.log(`  ratio of medians: ${(out.live.medianMs / out.floor.medianMs).toFixed(2)}`);
  console.log(JSON.stringify(out));
} finally {
  await service.shutdown();
  rmSync(root, { recursive: true, force: true });
}
