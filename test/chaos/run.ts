/**
 * The long form of the crash-at-any-instant harness:
 *   node test/chaos/run.ts [--seed N] [--kills N] [--max-delay-ms N] [--server-share 0..1] [--keep] [--quiet]
 * Prints each kill, then the figures and every invariant violation; exits 1 on a violation.
 */
import { parseArgs } from 'node:util';
import { chaos } from './harness.ts';

const { values } = parseArgs({
  options: {
    seed: { type: 'string' },
    kills: { type: 'string' },
    'max-delay-ms': { type: 'string' },
    'server-share': { type: 'string' },
    keep: { type: 'boolean' },
    quiet: { type: 'boolean' },
  },
});
const seed = Number(values.seed ?? Date.now() % 100_000);
const r = await chaos({
  seed,
  kills: Number(values.kills ?? 200),
  maxDelayMs: values['max-delay-ms'] ? Number(values['max-delay-ms']) : undefined,
  serverShare: values['server-share'] ? Number(values['server-share']) : undefined,
  keep: values.keep,
  log: values.quiet ? undefined : (s) => console.log(s),
});
console.log(
  `seed ${r.seed}: ${r.kills} kills (${r.killedMidRun} mid-run: ${r.killedCli} of hangar run, ${r.killedServer} of the runtime server; ` +
    `${r.killedMidSync} mid-sync) over ${r.runs} runs, ${r.tries} tries (${r.orphanedTries} settled as orphans), ` +
    `${r.logsChecked} try logs checked, sync files compared ${r.syncFilesCheckedAtKills} at kills and ${r.syncFilesCheckedAtEnd} at the end ` +
    `(${r.syncLeftovers} temporary/backup files left), ${r.violations.length} violations, ${r.seconds.toFixed(1)} s`,
);
for (const v of r.violations) console.log(`  violation: ${v}`);
console.log(JSON.stringify(r));
process.exit(r.violations.length ? 1 : 0);
