/**
 * The DAG graph panel, host side: one panel per window showing one DAG and one
 * of its runs (the latest by default, following new runs while it shows the
 * latest). It pushes the DAG, its runs and the run's task instances to the
 * webview (src/protocol/webviews/dag-graph.ts), again when task or run states
 * change, and answers the node menu: open a log, the XCom browser filtered to
 * the task, the task's source line. Every message from the webview is
 * validated; a malformed one is logged and dropped.
 */
import * as vscode from 'vscode';
import { RunList, TaskList } from '../../protocol/runtime.ts';
import type { DagInfo, RunInfo, TaskInstanceInfo } from '../../protocol/runtime.ts';
import { parseWebviewMessage } from '../../protocol/webviews/dag-graph.ts';
import type { GraphGroup, GraphInstance, GraphTask, HostMessage, WebviewMessage } from '../../protocol/webviews/dag-graph.ts';
import type { HangarContext } from '../context.ts';
import { logUri } from '../logs.ts';
import { stateText } from '../runs-model.ts';
import { XComBrowserPanel } from './xcom-browser.ts';
import { webviewHtml, webviewOptions } from './webview-html.ts';

const VIEW_TYPE = 'hangar.dagGraph';
const RUNS_SHOWN = 50;

export function graphTasks(dag: DagInfo): GraphTask[] {
  return dag.tasks.map((t) => ({ taskId: t.taskId, kind: t.kind, upstream: t.upstream, mapped: t.mapped, line: t.position?.line ?? null, ...(t.role ? { role: t.role } : {}), ...(t.group ? { group: t.group } : {}) }));
}
export function graphGroups(dag: DagInfo): GraphGroup[] {
  return (dag.groups ?? []).map((g) => ({ groupId: g.groupId, label: g.label, parent: g.parent, tooltip: g.tooltip }));
}
function graphInstances(tis: TaskInstanceInfo[]): GraphInstance[] {
  return tis.map((t) => ({ taskId: t.taskId, mapIndex: t.mapIndex, state: t.state }));
}

export class DagGraphPanel implements vscode.Disposable {
  private static current: DagGraphPanel | undefined;
  private readonly ctx: HangarContext;
  private readonly panel: vscode.WebviewPanel;
  private readonly disposables: vscode.Disposable[] = [];
  /** The DAG to show when the webview is ready (from the command that opened it). */
  private pendingDag: string | null;
  private dagId: string | null = null;
  private runId: string | null = null;
  /** Whether the shown run is the latest: a new run of the DAG then replaces it. */
  private followLatest = true;
  private knownRuns = new Set<string>();
  private instancesTimer: ReturnType<typeof setTimeout> | undefined;
  private reloadTimer: ReturnType<typeof setTimeout> | undefined;

  /** Opens the graph of a DAG (or reveals the panel and switches it to that DAG). */
  static show(ctx: HangarContext, dagId: string): DagGraphPanel {
    const existing = DagGraphPanel.current;
    if (existing) {
      existing.panel.reveal();
      existing.followLatest = true;
      void existing.load(dagId, null);
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(VIEW_TYPE, `Graph: ${dagId}`, vscode.ViewColumn.Active, webviewOptions(ctx.extension.extensionUri));
    DagGraphPanel.current = new DagGraphPanel(ctx, panel, dagId);
    return DagGraphPanel.current;
  }

  private constructor(ctx: HangarContext, panel: vscode.WebviewPanel, dagId: string) {
    this.ctx = ctx;
    this.panel = panel;
    this.pendingDag = dagId;
    panel.webview.html = webviewHtml(panel.webview, ctx.extension.extensionUri, 'dag-graph', 'DAG Graph');
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m: unknown) => void this.receive(m)),
      panel.onDidDispose(() => this.dispose()),
      ctx.client.onTask.event((e) => {
        if (e.dagId === this.dagId && e.runId === this.runId) this.scheduleInstances();
      }),
      ctx.client.onExpand.event((e) => {
        if (e.dagId === this.dagId && e.runId === this.runId) this.scheduleInstances();
      }),
      ctx.client.onRun.event((e) => {
        if (e.dagId !== this.dagId) return;
        if (this.followLatest && !this.knownRuns.has(e.runId)) this.scheduleReload(null);
        else this.scheduleReload(this.runId);
      }),
      ctx.client.onDags.event(() => this.scheduleReload(this.runId)),
      // An unsaved buffer's structure (live structure) was parsed, or the buffer went back to the saved file.
      ctx.live.onDidChange(() => this.scheduleReload(this.runId)),
      ctx.client.onDidChangeState.event((info) => {
        if (info) this.scheduleReload(this.runId);
      }),
    );
  }

  private post(m: HostMessage): void {
    void this.panel.webview.postMessage(m);
  }

  private scheduleInstances(): void {
    if (!this.panel.visible) return; // the webview asks again when shown
    clearTimeout(this.instancesTimer);
    this.instancesTimer = setTimeout(() => void this.sendInstances(), 150);
  }

  private scheduleReload(runId: string | null): void {
    if (!this.panel.visible || !this.dagId) return;
    clearTimeout(this.reloadTimer);
    const dagId = this.dagId;
    this.reloadTimer = setTimeout(() => void this.load(dagId, runId), 300);
  }

  private async sendInstances(): Promise<void> {
    const { dagId, runId } = this;
    if (!dagId || !runId) return;
    try {
      const tis = await this.ctx.client.request(TaskList, { dagId, runId });
      if (dagId === this.dagId && runId === this.runId) this.post({ type: 'instances', runId, instances: graphInstances(tis) });
    } catch (err) {
      this.ctx.log.warn(`DAG graph: task states of run ${runId} failed: ${(err as Error).message}`);
    }
  }

  private async dag(dagId: string): Promise<DagInfo> {
    const list = await this.ctx.dagList();
    const dag = list.dags.find((d) => d.dagId === dagId);
    if (!dag) throw new Error(`No DAG "${dagId}" is loaded${list.errors.some((e) => e.dagId === dagId) ? ' (its file failed to load: see the Problems panel)' : ''}`);
    return dag;
  }

  /** Sends the DAG, its runs and the task instances of `runId` (null: the latest run). */
  private async load(dagId: string, runId: string | null): Promise<void> {
    try {
      const dag = await this.dag(dagId);
      const runs: RunInfo[] = await this.ctx.client.request(RunList, { dagId, limit: RUNS_SHOWN });
      const run = runs.find((r) => r.runId === runId) ?? runs[0];
      const tis = run ? await this.ctx.client.request(TaskList, { dagId, runId: run.runId }) : [];
      this.dagId = dagId;
      this.runId = run?.runId ?? null;
      this.followLatest = !run || run.runId === runs[0]?.runId;
      this.knownRuns = new Set(runs.map((r) => r.runId));
      this.panel.title = `Graph: ${dagId}${this.ctx.liveList?.unsaved.has(dagId) ? ' (unsaved)' : ''}`;
      this.post({
        type: 'graph',
        dagId,
        tasks: graphTasks(dag),
        ...(dag.groups?.length ? { groups: graphGroups(dag) } : {}),
        runs: runs.map((r) => ({ runId: r.runId, state: r.state, logicalDate: r.logicalDate })),
        runId: this.runId,
        instances: graphInstances(tis),
      });
    } catch (err) {
      const message = (err as Error).message;
      this.ctx.log.warn(`DAG graph: loading ${dagId} failed: ${message}`);
      this.post({ type: 'error', message });
    }
  }

  private async receive(raw: unknown): Promise<void> {
    const parsed = parseWebviewMessage(raw);
    if (!parsed.ok) {
      this.ctx.log.error(`DAG graph: rejected a message from the webview: ${parsed.error}`);
      return;
    }
    const m = parsed.value;
    try {
      await this.handle(m);
    } catch (err) {
      const message = (err as Error).message;
      this.ctx.log.warn(`DAG graph: ${m.type} failed: ${message}`);
      void vscode.window.showErrorMessage(`Hangar: ${message}`);
    }
  }

  private async handle(m: WebviewMessage): Promise<void> {
    switch (m.type) {
      case 'ready': {
        const dagId = this.pendingDag ?? this.dagId ?? m.dagId;
        // Shown again (the webview was rebuilt): the same run, or the latest if it was following the latest.
        const runId = this.pendingDag || (this.dagId && this.followLatest) ? null : (this.runId ?? m.runId);
        this.pendingDag = null;
        if (dagId) await this.load(dagId, runId);
        else this.post({ type: 'error', message: 'No DAG chosen: use "Hangar: Show DAG Graph"' });
        return;
      }
      case 'selectRun':
        if (this.dagId) await this.load(this.dagId, m.runId);
        return;
      case 'openLog':
        return this.openLog(m.taskId, m.mapIndex);
      case 'showXComs': {
        if (!this.dagId || !this.runId) throw new Error('No run is shown');
        XComBrowserPanel.show(this.ctx, { dagId: this.dagId, runId: this.runId, taskId: m.taskId, ...(m.mapIndex !== null ? { mapIndex: m.mapIndex } : {}) });
        return;
      }
      case 'goToSource': {
        if (!this.dagId) return;
        const task = (await this.dag(this.dagId)).tasks.find((t) => t.taskId === m.taskId);
        if (!task) throw new Error(`DAG ${this.dagId} has no task "${m.taskId}"`);
        if (!task.position) throw new Error(`The source line of task ${m.taskId} is not known`);
        const pos = new vscode.Position(Math.max(0, task.position.line - 1), Math.max(0, task.position.column - 1));
        const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(task.position.file));
        await vscode.window.showTextDocument(doc, { viewColumn: vscode.ViewColumn.One, selection: new vscode.Range(pos, pos), preview: false });
        return;
      }
    }
  }

  private async openLog(taskId: string, mapIndex: number | null): Promise<void> {
    const { dagId, runId } = this;
    if (!dagId || !runId) throw new Error('No run is shown');
    const tis = (await this.ctx.client.request(TaskList, { dagId, runId })).filter((t) => t.taskId === taskId && (mapIndex === null || t.mapIndex === mapIndex));
    const tried = tis.filter((t) => t.tryNumber > 0);
    if (tried.length === 0) throw new Error(`Task ${taskId}${mapIndex !== null ? `[${mapIndex}]` : ''} has not run in ${runId}, so it has no log`);
    let ti = tried[0]!;
    if (tried.length > 1) {
      const pick = await vscode.window.showQuickPick(
        tried.map((t) => ({ label: `${t.taskId}[${t.mapIndex}]`, description: `${stateText(t.state)} · try ${t.tryNumber}`, ti: t })),
        { placeHolder: `Choose a map index of ${taskId}` },
      );
      if (!pick) return;
      ti = pick.ti;
    }
    const doc = await vscode.workspace.openTextDocument(logUri({ dagId, runId, taskId: ti.taskId, mapIndex: ti.mapIndex }));
    await vscode.window.showTextDocument(doc, { preview: false, viewColumn: vscode.ViewColumn.Beside });
  }

  dispose(): void {
    if (DagGraphPanel.current === this) DagGraphPanel.current = undefined;
    clearTimeout(this.instancesTimer);
    clearTimeout(this.reloadTimer);
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}
