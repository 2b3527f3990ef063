import { dag } from 'hangar';

/**
 * A branch: `choose_path` returns the id of the task to follow; the other path is
 * skipped. The join after the two paths runs with `none_failed_min_one_success`
 * (Airflow's rule for a join after a branch): with the default `all_success`
 * the skipped path would skip it too.
 *
 *   npx hangar run new_dag
 */
export const newDag = dag({
  id: 'new_dag',
  description: 'A full refresh on the first of the month, an incremental load on other days',
  schedule: '@daily',
  startDate: '2024-01-01',
});

const choose = newDag.task('choose_path', { branch: true }, async (ctx) => {
  /*cursor*/ const firstOfMonth = ctx.logicalDate.getUTCDate() === 1;
  return firstOfMonth ? 'full_refresh' : 'incremental_load';
});

const full = newDag.task('full_refresh', async (ctx) => {
  ctx.log.info('reloading everything');
  return { mode: 'full' };
});

const incremental = newDag.task('incremental_load', async (ctx) => {
  ctx.log.info(`loading the changes of ${ctx.ds}`);
  return { mode: 'incremental' };
});

const join = newDag.task('join', { triggerRule: 'none_failed_min_one_success' }, async (ctx) => {
  ctx.log.info('one path ran, the other was skipped');
});

choose.before(full, incremental);
newDag.chain([full, incremental], join);
