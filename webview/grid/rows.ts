/**
 * The grid's row model (no DOM): the rows of a page as the grid shows them,
 * with the DAG's task groups folded in — a group is a row of its own whose
 * cells show the state of the task instances in it, its tasks follow it
 * (indented, by their short id) when it is open and are hidden when it is
 * closed; groups nest. Unit-tested in test/webviews/grid-rows.test.ts.
 *
 * A group's state in a run is Airflow's: the first state of the priority
 * list (MAPPED_PRIORITY, airflow/www/utils.py `priority`) that any task
 * instance in the group has (airflow/www/views.py `task_group_to_grid`,
 * `get_summary`; airflow/api_fastapi/core_api/services/ui/grid.py
 * `fill_task_instance_summaries` counts them per state the same way).
 */
import { GRID_STATES, NO_TI, summaryState } from '../../src/protocol/webviews/grid-values.ts';
import type { GridCounts, GridResult, GridRow } from '../../src/protocol/webviews/grid-values.ts';

/** A row as shown: a task (or a map index of one) or a task group. */
export interface ViewRow extends GridRow {
  /** Nesting depth: 0 at the top level, +1 per enclosing group. */
  depth: number;
  /** The name shown: a task's id without its group's prefix (Airflow's label), `[i]` for a map index, a group's label. */
  label: string;
  /** A group row: its task count (nested groups' tasks included) and whether it is open. */
  group?: string;
  tasks?: number;
  open?: boolean;
}

/** A page of the grid as shown: GridResult's arrays laid out for the shown rows (group rows included). */
export interface GridView extends GridResult {
  rows: ViewRow[];
}

/** The label of a task under its group: the id without the group's prefix. */
export function shortId(taskId: string, group: string | undefined): string {
  return group && taskId.startsWith(`${group}.`) ? taskId.slice(group.length + 1) : taskId;
}

/** Counts per state code of every task instance in a group, per run; index `[c][code]`. */
type Agg = number[][];

interface Node {
  /** A group (id) or a task's first row in the page (index into GridResult.rows). */
  group?: string;
  row?: number;
  children: Node[];
  tasks: number;
}

/** The groups enclosing `group`, outermost first (`group` last); stops at an unknown id or a cycle. */
export function groupPath(group: string | undefined, parents: ReadonlyMap<string, string | null>): string[] {
  const path: string[] = [];
  for (let g: string | null | undefined = group; g && parents.has(g) && !path.includes(g); g = parents.get(g))
    path.unshift(g);
  return path;
}

/**
 * The rows of `g` as shown with the groups in `open` open (every other group closed). Without groups the
 * page's arrays are used as they are (no copy: 365 × 200 grids pay nothing).
 */
export function buildView(g: GridResult, open: ReadonlySet<string>): GridView {
  const groups = g.groups ?? [];
  if (groups.length === 0)
    return {
      ...g,
      rows: g.rows.map((r) => ({
        ...r,
        depth: 0,
        label: r.mapIndex === null ? r.taskId : `[${r.mapIndex}]`,
      })),
    };
  const parents = new Map(groups.map((gr) => [gr.groupId, gr.parent]));
  const labels = new Map(groups.map((gr) => [gr.groupId, gr.label]));
  // The tree: each task under its innermost group, groups in the order their first task comes (as the DAG tree).
  const root: Node = { children: [], tasks: 0 };
  const nodes = new Map<string, Node>();
  const nodeOf = (path: string[]): Node => {
    let at = root;
    for (const id of path) {
      let n = nodes.get(id);
      if (!n) {
        nodes.set(id, (n = { group: id, children: [], tasks: 0 }));
        at.children.push(n);
      }
      at = n;
    }
    return at;
  };
  /** Map index rows of each task row (they follow it in the page). */
  const mapRows = new Map<number, number[]>();
  g.rows.forEach((r, i) => {
    if (r.mapIndex !== null) {
      const first = i - 1 - r.mapIndex;
      let list = mapRows.get(first);
      if (!list) mapRows.set(first, (list = []));
      list.push(i);
      return;
    }
    const path = groupPath(r.group, parents);
    nodeOf(path).children.push({ row: i, children: [], tasks: 1 });
    for (let k = 0; k < path.length; k++) nodes.get(path[k]!)!.tasks++;
  });

  const nRuns = g.runs.length;
  const counts = new Map(g.counts.map((c) => [c.cell, c.counts]));
  // Per group, counts per state of its task instances in each run (map indexes counted one by one).
  const aggs = new Map<string, Agg>();
  const aggregate = (n: Node): Agg => {
    const agg: Agg = Array.from({ length: nRuns }, () => new Array<number>(GRID_STATES.length).fill(0));
    for (const ch of n.children) {
      if (ch.group !== undefined) {
        const sub = aggregate(ch);
        for (let c = 0; c < nRuns; c++)
          for (let s = 0; s < GRID_STATES.length; s++) agg[c]![s]! += sub[c]![s]!;
        continue;
      }
      const base = ch.row! * nRuns;
      for (let c = 0; c < nRuns; c++) {
        const mapped = counts.get(base + c);
        if (mapped) mapped.forEach((k, s) => (agg[c]![s]! += k));
        else if (g.states[base + c] !== NO_TI) agg[c]![g.states[base + c]!]!++;
      }
    }
    aggs.set(n.group!, agg);
    return agg;
  };
  for (const ch of root.children) if (ch.group !== undefined) aggregate(ch);

  const rows: ViewRow[] = [];
  const states: number[] = [];
  const tries: number[] = [];
  const durations: (number | null)[] = [];
  const outCounts: GridCounts[] = [];
  const copyRow = (src: number) => {
    const base = src * nRuns;
    for (let c = 0; c < nRuns; c++) {
      const cc = counts.get(base + c);
      if (cc) outCounts.push({ cell: rows.length * nRuns + c, counts: cc });
      states.push(g.states[base + c]!);
      tries.push(g.tries[base + c]!);
      durations.push(g.durations[base + c]!);
    }
  };
  const walk = (n: Node, depth: number) => {
    for (const ch of n.children) {
      if (ch.group !== undefined) {
        const agg = aggs.get(ch.group)!;
        const isOpen = open.has(ch.group);
        for (let c = 0; c < nRuns; c++) {
          const a = agg[c]!;
          const code = summaryState(a.flatMap((k, s) => (k > 0 ? [s] : [])));
          if (code !== NO_TI) outCounts.push({ cell: rows.length * nRuns + c, counts: a });
          states.push(code);
          tries.push(0);
          durations.push(null);
        }
        rows.push({
          taskId: ch.group,
          mapIndex: null,
          kind: 'group',
          mapped: false,
          depth,
          label: labels.get(ch.group) ?? ch.group,
          group: parents.get(ch.group) ?? undefined,
          tasks: ch.tasks,
          open: isOpen,
        });
        if (isOpen) walk(ch, depth + 1);
        continue;
      }
      const r = g.rows[ch.row!]!;
      copyRow(ch.row!);
      rows.push({ ...r, depth, label: depth > 0 ? shortId(r.taskId, r.group) : r.taskId });
      for (const m of mapRows.get(ch.row!) ?? []) {
        copyRow(m);
        rows.push({ ...g.rows[m]!, depth: depth + 1, label: `[${g.rows[m]!.mapIndex}]` });
      }
    }
  };
  walk(root, 0);
  return { ...g, rows, states, tries, durations, counts: outCounts };
}

/** The groups enclosing a task (outermost first): to open so that the task's row shows. */
export function groupsOf(g: GridResult, taskId: string): string[] {
  const row = g.rows.find((r) => r.taskId === taskId);
  if (!row?.group) return [];
  return groupPath(row.group, new Map((g.groups ?? []).map((gr) => [gr.groupId, gr.parent])));
}

/** The row index of the group enclosing row `i` (its parent in the tree), or -1 at the top level. */
export function parentRow(rows: readonly ViewRow[], i: number): number {
  const d = rows[i]?.depth ?? 0;
  if (d === 0) return -1;
  for (let k = i - 1; k >= 0; k--) if (rows[k]!.depth < d) return k;
  return -1;
}
