/**
 * The runtime client: starts the runtime server (dist/runtime/server.mjs) as a
 * child process on first use, speaks JSON-RPC to it over stdio, restarts it if
 * it dies (and says so), stops it on deactivation. Everything tied to one
 * connection is disposed with it, so a restart leaks nothing.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as vscode from 'vscode';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node.js';
import type { MessageConnection, RequestType } from 'vscode-jsonrpc/node.js';
import * as P from '../protocol/runtime.ts';

export interface ClientOptions {
  /** Absolute path of the server entry. */
  serverPath: string;
  workspace: string;
  log: vscode.LogOutputChannel;
  /** Node to run the server with (default: VS Code's own). */
  nodePath: () => string;
  config: () => P.InitializeParams['config'];
  /** Secrets to hand over after each start. */
  secrets: () => Promise<P.SecretsSetParams | undefined>;
  /** A team deployment's credentials, as the runtime process's environment (from SecretStorage). */
  env: () => Promise<Record<string, string>>;
  /** Whether the runtime server runs the scheduler loop (asked after each start). */
  scheduler: () => boolean;
}

type State = 'stopped' | 'starting' | 'running' | 'stopping';

export class RuntimeClient implements vscode.Disposable {
  private readonly o: ClientOptions;
  private child: ChildProcess | undefined;
  private connection: MessageConnection | undefined;
  private starting: Promise<MessageConnection> | undefined;
  private state: State = 'stopped';
  private crashes: number[] = [];
  /** Disposed whenever the connection ends (restart, crash, stop). */
  private connectionDisposables: vscode.Disposable[] = [];
  info: P.InitializeResult | undefined;

  readonly onRun = new vscode.EventEmitter<P.RunDidChangeParams>();
  readonly onTask = new vscode.EventEmitter<P.TaskDidChangeParams>();
  readonly onLog = new vscode.EventEmitter<P.LogDidAppendParams>();
  readonly onDags = new vscode.EventEmitter<P.DagListResult>();
  readonly onExpand = new vscode.EventEmitter<{ dagId: string; runId: string; taskId: string; count: number }>();
  /** Cells of the XCom benchmark under way (`bench/progress`). */
  readonly onBenchProgress = new vscode.EventEmitter<P.BenchProgress>();
  /** The primary XCom key should be replaced (`runtime/didWarn` with `keyUsage`). */
  readonly onKeyUsage = new vscode.EventEmitter<P.RuntimeWarning>();
  /** Fired after each (re)start with the connection ready, and with undefined when it stops. */
  readonly onDidChangeState = new vscode.EventEmitter<P.InitializeResult | undefined>();

  constructor(o: ClientOptions) {
    this.o = o;
  }

  get isRunning(): boolean {
    return this.state === 'running';
  }

  /** The connection, starting the runtime if needed. */
  ensure(): Promise<MessageConnection> {
    if (this.connection && this.state === 'running') return Promise.resolve(this.connection);
    this.starting ??= this.start().finally(() => (this.starting = undefined));
    return this.starting;
  }

  /** `token`: cancelling it sends $/cancelRequest (the runtime stops what it can, e.g. a task test's process). */
  async request<Params, Result>(type: RequestType<Params, Result, void>, params: Params, token?: vscode.CancellationToken): Promise<Result> {
    const c = await this.ensure();
    return token ? c.sendRequest(type, params, token) : c.sendRequest(type, params);
  }

  private async start(): Promise<MessageConnection> {
    this.state = 'starting';
    const t0 = performance.now();
    const node = this.o.nodePath();
    const log = this.o.log;
    const deployment = await this.o.env();
    const names = Object.keys(deployment);
    // Names only: the values are secrets.
    log.info(`Starting the runtime: ${node} ${this.o.serverPath} (workspace ${this.o.workspace})${names.length ? `, with ${names.join(', ')} from secret storage` : ''}`);
    const child = spawn(node, ['--enable-source-maps', this.o.serverPath], {
      cwd: this.o.workspace,
      // VS Code's own binary is Electron: make it behave as Node.
      env: { ...process.env, ...deployment, ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child = child;
    const spawned = new Promise<void>((ok, fail) => {
      child.once('spawn', ok);
      child.once('error', (err) => fail(new Error(`Cannot start the Hangar runtime with ${node}: ${err.message}. Set "hangar.runtime.nodePath" to a Node ≥ 22.13.`)));
    });
    child.stderr!.setEncoding('utf8');
    let stderrTail = '';
    child.stderr!.on('data', (chunk: string) => {
      stderrTail = (stderrTail + chunk).slice(-4000);
      for (const line of chunk.split('\n')) if (line.trim()) log.info(`[runtime] ${line}`);
    });
    await spawned;
    const connection = createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
    this.connection = connection;
    const d = this.connectionDisposables;
    d.push(
      connection.onNotification(P.RunDidChange, (e) => this.onRun.fire(e)),
      connection.onNotification(P.TaskDidChange, (e) => this.onTask.fire(e)),
      connection.onNotification(P.LogDidAppend, (e) => this.onLog.fire(e)),
      connection.onNotification(P.DagsDidLoad, (e) => this.onDags.fire(e)),
      connection.onNotification(P.TaskDidExpand, (e) => this.onExpand.fire(e)),
      connection.onNotification(P.BenchDidProgress, (e) => this.onBenchProgress.fire(e)),
      connection.onNotification(P.RuntimeDidWarn, (e) => {
        log.warn(`[runtime] ${e.message}`);
        if (e.keyUsage) this.onKeyUsage.fire(e);
      }),
      connection.onNotification(P.SchedulerDidLog, (e) => log.info(`[scheduler] ${e.line}`)),
      connection,
    );
    child.once('exit', (code, signal) => this.onExit(child, code, signal, stderrTail));
    connection.listen();
    try {
      this.info = await connection.sendRequest(P.Initialize, { workspace: this.o.workspace, config: this.o.config() });
      const secrets = await this.o.secrets();
      if (secrets) {
        const r = await connection.sendRequest(P.SecretsSet, secrets);
        log.info(`Secrets handed to the runtime: XCom keys ${r.xcomKeyIds.join(', ') || 'none'}; S3 credentials ${r.s3 ? 'yes' : 'no'}`);
      }
      if (this.o.scheduler()) {
        await connection.sendRequest(P.SchedulerSet, { enabled: true });
        log.info('Scheduler on: scheduled DAGs run while this window is open');
      }
    } catch (err) {
      // A start that failed (a store it cannot open, say) is not a crash: no "stopped unexpectedly", no restart loop.
      this.state = 'stopping';
      this.killChild(child);
      this.o.log.error(`The Hangar runtime failed to start: ${(err as Error).message}`);
      throw new Error(`The Hangar runtime failed to start: ${(err as Error).message}`);
    }
    this.state = 'running';
    log.info(`Runtime ready in ${Math.round(performance.now() - t0)} ms (pid ${this.info.pid}, node ${this.info.node}, store ${this.info.storePath})`);
    this.onDidChangeState.fire(this.info);
    return connection;
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null, stderrTail: string): void {
    if (child !== this.child) return;
    const expected = this.state === 'stopping' || this.state === 'stopped';
    this.disposeConnection();
    this.child = undefined;
    this.state = 'stopped';
    this.onDidChangeState.fire(undefined);
    if (expected) {
      this.o.log.info(`Runtime stopped (code ${code ?? '-'}${signal ? `, ${signal}` : ''})`);
      return;
    }
    this.o.log.error(`Runtime exited unexpectedly (code ${code ?? '-'}${signal ? `, signal ${signal}` : ''})${stderrTail ? `; last output:\n${stderrTail}` : ''}`);
    const now = Date.now();
    this.crashes = [...this.crashes.filter((t) => now - t < 60_000), now];
    if (this.crashes.length > 3) {
      void vscode.window
        .showErrorMessage(`The Hangar runtime stopped ${this.crashes.length} times in a minute (last: code ${code ?? signal}); not restarting it.`, 'Show Log', 'Restart Runtime')
        .then((pick) => {
          if (pick === 'Show Log') this.o.log.show();
          if (pick === 'Restart Runtime') void this.restart('requested after repeated crashes');
        });
      return;
    }
    void vscode.window.showWarningMessage(`The Hangar runtime stopped unexpectedly (${signal ?? `exit code ${code}`}); restarting it. Runs it was executing are recovered.`, 'Show Log').then((pick) => {
      if (pick === 'Show Log') this.o.log.show();
    });
    this.ensure().catch((err: unknown) => this.o.log.error(`Restart failed: ${(err as Error).message}`));
  }

  private disposeConnection(): void {
    const d = this.connectionDisposables;
    this.connectionDisposables = [];
    for (const x of d.reverse()) {
      try {
        x.dispose();
      } catch {
        /* already gone */
      }
    }
    this.connection = undefined;
  }

  private killChild(child: ChildProcess): void {
    try {
      child.kill('SIGKILL');
    } catch {
      /* gone */
    }
  }

  /** Stops the runtime: asks it to shut down, kills it if it does not exit within `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    const child = this.child;
    const connection = this.connection;
    if (!child) return;
    this.state = 'stopping';
    const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
    try {
      await Promise.race([connection?.sendRequest(P.Shutdown), new Promise((r) => setTimeout(r, graceMs))]);
    } catch {
      /* it may already be gone */
    }
    const timer = setTimeout(() => this.killChild(child), graceMs);
    await exited;
    clearTimeout(timer);
  }

  async restart(reason: string): Promise<void> {
    this.o.log.info(`Restarting the runtime: ${reason}`);
    await this.stop();
    await this.ensure();
  }

  dispose(): void {
    void this.stop(1000);
    for (const e of [this.onRun, this.onTask, this.onLog, this.onDags, this.onExpand, this.onDidChangeState, this.onBenchProgress, this.onKeyUsage]) e.dispose();
  }
}
