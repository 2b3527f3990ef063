/**
 * `hangar assets list|events` and `hangar list` for asset-scheduled DAGs, on the built CLI
 * (dist/): a producer's run records the event `hangar assets events` shows; `list` says which
 * tasks update an asset and which DAGs it schedules, and which DAG waits on it; a bad --uri is a
 * usage error. The JSON shapes are checked against docs/cli-schema/ in schema.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tempWorkspace } from '../helpers/workspace.ts';
import { hangar } from '../helpers/cli.ts';

const DAGS = {
  'dags/assets.ts': `import { dag, asset, anyOf } from 'hangar';
const orders = asset('s3://bucket/orders');
const customers = asset('s3://bucket/customers');
export const p = dag({ id: 'producer' });
p.task('load', { outlets: [orders] }, async (ctx) => {
  ctx.outletEvents(orders).extra.rows = 7; // set in the task's own process (the isolated executor), recorded by the run loop
  return 1;
});
export const c = dag({ id: 'report', schedule: [orders, customers] });
c.task('t', async () => 1);
export const e = dag({ id: 'either', schedule: anyOf(orders, customers) });
e.task('t', async () => 1);
`,
};

test(
  'cli assets: list, events (--uri, -o json), and hangar list showing asset schedules and outlets',
  { timeout: 120_000 },
  () => {
    const ws = tempWorkspace(DAGS);
    const h = (args: string[]) => hangar([...args, '--workspace', ws.root]);
    try {
      const run = h(['run', 'producer', '--json']);
      assert.equal(run.code, 0, run.stderr);
      const runId = (JSON.parse(run.stdout) as { run: { run_id: string } }).run.run_id;

      const list = JSON.parse(h(['assets', 'list', '--json']).stdout) as {
        assets: Record<string, unknown>[];
      };
      assert.deepEqual(
        list.assets.map((a) => ({
          ...a,
          first_seen: typeof a.first_seen,
          last_event_at: typeof a.last_event_at,
        })),
        [
          {
            uri: 's3://bucket/customers',
            first_seen: 'string',
            producers: [],
            consumers: ['either', 'report'],
            events: 0,
            last_event_at: 'object',
            queued_for: [],
          },
          {
            uri: 's3://bucket/orders',
            first_seen: 'string',
            producers: [{ dag_id: 'producer', task_id: 'load' }],
            consumers: ['either', 'report'],
            events: 1,
            last_event_at: 'string',
            queued_for: ['either', 'report'],
          },
        ],
      );
      const table = h(['assets', 'list']).stdout;
      assert.match(
        table,
        /s3:\/\/bucket\/orders\s+producer\.load\s+either, report\s+1\s+\S+Z\s+either, report/,
      );

      const events = JSON.parse(h(['assets', 'events', '--uri', 'S3://bucket/orders/', '--json']).stdout) as {
        events: Record<string, unknown>[];
      };
      assert.equal(events.events.length, 1);
      assert.deepEqual(
        {
          ...events.events[0],
          id: typeof events.events[0]!.id,
          timestamp: typeof events.events[0]!.timestamp,
        },
        {
          id: 'number',
          uri: 's3://bucket/orders',
          source_dag_id: 'producer',
          source_run_id: runId,
          source_task_id: 'load',
          source_map_index: -1,
          timestamp: 'string',
          extra: { rows: 7 },
        },
      );
      assert.deepEqual(
        JSON.parse(h(['assets', 'events', '--uri', 's3://bucket/customers', '--json']).stdout),
        { events: [] },
      );
      assert.match(
        h(['assets', 'events']).stdout,
        new RegExp(`s3://bucket/orders\\s+producer\\.load \\(${runId.replace(/[+.]/g, '\\$&')}\\)`),
      );

      const bad = h(['assets', 'events', '--uri', 'orders']);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--uri "orders" is not an asset URI: it has no scheme/);

      // By hand (Airflow's REST API has it): no source task, the extra as given, queued for both consumers.
      const upd = h(['assets', 'update', 's3://bucket/customers/', '--extra', '{"rows": 12}', '--json']);
      assert.equal(upd.code, 0, upd.stderr);
      const made = JSON.parse(upd.stdout) as { event: Record<string, unknown>; queued_for: string[] };
      assert.deepEqual(
        { ...made.event, id: typeof made.event.id, timestamp: typeof made.event.timestamp },
        {
          id: 'number',
          uri: 's3://bucket/customers',
          source_dag_id: null,
          source_run_id: null,
          source_task_id: null,
          source_map_index: null,
          timestamp: 'string',
          extra: { rows: 12 },
        },
      );
      assert.deepEqual(made.queued_for, ['either', 'report']);
      assert.match(h(['assets', 'events', '--limit', '1']).stdout, /s3:\/\/bucket\/customers\s+by hand/);
      assert.match(
        h(['assets', 'update', 's3://x', '--extra', '[1]']).stderr,
        /--extra must be a JSON object/,
      );
      assert.equal(h(['assets', 'update', 'nope']).code, 2);

      const dags = h(['list']).stdout;
      assert.match(dags, /^report {2}\(on assets s3:\/\/bucket\/orders & s3:\/\/bucket\/customers\)$/m);
      assert.match(dags, /^either {2}\(on assets s3:\/\/bucket\/orders \| s3:\/\/bucket\/customers\)$/m);
      assert.match(dags, /^ {2}load {2}→ s3:\/\/bucket\/orders$/m);
    } finally {
      ws.remove();
    }
  },
);
