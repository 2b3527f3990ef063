import type { XComLocation } from './types.ts';

/** Machine-readable reason of an XComError, for the CLI and the XCom browser. */
export type XComErrorCode =
  | 'unserializable'
  | 'corrupt'
  | 'missing'
  | 'truncated'
  | 'checksum'
  | 'authentication'
  | 'no-key'
  | 'unsafe-path'
  | 'too-large'
  | 'unavailable'
  | 'unsupported'
  | 'config'
  | 'not-found';

/** Names an XCom in messages: `XCom "key" of task "t" (DAG "d", run "r", map index 2)`. */
export function describeXCom(loc: XComLocation): string {
  const map = loc.mapIndex >= 0 ? `, map index ${loc.mapIndex}` : '';
  return `XCom "${loc.key}" of task "${loc.taskId}" (DAG "${loc.dagId}", run "${loc.runId}"${map})`;
}

/** Every error raised by the XCom layer names the XCom it concerns. Messages never carry key material. */
export class XComError extends Error {
  readonly code: XComErrorCode;
  readonly loc: XComLocation | undefined;

  constructor(code: XComErrorCode, loc: XComLocation | undefined, message: string, options?: { cause?: unknown }) {
    super(loc ? `${describeXCom(loc)}: ${message}` : message, options);
    this.name = 'XComError';
    this.code = code;
    this.loc = loc;
  }
}
