/**
 * The runtime server: started by the VS Code extension as a child process,
 * speaking JSON-RPC (vscode-jsonrpc) over stdin/stdout; see src/protocol/runtime.ts.
 * stdout belongs to the protocol: anything else written to it goes to stderr
 * (the extension shows stderr in its "Hangar Runtime" log).
 */
import { Writable } from 'node:stream';
import { createMessageConnection, ResponseError, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node.js';
import { INVALID_PARAMS, NOT_FOUND } from '../../protocol/runtime.ts';
import { NotFoundError, RuntimeService } from './service.ts';
import { InvalidParamsError } from './validate.ts';

const METHODS = [
  'runtime/initialize',
  'dag/list',
  'dag/parseBuffer',
  'dag/run',
  'dag/backfill',
  'dag/pause',
  'scheduler/set',
  'run/list',
  'run/cancel',
  'run/resume',
  'task/list',
  'task/run',
  'task/test',
  'task/render',
  'task/tries',
  'task/log',
  'task/clear',
  'task/mark',
  'xcom/list',
  'variable/list',
  'secrets/set',
  'xcom/rotate',
  'xcom/query',
  'xcom/facets',
  'xcom/read',
  'xcom/readText',
  'xcom/readRaw',
  'xcom/delete',
  'xcom/clearRun',
  'xcom/sweep',
  'sensor/instances',
  'sensor/detail',
  'bench/xcom',
  'bench/cancel',
  'grid/data',
  'gantt/data',
] as const;

// The protocol goes through Node's own stdout stream (a pipe from the extension: it waits when the pipe is
// full). An fs.WriteStream on fd 1 failed on a large response (EAGAIN on the non-blocking pipe, e.g. xcom/readText
// of a few hundred KB), closed fd 1, and the runtime exited.
const stdoutWrite = process.stdout.write.bind(process.stdout) as (chunk: Uint8Array | string, done: (err?: Error | null) => void) => boolean;
const rpcOut = new Writable({
  write(chunk: Buffer, _encoding, done) {
    stdoutWrite(chunk, done);
  },
});
// Keep stray writes (libraries, console.log outside a task) off the protocol stream.
process.stdout.write = process.stderr.write.bind(process.stderr) as typeof process.stdout.write;
console.log = console.error;
console.info = console.error;

const connection = createMessageConnection(new StreamMessageReader(process.stdin), new StreamMessageWriter(rpcOut));
const service = new RuntimeService((method, params) => {
  void connection.sendNotification(method, params);
});

function toResponseError(err: unknown): ResponseError<void> {
  if (err instanceof InvalidParamsError) return new ResponseError(INVALID_PARAMS, err.message);
  if (err instanceof NotFoundError) return new ResponseError(NOT_FOUND, err.message);
  return new ResponseError(-32603, err instanceof Error ? err.message : String(err));
}

for (const method of METHODS) {
  connection.onRequest(method, async (params: unknown, token) => {
    try {
      return (await service.handle(method, params, token)) ?? null;
    } catch (err) {
      throw toResponseError(err);
    }
  });
}

let exiting = false;
async function exit(code: number): Promise<void> {
  if (exiting) return;
  exiting = true;
  await service.shutdown().catch((err: unknown) => process.stderr.write(`hangar runtime: shutdown failed: ${(err as Error).message}\n`));
  // Let the last responses (e.g. to runtime/shutdown) reach the client before exiting.
  await new Promise<void>((done) => {
    const timer = setTimeout(done, 1000);
    rpcOut.end(() => {
      clearTimeout(timer);
      done();
    });
  });
  process.exit(code);
}

connection.onRequest('runtime/shutdown', async () => {
  await service.shutdown();
  setTimeout(() => void exit(0), 10);
  return null;
});
connection.onClose(() => void exit(0));
process.on('SIGTERM', () => void exit(0));
process.on('uncaughtException', (err) => process.stderr.write(`hangar runtime: uncaught ${err.stack ?? err.message}\n`));
process.on('unhandledRejection', (err) => process.stderr.write(`hangar runtime: unhandled rejection ${(err as Error)?.stack ?? String(err)}\n`));
connection.listen();
process.stderr.write(`hangar runtime: listening (pid ${process.pid}, node ${process.version})\n`);
