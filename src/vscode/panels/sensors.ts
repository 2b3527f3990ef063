/**
 * The sensor panel, host side: one panel per window, answering the webview's
 * requests (src/protocol/webviews/sensors.ts) through the runtime
 * (`sensor/instances`, `sensor/detail`), opening a sensor's log, and telling the
 * webview when a task or run changed state so that it re-reads what it shows
 * (it also re-reads a live instance every second by itself: pokes made in
 * worker processes are not events). Every message from the webview is
 * validated; a malformed one is logged and dropped.
 */
import * as vscode from 'vscode';
import { SensorDetailRequest, SensorInstances } from '../../protocol/runtime.ts';
import { parseWebviewMessage } from '../../protocol/webviews/sensors.ts';
import type { HostMessage, RequestMessage, SensorTarget } from '../../protocol/webviews/sensors.ts';
import type { HangarContext } from '../context.ts';
import { logUri } from '../logs.ts';
import { webviewHtml, webviewOptions } from './webview-html.ts';

const VIEW_TYPE = 'hangar.sensors';

export class SensorPanel implements vscode.Disposable {
  private static current: SensorPanel | undefined;
  private readonly ctx: HangarContext;
  private readonly panel: vscode.WebviewPanel;
  private readonly disposables: vscode.Disposable[] = [];
  /** The instance or filter to hand over when the webview says it is ready (from the command that opened it). */
  private pendingTarget: SensorTarget | null;
  private changed = new Map<string, { dagId: string; runId: string }>();
  private changedTimer: ReturnType<typeof setTimeout> | undefined;

  /** Opens the panel (or reveals it), optionally on a sensor instance or filtered to a DAG or run. */
  static show(ctx: HangarContext, target?: SensorTarget): SensorPanel {
    const existing = SensorPanel.current;
    if (existing) {
      existing.panel.reveal();
      if (target) existing.post({ type: 'init', target });
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(VIEW_TYPE, 'Sensors', vscode.ViewColumn.Active, webviewOptions(ctx.extension.extensionUri));
    SensorPanel.current = new SensorPanel(ctx, panel, target ?? null);
    return SensorPanel.current;
  }

  private constructor(ctx: HangarContext, panel: vscode.WebviewPanel, target: SensorTarget | null) {
    this.ctx = ctx;
    this.panel = panel;
    this.pendingTarget = target;
    panel.webview.html = webviewHtml(panel.webview, ctx.extension.extensionUri, 'sensors', 'Sensors');
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m: unknown) => void this.receive(m)),
      panel.onDidDispose(() => this.dispose()),
      ctx.client.onTask.event((e) => this.scheduleChanged(e.dagId, e.runId)),
      ctx.client.onRun.event((e) => this.scheduleChanged(e.dagId, e.runId)),
      ctx.client.onDidChangeState.event((info) => {
        if (info) this.scheduleChanged('*', '*');
      }),
    );
  }

  private post(m: HostMessage): void {
    void this.panel.webview.postMessage(m);
  }

  /** Coalesces state changes (a busy run sends many) into one message per run every 250 ms. */
  private scheduleChanged(dagId: string, runId: string): void {
    if (!this.panel.visible) return; // it re-reads everything when shown again
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
      this.ctx.log.error(`Sensor panel: rejected a message from the webview: ${parsed.error}`);
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
      if (m.method !== 'detail' && m.method !== 'instances') this.ctx.log.warn(`Sensor panel: ${m.method} failed: ${message}`);
      this.post({ type: 'response', id: m.id, ok: false, error: message });
    }
  }

  private async answer(m: RequestMessage): Promise<unknown> {
    const c = this.ctx.client;
    switch (m.method) {
      case 'instances':
        return c.request(SensorInstances, { ...m.params, limit: 300 });
      case 'detail':
        return c.request(SensorDetailRequest, m.params);
      case 'dags': {
        const list = await this.ctx.dagList();
        return { dagIds: list.dags.filter((d) => d.tasks.some((t) => t.kind === 'sensor')).map((d) => d.dagId) };
      }
      case 'openLog': {
        const doc = await vscode.workspace.openTextDocument(logUri(m.params));
        await vscode.window.showTextDocument(doc, { preview: false, viewColumn: vscode.ViewColumn.Beside });
        return { opened: true };
      }
    }
  }

  dispose(): void {
    if (SensorPanel.current === this) SensorPanel.current = undefined;
    clearTimeout(this.changedTimer);
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}
