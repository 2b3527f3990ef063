/**
 * One task test in a process of its own: what the runtime server's `task/test` spawns (the Test
 * Explorer's Run profile) and what its Debug profile launches under VS Code's JavaScript debugger
 * (tasks run in this process, so breakpoints in the DAG file are hit). `hangar test DAG TASK`
 * semantics on a throwaway store (hangar/testing); the outcome is written as JSON to RESULT_FILE
 * (a TaskTestResult of src/protocol/runtime.ts); progress goes to stdout. Exits 0 when the task
 * succeeded, 1 when it failed, 2 on bad arguments or a DAG file that does not load.
 *
 *   node task-test.mjs WORKSPACE DAG_FILE DAG_ID TASK_ID RESULT_FILE [LOGICAL_DATE] [CONFIG_JSON]
 */
import { writeFileSync } from 'node:fs';
import { testDag } from './index.ts';

const [workspace, file, dagId, taskId, resultFile, date, configJson] = process.argv.slice(2);
if (!workspace || !file || !dagId || !taskId || !resultFile) {
  console.error(
    'usage: task-test WORKSPACE DAG_FILE DAG_ID TASK_ID RESULT_FILE [LOGICAL_DATE] [CONFIG_JSON]',
  );
  process.exit(2);
}
const started = performance.now();
let code = 2;
try {
  const config = configJson ? (JSON.parse(configJson) as Record<string, unknown>) : undefined;
  const t = await testDag(file, { workspace, dagId, date: date || undefined, config });
  try {
    console.log(`hangar: testing task ${taskId} of ${dagId} (throwaway store in ${t.stateDir})`);
    const r = await t.runTask(taskId);
    console.log(`hangar: ${taskId} → ${r.taskState}${r.error ? `\n${r.error}` : ''}`);
    writeFileSync(
      resultFile,
      JSON.stringify({
        dagId,
        taskId,
        state: r.taskState,
        log: r.log,
        error: r.error,
        errorPosition: r.errorAt,
        duration: (performance.now() - started) / 1000,
      }),
    );
    code = r.taskState === 'success' ? 0 : 1;
  } finally {
    await t.close();
  }
} catch (err) {
  console.error(`hangar: ${(err as Error).message}`);
  writeFileSync(resultFile, JSON.stringify({ fatal: (err as Error).message }));
}
process.exit(code);
