/** SFTP connections against a real sshd: host keys, authentication, secrets, deadlines. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { KeyObject } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import type { FileEntryWithStats } from 'ssh2';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { HostKeyError, SftpError, SftpTimeoutError } from '../../src/runtime/sync/errors.ts';
import { runSync } from '../../src/runtime/sync/pipeline.ts';
import { SftpSession, parseSftpUri } from '../../src/runtime/sync/sftp-connection.ts';
import { SftpDestination, SftpSource } from '../../src/runtime/sync/sftp.ts';
import { randomUserName, startSshd } from '../helpers/sshd.ts';
import type { SshdServer } from '../helpers/sshd.ts';
import { captureLog, keyConnection, workspace } from './fixtures.ts';
import type { Workspace } from './fixtures.ts';

const execFileP = promisify(execFile);
const PASSWORD = 'Corr3ct-H0rse-' + Math.random().toString(36).slice(2);
const user = randomUserName();
let server: SshdServer;
let ws: Workspace;

before(async () => {
  server = await startSshd({ users: [{ name: user, password: PASSWORD }] });
});
after(async () => {
  await server.stop();
});
beforeEach(async () => {
  ws = await workspace();
});
afterEach(async () => {
  await ws.cleanup();
});

function countAuthLines(): number {
  return server.log().split('\n').filter((l) => /Accepted |Failed (password|publickey)|Postponed/.test(l)).length;
}

describe('host key verification', () => {
  it('accepts the pinned SHA256 fingerprint and the known_hosts entry', async () => {
    for (const hostKey of [{ fingerprint: server.hostKeyFingerprint }, { knownHostsFile: server.knownHostsFile }]) {
      const s = await SftpSession.connect(keyConnection(server, { hostKey }));
      await s.close();
    }
  });

  it('refuses an unknown host (not in known_hosts) before authenticating', async () => {
    const file = join(ws.dir, 'known_hosts');
    await writeFile(file, `[127.0.0.1]:1 ssh-ed25519 ${(await import('node:fs')).readFileSync(server.knownHostsFile, 'utf8').split(' ')[2]}`);
    const before = countAuthLines();
    await assert.rejects(SftpSession.connect(keyConnection(server, { hostKey: { knownHostsFile: file } })), (err: unknown) => {
      assert.ok(err instanceof HostKeyError);
      assert.equal(err.code, 'HOST_KEY_UNKNOWN');
      assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${server.port}: the host is not in .*known_hosts`));
      assert.match(err.message, /SHA256:/);
      return true;
    });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(countAuthLines(), before, 'no authentication attempt reached sshd');
  });

  it('refuses a changed key (known_hosts has another key) and a wrong pinned fingerprint', async () => {
    const other = join(ws.dir, 'other');
    await execFileP('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const otherPub = (await (await import('node:fs/promises')).readFile(other + '.pub', 'utf8')).split(' ');
    const file = join(ws.dir, 'known_hosts');
    await writeFile(file, `# comment\n[127.0.0.1]:${server.port} ${otherPub[0]} ${otherPub[1]}\n`);
    await assert.rejects(SftpSession.connect(keyConnection(server, { hostKey: { knownHostsFile: file } })), (err: unknown) => {
      return err instanceof HostKeyError && err.code === 'HOST_KEY_CHANGED' && /CHANGED/.test(err.message);
    });
    const wrong = 'SHA256:' + 'A'.repeat(43);
    await assert.rejects(SftpSession.connect(keyConnection(server, { hostKey: { fingerprint: wrong } })), (err: unknown) => {
      return err instanceof HostKeyError && err.message.includes(wrong) && err.message.includes(server.hostKeyFingerprint);
    });
  });

  it('understands hashed known_hosts entries (ssh-keygen -H)', async () => {
    const file = join(ws.dir, 'hashed_known_hosts');
    await writeFile(file, await (await import('node:fs/promises')).readFile(server.knownHostsFile));
    await execFileP('ssh-keygen', ['-q', '-H', '-f', file]);
    assert.match(await (await import('node:fs/promises')).readFile(file, 'utf8'), /^\|1\|/);
    const s = await SftpSession.connect(keyConnection(server, { hostKey: { knownHostsFile: file } }));
    await s.close();
  });
});

describe('authentication and secrets', () => {
  it('logs in with a password', async () => {
    const s = await SftpSession.connect({
      host: server.host,
      port: server.port,
      username: user,
      password: PASSWORD,
      hostKey: { fingerprint: server.hostKeyFingerprint },
    });
    await s.close();
  });

  it('a wrong password gives a clear error without the password', async () => {
    const secret = 'Wr0ng-' + PASSWORD;
    await assert.rejects(
      SftpSession.connect({ host: server.host, port: server.port, username: user, password: secret, hostKey: { fingerprint: server.hostKeyFingerprint } }),
      (err: unknown) => {
        assert.ok(err instanceof SftpError);
        assert.equal(err.code, 'AUTH_FAILED');
        assert.equal(err.message, `SFTP authentication failed for ${user}@127.0.0.1:${server.port} (tried password): the server rejected the credentials`);
        assert.ok(!JSON.stringify(err, Object.getOwnPropertyNames(err)).includes(secret));
        return true;
      },
    );
  });

  it('secrets never reach logs, errors, summaries or descriptions', async () => {
    await writeFile(join(ws.src, 'f.txt'), 'x');
    await execFileP('chown', ['-R', user, ws.dir]);
    const uri = `sftp://${user}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${server.port}${ws.src}?fingerprint=${encodeURIComponent(server.hostKeyFingerprint)}`;
    const parsed = parseSftpUri(uri);
    assert.equal(parsed.options.password, PASSWORD);
    const log = captureLog();
    const summary = await runSync({
      pipelineId: 'secrets',
      source: new SftpSource({ connection: parsed.options, root: parsed.root, log }),
      destination: new SftpDestination({ connection: parsed.options, root: ws.dst, log }),
      state: ws.state,
      log,
    });
    assert.equal(summary.filesSynced, 1);
    const failing = await runSync({
      pipelineId: 'secrets',
      source: new SftpSource({ connection: { ...parsed.options, password: PASSWORD + 'x' }, root: parsed.root, log }),
      destination: new SftpDestination({ connection: parsed.options, root: ws.dst, log }),
      state: ws.state,
      log,
    }).catch((e: unknown) => e as Error);
    assert.ok(failing instanceof Error);
    const badUri = (() => {
      try {
        parseSftpUri(`sftp://${user}:${PASSWORD}@127.0.0.1:${server.port}/x`);
      } catch (e) {
        return e as Error;
      }
      return null;
    })();
    assert.ok(badUri !== null, 'a URI without a host key policy is refused');
    const runs = await ws.store.sync.listRuns('secrets');
    assert.deepEqual(runs.map((r) => r.runId), [summary.runId], 'the run that synced is in the store (the failing one stopped at its health check)');
    const everything = [
      ...log.lines,
      JSON.stringify(summary),
      failing.message,
      String(failing.stack),
      badUri.message,
      JSON.stringify(runs),
      JSON.stringify(await Promise.all(runs.map((r) => ws.store.sync.fileResults(r.runId)))),
    ].join('\n');
    assert.ok(everything.includes(user), 'the test looks at real output');
    assert.ok(!everything.includes(PASSWORD), 'password leaked');
    assert.ok(!everything.includes(server.privateKey.split('\n')[1]!), 'private key leaked');
  });
});

describe('deadlines: a dead or silent server is an error, never a hang', () => {
  let silent: Server;
  const sockets: Socket[] = [];
  before(async () => {
    silent = createServer((s) => sockets.push(s)); // accepts TCP and never speaks SSH
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
  });

  it('connect gives up at its deadline when the server never answers', async () => {
    const addr = silent.address();
    assert.ok(addr !== null && typeof addr === 'object');
    const t = Date.now();
    await assert.rejects(
      SftpSession.connect({ ...keyConnection(server), port: addr.port, timeouts: { connectMs: 1000 } }),
      (err: unknown) => err instanceof SftpTimeoutError && err.message.includes(`127.0.0.1:${addr.port}`),
    );
    assert.ok(Date.now() - t < 5000, `took ${Date.now() - t} ms`);
  });

  it('a refused connection names host and port', async () => {
    await assert.rejects(
      SftpSession.connect({ ...keyConnection(server), port: 1 }),
      (err: unknown) => err instanceof SftpError && err.code === 'ECONNREFUSED' && err.message.includes('127.0.0.1:1'),
    );
  });

  it('an operation on a frozen server fails at its deadline, and close does not hang', async () => {
    const s = await SftpSession.connect(keyConnection(server, { timeouts: { operationMs: 1000, closeMs: 500 } }));
    await server.signalSessions('SIGSTOP');
    try {
      const t = Date.now();
      await assert.rejects(
        s.op('readdir', ws.dir, (cb) => s.sftp.readdir(ws.dir, cb)),
        (err: unknown) => err instanceof SftpTimeoutError && /did not complete within 1000 ms/.test(err.message),
      );
      assert.ok(Date.now() - t < 4000);
      const t2 = Date.now();
      await s.close();
      assert.ok(Date.now() - t2 < 2000);
    } finally {
      await server.signalSessions('SIGCONT');
      await server.killSessions();
    }
  });
});

describe('ssh2 without its native addon', () => {
  it('AES-GCM packets use a KeyObject of the session key, also after a re-key, and data still flows both ways', async () => {
    const s = await SftpSession.connect(keyConnection(server));
    try {
      type Cipher = { _encSSLName?: string; _encKey?: unknown; _decipherSSLName?: string; _decipherKey?: unknown };
      const protocol = (s.sftp as unknown as { _client: { _protocol: { _cipher: Cipher; _decipher: Cipher; rekey(): void } } })._client._protocol;
      const check = () => {
        assert.match(String(protocol._cipher._encSSLName), /-gcm$/, 'an AES-GCM cipher was negotiated');
        assert.ok(protocol._cipher._encKey instanceof KeyObject, 'cipher key is a KeyObject');
        assert.ok(protocol._decipher._decipherKey instanceof KeyObject, 'decipher key is a KeyObject');
      };
      check();
      const roundTrip = async (name: string) => {
        const path = join(ws.dir, name);
        await writeFile(path, 'x'.repeat(100_000));
        const entries = await s.op<FileEntryWithStats[]>('readdir', ws.dir, (cb) => s.sftp.readdir(ws.dir, cb));
        assert.ok(entries.some((e) => e.filename === name));
      };
      await roundTrip('before.txt');
      const cipherBefore = protocol._cipher;
      protocol.rekey();
      for (let i = 0; i < 100 && protocol._cipher === cipherBefore; i++) await new Promise((r) => setTimeout(r, 50));
      assert.notEqual(protocol._cipher, cipherBefore, 'the re-key installed a new cipher');
      await roundTrip('after.txt');
      check();
    } finally {
      await s.close();
    }
  });
});

describe('parseSftpUri', () => {
  it('parses user, password, host, port, root and fingerprint', () => {
    const fp = 'SHA256:' + 'b'.repeat(43);
    const p = parseSftpUri(`sftp://alice:p%40ss@127.0.0.1:2222/data/in?fingerprint=${fp}&operation_timeout_ms=5000`);
    assert.deepEqual(p, {
      options: { host: '127.0.0.1', port: 2222, username: 'alice', password: 'p@ss', hostKey: { fingerprint: fp }, timeouts: { operationMs: 5000 } },
      root: '/data/in',
    });
    assert.deepEqual(parseSftpUri('sftp://bob:x@example.com?known_hosts=/k').options.hostKey, { knownHostsFile: '/k' });
    assert.equal(parseSftpUri('sftp://bob:x@example.com?known_hosts=/k').options.port, 22);
  });

  it('rejects bad URIs with errors naming what is wrong, never the password', () => {
    const cases: [string, RegExp][] = [
      ['http://a:pw1234@h/x?known_hosts=/k', /must start with sftp:\/\//],
      ['sftp://h/x?known_hosts=/k', /has no user name/],
      ['sftp://a:pw1234@h/x', /does not say how to verify the host key/],
      ['sftp://a:pw1234@h/x?fingerprint=MD5:aa', /fingerprint "MD5:aa" is not of the form/],
      ['sftp://a:pw1234@h:99999/x?known_hosts=/k', /invalid SFTP URI/],
      ['sftp://a@h/x?known_hosts=/k', /give a password or a private key/],
      ['sftp://a:pw1234@h/x?known_hosts=/k&private_key_file=/nonexistent', /cannot read private_key_file "\/nonexistent"/],
    ];
    for (const [uri, re] of cases) {
      assert.throws(() => parseSftpUri(uri), (err: unknown) => {
        assert.match((err as Error).message, re, uri);
        assert.ok(!(err as Error).message.includes('pw1234'), `password in "${(err as Error).message}"`);
        return true;
      });
    }
  });
});
