/**
 * The `hangar … --json` contract: one JSON Schema per output, declared here and
 * only here. `npm run cli-schema` writes them to docs/cli-schema/<name>.json; a
 * test checks the files match and validates every verb's real output against them.
 *
 * To add a verb's output: add an entry to OUTPUTS (reuse $defs for objects that
 * appear elsewhere: a run is always `dag_run`, a task instance `task_instance`),
 * print it with `emit(ctx, '<name>', data, …)`, run `npm run cli-schema`, and add
 * the verb to test/cli/schema.test.ts (which fails while an output has no test).
 *
 * Conventions (README "Scripting Hangar"): snake_case keys, ISO 8601 UTC times
 * ending in `Z`, durations in seconds, sizes in bytes. User data (a run's conf,
 * an XCom value, an envelope header) is printed as it is.
 */

/** Bumped when an output changes incompatibly (a key renamed or removed, a type changed). */
export const SCHEMA_VERSION = 1;

type Schema = Record<string, unknown>;

const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;
const num = { type: 'number' } as const;
const bool = { type: 'boolean' } as const;
const nullable = (s: Schema): Schema => ({ anyOf: [s, { type: 'null' }] });
const ref = (name: keyof typeof DEFS): Schema => ({ $ref: `#/$defs/${name}` });
const arrayOf = (s: Schema): Schema => ({ type: 'array', items: s });
/** An object whose every listed property is required and nothing else is allowed. */
function obj(properties: Record<string, Schema>, optional: string[] = []): Schema {
  return {
    type: 'object',
    properties,
    required: Object.keys(properties).filter((k) => !optional.includes(k)),
    additionalProperties: false,
  };
}

/** ISO 8601 UTC with milliseconds and `Z`, as `Date.prototype.toISOString` writes it. */
const time: Schema = { type: 'string', pattern: '^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?Z$' };
const seconds: Schema = { type: 'number', minimum: 0, description: 'seconds' };
const bytes: Schema = { type: 'integer', minimum: 0, description: 'bytes' };
const TASK_STATES = [
  'scheduled',
  'queued',
  'running',
  'success',
  'failed',
  'up_for_retry',
  'up_for_reschedule',
  'skipped',
  'upstream_failed',
  'removed',
];

/** Objects that appear in more than one output: the same object wherever it appears. */
/** A DAG file that failed to load (the DAG processor's import error). */
const importErrors: Schema = arrayOf(obj({ fileloc: str, line: nullable(int), col: nullable(int), message: str }));

const DEFS = {
  time,
  asset_event: obj({
    id: int,
    uri: str,
    source_dag_id: { ...nullable(str), description: 'null for an event recorded by hand (hangar assets update)' },
    source_run_id: nullable(str),
    source_task_id: nullable(str),
    source_map_index: nullable(int),
    timestamp: time,
    extra: { type: 'object' },
  }),
  dag_run: obj({
    dag_id: str,
    run_id: str,
    run_type: { enum: ['manual', 'scheduled', 'backfill', 'test', 'asset_triggered'] },
    state: { enum: ['queued', 'running', 'success', 'failed'] },
    logical_date: time,
    data_interval_start: time,
    data_interval_end: time,
    queued_at: nullable(time),
    start_date: nullable(time),
    end_date: nullable(time),
    duration: nullable(seconds),
    conf: { type: 'object', description: 'the run configuration, as given' },
  }),
  task_instance: obj({
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: { type: 'integer', minimum: -1, description: '-1 for a task that is not mapped' },
    state: nullable({ enum: TASK_STATES }),
    try_number: int,
    max_tries: int,
    operator: nullable(str),
    pool: str,
    start_date: nullable(time),
    end_date: nullable(time),
    duration: nullable(seconds),
    pid: nullable(int),
    hostname: nullable(str),
    next_try_at: nullable(time),
    error: nullable(str),
  }),
  run_result: obj({
    run: { $ref: '#/$defs/dag_run' },
    task_instances: arrayOf({ $ref: '#/$defs/task_instance' }),
  }),
  xcom_location: obj({ dag_id: str, run_id: str, task_id: str, map_index: int, key: str }),
  setting: obj({
    key: { type: 'string', description: 'the hangar.json key, dotted (xcom.backend, connections.ID)' },
    value: { description: 'the effective value; secrets are ***' },
    source: {
      type: 'string',
      description: 'default, hangar.json, env:NAME, cli:--flag, or unset',
      pattern: '^(default|hangar\\.json|unset|env:[A-Z0-9_]+|cli:--[a-z-]+)$',
    },
  }),
  codec_chain: {
    type: 'array',
    items: str,
    description: 'codecs applied when the value was stored, in order',
  },
} satisfies Record<string, Schema>;

export interface OutputSpec {
  /** One line: what the output is and which verbs print it. */
  readonly description: string;
  readonly schema: Schema;
}

/** Every output of `hangar … --json`, by name (the file name under docs/cli-schema/). */
export const OUTPUTS = {
  error: {
    description:
      'What a command that exits non-zero prints on stderr in JSON mode (-o json): one error object.',
    schema: obj({
      error: {
        type: 'object',
        properties: {
          code: {
            enum: [
              'usage',
              'not_found',
              'load_error',
              'run_failed',
              'integrity',
              'partial_failure',
              'target_missed',
              'migration_pending',
              'store_too_new',
              'interrupted',
              'invalid_params',
              'template_error',
              'error',
            ],
          },
          message: str,
          exit_code: int,
          dag_id: str,
          run_id: str,
          task_id: str,
          map_index: int,
          key: str,
          files: arrayOf(str),
          field: { ...str, description: 'template_error: the templated field (`command`, `inputs.NAME`, `expand.NAME`)' },
          position: { ...obj({ file: str, line: int, column: int }), description: 'template_error: where the template is written' },
        },
        required: ['code', 'message', 'exit_code'],
        additionalProperties: false,
      },
    }),
  },
  init: {
    description: '`hangar init`: the workspace folder and the files created in it.',
    schema: obj({ workspace: str, created: arrayOf(str) }),
  },
  new: {
    description:
      '`hangar new NAME`: the DAG file written from a template, and where the first task\'s body starts (1-based line and column, for editors).',
    schema: obj({
      file: str,
      dag_id: str,
      template: { enum: ['etl', 'sensor', 'mapping', 'branching', 'sftp-sync'] },
      line: { type: 'integer', minimum: 1 },
      column: { type: 'integer', minimum: 1 },
      overwritten: bool,
    }),
  },
  list: {
    description: '`hangar list`: the DAGs with their tasks, and the DAG files that failed to load.',
    schema: obj({
      dags: arrayOf(
        obj({
          dag_id: str,
          fileloc: str,
          schedule: nullable(str),
          schedule_spec: {
            type: 'object',
            properties: { kind: { enum: ['none', 'once', 'continuous', 'cron', 'cron-trigger', 'delta', 'assets'] } },
            required: ['kind'],
            description: 'the schedule as plain data (src/runtime/dag/schedule.ts ScheduleSpec)',
          },
          timezone: { type: 'string', description: 'the IANA zone (or UTC±HH:MM) the schedule ticks in' },
          catchup: bool,
          is_paused: bool,
          next_dagrun: { ...nullable(time), description: "the next scheduled run's logical date (Airflow's DagModel.next_dagrun)" },
          next_dagrun_data_interval_start: nullable(time),
          next_dagrun_data_interval_end: nullable(time),
          next_dagrun_create_after: { ...nullable(time), description: 'when the scheduler may create it' },
          description: nullable(str),
          tags: arrayOf(str),
          tasks: arrayOf(
            obj({
              task_id: str,
              kind: { type: 'string', description: 'typescript, bash, sensor, …' },
              upstream_task_ids: arrayOf(str),
              trigger_rule: str,
              mapped: bool,
              line: nullable(int),
              outlets: { ...arrayOf(str), description: 'the assets (URIs) its success records events for' },
              task_group: { ...nullable(str), description: 'the innermost task group the task is in (its full group id), null outside groups' },
            }),
          ),
        }),
      ),
      import_errors: importErrors,
      parse_warnings: { ...importErrors, description: 'files whose import took longer than parseBudgetMs, each naming its slow top-level statement where found (absent: none)' },
      timings: {
        ...arrayOf(
          obj({
            fileloc: str,
            compile_seconds: { ...nullable(seconds), description: 'compiling with esbuild; null when the compile cache had it' },
            import_seconds: { ...nullable(seconds), description: 'importing in a DAG processor child; null when not imported' },
            total_seconds: seconds,
            parsed_now: { type: 'boolean', description: 'false: the stored result was still valid (nothing it bundles changed)' },
            parsed_at: time,
          }),
        ),
        description: 'with --timings: how long the DAG processor took per file',
      },
    }, ['timings', 'parse_warnings']),
  },
  'dags-errors': {
    description: '`hangar dags errors`: the DAG files that failed to load.',
    schema: obj({ import_errors: importErrors }),
  },
  'dags-reparse': {
    description: '`hangar dags reparse`: every DAG file parsed again.',
    schema: obj({ files: int, parsed: int, dags: int, seconds, import_errors: importErrors }),
  },
  'variables-list': {
    description: '`hangar variables list`: stored variables and HANGAR_VAR_* overrides; secret-looking values are *** unless --reveal.',
    schema: arrayOf(
      obj({
        key: str,
        value: str,
        description: nullable(str),
        source: { type: 'string', pattern: '^(store|env:HANGAR_VAR_.+)$' },
        sensitive: bool,
      }),
    ),
  },
  'variables-get': {
    description: '`hangar variables get KEY`: the effective value.',
    schema: obj({ key: str, value: str }),
  },
  'variables-set': { description: '`hangar variables set`: the key stored.', schema: obj({ key: str }) },
  'variables-delete': { description: '`hangar variables delete`: the key removed.', schema: obj({ key: str }) },
  'variables-import': { description: '`hangar variables import FILE`: how many were stored.', schema: obj({ file: str, imported: int }) },
  'variables-export': { description: '`hangar variables export FILE`: how many were written.', schema: obj({ file: str, exported: int }) },
  'db-backup': {
    description: '`hangar db backup|verify|restore DIR`: what the backup holds (the store snapshot, its XCom files, objects left where they are).',
    schema: obj({
      dir: str,
      created_at: time,
      schema_version: int,
      db_bytes: bytes,
      runs: int,
      task_instances: int,
      xcoms: int,
      xcom_files: int,
      xcom_file_bytes: bytes,
      not_copied: { ...arrayOf(obj({ store: str, path: str })), description: 'objects in S3 or another folder: not in the backup' },
    }),
  },
  'db-migrate': {
    description: '`hangar db migrate`: the migrations applied now (in order) and the store\'s schema version after them.',
    schema: obj({
      store: { ...str, description: 'the store: a file path, or a postgres:// URL without its password' },
      dialect: { type: 'string', enum: ['sqlite', 'postgres'] },
      applied: arrayOf(obj({ version: int, name: str })),
      schema_version: int,
      code_version: int,
    }),
  },
  'db-check': {
    description: '`hangar db check`: the store\'s schema version beside this Hangar\'s (exit 1 when they differ: migration_pending or store_too_new).',
    schema: obj({
      store: { ...str, description: 'the store: a file path, or a postgres:// URL without its password' },
      dialect: { type: 'string', enum: ['sqlite', 'postgres'] },
      schema_version: int,
      code_version: int,
      up_to_date: bool,
      pending: arrayOf(obj({ version: int, name: str })),
      unknown: { ...arrayOf(int), description: 'versions applied by a newer Hangar' },
    }),
  },
  'db-copy': {
    description: '`hangar db copy`: what a SQLite history added to a PostgreSQL store, table by table (rows the target held already are left as they are there).',
    schema: obj({
      from: { ...str, description: 'the SQLite file copied from' },
      to: { ...str, description: 'the PostgreSQL store, without its password' },
      copied: int,
      present: int,
      tables: arrayOf(obj({ table: str, read: int, copied: int, present: int })),
    }),
  },
  workers: {
    description:
      '`hangar workers [--all]`: the distributed executor\'s workers, from their heartbeats in the store; `gone` = silent past scheduler.heartbeatTimeoutSeconds.',
    schema: obj({
      workers: arrayOf(
        obj({
          worker_id: str,
          hostname: str,
          pid: int,
          queues: arrayOf(str),
          concurrency: int,
          version: str,
          state: { enum: ['running', 'stopping', 'stopped', 'gone'] },
          started_at: time,
          heartbeat_at: time,
          stopped_at: nullable(time),
          running_tries: int,
        }),
      ),
    }),
  },
  'assets-list': {
    description:
      '`hangar assets list`: every asset the DAG files declare or an event named (URIs normalised as Airflow does), the tasks that update it (outlets), the DAGs scheduled on it, its events, and the DAGs whose next asset-triggered run it waits in.',
    schema: obj({
      assets: arrayOf(
        obj({
          uri: str,
          first_seen: time,
          producers: arrayOf(obj({ dag_id: str, task_id: str })),
          consumers: { ...arrayOf(str), description: 'DAGs scheduled on this asset' },
          events: int,
          last_event_at: nullable(time),
          queued_for: { ...arrayOf(str), description: "DAGs with this asset's event in their queue (Airflow's asset_dag_run_queue)" },
        }),
      ),
    }),
  },
  'assets-update': {
    description: '`hangar assets update URI [--extra JSON]`: the event recorded by hand (no source task) and the DAGs it was queued for.',
    schema: obj({ event: ref('asset_event'), queued_for: arrayOf(str) }),
  },
  'assets-events': {
    description: '`hangar assets events [--uri U] [--limit N]`: asset events, newest first; the source is the task try whose success recorded it.',
    schema: obj({ events: arrayOf(ref('asset_event')) }),
  },
  'dags-pause': {
    description: '`hangar dags pause|unpause`: the DAG and whether it is now paused.',
    schema: obj({ dag_id: str, is_paused: bool }),
  },
  run: {
    description:
      '`hangar run`, `hangar test` (a run of type test): the run and its task instances once it ended.',
    schema: ref('run_result'),
  },
  trigger: {
    description: '`hangar trigger`: the queued run.',
    schema: ref('dag_run'),
  },
  backfill: {
    description: '`hangar backfill`: the runs, oldest first.',
    schema: arrayOf(ref('dag_run')),
  },
  clear: {
    description:
      '`hangar clear`: the cleared task instances, then the run and its task instances (after running it again unless --no-run).',
    schema: obj({
      cleared: arrayOf(ref('task_instance')),
      run: ref('dag_run'),
      task_instances: arrayOf(ref('task_instance')),
    }),
  },
  mark: {
    description: '`hangar mark`: the task instances marked.',
    schema: arrayOf(ref('task_instance')),
  },
  runs: {
    description: '`hangar runs`: runs, newest first.',
    schema: arrayOf(ref('dag_run')),
  },
  tasks: {
    description: '`hangar tasks RUN`: the task instances of a run.',
    schema: arrayOf(ref('task_instance')),
  },
  render: {
    description:
      "`hangar render DAG TASK`: the task's templated fields rendered for a logical date (the next scheduled one, --date) or a run (--run), secrets masked as `***`.",
    schema: obj({
      dag_id: str,
      task_id: str,
      source: { enum: ['next', 'date', 'run', 'now'], description: 'where the logical date came from (now: an unscheduled DAG)' },
      run_id: { ...str, description: 'the run (--run), or the id a run for that date would get' },
      logical_date: time,
      data_interval_start: time,
      data_interval_end: time,
      conf: { type: 'object' },
      mapped: bool,
      map_note: { ...nullable(str), description: 'a mapped task whose map indexes cannot be known yet: why' },
      fields: arrayOf(
        obj({
          field: { ...str, description: '`command` (bash), `target` (a file or S3 key sensor), `inputs.NAME`, or `expand.NAME` (a mapped task\'s element)' },
          map_index: { ...int, description: '-1, or the map index the value is for' },
          template: { description: 'the value as written in the DAG file' },
          rendered: { description: 'the rendered value: text, or the JSON value of an object or list input' },
        }),
      ),
      xcom_inputs: arrayOf(obj({ name: str, task_id: str, key: str })),
    }),
  },
  logs: {
    description: '`hangar logs RUN TASK`: the log of one try.',
    schema: obj({
      dag_id: str,
      run_id: str,
      task_id: str,
      map_index: int,
      try_number: int,
      path: str,
      text: str,
    }),
  },
  'xcom-list': {
    description: '`hangar xcom list`: stored XComs (not their values).',
    schema: arrayOf(
      obj({
        dag_id: str,
        run_id: str,
        task_id: str,
        map_index: int,
        key: str,
        chain: ref('codec_chain'),
        size_original: bytes,
        size_stored: bytes,
        sensitive: bool,
        created_at: time,
      }),
    ),
  },
  'xcom-get': {
    description:
      '`hangar xcom get`: a decoded value (types JSON cannot carry are shown as {"$bytes"…}, {"$map"…}, …).',
    schema: obj({ xcom: ref('xcom_location'), chain: ref('codec_chain'), sensitive: bool, value: {} }),
  },
  'xcom-get-raw': {
    description: '`hangar xcom get --raw`: the stored envelope and an integrity check, nothing decrypted.',
    schema: obj(
      {
        xcom: ref('xcom_location'),
        chain: ref('codec_chain'),
        sensitive: bool,
        size_original: bytes,
        size_stored: bytes,
        created_at: time,
        envelope_bytes: bytes,
        header: { description: 'the envelope header as stored, or null for a legacy row' },
        payload_bytes: bytes,
        payload_base64: { type: 'string', description: 'absent when the payload is over 1 MiB' },
        integrity: obj({ status: str, detail: str }, ['detail']),
      },
      ['payload_base64'],
    ),
  },
  'xcom-lineage': {
    description: '`hangar xcom lineage`: who pushed each XCom and which tasks pulled it.',
    schema: arrayOf(
      obj({
        xcom: ref('xcom_location'),
        pushed_by: obj({ task_id: str, map_index: int, at: time }),
        pulled_by: arrayOf(obj({ task_id: str, map_index: int, at: time })),
        chain: ref('codec_chain'),
        size_original: bytes,
        size_stored: bytes,
      }),
    ),
  },
  'xcom-clear': {
    description: '`hangar xcom clear`: what was removed.',
    schema: obj({ rows: int, objects: int, bytes_freed: bytes, errors: arrayOf(str) }),
  },
  'xcom-sweep': {
    description: '`hangar xcom sweep`: files/objects no XCom refers to, and what was removed.',
    schema: obj({
      dry_run: bool,
      scanned: int,
      referenced: int,
      orphans: arrayOf(obj({ store: str, path: str, size: bytes })),
      orphan_bytes: bytes,
      removed: int,
      bytes_freed: bytes,
    }),
  },
  'xcom-rotate-key': {
    description: '`hangar xcom rotate-key`: the outcome of a (possibly partial) key rotation.',
    schema: obj({
      target_key_id: str,
      total: int,
      examined: int,
      rotated: int,
      already_current: int,
      complete: bool,
      interrupted: bool,
      failed: arrayOf(obj({ xcom: ref('xcom_location'), code: str, message: str })),
    }),
  },
  'xcom-gen-key': {
    description: '`hangar xcom gen-key`: a new random key (base64), the one output that holds key material.',
    schema: obj({ key: str }),
  },
  'sensors-stats': {
    description: '`hangar sensors stats`: per sensor, from the recorded pokes (waits in seconds).',
    schema: arrayOf(
      obj({
        dag_id: str,
        task_id: str,
        instances: int,
        waiting: int,
        successes: int,
        timeouts: int,
        failures: int,
        skipped: int,
        success_rate: nullable(num),
        timeout_rate: nullable(num),
        avg_wait: nullable(seconds),
        p95_wait: nullable(seconds),
        pokes: int,
        poke_errors: int,
        pokes_per_success: nullable(num),
        avg_poke: nullable(seconds),
        breaker: str,
        sla_misses: int,
      }),
    ),
  },
  info: {
    description:
      '`hangar info`: versions, paths, executor, connections (id and type, never secrets) and XCom key ids (never key material).',
    schema: obj({
      versions: obj({ hangar: str, node: str, typescript: nullable(str), esbuild: str, sqlite: nullable(str), postgres: nullable(str) }),
      paths: obj({
        workspace: str,
        config_file: nullable(str),
        dags_folder: str,
        store: str,
        xcom_root: str,
        logs: str,
      }),
      executor: { enum: ['isolated', 'in-process'] },
      parallelism: int,
      xcom: obj({ backend: str, keys: arrayOf(obj({ key_id: str, primary: bool, encryptions: { type: 'integer', minimum: 0, description: 'values encrypted under the key, counted in the store (warned from 2^30; random nonces are safe to 2^32)' } })) }),
      connections: arrayOf(obj({ conn_id: str, conn_type: str, source: str })),
    }),
  },
  'config-list': {
    description: '`hangar config list`: every effective setting with its source (secrets masked as ***).',
    schema: arrayOf(ref('setting')),
  },
  'config-get': {
    description: '`hangar config get KEY`: one setting with its source.',
    schema: ref('setting'),
  },
  'bench-xcom': {
    description:
      '`hangar bench xcom`: the benchmark result file format, shared with the XCom Benchmarks panel and the files saved in .hangar/bench/ (camelCase, times in ms: the one output that keeps its own format).',
    schema: {
      type: 'object',
      properties: { meta: { type: 'object' }, rows: { type: 'array' }, targets: { type: 'array' } },
      required: ['meta', 'rows', 'targets'],
    },
  },
} satisfies Record<string, OutputSpec>;

export type OutputName = keyof typeof OUTPUTS;

/** The JSON Schema document of one output, as published under docs/cli-schema/. */
export function schemaDocument(name: OutputName): Record<string, unknown> {
  const spec: OutputSpec = OUTPUTS[name];
  const text = JSON.stringify(spec.schema);
  // Only the definitions the output uses (and the ones they use).
  const used = new Set<string>();
  const visit = (s: string) => {
    for (const m of s.matchAll(/#\/\$defs\/([a-z_]+)/g)) {
      if (used.has(m[1]!)) continue;
      used.add(m[1]!);
      visit(JSON.stringify(DEFS[m[1] as keyof typeof DEFS]));
    }
  };
  visit(text);
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `https://hangar.dev/cli-schema/v${SCHEMA_VERSION}/${name}.json`,
    title: `hangar ${name.replace(/-/g, ' ')} --json`,
    description: spec.description,
    schemaVersion: SCHEMA_VERSION,
    ...spec.schema,
    ...(used.size
      ? { $defs: Object.fromEntries([...used].sort().map((k) => [k, DEFS[k as keyof typeof DEFS]])) }
      : {}),
  };
}
