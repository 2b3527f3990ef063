/**
 * An SFTP server whose host key changes between two sync runs (issue #16), against a real
 * sshd: the first run moves the files; then the server's host key is replaced (as a
 * reinstalled or impersonated server would present a new one) and the second run refuses
 * before authenticating, naming the key it was shown and the key known_hosts (or the pin)
 * expects; nothing moves (the destination and the cursor are as the first run left them).
 * OpenSSH's wording for the same situation: "WARNING: REMOTE HOST IDENTIFICATION HAS
 * CHANGED!", with the offending key's fingerprint (sshconnect.c, warn_changed_key).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, readFile, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, afterEach, before, beforeEach, it } from 'node:test';
import { HealthCheckError } from '../../src/runtime/sync/errors.ts';
import { runSync } from '../../src/runtime/sync/pipeline.ts';
import { SftpSession } from '../../src/runtime/sync/sftp-connection.ts';
import { fingerprintOfPublicKey, startSshd } from '../helpers/sshd.ts';
import type { SshdServer } from '../helpers/sshd.ts';
import { keyConnection, sftpEnds, workspace } from './fixtures.ts';
import type { Workspace } from './fixtures.ts';

const execFileP = promisify(execFile);
let server: SshdServer;
let ws: Workspace;

// A server of its own: its host key is replaced.
before(async () => {
  server = await startSshd();
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

const at = (s: number) => new Date(Date.UTC(2024, 0, 1, 0, 0, s));
async function put(name: string, text: string, mtime: Date): Promise<void> {
  await writeFile(join(ws.src, name), text);
  await utimes(join(ws.src, name), mtime, mtime);
}

/** Replaces sshd's host key on disk; returns the new key's fingerprint once the server presents it. */
async function changeHostKey(): Promise<string> {
  const key = join(server.dir, 'ssh_host_ed25519_key');
  const fresh = join(ws.dir, 'new_host_key');
  await execFileP('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'hangar-test-new-host', '-f', fresh]);
  await rm(key, { force: true });
  await rm(key + '.pub', { force: true });
  await copyFile(fresh, key);
  await copyFile(fresh + '.pub', key + '.pub');
  return fingerprintOfPublicKey((await readFile(fresh + '.pub', 'utf8')).trim());
}

it('the host key changes between runs: the sync refuses naming both fingerprints, and nothing moves', async () => {
  const knownHosts = join(ws.dir, 'known_hosts');
  await copyFile(server.knownHostsFile, knownHosts);
  const oldFp = server.hostKeyFingerprint;
  await put('a.csv', 'first run', at(1));
  await runSync({
    pipelineId: 'p1',
    ...sftpEnds(server, ws, { hostKey: { knownHostsFile: knownHosts } }),
    state: ws.state,
  });
  assert.deepEqual(await readdir(ws.dst), ['a.csv']);
  const cursor = await ws.state.getCursor('p1');

  await put('b.csv', 'second run', at(2));
  const newFp = await changeHostKey();
  assert.notEqual(newFp, oldFp);
  // sshd loads its host key for each connection it accepts (re-exec): the next session sees the new key.
  const probe = await SftpSession.connect(keyConnection(server, { hostKey: { fingerprint: newFp } }));
  await probe.close();

  for (const hostKey of [{ knownHostsFile: knownHosts }, { fingerprint: oldFp }]) {
    await assert.rejects(
      runSync({ pipelineId: 'p1', ...sftpEnds(server, ws, { hostKey }), state: ws.state }),
      (err: unknown) => {
        // The health check refuses for both ends before anything moves, each saying why.
        assert.ok(err instanceof HealthCheckError, String(err));
        assert.match(
          err.message,
          /source health check failed .*host key verification failed.*destination health check failed .*host key verification failed/s,
        );
        assert.ok(err.message.includes(newFp), `the presented key is named: ${err.message}`);
        assert.ok(err.message.includes(oldFp), `the expected key is named: ${err.message}`);
        return true;
      },
    );
    assert.deepEqual(await readdir(ws.dst), ['a.csv'], 'nothing moved');
    assert.deepEqual(await ws.state.getCursor('p1'), cursor, 'the cursor did not move');
  }
});
