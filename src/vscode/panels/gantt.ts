/**
 * The Gantt panel, host side: one panel per window showing a DAG's run as a
 * Gantt chart, or its task durations over the last runs. It answers the
 * webview's requests (src/protocol/webviews/gantt.ts) through the runtime
 * (`gantt/data`, `run/list`, `grid/data`), opens the grid on a task instance,
 * and tells the webview when a task or run of its DAG changed state
 * (coalesced, only while visible). Every message from the webview is
 * validated; a malformed one is logged and dropped.
 */
import * as vscode from 'vscode';
import { GanttData, GridData, RunList } from '../../protocol/runtime.ts';
import { parseWebviewMessage } from '../../protocol/webviews/gantt.ts';
import type { GanttTarget, HostMessage, RequestMessage } from '../../protocol/webviews/gantt.ts';
import type { HangarContext } from '../context.ts';
import { GridPanel, gantt } from './grid.ts';
import { webviewHtml, webviewOptions } from './webview-html.ts';

const VIEW_TYPE = 'hangar.gantt';

export class GanttPanel implements vscode.Disposable {
  private static current: GanttPanel | undefined;
  private readonly ctx: HangarContext;
  private readonly panel: vscode.WebviewPanel;
  private readonly disposables: vscode.Disposable[] = [];
  private pendingTarget: GanttTarget | null;
  private dagId: string;
  private changed = new Map<string, { dagId: string; runId: string }>();
  private changedTimer: ReturnType<typeof setTimeout> | undefined;

  /** Opens the panel on a DAG (its run, or the newest) and a view, or reveals it and switches. */
  static show(ctx: HangarContext, target: GanttTarget): GanttPanel {
    const existing = GanttPanel.current;
    if (existing) {
      existing.panel.reveal();
      existing.dagId = target.dagId;
      existing.panel.title = `Gantt: ${target.dagId}`;
      existing.post({ type: 'init', target });
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(VIEW_TYPE, `Gantt: ${target.dagId}`, vscode.ViewColumn.Active, webviewOptions(ctx.extension.extensionUri));
    GanttPanel.current = new GanttPanel(ctx, panel, target);
    return GanttPanel.current;
  }

  private constructor(ctx: HangarContext, panel: vscode.WebviewPanel, target: GanttTarget) {
    this.ctx = ctx;
    this.panel = panel;
    this.pendingTarget = target;
    this.dagId = target.dagId;
    panel.webview.html = webviewHtml(panel.webview, ctx.extension.extensionUri, 'gantt', 'Gantt');
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m: unknown) => void this.receive(m)),
      panel.onDidDispose(() => this.dispose()),
      ctx.client.onTask.event((e) => this.scheduleChanged(e.dagId, e.runId)),
      ctx.client.onRun.event((e) => this.scheduleChanged(e.dagId, e.runId)),
      ctx.client.onExpand.event((e) => this.scheduleChanged(e.dagId, e.runId)),
      ctx.client.onDidChangeState.event((info) => info && this.scheduleChanged(this.dagId, '*')),
    );
  }

  private post(m: HostMessage): void {
    void this.panel.webview.postMessage(m);
  }

  private scheduleChanged(dagId: string, runId: string): void {
    if (!this.panel.visible || dagId !== this.dagId) return;
    this.changed.set(`${dagId}\u0000${runId}`, { dagId, runId });
    if (this.changedTimer) return;
    this.changedTimer = setTimeout(() => {
      this.changedTimer = undefined;
      const all = [...this.changed.values()];
      this.changed.clear();
      for (const c of all) this.post({ type: 'changed', dagId: c.dagId, runId: c.runId });
    }, 250);
  }

  private async receive(raw: unknown): Promise<void> {
    const parsed = parseWebviewMessage(raw);
    if (!parsed.ok) {
      this.ctx.log.error(`Gantt: rejected a message from the webview: ${parsed.error}`);
      return;
    }
    const m = parsed.value;
    if (m.type === 'ready') {
      this.post({ type: 'init', target: this.pendingTarget });
      this.pendingTarget = null;
      return;
    }
    try {
      const result = await this.answer(m);
      this.post({ type: 'response', id: m.id, ok: true, result });
    } catch (err) {
      const message = (err as Error).message;
      this.ctx.log.warn(`Gantt: ${m.method} failed: ${message}`);
      this.post({ type: 'response', id: m.id, ok: false, error: message });
    }
  }

  private async answer(m: RequestMessage): Promise<unknown> {
    const c = this.ctx.client;
    switch (m.method) {
      case 'gantt':
        this.dagId = m.params.dagId;
        return c.request(GanttData, m.params);
      case 'runs': {
        const runs = await c.request(RunList, { dagId: m.params.dagId, limit: 100 });
        return { runs: runs.map((r) => ({ runId: r.runId, state: r.state, logicalDate: r.logicalDate })) };
      }
      case 'durations':
        this.dagId = m.params.dagId;
        return c.request(GridData, { dagId: m.params.dagId, limit: m.params.limit });
      case 'openGrid': {
        const p = m.params;
        GridPanel.show(this.ctx, { dagId: p.dagId, cell: p });
        return { opened: true };
      }
    }
  }

  dispose(): void {
    if (GanttPanel.current === this) GanttPanel.current = undefined;
    clearTimeout(this.changedTimer);
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}

// The grid's detail pane opens the Gantt of a run through this hook (so that grid.ts need not import this file).
gantt.open = (ctx, dagId, runId) => void GanttPanel.show(ctx, { dagId, runId, view: 'gantt' });
