/**
 * XCom values as read-only documents (`hangar-xcom:` scheme), opened from the
 * XCom browser's "Open as document". The address carries the XCom's location
 * (src/vscode/xcom-doc-model.ts); the content is fetched from the runtime with
 * `xcom/readText` each time VS Code asks. A sensitive value is shown only for
 * an address the user opened after revealing it in this session; otherwise the
 * document says it is hidden. Nothing secret is ever in the address.
 *
 * Limit: the runtime has no paged text read, so the whole value's JSON comes in
 * one response and is held in memory (a 10 MiB value: ~12 MB of JSON text).
 */
import * as vscode from 'vscode';
import { XComQuery, XComReadText } from '../../protocol/runtime.ts';
import type { XComLoc } from '../../protocol/webviews/xcom-values.ts';
import type { RuntimeClient } from '../client.ts';
import { XCOM_SCHEME, maskedDocText, parseXComDocQuery, xcomDocParts } from '../xcom-doc-model.ts';

export function xcomDocUri(loc: XComLoc): vscode.Uri {
  const { path, query } = xcomDocParts(loc);
  return vscode.Uri.from({ scheme: XCOM_SCHEME, path, query });
}

export class XComDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly client: RuntimeClient;
  /** Addresses (uri.toString()) whose sensitive value the user revealed before opening them. */
  private readonly revealed = new Set<string>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(client: RuntimeClient) {
    this.client = client;
    this.disposables.push(
      this.changed,
      vscode.workspace.onDidCloseTextDocument((doc) => {
        if (doc.uri.scheme === XCOM_SCHEME) this.revealed.delete(doc.uri.toString());
      }),
    );
  }

  /** Opens (or shows again) the value at `loc` beside the active editor; `reveal`: the user revealed it. */
  async open(loc: XComLoc, reveal: boolean): Promise<{ bytes: number }> {
    const uri = xcomDocUri(loc);
    const id = uri.toString();
    const was = this.revealed.has(id);
    if (reveal) this.revealed.add(id);
    else this.revealed.delete(id);
    if (was !== reveal) this.changed.fire(uri); // an open document follows
    let doc = await vscode.workspace.openTextDocument(uri);
    if (doc.languageId !== 'json') doc = await vscode.languages.setTextDocumentLanguage(doc, 'json');
    await vscode.window.showTextDocument(doc, { preview: false, viewColumn: vscode.ViewColumn.Beside });
    return { bytes: doc.getText().length };
  }

  /** Open XCom documents read their values again. */
  refresh(): void {
    for (const doc of vscode.workspace.textDocuments) if (doc.uri.scheme === XCOM_SCHEME && !doc.isClosed) this.changed.fire(doc.uri);
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const loc = parseXComDocQuery(uri.query);
    const page = await this.client.request(XComQuery, { ...loc, offset: 0, limit: 1 });
    const row = page.rows[0];
    if (!row) return `${JSON.stringify({ missing: `No XCom "${loc.key}" of task ${loc.taskId} in run ${loc.runId} of ${loc.dagId} (deleted or cleared?)` }, null, 2)}\n`;
    if (row.sensitive && !this.revealed.has(uri.toString())) return maskedDocText(loc);
    const r = await this.client.request(XComReadText, { loc, reveal: row.sensitive });
    return r.text.endsWith('\n') ? r.text : `${r.text}\n`;
  }

  dispose(): void {
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

let current: XComDocuments | undefined;

/** Registers the `hangar-xcom:` provider (at activation). */
export function registerXComDocuments(client: RuntimeClient): vscode.Disposable {
  const provider = new XComDocuments(client);
  current = provider;
  const registration = vscode.workspace.registerTextDocumentContentProvider(XCOM_SCHEME, provider);
  return {
    dispose() {
      registration.dispose();
      provider.dispose();
      if (current === provider) current = undefined;
    },
  };
}

/** The registered provider. */
export function xcomDocuments(): XComDocuments {
  if (!current) throw new Error('XCom documents are not available (the extension is not active)');
  return current;
}

/** Open XCom documents read their values again (after a run ended or XComs were deleted). */
export function refreshXComDocuments(): void {
  current?.refresh();
}
