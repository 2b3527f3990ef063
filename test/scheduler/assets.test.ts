/**
 * Assets (data-aware scheduling), on SQLite and on PostgreSQL (HANGAR_TEST_STORE=postgres).
 * What is pinned, and where Airflow says so:
 *   - a task's success records an asset event per outlet, with the extra the task set
 *     (outlet_events[asset].extra), and queues it for every DAG scheduled on the asset
 *     (airflow/assets/manager.py: register_asset_change, _queue_dagruns); a failed task
 *     records none (only a successful TaskInstance registers its outlets);
 *   - a DAG scheduled on a list of assets runs when all of them were updated, `anyOf` when one
 *     was (airflow/sdk/definitions/asset/__init__.py: AssetAll / AssetAny; a list is AssetAll,
 *     airflow/timetables/simple.py: AssetTriggeredTimetable), once: the run consumes the queue
 *     (airflow/jobs/scheduler_job_runner.py: _create_dag_runs_asset_triggered deletes the DAG's
 *     AssetDagRunQueue rows), with run type `asset_triggered`, a logical date at the newest
 *     queued event, and the events after the previous asset-triggered run as its
 *     triggering_asset_events;
 *   - a paused DAG gets no run, and its events wait for the unpause (dags_needing_dagruns
 *     skips paused DAGs; the queue rows stay).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../src/runtime/scheduler/clock.ts';
import { SchedulerService } from '../../src/runtime/scheduler/service.ts';
import { Runtime } from '../../src/runtime/runtime.ts';
import { isoformat } from '../../src/runtime/templating/index.ts';
import { testRuntime } from '../helpers/runtime.ts';
import { freshDatabase } from '../helpers/postgres.ts';
import { tempWorkspace } from '../helpers/workspace.ts';

const T0 = Date.parse('2024-05-01T00:00:00Z');

const producer = (id: string, assets: string, fail = false) => `import { dag, asset } from 'hangar';
export const d = dag({ id: '${id}', schedule: null });
d.task('load', { outlets: [${assets}] }, async () => { ${fail ? "throw new Error('load failed');" : "return 'ok';"} });
`;

const consumer = (id: string, schedule: string) => `import { dag, asset, anyOf, allOf } from 'hangar';
const orders = asset('s3://bucket/orders');
const customers = asset('s3://bucket/customers');
export const d = dag({ id: '${id}', schedule: ${schedule} });
d.task('report', async (ctx) => Object.fromEntries(Object.entries(ctx.triggeringAssetEvents).map(([uri, es]) =>
  [uri, es.map((e) => ({ dag: e.sourceDagId, run: e.sourceRunId, task: e.sourceTaskId, mapIndex: e.sourceMapIndex, at: e.timestamp.toISOString(), extra: e.extra }))])));
`;

async function xcom(rt: Runtime, dagId: string, runId: string, taskId: string): Promise<unknown> {
  const row = await rt.store.xcoms.get(dagId, runId, taskId, 'return_value', -1);
  return row
    ? rt.backend.deserialize({ dagId, runId, taskId, mapIndex: -1, key: 'return_value' }, row.value)
    : undefined;
}

/** Triggers a DAG, lets the scheduler run it to its end, and returns the run id. */
async function runManually(
  rt: Runtime,
  svc: SchedulerService,
  clock: FakeClock,
  dagId: string,
): Promise<string> {
  clock.advance(60_000);
  const run = await rt.triggerRun(dagId);
  const { created } = await svc.tick(); // starts the queued manual run
  await svc.idle();
  assert.deepEqual(created, [], 'a manual run alone creates nothing');
  return run.run_id;
}

async function withWorkspace(
  files: Record<string, string>,
  fn: (rt: Runtime, svc: SchedulerService, clock: FakeClock, log: string[]) => Promise<void>,
): Promise<void> {
  const clock = new FakeClock(T0);
  const t = await testRuntime(files, { clock });
  const log: string[] = [];
  const svc = new SchedulerService(t.rt, { log: (l) => log.push(l), watch: false });
  await svc.reload();
  try {
    await fn(t.rt, svc, clock, log);
  } finally {
    await svc.stop();
    await t.close();
  }
}

test(
  "a producer's success triggers the consumer once, with the triggering events in its context",
  { timeout: 60_000 },
  async () => {
    await withWorkspace(
      {
        'dags/producer.ts': `import { dag, asset } from 'hangar';
const orders = asset('S3://bucket/orders/');
export const d = dag({ id: 'producer', schedule: null });
d.task('load', { outlets: [orders] }, async (ctx) => {
  ctx.outletEvents(orders).extra.rows = 3;
  return 'ok';
});
`,
        'dags/report.ts': consumer('report', '[orders]'),
      },
      async (rt, svc, clock, log) => {
        assert.ok(
          log.some((l) => l.includes('DAG "report"') && l.includes('scheduled on assets s3://bucket/orders')),
          log.join('\n'),
        );
        assert.deepEqual((await svc.tick()).created, [], 'no event yet: no run');
        const prodRun = await runManually(rt, svc, clock, 'producer');
        assert.equal((await rt.store.runs.get('producer', prodRun))!.state, 'success');

        const events = await rt.store.assets.events();
        assert.equal(events.length, 1);
        assert.equal(
          events[0]!.uri,
          's3://bucket/orders',
          'the URI as Airflow normalises it (scheme lower-cased, trailing slash dropped)',
        );
        assert.deepEqual(
          [
            events[0]!.source_dag_id,
            events[0]!.source_run_id,
            events[0]!.source_task_id,
            Number(events[0]!.source_map_index),
          ],
          ['producer', prodRun, 'load', -1],
        );

        clock.advance(1000);
        const { created } = await svc.tick();
        assert.equal(created.length, 1);
        assert.equal(created[0]!.dagId, 'report');
        const run = (await rt.store.runs.get('report', created[0]!.runId))!;
        assert.equal(run.run_type, 'asset_triggered');
        assert.equal(run.logical_date, events[0]!.timestamp, 'logical date: the newest queued event');
        assert.equal(run.run_id, `asset_triggered__${isoformat(new Date(events[0]!.timestamp))}`);
        assert.ok(
          log.some((l) =>
            l.startsWith(
              `created ${run.run_id} of DAG "report": assets updated (s3://bucket/orders; 1 event(s))`,
            ),
          ),
          log.join('\n'),
        );
        await svc.idle();
        assert.equal((await rt.store.runs.get('report', run.run_id))!.state, 'success');
        assert.deepEqual(await xcom(rt, 'report', run.run_id, 'report'), {
          's3://bucket/orders': [
            {
              dag: 'producer',
              run: prodRun,
              task: 'load',
              mapIndex: -1,
              at: events[0]!.timestamp,
              extra: { rows: 3 },
            },
          ],
        });

        clock.advance(1000);
        assert.deepEqual((await svc.tick()).created, [], 'the queue was consumed: once');
        assert.equal((await rt.store.runs.list({ dagId: 'report' })).length, 1);

        // A second update: a second run, whose events are only the new one.
        const prodRun2 = await runManually(rt, svc, clock, 'producer');
        const second = (await svc.tick()).created;
        assert.equal(second.length, 1);
        await svc.idle();
        const seen = (await xcom(rt, 'report', second[0]!.runId, 'report')) as Record<
          string,
          { run: string }[]
        >;
        assert.deepEqual(
          seen['s3://bucket/orders']!.map((e) => e.run),
          [prodRun2],
        );
      },
    );
  },
);

test('a list of assets waits for all of them; anyOf fires on one', { timeout: 60_000 }, async () => {
  await withWorkspace(
    {
      'dags/orders.ts': producer('orders_dag', "asset('s3://bucket/orders')"),
      'dags/customers.ts': producer('customers_dag', "asset('s3://bucket/customers')"),
      'dags/all.ts': consumer('both', '[orders, customers]'),
      'dags/any.ts': consumer('either', 'anyOf(orders, customers)'),
      'dags/nested.ts': consumer('nested', "anyOf(allOf(orders, customers), asset('s3://bucket/never'))"),
    },
    async (rt, svc, clock) => {
      await runManually(rt, svc, clock, 'orders_dag');
      let created = (await svc.tick()).created.map((c) => c.dagId).sort();
      assert.deepEqual(created, ['either'], 'orders alone: anyOf runs, the list and allOf wait');
      await svc.idle();

      await runManually(rt, svc, clock, 'customers_dag');
      created = (await svc.tick()).created.map((c) => c.dagId).sort();
      assert.deepEqual(created, ['both', 'either', 'nested'], 'customers too: every condition holds');
      await svc.idle();
      const both = (await rt.store.runs.list({ dagId: 'both' }))[0]!;
      const seen = (await xcom(rt, 'both', both.run_id, 'report')) as Record<string, unknown[]>;
      assert.deepEqual(
        Object.keys(seen).sort(),
        ['s3://bucket/customers', 's3://bucket/orders'],
        "the all-of run sees both assets' events",
      );
      assert.deepEqual((await svc.tick()).created, []);
    },
  );
});

test('a failed producer task records no event and triggers nothing', { timeout: 60_000 }, async () => {
  await withWorkspace(
    {
      'dags/producer.ts': producer('producer', "asset('s3://bucket/orders')", true),
      'dags/report.ts': consumer('report', '[orders]'),
    },
    async (rt, svc, clock) => {
      const runId = await runManually(rt, svc, clock, 'producer');
      assert.equal((await rt.store.runs.get('producer', runId))!.state, 'failed');
      assert.deepEqual(await rt.store.assets.events(), []);
      assert.deepEqual(await rt.store.assets.queued(), []);
      assert.deepEqual((await svc.tick()).created, []);
    },
  );
});

test(
  'a paused consumer gets no run; its events wait and one run consumes them after the unpause',
  { timeout: 60_000 },
  async () => {
    await withWorkspace(
      {
        'dags/producer.ts': producer('producer', "asset('s3://bucket/orders')"),
        'dags/report.ts': consumer('report', '[orders]'),
      },
      async (rt, svc, clock) => {
        await rt.store.dags.setPaused('report', true);
        const a = await runManually(rt, svc, clock, 'producer');
        const b = await runManually(rt, svc, clock, 'producer');
        assert.deepEqual((await svc.tick()).created, [], 'paused: no run');
        await rt.store.dags.setPaused('report', false);
        const created = (await svc.tick()).created;
        assert.equal(created.length, 1, 'one run for both events');
        await svc.idle();
        const seen = (await xcom(rt, 'report', created[0]!.runId, 'report')) as Record<
          string,
          { run: string }[]
        >;
        assert.deepEqual(
          seen['s3://bucket/orders']!.map((e) => e.run),
          [a, b],
        );
      },
    );
  },
);

test(
  'maxActiveRuns: an asset-triggered run waits while the DAG is at its limit, then is created',
  { timeout: 60_000 },
  async () => {
    await withWorkspace(
      {
        'dags/producer.ts': producer('producer', "asset('s3://bucket/orders')"),
        'dags/report.ts': consumer('report', '[orders]').replace(
          'schedule: [orders]',
          'schedule: [orders], maxActiveRuns: 1',
        ),
      },
      async (rt, svc, clock, log) => {
        await runManually(rt, svc, clock, 'producer');
        // A queued manual run of the consumer fills its one slot: the turn creates nothing (and then starts the manual run).
        await rt.triggerRun('report');
        assert.deepEqual((await svc.tick()).created, []);
        assert.ok(
          log.some(
            (l) =>
              l ===
              'DAG "report": its assets were updated, the run waits: 1 active run(s) of maxActiveRuns 1',
          ),
          log.join('\n'),
        );
        await svc.idle();
        const created = (await svc.tick()).created;
        assert.equal(created.length, 1);
        assert.ok(created[0]!.runId.startsWith('asset_triggered__'));
      },
    );
  },
);

/**
 * Several schedulers on one PostgreSQL (always PostgreSQL: that is where schedulers share a store;
 * in one process two SQLite connections would only wait on each other's open transaction).
 */
test(
  "two schedulers on one PostgreSQL create the consumer's run once per update (the queue rows are read FOR UPDATE)",
  { timeout: 120_000 },
  async () => {
    const clock = new FakeClock(T0);
    const db = await freshDatabase();
    const ws = tempWorkspace({ 'dags/report.ts': consumer('report', '[orders, customers]') }, undefined, {
      store: 'sqlite',
    });
    ws.write('hangar.json', JSON.stringify({ store: db.url }));
    const one = await Runtime.open(ws.root, { clock, config: { executor: 'in-process' } });
    const other = await Runtime.open(ws.root, { clock, config: { executor: 'in-process' } });
    const a = new SchedulerService(one, { watch: false });
    const b = new SchedulerService(other, { watch: false });
    try {
      await a.reload();
      await b.reload();
      for (let i = 0; i < 10; i++) {
        const at = new Date(T0 + i * 60_000);
        await one.store.sql.tx(() =>
          one.store.assets.recordEvents(
            ['s3://bucket/orders'],
            { dagId: 'up', runId: `r${i}`, taskId: 'o', mapIndex: -1 },
            at.toISOString(),
          ),
        );
        // Nothing is created until both assets were updated.
        assert.deepEqual([...(await a.tick()).created, ...(await b.tick()).created], []);
        await other.store.sql.tx(() =>
          other.store.assets.recordEvents(
            ['s3://bucket/customers'],
            { dagId: 'up', runId: `r${i}`, taskId: 'c', mapIndex: -1 },
            new Date(at.getTime() + 1000).toISOString(),
          ),
        );
        const [x, y] = await Promise.all([a.tick(), b.tick()]);
        assert.equal(
          x.created.length + y.created.length,
          1,
          `update ${i}: one run between the two schedulers`,
        );
        await Promise.all([a.idle(), b.idle()]);
      }
      const runs = await one.store.runs.list({ dagId: 'report' });
      assert.equal(runs.length, 10);
      assert.ok(runs.every((r) => r.run_type === 'asset_triggered' && r.state === 'success'));
      assert.deepEqual(await one.store.assets.queued(), []);
    } finally {
      await a.stop();
      await b.stop();
      await other.close();
      await one.close();
      ws.remove();
    }
  },
);

test(
  'ctx.outletEvents of an asset that is not an outlet of the task fails the task, saying so',
  { timeout: 60_000 },
  async () => {
    await withWorkspace(
      {
        'dags/producer.ts': `import { dag, asset } from 'hangar';
export const d = dag({ id: 'producer', schedule: null });
d.task('load', { outlets: [asset('s3://bucket/orders')] }, async (ctx) => {
  ctx.outletEvents(asset('s3://bucket/other')).extra.rows = 1;
});
`,
      },
      async (rt, svc, clock) => {
        const runId = await runManually(rt, svc, clock, 'producer');
        const [ti] = await rt.store.tasks.list('producer', runId);
        assert.equal(ti!.state, 'failed');
        assert.match(
          ti!.error ?? '',
          /ctx\.outletEvents: asset s3:\/\/bucket\/other is not an outlet of task "load" \(its outlets: s3:\/\/bucket\/orders\)/,
        );
        assert.deepEqual(await rt.store.assets.events(), []);
      },
    );
  },
);
