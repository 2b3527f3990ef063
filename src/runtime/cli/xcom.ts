/**
 * `hangar xcom …`: list, get (decoded or raw), and the maintenance commands of the XCom layer.
 */
import { intOption, NotFoundError, UsageError, need, withRuntime } from './common.ts';
import type { Ctx } from './common.ts';
import { table } from './format.ts';

/** Options of the xcom and bench commands (merged into the CLI's option table). */
export const XCOM_OPTIONS = {} as const;

/** Subcommand help, printed in `hangar --help`. */
export const XCOM_HELP = `  xcom list --dag DAG [--run RUN] [--task TASK] [--prefix P]
  xcom get --dag DAG --run RUN --task TASK [--key K] [--map-index N]`;

export async function xcomCommand(ctx: Ctx): Promise<number> {
  const sub = need(ctx, 0, 'a subcommand: hangar xcom list|get');
  const dagId = ctx.values.dag as string | undefined;
  if (!dagId) throw new UsageError('xcom needs --dag DAG');
  return withRuntime(
    ctx,
    async (rt) => {
      if (sub === 'list') {
        const rows = rt.store.listXComs({
          dagId,
          runId: ctx.values.run as string | undefined,
          taskId: ctx.values.task as string | undefined,
          keyPrefix: ctx.values.prefix as string | undefined,
          mapIndex: intOption(ctx, 'map-index'),
        });
        const list = rows.map((r) => ({
          dagId: r.dag_id,
          runId: r.run_id,
          taskId: r.task_id,
          mapIndex: r.map_index,
          key: r.key,
          chain: JSON.parse(r.chain) as string[],
          sizeOriginal: r.size_original,
          sizeStored: r.size_stored,
          sensitive: !!r.sensitive,
          createdAt: r.created_at,
        }));
        if (ctx.json) ctx.out(JSON.stringify(list, null, 2));
        else
          ctx.out(
            table(
              ['run', 'task', 'map', 'key', 'chain', 'size', 'stored'],
              list.map((x) => [
                x.runId,
                x.taskId,
                x.mapIndex >= 0 ? x.mapIndex : '',
                x.key,
                x.chain.join('>'),
                x.sizeOriginal,
                x.sizeStored,
              ]),
            ),
          );
        return 0;
      }
      if (sub === 'get') {
        const runId = ctx.values.run as string | undefined;
        const taskId = ctx.values.task as string | undefined;
        if (!runId || !taskId) throw new UsageError('xcom get needs --run RUN and --task TASK');
        const key = (ctx.values.key as string | undefined) ?? 'return_value';
        const mapIndex = intOption(ctx, 'map-index') ?? -1;
        const row = rt.store.getXCom(dagId, runId, taskId, key, mapIndex);
        if (!row)
          throw new NotFoundError(
            `No XCom "${key}" of task "${taskId}"${mapIndex >= 0 ? `[${mapIndex}]` : ''} in run "${runId}" of DAG "${dagId}"`,
          );
        const value = await rt.backend.deserialize({ dagId, runId, taskId, mapIndex, key }, row.value);
        ctx.out(JSON.stringify(value, null, ctx.json ? undefined : 2));
        return 0;
      }
      throw new UsageError(`unknown xcom subcommand "${sub}" (list, get)`);
    },
    false,
  );
}
