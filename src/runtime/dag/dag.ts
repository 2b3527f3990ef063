import { callerPosition, formatPosition } from './position.ts';
import { runBash } from './bash.ts';
import type { SourcePosition } from './position.ts';
import { durationMs } from './duration.ts';
import type { Duration } from './duration.ts';
import { checkTimezone, offsetZoneOf, parseDateIn, parseSchedule, scheduleSpecFrom } from './schedule.ts';
import type { Schedule, ScheduleInput, ScheduleSpec, TimeRestriction } from './schedule.ts';
import { TRIGGER_RULES } from './types.ts';
import { isParam, paramProblem, schemaProblem } from './params.ts';
import { outletUris } from './assets.ts';
import type { ParamSpec } from './params.ts';
import type {
  DagCallback,
  ExpandedInputs,
  Inputs,
  Params,
  ResolvedInputs,
  TaskContext,
  TaskDefaults,
  TaskGroupOptions,
  TaskGroupRef,
  TaskOptions,
  TaskRef,
  TriggerRule,
  XComArg,
} from './types.ts';

/** A task's value as a downstream task sees it: a mapped task (`expand`) gives the list of its instances' values. */
type MappedResult<R, E> = {} extends E ? Awaited<R> : Awaited<R>[];

/** Ids are used as file and directory names: letters, digits, `_`, `-`, `.`; no path separators. */
const ID_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,249}$/;
/** A prefixing task group's id (Airflow's validate_group_key): no dots, since it prefixes task ids. */
const GROUP_ID_RE = /^[A-Za-z0-9_-]{1,200}$/;

export class DagDefinitionError extends Error {
  readonly position: SourcePosition | undefined;
  readonly dagId: string | undefined;
  constructor(message: string, position?: SourcePosition, dagId?: string) {
    super(position ? `${formatPosition(position)}: ${message}` : message);
    this.name = 'DagDefinitionError';
    this.position = position;
    this.dagId = dagId;
  }
}

export function validateId(kind: 'DAG' | 'task', id: unknown, position?: SourcePosition): string {
  if (typeof id !== 'string' || !ID_RE.test(id) || id === '.' || id === '..') {
    throw new DagDefinitionError(
      `invalid ${kind} id ${JSON.stringify(id)}: use letters, digits, '_', '-' and '.' (at most 250 characters, no path separators)`,
      position,
    );
  }
  return id;
}

export interface DagOptions<P extends Params = Params> {
  readonly id: string;
  readonly description?: string;
  /**
   * When runs are created: a cron expression or preset (`@daily`, `@hourly`…) ticking in the
   * DAG's time zone, a duration (`'1h30m'` or `{ every: '1h30m' }`), `{ cron, trigger: true }`
   * (Airflow's CronTriggerTimetable: a run at each tick, no data interval), `@once`,
   * `@continuous`, null for manual runs only, or assets: `[a, b]` (runs when all were
   * updated since its last asset-triggered run) or `anyOf(a, allOf(b, c))`.
   */
  readonly schedule?: ScheduleInput;
  /**
   * The IANA time zone the schedule ticks in (`'Europe/Amsterdam'`); also read from
   * `defaultArgs.timezone`. Default: the zone of a `startDate` written with an offset, else UTC.
   */
  readonly timezone?: string;
  /** The first logical date; a string without an offset is read in the DAG's time zone. */
  readonly startDate?: string | Date;
  readonly endDate?: string | Date;
  readonly catchup?: boolean;
  readonly defaultArgs?: TaskDefaults;
  readonly params?: P;
  readonly tags?: readonly string[];
  readonly maxActiveTasks?: number;
  readonly maxActiveRuns?: number;
  readonly dagrunTimeout?: Duration;
  readonly onSuccess?: DagCallback;
  readonly onFailure?: DagCallback;
  readonly doc?: string;
}

/** The resolved definition of one task, as the scheduler sees it. */
export interface TaskDefinition {
  readonly id: string;
  readonly kind: 'typescript' | 'bash' | 'sensor' | string;
  readonly fn: (ctx: TaskContext, inputs: any) => unknown;
  readonly inputs: Inputs;
  readonly expand: Inputs | undefined;
  readonly upstream: Set<string>;
  readonly downstream: Set<string>;
  readonly retries: number;
  readonly retryDelayMs: number;
  readonly retryExponentialBackoff: boolean;
  readonly maxRetryDelayMs: number | undefined;
  readonly retryJitter: number;
  readonly executionTimeoutMs: number | undefined;
  readonly triggerRule: TriggerRule;
  /** Airflow's depends_on_past (also set by waitForDownstream). */
  readonly dependsOnPast: boolean;
  readonly waitForDownstream: boolean;
  readonly pool: string;
  readonly poolSlots: number;
  /** The distributed executor's queue (default `default`). */
  readonly queue: string;
  readonly options: TaskOptions<any, any>;
  readonly position: SourcePosition | undefined;
  /** Extra data operators attach (sensor settings…). */
  readonly extra: Record<string, unknown>;
  /** Airflow's is_setup: declared with `setup: true`, or named in a teardown's `setups` (set by validate()). */
  isSetup: boolean;
  /** Airflow's is_teardown (`teardown: { setups }`). */
  readonly isTeardown: boolean;
  /** Airflow's on_failure_fail_dagrun: this teardown's failure fails the run. */
  readonly failRunOnFailure: boolean;
  /** A teardown's setups, as written (task ids). */
  readonly setups: readonly string[];
  /** The normalised URIs of the assets this task updates when it succeeds (Airflow's outlets). */
  readonly outlets: readonly string[];
  /** The task groups the task is in, outermost first (full group ids); empty outside groups. */
  readonly group: readonly string[];
}

/** A task group as the DAG keeps it (Airflow's TaskGroup, airflow/utils/task_group.py). */
export interface TaskGroupDefinition {
  /** The full id: the parent's id + `.` + label when the parent prefixes (Airflow's group_id). */
  readonly id: string;
  /** The id as written (Airflow's label). */
  readonly label: string;
  readonly parent: string | null;
  readonly prefixGroupId: boolean;
  /** The defaultArgs its tasks get: the DAG's, then each enclosing group's, then its own. */
  readonly defaultArgs: TaskDefaults;
  readonly tooltip: string | undefined;
  readonly position: SourcePosition | undefined;
}

type DependencyEnd = TaskRef<any> | TaskGroupRef | string;

interface PendingEdge {
  readonly from: string;
  readonly to: string;
  readonly position: SourcePosition | undefined;
  /** Set when a task group's dependency made this edge: `extract >> load`, for errors. */
  readonly via?: string;
}

const collected: Dag<any>[] = [];
let collecting = false;

/** Called by the loader around the import of one DAG file. */
export function beginCollecting(): void {
  collected.length = 0;
  collecting = true;
}
export function endCollecting(): Dag<any>[] {
  collecting = false;
  return collected.splice(0);
}

export class Dag<P extends Params = Params> {
  readonly id: string;
  readonly description: string | undefined;
  readonly schedule: Schedule;
  /** The schedule as plain data (what crosses process boundaries); `parseSchedule(spec)` rebuilds it. */
  readonly scheduleSpec: ScheduleSpec;
  /** A short description of the schedule for lists (null: manual only). */
  readonly scheduleText: string | null;
  /** The IANA zone (or `UTC±HH:MM`) the schedule ticks in. */
  readonly timezone: string;
  readonly startDate: Date | undefined;
  readonly endDate: Date | undefined;
  readonly catchup: boolean;
  readonly defaultArgs: TaskDefaults;
  /** The params' default values (what tasks see unless the run's conf overrides them). */
  readonly params: P;
  /** Rules of the params declared with `param()` (Airflow's Param), as plain data. */
  readonly paramSpecs: Readonly<Record<string, ParamSpec>>;
  readonly tags: readonly string[];
  readonly maxActiveTasks: number;
  readonly maxActiveRuns: number;
  readonly dagrunTimeoutMs: number | undefined;
  readonly onSuccess: DagCallback | undefined;
  readonly onFailure: DagCallback | undefined;
  readonly position: SourcePosition | undefined;
  /** Set by the loader: the file this DAG was defined in. */
  fileloc = '';
  readonly tasks = new Map<string, TaskDefinition>();
  /** Task groups in definition order, by full id. */
  readonly groups = new Map<string, TaskGroupDefinition>();
  private readonly edges: PendingEdge[] = [];
  private readonly problems: DagDefinitionError[] = [];
  /** Tasks defined with `setup: true` (validate() adds those named in a teardown's setups). */
  private readonly declaredSetups = new Set<string>();

  constructor(options: DagOptions<P>) {
    this.position = callerPosition();
    if (!options || typeof options !== 'object') throw new DagDefinitionError('dag() needs an options object', this.position);
    this.id = validateId('DAG', options.id, this.position);
    this.description = options.description;
    try {
      const zone = options.timezone ?? options.defaultArgs?.timezone;
      this.timezone = zone !== undefined ? checkTimezone(zone) : (offsetZoneOf(options.startDate) ?? 'UTC');
      this.scheduleSpec = scheduleSpecFrom(options.schedule, this.timezone);
      this.schedule = parseSchedule(this.scheduleSpec);
    } catch (err) {
      throw new DagDefinitionError(`DAG "${this.id}": ${(err as Error).message}`, this.position, this.id);
    }
    this.scheduleText = this.schedule.summary;
    this.startDate = options.startDate === undefined ? undefined : toDate(options.startDate, this.timezone, `DAG "${this.id}" startDate`, this.position);
    this.endDate = options.endDate === undefined ? undefined : toDate(options.endDate, this.timezone, `DAG "${this.id}" endDate`, this.position);
    this.catchup = options.catchup ?? false;
    this.defaultArgs = options.defaultArgs ?? {};
    const values: Record<string, unknown> = {};
    const specs: Record<string, ParamSpec> = {};
    for (const [name, v] of Object.entries(options.params ?? {})) {
      if (!isParam(v)) {
        values[name] = v;
        continue;
      }
      const bad = schemaProblem(v.schema) ?? (v.hasDefault ? paramProblem(v.value, v.schema) : undefined);
      if (bad) throw new DagDefinitionError(`DAG "${this.id}": param "${name}"${v.hasDefault && !schemaProblem(v.schema) ? ' default' : ''}: ${bad}`, this.position, this.id);
      if (v.hasDefault) values[name] = v.value;
      specs[name] = { hasDefault: v.hasDefault, schema: v.schema };
    }
    this.params = values as P;
    this.paramSpecs = specs;
    this.tags = options.tags ?? [];
    this.maxActiveTasks = options.maxActiveTasks ?? 16;
    this.maxActiveRuns = options.maxActiveRuns ?? 16;
    this.dagrunTimeoutMs =
      options.dagrunTimeout === undefined ? undefined : durationMs(options.dagrunTimeout, `DAG "${this.id}" dagrunTimeout`);
    this.onSuccess = options.onSuccess;
    this.onFailure = options.onFailure;
    if (collecting) collected.push(this);
  }

  /**
   * Defines a task. Its inputs may be literals or other tasks' outputs (which
   * makes them upstream), and TypeScript checks the types that flow between them.
   */
  task<R>(id: string, fn: (ctx: TaskContext<P>) => R | Promise<R>): TaskRef<Awaited<R>>;
  task<R, I extends Inputs = {}, E extends Inputs = {}>(
    id: string,
    options: TaskOptions<I, E>,
    fn: (ctx: TaskContext<P>, inputs: ResolvedInputs<I> & ExpandedInputs<E>) => R | Promise<R>,
  ): TaskRef<MappedResult<R, E>>;
  task(id: string, a: unknown, b?: unknown): TaskRef<any> {
    const position = callerPosition();
    const fn = (typeof a === 'function' ? a : b) as TaskDefinition['fn'];
    const options = (typeof a === 'function' ? {} : (a ?? {})) as TaskOptions<any, any>;
    if (typeof fn !== 'function') {
      throw new DagDefinitionError(`task "${String(id)}" of DAG "${this.id}" needs a function`, position, this.id);
    }
    return this.addTask(id, 'typescript', fn, options, position);
  }

  /**
   * Airflow's BashOperator: runs a shell command (templated) with the run's
   * context in the environment; the last line of its stdout is the return value.
   */
  bash(id: string, command: string, options: TaskOptions<{}, {}> & { env?: Record<string, string>; cwd?: string } = {}): TaskRef<string> {
    const position = callerPosition();
    if (typeof command !== 'string' || command.trim() === '') {
      throw new DagDefinitionError(`bash task "${String(id)}" of DAG "${this.id}" needs a command`, position, this.id);
    }
    return this.addTask(id, 'bash', bashFn(command, options), options, position, { command });
  }

  /**
   * A task group (Airflow's TaskGroup): tasks defined on `g` get the id `<group>.<id>`
   * (unless `prefixGroupId: false`), the group's defaultArgs, and show as one collapsible
   * node in the editor. The group is a dependency like a task: `group.before(t)` starts
   * `t` after the group's leaf tasks, `t.before(group)` starts its root tasks after `t`.
   * `fn` runs at once; what it returns is the group's `result` (e.g. its last task).
   */
  group<T = undefined>(id: string, fn?: (g: TaskGroup<P, undefined>) => T): TaskGroup<P, T>;
  group<T = undefined>(id: string, options: TaskGroupOptions, fn?: (g: TaskGroup<P, undefined>) => T): TaskGroup<P, T>;
  group(id: string, a?: unknown, b?: unknown): TaskGroup<P, unknown> {
    const position = callerPosition();
    return this.defineGroup(null, id, a, b, position);
  }

  /** @internal Defines a group in `parent` (null: at the top of the DAG). */
  defineGroup(parent: TaskGroupDefinition | null, label: string, a: unknown, b: unknown, position: SourcePosition | undefined): TaskGroup<P, unknown> {
    const fn = typeof a === 'function' ? a : b;
    const options = (typeof a === 'function' || a === undefined ? {} : a) as TaskGroupOptions;
    const what = `task group ${JSON.stringify(label)} of DAG "${this.id}"`;
    if (!options || typeof options !== 'object') throw new DagDefinitionError(`${what}: the options must be an object`, position, this.id);
    if (fn !== undefined && typeof fn !== 'function') throw new DagDefinitionError(`${what}: the last argument must be a function that defines the group's tasks`, position, this.id);
    const prefixGroupId = options.prefixGroupId ?? true;
    // Airflow's validate_group_key: a prefixing group's id becomes part of task ids, so no dots.
    if (typeof label !== 'string' || !(prefixGroupId ? GROUP_ID_RE : ID_RE).test(label)) {
      throw new DagDefinitionError(
        `invalid task group id ${JSON.stringify(label)} in DAG "${this.id}": use letters, digits, '_' and '-'${prefixGroupId ? '' : " and '.'"} (at most ${prefixGroupId ? 200 : 250} characters${prefixGroupId ? '; no dots, it prefixes task ids' : ''})`,
        position,
        this.id,
      );
    }
    // Airflow's TaskGroup.group_id: prefixed with the parent's id when the parent prefixes its children.
    const id = parent?.prefixGroupId ? `${parent.id}.${label}` : label;
    const def: TaskGroupDefinition = {
      id,
      label,
      parent: parent?.id ?? null,
      prefixGroupId,
      // Airflow's _update_default_args: the group's own over the parent's (over the DAG's).
      defaultArgs: { ...(parent ? parent.defaultArgs : this.defaultArgs), ...(options.defaultArgs ?? {}) },
      tooltip: options.tooltip,
      position,
    };
    if (this.groups.has(id)) {
      const first = this.groups.get(id)!.position;
      this.problems.push(new DagDefinitionError(`duplicate task group id "${id}" in DAG "${this.id}" (first defined at ${formatPosition(first)})`, position, this.id));
    } else {
      validateId('task', id, position);
      this.groups.set(id, def);
    }
    const group = new TaskGroup<P, unknown>(this, def);
    if (typeof fn === 'function') {
      const result = fn(group);
      if (result && typeof (result as { then?: unknown }).then === 'function') {
        throw new DagDefinitionError(`${what}: the group's function must define its tasks synchronously (it returned a promise)`, position, this.id);
      }
      (group as { result: unknown }).result = result;
    }
    return group;
  }

  /** Registers a task built by an operator (sensors, sync…). */
  addTask(
    id: string,
    kind: string,
    fn: TaskDefinition['fn'],
    options: TaskOptions<any, any>,
    position: SourcePosition | undefined,
    extra: Record<string, unknown> = {},
    groupId?: string,
  ): TaskRef<any> {
    validateId('task', id, position);
    if (this.tasks.has(id)) {
      const first = this.tasks.get(id)!.position;
      this.problems.push(
        new DagDefinitionError(
          `duplicate task id "${id}" in DAG "${this.id}" (first defined at ${formatPosition(first)})`,
          position,
          this.id,
        ),
      );
      return this.ref(id);
    }
    const merged: TaskOptions<any, any> = { ...this.defaultArgs, ...options };
    const what = `task "${id}" of DAG "${this.id}"`;
    const roles = setupTeardownOf(options, (m) => new DagDefinitionError(`${what}: ${m}`, position, this.id));
    // Airflow's as_teardown() sets the rule; a teardown's own is refused (decorators: "Trigger rule not configurable for teardown tasks").
    const triggerRule = roles.isTeardown ? 'all_done_setup_success' : (merged.triggerRule ?? 'all_success');
    if (!TRIGGER_RULES.includes(triggerRule)) {
      throw new DagDefinitionError(`${what}: unknown trigger rule "${triggerRule}"`, position, this.id);
    }
    const retries = merged.retries ?? 0;
    if (!Number.isInteger(retries) || retries < 0) {
      throw new DagDefinitionError(`${what}: retries must be a whole number ≥ 0`, position, this.id);
    }
    let outlets: string[];
    try {
      outlets = outletUris(options.outlets);
    } catch (err) {
      throw new DagDefinitionError(`${what}: ${(err as Error).message}`, position, this.id);
    }
    const def: TaskDefinition = {
      id,
      kind,
      fn,
      inputs: options.inputs ?? {},
      expand: options.expand,
      upstream: new Set(),
      downstream: new Set(),
      retries,
      retryDelayMs: durationMs(merged.retryDelay ?? 300, `${what} retryDelay`),
      retryExponentialBackoff: merged.retryExponentialBackoff ?? false,
      maxRetryDelayMs: merged.maxRetryDelay === undefined ? undefined : durationMs(merged.maxRetryDelay, `${what} maxRetryDelay`),
      retryJitter: merged.retryJitter ?? 0,
      executionTimeoutMs:
        merged.executionTimeout === undefined ? undefined : durationMs(merged.executionTimeout, `${what} executionTimeout`),
      triggerRule,
      dependsOnPast: !!(merged.dependsOnPast || merged.waitForDownstream),
      waitForDownstream: !!merged.waitForDownstream,
      pool: merged.pool ?? 'default_pool',
      poolSlots: merged.poolSlots ?? 1,
      queue: queueName(merged.queue, (m) => new DagDefinitionError(`${what}: ${m}`, position, this.id)),
      options: merged,
      position,
      extra,
      ...roles,
      outlets,
      group: groupId === undefined ? [] : this.groupPath(groupId),
    };
    this.tasks.set(id, def);
    if (roles.isSetup) this.declaredSetups.add(id);
    for (const setup of roles.setups) this.edges.push({ from: setup, to: id, position });
    for (const source of [options.inputs, options.expand]) {
      for (const [name, value] of Object.entries(source ?? {})) {
        if (isTaskGroup(value)) {
          throw new DagDefinitionError(
            `${what}: input "${name}" is the task group "${value.id}", which has no value; pass one of its tasks (or the group's result), and use ${value.label}.before(…) for a dependency on the whole group`,
            position,
            this.id,
          );
        }
        const upstream = upstreamOf(value);
        if (upstream) this.edges.push({ from: upstream, to: id, position });
      }
    }
    return this.ref(id);
  }

  /** Airflow's chain(): each element runs after the previous; an array fans out / in; a task group counts as its root / leaf tasks. */
  chain(...steps: (DependencyEnd | readonly DependencyEnd[])[]): void {
    const position = callerPosition();
    for (let i = 1; i < steps.length; i++) {
      const prev = ([] as DependencyEnd[]).concat(steps[i - 1] as any);
      const next = ([] as DependencyEnd[]).concat(steps[i] as any);
      for (const a of prev) for (const b of next) this.depend(a, b, position);
    }
  }

  /**
   * @internal Records `from >> to`. A task group stands for its leaf tasks upstream and its root
   * tasks downstream, taken when the dependency is set, as Airflow's TaskGroup._set_relatives
   * (get_leaves / get_roots over the dependencies known at that point).
   */
  depend(from: DependencyEnd, to: DependencyEnd, position: SourcePosition | undefined): void {
    const via = isTaskGroup(from) || isTaskGroup(to) ? `${isTaskGroup(from) ? from.id : idOf(from)} >> ${isTaskGroup(to) ? to.id : idOf(to)}` : undefined;
    const ups = isTaskGroup(from) ? this.groupEnds(from.id, 'leaves', via!, position) : [idOf(from)];
    const downs = isTaskGroup(to) ? this.groupEnds(to.id, 'roots', via!, position) : [idOf(to)];
    for (const a of ups) for (const b of downs) this.edges.push(via ? { from: a, to: b, position, via } : { from: a, to: b, position });
  }

  /** The tasks of a group (and its subgroups) with no upstream (roots) / downstream (leaves) task inside it. */
  private groupEnds(groupId: string, which: 'roots' | 'leaves', via: string, position: SourcePosition | undefined): string[] {
    const members = new Set([...this.tasks.values()].filter((t) => t.group.includes(groupId)).map((t) => t.id));
    if (members.size === 0) {
      this.problems.push(
        new DagDefinitionError(`DAG "${this.id}": dependency ${via}: task group "${groupId}" has no tasks (yet): define its tasks before its dependencies`, position, this.id),
      );
      return [];
    }
    const inner = new Set<string>();
    for (const e of this.edges) {
      if (members.has(e.from) && members.has(e.to)) inner.add(which === 'roots' ? e.to : e.from);
    }
    return [...members].filter((id) => !inner.has(id));
  }

  /** The path of group ids from the outermost to `groupId`. */
  private groupPath(groupId: string): string[] {
    const path: string[] = [];
    for (let g = this.groups.get(groupId); g; g = g.parent === null ? undefined : this.groups.get(g.parent)) path.unshift(g.id);
    return path;
  }

  /** Resolves edges and checks the graph. Throws the first problem, with its position. */
  validate(): void {
    if (this.problems.length) throw this.problems[0];
    for (const g of this.groups.values()) {
      const t = this.tasks.get(g.id);
      if (t) {
        // Airflow: a group_id must not conflict with the task_id of a task in the DAG.
        throw new DagDefinitionError(`DAG "${this.id}": task group "${g.id}" has the same id as the task defined at ${formatPosition(t.position)}`, g.position, this.id);
      }
    }
    for (const t of this.tasks.values()) {
      t.upstream.clear();
      t.downstream.clear();
      t.isSetup = this.declaredSetups.has(t.id);
    }
    // A teardown's setups become setups (Airflow's as_teardown: `s.is_setup = True; s >> self`).
    for (const t of this.tasks.values()) {
      for (const s of t.setups) {
        const setup = this.tasks.get(s);
        const what = `teardown "${t.id}" of DAG "${this.id}"`;
        if (!setup) throw new DagDefinitionError(`${what}: its setup "${s}" is not a task of this DAG`, t.position, this.id);
        if (setup.isTeardown) {
          throw new DagDefinitionError(`${what}: its setup "${s}" is itself a teardown; a task cannot be both`, t.position, this.id);
        }
        setup.isSetup = true;
      }
    }
    for (const e of this.edges) {
      for (const end of [e.from, e.to]) {
        if (!this.tasks.has(end)) {
          throw new DagDefinitionError(
            `DAG "${this.id}": dependency ${e.from} >> ${e.to} names a task "${end}" that does not exist`,
            e.position,
            this.id,
          );
        }
      }
      if (e.from === e.to) {
        throw new DagDefinitionError(`DAG "${this.id}": task "${e.from}" depends on itself${e.via ? ` (through the task group dependency ${e.via})` : ''}`, e.position, this.id);
      }
      this.tasks.get(e.from)!.downstream.add(e.to);
      this.tasks.get(e.to)!.upstream.add(e.from);
    }
    const cycle = findCycle(this.tasks);
    if (cycle) {
      // Name the task group dependencies the cycle goes through, with where they were set.
      const through: PendingEdge[] = [];
      for (let i = 1; i < cycle.length; i++) {
        const e = this.edges.find((x) => x.via && x.from === cycle[i - 1] && x.to === cycle[i]);
        if (e && !through.some((x) => x.via === e.via && x.position === e.position)) through.push(e);
      }
      const at = through[0]?.position ?? this.tasks.get(cycle[0]!)!.position;
      const via = through.length ? `, through the task group dependenc${through.length === 1 ? 'y' : 'ies'} ${through.map((e) => `${e.via} (${formatPosition(e.position)})`).join(', ')}` : '';
      throw new DagDefinitionError(`DAG "${this.id}" has a cycle: ${cycle.join(' → ')}${via}`, at, this.id);
    }
    // Airflow's DAG.validate_setup_teardown: work right after a setup keeps the all_success rule, so
    // that it never runs without what its setup made.
    for (const t of this.tasks.values()) {
      if (!t.isSetup) continue;
      for (const d of t.downstream) {
        const down = this.tasks.get(d)!;
        if (!down.isTeardown && down.triggerRule !== 'all_success') {
          throw new DagDefinitionError(
            `task "${d}" of DAG "${this.id}" follows the setup "${t.id}", so its trigger rule must be all_success (not ${down.triggerRule}); make it a teardown of "${t.id}" if it must run whatever happened`,
            down.position,
            this.id,
          );
        }
      }
    }
  }

  /** Airflow's TimeRestriction for this DAG's scheduled runs. */
  get timeRestriction(): TimeRestriction {
    return { earliest: this.startDate, latest: this.endDate, catchup: this.catchup };
  }

  /** Task ids in a topological order (ties by definition order). */
  topologicalOrder(): string[] {
    const indeg = new Map<string, number>();
    for (const t of this.tasks.values()) indeg.set(t.id, t.upstream.size);
    const queue = [...this.tasks.keys()].filter((id) => indeg.get(id) === 0);
    const out: string[] = [];
    while (queue.length) {
      const id = queue.shift()!;
      out.push(id);
      for (const d of this.tasks.get(id)!.downstream) {
        const n = indeg.get(d)! - 1;
        indeg.set(d, n);
        if (n === 0) queue.push(d);
      }
    }
    return out;
  }

  private ref(id: string): TaskRef<any> {
    const depend = (from: DependencyEnd, to: DependencyEnd, position: SourcePosition | undefined) => this.depend(from, to, position);
    const ref: TaskRef<any> = {
      kind: 'task',
      id,
      dagId: this.id,
      output: { kind: 'xcom-arg', taskId: id, key: 'return_value' },
      xcom: (key: string) => ({ kind: 'xcom-arg', taskId: id, key }),
      before(...tasks) {
        const position = callerPosition();
        for (const t of tasks) depend(id, t, position);
        return tasks[tasks.length - 1] as any;
      },
      after(...tasks) {
        const position = callerPosition();
        for (const t of tasks) depend(t, id, position);
        return this;
      },
    };
    return ref;
  }
}

/**
 * The handle of a task group (`dag.group()`): defines tasks and subgroups in the group,
 * and is itself a dependency (its root / leaf tasks, as Airflow's TaskGroup).
 */
export class TaskGroup<P extends Params = Params, T = undefined> implements TaskGroupRef {
  readonly kind = 'group' as const;
  readonly id: string;
  readonly label: string;
  readonly dagId: string;
  /** What the group's function returned (undefined without one). */
  readonly result!: T;
  /** The defaultArgs the group's tasks get (the DAG's, the enclosing groups', the group's own). */
  readonly defaultArgs: TaskDefaults;
  readonly #dag: Dag<P>;
  readonly #def: TaskGroupDefinition;

  constructor(dag: Dag<P>, def: TaskGroupDefinition) {
    this.#dag = dag;
    this.#def = def;
    this.id = def.id;
    this.label = def.label;
    this.dagId = dag.id;
    this.defaultArgs = def.defaultArgs;
  }

  /** A task in this group: its id is `<group>.<id>` (Airflow's child_id). */
  task<R>(id: string, fn: (ctx: TaskContext<P>) => R | Promise<R>): TaskRef<Awaited<R>>;
  task<R, I extends Inputs = {}, E extends Inputs = {}>(
    id: string,
    options: TaskOptions<I, E>,
    fn: (ctx: TaskContext<P>, inputs: ResolvedInputs<I> & ExpandedInputs<E>) => R | Promise<R>,
  ): TaskRef<MappedResult<R, E>>;
  task(id: string, a: unknown, b?: unknown): TaskRef<any> {
    const position = callerPosition();
    const fn = (typeof a === 'function' ? a : b) as TaskDefinition['fn'];
    const options = (typeof a === 'function' ? {} : (a ?? {})) as TaskOptions<any, any>;
    if (typeof fn !== 'function') {
      throw new DagDefinitionError(`task "${String(id)}" of task group "${this.id}" of DAG "${this.dagId}" needs a function`, position, this.dagId);
    }
    return this.addTask(id, 'typescript', fn, options, position);
  }

  /** A bash task in this group (see `Dag.bash`). */
  bash(id: string, command: string, options: TaskOptions<{}, {}> & { env?: Record<string, string>; cwd?: string } = {}): TaskRef<string> {
    const position = callerPosition();
    if (typeof command !== 'string' || command.trim() === '') {
      throw new DagDefinitionError(`bash task "${String(id)}" of task group "${this.id}" of DAG "${this.dagId}" needs a command`, position, this.dagId);
    }
    return this.addTask(id, 'bash', bashFn(command, options), options, position, { command });
  }

  /** A subgroup: its id is `<group>.<id>` when this group prefixes; it inherits this group's defaultArgs. */
  group<U = undefined>(id: string, fn?: (g: TaskGroup<P, undefined>) => U): TaskGroup<P, U>;
  group<U = undefined>(id: string, options: TaskGroupOptions, fn?: (g: TaskGroup<P, undefined>) => U): TaskGroup<P, U>;
  group(id: string, a?: unknown, b?: unknown): TaskGroup<P, unknown> {
    return this.#dag.defineGroup(this.#def, id, a, b, callerPosition());
  }

  /** The DAG's chain(), for the tasks of this group. */
  chain(...steps: (DependencyEnd | readonly DependencyEnd[])[]): void {
    const position = callerPosition();
    for (let i = 1; i < steps.length; i++) {
      const prev = ([] as DependencyEnd[]).concat(steps[i - 1] as any);
      const next = ([] as DependencyEnd[]).concat(steps[i] as any);
      for (const a of prev) for (const b of next) this.#dag.depend(a, b, position);
    }
  }

  /** Registers a task built by an operator (sensors…) in this group, as `Dag.addTask`. */
  addTask(
    id: string,
    kind: string,
    fn: TaskDefinition['fn'],
    options: TaskOptions<any, any>,
    position: SourcePosition | undefined,
    extra: Record<string, unknown> = {},
  ): TaskRef<any> {
    if (typeof id !== 'string') validateId('task', id, position);
    // Airflow's child_id; defaults: the task's own options over the group's (which hold the DAG's).
    const full = this.#def.prefixGroupId ? `${this.id}.${id}` : id;
    return this.#dag.addTask(full, kind, fn, { ...this.defaultArgs, ...options }, position, extra, this.id);
  }

  before<R extends TaskRef<any> | TaskGroupRef>(...tasks: (R | string)[]): R {
    const position = callerPosition();
    for (const t of tasks) this.#dag.depend(this, t, position);
    return tasks[tasks.length - 1] as R;
  }

  after(...tasks: (TaskRef<any> | TaskGroupRef | string)[]): this {
    const position = callerPosition();
    for (const t of tasks) this.#dag.depend(t, this, position);
    return this;
  }
}

function bashFn(command: string, options: { env?: Record<string, string>; cwd?: string }): TaskDefinition['fn'] {
  return (ctx: TaskContext) => runBash(ctx, ctx.render(command), options.env, options.cwd);
}

export function isTaskGroup(value: unknown): value is TaskGroupRef {
  return !!value && typeof value === 'object' && (value as { kind?: unknown }).kind === 'group' && typeof (value as { id?: unknown }).id === 'string';
}

/** Defines a DAG. */
export function dag<P extends Params = Params>(options: DagOptions<P>): Dag<P> {
  return new Dag(options);
}

function idOf(t: TaskRef<any> | TaskGroupRef | string): string {
  return typeof t === 'string' ? t : t.id;
}

function upstreamOf(value: unknown): string | undefined {
  if (value && typeof value === 'object') {
    const v = value as { kind?: unknown; id?: unknown; taskId?: unknown };
    if (v.kind === 'task' && typeof v.id === 'string') return v.id;
    if (v.kind === 'xcom-arg' && typeof v.taskId === 'string') return v.taskId;
  }
  return undefined;
}

export function isXComArg(value: unknown): value is XComArg<unknown> {
  return !!value && typeof value === 'object' && (value as { kind?: unknown }).kind === 'xcom-arg';
}
export function isTaskRef(value: unknown): value is TaskRef<unknown> {
  return !!value && typeof value === 'object' && (value as { kind?: unknown }).kind === 'task';
}

function toDate(value: string | Date, zone: string, what: string, position: SourcePosition | undefined): Date {
  const d = typeof value === 'string' || value instanceof Date ? parseDateIn(value, zone) : new Date(NaN);
  if (Number.isNaN(d.getTime())) throw new DagDefinitionError(`${what}: "${String(value)}" is not a date`, position);
  return d;
}

function findCycle(tasks: Map<string, TaskDefinition>): string[] | undefined {
  const WHITE = 0,
    GREY = 1,
    BLACK = 2;
  const color = new Map<string, number>();
  const parent = new Map<string, string>();
  for (const start of tasks.keys()) {
    if (color.get(start)) continue;
    const stack: [string, Iterator<string>][] = [[start, tasks.get(start)!.downstream.values()]];
    color.set(start, GREY);
    while (stack.length) {
      const [node, it] = stack[stack.length - 1]!;
      const next = it.next();
      if (next.done) {
        color.set(node, BLACK);
        stack.pop();
        continue;
      }
      const d = next.value;
      const c = color.get(d) ?? WHITE;
      if (c === GREY) {
        const cycle = [d];
        for (let n = node; n !== d; n = parent.get(n)!) cycle.push(n);
        cycle.push(d);
        return cycle.reverse().slice(0); // d → … → node → d
      }
      if (c === WHITE) {
        color.set(d, GREY);
        parent.set(d, node);
        stack.push([d, tasks.get(d)!.downstream.values()]);
      }
    }
  }
  return undefined;
}

/** The setup / teardown settings of a task's options, checked (Airflow's as_setup / as_teardown). */
function setupTeardownOf(
  options: TaskOptions<any, any>,
  error: (message: string) => Error,
): Pick<TaskDefinition, 'isSetup' | 'isTeardown' | 'failRunOnFailure' | 'setups'> {
  const { setup, teardown } = options;
  if (setup !== undefined && typeof setup !== 'boolean') throw error(`setup must be true or false (not ${JSON.stringify(setup)})`);
  if (teardown === undefined) return { isSetup: setup === true, isTeardown: false, failRunOnFailure: false, setups: [] };
  const howTo = 'write teardown: { setups: [createCluster] } with the setup task(s) whose resources it releases';
  if (teardown === null || typeof teardown !== 'object' || Array.isArray(teardown)) {
    throw error(`a teardown needs its setups: ${howTo} (got teardown: ${JSON.stringify(teardown)})`);
  }
  if (setup === true) throw error('a task cannot be both a setup and a teardown');
  if (options.triggerRule !== undefined) {
    throw error(`a teardown's trigger rule is all_done_setup_success; it cannot be set (got "${options.triggerRule}")`);
  }
  const list = ([] as unknown[]).concat(teardown.setups ?? []);
  if (list.length === 0) throw error(`a teardown without a setup: ${howTo}`);
  const setups = list.map((s) => {
    if (typeof s === 'string' || isTaskRef(s)) return idOf(s);
    throw error(`teardown setups must be tasks (the handles d.task() returns) or task ids, not ${JSON.stringify(s)}`);
  });
  const fail = teardown.failRunOnFailure;
  if (fail !== undefined && typeof fail !== 'boolean') throw error(`teardown failRunOnFailure must be true or false (not ${JSON.stringify(fail)})`);
  return { isSetup: false, isTeardown: true, failRunOnFailure: fail === true, setups: [...new Set(setups)] };
}

/** A task's queue: a BullMQ queue name on every machine, so letters, digits, `_`, `-` and `.` only. */
function queueName(q: unknown, error: (message: string) => Error): string {
  if (q === undefined) return 'default';
  if (typeof q !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(q)) {
    throw error(`queue must be 1–64 letters, digits, _ . or - (not ${JSON.stringify(q)})`);
  }
  return q;
}
