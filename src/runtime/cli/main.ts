/**
 * The `hangar` command line: a thin layer over the Runtime, the same code the
 * VS Code extension drives. Exit codes: 0 success; 1 a run or task failed;
 * 2 bad usage; 3 DAG files failed to load or the DAG/run/task does not exist.
 */
import { parseArgs } from 'node:util';
import { existsSync, readFileSync } from 'node:fs';
import type { Runtime } from '../runtime.ts';
import { tryLogPath } from '../executor/logger.ts';
import { colorState, formatDuration, table } from './format.ts';
import { initWorkspace } from './init.ts';
import { intOption, need, NotFoundError, parseDate, UsageError, withRuntime } from './common.ts';
import type { Ctx } from './common.ts';
import { XCOM_HELP, XCOM_OPTIONS, benchCommand, xcomCommand } from './xcom.ts';
import { SENSORS_HELP, sensorsCommand } from './sensors.ts';
import type { TaskEvent } from '../events.ts';

const HELP = `hangar — run Airflow-style DAGs written in TypeScript, locally

Usage: hangar <command> [options]

Commands:
  init [DIR]                       Scaffold a workspace (dags/, hangar.json, tsconfig.json, an example DAG)
  list                             DAGs, their tasks, and DAG files that failed to load
  run DAG [--date D] [--conf JSON] Trigger a run and follow it to the end
  run DAG --resume RUN_ID          Finish a run that was interrupted (or created by trigger)
  trigger DAG [--date D] [--conf JSON]  Create a queued run without running it
  test DAG TASK [--date D]         Run one task alone, without its upstream tasks
  backfill DAG --from D1 --to D2   One run per schedule interval between two dates
  clear RUN [TASK…] [--downstream] [--upstream] [--failed] [--no-run]
                                   Clear tasks of a run (their XComs too) and run it again
  mark RUN TASK success|failed     Mark a task by hand (then: hangar run DAG --resume RUN)
  runs [--dag DAG]                 Recent runs
  tasks RUN [--dag DAG]            Task instances of a run
  logs RUN TASK [--try N]          The log of a task try
${XCOM_HELP}
${SENSORS_HELP}

Options:
  --workspace DIR   The workspace folder (default: the current directory)
  --json            Print data as JSON
  -h, --help        This help
`;

const OPTIONS = {
  workspace: { type: 'string' },
  json: { type: 'boolean' },
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
  help: { type: 'boolean', short: 'h' },
  ...XCOM_OPTIONS,
} as const;

export async function main(
  argv: string[],
  out: (s: string) => void = (s) => process.stdout.write(s + '\n'),
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    process.stderr.write(`hangar: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  const [command, ...args] = parsed.positionals;
  if (parsed.values.help || !command) {
    out(HELP);
    return command || parsed.values.help ? 0 : 2;
  }
  const ctx: Ctx = {
    args,
    values: parsed.values,
    json: !!parsed.values.json,
    workspace: parsed.values.workspace ?? process.cwd(),
    out,
  };
  const handler = COMMANDS[command];
  try {
    if (!handler) throw new UsageError(`unknown command "${command}"`);
    return await handler(ctx);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`hangar: ${err.message}\nRun "hangar --help" for usage.\n`);
      return 2;
    }
    process.stderr.write(`hangar: ${(err as Error).message}\n`);
    return err instanceof NotFoundError ||
      /No DAG|has no run|has no task|failed to load|does not exist/.test((err as Error).message)
      ? 3
      : 1;
  }
}

function reportLoadErrors(rt: Runtime, out: (s: string) => void): void {
  for (const e of rt.dagBag?.errors ?? []) process.stderr.write(`hangar: failed to load ${e.message}\n`);
  void out;
}

const COMMANDS: Record<string, (ctx: Ctx) => Promise<number>> = {
  xcom: xcomCommand,
  sensors: sensorsCommand,
  bench: benchCommand,
  async init(ctx) {
    const dir = ctx.args[0] ?? ctx.workspace;
    const created = initWorkspace(dir);
    if (ctx.json) ctx.out(JSON.stringify({ workspace: dir, created }, null, 2));
    else {
      ctx.out(`Initialised a Hangar workspace in ${dir}`);
      for (const f of created) ctx.out(`  created ${f}`);
      ctx.out(`\nNext: hangar run example_etl --workspace ${dir}`);
    }
    return 0;
  },

  async list(ctx) {
    return withRuntime(ctx, async (rt) => {
      const bag = rt.dagBag!;
      const dags = [...bag.dags.values()].map((d) => ({
        dagId: d.id,
        file: d.fileloc,
        schedule: d.scheduleText,
        description: d.description ?? null,
        tags: d.tags,
        tasks: d.topologicalOrder().map((id) => {
          const t = d.tasks.get(id)!;
          return {
            taskId: id,
            kind: t.kind,
            upstream: [...t.upstream],
            triggerRule: t.triggerRule,
            mapped: !!t.expand,
            line: t.position?.line ?? null,
          };
        }),
      }));
      if (ctx.json) {
        ctx.out(JSON.stringify({ dags, errors: bag.errors }, null, 2));
      } else {
        if (dags.length === 0) ctx.out(`No DAGs in ${rt.config.dagsFolder}`);
        for (const d of dags) {
          ctx.out(`${d.dagId}  (${d.schedule ?? 'manual'})${d.description ? ` — ${d.description}` : ''}`);
          for (const t of d.tasks)
            ctx.out(
              `  ${t.taskId}${t.mapped ? '[]' : ''}${t.upstream.length ? `  ← ${t.upstream.join(', ')}` : ''}`,
            );
        }
        for (const e of bag.errors) ctx.out(`\nLoad error: ${e.message}`);
      }
      return bag.errors.length ? 3 : 0;
    });
  },

  async run(ctx) {
    const dagId = need(ctx, 0, 'the DAG id: hangar run DAG');
    const conf = parseConf(ctx);
    const logicalDate = parseDate(ctx.values.date as string | undefined, '--date');
    return withRuntime(ctx, async (rt) => {
      reportLoadErrors(rt, ctx.out);
      const dag = rt.getDag(dagId);
      const controller = new AbortController();
      const onSigint = () => controller.abort(new Error('Interrupted (Ctrl+C)'));
      process.once('SIGINT', onSigint);
      const progress = ctx.json ? undefined : followProgress(rt, ctx.out);
      try {
        let runId: string;
        if (typeof ctx.values.resume === 'string') {
          runId = ctx.values.resume;
          if (!rt.store.getRun(dagId, runId)) throw new NotFoundError(`DAG "${dagId}" has no run "${runId}"`);
          if (!ctx.json) ctx.out(`Resuming ${dagId} run ${runId}`);
        } else {
          runId = rt.triggerRun(dagId, { logicalDate, conf }).run_id;
          if (!ctx.json) ctx.out(`Running ${dagId} (${dag.tasks.size} tasks), run ${runId}`);
        }
        await rt.executeRun(dagId, runId, controller.signal);
        return summarize(rt, dagId, runId, ctx);
      } finally {
        process.off('SIGINT', onSigint);
        progress?.();
      }
    });
  },

  async trigger(ctx) {
    const dagId = need(ctx, 0, 'the DAG id: hangar trigger DAG');
    const conf = parseConf(ctx);
    const logicalDate = parseDate(ctx.values.date as string | undefined, '--date');
    return withRuntime(ctx, async (rt) => {
      const run = rt.triggerRun(dagId, { logicalDate, conf });
      if (ctx.json) ctx.out(JSON.stringify(runJson(run), null, 2));
      else
        ctx.out(
          `Created run ${run.run_id} of ${dagId} (queued); run it with: hangar run ${dagId} --resume '${run.run_id}'`,
        );
      return 0;
    });
  },

  async test(ctx) {
    const dagId = need(ctx, 0, 'the DAG id: hangar test DAG TASK');
    const taskId = need(ctx, 1, 'the task id: hangar test DAG TASK');
    const logicalDate = parseDate(ctx.values.date as string | undefined, '--date');
    return withRuntime(ctx, async (rt) => {
      const stop = ctx.json ? undefined : followProgress(rt, ctx.out, true);
      try {
        const run = await rt.testTask(dagId, taskId, logicalDate);
        return summarize(rt, dagId, run.run_id, ctx);
      } finally {
        stop?.();
      }
    });
  },

  async backfill(ctx) {
    const dagId = need(ctx, 0, 'the DAG id: hangar backfill DAG --from D1 --to D2');
    const from = parseDate(ctx.values.from as string | undefined, '--from');
    const to = parseDate(ctx.values.to as string | undefined, '--to');
    if (!from || !to) throw new UsageError('backfill needs --from and --to');
    if (from > to) throw new UsageError('--from is after --to');
    return withRuntime(ctx, async (rt) => {
      const stop = ctx.json ? undefined : followProgress(rt, ctx.out);
      try {
        const runs = await rt.backfill(dagId, from, to);
        if (ctx.json) ctx.out(JSON.stringify(runs.map(runJson), null, 2));
        else
          ctx.out(
            '\n' +
              table(
                ['run', 'data interval', 'state'],
                runs.map((r) => [
                  r.run_id,
                  `${r.data_interval_start} → ${r.data_interval_end}`,
                  colorState(r.state),
                ]),
              ),
          );
        return runs.every((r) => r.state === 'success') ? 0 : 1;
      } finally {
        stop?.();
      }
    });
  },

  async clear(ctx) {
    const runId = need(ctx, 0, 'the run id: hangar clear RUN [TASK…]');
    const taskIds = ctx.args.slice(1);
    return withRuntime(ctx, async (rt) => {
      const run = rt.store.findRun(runId, ctx.values.dag as string | undefined);
      if (!run) throw new NotFoundError(`No run "${runId}"`);
      if (taskIds.length === 0 && !ctx.values.failed)
        throw new UsageError('name the tasks to clear, or use --failed');
      const cleared = await rt.clear(run.dag_id, run.run_id, {
        taskIds: taskIds.length ? taskIds : undefined,
        downstream: !!ctx.values.downstream,
        upstream: !!ctx.values.upstream,
        onlyFailed: !!ctx.values.failed,
      });
      if (!ctx.json)
        ctx.out(
          `Cleared ${cleared.length} task instance(s) of ${run.run_id}: ${[...new Set(cleared.map((t) => t.task_id))].join(', ') || 'none'}`,
        );
      if (ctx.values['no-run'] || cleared.length === 0) return 0;
      const progress = ctx.json ? undefined : followProgress(rt, ctx.out);
      try {
        await rt.executeRun(run.dag_id, run.run_id);
        return summarize(rt, run.dag_id, run.run_id, ctx);
      } finally {
        progress?.();
      }
    });
  },

  async mark(ctx) {
    const runId = need(ctx, 0, 'the run id: hangar mark RUN TASK success|failed');
    const taskId = need(ctx, 1, 'the task id: hangar mark RUN TASK success|failed');
    const state = need(ctx, 2, 'the state: success or failed');
    if (state !== 'success' && state !== 'failed')
      throw new UsageError(`a task can be marked success or failed, not "${state}"`);
    return withRuntime(
      ctx,
      async (rt) => {
        const run = rt.store.findRun(runId, ctx.values.dag as string | undefined);
        if (!run) throw new NotFoundError(`No run "${runId}"`);
        const tis = rt.mark(run.dag_id, run.run_id, taskId, state, intOption(ctx, 'map-index'));
        if (ctx.json) ctx.out(JSON.stringify(tis, null, 2));
        else
          ctx.out(
            `Marked ${taskId} ${state} in ${run.run_id}; continue the run with: hangar run ${run.dag_id} --resume '${run.run_id}'`,
          );
        return 0;
      },
      false,
    );
  },

  async runs(ctx) {
    return withRuntime(
      ctx,
      async (rt) => {
        const runs = rt.store.listRuns({ dagId: ctx.values.dag as string | undefined, limit: 50 });
        if (ctx.json) ctx.out(JSON.stringify(runs.map(runJson), null, 2));
        else if (runs.length === 0) ctx.out('No runs yet');
        else
          ctx.out(
            table(
              ['dag', 'run', 'state', 'logical date', 'started', 'ended'],
              runs.map((r) => [
                r.dag_id,
                r.run_id,
                colorState(r.state),
                r.logical_date,
                r.start_date,
                r.end_date,
              ]),
            ),
          );
        return 0;
      },
      false,
    );
  },

  async tasks(ctx) {
    const runId = need(ctx, 0, 'the run id: hangar tasks RUN');
    return withRuntime(
      ctx,
      async (rt) => {
        const run = rt.store.findRun(runId, ctx.values.dag as string | undefined);
        if (!run)
          throw new NotFoundError(
            `No run "${runId}"${ctx.values.dag ? ` of DAG "${String(ctx.values.dag)}"` : ''}`,
          );
        const tis = rt.store.listTaskInstances(run.dag_id, run.run_id);
        if (ctx.json) ctx.out(JSON.stringify(tis, null, 2));
        else
          ctx.out(
            table(
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
    const runId = need(ctx, 0, 'the run id: hangar logs RUN TASK');
    const taskId = need(ctx, 1, 'the task id: hangar logs RUN TASK');
    return withRuntime(
      ctx,
      async (rt) => {
        const run = rt.store.findRun(runId, ctx.values.dag as string | undefined);
        if (!run) throw new NotFoundError(`No run "${runId}"`);
        const mapIndex = intOption(ctx, 'map-index') ?? -1;
        const ti = rt.store.getTaskInstance(run.dag_id, run.run_id, taskId, mapIndex);
        if (!ti)
          throw new NotFoundError(
            `Run "${runId}" has no task "${taskId}"${mapIndex >= 0 ? `[${mapIndex}]` : ''}`,
          );
        const tryNumber = intOption(ctx, 'try') ?? ti.try_number;
        if (tryNumber < 1 || tryNumber > ti.try_number) {
          throw new NotFoundError(
            `Task "${taskId}" of run "${runId}" has ${ti.try_number} tries; there is no try ${tryNumber}`,
          );
        }
        const tries = rt.store.listTries(run.dag_id, run.run_id, taskId, mapIndex);
        const path =
          tries.find((t) => t.try_number === tryNumber)?.log_path ??
          tryLogPath(rt.config.logsDir, run.dag_id, run.run_id, taskId, mapIndex, tryNumber);
        const tryRecord = tries.find((t) => t.try_number === tryNumber);
        let text: string;
        if (existsSync(path)) text = readFileSync(path, 'utf8');
        else if (tryRecord && tryRecord.state !== 'running' && !tryRecord.error) {
          // A try that printed nothing has no log file; its outcome is in the store.
          text = `(try ${tryNumber} of ${taskId} wrote no log output: ${tryRecord.state}, started ${tryRecord.start_date}, ended ${tryRecord.end_date}, ${formatDuration(tryRecord.duration)})`;
        } else if (tryRecord?.state === 'running')
          text = `(try ${tryNumber} of ${taskId} is running and has written no log output yet)`;
        else throw new NotFoundError(`The log of try ${tryNumber} of "${taskId}" is missing (${path})`);
        if (ctx.json) ctx.out(JSON.stringify({ path, tryNumber, text }));
        else ctx.out(text.trimEnd());
        return 0;
      },
      false,
    );
  },
};

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

function runJson(r: {
  dag_id: string;
  run_id: string;
  run_type: string;
  state: string;
  logical_date: string;
  data_interval_start: string;
  data_interval_end: string;
  start_date: string | null;
  end_date: string | null;
  conf: string;
}) {
  return {
    dagId: r.dag_id,
    runId: r.run_id,
    runType: r.run_type,
    state: r.state,
    logicalDate: r.logical_date,
    dataIntervalStart: r.data_interval_start,
    dataIntervalEnd: r.data_interval_end,
    startDate: r.start_date,
    endDate: r.end_date,
    conf: JSON.parse(r.conf) as unknown,
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

function summarize(rt: Runtime, dagId: string, runId: string, ctx: Ctx): number {
  const run = rt.store.getRun(dagId, runId)!;
  const tis = rt.store.listTaskInstances(dagId, runId);
  if (ctx.json) {
    ctx.out(
      JSON.stringify(
        {
          run: runJson(run),
          tasks: tis.map((t) => ({
            taskId: t.task_id,
            mapIndex: t.map_index,
            state: t.state,
            tries: t.try_number,
            duration: t.duration,
            error: t.error,
          })),
        },
        null,
        2,
      ),
    );
  } else {
    const seconds =
      run.start_date && run.end_date ? (Date.parse(run.end_date) - Date.parse(run.start_date)) / 1000 : null;
    ctx.out(
      `\nRun ${run.run_id} of ${dagId}: ${colorState(run.state)}${seconds !== null ? ` in ${formatDuration(seconds)}` : ''}`,
    );
    ctx.out(
      table(
        ['task', 'map', 'state', 'tries', 'duration'],
        tis.map((t) => [
          t.task_id,
          t.map_index >= 0 ? t.map_index : '',
          colorState(t.state),
          t.try_number,
          formatDuration(t.duration),
        ]),
      ),
    );
    const failed = tis.filter((t) => t.state === 'failed');
    for (const t of failed)
      ctx.out(
        `\n${t.task_id} failed: ${firstLine(t.error)}\n  log: hangar logs ${runId} ${t.task_id}${t.map_index >= 0 ? ` --map-index ${t.map_index}` : ''} --dag ${dagId}`,
      );
  }
  return run.state === 'success' ? 0 : 1;
}
