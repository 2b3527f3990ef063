/**
 * The Test Explorer: a TestController listing, per DAG file, a "DAG loads" test (compile, import,
 * validate: the checks behind the Problems panel) and, per task, a test that runs the task alone
 * (`hangar test` semantics, on a throwaway store) through the runtime server's `task/test`. A
 * failure is reported at the line that threw. The Debug profile runs the same task test under
 * VS Code's JavaScript debugger (src/runtime/testing/task-test-main.ts), so breakpoints are hit.
 * The same controller lists the workspace's own node:test files using hangar/testing under
 * "Your tests" (src/vscode/user-tests.ts).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import * as vscode from 'vscode';
import { TaskTest } from '../protocol/runtime.ts';
import type { DagListResult, LoadError, Position, TaskTestResult } from '../protocol/runtime.ts';
import type { HangarContext } from './context.ts';
import { parseTestId, testOutput, testTree } from './testing-model.ts';
import { UserTests } from './user-tests.ts';

function location(
  p: Pick<Position, 'file'> & { line: number | null; column: number | null },
): vscode.Location {
  return new vscode.Location(
    vscode.Uri.file(p.file),
    new vscode.Position(Math.max(0, (p.line ?? 1) - 1), Math.max(0, (p.column ?? 1) - 1)),
  );
}

function range(p: Position | null): vscode.Range | undefined {
  if (!p) return undefined;
  const at = new vscode.Position(Math.max(0, p.line - 1), Math.max(0, p.column - 1));
  return new vscode.Range(at, at);
}

/** The program the Debug profile launches: bundled in an installed extension, the TypeScript source in a checkout. */
function taskTestProgram(ctx: HangarContext): string {
  const bundled = ctx.extension.asAbsolutePath(join('dist', 'runtime', 'task-test.mjs'));
  return existsSync(bundled)
    ? bundled
    : ctx.extension.asAbsolutePath(join('src', 'runtime', 'testing', 'task-test-main.ts'));
}

export class DagTests implements vscode.Disposable {
  private readonly controller: vscode.TestController;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly ctx: HangarContext;
  /** The workspace's own node:test files using hangar/testing, under "Your tests". */
  private readonly user: UserTests;
  /** The DAG files' items (the root items but "Your tests"). */
  private dagFiles: vscode.TestItem[] = [];

  constructor(ctx: HangarContext) {
    this.ctx = ctx;
    this.controller = vscode.tests.createTestController('hangar', 'Hangar DAGs');
    this.user = new UserTests(ctx, this.controller, () => this.setRoot());
    this.controller.resolveHandler = async (item) => {
      if (item) return;
      // Listing the user's test files reads their text only: nothing runs, trusted or not.
      await this.user
        .discover()
        .catch((err: unknown) => ctx.log.error(`Listing your tests failed: ${(err as Error).message}`));
      if (!vscode.workspace.isTrusted || !ctx.isHangarWorkspace) return;
      try {
        this.update(await ctx.dagList());
      } catch (err) {
        ctx.log.error(`Listing DAG tests failed: ${(err as Error).message}`);
      }
    };
    this.controller.refreshHandler = async () => {
      await this.user.discover(true);
      // Nothing is compiled or run in Restricted Mode (the Testing view's refresh button too).
      if (!vscode.workspace.isTrusted) return;
      this.update(await ctx.reload());
    };
    this.controller.createRunProfile(
      'Run',
      vscode.TestRunProfileKind.Run,
      (r, t) => this.run(r, t, false),
      true,
    );
    this.controller.createRunProfile(
      'Debug',
      vscode.TestRunProfileKind.Debug,
      (r, t) => this.run(r, t, true),
      true,
    );
    this.disposables.push(
      this.user,
      this.controller,
      ctx.client.onDags.event((l) => this.update(l)),
    );
  }

  /** The item of an id: the one already shown (so a run that holds it reports on what is shown), else a new one. */
  private item(
    id: string,
    label: string,
    uri: vscode.Uri,
    known: Map<string, vscode.TestItem>,
  ): vscode.TestItem {
    const old = known.get(id);
    if (old && old.uri?.toString() === uri.toString()) {
      old.label = label;
      return old;
    }
    return this.controller.createTestItem(id, label, uri);
  }

  /** Rebuilds the items from a DAG list (the runtime's, after every load). */
  update(list: DagListResult): void {
    const ws = this.ctx.workspace ?? '';
    const known = new Map<string, vscode.TestItem>();
    const gather = (i: vscode.TestItem) => {
      known.set(i.id, i);
      i.children.forEach(gather);
    };
    this.controller.items.forEach(gather);
    const files: vscode.TestItem[] = [];
    for (const f of testTree(list)) {
      const uri = vscode.Uri.file(f.file);
      const file = this.item(f.id, relative(ws, f.file) || f.file, uri, known);
      const load = this.item(f.loadId, 'DAG loads', uri, known);
      load.range = range(f.dags[0]?.position ?? null) ?? new vscode.Range(0, 0, 0, 0);
      load.sortText = '0';
      const children: vscode.TestItem[] = [load];
      for (const d of f.dags) {
        const dag = this.item(d.id, d.dagId, uri, known);
        dag.range = range(d.position);
        dag.sortText = `1${d.dagId}`;
        dag.children.replace(
          d.tasks.map((t, i) => {
            const task = this.item(
              t.id,
              t.taskId,
              t.position ? vscode.Uri.file(t.position.file) : uri,
              known,
            );
            task.range = range(t.position);
            task.sortText = String(i).padStart(5, '0');
            return task;
          }),
        );
        children.push(dag);
      }
      file.children.replace(children);
      files.push(file);
    }
    this.dagFiles = files;
    this.setRoot();
  }

  private setRoot(): void {
    this.controller.items.replace(this.user.group ? [...this.dagFiles, this.user.group] : this.dagFiles);
  }

  /** The leaves (a file's "DAG loads" and tasks) under the requested items, minus the excluded ones. */
  private leaves(request: vscode.TestRunRequest): vscode.TestItem[] {
    const excluded = new Set((request.exclude ?? []).map((i) => i.id));
    const out: vscode.TestItem[] = [];
    const walk = (item: vscode.TestItem) => {
      if (excluded.has(item.id) || this.user.owns(item)) return;
      if (item.children.size === 0) out.push(item);
      else item.children.forEach(walk);
    };
    if (request.include) request.include.forEach(walk);
    else this.controller.items.forEach(walk);
    return out;
  }

  private async run(
    request: vscode.TestRunRequest,
    token: vscode.CancellationToken,
    debug: boolean,
  ): Promise<void> {
    const run = this.controller.createTestRun(request);
    if (!vscode.workspace.isTrusted) {
      run.appendOutput('Hangar runs no DAG code in Restricted Mode: trust the folder first.\r\n');
      run.end();
      return;
    }
    const items = this.leaves(request);
    for (const i of items) run.enqueued(i);
    let list: DagListResult | undefined;
    try {
      const asked: vscode.TestItem[] = [];
      (request.include ?? [...this.rootItems()]).forEach((i) => {
        if (this.user.owns(i)) asked.push(i);
      });
      if (asked.length)
        await this.user.run(asked, new Set((request.exclude ?? []).map((i) => i.id)), run, token, debug);
      for (const item of items) {
        if (token.isCancellationRequested) {
          run.skipped(item);
          continue;
        }
        const target = parseTestId(item.id);
        run.started(item);
        try {
          if (target?.kind === 'load') {
            // One fresh load (the files as saved) for every "DAG loads" test of this run.
            list ??= await this.ctx.reload();
            const errors = list.errors.filter((e) => e.file === target.file);
            if (errors.length)
              run.failed(
                item,
                errors.map((e) => this.loadMessage(e)),
              );
            else run.passed(item);
          } else if (target?.kind === 'task') {
            const r = debug
              ? await this.debugTask(target.dagId, target.taskId, run, token)
              : await this.ctx.client.request(
                  TaskTest,
                  { dagId: target.dagId, taskId: target.taskId },
                  token,
                );
            this.report(run, item, r);
          } else {
            run.skipped(item);
          }
        } catch (err) {
          // Cancelled: the task's process (or debug session) was stopped; the test did not finish.
          if (token.isCancellationRequested) run.skipped(item);
          else run.errored(item, new vscode.TestMessage((err as Error).message));
        }
      }
    } finally {
      run.end();
    }
  }

  private *rootItems(): Iterable<vscode.TestItem> {
    for (const [, i] of this.controller.items) yield i;
  }

  private loadMessage(e: LoadError): vscode.TestMessage {
    const m = new vscode.TestMessage(e.message);
    m.location = location(e);
    return m;
  }

  private report(run: vscode.TestRun, item: vscode.TestItem, r: TaskTestResult): void {
    const at = r.errorPosition ? location(r.errorPosition) : undefined;
    if (r.log) run.appendOutput(testOutput(r.log), at, item);
    if (r.state === 'success') {
      run.passed(item, r.duration * 1000);
      return;
    }
    const m = new vscode.TestMessage(r.error ?? `Task "${r.taskId}" ended ${r.state ?? 'without running'}`);
    m.location = at ?? (item.uri && item.range ? new vscode.Location(item.uri, item.range) : undefined);
    run.failed(item, m, r.duration * 1000);
  }

  /** Runs the task test under the JavaScript debugger; its outcome comes back through a result file. */
  private async debugTask(
    dagId: string,
    taskId: string,
    run: vscode.TestRun,
    token: vscode.CancellationToken,
  ): Promise<TaskTestResult> {
    const ws = this.ctx.workspace;
    if (!ws) throw new Error('Open a folder with DAG files first');
    const list = await this.ctx.dagList();
    const dag = list.dags.find((d) => d.dagId === dagId);
    if (!dag) throw new Error(`No DAG "${dagId}" in this workspace`);
    const dir = mkdtempSync(join(tmpdir(), 'hangar-debug-test-'));
    const resultFile = join(dir, 'result.json');
    const marker = `${dagId}.${taskId}.${Date.now()}`;
    const subs: vscode.Disposable[] = [];
    try {
      // Cancelling the test run stops the debug session (and so the task's process).
      subs.push(
        vscode.debug.onDidStartDebugSession((s) => {
          if (s.configuration.__hangarTaskTest !== marker) return;
          if (token.isCancellationRequested) void vscode.debug.stopDebugging(s);
          else subs.push(token.onCancellationRequested(() => void vscode.debug.stopDebugging(s)));
        }),
      );
      const ended = new Promise<void>((resolve) => {
        const sub = vscode.debug.onDidTerminateDebugSession((s) => {
          if (s.configuration.__hangarTaskTest === marker) {
            sub.dispose();
            resolve();
          }
        });
      });
      const folder = vscode.workspace.workspaceFolders?.find((f) => f.uri.fsPath === ws);
      const ok = await vscode.debug.startDebugging(
        folder,
        {
          type: 'node',
          request: 'launch',
          name: `Hangar: debug test ${dagId}.${taskId}`,
          program: taskTestProgram(this.ctx),
          args: [ws, dag.file, dagId, taskId, resultFile],
          cwd: ws,
          runtimeExecutable:
            vscode.workspace.getConfiguration('hangar').get<string>('runtime.nodePath')?.trim() ||
            process.execPath,
          env: { ELECTRON_RUN_AS_NODE: '1' },
          sourceMaps: true,
          // The DAG file is compiled into the throwaway runtime's temporary folder, with an inline source map:
          // a file made after the launch, which js-debug cannot find up front (outFiles), so it waits for
          // each script's source map before it runs; without this the breakpoints in the task were never hit.
          outFiles: [`${tmpdir()}/hangar-testing-*/**/*.mjs`],
          pauseForSourceMap: true,
          resolveSourceMapLocations: ['**', '!**/node_modules/**'],
          skipFiles: ['<node_internals>/**', `${this.ctx.extension.extensionPath}/dist/**`],
          console: 'internalConsole',
          outputCapture: 'std',
          __hangarTaskTest: marker,
        },
        { testRun: run },
      );
      if (!ok)
        throw new Error(
          `VS Code did not start the debug session for ${dagId}.${taskId} (is the built-in JavaScript debugger enabled?)`,
        );
      await ended;
      if (token.isCancellationRequested)
        throw new Error(`The debug session of ${dagId}.${taskId} was cancelled`);
      if (!existsSync(resultFile))
        throw new Error(`The debug session of ${dagId}.${taskId} ended without a result`);
      const result = JSON.parse(readFileSync(resultFile, 'utf8')) as TaskTestResult | { fatal: string };
      if ('fatal' in result) throw new Error(result.fatal);
      return result;
    } finally {
      for (const s of subs) s.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
