import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export const HANGAR_BIN = join(import.meta.dirname, '..', '..', 'bin', 'hangar.js');

/** Runs the real `hangar` command (the bundled CLI) as a user would. */
export function hangar(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}) {
  const r = spawnSync(process.execPath, [HANGAR_BIN, ...args], {
    cwd: options.cwd,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    encoding: 'utf8',
    timeout: options.timeoutMs ?? 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, signal: r.signal };
}
