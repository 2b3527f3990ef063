/**
 * The short form of the crash-at-any-instant harness (test/chaos/harness.ts): `hangar run` SIGKILLed
 * at random moments, resumed each time, then the invariants. The long form: node test/chaos/run.ts --kills 200.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chaos } from './harness.ts';

test('chaos: hangar run killed at random instants and resumed, 8 times; every invariant holds', { timeout: 600_000 }, async () => {
  const r = await chaos({ seed: 11, kills: 8 });
  assert.deepEqual(r.violations, []);
  assert.equal(r.killedMidRun, 8, `every kill landed mid-run (${r.killedMidRun} of 8 within ${8 * 8} attempts)`);
  assert.ok(r.orphanedTries > 0, 'some kills left tries for the next resume to settle');
});
