/** The seeds' sensor DAGs (examples/dags) on a fake clock: hours of sensor time in milliseconds. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FakeClock } from '../../src/runtime/scheduler/clock.ts';
import { sensorStats } from '../../src/runtime/sensors/index.ts';
import { testRuntime } from '../helpers/runtime.ts';
import { drive, pokes } from './helpers.ts';

const EXAMPLES = join(import.meta.dirname, '..', '..', 'examples', 'dags');
const T0 = Date.UTC(2024, 0, 15, 0, 0, 5);
const DATE = new Date(Date.UTC(2024, 0, 15));

test('cloud_data_pipeline (seed 002): files dropped at the seed delays on the mock tree; every sensor succeeds, all four sources join', async () => {
  const clock = new FakeClock(T0);
  const t = await testRuntime(
    { 'dags/cloud_data_pipeline.ts': readFileSync(join(EXAMPLES, 'cloud_data_pipeline.ts'), 'utf8') },
    { clock },
  );
  try {
    const root = join(t.ws.root, 'mock-s3');
    for (const d of ['data-bucket/raw', 'config-bucket/daily', 'logs-bucket/validation'])
      mkdirSync(join(root, d), { recursive: true });
    const drop = (rel: string, text: string, s: number) =>
      clock.setTimeout(() => writeFileSync(join(root, rel), text), s * 1000);
    drop('data-bucket/raw/daily_export_20240115.json', '{"records": [{"id": 1, "value": "test"}]}', 50);
    drop('config-bucket/daily/processing_config_20240115.yaml', 'processing:\n  batch_size: 1000\n', 10);
    drop('data-bucket/raw/transactions_20240115.csv', 'id,amount,customer\n1,100.00,c1\n2,250.50,c2\n', 30);
    drop('data-bucket/raw/customers_20240115.json', '{"customers": []}', 60);
    drop('logs-bucket/validation/data_quality_20240115.log', 'INFO: ok\n', 120);
    const run = await drive(
      clock,
      t.rt.runDag('cloud_data_pipeline', { logicalDate: DATE, conf: { mock_root: root } }),
      { settleMs: 5 },
    );
    assert.equal(run.state, 'success', JSON.stringify(await t.states(run.run_id)));
    assert.ok(Object.values(await t.states(run.run_id)).every((s) => s === 'success'));
    // Task 1: 45 s pokes; the export lands at 50 s → not at 0 s nor 45 s, found at the third poke (t = 90 s).
    assert.deepEqual(
      (await pokes(t.rt, 'cloud_data_pipeline', run.run_id, 'wait_for_daily_export')).map((p) => p.result),
      ['not_yet', 'not_yet', 'done'],
    );
    // Task 3: exponential backoff from 30 s (±10 % jitter).
    const backoff = await pokes(t.rt, 'cloud_data_pipeline', run.run_id, 'wait_for_transactions_backoff');
    assert.equal(backoff.at(-1)!.result, 'done');
    assert.ok(backoff[0]!.next_interval_ms! >= 27_000 && backoff[0]!.next_interval_ms! <= 33_000);
    assert.equal((await t.rt.store.sensors.listSlaMisses({ dagId: 'cloud_data_pipeline' })).length, 0);
  } finally {
    await t.close();
  }
});

test('sensor_reliability (seed 003): financial in 1 min, customer in 12 min, partner never (soft-fails after 4 h, SLA warn recorded); the report runs', async () => {
  const clock = new FakeClock(T0);
  const t = await testRuntime(
    { 'dags/sensor_reliability.ts': readFileSync(join(EXAMPLES, 'sensor_reliability.ts'), 'utf8') },
    { clock },
  );
  try {
    const root = join(t.ws.root, 'data');
    for (const d of ['reliable-data', 'medium-data', 'unreliable-data'])
      mkdirSync(join(root, d), { recursive: true });
    clock.setTimeout(
      () =>
        writeFileSync(
          join(root, 'reliable-data', 'financial_20240115.csv'),
          'timestamp,amount,currency\n2024-01-01,1000.00,USD\n',
        ),
      60_000,
    );
    clock.setTimeout(
      () => writeFileSync(join(root, 'medium-data', 'customer_20240115.json'), '{"customers": [{"id": 1}]}'),
      12 * 60_000,
    );
    const run = await drive(
      clock,
      t.rt.runDag('sensor_reliability', { logicalDate: DATE, conf: { data_root: root } }),
      { settleMs: 5 },
    );
    assert.deepEqual(await t.states(run.run_id), {
      wait_for_financial_data: 'success',
      wait_for_customer_data: 'success',
      wait_for_partner_data: 'skipped',
      load_financial: 'success',
      load_customer: 'success',
      load_partner: 'skipped',
      daily_report: 'success',
    });
    const fin = await pokes(t.rt, 'sensor_reliability', run.run_id, 'wait_for_financial_data');
    assert.deepEqual(
      fin.map((p) => p.next_interval_ms),
      [30_000, 45_000, null],
      'linear 30 s + 15 s',
    );
    const cust = await pokes(t.rt, 'sensor_reliability', run.run_id, 'wait_for_customer_data');
    assert.equal(cust.at(-1)!.result, 'done');
    assert.ok(cust.every((p) => p.mode === 'reschedule'));
    const partner = await pokes(t.rt, 'sensor_reliability', run.run_id, 'wait_for_partner_data');
    assert.equal(partner.at(-1)!.result, 'timeout');
    assert.equal(partner.at(-1)!.poked_at_ms - partner[0]!.poked_at_ms, 4 * 3_600_000);
    // Each wait is adaptive (5–30 min, jittered), except one cut short so the last poke lands on the 4 h deadline.
    const deadline = partner[0]!.poked_at_ms + 4 * 3_600_000;
    assert.ok(
      partner.slice(0, -1).every((p) => (p.next_interval_ms! >= 300_000 && p.next_interval_ms! <= 1_800_000) || p.poked_at_ms + p.next_interval_ms! === deadline),
      `adaptive 5–30 min with decorrelated jitter: ${partner.map((p) => p.next_interval_ms).join(', ')}`,
    );
    const misses = await t.rt.store.sensors.listSlaMisses({ dagId: 'sensor_reliability', runId: run.run_id });
    assert.deepEqual(
      misses.map((m) => [m.task_id, m.level]),
      [['wait_for_partner_data', 'warn']],
    );
    const stats = Object.fromEntries(
      (await sensorStats(t.rt.store, { dagId: 'sensor_reliability' })).map((s) => [s.taskId, s]),
    );
    assert.equal(stats.wait_for_partner_data!.timeouts, 1);
    assert.equal(stats.wait_for_customer_data!.successRate, 1);
  } finally {
    await t.close();
  }
});
