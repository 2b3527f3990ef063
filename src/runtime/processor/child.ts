/**
 * A DAG processor child: imports compiled DAG files sent by the processor, one at
 * a time, and answers each with its serialized DAGs and import errors. This is one
 * of the few processes that run user code at import; the processor kills it when a
 * file overruns its time or memory budget, exits it, or leaves work running.
 */
import { Worker } from 'node:worker_threads';
import { importBundle } from '../loader/index.ts';
import type { DagLoadError } from '../loader/index.ts';
import { serializeDag } from './serialized.ts';
import type { SerializedDag } from './serialized.ts';
import type { FromParser, ParseMessage, SlowImport, ToParser } from './protocol.ts';
import { watchImport } from './sampler.ts';
// Built-in operators register their implementations behind the public API.
import '../sensors/index.ts';
import '../sync/index.ts';

function send(msg: FromParser): void {
  process.send?.(msg);
}

/** Resources that outlive an import and mean the file started work: timers, sockets, servers, watchers. */
const WORK = /^(Timeout|Immediate|TCPSocketWrap|TCPServerWrap|TCPWrap|UDPWrap|PipeWrap|PipeServerWrap|FSEventWrap|StatWatcher|ProcessWrap|TTYWrap|SignalWrap|Worker|MessagePort|HTTPINCOMINGMESSAGE|HTTPCLIENTREQUEST|GetAddrInfoReqWrap|TLSWrap|ZLIB)$/;

function resourceCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) counts.set(r, (counts.get(r) ?? 0) + 1);
  return counts;
}

/** What a file wrote to stdout/stderr while it was imported: counted, the start kept, the rest dropped. */
let capture: { bytes: number; limit: number; head: string } | undefined;
for (const stream of [process.stdout, process.stderr]) {
  const original = stream.write.bind(stream);
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    const cb = rest.find((r) => typeof r === 'function') as ((err?: Error | null) => void) | undefined;
    if (capture) {
      const n = typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
      if (capture.head.length < 2048) capture.head += (typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8')).slice(0, 2048 - capture.head.length);
      capture.bytes += n;
      cb?.();
      return true;
    }
    return original(chunk as string, ...(rest as []));
  }) as typeof stream.write;
}

function mib(n: number): string {
  return `${(n / (1 << 20)).toFixed(1)} MiB`;
}

async function parse(msg: ParseMessage): Promise<void> {
  // The sampler (a worker thread, started on first use) is Hangar's, not the file's: started before the count.
  const watching = msg.budgetMs !== undefined ? await watchImport(msg.id, msg.bundle, msg.budgetMs) : undefined;
  const before = resourceCounts();
  capture = { bytes: 0, limit: msg.outputLimit, head: '' };
  const started = performance.now();
  let dags: SerializedDag[] = [];
  const errors: DagLoadError[] = [];
  try {
    const r = await importBundle(msg.file, msg.bundle, msg.inputs);
    errors.push(...r.errors);
    for (const d of r.dags) {
      try {
        dags.push(serializeDag(d));
      } catch (err) {
        errors.push({ file: msg.file, line: d.position?.line ?? null, column: d.position?.column ?? null, dagId: d.id, message: `${msg.file}: DAG "${d.id}" could not be serialized: ${(err as Error).message}` });
      }
    }
  } catch (err) {
    errors.push({ file: msg.file, line: null, column: null, message: `${msg.file}: ${(err as Error)?.message ?? String(err)}` });
  }
  const importMs = performance.now() - started;
  const slow: SlowImport | undefined = await watching?.();
  // Let callbacks queued by the import (a resolved promise, an immediate) show as the resources they hold.
  await new Promise((r) => setImmediate(r));
  const out = capture;
  capture = undefined;
  const after = resourceCounts();
  const leftovers: string[] = [];
  for (const [kind, n] of after) {
    const extra = n - (before.get(kind) ?? 0);
    if (extra > 0 && WORK.test(kind)) leftovers.push(`${kind} ×${extra}`);
  }
  if (leftovers.length) {
    errors.push({
      file: msg.file,
      line: null,
      column: null,
      message: `${msg.file}: left work running after it was imported (${leftovers.join(', ')}: a timer, socket or server started at top level). A DAG file is imported in every task's process; start such work inside a task`,
    });
  }
  if (out.bytes > msg.outputLimit) {
    const head = out.head.split('\n').slice(0, 3).join('\n').slice(0, 300);
    errors.push({
      file: msg.file,
      line: null,
      column: null,
      message: `${msg.file}: wrote ${mib(out.bytes)} to stdout/stderr while being imported (the limit is ${mib(msg.outputLimit)}; the rest was dropped). It began: ${JSON.stringify(head)}`,
    });
  }
  // A file that left work running or flooded its output is not loaded at all: it would do so in every worker.
  if (leftovers.length > 0 || out.bytes > msg.outputLimit) dags = [];
  send({ type: 'result', id: msg.id, dags, errors, importMs, leftovers, tainted: leftovers.length > 0 || errors.length > 0, ...(slow ? { slow } : {}) });
}

let queue = Promise.resolve();
process.on('message', (msg: ToParser) => {
  if (msg.type === 'ping') {
    send({ type: 'pong', resources: process.getActiveResourcesInfo() });
    return;
  }
  if (msg.type !== 'parse') return;
  queue = queue.then(() => parse(msg)).catch((err: unknown) => {
    send({ type: 'result', id: msg.id, dags: [], errors: [{ file: msg.file, line: null, column: null, message: `${msg.file}: ${(err as Error)?.message ?? String(err)}` }], importMs: 0, leftovers: [], tainted: true });
  });
});
// A file's stray rejection is its own problem; it must not kill the child between files.
process.on('unhandledRejection', () => undefined);
// The processor went away: nothing left to report to.
process.on('disconnect', () => process.exit(0));

// If the processor dies (even by SIGKILL) while a file spins at top level, the event loop never sees the
// disconnect: a watchdog thread notices the orphaning and ends the process.
new Worker(
  `const { workerData } = require('node:worker_threads');
   setInterval(() => {
     let gone = process.ppid !== workerData.ppid;
     if (!gone) { try { process.kill(workerData.ppid, 0); } catch { gone = true; } }
     if (gone) process.kill(workerData.pid, 'SIGKILL');
   }, 500);`,
  { eval: true, workerData: { ppid: process.ppid, pid: process.pid } },
).unref();

send({ type: 'ready', pid: process.pid });
