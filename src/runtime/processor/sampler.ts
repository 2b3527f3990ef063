/**
 * Where a slow import is: the parse child's sampler. When a file's import runs past the parse
 * budget, a worker thread of the child attaches the inspector to the child's main thread
 * (`Session.connectToMainThread`), pauses it (`Debugger.pause` is delivered as an interrupt, so it
 * stops even a busy loop), notes the innermost frame of the compiled module's top level and
 * resumes it; once at the budget and every 250 ms after, until the import ends. The main thread then
 * maps those positions through the bundle's source map to the top-level statement of the source.
 * Nothing is attached for an import that ends within its budget.
 */
import { findSourceMap } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { SlowImport, SlowStatement } from './protocol.ts';

/** The worker's code (plain CommonJS, evaluated: the bundled child has no file of its own for it). */
const SAMPLER = String.raw`
const { Session } = require('node:inspector');
const { parentPort } = require('node:worker_threads');
let session, enabled = false, current;
const urls = new Map();
function post(method, params) {
  return new Promise((resolve) => session.post(method, params, (err, res) => resolve(err ? undefined : res)));
}
function attach() {
  if (session) return;
  // Connected while the main thread is idle (now, at the worker's start): connecting waits for it.
  session = new Session();
  session.connectToMainThread();
  session.on('Debugger.scriptParsed', (e) => urls.set(e.params.scriptId, e.params.url));
  session.on('Debugger.paused', (e) => {
    const job = current;
    if (job) {
      // The outermost frame of the bundle is its module's top level.
      const frames = e.params.callFrames.filter((f) => (f.url || urls.get(f.location.scriptId)) === job.url);
      const top = frames[frames.length - 1];
      if (top) job.positions.push({ line: top.location.lineNumber, column: top.location.columnNumber });
      job.samples++;
    }
    session.post('Debugger.resume');
  });
}
attach();
parentPort.postMessage({ type: 'ready' });
async function sample(job) {
  if (job !== current) return;
  if (!enabled) { enabled = true; await post('Debugger.enable'); }
  if (job !== current) return;
  await post('Debugger.pause');
}
parentPort.on('message', async (msg) => {
  if (msg.type === 'start') {
    const job = { id: msg.id, url: msg.url, samples: 0, positions: [], timers: [] };
    current = job;
    job.timers.push(setTimeout(() => {
      void sample(job);
      job.timers.push(setInterval(() => void sample(job), 250));
    }, msg.budgetMs));
  } else if (msg.type === 'stop') {
    const job = current;
    current = undefined;
    if (job) for (const t of job.timers) clearTimeout(t), clearInterval(t);
    if (enabled) { enabled = false; await post('Debugger.disable'); }
    parentPort.postMessage({ id: msg.id, samples: job && job.id === msg.id ? job.samples : 0, positions: job && job.id === msg.id ? job.positions : [] });
  }
});
`;

interface Reply {
  readonly id: number;
  readonly samples: number;
  readonly positions: readonly { line: number; column: number }[];
}

let worker: Promise<Worker> | undefined;
const waiting = new Map<number, (r: Reply) => void>();

/** The sampler thread, once its inspector session is connected to this (then idle) thread. */
function samplerWorker(): Promise<Worker> {
  worker ??= new Promise((resolve, reject) => {
    const w = new Worker(SAMPLER, { eval: true });
    w.unref();
    w.once('error', reject);
    w.on('message', (r: Reply | { type: 'ready' }) => {
      if ('type' in r) return resolve(w);
      waiting.get(r.id)?.(r);
      waiting.delete(r.id);
    });
  });
  return worker;
}

/** Starts watching an import of `bundle`; the returned function ends it and says where a slow one was. */
export async function watchImport(
  id: number,
  bundle: string,
  budgetMs: number,
): Promise<() => Promise<SlowImport | undefined>> {
  const url = pathToFileURL(bundle).href;
  const w = await samplerWorker();
  w.postMessage({ type: 'start', id, url, budgetMs });
  return async () => {
    const reply = await new Promise<Reply>((resolve) => {
      waiting.set(id, resolve);
      w.postMessage({ type: 'stop', id });
    });
    if (reply.samples === 0) return undefined;
    return { samples: reply.samples, statement: topStatement(url, reply.positions) };
  };
}

/** The top-level statement most samples were in, in source terms. */
function topStatement(
  url: string,
  positions: readonly { line: number; column: number }[],
): SlowStatement | null {
  const map = findSourceMap(url) ?? findSourceMap(fileURLToPath(url));
  const counts = new Map<string, { statement: Omit<SlowStatement, 'hits'>; hits: number }>();
  for (const p of positions) {
    const s = statementAt(map, url, p.line, p.column);
    if (!s) continue;
    const key = `${s.file}:${s.line}`;
    const c = counts.get(key);
    if (c) c.hits++;
    else counts.set(key, { statement: s, hits: 1 });
  }
  let best: { statement: Omit<SlowStatement, 'hits'>; hits: number } | undefined;
  for (const c of counts.values()) if (!best || c.hits > best.hits) best = c;
  return best ? { ...best.statement, hits: best.hits } : null;
}

/**
 * Maps a 0-based position of the bundle to the source, and walks up to the line its top-level
 * statement starts at: the nearest line at or above it that starts in column 0 with something other
 * than a closing bracket or a continuation (top-level statements start at column 0 in formatted code).
 */
function statementAt(
  map: ReturnType<typeof findSourceMap>,
  url: string,
  line: number,
  column: number,
): Omit<SlowStatement, 'hits'> | undefined {
  if (!map) return undefined;
  const entry = map.findEntry(line, column) as {
    originalSource?: string;
    originalLine?: number;
    originalColumn?: number;
  };
  if (entry.originalSource === undefined || entry.originalLine === undefined) return undefined;
  const payload = map.payload as { sources?: string[]; sourcesContent?: (string | null)[] };
  const index = (payload.sources ?? []).findIndex(
    (s) => new URL(s, url).href === entry.originalSource || s === entry.originalSource,
  );
  const content = index >= 0 ? payload.sourcesContent?.[index] : undefined;
  const file = entry.originalSource.startsWith('file:')
    ? fileURLToPath(entry.originalSource)
    : entry.originalSource;
  const atLine = entry.originalLine + 1;
  const atColumn = (entry.originalColumn ?? 0) + 1;
  if (!content) return { file, line: atLine, text: '', atLine, atColumn };
  const lines = content.split('\n');
  let start = entry.originalLine;
  while (start > 0 && !/^[^\s})\].,?:|&+\-*/]/.test(lines[start] ?? '')) start--;
  return { file, line: start + 1, text: (lines[start] ?? '').trim().slice(0, 120), atLine, atColumn };
}
