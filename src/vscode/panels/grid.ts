/**
 * The grid panel, host side: one panel per window showing one DAG's last runs
 * by its tasks. It answers the webview's requests (src/protocol/webviews/grid.ts)
 * through the runtime (`grid/data`, `task/tries`, `task/log`, `task/clear`,
 * `task/mark`), opens the XCom browser, a log or the Gantt of a run, tells the
 * webview when a task or run of its DAG changed state (coalesced, only while
 * visible: hidden, the webview is gone and re-reads everything when shown),
 * and forwards the lines of the log it last asked for while that try runs.
 * Every message from the webview is validated; a malformed one is logged and dropped.
 */
import * as vscode from 'vscode';
import { GridData, TaskClear, TaskLog, TaskMark, TaskTries } from '../../protocol/runtime.ts';
import { parseWebviewMessage } from '../../protocol/webviews/grid.ts';
import type { GridTarget, HostMessage, RequestMessage, TaskKey } from '../../protocol/webviews/grid.ts';
import type { HangarContext } from '../context.ts';
import { logUri } from '../logs.ts';
import { XComBrowserPanel } from './xcom-browser.ts';
import { webviewHtml, webviewOptions } from './webview-html.ts';

const VIEW_TYPE = 'hangar.grid';

/** Opens the Gantt of a run; set by the Gantt panel's module (so that neither imports the other). */
export const gantt: { open?: (ctx: HangarContext, dagId: string, runId: string) => void } = {};

export class GridPanel implements vscode.Disposable {
  private static current: GridPanel | undefined;
  private readonly ctx: HangarContext;
  private readonly panel: vscode.WebviewPanel;
  private readonly disposables: vscode.Disposable[] = [];
  private pendingTarget: GridTarget | null;
  /** The DAG the webview shows (from its last grid request). */
  private dagId: string | null = null;
  /**
   * The log whose new lines go to the webview: from the runtime's lines while this window's
   * runtime runs the try; a try running elsewhere (a worker, a scheduler in a terminal) sends
   * none, so its log is read again every second once nothing was heard for 2 s, and what it
   * gained is sent as lines.
   */
  private followed: (TaskKey & { tryNumber: number; running: boolean; length: number; heard: number; local: boolean }) | null = null;
  private readonly follow = setInterval(() => void this.followElsewhere(), 1000);
  private reading = false;
  private changed = new Map<string, { dagId: string; runId: string }>();
  private changedTimer: ReturnType<typeof setTimeout> | undefined;

  /** Opens the grid of a DAG (or reveals the panel and switches it), optionally on one cell. */
  static show(ctx: HangarContext, target: GridTarget): GridPanel {
    const runs = vscode.workspace.getConfiguration('hangar').get<number>('grid.runs', 25);
    if (Number.isInteger(runs) && runs >= 1 && runs <= 1000) target = { ...target, limit: runs };
    const existing = GridPanel.current;
    if (existing) {
      existing.panel.reveal();
      existing.panel.title = `Grid: ${target.dagId}`;
      existing.post({ type: 'init', target });
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(VIEW_TYPE, `Grid: ${target.dagId}`, vscode.ViewColumn.Active, webviewOptions(ctx.extension.extensionUri));
    GridPanel.current = new GridPanel(ctx, panel, target);
    return GridPanel.current;
  }

  private constructor(ctx: HangarContext, panel: vscode.WebviewPanel, target: GridTarget) {
    this.ctx = ctx;
    this.panel = panel;
    this.pendingTarget = target;
    panel.webview.html = webviewHtml(panel.webview, ctx.extension.extensionUri, 'grid', 'Grid');
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m: unknown) => void this.receive(m)),
      panel.onDidDispose(() => this.dispose()),
      ctx.client.onTask.event((e) => this.scheduleChanged(e.dagId, e.runId)),
      ctx.client.onRun.event((e) => this.scheduleChanged(e.dagId, e.runId)),
      ctx.client.onExpand.event((e) => this.scheduleChanged(e.dagId, e.runId)),
      ctx.client.onDags.event(() => this.dagId && this.scheduleChanged(this.dagId, '*')),
      ctx.client.onDidChangeState.event((info) => info && this.dagId && this.scheduleChanged(this.dagId, '*')),
      ctx.client.onLog.event((e) => {
        const f = this.followed;
        if (f && this.panel.visible && e.dagId === f.dagId && e.runId === f.runId && e.taskId === f.taskId && e.mapIndex === f.mapIndex && e.tryNumber === f.tryNumber) {
          // A line of a try this window's runtime runs: its log is never read again meanwhile.
          f.heard = Date.now();
          f.local = true;
          f.length += e.line.length;
          this.post({ type: 'logLine', dagId: e.dagId, runId: e.runId, taskId: e.taskId, mapIndex: e.mapIndex, tryNumber: e.tryNumber, line: e.line });
        }
      }),
    );
  }

  private post(m: HostMessage): void {
    void this.panel.webview.postMessage(m);
  }

  /** Coalesces state changes of the shown DAG (a busy run sends many) into one message per run every 250 ms. */
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
      this.ctx.log.error(`Grid: rejected a message from the webview: ${parsed.error}`);
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
      this.ctx.log.warn(`Grid: ${m.method} failed: ${message}`);
      this.post({ type: 'response', id: m.id, ok: false, error: message });
    }
  }

  private async answer(m: RequestMessage): Promise<unknown> {
    const c = this.ctx.client;
    switch (m.method) {
      case 'grid': {
        this.dagId = m.params.dagId;
        this.panel.title = `Grid: ${m.params.dagId}`;
        return c.request(GridData, m.params);
      }
      case 'dags': {
        const list = await this.ctx.dagList();
        return { dagIds: list.dags.map((d) => d.dagId) };
      }
      case 'tries':
        return c.request(TaskTries, m.params);
      case 'log': {
        const r = await c.request(TaskLog, m.params);
        const { dagId, runId, taskId, mapIndex } = m.params;
        this.followed = { dagId, runId, taskId, mapIndex, tryNumber: r.tryNumber, running: r.running, length: r.text.length, heard: Date.now(), local: false };
        return r;
      }
      case 'clear': {
        const p = m.params;
        const r = await c.request(TaskClear, { dagId: p.dagId, runId: p.runId, taskIds: [p.taskId], downstream: p.downstream, upstream: p.upstream, rerun: true });
        this.ctx.log.info(`Grid: cleared ${r.cleared.join(', ')} in run ${p.runId} of ${p.dagId}; running again`);
        return r;
      }
      case 'mark': {
        const p = m.params;
        const r = await c.request(TaskMark, { dagId: p.dagId, runId: p.runId, taskId: p.taskId, mapIndex: p.mapIndex, state: p.state });
        this.ctx.log.info(`Grid: marked ${p.taskId}${p.mapIndex >= 0 ? `[${p.mapIndex}]` : ''} of run ${p.runId} ${p.state}`);
        return r;
      }
      case 'openXComs': {
        const p = m.params;
        XComBrowserPanel.show(this.ctx, { dagId: p.dagId, runId: p.runId, taskId: p.taskId, ...(p.mapIndex >= 0 ? { mapIndex: p.mapIndex } : {}) });
        return { opened: true };
      }
      case 'openLog': {
        const doc = await vscode.workspace.openTextDocument(logUri(m.params));
        await vscode.window.showTextDocument(doc, { preview: false, viewColumn: vscode.ViewColumn.Beside });
        return { opened: true };
      }
      case 'openGantt': {
        if (!gantt.open) throw new Error('The Gantt view is not available');
        gantt.open(this.ctx, m.params.dagId, m.params.runId);
        return { opened: true };
      }
    }
  }

  private async followElsewhere(): Promise<void> {
    const f = this.followed;
    if (!f || !f.running || f.local || this.reading || !this.panel.visible || Date.now() - f.heard < 2000) return;
    this.reading = true;
    try {
      const { dagId, runId, taskId, mapIndex, tryNumber } = f;
      const r = await this.ctx.client.request(TaskLog, { dagId, runId, taskId, mapIndex, tryNumber });
      if (this.followed !== f) return;
      // Whole lines only: the rest waits for the next read.
      const gained = r.text.slice(f.length);
      const end = r.running ? gained.lastIndexOf('\n') + 1 : gained.length;
      for (const line of gained.slice(0, end).split('\n'))
        if (line) this.post({ type: 'logLine', dagId, runId, taskId, mapIndex, tryNumber, line });
      f.length += end;
      f.running = r.running;
    } catch {
      // The runtime restarting, the log not readable yet: the next second tries again.
    } finally {
      this.reading = false;
    }
  }

  dispose(): void {
    clearInterval(this.follow);
    if (GridPanel.current === this) GridPanel.current = undefined;
    clearTimeout(this.changedTimer);
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}
