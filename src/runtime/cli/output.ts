/**
 * How the CLI prints: `-o table|json|yaml|plain` (`--json` = `-o json`), the
 * objects every verb shares (a run, a task instance), and errors.
 * The JSON shapes are declared in schemas.ts.
 */
import { stringify as toYaml } from 'yaml';
import type { DagRunRecord, TaskInstanceRecord } from '../store/records.ts';
import type { OutputName } from './schemas.ts';

export const FORMATS = ['table', 'json', 'yaml', 'plain'] as const;
export type Format = (typeof FORMATS)[number];

/** What a failure is called in JSON mode, and the exit code it gives. */
export const EXIT_CODES = {
  /** The work failed: a run or task failed, an integrity check failed, a benchmark missed a target… */
  run_failed: 1,
  integrity: 1,
  partial_failure: 1,
  target_missed: 1,
  /** `hangar db check`: the store lacks migrations of this Hangar (run `hangar db migrate`). */
  migration_pending: 1,
  /** The store's schema is newer than this Hangar's (a newer Hangar migrated it). */
  store_too_new: 1,
  /** Anything else that went wrong (an unreadable hangar.json, a missing key, an I/O error…). */
  error: 1,
  /** `hangar render`: a template failed to render (the error names the field and its position). */
  template_error: 1,
  /** Bad usage: an unknown verb or option, a missing or malformed argument. */
  usage: 2,
  /** A run configuration (--conf) the DAG's params refuse. */
  invalid_params: 2,
  /** The DAG, run, task, XCom or log named does not exist. */
  not_found: 3,
  /** DAG files failed to load (`hangar list`; running a DAG whose file failed to load is not_found). */
  load_error: 3,
  /** Stopped by Ctrl+C. */
  interrupted: 130,
} as const;
export type ErrorCode = keyof typeof EXIT_CODES;

/** Ids an error is about (`dag_id`, `run_id`, `task_id`, `map_index`, `key`), or the files that failed. */
export type ErrorIds = {
  dag_id?: string;
  run_id?: string;
  task_id?: string;
  map_index?: number;
  key?: string;
  files?: string[];
  /** A template error's field and where its template is written. */
  field?: string;
  position?: { file: string; line: number; column: number };
};

export class CliError extends Error {
  readonly code: ErrorCode;
  readonly ids: ErrorIds;
  constructor(code: ErrorCode, message: string, ids: ErrorIds = {}) {
    super(message);
    this.code = code;
    this.ids = ids;
  }
}

/** Bad usage: exit code 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super('usage', message);
  }
}
/** A DAG, run, task or XCom that does not exist: exit code 3. */
export class NotFoundError extends CliError {
  constructor(message: string, ids: ErrorIds = {}) {
    super('not_found', message, ids);
  }
}

export function parseFormat(values: { output?: unknown; json?: unknown }): Format {
  const o = values.output;
  if (o === undefined) return values.json ? 'json' : 'table';
  if (typeof o !== 'string' || !(FORMATS as readonly string[]).includes(o)) {
    throw new UsageError(`--output must be one of ${FORMATS.join(', ')}, not "${String(o)}"`);
  }
  if (values.json && o !== 'json') throw new UsageError(`--json and --output ${o} contradict each other`);
  return o as Format;
}

/** json and yaml print data; table and plain print for people (plain: no colours, no rule under the header). */
export function isStructured(f: Format): boolean {
  return f === 'json' || f === 'yaml';
}

export function serialize(format: Format, data: unknown): string {
  return format === 'yaml' ? toYaml(data, { lineWidth: 0 }).trimEnd() : JSON.stringify(data, null, 2);
}

/** Prints a verb's data in the chosen structured format, or calls `human` for table/plain. */
export function emit(
  ctx: { format: Format; out: (s: string) => void },
  name: OutputName,
  data: unknown,
  human: () => void,
): void {
  void name; // the schema the data follows (docs/cli-schema/<name>.json); named here so a reader finds it
  if (isStructured(ctx.format)) ctx.out(serialize(ctx.format, data));
  else human();
}

/** The error document of JSON mode (docs/cli-schema/error.json). */
export function errorDocument(code: ErrorCode, message: string, ids: ErrorIds = {}) {
  const clean = Object.fromEntries(Object.entries(ids).filter(([, v]) => v !== undefined));
  return { error: { code, message, exit_code: EXIT_CODES[code], ...clean } };
}

// ---- the shared objects ----------------------------------------------------------

function seconds(start: string | null, end: string | null): number | null {
  return start && end ? Math.max(0, (Date.parse(end) - Date.parse(start)) / 1000) : null;
}

/** A run, the same wherever it appears (runs, run, test, trigger, backfill, clear). */
export function runJson(r: DagRunRecord) {
  return {
    dag_id: r.dag_id,
    run_id: r.run_id,
    run_type: r.run_type,
    state: r.state,
    logical_date: r.logical_date,
    data_interval_start: r.data_interval_start,
    data_interval_end: r.data_interval_end,
    queued_at: r.queued_at ?? null,
    start_date: r.start_date,
    end_date: r.end_date,
    duration: seconds(r.start_date, r.end_date),
    conf: JSON.parse(r.conf) as unknown,
  };
}

/**
 * A task's kind as shown: TypeScript function tasks were stored as `python`
 * (Airflow's PythonOperator) before they were named `typescript`; stores
 * written then still say so.
 */
export function kindName(kind: string | null): string | null {
  return kind === 'python' ? 'typescript' : kind;
}

/** A task instance, the same wherever it appears (tasks, run, test, clear, mark). */
export function taskInstanceJson(t: TaskInstanceRecord) {
  return {
    dag_id: t.dag_id,
    run_id: t.run_id,
    task_id: t.task_id,
    map_index: t.map_index,
    state: t.state,
    try_number: t.try_number,
    max_tries: t.max_tries,
    operator: kindName(t.operator),
    pool: t.pool,
    start_date: t.start_date,
    end_date: t.end_date,
    duration: t.duration,
    pid: t.pid,
    hostname: t.hostname,
    next_try_at: t.next_try_at,
    error: t.error,
  };
}

export function xcomLocationJson(loc: {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  key: string;
}) {
  return { dag_id: loc.dagId, run_id: loc.runId, task_id: loc.taskId, map_index: loc.mapIndex, key: loc.key };
}
