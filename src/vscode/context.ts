/**
 * One object that owns what the extension creates: the extension-lifetime
 * disposables (VS Code's `context.subscriptions`) and, through the runtime
 * client, the connection-lifetime ones. Features reach each other through it.
 */
import { existsSync } from 'node:fs';
import { join, relative, isAbsolute } from 'node:path';
import * as vscode from 'vscode';
import { DagList, SchedulerSet } from '../protocol/runtime.ts';
import type { DagListResult, RunInfo } from '../protocol/runtime.ts';
import { DagAuthoring } from './authoring.ts';
import { LiveStructure } from './live.ts';
import type { LiveList } from './live-model.ts';
import { RuntimeClient } from './client.ts';
import { configFromSettings, schedulerStatus } from './dags-model.ts';
import { LogDocuments } from './logs.ts';
import { RunWatcher } from './run-watcher.ts';
import { Secrets } from './secrets.ts';
import { DagCodeLens, DagsTree, LoadDiagnostics, RunsTree } from './views.ts';
import { RenderedDocuments } from './render.ts';

export class HangarContext implements vscode.Disposable {
  readonly extension: vscode.ExtensionContext;
  readonly log: vscode.LogOutputChannel;
  /** The workspace folder Hangar works in (the first one), if any. */
  readonly workspace: string | undefined;
  readonly client: RuntimeClient;
  readonly secrets: Secrets;
  readonly dags: DagsTree;
  readonly runs: RunsTree;
  readonly diagnostics: LoadDiagnostics;
  readonly codeLens: DagCodeLens;
  readonly logs: LogDocuments;
  readonly watcher: RunWatcher;
  readonly schedulerItem: vscode.StatusBarItem;
  /** Completion, definition, references, rename and Problems at the id strings of DAG files. */
  readonly authoring: DagAuthoring;
  /** The structure of unsaved DAG file buffers (trusted workspaces): laid over the saved list. */
  readonly live: LiveStructure;
  /** `hangar-render:` documents: a task's templates rendered for a logical date. */
  readonly rendered: RenderedDocuments;
  private list: Promise<DagListResult> | undefined;
  /** The runtime's last `dag/list` (the saved files). */
  lastList: DagListResult | undefined;
  /** What the trees, the graph and the Problems panel show: lastList with the unsaved buffers' structure. */
  liveList: LiveList | undefined;

  constructor(extension: vscode.ExtensionContext, log: vscode.LogOutputChannel) {
    this.extension = extension;
    this.log = log;
    this.workspace = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === 'file')?.uri.fsPath;
    this.secrets = new Secrets(extension.secrets, this.workspace ?? '');
    this.client = new RuntimeClient({
      serverPath: extension.asAbsolutePath(join('dist', 'runtime', 'server.mjs')),
      workspace: this.workspace ?? '',
      log,
      nodePath: () =>
        vscode.workspace.getConfiguration('hangar').get<string>('runtime.nodePath')?.trim() ||
        process.execPath,
      config: () => {
        const c = vscode.workspace.getConfiguration('hangar');
        return configFromSettings((k) => c.get(k));
      },
      secrets: () => this.secrets.forRuntime(),
      env: () => this.secrets.deploymentEnv(),
      scheduler: () => this.schedulerEnabled,
    });
    this.schedulerItem = vscode.window.createStatusBarItem(
      'hangar.scheduler',
      vscode.StatusBarAlignment.Left,
      0,
    );
    this.schedulerItem.name = 'Hangar Scheduler';
    this.schedulerItem.command = 'hangar.toggleScheduler';
    this.dags = new DagsTree(this);
    this.runs = new RunsTree(this);
    this.diagnostics = new LoadDiagnostics();
    this.codeLens = new DagCodeLens(this);
    this.logs = new LogDocuments(this.client);
    this.watcher = new RunWatcher(this);
    this.authoring = new DagAuthoring(this);
    this.live = new LiveStructure(this);
    this.rendered = new RenderedDocuments(this.client);
    this.updateSchedulerItem();
    this.subscriptions.push(
      this.runs,
      this.schedulerItem,
      this.client,
      this.diagnostics,
      this.logs,
      this.watcher,
      this.client.onDags.event((l) => this.setList(l)),
      this.client.onKeyUsage.event((e) => {
        void vscode.window.showWarningMessage(`Hangar: ${e.message}`, 'Rotate Encryption Key').then((pick) => {
          if (pick) void vscode.commands.executeCommand('hangar.rotateEncryptionKey');
        });
      }),
      this.client.onRun.event((e) => this.runs.touch(this.runs.model.applyRun(e))),
      this.client.onTask.event((e) => this.runs.touch(this.runs.model.applyTask(e))),
      this.client.onExpand.event((e) => {
        const entry = this.runs.model.get(e.dagId, e.runId);
        if (entry) entry.tasks = undefined; // refetch: the mapped task now has instances
        this.runs.touch({ kind: 'run', key: `${e.dagId}\u0000${e.runId}` });
      }),
      this.client.onDidChangeState.event((info) => {
        // A new connection (or none): everything cached from the old one is stale.
        this.list = undefined;
        if (info) {
          this.dags.refresh();
          this.runs.refresh();
          this.codeLens.refresh();
        }
      }),
    );
  }

  /** The `hangar.scheduler.enabled` setting (off by default; the toggle sets it for the workspace). */
  get schedulerEnabled(): boolean {
    return (
      vscode.workspace.isTrusted &&
      !!this.workspace &&
      vscode.workspace.getConfiguration('hangar').get<boolean>('scheduler.enabled', false)
    );
  }

  updateSchedulerItem(): void {
    if (!vscode.workspace.isTrusted || !this.workspace) {
      this.schedulerItem.hide();
      return;
    }
    const s = schedulerStatus(this.schedulerEnabled);
    this.schedulerItem.text = s.text;
    this.schedulerItem.tooltip = s.tooltip;
    this.schedulerItem.show();
  }

  /** Applies the setting: tells a running runtime, or starts the runtime when the scheduler was turned on. */
  async applyScheduler(): Promise<void> {
    this.updateSchedulerItem();
    const enabled = this.schedulerEnabled;
    if (this.client.isRunning) {
      const r = await this.client.request(SchedulerSet, { enabled });
      this.log.info(`Scheduler ${r.enabled ? 'on: scheduled DAGs run while this window is open' : 'off'}`);
    } else if (enabled && this.isHangarWorkspace) {
      await this.client.ensure(); // the start turns it on
    }
  }

  get subscriptions(): vscode.Disposable[] {
    return this.extension.subscriptions;
  }

  /** The DAG list, loading the DAG files (and starting the runtime) on first use. */
  dagList(): Promise<DagListResult> {
    if (!vscode.workspace.isTrusted)
      return Promise.reject(
        new Error('Hangar does not load DAG files in Restricted Mode; trust the workspace first'),
      );
    if (!this.workspace) return Promise.reject(new Error('Open a folder with DAG files first'));
    this.list ??= this.client.request(DagList, {}).then(
      (l) => {
        this.setList(l, false);
        return this.liveList ?? l;
      },
      (err: unknown) => {
        this.list = undefined;
        throw err;
      },
    );
    return this.list;
  }

  /** Re-reads DAG files (after a save); the server answers and also notifies dag/didLoad. */
  async reload(): Promise<DagListResult> {
    const l = await this.client.request(DagList, { reload: true });
    this.setList(l);
    return l;
  }

  private setList(l: DagListResult, refreshTrees = true): void {
    this.lastList = l;
    this.authoring.setList(l);
    this.publishLive(refreshTrees);
  }

  /** Shows the saved list with the unsaved buffers' structure laid over it (after a load, or a buffer's parse). */
  publishLive(refreshTrees = true): void {
    const saved = this.lastList;
    if (!saved) return;
    const l = this.live.apply(saved);
    this.liveList = l;
    this.list = Promise.resolve(l);
    this.diagnostics.update(l);
    if (refreshTrees) {
      this.dags.refresh();
      this.codeLens.refresh();
    }
    this.live.fireChanged();
    void vscode.commands.executeCommand('setContext', 'hangar.loadErrors', l.errors.length);
  }

  /** Whether a file is under the DAG folder (or, before the runtime said where that is, under `dags/`). */
  isDagFile(uri: vscode.Uri): boolean {
    if (uri.scheme !== 'file' || !this.workspace || !/\.(ts|mts|js|mjs)$/.test(uri.fsPath)) return false;
    const folder =
      this.client.info?.dagsFolder ??
      join(this.workspace, vscode.workspace.getConfiguration('hangar').get<string>('dagsFolder') || 'dags');
    const rel = relative(folder, uri.fsPath);
    return !!rel && !rel.startsWith('..') && !isAbsolute(rel);
  }

  /** Whether this folder looks like a Hangar workspace (so saving a DAG file may start the runtime). */
  get isHangarWorkspace(): boolean {
    return (
      !!this.workspace &&
      (existsSync(join(this.workspace, 'hangar.json')) || existsSync(join(this.workspace, 'dags')))
    );
  }

  /** Called when a run was started from this window: show it expanded, follow it with progress. */
  followRun(run: RunInfo, title?: string): void {
    this.runs.expandOnNextShow(run.dagId, run.runId);
    this.runs.touch(this.runs.model.addRun(run));
    this.watcher.follow(run, title);
  }

  dispose(): void {
    /* the subscriptions are disposed by VS Code */
  }
}
