import { Runtime } from '../../src/runtime/runtime.ts';
import type { RuntimeOptions } from '../../src/runtime/runtime.ts';
import { storeActivity } from './store.ts';
import { tempWorkspace } from './workspace.ts';
import type { TempWorkspace } from './workspace.ts';

export interface TestRuntime {
  readonly rt: Runtime;
  readonly ws: TempWorkspace;
  states(runId: string, dagId?: string): Promise<Record<string, string | null>>;
  /**
   * A step of a test that drives a fake clock: a turn of the event loop, then more until no
   * store statement is under way. SQLite's statements end within the turn that issues them;
   * PostgreSQL's are round trips to the server, and the runtime is not done with the clock's
   * last move until they are back.
   */
  turn(): Promise<void>;
  close(): Promise<void>;
}

/** A runtime on a fresh workspace holding the given DAG files (in-process unless told otherwise). */
export async function testRuntime(
  files: Record<string, string>,
  options: RuntimeOptions & { config?: RuntimeOptions['config'] } = {},
): Promise<TestRuntime> {
  const ws = tempWorkspace(files);
  const rt = await Runtime.open(ws.root, {
    ...options,
    config: { executor: 'in-process', ...options.config },
  });
  // For tests that drive a fake clock: how much the store has changed, to tell when the runtime has settled.
  const activity = storeActivity(rt.store);
  (globalThis as Record<string, unknown>).__hangarStoreChanges = activity.changes;
  const bag = await rt.loadDags();
  if (bag.errors.length) throw new Error(bag.errors.map((e) => e.message).join('\n'));
  return {
    rt,
    ws,
    async turn() {
      await new Promise((r) => setImmediate(r));
      while (activity.busy()) await new Promise((r) => setImmediate(r));
    },
    async states(runId, dagId) {
      const run = (await rt.store.runs.find(runId, dagId))!;
      const out: Record<string, string | null> = {};
      for (const ti of await rt.store.tasks.list(run.dag_id, run.run_id))
        out[ti.map_index >= 0 ? `${ti.task_id}[${ti.map_index}]` : ti.task_id] = ti.state;
      return out;
    },
    async close() {
      await rt.close();
      ws.remove();
    },
  };
}
