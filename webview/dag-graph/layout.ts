/**
 * The DAG graph without a DOM: tasks + task instances → nodes (a mapped task is
 * one grouped node with its map indexes counted by state) and edges, then laid
 * out left to right with dagre. Tested in test/webviews/dag-graph.test.ts.
 */
import dagre from '@dagrejs/dagre';
import type { GraphInstance, GraphTask } from '../../src/protocol/webviews/dag-graph.ts';

export interface GraphNode {
  id: string;
  kind: string;
  mapped: boolean;
  line: number | null;
  /** A setup or teardown task, or neither. */
  role: 'setup' | 'teardown' | null;
  /** The state that colours the node ('none': no instance in the run). */
  state: string;
  /** Mapped: how many map indexes the run expanded it into. */
  count: number;
  /** Mapped: map indexes per state, e.g. { success: 3, failed: 1 }. */
  states: Record<string, number>;
  /** Mapped: the map indexes, in order, with their states. */
  indexes: { mapIndex: number; state: string }[];
}

export interface GraphEdge {
  from: string;
  to: string;
  /** From a setup to one of its teardowns: drawn dashed, as Airflow's graph does. */
  setupTeardown?: boolean;
}

export interface PlacedNode extends GraphNode {
  /** Centre. */
  x: number;
  y: number;
  width: number;
  height: number;
}
export interface PlacedEdge extends GraphEdge {
  points: { x: number; y: number }[];
}
export interface Layout {
  nodes: PlacedNode[];
  edges: PlacedEdge[];
  width: number;
  height: number;
}

/** The order in which a grouped node takes the state of its map indexes: what is still moving first, then what went wrong. */
const PRIORITY = ['running', 'up_for_retry', 'up_for_reschedule', 'deferred', 'restarting', 'queued', 'scheduled', 'failed', 'upstream_failed', 'success', 'skipped', 'removed', 'none'];

export function groupState(states: Record<string, number>): string {
  let best = 'none';
  let rank = Number.MAX_SAFE_INTEGER;
  for (const [s, n] of Object.entries(states)) {
    if (n <= 0) continue;
    const r = PRIORITY.indexOf(s) === -1 ? PRIORITY.length - 2 : PRIORITY.indexOf(s);
    if (r < rank) [best, rank] = [s, r];
  }
  return best;
}

/** Nodes and edges of the DAG, coloured by the given run's task instances. */
export function buildGraph(tasks: GraphTask[], instances: GraphInstance[]): { nodes: GraphNode[]; edges: GraphEdge[] } {
  const byTask = new Map<string, GraphInstance[]>();
  for (const ti of instances) {
    const list = byTask.get(ti.taskId) ?? [];
    list.push(ti);
    byTask.set(ti.taskId, list);
  }
  const nodes = tasks.map((t): GraphNode => {
    const tis = byTask.get(t.taskId) ?? [];
    const expanded = tis.filter((ti) => ti.mapIndex >= 0).sort((a, b) => a.mapIndex - b.mapIndex);
    const indexes = t.mapped ? expanded.map((ti) => ({ mapIndex: ti.mapIndex, state: ti.state ?? 'none' })) : [];
    const states: Record<string, number> = {};
    for (const i of indexes) states[i.state] = (states[i.state] ?? 0) + 1;
    const unmapped = tis.find((ti) => ti.mapIndex === -1);
    const state = indexes.length > 0 ? groupState(states) : (unmapped?.state ?? tis[0]?.state ?? 'none');
    return { id: t.taskId, kind: t.kind, mapped: t.mapped, line: t.line, role: t.role ?? null, state, count: indexes.length, states, indexes };
  });
  const ids = new Set(tasks.map((t) => t.taskId));
  const setups = new Set(tasks.filter((t) => t.role === 'setup').map((t) => t.taskId));
  const edges = tasks.flatMap((t) =>
    t.upstream.filter((u) => ids.has(u)).map((u): GraphEdge => (t.role === 'teardown' && setups.has(u) ? { from: u, to: t.taskId, setupTeardown: true } : { from: u, to: t.taskId })),
  );
  return { nodes, edges };
}

/** The second (and, for a mapped task, third) line of a node. */
export function nodeLines(n: GraphNode): string[] {
  const state = n.state.replace(/_/g, ' ');
  const kind = n.role === 'setup' ? `↑ setup · ${n.kind}` : n.role === 'teardown' ? `↓ teardown · ${n.kind}` : n.kind;
  if (!n.mapped) return [`${kind} · ${state}`];
  return [`${kind} · mapped ×${n.count}`, n.count ? statesText(n.states) : `not expanded · ${state}`];
}

/** Size of a node: room for its task id (bold) and its lines (smaller); an estimate, there is no DOM to measure with. */
export function nodeSize(n: GraphNode): { width: number; height: number } {
  const text = Math.max(n.id.length * 8.4, ...nodeLines(n).map((l) => l.length * 6.9));
  return { width: Math.ceil(Math.min(360, Math.max(120, 30 + text))), height: n.mapped ? 58 : 44 };
}

/** Lays the graph out left to right. */
export function layoutGraph(graph: { nodes: GraphNode[]; edges: GraphEdge[] }): Layout {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: 'LR', nodesep: 24, ranksep: 60, marginx: 16, marginy: 16 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const n of graph.nodes) g.setNode(n.id, { ...nodeSize(n) });
  for (const e of graph.edges) g.setEdge(e.from, e.to);
  dagre.layout(g);
  const nodes = graph.nodes.map((n): PlacedNode => {
    const p = g.node(n.id);
    return { ...n, x: p.x, y: p.y, width: p.width, height: p.height };
  });
  const edges = graph.edges.map((e): PlacedEdge => ({ ...e, points: ((g.edge(e.from, e.to).points ?? []) as { x: number; y: number }[]).map((p) => ({ x: p.x, y: p.y })) }));
  const info = g.graph();
  return { nodes, edges, width: info.width ?? 0, height: info.height ?? 0 };
}

/** An SVG path through an edge's points (a polyline with its corners rounded by quadratic curves). */
export function edgePath(points: { x: number; y: number }[]): string {
  if (points.length === 0) return '';
  const f = (v: number) => Math.round(v * 10) / 10;
  let d = `M${f(points[0]!.x)},${f(points[0]!.y)}`;
  if (points.length === 2) return `${d} L${f(points[1]!.x)},${f(points[1]!.y)}`;
  for (let i = 1; i < points.length - 1; i++) {
    const p = points[i]!;
    const q = points[i + 1]!;
    const mid = i === points.length - 2 ? q : { x: (p.x + q.x) / 2, y: (p.y + q.y) / 2 };
    d += ` Q${f(p.x)},${f(p.y)} ${f(mid.x)},${f(mid.y)}`;
  }
  return d;
}

/** Short text of a grouped node's states, e.g. "3 success · 1 failed". */
export function statesText(states: Record<string, number>): string {
  return PRIORITY.filter((s) => states[s]).map((s) => `${states[s]} ${s.replace(/_/g, ' ')}`)
    .concat(Object.keys(states).filter((s) => !PRIORITY.includes(s) && states[s]).map((s) => `${states[s]} ${s}`))
    .join(' · ');
}
