/**
 * Task logs as read-only documents (`hangar-log:` scheme) that follow a running
 * try: a `log/didAppend` or `task/didChange` for an open document's task makes
 * VS Code fetch its content again (batched every 150 ms). A try that runs in another
 * process (a scheduler in a terminal, a worker of the team's deployment: its log is a
 * file or an S3 object the worker uploads every second) sends no lines here: an open
 * document of a running try that heard nothing for 2 s is fetched again every second,
 * as `hangar logs -f` does, until its try has ended.
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
  /** Open documents whose last fetch found their try running → when they last heard of it (ms). */
  private readonly running = new Map<string, number>();
  private follow: NodeJS.Timeout | undefined;

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
      if (logRefMatches(ref, e)) {
        this.dirty.add(doc.uri.toString());
        if (this.running.has(doc.uri.toString())) this.running.set(doc.uri.toString(), Date.now());
      }
    }
    this.flushSoon();
  }

  private flushSoon(): void {
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
      if (log.running) {
        if (!this.running.has(uri.toString())) this.running.set(uri.toString(), Date.now());
        this.follow ??= setInterval(() => this.followElsewhere(), 1000);
      } else this.running.delete(uri.toString());
      return inertText(head + (log.text || (log.running ? '(no output yet)\n' : '(this try wrote no log)\n')));
    } catch (err) {
      return `Cannot read the log of ${ref.taskId} in run ${ref.runId} of ${ref.dagId}: ${(err as Error).message}\n`;
    }
  }

  /** Running tries that nothing was heard of for 2 s (they run elsewhere): fetched again. */
  private followElsewhere(): void {
    const open = new Set(
      vscode.workspace.textDocuments.filter((d) => !d.isClosed).map((d) => d.uri.toString()),
    );
    for (const [uri, heard] of this.running) {
      if (!open.has(uri)) this.running.delete(uri);
      else if (Date.now() - heard >= 2000) this.dirty.add(uri);
    }
    if (this.running.size === 0) {
      clearInterval(this.follow);
      this.follow = undefined;
    }
    this.flushSoon();
  }

  dispose(): void {
    clearTimeout(this.timer);
    clearInterval(this.follow);
    this.changed.dispose();
    for (const d of this.disposables) d.dispose();
  }
}
