/**
 * `hangar variables list|get|set|delete|import|export` (Airflow's `airflow variables …`).
 * Values of secret-looking keys are masked in `list` unless `--reveal`.
 */
import { resolve } from 'node:path';
import { Variables } from '../variables.ts';
import { NotFoundError, UsageError, need, withRuntime } from './common.ts';
import type { Ctx } from './common.ts';
import { emit } from './output.ts';
import { table } from './format.ts';

export const VARIABLES_HELP = `  variables list [--reveal]        Variables (stored, and HANGAR_VAR_* overrides); secret-looking values masked
  variables get KEY [--default V]  One variable's value (HANGAR_VAR_<KEY> first, then the store)
  variables set KEY VALUE [--description D]   Store a variable
  variables delete KEY             Remove a stored variable
  variables import FILE            Store every key of a JSON object file (all or nothing)
  variables export FILE            Write the stored variables to a JSON file`;

export const VARIABLES_OPTIONS = {
  reveal: { type: 'boolean' },
  default: { type: 'string' },
  description: { type: 'string' },
} as const;

export async function variablesCommand(ctx: Ctx): Promise<number> {
  const verb = need(ctx, 0, 'a variables command: list, get, set, delete, import or export');
  return withRuntime(
    ctx,
    async (rt) => {
      const vars = new Variables(rt.store);
      switch (verb) {
        case 'list': {
          const list = await vars.list(!!ctx.values.reveal);
          emit(ctx, 'variables-list', list, () => {
            if (list.length === 0) ctx.out('No variables (hangar variables set KEY VALUE, or HANGAR_VAR_<KEY>)');
            else ctx.out(table(['key', 'value', 'source', 'description'], list.map((v) => [v.key, v.value, v.source, v.description ?? ''])));
          });
          return 0;
        }
        case 'get': {
          const key = need(ctx, 1, 'the variable key: hangar variables get KEY');
          const fallback = ctx.values.default as string | undefined;
          let value: string;
          try {
            value = await vars.get(key, fallback);
          } catch (err) {
            throw new NotFoundError((err as Error).message);
          }
          emit(ctx, 'variables-get', { key, value }, () => ctx.out(value));
          return 0;
        }
        case 'set': {
          const key = need(ctx, 1, 'the variable key: hangar variables set KEY VALUE');
          if (ctx.args[2] === undefined) throw new UsageError('missing the value: hangar variables set KEY VALUE');
          await vars.set(key, ctx.args[2], ctx.values.description as string | undefined);
          emit(ctx, 'variables-set', { key }, () => ctx.out(`Variable ${key} set`));
          return 0;
        }
        case 'delete': {
          const key = need(ctx, 1, 'the variable key: hangar variables delete KEY');
          if (!await vars.delete(key)) throw new NotFoundError(`variable "${key}" does not exist in the store`);
          emit(ctx, 'variables-delete', { key }, () => ctx.out(`Variable ${key} deleted`));
          return 0;
        }
        case 'import': {
          const file = resolve(need(ctx, 1, 'the file: hangar variables import FILE'));
          const r = await vars.importFile(file);
          emit(ctx, 'variables-import', { file, imported: r.imported }, () => ctx.out(`Imported ${r.imported} variable(s) from ${file}`));
          return 0;
        }
        case 'export': {
          const file = resolve(need(ctx, 1, 'the file: hangar variables export FILE'));
          const r = await vars.exportFile(file);
          emit(ctx, 'variables-export', { file, exported: r.exported }, () => ctx.out(`Exported ${r.exported} variable(s) to ${file}`));
          return 0;
        }
        default:
          throw new UsageError(`unknown variables command "${verb}" (use list, get, set, delete, import or export)`);
      }
    },
    false,
  );
}
