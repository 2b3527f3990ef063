/**
 * Progress and status: a cancellable progress notification while a run started
 * from this window is active, a status bar item with running/failed counts, and
 * a message when a run ends (with a button to open the failed task's log).
 */
import * as vscode from 'vscode';
import { RunCancel, TaskList } from '../protocol/runtime.ts';
import type { RunInfo, RunState, TaskInstanceInfo } from '../protocol/runtime.ts';
import { endOfRunMessage, isFinished, TERMINAL_RUN_STATES } from './runs-model.ts';
import { logUri } from './logs.ts';
import type { HangarContext } from './context.ts';

interface Followed {
  run: RunInfo;
  finished: Set<string>;
  total: number;
  report?: (value: { message?: string; increment?: number }) => void;
  done: (state: RunState) => void;
}

export class RunWatcher implements vscode.Disposable {
  private readonly ctx: HangarContext;
  private readonly item: vscode.StatusBarItem;
  private readonly followed = new Map<string, Followed>();
  private readonly disposables: vscode.Disposable[] = [];

  constructor(ctx: HangarContext) {
    this.ctx = ctx;
    this.item = vscode.window.createStatusBarItem('hangar.status', vscode.StatusBarAlignment.Left, 10);
    this.item.name = 'Hangar';
    this.item.command = 'hangar.runs.focus';
    this.disposables.push(
      this.item,
      ctx.client.onRun.event((e) => {
        const f = this.followed.get(`${e.dagId}\u0000${e.runId}`);
        if (f && TERMINAL_RUN_STATES.has(e.state)) f.done(e.state);
      }),
      ctx.client.onTask.event((e) => {
        const f = this.followed.get(`${e.dagId}\u0000${e.runId}`);
        if (!f) return;
        const k = `${e.taskId}\u0000${e.mapIndex}`;
        if (isFinished(e.state) && !f.finished.has(k)) {
          f.finished.add(k);
          f.report?.({ message: `${f.finished.size}/${Math.max(f.total, f.finished.size)} tasks done · ${e.taskId} ${e.state.replaceAll('_', ' ')}`, increment: f.total ? 100 / f.total : 0 });
        } else if (e.state === 'running') {
          f.report?.({ message: `${f.finished.size}/${f.total || '?'} tasks done · ${e.taskId} running` });
        }
      }),
      ctx.client.onDidChangeState.event((info) => {
        // The runtime went away: followed runs will not report any more.
        if (!info) for (const f of this.followed.values()) f.done('failed');
        this.updateStatus();
      }),
    );
    this.updateStatus();
  }

  updateStatus(): void {
    if (!vscode.workspace.isTrusted || !this.ctx.workspace) {
      this.item.hide();
      return;
    }
    const { running, failed } = this.ctx.runs.model.counts();
    const parts = [running ? `$(sync~spin) ${running} running` : '', failed ? `$(error) ${failed} failed` : ''].filter(Boolean);
    this.item.text = `$(type-hierarchy) Hangar${parts.length ? ' ' + parts.join(' ') : ''}`;
    this.item.tooltip = `Hangar: ${running} run(s) active, ${failed} recent run(s) failed${this.ctx.client.isRunning ? '' : ' · runtime not started'}. Click to show runs.`;
    this.item.backgroundColor = failed && !running ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
    this.item.show();
  }

  /** Shows a progress notification until the run ends, then the end-of-run message. */
  follow(run: RunInfo, title = `Running ${run.dagId}`): void {
    const key = `${run.dagId}\u0000${run.runId}`;
    if (this.followed.has(key)) return;
    let resolve!: (s: RunState) => void;
    const ended = new Promise<RunState>((r) => (resolve = r));
    const total = this.ctx.lastList?.dags.find((d) => d.dagId === run.dagId)?.tasks.length ?? 0;
    const f: Followed = { run, finished: new Set(), total: run.runType === 'test' ? 1 : total, done: resolve };
    this.followed.set(key, f);
    this.updateStatus();
    void vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Hangar: ${title}`, cancellable: true },
      async (progress, token) => {
        f.report = (v) => progress.report(v);
        // Tasks may have finished before this callback ran: start from what is known.
        progress.report({
          message: f.finished.size ? `${f.finished.size}/${Math.max(f.total, f.finished.size)} tasks done` : `run ${run.runId}`,
          increment: f.total ? (100 * f.finished.size) / f.total : 0,
        });
        token.onCancellationRequested(() => {
          this.ctx.client.request(RunCancel, { dagId: run.dagId, runId: run.runId }).then(
            (r) => this.ctx.log.info(`Cancel of run ${run.runId}: ${r.cancelled ? 'stopping' : 'it was not active'}`),
            (err: unknown) => this.ctx.log.error(`Cancel of run ${run.runId} failed: ${(err as Error).message}`),
          );
        });
        const state = await ended;
        this.followed.delete(key);
        this.updateStatus();
        void this.announce(run, state);
      },
    );
  }

  private async announce(run: RunInfo, state: RunState): Promise<void> {
    let tasks: TaskInstanceInfo[];
    try {
      tasks = await this.ctx.client.request(TaskList, { dagId: run.dagId, runId: run.runId });
    } catch {
      tasks = [];
    }
    const entry = this.ctx.runs.model.get(run.dagId, run.runId);
    const info = { ...(entry?.run ?? run), state };
    const msg = endOfRunMessage(info, tasks);
    if (msg.ok) {
      void vscode.window.showInformationMessage(msg.message);
      return;
    }
    const failed = msg.failedTask;
    const pick = await vscode.window.showErrorMessage(msg.message, ...(failed ? ['Open Log'] : []), 'Show Runs');
    if (pick === 'Open Log' && failed) {
      const doc = await vscode.workspace.openTextDocument(logUri({ dagId: failed.dagId, runId: failed.runId, taskId: failed.taskId, mapIndex: failed.mapIndex }));
      await vscode.window.showTextDocument(doc, { preview: false });
    } else if (pick === 'Show Runs') {
      await vscode.commands.executeCommand('hangar.runs.focus');
    }
  }

  dispose(): void {
    for (const f of this.followed.values()) f.done('failed');
    for (const d of this.disposables) d.dispose();
  }
}
