import { dag } from 'hangar';

/**
 * extract → transform → load. Each task's return value is its XCom; passing a task
 * as an input makes it upstream and hands its value over, typed.
 *
 *   npx hangar run new_dag
 */
export const newDag = dag({
  id: 'new_dag',
  description: 'Extract rows, transform them, load the result',
  schedule: '@daily',
  startDate: '2024-01-01',
  defaultArgs: { retries: 2, retryDelay: '1m' },
});

const extract = newDag.task('extract', async (ctx) => {
  /*cursor*/ ctx.log.info(`extracting the rows of ${ctx.ds}`);
  return [
    { id: 1, amount: 30 },
    { id: 2, amount: -4 },
    { id: 3, amount: 12 },
  ];
});

const transform = newDag.task('transform', { inputs: { rows: extract } }, async (_ctx, { rows }) =>
  rows.filter((row) => row.amount > 0).map((row) => ({ ...row, amountCents: row.amount * 100 })),
);

// Literal strings in inputs are templates: the target is rendered for each run.
newDag.task(
  'load',
  { inputs: { rows: transform, target: 'output/{{ dag.dag_id }}_{{ ds_nodash }}.json' } },
  async (ctx, { rows, target }) => {
    ctx.log.info(`loading ${rows.length} rows into ${target}`);
    return { target, rows: rows.length };
  },
);
