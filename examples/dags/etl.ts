import { dag } from 'hangar';

/**
 * A small ETL DAG, tested by tests/etl.test.ts with `hangar/testing`:
 * extract → transform → load. `conf.scale` multiplies the squares; a negative
 * number makes transform throw (what a failing test looks like).
 */
export const etl = dag({
  id: 'etl',
  description: 'Extract numbers, square them, and report the total',
  schedule: '@daily',
  startDate: '2024-01-01',
  tags: ['example'],
});

const extract = etl.task('extract', async (ctx) => {
  ctx.log.info(`Extracting for ${ctx.ds}`);
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
