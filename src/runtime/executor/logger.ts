import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { inspect } from 'node:util';
import type { Logger } from '../dag/types.ts';

/** Values never written in clear to a log (connection passwords, keys…). */
const secrets = new Set<string>();

export function registerSecret(value: string | undefined): void {
  if (value && value.length >= 3) secrets.add(value);
}

export function maskSecrets(text: string): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join('***');
  return out;
}

export function formatArgs(message: unknown, args: unknown[]): string {
  const head = typeof message === 'string' ? message : inspect(message, { depth: 4, breakLength: Infinity });
  if (args.length === 0) return head;
  return [head, ...args.map((a) => (typeof a === 'string' ? a : inspect(a, { depth: 4, breakLength: Infinity })))].join(' ');
}

/** Keeps run ids and other names usable as single path segments on every OS. */
export function safeSegment(s: string): string {
  return s.replace(/[^A-Za-z0-9_.+=-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Airflow's log layout: dag_id=…/run_id=…/task_id=…/[map_index=…/]attempt=N.log */
export function tryLogPath(logsDir: string, dagId: string, runId: string, taskId: string, mapIndex: number, tryNumber: number): string {
  const parts = [logsDir, `dag_id=${dagId}`, `run_id=${safeSegment(runId)}`, `task_id=${taskId}`];
  if (mapIndex >= 0) parts.push(`map_index=${mapIndex}`);
  parts.push(`attempt=${tryNumber}.log`);
  return join(...parts);
}

export type LogLevel = 'DEBUG' | 'INFO' | 'WARNING' | 'ERROR';

const knownDirs = new Set<string>();

/** mkdir -p, remembering what exists: a run of 10,000 tasks must not stat its log tree 10,000 times. */
export function ensureDir(dir: string): void {
  if (knownDirs.has(dir)) return;
  const parent = dirname(dir);
  if (knownDirs.has(parent)) {
    try {
      mkdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  } else {
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      // A recursive mkdir can report ENOENT for the leaf when an ancestor cannot be made (EROFS,
      // ENOSPC, EACCES): make them one by one, so the error says why and where.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') mkdirEach(dir);
      throw err;
    }
  }
  if (knownDirs.size > 50_000) knownDirs.clear();
  knownDirs.add(dir);
}

function mkdirEach(dir: string): void {
  const parent = dirname(dir);
  if (parent !== dir) mkdirEach(parent);
  try {
    mkdirSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
}

/**
 * A task try's log file. Lines are written synchronously so a crash loses
 * nothing already logged. The file is created on the first line the task itself
 * writes (with the try's header before it), so a try that prints nothing costs
 * no file; its outcome is in the store either way.
 */
export class TryLog implements Logger {
  readonly path: string;
  private fd: number | undefined;
  private closed = false;
  /**
   * Why the file could not be written (a full disk, a read-only folder), once it could not: the
   * task's code is not interrupted by it (a console.log does not throw), and the try fails with
   * this reason when its body has returned (task-runner.ts).
   */
  failure: string | undefined;
  private readonly header: string[] = [];
  private readonly onLine: ((line: string) => void) | undefined;

  constructor(path: string, onLine?: (line: string) => void) {
    this.path = path;
    this.onLine = onLine;
  }

  /** Whether anything was written to the file. */
  get created(): boolean {
    return this.fd !== undefined;
  }

  private line(level: LogLevel, text: string): string {
    return `[${new Date().toISOString()}] ${level} - ${maskSecrets(text)}\n`;
  }

  /** A line about the try (start, outcome): kept, and written only if the file exists or will. */
  meta(level: LogLevel, text: string): void {
    const line = this.line(level, text);
    if (this.fd !== undefined) this.guard(() => writeSync(this.fd!, line));
    else if (!this.closed) this.header.push(line);
    this.onLine?.(line);
  }

  write(level: LogLevel, text: string): void {
    const line = this.line(level, text);
    if (this.fd === undefined && !this.closed && this.failure === undefined) {
      this.guard(() => {
        ensureDir(dirname(this.path));
        this.fd = openSync(this.path, 'a');
        if (this.header.length) writeSync(this.fd, this.header.splice(0).join(''));
      });
    }
    if (this.fd !== undefined) this.guard(() => writeSync(this.fd!, line));
    this.onLine?.(line);
  }

  /** A write to the file; the first that fails is kept in `failure` and the file is given up. */
  private guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.failure ??= `its log file ${this.path} cannot be written (${(err as Error).message})`;
      if (this.fd !== undefined) {
        try {
          closeSync(this.fd);
        } catch {
          // already failing
        }
        this.fd = undefined;
      }
    }
  }

  debug(message: string, ...args: unknown[]): void {
    this.write('DEBUG', formatArgs(message, args));
  }
  info(message: string, ...args: unknown[]): void {
    this.write('INFO', formatArgs(message, args));
  }
  warn(message: string, ...args: unknown[]): void {
    this.write('WARNING', formatArgs(message, args));
  }
  error(message: string, ...args: unknown[]): void {
    this.write('ERROR', formatArgs(message, args));
  }

  close(): void {
    this.closed = true;
    if (this.fd !== undefined) this.guard(() => closeSync(this.fd!));
    this.fd = undefined;
  }
}
