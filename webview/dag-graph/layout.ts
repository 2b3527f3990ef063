/**
 * The DAG graph without a DOM: tasks + task instances → nodes (a mapped task is
 * one grouped node with its map indexes counted by state) and edges, then laid
 * out left to right with dagre. Task groups are clusters around their tasks, or,
 * collapsed, one node carrying the group's edges. Tested in test/webviews/dag-graph.test.ts.
 */
import dagre from '@dagrejs/dagre';
import type { GraphGroup, GraphInstance, GraphTask } from '../../src/protocol/webviews/dag-graph.ts';

export interface GraphNode {
  /** The task id, or a collapsed group's id. */
  id: string;
  /** What the node shows: the task id (without its group's prefix inside a group), or the group's label. */
  label: string;
  /** A collapsed task group, standing for all its tasks. */
  isGroup: boolean;
  /** The expanded group (cluster) the node is drawn in, or null. */
  cluster: string | null;
  /** A collapsed group: how many tasks it holds. */
  taskCount: number;
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

/** An expanded task group: a box around its tasks and subgroups. */
export interface GraphCluster {
  id: string;
  label: string;
  tooltip: string | null;
  /** The enclosing expanded group, or null. */
  parent: string | null;
  /** How deep it is nested (0: at the top), to draw outer clusters first. */
  depth: number;
  /** The state of its tasks, taken as a mapped task's (what is moving, then what failed). */
  state: string;
}
export interface PlacedCluster extends GraphCluster {
  /** Centre. */
  x: number;
  y: number;
  width: number;
  height: number;
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
  clusters: PlacedCluster[];
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

export interface Graph {
  nodes: GraphNode[];
  edges: GraphEdge[];
  clusters: GraphCluster[];
}

/**
 * Nodes and edges of the DAG, coloured by the given run's task instances. A task in a
 * collapsed group is replaced by the outermost collapsed group around it: one node, with
 * every edge that crosses the group's border (edges inside it disappear).
 */
export function buildGraph(tasks: GraphTask[], instances: GraphInstance[], groups: readonly GraphGroup[] = [], collapsed: ReadonlySet<string> = new Set()): Graph {
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
    const label = t.group && t.taskId.startsWith(`${t.group}.`) ? t.taskId.slice(t.group.length + 1) : t.taskId;
    return { id: t.taskId, label, isGroup: false, cluster: t.group ?? null, taskCount: 0, kind: t.kind, mapped: t.mapped, line: t.line, role: t.role ?? null, state, count: indexes.length, states, indexes };
  });
  const ids = new Set(tasks.map((t) => t.taskId));
  const setups = new Set(tasks.filter((t) => t.role === 'setup').map((t) => t.taskId));
  const edges = tasks.flatMap((t) =>
    t.upstream.filter((u) => ids.has(u)).map((u): GraphEdge => (t.role === 'teardown' && setups.has(u) ? { from: u, to: t.taskId, setupTeardown: true } : { from: u, to: t.taskId })),
  );
  if (groups.length === 0) return { nodes, edges, clusters: [] };

  const byId = new Map(groups.map((g) => [g.groupId, g]));
  /** Groups from the outermost down to `id`. */
  const path = (id: string | null | undefined): GraphGroup[] => {
    const out: GraphGroup[] = [];
    for (let g = id ? byId.get(id) : undefined; g; g = g.parent === null ? undefined : byId.get(g.parent)) out.unshift(g);
    return out;
  };
  const rep = new Map<string, string>();
  const members = new Map<string, GraphNode[]>();
  const out: GraphNode[] = [];
  const groupNodes = new Map<string, GraphNode>();
  tasks.forEach((t, i) => {
    const node = nodes[i]!;
    const chain = path(t.group);
    for (const g of chain) members.set(g.groupId, [...(members.get(g.groupId) ?? []), node]);
    const folded = chain.find((g) => collapsed.has(g.groupId));
    if (!folded) {
      rep.set(t.taskId, t.taskId);
      out.push(node);
      return;
    }
    rep.set(t.taskId, folded.groupId);
    if (!groupNodes.has(folded.groupId)) {
      const g: GraphNode = { id: folded.groupId, label: folded.label, isGroup: true, cluster: folded.parent, taskCount: 0, kind: 'group', mapped: false, line: null, role: null, state: 'none', count: 0, states: {}, indexes: [] };
      groupNodes.set(folded.groupId, g);
      out.push(g);
    }
  });
  for (const g of groupNodes.values()) {
    const inside = members.get(g.id) ?? [];
    g.taskCount = inside.length;
    for (const n of inside) g.states[n.state] = (g.states[n.state] ?? 0) + 1;
    g.state = groupState(g.states);
  }
  const seen = new Set<string>();
  const folded: GraphEdge[] = [];
  for (const e of edges) {
    const from = rep.get(e.from)!;
    const to = rep.get(e.to)!;
    const key = `${from}\u0000${to}`;
    if (from === to || seen.has(key)) continue;
    seen.add(key);
    // An edge between two tasks keeps its setup-to-teardown dash; one through a collapsed group does not.
    folded.push(e.setupTeardown && from === e.from && to === e.to ? e : { from, to });
  }
  // A cluster for each expanded group that has something to draw inside it.
  const shown = new Set<string>();
  for (const n of out) for (let c = n.cluster; c !== null && !shown.has(c); c = byId.get(c)?.parent ?? null) shown.add(c);
  const clusters = groups
    .filter((g) => shown.has(g.groupId))
    .map((g): GraphCluster => {
      const states: Record<string, number> = {};
      for (const n of members.get(g.groupId) ?? []) states[n.state] = (states[n.state] ?? 0) + 1;
      return { id: g.groupId, label: g.label, tooltip: g.tooltip, parent: g.parent, depth: path(g.groupId).length - 1, state: groupState(states) };
    });
  return { nodes: out, edges: folded, clusters };
}

/** The second (and, for a mapped task, third) line of a node. */
export function nodeLines(n: GraphNode): string[] {
  const state = n.state.replace(/_/g, ' ');
  if (n.isGroup) return [`group · ${n.taskCount} task${n.taskCount === 1 ? '' : 's'}`, Object.keys(n.states).length ? statesText(n.states) : state];
  const kind = n.role === 'setup' ? `↑ setup · ${n.kind}` : n.role === 'teardown' ? `↓ teardown · ${n.kind}` : n.kind;
  if (!n.mapped) return [`${kind} · ${state}`];
  return [`${kind} · mapped ×${n.count}`, n.count ? statesText(n.states) : `not expanded · ${state}`];
}

/** Size of a node: room for its task id (bold) and its lines (smaller); an estimate, there is no DOM to measure with. */
export function nodeSize(n: GraphNode): { width: number; height: number } {
  const text = Math.max((n.isGroup ? n.label.length + 2 : n.label.length) * 8.4, ...nodeLines(n).map((l) => l.length * 6.9));
  return { width: Math.ceil(Math.min(360, Math.max(120, 30 + text))), height: n.mapped || n.isGroup ? 58 : 44 };
}

/** Lays the graph out left to right. */
export function layoutGraph(graph: { nodes: GraphNode[]; edges: GraphEdge[]; clusters?: GraphCluster[] }): Layout {
  const clusters = graph.clusters ?? [];
  const g = new dagre.graphlib.Graph({ compound: clusters.length > 0 });
  g.setGraph({ rankdir: 'LR', nodesep: 24, ranksep: 60, marginx: 16, marginy: 16 });
  g.setDefaultEdgeLabel(() => ({}));
  // Cluster ids are group ids, which are never task ids (the runtime refuses that).
  for (const c of clusters) g.setNode(c.id, {});
  for (const c of clusters) if (c.parent !== null) g.setParent(c.id, c.parent);
  for (const n of graph.nodes) g.setNode(n.id, { ...nodeSize(n) });
  for (const n of graph.nodes) if (n.cluster !== null && clusters.some((c) => c.id === n.cluster)) g.setParent(n.id, n.cluster);
  for (const e of graph.edges) g.setEdge(e.from, e.to);
  dagre.layout(g);
  const nodes = graph.nodes.map((n): PlacedNode => {
    const p = g.node(n.id);
    return { ...n, x: p.x, y: p.y, width: p.width, height: p.height };
  });
  const edges = graph.edges.map((e): PlacedEdge => ({ ...e, points: ((g.edge(e.from, e.to).points ?? []) as { x: number; y: number }[]).map((p) => ({ x: p.x, y: p.y })) }));
  const placed = clusters
    .map((c): PlacedCluster => {
      const p = g.node(c.id);
      return { ...c, x: p.x, y: p.y, width: p.width, height: p.height };
    })
    .sort((a, b) => a.depth - b.depth);
  const info = g.graph();
  return { nodes, edges, clusters: placed, width: info.width ?? 0, height: info.height ?? 0 };
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
