import { dag } from 'hangar';

/**
 * Fan-out, fan-in with dynamic task mapping: one `process_file` instance per
 * element of the list `list_files` returns, then one task that takes them all.
 *
 *   npx hangar run new_dag
 */
export const newDag = dag({
  id: 'new_dag',
  description: 'Process each file in parallel, then summarise',
  schedule: '@daily',
  startDate: '2024-01-01',
});

const files = newDag.task('list_files', async (ctx) => {
  /*cursor*/ ctx.log.info(`listing the files of ${ctx.ds}`);
  return ['orders.csv', 'customers.csv', 'products.csv'];
});

// The fan-out: `expand` maps the task over the list (ctx.mapIndex is 0, 1, 2).
const processed = newDag.task('process_file', { expand: { file: files } }, async (ctx, { file }) => {
  ctx.log.info(`processing ${file} (map index ${ctx.mapIndex})`);
  return { file, rows: file.length * 10 };
});

// The fan-in: a mapped task's output is the list of every instance's value, in map-index order.
newDag.task('summarize', { inputs: { results: processed } }, async (ctx, { results }) => {
  const rows = results.reduce((sum, r) => sum + r.rows, 0);
  ctx.log.info(`${results.length} files, ${rows} rows`);
  return { files: results.length, rows };
});
