import { dag, param } from 'hangar';

/**
 * A small ETL DAG, tested by tests/etl.test.ts with `hangar/testing`:
 * extract → transform → load. `conf.scale` multiplies the squares; a negative
 * number makes transform throw (what a failing test looks like). `params.report_date`
 * is a date param: "Run DAG with Config…" shows it as a date picker (empty: the logical date).
 */
export const etl = dag({
  id: 'etl',
  description: 'Extract numbers, square them, and report the total',
  schedule: '@daily',
  startDate: '2024-01-01',
  tags: ['example'],
  params: {
    report_date: param<string | null>(null, {
      type: ['null', 'string'],
      format: 'date',
      description: 'The day to report on (empty: the logical date)',
    }),
  },
});

const extract = etl.task('extract', async (ctx) => {
  ctx.log.info(`Extracting for ${ctx.params.report_date ?? ctx.ds}`);
  return [1, 2, 3, 4];
});

const transform = etl.task('transform', { inputs: { numbers: extract } }, async (ctx, { numbers }) => {
  const scale = typeof ctx.conf.scale === 'number' ? ctx.conf.scale : 1;
  for (const n of numbers) {
    if (n < 0) throw new Error(`transform: negative input ${n}`);
  }
  return numbers.map((n) => n * n * scale);
});

etl.task(
  'load',
  { inputs: { squares: transform, target: 'report_{{ ds_nodash }}.json' } },
  async (ctx, { squares, target }) => {
    const total = squares.reduce((a, b) => a + b, 0);
    ctx.log.info(`Writing ${total} to ${target}`);
    return { target, total };
  },
);
