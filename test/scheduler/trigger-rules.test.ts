import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countUpstream, evaluateTriggerRule } from '../../src/runtime/scheduler/trigger-rules.ts';
import type { TriggerRule } from '../../src/runtime/dag/types.ts';
import type { TaskState } from '../../src/runtime/store/records.ts';
import { testRuntime } from '../helpers/runtime.ts';

type S = TaskState | null;
const decide = (rule: TriggerRule, states: S[]) => evaluateTriggerRule(rule, countUpstream(states));

/**
 * Airflow's trigger rules over the states of the direct upstream tasks
 * (docs: "Trigger Rules"; semantics of TriggerRuleDep), including when a task
 * must wait and when its rule can no longer be met.
 */
const TABLE: [TriggerRule, S[], string][] = [
  // all_success: every upstream succeeded; a failure makes it upstream_failed, a skip skipped, at once.
  ['all_success', ['success', 'success'], 'run'],
  ['all_success', ['success', null], 'wait'],
  ['all_success', ['success', 'failed'], 'upstream_failed'],
  ['all_success', ['running', 'upstream_failed'], 'upstream_failed'],
  ['all_success', ['success', 'skipped'], 'skipped'],
  // all_failed: every upstream failed or upstream_failed; any success or skip skips it.
  ['all_failed', ['failed', 'upstream_failed'], 'run'],
  ['all_failed', ['failed', 'running'], 'wait'],
  ['all_failed', ['failed', 'success'], 'skipped'],
  ['all_failed', ['failed', 'skipped'], 'skipped'],
  // all_done: every upstream finished, whatever the outcome.
  ['all_done', ['success', 'failed', 'skipped', 'upstream_failed'], 'run'],
  ['all_done', ['success', 'up_for_retry'], 'wait'],
  // all_skipped: every upstream skipped; anything else skips it.
  ['all_skipped', ['skipped', 'skipped'], 'run'],
  ['all_skipped', ['skipped', null], 'wait'],
  ['all_skipped', ['skipped', 'success'], 'skipped'],
  ['all_skipped', ['skipped', 'failed'], 'skipped'],
  // one_success: fires as soon as one succeeds, without waiting for the rest.
  ['one_success', ['success', 'running'], 'run'],
  ['one_success', ['failed', 'running'], 'wait'],
  ['one_success', ['failed', 'failed'], 'upstream_failed'],
  ['one_success', ['skipped', 'skipped'], 'skipped'],
  ['one_success', ['failed', 'skipped'], 'upstream_failed'],
  // one_failed: fires as soon as one failed; skipped when all are done with none failed.
  ['one_failed', ['failed', 'running'], 'run'],
  ['one_failed', ['upstream_failed', null], 'run'],
  ['one_failed', ['success', 'running'], 'wait'],
  ['one_failed', ['success', 'skipped'], 'skipped'],
  // one_done: fires as soon as one succeeded or failed.
  ['one_done', ['failed', null], 'run'],
  ['one_done', ['success', null], 'run'],
  ['one_done', ['skipped', null], 'wait'],
  ['one_done', ['skipped', 'upstream_failed'], 'skipped'],
  // none_failed: no upstream failed (skips are fine) once all are done.
  ['none_failed', ['success', 'skipped'], 'run'],
  ['none_failed', ['skipped', 'skipped'], 'run'],
  ['none_failed', ['success', null], 'wait'],
  ['none_failed', ['success', 'failed'], 'upstream_failed'],
  ['none_failed', ['upstream_failed', 'skipped'], 'upstream_failed'],
  // none_failed_min_one_success: as none_failed, and at least one success; all skipped skips it.
  ['none_failed_min_one_success', ['success', 'skipped'], 'run'],
  ['none_failed_min_one_success', ['skipped', 'skipped'], 'skipped'],
  ['none_failed_min_one_success', ['success', 'failed'], 'upstream_failed'],
  ['none_failed_min_one_success', ['success', null], 'wait'],
  // none_skipped: no upstream skipped, once all are done.
  ['none_skipped', ['success', 'failed'], 'run'],
  ['none_skipped', ['success', 'skipped'], 'skipped'],
  ['none_skipped', ['success', null], 'wait'],
  // always: no dependency at all.
  ['always', [null, 'running'], 'run'],
  ['always', ['failed', 'skipped'], 'run'],
];

for (const [rule, states, expected] of TABLE) {
  test(`trigger rule ${rule} with upstream [${states.map((s) => s ?? 'none').join(', ')}] → ${expected}`, () => {
    assert.equal(decide(rule, states), expected);
  });
}

test('a task without upstream runs whatever its rule', () => {
  for (const rule of ['all_success', 'all_failed', 'one_success', 'none_skipped'] as TriggerRule[]) assert.equal(decide(rule, []), 'run');
});

const RULES: TriggerRule[] = ['all_success', 'all_failed', 'all_done', 'all_skipped', 'one_success', 'one_failed', 'one_done', 'none_failed', 'none_failed_min_one_success', 'none_skipped', 'always', 'all_done_setup_success'];

/** A DAG whose upstream tasks end in given states, with one downstream task per trigger rule. */
function dagWithUpstream(outcomes: ('success' | 'failed' | 'skipped')[]): string {
  const lines = [`import { dag } from 'hangar';`, `export const d = dag({ id: 'rules' });`];
  lines.push(`const gate = d.task('gate', { branch: true }, async () => ${JSON.stringify(outcomes.map((o, i) => `up${i}`).filter((_, i) => outcomes[i] !== 'skipped'))});`);
  outcomes.forEach((o, i) => {
    lines.push(`const up${i} = d.task('up${i}', async () => { ${o === 'failed' ? "throw new Error('planned failure');" : 'return 1;'} });`);
    lines.push(`gate.before(up${i});`);
  });
  for (const rule of RULES) {
    lines.push(`d.task('t_${rule}', { triggerRule: '${rule}' }, async () => 'ran').after(${outcomes.map((_, i) => `up${i}`).join(', ')});`);
  }
  return lines.join('\n') + '\n';
}

const EXPECTED_IN_RUN: Record<string, Record<TriggerRule, string>> = {
  // The branch skips up2 as soon as the gate ends, before up1 fails: all_success sees the skip first (as Airflow would).
  'success,failed,skipped': {
    all_success: 'skipped',
    all_failed: 'skipped',
    all_done: 'success',
    all_skipped: 'skipped',
    one_success: 'success',
    one_failed: 'success',
    one_done: 'success',
    none_failed: 'upstream_failed',
    none_failed_min_one_success: 'upstream_failed',
    none_skipped: 'skipped',
    always: 'success',
    // No setup upstream: as all_done (airflow/ti_deps/deps/trigger_rule_dep.py, upstream_setup == 0).
    all_done_setup_success: 'success',
  },
  'success,success': {
    all_success: 'success',
    all_failed: 'skipped',
    all_done: 'success',
    all_skipped: 'skipped',
    one_success: 'success',
    one_failed: 'skipped',
    one_done: 'success',
    none_failed: 'success',
    none_failed_min_one_success: 'success',
    none_skipped: 'success',
    always: 'success',
    // No setup upstream: as all_done (airflow/ti_deps/deps/trigger_rule_dep.py, upstream_setup == 0).
    all_done_setup_success: 'success',
  },
  'skipped,skipped': {
    all_success: 'skipped',
    all_failed: 'skipped',
    all_done: 'success',
    all_skipped: 'success',
    one_success: 'skipped',
    one_failed: 'skipped',
    one_done: 'skipped',
    none_failed: 'success',
    none_failed_min_one_success: 'skipped',
    none_skipped: 'skipped',
    always: 'success',
    // No setup upstream: as all_done (airflow/ti_deps/deps/trigger_rule_dep.py, upstream_setup == 0).
    all_done_setup_success: 'success',
  },
  'failed,failed': {
    all_success: 'upstream_failed',
    all_failed: 'success',
    all_done: 'success',
    all_skipped: 'skipped',
    one_success: 'upstream_failed',
    one_failed: 'success',
    one_done: 'success',
    none_failed: 'upstream_failed',
    none_failed_min_one_success: 'upstream_failed',
    none_skipped: 'success',
    always: 'success',
    // No setup upstream: as all_done (airflow/ti_deps/deps/trigger_rule_dep.py, upstream_setup == 0).
    all_done_setup_success: 'success',
  },
};

for (const [combo, expected] of Object.entries(EXPECTED_IN_RUN)) {
  test(`every trigger rule in a real run, upstream ${combo}`, async () => {
    const t = await testRuntime({ 'dags/rules.ts': dagWithUpstream(combo.split(',') as ('success' | 'failed' | 'skipped')[]) });
    try {
      const run = await t.rt.runDag('rules');
      const states = await t.states(run.run_id);
      for (const rule of RULES) assert.equal(states[`t_${rule}`], expected[rule], `${rule} with ${combo}`);
    } finally {
      await t.close();
    }
  });
}
