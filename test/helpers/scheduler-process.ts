/**
 * Test harness: `hangar scheduler` (or any long-running verb) as a real process (the bundled CLI), with its output
 * kept line by line so that a test can wait for what it says.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { HANGAR_BIN } from './cli.ts';

export interface SchedulerProcess {
  readonly child: ChildProcess;
  /** Every line it printed so far (stdout and stderr). */
  readonly lines: string[];
  /** The first line matching `re`, printed already or within `timeoutMs`. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  readonly exited: Promise<number | null>;
}

export function startScheduler(root: string, env: NodeJS.ProcessEnv = {}): SchedulerProcess {
  return startHangar(['scheduler', '--workspace', root], env);
}

/** Any long-running `hangar` verb (scheduler, worker, run) as a real process, its output kept line by line. */
export function startHangar(args: string[], env: NodeJS.ProcessEnv = {}): SchedulerProcess {
  const child = spawn(process.execPath, [HANGAR_BIN, ...args], {
    env: { ...process.env, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  let buf = '';
  const onData = (chunk: Buffer) => {
    buf += chunk.toString('utf8');
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      lines.push(line);
      for (const w of [...waiters]) {
        if (!w.re.test(line)) continue;
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    child,
    lines,
    exited,
    waitFor(re, timeoutMs = 60_000) {
      const seen = lines.find((l) => re.test(l));
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no line matching ${re} within ${timeoutMs} ms:\n${lines.join('\n')}`)),
          timeoutMs,
        );
        waiters.push({ re, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      });
    },
  };
}

/** A string as a literal in a RegExp. */
export const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
