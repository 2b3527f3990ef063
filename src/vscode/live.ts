/**
 * Live structure while you type (trusted workspaces): when a DAG file's buffer changes, after a
 * pause (`hangar.liveStructure.debounceMs`) its text goes to the runtime (`dag/parseBuffer`), which
 * parses it in a DAG processor child as the saved file would be; the DAG tree, the graph and the
 * Problems panel then show the buffer's structure (the DAG marked "(unsaved)"). Saving, reverting,
 * undoing back to the saved text or closing the buffer returns to the saved state. A file whose last
 * parse took longer than `hangar.liveStructure.slowMs` is not parsed on keystrokes, only on save.
 */
import * as vscode from 'vscode';
import { DagParseBuffer } from '../protocol/runtime.ts';
import type { DagListResult } from '../protocol/runtime.ts';
import type { HangarContext } from './context.ts';
import { applyLive, fails, liveAction } from './live-model.ts';
import type { LiveFileState, LiveList } from './live-model.ts';

export class LiveStructure implements vscode.Disposable {
  private readonly ctx: HangarContext;
  private readonly states = new Map<string, LiveFileState>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly changed = new vscode.EventEmitter<void>();
  /** The live list changed (a buffer parsed, or back to the saved state). */
  readonly onDidChange = this.changed.event;

  constructor(ctx: HangarContext) {
    this.ctx = ctx;
  }

  register(): vscode.Disposable[] {
    return [
      this,
      vscode.workspace.onDidChangeTextDocument((e) => {
        if (e.contentChanges.length > 0 || !e.document.isDirty) this.onChange(e.document);
      }),
      vscode.workspace.onDidCloseTextDocument((d) => this.drop(d.uri.fsPath)),
      // The save's reload (dag/list) brings the saved structure; it is shown then.
      vscode.workspace.onDidSaveTextDocument((d) => this.drop(d.uri.fsPath, false)),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('hangar.liveStructure.enabled') && !this.settings().enabled)
          this.dropAll();
      }),
    ];
  }

  /** The saved list with the unsaved buffers' structure laid over it. */
  apply(saved: DagListResult): LiveList {
    return applyLive(saved, this.states);
  }

  fireChanged(): void {
    this.changed.fire();
  }

  private settings(): { enabled: boolean; debounceMs: number; slowMs: number } {
    const c = vscode.workspace.getConfiguration('hangar.liveStructure');
    return {
      enabled: c.get<boolean>('enabled', true),
      debounceMs: Math.max(0, c.get<number>('debounceMs', 400)),
      slowMs: Math.max(1, c.get<number>('slowMs', 1000)),
    };
  }

  private onChange(doc: vscode.TextDocument): void {
    const s = this.settings();
    const action = liveAction({
      isDirty: doc.isDirty,
      isTrusted: vscode.workspace.isTrusted,
      enabled: s.enabled,
      isDagFile: this.ctx.isDagFile(doc.uri),
    });
    if (action === 'ignore') return;
    const file = doc.uri.fsPath;
    clearTimeout(this.timers.get(file));
    this.timers.delete(file);
    if (action === 'saved') return this.drop(file);
    // Only once the runtime runs and has loaded the saved files (typing never starts it).
    if (!this.ctx.client.isRunning || !this.ctx.lastList) return;
    this.timers.set(
      file,
      setTimeout(() => void this.parse(doc, s.slowMs), s.debounceMs),
    );
  }

  private async parse(doc: vscode.TextDocument, slowMs: number): Promise<void> {
    const file = doc.uri.fsPath;
    this.timers.delete(file);
    if (doc.isClosed || !doc.isDirty) return;
    const version = doc.version;
    let r;
    try {
      r = await this.ctx.client.request(DagParseBuffer, { file, text: doc.getText(), slowMs });
    } catch (err) {
      this.ctx.log.warn(`Parsing the unsaved ${file} failed: ${(err as Error).message}`);
      return;
    }
    // The newest buffer wins: a newer edit (parsed after its own pause), a save, an undo to the saved text or a
    // close since this text was sent make this answer stale.
    if (r.status === 'superseded' || doc.isClosed || !doc.isDirty || doc.version !== version) return;
    if (vscode.workspace.isTrusted === false || !this.settings().enabled) return;
    const prev = this.states.get(file);
    const good = fails(r) ? (prev?.kind === 'parsed' ? prev.good : undefined) : r.dags;
    this.states.set(
      file,
      r.status === 'slow'
        ? { kind: 'slow', version, lastMs: r.lastMs ?? 0, limitMs: slowMs }
        : { kind: 'parsed', version, result: r, ...(good ? { good } : {}) },
    );
    this.ctx.log.debug(
      `Live structure of ${file}: ${r.status}${r.status === 'parsed' ? ` in ${r.totalMs} ms` : ` (last parse ${r.lastMs} ms)`}`,
    );
    this.ctx.publishLive();
  }

  private drop(file: string, publish = true): void {
    clearTimeout(this.timers.get(file));
    this.timers.delete(file);
    if (this.states.delete(file) && publish) this.ctx.publishLive();
  }

  private dropAll(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    if (this.states.size) {
      this.states.clear();
      this.ctx.publishLive();
    }
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
    this.changed.dispose();
  }
}
