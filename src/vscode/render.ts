/**
 * "Render templates" (Airflow's Rendered Template view, `hangar render` in the editor): the
 * `hangar.renderTemplates` command — from a task's CodeLens or the palette — asks for the
 * logical date (the next scheduled one, a past run, or a date typed), asks the runtime for
 * `task/render`, and opens a read-only `hangar-render:` document listing each templated
 * field and its rendered value (secrets already masked by the runtime). A template error
 * opens the DAG file at the template and shows the message.
 */
import * as vscode from 'vscode';
import { RunList, TaskRender } from '../protocol/runtime.ts';
import type { DagListResult, TaskRenderParams } from '../protocol/runtime.ts';
import type { RuntimeClient } from './client.ts';
import { parseDateInput } from './dags-model.ts';
import {
  RENDER_SCHEME,
  dateChoices,
  parseRenderDocQuery,
  renderDocParts,
  renderLensesForFile,
  renderedText,
} from './render-doc-model.ts';
import type { RenderTarget } from './render-doc-model.ts';

export function renderDocUri(t: RenderTarget): vscode.Uri {
  const { path, query } = renderDocParts(t);
  return vscode.Uri.from({ scheme: RENDER_SCHEME, path, query });
}

/** The document provider: the text of each address, rendered by the runtime when VS Code asks. */
export class RenderedDocuments implements vscode.TextDocumentContentProvider {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  /** Texts rendered by the command just before opening them (so the runtime is not asked twice). */
  private readonly fresh = new Map<string, string>();
  private readonly client: RuntimeClient;

  constructor(client: RuntimeClient) {
    this.client = client;
  }

  register(): vscode.Disposable[] {
    return [this.changed, vscode.workspace.registerTextDocumentContentProvider(RENDER_SCHEME, this)];
  }

  /** Renders `t`; on success opens its document, on a template error opens the DAG file at the template. */
  async open(t: RenderTarget): Promise<void> {
    const params: TaskRenderParams = {
      dagId: t.dagId,
      taskId: t.taskId,
      ...(t.logicalDate ? { logicalDate: t.logicalDate } : {}),
      ...(t.runId ? { runId: t.runId } : {}),
    };
    const answer = await this.client.request(TaskRender, params);
    if (answer.failure) {
      const p = answer.failure.position;
      if (p) {
        const at = new vscode.Position(Math.max(0, p.line - 1), Math.max(0, p.column - 1));
        await vscode.window.showTextDocument(vscode.Uri.file(p.file), {
          selection: new vscode.Range(at, at),
        });
      }
      throw new Error(answer.failure.message);
    }
    const uri = renderDocUri(t);
    this.fresh.set(uri.toString(), renderedText(answer.result!));
    this.changed.fire(uri); // an open document of the same address shows the new text
    const doc = await vscode.workspace.openTextDocument(uri);
    await vscode.window.showTextDocument(doc, { preview: false, viewColumn: vscode.ViewColumn.Beside });
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const id = uri.toString();
    const text = this.fresh.get(id);
    if (text !== undefined) {
      this.fresh.delete(id);
      return text;
    }
    // A document restored or reopened later: render again (a template error is shown as text).
    const t = parseRenderDocQuery(uri.query);
    const answer = await this.client.request(TaskRender, {
      dagId: t.dagId,
      taskId: t.taskId,
      ...(t.logicalDate ? { logicalDate: t.logicalDate } : {}),
      ...(t.runId ? { runId: t.runId } : {}),
    });
    return answer.result
      ? renderedText(answer.result)
      : `# ${t.dagId}.${t.taskId}: the templates could not be rendered\n${answer.failure!.message}\n`;
  }
}

/** Asks which logical date to render for: undefined when dismissed. */
export async function pickRenderDate(
  client: RuntimeClient,
  dagId: string,
): Promise<{ logicalDate?: string; runId?: string } | undefined> {
  const runs = await client.request(RunList, { dagId, limit: 50 });
  const choices = dateChoices(dagId, runs);
  const pick = await vscode.window.showQuickPick(
    choices.map((c) => ({ label: c.label, description: c.description, choice: c })),
    { placeHolder: `Render the templates of ${dagId} for which logical date?`, matchOnDescription: true },
  );
  if (!pick) return undefined;
  const c = pick.choice;
  if (c.kind === 'next') return {};
  if (c.kind === 'run') return { runId: c.runId };
  const text = await vscode.window.showInputBox({
    title: 'Logical date',
    prompt: 'A date like 2024-01-31 or 2024-01-31T06:00:00Z (UTC unless it has an offset)',
    ignoreFocusOut: true,
    validateInput: (v) => {
      try {
        parseDateInput(v, 'Logical date');
        return undefined;
      } catch (err) {
        return (err as Error).message;
      }
    },
  });
  return text === undefined ? undefined : { logicalDate: parseDateInput(text, 'Logical date') };
}

/** The "Render templates" CodeLenses of a file: one above each task definition with templated fields. */
export function renderCodeLenses(list: DagListResult, file: string): vscode.CodeLens[] {
  return renderLensesForFile(list, file).map(({ dagId, taskId, line }) => {
    const range = new vscode.Range(line, 0, line, 0);
    return new vscode.CodeLens(range, {
      title: '$(symbol-string) Render templates',
      tooltip: `Show the templated fields of ${dagId}.${taskId} rendered for a logical date`,
      command: 'hangar.renderTemplates',
      arguments: [dagId, taskId],
    });
  });
}
