/**
 * The short form of the crash-at-any-instant harness (test/chaos/harness.ts): `hangar run` and the
 * runtime server (over its stdio JSON-RPC, as the extension drives it) SIGKILLed at random moments,
 * resumed each time, with an SFTP sync between two OpenSSH servers in the DAG; then the invariants.
 * Needs `npm run build` (dist/). The long form: node_modules/.bin/node test/chaos/run.ts --seed 2026 --kills 200.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chaos } from './harness.ts';

test(
  'chaos: hangar run and the runtime server killed at random instants and resumed, 8 times; every invariant holds',
  { timeout: 600_000 },
  async () => {
    const r = await chaos({ seed: 11, kills: 8 });
    assert.deepEqual(r.violations, []);
    assert.equal(
      r.killedMidRun,
      8,
      `every kill landed mid-run (${r.killedMidRun} of 8 within ${8 * 8} attempts)`,
    );
    assert.ok(
      r.killedCli > 0 && r.killedServer > 0,
      `both runtimes were killed (CLI ${r.killedCli}, server ${r.killedServer})`,
    );
    assert.ok(r.killedMidSync > 0, `some kills landed while the SFTP sync was running (${r.killedMidSync})`);
    assert.ok(r.orphanedTries > 0, 'some kills left tries for the next resume to settle');
    assert.ok(
      r.syncFilesCheckedAtKills > 0 && r.syncFilesCheckedAtEnd > 0,
      'destination files were compared',
    );
    assert.ok(r.logsChecked > 0, 'try logs were checked');
  },
);
