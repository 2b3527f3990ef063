/**
 * The sidebar (DAGs and Runs trees), Problems-panel diagnostics and CodeLens.
 * Their logic lives in dags-model.ts / runs-model.ts; this file only maps it to vscode.
 */
import * as vscode from 'vscode';
import { renderCodeLenses } from './render.ts';
import type { DagInfo, DagListResult, FileTiming, LoadError, TaskGroupInfo, TaskInfo, TaskInstanceInfo } from '../protocol/runtime.ts';
import { RunList, TaskList } from '../protocol/runtime.ts';
import { liveTooltip } from './live-model.ts';
import { assetRows, dagDescription, dagTooltip, dagTreeChildren, diagnosticsByFile, groupDescription, lensesForFile, taskDescription, taskKindIcon, taskLabel } from './dags-model.ts';
import type { AssetRow } from './dags-model.ts';
import { RunsModel, runKey, runRow, stateIcon, taskInstanceRow } from './runs-model.ts';
import type { RunEntry } from './runs-model.ts';
import type { HangarContext } from './context.ts';

function icon(i: { id: string; color?: string }): vscode.ThemeIcon {
  return new vscode.ThemeIcon(i.id, i.color ? new vscode.ThemeColor(i.color) : undefined);
}

// ------------------------------------------------------------------ DAGs

export type DagNode =
  | { type: 'dag'; dag: DagInfo; timing?: FileTiming; live?: { unsaved: boolean; tooltip: string } }
  | { type: 'task'; dag: DagInfo; task: TaskInfo }
  | { type: 'asset'; dag: DagInfo; row: AssetRow }
  | { type: 'group'; dag: DagInfo; group: TaskGroupInfo; taskCount: number }
  | { type: 'error'; error: LoadError }
  | { type: 'message'; text: string; tooltip?: string };

export class DagsTree implements vscode.TreeDataProvider<DagNode> {
  private readonly changed = new vscode.EventEmitter<DagNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private readonly ctx: HangarContext;

  constructor(ctx: HangarContext) {
    this.ctx = ctx;
  }

  refresh(): void {
    this.changed.fire(undefined);
  }

  async getChildren(node?: DagNode): Promise<DagNode[]> {
    if (!vscode.workspace.isTrusted || !this.ctx.workspace) return []; // the welcome view explains
    if (node?.type === 'dag' || node?.type === 'group') {
      const dag = node.dag;
      // A DAG's asset rows come before its tasks and groups.
      const assets: DagNode[] = node.type === 'dag' ? assetRows(dag).map((row) => ({ type: 'asset', dag, row })) : [];
      return [...assets, ...dagTreeChildren(dag, node.type === 'group' ? node.group.groupId : null).map((c): DagNode => (c.type === 'task' ? { type: 'task', dag, task: c.task } : { type: 'group', dag, group: c.group, taskCount: c.taskCount }))];
    }
    if (node) return [];
    let list: DagListResult;
    try {
      list = await this.ctx.dagList();
    } catch (err) {
      return [{ type: 'message', text: `Runtime error: ${(err as Error).message}`, tooltip: 'See the "Hangar" output channel' }];
    }
    const timing = new Map(list.timings.map((t) => [t.file, t]));
    const liveList = this.ctx.liveList;
    const nodes: DagNode[] = list.dags.map((dag) => {
      const tip = liveList && list === liveList ? liveTooltip(dag.dagId, dag.file, liveList) : undefined;
      return { type: 'dag', dag, timing: timing.get(dag.file), ...(tip ? { live: { unsaved: liveList!.unsaved.has(dag.dagId), tooltip: tip } } : {}) };
    });
    for (const error of list.errors) nodes.push({ type: 'error', error });
    // No DAG file at all: the welcome view offers New DAG… (package.json viewsWelcome, when hangar.noDags).
    void vscode.commands.executeCommand('setContext', 'hangar.noDags', nodes.length === 0);
    return nodes;
  }

  getTreeItem(node: DagNode): vscode.TreeItem {
    switch (node.type) {
      case 'dag': {
        const item = new vscode.TreeItem(node.dag.dagId, vscode.TreeItemCollapsibleState.Collapsed);
        item.id = `dag:${node.dag.dagId}`;
        item.description = node.live?.unsaved ? `(unsaved) · ${dagDescription(node.dag)}` : dagDescription(node.dag);
        item.tooltip = new vscode.MarkdownString(node.live ? `${node.live.tooltip}\n\n${dagTooltip(node.dag, node.timing)}` : dagTooltip(node.dag, node.timing));
        item.iconPath = new vscode.ThemeIcon(node.dag.isPaused ? 'debug-pause' : 'type-hierarchy');
        item.contextValue = 'dag';
        item.resourceUri = undefined;
        item.command = openAt(node.dag.position?.file ?? node.dag.file, node.dag.position?.line ?? 1, node.dag.position?.column ?? 1);
        return item;
      }
      case 'task': {
        const item = new vscode.TreeItem(taskLabel(node.task), vscode.TreeItemCollapsibleState.None);
        item.id = `dag:${node.dag.dagId}/task:${node.task.taskId}`;
        item.description = taskDescription(node.task);
        item.iconPath = new vscode.ThemeIcon(taskKindIcon(node.task));
        item.tooltip = `${node.task.kind} task ${node.task.taskId} of ${node.dag.dagId}${node.task.retries ? ` (${node.task.retries} retries)` : ''}`;
        item.contextValue = 'dagTask';
        if (node.task.position) item.command = openAt(node.task.position.file, node.task.position.line, node.task.position.column);
        return item;
      }
      case 'asset': {
        const item = new vscode.TreeItem(node.row.label, vscode.TreeItemCollapsibleState.None);
        item.id = `dag:${node.dag.dagId}/asset:${node.row.key}`;
        item.description = node.row.description;
        item.tooltip = node.row.tooltip;
        item.iconPath = new vscode.ThemeIcon(node.row.icon);
        item.contextValue = 'dagAsset';
        return item;
      }
      case 'group': {
        const g = node.group;
        const item = new vscode.TreeItem(g.label, vscode.TreeItemCollapsibleState.Expanded);
        item.id = `dag:${node.dag.dagId}/group:${g.groupId}`;
        item.description = groupDescription(node);
        item.iconPath = new vscode.ThemeIcon('folder');
        item.tooltip = `Task group ${g.groupId} of ${node.dag.dagId}${g.tooltip ? `: ${g.tooltip}` : ''}`;
        item.contextValue = 'dagTaskGroup';
        if (g.position) item.command = openAt(g.position.file, g.position.line, g.position.column);
        return item;
      }
      case 'error': {
        const e = node.error;
        const item = new vscode.TreeItem(vscode.workspace.asRelativePath(e.file), vscode.TreeItemCollapsibleState.None);
        item.id = `error:${e.file}:${e.line}:${e.message}`;
        item.description = 'failed to load';
        item.tooltip = e.message;
        item.iconPath = icon({ id: 'error', color: 'errorForeground' });
        item.contextValue = 'loadError';
        item.command = openAt(e.file, e.line ?? 1, e.column ?? 1);
        return item;
      }
      case 'message': {
        const item = new vscode.TreeItem(node.text, vscode.TreeItemCollapsibleState.None);
        item.tooltip = node.tooltip;
        item.iconPath = new vscode.ThemeIcon('info');
        return item;
      }
    }
  }
}

function openAt(file: string, line: number, column: number): vscode.Command {
  const pos = new vscode.Position(Math.max(0, line - 1), Math.max(0, column - 1));
  return { command: 'vscode.open', title: 'Open', arguments: [vscode.Uri.file(file), { selection: new vscode.Range(pos, pos) }] };
}

// ------------------------------------------------------------------ Runs

export type RunNode = { type: 'run'; key: string; entry: RunEntry } | { type: 'ti'; ti: TaskInstanceInfo } | { type: 'message'; text: string };

export class RunsTree implements vscode.TreeDataProvider<RunNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<RunNode | undefined>();
  /** Once a second, runs with a running task are redrawn: its row shows how long it has run. */
  private readonly ticker = setInterval(() => this.tick(), 1000);
  readonly onDidChangeTreeData = this.changed.event;
  readonly model = new RunsModel();
  private readonly ctx: HangarContext;
  private readonly runNodes = new Map<string, Extract<RunNode, { type: 'run' }>>();
  private loaded = false;
  private pending = new Set<string>();
  private flushTimer: NodeJS.Timeout | undefined;
  /** The newest run started from this window is shown expanded. */
  private expandKey: string | undefined;

  constructor(ctx: HangarContext) {
    this.ctx = ctx;
  }

  /** Refetch everything (after a restart, or on request). */
  refresh(): void {
    this.loaded = false;
    this.changed.fire(undefined);
  }

  private tick(): void {
    for (const e of this.model.list())
      if (e.tasks?.some((t) => t.state === 'running')) this.touch({ kind: 'run', key: runKey(e.run.dagId, e.run.runId) });
  }

  dispose(): void {
    clearInterval(this.ticker);
    this.changed.dispose();
  }

  expandOnNextShow(dagId: string, runId: string): void {
    this.expandKey = runKey(dagId, runId);
  }

  /** Schedules a refresh of one run's row (batched over 5 ms; VS Code itself debounces tree refreshes by 200 ms). */
  touch(change: { kind: 'none' } | { kind: 'run'; key: string } | { kind: 'root' }): void {
    if (change.kind === 'none') return;
    this.pending.add(change.kind === 'root' ? '' : change.key);
    this.flushTimer ??= setTimeout(() => {
      this.flushTimer = undefined;
      const keys = [...this.pending];
      this.pending.clear();
      this.ctx.watcher.updateStatus();
      if (keys.includes('')) {
        this.loaded = false;
        this.changed.fire(undefined);
        return;
      }
      for (const k of keys) {
        const node = this.runNodes.get(k);
        if (node?.type === 'run') {
          const entry = this.model.get(node.entry.run.dagId, node.entry.run.runId);
          if (entry) node.entry = entry;
          this.changed.fire(node);
        } else {
          this.changed.fire(undefined); // not rendered yet: render the list from the model
          break;
        }
      }
    }, 5);
  }

  async getChildren(node?: RunNode): Promise<RunNode[]> {
    if (!vscode.workspace.isTrusted || !this.ctx.workspace) return [];
    if (!node) {
      try {
        if (!this.loaded) {
          const limit = vscode.workspace.getConfiguration('hangar').get<number>('runs.limit', 20);
          this.model.setRuns(await this.ctx.client.request(RunList, { limit }));
          this.loaded = true;
        }
      } catch (err) {
        return [{ type: 'message', text: `Runtime error: ${(err as Error).message}` }];
      }
      const out: RunNode[] = this.model.list().map((entry) => {
        const key = runKey(entry.run.dagId, entry.run.runId);
        const n = { type: 'run' as const, key, entry };
        this.runNodes.set(key, n);
        return n;
      });
      return out.length ? out : [{ type: 'message', text: 'No runs yet: run a DAG from the DAGs view or the palette' }];
    }
    if (node.type !== 'run') return [];
    const { dagId, runId } = node.entry.run;
    if (!node.entry.tasks) {
      try {
        this.model.setTasks(dagId, runId, await this.ctx.client.request(TaskList, { dagId, runId }));
      } catch (err) {
        return [{ type: 'message', text: `Runtime error: ${(err as Error).message}` }];
      }
    }
    return (this.model.get(dagId, runId)?.tasks ?? []).map((ti) => ({ type: 'ti', ti }));
  }

  getTreeItem(node: RunNode): vscode.TreeItem {
    if (node.type === 'message') return new vscode.TreeItem(node.text);
    if (node.type === 'run') {
      const r = node.entry.run;
      const row = runRow(r);
      const expand = this.expandKey === node.key;
      const item = new vscode.TreeItem(row.label, expand ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed);
      item.id = `run:${node.key}`;
      item.description = row.description;
      item.tooltip = row.tooltip;
      item.iconPath = icon(stateIcon(r.state));
      item.contextValue = r.state === 'running' || r.state === 'queued' ? 'run.active' : r.state === 'failed' ? 'run.failed' : 'run';
      item.accessibilityInformation = { label: `${r.dagId} run ${r.runId}, ${r.state}` };
      return item;
    }
    const ti = node.ti;
    const row = taskInstanceRow(ti);
    const item = new vscode.TreeItem(row.label, vscode.TreeItemCollapsibleState.None);
    item.id = `ti:${runKey(ti.dagId, ti.runId)}/${ti.taskId}/${ti.mapIndex}`;
    item.description = row.description;
    item.tooltip = row.tooltip;
    item.iconPath = icon(stateIcon(ti.state));
    // `taskInstance[.tried][.sensor]`: menus match on the prefix, the log on `.tried`, the sensor panel on `.sensor`.
    item.contextValue = `taskInstance${ti.tryNumber > 0 ? '.tried' : ''}${ti.operator === 'sensor' ? '.sensor' : ''}`;
    item.accessibilityInformation = { label: `${row.label}, ${row.description}` };
    if (ti.tryNumber > 0) item.command = { command: 'hangar.openLog', title: 'Open Log', arguments: [node] };
    return item;
  }
}

// ------------------------------------------------------------------ diagnostics

export class LoadDiagnostics implements vscode.Disposable {
  private readonly collection = vscode.languages.createDiagnosticCollection('hangar');

  update(list: DagListResult): void {
    this.collection.clear();
    const all = new Map<string, vscode.Diagnostic[]>();
    const add = (errors: readonly LoadError[], severity: vscode.DiagnosticSeverity) => {
      for (const [file, diags] of diagnosticsByFile(errors)) {
        const out = all.get(file) ?? [];
        for (const d of diags) {
          const pos = new vscode.Position(d.line, d.column);
          const diag = new vscode.Diagnostic(new vscode.Range(pos, pos.translate(0, 1)), d.message, severity);
          diag.source = 'hangar';
          out.push(diag);
        }
        all.set(file, out);
      }
    };
    add(list.errors, vscode.DiagnosticSeverity.Error);
    // Imports over the parse budget (parseBudgetMs): at the slow statement.
    add(list.warnings ?? [], vscode.DiagnosticSeverity.Warning);
    for (const [file, diags] of all) this.collection.set(vscode.Uri.file(file), diags);
  }

  clear(): void {
    this.collection.clear();
  }

  dispose(): void {
    this.collection.dispose();
  }
}

// ------------------------------------------------------------------ CodeLens

export class DagCodeLens implements vscode.CodeLensProvider {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.changed.event;
  private readonly ctx: HangarContext;

  constructor(ctx: HangarContext) {
    this.ctx = ctx;
  }

  refresh(): void {
    this.changed.fire();
  }

  async provideCodeLenses(doc: vscode.TextDocument): Promise<vscode.CodeLens[]> {
    if (!vscode.workspace.isTrusted || !this.ctx.isDagFile(doc.uri) || !doc.getText().includes('hangar')) return [];
    let list: DagListResult;
    try {
      list = await this.ctx.dagList();
    } catch {
      return [];
    }
    const lenses: vscode.CodeLens[] = [];
    for (const { dagId, line } of lensesForFile(list, doc.uri.fsPath)) {
      const range = new vscode.Range(line, 0, line, 0);
      lenses.push(
        new vscode.CodeLens(range, { title: '$(play) Run', tooltip: `Run DAG ${dagId}`, command: 'hangar.runDag', arguments: [dagId] }),
        new vscode.CodeLens(range, { title: '$(debug-alt) Debug', tooltip: `Debug DAG ${dagId} (in-process, breakpoints in this file)`, command: 'hangar.debugDag', arguments: [dagId] }),
        new vscode.CodeLens(range, { title: '$(type-hierarchy) Graph', tooltip: `Show DAG ${dagId} as a graph, coloured by its latest run`, command: 'hangar.showDagGraph', arguments: [dagId] }),
      );
    }
    lenses.push(...renderCodeLenses(list, doc.uri.fsPath));
    return lenses;
  }
}
