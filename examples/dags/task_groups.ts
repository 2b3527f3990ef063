/**
 * Task groups (Airflow's TaskGroup): an ELT run whose extract and transform steps are
 * groups. Task ids get the group's prefix (`extract.orders`, `transform.clean.dedupe`),
 * a group's defaultArgs apply to its tasks, and a whole group is a dependency:
 * `d.chain(start, extract, transform, publish)` starts each group's root tasks after the
 * previous step and the next step after the group's leaf tasks. In the editor, the DAGs
 * tree and the graph show each group as one collapsible node.
 *
 *   hangar run task_groups
 */
import { dag } from 'hangar';

export const taskGroups = dag({
  id: 'task_groups',
  schedule: null,
  description: 'Task groups: prefixed ids, group defaultArgs, dependencies on whole groups',
  defaultArgs: { retries: 0 },
  tags: ['example'],
});

const start = taskGroups.task('start', async (ctx) => {
  ctx.log.info(`ELT for ${ctx.ds}`);
  return ctx.ds;
});

// Extract: two sources read side by side (both are roots and leaves of the group).
const extract = taskGroups.group(
  'extract',
  { defaultArgs: { retries: 2, retryDelay: '5s' }, tooltip: 'read the sources' },
  (g) => {
    const orders = g.task('orders', async () => [
      { id: 1, customer: 'ann', amount: 30 },
      { id: 2, customer: 'bob', amount: 12 },
      { id: 2, customer: 'bob', amount: 12 },
    ]);
    const customers = g.task('customers', async () => ({ ann: 'NL', bob: 'BE' }));
    return { orders, customers };
  },
);

// Transform: a nested group cleans, then the join uses both sources.
const transform = taskGroups.group('transform', { tooltip: 'clean and join' }, (g) => {
  const dedupe = g.group('clean', (c) =>
    c.task('dedupe', { inputs: { rows: extract.result.orders } }, async (ctx, { rows }) => {
      const seen = new Set<number>();
      const out = rows.filter((r) => !seen.has(r.id) && seen.add(r.id));
      ctx.log.info(`${rows.length - out.length} duplicate(s) dropped`);
      return out;
    }),
  ).result;
  return g.task(
    'join',
    { inputs: { rows: dedupe, countries: extract.result.customers } },
    async (_ctx, { rows, countries }) =>
      rows.map((r) => ({ ...r, country: countries[r.customer as keyof typeof countries] ?? 'unknown' })),
  );
});

const publish = taskGroups.task('publish', { inputs: { rows: transform.result } }, async (ctx, { rows }) => {
  const total = rows.reduce((sum, r) => sum + r.amount, 0);
  ctx.log.info(`published ${rows.length} row(s), total ${total}`);
  return { rows: rows.length, total };
});

// Whole groups as dependencies: start before extract's roots, publish after transform's leaves.
taskGroups.chain(start, extract, transform, publish);
