/**
 * Test harness: a real PostgreSQL (Debian's `postgresql` package) on 127.0.0.1.
 *
 *   const db = await freshDatabase();       // a new, empty database on this process's server
 *   // db.url: postgres://hangar:PASSWORD@127.0.0.1:PORT/hangar_test_N
 *
 * One server per test run or per test process: `npm run test:postgres` starts one for the
 * whole run (test/helpers/global-setup.ts) and hands it to every test process in
 * `HANGAR_TEST_PG`; without it, a process starts its own on first use (`initdb` into a
 * temporary folder, `pg_ctl start` with `fsync=off` on a free port), reused by every test
 * of the process and stopped when the process exits. PostgreSQL refuses to run as root: as root the
 * binaries run as the `postgres` user (`runuser -u postgres --`). TCP connections need a
 * password (scram-sha-256) for the `hangar` role, so wrong credentials fail as they would
 * for a user. The server also accepts TLS (a self-signed certificate for 127.0.0.1,
 * `server.caFile`), for `sslmode=require|verify-full` tests.
 *
 * `HANGAR_TEST_STORE=postgres` runs the suite against PostgreSQL: every test workspace
 * (test/helpers/workspace.ts) gets a fresh database in its hangar.json, and the helpers of
 * test/helpers/store.ts open a test's store on it; `testStoreUrl(dir)` gives a fresh
 * database's URL then, and the SQLite file under `dir` otherwise.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

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

/** A TCP port free now (asked of the kernel by a short child process, so that this stays synchronous). */
function freePort(): number {
  const script =
    "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{process.stdout.write(String(s.address().port));s.close()})";
  const port = Number(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }));
  if (!Number.isInteger(port) || port <= 0) throw new Error('could not get a free port');
  return port;
}

/**
 * The environment variable that hands a running server to the test processes of a run
 * (test/helpers/global-setup.ts sets it): JSON of host, port, user, password, dir.
 */
export const SHARED_SERVER_ENV = 'HANGAR_TEST_PG';

let server: PostgresServer | undefined;
let stopServer: (() => void) | undefined;

/** This process's server (started on the first call, or the run's shared one). */
export async function postgresServer(): Promise<PostgresServer> {
  return postgresServerSync();
}

/**
 * The same, synchronously (tempWorkspace is synchronous): the server of the whole run when
 * `HANGAR_TEST_PG` names one, else one started for this process (stopped when it exits).
 */
export function postgresServerSync(): PostgresServer {
  server ??= process.env[SHARED_SERVER_ENV] ? sharedServer(process.env[SHARED_SERVER_ENV]) : start();
  return server;
}

/** Stops the server this process started (a shared server is its starter's to stop). */
export function stopPostgresServer(): void {
  stopServer?.();
}

function describe(coords: {
  host: string;
  port: number;
  user: string;
  password: string;
  dir: string;
}): PostgresServer {
  const { host, port, user, password, dir } = coords;
  const logFile = join(dir, 'log');
  return {
    host,
    port,
    user,
    password,
    dir,
    caFile: join(dir, 'server.crt'),
    url: (database: string) => `postgres://${user}:${password}@${host}:${port}/${database}`,
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
  };
}

function sharedServer(json: string): PostgresServer {
  const c = JSON.parse(json) as { host: string; port: number; user: string; password: string; dir: string };
  return describe(c);
}

/** The JSON that `HANGAR_TEST_PG` holds for a server. */
export function sharedServerEnv(s: PostgresServer): string {
  return JSON.stringify({ host: s.host, port: s.port, user: s.user, password: s.password, dir: s.dir });
}

/** A server that a test stops and starts again (a database outage), its own and no one else's. */
export interface ControlledPostgresServer extends PostgresServer {
  /** Stops it at once (`pg_ctl stop -m immediate`: connections drop, as when a machine goes). */
  pause(): void;
  /** Starts it again on the same port, with its data. */
  resume(): void;
  stop(): void;
}

/** A server of its own for outage tests (this process's shared one must stay up for the others). */
export function controlledPostgresServer(): ControlledPostgresServer {
  return start(false);
}

function start(shared = true): ControlledPostgresServer {
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
  execFileSync(
    'openssl',
    [
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
    ],
    { stdio: 'ignore' },
  );
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
  execFileSync(initFile, initArgs, { stdio: 'ignore' });
  const port = freePort();
  const logFile = join(dir, 'log');
  const options = [
    `-p ${port}`,
    `-k ${dir}`,
    '-c listen_addresses=127.0.0.1',
    '-c fsync=off',
    // A controlled server is stopped with -m immediate (an outage): it keeps PostgreSQL's default, that a
    // commit is in the WAL before it returns, or the outage would take back commits the store reported.
    ...(shared ? ['-c synchronous_commit=off'] : []),
    '-c full_page_writes=off',
    // A whole run's test processes may share this server (HANGAR_TEST_STORE=postgres).
    '-c max_connections=400',
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
  const launch = () => {
    try {
      execFileSync(ctlFile, ctlArgs, { stdio: 'ignore' });
    } catch (err) {
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
      throw new Error(`PostgreSQL did not start: ${(err as Error).message}\n${log}`);
    }
  };
  launch();
  const halt = () => {
    const [f, a] = pgCommand('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']);
    try {
      execFileSync(f, a, { stdio: 'ignore' });
    } catch {
      // already stopped
    }
  };
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    halt();
    rmSync(dir, { recursive: true, force: true });
  };
  if (shared) stopServer = stop;
  process.once('exit', stop);
  // The test runner ends a cancelled or timed-out file with a signal: 'exit' does not run then.
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.once(signal, () => {
      stop();
      process.kill(process.pid, signal);
    });
  }
  return { ...describe({ host: '127.0.0.1', port, user, password, dir }), pause: halt, resume: launch, stop };
}

let counter = 0;

function nextName(): string {
  return `hangar_test_${process.pid}_${++counter}`;
}

/** A new, empty database on this process's server. */
export async function freshDatabase(): Promise<TestDatabase> {
  const server = await postgresServer();
  const name = nextName();
  const admin = new pg.Client({ connectionString: server.url('postgres') });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return { server, name, url: server.url(name) };
}

/** The same, synchronously (through `psql`): for tempWorkspace, which is synchronous. */
export function freshDatabaseSync(): TestDatabase {
  const server = postgresServerSync();
  const name = nextName();
  execFileSync(
    join(postgresBinDir(), 'psql'),
    ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', server.url('postgres'), '-c', `CREATE DATABASE ${name}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
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
