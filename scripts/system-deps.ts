/**
 * `npm test` needs a few programs from the system's packages (the tests start real servers):
 * OpenSSH's sshd, rclone, zstd, PostgreSQL, Redis and openssl. This checks them before the
 * suite: when some are missing it installs them if it can (root, with apt-get), or stops at
 * once with the one command that installs them — never a wall of failing tests.
 *
 *   node scripts/system-deps.ts           check, and install as root with apt-get
 *   node scripts/system-deps.ts --check   check only (exit 1 with the command when something is missing)
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';

export interface SystemDep {
  /** The Debian package. */
  readonly pkg: string;
  /** What a test runs. */
  readonly program: string;
  /** Whether it is installed. */
  readonly found: (pathDirs: readonly string[]) => boolean;
}

const onPath = (name: string) => (dirs: readonly string[]) => dirs.some((d) => existsSync(join(d, name)));

export const SYSTEM_DEPS: readonly SystemDep[] = [
  { pkg: 'openssh-server', program: 'sshd', found: (d) => onPath('sshd')([...d, '/usr/sbin']) },
  { pkg: 'openssh-client', program: 'sftp', found: onPath('sftp') },
  { pkg: 'rclone', program: 'rclone', found: onPath('rclone') },
  { pkg: 'zstd', program: 'zstd', found: onPath('zstd') },
  { pkg: 'openssl', program: 'openssl', found: onPath('openssl') },
  {
    pkg: 'postgresql',
    program: 'pg_ctl',
    found: () =>
      existsSync('/usr/lib/postgresql') &&
      readdirSync('/usr/lib/postgresql').some((v) =>
        existsSync(join('/usr/lib/postgresql', v, 'bin', 'pg_ctl')),
      ),
  },
  { pkg: 'redis-server', program: 'redis-server', found: onPath('redis-server') },
];

export type Plan =
  | { action: 'none' }
  | { action: 'install'; packages: string[] }
  | { action: 'stop'; packages: string[]; command: string };

/** What to do about the missing packages: nothing, install them (root with apt-get), or stop with the command. */
export function plan(missing: readonly string[], canInstall: boolean): Plan {
  if (missing.length === 0) return { action: 'none' };
  const command = `sudo apt-get install -y ${missing.join(' ')}`;
  return canInstall
    ? { action: 'install', packages: [...missing] }
    : { action: 'stop', packages: [...missing], command };
}

export function missingPackages(
  pathDirs: readonly string[] = (process.env.PATH ?? '').split(delimiter),
): string[] {
  return SYSTEM_DEPS.filter((d) => !d.found(pathDirs)).map((d) => d.pkg);
}

if (import.meta.main) {
  const checkOnly = process.argv.includes('--check');
  const isRoot = process.getuid?.() === 0;
  const hasApt = existsSync('/usr/bin/apt-get');
  const p = plan(missingPackages(), !checkOnly && isRoot && hasApt);
  if (p.action === 'install') {
    console.log(`tests need ${p.packages.join(', ')}: installing them with apt-get`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
    execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...p.packages], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env,
    });
    const still = missingPackages();
    if (still.length) {
      console.error(`still missing after apt-get: ${still.join(', ')}`);
      process.exit(1);
    }
  } else if (p.action === 'stop') {
    console.error(
      `The tests start real servers and need system packages that are missing: ${p.packages.join(', ')}.\nInstall them with:\n\n  ${p.command}\n`,
    );
    process.exit(1);
  }
}
