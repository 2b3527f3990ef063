/**
 * The DAG graph with task groups (webview/dag-graph/layout.ts and its protocol): an
 * expanded group is a cluster around its tasks, a collapsed one a single node that
 * carries every edge crossing the group's border, coloured as a mapped task is.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseHostMessage } from '../../src/protocol/webviews/dag-graph.ts';
import type { GraphGroup, GraphInstance, GraphTask } from '../../src/protocol/webviews/dag-graph.ts';
import { buildGraph, layoutGraph, nodeLines } from '../../webview/dag-graph/layout.ts';

/** start → extract{a → clean{x}, b} → load; extract.a → extract.b inside. */
const TASKS: GraphTask[] = [
  { taskId: 'start', kind: 'typescript', upstream: [], mapped: false, line: 3 },
  { taskId: 'extract.a', kind: 'typescript', upstream: ['start'], mapped: false, line: 5, group: 'extract' },
  {
    taskId: 'extract.clean.x',
    kind: 'bash',
    upstream: ['extract.a'],
    mapped: false,
    line: 6,
    group: 'extract.clean',
  },
  {
    taskId: 'extract.b',
    kind: 'typescript',
    upstream: ['extract.a', 'start'],
    mapped: false,
    line: 7,
    group: 'extract',
  },
  { taskId: 'load', kind: 'typescript', upstream: ['extract.b', 'extract.clean.x'], mapped: false, line: 9 },
];
const GROUPS: GraphGroup[] = [
  { groupId: 'extract', label: 'extract', parent: null, tooltip: 'pull the rows' },
  { groupId: 'extract.clean', label: 'clean', parent: 'extract', tooltip: null },
];
const INSTANCES: GraphInstance[] = [
  { taskId: 'start', mapIndex: -1, state: 'success' },
  { taskId: 'extract.a', mapIndex: -1, state: 'success' },
  { taskId: 'extract.clean.x', mapIndex: -1, state: 'failed' },
  { taskId: 'extract.b', mapIndex: -1, state: 'running' },
  { taskId: 'load', mapIndex: -1, state: null },
];
const edgeSet = (edges: { from: string; to: string }[]) => new Set(edges.map((e) => `${e.from}->${e.to}`));

describe('DAG graph: task groups in the protocol', () => {
  const graph = {
    type: 'graph',
    dagId: 'd',
    tasks: TASKS,
    groups: GROUPS,
    runs: [],
    runId: null,
    instances: [],
  };
  test('the webview accepts groups and the tasks in them', () => {
    const ok = parseHostMessage(graph);
    assert.equal(ok.ok, true);
    if (ok.ok && ok.value.type === 'graph') {
      assert.deepEqual(ok.value.groups, GROUPS);
      assert.equal(ok.value.tasks[2]!.group, 'extract.clean');
    }
  });
  test('the webview rejects unknown groups, loops of parents and a group named as a task', () => {
    const bad: [unknown, RegExp][] = [
      [
        { ...graph, tasks: [...TASKS.slice(0, 1), { ...TASKS[1]!, group: 'nope' }] },
        /task extract\.a is in an unknown group nope/,
      ],
      [{ ...graph, groups: [{ ...GROUPS[0]!, parent: 'extract.clean' }, GROUPS[1]] }, /is inside itself/],
      [
        { ...graph, groups: [GROUPS[0], { ...GROUPS[1]!, parent: 'ghost' }] },
        /group extract\.clean is in an unknown group ghost/,
      ],
      [{ ...graph, groups: [GROUPS[0], GROUPS[0], GROUPS[1]] }, /group ids must be unique/],
      [
        { ...graph, groups: [...GROUPS, { groupId: 'load', label: 'load', parent: null, tooltip: null }] },
        /group load has the id of a task/,
      ],
      [
        { ...graph, groups: [{ groupId: 'g', label: '', parent: null, tooltip: null }] },
        /a group needs a groupId and a label/,
      ],
      [{ ...graph, groups: 'all' }, /"groups" must be a list/],
    ];
    for (const [m, re] of bad) {
      const r = parseHostMessage(m);
      assert.equal(r.ok, false, JSON.stringify(m));
      if (!r.ok) assert.match(r.error, re);
    }
  });
});

describe('DAG graph: task groups drawn', () => {
  test('expanded: every task is a node inside its cluster, labelled without the group prefix', () => {
    const g = buildGraph(TASKS, INSTANCES, GROUPS, new Set());
    assert.deepEqual(
      g.nodes.map((n) => [n.id, n.label, n.cluster, n.isGroup]),
      [
        ['start', 'start', null, false],
        ['extract.a', 'a', 'extract', false],
        ['extract.clean.x', 'x', 'extract.clean', false],
        ['extract.b', 'b', 'extract', false],
        ['load', 'load', null, false],
      ],
    );
    assert.deepEqual(
      g.clusters.map((c) => [c.id, c.label, c.parent, c.depth, c.state]),
      [
        ['extract', 'extract', null, 0, 'running'],
        ['extract.clean', 'clean', 'extract', 1, 'failed'],
      ],
    );
    assert.equal(g.edges.length, 6);
  });

  test('collapsed: one node with the group edges, inner edges gone, its state from its tasks', () => {
    const g = buildGraph(TASKS, INSTANCES, GROUPS, new Set(['extract']));
    assert.deepEqual(
      g.nodes.map((n) => n.id),
      ['start', 'extract', 'load'],
    );
    const node = g.nodes[1]!;
    assert.equal(node.isGroup, true);
    assert.equal(node.taskCount, 3);
    assert.deepEqual(node.states, { success: 1, failed: 1, running: 1 });
    assert.equal(node.state, 'running', 'what is still moving first, as a mapped task');
    assert.deepEqual(nodeLines(node), ['group · 3 tasks', '1 running · 1 failed · 1 success']);
    assert.deepEqual(
      edgeSet(g.edges),
      new Set(['start->extract', 'extract->load']),
      'two edges from start into the group become one',
    );
    assert.deepEqual(g.clusters, []);
  });

  test('a collapsed subgroup is a node inside its expanded parent; the outer group wins when both are collapsed', () => {
    const inner = buildGraph(TASKS, INSTANCES, GROUPS, new Set(['extract.clean']));
    assert.deepEqual(
      inner.nodes.map((n) => [n.id, n.cluster, n.isGroup]),
      [
        ['start', null, false],
        ['extract.a', 'extract', false],
        ['extract.clean', 'extract', true],
        ['extract.b', 'extract', false],
        ['load', null, false],
      ],
    );
    assert.deepEqual(
      edgeSet(inner.edges),
      new Set([
        'start->extract.a',
        'start->extract.b',
        'extract.a->extract.clean',
        'extract.a->extract.b',
        'extract.b->load',
        'extract.clean->load',
      ]),
    );
    assert.deepEqual(
      inner.clusters.map((c) => c.id),
      ['extract'],
    );
    const both = buildGraph(TASKS, INSTANCES, GROUPS, new Set(['extract', 'extract.clean']));
    assert.deepEqual(
      both.nodes.map((n) => n.id),
      ['start', 'extract', 'load'],
    );
  });

  test('dagre puts each cluster around its nodes, the subgroup inside its parent; a collapsed group is laid out as a node', () => {
    const layout = layoutGraph(buildGraph(TASKS, INSTANCES, GROUPS, new Set()));
    const box = (o: { x: number; y: number; width: number; height: number }) => ({
      l: o.x - o.width / 2,
      r: o.x + o.width / 2,
      t: o.y - o.height / 2,
      b: o.y + o.height / 2,
    });
    const cluster = (id: string) => box(layout.clusters.find((c) => c.id === id)!);
    const inside = (inner: ReturnType<typeof box>, outer: ReturnType<typeof box>) =>
      inner.l >= outer.l && inner.r <= outer.r && inner.t >= outer.t && inner.b <= outer.b;
    assert.deepEqual(
      layout.clusters.map((c) => c.id),
      ['extract', 'extract.clean'],
      'outer clusters first, so they are drawn behind',
    );
    for (const n of layout.nodes) {
      if (n.cluster) assert.ok(inside(box(n), cluster(n.cluster)), `${n.id} inside ${n.cluster}`);
      else assert.ok(!inside(box(n), cluster('extract')), `${n.id} outside the group`);
    }
    assert.ok(inside(cluster('extract.clean'), cluster('extract')));
    assert.ok(cluster('extract.clean').t - cluster('extract').t >= 0);
    for (const n of layout.nodes.filter((x) => x.cluster))
      assert.ok(box(n).t - cluster(n.cluster!).t >= 16, `room for the title of ${n.cluster} above ${n.id}`);

    const folded = layoutGraph(buildGraph(TASKS, INSTANCES, GROUPS, new Set(['extract'])));
    const at = (id: string) => folded.nodes.find((n) => n.id === id)!;
    assert.ok(
      at('start').x < at('extract').x && at('extract').x < at('load').x,
      'the group node sits between its upstream and downstream',
    );
    assert.equal(folded.clusters.length, 0);
    assert.equal(folded.edges.length, 2);
  });

  test('a DAG without groups is drawn as before: no clusters', () => {
    const plain = TASKS.map(({ group: _g, ...t }) => ({
      ...t,
      taskId: t.taskId.replace(/\./g, '_'),
      upstream: t.upstream.map((u) => u.replace(/\./g, '_')),
    }));
    const g = buildGraph(plain, []);
    assert.deepEqual(g.clusters, []);
    assert.ok(g.nodes.every((n) => n.cluster === null && !n.isGroup && n.label === n.id));
    assert.equal(layoutGraph(g).clusters.length, 0);
  });
});
