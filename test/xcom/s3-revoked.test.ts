/**
 * S3 credentials revoked while a task pushes and pulls XComs (issue #16): a real S3 API
 * server (s3rver) whose access key is revoked in the middle of a try. The try fails with
 * the server's InvalidAccessKeyId (its words, the XCom named, never the secret); nothing of
 * the failed push is readable (no XCom row, no object); once the key is restored the retry
 * pushes and pulls and the run succeeds. The task runs in this process (hangar/testing's
 * in-process executor), so the DAG reaches the server's account through a hook on
 * globalThis: revocation happens at a fixed point of the try, not at a time.
 *
 * Airflow's behaviour pinned: a failed try's XComs are cleared before the next try runs
 * (airflow/models/taskinstance.py, `_run_raw_task` → `self.clear_xcom_data()` at the start
 * of each try), so what the retry reads is its own.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { testDag } from '../../src/runtime/testing/index.ts';
import { tempWorkspace } from '../helpers/workspace.ts';
import { S3_CREDENTIALS, startS3rver } from './helpers.ts';

interface Account {
  createKeyPair(id: string, secret: string): void;
  revokeAccessKey(id: string): void;
}
const account = (createRequire(import.meta.url)('s3rver/lib/models/account.js') as { DUMMY_ACCOUNT: Account })
  .DUMMY_ACCOUNT;

interface Hook {
  revoke(): void;
  /** Revokes the key once the server has answered `n` more requests signed with it (0: now). */
  revokeAfter(n: number): void;
  restore(): void;
  seen: string[];
  atRetry?: (runId: string) => Promise<void>;
}
const hook: Hook = {
  revoke: () => account.revokeAccessKey(S3_CREDENTIALS.accessKeyId),
  revokeAfter: (n) => {
    left = n;
    if (left === 0) hook.revoke();
  },
  restore: () => account.createKeyPair(S3_CREDENTIALS.accessKeyId, S3_CREDENTIALS.secretAccessKey),
  seen: [],
};
// s3rver looks the access key id up in its account registry on every request: counting the lookups
// counts the requests, so a revocation can fall between two parts of a multipart upload.
const registry = (
  createRequire(import.meta.url)('s3rver/lib/models/account.js') as { registry: Map<string, unknown> }
).registry;
let left = -1;
const get = registry.get.bind(registry);
registry.get = (id: string) => {
  const found = get(id);
  if (id === S3_CREDENTIALS.accessKeyId && found && left > 0 && --left === 0)
    queueMicrotask(() => hook.revoke());
  return found;
};
(globalThis as unknown as { __hangarS3Revocation: Hook }).__hangarS3Revocation = hook;

const DAG = `import { dag } from 'hangar';
const hook = (globalThis as any).__hangarS3Revocation;
export const d = dag({ id: 's3_revoked', schedule: null, startDate: '2024-01-01' });
d.task('push_pull', {
  retries: 1, retryDelay: 0,
  onRetry: async (ctx: { runId: string }) => { await hook.atRetry(ctx.runId); hook.restore(); },
}, async (ctx) => {
  const big = 'B'.repeat(12 << 20);
  await ctx.xcom.push('first', { try: ctx.tryNumber, rows: 'r'.repeat(20_000) });
  if (ctx.tryNumber === 1) {
    hook.revokeAfter(0);
    try {
      await ctx.xcom.pull('push_pull', 'first');
      hook.seen.push('pull: no error');
    } catch (e) {
      hook.seen.push('pull: ' + (e as Error).message);
    }
    hook.restore();
    hook.revokeAfter(2); // CreateMultipartUpload and the first part pass; the second part is refused
    try {
      await ctx.xcom.push('big', { try: 1, big });
      hook.seen.push('push: no error');
    } catch (e) {
      hook.seen.push('push: ' + (e as Error).message);
      throw e;
    }
  }
  await ctx.xcom.push('big', { try: ctx.tryNumber, big });
  const back = await ctx.xcom.pull('push_pull', 'big') as { big: string };
  return back.big.length;
});
`;

let s3: Awaited<ReturnType<typeof startS3rver>>;
before(async () => {
  s3 = await startS3rver('hangar-xcom');
});
after(async () => {
  hook.restore();
  await s3.stop();
});

/** Every object file s3rver holds for the bucket (its layout: <dir>/<bucket>/<key>._S3rver_object). */
function objects(dir: string): string[] {
  const out: string[] = [];
  const walk = (p: string) => {
    for (const n of readdirSync(p)) {
      const q = join(p, n);
      if (statSync(q).isDirectory()) walk(q);
      else if (n.endsWith('._S3rver_object')) out.push(q.slice(dir.length + 1));
    }
  };
  walk(dir);
  return out;
}

test("S3 key revoked mid-try: push and pull fail with the server's words, nothing half-written is readable, the retry succeeds once the key is restored", async () => {
  const host = new URL(s3.endpoint).host;
  const ws = tempWorkspace({
    'hangar.json': JSON.stringify({
      dagsFolder: 'dags',
      connections: {
        local_s3: `aws://${S3_CREDENTIALS.accessKeyId}:${S3_CREDENTIALS.secretAccessKey}@${host}?region_name=us-east-1`,
      },
      xcom: {
        backend: 's3',
        objectStore: {
          url: 's3://hangar-xcom/revoked',
          connection: 'local_s3',
          maxAttempts: 1,
          multipartThreshold: 6 << 20,
          partSize: 5 << 20,
        },
      },
    }),
    'dags/s3_revoked.ts': DAG,
  });
  const t = await testDag(join(ws.root, 'dags', 's3_revoked.ts'), { date: '2024-05-02T00:00:00Z' });
  try {
    let atRetry: { big: unknown; first: unknown; objects: string[] } | undefined;
    hook.atRetry = async (runId) => {
      // The failed try is over and the key still revoked: what can be read of it?
      hook.restore(); // to read the store's objects through S3 as a reader would
      const read = async (key: string) =>
        t.xcom('push_pull', { key, runId }).then(
          (v) => v,
          (e: Error) => `error: ${e.message}`,
        );
      atRetry = { big: await read('big'), first: await read('first'), objects: objects(s3.dir) };
      hook.revoke();
    };
    const run = await t.runDag();
    assert.equal(run.state, 'success', JSON.stringify(run.errors));
    assert.equal(await t.xcom('push_pull'), 12 << 20);
    assert.deepEqual(((await t.xcom('push_pull', 'big')) as { try: number }).try, 2);
    assert.deepEqual(((await t.xcom('push_pull', 'first')) as { try: number }).try, 2);

    // Try 1: the pull and the push failed with the server's refusal, naming the XCom, never the secret.
    assert.equal(hook.seen.length, 2, hook.seen.join('\n'));
    assert.match(
      hook.seen[0]!,
      /^pull: .*XCom "first".*(InvalidAccessKeyId|Access Key Id you provided does not exist)/s,
    );
    assert.match(
      hook.seen[1]!,
      /^push: .*XCom "big".*(InvalidAccessKeyId|Access Key Id you provided does not exist)/s,
    );
    for (const s of hook.seen)
      assert.ok(!s.includes(S3_CREDENTIALS.secretAccessKey + '@'), 'the connection URI is not in the error');

    // Between the tries: the half-pushed "big" is not readable; no object of it exists.
    assert.ok(atRetry, 'onRetry ran');
    assert.equal(
      atRetry.big,
      undefined,
      `the failed push of "big" is not readable: ${String(atRetry.big).slice(0, 200)}`,
    );
    assert.deepEqual(
      (atRetry.first as { try: number }).try,
      1,
      'what try 1 pushed before the revocation is intact',
    );
    assert.ok(
      !atRetry.objects.some((o) => o.includes('/big.')),
      `no object of the failed push: ${atRetry.objects.join(', ')}`,
    );

    // After the run: exactly the retry's two objects (the failed try's "first" was cleared).
    const left = objects(s3.dir).filter((o) => o.includes('revoked/'));
    assert.equal(left.filter((o) => o.includes('/first.')).length, 1, left.join(', '));
    assert.equal(left.filter((o) => o.includes('/big.')).length, 1, left.join(', '));
  } finally {
    await t.close();
    ws.remove();
  }
});
