/**
 * The `hangar` command line: a thin layer over the Runtime, the same code the
 * VS Code extension drives. Output formats, the shared objects and the exit
 * codes are in output.ts; the JSON shapes in schemas.ts (README "Scripting Hangar").
 */
import { readTryLog } from '../distributed/remote.ts';
import { parseArgs } from 'node:util';
import { relative, resolve } from 'node:path';
import type { DagLoadError } from '../loader/index.ts';
import type { Runtime } from '../runtime.ts';
import { tryLogPath } from '../executor/logger.ts';
import { isStoreUnwritable } from '../store/unwritable.ts';
import { colorState, disableColor, formatDuration } from './format.ts';
import { initWorkspace } from './init.ts';
import {
  CliError,
  fail,
  intOption,
  need,
  NotFoundError,
  parseDate,
  printTable,
  UsageError,
  withRuntime,
} from './common.ts';
import type { Ctx } from './common.ts';
import {
  EXIT_CODES,
  emit,
  errorDocument,
  isStructured,
  kindName,
  parseFormat,
  runJson,
  serialize,
  taskInstanceJson,
} from './output.ts';
import type { ErrorCode, Format } from './output.ts';
import { runFilters, RUNS_HELP } from './filters.ts';
import { CONFIG_HELP, INFO_HELP, configCommand, infoCommand } from './inspect.ts';
import { COMPLETION_HELP, complete, completionCommand } from './completion.ts';
import { XCOM_HELP, XCOM_OPTIONS, benchCommand, xcomCommand } from './xcom.ts';
import { SENSORS_HELP, sensorsCommand } from './sensors.ts';
import { DB_HELP, DB_OPTIONS, dbCommand } from './db.ts';
import { VARIABLES_HELP, VARIABLES_OPTIONS, variablesCommand } from './variables.ts';
import { ASSETS_HELP, ASSETS_OPTIONS, assetsCommand } from './assets.ts';
import { RENDER_HELP, renderCommand } from './render.ts';
import { NEW_HELP, NEW_OPTIONS, newCommand } from './new.ts';
import type { TaskEvent } from '../events.ts';
import { formatInZone } from '../dag/schedule.ts';
import { WorkerService } from '../distributed/worker-service.ts';
import { hangarVersion } from '../distributed/protocol.ts';
import { followTaskLog } from './follow.ts';
import { nextRunOf, SchedulerService } from '../scheduler/service.ts';

const HELP = `hangar — run Airflow-style DAGs written in TypeScript, locally

Usage: hangar <command> [options]

Commands:
  init [DIR]                       Scaffold a workspace (dags/, hangar.json, tsconfig.json, an example DAG)
${NEW_HELP}
  list [--timings] [--reparse]     DAGs, their tasks, schedules and next runs, and DAG files that failed to load
                                   (--timings: how long each file took to parse; --reparse: parse all again)
  scheduler                        Run the scheduler: create runs on their schedules and run them (Ctrl+C stops)
  worker [--queues Q1,Q2] [--concurrency N]
                                   Run tries of the distributed executor from its Redis queues (Ctrl+C stops)
  workers [--all]                  The distributed executor's workers: host, queues, heartbeat, tries running
                                   (--all: stopped ones too)
  dags pause|unpause DAG           Stop or resume creating scheduled runs of a DAG (kept in the store)
  dags errors                      DAG files that failed to load, with the reason and line
  dags reparse                     Parse every DAG file again (also those a time or memory budget stopped)
  run DAG [--date D] [--conf JSON] Trigger a run and follow it to the end
  run DAG --resume RUN_ID          Finish a run that was interrupted (or created by trigger)
  trigger DAG [--date D] [--conf JSON]  Create a queued run without running it
  test DAG TASK [--date D]         Run one task alone, without its upstream tasks
${RENDER_HELP}
  backfill DAG --from D1 --to D2   One run per schedule interval between two dates
  clear RUN [TASK…] [--downstream] [--upstream] [--failed] [--no-run]
                                   Clear tasks of a run (their XComs too) and run it again
  mark RUN TASK success|failed     Mark a task by hand (then: hangar run DAG --resume RUN)
${RUNS_HELP}
  tasks RUN [--dag DAG] [--state S]  Task instances of a run
  logs RUN TASK [--try N] [--map-index N] [-f]
                                   The log of a task try; -f, --follow: print it as it grows, try after
                                   try, until the task has ended (logs kept in S3: every second)
${XCOM_HELP}
${SENSORS_HELP}
${DB_HELP}
${VARIABLES_HELP}
${ASSETS_HELP}
${INFO_HELP}
${CONFIG_HELP}
${COMPLETION_HELP}

Options:
  --workspace DIR        The workspace folder (default: the current directory)
  -o, --output FORMAT    table (default), json, yaml or plain (no colours or rules, for scripts)
  --json                 The same as -o json
  -h, --help             This help (hangar VERB --help, hangar help VERB: that verb's)
  -V, --version          Print Hangar's version (the bare version, e.g. 0.1.0) and exit

In JSON/YAML mode a command prints only data (schemas: docs/cli-schema/), and a
command that exits non-zero prints {"error": {"code", "message", "exit_code", …ids}}
on stderr. Exit codes: 0 ok, 1 the work failed, 2 usage, 3 not found or DAG files
failed to load, 130 interrupted.
`;

const OPTIONS = {
  workspace: { type: 'string' },
  json: { type: 'boolean' },
  output: { type: 'string', short: 'o' },
  state: { type: 'string' },
  since: { type: 'string' },
  limit: { type: 'string' },
  'run-type': { type: 'string' },
  date: { type: 'string' },
  conf: { type: 'string' },
  resume: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  dag: { type: 'string' },
  run: { type: 'string' },
  task: { type: 'string' },
  key: { type: 'string' },
  prefix: { type: 'string' },
  'map-index': { type: 'string' },
  try: { type: 'string' },
  executor: { type: 'string' },
  downstream: { type: 'boolean' },
  upstream: { type: 'boolean' },
  failed: { type: 'boolean' },
  'no-run': { type: 'boolean' },
  timings: { type: 'boolean' },
  queues: { type: 'string' },
  all: { type: 'boolean' },
  concurrency: { type: 'string' },
  reparse: { type: 'boolean' },
  follow: { type: 'boolean', short: 'f' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'V' },
  ...XCOM_OPTIONS,
  ...VARIABLES_OPTIONS,
  ...ASSETS_OPTIONS,
  ...DB_OPTIONS,
  ...NEW_OPTIONS,
} as const;

export async function main(
  argv: string[],
  out: (s: string) => void = (s) => process.stdout.write(s + '\n'),
): Promise<number> {
  // Until the options are parsed, --json/-o json still decide how an error is printed.
  let format: Format =
    argv.includes('--json') || /(^|\s)(-o|--output)(\s|=)json(\s|$)/.test(argv.join(' ')) ? 'json' : 'table';
  if (argv[0] === '__complete') {
    // The completion scripts' callback: `hangar __complete -- WORD…`; candidates one per line, never an error.
    const words = argv.slice(argv[1] === '--' ? 2 : 1);
    const candidates = await complete(words.length ? words : [''], {
      verbs: Object.keys(COMMANDS),
      options: OPTIONS,
    }).catch(() => []);
    if (candidates.length) out(candidates.join('\n'));
    return 0;
  }
  const ids: Ctx['ids'] = {};
  let ctx: Ctx | undefined;
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    format = parseFormat(parsed.values);
    if (format === 'plain') disableColor();
    const [command, ...args] = parsed.positionals;
    if (parsed.values.version) {
      out(hangarVersion());
      return 0;
    }
    if (parsed.values.help || command === 'help') {
      // `hangar VERB --help` and `hangar help VERB`: that verb's usage; the whole help otherwise.
      const verb = command === 'help' ? args[0] : command;
      if (verb !== undefined && !Object.hasOwn(COMMANDS, verb)) throw new UsageError(`unknown command "${verb}"`);
      out(verb === undefined ? HELP : verbHelp(HELP, verb));
      return 0;
    }
    if (!command) {
      if (isStructured(format)) throw new UsageError('missing a command');
      process.stderr.write(HELP);
      return 2;
    }
    ctx = {
      args,
      values: parsed.values,
      format,
      structured: isStructured(format),
      workspace: parsed.values.workspace ?? process.cwd(),
      out,
      ids,
    };
    const handler = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
    if (!handler) throw new UsageError(`unknown command "${command}"`);
    const code = await handler(ctx);
    if (code !== 0 && ctx.failure && isStructured(format)) {
      process.stderr.write(
        serialize(format, errorDocument(ctx.failure.code, ctx.failure.message, ctx.failure.ids)) + '\n',
      );
    }
    return code;
  } catch (err) {
    const e = classify(err, ids);
    if (isStructured(format))
      process.stderr.write(serialize(format, errorDocument(e.code, e.message, e.ids)) + '\n');
    else if (e.code === 'usage')
      process.stderr.write(`hangar: ${e.message}\nRun "hangar --help" for usage.\n`);
    else process.stderr.write(`hangar: ${e.message}\n`);
    return EXIT_CODES[e.code];
  }
}

/**
 * One verb's part of the help: its lines under "Commands:" (a line starting with the verb, and
 * the lines indented under it), then the options every verb takes.
 */
export function verbHelp(help: string, verb: string): string {
  const lines = help.split('\n');
  const commands = lines.slice(lines.indexOf('Commands:') + 1, lines.indexOf('Options:'));
  const mine: string[] = [];
  let inBlock = false;
  for (const line of commands) {
    const head = /^ {2}(\S+)/.exec(line);
    if (head) inBlock = head[1] === verb;
    else if (!/^ {3,}\S/.test(line)) inBlock = false;
    // Each line as the user types it: "hangar " before the verb, the descriptions moved along.
    if (inBlock) mine.push(head ? `  hangar ${line.slice(2)}` : `       ${line}`);
  }
  const options = lines.slice(lines.indexOf('Options:')).join('\n').trimEnd();
  return `Usage:\n${mine.join('\n')}\n\n${options}`;
}

/** Any error as a CliError: the runtime's own errors are recognised by their message. */
function classify(err: unknown, ids: Ctx['ids']): CliError {
  if (err instanceof CliError) return new CliError(err.code, err.message, { ...ids, ...err.ids });
  const message = (err as Error)?.message ?? String(err);
  const code: ErrorCode =
    /^No DAG|has no run|has no task|failed to load|does not exist|is not in the store/.test(message)
      ? 'not_found'
      : /^Interrupted \(Ctrl\+C\)/.test(message)
        ? 'interrupted'
        : 'error';
  return new CliError(code, message, ids);
}

function reportLoadErrors(rt: Runtime): void {
  for (const e of rt.dagBag?.errors ?? []) process.stderr.write(`hangar: failed to load ${e.message}\n`);
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(1)} ms`;
}

function importErrorJson(e: DagLoadError) {
  return { fileloc: e.file, line: e.line, col: e.column, message: e.message };
}

/** Exit 3 (load_error) when DAG files failed to load, naming them. */
function loadErrorsExit(ctx: Ctx, errors: readonly DagLoadError[]): number {
  if (errors.length === 0) return 0;
  return fail(ctx, 'load_error', `${errors.length} DAG file(s) failed to load`, { files: [...new Set(errors.map((e) => e.file))] });
}

export const COMMANDS: Record<string, (ctx: Ctx) => Promise<number>> = {
  xcom: xcomCommand,
  sensors: sensorsCommand,
  variables: variablesCommand,
  assets: assetsCommand,
  db: dbCommand,
  bench: benchCommand,
  info: infoCommand,
  config: configCommand,
  completion: completionCommand,
  render: renderCommand,
  new: newCommand,
  async init(ctx) {
    const dir = ctx.args[0] ?? ctx.workspace;
    const created = initWorkspace(dir);
    emit(ctx, 'init', { workspace: resolve(dir), created }, () => {
      ctx.out(`Initialised a Hangar workspace in ${dir}`);
      for (const f of created) ctx.out(`  created ${f}`);
      ctx.out(`\nNext: hangar run example_etl --workspace ${dir}`);
    });
    return 0;
  },

  async list(ctx) {
    return withRuntime(ctx, async (rt) => {
      const bag = await rt.loadDags({ force: !!ctx.values.reparse });
      const paused = await rt.store.dags.paused();
      const now = rt.clock.now();
      const next = new Map(await Promise.all([...bag.dags.values()].map(async (d) => [d.id, await nextRunOf(d, rt.store, now)] as const)));
      const dags = [...bag.dags.values()].map((d) => ({
        dag_id: d.id,
        fileloc: d.fileloc,
        schedule: d.scheduleText,
        schedule_spec: d.scheduleSpec,
        timezone: d.timezone,
        catchup: d.catchup,
        is_paused: paused.get(d.id) ?? false,
        ...nextRunFields(next.get(d.id)),
        description: d.description ?? null,
        tags: [...d.tags],
        tasks: d.topologicalOrder().map((id) => {
          const t = d.tasks.get(id)!;
          return {
            task_id: id,
            kind: kindName(t.kind)!,
            upstream_task_ids: [...t.upstream],
            trigger_rule: t.triggerRule,
            mapped: !!t.expand,
            line: t.position?.line ?? null,
            outlets: [...t.outlets],
            task_group: t.group.at(-1) ?? null,
          };
        }),
      }));
      const importErrors = bag.errors.map(importErrorJson);
      const timings = bag.timings.map((t) => ({
        fileloc: t.file,
        compile_seconds: t.compileMs === null ? null : round3(t.compileMs / 1000),
        import_seconds: t.importMs === null ? null : round3(t.importMs / 1000),
        total_seconds: round3(t.totalMs / 1000),
        parsed_now: t.parsed,
        parsed_at: t.parsedAt,
      }));
      const parseWarnings = bag.warnings.map(importErrorJson);
      emit(ctx, 'list', { dags, import_errors: importErrors, ...(parseWarnings.length ? { parse_warnings: parseWarnings } : {}), ...(ctx.values.timings ? { timings } : {}) }, () => {
        if (dags.length === 0) ctx.out(`No DAGs in ${rt.config.dagsFolder}`);
        for (const d of dags) {
          const zone = d.timezone === 'UTC' ? '' : `, ${d.timezone}`;
          ctx.out(
            `${d.dag_id}  (${d.schedule_spec.kind === 'assets' ? `on assets ${d.schedule}` : `${d.schedule ?? 'manual'}${zone}`})${d.is_paused ? '  [paused]' : ''}${d.description ? ` — ${d.description}` : ''}`,
          );
          if (d.next_dagrun) {
            const at = (iso: string) =>
              d.timezone === 'UTC' ? iso : `${formatInZone(new Date(iso), d.timezone)} (${iso})`;
            ctx.out(
              `  next run: ${at(d.next_dagrun)}, data interval ${d.next_dagrun_data_interval_start} → ${d.next_dagrun_data_interval_end}, created after ${at(d.next_dagrun_create_after!)}`,
            );
          }
          for (const t of d.tasks)
            ctx.out(
              `  ${t.task_id}${t.mapped ? '[]' : ''}${t.upstream_task_ids.length ? `  ← ${t.upstream_task_ids.join(', ')}` : ''}${t.outlets.length ? `  → ${t.outlets.join(', ')}` : ''}`,
            );
        }
        for (const e of bag.errors) ctx.out(`\nLoad error: ${e.message}`);
        for (const w of bag.warnings) ctx.out(`\nParse warning: ${w.message}`);
        if (ctx.values.timings) {
          const slow = new Set(bag.warnings.map((w) => w.file));
          ctx.out('');
          printTable(
            ctx,
            ['file', 'compile', 'import', 'total', 'result'],
            bag.timings.map((t) => [
              relative(rt.config.dagsFolder, t.file),
              t.compileMs === null ? 'cached' : formatMs(t.compileMs),
              t.importMs === null ? '—' : formatMs(t.importMs),
              formatMs(t.totalMs),
              `${t.parsed ? 'parsed now' : `unchanged since ${t.parsedAt}`}${slow.has(t.file) ? ' (over parseBudgetMs)' : ''}`,
            ]),
          );
          ctx.out(`${bag.stats.parsed} parsed, ${bag.stats.reused} unchanged, ${formatMs(bag.stats.ms)} in all`);
        }
      });
      return loadErrorsExit(ctx, bag.errors);
    }, false);
  },

  async scheduler(ctx) {
    return withRuntime(
      ctx,
      async (rt) => {
        const stamp = () => new Date().toISOString().slice(0, 19) + 'Z';
        const log = (line: string) => ctx.out(`${stamp()} ${line}`);
        const svc = new SchedulerService(rt, { log });
        rt.events.on('warning', (w) => log(w.message));
        let stopping: Promise<void> | undefined;
        const done = new Promise<void>((resolve) => {
          const onSignal = (sig: string) => {
            if (stopping) return;
            log(`${sig}: stopping (no new runs or tries)`);
            stopping = svc.stop().then(resolve);
          };
          process.on('SIGINT', () => onSignal('SIGINT'));
          process.on('SIGTERM', () => onSignal('SIGTERM'));
        });
        log(`scheduler started on ${rt.config.root} (pid ${process.pid}), DAGs in ${rt.config.dagsFolder}`);
        await svc.start();
        await done;
        return 0;
      },
      false,
    );
  },

  async worker(ctx) {
    const queues = (ctx.values.queues as string | undefined)?.split(',').map((q) => q.trim()).filter(Boolean) ?? ['default'];
    for (const q of queues) if (!/^[A-Za-z0-9_.-]{1,64}$/.test(q)) throw new UsageError(`--queues: "${q}" is not a queue name (letters, digits, _ . -)`);
    const concurrency = intOption(ctx, 'concurrency') ?? 4;
    if (concurrency < 1) throw new UsageError('--concurrency must be a whole number ≥ 1');
    return withRuntime(
      ctx,
      async (rt) => {
        const stamp = () => new Date().toISOString().slice(0, 19) + 'Z';
        const log = (line: string) => ctx.out(`${stamp()} ${line}`);
        const worker = new WorkerService({ config: rt.config, store: rt.store, queues, concurrency, log });
        let stopping: Promise<void> | undefined;
        const done = new Promise<void>((resolve) => {
          const onSignal = (sig: string) => {
            if (stopping) return;
            log(`${sig}: stopping (no new tries; running ones have ${rt.config.scheduler.gracePeriodSeconds} s to finish)`);
            stopping = worker.stop(rt.config.scheduler.gracePeriodSeconds * 1000).then(resolve);
          };
          process.on('SIGINT', () => onSignal('SIGINT'));
          process.on('SIGTERM', () => onSignal('SIGTERM'));
        });
        await worker.start();
        const d = rt.config.distributed!;
        log(`worker ${worker.id} started (pid ${process.pid}): queues ${queues.join(', ')} on ${d.redisRedacted}, ${concurrency} at once, store ${rt.store.location}, logs in ${d.logs.url}`);
        await done;
        log(`worker ${worker.id} stopped`);
        return 0;
      },
      false,
    );
  },

  async workers(ctx) {
    return withRuntime(
      ctx,
      async (rt) => {
        const timeoutMs = rt.config.scheduler.heartbeatTimeoutSeconds * 1000;
        const [all, open] = await Promise.all([rt.store.dispatch.workers(), rt.store.dispatch.openCounts()]);
        const now = Date.now();
        const workers = all
          .map((w) => ({
            worker_id: w.worker_id,
            hostname: w.hostname,
            pid: w.pid,
            queues: w.queues.split(',').filter(Boolean),
            concurrency: w.concurrency,
            version: w.version,
            state: w.state !== 'stopped' && now - Date.parse(w.heartbeat_at) > timeoutMs ? ('gone' as const) : w.state,
            started_at: w.started_at,
            heartbeat_at: w.heartbeat_at,
            stopped_at: w.stopped_at,
            running_tries: open.get(w.worker_id) ?? 0,
          }))
          .filter((w) => ctx.values.all || w.state !== 'stopped');
        emit(ctx, 'workers', { workers }, () => {
          if (workers.length === 0) {
            ctx.out(all.length ? 'No worker running (--all lists the stopped ones)' : 'No worker has run on this store (hangar worker starts one)');
            return;
          }
          printTable(
            ctx,
            ['worker', 'host', 'pid', 'queues', 'state', 'heartbeat', 'tries', 'version'],
            workers.map((w) => [
              w.worker_id,
              w.hostname,
              w.pid,
              w.queues.join(','),
              w.state,
              `${formatDuration((now - Date.parse(w.heartbeat_at)) / 1000)} ago`,
              `${w.running_tries}/${w.concurrency}`,
              w.version,
            ]),
          );
        });
        return 0;
      },
      false,
    );
  },

  async dags(ctx) {
    const verb = need(ctx, 0, 'what to do: hangar dags pause|unpause DAG, dags errors, dags reparse');
    if (verb === 'errors' || verb === 'reparse') {
      return withRuntime(
        ctx,
        async (rt) => {
          const bag = await rt.loadDags({ force: verb === 'reparse' });
          const importErrors = bag.errors.map(importErrorJson);
          if (verb === 'errors') {
            emit(ctx, 'dags-errors', { import_errors: importErrors }, () => {
              if (bag.errors.length === 0) ctx.out(`No import errors in ${rt.config.dagsFolder}`);
              for (const e of bag.errors) ctx.out(e.message);
            });
          } else {
            const doc = { files: bag.files.length, parsed: bag.stats.parsed, dags: bag.dags.size, seconds: round3(bag.stats.ms / 1000), import_errors: importErrors };
            emit(ctx, 'dags-reparse', doc, () => {
              ctx.out(`Parsed ${doc.parsed} DAG file${doc.parsed === 1 ? '' : 's'} in ${formatMs(bag.stats.ms)}: ${doc.dags} DAG${doc.dags === 1 ? '' : 's'}, ${bag.errors.length} import error${bag.errors.length === 1 ? '' : 's'}`);
              for (const e of bag.errors) ctx.out(`\n${e.message}`);
            });
          }
          return loadErrorsExit(ctx, bag.errors);
        },
        false,
      );
    }
    if (verb !== 'pause' && verb !== 'unpause')
      throw new UsageError(`unknown "dags" command "${verb}" (known: pause, unpause, errors, reparse)`);
    const dagId = need(ctx, 1, `the DAG id: hangar dags ${verb} DAG`);
    return withRuntime(ctx, async (rt) => {
      if (!(await rt.store.dags.setPaused(dagId, verb === 'pause'))) {
        rt.getDag(dagId); // names the DAGs there are, or the DAG's load error
        throw new NotFoundError(`DAG "${dagId}" is not in the store`);
      }
      emit(ctx, 'dags-pause', { dag_id: dagId, is_paused: verb === 'pause' }, () =>
        ctx.out(
          `DAG ${dagId} ${verb === 'pause' ? 'paused: the scheduler creates no new runs of it' : 'unpaused'}`,
        ),
      );
      return 0;
    });
  },

  async run(ctx) {
    const dagId = need(ctx, 0, 'the DAG id: hangar run DAG');
    ctx.ids.dag_id = dagId;
    const conf = parseConf(ctx);
    const logicalDate = parseDate(ctx.values.date as string | undefined, '--date');
    return withRuntime(ctx, async (rt) => {
      reportLoadErrors(rt);
      const dag = rt.getDag(dagId);
      const controller = new AbortController();
      const onSigint = () => controller.abort(new Error('Interrupted (Ctrl+C)'));
      process.once('SIGINT', onSigint);
      const progress = ctx.structured ? undefined : followProgress(rt, ctx.out);
      try {
        let runId: string;
        if (typeof ctx.values.resume === 'string') {
          runId = ctx.values.resume;
          ctx.ids.run_id = runId;
          if (!(await rt.store.runs.get(dagId, runId))) throw new NotFoundError(`DAG "${dagId}" has no run "${runId}"`);
          if (!ctx.structured) ctx.out(`Resuming ${dagId} run ${runId}`);
        } else {
          runId = (await rt.triggerRun(dagId, { logicalDate, conf })).run_id;
          ctx.ids.run_id = runId;
          if (!ctx.structured) ctx.out(`Running ${dagId} (${dag.tasks.size} tasks), run ${runId}`);
        }
        try {
          await rt.executeRun(dagId, runId, controller.signal);
        } catch (err) {
          // The store's disk is full or read-only: one line saying where, why and how to go on.
          if (isStoreUnwritable(err)) {
            throw new CliError(
              'error',
              `${(err as Error).message}. Run "${runId}" of DAG "${dagId}" stopped: it starts no new tries and reports no state it could not write. Once the store can be written again: hangar run ${dagId} --resume '${runId}'`,
              ctx.ids,
            );
          }
          throw err;
        }
        const code = await summarize(rt, dagId, runId, ctx);
        if (!controller.signal.aborted) return code;
        return fail(
          ctx,
          'interrupted',
          `Run "${runId}" of DAG "${dagId}" stopped by Ctrl+C; finish it with: hangar run ${dagId} --resume '${runId}'`,
        );
      } finally {
        process.off('SIGINT', onSigint);
        progress?.();
      }
    });
  },

  async trigger(ctx) {
    const dagId = need(ctx, 0, 'the DAG id: hangar trigger DAG');
    ctx.ids.dag_id = dagId;
    const conf = parseConf(ctx);
    const logicalDate = parseDate(ctx.values.date as string | undefined, '--date');
    return withRuntime(ctx, async (rt) => {
      const run = await rt.triggerRun(dagId, { logicalDate, conf });
      emit(ctx, 'trigger', runJson(run), () =>
        ctx.out(
          `Created run ${run.run_id} of ${dagId} (queued); run it with: hangar run ${dagId} --resume '${run.run_id}'`,
        ),
      );
      return 0;
    });
  },

  async test(ctx) {
    const dagId = need(ctx, 0, 'the DAG id: hangar test DAG TASK');
    const taskId = need(ctx, 1, 'the task id: hangar test DAG TASK');
    Object.assign(ctx.ids, { dag_id: dagId, task_id: taskId });
    const logicalDate = parseDate(ctx.values.date as string | undefined, '--date');
    return withRuntime(ctx, async (rt) => {
      const stop = ctx.structured ? undefined : followProgress(rt, ctx.out, true);
      try {
        const run = await rt.testTask(dagId, taskId, logicalDate);
        ctx.ids.run_id = run.run_id;
        return await summarize(rt, dagId, run.run_id, ctx);
      } finally {
        stop?.();
      }
    });
  },

  async backfill(ctx) {
    const dagId = need(ctx, 0, 'the DAG id: hangar backfill DAG --from D1 --to D2');
    ctx.ids.dag_id = dagId;
    const from = parseDate(ctx.values.from as string | undefined, '--from');
    const to = parseDate(ctx.values.to as string | undefined, '--to');
    if (!from || !to) throw new UsageError('backfill needs --from and --to');
    if (from > to) throw new UsageError('--from is after --to');
    return withRuntime(ctx, async (rt) => {
      const stop = ctx.structured ? undefined : followProgress(rt, ctx.out);
      try {
        const runs = await rt.backfill(dagId, from, to);
        emit(ctx, 'backfill', runs.map(runJson), () => {
          ctx.out('');
          printTable(
            ctx,
            ['run', 'data interval', 'state'],
            runs.map((r) => [
              r.run_id,
              `${r.data_interval_start} → ${r.data_interval_end}`,
              colorState(r.state),
            ]),
          );
        });
        const failed = runs.filter((r) => r.state !== 'success');
        return failed.length === 0
          ? 0
          : fail(
              ctx,
              'run_failed',
              `${failed.length} of ${runs.length} backfill run(s) of ${dagId} did not succeed: ${failed.map((r) => r.run_id).join(', ')}`,
            );
      } finally {
        stop?.();
      }
    });
  },

  async clear(ctx) {
    const runId = need(ctx, 0, 'the run id: hangar clear RUN [TASK…]');
    ctx.ids.run_id = runId;
    const taskIds = ctx.args.slice(1);
    return withRuntime(ctx, async (rt) => {
      const run = await findRun(rt, ctx, runId);
      if (taskIds.length === 0 && !ctx.values.failed)
        throw new UsageError('name the tasks to clear, or use --failed');
      const cleared = await rt.clear(run.dag_id, run.run_id, {
        taskIds: taskIds.length ? taskIds : undefined,
        downstream: !!ctx.values.downstream,
        upstream: !!ctx.values.upstream,
        onlyFailed: !!ctx.values.failed,
      });
      if (!ctx.structured)
        ctx.out(
          `Cleared ${cleared.length} task instance(s) of ${run.run_id}: ${[...new Set(cleared.map((t) => t.task_id))].join(', ') || 'none'}`,
        );
      let code = 0;
      if (!ctx.values['no-run'] && cleared.length > 0) {
        const progress = ctx.structured ? undefined : followProgress(rt, ctx.out);
        try {
          await rt.executeRun(run.dag_id, run.run_id);
          code = await summarize(rt, run.dag_id, run.run_id, ctx, false);
        } finally {
          progress?.();
        }
      }
      if (ctx.structured) {
        ctx.out(
          serialize(ctx.format, {
            cleared: cleared.map(taskInstanceJson),
            run: runJson((await rt.store.runs.get(run.dag_id, run.run_id))!),
            task_instances: (await rt.store.tasks.list(run.dag_id, run.run_id)).map(taskInstanceJson),
          }),
        );
      }
      return code;
    });
  },

  async mark(ctx) {
    const runId = need(ctx, 0, 'the run id: hangar mark RUN TASK success|failed');
    const taskId = need(ctx, 1, 'the task id: hangar mark RUN TASK success|failed');
    Object.assign(ctx.ids, { run_id: runId, task_id: taskId });
    const state = need(ctx, 2, 'the state: success or failed');
    if (state !== 'success' && state !== 'failed')
      throw new UsageError(`a task can be marked success or failed, not "${state}"`);
    return withRuntime(
      ctx,
      async (rt) => {
        const run = await findRun(rt, ctx, runId);
        const tis = await rt.mark(run.dag_id, run.run_id, taskId, state, intOption(ctx, 'map-index'));
        emit(ctx, 'mark', tis.map(taskInstanceJson), () =>
          ctx.out(
            `Marked ${taskId} ${state} in ${run.run_id}; continue the run with: hangar run ${run.dag_id} --resume '${run.run_id}'`,
          ),
        );
        return 0;
      },
      false,
    );
  },

  async runs(ctx) {
    const filters = runFilters(ctx);
    return withRuntime(
      ctx,
      async (rt) => {
        const runs = await filters.apply(rt.store);
        emit(ctx, 'runs', runs.map(runJson), () => {
          if (runs.length === 0) ctx.out('No runs yet');
          else
            printTable(
              ctx,
              ['dag', 'run', 'state', 'logical date', 'started', 'ended'],
              runs.map((r) => [
                r.dag_id,
                r.run_id,
                colorState(r.state),
                r.logical_date,
                r.start_date,
                r.end_date,
              ]),
            );
        });
        return 0;
      },
      false,
    );
  },

  async tasks(ctx) {
    const runId = need(ctx, 0, 'the run id: hangar tasks RUN');
    ctx.ids.run_id = runId;
    const state = taskStateOption(ctx);
    return withRuntime(
      ctx,
      async (rt) => {
        const run = await findRun(rt, ctx, runId);
        const tis = (await rt.store.tasks.list(run.dag_id, run.run_id)).filter((t) => state === undefined || (t.state ?? 'none') === state);
        emit(ctx, 'tasks', tis.map(taskInstanceJson), () =>
          printTable(
            ctx,
            ['task', 'map', 'state', 'try', 'duration', 'error'],
            tis.map((t) => [
              t.task_id,
              t.map_index >= 0 ? t.map_index : '',
              colorState(t.state),
              t.try_number,
              formatDuration(t.duration),
              firstLine(t.error),
            ]),
          ),
        );
        return 0;
      },
      false,
    );
  },

  async logs(ctx) {
    if (ctx.values.follow && ctx.structured) throw new UsageError('--follow prints the log as it grows: it has no JSON or YAML form (leave out -o)');
    const runId = need(ctx, 0, 'the run id: hangar logs RUN TASK');
    const taskId = need(ctx, 1, 'the task id: hangar logs RUN TASK');
    Object.assign(ctx.ids, { run_id: runId, task_id: taskId });
    return withRuntime(
      ctx,
      async (rt) => {
        const run = await findRun(rt, ctx, runId);
        const mapIndex = intOption(ctx, 'map-index') ?? -1;
        if (mapIndex >= 0) ctx.ids.map_index = mapIndex;
        const ti = await rt.store.tasks.get(run.dag_id, run.run_id, taskId, mapIndex);
        if (!ti)
          throw new NotFoundError(
            `Run "${runId}" has no task "${taskId}"${mapIndex >= 0 ? `[${mapIndex}]` : ''}`,
          );
        if (ctx.values.follow) {
          const only = intOption(ctx, 'try');
          if (only !== undefined && (only < 1 || only > ti.max_tries)) {
            throw new NotFoundError(`Task "${taskId}" of run "${runId}" has at most ${ti.max_tries} tries; there is no try ${only}`);
          }
          await followTaskLog(
            rt,
            { dagId: run.dag_id, runId: run.run_id, taskId, mapIndex, tryNumber: only },
            { line: (l) => ctx.out(l), note: (n) => process.stderr.write(`${n}\n`) },
          );
          return 0;
        }
        const tryNumber = intOption(ctx, 'try') ?? ti.try_number;
        if (tryNumber < 1 || tryNumber > ti.try_number) {
          throw new NotFoundError(
            `Task "${taskId}" of run "${runId}" has ${ti.try_number} tries; there is no try ${tryNumber}`,
          );
        }
        const tries = await rt.store.tasks.listTries(run.dag_id, run.run_id, taskId, mapIndex);
        const path =
          tries.find((t) => t.try_number === tryNumber)?.log_path ??
          tryLogPath(rt.config.logsDir, run.dag_id, run.run_id, taskId, mapIndex, tryNumber);
        const tryRecord = tries.find((t) => t.try_number === tryNumber);
        let text: string;
        const stored = await readTryLog(rt.config, path);
        if (stored !== undefined) text = stored;
        else if (tryRecord && tryRecord.state !== 'running' && !tryRecord.error) {
          // A try that printed nothing has no log file; its outcome is in the store.
          text = `(try ${tryNumber} of ${taskId} wrote no log output: ${tryRecord.state}, started ${tryRecord.start_date}, ended ${tryRecord.end_date}, ${formatDuration(tryRecord.duration)})`;
        } else if (tryRecord?.state === 'running')
          text = `(try ${tryNumber} of ${taskId} is running and has written no log output yet)`;
        else throw new NotFoundError(`The log of try ${tryNumber} of "${taskId}" is missing (${path})`);
        emit(
          ctx,
          'logs',
          {
            dag_id: run.dag_id,
            run_id: run.run_id,
            task_id: taskId,
            map_index: mapIndex,
            try_number: tryNumber,
            path,
            text,
          },
          () => ctx.out(text.trimEnd()),
        );
        return 0;
      },
      false,
    );
  },
};

/** The run a RUN argument names (with --dag when run ids repeat across DAGs). */
async function findRun(rt: Runtime, ctx: Ctx, runId: string) {
  const dagId = ctx.values.dag as string | undefined;
  if (dagId) ctx.ids.dag_id = dagId;
  const run = await rt.store.runs.find(runId, dagId);
  if (!run) throw new NotFoundError(`No run "${runId}"${dagId ? ` of DAG "${dagId}"` : ''}`);
  ctx.ids.dag_id = run.dag_id;
  return run;
}

const TASK_STATES = [
  'none',
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

function taskStateOption(ctx: Ctx): string | undefined {
  const s = ctx.values.state;
  if (s === undefined) return undefined;
  if (typeof s !== 'string' || !TASK_STATES.includes(s))
    throw new UsageError(`--state must be one of ${TASK_STATES.join(', ')}, not "${String(s)}"`);
  return s;
}

function parseConf(ctx: Ctx): Record<string, unknown> | undefined {
  if (typeof ctx.values.conf !== 'string') return undefined;
  let conf: unknown;
  try {
    conf = JSON.parse(ctx.values.conf);
  } catch (err) {
    throw new UsageError(`--conf is not valid JSON: ${(err as Error).message}`);
  }
  if (!conf || typeof conf !== 'object' || Array.isArray(conf))
    throw new UsageError('--conf must be a JSON object');
  return conf as Record<string, unknown>;
}

function firstLine(s: string | null): string {
  if (!s) return '';
  const line = s.split('\n')[0]!;
  return line.length > 80 ? line.slice(0, 77) + '…' : line;
}

/** Airflow's DagModel next_dagrun fields. */
function nextRunFields(n: Awaited<ReturnType<typeof nextRunOf>>) {
  return {
    next_dagrun: n ? n.logicalDate.toISOString() : null,
    next_dagrun_data_interval_start: n ? n.dataInterval.start.toISOString() : null,
    next_dagrun_data_interval_end: n ? n.dataInterval.end.toISOString() : null,
    next_dagrun_create_after: n ? n.runAfter.toISOString() : null,
  };
}

/** Prints each task's state as it changes; returns a function that stops. */
function followProgress(rt: Runtime, out: (s: string) => void, showLogs = false): () => void {
  const width = Math.max(
    12,
    ...[...(rt.dagBag?.dags.values() ?? [])].flatMap((d) => [...d.tasks.keys()].map((k) => k.length + 4)),
  );
  const time = () => new Date().toISOString().slice(11, 23);
  const onTask = (e: TaskEvent) => {
    if (e.state === 'scheduled' || e.state === 'queued') return;
    const name = `${e.taskId}${e.mapIndex >= 0 ? `[${e.mapIndex}]` : ''}`;
    let extra = '';
    if (e.state === 'running') extra = `try ${e.tryNumber}`;
    else if (e.duration !== undefined) extra = formatDuration(e.duration);
    if (e.state === 'up_for_retry' && e.nextTryAt) extra += `, next try at ${e.nextTryAt}`;
    if ((e.state === 'failed' || e.state === 'up_for_retry') && e.error) extra += `: ${firstLine(e.error)}`;
    out(`  ${time()}  ${name.padEnd(width)} ${colorState(e.state)}${extra ? `  ${extra}` : ''}`);
  };
  const onWarning = (w: { message: string }) => out(`  warning: ${w.message}`);
  const onLog = (l: { line: string }) => out(`    │ ${l.line.trimEnd()}`);
  rt.events.on('task', onTask);
  rt.events.on('warning', onWarning);
  if (showLogs) rt.events.on('log', onLog);
  return () => {
    rt.events.off('task', onTask);
    rt.events.off('warning', onWarning);
    rt.events.off('log', onLog);
  };
}

/** Prints how a run ended (`print` false: the caller prints the JSON) and returns the exit code. */
async function summarize(rt: Runtime, dagId: string, runId: string, ctx: Ctx, print = true): Promise<number> {
  const run = (await rt.store.runs.get(dagId, runId))!;
  const tis = await rt.store.tasks.list(dagId, runId);
  if (ctx.structured) {
    if (print)
      ctx.out(serialize(ctx.format, { run: runJson(run), task_instances: tis.map(taskInstanceJson) }));
  } else {
    const seconds =
      run.start_date && run.end_date ? (Date.parse(run.end_date) - Date.parse(run.start_date)) / 1000 : null;
    ctx.out(
      `\nRun ${run.run_id} of ${dagId}: ${colorState(run.state)}${seconds !== null ? ` in ${formatDuration(seconds)}` : ''}`,
    );
    printTable(
      ctx,
      ['task', 'map', 'state', 'tries', 'duration'],
      tis.map((t) => [
        t.task_id,
        t.map_index >= 0 ? t.map_index : '',
        colorState(t.state),
        t.try_number,
        formatDuration(t.duration),
      ]),
    );
    const failed = tis.filter((t) => t.state === 'failed');
    for (const t of failed)
      ctx.out(
        `\n${t.task_id} failed: ${firstLine(t.error)}\n  log: hangar logs ${runId} ${t.task_id}${t.map_index >= 0 ? ` --map-index ${t.map_index}` : ''} --dag ${dagId}`,
      );
  }
  if (run.state === 'success') return 0;
  const failed = tis
    .filter((t) => t.state === 'failed' || t.state === 'upstream_failed')
    .map((t) => t.task_id);
  return fail(
    ctx,
    'run_failed',
    `Run "${runId}" of DAG "${dagId}" ${run.state}${failed.length ? ` (failed: ${[...new Set(failed)].join(', ')})` : ''}`,
    { dag_id: dagId, run_id: runId },
  );
}
