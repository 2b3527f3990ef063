/**
 * Two quick sensors to look at in the sensor panel ("Hangar: Open Sensor
 * Panel"): the whole run takes about four seconds and needs nothing outside
 * the workspace.
 *
 * - `wait_for_flag` (poke mode) stands in for a flag that shows up after a
 *   couple of checks: not yet, not yet, done at its third poke. Exponential
 *   intervals (1 s, 2 s, at most 4 s), a 10 s timeout and two SLA levels.
 * - `wait_for_partner_api` (reschedule mode) stands in for a flaky endpoint:
 *   its first poke errors (an HTTP 503, on the first try only), the try is
 *   retried a second later, then the API answers "not yet" once and "ready".
 *   Fixed 1 s intervals with ±20 % jitter and a circuit breaker.
 *
 *   npx hangar run sensor_demo --workspace examples
 *   npx hangar sensors stats sensor_demo --workspace examples
 */
import { dag, sensor } from 'hangar';

export const sensorDemo = dag({
  id: 'sensor_demo',
  description: 'Two quick sensors for the sensor panel: done at the third poke; a poke error, a retry, then ready',
  schedule: null,
  tags: ['sensors'],
  defaultArgs: { retries: 1, retryDelay: '1s' },
});

const flag = sensor(
  sensorDemo,
  'wait_for_flag',
  {
    mode: 'poke',
    pokeInterval: { kind: 'exponential', initial: '1s', multiplier: 2, maxWait: '4s' },
    timeout: '10s',
    sla: {
      levels: [
        { after: '6s', level: 'warn' },
        { after: '8s', level: 'page' },
      ],
    },
  },
  async (ctx) => {
    ctx.log.info(`checking for the flag (poke ${ctx.pokeNumber})`);
    return ctx.pokeNumber >= 3 ? { done: true, value: { flag: 'ready', poke: ctx.pokeNumber } } : false;
  },
);

const partner = sensor(
  sensorDemo,
  'wait_for_partner_api',
  {
    mode: 'reschedule',
    pokeInterval: { kind: 'fixed', interval: '1s', jitter: { ratio: 0.2 } },
    timeout: '20s',
    circuitBreaker: { threshold: 3, coolDown: '5s', whenOpen: 'reschedule' },
  },
  async (ctx) => {
    if (ctx.tryNumber === 1 && ctx.pokeNumber === 1) throw new Error('partner API answered 503 Service Unavailable');
    return ctx.pokeNumber >= 3 ? { done: true, value: { status: 'ready' } } : false;
  },
);

sensorDemo.task('process', { inputs: { flag, partner } }, async (ctx, { flag, partner }) => {
  ctx.log.info(`flag ${flag.flag} at poke ${flag.poke}; partner API ${partner.status}`);
  return { flag: flag.flag, partner: partner.status };
});
