/**
 * The trigger form, host side ("Run DAG with Config…"): one panel per window holding a
 * form built from a DAG's params (src/protocol/webviews/trigger-form.ts). It sends the
 * webview the DAG and its recent configurations, triggers the run the form asks for
 * through the runtime (`dag/run`, as "Run DAG" does: the runtime checks the conf against
 * the params again and refuses a bad one), follows the run, and keeps the last
 * configurations of each DAG in the workspace state. Every message from the webview is
 * validated; a malformed one is logged and dropped.
 */
import * as vscode from 'vscode';
import { DagRun } from '../../protocol/runtime.ts';
import type { DagInfo } from '../../protocol/runtime.ts';
import { MAX_RECENT, parseWebviewMessage, readRecent } from '../../protocol/webviews/trigger.ts';
import type { HostMessage, RecentConf, RequestMessage, TriggerDag } from '../../protocol/webviews/trigger.ts';
import { pushRecent } from '../../protocol/webviews/trigger-form.ts';
import type { HangarContext } from '../context.ts';
import { webviewHtml, webviewOptions } from './webview-html.ts';

const VIEW_TYPE = 'hangar.trigger';
const recentKey = (dagId: string) => `hangar.trigger.recent.${dagId}`;

function triggerDag(dag: DagInfo): TriggerDag {
  return { dagId: dag.dagId, description: dag.description, params: dag.params ?? [] };
}

export class TriggerPanel implements vscode.Disposable {
  private static current: TriggerPanel | undefined;
  private readonly ctx: HangarContext;
  private readonly panel: vscode.WebviewPanel;
  private readonly disposables: vscode.Disposable[] = [];
  private dag: TriggerDag;
  /** The next `init` starts the form from the defaults (opened from the command), not from what the webview kept. */
  private fresh = true;

  /** Opens the form on a DAG, or reveals it and switches to that DAG. */
  static show(ctx: HangarContext, dag: DagInfo): TriggerPanel {
    const existing = TriggerPanel.current;
    if (existing) {
      existing.dag = triggerDag(dag);
      existing.panel.title = `Trigger: ${dag.dagId}`;
      existing.panel.reveal();
      existing.fresh = false;
      existing.post({ type: 'init', dag: existing.dag, recent: existing.recent(dag.dagId), fresh: true });
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(
      VIEW_TYPE,
      `Trigger: ${dag.dagId}`,
      vscode.ViewColumn.Active,
      webviewOptions(ctx.extension.extensionUri),
    );
    TriggerPanel.current = new TriggerPanel(ctx, panel, triggerDag(dag));
    return TriggerPanel.current;
  }

  private constructor(ctx: HangarContext, panel: vscode.WebviewPanel, dag: TriggerDag) {
    this.ctx = ctx;
    this.panel = panel;
    this.dag = dag;
    panel.webview.html = webviewHtml(panel.webview, ctx.extension.extensionUri, 'trigger', 'Trigger DAG');
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m: unknown) => void this.receive(m)),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  private post(m: HostMessage): void {
    void this.panel.webview.postMessage(m);
  }

  /** The DAG's recent configurations; a malformed stored list (another version's) is dropped with a warning. */
  private recent(dagId: string): RecentConf[] {
    const raw = this.ctx.extension.workspaceState.get<unknown>(recentKey(dagId), []);
    const parsed = readRecent(raw);
    if (parsed.ok) return parsed.value;
    this.ctx.log.warn(`Trigger: ignored the stored recent configurations of ${dagId}: ${parsed.error}`);
    return [];
  }

  private async receive(raw: unknown): Promise<void> {
    const parsed = parseWebviewMessage(raw);
    if (!parsed.ok) {
      this.ctx.log.error(`Trigger: rejected a message from the webview: ${parsed.error}`);
      return;
    }
    const m = parsed.value;
    if (m.type === 'ready') {
      // Shown again (the webview is rebuilt): re-read the DAG, whose params may have changed since.
      if (!this.fresh) {
        const now = (await this.ctx.dagList().catch(() => undefined))?.dags.find(
          (d) => d.dagId === this.dag.dagId,
        );
        if (now) this.dag = triggerDag(now);
      }
      this.post({ type: 'init', dag: this.dag, recent: this.recent(this.dag.dagId), fresh: this.fresh });
      this.fresh = false;
      return;
    }
    try {
      const result = await this.answer(m);
      this.post({ type: 'response', id: m.id, ok: true, result });
    } catch (err) {
      const message = (err as Error).message;
      this.ctx.log.warn(`Trigger: ${m.method} failed: ${message}`);
      this.post({ type: 'response', id: m.id, ok: false, error: message });
    }
  }

  private async answer(m: RequestMessage): Promise<unknown> {
    switch (m.method) {
      case 'trigger': {
        const { dagId, conf, logicalDate } = m.params;
        const run = await this.ctx.client.request(DagRun, {
          dagId,
          conf,
          ...(logicalDate ? { logicalDate } : {}),
        });
        this.ctx.log.info(`Triggered run ${run.runId} of ${dagId} from the trigger form`);
        this.ctx.followRun(run);
        const recent = pushRecent(this.recent(dagId), { conf, at: new Date().toISOString() }, MAX_RECENT);
        await this.ctx.extension.workspaceState.update(recentKey(dagId), recent);
        this.post({ type: 'recent', dagId, recent });
        return { runId: run.runId, logicalDate: run.logicalDate };
      }
    }
  }

  dispose(): void {
    if (TriggerPanel.current === this) TriggerPanel.current = undefined;
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}
