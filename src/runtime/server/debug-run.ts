/**
 * The program Debug DAG launches under VS Code's JavaScript debugger: loads the
 * workspace's DAG files and runs one DAG to the end in the runtime's in-process
 * mode, so task code runs in this process, where the debugger's breakpoints
 * (mapped to the .ts DAG files through the compiled modules' inline source
 * maps) are hit. Prints progress to the debug console; exits 0 on success.
 *
 *   node debug-run.mjs DAG_ID WORKSPACE
 */
import { Runtime } from '../runtime.ts';

const [dagId, workspace] = process.argv.slice(2);
if (!dagId || !workspace) {
  console.error('usage: debug-run DAG_ID WORKSPACE');
  process.exit(2);
}
const rt = await Runtime.open(workspace, { config: { executor: 'in-process' } });
rt.events.on('task', (e) => console.log(`hangar: ${e.taskId}${e.mapIndex >= 0 ? ` [${e.mapIndex}]` : ''} → ${e.state} (try ${e.tryNumber})${e.error ? `: ${e.error}` : ''}`));
rt.events.on('warning', (e) => console.warn(`hangar: ${e.message}`));
let code = 1;
try {
  const bag = await rt.loadDags();
  for (const e of bag.errors) console.error(`hangar: failed to load ${e.message}`);
  const run = await rt.runDag(dagId);
  console.log(`hangar: run ${run.run_id} of ${dagId}: ${run.state}`);
  code = run.state === 'success' ? 0 : 1;
} catch (err) {
  console.error(`hangar: ${(err as Error).message}`);
} finally {
  await rt.close();
}
process.exit(code);
