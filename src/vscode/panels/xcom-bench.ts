/**
 * The XCom benchmarks panel, host side: one panel per window. "Run" starts
 * `bench/xcom` in the runtime (the `hangar bench xcom` benchmark) with a
 * cancellable progress notification, and forwards every `bench/progress` cell
 * to the panel; the result goes to the webview, which draws the charts. Saved
 * runs are JSON files in the workspace's `.hangar/bench/` (the same shape as
 * `hangar bench xcom --json`), or anywhere through a save dialog; the webview
 * names saved runs by file name only, never by path. Every message from the
 * webview is validated (src/protocol/webviews/xcom-bench.ts); a malformed one is
 * logged and dropped.
 *
 * The run under way and the latest result live here, not in the panel, so
 * closing and reopening the panel (or hiding it: no retainContextWhenHidden)
 * during a run loses nothing.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import * as vscode from 'vscode';
import { BenchCancel, BenchXCom } from '../../protocol/runtime.ts';
import { BENCH_CANCELLED, SAVED_FILE_RE, parseBenchResults, parseWebviewMessage, savedFileName, savedRunOf } from '../../protocol/webviews/xcom-bench.ts';
import type { BenchProgress, BenchResults, HostMessage, RequestMessage, SavedRun, XComBenchMethods } from '../../protocol/webviews/xcom-bench.ts';
import type { HangarContext } from '../context.ts';
import { webviewHtml, webviewOptions } from './webview-html.ts';

const VIEW_TYPE = 'hangar.xcomBenchmarks';
const TITLE = 'XCom Benchmarks';

/** The run under way in this window (at most one) and the latest finished one. */
let running: { progress: BenchProgress | null; cancelRequested: boolean } | undefined;
let latest: { seq: number; results: BenchResults } | null = null;
let seq = 0;

export class XComBenchPanel implements vscode.Disposable {
  private static current: XComBenchPanel | undefined;
  private readonly ctx: HangarContext;
  private readonly panel: vscode.WebviewPanel;
  private readonly disposables: vscode.Disposable[] = [];

  static show(ctx: HangarContext): XComBenchPanel {
    const existing = XComBenchPanel.current;
    if (existing) {
      existing.panel.reveal();
      return existing;
    }
    const panel = vscode.window.createWebviewPanel(VIEW_TYPE, TITLE, vscode.ViewColumn.Active, webviewOptions(ctx.extension.extensionUri));
    XComBenchPanel.current = new XComBenchPanel(ctx, panel);
    return XComBenchPanel.current;
  }

  private constructor(ctx: HangarContext, panel: vscode.WebviewPanel) {
    this.ctx = ctx;
    this.panel = panel;
    panel.webview.html = webviewHtml(panel.webview, ctx.extension.extensionUri, 'xcom-bench', TITLE);
    this.disposables.push(
      panel.webview.onDidReceiveMessage((m: unknown) => void this.receive(m)),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  /** Posts to the panel if one is open (a hidden one learns the state from `init` when shown again). */
  private static post(m: HostMessage): void {
    const p = XComBenchPanel.current;
    if (p) void p.panel.webview.postMessage(m);
  }

  private post(m: HostMessage): void {
    void this.panel.webview.postMessage(m);
  }

  private async receive(raw: unknown): Promise<void> {
    const parsed = parseWebviewMessage(raw);
    if (!parsed.ok) {
      this.ctx.log.error(`XCom benchmarks: rejected a message from the webview: ${parsed.error}`);
      return;
    }
    const m = parsed.value;
    if (m.type === 'ready') {
      this.post({ type: 'init', running: running ? (running.progress ?? { done: 0, total: 0, label: 'starting' }) : null, latest });
      return;
    }
    try {
      const result = await this.answer(m);
      this.post({ type: 'response', id: m.id, ok: true, result });
    } catch (err) {
      const message = (err as Error).message;
      this.ctx.log.warn(`XCom benchmarks: ${m.method} failed: ${message}`);
      this.post({ type: 'response', id: m.id, ok: false, error: message });
    }
  }

  private benchDir(): string | undefined {
    return this.ctx.workspace ? join(this.ctx.workspace, '.hangar', 'bench') : undefined;
  }

  private async answer(m: RequestMessage): Promise<XComBenchMethods[RequestMessage['method']]['result']> {
    switch (m.method) {
      case 'run':
        this.start(m.params);
        return { started: true };
      case 'cancel':
        if (!running) return { cancelled: false };
        running.cancelRequested = true;
        return this.ctx.client.request(BenchCancel, {});
      case 'save':
        return this.save(m.params.results, m.params.saveAs);
      case 'list':
        return { runs: await this.list() };
      case 'load':
        return { results: await this.load(m.params.file) };
      case 'open': {
        const dir = this.benchDir();
        if (!dir) throw new Error('No workspace folder is open');
        await vscode.window.showTextDocument(vscode.Uri.file(join(dir, m.params.file)), { preview: true, viewColumn: vscode.ViewColumn.Beside });
        return { opened: true };
      }
    }
  }

  /** Starts a run in the runtime with a progress notification (cancellable); its end is posted to the panel. */
  private start(params: XComBenchMethods['run']['params']): void {
    if (running) throw new Error('A benchmark is already running; wait for it or cancel it');
    const state: { progress: BenchProgress | null; cancelRequested: boolean } = { progress: null, cancelRequested: false };
    running = state;
    const ctx = this.ctx;
    const what = `${params.quick ? 'quick' : 'full'} run, ${params.algorithm}, ${params.backends.length} backend(s)`;
    ctx.log.info(`XCom benchmarks: starting a ${what}`);
    const t0 = performance.now();
    void vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'Hangar: XCom benchmark', cancellable: true },
      async (progress, token) => {
        let reported = 0;
        const subs = [
          token.onCancellationRequested(() => {
            state.cancelRequested = true;
            ctx.client.request(BenchCancel, {}).catch((err: unknown) => ctx.log.warn(`XCom benchmarks: cancel failed: ${(err as Error).message}`));
          }),
          ctx.client.onBenchProgress.event((p) => {
            if (running !== state) return;
            state.progress = p;
            const pct = p.total ? (100 * p.done) / p.total : 0;
            progress.report({ increment: pct - reported, message: `${p.done}/${p.total} · ${p.label}` });
            reported = pct;
            XComBenchPanel.post({ type: 'progress', ...p });
          }),
        ];
        try {
          const res = await ctx.client.request(BenchXCom, params);
          const checked = parseBenchResults(res);
          if (!checked.ok) throw new Error(`the runtime answered a malformed result: ${checked.error}`);
          latest = { seq: ++seq, results: checked.value };
          const missed = checked.value.targets.filter((t) => !t.ok).length;
          ctx.log.info(`XCom benchmarks: ${checked.value.rows.length} cells in ${((performance.now() - t0) / 1000).toFixed(1)} s; ${missed} target(s) missed`);
          XComBenchPanel.post({ type: 'runDone', ...latest });
        } catch (err) {
          const message = (err as Error).message;
          const cancelled = state.cancelRequested || message.includes(BENCH_CANCELLED);
          if (cancelled) ctx.log.info('XCom benchmarks: cancelled');
          else {
            ctx.log.error(`XCom benchmarks: the run failed: ${message}`);
            void vscode.window.showErrorMessage(`Hangar: the XCom benchmark failed: ${message}`);
          }
          XComBenchPanel.post({ type: 'runFailed', error: cancelled ? 'Cancelled' : message, cancelled });
        } finally {
          for (const s of subs) s.dispose();
          running = undefined;
        }
      },
    );
  }

  private async save(results: BenchResults, saveAs: boolean): Promise<{ file: string | null; path: string | null }> {
    const dir = this.benchDir();
    const name = savedFileName(new Date(results.meta.date));
    const text = JSON.stringify(results, null, 2) + '\n';
    if (saveAs || !dir) {
      const uri = await vscode.window.showSaveDialog({
        title: 'Save the XCom benchmark result',
        defaultUri: dir ? vscode.Uri.file(join(dir, name)) : undefined,
        filters: { JSON: ['json'] },
        saveLabel: 'Save',
      });
      if (!uri) return { file: null, path: null };
      await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(text));
      this.ctx.log.info(`XCom benchmarks: saved ${uri.fsPath}`);
      const listed = dir && uri.scheme === 'file' && dirname(uri.fsPath) === dir && SAVED_FILE_RE.test(basename(uri.fsPath));
      return { file: listed ? basename(uri.fsPath) : null, path: uri.fsPath };
    }
    await mkdir(dir, { recursive: true });
    let file = name;
    for (let i = 2; existsSync(join(dir, file)); i++) file = name.replace(/\.json$/, `-${i}.json`);
    await writeFile(join(dir, file), text, { flag: 'wx' });
    this.ctx.log.info(`XCom benchmarks: saved ${join(dir, file)}`);
    return { file, path: join(dir, file) };
  }

  /** Saved runs in `.hangar/bench/`, newest first; files that are not benchmark results are skipped (and logged). */
  private async list(): Promise<SavedRun[]> {
    const dir = this.benchDir();
    if (!dir || !existsSync(dir)) return [];
    const names = (await readdir(dir)).filter((n) => SAVED_FILE_RE.test(n));
    const runs: SavedRun[] = [];
    for (const file of names) {
      try {
        runs.push(savedRunOf(file, JSON.parse(await readFile(join(dir, file), 'utf8')) as unknown));
      } catch (err) {
        this.ctx.log.warn(`XCom benchmarks: ${file} is not a benchmark result: ${(err as Error).message}`);
      }
    }
    return runs.sort((a, b) => Date.parse(b.date) - Date.parse(a.date) || b.file.localeCompare(a.file)).slice(0, 200);
  }

  private async load(file: string): Promise<BenchResults> {
    const dir = this.benchDir();
    if (!dir) throw new Error('No workspace folder is open');
    let json: unknown;
    try {
      json = JSON.parse(await readFile(join(dir, file), 'utf8'));
    } catch (err) {
      throw new Error(`Cannot read ${file}: ${(err as Error).message}`);
    }
    const r = parseBenchResults(json);
    if (!r.ok) throw new Error(`${file} is not a benchmark result: ${r.error}`);
    return r.value;
  }

  dispose(): void {
    if (XComBenchPanel.current === this) XComBenchPanel.current = undefined;
    for (const d of this.disposables.splice(0)) d.dispose();
    this.panel.dispose();
  }
}
