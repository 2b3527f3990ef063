/**
 * Test harness: a real PostgreSQL (Debian's `postgresql` package) on 127.0.0.1.
 *
 *   const db = await freshDatabase();       // a new, empty database on this process's server
 *   // db.url: postgres://hangar:PASSWORD@127.0.0.1:PORT/hangar_test_N
 *
 * One server per test process, started on first use (`initdb` into a temporary folder,
 * `pg_ctl start` with `fsync=off` on a free port), reused by every test of the process
 * and stopped when the process exits. PostgreSQL refuses to run as root: as root the
 * binaries run as the `postgres` user (`runuser -u postgres --`). TCP connections need a
 * password (scram-sha-256) for the `hangar` role, so wrong credentials fail as they would
 * for a user. The server also accepts TLS (a self-signed certificate for 127.0.0.1,
 * `server.caFile`), for `sslmode=require|verify-full` tests.
 *
 * `HANGAR_TEST_STORE=postgres` runs the suite against PostgreSQL: `testStoreUrl(dir)` gives
 * a fresh database's URL then, and the SQLite file under `dir` otherwise.
 */
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';

const execFileP = promisify(execFile);

export interface PostgresServer {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  /** The server's folder (data, socket, log, certificate). */
  readonly dir: string;
  /** PEM file of the self-signed certificate the server presents (CN and IP 127.0.0.1). */
  readonly caFile: string;
  /** URL of a database on this server, with the password. */
  url(database: string): string;
  /** What the server logged so far. */
  log(): string;
}

export interface TestDatabase {
  readonly server: PostgresServer;
  readonly name: string;
  /** postgres://hangar:PASSWORD@127.0.0.1:PORT/NAME */
  readonly url: string;
}

/** The folder of Debian's PostgreSQL binaries (the newest installed version). */
export function postgresBinDir(): string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base)
    ? readdirSync(base)
        .filter((v) => existsSync(join(base, v, 'bin', 'pg_ctl')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions.length === 0)
    throw new Error(
      'PostgreSQL is not installed (apt-get install -y postgresql): no /usr/lib/postgresql/*/bin/pg_ctl',
    );
  return join(base, versions[0]!, 'bin');
}

const asRoot = process.getuid?.() === 0;

/** Runs a PostgreSQL binary, as the `postgres` user when this process is root. */
function pgCommand(bin: string, args: string[]): [string, string[]] {
  const file = join(postgresBinDir(), bin);
  return asRoot ? ['runuser', ['-u', 'postgres', '--', file, ...args]] : [file, args];
}

async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      if (addr === null || typeof addr === 'string') return reject(new Error('could not get a free port'));
      srv.close(() => resolve(addr.port));
    });
  });
}

let started: Promise<PostgresServer> | undefined;

/** This process's server (started on the first call). */
export function postgresServer(): Promise<PostgresServer> {
  started ??= start();
  return started;
}

async function start(): Promise<PostgresServer> {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-pg-'));
  const password = randomBytes(12).toString('hex');
  const user = 'hangar';
  const own = (p: string) => {
    if (!asRoot) return;
    const ids = execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim();
    const gid = execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim();
    chownSync(p, Number(ids), Number(gid));
  };
  chmodSync(dir, 0o700);
  own(dir);
  const pwfile = join(dir, 'pw');
  writeFileSync(pwfile, password + '\n', { mode: 0o600 });
  own(pwfile);
  // TLS: a self-signed certificate for 127.0.0.1 (the server also accepts plain connections).
  const cert = join(dir, 'server.crt');
  const key = join(dir, 'server.key');
  await execFileP('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1',
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  chmodSync(key, 0o600);
  own(key);
  own(cert);
  const data = join(dir, 'data');
  const [initFile, initArgs] = pgCommand('initdb', [
    '-D',
    data,
    '-U',
    user,
    '--pwfile',
    pwfile,
    '--auth-local=trust',
    '--auth-host=scram-sha-256',
    '-E',
    'UTF8',
    '--locale=C',
    '-N',
  ]);
  await execFileP(initFile, initArgs);
  const port = await freePort();
  const logFile = join(dir, 'log');
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c fsync=off',
    '-c synchronous_commit=off',
    '-c full_page_writes=off',
    '-c max_connections=200',
    '-c ssl=on',
    `-c ssl_cert_file=${cert}`,
    `-c ssl_key_file=${key}`,
  ].join(' ');
  const [ctlFile, ctlArgs] = pgCommand('pg_ctl', [
    '-D',
    data,
    '-o',
    options,
    '-l',
    logFile,
    '-w',
    '-t',
    '60',
    'start',
  ]);
  try {
    await execFileP(ctlFile, ctlArgs);
  } catch (err) {
    const log = existsSync(logFile) ? execFileSync('cat', [logFile], { encoding: 'utf8' }) : '';
    throw new Error(`PostgreSQL did not start: ${(err as Error).message}\n${log}`);
  }
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    const [f, a] = pgCommand('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    try {
      execFileSync(f, a, { stdio: 'ignore' });
    } catch {
      // already stopped
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', stop);
  // The test runner ends a cancelled or timed-out file with a signal: 'exit' does not run then.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(signal, () => {
      stop();
      process.kill(process.pid, signal);
    });
  }
  const url = (database: string) => `postgres://${user}:${password}@127.0.0.1:${port}/${database}`;
  return {
    host: '127.0.0.1',
    port,
    user,
    password,
    dir,
    caFile: cert,
    url,
    log: () => (existsSync(logFile) ? execFileSync('cat', [logFile], { encoding: 'utf8' }) : ''),
  };
}

let counter = 0;

/** A new, empty database on this process's server. */
export async function freshDatabase(): Promise<TestDatabase> {
  const server = await postgresServer();
  const name = `hangar_test_${process.pid}_${++counter}`;
  const admin = new pg.Client({ connectionString: server.url('postgres') });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return { server, name, url: server.url(name) };
}

/** Which store the suite runs against: `HANGAR_TEST_STORE=postgres`, else SQLite. */
export function testStoreKind(): 'sqlite' | 'postgres' {
  const v = process.env.HANGAR_TEST_STORE ?? 'sqlite';
  if (v !== 'sqlite' && v !== 'postgres')
    throw new Error(`HANGAR_TEST_STORE must be "sqlite" or "postgres", not "${v}"`);
  return v;
}

/**
 * The store a test uses: a fresh PostgreSQL database's URL under `HANGAR_TEST_STORE=postgres`,
 * else the SQLite file `.hangar/hangar.db` under `dir` (the workspace's default store).
 */
export async function testStoreUrl(dir: string): Promise<string> {
  if (testStoreKind() === 'postgres') return (await freshDatabase()).url;
  return join(dir, '.hangar', 'hangar.db');
}
