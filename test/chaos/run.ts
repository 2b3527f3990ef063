/**
 * The long form of the crash-at-any-instant harness:
 *   node test/chaos/run.ts [--seed N] [--kills N] [--max-delay-ms N] [--keep]
 * Prints each kill, then the figures and every invariant violation; exits 1 on a violation.
 */
import { parseArgs } from 'node:util';
import { chaos } from './harness.ts';

const { values } = parseArgs({ options: { seed: { type: 'string' }, kills: { type: 'string' }, 'max-delay-ms': { type: 'string' }, keep: { type: 'boolean' }, quiet: { type: 'boolean' } } });
const seed = Number(values.seed ?? Date.now() % 100_000);
const r = await chaos({
  seed,
  kills: Number(values.kills ?? 200),
  maxDelayMs: values['max-delay-ms'] ? Number(values['max-delay-ms']) : undefined,
  keep: values.keep,
  log: values.quiet ? undefined : (s) => console.log(s),
});
console.log(`seed ${r.seed}: ${r.kills} kills (${r.killedMidRun} mid-run) over ${r.runs} runs, ${r.tries} tries (${r.orphanedTries} settled as orphans), ${r.violations.length} violations, ${r.seconds.toFixed(1)} s`);
for (const v of r.violations) console.log(`  violation: ${v}`);
console.log(JSON.stringify(r));
process.exit(r.violations.length ? 1 : 0);
