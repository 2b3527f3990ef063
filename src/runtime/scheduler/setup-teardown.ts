/**
 * Setup and teardown tasks over a DAG's structure (Airflow 2.7+'s setup/teardown): which setups a
 * task depends on, which tasks decide a run's state, and what a clear brings along. Plain functions
 * over the tasks' edges and flags, shared by the run loop and clearing (maintenance.ts).
 */

/** What these functions need of a task (TaskSpec and TaskDefinition both have it). */
export interface SetupTeardownTask {
  readonly id: string;
  readonly upstream: ReadonlySet<string>;
  readonly downstream: ReadonlySet<string>;
  readonly isSetup: boolean;
  readonly isTeardown: boolean;
  readonly failRunOnFailure: boolean;
}

export type Tasks = ReadonlyMap<string, SetupTeardownTask>;

export function hasSetups(tasks: Tasks): boolean {
  for (const t of tasks.values()) if (t.isSetup) return true;
  return false;
}

/** Every task reachable from `from` (not included), upstream or downstream (AbstractOperator.get_flat_relative_ids). */
export function flatRelatives(
  tasks: Tasks,
  from: Iterable<string>,
  dir: 'upstream' | 'downstream',
): Set<string> {
  const seen = new Set<string>();
  const stack: string[] = [];
  for (const id of from) stack.push(...tasks.get(id)![dir]);
  while (stack.length) {
    const id = stack.pop()!;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...tasks.get(id)![dir]);
  }
  return seen;
}

/** A setup's teardowns: its direct downstream tasks that are teardowns. */
export function teardownsOf(tasks: Tasks, setupId: string): string[] {
  return [...tasks.get(setupId)!.downstream].filter((d) => tasks.get(d)!.isTeardown);
}

/**
 * For every task that is not a teardown, its *relevant* setups (airflow/models/abstractoperator.py
 * get_upstreams_only_setups_and_teardowns / get_upstreams_only_setups): the upstream setups that
 * have no teardown, or one of whose teardowns is downstream of the task — the setups whose
 * resources the task works inside. Direct upstream setups included. Costs O(setups × (tasks + edges)),
 * so a DAG without setups costs nothing.
 */
export function relevantSetups(tasks: Tasks): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const s of tasks.values()) {
    if (!s.isSetup) continue;
    const below = flatRelatives(tasks, [s.id], 'downstream');
    const teardowns = teardownsOf(tasks, s.id);
    // A task has one of s's teardowns downstream of it exactly when it is upstream of that teardown.
    const inside = teardowns.length === 0 ? undefined : flatRelatives(tasks, teardowns, 'upstream');
    for (const id of below) {
      if (tasks.get(id)!.isTeardown || (inside && !inside.has(id))) continue;
      let list = out.get(id);
      if (!list) out.set(id, (list = []));
      list.push(s.id);
    }
  }
  return out;
}

/**
 * Airflow's DagRun._tis_for_dagrun_state (airflow/models/dagrun.py): the tasks whose states decide
 * the run's. A task is an effective leaf when every task downstream of it is a teardown that does
 * not fail the run, and it is not itself such a teardown. If that leaves none (a DAG of teardowns
 * only), the plain leaves.
 */
export function effectiveLeaves(tasks: Tasks): string[] {
  const ignorable = (t: SetupTeardownTask) => t.isTeardown && !t.failRunOnFailure;
  const leaves = [...tasks.values()]
    .filter((t) => ![...t.downstream].some((d) => !ignorable(tasks.get(d)!)) && !ignorable(t))
    .map((t) => t.id);
  return leaves.length ? leaves : [...tasks.values()].filter((t) => t.downstream.size === 0).map((t) => t.id);
}

/**
 * The setups and teardowns a clear of `chosen` brings along, on top of what its upstream /
 * downstream options chose (airflow/models/dag.py DAG.partial_subset):
 * - a task that is neither setup nor teardown brings its relevant setups and their teardowns
 *   (without `upstream`), and so does every task the `downstream` option added;
 * - with `upstream`, the teardowns of every setup upstream (get_upstreams_follow_setups);
 * - a setup brings its teardowns (without `downstream`, which brings them anyway).
 * `base` are the tasks asked for.
 */
export function setupsAndTeardownsToClear(
  tasks: Tasks,
  base: ReadonlySet<string>,
  o: { readonly downstream?: boolean; readonly upstream?: boolean },
): Set<string> {
  const out = new Set<string>();
  if (!hasSetups(tasks)) return out;
  const relevant = relevantSetups(tasks);
  const bringSetups = (id: string) => {
    const t = tasks.get(id)!;
    if (t.isSetup || t.isTeardown) return;
    for (const s of relevant.get(id) ?? []) {
      out.add(s);
      for (const td of teardownsOf(tasks, s)) if (td !== id) out.add(td);
    }
  };
  if (o.downstream)
    for (const id of flatRelatives(tasks, base, 'downstream')) if (!base.has(id)) bringSetups(id);
  if (o.upstream) {
    for (const id of flatRelatives(tasks, base, 'upstream'))
      if (tasks.get(id)!.isSetup) for (const td of teardownsOf(tasks, id)) out.add(td);
  } else for (const id of base) bringSetups(id);
  if (!o.downstream)
    for (const id of base) if (tasks.get(id)!.isSetup) for (const td of teardownsOf(tasks, id)) out.add(td);
  return out;
}
