/**
 * "Hangar: New DAG…": a template from a quick pick, a DAG id typed in an input box (checked as
 * typed, by the rule of `dag({ id })`), the file written by the runtime's own createDagFile
 * (src/runtime/new-dag.ts, what `hangar new` runs) and opened with the cursor in the first task.
 *
 * Restricted Mode: the command works there too, since it runs nothing: it reads the DAG folder
 * (the hangar.dagsFolder setting, whose workspace value VS Code ignores in Restricted Mode, else
 * hangar.json's dagsFolder), refuses a folder outside the workspace folder, writes a fixed
 * template and opens the file. Loading DAG files (which runs their code) waits for trust: in a
 * trusted workspace the DAG list is reloaded so the new DAG appears in the DAGs view.
 */
import { existsSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import * as vscode from 'vscode';
import {
  configuredDagsFolder,
  createDagFile,
  DAG_TEMPLATES,
  dagIdProblem,
  dagTemplatesFolder,
} from '../runtime/new-dag.ts';
import type { HangarContext } from './context.ts';

/** Thrown when the user dismissed a prompt. */
export class NewDagCancelled extends Error {}

function dagsFolderOf(ctx: HangarContext, workspace: string): string {
  const trusted = vscode.workspace.isTrusted;
  const folder =
    (trusted ? ctx.client.info?.dagsFolder : undefined) ??
    configuredDagsFolder(workspace, vscode.workspace.getConfiguration('hangar').get<string>('dagsFolder'));
  const rel = relative(workspace, folder);
  if (!trusted && (rel.startsWith('..') || isAbsolute(rel)))
    throw new Error(
      `the DAG folder ${folder} is outside the workspace folder; in Restricted Mode Hangar writes only inside it (trust the folder to use it)`,
    );
  return folder;
}

export async function newDag(ctx: HangarContext): Promise<void> {
  const workspace = ctx.workspace;
  if (!workspace) throw new Error('Open a folder first: the DAG file goes into its DAG folder');
  const template = await vscode.window.showQuickPick(
    DAG_TEMPLATES.map((t) => ({ label: t.label, description: t.name, detail: t.description, name: t.name })),
    {
      title: 'Hangar: New DAG (1/2)',
      placeHolder: 'Choose a template',
      matchOnDescription: true,
      matchOnDetail: true,
    },
  );
  if (!template) throw new NewDagCancelled('cancelled');
  const folder = dagsFolderOf(ctx, workspace);
  const suggestion = `my_${template.name.replace('-', '_')}`;
  const name = await vscode.window.showInputBox({
    title: 'Hangar: New DAG (2/2)',
    prompt: `The DAG id, also the file name: ${vscode.workspace.asRelativePath(folder)}/<id>.ts`,
    value: suggestion,
    valueSelection: [0, suggestion.length],
    validateInput: (v) =>
      dagIdProblem(v) ??
      (existsSync(join(folder, `${v}.ts`)) ? `${join(folder, `${v}.ts`)} already exists` : undefined),
  });
  if (name === undefined) throw new NewDagCancelled('cancelled');
  const made = createDagFile({
    dagsFolder: folder,
    name,
    template: template.name,
    templatesFolder: dagTemplatesFolder(ctx.extension.extensionPath),
  });
  ctx.log.info(`New DAG ${made.dagId} from the ${made.template} template: ${made.file}`);
  const doc = await vscode.workspace.openTextDocument(made.file);
  const at = new vscode.Position(made.line - 1, made.column - 1);
  await vscode.window.showTextDocument(doc, { selection: new vscode.Range(at, at), preview: false });
  if (vscode.workspace.isTrusted) {
    // The new file is loaded like a saved one: the DAGs view shows it.
    await ctx
      .reload()
      .catch((err: unknown) =>
        ctx.log.error(`Reloading DAG files after New DAG failed: ${(err as Error).message}`),
      );
  }
}
