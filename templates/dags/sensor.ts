import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { dag, sensor } from 'hangar';

/**
 * A sensor, then the processing. The sensor pokes until its check is true; in
 * `reschedule` mode it frees its worker slot between pokes. Its value becomes its XCom.
 *
 *   npx hangar run new_dag
 */
export const newDag = dag({
  id: 'new_dag',
  description: 'Wait for the day’s input file, then process it',
  schedule: '@daily',
  startDate: '2024-01-01',
});

const input = sensor(
  newDag,
  'wait_for_input',
  { mode: 'reschedule', pokeInterval: '1m', timeout: '6h' },
  async (ctx) => {
    /*cursor*/ const path = join(ctx.workspace, 'incoming', `${ctx.ds}.csv`);
    const file = await stat(path).catch(() => undefined);
    // Not there yet: false, and the sensor pokes again after pokeInterval.
    return file ? { done: true, value: { path, bytes: file.size } } : false;
  },
);

newDag.task('process', { inputs: { input } }, async (ctx, { input }) => {
  ctx.log.info(`processing ${input.path} (${input.bytes} bytes)`);
  return { processed: input.path };
});
