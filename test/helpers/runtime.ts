import { Runtime } from '../../src/runtime/runtime.ts';
import type { RuntimeOptions } from '../../src/runtime/runtime.ts';
import { storeActivity } from './store.ts';
import { tempWorkspace } from './workspace.ts';
import type { TempWorkspace } from './workspace.ts';

export interface TestRuntime {
  readonly rt: Runtime;
  readonly ws: TempWorkspace;
  states(runId: string, dagId?: string): Promise<Record<string, string | null>>;
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
  (globalThis as Record<string, unknown>).__hangarStoreChanges = storeActivity(rt.store);
  const bag = await rt.loadDags();
  if (bag.errors.length) throw new Error(bag.errors.map((e) => e.message).join('\n'));
  return {
    rt,
    ws,
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
