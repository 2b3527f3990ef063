/**
 * The short form of the power-loss harness (test/chaos/power-loss.ts): copies of `.hangar/` taken
 * at random instants while a run writes (every writing process SIGSTOPped for the copy), each
 * restored, checked with PRAGMA integrity_check, resumed, and held to the chaos invariants.
 * The long form: node_modules/.bin/node test/chaos/power-loss.ts --seed 2026 --count 50
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { powerLoss } from './power-loss.ts';

test(
  'power loss: 3 snapshots of .hangar/ taken mid-run open intact and resume to every chaos invariant',
  { timeout: 600_000 },
  async (t) => {
    const seed = 2026;
    t.diagnostic(`seed ${seed}`);
    const r = await powerLoss({ seed, count: 3 });
    assert.deepEqual(r.violations, [], `seed ${seed}`);
    assert.equal(r.snapshots, 3);
    assert.ok(
      r.withWal > 0,
      'some snapshots held WAL frames not yet in hangar.db (the case that needs the -wal file)',
    );
    assert.ok(r.midTry > 0, 'some snapshots caught tries in flight (the resume had something to settle)');
  },
);
