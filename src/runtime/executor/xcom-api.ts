import type { TaskRef, XComApi, XComFileRef, XComPullOptions, XComPushOptions } from '../dag/types.ts';
import type { Store } from '../store/store.ts';
import { nowIso } from '../store/store.ts';
import type { XComRecord } from '../store/records.ts';
import type { XComBackend, XComLocation } from '../xcom/index.ts';
import { HangarXComBackend, XComError, openXComFile, readXComRecords, writeXComFile, writeXComRecords } from '../xcom/index.ts';

export const RETURN_KEY = 'return_value';

export interface XComScope {
  readonly store: Store;
  readonly backend: XComBackend;
  /** The DAG's structure: the live DAG in a task's process, its serialized form in the scheduler. */
  readonly dag: { readonly id: string; readonly tasks: ReadonlyMap<string, { readonly expand: unknown }> };
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
  const previous = await s.store.xcoms.get(loc.dagId, loc.runId, loc.taskId, key, loc.mapIndex);
  await s.store.xcoms.put({
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
  await s.store.xcoms.recordPull(row, { task_id: s.taskId, map_index: s.mapIndex });
  return value;
}

export async function pullXCom(s: XComScope, taskId: string, key = RETURN_KEY, options: XComPullOptions = {}): Promise<unknown> {
  const upstream = s.dag.tasks.get(taskId);
  if (!upstream) {
    throw new Error(`Task "${s.taskId}" pulled XCom "${key}" from task "${taskId}", which is not in DAG "${s.dag.id}"`);
  }
  if (options.mapIndex !== undefined || !upstream.expand) {
    const row = await s.store.xcoms.get(s.dag.id, s.runId, taskId, key, options.mapIndex ?? -1);
    return row ? decode(s, row) : undefined;
  }
  // A mapped task's value is the list over its map indexes, in order (Airflow's lazy sequence).
  const rows = (await s.store.xcoms.list({ dagId: s.dag.id, runId: s.runId, taskId, key })).filter((r) => r.map_index >= 0);
  rows.sort((a, b) => a.map_index - b.map_index);
  const out: unknown[] = [];
  for (const r of rows) out.push(await decode(s, r));
  return out;
}

function managed(s: XComScope, what: string): HangarXComBackend {
  if (!(s.backend instanceof HangarXComBackend)) throw new Error(`${what} needs Hangar's XCom backend (task "${s.taskId}")`);
  return s.backend;
}

function isFileRef(x: unknown): x is XComFileRef {
  return !!x && typeof x === 'object' && (x as XComFileRef)._xcom_file_backend === true && (x as XComFileRef).data_type === 'file_reference';
}

/** Pushes a file reference written by `write`; the reference is a small inline XCom whose envelope lists the file. */
async function pushManaged(
  s: XComScope,
  key: string,
  options: XComPushOptions,
  write: (b: HangarXComBackend, loc: XComLocation) => Promise<XComFileRef>,
): Promise<XComFileRef> {
  if (typeof key !== 'string' || !KEY_RE.test(key)) {
    throw new Error(`Task "${s.taskId}" pushed an XCom with an invalid key ${JSON.stringify(key)} (1 to 512 printable characters)`);
  }
  const b = managed(s, 'pushRecords/pushFile');
  const loc: XComLocation = { dagId: s.dag.id, runId: s.runId, taskId: s.taskId, mapIndex: s.mapIndex, key };
  const ref = await write(b, loc);
  try {
    await pushXCom(s, key, ref, { sensitive: options.sensitive, backend: options.backend ?? 'database' });
  } catch (err) {
    // No row points at the file: remove it rather than leave an orphan for the sweep.
    await b.storeFor(loc, ref.store).delete(ref.filepath).catch(() => 0);
    throw err;
  }
  return ref;
}

/** The reference a source names: a reference object, or the XCom `key` of a task (pulled, so lineage records it). */
async function refOf(s: XComScope, source: string | TaskRef<unknown> | XComFileRef, key: string | undefined, options: XComPullOptions): Promise<{ ref: XComFileRef; loc?: XComLocation }> {
  if (isFileRef(source)) return { ref: source };
  const taskId = taskIdOf(source as string | TaskRef<unknown>);
  const k = key ?? RETURN_KEY;
  const mapIndex = options.mapIndex ?? -1;
  const loc: XComLocation = { dagId: s.dag.id, runId: s.runId, taskId, mapIndex, key: k };
  const value = await pullXCom(s, taskId, k, { ...options, mapIndex });
  if (value === undefined) throw new XComError('not-found', loc, `does not exist (task "${s.taskId}" wanted a file reference)`);
  if (!isFileRef(value)) throw new XComError('unsupported', loc, 'is not a file reference pushed with pushRecords/pushFile');
  return { ref: value, loc };
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
      const rows = await s.store.xcoms.listMeta({ dagId: s.dag.id, runId: s.runId, taskId: taskIdOf(task), keyPrefix: prefix });
      return [...new Set(rows.map((r) => r.key))];
    },
    pullPrefix: async (task, prefix) => {
      const rows = await s.store.xcoms.list({ dagId: s.dag.id, runId: s.runId, taskId: taskIdOf(task), keyPrefix: prefix });
      const out: Record<string, unknown> = {};
      for (const r of rows) if (r.map_index === -1 || !(r.key in out)) out[r.key] = await decode(s, r);
      return out;
    },
    clear: async (task, selector = {}) => {
      const rows = await s.store.xcoms.list({
        dagId: s.dag.id,
        runId: s.runId,
        taskId: taskIdOf(task),
        key: selector.key,
        keyPrefix: selector.prefix,
      });
      for (const r of rows) {
        await s.backend.purge(locOf(r), r.value);
        await s.store.xcoms.delete({ dagId: r.dag_id, runId: r.run_id, taskId: r.task_id, mapIndex: r.map_index, key: r.key });
      }
      return rows.length;
    },
    pushRecords: (key, records, options = {}) =>
      pushManaged(s, key, options, (b, loc) => writeXComRecords(b, loc, records, { target: options.target })),
    pushFile: (key, bytes, options = {}) =>
      pushManaged(s, key, options, (b, loc) => writeXComFile(b, loc, bytes, { target: options.target, recordCount: options.recordCount })),
    readRecords: <T>(source: string | TaskRef<unknown> | XComFileRef, key?: string, options: XComPullOptions = {}): AsyncIterable<T> => {
      return {
        async *[Symbol.asyncIterator]() {
          const { ref, loc } = await refOf(s, source, key, options);
          yield* readXComRecords(managed(s, 'readRecords'), ref, loc) as AsyncIterable<T>;
        },
      };
    },
    openFile: async (source, key, options = {}) => {
      const { ref, loc } = await refOf(s, source, key, options);
      return openXComFile(managed(s, 'openFile'), ref, loc);
    },
  };
}
