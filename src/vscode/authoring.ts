/**
 * The editor knows your DAGs as you type: completion, go to definition, find
 * references, rename and Problems (with a quick fix) at the id strings of DAG
 * files — task ids, DAG ids, connection ids, pools, variable keys, queues and
 * asset URIs — a Problem at a DAG's `startDate` read from the clock, and a
 * hover on a task id (its settings, last runs, links to the grid and graph). VS Code merges these
 * with TypeScript's own results (whichever TypeScript server runs: no tsserver
 * plugin is involved). The logic is src/runtime/authoring/ (no vscode); this
 * file maps it to VS Code's language APIs. DAG files are never imported here:
 * the structure is the runtime's last `dag/list` result; the buffer is scanned.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { GridData, VariableList } from '../protocol/runtime.ts';
import type { DagListResult, VariableSummary } from '../protocol/runtime.ts';
import { HOVER_COMMANDS, HOVER_RUNS, taskHoverMarkdown, taskRunsFromGrid } from '../runtime/authoring/hover.ts';
import type { TaskRunCell } from '../runtime/authoring/hover.ts';
import { AuthoringModel } from '../runtime/authoring/model.ts';
import type { Completion, Diagnostic as IdDiagnostic, Location } from '../runtime/authoring/model.ts';
import type { HangarContext } from './context.ts';

export const ID_DIAGNOSTIC_CODE = 'unknown-id';
/** The lint of a `startDate` read from the clock; its link is Airflow's FAQ on start_date. */
const START_DATE_CODE = {
  value: 'dynamic-start-date',
  target: vscode.Uri.parse('https://airflow.apache.org/docs/apache-airflow/stable/faq.html#what-s-the-deal-with-start-date'),
};
/** How long typing must pause before the id Problems of a buffer are recomputed. */
const DIAGNOSTIC_DELAY_MS = 250;

const COMPLETION_KIND: Record<Completion['kind'], vscode.CompletionItemKind> = {
  task: vscode.CompletionItemKind.Function,
  dag: vscode.CompletionItemKind.Module,
  connection: vscode.CompletionItemKind.Reference,
  pool: vscode.CompletionItemKind.Constant,
  variable: vscode.CompletionItemKind.Variable,
  queue: vscode.CompletionItemKind.EnumMember,
  asset: vscode.CompletionItemKind.File,
};

export class DagAuthoring
  implements
    vscode.CompletionItemProvider,
    vscode.DefinitionProvider,
    vscode.ReferenceProvider,
    vscode.RenameProvider,
    vscode.CodeActionProvider,
    vscode.HoverProvider,
    vscode.Disposable
{
  static readonly selector: vscode.DocumentSelector = [
    { scheme: 'file', language: 'typescript' },
    { scheme: 'file', language: 'javascript' },
  ];
  private readonly ctx: HangarContext;
  readonly model: AuthoringModel;
  private readonly collection = vscode.languages.createDiagnosticCollection('hangar-ids');
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private list: DagListResult | null = null;
  private loading = false;
  /** The runtime's variables (keys, JSON-ness; never a secret), undefined until asked. */
  private variables: VariableSummary[] | undefined;
  private variablesAt = 0;

  constructor(ctx: HangarContext) {
    this.ctx = ctx;
    this.model = new AuthoringModel((file) => {
      const open = vscode.workspace.textDocuments.find(
        (d) => d.uri.scheme === 'file' && d.uri.fsPath === file,
      );
      if (open) return open.getText();
      try {
        return readFileSync(file, 'utf8');
      } catch {
        return undefined;
      }
    });
    this.refreshFacts();
  }

  /** Registers the providers and the listeners that keep Problems current. */
  register(): vscode.Disposable[] {
    const sel = DagAuthoring.selector;
    const out: vscode.Disposable[] = [
      this,
      vscode.languages.registerCompletionItemProvider(sel, this, "'", '"', '`'),
      vscode.languages.registerDefinitionProvider(sel, this),
      vscode.languages.registerReferenceProvider(sel, this),
      vscode.languages.registerRenameProvider(sel, this),
      vscode.languages.registerHoverProvider(sel, this),
      vscode.languages.registerCodeActionsProvider(sel, this, {
        providedCodeActionKinds: [vscode.CodeActionKind.QuickFix],
      }),
      vscode.workspace.onDidOpenTextDocument((d) => this.schedule(d, 0)),
      vscode.workspace.onDidChangeTextDocument((e) => this.schedule(e.document, DIAGNOSTIC_DELAY_MS)),
      vscode.workspace.onDidCloseTextDocument((d) => this.collection.delete(d.uri)),
    ];
    if (this.ctx.workspace) {
      const watcher = vscode.workspace.createFileSystemWatcher(
        new vscode.RelativePattern(this.ctx.workspace, 'hangar.json'),
      );
      const changed = () => {
        this.refreshFacts();
        this.recheckOpen();
      };
      out.push(
        watcher,
        watcher.onDidChange(changed),
        watcher.onDidCreate(changed),
        watcher.onDidDelete(changed),
      );
    }
    for (const d of vscode.workspace.textDocuments) this.schedule(d, 0);
    return out;
  }

  /** A new DAG structure from the runtime (after a load or a save). */
  setList(list: DagListResult): void {
    this.list = list;
    this.refreshFacts();
    this.recheckOpen();
    void this.refreshVariables();
  }

  /** Asks the running runtime for its variables (at most every 5 s); the Problems are rechecked with them. */
  private async refreshVariables(): Promise<void> {
    if (!this.ctx.client.isRunning || Date.now() - this.variablesAt < 5_000) return;
    this.variablesAt = Date.now();
    try {
      this.variables = await this.ctx.client.request(VariableList, {});
    } catch (err) {
      this.ctx.log.warn(`Reading the variables for the editor failed: ${(err as Error).message}`);
      return;
    }
    this.refreshFacts();
    this.recheckOpen();
  }

  private refreshFacts(): void {
    let config: { file: string; text: string } | null = null;
    if (this.ctx.workspace) {
      const file = join(this.ctx.workspace, 'hangar.json');
      try {
        config = { file, text: readFileSync(file, 'utf8') };
      } catch {
        config = null;
      }
    }
    this.model.update({ list: this.list, config, env: process.env, variables: this.variables });
  }

  private recheckOpen(): void {
    for (const d of vscode.workspace.textDocuments) this.schedule(d, 0);
  }

  /** Whether a document gets Hangar's help: trusted workspace, a DAG file. */
  private applies(doc: vscode.TextDocument): boolean {
    return vscode.workspace.isTrusted && this.ctx.isDagFile(doc.uri);
  }

  /** The first request in a DAG file loads the DAG list (starting the runtime) when nothing has yet. */
  private ensureList(): void {
    if (this.list || this.loading || !this.ctx.isHangarWorkspace) return;
    if (this.ctx.lastList) {
      this.setList(this.ctx.lastList);
      return;
    }
    this.loading = true;
    this.ctx.dagList().then(
      (l) => {
        this.loading = false;
        this.setList(l);
      },
      (err: unknown) => {
        this.loading = false;
        this.ctx.log.warn(`Loading the DAG structure for the editor failed: ${(err as Error).message}`);
      },
    );
  }

  private schedule(doc: vscode.TextDocument, delay: number): void {
    if (!this.applies(doc)) return;
    this.ensureList();
    const key = doc.uri.toString();
    clearTimeout(this.timers.get(key));
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key);
        if (!doc.isClosed) this.collection.set(doc.uri, this.diagnostics(doc));
      }, delay),
    );
  }

  private diagnostics(doc: vscode.TextDocument): vscode.Diagnostic[] {
    return this.model.diagnostics(doc.uri.fsPath, doc.getText()).map((d) => {
      const diag = new vscode.Diagnostic(
        new vscode.Range(doc.positionAt(d.start), doc.positionAt(d.end)),
        d.suggestion ? `${d.message}. Did you mean "${d.suggestion}"?` : d.message,
        d.severity === 'error' ? vscode.DiagnosticSeverity.Error : vscode.DiagnosticSeverity.Warning,
      );
      diag.source = 'hangar';
      diag.code = d.kind === 'startDate' ? START_DATE_CODE : ID_DIAGNOSTIC_CODE;
      return diag;
    });
  }

  provideCompletionItems(
    doc: vscode.TextDocument,
    position: vscode.Position,
  ): vscode.CompletionList | undefined {
    if (!this.applies(doc)) return undefined;
    this.ensureList();
    if (this.model.siteAt(doc.uri.fsPath, doc.getText(), doc.offsetAt(position))?.kind === 'variable')
      void this.refreshVariables();
    const r = this.model.completions(doc.uri.fsPath, doc.getText(), doc.offsetAt(position));
    if (!r) return undefined;
    const range = new vscode.Range(doc.positionAt(r.start), doc.positionAt(r.end));
    return new vscode.CompletionList(
      r.items.map((i) => {
        const item = new vscode.CompletionItem(
          { label: i.label, description: i.detail },
          COMPLETION_KIND[i.kind],
        );
        item.detail = i.detail;
        item.range = range;
        item.sortText = `\u0000${i.label}`; // Hangar's ids before words of the file
        return item;
      }),
    );
  }

  async provideHover(doc: vscode.TextDocument, position: vscode.Position): Promise<vscode.Hover | undefined> {
    if (!this.applies(doc)) return undefined;
    const at = this.model.taskAt(doc.uri.fsPath, doc.getText(), doc.offsetAt(position));
    if (!at) return undefined;
    let runs: TaskRunCell[] | null = null;
    let runsError: string | undefined;
    if (this.ctx.client.isRunning && at.task) {
      try {
        runs = taskRunsFromGrid(await this.ctx.client.request(GridData, { dagId: at.dagId, limit: HOVER_RUNS }), at.taskId);
      } catch (err) {
        runsError = (err as Error).message;
      }
    }
    const md = new vscode.MarkdownString(taskHoverMarkdown({ ...at, runs, runsError }), true);
    md.isTrusted = { enabledCommands: [...HOVER_COMMANDS] };
    return new vscode.Hover(md, new vscode.Range(doc.positionAt(at.start), doc.positionAt(at.end)));
  }

  provideDefinition(doc: vscode.TextDocument, position: vscode.Position): vscode.Location[] | undefined {
    if (!this.applies(doc)) return undefined;
    return this.model.definition(doc.uri.fsPath, doc.getText(), doc.offsetAt(position)).map(toLocation);
  }

  provideReferences(
    doc: vscode.TextDocument,
    position: vscode.Position,
    context: vscode.ReferenceContext,
  ): vscode.Location[] | undefined {
    if (!this.applies(doc)) return undefined;
    return this.model
      .references(doc.uri.fsPath, doc.getText(), doc.offsetAt(position), context.includeDeclaration)
      .map(toLocation);
  }

  prepareRename(
    doc: vscode.TextDocument,
    position: vscode.Position,
  ): { range: vscode.Range; placeholder: string } | undefined {
    if (!this.applies(doc)) return undefined;
    const offset = doc.offsetAt(position);
    if (!this.model.siteAt(doc.uri.fsPath, doc.getText(), offset)) return undefined; // not ours: TypeScript's rename
    const p = this.model.prepareRename(doc.uri.fsPath, doc.getText(), offset);
    if ('error' in p) throw new Error(p.error);
    return {
      range: new vscode.Range(doc.positionAt(p.start), doc.positionAt(p.end)),
      placeholder: p.placeholder,
    };
  }

  provideRenameEdits(
    doc: vscode.TextDocument,
    position: vscode.Position,
    newName: string,
  ): vscode.WorkspaceEdit | undefined {
    if (!this.applies(doc)) return undefined;
    const offset = doc.offsetAt(position);
    if (!this.model.siteAt(doc.uri.fsPath, doc.getText(), offset)) return undefined;
    const r = this.model.rename(doc.uri.fsPath, doc.getText(), offset, newName);
    if ('error' in r) throw new Error(r.error);
    const edit = new vscode.WorkspaceEdit();
    for (const e of r.edits) edit.replace(vscode.Uri.file(e.file), toRange(e), e.newText);
    return edit;
  }

  provideCodeActions(
    doc: vscode.TextDocument,
    _range: vscode.Range,
    context: vscode.CodeActionContext,
  ): vscode.CodeAction[] {
    const ours = context.diagnostics.filter((d) => d.source === 'hangar' && d.code === ID_DIAGNOSTIC_CODE);
    if (!ours.length || !this.applies(doc)) return [];
    const known: IdDiagnostic[] = this.model.diagnostics(doc.uri.fsPath, doc.getText());
    const actions: vscode.CodeAction[] = [];
    for (const diag of ours) {
      const d = known.find(
        (k) => doc.offsetAt(diag.range.start) === k.start && doc.offsetAt(diag.range.end) === k.end,
      );
      if (!d?.suggestion) continue;
      const action = new vscode.CodeAction(`Change to "${d.suggestion}"`, vscode.CodeActionKind.QuickFix);
      action.edit = new vscode.WorkspaceEdit();
      action.edit.replace(doc.uri, diag.range, d.suggestion);
      action.diagnostics = [diag];
      action.isPreferred = true;
      actions.push(action);
    }
    return actions;
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.collection.dispose();
  }
}

function toRange(l: Location): vscode.Range {
  return new vscode.Range(l.start.line, l.start.character, l.end.line, l.end.character);
}

function toLocation(l: Location): vscode.Location {
  return new vscode.Location(vscode.Uri.file(l.file), toRange(l));
}
