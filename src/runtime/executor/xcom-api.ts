import type { Dag } from '../dag/dag.ts';
import type { TaskRef, XComApi, XComPullOptions, XComPushOptions } from '../dag/types.ts';
import type { Store } from '../store/store.ts';
import { nowIso } from '../store/store.ts';
import type { XComRecord } from '../store/records.ts';
import type { XComBackend, XComLocation } from '../xcom/index.ts';

export const RETURN_KEY = 'return_value';

export interface XComScope {
  readonly store: Store;
  readonly backend: XComBackend;
  readonly dag: Dag<any>;
  readonly runId: string;
  /** The task instance using the API (pusher, or puller for lineage). */
  readonly taskId: string;
  readonly mapIndex: number;
  /** The task's XCom backend override, if any. */
  readonly backendName?: string;
}

function taskIdOf(t: string | TaskRef<unknown>): string {
  return typeof t === 'string' ? t : t.id;
}

function locOf(r: Pick<XComRecord, 'dag_id' | 'run_id' | 'task_id' | 'map_index' | 'key'>): XComLocation {
  return { dagId: r.dag_id, runId: r.run_id, taskId: r.task_id, mapIndex: r.map_index, key: r.key };
}

const KEY_RE = /^[^\u0000-\u001f]{1,512}$/;

export async function pushXCom(s: XComScope, key: string, value: unknown, options: XComPushOptions = {}): Promise<void> {
  if (typeof key !== 'string' || !KEY_RE.test(key)) {
    throw new Error(`Task "${s.taskId}" pushed an XCom with an invalid key ${JSON.stringify(key)} (1 to 512 printable characters)`);
  }
  const loc: XComLocation = { dagId: s.dag.id, runId: s.runId, taskId: s.taskId, mapIndex: s.mapIndex, key };
  const stored = await s.backend.serialize(loc, value, { sensitive: options.sensitive, backend: options.backend ?? s.backendName });
  const previous = s.store.getXCom(loc.dagId, loc.runId, loc.taskId, key, loc.mapIndex);
  s.store.putXCom({
    dag_id: loc.dagId,
    run_id: loc.runId,
    task_id: loc.taskId,
    map_index: loc.mapIndex,
    key,
    value: stored.data,
    chain: JSON.stringify(stored.chain),
    size_original: stored.sizeOriginal,
    size_stored: stored.sizeStored,
    sensitive: stored.sensitive ? 1 : 0,
    created_at: nowIso(),
  });
  // A value replaced by a push must not leave its offloaded file behind.
  if (previous) await s.backend.purge(loc, previous.value);
}

/** Reads one stored XCom row's value, recording who pulled it. */
async function decode(s: XComScope, row: XComRecord): Promise<unknown> {
  const value = await s.backend.deserialize(locOf(row), row.value);
  s.store.recordPull(row, { task_id: s.taskId, map_index: s.mapIndex });
  return value;
}

export async function pullXCom(s: XComScope, taskId: string, key = RETURN_KEY, options: XComPullOptions = {}): Promise<unknown> {
  const upstream = s.dag.tasks.get(taskId);
  if (!upstream) {
    throw new Error(`Task "${s.taskId}" pulled XCom "${key}" from task "${taskId}", which is not in DAG "${s.dag.id}"`);
  }
  if (options.mapIndex !== undefined || !upstream.expand) {
    const row = s.store.getXCom(s.dag.id, s.runId, taskId, key, options.mapIndex ?? -1);
    return row ? decode(s, row) : undefined;
  }
  // A mapped task's value is the list over its map indexes, in order (Airflow's lazy sequence).
  const rows = s.store.listXComs({ dagId: s.dag.id, runId: s.runId, taskId, key }).filter((r) => r.map_index >= 0);
  rows.sort((a, b) => a.map_index - b.map_index);
  const out: unknown[] = [];
  for (const r of rows) out.push(await decode(s, r));
  return out;
}

export function createXComApi(s: XComScope): XComApi {
  return {
    push: (key, value, options) => pushXCom(s, key, value, options),
    pull: (async (task: string | TaskRef<unknown>, key?: string, options?: XComPullOptions) =>
      pullXCom(s, taskIdOf(task), key ?? RETURN_KEY, options)) as XComApi['pull'],
    pullMany: async (taskIds, key) => {
      const out: unknown[] = [];
      for (const id of taskIds) out.push(await pullXCom(s, id, key ?? RETURN_KEY));
      return out;
    },
    keys: async (task, prefix) => {
      const rows = s.store.listXComs({ dagId: s.dag.id, runId: s.runId, taskId: taskIdOf(task), keyPrefix: prefix });
      return [...new Set(rows.map((r) => r.key))];
    },
    pullPrefix: async (task, prefix) => {
      const rows = s.store.listXComs({ dagId: s.dag.id, runId: s.runId, taskId: taskIdOf(task), keyPrefix: prefix });
      const out: Record<string, unknown> = {};
      for (const r of rows) if (r.map_index === -1 || !(r.key in out)) out[r.key] = await decode(s, r);
      return out;
    },
    clear: async (task, selector = {}) => {
      const rows = s.store.listXComs({
        dagId: s.dag.id,
        runId: s.runId,
        taskId: taskIdOf(task),
        key: selector.key,
        keyPrefix: selector.prefix,
      });
      for (const r of rows) {
        await s.backend.purge(locOf(r), r.value);
        s.store.deleteXComs({ dagId: r.dag_id, runId: r.run_id, taskId: r.task_id, mapIndex: r.map_index, key: r.key });
      }
      return rows.length;
    },
  };
}
