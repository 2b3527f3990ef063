/**
 * Builds the seed's mock S3 tree and drops the day's files with delays, like
 * the seed's setup_mock_s3_environment() + create_delayed_files(), without
 * blocking loops: timers, one per file.
 *
 *   node examples/scripts/mock_bucket.ts [--root /tmp/mock-s3] [--date YYYYMMDD] [--fast] [--now]
 *
 * --fast divides the delays by 10 (1 s … 12 s); --now writes everything at once.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    root: { type: 'string', default: '/tmp/mock-s3' },
    date: { type: 'string' },
    fast: { type: 'boolean' },
    now: { type: 'boolean' },
  },
});
const root = values.root!;
const day = values.date ?? new Date().toISOString().slice(0, 10).replace(/-/g, '');
if (!/^\d{8}$/.test(day)) throw new Error(`--date must be YYYYMMDD, not "${day}"`);

const dirs = [
  'data-bucket/raw',
  'data-bucket/processed',
  'data-bucket/archive',
  'config-bucket/daily',
  'logs-bucket/application',
  'logs-bucket/access',
  'logs-bucket/validation',
];
for (const d of dirs) mkdirSync(join(root, d), { recursive: true });

const write = (rel: string, content: string) => {
  // Written under a temporary name, then renamed: a sensor never sees half a file.
  const path = join(root, rel);
  writeFileSync(`${path}.tmp`, content);
  renameSync(`${path}.tmp`, path);
  console.log(`created ${path}`);
};

write(`data-bucket/raw/daily_export_${day}.json`, '{"records": [{"id": 1, "value": "test"}]}');

const delayed: [string, string, number][] = [
  [
    `config-bucket/daily/processing_config_${day}.yaml`,
    'processing:\n  batch_size: 1000\n  timeout: 300\n',
    10,
  ],
  [
    `data-bucket/raw/transactions_${day}.csv`,
    'id,amount,customer\n1,100.00,customer1\n2,250.50,customer2\n',
    30,
  ],
  [
    `data-bucket/raw/customers_${day}.json`,
    '{"customers": [{"id": "customer1", "name": "John"}, {"id": "customer2", "name": "Jane"}]}',
    60,
  ],
  [
    `logs-bucket/validation/data_quality_${day}.log`,
    'INFO: Data validation completed successfully\nINFO: 2 records processed\n',
    120,
  ],
];
const scale = values.now ? 0 : values.fast ? 100 : 1000;
for (const [rel, content, seconds] of delayed) setTimeout(() => write(rel, content), seconds * scale);
