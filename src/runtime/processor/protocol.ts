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
  /**
   * The parse budget (ms): an import still running after it is sampled (where the module's top level
   * is, through the inspector) until it ends, and the result says which statement it was in.
   */
  readonly budgetMs?: number;
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
  /** Where the import was when it ran past its parse budget (absent: within it, or no budget asked). */
  readonly slow?: SlowImport;
}

/** What the parse child saw of an import that ran past its parse budget. */
export interface SlowImport {
  /** Samples taken (one at the budget, then one every 250 ms until the import ended). */
  readonly samples: number;
  /** The top-level statement most samples were in (null: none was in the file's module, e.g. it was awaiting). */
  readonly statement: SlowStatement | null;
}
export interface SlowStatement {
  /** The source file (the DAG file, or a workspace module it bundles) and the 1-based line the statement starts at. */
  readonly file: string;
  readonly line: number;
  /** The statement's first line, trimmed (at most 120 characters). */
  readonly text: string;
  /** 1-based line and column the top level was running at (a call inside the statement, say). */
  readonly atLine: number;
  readonly atColumn: number;
  /** How many of the samples were in it. */
  readonly hits: number;
}
export type FromParser = ParserReady | ParserPong | ParseResult;
