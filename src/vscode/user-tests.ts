/**
 * "Your tests" in Hangar's Test Explorer: the workspace's own `node:test` files that import
 * `hangar/testing`, each test (and subtest) an item at its line. They run with Node's own test
 * runner (`node --test FILE`, the Node the runtime uses) and Hangar's reporter
 * (src/vscode/user-tests-reporter.ts); one test runs alone through an anchored
 * `--test-name-pattern`. The Debug profile runs the same command under VS Code's JavaScript
 * debugger. The vscode-free part is src/vscode/user-tests-model.ts.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import * as vscode from 'vscode';
import type { HangarContext } from './context.ts';
import { testOutput } from './testing-model.ts';
import {
  NodeTestRun,
  USER_TESTS_GROUP_ID,
  USER_TEST_EXCLUDE,
  USER_TEST_GLOB,
  fileFailureMessage,
  namePattern,
  nodeTestArgs,
  parseReporterLine,
  parseUserTestId,
  scanTests,
  testCwd,
  userFileId,
  userTestId,
  usesHangarTesting,
  withPaths,
} from './user-tests-model.ts';
import type { PathStep, ReporterEvent, TestKind, UserTestResult } from './user-tests-model.ts';

/** The reporter module node:test loads: bundled in an installed extension, the TypeScript source in a checkout. */
function reporterModule(ctx: HangarContext): string {
  const bundled = ctx.extension.asAbsolutePath(join('dist', 'user-tests-reporter.mjs'));
  return existsSync(bundled)
    ? bundled
    : ctx.extension.asAbsolutePath(join('src', 'vscode', 'user-tests-reporter.ts'));
}

const versions = new Map<string, string>();
function nodeVersion(node: string): string {
  if (node === process.execPath) return process.versions.node;
  let v = versions.get(node);
  if (v === undefined) {
    const r = spawnSync(node, ['-p', 'process.versions.node'], {
      encoding: 'utf8',
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
      timeout: 10_000,
    });
    v = r.status === 0 ? r.stdout.trim() : '';
    versions.set(node, v);
  }
  return v;
}

interface FileRequest {
  readonly file: string;
  readonly fileItem: vscode.TestItem;
  /** The tests asked for (none: the whole file). */
  readonly tests: vscode.TestItem[];
  readonly patterns: string[] | null;
}

export class UserTests implements vscode.Disposable {
  private readonly ctx: HangarContext;
  private readonly controller: vscode.TestController;
  private readonly disposables: vscode.Disposable[] = [];
  /** "Your tests": shown once a file is found. */
  group: vscode.TestItem | undefined;
  private readonly files = new Map<string, vscode.TestItem>();
  /** Each test item's kind (a suite runs its subtests by itself; a subtest of a test runs with that test). */
  private readonly kinds = new Map<string, TestKind>();
  /** Called when the group appears or goes (the root items are rebuilt). */
  private readonly onRoot: () => void;
  private discovered: Promise<void> | undefined;

  constructor(ctx: HangarContext, controller: vscode.TestController, onRoot: () => void) {
    this.ctx = ctx;
    this.controller = controller;
    this.onRoot = onRoot;
    if (ctx.workspace) {
      const watcher = vscode.workspace.createFileSystemWatcher(
        new vscode.RelativePattern(vscode.Uri.file(ctx.workspace), USER_TEST_GLOB),
      );
      const changed = (uri: vscode.Uri) =>
        void this.refreshFile(uri).catch((err: unknown) =>
          ctx.log.error(`Reading the test file ${uri.fsPath} failed: ${(err as Error).message}`),
        );
      this.disposables.push(
        watcher,
        watcher.onDidCreate(changed),
        watcher.onDidChange(changed),
        watcher.onDidDelete(changed),
        // A save in the editor (the watcher may not see a file outside the glob's reach, e.g. a symlink).
        vscode.workspace.onDidSaveTextDocument((d) => {
          if (this.files.has(d.uri.fsPath) || usesHangarTesting(d.getText())) changed(d.uri);
        }),
      );
    }
  }

  /** Whether an item is one of "Your tests" (the group, a file, a test). */
  owns(item: vscode.TestItem): boolean {
    return parseUserTestId(item.id) !== undefined;
  }

  /** Finds the workspace's test files that use hangar/testing (once; `force` again). Reads and scans text only: nothing runs. */
  discover(force = false): Promise<void> {
    if (!this.discovered || force) this.discovered = this.findAll();
    return this.discovered;
  }

  private async findAll(): Promise<void> {
    const ws = this.ctx.workspace;
    if (!ws) return;
    const uris = await vscode.workspace.findFiles(
      new vscode.RelativePattern(vscode.Uri.file(ws), USER_TEST_GLOB),
      USER_TEST_EXCLUDE,
    );
    const seen = new Set<string>();
    for (const uri of uris) {
      if (await this.refreshFile(uri)) seen.add(uri.fsPath);
    }
    for (const file of [...this.files.keys()]) if (!seen.has(file)) this.removeFile(file);
  }

  /** Re-reads one file: listed (with its scanned tests) if it uses hangar/testing, else not. */
  private async refreshFile(uri: vscode.Uri): Promise<boolean> {
    const file = uri.fsPath;
    const rel = relative(this.ctx.workspace ?? '', file);
    if (/(^|[\\/])(node_modules|\.hangar|\.git|dist)[\\/]/.test(rel)) return false;
    let text: string;
    try {
      text = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
    } catch {
      this.removeFile(file);
      return false;
    }
    if (!usesHangarTesting(text)) {
      this.removeFile(file);
      return false;
    }
    const item = this.fileItem(file);
    const build = (nodes: ReturnType<typeof withPaths>, parent: vscode.TestItem): vscode.TestItem[] =>
      nodes.map(({ test, path, children }) => {
        const id = userTestId(file, path);
        const old = parent.children.get(id);
        const t = old ?? this.controller.createTestItem(id, test.name, uri);
        t.range = new vscode.Range(test.line - 1, test.column - 1, test.line - 1, test.column - 1);
        this.kinds.set(id, test.kind);
        t.children.replace(build(children, t));
        return t;
      });
    item.children.replace(build(withPaths(scanTests(text)), item));
    return true;
  }

  private fileItem(file: string): vscode.TestItem {
    let item = this.files.get(file);
    if (item) return item;
    const ws = this.ctx.workspace ?? '';
    item = this.controller.createTestItem(
      userFileId(file),
      relative(ws, file) || file,
      vscode.Uri.file(file),
    );
    this.files.set(file, item);
    if (!this.group) {
      this.group = this.controller.createTestItem(USER_TESTS_GROUP_ID, 'Your tests');
      this.group.sortText = '~';
      this.group.children.add(item);
      this.onRoot();
    } else this.group.children.add(item);
    return item;
  }

  private removeFile(file: string): void {
    if (!this.files.delete(file)) return;
    this.group?.children.delete(userFileId(file));
    if (this.files.size === 0 && this.group) {
      this.group = undefined;
      this.onRoot();
    }
  }

  /** What to run per file for the items asked (the group: every file). */
  private requests(include: readonly vscode.TestItem[], exclude: ReadonlySet<string>): FileRequest[] {
    const byFile = new Map<string, { whole: boolean; tests: vscode.TestItem[] }>();
    const add = (file: string, test?: vscode.TestItem) => {
      const r = byFile.get(file) ?? { whole: false, tests: [] };
      byFile.set(file, r);
      if (test) r.tests.push(test);
      else r.whole = true;
    };
    for (const item of include) {
      if (exclude.has(item.id)) continue;
      const t = parseUserTestId(item.id);
      if (t?.kind === 'group') {
        for (const f of this.files.keys()) if (!exclude.has(userFileId(f))) add(f);
      } else if (t?.kind === 'file') add(t.file);
      else if (t?.kind === 'test') add(t.file, item);
    }
    const out: FileRequest[] = [];
    for (const [file, r] of byFile) {
      const fileItem = this.files.get(file);
      if (!fileItem) continue;
      const patterns = r.whole
        ? null
        : [
            ...new Set(
              r.tests.map((i) => {
                const t = parseUserTestId(i.id) as Extract<
                  ReturnType<typeof parseUserTestId>,
                  { kind: 'test' }
                >;
                const kinds = t.path.map((_s, k) => this.kinds.get(userTestId(file, t.path.slice(0, k + 1))));
                return namePattern(t.path, kinds);
              }),
            ),
          ];
      out.push({ file, fileItem, tests: r.whole ? [] : r.tests, patterns });
    }
    return out.sort((a, b) => a.file.localeCompare(b.file));
  }

  /** Runs the user tests among `include` (Hangar's run handler hands them over); the run is ended by the caller. */
  async run(
    include: readonly vscode.TestItem[],
    exclude: ReadonlySet<string>,
    run: vscode.TestRun,
    token: vscode.CancellationToken,
    debug: boolean,
  ): Promise<void> {
    for (const r of this.requests(include, exclude)) {
      if (token.isCancellationRequested) {
        for (const i of r.tests.length ? r.tests : [r.fileItem]) run.skipped(i);
        continue;
      }
      for (const i of r.tests.length ? r.tests : [r.fileItem]) run.enqueued(i);
      try {
        await this.runFile(r, run, token, debug);
      } catch (err) {
        if (token.isCancellationRequested) run.skipped(r.fileItem);
        else run.errored(r.fileItem, new vscode.TestMessage((err as Error).message));
      }
    }
  }

  private node(): string {
    return (
      vscode.workspace.getConfiguration('hangar').get<string>('runtime.nodePath')?.trim() || process.execPath
    );
  }

  private async runFile(
    r: FileRequest,
    run: vscode.TestRun,
    token: vscode.CancellationToken,
    debug: boolean,
  ): Promise<void> {
    const node = this.node();
    const version = nodeVersion(node);
    const ws = this.ctx.workspace;
    const cwd = testCwd(r.file, ws, existsSync);
    const follow = new NodeTestRun(r.file, ws);
    const seen = new Set<string>();
    let started = 0;
    let failed = 0;
    let stderr = '';
    let fileEvent: Extract<ReporterEvent, { type: 'file' }> | undefined;
    // The tests' output goes with the one test asked for, else with the file (node:test hands a file's output over apart from its tests' events).
    const outputItem = r.tests.length === 1 ? r.tests[0]! : r.fileItem;
    const onEvent = (e: ReporterEvent) => {
      if (e.type === 'start') {
        const s = follow.start(e);
        const item = this.ensureItem(r, s.path, s.line, s.column);
        started++;
        run.started(item);
      } else if (e.type === 'pass' || e.type === 'fail') {
        const res = follow.end(e);
        this.kinds.set(res.id, res.kind);
        const item = this.ensureItem(r, res.path, res.line, res.column);
        seen.add(res.id);
        if (res.outcome === 'failed') failed++;
        this.report(run, item, res);
      } else if (e.type === 'stdout' || e.type === 'stderr') {
        if (e.type === 'stderr') stderr = (stderr + e.message).slice(-20_000);
        run.appendOutput(testOutput(e.message), undefined, outputItem);
      } else if (e.type === 'file') fileEvent = e;
    };
    if (!r.patterns) run.started(r.fileItem);
    const t0 = Date.now();
    const code = debug
      ? await this.debugFile(r, node, version, cwd, onEvent, run, token)
      : await this.spawnFile(
          r,
          node,
          version,
          cwd,
          onEvent,
          (text) => run.appendOutput(testOutput(text), undefined, outputItem),
          token,
        );
    if (token.isCancellationRequested) {
      for (const i of r.tests) if (!seen.has(i.id)) run.skipped(i);
      run.skipped(r.fileItem);
      return;
    }
    const failedAsWhole =
      (fileEvent && !fileEvent.passed && fileEvent.error?.failureType !== 'subtestsFailed') ||
      (code !== 0 && started === 0);
    if (failedAsWhole) {
      const m = new vscode.TestMessage(
        fileFailureMessage(relative(ws ?? '', r.file) || r.file, fileEvent?.error, stderr),
      );
      m.location = new vscode.Location(vscode.Uri.file(r.file), new vscode.Position(0, 0));
      run.errored(r.fileItem, m, Date.now() - t0);
      for (const i of r.tests) if (!seen.has(i.id)) run.errored(i, m);
    } else {
      for (const i of r.tests)
        if (!seen.has(i.id))
          run.errored(
            i,
            new vscode.TestMessage(
              `"${i.label}" did not run: no test of ${relative(ws ?? '', r.file)} has that name now (save the file, or refresh)`,
            ),
          );
      if (!r.patterns) {
        if (code === 0 && failed === 0) run.passed(r.fileItem, Date.now() - t0);
        else run.failed(r.fileItem, [], Date.now() - t0);
        // A whole file ran: its items are the tests it reported (a test renamed or removed since the scan goes).
        if (started > 0) this.prune(r.fileItem, seen);
      }
    }
  }

  /** Drops the items under `item` no run event named (after a whole-file run). */
  private prune(item: vscode.TestItem, seen: ReadonlySet<string>): void {
    item.children.forEach((c) => {
      if (!seen.has(c.id)) item.children.delete(c.id);
      else this.prune(c, seen);
    });
  }

  /** The item of a test the run reported: the scanned one, else a new one (a name made at run time). */
  private ensureItem(
    r: FileRequest,
    path: readonly PathStep[],
    line: number,
    column: number,
  ): vscode.TestItem {
    let parent = r.fileItem;
    for (let k = 0; k < path.length; k++) {
      const id = userTestId(r.file, path.slice(0, k + 1));
      let child = parent.children.get(id);
      if (!child) {
        child = this.controller.createTestItem(id, path[k]!.name, vscode.Uri.file(r.file));
        parent.children.add(child);
      }
      if (k === path.length - 1 && line > 0) {
        const at = new vscode.Position(line - 1, Math.max(0, column - 1));
        child.range = new vscode.Range(at, at);
      }
      parent = child;
    }
    return parent;
  }

  private report(run: vscode.TestRun, item: vscode.TestItem, res: UserTestResult): void {
    if (res.outcome === 'passed') run.passed(item, res.durationMs);
    else if (res.outcome === 'skipped') run.skipped(item);
    else {
      const m =
        res.expected !== undefined && res.actual !== undefined
          ? vscode.TestMessage.diff(res.message ?? 'failed', res.expected, res.actual)
          : new vscode.TestMessage(res.message ?? 'failed');
      if (res.location)
        m.location = new vscode.Location(
          vscode.Uri.file(res.location.file),
          new vscode.Position(res.location.line - 1, Math.max(0, res.location.column - 1)),
        );
      run.failed(item, m, res.durationMs);
    }
  }

  /** `node --test FILE` with the reporter on stdout; cancelling kills its process group. The exit code. */
  private spawnFile(
    r: FileRequest,
    node: string,
    version: string,
    cwd: string,
    onEvent: (e: ReporterEvent) => void,
    onText: (text: string) => void,
    token: vscode.CancellationToken,
  ): Promise<number | null> {
    const args = nodeTestArgs({
      file: r.file,
      reporter: reporterModule(this.ctx),
      patterns: r.patterns ?? [],
      nodeVersion: version,
    });
    this.ctx.log.info(
      `Running user tests: ${node} ${args.map((a) => JSON.stringify(a)).join(' ')} (in ${cwd})`,
    );
    return new Promise((resolve, reject) => {
      const child = spawn(node, args, {
        cwd,
        // NODE_TEST_CONTEXT would make the runner take itself for a subtest of another run.
        env: { ...process.env, NODE_TEST_CONTEXT: undefined, ELECTRON_RUN_AS_NODE: '1' },
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group: cancelling stops the runner and the test file's process it started.
        detached: process.platform !== 'win32',
      });
      const kill = () => {
        if (child.exitCode !== null || !child.pid) return;
        try {
          if (process.platform === 'win32') spawnSync('taskkill', ['/pid', String(child.pid), '/T', '/F']);
          else process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      };
      const sub = token.onCancellationRequested(kill);
      let buf = '';
      child.stdout.setEncoding('utf8');
      child.stdout.on('data', (chunk: string) => {
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          const e = parseReporterLine(line);
          if (e) onEvent(e);
          else if (line.trim()) onText(`${line}\n`);
        }
      });
      child.stderr.setEncoding('utf8');
      // The runner's own messages (a bad flag, a warning): the file's stderr comes as events.
      child.stderr.on('data', (chunk: string) => onText(chunk));
      child.once('error', (err) => {
        sub.dispose();
        reject(
          new Error(
            `Cannot run node --test with ${node}: ${err.message}. Set "hangar.runtime.nodePath" to a Node ≥ 22.18.`,
          ),
        );
      });
      child.once('close', (code) => {
        sub.dispose();
        const e = parseReporterLine(buf);
        if (e) onEvent(e);
        resolve(code);
      });
    });
  }

  /** The same command under the JavaScript debugger; the reporter writes to a file read once the session ends. */
  private async debugFile(
    r: FileRequest,
    node: string,
    version: string,
    cwd: string,
    onEvent: (e: ReporterEvent) => void,
    run: vscode.TestRun,
    token: vscode.CancellationToken,
  ): Promise<number | null> {
    const dir = mkdtempSync(join(tmpdir(), 'hangar-debug-user-test-'));
    const events = join(dir, 'events.jsonl');
    const marker = `${r.file}.${Date.now()}`;
    const subs: vscode.Disposable[] = [];
    const args = nodeTestArgs({
      file: r.file,
      reporter: reporterModule(this.ctx),
      destination: events,
      patterns: r.patterns ?? [],
      nodeVersion: version,
    });
    try {
      subs.push(
        vscode.debug.onDidStartDebugSession((s) => {
          if (s.configuration.__hangarUserTest !== marker) return;
          if (token.isCancellationRequested) void vscode.debug.stopDebugging(s);
          else subs.push(token.onCancellationRequested(() => void vscode.debug.stopDebugging(s)));
        }),
      );
      const ended = new Promise<void>((resolve) => {
        const sub = vscode.debug.onDidTerminateDebugSession((s) => {
          if (s.configuration.__hangarUserTest === marker) {
            sub.dispose();
            resolve();
          }
        });
      });
      const folder = vscode.workspace.workspaceFolders?.find((f) => f.uri.fsPath === this.ctx.workspace);
      const ok = await vscode.debug.startDebugging(
        folder,
        {
          type: 'node',
          request: 'launch',
          name: `Hangar: debug ${relative(this.ctx.workspace ?? '', r.file)}`,
          runtimeExecutable: node,
          runtimeArgs: args.slice(0, -1),
          program: r.file,
          cwd,
          // null unsets: NODE_TEST_CONTEXT inherited from a VS Code started under node --test made the runner skip the file.
          env: { ELECTRON_RUN_AS_NODE: '1', NODE_TEST_CONTEXT: null },
          // node --test runs the file in a child process: the debugger follows it there.
          autoAttachChildProcesses: true,
          sourceMaps: true,
          // A DAG that hangar/testing compiles lands in its throwaway runtime's temporary folder with an inline
          // source map (as for the task tests' Debug profile): wait for each script's map before it runs.
          outFiles: [`${tmpdir()}/hangar-testing-*/**/*.mjs`],
          pauseForSourceMap: true,
          resolveSourceMapLocations: ['**', '!**/node_modules/**'],
          skipFiles: [
            '<node_internals>/**',
            '**/node_modules/**',
            `${this.ctx.extension.extensionPath}/dist/**`,
          ],
          console: 'internalConsole',
          outputCapture: 'std',
          __hangarUserTest: marker,
        },
        { testRun: run },
      );
      if (!ok)
        throw new Error(
          `VS Code did not start the debug session for ${r.file} (is the built-in JavaScript debugger enabled?)`,
        );
      await ended;
      if (existsSync(events)) {
        for (const line of readFileSync(events, 'utf8').split('\n')) {
          const e = parseReporterLine(line);
          if (e) onEvent(e);
        }
      }
      return existsSync(events) ? 0 : null;
    } finally {
      for (const s of subs) s.dispose();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
  }
}
