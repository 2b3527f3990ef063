/**
 * A real OpenSSH `sshd` on 127.0.0.1 with a generated host key and user key in
 * a temporary directory: the tests' harness (test/helpers/sshd.ts re-exports
 * it) and the servers of `npm run demo:sftp` (scripts/demo-sftp.ts).
 *
 *   const server = await startSshd();
 *   // server.host, server.port, server.username, server.privateKey, ...
 *   await server.stop();
 *
 * Works as root in a fresh CI container (Debian `openssh-server` and
 * `openssh-client`): the default login is the current user (root in CI) with
 * key authentication (`PermitRootLogin yes`). Extra password users can be
 * created on request (`users: [{ name, password }]`, needs root and
 * `useradd`/`chpasswd`); they are deleted again by `stop()`.
 */
import { spawn, execFile } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, readFile, rm, writeFile, chmod } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface SshdUser {
  /** System user name to create (must not exist yet). */
  name: string;
  password: string;
}

export interface SshdStartOptions {
  /** Extra password users to create (requires root). */
  users?: SshdUser[];
  /** Allow password authentication (default: true). */
  passwordAuthentication?: boolean;
  /** Additional lines appended to sshd_config. */
  extraConfig?: string[];
  /** Where to create the server's temporary directory (default: the OS temp dir). */
  parentDir?: string;
}

export interface SshdServer {
  host: string;
  port: number;
  /** The user the generated key logs in as (the current user). */
  username: string;
  /** `SHA256:...` fingerprint of the server's host key. */
  hostKeyFingerprint: string;
  /** A known_hosts file listing this server (`[127.0.0.1]:PORT ssh-ed25519 ...`). */
  knownHostsFile: string;
  /** OpenSSH private key (PEM text) authorised for `username`. */
  privateKey: string;
  privateKeyFile: string;
  /** Temporary directory holding config, keys and logs. */
  dir: string;
  /** The sshd listener's process id. */
  pid: number | undefined;
  /** Users created for this server (password auth). */
  users: SshdUser[];
  /** What sshd printed on stderr so far (for debugging failed tests). */
  log(): string;
  /** Kill every session process (drops all live connections); the listener stays up. */
  killSessions(): Promise<number>;
  /** Send a signal to every session process (e.g. SIGSTOP to simulate a hung server, SIGCONT to resume). */
  signalSessions(signal: NodeJS.Signals): Promise<number>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') {
        reject(new Error('could not get a free port'));
        return;
      }
      const { port } = addr;
      srv.close(() => resolve(port));
    });
  });
}

/** SHA256 fingerprint of an OpenSSH public key line (`type base64 [comment]`). */
export function fingerprintOfPublicKey(line: string): string {
  const blob = Buffer.from(line.trim().split(/\s+/)[1] ?? '', 'base64');
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

async function waitForBanner(host: string, port: number, deadline: number, child: ChildProcess): Promise<void> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`sshd exited early with code ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const sock = connect({ host, port });
      const timer = setTimeout(() => {
        sock.destroy();
        resolve(false);
      }, 1000);
      sock.once('data', (d) => {
        clearTimeout(timer);
        sock.destroy();
        resolve(d.toString('latin1').startsWith('SSH-2.0'));
      });
      sock.once('error', () => {
        clearTimeout(timer);
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`sshd did not accept connections on ${host}:${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function childPids(pid: number): Promise<number[]> {
  try {
    const { stdout } = await execFileP('ps', ['-o', 'pid=', '--ppid', String(pid)]);
    return stdout
      .split('\n')
      .map((s) => Number(s.trim()))
      .filter((n) => Number.isInteger(n) && n > 0);
  } catch {
    return []; // ps exits 1 when there are no children
  }
}

export async function startSshd(options: SshdStartOptions = {}): Promise<SshdServer> {
  const dir = await mkdtemp(join(options.parentDir ?? tmpdir(), 'hangar-sshd-'));
  await chmod(dir, 0o755);
  const hostKey = join(dir, 'ssh_host_ed25519_key');
  const userKey = join(dir, 'id_ed25519');
  await execFileP('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'hangar-test-host', '-f', hostKey]);
  await execFileP('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'hangar-test-user', '-f', userKey]);
  const authorizedKeys = join(dir, 'authorized_keys');
  await writeFile(authorizedKeys, await readFile(userKey + '.pub'));
  await chmod(authorizedKeys, 0o644);
  // Privilege separation directory required by Debian's sshd.
  await mkdir('/run/sshd', { recursive: true, mode: 0o755 }).catch(() => undefined);

  const users = options.users ?? [];
  const createdUsers: SshdUser[] = [];
  for (const u of users) {
    if (!/^[a-z_][a-z0-9_-]{0,30}$/.test(u.name)) throw new Error(`invalid test user name "${u.name}"`);
    await execFileP('useradd', ['-M', '-d', dir, '-s', '/bin/sh', u.name]);
    createdUsers.push(u);
    await new Promise<void>((resolve, reject) => {
      const p = spawn('chpasswd', [], { stdio: ['pipe', 'ignore', 'pipe'] });
      let err = '';
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.on('error', reject);
      p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`chpasswd failed for ${u.name}: ${err}`))));
      p.stdin.end(`${u.name}:${u.password}\n`);
    });
  }

  const username = userInfo().username;
  const host = '127.0.0.1';
  const configFile = join(dir, 'sshd_config');
  const passwordAuth = options.passwordAuthentication ?? true;
  let lastError: unknown;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const config = [
      `ListenAddress ${host}`,
      `Port ${port}`,
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      'PermitRootLogin yes',
      'PubkeyAuthentication yes',
      `PasswordAuthentication ${passwordAuth ? 'yes' : 'no'}`,
      'KbdInteractiveAuthentication no',
      'UsePAM no',
      'StrictModes no',
      'PermitEmptyPasswords no',
      'MaxStartups 100:30:200',
      'MaxSessions 100',
      'LogLevel VERBOSE',
      'Subsystem sftp internal-sftp',
      ...(options.extraConfig ?? []),
      '',
    ].join('\n');
    await writeFile(configFile, config);
    const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', configFile, '-p', String(port)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.length > 1_000_000) stderr = stderr.slice(-500_000);
    });
    const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
    try {
      await Promise.race([waitForBanner(host, port, Date.now() + 10_000, child), spawnError]);
    } catch (err) {
      lastError = new Error(`${(err as Error).message}\n${stderr}`);
      child.kill('SIGKILL');
      continue;
    }
    const publicHostKey = (await readFile(hostKey + '.pub', 'utf8')).trim();
    const knownHostsFile = join(dir, 'known_hosts');
    const [type, key] = publicHostKey.split(/\s+/);
    await writeFile(knownHostsFile, `[${host}]:${port} ${type} ${key}\n`);
    const privateKey = await readFile(userKey, 'utf8');
    let stopped = false;
    const server: SshdServer = {
      host,
      port,
      username,
      hostKeyFingerprint: fingerprintOfPublicKey(publicHostKey),
      knownHostsFile,
      privateKey,
      privateKeyFile: userKey,
      dir,
      pid: child.pid,
      users: createdUsers,
      log: () => stderr,
      async signalSessions(signal) {
        const pids: number[] = [];
        let frontier = child.pid === undefined ? [] : [child.pid];
        while (frontier.length > 0) {
          const next: number[] = [];
          for (const p of frontier) next.push(...(await childPids(p)));
          pids.push(...next);
          frontier = next;
        }
        for (const pid of pids) {
          try {
            process.kill(pid, signal);
          } catch {
            /* already gone */
          }
        }
        return pids.length;
      },
      async killSessions() {
        return await server.signalSessions('SIGKILL');
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await server.killSessions();
        if (child.exitCode === null && child.signalCode === null) {
          const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
          child.kill('SIGTERM');
          const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
          await exited;
          clearTimeout(timer);
        }
        for (const u of createdUsers) await execFileP('userdel', [u.name]).catch(() => undefined);
        await rm(dir, { recursive: true, force: true });
      },
    };
    return server;
  }
  for (const u of createdUsers) await execFileP('userdel', [u.name]).catch(() => undefined);
  await rm(dir, { recursive: true, force: true });
  throw new Error(`could not start sshd: ${String(lastError)}`);
}

/** A random name usable as a throwaway system user. */
export function randomUserName(prefix = 'hgt'): string {
  return prefix + randomBytes(4).toString('hex');
}
export { startSshd as start };
