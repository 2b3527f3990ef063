/**
 * The IPC protocol between the runtime and its worker processes (process.send
 * over the fork channel). One try at a time per worker.
 */
import type { CallbackRequest, CallbackResult, ExecuteRequest, ExecuteResult } from './types.ts';

/** runtime → worker: run this try. */
export interface RunMessage {
  readonly type: 'run';
  readonly id: number;
  readonly req: ExecuteRequest;
}

/** runtime → worker: run this callback of the DAG's code. */
export interface CallbackMessage {
  readonly type: 'callback';
  readonly id: number;
  readonly req: CallbackRequest;
}

/** worker → runtime: the worker is ready for tries. */
export interface ReadyMessage {
  readonly type: 'ready';
  readonly pid: number;
}
/** worker → runtime: a line was written to the try's log. */
export interface LogMessage {
  readonly type: 'log';
  readonly id: number;
  readonly line: string;
}
/** worker → runtime: the try ended. */
export interface ResultMessage {
  readonly type: 'result';
  readonly id: number;
  readonly result: ExecuteResult;
}

/** worker → runtime: the callback ended. */
export interface CallbackResultMessage {
  readonly type: 'callback-result';
  readonly id: number;
  readonly result: CallbackResult;
}

export type ToWorker = RunMessage | CallbackMessage;
export type FromWorker = ReadyMessage | LogMessage | ResultMessage | CallbackResultMessage;
