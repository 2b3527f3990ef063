/**
 * Encryption limits: AES-GCM with random 96-bit nonces is safe for up to 2^32 messages per key
 * (NIST SP 800-38D, 8.3). Nonces never repeat in a million encryptions through the backend's own
 * encrypt path; encryptions are counted per key in the store; Hangar warns from 2^30.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { hangar } from '../helpers/cli.ts';
import { testRuntime } from '../helpers/runtime.ts';
import { encrypt, Keyring, NONCE_WARN_AT, recordEncryptions } from '../../src/runtime/xcom/crypto.ts';

test('nonces: a million encryptions under one key through encrypt() (what the backend and rotation call) repeat no nonce', () => {
  const keyring = new Keyring([{ id: 'k', key: randomBytes(32) }]);
  const loc = { dagId: 'd', runId: 'r', taskId: 't', mapIndex: -1, key: 'v' };
  const plaintext = Buffer.from('{"password":"x"}');
  const seen = new Set<string>();
  const N = 1_000_000;
  for (let i = 0; i < N; i++) seen.add(encrypt(keyring, loc, ['json'], plaintext).layer.iv);
  assert.equal(seen.size, N);
});

test('nonces: encryptions are counted per key in the store; a warning from 2^30, in the task log and in hangar info', async () => {
  const key = randomBytes(32).toString('base64');
  process.env.HANGAR_XCOM_KEYS = `main:${key}`;
  const t = await testRuntime(
    {
      'dags/secrets.ts': `import { dag } from 'hangar';
export const d = dag({ id: 'secrets' });
d.task('a', { xcomBackend: 'encrypted', sensitive: true }, async () => ({ password: 'p1' }));
d.task('b', { xcomBackend: 'encrypted' }, async (ctx) => { await ctx.xcom.push('api_token', 't'); await ctx.xcom.push('plain', 1); });
`,
    },
  );
  try {
    const run = await t.rt.runDag('secrets');
    assert.equal(run.state, 'success');
    assert.deepEqual([...(await t.rt.store.keys.usage())], [['main', 2]], 'two sensitive values, one plain');
    await t.rt.store.keys.setEncryptions('main', NONCE_WARN_AT - 1);
    const warning = await recordEncryptions(t.rt.store.keys, 'main');
    assert.match(warning ?? '', /XCom key "main" has encrypted 1,073,741,824 values; random 96-bit nonces are safe for up to 2\^32 .* per key \(NIST SP 800-38D\): add a new primary key and run hangar xcom rotate-key/);
    assert.equal(await recordEncryptions(t.rt.store.keys, 'main'), undefined, 'not again at the next one');
    assert.equal((await t.rt.store.keys.usage()).get('main'), NONCE_WARN_AT + 1);
    // The backend's own path logs it to the task's log.
    await t.rt.store.keys.setEncryptions('main', NONCE_WARN_AT + 2 ** 20 - 1);
    const again = await t.rt.runDag('secrets');
    // Whichever task encrypted first crossed the mark: the warning is in its log.
    const { existsSync, readFileSync } = await import('node:fs');
    const logs = (await t.rt.store.tasks.listTries('secrets', again.run_id)).map((x) => (x.log_path && existsSync(x.log_path) ? readFileSync(x.log_path, 'utf8') : '')).join('\n');
    assert.match(logs, /WARNING - XCom key "main" has encrypted 1,074,790,400 values/);
    const info = hangar(['info', '--workspace', t.ws.root], { env: { HANGAR_XCOM_KEYS: `main:${key}` } });
    assert.equal(info.code, 0);
    assert.match(info.stdout, /main \(primary\): 1,074,790,40[12] encryptions/);
    assert.match(info.stderr, /hangar: XCom key "main" has encrypted/);
    assert.ok(!info.stdout.includes(key) && !info.stderr.includes(key), 'never the key');
  } finally {
    delete process.env.HANGAR_XCOM_KEYS;
    await t.close();
  }
});
