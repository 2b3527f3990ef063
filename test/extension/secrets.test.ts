import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Secrets, isDeploymentVariable } from '../../src/vscode/secrets.ts';

/** VS Code's SecretStorage, as a map (the part Secrets uses). */
function storage() {
  const m = new Map<string, string>();
  return {
    m,
    get: async (k: string) => m.get(k),
    store: async (k: string, v: string) => void m.set(k, v),
    delete: async (k: string) => void m.delete(k),
    keys: async () => [...m.keys()],
    onDidChange: () => ({ dispose() {} }),
  };
}

test('deployment credentials: only PGPASSWORD, HANGAR_STORE_URL, HANGAR_REDIS_URL and HANGAR_CONN_<ID> reach the runtime environment, per workspace folder', async () => {
  const s = storage();
  const a = new Secrets(s as never, '/ws/a');
  const b = new Secrets(s as never, '/ws/b');
  await a.setDeploymentVariable('PGPASSWORD', 'pg-secret');
  await a.setDeploymentVariable('HANGAR_REDIS_URL', 'redis://:r@redis.internal:6379');
  await a.setDeploymentVariable('HANGAR_CONN_HANGAR_S3', 'aws://K:S@s3.internal:443');
  assert.deepEqual(await a.deploymentEnv(), {
    PGPASSWORD: 'pg-secret',
    HANGAR_REDIS_URL: 'redis://:r@redis.internal:6379',
    HANGAR_CONN_HANGAR_S3: 'aws://K:S@s3.internal:443',
  });
  assert.deepEqual(await b.deploymentEnv(), {}, 'another folder has its own');
  await assert.rejects(
    a.setDeploymentVariable('NODE_OPTIONS', '--require /tmp/evil.js'),
    /NODE_OPTIONS is not a deployment variable/,
  );
  for (const bad of ['PATH', 'LD_PRELOAD', 'HANGAR_CONN_', 'hangar_conn_x', 'PGPASSWORD2'])
    assert.equal(isDeploymentVariable(bad), false, bad);
  // A stored entry that is not a deployment variable (tampered storage) is not handed over.
  s.m.set('hangar.deploymentEnv:/ws/b', JSON.stringify({ NODE_OPTIONS: '--inspect', PGPASSWORD: 'x' }));
  assert.deepEqual(await b.deploymentEnv(), { PGPASSWORD: 'x' });
  await a.setDeploymentVariable('PGPASSWORD', undefined);
  assert.deepEqual(Object.keys(await a.deploymentEnv()), ['HANGAR_REDIS_URL', 'HANGAR_CONN_HANGAR_S3']);
  await a.forgetDeployment();
  assert.deepEqual(await a.deploymentEnv(), {});
  assert.equal(s.m.has('hangar.deploymentEnv:/ws/a'), false);
});
