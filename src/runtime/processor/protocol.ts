/**
 * The IPC protocol between the DAG processor (in the CLI, scheduler or runtime
 * server) and its parse children (process.send over the fork channel). One file
 * at a time per child.
 */
import type { DagLoadError } from '../loader/index.ts';
import type { SerializedDag } from './serialized.ts';

/** processor → child: import this compiled file and serialize its DAGs. */
export interface ParseMessage {
  readonly type: 'parse';
  readonly id: number;
  readonly file: string;
  readonly bundle: string;
  readonly inputs: readonly string[];
  /** Bytes of stdout/stderr a file may write while it is imported. */
  readonly outputLimit: number;
}
/** processor → child: are you responsive? (asked when a parse is over its time budget) */
export interface PingMessage {
  readonly type: 'ping';
}
export type ToParser = ParseMessage | PingMessage;

/** child → processor: ready for files. */
export interface ParserReady {
  readonly type: 'ready';
  readonly pid: number;
}
/** child → processor: the event loop answers (so a parse past its budget is waiting, not spinning). */
export interface ParserPong {
  readonly type: 'pong';
  /** Active handles and requests (timers, sockets…) right now. */
  readonly resources: readonly string[];
}
/** child → processor: the file was imported (or failed to). */
export interface ParseResult {
  readonly type: 'result';
  readonly id: number;
  readonly dags: readonly SerializedDag[];
  readonly errors: readonly DagLoadError[];
  readonly importMs: number;
  /** Timers, sockets and other handles the file left open at import, by kind (e.g. `Timeout ×1`). */
  readonly leftovers: readonly string[];
  /** The child must not be reused (it ran something that may still be running). */
  readonly tainted: boolean;
}
export type FromParser = ParserReady | ParserPong | ParseResult;
