/**
 * `hangar render DAG TASK [--date D] [--run RUN_ID] [--conf JSON]`: a task's templated
 * fields rendered as its try would render them (Airflow's `airflow tasks render`), for
 * the next scheduled logical date by default; secrets masked as in task logs.
 */
import { RenderError, renderTask } from '../render.ts';
import type { RenderResult } from '../render.ts';
import { CliError, NotFoundError, UsageError, need, parseDate, printTable, withRuntime } from './common.ts';
import type { Ctx } from './common.ts';
import { emit } from './output.ts';

export const RENDER_HELP = `  render DAG TASK [--date D] [--run RUN_ID] [--conf JSON]
                                   A task's templated fields rendered as its run would (default: the
                                   next scheduled logical date); secrets masked`;

/** The JSON of `hangar render` (docs/cli-schema/render.json). */
export function renderJson(r: RenderResult) {
  return {
    dag_id: r.dagId,
    task_id: r.taskId,
    source: r.source,
    run_id: r.runId,
    logical_date: r.logicalDate,
    data_interval_start: r.dataIntervalStart,
    data_interval_end: r.dataIntervalEnd,
    conf: r.conf,
    mapped: r.mapped,
    map_note: r.mapNote,
    fields: r.fields.map((f) => ({
      field: f.field,
      map_index: f.mapIndex,
      template: f.template,
      rendered: f.rendered,
    })),
    xcom_inputs: r.xcomInputs.map((x) => ({ name: x.name, task_id: x.taskId, key: x.key })),
  };
}

function text(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

export async function renderCommand(ctx: Ctx): Promise<number> {
  const dagId = need(ctx, 0, 'the DAG id: hangar render DAG TASK');
  const taskId = need(ctx, 1, 'the task id: hangar render DAG TASK');
  Object.assign(ctx.ids, { dag_id: dagId, task_id: taskId });
  const logicalDate = parseDate(ctx.values.date as string | undefined, '--date');
  const conf = parseConfOption(ctx.values.conf);
  const runId = ctx.values.run as string | undefined;
  if (runId !== undefined) ctx.ids.run_id = runId;
  if (runId !== undefined && (logicalDate !== undefined || conf !== undefined)) {
    throw new UsageError(
      '--run renders that run (its logical date and conf): give --run, or --date/--conf, not both',
    );
  }
  return withRuntime(ctx, async (rt) => {
    let r: RenderResult;
    try {
      r = await renderTask(rt, dagId, taskId, { logicalDate, runId, conf });
    } catch (err) {
      if (!(err instanceof RenderError)) throw err;
      if (err.code === 'not_found') throw new NotFoundError(err.message);
      if (err.code === 'usage') throw new UsageError(err.message);
      throw new CliError(
        err.code,
        err.message,
        err.position
          ? {
              position: { file: err.position.file, line: err.position.line, column: err.position.column },
              field: err.field,
            }
          : {},
      );
    }
    emit(ctx, 'render', renderJson(r), () => {
      const from = {
        run: `run ${r.runId}`,
        date: 'the given date',
        next: 'the next scheduled run',
        now: 'now (the DAG has no next scheduled run)',
      }[r.source];
      ctx.out(
        `${dagId}.${taskId} rendered for ${r.logicalDate} (${from}); data interval ${r.dataIntervalStart} → ${r.dataIntervalEnd}`,
      );
      if (Object.keys(r.conf).length) ctx.out(`conf: ${JSON.stringify(r.conf)}`);
      ctx.out('');
      if (r.fields.length) {
        printTable(
          ctx,
          r.mapped ? ['field', 'map', 'rendered'] : ['field', 'rendered'],
          r.fields.map((f) =>
            r.mapped
              ? [f.field, f.mapIndex >= 0 ? f.mapIndex : '', text(f.rendered)]
              : [f.field, text(f.rendered)],
          ),
        );
      } else ctx.out(`${taskId} has no templated fields${r.mapNote ? ' known yet' : ''}`);
      if (r.mapNote) ctx.out(`\nnote: ${r.mapNote}`);
      for (const x of r.xcomInputs)
        ctx.out(`input ${x.name}: the XCom "${x.key}" of task "${x.taskId}" (known when it runs)`);
    });
    return 0;
  });
}

function parseConfOption(value: unknown): Record<string, unknown> | undefined {
  if (typeof value !== 'string') return undefined;
  let conf: unknown;
  try {
    conf = JSON.parse(value);
  } catch (err) {
    throw new UsageError(`--conf is not valid JSON: ${(err as Error).message}`);
  }
  if (!conf || typeof conf !== 'object' || Array.isArray(conf))
    throw new UsageError('--conf must be a JSON object');
  return conf as Record<string, unknown>;
}
