/**
 * The distributed executor's faults, each on a deployment of its own (PostgreSQL, Redis,
 * s3rver on loopback; `hangar` processes in folders of their own): a worker SIGKILLed in the
 * middle of a try, Redis restarted (empty) in the middle of a run, a bundle tampered with in
 * S3, a worker without an npm package the DAG needs, a worker on another Hangar version, a DAG
 * file edited during a run, a scheduler killed while its run is on the workers, and S3 gone
 * while a task pushes its XCom.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Store } from '../../src/runtime/store/store.ts';
import { parseStoreTarget } from '../../src/runtime/store/target.ts';
import { RemoteObjects } from '../../src/runtime/distributed/remote.ts';
import { bullQueueName, tryJobId } from '../../src/runtime/distributed/protocol.ts';
import { redisOptions } from '../../src/runtime/distributed/redis.ts';
import { startHangar } from '../helpers/scheduler-process.ts';
import type { SchedulerProcess } from '../helpers/scheduler-process.ts';
import { startDeployment } from './deployment.ts';
import type { Deployment } from './deployment.ts';

async function openStore(dep: Deployment): Promise<Store> {
  return Store.open(parseStoreTarget(dep.db.url, dep.schedulerRoot));
}

/** The first of several processes to print a line matching `re`. */
function firstToSay(
  procs: readonly SchedulerProcess[],
  re: RegExp,
  timeoutMs = 60_000,
): Promise<SchedulerProcess> {
  return Promise.any(procs.map((p) => p.waitFor(re, timeoutMs).then(() => p)));
}

const lines = (file: string) => readFileSync(file, 'utf8').trim().split('\n');

test(
  "a try's start and end reach the scheduler as its worker's news (Redis pub/sub), not by polling the store: with the backstop read 10 min away, a chain of three tasks runs in seconds",
  { timeout: 120_000 },
  async () => {
    const dep = await startDeployment({
      dags: {
        'chain3.ts': `import { dag } from 'hangar';
export const c = dag({ id: 'chain3', schedule: null, startDate: '2024-01-01' });
const a = c.task('a', async () => 1);
const b = c.task('b', async () => 2);
const z = c.task('c', async () => 3);
a.before(b);
b.before(z);
`,
      },
    });
    // The scheduler's own hangar.json: its backstop read of a waiting try's state 10 minutes away.
    const config = { ...dep.config, queue: { ...(dep.config.queue as object), pollMs: 600_000 } };
    writeFileSync(join(dep.schedulerRoot, 'hangar.json'), JSON.stringify(config, null, 2));
    const store = await openStore(dep);
    try {
      await dep.startWorker('w1');
      const r = await dep.hangar(['run', 'chain3', '--workspace', dep.schedulerRoot]);
      assert.equal(r.code, 0, r.out);
      // The start was heard too: every task went through running (the CLI prints each state it hears).
      for (const t of ['a', 'b', 'c']) assert.match(r.out, new RegExp(`\\b${t}\\s+running`), r.out);
      const tries = await store.sql.all<{ task_id: string; state: string }>(
        "SELECT task_id, state FROM task_tries WHERE dag_id = 'chain3' ORDER BY task_id",
      );
      assert.deepEqual(
        tries.map((t) => [t.task_id, t.state]),
        [
          ['a', 'success'],
          ['b', 'success'],
          ['c', 'success'],
        ],
      );
    } finally {
      await store.close();
      await dep.close();
    }
  },
);

test(
  'a worker SIGKILLed while a try with retries runs: the try is lost after the heartbeat timeout, retried on another worker; each try recorded once, nothing left running',
  { timeout: 180_000 },
  async () => {
    const dep = await startDeployment();
    const marks = join(dep.base, 'marks.txt');
    writeFileSync(
      join(dep.schedulerRoot, 'dags', 'zombie.ts'),
      `import { dag } from 'hangar';
import { appendFileSync } from 'node:fs';
export const z = dag({ id: 'zombie', schedule: null, startDate: '2024-01-01' });
z.task('slow', { retries: 2, retryDelay: '1s' }, async (ctx) => {
  appendFileSync(${JSON.stringify(marks)}, 'try ' + ctx.tryNumber + ' pid ' + process.pid + '\\n');
  await new Promise((r) => setTimeout(r, 3000));
  return ctx.tryNumber;
});
`,
    );
    const store = await openStore(dep);
    try {
      await dep.startWorker('w1');
      await dep.startWorker('w2');
      const run = dep.hangar(['run', 'zombie', '--workspace', dep.schedulerRoot]);
      const victim = await firstToSay(dep.workers, /zombie\.slow try 1 of \S+: started/);
      // Killed once the body runs (the worker says "started" when it hands the try to its task process).
      const until = Date.now() + 60_000;
      while (!(existsSync(marks) && readFileSync(marks, 'utf8').includes('try 1'))) {
        if (Date.now() > until) assert.fail('try 1 never ran its body');
        await new Promise((r) => setTimeout(r, 20));
      }
      victim.child.kill('SIGKILL');
      const r = await run;
      assert.equal(r.code, 0, r.out);
      assert.match(r.out, /slow\s+up_for_retry/);
      const tries = await store.sql.all<{ try_number: number; state: string; error: string | null }>(
        "SELECT try_number, state, error FROM task_tries WHERE dag_id = 'zombie' ORDER BY try_number",
      );
      assert.deepEqual(
        tries.map((t) => [t.try_number, t.state]),
        [
          [1, 'failed'],
          [2, 'success'],
        ],
      );
      assert.match(
        tries[0]!.error!,
        /The try was lost: its worker \S+ on \S+ \(pid \d+\) sent no heartbeat for \d+ s \(heartbeat timeout 4 s\)/,
      );
      const dispatched = await store.sql.all<{ try_number: number; worker_id: string }>(
        "SELECT try_number, worker_id FROM try_dispatch WHERE dag_id = 'zombie' ORDER BY try_number",
      );
      assert.equal(dispatched.length, 2);
      assert.notEqual(
        dispatched[0]!.worker_id,
        dispatched[1]!.worker_id,
        'the retry ran on the other worker',
      );
      // Each try's body ran once: BullMQ redelivered the dead worker's job, and the claim in the store turned it away.
      assert.deepEqual(
        lines(marks).map((l) => l.split(' pid ')[0]),
        ['try 1', 'try 2'],
      );
      const survivor = dep.workers.find((w) => w !== victim)!;
      assert.equal(
        (await store.sql.all("SELECT 1 FROM task_instances WHERE state IN ('running', 'queued')")).length,
        0,
      );
      assert.ok(!survivor.lines.some((l) => /try 1 .*: started/.test(l)), 'the lost try did not run again');
    } finally {
      await store.close();
      await dep.close();
    }
  },
);

test(
  'Redis restarted, empty, in the middle of a run: the run pauses and goes on; no try is lost or run twice',
  { timeout: 180_000 },
  async () => {
    const dep = await startDeployment();
    const marks = join(dep.base, 'marks.txt');
    writeFileSync(
      join(dep.schedulerRoot, 'dags', 'chain.ts'),
      `import { dag } from 'hangar';
import { appendFileSync } from 'node:fs';
export const c = dag({ id: 'chain', schedule: null, startDate: '2024-01-01' });
const ids = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6'];
const tasks = ids.map((id) => c.task(id, async (ctx) => {
  appendFileSync(${JSON.stringify(marks)}, id + ' try ' + ctx.tryNumber + '\\n');
  await new Promise((r) => setTimeout(r, 700));
  return id;
}));
c.chain(...tasks);
`,
    );
    const store = await openStore(dep);
    try {
      await dep.startWorker('w1');
      await dep.startWorker('w2');
      const run = dep.hangar(['run', 'chain', '--workspace', dep.schedulerRoot]);
      await firstToSay(dep.workers, /chain\.c2 try 1 of \S+: started/);
      await dep.redis.restart({ hard: true, downMs: 1500 });
      const r = await run;
      assert.equal(r.code, 0, r.out + '\n' + dep.workers.map((w) => w.lines.join('\n')).join('\n'));
      assert.match(r.out, /Redis redis:\/\/127\.0\.0\.1:\d+ unreachable/);
      assert.deepEqual(lines(marks), [
        'c1 try 1',
        'c2 try 1',
        'c3 try 1',
        'c4 try 1',
        'c5 try 1',
        'c6 try 1',
      ]);
      const tries = await store.sql.all<{ n: number }>(
        "SELECT COUNT(*) AS n FROM task_tries WHERE dag_id = 'chain' AND state = 'success' AND try_number = 1",
      );
      assert.equal(Number(tries[0]!.n), 6);
    } finally {
      await store.close();
      await dep.close();
    }
  },
);

test(
  "Redis restarted, empty, while a task's callback runs on a worker: the callback runs once and its end comes through the store; the run goes on",
  { timeout: 180_000 },
  async () => {
    const dep = await startDeployment();
    const marks = join(dep.base, 'marks.txt');
    writeFileSync(
      join(dep.schedulerRoot, 'dags', 'cb.ts'),
      `import { dag } from 'hangar';
import { appendFileSync } from 'node:fs';
const mark = (m: string) => appendFileSync(${JSON.stringify(marks)}, m + '\\n');
export const d = dag({ id: 'cb', schedule: null, startDate: '2024-01-01' });
const a = d.task('a', {
  onSuccess: async () => {
    mark('callback start');
    await new Promise((r) => setTimeout(r, 3000));
    mark('callback end');
  },
}, async () => mark('a'));
const b = d.task('b', async () => mark('b'));
a.before(b);
`,
    );
    const store = await openStore(dep);
    try {
      await dep.startWorker('w1');
      const run = dep.hangar(['run', 'cb', '--workspace', dep.schedulerRoot]);
      const until = Date.now() + 60_000;
      while (!(existsSync(marks) && lines(marks).includes('callback start'))) {
        assert.ok(Date.now() < until, 'the callback did not start');
        await new Promise((r) => setTimeout(r, 50));
      }
      // The callback's job is in Redis (active) and goes with it; the worker goes on running the callback.
      await dep.redis.restart({ hard: true, downMs: 1000 });
      const r = await run;
      assert.equal(r.code, 0, r.out);
      assert.doesNotMatch(r.out, /callback of task "a" failed/, r.out);
      assert.deepEqual(lines(marks), ['a', 'callback start', 'callback end', 'b']);
      // The hand-off records are gone once read.
      const left = await store.sql.all<{ n: number }>('SELECT COUNT(*) AS n FROM callback_dispatch');
      assert.equal(Number(left[0]!.n), 0);
    } finally {
      await store.close();
      await dep.close();
    }
  },
);

test(
  'bad bundles and workers: tampered in S3 (refused, not retried), an npm package missing on the worker (the try fails naming it), a worker on another Hangar version (refused naming both)',
  { timeout: 180_000 },
  async () => {
    const dep = await startDeployment();
    // The scheduler's machine has the package (its DAG processor imports the file); the workers do not.
    const pkg = join(dep.schedulerRoot, 'node_modules', 'fake-dep');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(
      join(pkg, 'package.json'),
      JSON.stringify({ name: 'fake-dep', version: '1.0.0', type: 'module', main: 'index.js' }),
    );
    writeFileSync(join(pkg, 'index.js'), 'export const answer = 42;\n');
    writeFileSync(
      join(dep.schedulerRoot, 'dags', 'deps.ts'),
      `import { dag } from 'hangar';
import { answer } from 'fake-dep';
export const d = dag({ id: 'needs_dep', schedule: null, startDate: '2024-01-01' });
d.task('use', async () => answer);
`,
    );
    writeFileSync(
      join(dep.schedulerRoot, 'dags', 'plain.ts'),
      `import { dag } from 'hangar';
export const p = dag({ id: 'plain', schedule: null, startDate: '2024-01-01' });
p.task('only', { retries: 1, retryDelay: '1s' }, async () => 'ran');
`,
    );
    const store = await openStore(dep);
    try {
      const w1 = await dep.startWorker('w1');
      const missing = await dep.hangar(['run', 'needs_dep', '--workspace', dep.schedulerRoot]);
      assert.equal(missing.code, 1, missing.out);
      const depTry = await store.sql.get<{ error: string }>(
        "SELECT error FROM task_tries WHERE dag_id = 'needs_dep'",
      );
      assert.match(
        depTry!.error,
        /failed to load in the worker: \S+deps\.ts:2:24: imports the package "fake-dep", which is not installed/,
      );

      const first = await dep.hangar(['run', 'plain', '--workspace', dep.schedulerRoot]);
      assert.equal(first.code, 0, first.out);
      // Someone rewrites the published bundle; a worker that has not cached it must refuse it.
      const row = await store.sql.get<{ bundle_hash: string }>(
        "SELECT bundle_hash FROM try_dispatch WHERE dag_id = 'plain'",
      );
      const bundles = new RemoteObjects(
        { url: 's3://hangar/deploy/bundles', connection: 's3' },
        { s3: dep.env.HANGAR_CONN_S3! },
      );
      const original = await bundles.get(`${row!.bundle_hash}.mjs`);
      await bundles.put(
        `${row!.bundle_hash}.mjs`,
        Buffer.concat([original, Buffer.from('\nawait fetch("http://attacker.invalid/");\n')]),
      );
      bundles.close();
      w1.child.kill('SIGTERM');
      await w1.exited;
      await dep.startWorker('w2');
      const tampered = await dep.hangar(['run', 'plain', '--workspace', dep.schedulerRoot]);
      assert.equal(tampered.code, 1, tampered.out);
      const runId = tampered.out.match(/run (manual__\S+)/)![1]!;
      const tries = await store.sql.all<{ try_number: number; error: string }>(
        "SELECT try_number, error FROM task_tries WHERE dag_id = 'plain' AND run_id = ? ORDER BY try_number",
        runId,
      );
      assert.equal(tries.length, 1, 'a tampered bundle is not retried');
      assert.match(
        tries[0]!.error,
        new RegExp(
          `DAG bundle s3://hangar/deploy/bundles/${row!.bundle_hash}\\.mjs was changed after it was published: its sha256 is [0-9a-f]{64}, not ${row!.bundle_hash}; refusing to run it`,
        ),
      );

      // A scheduler on another version queued a try (as it would, sharing the queue and the store).
      const key = { dag_id: 'plain', run_id: runId, task_id: 'only', map_index: -1, try_number: 9 };
      await store.dispatch.enqueue(
        [{ key, queue: 'default', bundleHash: row!.bundle_hash }],
        new Date().toISOString(),
      );
      const { Queue } = await import('bullmq');
      const queue = new Queue(bullQueueName('default'), {
        connection: redisOptions(dep.redis.url),
        prefix: 'hangar',
      });
      await queue.add(
        'try',
        {
          kind: 'try',
          version: '0.0.1-other',
          bundleHash: row!.bundle_hash,
          dagFile: 'plain.ts',
          dagId: 'plain',
          runId,
          taskId: 'only',
          mapIndex: -1,
          tryNumber: 9,
          maxTries: 9,
          timeoutMs: null,
          logKey: 'x/attempt=9.log',
        },
        { jobId: tryJobId(key) },
      );
      await queue.close();
      let outcome: string | null = null;
      for (let i = 0; i < 100 && outcome === null; i++) {
        outcome = (await store.dispatch.get(key))!.outcome;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(
        JSON.parse(outcome!).error as string,
        /Worker \S+ runs Hangar 0\.1\.0, but the scheduler that queued this try runs Hangar 0\.0\.1-other: refused/,
      );
    } finally {
      await store.close();
      await dep.close();
    }
  },
);

test(
  'a DAG file edited during a run: the run finishes on the bundle it started with; the next run uses the new one',
  { timeout: 180_000 },
  async () => {
    const dep = await startDeployment();
    const file = join(dep.schedulerRoot, 'dags', 'versioned.ts');
    const source = (v: number) => `import { dag } from 'hangar';
export const v = dag({ id: 'versioned', schedule: null, startDate: '2024-01-01' });
const a = v.task('a', async () => { await new Promise((r) => setTimeout(r, 3000)); return 1; });
const b = v.task('b', async (ctx) => { ctx.log.info('VERSION ${v}'); return ${v}; });
a.before(b);
`;
    writeFileSync(file, source(1));
    const scheduler = startHangar(['scheduler', '--workspace', dep.schedulerRoot], dep.env);
    const store = await openStore(dep);
    try {
      await scheduler.waitFor(/scheduler started/);
      await dep.startWorker('w1');
      const t1 = await dep.hangar(['trigger', 'versioned', '--workspace', dep.schedulerRoot, '-o', 'json']);
      const run1 = (JSON.parse(t1.out) as { run_id: string }).run_id;
      await dep.workers[0]!.waitFor(/versioned\.a try 1 of \S+: started/);
      writeFileSync(file, source(2));
      await scheduler.waitFor(/versioned/, 30_000);
      const waitRun = async (runId: string) => {
        for (let i = 0; i < 600; i++) {
          const r = await store.runs.get('versioned', runId);
          if (r?.state === 'success' || r?.state === 'failed') return r.state;
          await new Promise((res) => setTimeout(res, 100));
        }
        return 'timeout';
      };
      assert.equal(await waitRun(run1), 'success');
      const log1 = await dep.hangar([
        'logs',
        run1,
        'b',
        '--dag',
        'versioned',
        '--workspace',
        dep.schedulerRoot,
      ]);
      assert.match(log1.out, /VERSION 1/);
      const t2 = await dep.hangar(['trigger', 'versioned', '--workspace', dep.schedulerRoot, '-o', 'json']);
      const run2 = (JSON.parse(t2.out) as { run_id: string }).run_id;
      assert.equal(await waitRun(run2), 'success');
      const log2 = await dep.hangar([
        'logs',
        run2,
        'b',
        '--dag',
        'versioned',
        '--workspace',
        dep.schedulerRoot,
      ]);
      assert.match(log2.out, /VERSION 2/);
      const hashes = await store.sql.all<{ run_id: string; bundle_hash: string }>(
        "SELECT DISTINCT run_id, bundle_hash FROM try_dispatch WHERE dag_id = 'versioned' ORDER BY run_id",
      );
      assert.equal(hashes.length, 2);
      assert.notEqual(hashes[0]!.bundle_hash, hashes[1]!.bundle_hash);
    } finally {
      scheduler.child.kill('SIGTERM');
      await scheduler.exited;
      await store.close();
      await dep.close();
    }
  },
);

test(
  'a scheduler SIGKILLed while its run is on the workers: another scheduler adopts the run and the try on a worker after the heartbeat timeout, and finishes it without retrying anything',
  { timeout: 180_000 },
  async () => {
    const dep = await startDeployment();
    writeFileSync(
      join(dep.schedulerRoot, 'dags', 'adopt.ts'),
      `import { dag } from 'hangar';
export const a = dag({ id: 'adopt', schedule: null, startDate: '2024-01-01', defaultArgs: { retries: 2, retryDelay: '1s' } });
a.chain(...['s1', 's2', 's3', 's4'].map((id) => a.task(id, async () => { await new Promise((r) => setTimeout(r, 1500)); return id; })));
`,
    );
    const one = startHangar(['scheduler', '--workspace', dep.schedulerRoot], {
      ...dep.env,
      HANGAR_HOSTNAME: 'machine-a',
    });
    const two = startHangar(['scheduler', '--workspace', dep.schedulerRoot], {
      ...dep.env,
      HANGAR_HOSTNAME: 'machine-b',
    });
    const store = await openStore(dep);
    try {
      await Promise.all([one.waitFor(/scheduler started/), two.waitFor(/scheduler started/)]);
      await dep.startWorker('w1');
      await dep.startWorker('w2');
      const t = await dep.hangar(['trigger', 'adopt', '--workspace', dep.schedulerRoot, '-o', 'json']);
      const runId = (JSON.parse(t.out) as { run_id: string }).run_id;
      await firstToSay(dep.workers, /adopt\.s2 try 1 of \S+: started/);
      const owner = (await store.runs.get('adopt', runId))!;
      const [victim, heir] = owner.owner_host === 'machine-a' ? [one, two] : [two, one];
      victim.child.kill('SIGKILL');
      let state = '';
      for (let i = 0; i < 900 && state !== 'success' && state !== 'failed'; i++) {
        state = (await store.runs.get('adopt', runId))!.state;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(state, 'success', heir.lines.join('\n'));
      const after = (await store.runs.get('adopt', runId))!;
      assert.equal(after.owner_host === owner.owner_host, false, 'the other scheduler finished it');
      const tis = await store.tasks.list('adopt', runId);
      assert.deepEqual(
        tis.map((ti) => ti.state),
        ['success', 'success', 'success', 'success'],
      );
      // The try that was on a worker when its scheduler died was adopted, not failed and retried.
      const tries = await store.sql.all<{ task_id: string; try_number: number; state: string }>(
        "SELECT task_id, try_number, state FROM task_tries WHERE dag_id = 'adopt' ORDER BY task_id, try_number",
      );
      assert.deepEqual(
        tries.map((t) => `${t.task_id}:${t.try_number}:${t.state}`),
        ['s1:1:success', 's2:1:success', 's3:1:success', 's4:1:success'],
      );
      assert.ok(
        heir.lines.some((l) => /Task "s2" try 1: adopted from the runtime that stopped/.test(l)),
        heir.lines.join('\n'),
      );
      assert.equal(
        (await store.sql.all("SELECT 1 FROM try_dispatch WHERE dag_id = 'adopt' AND outcome IS NULL")).length,
        0,
        'no try left open on a worker',
      );
    } finally {
      for (const s of [one, two])
        if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGTERM');
      await Promise.all([one.exited, two.exited]);
      await store.close();
      await dep.close();
    }
  },
);

test(
  "an executionTimeout is enforced on the worker, and a run's cancellation (its dagrunTimeout) reaches the worker and stops the try there",
  { timeout: 180_000 },
  async () => {
    const dep = await startDeployment();
    const marks = join(dep.base, 'marks.txt');
    writeFileSync(
      join(dep.schedulerRoot, 'dags', 'slow.ts'),
      `import { dag } from 'hangar';
import { appendFileSync } from 'node:fs';
export const t = dag({ id: 'timeouts', schedule: null, startDate: '2024-01-01' });
t.task('hangs', { executionTimeout: '1s' }, async () => { await new Promise((r) => setTimeout(r, 60_000)); });
export const c = dag({ id: 'cancelled', schedule: null, startDate: '2024-01-01', dagrunTimeout: '6s' });
c.task('long', async () => {
  appendFileSync(${JSON.stringify(marks)}, 'started\\n');
  await new Promise((r) => setTimeout(r, 60_000));
  appendFileSync(${JSON.stringify(marks)}, 'finished\\n');
});
`,
    );
    const store = await openStore(dep);
    try {
      const worker = await dep.startWorker('w1');
      const timedOut = await dep.hangar(['run', 'timeouts', '--workspace', dep.schedulerRoot]);
      assert.equal(timedOut.code, 1, timedOut.out);
      const t = await store.sql.get<{ error: string; duration: number }>(
        "SELECT error, duration FROM task_tries WHERE dag_id = 'timeouts'",
      );
      assert.match(t!.error, /Task timed out after 1s \(executionTimeout\); its process was killed/);
      assert.ok(t!.duration < 20, `killed at the timeout, not at the end of the task (${t!.duration} s)`);

      const started = Date.now();
      const cancelled = await dep.hangar(['run', 'cancelled', '--workspace', dep.schedulerRoot]);
      assert.equal(cancelled.code, 1, cancelled.out);
      assert.ok(Date.now() - started < 30_000, 'the run ended without waiting for the task');
      const c = await store.sql.get<{ error: string }>(
        "SELECT error FROM task_tries WHERE dag_id = 'cancelled'",
      );
      assert.match(c!.error, /The run exceeded its dagrunTimeout of 6s/);
      await worker.waitFor(
        /stopping cancelled\.long try 1 of \S+: The run exceeded its dagrunTimeout of 6s/,
        10_000,
      );
      await worker.waitFor(/cancelled\.long try 1 of \S+: failed/, 10_000);
      assert.deepEqual(lines(marks), ['started'], 'the task was stopped on the worker, not left to finish');
      assert.equal((await store.sql.all('SELECT 1 FROM try_dispatch WHERE outcome IS NULL')).length, 0);
    } finally {
      await store.close();
      await dep.close();
    }
  },
);

test(
  'S3 unreachable while a task pushes its XCom on a worker: the try fails naming the endpoint, nothing half-written is read; the retry succeeds once S3 is back',
  { timeout: 180_000 },
  async () => {
    const dep = await startDeployment();
    const marks = join(dep.base, 'marks.txt');
    const flag = join(dep.base, 's3-down');
    writeFileSync(
      join(dep.schedulerRoot, 'dags', 's3out.ts'),
      `import { dag } from 'hangar';
import { appendFileSync, existsSync } from 'node:fs';
export const d = dag({ id: 's3out', schedule: null, startDate: '2024-01-01', defaultArgs: { retries: 3, retryDelay: '2s' } });
const make = d.task('make', async (ctx) => {
  appendFileSync(${JSON.stringify(marks)}, 'make try ' + ctx.tryNumber + '\\n');
  // Try 1 returns (and so pushes its XCom to S3) once the test has stopped S3.
  while (ctx.tryNumber === 1 && !existsSync(${JSON.stringify(flag)})) await new Promise((r) => setTimeout(r, 50));
  return { rows: Array.from({ length: 2000 }, (_, i) => ({ i, name: 'row ' + i, try: ctx.tryNumber })) };
});
d.task('use', { inputs: { data: make } }, async (_ctx, { data }) => data.rows.filter((r) => r.try === 2).length);
`,
    );
    const store = await openStore(dep);
    try {
      const worker = await dep.startWorker('w1');
      const run = dep.hangar(['run', 's3out', '--workspace', dep.schedulerRoot, '-o', 'json']);
      const until = Date.now() + 60_000;
      while (!(existsSync(marks) && lines(marks).includes('make try 1'))) {
        assert.ok(Date.now() < until, 'make never started');
        await new Promise((r) => setTimeout(r, 50));
      }
      await dep.s3.pause();
      writeFileSync(flag, '');
      // The push fails: try 1 ends (up for retry); S3 comes back before try 2 starts.
      for (;;) {
        const tries = await store.sql.all<{ state: string }>(
          "SELECT state FROM task_tries WHERE dag_id = 's3out' AND task_id = 'make' AND try_number = 1",
        );
        if (tries[0]?.state === 'failed') break;
        assert.ok(Date.now() < until + 60_000, 'try 1 of make never failed');
        await new Promise((r) => setTimeout(r, 50));
      }
      await dep.s3.resume();
      const r = await run;
      assert.equal(r.code, 0, r.out + '\n' + worker.lines.join('\n'));
      const runId = (JSON.parse(r.out) as { run: { run_id: string } }).run.run_id;

      const tries = await store.tasks.listTries('s3out', runId, 'make', -1);
      assert.deepEqual(
        tries.map((t) => t.state),
        ['failed', 'success'],
      );
      assert.match(tries[0]!.error ?? '', /127\.0\.0\.1:\d+/, 'the error names the S3 endpoint');
      assert.match(tries[0]!.error ?? '', /ECONNREFUSED|unreachable|refused/i);
      assert.doesNotMatch(tries[0]!.error ?? '', /aws:\/\//, 'never the connection URI with its secret');
      // What try 2 pushed is what use read, whole: nothing of try 1's failed push.
      const use = await dep.hangar([
        'xcom',
        'get',
        '--dag',
        's3out',
        '--run',
        runId,
        '--task',
        'use',
        '--workspace',
        dep.schedulerRoot,
        '-o',
        'json',
      ]);
      assert.equal(use.code, 0, use.out);
      assert.equal((JSON.parse(use.out) as { value: unknown }).value, 2000);
      assert.deepEqual(lines(marks), ['make try 1', 'make try 2']);
      // The worker's log upload met the same outage: the log stayed on its machine, and it said so.
      assert.match(worker.lines.join('\n'), /the log stays at \S+ on this machine/);
    } finally {
      await store.close();
      await dep.close();
    }
  },
);
