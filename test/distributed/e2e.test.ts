/**
 * The distributed executor end to end: one `hangar scheduler`, three `hangar worker`
 * processes in folders of their own (as separate machines have), PostgreSQL, Redis and
 * s3rver on loopback. The seed's financial analytics pipeline and a 200-task fan-out/fan-in
 * DAG run to success; XCom values are in S3 and decode; logs are read from S3 once every
 * worker is gone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { join } from 'node:path';
import { Store } from '../../src/runtime/store/store.ts';
import { parseStoreTarget } from '../../src/runtime/store/target.ts';
import { startHangar } from '../helpers/scheduler-process.ts';
import { startDeployment } from './deployment.ts';

/** A validator of docs/cli-schema/workers.json (test/cli/schema.test.ts checks the others). */
function workersSchema() {
  const ajv = new Ajv2020({ allErrors: true, strict: true });
  ajv.addKeyword({ keyword: 'schemaVersion', schemaType: 'number' });
  return ajv.compile(
    JSON.parse(
      readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'cli-schema', 'workers.json'), 'utf8'),
    ) as object,
  );
}

const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples', 'dags');

const FAN = `import { dag } from 'hangar';
export const fan = dag({ id: 'fan_200', schedule: null, startDate: '2024-01-01', maxActiveTasks: 64 });
const start = fan.task('start', async () => 1);
const end = fan.task('end', async (ctx) => {
  let sum = 0;
  const parts = [];
  for (let i = 0; i < 200; i++) {
    const v = (await ctx.xcom.pull<number>('t' + String(i).padStart(3, '0')))!;
    sum += v;
    parts.push({ task: i, value: v, note: 'part ' + i + ' of the fan-in' });
  }
  await ctx.xcom.push('parts', parts);
  return sum;
});
for (let i = 0; i < 200; i++) {
  const id = 't' + String(i).padStart(3, '0');
  const t = fan.task(id, async (ctx) => { ctx.log.info('task ' + id + ' on pid ' + process.pid); return i; });
  start.before(t);
  t.before(end);
}
`;

test(
  'distributed: one scheduler, three workers — the financial pipeline and a 200-task fan-out/fan-in run to success, XComs in S3, logs readable after the workers are gone',
  { timeout: 600_000 },
  async () => {
    const dep = await startDeployment({ dags: { 'fan.ts': FAN } });
    const { cpSync } = await import('node:fs');
    cpSync(
      join(EXAMPLES, 'financial_analytics_pipeline.ts'),
      join(dep.schedulerRoot, 'dags', 'financial_analytics_pipeline.ts'),
    );
    // The seed's file references need a folder every machine sees (a shared mount in a deployment).
    const shared = join(dep.base, 'shared-data');
    mkdirSync(shared);
    const scheduler = startHangar(['scheduler', '--workspace', dep.schedulerRoot], dep.env);
    let store: Store | undefined;
    try {
      await scheduler.waitFor(/scheduler started/, 30_000);
      await Promise.all(['w1', 'w2', 'w3'].map((w) => dep.startWorker(w)));
      const fin = await dep.hangar([
        'trigger',
        'financial_analytics_pipeline',
        '--date',
        '2024-03-01',
        '--conf',
        JSON.stringify({ data_dir: shared }),
        '--workspace',
        dep.schedulerRoot,
        '-o',
        'json',
      ]);
      assert.equal(fin.code, 0, fin.out);
      const fan = await dep.hangar(['trigger', 'fan_200', '--workspace', dep.schedulerRoot, '-o', 'json']);
      assert.equal(fan.code, 0, fan.out);
      const finRun = (JSON.parse(fin.out) as { run_id: string }).run_id;
      const fanRun = (JSON.parse(fan.out) as { run_id: string }).run_id;

      const st = await Store.open(parseStoreTarget(dep.db.url, dep.schedulerRoot));
      store = st;
      const until = Date.now() + 400_000;
      for (;;) {
        const states = await Promise.all([
          st.runs.get('financial_analytics_pipeline', finRun),
          st.runs.get('fan_200', fanRun),
        ]);
        if (states.every((r) => r && (r.state === 'success' || r.state === 'failed'))) break;
        if (Date.now() > until)
          assert.fail(
            `runs not finished: ${states.map((r) => r?.state).join(', ')}\n${scheduler.lines.slice(-40).join('\n')}`,
          );
        await new Promise((r) => setTimeout(r, 500));
      }
      const [finState, fanState] = await Promise.all([
        store.runs.get('financial_analytics_pipeline', finRun),
        store.runs.get('fan_200', fanRun),
      ]);
      assert.equal(finState!.state, 'success', scheduler.lines.slice(-40).join('\n'));
      assert.equal(fanState!.state, 'success', scheduler.lines.slice(-40).join('\n'));

      // Every try ran once, on a worker; the work was spread over all three.
      const tries = await store.sql.all<{
        task_id: string;
        try_number: number;
        hostname: string;
        state: string;
        log_path: string;
      }>(
        'SELECT task_id, try_number, hostname, state, log_path FROM task_tries WHERE run_id IN (?, ?) ORDER BY task_id',
        finRun,
        fanRun,
      );
      assert.equal(tries.filter((t) => t.task_id.startsWith('t')).length, 200);
      assert.ok(
        tries.every(
          (t) =>
            t.try_number === 1 && t.state === 'success' && t.log_path.startsWith('s3://hangar/deploy/logs/'),
        ),
        JSON.stringify(tries.filter((t) => t.try_number !== 1 || t.state !== 'success')),
      );
      const dispatch = await store.sql.all<{ worker_id: string; n: number }>(
        'SELECT worker_id, COUNT(*) AS n FROM try_dispatch WHERE run_id IN (?, ?) GROUP BY worker_id',
        finRun,
        fanRun,
      );
      assert.equal(dispatch.length, 3, `tries spread over the three workers: ${JSON.stringify(dispatch)}`);
      const ours = (l: string) =>
        /: done$/.test(l) && (l.includes(` of ${finRun}:`) || l.includes(` of ${fanRun}:`));
      const workerLines = dep.workers.map((w) => w.lines.filter(ours).length);
      assert.equal(
        workerLines.reduce((a, b) => a + b, 0),
        tries.length,
        `each try done once across the workers: ${workerLines}`,
      );

      // XCom values are objects in S3; metadata in PostgreSQL; they decode.
      const chains = await store.sql.all<{
        task_id: string;
        key: string;
        chain: string;
        size_original: number;
      }>('SELECT task_id, key, chain, size_original FROM xcom WHERE run_id IN (?, ?)', finRun, fanRun);
      const offloaded = chains.filter((c) => c.size_original > 1024);
      assert.ok(
        offloaded.length >= 1 && offloaded.every((c) => c.chain.includes('s3')),
        `values over the 1 KiB threshold are in S3: ${JSON.stringify(chains.filter((c) => c.size_original > 1024 || c.chain.includes('s3')))}`,
      );
      const s3Objects = readdirSync(join(dep.s3.dir, 'hangar'), { recursive: true }).length;
      assert.ok(s3Objects > 200, `objects in s3rver: ${s3Objects}`);
      const sum = await dep.hangar([
        'xcom',
        'get',
        '--dag',
        'fan_200',
        '--run',
        fanRun,
        '--task',
        'end',
        '--workspace',
        dep.schedulerRoot,
        '-o',
        'json',
      ]);
      assert.equal(sum.code, 0, sum.out);
      assert.equal((JSON.parse(sum.out) as { value: unknown }).value, 19_900);
      const parts = await dep.hangar([
        'xcom',
        'get',
        '--dag',
        'fan_200',
        '--run',
        fanRun,
        '--task',
        'end',
        '--key',
        'parts',
        '--workspace',
        dep.schedulerRoot,
        '-o',
        'json',
      ]);
      assert.equal(parts.code, 0, parts.out);
      const partsValue = (JSON.parse(parts.out) as { value: { task: number; value: number }[] }).value;
      assert.equal(partsValue.length, 200);
      assert.deepEqual(partsValue[123], { task: 123, value: 123, note: 'part 123 of the fan-in' });
      const quality = await dep.hangar([
        'xcom',
        'get',
        '--dag',
        'financial_analytics_pipeline',
        '--run',
        finRun,
        '--task',
        'assess_quality',
        '--workspace',
        dep.schedulerRoot,
        '-o',
        'json',
      ]);
      assert.equal(quality.code, 0, quality.out);
      assert.equal(
        (JSON.parse(quality.out) as { value: { overall_quality_score: number } }).value.overall_quality_score,
        0.79,
      );

      // `hangar test` shows the task's log lines as the worker runs it (Redis pub/sub), before its log is read from S3.
      const tested = await dep.hangar(['test', 'fan_200', 't007', '--workspace', dep.schedulerRoot]);
      assert.equal(tested.code, 0, tested.out);
      assert.match(tested.out, /│ .*task t007 on pid \d+/);

      // `hangar workers`: the three, alive, as docs/cli-schema/workers.json says.
      const validate = workersSchema();
      const listed = await dep.hangar(['workers', '--workspace', dep.schedulerRoot, '-o', 'json']);
      const alive = JSON.parse(listed.out) as {
        workers: { state: string; queues: string[]; running_tries: number }[];
      };
      assert.ok(validate(alive), JSON.stringify(validate.errors));
      assert.deepEqual(
        alive.workers.map((w) => [w.state, w.queues, w.running_tries]),
        [
          ['running', ['default'], 0],
          ['running', ['default'], 0],
          ['running', ['default'], 0],
        ],
      );

      // The workers go (SIGTERM: they finish and leave); the logs stay readable from S3.
      for (const w of dep.workers) w.child.kill('SIGTERM');
      assert.deepEqual(await Promise.all(dep.workers.map((w) => w.exited)), [0, 0, 0]);
      const gone = await dep.hangar(['workers', '--workspace', dep.schedulerRoot]);
      assert.match(gone.out, /No worker running \(--all lists the stopped ones\)/);
      const stopped = JSON.parse(
        (await dep.hangar(['workers', '--all', '--workspace', dep.schedulerRoot, '-o', 'json'])).out,
      ) as unknown;
      assert.ok(validate(stopped), JSON.stringify(validate.errors));
      const workers = await store.dispatch.workers();
      assert.deepEqual(
        workers.map((w) => w.state),
        ['stopped', 'stopped', 'stopped'],
      );
      const log = await dep.hangar([
        'logs',
        fanRun,
        't123',
        '--dag',
        'fan_200',
        '--workspace',
        dep.schedulerRoot,
      ]);
      assert.equal(log.code, 0, log.out);
      assert.match(log.out, /task t123 on pid \d+/);
      const ingestLog = await dep.hangar([
        'logs',
        finRun,
        'ingest_data',
        '--dag',
        'financial_analytics_pipeline',
        '--workspace',
        dep.schedulerRoot,
      ]);
      assert.match(ingestLog.out, /market_data: \d+ bytes > 1048576; stored as a file reference at /);
      // --follow reads the S3 log too (here of a try that has ended: printed, then done).
      const followed = await dep.hangar([
        'logs',
        finRun,
        'ingest_data',
        '-f',
        '--dag',
        'financial_analytics_pipeline',
        '--workspace',
        dep.schedulerRoot,
      ]);
      assert.equal(followed.code, 0, followed.out);
      assert.match(followed.out, /market_data: \d+ bytes > 1048576; stored as a file reference at /);
      assert.match(followed.out, /"ingest_data" of run "\S+" ended: success/);
    } finally {
      scheduler.child.kill('SIGTERM');
      await scheduler.exited;
      await store?.close();
      await dep.close();
    }
  },
);
