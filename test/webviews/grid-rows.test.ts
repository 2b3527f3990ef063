/**
 * The grid's task groups without a browser: the rows as shown (groups folded,
 * nested groups, tasks by their short id, map indexes of a mapped task inside
 * a group) and a group's cell per run, aggregated as Airflow's grid does:
 *
 * - airflow/www/views.py `task_group_to_grid` → `get_summary`: the group's
 *   state is `next(state for state in wwwutils.priority if state in
 *   children_states)` over its children's instances in the run (a mapped
 *   child's instance is its own summary), priority from airflow/www/utils.py;
 * - airflow/api_fastapi/core_api/services/ui/grid.py
 *   `fill_task_instance_summaries` (Airflow 3) counts the group's task
 *   instances per state (`states`) the same way. (Airflow 3 skips "no status"
 *   when picking the overall state; Hangar keeps the Airflow 2 order its
 *   mapped summaries already use, so a group and a mapped task agree.)
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GRID_STATES, NO_TI, gridProblem, stateCode } from '../../src/protocol/webviews/grid-values.ts';
import type { GridResult, GridRun } from '../../src/protocol/webviews/grid-values.ts';
import { shapeGrid } from '../../src/runtime/server/grid.ts';
import type { GridCellRow } from '../../src/runtime/server/grid.ts';
import { cellTitle } from '../../webview/grid/format.ts';
import { buildView, groupsOf, parentRow, shortId } from '../../webview/grid/rows.ts';

const c = (s: string) => GRID_STATES.indexOf(s as never);
const counts = (o: Record<string, number>) => GRID_STATES.map((s) => o[s] ?? 0);

/** Task instances as [run, task, map index, state]; runs in order of appearance (oldest first). */
function page(tis: [string, string | null, number, string | null][]): {
  runs: GridRun[];
  totalRuns: number;
  cells: GridCellRow[];
} {
  const runs: GridRun[] = [];
  const cells: GridCellRow[] = [];
  for (const [runId, taskId, mapIndex, state] of tis) {
    let col = runs.findIndex((r) => r.runId === runId);
    if (col < 0) {
      col = runs.length;
      runs.push({
        runId,
        runType: 'manual',
        state: 'success',
        logicalDate: '2024-01-01T00:00:00.000Z',
        queuedAt: '2024-01-01T00:00:00.000Z',
        startDate: null,
        endDate: null,
      });
    }
    if (taskId !== null) cells.push([col, taskId, mapIndex, stateCode(state as never), 1, 1, null, null]);
  }
  return { runs, totalRuns: runs.length, cells };
}

// start → extract.a → extract.inner.m (mapped) → extract.b → end; `side` outside groups comes between in topological order.
const TASKS = [
  { taskId: 'start', kind: 'task', mapped: false },
  { taskId: 'extract.a', kind: 'task', mapped: false, group: 'extract' },
  { taskId: 'side', kind: 'bash', mapped: false },
  { taskId: 'extract.inner.m', kind: 'task', mapped: true, group: 'extract.inner' },
  { taskId: 'extract.b', kind: 'task', mapped: false, group: 'extract' },
  { taskId: 'end', kind: 'task', mapped: false },
];
const GROUPS = [
  { groupId: 'extract', label: 'extract', parent: null, tooltip: null, position: null },
  { groupId: 'extract.inner', label: 'inner', parent: 'extract', tooltip: null, position: null },
];
const TIS: [string, string | null, number, string | null][] = [
  ['r0', 'start', -1, 'running'],
  ['r1', 'start', -1, 'success'],
  ['r1', 'extract.a', -1, 'success'],
  ['r1', 'extract.inner.m', 0, 'success'],
  ['r1', 'extract.inner.m', 1, 'failed'],
  ['r1', 'extract.b', -1, null],
  ['r2', 'start', -1, 'success'],
  ['r2', 'extract.a', -1, 'success'],
  ['r2', 'extract.inner.m', 0, 'success'],
  ['r2', 'extract.inner.m', 1, 'success'],
  ['r2', 'extract.b', -1, 'success'],
  ['r2', 'side', -1, 'skipped'],
  ['r2', 'end', -1, 'success'],
];
const shaped = (expand: string[] = []): GridResult =>
  shapeGrid('d', TASKS, page(TIS), { limit: 25, offset: 0, expand, nowMs: 0, groups: GROUPS });
const names = (rows: { label: string; depth: number; kind: string }[]) =>
  rows.map((r) => `${'  '.repeat(r.depth)}${r.kind === 'group' ? '▸ ' : ''}${r.label}`);
const cellsOf = (g: GridResult, row: number) =>
  g.states.slice(row * g.runs.length, (row + 1) * g.runs.length);

describe('grid task groups', () => {
  test("the server names each row's innermost group and sends the groups; a DAG without groups sends none", () => {
    const g = shaped(['extract.inner.m']);
    assert.equal(gridProblem(g), undefined);
    assert.deepEqual(g.groups, [
      { groupId: 'extract', label: 'extract', parent: null },
      { groupId: 'extract.inner', label: 'inner', parent: 'extract' },
    ]);
    assert.deepEqual(
      g.rows.map((r) => [r.taskId, r.mapIndex, r.group]),
      [
        ['start', null, undefined],
        ['extract.a', null, 'extract'],
        ['side', null, undefined],
        ['extract.inner.m', null, 'extract.inner'],
        ['extract.inner.m', 0, 'extract.inner'],
        ['extract.inner.m', 1, 'extract.inner'],
        ['extract.b', null, 'extract'],
        ['end', null, undefined],
      ],
    );
    const flat = shapeGrid(
      'd',
      [{ taskId: 't', kind: 'task', mapped: false }],
      page([['r1', 't', -1, 'success']]),
      { limit: 25, offset: 0, expand: [], nowMs: 0, groups: [] },
    );
    assert.equal('groups' in flat, false);
    assert.equal(
      gridProblem({ ...g, groups: [{ groupId: 'x' }] }),
      'a task group lacks its groupId, label or parent',
    );
    assert.equal(
      gridProblem({ ...g, rows: g.rows.map((r) => ({ ...r, group: 7 })) }),
      'the row of start has a group that is not a string',
    );
  });

  test('closed (the default): one row per top-level group, where its first task comes; its cell is the worst state of every task instance in it', () => {
    const v = buildView(shaped(), new Set());
    assert.deepEqual(names(v.rows), ['start', '▸ extract', 'side', 'end']);
    assert.equal(v.rows[1]!.tasks, 3, "nested groups' tasks count");
    assert.equal(v.rows[1]!.open, false);
    // r0: nothing of the group ran → no instance; r1: a success, m[0] success, m[1] failed, b no state → failed; r2: all success.
    assert.deepEqual(cellsOf(v, 1), [NO_TI, c('failed'), c('success')]);
    assert.deepEqual(
      cellsOf(v, 0),
      [c('running'), c('success'), c('success')],
      "a task's cells are copied as they are",
    );
    assert.deepEqual(cellsOf(v, 2), [NO_TI, NO_TI, c('skipped')]);
    assert.equal(v.states.length, v.rows.length * v.runs.length);
    assert.equal(v.tries.length, v.states.length);
    assert.equal(v.durations.length, v.states.length);
    const cnt = new Map(v.counts.map((x) => [x.cell, x.counts]));
    assert.deepEqual(
      cnt.get(1 * 3 + 1),
      counts({ success: 2, failed: 1, none: 1 }),
      'map indexes count one by one (Airflow 3 `states`)',
    );
    assert.deepEqual(cnt.get(1 * 3 + 2), counts({ success: 4 }));
    assert.equal(cnt.has(1 * 3 + 0), false, 'no counts where the group has no instance');
    assert.equal(
      cellTitle(v, 1, 1, cnt.get(4)),
      'task group extract · r1\nstate: failed\ntask instances: 1 none · 2 success · 1 failed',
    );
  });

  test('open groups show their tasks by short id, indented; a nested group aggregates on its own; a mapped task inside keeps its summary and map index rows', () => {
    const one = buildView(shaped(), new Set(['extract']));
    assert.deepEqual(names(one.rows), ['start', '▸ extract', '  a', '  ▸ inner', '  b', 'side', 'end']);
    assert.equal(one.rows[1]!.open, true);
    assert.deepEqual(cellsOf(one, 3), [NO_TI, c('failed'), c('success')], 'inner: m[1] failed in r1');
    assert.deepEqual(cellsOf(one, 4), [NO_TI, c('none'), c('success')]);
    const both = buildView(shaped(['extract.inner.m']), new Set(['extract', 'extract.inner']));
    assert.deepEqual(names(both.rows), [
      'start',
      '▸ extract',
      '  a',
      '  ▸ inner',
      '    m',
      '      [0]',
      '      [1]',
      '  b',
      'side',
      'end',
    ]);
    assert.deepEqual(cellsOf(both, 4), [NO_TI, c('failed'), c('success')], 'the mapped summary');
    assert.deepEqual(cellsOf(both, 6), [NO_TI, c('failed'), c('success')], 'map index 1');
    assert.deepEqual(both.rows[4]!.taskId, 'extract.inner.m', 'rows keep the full task id (requests use it)');
    const cnt = new Map(both.counts.map((x) => [x.cell, x.counts]));
    assert.deepEqual(
      cnt.get(4 * 3 + 1),
      counts({ success: 1, failed: 1 }),
      "the mapped summary's counts move with its row",
    );
    assert.deepEqual(cnt.get(3 * 3 + 1), counts({ success: 1, failed: 1 }));
    // Closing the outer group hides the inner one whatever its state.
    assert.deepEqual(names(buildView(shaped(), new Set(['extract.inner'])).rows), [
      'start',
      '▸ extract',
      'side',
      'end',
    ]);
  });

  test("Airflow's priority: failed over running over no state over success; skipped only when nothing else", () => {
    const g = shapeGrid(
      'd',
      TASKS,
      page([
        ['r', 'extract.a', -1, 'running'],
        ['r', 'extract.b', -1, 'failed'],
        ['s', 'extract.a', -1, 'running'],
        ['s', 'extract.b', -1, null],
        ['t', 'extract.a', -1, 'success'],
        ['t', 'extract.b', -1, null],
        ['u', 'extract.a', -1, 'skipped'],
        ['u', 'extract.b', -1, 'success'],
        ['v', 'extract.a', -1, 'skipped'],
      ]),
      {
        limit: 25,
        offset: 0,
        expand: [],
        nowMs: 0,
        groups: GROUPS,
      },
    );
    const v = buildView(g, new Set());
    assert.deepEqual(cellsOf(v, 1), [c('failed'), c('running'), c('none'), c('success'), c('skipped')]);
  });

  test("a DAG without groups: the page's arrays as they are, rows by full id", () => {
    const g = shapeGrid(
      'd',
      [
        { taskId: 'a', kind: 'task', mapped: false },
        { taskId: 'm', kind: 'task', mapped: true },
      ],
      page([
        ['r', 'a', -1, 'success'],
        ['r', 'm', 0, 'failed'],
      ]),
      { limit: 25, offset: 0, expand: ['m'], nowMs: 0 },
    );
    const v = buildView(g, new Set(['whatever']));
    assert.equal(v.states, g.states);
    assert.equal(v.counts, g.counts);
    assert.deepEqual(names(v.rows), ['a', 'm', '[0]']);
  });

  test("helpers: short ids, the groups to open for a task, a row's parent", () => {
    assert.equal(shortId('extract.inner.m', 'extract.inner'), 'm');
    assert.equal(shortId('loose', 'extract'), 'loose', 'a group that does not prefix its ids');
    const g = shaped();
    assert.deepEqual(groupsOf(g, 'extract.inner.m'), ['extract', 'extract.inner']);
    assert.deepEqual(groupsOf(g, 'start'), []);
    const v = buildView(shaped(['extract.inner.m']), new Set(['extract', 'extract.inner']));
    assert.deepEqual(
      [4, 5, 3, 2, 0].map((i) => parentRow(v.rows, i)),
      [3, 4, 1, 1, -1],
    );
  });

  test('a task whose group is unknown (an older runtime) or a group cycle stays at the top level', () => {
    const g = shapeGrid(
      'd',
      [{ taskId: 'x.t', kind: 'task', mapped: false, group: 'x' }],
      page([['r', 'x.t', -1, 'success']]),
      {
        limit: 25,
        offset: 0,
        expand: [],
        nowMs: 0,
        groups: [{ groupId: 'y', label: 'y', parent: 'y', tooltip: null, position: null }],
      },
    );
    assert.deepEqual(names(buildView(g, new Set()).rows), ['x.t']);
  });
});
