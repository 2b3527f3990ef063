/**
 * `hangar logs RUN TASK --follow`: a task's log as it grows, try after try, until the task
 * instance has ended (as `tail -f`, `kubectl logs -f`). A log file on this machine is read from
 * where the last read stopped; a log kept in S3 (the distributed executor uploads it every
 * second while it grows) is fetched again and printed from where it stopped.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { readTryLog } from '../distributed/remote.ts';
import { tryLogPath } from '../executor/logger.ts';
import type { Runtime } from '../runtime.ts';
import { FINISHED_STATES } from '../store/records.ts';
import { NotFoundError } from './common.ts';

export interface FollowTarget {
  readonly dagId: string;
  readonly runId: string;
  readonly taskId: string;
  readonly mapIndex: number;
  /** One try only; otherwise the latest try, then the ones after it. */
  readonly tryNumber?: number;
}

export interface FollowOutput {
  /** Complete log lines (without their newline). */
  readonly line: (text: string) => void;
  /** What is not log content: a try starting, waiting, the end. */
  readonly note: (text: string) => void;
}

/** How one try's log is read bit by bit. */
class TryReader {
  private offset = 0;
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';
  readonly remote: boolean;
  private readonly rt: Runtime;
  private readonly path: string;
  private readonly out: FollowOutput;

  constructor(rt: Runtime, path: string, out: FollowOutput) {
    this.rt = rt;
    this.path = path;
    this.out = out;
    this.remote = path.startsWith('s3://');
  }

  /** Prints the complete lines added since the last read. */
  async poll(): Promise<void> {
    let added: string;
    if (this.remote) {
      const text = (await readTryLog(this.rt.config, this.path)) ?? '';
      added = text.slice(this.offset);
      this.offset = Math.max(this.offset, text.length);
    } else {
      let fd: number;
      try {
        fd = openSync(this.path, 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // not written yet
        throw err;
      }
      try {
        const size = fstatSync(fd).size;
        if (size <= this.offset) return;
        const buf = Buffer.alloc(size - this.offset);
        const n = readSync(fd, buf, 0, buf.length, this.offset);
        this.offset += n;
        added = this.decoder.write(buf.subarray(0, n));
      } finally {
        closeSync(fd);
      }
    }
    this.pending += added;
    const end = this.pending.lastIndexOf('\n');
    if (end < 0) return;
    for (const l of this.pending.slice(0, end).split('\n')) this.out.line(l);
    this.pending = this.pending.slice(end + 1);
  }

  /** The rest of the log, the last line too when it has no newline. */
  async finish(): Promise<void> {
    await this.poll();
    const rest = this.pending + (this.remote ? '' : this.decoder.end());
    this.pending = '';
    if (rest) this.out.line(rest);
  }
}

/** Follows a task instance's log until it has ended; resolves with its last state. */
export async function followTaskLog(
  rt: Runtime,
  target: FollowTarget,
  out: FollowOutput,
  options: { pollMs?: number; signal?: AbortSignal } = {},
): Promise<string> {
  const { dagId, runId, taskId, mapIndex } = target;
  const what = `"${taskId}"${mapIndex >= 0 ? `[${mapIndex}]` : ''} of run "${runId}"`;
  let reader: TryReader | undefined;
  let current = 0;
  let waitingSaid = false;
  const open = async (tryNumber: number) => {
    const record = (await rt.store.tasks.listTries(dagId, runId, taskId, mapIndex)).find(
      (t) => t.try_number === tryNumber,
    );
    const path = record?.log_path ?? tryLogPath(rt.config.logsDir, dagId, runId, taskId, mapIndex, tryNumber);
    current = tryNumber;
    reader = new TryReader(rt, path, out);
  };
  for (;;) {
    if (options.signal?.aborted) throw options.signal.reason;
    const ti = await rt.store.tasks.get(dagId, runId, taskId, mapIndex);
    if (!ti) throw new NotFoundError(`Run "${runId}" has no task ${what}`);
    const wanted = target.tryNumber ?? ti.try_number;
    if (wanted > ti.try_number || wanted === 0) {
      if (!waitingSaid)
        out.note(
          `waiting for ${target.tryNumber ? `try ${target.tryNumber}` : 'the first try'} of ${what} to start…`,
        );
      waitingSaid = true;
    } else {
      if (reader && wanted > current) {
        await reader.finish(); // the try before it has ended: its last lines
        reader = undefined;
      }
      if (!reader) {
        await open(wanted);
        out.note(`— try ${wanted} of ${ti.max_tries} —`);
      }
      await reader!.poll();
    }
    // Done once the followed try (or, without --try, the task instance) has ended.
    const tries = await rt.store.tasks.listTries(dagId, runId, taskId, mapIndex);
    const record = tries.find((t) => t.try_number === current);
    const tryOver = record !== undefined && record.state !== 'running' && record.state !== 'queued';
    const tiOver = ti.state !== null && FINISHED_STATES.has(ti.state);
    if (
      target.tryNumber !== undefined
        ? reader && tryOver
        : tiOver && (current === ti.try_number || ti.try_number === 0)
    ) {
      await reader?.finish();
      const end = target.tryNumber !== undefined ? (record?.state ?? 'ended') : ti.state!;
      out.note(`${what} ${target.tryNumber !== undefined ? `try ${current} ` : ''}ended: ${end}`);
      return end;
    }
    await new Promise((r) => setTimeout(r, options.pollMs ?? (reader?.remote ? 1000 : 250)));
  }
}
