/**
 * The XCom browser panel, host side: one panel per window, answering the
 * webview's requests (src/protocol/webviews/xcom-browser.ts) through the runtime
 * (`xcom/query`, `xcom/read`, …). Every message from the webview is validated;
 * a malformed one is logged and dropped. Destructive actions ask first.
 * Values never go to the log.
 */
import * as vscode from 'vscode';
import { XComClearRun, XComDelete, XComFacetsRequest, XComQuery, XComRead, XComReadRaw, XComReadText, XComSweep } from '../../protocol/runtime.ts';
import { parseWebviewMessage } from '../../protocol/webviews/xcom-browser.ts';
import type { HostMessage, RequestMessage, XComFilter, XComLoc } from '../../protocol/webviews/xcom-browser.ts';
import type { HangarContext } from '../context.ts';
import { saveFileName } from '../xcom-doc-model.ts';
import { refreshXComDocuments, xcomDocuments } from './xcom-documents.ts';
import { webviewHtml, webviewOptions } from './webview-html.ts';

const VIEW_TYPE = 'hangar.xcomBrowser';

export class XComBrowserPanel implements vscode.Disposable {
  private static current: XComBrowserPanel | undefined;
  private readonly ctx: HangarContext;
  private readonly panel: vscode.WebviewPanel;
  private readonly disposables: vscode.Disposable[] = [];
  /** The filter to hand over when the webview says it is ready (from the command that opened it). */
  private pendingFilter: XComFilter | null;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;

  /** Opens the browser (or reveals it), optionally filtered. */
  static show(ctx: HangarContext, filter?: XComFilter): XComBrowserPanel {
    const existing = XComBrowserPanel.current;
    if (existing) {
      existing.panel.reveal();
      if (filter) existing.post({ type: 'init', filter });
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(VIEW_TYPE, 'XCom Browser', vscode.ViewColumn.Active, webviewOptions(ctx.extension.extensionUri));
    XComBrowserPanel.current = new XComBrowserPanel(ctx, panel, filter ?? null);
    return XComBrowserPanel.current;
  }

  private constructor(ctx: HangarContext, panel: vscode.WebviewPanel, filter: XComFilter | null) {
    this.ctx = ctx;
    this.panel = panel;
    this.pendingFilter = filter;
    panel.webview.html = webviewHtml(panel.webview, ctx.extension.extensionUri, 'xcom-browser', 'XCom Browser');
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m: unknown) => void this.receive(m)),
      panel.onDidDispose(() => this.dispose()),
      ctx.client.onRun.event((e) => {
        if (e.state === 'success' || e.state === 'failed') this.scheduleRefresh(`run ${e.runId} ended`);
      }),
      ctx.client.onDidChangeState.event((info) => {
        if (info) this.scheduleRefresh('the runtime restarted');
      }),
    );
  }

  private post(m: HostMessage): void {
    void this.panel.webview.postMessage(m);
  }

  private scheduleRefresh(reason: string): void {
    if (!this.panel.visible) return; // it re-reads everything when shown again
    clearTimeout(this.refreshTimer);
    this.refreshTimer = setTimeout(() => {
      this.post({ type: 'refresh', reason });
      refreshXComDocuments();
    }, 300);
  }

  private async receive(raw: unknown): Promise<void> {
    const parsed = parseWebviewMessage(raw);
    if (!parsed.ok) {
      this.ctx.log.error(`XCom browser: rejected a message from the webview: ${parsed.error}`);
      return;
    }
    const m = parsed.value;
    if (m.type === 'ready') {
      this.post({ type: 'init', filter: this.pendingFilter });
      this.pendingFilter = null;
      return;
    }
    try {
      const result = await this.answer(m);
      this.post({ type: 'response', id: m.id, ok: true, result });
    } catch (err) {
      const message = (err as Error).message;
      this.ctx.log.warn(`XCom browser: ${m.method} failed: ${message}`);
      this.post({ type: 'response', id: m.id, ok: false, error: message });
    }
  }

  private async confirm(message: string, action: string): Promise<boolean> {
    return (await vscode.window.showWarningMessage(message, { modal: true }, action)) === action;
  }

  private async answer(m: RequestMessage): Promise<unknown> {
    const c = this.ctx.client;
    switch (m.method) {
      case 'query':
        return c.request(XComQuery, { ...m.params.filter, offset: m.params.offset, limit: m.params.limit });
      case 'facets':
        return c.request(XComFacetsRequest, m.params);
      case 'read':
        return c.request(XComRead, { loc: m.params.loc, path: m.params.path, offset: m.params.offset, reveal: m.params.reveal });
      case 'readRaw':
        return c.request(XComReadRaw, m.params);
      case 'copy': {
        const r = await c.request(XComReadText, m.params);
        await vscode.env.clipboard.writeText(r.text);
        return { bytes: r.text.length };
      }
      case 'openDocument':
        // Read-only: a `hangar-xcom:` document whose content comes from the runtime (xcom-documents.ts).
        return xcomDocuments().open(m.params.loc, m.params.reveal);
      case 'saveFile':
        return this.saveFile(m.params.loc, m.params.reveal);
      case 'delete': {
        const { loc } = m.params;
        const where = `${loc.key} of task ${loc.taskId}${loc.mapIndex >= 0 ? `[${loc.mapIndex}]` : ''} (run ${loc.runId})`;
        if (!(await this.confirm(`Delete XCom ${where}? Tasks that pull it will find nothing.`, 'Delete'))) return { rows: 0 };
        const r = await c.request(XComDelete, m.params);
        this.ctx.log.info(`XCom browser: deleted XCom ${where}`);
        refreshXComDocuments();
        return { rows: r.rows };
      }
      case 'clearRun': {
        const { dagId, runId } = m.params;
        if (!(await this.confirm(`Delete every XCom of run ${runId} of ${dagId}?`, 'Delete All'))) return { rows: 0 };
        const r = await c.request(XComClearRun, m.params);
        this.ctx.log.info(`XCom browser: deleted ${r.rows} XCom(s) of run ${runId} of ${dagId}`);
        refreshXComDocuments();
        return { rows: r.rows };
      }
      case 'sweep': {
        const dry = await c.request(XComSweep, { dryRun: true });
        if (dry.orphans === 0) return { removed: 0, bytesFreed: 0 };
        if (!(await this.confirm(`Remove ${dry.orphans} offloaded XCom file(s) that no XCom refers to?`, 'Remove'))) return { removed: 0, bytesFreed: 0 };
        const r = await c.request(XComSweep, {});
        this.ctx.log.info(`XCom browser: swept ${r.removed} orphaned file(s), ${r.bytesFreed} bytes`);
        return { removed: r.removed, bytesFreed: r.bytesFreed };
      }
      case 'setKey': {
        await vscode.commands.executeCommand('hangar.setEncryptionKey');
        return { keySet: (await this.ctx.secrets.xcomKeys()).length > 0 };
      }
    }
  }

  /**
   * Writes the whole value as JSON to a file the user picks. The runtime has no paged text read, so
   * the value's JSON is fetched in one response and written at once (a 10 MiB value: ~12 MB in memory).
   */
  private async saveFile(loc: XComLoc, reveal: boolean): Promise<{ bytes: number; path: string | null }> {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
    const target = await vscode.window.showSaveDialog({
      title: `Save XCom ${loc.key} as JSON`,
      saveLabel: 'Save XCom',
      filters: { JSON: ['json'] },
      ...(folder ? { defaultUri: vscode.Uri.joinPath(folder, saveFileName(loc)) } : {}),
    });
    if (!target) return { bytes: 0, path: null };
    const r = await this.ctx.client.request(XComReadText, { loc, reveal });
    if (r.sensitive && !(await this.confirm(`XCom ${loc.key} is sensitive: save it unencrypted to ${target.fsPath}?`, 'Save'))) return { bytes: 0, path: null };
    const bytes = Buffer.from(r.text.endsWith('\n') ? r.text : `${r.text}\n`, 'utf8');
    await vscode.workspace.fs.writeFile(target, bytes);
    this.ctx.log.info(`XCom browser: saved XCom ${loc.key} of ${loc.taskId} (run ${loc.runId}) to ${target.fsPath}, ${bytes.byteLength} bytes`);
    return { bytes: bytes.byteLength, path: target.scheme === 'file' ? target.fsPath : target.toString() };
  }

  dispose(): void {
    if (XComBrowserPanel.current === this) XComBrowserPanel.current = undefined;
    clearTimeout(this.refreshTimer);
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}
