/**
 * A worker process: runs task tries (and callbacks) sent by the runtime, one at a
 * time. It opens its own connection to the store (WAL allows it), imports the
 * compiled bundle the DAG processor parsed (never a newer compile of the file),
 * and reports each try's end. If it dies, only the try it
 * was running fails; the runtime starts another worker.
 */
import { loadConfig } from '../config.ts';
import type { WorkspaceConfig } from '../config.ts';
import type { Dag } from '../dag/dag.ts';
import { importBundle } from '../loader/index.ts';
import { invokeCallback } from './callbacks.ts';
import { Store } from '../store/store.ts';
import { isStoreUnwritable } from '../store/unwritable.ts';
import { createXComBackend } from '../xcom/index.ts';
import type { XComBackend } from '../xcom/index.ts';
import { logToCurrentTry, runTaskTry } from './task-runner.ts';
import { TryLog } from './logger.ts';
import { systemClock } from '../scheduler/clock.ts';
import type { FromWorker, ToWorker } from './protocol.ts';
import type { CallbackResult, ExecuteRequest, ExecuteResult } from './types.ts';

interface WorkspaceState {
  readonly config: WorkspaceConfig;
  readonly store: Store;
  readonly backend: XComBackend;
}

/** One store and backend per workspace, opened once (the promise is kept, so concurrent tries share it). */
const workspaces = new Map<string, Promise<WorkspaceState>>();

function send(msg: FromWorker): void {
  process.send?.(msg);
}

async function workspace(root: string): Promise<WorkspaceState> {
  let ws = workspaces.get(root);
  if (!ws) {
    ws = (async () => {
      const config = loadConfig(root);
      const store = await Store.open(config.storeTarget);
      return {
        config,
        store,
        backend: createXComBackend(config.xcom, { workspaceRoot: config.root, xcomRoot: config.xcomDir, keys: store.keys, connections: config.connections, log: logToCurrentTry }),
      };
    })();
    workspaces.set(root, ws);
    ws.catch(() => workspaces.delete(root));
  }
  return ws;
}

async function dagFor(req: { dagFile: string; bundle: string; dagId: string }): Promise<Dag<any>> {
  const loaded = await importBundle(req.dagFile, req.bundle);
  if (loaded.errors.length) throw new Error(`DAG file ${req.dagFile} failed to load in the worker: ${loaded.errors[0]!.message}`);
  const dag = loaded.dags.find((d) => d.id === req.dagId);
  if (!dag) throw new Error(`DAG "${req.dagId}" is no longer defined in ${req.dagFile}`);
  return dag;
}

let current: { id: number; write: (level: 'INFO' | 'WARNING', text: string) => void } | undefined;

// Output written straight to stdout/stderr during a try goes to its log.
for (const [stream, level] of [
  [process.stdout, 'INFO'],
  [process.stderr, 'WARNING'],
] as const) {
  const original = stream.write.bind(stream);
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    if (current) {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
      for (const line of text.split('\n')) if (line) current.write(level, line);
      const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      cb?.();
      return true;
    }
    return original(chunk as string, ...(rest as []));
  }) as typeof stream.write;
}

async function run(id: number, req: ExecuteRequest): Promise<ExecuteResult> {
  const ws = await workspace(req.workspace);
  const dag = await dagFor(req);
  const controller = new AbortController();
  return runTaskTry(
    { store: ws.store, backend: ws.backend, tmpDir: ws.config.tmpDir, clock: systemClock, connections: ws.config.connections },
    dag,
    req,
    controller.signal,
    (line) => send({ type: 'log', id, line }),
    (write) => {
      current = { id, write };
    },
  );
}

process.on('message', (msg: ToWorker) => {
  if (msg.type === 'callback') {
    // What the callback prints goes to the log of the try it is about, as a task's own output does.
    const log = msg.req.logPath ? new TryLog(msg.req.logPath) : undefined;
    if (log) current = { id: msg.id, write: (level, text) => log.write(level, text) };
    dagFor(msg.req)
      .then((dag) => invokeCallback(dag, msg.req))
      .catch((err: unknown): CallbackResult => ({ ok: false, error: err instanceof Error ? err.message : String(err) }))
      .then((result) => {
        if (log && !result.ok) log.write('WARNING', `${msg.req.name} callback failed (ignored): ${result.error}`);
        current = undefined;
        log?.close();
        send({ type: 'callback-result', id: msg.id, result });
      })
      .catch(() => process.exit(70));
    return;
  }
  if (msg.type !== 'run') return;
  run(msg.id, msg.req)
    .catch((err: unknown): ExecuteResult =>
      isStoreUnwritable(err)
        ? { ok: false, error: (err as Error).message, pid: process.pid, storeUnwritable: true }
        : { ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err), pid: process.pid },
    )
    .then((result) => {
      current = undefined;
      send({ type: 'result', id: msg.id, result });
    })
    .catch(() => process.exit(70));
});

// The runtime went away (even by SIGKILL): nothing left to report to, so stop.
process.on('disconnect', () => process.exit(0));
// A task's stray rejection must not go unnoticed, nor kill the worker between tries.
process.on('unhandledRejection', (reason) => {
  current?.write('WARNING', `Unhandled promise rejection: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}`);
});

send({ type: 'ready', pid: process.pid });
