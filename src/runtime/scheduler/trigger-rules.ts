import type { TriggerRule } from '../dag/types.ts';
import type { TaskState } from '../store/records.ts';

/** Counts of the states of a task's direct upstream task instances. */
export interface UpstreamCounts {
  readonly upstream: number;
  readonly success: number;
  readonly skipped: number;
  readonly failed: number;
  readonly upstreamFailed: number;
  readonly removed: number;
  readonly done: number;
}

export function countUpstream(states: Iterable<TaskState | null>): UpstreamCounts {
  let upstream = 0,
    success = 0,
    skipped = 0,
    failed = 0,
    upstreamFailed = 0,
    removed = 0;
  for (const s of states) {
    upstream++;
    if (s === 'success') success++;
    else if (s === 'skipped') skipped++;
    else if (s === 'failed') failed++;
    else if (s === 'upstream_failed') upstreamFailed++;
    else if (s === 'removed') removed++;
  }
  return { upstream, success, skipped, failed, upstreamFailed, removed, done: success + skipped + failed + upstreamFailed + removed };
}

/**
 * What a task whose upstream is in the given states should do, following
 * Airflow's TriggerRuleDep: `run` when its rule is met, `skipped` or
 * `upstream_failed` when it can never be met, `wait` otherwise.
 */
export type TriggerDecision = 'run' | 'wait' | 'skipped' | 'upstream_failed';

/**
 * Of a task's direct upstream, the setup task instances (Airflow's `upstream_setup`,
 * `success_setup`, `skipped_setup`): what `all_done_setup_success` looks at.
 */
export interface SetupCounts {
  readonly upstream: number;
  readonly success: number;
  readonly skipped: number;
}

/**
 * @param setups the direct upstream setups' counts; needed by `all_done_setup_success` only
 * (none given: no setup upstream).
 */
export function evaluateTriggerRule(rule: TriggerRule, c: UpstreamCounts, setups?: SetupCounts): TriggerDecision {
  if (rule === 'always' || c.upstream === 0) return 'run';
  const upstreamDone = c.done >= c.upstream;
  // First: states the task is set to because the rule can no longer be met.
  switch (rule) {
    case 'all_success':
      if (c.upstreamFailed || c.failed) return 'upstream_failed';
      if (c.skipped) return 'skipped';
      break;
    case 'all_failed':
      if (c.success || c.skipped) return 'skipped';
      break;
    case 'one_success':
      if (upstreamDone && c.done === c.skipped) return 'skipped';
      if (upstreamDone && c.success <= 0) return 'upstream_failed';
      break;
    case 'one_failed':
      if (upstreamDone && !(c.failed || c.upstreamFailed)) return 'skipped';
      break;
    case 'one_done':
      if (upstreamDone && !(c.failed || c.success)) return 'skipped';
      break;
    case 'none_failed':
      if (c.upstreamFailed || c.failed) return 'upstream_failed';
      break;
    case 'none_failed_min_one_success':
      if (c.upstreamFailed || c.failed) return 'upstream_failed';
      if (c.skipped === c.upstream) return 'skipped';
      break;
    case 'none_skipped':
      if (c.skipped) return 'skipped';
      break;
    case 'all_skipped':
      if (c.success || c.failed || c.upstreamFailed) return 'skipped';
      break;
    case 'all_done':
      break;
    case 'all_done_setup_success': {
      // airflow/ti_deps/deps/trigger_rule_dep.py: with setups upstream, all of them skipped skips the
      // teardown, none succeeded makes it upstream_failed; one that succeeded is enough to run it.
      const s = setups ?? { upstream: 0, success: 0, skipped: 0 };
      if (upstreamDone && s.upstream && s.skipped >= s.upstream) return 'skipped';
      if (upstreamDone && s.upstream && s.success === 0) return 'upstream_failed';
      break;
    }
  }
  // Then: whether the rule is met now.
  let met: boolean;
  switch (rule) {
    case 'one_success':
      met = c.success > 0;
      break;
    case 'one_failed':
      met = c.failed > 0 || c.upstreamFailed > 0;
      break;
    case 'one_done':
      met = c.success + c.failed > 0;
      break;
    case 'all_success':
      met = c.upstream - c.success - c.removed <= 0;
      break;
    case 'all_failed':
      met = c.upstream - c.failed - c.upstreamFailed - c.removed <= 0;
      break;
    case 'all_done':
    case 'all_done_setup_success':
      met = upstreamDone;
      break;
    case 'all_skipped':
      met = c.upstream - c.skipped <= 0;
      break;
    case 'none_failed':
    case 'none_failed_min_one_success':
      met = c.upstream - c.success - c.skipped - c.removed <= 0;
      break;
    case 'none_skipped':
      met = upstreamDone && c.skipped === 0;
      break;
  }
  return met ? 'run' : 'wait';
}

/**
 * Airflow's setup constraint (TriggerRuleDep._evaluate_setup_constraint): a task that is not a
 * teardown runs only once its relevant setups that are not its direct upstream (see
 * relevantIndirectSetups) have all succeeded; one failed makes it upstream_failed and one skipped
 * skips it at once, whatever its own trigger rule. `c` counts those setups' task instances.
 */
export function evaluateSetupConstraint(c: UpstreamCounts): TriggerDecision {
  if (c.upstream === 0) return 'run';
  if (c.upstreamFailed || c.failed) return 'upstream_failed';
  if (c.skipped) return 'skipped';
  return c.upstream - c.success > 0 ? 'wait' : 'run';
}
