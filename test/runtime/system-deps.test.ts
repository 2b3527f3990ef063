import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missingPackages, plan } from '../../scripts/system-deps.ts';

test('npm test system packages: what is missing is found on PATH, and the plan installs (root with apt) or stops with the one command', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-path-'));
  try {
    // An empty PATH: every program looked up on PATH is missing (sshd is also looked for in /usr/sbin).
    const none = missingPackages([dir]);
    for (const pkg of ['openssh-client', 'rclone', 'zstd', 'openssl', 'redis-server'])
      assert.ok(none.includes(pkg), `${pkg} missing: ${none.join()}`);
    for (const name of ['sftp', 'rclone', 'zstd', 'openssl', 'redis-server'])
      writeFileSync(join(dir, name), '');
    const some = missingPackages([dir]);
    for (const pkg of ['openssh-client', 'rclone', 'zstd', 'openssl', 'redis-server'])
      assert.ok(!some.includes(pkg), `${pkg} found: ${some.join()}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(plan([], true), { action: 'none' });
  assert.deepEqual(plan(['rclone', 'redis-server'], true), {
    action: 'install',
    packages: ['rclone', 'redis-server'],
  });
  assert.deepEqual(plan(['rclone', 'redis-server'], false), {
    action: 'stop',
    packages: ['rclone', 'redis-server'],
    command: 'sudo apt-get install -y rclone redis-server',
  });
});
