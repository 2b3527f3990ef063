import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../src/runtime/scheduler/clock.ts';
import { nextInterval, toStrategy } from '../../src/runtime/sensors/index.ts';
import type { IntervalStrategy } from '../../src/runtime/sensors/index.ts';
import { testRuntime } from '../helpers/runtime.ts';
import { drive, gaps, pokes } from './helpers.ts';

const T0 = Date.UTC(2024, 0, 15, 12);
const info = (pokes: number, previousMs?: number, recentWaitsMs: number[] = []) => ({
  pokes,
  elapsedMs: 0,
  previousMs,
  history: { recentWaitsMs },
});
const seq = (s: IntervalStrategy, n: number) =>
  Array.from({ length: n }, (_, i) => nextInterval(s, info(i + 1)));

test('interval sequences: fixed, linear (capped), exponential with maxWait (the seed: 30 s doubling to 5 min), custom', () => {
  assert.deepEqual(seq({ kind: 'fixed', interval: '45s' }, 3), [45_000, 45_000, 45_000]);
  assert.deepEqual(
    seq({ kind: 'linear', initial: '30s', step: '15s', maxWait: '1m' }, 5),
    [30_000, 45_000, 60_000, 60_000, 60_000],
  );
  assert.deepEqual(
    seq({ kind: 'exponential', initial: '30s', maxWait: '5m' }, 6),
    [30_000, 60_000, 120_000, 240_000, 300_000, 300_000],
  );
  assert.deepEqual(
    seq({ kind: 'exponential', initial: 60, multiplier: 1.5, maxWait: 600 }, 4),
    [60_000, 90_000, 135_000, 202_500],
  );
  assert.equal(
    nextInterval({ kind: 'exponential', initial: 1, maxWait: 60 }, info(10_000)),
    60_000,
    'no overflow',
  );
  assert.deepEqual(seq({ kind: 'custom', next: (i) => i.pokes * 2 }, 3), [2000, 4000, 6000]);
});

test('adaptive (the seed): average wait of the last N successful runs / 4, clamped to [base, max]', () => {
  const s: IntervalStrategy = { kind: 'adaptive', base: '5m', max: '30m', window: 3 };
  assert.equal(nextInterval(s, info(1)), 300_000, 'no history: base');
  assert.equal(nextInterval(s, info(1, undefined, [40 * 60_000, 20 * 60_000])), 450_000);
  assert.equal(nextInterval(s, info(1, undefined, [1, 1, 1])), 300_000, 'clamped to base');
  assert.equal(
    nextInterval(s, info(1, undefined, [999 * 3_600_000, 20 * 3_600_000, 20 * 3_600_000, 20 * 3_600_000])),
    1_800_000,
    'window 3, clamped to max',
  );
});

test('jitter stays in its bounds: full [0, d], equal [d/2, d], ±10 % ratio, decorrelated [base, min(max, 3·prev)]', () => {
  const d = 60_000;
  const draws = (s: IntervalStrategy, prev?: number) =>
    Array.from({ length: 2000 }, () => nextInterval(s, info(1, prev)));
  const within = (xs: number[], lo: number, hi: number) => xs.every((x) => x >= lo && x <= hi);
  const spread = (xs: number[]) => Math.max(...xs) - Math.min(...xs);
  const full = draws({ kind: 'fixed', interval: 60, jitter: 'full' });
  assert.ok(within(full, 1, d) && spread(full) > d * 0.8);
  const equal = draws({ kind: 'fixed', interval: 60, jitter: 'equal' });
  assert.ok(within(equal, d / 2, d) && spread(equal) > d * 0.4);
  const ratio = draws({ kind: 'fixed', interval: 60, jitter: { ratio: 0.1 } });
  assert.ok(within(ratio, d * 0.9, d * 1.1) && spread(ratio) > d * 0.15);
  const dec = draws({ kind: 'exponential', initial: 30, maxWait: 300, jitter: 'decorrelated' }, 50_000);
  assert.ok(within(dec, 30_000, 150_000) && spread(dec) > 100_000);
  const capped = draws({ kind: 'exponential', initial: 30, maxWait: 300, jitter: 'decorrelated' }, 290_000);
  assert.ok(within(capped, 30_000, 300_000));
});

test('bad strategies are refused with the sensor named', () => {
  assert.throws(
    () =>
      toStrategy(
        { kind: 'exponential', initial: '30s', maxWait: 'soon' } as IntervalStrategy,
        'sensor "s" of DAG "d"',
      ),
    /sensor "s" of DAG "d" pokeInterval\.maxWait: "soon" is not a duration/,
  );
  assert.throws(() => toStrategy({ kind: 'adaptive', base: '10m', max: '1m' }, 'sensor "s"'), /max is below/);
  assert.throws(
    () => toStrategy({ kind: 'fixed', interval: 5, jitter: 'wild' as never }, 'sensor "s"'),
    /jitter must be/,
  );
});

test('a run records the chosen intervals: exponential 30 s → 5 min in reschedule mode, continued across reschedules', async () => {
  const clock = new FakeClock(T0);
  const t = await testRuntime(
    {
      'dags/ex.ts': `import { dag, sensor } from 'hangar';
export const d = dag({ id: 'ex' });
sensor(d, 'wait', { mode: 'reschedule', timeout: '1h', pokeInterval: { kind: 'exponential', initial: '30s', maxWait: '5m' } }, (ctx) => ctx.pokeNumber === 7);
`,
    },
    { clock },
  );
  try {
    const run = await drive(clock, t.rt.runDag('ex'));
    assert.equal(run.state, 'success');
    const rows = await pokes(t.rt, 'ex', run.run_id, 'wait');
    assert.deepEqual(
      rows.map((r) => r.next_interval_ms),
      [30_000, 60_000, 120_000, 240_000, 300_000, 300_000, null],
    );
    assert.deepEqual(gaps(rows), [30_000, 60_000, 120_000, 240_000, 300_000, 300_000]);
    assert.ok(rows.every((r) => r.strategy === 'exponential'));
  } finally {
    await t.close();
  }
});

test('adaptive through real runs: the third run starts at the average wait of the first two / 4', async () => {
  const clock = new FakeClock(T0);
  const t = await testRuntime(
    {
      'dags/ad.ts': `import { dag, sensor } from 'hangar';
export const d = dag({ id: 'ad' });
let first = 0;
sensor(d, 'wait', { mode: 'reschedule', timeout: '4h', pokeInterval: { kind: 'adaptive', base: '5m', max: '30m' } }, (ctx) => {
  if (ctx.pokeNumber === 1) first = ctx.now();
  return ctx.now() - first >= (ctx.params.waitMin as number) * 60_000;
});
`,
    },
    { clock },
  );
  try {
    const r1 = await drive(clock, t.rt.runDag('ad', { conf: { waitMin: 40 }, logicalDate: new Date(T0) }));
    const r2 = await drive(
      clock,
      t.rt.runDag('ad', { conf: { waitMin: 20 }, logicalDate: new Date(T0 + 1000) }),
    );
    const r3 = await drive(
      clock,
      t.rt.runDag('ad', { conf: { waitMin: 1 }, logicalDate: new Date(T0 + 2000) }),
    );
    assert.deepEqual([r1.state, r2.state, r3.state], ['success', 'success', 'success']);
    assert.equal((await pokes(t.rt, 'ad', r1.run_id))[0]!.next_interval_ms, 300_000, 'no history: base');
    assert.equal((await pokes(t.rt, 'ad', r2.run_id))[0]!.next_interval_ms, 600_000, '40 min / 4');
    assert.deepEqual(gaps((await pokes(t.rt, 'ad', r2.run_id))), [600_000, 600_000]);
    // history: 40 and 20 min → 30 min / 4 = 7.5 min
    assert.deepEqual(
      (await pokes(t.rt, 'ad', r3.run_id)).map((r) => [r.result, r.next_interval_ms]),
      [
        ['not_yet', 450_000],
        ['done', null],
      ],
    );
  } finally {
    await t.close();
  }
});
