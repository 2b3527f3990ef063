/**
 * Serialized DAGs: what the DAG processor produces in its child process and the
 * store keeps, so that the CLI, the scheduler and the runtime server know every
 * DAG's structure without importing user code (Airflow's SerializedDagModel).
 *
 * A serialized DAG is plain JSON, versioned (`v`). Values the author wrote that
 * are not JSON (dates, regular expressions, functions in sensor settings…) are
 * encoded with markers; a function comes back as a stub that throws, with its
 * name, because user code runs only in a task's (or callback's) own process.
 *
 * `DagSpec`/`TaskSpec` are the rebuilt, read-only model the scheduler works on.
 */
import { createHash } from 'node:crypto';
import type { Dag, TaskDefinition } from '../dag/dag.ts';
import type { SourcePosition } from '../dag/position.ts';
import { parseSchedule } from '../dag/schedule.ts';
import type { Schedule, ScheduleSpec, TimeRestriction } from '../dag/schedule.ts';
import type { ParamSpec } from '../dag/params.ts';
import type { Inputs, Params, TriggerRule } from '../dag/types.ts';

export const SERIALIZED_DAG_VERSION = 1;

/** JSON. */
export type Plain = null | boolean | number | string | Plain[] | { [key: string]: Plain };

export interface SerializedTask {
  readonly id: string;
  readonly kind: string;
  readonly upstream: string[];
  readonly downstream: string[];
  readonly retries: number;
  readonly retryDelayMs: number;
  readonly retryExponentialBackoff: boolean;
  readonly maxRetryDelayMs: number | null;
  readonly retryJitter: number;
  readonly executionTimeoutMs: number | null;
  readonly triggerRule: TriggerRule;
  readonly dependsOnPast: boolean;
  readonly waitForDownstream: boolean;
  readonly pool: string;
  readonly poolSlots: number;
  /** Absent in DAGs serialized before queues existed: `default`. */
  readonly queue?: string;
  /** Inputs as written (literals encoded, task references as `{kind:'task', id}`). */
  readonly inputs: Plain;
  readonly expand: Plain;
  readonly branch: boolean;
  readonly shortCircuit: boolean;
  readonly ignoreDownstreamTriggerRules: boolean | null;
  readonly sensitive: boolean;
  readonly xcomBackend: string | null;
  readonly owner: string | null;
  readonly doc: string | null;
  /** Which callbacks the task defines (they run in a task worker, never in the scheduler). */
  readonly callbacks: { readonly onExecute: boolean; readonly onSuccess: boolean; readonly onFailure: boolean; readonly onRetry: boolean };
  readonly position: SourcePosition | null;
  /** Operator data (sensor settings, bash command…), encoded. */
  readonly extra: Plain;
  /** Airflow's is_setup / is_teardown / on_failure_fail_dagrun; absent (false) in DAGs serialized before them. */
  readonly setup?: boolean;
  readonly teardown?: boolean;
  readonly failRunOnFailure?: boolean;
  /** The normalised URIs of the assets the task updates (absent before assets existed: none). */
  readonly outlets?: string[];
  /** The task groups the task is in, outermost first (full ids); absent outside groups. */
  readonly group?: string[];
}

/** A task group (Airflow's TaskGroup): what the editor needs to draw it. */
export interface SerializedTaskGroup {
  /** The full id (`outer.inner` when the parent prefixes). */
  readonly id: string;
  readonly label: string;
  readonly parent: string | null;
  readonly tooltip: string | null;
  readonly position: SourcePosition | null;
}

export interface SerializedDag {
  readonly v: typeof SERIALIZED_DAG_VERSION;
  readonly dagId: string;
  readonly fileloc: string;
  readonly description: string | null;
  readonly doc: string | null;
  /** A short description of the schedule (null: manual only). */
  readonly schedule: string | null;
  /** The schedule as plain data; parseSchedule(spec) rebuilds it. */
  readonly scheduleSpec: ScheduleSpec;
  /** The IANA zone (or UTC±HH:MM) the schedule ticks in. */
  readonly timezone: string;
  readonly startDate: string | null;
  readonly endDate: string | null;
  readonly catchup: boolean;
  readonly params: Plain;
  /** The rules of params declared with param() (Airflow's Param). */
  readonly paramSpecs: Plain;
  readonly tags: string[];
  readonly maxActiveTasks: number;
  readonly maxActiveRuns: number;
  readonly dagrunTimeoutMs: number | null;
  readonly callbacks: { readonly onSuccess: boolean; readonly onFailure: boolean };
  readonly position: SourcePosition | null;
  /** Tasks in definition order. */
  readonly tasks: SerializedTask[];
  /** Task groups in definition order; absent when the DAG has none. */
  readonly groups?: SerializedTaskGroup[];
}

/** The compiled module a DAG was parsed from: tries and callbacks import exactly this. */
export interface BundleRef {
  readonly path: string;
  /** sha256 of the compiled module. */
  readonly hash: string;
}

// ---- plain encoding -----------------------------------------------------------

const FN = '$hangarFunction';
const DATE = '$hangarDate';
const REGEXP = '$hangarRegExp';
const UNDEF = '$hangarUndefined';
const BIGINT = '$hangarBigInt';
const BYTES = '$hangarBytes';

/** Encodes a value the author wrote as JSON; cycles and depth over 64 are cut. */
export function toPlain(value: unknown, seen = new Set<object>(), depth = 0): Plain {
  if (value === null) return null;
  switch (typeof value) {
    case 'boolean':
    case 'string':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'bigint':
      return { [BIGINT]: value.toString() };
    case 'undefined':
      return { [UNDEF]: true };
    case 'function':
      return { [FN]: value.name || 'anonymous' };
    case 'symbol':
      return String(value);
  }
  const obj = value as object;
  if (obj instanceof Date) return { [DATE]: Number.isNaN(obj.getTime()) ? null : obj.toISOString() };
  if (obj instanceof RegExp) return { [REGEXP]: [obj.source, obj.flags] };
  if (obj instanceof Uint8Array) return { [BYTES]: Buffer.from(obj.buffer, obj.byteOffset, obj.byteLength).toString('base64') };
  if (seen.has(obj) || depth > 64) return '[circular]';
  seen.add(obj);
  try {
    if (Array.isArray(obj)) return obj.map((v) => toPlain(v, seen, depth + 1));
    if (obj instanceof Map) return Object.fromEntries([...obj].map(([k, v]) => [String(k), toPlain(v, seen, depth + 1)]));
    if (obj instanceof Set) return [...obj].map((v) => toPlain(v, seen, depth + 1));
    // A task handle is a reference to a task, nothing more.
    const ref = obj as { kind?: unknown; id?: unknown; dagId?: unknown };
    if (ref.kind === 'task' && typeof ref.id === 'string' && typeof ref.dagId === 'string') return { kind: 'task', id: ref.id, dagId: ref.dagId };
    const out: Record<string, Plain> = {};
    for (const [k, v] of Object.entries(obj)) out[k] = toPlain(v, seen, depth + 1);
    return out;
  } finally {
    seen.delete(obj);
  }
}

/** Rebuilds what toPlain encoded; a function becomes a stub that says where it runs. */
export function fromPlain(value: Plain, where: string): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => fromPlain(v, where));
  const keys = Object.keys(value);
  if (keys.length === 1) {
    const k = keys[0]!;
    const v = value[k]!;
    if (k === FN) {
      const name = String(v);
      const stub = () => {
        throw new Error(`${where}: the function ${name === 'anonymous' ? '' : `"${name}" `}runs only in a task's process, not here`);
      };
      Object.defineProperty(stub, 'name', { value: name });
      return stub;
    }
    if (k === DATE) return new Date(v === null ? NaN : String(v));
    if (k === REGEXP && Array.isArray(v)) return new RegExp(String(v[0]), String(v[1]));
    if (k === UNDEF) return undefined;
    if (k === BIGINT) return BigInt(String(v));
    if (k === BYTES) return Buffer.from(String(v), 'base64');
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const decoded = fromPlain(v, where);
    if (decoded !== undefined) out[k] = decoded;
  }
  return out;
}

// ---- serialize (in the processor's child) ------------------------------------

/** Positions are resolved lazily (through source maps); the serialized form holds the resolved values. */
function plainPosition(p: SourcePosition | undefined): SourcePosition | null {
  return p ? { file: p.file, line: p.line, column: p.column } : null;
}

export function serializeTask(t: TaskDefinition): SerializedTask {
  const o = t.options;
  return {
    id: t.id,
    kind: t.kind,
    upstream: [...t.upstream],
    downstream: [...t.downstream],
    retries: t.retries,
    retryDelayMs: t.retryDelayMs,
    retryExponentialBackoff: t.retryExponentialBackoff,
    maxRetryDelayMs: t.maxRetryDelayMs ?? null,
    retryJitter: t.retryJitter,
    executionTimeoutMs: t.executionTimeoutMs ?? null,
    triggerRule: t.triggerRule,
    dependsOnPast: t.dependsOnPast,
    waitForDownstream: t.waitForDownstream,
    pool: t.pool,
    poolSlots: t.poolSlots,
    queue: t.queue,
    inputs: toPlain(t.inputs),
    expand: t.expand === undefined ? null : toPlain(t.expand),
    branch: o.branch === true,
    shortCircuit: o.shortCircuit === true,
    ignoreDownstreamTriggerRules: o.ignoreDownstreamTriggerRules ?? null,
    sensitive: o.sensitive === true,
    xcomBackend: o.xcomBackend ?? null,
    owner: o.owner ?? null,
    doc: o.doc ?? null,
    callbacks: {
      onExecute: typeof o.onExecute === 'function',
      onSuccess: typeof o.onSuccess === 'function',
      onFailure: typeof o.onFailure === 'function',
      onRetry: typeof o.onRetry === 'function',
    },
    position: plainPosition(t.position),
    extra: toPlain(t.extra),
    // Written only when set, so that the serialized form (and structure hash) of other DAGs is unchanged.
    ...(t.isSetup ? { setup: true } : {}),
    ...(t.isTeardown ? { teardown: true } : {}),
    ...(t.failRunOnFailure ? { failRunOnFailure: true } : {}),
    ...(t.outlets.length ? { outlets: [...t.outlets] } : {}),
    // Only when set, so that DAGs without groups keep their serialized form (and structure hash).
    ...(t.group.length ? { group: [...t.group] } : {}),
  };
}

export function serializeDag(d: Dag<any>): SerializedDag {
  return {
    v: SERIALIZED_DAG_VERSION,
    dagId: d.id,
    fileloc: d.fileloc,
    description: d.description ?? null,
    doc: (d as { doc?: string }).doc ?? null,
    schedule: d.scheduleText,
    scheduleSpec: d.scheduleSpec,
    timezone: d.timezone,
    startDate: d.startDate?.toISOString() ?? null,
    endDate: d.endDate?.toISOString() ?? null,
    catchup: d.catchup,
    params: toPlain(d.params),
    paramSpecs: toPlain(d.paramSpecs),
    tags: [...d.tags],
    maxActiveTasks: d.maxActiveTasks,
    maxActiveRuns: d.maxActiveRuns,
    dagrunTimeoutMs: d.dagrunTimeoutMs ?? null,
    callbacks: { onSuccess: typeof d.onSuccess === 'function', onFailure: typeof d.onFailure === 'function' },
    position: plainPosition(d.position),
    tasks: [...d.tasks.values()].map(serializeTask),
    ...(d.groups.size
      ? { groups: [...d.groups.values()].map((g) => ({ id: g.id, label: g.label, parent: g.parent, tooltip: g.tooltip ?? null, position: plainPosition(g.position) })) }
      : {}),
  };
}

// ---- the model the scheduler works on ----------------------------------------

/** One task as the scheduler sees it: structure and settings, no code. */
export interface TaskSpec {
  readonly id: string;
  readonly kind: string;
  readonly upstream: ReadonlySet<string>;
  readonly downstream: ReadonlySet<string>;
  readonly retries: number;
  readonly retryDelayMs: number;
  readonly retryExponentialBackoff: boolean;
  readonly maxRetryDelayMs: number | undefined;
  readonly retryJitter: number;
  readonly executionTimeoutMs: number | undefined;
  readonly triggerRule: TriggerRule;
  readonly dependsOnPast: boolean;
  readonly waitForDownstream: boolean;
  readonly pool: string;
  readonly poolSlots: number;
  readonly queue: string;
  readonly inputs: Inputs;
  readonly expand: Inputs | undefined;
  readonly branch: boolean;
  readonly shortCircuit: boolean;
  readonly ignoreDownstreamTriggerRules: boolean | undefined;
  readonly sensitive: boolean;
  readonly doc: string | undefined;
  readonly callbacks: SerializedTask['callbacks'];
  readonly position: SourcePosition | undefined;
  readonly extra: Readonly<Record<string, unknown>>;
  /** Airflow's is_setup: a setup task (`setup: true`, or named in a teardown's `setups`). */
  readonly isSetup: boolean;
  /** Airflow's is_teardown (its trigger rule is all_done_setup_success). */
  readonly isTeardown: boolean;
  /** Airflow's on_failure_fail_dagrun: this teardown's failure fails the run. */
  readonly failRunOnFailure: boolean;
  /** The assets (normalised URIs) its success records events for. */
  readonly outlets: readonly string[];
  /** The task groups the task is in, outermost first (full ids); empty outside groups. */
  readonly group: readonly string[];
}

/** A task group as the CLI and the editor see it. */
export interface TaskGroupSpec {
  readonly id: string;
  readonly label: string;
  readonly parent: string | null;
  readonly tooltip: string | undefined;
  readonly position: SourcePosition | undefined;
}

/** One DAG as the scheduler, the CLI and the editor see it: rebuilt from its serialized form. */
export interface DagSpec {
  readonly id: string;
  readonly fileloc: string;
  readonly description: string | undefined;
  readonly doc: string | undefined;
  readonly schedule: Schedule;
  readonly scheduleSpec: ScheduleSpec;
  readonly scheduleText: string | null;
  readonly timezone: string;
  readonly startDate: Date | undefined;
  readonly endDate: Date | undefined;
  readonly catchup: boolean;
  /** Airflow's TimeRestriction for scheduled runs. */
  readonly timeRestriction: TimeRestriction;
  readonly params: Params;
  readonly paramSpecs: Readonly<Record<string, ParamSpec>>;
  readonly tags: readonly string[];
  readonly maxActiveTasks: number;
  readonly maxActiveRuns: number;
  readonly dagrunTimeoutMs: number | undefined;
  readonly callbacks: SerializedDag['callbacks'];
  readonly position: SourcePosition | undefined;
  readonly tasks: ReadonlyMap<string, TaskSpec>;
  /** Task groups by full id, in definition order. */
  readonly groups: ReadonlyMap<string, TaskGroupSpec>;
  /** The compiled module it was parsed from (what tries and callbacks import). */
  readonly bundle: BundleRef;
  /** sha256 of the serialized form: changes whenever the structure does. */
  readonly structureHash: string;
  readonly serialized: SerializedDag;
  /** Task ids in a topological order (ties by definition order). */
  topologicalOrder(): string[];
}

export function structureHash(s: SerializedDag): string {
  return createHash('sha256').update(JSON.stringify(s)).digest('hex');
}

/** Rebuilds the model from a serialized DAG. Throws on a version this code does not know. */
export function dagSpecFrom(s: SerializedDag, bundle: BundleRef): DagSpec {
  if (s.v !== SERIALIZED_DAG_VERSION) throw new Error(`DAG "${s.dagId}": serialized with format ${String(s.v)}, this Hangar reads ${SERIALIZED_DAG_VERSION}; parse its file again`);
  const tasks = new Map<string, TaskSpec>();
  for (const t of s.tasks) {
    const where = `task "${t.id}" of DAG "${s.dagId}"`;
    tasks.set(t.id, {
      id: t.id,
      kind: t.kind,
      upstream: new Set(t.upstream),
      downstream: new Set(t.downstream),
      retries: t.retries,
      retryDelayMs: t.retryDelayMs,
      retryExponentialBackoff: t.retryExponentialBackoff,
      maxRetryDelayMs: t.maxRetryDelayMs ?? undefined,
      retryJitter: t.retryJitter,
      executionTimeoutMs: t.executionTimeoutMs ?? undefined,
      triggerRule: t.triggerRule,
      dependsOnPast: t.dependsOnPast,
      waitForDownstream: t.waitForDownstream,
      pool: t.pool,
      poolSlots: t.poolSlots,
      queue: t.queue ?? 'default',
      inputs: (fromPlain(t.inputs, where) ?? {}) as Inputs,
      expand: t.expand === null ? undefined : (fromPlain(t.expand, where) as Inputs),
      branch: t.branch,
      shortCircuit: t.shortCircuit,
      ignoreDownstreamTriggerRules: t.ignoreDownstreamTriggerRules ?? undefined,
      sensitive: t.sensitive,
      doc: t.doc ?? undefined,
      callbacks: t.callbacks,
      position: t.position ?? undefined,
      extra: (fromPlain(t.extra, where) ?? {}) as Record<string, unknown>,
      isSetup: t.setup === true,
      isTeardown: t.teardown === true,
      failRunOnFailure: t.failRunOnFailure === true,
      outlets: t.outlets ?? [],
      group: t.group ?? [],
    });
  }
  const groups = new Map<string, TaskGroupSpec>();
  for (const g of s.groups ?? []) {
    groups.set(g.id, { id: g.id, label: g.label, parent: g.parent, tooltip: g.tooltip ?? undefined, position: g.position ?? undefined });
  }
  const hash = structureHash(s);
  const startDate = s.startDate ? new Date(s.startDate) : undefined;
  const endDate = s.endDate ? new Date(s.endDate) : undefined;
  return {
    id: s.dagId,
    fileloc: s.fileloc,
    description: s.description ?? undefined,
    doc: s.doc ?? undefined,
    schedule: parseSchedule(s.scheduleSpec),
    scheduleSpec: s.scheduleSpec,
    scheduleText: s.schedule,
    timezone: s.timezone,
    startDate,
    endDate,
    catchup: s.catchup,
    timeRestriction: { earliest: startDate, latest: endDate, catchup: s.catchup },
    params: (fromPlain(s.params, `DAG "${s.dagId}"`) ?? {}) as Params,
    paramSpecs: (fromPlain(s.paramSpecs, `DAG "${s.dagId}"`) ?? {}) as Record<string, ParamSpec>,
    tags: s.tags,
    maxActiveTasks: s.maxActiveTasks,
    maxActiveRuns: s.maxActiveRuns,
    dagrunTimeoutMs: s.dagrunTimeoutMs ?? undefined,
    callbacks: s.callbacks,
    position: s.position ?? undefined,
    tasks,
    groups,
    bundle,
    structureHash: hash,
    serialized: s,
    topologicalOrder() {
      const indeg = new Map<string, number>();
      for (const t of tasks.values()) indeg.set(t.id, t.upstream.size);
      const queue = [...tasks.keys()].filter((id) => indeg.get(id) === 0);
      const out: string[] = [];
      while (queue.length) {
        const id = queue.shift()!;
        out.push(id);
        for (const d of tasks.get(id)!.downstream) {
          const n = indeg.get(d)! - 1;
          indeg.set(d, n);
          if (n === 0) queue.push(d);
        }
      }
      return out;
    },
  };
}
