/** The boundary between the scheduler and whatever runs a task try. Everything here is plain JSON. */
import type { DagRunRecord } from '../store/records.ts';

/**
 * What a try needs of its run (fixed once the run exists): sent with the try, so that the
 * process running it does not read the run back from the store.
 */
export type TryRun = Pick<
  DagRunRecord,
  'run_id' | 'run_type' | 'logical_date' | 'data_interval_start' | 'data_interval_end' | 'conf'
>;

/** The fields of a run a try is given (TryRun), from a run record. */
export function tryRunOf(run: TryRun): TryRun {
  const { run_id, run_type, logical_date, data_interval_start, data_interval_end, conf } = run;
  return { run_id, run_type, logical_date, data_interval_start, data_interval_end, conf };
}

export interface ExecuteRequest {
  readonly workspace: string;
  readonly dagFile: string;
  /** The compiled module the DAG was parsed from: the try imports exactly this. */
  readonly bundle: string;
  /** sha256 of the bundle: what a worker on another machine fetches and checks. */
  readonly bundleHash: string;
  /** The distributed executor's queue of the task (`default` unless the task says). */
  readonly queue: string;
  readonly dagId: string;
  readonly runId: string;
  /** The run's fixed fields (its id is `runId`). */
  readonly run: TryRun;
  readonly taskId: string;
  readonly mapIndex: number;
  readonly tryNumber: number;
  readonly maxTries: number;
  readonly logPath: string;
  readonly timeoutMs: number | undefined;
}

export type ExecuteResult =
  | {
      readonly ok: true;
      /** For branch tasks: the task ids to follow. */
      readonly follow?: readonly string[];
      /** For short-circuit tasks: whether downstream may run. */
      readonly proceed?: boolean;
      /** For sensors in reschedule mode: not done yet; free the slot and run again at this time (ISO 8601). */
      readonly reschedule?: { readonly at: string };
      /** The body asked to be skipped (skipTask): the reason. */
      readonly skipped?: string;
      /** The extra of the asset events its success records, by URI (ctx.outletEvents(asset).extra). */
      readonly assetExtra?: Readonly<Record<string, Record<string, unknown>>>;
      /** The pid that ran the try. */
      readonly pid: number;
      /** The machine that ran it, when not this one (distributed executor). */
      readonly hostname?: string;
    }
  | {
      readonly ok: false;
      readonly error: string;
      readonly timedOut?: boolean;
      /** The try's process died (exit code or signal in the message). */
      readonly crashed?: boolean;
      /** The body asked not to be retried (failWithoutRetry). */
      readonly noRetry?: boolean;
      /** The store could not be written under the try (its disk full or read-only): the run stops, the try is not recorded. */
      readonly storeUnwritable?: boolean;
      readonly pid: number;
      readonly hostname?: string;
    };

/**
 * A callback of user code that the scheduler wants run (a task's onSuccess/onFailure/onRetry, a DAG's
 * onSuccess/onFailure, a sensor's onSlaMiss): it runs where tasks run, never in the scheduler.
 */
export interface CallbackRequest {
  readonly workspace: string;
  readonly dagFile: string;
  readonly bundle: string;
  readonly bundleHash: string;
  readonly dagId: string;
  /** The task whose callback it is; absent for a DAG's own callbacks. */
  readonly taskId?: string;
  readonly name: 'onSuccess' | 'onFailure' | 'onRetry' | 'onSlaMiss';
  /** What the callback receives (TaskCallbackContext, DagCallbackContext or SlaMissEvent). */
  readonly context: Readonly<Record<string, unknown>>;
  readonly timeoutMs: number;
  /** The log of the try the callback is about: what the callback prints (and its failure) goes there. */
  readonly logPath?: string;
}

export type CallbackResult = { readonly ok: true } | { readonly ok: false; readonly error: string };

export interface TaskExecutor {
  readonly name: string;
  /** Runs a callback of the DAG's code; resolves when it has ended. Never rejects. */
  callback(req: CallbackRequest): Promise<CallbackResult>;
  /**
   * Runs one try; resolves when it has ended, however it ended. Never rejects.
   * `onStarted` tells the pid of the process that runs it, once it runs.
   */
  execute(
    req: ExecuteRequest,
    signal?: AbortSignal,
    /** `recorded`: the executor has written the start to the store itself (a remote worker does). */
    onStarted?: (pid: number, hostname?: string, recorded?: boolean) => void,
  ): Promise<ExecuteResult>;
  /**
   * Whether a try that another runtime handed to this executor (and then stopped) can be
   * followed to its end here instead of being failed (Airflow's executor.try_adopt_task_instances):
   * true for the distributed executor when the try's worker is alive or it has ended. `execute()`
   * of such a try then waits for it rather than starting it again.
   */
  adoptable?(key: { dag_id: string; run_id: string; task_id: string; map_index: number; try_number: number }): Promise<boolean>;
  /**
   * Called inside the transaction that claims tries (before `execute` of each), with the tries a
   * turn claimed: what the executor records of them in the store goes in that commit, not a
   * round trip of its own. The distributed executor records the tries as handed to its queue.
   */
  claimed?(tries: readonly { key: { dag_id: string; run_id: string; task_id: string; map_index: number; try_number: number }; queue: string }[], bundleHash: string): Promise<void>;
  /** Where a try's log is kept, when not in the runtime's own logs folder (an s3:// URL for the distributed executor). */
  logPathFor?(dagId: string, runId: string, taskId: string, mapIndex: number, tryNumber: number): string;
  close(): Promise<void>;
}
