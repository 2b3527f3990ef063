/**
 * End-to-end harness: a real VS Code workbench (code-server) driven by Chromium
 * through playwright-core. No part of VS Code is mocked.
 *
 *   const vs = await startWorkbench({ workspace, extensions: ['hangar.vsix'] });
 *   try {
 *     await vs.runCommand('Hangar: Run DAG...');
 *     await vs.waitForTreeItem('Runs', /succeeded/);
 *     await vs.screenshot('after-run');
 *   } catch (e) {
 *     await vs.collectDiagnostics('run-dag');   // logs + console + screenshot into test-results/
 *     throw e;
 *   } finally {
 *     await vs.stop();
 *   }
 *
 * Prerequisite: `bash scripts/e2e/install-code-server.sh` (installs chromium,
 * build tools and code-server into ~/.cache/hangar-e2e). See test/e2e/README.md.
 *
 * Runs on Node 24 directly (type stripping), so: erasable syntax only.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { chromium } from 'playwright-core';
import type { BrowserContext, Locator, Page } from 'playwright-core';

/** Repository root (test/e2e/harness.ts → ../..). */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');

/** Where screenshots and diagnostics go (gitignored). */
export const DEFAULT_RESULTS_DIR = join(REPO_ROOT, 'test-results', 'e2e');

export const CODE_SERVER_VERSION = process.env.HANGAR_E2E_CODE_SERVER_VERSION ?? '4.139.1';

const CACHE_DIR =
  process.env.HANGAR_E2E_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'hangar-e2e');

/** Flags Chromium is launched with (headless, no network side traffic). */
export const CHROMIUM_ARGS: readonly string[] = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/**
 * User settings written before the first start so that the workbench is quiet
 * and deterministic: no welcome page, walkthroughs, tips, AI/chat surfaces,
 * update checks, telemetry, or extension recommendations.
 */
export const DETERMINISTIC_SETTINGS: Readonly<Record<string, unknown>> = {
  'workbench.startupEditor': 'none',
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'workbench.colorTheme': 'Default Dark Modern',
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'workbench.editor.enablePreview': false,
  'chat.disableAIFeatures': true,
  'chat.commandCenter.enabled': false,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'git.enabled': false,
  'git.openRepositoryInParentFolders': 'never',
  'npm.autoDetect': 'off',
  'typescript.disableAutomaticTypeAcquisition': true,
  'typescript.surveys.enabled': false,
  'editor.minimap.enabled': false,
  'accessibility.signalOptions.volume': 0,
  'security.workspace.trust.startupPrompt': 'never',
  'security.workspace.trust.banner': 'always',
  'security.workspace.trust.emptyWindow': false,
};

export interface WorkbenchOptions {
  /** Folder opened in the workbench (`?folder=`). Default: a fresh empty temp dir. */
  workspace?: string;
  /** `.vsix` files (or extension ids from the cache) installed with `--install-extension` before start. */
  extensions?: string[];
  /**
   * `'disabled'` (default): start with `--disable-workspace-trust`, everything trusted.
   * `'restricted'`: trust enabled, no startup prompt, so the folder opens in Restricted Mode
   * (use it to test untrusted behaviour; {@link Workbench.trustWorkspace} grants trust from the UI).
   */
  workspaceTrust?: 'disabled' | 'restricted';
  /** Extra user settings, merged over {@link DETERMINISTIC_SETTINGS}. */
  settings?: Record<string, unknown>;
  /** Directory for screenshots and diagnostics. Default: `test-results/e2e`. */
  resultsDir?: string;
  /** Browser viewport. Default 1440×900. */
  viewport?: { width: number; height: number };
  /** The browser's time zone (an IANA name, e.g. 'Asia/Kolkata'). Default: the machine's. */
  timezoneId?: string;
  /** Extra environment for code-server and its extension host. */
  env?: Record<string, string>;
  /** How long to wait for the workbench to be ready. Default 120 s (2 shared cores). */
  startTimeoutMs?: number;
  /** Echo code-server output to stderr as it arrives. Default: env HANGAR_E2E_VERBOSE=1. */
  verbose?: boolean;
}

export interface TreeItem {
  /** The item's label as shown. */
  label: string;
  /** The greyed description next to the label, if any. */
  description: string;
  /** The full accessible label (label, description, tooltip-ish text VS Code puts there). */
  ariaLabel: string;
  /** Depth in the tree, 1 for roots. */
  level: number;
  /** `true`/`false` for collapsible items, `undefined` for leaves. */
  expanded: boolean | undefined;
}

export interface Problem {
  /** `'file'` for the resource rows, otherwise the marker's severity. */
  kind: 'file' | 'error' | 'warning' | 'info';
  /** Absolute path of the file (for markers: of the file row they are listed under). */
  file: string;
  /** Marker message (file rows: the file name). */
  message: string;
  /** Marker source, e.g. `'hangar'` (empty for file rows). */
  source: string;
  /** 1-based line and column of a marker (0 for file rows). */
  line: number;
  column: number;
  /** Accessible label: for markers VS Code writes "Error: MESSAGE at line L and character C. generated by SOURCE". */
  ariaLabel: string;
}

export interface Notification {
  message: string;
  /** Source text (e.g. the extension's name), if shown. */
  source: string;
  buttons: string[];
}

/** Timings measured while starting, in milliseconds. */
export interface StartTimings {
  installExtensionsMs: number;
  codeServerReadyMs: number;
  workbenchReadyMs: number;
}

/** Locate the cached code-server entry point installed by scripts/e2e/install-code-server.sh. */
export function codeServerEntry(): string {
  const explicit = process.env.HANGAR_E2E_CODE_SERVER_ENTRY;
  const entry =
    explicit ??
    join(
      CACHE_DIR,
      'code-server',
      CODE_SERVER_VERSION,
      'node_modules',
      'code-server',
      'out',
      'node',
      'entry.js',
    );
  const complete = explicit
    ? true
    : existsSync(join(CACHE_DIR, 'code-server', CODE_SERVER_VERSION, '.complete'));
  if (!complete || !existsSync(entry)) {
    throw new Error(
      `code-server ${CODE_SERVER_VERSION} is not installed at ${entry}; run: bash scripts/e2e/install-code-server.sh`,
    );
  }
  return entry;
}

/** The Node that runs code-server: the cached Node 24 it was built against, else this process's Node. */
function codeServerNode(): string {
  const versionFile = join(CACHE_DIR, 'code-server', CODE_SERVER_VERSION, '.complete');
  if (existsSync(versionFile)) {
    const m = /^node=(.+)$/m.exec(readFileSync(versionFile, 'utf8'));
    const node = m ? join(CACHE_DIR, 'node', m[1]!, 'bin', 'node') : '';
    if (node && existsSync(node)) return node;
  }
  return process.execPath;
}

/** A free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => ok(port));
    });
  });
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function exactText(text: string | RegExp): RegExp {
  return typeof text === 'string' ? new RegExp(`^\\s*${escapeRegExp(text)}\\s*$`) : text;
}

function matches(value: string, text: string | RegExp): boolean {
  return typeof text === 'string' ? value.includes(text) : text.test(value);
}

/** Is there any process left in process group `pgid`? */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

function killGroup(pgid: number | undefined, signal: NodeJS.Signals): void {
  if (!pgid) return;
  try {
    process.kill(-pgid, signal);
  } catch {
    /* already gone */
  }
}

/** PIDs of processes whose command line contains `needle` (a unique temp path of ours). */
function pidsWithArg(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmd.includes(needle)) pids.push(Number(entry));
    } catch {
      /* raced with exit */
    }
  }
  return pids;
}

/** State letter and process group of `pid`, from /proc/PID/stat (fields 3 and 5). */
function procStat(pid: number): { state: string; pgid: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0]!, pgid: Number(fields[2]) };
  } catch {
    return undefined;
  }
}

function pgidOf(pid: number): number | undefined {
  return procStat(pid)?.pgid;
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch {
    return out;
  }
  for (const e of entries) if (e.isFile()) out.push(join(e.parentPath, e.name));
  return out.sort();
}

/** Install extensions into an extensions dir with code-server's CLI. */
export async function installExtensions(
  extensions: string[],
  dirs: { extensionsDir: string; userDataDir: string },
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  if (extensions.length === 0) return;
  const args = [
    codeServerEntry(),
    // Any code-server start writes a default config file; keep it out of $HOME.
    '--config',
    join(dirs.userDataDir, 'code-server-cli.yaml'),
    '--extensions-dir',
    dirs.extensionsDir,
    '--user-data-dir',
    dirs.userDataDir,
  ];
  for (const ext of extensions) args.push('--install-extension', resolve(ext));
  const res = spawnSync(codeServerNode(), args, { encoding: 'utf8', env, timeout: 180_000 });
  const output = `${res.stdout ?? ''}${res.stderr ?? ''}`;
  const installed = output.match(/was successfully installed/g)?.length ?? 0;
  if (res.status !== 0 || installed !== extensions.length) {
    throw new Error(`--install-extension failed (status ${res.status}):\n${output}`);
  }
}

/**
 * Package an extension folder into a `.vsix` with `@vscode/vsce` (the repo's dev dependency).
 * Returns the path of the written file.
 */
export function packageVsix(extensionDir: string, outFile: string): string {
  const vsce = join(REPO_ROOT, 'node_modules', '@vscode', 'vsce', 'vsce');
  const res = spawnSync(
    process.execPath,
    [vsce, 'package', '--no-dependencies', '--allow-missing-repository', '-o', outFile],
    {
      cwd: extensionDir,
      encoding: 'utf8',
      timeout: 120_000,
    },
  );
  if (res.status !== 0 || !existsSync(outFile)) {
    throw new Error(
      `vsce package failed in ${extensionDir} (status ${res.status}):\n${res.stdout}${res.stderr}`,
    );
  }
  return outFile;
}

/**
 * Hangar's own package, as `npm run package` builds it (production bundle, then scripts/package-vsix.ts),
 * written to `outFile`. Throws with the tools' output if either step fails.
 */
export function packageHangarVsix(outFile: string): string {
  for (const args of [['esbuild.js', '--production'], ['scripts/package-vsix.ts', outFile]]) {
    const res = spawnSync(process.execPath, args, { cwd: REPO_ROOT, encoding: 'utf8', timeout: 300_000 });
    if (res.status !== 0) throw new Error(`${args.join(' ')} failed (status ${res.status}):\n${res.stdout}${res.stderr}`);
  }
  if (!existsSync(outFile)) throw new Error(`packaging reported success but ${outFile} is missing`);
  return outFile;
}

/** Start code-server + Chromium and wait for the workbench. Always call {@link Workbench.stop}. */
export async function startWorkbench(options: WorkbenchOptions = {}): Promise<Workbench> {
  const wb = new Workbench(options);
  try {
    await wb.start();
  } catch (e) {
    await wb.collectDiagnostics('startup-failure').catch(() => undefined);
    await wb.stop();
    throw e;
  }
  return wb;
}

const liveWorkbenches = new Set<Workbench>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Last resort if a test forgets stop() or the process exits abruptly: synchronous kill.
  process.on('exit', () => {
    for (const wb of liveWorkbenches) wb.killNow();
  });
}

/** A running code-server + Chromium pair. Create with {@link startWorkbench}. */
export class Workbench {
  readonly options: WorkbenchOptions;
  readonly resultsDir: string;
  /** Temp root holding user-data, extensions, Chromium profile, config (removed by stop()). */
  root = '';
  workspace = '';
  userDataDir = '';
  extensionsDir = '';
  port = 0;
  url = '';
  timings: StartTimings = { installExtensionsMs: 0, codeServerReadyMs: 0, workbenchReadyMs: 0 };

  private server: ChildProcess | undefined;
  private serverPgid: number | undefined;
  private reaper: ChildProcess | undefined;
  private context: BrowserContext | undefined;
  private chromiumPgid: number | undefined;
  private browserProfile = '';
  private _page: Page | undefined;
  private ownsWorkspace = false;
  private stopped = false;
  /** code-server stdout+stderr. */
  readonly serverOutput: string[] = [];
  /** Browser console messages and page errors. */
  readonly consoleMessages: string[] = [];

  constructor(options: WorkbenchOptions) {
    this.options = options;
    this.resultsDir = options.resultsDir ?? DEFAULT_RESULTS_DIR;
  }

  /** The Playwright page showing the workbench, for anything the helpers do not cover. */
  get page(): Page {
    if (!this._page) throw new Error('workbench not started');
    return this._page;
  }

  // ------------------------------------------------------------------ lifecycle

  async start(): Promise<void> {
    const o = this.options;
    this.root = await mkdtemp(join(tmpdir(), 'hangar-e2e-'));
    this.userDataDir = join(this.root, 'user-data');
    this.extensionsDir = join(this.root, 'extensions');
    this.browserProfile = join(this.root, 'chromium-profile');
    if (o.workspace) {
      this.workspace = resolve(o.workspace);
    } else {
      this.workspace = join(this.root, 'workspace');
      this.ownsWorkspace = true;
    }
    await Promise.all(
      [
        this.userDataDir,
        this.extensionsDir,
        this.browserProfile,
        this.workspace,
        join(this.root, 'xdg-config'),
        join(this.root, 'xdg-data'),
      ].map((d) => mkdir(d, { recursive: true })),
    );
    await mkdir(join(this.userDataDir, 'User'), { recursive: true });
    await writeFile(
      join(this.userDataDir, 'User', 'settings.json'),
      JSON.stringify({ ...DETERMINISTIC_SETTINGS, ...o.settings }, null, 2),
    );
    await writeFile(join(this.root, 'config.yaml'), 'auth: none\ncert: false\n');
    liveWorkbenches.add(this);
    installExitHook();

    const env: NodeJS.ProcessEnv = {
      ...process.env,
      // Keep code-server's own state (coder.json, config) out of $HOME.
      XDG_CONFIG_HOME: join(this.root, 'xdg-config'),
      XDG_DATA_HOME: join(this.root, 'xdg-data'),
      ...o.env,
    };
    // A password in the environment would turn auth back on.
    delete env.PASSWORD;
    delete env.HASHED_PASSWORD;

    let t = performance.now();
    await installExtensions(o.extensions ?? [], this, env);
    this.timings.installExtensionsMs = Math.round(performance.now() - t);

    t = performance.now();
    this.port = await freePort();
    const args = [
      codeServerEntry(),
      '--config',
      join(this.root, 'config.yaml'),
      '--bind-addr',
      `127.0.0.1:${this.port}`,
      '--auth',
      'none',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-getting-started-override',
      '--extensions-dir',
      this.extensionsDir,
      '--user-data-dir',
      this.userDataDir,
    ];
    if ((o.workspaceTrust ?? 'disabled') === 'disabled') args.push('--disable-workspace-trust');
    const verbose = o.verbose ?? process.env.HANGAR_E2E_VERBOSE === '1';
    // Own process group: stop() kills code-server with its extension host, pty host and watchers.
    const server = spawn(codeServerNode(), args, {
      cwd: this.workspace,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.server = server;
    this.serverPgid = server.pid;
    this.startReaper();
    const ready = new Promise<void>((ok, fail) => {
      const onData = (chunk: Buffer): void => {
        const text = chunk.toString();
        this.serverOutput.push(text);
        if (verbose) process.stderr.write(`[code-server] ${text}`);
        if (/HTTP server listening on/.test(this.serverOutput.join(''))) ok();
      };
      server.stdout!.on('data', onData);
      server.stderr!.on('data', onData);
      server.once('exit', (code, signal) =>
        fail(
          new Error(
            `code-server exited early (code ${code}, signal ${signal}):\n${this.serverOutput.join('')}`,
          ),
        ),
      );
      server.once('error', fail);
    });
    const timeoutMs = o.startTimeoutMs ?? 120_000;
    await this.withTimeout(ready, timeoutMs, 'code-server to listen');
    this.url = `http://127.0.0.1:${this.port}/`;
    await this.withTimeout(this.waitForHealth(), 30_000, 'code-server /healthz');
    this.timings.codeServerReadyMs = Math.round(performance.now() - t);

    t = performance.now();
    this.context = await chromium.launchPersistentContext(this.browserProfile, {
      executablePath: process.env.HANGAR_E2E_CHROMIUM ?? '/usr/bin/chromium',
      headless: true,
      args: [...CHROMIUM_ARGS],
      viewport: o.viewport ?? { width: 1440, height: 900 },
      ...(o.timezoneId ? { timezoneId: o.timezoneId } : {}),
      timeout: 60_000,
    });
    this.chromiumPgid = this.findChromiumPgid();
    this.startReaper();
    const page = this.context.pages()[0] ?? (await this.context.newPage());
    this._page = page;
    page.on('console', (m) => this.consoleMessages.push(`[${m.type()}] ${m.text()}`));
    page.on('pageerror', (e) => this.consoleMessages.push(`[pageerror] ${e.stack ?? e.message}`));
    page.setDefaultTimeout(30_000);
    await page.goto(`${this.url}?folder=${encodeURIComponent(this.workspace)}`, {
      waitUntil: 'domcontentloaded',
      timeout: 60_000,
    });
    await this.waitForWorkbench(timeoutMs);
    this.timings.workbenchReadyMs = Math.round(performance.now() - t);
  }

  private async withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    });
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private async waitForHealth(): Promise<void> {
    for (;;) {
      try {
        const res = await fetch(`${this.url}healthz`);
        if (res.ok) return;
      } catch {
        /* not yet */
      }
      await delay(100);
    }
  }

  /**
   * Wait until the workbench is interactive and settled: shell rendered, the remote extension host
   * has activated its eager extensions (its log says so), the configured color theme is applied, and,
   * in Restricted Mode, the Restricted Mode indicator is shown.
   */
  private async waitForWorkbench(timeoutMs: number): Promise<void> {
    const page = this.page;
    const deadline = Date.now() + timeoutMs;
    const left = (): number => Math.max(1, deadline - Date.now());
    await page.locator('.monaco-workbench .part.statusbar').waitFor({ state: 'visible', timeout: left() });
    await this.withTimeout(
      (async () => {
        while (!/Eager extensions activated/.test(await this.extensionHostLog())) await delay(200);
      })(),
      left(),
      'the extension host ("Eager extensions activated" in its log)',
    );
    const theme = String(
      { ...DETERMINISTIC_SETTINGS, ...this.options.settings }['workbench.colorTheme'] ?? '',
    );
    const themeClass = /high contrast light/i.test(theme)
      ? 'hc-light'
      : /high contrast/i.test(theme)
        ? 'hc-black'
        : /light/i.test(theme)
          ? 'vs'
          : /dark/i.test(theme)
            ? 'vs-dark'
            : '';
    if (themeClass) {
      await page.waitForFunction(
        `document.querySelector('.monaco-workbench')?.classList.contains(${JSON.stringify(themeClass)})`,
        undefined,
        { timeout: left() },
      );
    }
    if (this.options.workspaceTrust === 'restricted') {
      await page
        .locator('.part.statusbar .statusbar-item', { hasText: 'Restricted Mode' })
        .first()
        .waitFor({ state: 'visible', timeout: left() });
    }
    // One more beat for views restored from the layout to render.
    await delay(500);
  }

  /** A sh process, in its own session, that kills our process groups if this Node process dies without stop(). */
  private startReaper(): void {
    const groups = [this.serverPgid, this.chromiumPgid].filter((g): g is number => typeof g === 'number');
    if (groups.length === 0) return;
    if (this.reaper?.pid) killGroup(this.reaper.pid, 'SIGKILL');
    const kills = groups.map((g) => `kill -KILL -${g} 2>/dev/null`).join('; ');
    const script = `while kill -0 ${process.pid} 2>/dev/null; do sleep 1; done; ${kills}; rm -rf '${this.root}'`;
    this.reaper = spawn('sh', ['-c', script], { detached: true, stdio: 'ignore' });
    this.reaper.unref();
  }

  private findChromiumPgid(): number | undefined {
    // Playwright starts Chromium detached (its own group); find its browser process by our unique profile dir.
    for (const pid of pidsWithArg(`--user-data-dir=${this.browserProfile}`)) {
      const pgid = pgidOf(pid);
      if (pgid === pid) return pid;
    }
    return undefined;
  }

  /** Synchronous last-resort kill (used from process 'exit'). */
  killNow(): void {
    killGroup(this.chromiumPgid, 'SIGKILL');
    killGroup(this.serverPgid, 'SIGKILL');
    if (this.reaper?.pid) killGroup(this.reaper.pid, 'SIGKILL');
  }

  /**
   * Close Chromium and kill code-server with every process it started (its process group),
   * then remove the temp dirs (unless the workspace was given by the caller).
   * Safe to call more than once. Throws if a process survives.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.context) {
      await this.withTimeout(this.context.close(), 15_000, 'chromium to close').catch(() => undefined);
    }
    killGroup(this.chromiumPgid, 'SIGKILL');
    if (this.serverPgid) {
      killGroup(this.serverPgid, 'SIGTERM');
      for (let i = 0; i < 50 && groupAlive(this.serverPgid); i++) await delay(100);
      killGroup(this.serverPgid, 'SIGKILL');
      for (let i = 0; i < 50 && groupAlive(this.serverPgid); i++) await delay(100);
    }
    // Anything else still holding our temp root (e.g. a process that left the group).
    if (this.root) {
      for (const pid of pidsWithArg(this.root)) {
        if (pid === this.reaper?.pid) continue;
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone */
        }
      }
    }
    if (this.reaper?.pid) killGroup(this.reaper.pid, 'SIGKILL');
    liveWorkbenches.delete(this);
    const survivors = this.survivingProcesses();
    if (this.root)
      await rm(this.root, { recursive: true, force: true, maxRetries: 3 }).catch(() => undefined);
    if (this.ownsWorkspace) await rm(this.workspace, { recursive: true, force: true }).catch(() => undefined);
    if (survivors.length > 0) throw new Error(`processes survived stop(): ${survivors.join(', ')}`);
  }

  /** PIDs still alive from this workbench (code-server group, Chromium group, or using our temp root). */
  survivingProcesses(): number[] {
    const pids = new Set<number>();
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const pid = Number(entry);
      const st = procStat(pid);
      if (!st || st.state === 'Z') continue; // zombies are dead, awaiting their parent's wait()
      if (st.pgid === this.serverPgid || st.pgid === this.chromiumPgid) pids.add(pid);
    }
    if (this.root) for (const pid of pidsWithArg(this.root)) if (pid !== this.reaper?.pid) pids.add(pid);
    pids.delete(process.pid);
    return [...pids];
  }

  // ------------------------------------------------------------------ commands and quick input

  /** The quick input (command palette / quick pick) text box. */
  get quickInput(): Locator {
    return this.page.locator('.quick-input-widget input');
  }

  /** Rows currently listed in the quick input. */
  get quickInputRows(): Locator {
    return this.page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
  }

  /** Open the command palette (F1, falling back to Ctrl+Shift+P) and wait for its input. */
  async openCommandPalette(): Promise<void> {
    const page = this.page;
    await this.closeQuickInput();
    for (const key of ['F1', 'Control+Shift+P', 'F1']) {
      await page
        .locator('.monaco-workbench')
        .focus()
        .catch(() => undefined);
      await page.keyboard.press(key);
      try {
        await this.quickInput.waitFor({ state: 'visible', timeout: 5_000 });
        return;
      } catch {
        /* try the next key */
      }
    }
    throw new Error('command palette did not open');
  }

  /** Close the quick input if it is open. */
  async closeQuickInput(): Promise<void> {
    if (await this.quickInput.isVisible().catch(() => false)) {
      await this.page.keyboard.press('Escape');
      await this.quickInput.waitFor({ state: 'hidden', timeout: 5_000 }).catch(() => undefined);
    }
  }

  /** Type into the open quick input with a per-key delay (typing all at once into a still-opening palette loses keys). */
  async typeInQuickInput(text: string, opts: { replace?: boolean; keyDelayMs?: number } = {}): Promise<void> {
    const input = this.quickInput;
    await input.waitFor({ state: 'visible' });
    if (opts.replace) {
      await input.fill('');
    }
    await input.pressSequentially(text, { delay: opts.keyDelayMs ?? 25 });
  }

  /**
   * Run a command by its palette title, e.g. `'Hangar Probe: Say Hello'` ("Category: Title").
   * Picks the row whose label equals `title` (or matches the RegExp); fails listing the rows otherwise.
   * With a RegExp, `opts.query` is what gets typed (default: the RegExp's literal characters).
   */
  async runCommand(title: string | RegExp, opts: { timeoutMs?: number; query?: string } = {}): Promise<void> {
    await this.openCommandPalette();
    const typed =
      opts.query ??
      (typeof title === 'string'
        ? title
        : title.source
            .replace(/[\\^$.*+?()[\]{}|]/g, ' ')
            .replace(/\s+/g, ' ')
            .trim());
    await this.typeInQuickInput(typed);
    await this.pickQuickItem(title, opts);
  }

  /**
   * Pick a row in the open quick input (palette or an extension's quick pick) by its label.
   * Strings match the label exactly; RegExps are tested against the label.
   */
  async pickQuickItem(label: string | RegExp, opts: { timeoutMs?: number; clickTimeoutMs?: number } = {}): Promise<void> {
    const timeout = opts.timeoutMs ?? 15_000;
    const rowLabel = this.quickInputRows.locator('.label-name');
    const row = this.quickInputRows
      .filter({ has: this.page.locator('.label-name', { hasText: exactText(label) }) })
      .first();
    try {
      await row.waitFor({ state: 'visible', timeout });
    } catch {
      const seen = await rowLabel.allTextContents().catch(() => []);
      throw new Error(`no quick input item ${String(label)}; listed: ${JSON.stringify(seen)}`);
    }
    await row.click(opts.clickTimeoutMs === undefined ? undefined : { timeout: opts.clickTimeoutMs });
  }

  /** Labels of the rows the quick input currently lists. */
  async quickItems(): Promise<string[]> {
    return (await this.quickInputRows.locator('.label-name').allTextContents()).map((s) => s.trim());
  }

  /** Answer an input box (e.g. `showInputBox`) with `text` and Enter. */
  async submitInput(text: string): Promise<void> {
    await this.typeInQuickInput(text, { replace: true });
    // When one input box follows another, the widget is reused and its value reset as the new one opens:
    // keys typed in that moment are lost (seen: a 44-character key arriving as 43). Check what the box
    // holds before submitting, and set it whole if it is not what was typed.
    const input = this.quickInput;
    for (let attempt = 0; (await input.inputValue()) !== text; attempt++) {
      if (attempt >= 3) throw new Error(`the input box holds ${JSON.stringify((await input.inputValue()).length)} characters, not the ${text.length} typed`);
      await this.page.waitForTimeout(200);
      if ((await input.inputValue()) !== text) await input.fill(text);
    }
    await this.page.keyboard.press('Enter');
  }

  // ------------------------------------------------------------------ views and trees

  /** Open a view by name through "View: Open View" (works for any registered view, e.g. 'Probe Items', 'Problems'). */
  async openView(name: string): Promise<void> {
    await this.openCommandPalette();
    // The palette's "view " prefix lists views by name.
    await this.typeInQuickInput(`view ${name}`, { replace: true });
    await this.pickQuickItem(name);
    await this.page
      .locator('.quick-input-widget')
      .waitFor({ state: 'hidden', timeout: 5_000 })
      .catch(() => undefined);
  }

  /** The pane of a view in a side bar or panel, found by its header title (case-insensitive). */
  viewPane(viewName: string): Locator {
    const header = this.page.locator('.pane-header', {
      has: this.page.locator('h3.title', { hasText: new RegExp(`^\\s*${escapeRegExp(viewName)}\\s*$`, 'i') }),
    });
    return this.page.locator('.pane', { has: header });
  }

  /** The row locator for a tree item in a view (label exact for strings), for clicking or context menus. */
  treeItem(viewName: string, label: string | RegExp): Locator {
    return this.viewPane(viewName)
      .locator('.monaco-list-row')
      .filter({
        has: this.page.locator('.label-name, .monaco-highlighted-label', { hasText: exactText(label) }),
      })
      .first();
  }

  /** The items a tree view currently renders (only rows in the DOM: VS Code virtualises long trees). */
  async treeItems(viewName: string): Promise<TreeItem[]> {
    const rows = this.viewPane(viewName).locator('.monaco-list-row');
    return rows.evaluateAll((els) =>
      els.map((el) => {
        const label =
          el.querySelector('.label-name')?.textContent ??
          el.querySelector('.monaco-highlighted-label')?.textContent ??
          '';
        const description = el.querySelector('.label-description')?.textContent ?? '';
        const exp = el.getAttribute('aria-expanded');
        return {
          label: label.trim(),
          description: description.trim(),
          ariaLabel: el.getAttribute('aria-label') ?? '',
          level: Number(el.getAttribute('aria-level') ?? '1'),
          expanded: exp === null ? undefined : exp === 'true',
        };
      }),
    );
  }

  /** Wait until a tree view shows an item whose label matches (substring or RegExp); returns it. */
  async waitForTreeItem(
    viewName: string,
    label: string | RegExp,
    opts: { timeoutMs?: number } = {},
  ): Promise<TreeItem> {
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    for (;;) {
      const last = await this.treeItems(viewName).catch(() => []);
      const hit = last.find((i) => matches(i.label, label) || matches(i.ariaLabel, label));
      if (hit) return hit;
      if (Date.now() > deadline)
        throw new Error(
          `tree ${viewName} has no item ${String(label)}; shows ${JSON.stringify(last.map((i) => i.label))}`,
        );
      await delay(200);
    }
  }

  /** Right-click a tree item and choose a context-menu action by its label. */
  async treeItemContextAction(
    viewName: string,
    item: string | RegExp,
    action: string | RegExp,
  ): Promise<void> {
    await this.treeItem(viewName, item).click({ button: 'right' });
    const menuItem = this.page
      .locator('.context-view .monaco-menu a.action-menu-item', {
        has: this.page.locator('.action-label', { hasText: exactText(action) }),
      })
      .first();
    await menuItem.waitFor({ state: 'visible', timeout: 10_000 });
    // Monaco menus ignore a click that arrives straight after opening: hover first, then click.
    await menuItem.hover();
    await delay(200);
    await menuItem.click();
    if (
      !(await menuItem.waitFor({ state: 'hidden', timeout: 3_000 }).then(
        () => true,
        () => false,
      ))
    ) {
      await menuItem.focus();
      await this.page.keyboard.press('Enter');
      await menuItem.waitFor({ state: 'hidden', timeout: 5_000 });
    }
  }

  // ------------------------------------------------------------------ problems

  /** Open the Problems panel (if needed) and return its rows: files and their markers, in display order. */
  async problems(): Promise<Problem[]> {
    const panel = this.page.locator('.markers-panel');
    if (!(await panel.isVisible().catch(() => false))) {
      await this.runCommand('View: Focus Problems (Errors, Warnings, Infos)');
      await panel.waitFor({ state: 'visible', timeout: 10_000 });
    }
    return panel.locator('.monaco-list-row').evaluateAll((els) => {
      let file = '';
      return els.map((el) => {
        const icon = el.querySelector('.marker-icon');
        if (!icon) {
          file =
            el.querySelector('.monaco-icon-label')?.getAttribute('aria-label') ??
            el.querySelector('.label-name')?.textContent ??
            '';
          const name = (el.querySelector('.label-name')?.textContent ?? '').trim();
          return {
            kind: 'file' as const,
            file,
            message: name,
            source: '',
            line: 0,
            column: 0,
            ariaLabel: el.getAttribute('aria-label') ?? '',
          };
        }
        const cls = icon.className;
        const kind = /\berror\b/.test(cls)
          ? ('error' as const)
          : /\bwarning\b/.test(cls)
            ? ('warning' as const)
            : ('info' as const);
        const pos = /Ln (\d+), Col (\d+)/.exec(el.querySelector('.marker-line')?.textContent ?? '');
        return {
          kind,
          file,
          message: (el.querySelector('.marker-message')?.textContent ?? '').trim(),
          source: (el.querySelector('.marker-source')?.textContent ?? '').trim(),
          line: pos ? Number(pos[1]) : 0,
          column: pos ? Number(pos[2]) : 0,
          ariaLabel: el.getAttribute('aria-label') ?? '',
        };
      });
    });
  }

  /** Wait until the Problems panel lists a marker whose message matches (substring or RegExp). */
  async waitForProblem(message: string | RegExp, opts: { timeoutMs?: number } = {}): Promise<Problem> {
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    for (;;) {
      const rows = await this.problems();
      const hit = rows.find((r) => r.kind !== 'file' && matches(r.message, message));
      if (hit) return hit;
      if (Date.now() > deadline)
        throw new Error(`no problem ${String(message)}; Problems shows ${JSON.stringify(rows)}`);
      await delay(300);
    }
  }

  /** Wait until no marker in the Problems panel matches (e.g. after fixing a file). */
  async waitForNoProblem(message: string | RegExp, opts: { timeoutMs?: number } = {}): Promise<void> {
    const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
    for (;;) {
      const rows = await this.problems();
      if (!rows.some((r) => r.kind !== 'file' && matches(r.message, message))) return;
      if (Date.now() > deadline)
        throw new Error(`problem ${String(message)} still listed: ${JSON.stringify(rows)}`);
      await delay(300);
    }
  }

  // ------------------------------------------------------------------ notifications

  /** Notifications currently shown as toasts (and, if the center is open, in the center). */
  async notifications(): Promise<Notification[]> {
    return this.page.locator('.notification-list-item').evaluateAll((els) =>
      els.map((el) => ({
        message: (el.querySelector('.notification-list-item-message')?.textContent ?? '').trim(),
        source: (el.querySelector('.notification-list-item-source')?.textContent ?? '').trim(),
        buttons: [...el.querySelectorAll('.notification-list-item-buttons-container .monaco-button')].map(
          (b) => (b.textContent ?? '').trim(),
        ),
      })),
    );
  }

  /**
   * Wait for a notification whose message matches (substring or RegExp). Toasts hide after a while,
   * so if none matches by half the timeout the notification center is opened and searched too.
   */
  async waitForNotification(text: string | RegExp, opts: { timeoutMs?: number } = {}): Promise<Notification> {
    const timeout = opts.timeoutMs ?? 30_000;
    const deadline = Date.now() + timeout;
    let centerOpened = false;
    for (;;) {
      const all = await this.notifications().catch(() => []);
      const hit = all.find((n) => matches(n.message, text));
      if (hit) return hit;
      if (Date.now() > deadline)
        throw new Error(`no notification ${String(text)}; shown: ${JSON.stringify(all)}`);
      if (!centerOpened && Date.now() > deadline - timeout / 2) {
        centerOpened = true;
        await this.openNotificationCenter().catch(() => undefined);
      }
      await delay(200);
    }
  }

  /** Open the notification center (the bell in the status bar). */
  async openNotificationCenter(): Promise<void> {
    if (
      await this.page
        .locator('.notifications-center.visible')
        .isVisible()
        .catch(() => false)
    )
      return;
    await this.page
      .locator(
        '.part.statusbar [id="status.notifications"], .part.statusbar .statusbar-item:has(.codicon-bell), .part.statusbar .statusbar-item:has(.codicon-bell-dot)',
      )
      .first()
      .click();
    await this.page.locator('.notifications-center').waitFor({ state: 'visible', timeout: 5_000 });
  }

  /** Click a button on the notification whose message matches. */
  async clickNotificationButton(text: string | RegExp, button: string): Promise<void> {
    await this.waitForNotification(text);
    const item = this.page
      .locator('.notification-list-item')
      .filter({ has: this.page.locator('.notification-list-item-message', { hasText: text }) })
      .first();
    await item
      .locator('.monaco-button', { hasText: exactText(button) })
      .first()
      .click();
  }

  /** Clear all notifications. */
  async clearNotifications(): Promise<void> {
    await this.runCommand('Notifications: Clear All Notifications');
  }

  // ------------------------------------------------------------------ editors, status bar, trust

  /** Open a workspace file with Quick Open (Ctrl+P) by its relative path. */
  async openFile(relativePath: string): Promise<void> {
    await this.openCommandPalette();
    await this.typeInQuickInput(relativePath, { replace: true });
    const base = relativePath.split('/').pop()!;
    await this.pickQuickItem(base);
    await this.page
      .locator(`.tabs-container .tab[data-resource-name="${base}"], .tabs-container .tab:has-text("${base}")`)
      .first()
      .waitFor({ state: 'visible', timeout: 15_000 });
  }

  /** Texts of the status bar items. */
  /** Text of the active editor (Monaco renders lines as .view-line spans; its spaces as no-break spaces). */
  async editorText(): Promise<string> {
    const text = await this.page.locator('.part.editor .monaco-editor .view-lines').first().innerText();
    return text.replace(/\u00a0/g, ' ');
  }

  async statusBarItems(): Promise<string[]> {
    return (await this.page.locator('.part.statusbar .statusbar-item').allTextContents())
      .map((s) => s.trim())
      .filter(Boolean);
  }

  /** Whether the window is in Restricted Mode (only possible with `workspaceTrust: 'restricted'`). */
  async isRestricted(): Promise<boolean> {
    const items = await this.statusBarItems();
    return items.some((s) => /Restricted Mode/i.test(s));
  }

  /** Grant trust from the UI ("Workspaces: Manage Workspace Trust" → "Trust"), then close the trust editor. */
  async trustWorkspace(): Promise<void> {
    await this.runCommand('Workspaces: Manage Workspace Trust');
    const editor = this.page.locator('.workspace-trust-editor');
    await editor
      .locator('.monaco-button', { hasText: /^\s*Trust( Folder)?\s*$/ })
      .first()
      .click({ timeout: 15_000 });
    await this.page
      .locator('.part.statusbar .statusbar-item', { hasText: 'Restricted Mode' })
      .waitFor({ state: 'detached', timeout: 15_000 });
    await this.runCommand('View: Close Editor');
    await editor.waitFor({ state: 'hidden', timeout: 10_000 });
  }

  // ------------------------------------------------------------------ evidence

  /** Save a full-window PNG as `<resultsDir>/<name>.png`; returns the path. */
  async screenshot(name: string): Promise<string> {
    await mkdir(this.resultsDir, { recursive: true });
    const file = join(this.resultsDir, `${name.replace(/[^\w.-]+/g, '-')}.png`);
    await this.page.screenshot({ path: file });
    return file;
  }

  /** Paths of the logs VS Code wrote (server, extension host, output channels of extensions). */
  async logFiles(): Promise<string[]> {
    return (await listFiles(join(this.userDataDir, 'logs'))).filter((f) => f.endsWith('.log'));
  }

  /** The extension host log(s) concatenated (where activation failures and extension errors show up). */
  async extensionHostLog(): Promise<string> {
    const files = (await this.logFiles()).filter((f) => /exthost\d*[/\\](remote)?exthost\.log$/.test(f));
    const parts = await Promise.all(
      files.map(async (f) => `==> ${relative(this.userDataDir, f)} <==\n${await readFile(f, 'utf8')}`),
    );
    return parts.join('\n');
  }

  /** Read a log file whose path matches (e.g. `/hangar-dev\.hangar\/Hangar\.log$/` for a LogOutputChannel). */
  async readLog(pattern: RegExp): Promise<string> {
    const file = (await this.logFiles()).find((f) => pattern.test(f));
    if (!file)
      throw new Error(
        `no log matching ${pattern}; have ${JSON.stringify((await this.logFiles()).map((f) => relative(this.userDataDir, f)))}`,
      );
    return readFile(file, 'utf8');
  }

  /** Wait until a log file whose path matches `file` contains `text`; returns the log's content. */
  async waitForLog(file: RegExp, text: string | RegExp, opts: { timeoutMs?: number } = {}): Promise<string> {
    const deadline = Date.now() + (opts.timeoutMs ?? 15_000);
    for (;;) {
      const content = await this.readLog(file).catch(() => '');
      if (matches(content, text)) return content;
      if (Date.now() > deadline) throw new Error(`log ${file} has no ${String(text)}; content:\n${content}`);
      await delay(200);
    }
  }

  /**
   * Save what is needed to debug a failure into `<resultsDir>/<label>/`: a screenshot, the browser
   * console, code-server output, all VS Code logs (extension host included). Returns the directory.
   */
  async collectDiagnostics(label: string): Promise<string> {
    const dir = join(this.resultsDir, label.replace(/[^\w.-]+/g, '-'));
    await mkdir(dir, { recursive: true });
    if (this._page) await this._page.screenshot({ path: join(dir, 'screenshot.png') }).catch(() => undefined);
    await writeFile(join(dir, 'browser-console.log'), this.consoleMessages.join('\n'));
    await writeFile(join(dir, 'code-server.log'), this.serverOutput.join(''));
    const logs = join(this.userDataDir, 'logs');
    if (this.userDataDir && existsSync(logs))
      await cp(logs, join(dir, 'vscode-logs'), { recursive: true }).catch(() => undefined);
    return dir;
  }
}

/** Polls `fn` every 150 ms until it returns a value (errors count as not yet); fails naming `what` and the last error. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await delay(150);
  }
}

/** Directory of this module, for tests that keep fixtures beside it (e.g. `probe-extension/`). */
export const E2E_DIR = import.meta.dirname;
