/**
 * The sync pipeline: health checks, then Source → Transformers → Destination
 * per data point, with the cursor moving only over data points the
 * destination committed (in order), and tear-down whatever happens.
 */
import { ChangedWhileReadError, HealthCheckError, SftpError, SyncError, errorMessage } from './errors.ts';
import type { SyncStateMachine } from './state.ts';
import { validatePipelineId } from './state.ts';
import { composeTransformers } from './transform.ts';
import type {
  Cursor,
  DataPoint,
  Destination,
  DestinationWrite,
  FileResult,
  Source,
  SyncLogger,
  SyncSummary,
  Transformer,
} from './types.ts';
import { compareCursor, isAfter } from './types.ts';

export interface SyncPipelineOptions {
  /** Names the cursor and manifest in the state store. */
  pipelineId: string;
  source: Source;
  destination: Destination;
  state: SyncStateMachine;
  transformers?: readonly Transformer[];
  /**
   * `cursor` (default): data points after the cursor (plus late arrivals with
   * the cursor's exact mtime). `manifest`: every source file is compared with
   * what this pipeline last synced (name, size, mtime), so files copied in with
   * an old mtime are not skipped.
   */
  mode?: 'cursor' | 'manifest';
  /** Delete destination files this pipeline synced whose source is gone (default false). */
  propagateDeletes?: boolean;
  /** Bytes per chunk read from the source (default 256 KiB). Transforms do not depend on it. */
  chunkSize?: number;
  /** Data points transferred at the same time (default 8). */
  concurrency?: number;
  /**
   * State writes are batched: data points the destination committed are
   * recorded (manifest, results, cursor) in one SQLite transaction once this
   * many are waiting (default 64) or {@link stateBatchMs} after the first one
   * waited (default 50 ms), and at the end of the run. A crash between two
   * batch commits re-sends at most the data points of the batch not yet
   * recorded (they are already in place at the destination, and are
   * overwritten with the same content); the cursor only ever moves over
   * recorded data points, in order, so none is skipped. 1 records each data
   * point in its own transaction.
   */
  stateBatchFiles?: number;
  /** See {@link stateBatchFiles} (default 50 ms). */
  stateBatchMs?: number;
  log?: SyncLogger;
  /** Skip the health checks (only when the caller ran them just before on the same connections). */
  skipHealthCheck?: boolean;
  /**
   * When the process exposes `gc` (node --expose-gc), run a young-generation
   * collection after this many bytes read (default 2 MiB; 0 disables). ssh2
   * allocates three to four buffers per byte moved and V8 frees them lazily
   * (about 120 MiB of extra RSS on a large transfer); a scavenge every few
   * MiB costs little and keeps the peak near 50 MiB above the baseline
   * (1 GiB through a worker: 128 MiB peak at 2 MiB, 148 MiB at 4 MiB).
   */
  gcEveryBytes?: number;
}

export interface HealthReport {
  source: string;
  destination: string;
  durationMs: number;
}

const silent: SyncLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

/** Errors that mean the connection itself is gone: stop scheduling more files. */
function isConnectionError(err: unknown): boolean {
  return err instanceof SftpError && (err.code === 'ECONNCLOSED' || err.code === 'ETIMEDOUT' || err.code === 'ECONNRESET');
}

function fmtCursor(c: Cursor | null): string {
  return c === null ? '(start)' : `(${new Date(c.mtimeMs).toISOString()}, ${c.id})`;
}

/**
 * Connects both sides, lists the source root, proves the destination can
 * write, then closes both. Throws {@link HealthCheckError} naming the side.
 */
export async function checkHealth(source: Source, destination: Destination, log: SyncLogger = silent): Promise<HealthReport> {
  const t0 = performance.now();
  try {
    await runHealthChecks(source, destination, log);
    return { source: source.description, destination: destination.description, durationMs: performance.now() - t0 };
  } finally {
    await Promise.all([source.close(), destination.close()]);
  }
}

async function runHealthChecks(source: Source, destination: Destination, log: SyncLogger): Promise<void> {
  const results = await Promise.allSettled([source.healthCheck(), destination.healthCheck()]);
  const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
  if (failures.length > 0) {
    for (const f of failures) log.error(errorMessage(f));
    const first = failures[0];
    if (failures.length === 1 && first instanceof HealthCheckError) throw first;
    throw new HealthCheckError(
      first instanceof HealthCheckError ? first.side : 'source',
      failures.map((f) => errorMessage(f)).join('; '),
      { cause: first },
    );
  }
  log.info(`health checks passed: source ${source.description}, destination ${destination.description}`);
}

async function* counting(input: AsyncIterable<Uint8Array>, onBytes: (n: number) => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of input) {
    onBytes(chunk.byteLength);
    yield chunk;
  }
}

/** Runs one sync: health checks, transfer, optional deletions; always closes both sides. */
export async function runSync(options: SyncPipelineOptions): Promise<SyncSummary> {
  const pipelineId = validatePipelineId(options.pipelineId);
  const { source, destination, state } = options;
  const log = options.log ?? silent;
  const mode = options.mode ?? 'cursor';
  if (mode !== 'cursor' && mode !== 'manifest') throw new SyncError(`sync pipeline "${pipelineId}": unknown mode "${String(mode)}"`);
  const chunkSize = options.chunkSize ?? 256 * 1024;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new SyncError(`sync pipeline "${pipelineId}": chunkSize must be a positive integer`);
  const concurrency = options.concurrency ?? 8;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new SyncError(`sync pipeline "${pipelineId}": concurrency must be a positive integer`);
  const stateBatchFiles = options.stateBatchFiles ?? 64;
  if (!Number.isInteger(stateBatchFiles) || stateBatchFiles < 1) {
    throw new SyncError(`sync pipeline "${pipelineId}": stateBatchFiles must be a positive integer`);
  }
  const stateBatchMs = options.stateBatchMs ?? 50;
  if (!Number.isFinite(stateBatchMs) || stateBatchMs < 0) {
    throw new SyncError(`sync pipeline "${pipelineId}": stateBatchMs must be a number of milliseconds >= 0`);
  }
  const transformers = options.transformers ?? [];
  const t0 = performance.now();

  try {
    if (!options.skipHealthCheck) await runHealthChecks(source, destination, log);
    const runId = await state.beginRun(pipelineId, mode);
    const summary: SyncSummary = {
      pipelineId,
      runId,
      mode,
      source: source.description,
      destination: destination.description,
      filesListed: 0,
      filesSynced: 0,
      filesSkipped: 0,
      filesFailed: 0,
      filesDeleted: 0,
      bytesRead: 0,
      bytesMoved: 0,
      durationMs: 0,
      cursorBefore: null,
      cursorAfter: null,
      failures: [],
    };
    try {
      await transfer();
      summary.durationMs = performance.now() - t0;
      await state.finishRun(runId, summary);
      log.info(
        `sync ${pipelineId}: ${summary.filesSynced} synced, ${summary.filesSkipped} skipped, ${summary.filesFailed} failed, ` +
          `${summary.filesDeleted} deleted, ${summary.bytesMoved} bytes moved in ${Math.round(summary.durationMs)} ms; cursor ${fmtCursor(summary.cursorAfter)}`,
      );
      return summary;
    } catch (err) {
      summary.durationMs = performance.now() - t0;
      await state.finishRun(runId, null, errorMessage(err));
      throw err;
    }

    async function transfer(): Promise<void> {
      const cursorBefore = await state.getCursor(pipelineId);
      summary.cursorBefore = cursorBefore;
      summary.cursorAfter = cursorBefore;
      const manifest = await state.getManifest(pipelineId);
      const fullListing = mode === 'manifest' || options.propagateDeletes === true;
      // Include the cursor's own mtime again: a file with the same mtime may have arrived late.
      const listAfter = cursorBefore === null ? null : { mtimeMs: cursorBefore.mtimeMs, id: '' };
      let listed: DataPoint[];
      try {
        listed = await source.list(fullListing ? null : listAfter);
      } catch (err) {
        throw new SyncError(`sync pipeline "${pipelineId}": cannot list source ${source.description}: ${errorMessage(err)}`, { cause: err });
      }
      summary.filesListed = listed.length;

      // done[i]: the data point needs no more work this run (skipped or committed).
      const done: boolean[] = new Array<boolean>(listed.length).fill(false);
      const work: number[] = [];
      for (let i = 0; i < listed.length; i++) {
        const p = listed[i]!;
        const m = manifest.get(p.id);
        const unchanged = m !== undefined && m.size === p.size && m.mtimeMs === p.mtimeMs;
        const beforeCursor = cursorBefore !== null && !isAfter(p, cursorBefore);
        if (unchanged || (mode === 'cursor' && beforeCursor && p.mtimeMs !== cursorBefore.mtimeMs)) {
          done[i] = true;
          summary.filesSkipped++;
        } else {
          work.push(i);
        }
      }
      log.info(
        `sync ${pipelineId} (${mode} mode): ${listed.length} listed after ${fmtCursor(fullListing ? null : cursorBefore)}, ` +
          `${work.length} to transfer from ${source.description} to ${destination.description}`,
      );

      // listed[0..prefix) are all done (skipped, or committed and recorded in
      // the state); a failed data point is never done, so the cursor stops before it.
      let prefix = 0;
      let persisted = cursorBefore;
      const cursorAt = (end: number): Cursor | null => {
        if (end === 0) return null;
        const p = listed[end - 1]!;
        const c = { mtimeMs: p.mtimeMs, id: p.id };
        if (persisted !== null && compareCursor(c, persisted) <= 0) return null;
        return c;
      };
      const donePrefix = (): number => {
        let end = prefix;
        while (end < listed.length && done[end]) end++;
        return end;
      };

      // Committed at the destination, not yet recorded in the state (see stateBatchFiles).
      interface Pending {
        index: number;
        result: FileResult;
        w: DestinationWrite;
      }
      let pending: Pending[] = [];
      let timer: ReturnType<typeof setTimeout> | null = null;
      const background = new Set<Promise<void>>();
      let fatal: unknown = null;

      /**
       * Records the pending batch (one transaction), then drops the backups of its files.
       * The batch is taken at once; its recording waits for the batches taken before it: a
       * batch's cursor covers them, so it is computed only once they are recorded (or, failed,
       * no longer done).
       */
      let flushing: Promise<unknown> | null = null;
      const flush = async (): Promise<void> => {
        if (timer !== null) {
          clearTimeout(timer);
          timer = null;
        }
        if (pending.length === 0) {
          await flushing;
          return;
        }
        const batch = pending;
        pending = [];
        const previous = flushing;
        const recorded = previous === null ? record(batch) : previous.then(() => record(batch));
        const tail: Promise<unknown> = recorded.catch(() => undefined);
        flushing = tail;
        void tail.then(() => {
          if (flushing === tail) flushing = null;
        });
        await recorded;
        await Promise.all(
          batch.map((b) =>
            b.w.release().catch((e: unknown) => log.warn(`could not remove the backup of "${b.result.id}": ${errorMessage(e)}`)),
          ),
        );
      };
      const record = async (batch: Pending[]): Promise<void> => {
        for (const b of batch) done[b.index] = true;
        const end = donePrefix();
        const cursor = cursorAt(end);
        try {
          await state.recordCommittedBatch(
            runId,
            pipelineId,
            batch.map((b) => ({ point: listed[b.index]!, result: b.result })),
            cursor,
          );
        } catch (err) {
          // The state did not move: put the destination back as it was.
          for (const b of batch) done[b.index] = false;
          await Promise.all(batch.map((b) => b.w.revert().catch(() => undefined)));
          const first = listed[batch[0]!.index]!.id;
          throw new SyncError(
            `sync pipeline "${pipelineId}": could not record ${batch.length} file(s) ("${first}"${batch.length > 1 ? ', …' : ''}) ` +
              `in the state store: ${errorMessage(err)}`,
            { cause: err },
          );
        }
        prefix = end;
        if (cursor !== null) {
          persisted = cursor;
          summary.cursorAfter = cursor;
        }
        for (const b of batch) {
          summary.filesSynced++;
          summary.bytesRead += b.result.bytesRead;
          summary.bytesMoved += b.result.bytesWritten;
        }
      };
      const flushLater = (): void => {
        if (timer !== null) return;
        timer = setTimeout(() => {
          timer = null;
          const p = flush().catch((err: unknown) => {
            fatal ??= err;
          });
          background.add(p);
          void p.finally(() => background.delete(p));
        }, stateBatchMs);
        timer.unref();
      };

      const gc = (globalThis as { gc?: (o?: { type?: string }) => void }).gc;
      const gcEvery = options.gcEveryBytes ?? 2 * 1024 * 1024;
      let sinceGc = 0;
      const onBytes = (n: number): void => {
        sinceGc += n;
        if (gc !== undefined && gcEvery > 0 && sinceGc >= gcEvery) {
          sinceGc = 0;
          gc({ type: 'minor' });
        }
      };
      // Read buffers go back to the source's pool when the next chunk is asked for: safe when nothing keeps them.
      const reuseBuffers = transformers.every((t) => t.dropsInput === true);

      let aborted: unknown = null;
      let nextWork = 0;
      const syncOne = async (index: number): Promise<void> => {
        const p = listed[index]!;
        const started = performance.now();
        let bytesRead = 0;
        let w: DestinationWrite | null = null;
        try {
          w = await destination.begin(p);
          const input = counting(p.read({ chunkSize, reuseBuffers }), (n) => {
            bytesRead += n;
            onBytes(n);
          });
          for await (const chunk of composeTransformers(transformers, input, p)) await w.write(chunk);
          await w.commit();
        } catch (err) {
          if (w !== null) {
            await w.revert().catch((e: unknown) => log.warn(`could not clean up after "${p.id}": ${errorMessage(e)}`));
          }
          const changed = err instanceof ChangedWhileReadError;
          const result: FileResult = {
            id: p.id,
            status: changed ? 'changed' : 'failed',
            size: p.size,
            mtimeMs: p.mtimeMs,
            bytesRead,
            bytesWritten: 0,
            durationMs: performance.now() - started,
            error: errorMessage(err),
          };
          summary.filesFailed++;
          if (summary.failures.length < 100) summary.failures.push({ id: p.id, status: result.status, error: result.error! });
          await state.recordFailure(runId, pipelineId, result);
          if (changed) log.warn(errorMessage(err));
          else log.error(`sync ${pipelineId}: "${p.id}" failed: ${errorMessage(err)}`);
          if (isConnectionError(err)) aborted ??= err;
          return;
        }
        const result: FileResult = {
          id: p.id,
          status: 'synced',
          size: p.size,
          mtimeMs: p.mtimeMs,
          bytesRead,
          bytesWritten: w.bytesWritten,
          durationMs: performance.now() - started,
        };
        pending.push({ index, result, w });
        if (pending.length >= stateBatchFiles) await flush();
        else flushLater();
      };

      const worker = async (): Promise<void> => {
        while (nextWork < work.length && aborted === null && fatal === null) {
          const index = work[nextWork++]!;
          try {
            await syncOne(index);
          } catch (err) {
            fatal ??= err;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, work.length)) }, worker));
      // Whatever stopped the workers, what the destination committed is recorded.
      try {
        await flush();
      } catch (err) {
        fatal ??= err;
      }
      while (background.size > 0) await Promise.all(background);
      if (fatal !== null) throw fatal;

      // Skipped data points after the last transfer still move the cursor.
      prefix = donePrefix();
      const tail = cursorAt(prefix);
      if (tail !== null) {
        await state.advanceCursor(pipelineId, tail);
        persisted = tail;
        summary.cursorAfter = tail;
      }
      if (aborted !== null) {
        throw new SyncError(
          `sync pipeline "${pipelineId}" stopped: ${errorMessage(aborted)}; ${summary.filesSynced} files committed, cursor at ${fmtCursor(summary.cursorAfter)}`,
          { cause: aborted },
        );
      }

      if (options.propagateDeletes === true) {
        const present = new Set(listed.map((p) => p.id));
        for (const [id, m] of manifest) {
          if (present.has(id)) continue;
          const started = performance.now();
          try {
            await destination.remove(id);
            await state.recordDeleted(runId, pipelineId, {
              id,
              status: 'deleted',
              size: m.size,
              mtimeMs: m.mtimeMs,
              bytesRead: 0,
              bytesWritten: 0,
              durationMs: performance.now() - started,
            });
            summary.filesDeleted++;
            log.info(`sync ${pipelineId}: deleted "${id}" at the destination (gone at the source)`);
          } catch (err) {
            summary.filesFailed++;
            const error = `could not delete "${id}" at the destination: ${errorMessage(err)}`;
            if (summary.failures.length < 100) summary.failures.push({ id, status: 'failed', error });
            await state.recordFailure(runId, pipelineId, {
              id,
              status: 'failed',
              size: m.size,
              mtimeMs: m.mtimeMs,
              bytesRead: 0,
              bytesWritten: 0,
              durationMs: performance.now() - started,
              error,
            });
            log.error(`sync ${pipelineId}: ${error}`);
          }
        }
      }
    }
  } finally {
    await Promise.all([source.close(), destination.close()]);
  }
}
