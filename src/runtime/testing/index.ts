/**
 * `hangar/testing`: test a DAG file from `node:test`, Vitest or any runner.
 *
 *   import { testDag } from 'hangar/testing';
 *   const t = await testDag('dags/etl.ts');
 *   const run = await t.runDag({ conf: { n: 3 } });      // run.state, run.states
 *   assert.deepEqual(await t.xcom('transform'), [1, 4, 9]);
 *   const one = await t.runTask('load', { xcoms: { transform: [1, 4] } }); // `hangar test` semantics
 *   await t.close();
 *
 * Each `testDag` opens a throwaway runtime: a SQLite store, logs, compile cache and XCom files in a
 * fresh temporary folder (a file, not an in-memory database), removed by `close()`. The workspace's
 * own store (hangar.json's "store", HANGAR_STORE_URL) is never opened. Tasks run in the test's own
 * process (the in-process executor), so a debugger attached to the test stops at breakpoints in the
 * DAG file. The workspace's hangar.json still applies (connections, XCom backend, pools).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deepStrictEqual } from 'node:assert/strict';
import type { HangarConfigFile } from '../config.ts';
import { Runtime } from '../runtime.ts';
import { FakeClock } from '../scheduler/clock.ts';
import type { Clock } from '../scheduler/clock.ts';
import type { DagRunRecord, TaskState as StoreTaskState } from '../store/records.ts';
import { pushXCom, RETURN_KEY } from '../executor/xcom-api.ts';

export { FakeClock };
export type { Clock };

/** A task instance's state, as the store names them (Airflow's); null: not run. */
export type TaskState = StoreTaskState | null;

export interface TestDagOptions {
  /** The DAG's id; needed only when the file defines several DAGs. */
  readonly dagId?: string;
  /** The workspace (its hangar.json applies); default: the nearest folder above the file with a hangar.json, else the folder above `dags/`. */
  readonly workspace?: string;
  /** The clock of the runtime (logical dates of manual runs, retry delays, sensors); default the system's. A `FakeClock` is advanced by the test. */
  readonly clock?: Clock;
  /** Default run configuration (`conf`) of `runDag` and `runTask`. */
  readonly conf?: Record<string, unknown>;
  /** Default logical date of `runDag` and `runTask` (a Date or an ISO string); default the clock's now. */
  readonly date?: Date | string;
  /** hangar.json settings to override (e.g. `{ xcom: { backend: 'file' } }`). The store and the executor are not settable. */
  readonly config?: Omit<Partial<HangarConfigFile>, 'store' | 'executor' | 'dagsFolder'>;
}

export interface RunOptions {
  readonly conf?: Record<string, unknown>;
  readonly date?: Date | string;
}

export interface TaskRunOptions extends RunOptions {
  /** Return values of upstream tasks, by task id, stored as their XComs before the task runs (the task runs without its upstream tasks). */
  readonly xcoms?: Record<string, unknown>;
}

/** A finished run. */
export interface TestRun {
  readonly runId: string;
  readonly state: 'success' | 'failed' | 'queued' | 'running';
  readonly logicalDate: string;
  /** Each task instance's state, by task id (`task[i]` for a mapped task's instances). */
  readonly states: Record<string, TaskState>;
  /** The error (stack, source-mapped to the .ts file) of each failed task instance. */
  readonly errors: Record<string, string>;
}

/** One task run alone (`hangar test DAG TASK`). */
export interface TestTaskRun extends TestRun {
  readonly taskId: string;
  /** The task's state. */
  readonly taskState: TaskState;
  /** Its error (stack), null when it succeeded. */
  readonly error: string | null;
  /** Where it threw: the first frame of the error's stack in the DAG file (else in another workspace file), 1-based. */
  readonly errorAt: SourceLocation | null;
  /** Its return value (the `return_value` XCom), undefined when none. */
  readonly value: unknown;
  /** Its log. */
  readonly log: string;
}

export interface XComOptions {
  /** Default: the latest run of this DagTest. */
  readonly runId?: string;
  /** A mapped task's instance. */
  readonly mapIndex?: number;
  /** Default `return_value`. */
  readonly key?: string;
}

export interface DagTest {
  readonly dagId: string;
  /** The DAG file (absolute). */
  readonly file: string;
  /** Task ids, in topological order. */
  readonly taskIds: readonly string[];
  /** The temporary folder holding the throwaway store (removed by close). */
  readonly stateDir: string;
  /** Runs the whole DAG once (a manual run) and waits for its end. */
  runDag(options?: RunOptions): Promise<TestRun>;
  /** Runs one task alone, without its upstream tasks, in a run of its own (run type `test`), as `hangar test` does. */
  runTask(taskId: string, options?: TaskRunOptions): Promise<TestTaskRun>;
  /** A task's XCom, decoded (undefined when there is none). */
  xcom(taskId: string, options?: XComOptions | string): Promise<unknown>;
  /** Asserts (node:assert's deepStrictEqual) that a task's XCom equals `expected`; throws an AssertionError naming the task. */
  expectXCom(taskId: string, expected: unknown, options?: XComOptions | string): Promise<void>;
  /** The log of a task's latest try (of the latest run unless `runId`). */
  logs(taskId: string, options?: { runId?: string; mapIndex?: number }): Promise<string>;
  /** Closes the runtime and removes the temporary folder. */
  close(): Promise<void>;
}

export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

/**
 * The first frame of a (source-mapped) stack in `file`, else the first in a file under `workspace`
 * outside node_modules: where a task threw, in the user's code.
 */
export function errorLocation(stack: string, file: string, workspace?: string): SourceLocation | null {
  let fallback: SourceLocation | null = null;
  for (const line of stack.split('\n').slice(1)) {
    const m = /\(?((?:file:\/\/)?\/[^():]+):(\d+):(\d+)\)?\s*$/.exec(line);
    if (!m) continue;
    let f = m[1]!;
    if (f.startsWith('file://')) f = decodeURIComponent(new URL(f).pathname);
    const at = { file: f, line: Number(m[2]), column: Number(m[3]) };
    if (f === file) return at;
    if (
      !fallback &&
      workspace &&
      f.startsWith(workspace + '/') &&
      !f.includes('/node_modules/') &&
      !f.includes('/.hangar/')
    )
      fallback = at;
  }
  return fallback;
}

/** The program that runs one task test in a process of its own (bundled next to this module, or its TypeScript source). */
export function taskTestProgram(): string {
  for (const name of [
    './task-test.mjs',
    './testing/task-test-main.ts',
    './task-test-main.ts',
    '../testing/task-test-main.ts',
  ]) {
    const p = fileURLToPath(new URL(name, import.meta.url));
    if (existsSync(p)) return p;
  }
  throw new Error('Cannot find the Hangar task test program (task-test.mjs or task-test-main.ts)');
}

/** An error loading the DAG file: the messages carry file:line:column. */
export class DagTestLoadError extends Error {
  readonly errors: readonly { file: string; line: number | null; column: number | null; message: string }[];
  constructor(file: string, errors: DagTestLoadError['errors']) {
    super(`${file} failed to load:\n${errors.map((e) => `  ${e.message}`).join('\n')}`);
    this.name = 'DagTestLoadError';
    this.errors = errors;
  }
}

function workspaceOf(file: string): string {
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'hangar.json'))) return dir;
    if (dirname(dir) === dir) break;
  }
  const dir = dirname(file);
  return basename(dir) === 'dags' ? dirname(dir) : dir;
}

function dateOf(value: Date | string | undefined, what: string): Date | undefined {
  if (value === undefined) return undefined;
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime()))
    throw new Error(`hangar/testing: ${what} is not a valid date: ${JSON.stringify(value)}`);
  return d;
}

/** Opens a throwaway runtime on one DAG file (a path, relative to the current directory or absolute). */
export async function testDag(file: string, options: TestDagOptions = {}): Promise<DagTest> {
  if (typeof file !== 'string' || !file)
    throw new Error('hangar/testing: testDag needs the path of a DAG file');
  const abs = resolve(file);
  if (!existsSync(abs)) throw new Error(`hangar/testing: the DAG file ${abs} does not exist`);
  const workspace = resolve(options.workspace ?? workspaceOf(abs));
  const defaultDate = dateOf(options.date, 'date');
  const stateDir = mkdtempSync(join(tmpdir(), 'hangar-testing-'));
  let rt: Runtime;
  try {
    rt = await Runtime.open(workspace, {
      // Only the file's folder is parsed; the executor runs tasks in this process.
      config: { ...options.config, dagsFolder: dirname(abs), executor: 'in-process' },
      placement: { stateDir },
      clock: options.clock,
    });
  } catch (err) {
    rmSync(stateDir, { recursive: true, force: true });
    throw err;
  }
  const fail = async (err: Error): Promise<never> => {
    await rt.close();
    rmSync(stateDir, { recursive: true, force: true });
    throw err;
  };
  const bag = await rt.loadDags();
  const errors = bag.errors.filter((e) => e.file === abs);
  if (errors.length) return fail(new DagTestLoadError(abs, errors));
  const inFile = [...bag.dags.values()].filter((d) => d.fileloc === abs);
  if (!inFile.length) return fail(new Error(`hangar/testing: ${abs} defines no DAG`));
  let spec = inFile[0]!;
  if (options.dagId !== undefined) {
    const found = inFile.find((d) => d.id === options.dagId);
    if (!found)
      return fail(
        new Error(
          `hangar/testing: ${abs} defines no DAG "${options.dagId}" (it defines: ${inFile.map((d) => d.id).join(', ')})`,
        ),
      );
    spec = found;
  } else if (inFile.length > 1) {
    return fail(
      new Error(
        `hangar/testing: ${abs} defines several DAGs (${inFile.map((d) => d.id).join(', ')}); pass { dagId }`,
      ),
    );
  }
  const dagId = spec.id;
  let lastRunId: string | undefined;
  let closed = false;

  const live = () => {
    if (closed) throw new Error(`hangar/testing: the DagTest of "${dagId}" is closed`);
  };
  const taskOf = (taskId: string) => {
    if (typeof taskId !== 'string' || !spec.tasks.has(taskId)) {
      throw new Error(
        `hangar/testing: DAG "${dagId}" has no task ${JSON.stringify(taskId)} (tasks: ${[...spec.tasks.keys()].join(', ')})`,
      );
    }
    return taskId;
  };
  const runIdOf = (runId: string | undefined) => {
    const id = runId ?? lastRunId;
    if (!id)
      throw new Error(
        `hangar/testing: DAG "${dagId}" has not run yet (call runDag or runTask first, or pass runId)`,
      );
    return id;
  };
  const summary = async (run: DagRunRecord): Promise<TestRun> => {
    const states: Record<string, TaskState> = {};
    const errs: Record<string, string> = {};
    for (const ti of await rt.store.tasks.list(dagId, run.run_id)) {
      const k = ti.map_index >= 0 ? `${ti.task_id}[${ti.map_index}]` : ti.task_id;
      states[k] = ti.state;
      if (ti.error) errs[k] = ti.error;
    }
    return {
      runId: run.run_id,
      state: run.state as TestRun['state'],
      logicalDate: run.logical_date,
      states,
      errors: errs,
    };
  };
  const xcom = async (taskId: string, opts: XComOptions | string = {}): Promise<unknown> => {
    live();
    const o = typeof opts === 'string' ? { key: opts } : opts;
    const row = await rt.store.xcoms.get(
      dagId,
      runIdOf(o.runId),
      taskOf(taskId),
      o.key ?? RETURN_KEY,
      o.mapIndex ?? -1,
    );
    if (!row) return undefined;
    return rt.backend.deserialize(
      { dagId, runId: row.run_id, taskId: row.task_id, mapIndex: row.map_index, key: row.key },
      row.value,
    );
  };
  const logs = async (taskId: string, opts: { runId?: string; mapIndex?: number } = {}): Promise<string> => {
    live();
    const tries = await rt.store.tasks.listTries(
      dagId,
      runIdOf(opts.runId),
      taskOf(taskId),
      opts.mapIndex ?? -1,
    );
    const last = tries.sort((a, b) => a.try_number - b.try_number).at(-1);
    if (!last?.log_path || !existsSync(last.log_path)) return '';
    return readFileSync(last.log_path, 'utf8');
  };

  return {
    dagId,
    file: abs,
    taskIds: [...spec.tasks.keys()],
    stateDir,
    async runDag(opts = {}) {
      live();
      const run = await rt.runDag(dagId, {
        conf: opts.conf ?? options.conf,
        logicalDate: dateOf(opts.date, 'date') ?? defaultDate,
      });
      lastRunId = run.run_id;
      return summary(run);
    },
    async runTask(taskId, opts = {}) {
      live();
      taskOf(taskId);
      const seeds = Object.entries(opts.xcoms ?? {});
      for (const [upstream] of seeds) taskOf(upstream);
      const run = await rt.testTask(dagId, taskId, dateOf(opts.date, 'date') ?? defaultDate, undefined, {
        conf: opts.conf ?? options.conf,
        beforeRun: async (r) => {
          for (const [upstream, value] of seeds) {
            await pushXCom(
              {
                store: rt.store,
                backend: rt.backend,
                dag: spec,
                runId: r.run_id,
                taskId: upstream,
                mapIndex: -1,
              },
              RETURN_KEY,
              value,
            );
          }
        },
      });
      lastRunId = run.run_id;
      const s = await summary(run);
      const error = s.errors[taskId] ?? null;
      return {
        ...s,
        taskId,
        taskState: s.states[taskId] ?? null,
        error,
        errorAt: error ? errorLocation(error, abs, workspace) : null,
        value: await xcom(taskId),
        log: await logs(taskId),
      };
    },
    xcom,
    async expectXCom(taskId, expected, opts = {}) {
      const actual = await xcom(taskId, opts);
      const key = typeof opts === 'string' ? opts : (opts.key ?? RETURN_KEY);
      deepStrictEqual(
        actual,
        expected,
        `XCom "${key}" of task "${taskId}" (DAG "${dagId}", run "${runIdOf(typeof opts === 'string' ? undefined : opts.runId)}") is not the expected value`,
      );
    },
    logs,
    async close() {
      if (closed) return;
      closed = true;
      try {
        await rt.close();
      } finally {
        rmSync(stateDir, { recursive: true, force: true });
      }
    },
  };
}
