/**
 * Task logs as read-only documents (`hangar-log:` scheme) that follow a running
 * try: a `log/didAppend` or `task/didChange` for an open document's task makes
 * VS Code fetch its content again (batched every 150 ms).
 */
import * as vscode from 'vscode';
import { TaskLog } from '../protocol/runtime.ts';
import { inertText } from '../protocol/inert.ts';
import { LOG_SCHEME, logRefMatches, logUriParts, parseLogQuery } from './dags-model.ts';
import type { LogRef } from './dags-model.ts';
import type { RuntimeClient } from './client.ts';

export function logUri(ref: LogRef): vscode.Uri {
  const { path, query } = logUriParts(ref);
  return vscode.Uri.from({ scheme: LOG_SCHEME, path, query });
}

export class LogDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly client: RuntimeClient;
  private readonly dirty = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private readonly disposables: vscode.Disposable[] = [];

  constructor(client: RuntimeClient) {
    this.client = client;
    this.disposables.push(
      client.onLog.event((e) => this.touch(e)),
      client.onTask.event((e) => this.touch(e)),
    );
  }

  private touch(e: { dagId: string; runId: string; taskId: string; mapIndex: number; tryNumber?: number }): void {
    for (const doc of vscode.workspace.textDocuments) {
      if (doc.uri.scheme !== LOG_SCHEME || doc.isClosed) continue;
      let ref: LogRef;
      try {
        ref = parseLogQuery(doc.uri.query);
      } catch {
        continue;
      }
      if (logRefMatches(ref, e)) this.dirty.add(doc.uri.toString());
    }
    if (this.dirty.size && !this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        for (const u of this.dirty) this.changed.fire(vscode.Uri.parse(u));
        this.dirty.clear();
      }, 150);
    }
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const ref = parseLogQuery(uri.query);
    try {
      const log = await this.client.request(TaskLog, { ...ref });
      const head = `# ${ref.dagId} / ${ref.runId} / ${ref.taskId}${ref.mapIndex >= 0 ? ` [${ref.mapIndex}]` : ''} · try ${log.tryNumber}${log.running ? ' · running (this document follows the log)' : ''}\n# ${log.logPath ?? ''}\n`;
      // ANSI escapes removed, bidi controls shown as ⟦U+202E⟧ marks (src/protocol/inert.ts): the editor shows the text as written.
      return inertText(head + (log.text || (log.running ? '(no output yet)\n' : '(this try wrote no log)\n')));
    } catch (err) {
      return `Cannot read the log of ${ref.taskId} in run ${ref.runId} of ${ref.dagId}: ${(err as Error).message}\n`;
    }
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.changed.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
