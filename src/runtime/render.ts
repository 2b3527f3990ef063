/**
 * Rendered templates before a task runs (Airflow's `airflow tasks render` and the
 * Rendered Template view: airflow/cli/commands/task_command.py task_render, which
 * builds the task instance's context in memory and calls render_template_fields;
 * airflow/models/renderedtifields.py keeps the result with secrets redacted).
 *
 * A task's templated fields, as the task runner renders them:
 *   - `command` of a bash task, `target` of a file or S3 key sensor (rendered with ctx.render);
 *   - `inputs.NAME`: each literal input holding text (Airflow's op_kwargs), rendered deeply;
 *   - `expand.NAME`: a mapped task's element for each map index, when the list is known.
 * The context is the task runner's own (taskTemplateContext): the run's conf over the DAG's
 * params, variables (`var`), connections (`conn`), macros; every value is then passed
 * through the log masker, so connection passwords and secret-looking variables stay `***`.
 */
import { readFileSync } from 'node:fs';
import { isTaskRef, isXComArg } from './dag/dag.ts';
import { validateRunParams } from './dag/params.ts';
import type { SourcePosition } from './dag/position.ts';
import { manualDataInterval, scheduleOf } from './dag/schedule.ts';
import { getConnection } from './connections.ts';
import { maskSecrets } from './executor/logger.ts';
import {
  expandCombination,
  renderInput,
  resolveExpandLists,
  taskTemplateContext,
} from './executor/task-runner.ts';
import type { DagSpec, TaskSpec } from './processor/serialized.ts';
import { nextRunOf } from './scheduler/service.ts';
import type { Clock } from './scheduler/clock.ts';
import type { Store } from './store/store.ts';
import type { DagRunRecord } from './store/records.ts';
import { renderTemplate } from './templating/index.ts';
import { isoformat } from './templating/index.ts';
import { Variables } from './variables.ts';
import type { XComBackend } from './xcom/index.ts';
import { tokenize } from './authoring/scanner.ts';

/** What rendering needs of a runtime (a `Runtime` has all of it). */
export interface RenderEnv {
  readonly store: Store;
  readonly backend: XComBackend;
  readonly clock: Clock;
  readonly config: { readonly connections: Readonly<Record<string, string>> };
  getDag(dagId: string): DagSpec;
}

export interface RenderOptions {
  /** The logical date to render for (default: the DAG's next scheduled one; an unscheduled DAG's: now). */
  readonly logicalDate?: Date;
  /** An existing run: its logical date, data interval, conf and (for a mapped task) its map indexes. */
  readonly runId?: string;
  /** The run configuration, over the DAG's params (not with runId: a run has its own). */
  readonly conf?: Record<string, unknown>;
}

export interface RenderedField {
  /** `command`, `inputs.NAME` or `expand.NAME`. */
  readonly field: string;
  /** -1, or the map index this value is for. */
  readonly mapIndex: number;
  /** The value as written in the DAG file. */
  readonly template: unknown;
  /** The rendered value, secrets masked (text, or the JSON value of an object/list input). */
  readonly rendered: unknown;
}

export interface RenderResult {
  readonly dagId: string;
  readonly taskId: string;
  /** Where the logical date came from: `run` (--run), `date` (--date), `next` (the next scheduled run), `now` (an unscheduled DAG). */
  readonly source: 'run' | 'date' | 'next' | 'now';
  /** The existing run, or the id such a run would get. */
  readonly runId: string;
  readonly logicalDate: string;
  readonly dataIntervalStart: string;
  readonly dataIntervalEnd: string;
  /** The run's conf (masked). */
  readonly conf: Record<string, unknown>;
  readonly fields: RenderedField[];
  /** Whether the task is mapped. */
  readonly mapped: boolean;
  /** For a mapped task whose expansion cannot be known yet: why (its upstream tasks have not run). */
  readonly mapNote: string | null;
  /** Literal inputs that are other tasks' outputs: known only when those run. */
  readonly xcomInputs: { readonly name: string; readonly taskId: string; readonly key: string }[];
}

export type RenderErrorCode = 'not_found' | 'usage' | 'invalid_params' | 'template_error';

/** Why a task could not be rendered; a template error names the field and where its template is written. */
export class RenderError extends Error {
  readonly code: RenderErrorCode;
  readonly dagId: string;
  readonly taskId: string | undefined;
  readonly field: string | undefined;
  readonly position: SourcePosition | undefined;
  constructor(
    code: RenderErrorCode,
    message: string,
    ids: { dagId: string; taskId?: string; field?: string; position?: SourcePosition },
  ) {
    super(message);
    this.name = 'RenderError';
    this.code = code;
    this.dagId = ids.dagId;
    this.taskId = ids.taskId;
    this.field = ids.field;
    this.position = ids.position;
  }
}

/** Whether a value holds text (a string, or a string anywhere in a list or plain object). */
function holdsText(value: unknown): boolean {
  if (typeof value === 'string') return true;
  if (isTaskRef(value) || isXComArg(value)) return false;
  if (Array.isArray(value)) return value.some(holdsText);
  if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)
    return Object.values(value).some(holdsText);
  return false;
}

/** The templated fields of a task as written (`field` → value); what the editor offers to render. */
export function templatedFields(
  task: Pick<TaskSpec, 'kind' | 'inputs' | 'expand' | 'extra'>,
): { field: string; value: unknown }[] {
  const out: { field: string; value: unknown }[] = [];
  if (task.kind === 'bash' && typeof task.extra.command === 'string')
    out.push({ field: 'command', value: task.extra.command });
  // A file sensor's path and an S3 key sensor's keys (`, `-joined), rendered at each poke with ctx.render.
  const sensor = task.extra.sensor as { sensorType?: unknown; target?: unknown } | undefined;
  if (
    task.kind === 'sensor' &&
    (sensor?.sensorType === 'file' || sensor?.sensorType === 's3') &&
    typeof sensor.target === 'string'
  ) {
    out.push({ field: 'target', value: sensor.target });
  }
  for (const [name, value] of Object.entries(task.inputs ?? {}))
    if (holdsText(value)) out.push({ field: `inputs.${name}`, value });
  for (const [name, value] of Object.entries(task.expand ?? {}))
    if (holdsText(value)) out.push({ field: `expand.${name}`, value });
  return out;
}

/** Every string of a value, depth first (the order renderDeep renders them). */
function stringsOf(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) stringsOf(v, out);
  else if (value && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)
    for (const v of Object.values(value)) stringsOf(v, out);
  return out;
}

/** Masks every string in a value with the task logs' masker. */
function masked(value: unknown): unknown {
  if (typeof value === 'string') return maskSecrets(value);
  if (Array.isArray(value)) return value.map(masked);
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, masked(v)]));
  return value;
}

/**
 * Where a template is written: the first string literal with that text at or after the
 * task's definition (the call `d.task('id', …)`), else the task's position.
 */
export function templatePosition(
  taskPosition: SourcePosition | undefined,
  template: string,
): SourcePosition | undefined {
  if (!taskPosition) return undefined;
  let text: string;
  try {
    text = readFileSync(taskPosition.file, 'utf8');
  } catch {
    return taskPosition;
  }
  const lines = text.split('\n');
  let from = 0;
  for (let i = 0; i < taskPosition.line - 1 && i < lines.length; i++) from += lines[i]!.length + 1;
  from += Math.max(0, taskPosition.column - 1);
  for (const tok of tokenize(text)) {
    if (tok.start < from || (tok.kind !== 'string' && tok.kind !== 'template') || tok.value !== template)
      continue;
    const before = text.slice(0, tok.start).split('\n');
    return { file: taskPosition.file, line: before.length, column: before[before.length - 1]!.length + 1 };
  }
  return taskPosition;
}

/** Renders every templated field of a task as its next (or a given, or a past) try would see it. */
export async function renderTask(
  env: RenderEnv,
  dagId: string,
  taskId: string,
  options: RenderOptions = {},
): Promise<RenderResult> {
  let dag: DagSpec;
  try {
    dag = env.getDag(dagId);
  } catch (err) {
    throw new RenderError('not_found', (err as Error).message, { dagId });
  }
  const task = dag.tasks.get(taskId);
  if (!task) {
    const known = [...dag.tasks.keys()];
    throw new RenderError(
      'not_found',
      `DAG "${dagId}" has no task "${taskId}" (its tasks: ${known.join(', ') || 'none'})`,
      { dagId, taskId },
    );
  }
  if (options.runId !== undefined && (options.logicalDate !== undefined || options.conf !== undefined)) {
    throw new RenderError(
      'usage',
      'a run has its own logical date and conf: give --run, or --date/--conf, not both',
      { dagId, taskId },
    );
  }
  if (options.logicalDate !== undefined && Number.isNaN(options.logicalDate.getTime())) {
    throw new RenderError('usage', 'the logical date is not a valid date', { dagId, taskId });
  }

  // The run the try would belong to: the one named, or one built in memory (Airflow's create_if_necessary="memory").
  let run: Pick<
    DagRunRecord,
    'run_id' | 'logical_date' | 'data_interval_start' | 'data_interval_end' | 'conf'
  >;
  let source: RenderResult['source'];
  let stored: DagRunRecord | undefined;
  if (options.runId !== undefined) {
    stored = await env.store.runs.get(dagId, options.runId);
    if (!stored)
      throw new RenderError('not_found', `DAG "${dagId}" has no run "${options.runId}"`, { dagId, taskId });
    run = stored;
    source = 'run';
  } else {
    const conf = options.conf ?? {};
    if (typeof conf !== 'object' || conf === null || Array.isArray(conf))
      throw new RenderError('usage', 'the run configuration (--conf) must be a JSON object', {
        dagId,
        taskId,
      });
    try {
      validateRunParams(dagId, dag.paramSpecs, dag.params, conf);
    } catch (err) {
      throw new RenderError('invalid_params', (err as Error).message, { dagId, taskId });
    }
    let logicalDate: Date;
    let interval: { start: Date; end: Date };
    let runType: string;
    if (options.logicalDate !== undefined) {
      logicalDate = options.logicalDate;
      interval = manualDataInterval(scheduleOf(dag), logicalDate);
      source = 'date';
      runType = 'manual';
    } else {
      const next = await nextRunOf(dag, env.store, env.clock.now());
      if (next) {
        logicalDate = next.logicalDate;
        interval = next.dataInterval;
        source = 'next';
        runType = 'scheduled';
      } else {
        logicalDate = new Date(env.clock.now());
        interval = manualDataInterval(scheduleOf(dag), logicalDate);
        source = 'now';
        runType = 'manual';
      }
    }
    run = {
      run_id: `${runType}__${isoformat(logicalDate)}`,
      logical_date: logicalDate.toISOString(),
      data_interval_start: interval.start.toISOString(),
      data_interval_end: interval.end.toISOString(),
      conf: JSON.stringify(conf),
    };
  }

  const readVariable = await new Variables(env.store).reader();
  const lookups = {
    variable: readVariable,
    connection: (id: string) => getConnection(id, env.config.connections),
  };
  const contextFor = (mapIndex: number) => taskTemplateContext(dag, task.id, run, mapIndex, 1, lookups);

  const fields: RenderedField[] = [];
  const render = (
    field: string,
    template: unknown,
    mapIndex: number,
    scope: Record<string, unknown>,
    how: (v: unknown) => unknown,
  ): void => {
    try {
      fields.push({ field, mapIndex, template: masked(template), rendered: masked(how(template)) });
    } catch (err) {
      // The failing string: the first whose own rendering fails (the same engine, the same context).
      const failing = stringsOf(template).find((s) => {
        try {
          renderTemplate(s, scope);
          return false;
        } catch {
          return true;
        }
      });
      const position = templatePosition(task.position, failing ?? String(template));
      const where = position ? `${position.file}:${position.line}:${position.column}: ` : '';
      throw new RenderError(
        'template_error',
        `${where}DAG "${dagId}", task "${taskId}", field "${field}": ${maskSecrets((err as Error).message)}`,
        {
          dagId,
          taskId,
          field,
          position,
        },
      );
    }
  };

  const base = contextFor(-1).templateContext;
  const xcomInputs: RenderResult['xcomInputs'] = [];
  for (const [name, value] of Object.entries(task.inputs ?? {})) {
    if (isTaskRef(value)) xcomInputs.push({ name, taskId: value.id, key: 'return_value' });
    else if (isXComArg(value)) xcomInputs.push({ name, taskId: value.taskId, key: value.key });
  }
  const own = templatedFields({ ...task, expand: undefined });
  const renderOwn = (mapIndex: number, scope: Record<string, unknown>): void => {
    for (const { field, value } of own) {
      if (field === 'command' || field === 'target')
        render(field, value, mapIndex, scope, (v) => renderTemplate(String(v), scope));
      else render(field, value, mapIndex, scope, (v) => renderInput(v, scope));
    }
  };

  // A mapped task: one set of values per map index, when its lists are known (literals, or a past run's XComs).
  let mapNote: string | null = null;
  let lists: Record<string, unknown[]> | undefined;
  if (task.expand) {
    const upstream = Object.values(task.expand)
      .map((v) => (isTaskRef(v) ? v.id : isXComArg(v) ? v.taskId : undefined))
      .filter((v): v is string => v !== undefined);
    if (upstream.length && !stored) {
      mapNote = `the map indexes of "${taskId}" cannot be known before ${upstream.map((u) => `"${u}"`).join(', ')} ${upstream.length === 1 ? 'runs' : 'run'} (render a past run with --run)`;
    } else {
      // A template error in a literal list is reported with its field and position, as the other fields'.
      for (const { field, value } of templatedFields(task).filter((f) => f.field.startsWith('expand.')))
        render(field, value, -1, base, (v) => renderInput(v, base));
      fields.length = 0;
      try {
        lists = await resolveExpandLists(
          { store: env.store, backend: env.backend, dag, runId: run.run_id, taskId, mapIndex: -1 },
          task,
          base,
        );
      } catch (err) {
        mapNote = `the map indexes of "${taskId}" are not known: ${maskSecrets((err as Error).message)}`;
      }
    }
  }
  if (!lists) renderOwn(-1, base);
  else {
    const n = Object.values(lists).reduce((acc, l) => acc * l.length, 1);
    if (n === 0) mapNote = `"${taskId}" expands over an empty list: it would be skipped`;
    const written = Object.fromEntries(
      Object.entries(task.expand ?? {}).filter(([, v]) => Array.isArray(v)),
    ) as Record<string, unknown[]>;
    for (let i = 0; i < n; i++) {
      const element = expandCombination(lists, i);
      const asWritten =
        Object.keys(written).length === Object.keys(lists).length ? expandCombination(written, i) : {};
      for (const [name, value] of Object.entries(element)) {
        fields.push({
          field: `expand.${name}`,
          mapIndex: i,
          template: masked(Object.hasOwn(asWritten, name) ? asWritten[name] : value),
          rendered: masked(value),
        });
      }
      renderOwn(i, contextFor(i).templateContext);
    }
  }

  return {
    dagId,
    taskId,
    source,
    runId: run.run_id,
    logicalDate: run.logical_date,
    dataIntervalStart: run.data_interval_start,
    dataIntervalEnd: run.data_interval_end,
    conf: masked(JSON.parse(run.conf)) as Record<string, unknown>,
    fields,
    mapped: task.expand !== undefined,
    mapNote,
    xcomInputs,
  };
}
