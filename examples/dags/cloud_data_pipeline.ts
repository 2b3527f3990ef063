/**
 * The seed's "S3 Sensors and Mock Cloud Storage" exercise (tasks 1–3) in TypeScript.
 *
 * The buckets are `file://` directory buckets under `params.mock_root`
 * (default /tmp/mock-s3, the seed's tree); `examples/scripts/mock_bucket.ts`
 * builds the tree and drops the files with delays. The same sensors work on
 * `s3://` buckets (give `connection: { endpoint, region, credentials }`).
 *
 *   Task 1: wait_for_daily_export (45 s pokes, 10 min timeout, 2 retries 2 min apart) → process_daily_export
 *   Task 2: four sensors, each with its own timeout, in reschedule mode → process_all_sources (all must be present)
 *   Task 3: wait_for_transactions_backoff: exponential backoff 30 s → 5 min, failure callbacks,
 *           a 45 min SLA with escalation (warn at 30 min, page at 45 min), and metrics
 *           (every poke is recorded: `hangar sensors stats cloud_data_pipeline`).
 *
 * Try it: `node examples/scripts/mock_bucket.ts --fast &` then
 * `npx hangar run cloud_data_pipeline --workspace examples`.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dag, s3KeySensor } from 'hangar';
import type { PokeEvent, SlaMissEvent, TaskCallbackContext } from 'hangar';

export const cloud = dag({
  id: 'cloud_data_pipeline',
  description: 'Mock S3 sensors: single key, multi-bucket coordination, backoff + SLA + metrics',
  schedule: '@daily',
  startDate: '2024-01-01',
  tags: ['sensors', 'seed-002'],
  params: { mock_root: '/tmp/mock-s3' },
  defaultArgs: { retries: 1, retryDelay: '5m' },
});

const bucket = (name: string) => `file://{{ params.mock_root }}/${name}`;

// ---- Task 1: one key ------------------------------------------------------------
const dailyExport = s3KeySensor(cloud, 'wait_for_daily_export', {
  bucket: bucket('data-bucket'),
  keys: 'raw/daily_export_{{ ds_nodash }}.json',
  pokeInterval: '45s',
  timeout: '10m',
  retries: 2,
  retryDelay: '2m',
});

cloud.task('process_daily_export', { inputs: { found: dailyExport } }, async (ctx, { found }) => {
  const file = fileURLToPath(found[0]!.url);
  const data = JSON.parse(readFileSync(file, 'utf8')) as { records?: unknown[] };
  ctx.log.info(`processed ${data.records?.length ?? 0} record(s) from ${file}`);
  return { file, records: data.records?.length ?? 0 };
});

// ---- Task 2: multi-bucket coordination --------------------------------------------
const sources = [
  {
    id: 'wait_for_transactions',
    bucket: 'data-bucket',
    key: 'raw/transactions_{{ ds_nodash }}.csv',
    timeout: '15m',
  }, // critical path
  {
    id: 'wait_for_customers',
    bucket: 'data-bucket',
    key: 'raw/customers_{{ ds_nodash }}.json',
    timeout: '20m',
  }, // can be delayed
  {
    id: 'wait_for_config',
    bucket: 'config-bucket',
    key: 'daily/processing_config_{{ ds_nodash }}.yaml',
    timeout: '5m',
  }, // should arrive early
  {
    id: 'wait_for_validation',
    bucket: 'logs-bucket',
    key: 'validation/data_quality_{{ ds_nodash }}.log',
    timeout: '25m',
  }, // after validation
] as const;

const waits = sources.map((s) =>
  s3KeySensor(cloud, s.id, {
    bucket: bucket(s.bucket),
    keys: s.key,
    minSize: 1,
    mode: 'reschedule',
    pokeInterval: '30s',
    timeout: s.timeout,
  }),
);

cloud.task(
  'process_all_sources',
  { inputs: { transactions: waits[0]!, customers: waits[1]!, config: waits[2]!, validation: waits[3]! } },
  async (ctx, inputs) => {
    const files = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, v[0]!.url]));
    const rows = readFileSync(fileURLToPath(files.transactions!), 'utf8').trim().split('\n').length - 1;
    ctx.log.info(`all four sources present; ${rows} transaction row(s)`);
    return { files, transactionRows: rows };
  },
);

// ---- Task 3: backoff, callbacks, SLA escalation, metrics ---------------------------------
const onPoke = (e: PokeEvent) => {
  // One structured metrics line per poke (the same record is in the store).
  console.log(
    `metric sensor.poke sensor=${e.taskId} n=${e.pokeNumber} result=${e.result} duration_ms=${e.durationMs.toFixed(1)} next_ms=${e.nextIntervalMs ?? ''}`,
  );
};
const onFailure = (c: TaskCallbackContext) => {
  console.error(
    `ALERT sensor ${c.taskId} of ${c.dagId} failed in run ${c.runId} (try ${c.tryNumber}): ${c.error?.split('\n')[0] ?? 'unknown error'}`,
  );
};
const onSlaMiss = (e: SlaMissEvent) => {
  const action = e.level === 'page' ? 'PAGE on-call' : 'WARN channel';
  console.warn(
    `${action}: ${e.taskId} of ${e.dagId} missed its ${e.level} SLA (${e.deadline}); state ${e.taskState ?? 'none'}`,
  );
};

const backoff = s3KeySensor(cloud, 'wait_for_transactions_backoff', {
  bucket: bucket('data-bucket'),
  keys: 'raw/transactions_{{ ds_nodash }}.csv',
  mode: 'reschedule',
  pokeInterval: { kind: 'exponential', initial: '30s', maxWait: '5m', jitter: { ratio: 0.1 } },
  timeout: '1h',
  retries: 2,
  retryDelay: '1m',
  circuitBreaker: { threshold: 3, coolDown: '10m', whenOpen: 'reschedule' },
  sla: {
    relativeTo: 'run_start',
    levels: [
      { after: '30m', level: 'warn' },
      { after: '45m', level: 'page' },
    ],
  },
  onPoke,
  onFailure,
  onSlaMiss,
  onTimeout: (e) =>
    console.error(
      `ALERT ${e.taskId} timed out after ${Math.round(e.elapsedMs / 1000)}s and ${e.pokes} pokes`,
    ),
});

cloud.task(
  'report_sensor_metrics',
  { inputs: { found: backoff }, triggerRule: 'all_done' },
  async (ctx, { found }) => {
    ctx.log.info(
      `transactions object: ${found?.map((f) => `${f.url} (${f.size} B)`).join(', ') ?? 'not found'}`,
    );
    ctx.log.info('per-sensor metrics: hangar sensors stats cloud_data_pipeline');
    return { found: found?.length ?? 0 };
  },
);
