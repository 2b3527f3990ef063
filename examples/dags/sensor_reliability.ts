/**
 * The seed's "Advanced Sensor Configuration" exercise: three data sources of
 * different reliability, each with the timeout, retries, backoff and mode
 * that fits it.
 *
 * | tier     | source (seed's dirs, under params.data_root)  | arrives within    | mode       | interval                                      | timeout | retries          |
 * |----------|-----------------------------------------------|-------------------|------------|-----------------------------------------------|---------|------------------|
 * | high     | reliable-data/financial_YYYYMMDD.csv          | 5 min (99.9 %)    | poke       | linear 30 s + 15 s, ≤ 60 s                    | 5 min   | 2, 1 min apart   |
 * | medium   | medium-data/customer_YYYYMMDD.json            | 30 min (95 %)     | reschedule | exponential 60 s × 1.5, ≤ 10 min, equal jitter | 40 min  | 3, 5 min apart   |
 * | low      | unreliable-data/partner_YYYYMMDD.xml          | 4 h (80 %)        | reschedule | adaptive from history (5–30 min), decorrelated jitter; circuit breaker | 4 h | 5, 30 min apart |
 *
 * Poke errors (an unreadable share, say) are retried; a timeout is not (as in
 * Airflow). The partner source may never come: its sensor soft-fails (skipped)
 * and the report still runs. Each tier has an SLA with escalation, checked by
 * the runtime; every poke is recorded (`hangar sensors stats sensor_reliability`),
 * which is also what the adaptive interval learns from.
 */
import { dag, fileSensor } from 'hangar';
import type { SlaMissEvent, TaskCallbackContext } from 'hangar';

export const reliability = dag({
  id: 'sensor_reliability',
  description:
    'Sensors tuned to source reliability: timeouts, retries, backoff, jitter, adaptive intervals, circuit breaker, SLAs',
  schedule: '@daily',
  startDate: '2024-01-01',
  tags: ['sensors', 'seed-003'],
  params: { data_root: '/tmp' },
  defaultArgs: { retries: 1, retryDelay: '5m' },
});

const alert = (tier: string) => (c: TaskCallbackContext) =>
  console.error(
    `ALERT [${tier}] ${c.taskId} failed (try ${c.tryNumber}): ${c.error?.split('\n')[0] ?? 'unknown'}`,
  );
const sla = (tier: string) => (e: SlaMissEvent) =>
  console.warn(`SLA ${e.level} [${tier}] ${e.taskId}: not done by ${e.deadline} (${e.taskState ?? 'none'})`);

const financial = fileSensor(reliability, 'wait_for_financial_data', {
  path: '{{ params.data_root }}/reliable-data/financial_{{ ds_nodash }}.csv',
  minSize: 1,
  mode: 'poke', // short wait expected: keep the slot
  pokeInterval: { kind: 'linear', initial: '30s', step: '15s', maxWait: '60s' },
  timeout: '5m',
  retries: 2,
  retryDelay: '1m',
  sla: {
    levels: [
      { after: '5m', level: 'warn' },
      { after: '10m', level: 'page' },
    ],
  },
  onFailure: alert('high'),
  onSlaMiss: sla('high'),
});

const customer = fileSensor(reliability, 'wait_for_customer_data', {
  path: '{{ params.data_root }}/medium-data/customer_{{ ds_nodash }}.json',
  minSize: 1,
  stableFor: '10s', // a file still being written is not taken
  mode: 'reschedule',
  pokeInterval: { kind: 'exponential', initial: '60s', multiplier: 1.5, maxWait: '10m', jitter: 'equal' },
  timeout: '40m',
  retries: 3,
  retryDelay: '5m',
  sla: {
    levels: [
      { after: '30m', level: 'warn' },
      { after: '45m', level: 'page' },
    ],
  },
  onFailure: alert('medium'),
  onSlaMiss: sla('medium'),
});

const partner = fileSensor(reliability, 'wait_for_partner_data', {
  path: '{{ params.data_root }}/unreliable-data/partner_{{ ds_nodash }}.xml',
  minSize: 1,
  mode: 'reschedule',
  pokeInterval: { kind: 'adaptive', base: '5m', max: '30m', window: 10, jitter: 'decorrelated' },
  timeout: '4h',
  softFail: true, // 80 % reliable: a missing delivery skips, it does not fail the day
  retries: 5,
  retryDelay: '30m',
  circuitBreaker: { threshold: 3, coolDown: '30m', whenOpen: 'reschedule' },
  sla: { levels: [{ after: '4h', level: 'warn' }] },
  onFailure: alert('low'),
  onSlaMiss: sla('low'),
  onTimeout: (e) =>
    console.warn(
      `partner data did not arrive within ${e.timeoutMs / 3_600_000} h (${e.pokes} pokes): skipped`,
    ),
});

const load =
  (name: string) =>
  async (ctx: { log: { info(m: string): void } }, { files }: { files: { path: string; size: number }[] }) => {
    ctx.log.info(`loading ${name}: ${files.map((f) => `${f.path} (${f.size} B)`).join(', ')}`);
    return { source: name, bytes: files.reduce((a, f) => a + f.size, 0) };
  };
const loadFinancial = reliability.task('load_financial', { inputs: { files: financial } }, load('financial'));
const loadCustomer = reliability.task('load_customer', { inputs: { files: customer } }, load('customer'));
const loadPartner = reliability.task('load_partner', { inputs: { files: partner } }, load('partner'));

reliability
  .task('daily_report', { triggerRule: 'all_done' }, async (ctx) => {
    const loaded = (await ctx.xcom.pullMany(['load_financial', 'load_customer', 'load_partner'])) as (
      { source: string } | undefined
    )[];
    const present = loaded.filter((x) => x !== undefined).map((x) => x!.source);
    ctx.log.info(
      `report with ${present.join(', ') || 'no sources'}; sensor metrics: hangar sensors stats sensor_reliability`,
    );
    return { sources: present };
  })
  .after(loadFinancial, loadCustomer, loadPartner);
