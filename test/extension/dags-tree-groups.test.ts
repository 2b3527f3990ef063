/** The DAGs tree with task groups: tasks under collapsible group rows (src/vscode/dags-model.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dagTreeChildren, groupDescription, taskLabel } from '../../src/vscode/dags-model.ts';
import type { DagInfo, TaskInfo } from '../../src/protocol/runtime.ts';

const task = (taskId: string, group: string | null): TaskInfo => ({
  taskId,
  kind: 'typescript',
  upstream: [],
  downstream: [],
  mapped: false,
  retries: 0,
  position: null,
  group,
});
const DAG: DagInfo = {
  dagId: 'etl',
  file: '/w/dags/etl.ts',
  description: null,
  schedule: null,
  timezone: 'UTC',
  isPaused: false,
  nextRun: null,
  tags: [],
  position: null,
  // Topological order, as the runtime sends it.
  tasks: [
    task('start', null),
    task('extract.a', 'extract'),
    task('extract.clean.x', 'extract.clean'),
    task('extract.b', 'extract'),
    task('load', null),
    task('plain', 'report'),
  ],
  groups: [
    { groupId: 'extract', label: 'extract', parent: null, tooltip: 'pull', position: null },
    { groupId: 'extract.clean', label: 'clean', parent: 'extract', tooltip: null, position: null },
    { groupId: 'report', label: 'report', parent: null, tooltip: null, position: null },
    { groupId: 'empty', label: 'empty', parent: null, tooltip: null, position: null },
  ],
};

const rows = (groupId: string | null) =>
  dagTreeChildren(DAG, groupId).map((c) =>
    c.type === 'task' ? c.task.taskId : `[${c.group.groupId} ×${c.taskCount}]`,
  );

test('DAGs tree: a group is one row where its first task comes, with its tasks and subgroups under it', () => {
  assert.deepEqual(rows(null), ['start', '[extract ×3]', 'load', '[report ×1]', '[empty ×0]']);
  assert.deepEqual(rows('extract'), ['extract.a', '[extract.clean ×1]', 'extract.b']);
  assert.deepEqual(rows('extract.clean'), ['extract.clean.x']);
  assert.deepEqual(rows('empty'), []);
  const extract = dagTreeChildren(DAG, null)[1]!;
  assert.equal(extract.type, 'group');
  if (extract.type === 'group') assert.equal(groupDescription(extract), 'task group · 3 tasks');
});

test('DAGs tree: a task under its group shows its id without the group prefix; a DAG without groups is a flat list', () => {
  assert.equal(taskLabel(task('extract.clean.x', 'extract.clean')), 'x');
  assert.equal(taskLabel(task('plain', 'report')), 'plain', 'prefixGroupId: false keeps the id');
  assert.equal(taskLabel(task('start', null)), 'start');
  const flat: DagInfo = { ...DAG, tasks: [task('a', null), task('b', null)], groups: undefined };
  assert.deepEqual(
    dagTreeChildren(flat, null).map((c) => c.type === 'task' && c.task.taskId),
    ['a', 'b'],
  );
  const old = { ...flat, tasks: flat.tasks.map(({ group: _g, ...t }) => t) };
  assert.deepEqual(dagTreeChildren(old, null).length, 2, 'a runtime that sends no group fields');
});
