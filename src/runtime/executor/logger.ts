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

/** A task try's log file. Lines are written synchronously so a crash loses nothing already logged. */
export class TryLog implements Logger {
  readonly path: string;
  private fd: number | undefined;
  private readonly onLine: ((line: string) => void) | undefined;

  constructor(path: string, onLine?: (line: string) => void) {
    this.path = path;
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(path, 'a');
    this.onLine = onLine;
  }

  write(level: LogLevel, text: string): void {
    const line = `[${new Date().toISOString()}] ${level} - ${maskSecrets(text)}\n`;
    if (this.fd !== undefined) writeSync(this.fd, line);
    this.onLine?.(line);
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
    if (this.fd !== undefined) {
      closeSync(this.fd);
      this.fd = undefined;
    }
  }
}
