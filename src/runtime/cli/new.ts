/** `hangar new NAME [--template T] [--force]`: a DAG file from a template, in the workspace's DAG folder. */
import { isAbsolute, relative } from 'node:path';
import { loadConfig } from '../config.ts';
import {
  createDagFile,
  DAG_TEMPLATES,
  dagTemplatesFolder,
  DEFAULT_DAG_TEMPLATE,
  NewDagError,
} from '../new-dag.ts';
import { hangarPackageRoot } from './init.ts';
import { CliError, need, UsageError } from './common.ts';
import type { Ctx } from './common.ts';
import { emit } from './output.ts';

export const NEW_HELP = `  new NAME [--template T] [--force]
                                   A DAG file NAME.ts (DAG id NAME) in the DAG folder, from a template:
                                   ${DAG_TEMPLATES.map((t) => t.name).join(', ')} (default ${DEFAULT_DAG_TEMPLATE}); --force replaces the file`;

export const NEW_OPTIONS = { template: { type: 'string' }, force: { type: 'boolean' } } as const;

export async function newCommand(ctx: Ctx): Promise<number> {
  const name = need(ctx, 0, 'the DAG id (hangar new NAME)');
  if (ctx.args.length > 1)
    throw new UsageError(`hangar new takes one name, not ${ctx.args.length} (${ctx.args.join(' ')})`);
  const template = ctx.values.template as string | undefined;
  const config = loadConfig(ctx.workspace);
  let result;
  try {
    result = createDagFile({
      dagsFolder: config.dagsFolder,
      name,
      template,
      force: ctx.values.force === true,
      templatesFolder: dagTemplatesFolder(hangarPackageRoot()),
    });
  } catch (err) {
    if (err instanceof NewDagError && err.kind === 'usage') throw new UsageError(err.message);
    if (err instanceof NewDagError)
      throw new CliError('error', err.message, { dag_id: name, files: [err.file!] });
    throw err;
  }
  const rel = relative(process.cwd(), result.file);
  const shown = rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : result.file;
  emit(
    ctx,
    'new',
    {
      file: result.file,
      dag_id: result.dagId,
      template: result.template,
      line: result.line,
      column: result.column,
      overwritten: result.overwritten,
    },
    () => {
      ctx.out(
        `${result.overwritten ? 'Replaced' : 'Created'} ${shown} (DAG ${result.dagId}, template ${result.template})`,
      );
      ctx.out(`The first task's body: ${shown}:${result.line}:${result.column}`);
      ctx.out(
        `Next: hangar run ${result.dagId}${ctx.values.workspace ? ` --workspace ${ctx.workspace}` : ''}`,
      );
    },
  );
  return 0;
}
