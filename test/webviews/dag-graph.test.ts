/**
 * The DAG graph without a browser: its message validation (both sides) and the
 * DOM-free graph logic (webview/dag-graph/layout.ts): nodes, edges, the grouped
 * node of a mapped task, and the dagre layout (left to right).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseHostMessage, parseWebviewMessage } from '../../src/protocol/webviews/dag-graph.ts';
import type { GraphInstance, GraphTask } from '../../src/protocol/webviews/dag-graph.ts';
import { buildGraph, edgePath, groupState, layoutGraph, nodeLines, nodeSize, statesText } from '../../webview/dag-graph/layout.ts';

/** extract → transform[mapped] → load, and extract → audit (a fan-out). */
const TASKS: GraphTask[] = [
  { taskId: 'extract', kind: 'python', upstream: [], mapped: false, line: 5 },
  { taskId: 'transform', kind: 'python', upstream: ['extract'], mapped: true, line: 9 },
  { taskId: 'audit', kind: 'bash', upstream: ['extract'], mapped: false, line: 14 },
  { taskId: 'load', kind: 'python', upstream: ['transform', 'audit'], mapped: false, line: null },
];
const INSTANCES: GraphInstance[] = [
  { taskId: 'extract', mapIndex: -1, state: 'success' },
  { taskId: 'transform', mapIndex: 2, state: 'failed' },
  { taskId: 'transform', mapIndex: 0, state: 'success' },
  { taskId: 'transform', mapIndex: 1, state: 'success' },
  { taskId: 'audit', mapIndex: -1, state: 'running' },
  { taskId: 'load', mapIndex: -1, state: null },
];

describe('DAG graph messages', () => {
  test('the host accepts well-formed messages', () => {
    assert.deepEqual(parseWebviewMessage({ type: 'ready', dagId: null, runId: null }), { ok: true, value: { type: 'ready', dagId: null, runId: null } });
    assert.deepEqual(parseWebviewMessage({ type: 'ready' }), { ok: true, value: { type: 'ready', dagId: null, runId: null } });
    assert.deepEqual(parseWebviewMessage({ type: 'selectRun', runId: 'manual__1' }), { ok: true, value: { type: 'selectRun', runId: 'manual__1' } });
    assert.deepEqual(parseWebviewMessage({ type: 'openLog', taskId: 't', mapIndex: 3 }), { ok: true, value: { type: 'openLog', taskId: 't', mapIndex: 3 } });
    assert.deepEqual(parseWebviewMessage({ type: 'showXComs', taskId: 't', mapIndex: null }), { ok: true, value: { type: 'showXComs', taskId: 't', mapIndex: null } });
    assert.deepEqual(parseWebviewMessage({ type: 'goToSource', taskId: 't' }), { ok: true, value: { type: 'goToSource', taskId: 't' } });
  });

  test('the host rejects malformed messages with a reason', () => {
    const bad: [unknown, RegExp][] = [
      [null, /must be an object/],
      [[], /must be an object/],
      [{ type: 'eval', code: '1' }, /unknown message type "eval"/],
      [{ type: 'ready', dagId: 5, runId: null }, /dagId/],
      [{ type: 'selectRun', runId: '' }, /runId/],
      [{ type: 'openLog', taskId: '', mapIndex: null }, /taskId/],
      [{ type: 'openLog', taskId: 't', mapIndex: -1 }, /mapIndex/],
      [{ type: 'openLog', taskId: 't', mapIndex: 1.5 }, /mapIndex/],
      [{ type: 'showXComs', taskId: 't', mapIndex: null, sql: 'x' }, /unknown field "sql"/],
      [{ type: 'goToSource', taskId: 't', file: '/etc/passwd' }, /unknown field "file"/],
      [{ type: 'goToSource', taskId: 'x'.repeat(2000) }, /taskId/],
    ];
    for (const [m, re] of bad) {
      const r = parseWebviewMessage(m);
      assert.equal(r.ok, false, JSON.stringify(m));
      if (!r.ok) assert.match(r.error, re);
    }
  });

  test('the webview accepts host messages and rejects malformed ones', () => {
    const graph = { type: 'graph', dagId: 'd', tasks: TASKS, runs: [{ runId: 'r', state: 'success', logicalDate: '2024-01-01T00:00:00Z' }], runId: 'r', instances: INSTANCES };
    const ok = parseHostMessage(graph);
    assert.equal(ok.ok, true);
    if (ok.ok) assert.deepEqual(ok.value, graph);
    assert.equal(parseHostMessage({ ...graph, runId: null, runs: [], instances: [] }).ok, true);
    assert.equal(parseHostMessage({ type: 'instances', runId: 'r', instances: INSTANCES }).ok, true);
    assert.equal(parseHostMessage({ type: 'error', message: 'x' }).ok, true);
    const bad: [unknown, RegExp][] = [
      [{ type: 'script', src: 'x' }, /unknown message type/],
      [{ ...graph, dagId: '' }, /dagId/],
      [{ ...graph, tasks: [{ ...TASKS[0], mapped: 'yes' }] }, /mapped/],
      [{ ...graph, tasks: [TASKS[0], TASKS[0]] }, /unique/],
      [{ ...graph, tasks: [TASKS[1]] }, /unknown task extract/],
      [{ ...graph, tasks: [{ ...TASKS[0], line: 0 }] }, /line/],
      [{ ...graph, runs: [{ runId: 'r' }] }, /a run needs/],
      [{ type: 'instances', runId: 'r', instances: [{ taskId: 't', mapIndex: -2, state: null }] }, /mapIndex/],
      [{ type: 'instances', runId: 'r', instances: [{ taskId: 't', mapIndex: 0, state: 3 }] }, /state/],
      [{ type: 'instances', runId: 'r', instances: 'all' }, /list/],
      [{ type: 'error' }, /message/],
    ];
    for (const [m, re] of bad) {
      const r = parseHostMessage(m);
      assert.equal(r.ok, false, JSON.stringify(m));
      if (!r.ok) assert.match(r.error, re);
    }
  });
});

describe('DAG graph layout', () => {
  test('a fan-out with a mapped task: one node per task, the mapped one grouped, one edge per dependency', () => {
    const { nodes, edges } = buildGraph(TASKS, INSTANCES);
    assert.deepEqual(nodes.map((n) => [n.id, n.state, n.mapped, n.count]), [
      ['extract', 'success', false, 0],
      ['transform', 'failed', true, 3],
      ['audit', 'running', false, 0],
      ['load', 'none', false, 0],
    ]);
    const transform = nodes.find((n) => n.id === 'transform')!;
    assert.deepEqual(transform.states, { success: 2, failed: 1 });
    assert.deepEqual(transform.indexes, [{ mapIndex: 0, state: 'success' }, { mapIndex: 1, state: 'success' }, { mapIndex: 2, state: 'failed' }]);
    assert.equal(statesText(transform.states), '1 failed · 2 success');
    assert.deepEqual(nodeLines(transform), ['python · mapped ×3', '1 failed · 2 success']);
    assert.deepEqual(nodeLines(nodes[3]!), ['python · none']);
    const long = { ...nodes[2]!, state: 'upstream_failed' };
    assert.ok(nodeSize(long).width >= 30 + 'bash · upstream failed'.length * 6.9, 'a node is wide enough for its lines');
    assert.deepEqual(new Set(edges.map((e) => `${e.from}->${e.to}`)), new Set(['extract->transform', 'extract->audit', 'transform->load', 'audit->load']));
  });

  test('without a run every node is "none"; a mapped task not yet expanded keeps its own state', () => {
    assert.deepEqual(buildGraph(TASKS, []).nodes.map((n) => n.state), ['none', 'none', 'none', 'none']);
    const g = buildGraph(TASKS, [{ taskId: 'transform', mapIndex: -1, state: 'upstream_failed' }]);
    const t = g.nodes.find((n) => n.id === 'transform')!;
    assert.equal(t.state, 'upstream_failed');
    assert.equal(t.count, 0);
  });

  test('a grouped node takes the state of what is still moving, then of what failed', () => {
    assert.equal(groupState({ success: 5, running: 1, failed: 1 }), 'running');
    assert.equal(groupState({ success: 5, failed: 1 }), 'failed');
    assert.equal(groupState({ success: 5, skipped: 2 }), 'success');
    assert.equal(groupState({ success: 0 }), 'none');
    assert.equal(groupState({}), 'none');
  });

  test('dagre lays the graph out left to right, edges from node to node', () => {
    const layout = layoutGraph(buildGraph(TASKS, INSTANCES));
    const at = (id: string) => layout.nodes.find((n) => n.id === id)!;
    assert.ok(at('extract').x < at('transform').x && at('extract').x < at('audit').x, 'the fan-out goes right');
    assert.ok(at('transform').x < at('load').x && at('audit').x < at('load').x);
    assert.equal(at('transform').x, at('audit').x, 'siblings share a rank');
    assert.notEqual(at('transform').y, at('audit').y);
    assert.ok(at('transform').height > at('extract').height, 'the grouped node has a line for its counts');
    for (const n of layout.nodes) {
      assert.ok(n.x - n.width / 2 >= 0 && n.x + n.width / 2 <= layout.width, `${n.id} inside the width`);
      assert.ok(n.y - n.height / 2 >= 0 && n.y + n.height / 2 <= layout.height, `${n.id} inside the height`);
    }
    assert.equal(layout.edges.length, 4);
    for (const e of layout.edges) {
      assert.ok(e.points.length >= 2);
      const from = at(e.from);
      const to = at(e.to);
      assert.ok(e.points[0]!.x >= from.x && e.points.at(-1)!.x <= to.x, `${e.from}->${e.to} goes right`);
      assert.match(edgePath(e.points), /^M[\d.]+,[\d.]+( [LQ][\d., ]+)+$/);
    }
  });
});

describe('DAG graph: setup and teardown tasks', () => {
  // create (setup) → work → delete (teardown of create), and create → delete.
  const ST: GraphTask[] = [
    { taskId: 'create', kind: 'typescript', upstream: [], mapped: false, line: 3, role: 'setup' },
    { taskId: 'work', kind: 'typescript', upstream: ['create'], mapped: false, line: 4 },
    { taskId: 'delete', kind: 'typescript', upstream: ['create', 'work'], mapped: false, line: 5, role: 'teardown' },
  ];

  test('nodes carry the role and say it (arrow up / down); only the setup → teardown edge is dashed', () => {
    const { nodes, edges } = buildGraph(ST, [{ taskId: 'delete', mapIndex: -1, state: 'success' }]);
    assert.deepEqual(nodes.map((n) => [n.id, n.role]), [['create', 'setup'], ['work', null], ['delete', 'teardown']]);
    assert.deepEqual(nodes.map((n) => nodeLines(n)[0]), ['↑ setup · typescript · none', 'typescript · none', '↓ teardown · typescript · success']);
    assert.deepEqual(edges.map((e) => [`${e.from}->${e.to}`, e.setupTeardown === true]), [['create->work', false], ['create->delete', true], ['work->delete', false]]);
  });

  test('the role crosses the host message; anything else is refused', () => {
    const graph = { type: 'graph', dagId: 'd', tasks: ST, runs: [], runId: null, instances: [] };
    const ok = parseHostMessage(graph);
    assert.equal(ok.ok, true);
    if (ok.ok && ok.value.type === 'graph') assert.deepEqual(ok.value.tasks.map((t) => t.role ?? null), ['setup', null, 'teardown']);
    const bad = parseHostMessage({ ...graph, tasks: [{ ...ST[0]!, role: 'cleanup' }] });
    assert.equal(bad.ok, false);
    if (!bad.ok) assert.match(bad.error, /"role" must be "setup" or "teardown"/);
  });
});
