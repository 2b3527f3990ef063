/**
 * Crash at any instant: a workspace whose DAG uses retries, mapping, a
 * reschedule-mode sensor and the file and encrypted XCom backends; `hangar run`
 * is SIGKILLed at a random moment (a seeded PRNG), N times in a row, resumed each
 * time, then let finish. The invariants are then checked and returned.
 *
 *   node test/chaos/run.ts [--seed N] [--kills N]      (the long form; prints the figures)
 *
 * The short form runs in `npm test` (test/chaos/chaos.test.ts).
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-jsonrpc/node.js';
import * as P from '../../src/protocol/runtime.ts';
import { isInternalName } from '../../src/runtime/sync/sftp.ts';
import { HANGAR_BIN } from '../helpers/cli.ts';
import { startSshd } from '../helpers/sshd.ts';
import type { SshdServer } from '../helpers/sshd.ts';
import { openWorkspaceStore } from '../helpers/store.ts';
import { tempWorkspace } from '../helpers/workspace.ts';
import type { TempWorkspace } from '../helpers/workspace.ts';

export const DAG_ID = 'chaos';
/** The sync pipeline of the chaos DAG (its cursor and manifest in the store). */
export const SYNC_PIPELINE = 'chaos_sync';
/** Lines each task body logs (ctx.log): first (before its side effect), before a planned failure, last. */
export const LOG_BEGIN = 'chaos: begin';
export const LOG_FAILING = 'chaos: failing on purpose';
export const LOG_END = 'chaos: end';

/**
 * The DAG under test: every task records each of its executions (the side effect) in effects.log.
 * With `gate`, make_marker writes `${gate}.held` and waits for the file `gate` before going on (the
 * disk tests fill the store's disk at that moment: test/chaos/disk.test.ts).
 */
export function chaosDag(
  effects: string,
  marker: string,
  gate?: string,
  options: { sync?: boolean } = {},
): string {
  return `import { dag, sensor${options.sync ? ', sftpSyncTasks' : ''} } from 'hangar';
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
type Ctx = { runId: string; taskId: string; mapIndex: number; tryNumber: number; log: { info(m: string): void } };
const key = (ctx: Ctx) => ctx.taskId + '[' + ctx.mapIndex + ']#' + ctx.tryNumber;
// One line per execution of a task body: run, task, map index, try — a try must never run twice.
// The body's first log line is written (synchronously, by the try's log) before the side effect.
const effect = (ctx: Ctx) => {
  ctx.log.info('${LOG_BEGIN} ' + key(ctx));
  appendFileSync(${JSON.stringify(effects)}, [ctx.runId, ctx.taskId, ctx.mapIndex, ctx.tryNumber].join('|') + '\\n');
};
// The body's last log line, before it returns.
const end = (ctx: Ctx) => ctx.log.info('${LOG_END} ' + key(ctx));
export const d = dag({ id: '${DAG_ID}', defaultArgs: { retries: 20, retryDelay: 0 } });
const list = d.task('list', async (ctx) => { effect(ctx); await new Promise((r) => setTimeout(r, 40)); end(ctx); return [1, 2, 3, 4, 5]; });
// Fails its first try on purpose: retries must survive kills.
const flaky = d.task('flaky', async (ctx) => {
  effect(ctx);
  await new Promise((r) => setTimeout(r, 60));
  if (ctx.tryNumber === 1) {
    ctx.log.info('${LOG_FAILING} ' + key(ctx));
    throw new Error('first try fails');
  }
  end(ctx);
  return 'ok';
});
const mapped = d.task('square', { expand: { n: list } }, async (ctx, { n }) => {
  effect(ctx);
  await new Promise((r) => setTimeout(r, 30 + 20 * n));
  end(ctx);
  return n * n;
});
// A large value: offloaded to a file by the file backend.
const big = d.task('big', { inputs: { squares: mapped }, xcomBackend: 'file' }, async (ctx, { squares }) => {
  effect(ctx);
  end(ctx);
  return { squares, padding: 'x'.repeat(64 * 1024) };
});
// A sensitive value: encrypted.
const secret = d.task('secret', { xcomBackend: 'encrypted', sensitive: true }, async (ctx) => {
  effect(ctx);
  end(ctx);
  return { password: 'chaos-' + Date.now() };
});
const make = d.task('make_marker', { inputs: { b: big } }, async (ctx) => {
  effect(ctx);
  await new Promise((r) => setTimeout(r, 150));${
    gate === undefined
      ? ''
      : `
  writeFileSync(${JSON.stringify(gate + '.held')}, String(ctx.tryNumber));
  while (!existsSync(${JSON.stringify(gate)})) await new Promise((r) => setTimeout(r, 20));`
  }
  writeFileSync(${JSON.stringify(marker)}, 'ready');
  end(ctx);
});
const wait = sensor(d, 'wait_marker', { mode: 'reschedule', pokeInterval: 0.1, timeout: '5m' }, async (ctx) => {
  effect(ctx);
  const ready = existsSync(${JSON.stringify(marker)});
  if (ready) end(ctx);
  return ready;
});
make.before(wait);
d.task('report', { inputs: { b: big, s: secret, f: flaky } }, async (ctx, { b, s, f }) => {
  effect(ctx);
  end(ctx);
  return { n: b.squares.length, secretLength: String(s.password).length, f };
}).after(wait);
${
  options.sync
    ? `// An SFTP → SFTP sync (two OpenSSH servers on loopback), beside the other tasks: health_check → sync.
// Small chunks, so that multi-byte characters and whitespace fall across chunk boundaries.
sftpSyncTasks(d, {
  pipelineId: '${SYNC_PIPELINE}',
  source: 'chaos_src',
  destination: 'chaos_dst',
  transformers: ['whitespace_to_underscore'],
  mode: 'cursor',
  chunkSize: 4096,
  concurrency: 2,
  taskOptions: { retries: 20, retryDelay: 0 },
});
`
    : ''
}`;
}

/** A small seeded PRNG (mulberry32): the same seed kills at the same offsets. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ChaosResult {
  readonly seed: number;
  readonly kills: number;
  /** Kills that landed while a run was going (a resume that finished by itself starts the next run). */
  readonly killedMidRun: number;
  /** Of those, kills of `hangar run` and of the runtime server (the extension's process). */
  readonly killedCli: number;
  readonly killedServer: number;
  /** Kills that landed while a try of the run's SFTP sync task (started by the killed runtime) was running. */
  readonly killedMidSync: number;
  /** Runs taken through the kills, each checked. */
  readonly runs: number;
  readonly tries: number;
  readonly orphanedTries: number;
  /** Tries whose log file was read and checked for the lines their body logged. */
  readonly logsChecked: number;
  /** Destination files compared byte for byte with the transformed source: after each kill, and at the end. */
  readonly syncFilesCheckedAtKills: number;
  readonly syncFilesCheckedAtEnd: number;
  /** Pipeline-internal files (`.*.hangar-tmp`, `.*.hangar-bak`) left at the destination at the end. */
  readonly syncLeftovers: number;
  readonly violations: string[];
  readonly seconds: number;
}

function cli(ws: TempWorkspace, env: NodeJS.ProcessEnv, args: string[]) {
  return spawnSync(process.execPath, [HANGAR_BIN, ...args, '--workspace', ws.root], {
    env: { ...process.env, ...env, NO_COLOR: '1' },
    encoding: 'utf8',
    timeout: 300_000,
  });
}

/** The runtime server the extension starts (src/vscode/client.ts: `node --enable-source-maps dist/runtime/server.mjs`). */
export const SERVER_BIN = join(import.meta.dirname, '..', '..', 'dist', 'runtime', 'server.mjs');

/** Live members of a process group (zombies excluded), from /proc. */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // it ended meanwhile
    }
    // pid (comm) state ppid pgrp …: comm may hold spaces and parentheses, so read after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z') out.push(Number(name));
  }
  return out;
}

/**
 * Waits until every process of the killed runtime's group (its task workers and parse children,
 * which end when their parent's IPC channel closes) is gone; false after `ms`.
 */
async function groupGone(pgid: number, ms = 20_000): Promise<boolean> {
  const end = Date.now() + ms;
  while (groupMembers(pgid).length > 0) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

function killGroup(pgid: number | undefined): void {
  if (pgid === undefined) return;
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // ended
  }
}

type Attempt = { ended: boolean; problem?: string };

/** `hangar run --resume`, SIGKILLed when `killWhen` resolves unless it ends first. */
async function cliAttempt(
  ws: TempWorkspace,
  env: NodeJS.ProcessEnv,
  runId: string,
  killWhen: (signal: AbortSignal) => Promise<void>,
): Promise<Attempt & { pgid: number }> {
  // A process group of its own (only its leader is killed): the harness waits for its workers to end.
  const child = spawn(
    process.execPath,
    [HANGAR_BIN, 'run', DAG_ID, '--resume', runId, '--workspace', ws.root, '-o', 'plain'],
    {
      env: { ...process.env, ...env, NO_COLOR: '1' },
      stdio: 'ignore',
      detached: true,
    },
  );
  const done = new AbortController();
  const ended = await new Promise<boolean>((resolve) => {
    killWhen(done.signal).then(
      () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGKILL');
        resolve(false);
      },
      () => undefined,
    );
    child.once('exit', () => {
      done.abort();
      resolve(true);
    });
  });
  if (!ended && child.exitCode === null && child.signalCode === null)
    await new Promise((r) => child.once('exit', r));
  return { ended, pgid: child.pid! };
}

/**
 * The runtime server as the extension drives it (stdio JSON-RPC, the typed requests of
 * src/protocol/runtime.ts): `runtime/initialize`, then `scheduler/set` on, whose scheduler settles
 * the tries a dead runtime left and resumes its run (or starts the queued one). SIGKILLed after
 * when `killWhen` resolves unless the run ends first (`run/didChange`), in which case it is shut down
 * (`runtime/shutdown`).
 */
async function serverAttempt(
  ws: TempWorkspace,
  env: NodeJS.ProcessEnv,
  runId: string,
  killWhen: (signal: AbortSignal) => Promise<void>,
): Promise<Attempt & { pgid: number }> {
  const child = spawn(process.execPath, ['--enable-source-maps', SERVER_BIN], {
    cwd: ws.root,
    env: { ...process.env, ...env, NO_COLOR: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr = (stderr + c.toString()).slice(-4000);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const rpc = createMessageConnection(
    new StreamMessageReader(child.stdout!),
    new StreamMessageWriter(child.stdin!),
  );
  rpc.onError(() => undefined);
  let endedResolve!: () => void;
  const runEnded = new Promise<void>((r) => (endedResolve = r));
  rpc.onNotification(P.RunDidChange, (e) => {
    if (e.runId === runId && (e.state === 'success' || e.state === 'failed')) endedResolve();
  });
  rpc.listen();
  const done = new AbortController();
  let killed = false;
  let problem: string | undefined;
  const started = (async () => {
    await rpc.sendRequest(P.Initialize, { workspace: ws.root, config: {} });
    await rpc.sendRequest(P.SchedulerSet, { enabled: true });
  })().catch((err: unknown) => {
    if (!killed) problem ??= `the runtime server did not start: ${(err as Error).message}; ${stderr}`;
  });
  const outcome = await Promise.race([
    runEnded.then(() => 'ended' as const),
    killWhen(done.signal).then(
      () => 'kill' as const,
      () => new Promise<never>(() => undefined),
    ),
    exited.then(() => 'exited' as const),
  ]);
  if (outcome === 'kill') {
    killed = true;
    child.kill('SIGKILL');
    await exited;
  } else if (outcome === 'ended') {
    await Promise.race([
      started.then(() => rpc.sendRequest(P.Shutdown)).catch(() => undefined),
      new Promise((r) => setTimeout(r, 10_000)),
    ]);
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  } else {
    problem ??= `the runtime server exited by itself (code ${child.exitCode}, signal ${child.signalCode}): ${stderr}`;
  }
  done.abort();
  // The process is gone: disposing the connection rejects a request still waiting for its answer.
  killed ||= outcome === 'ended';
  rpc.dispose();
  await started;
  return { ended: outcome !== 'kill', pgid: child.pid!, ...(problem !== undefined ? { problem } : {}) };
}

/** Runs the harness on a fresh workspace; the workspace is removed unless `keep`. */
export async function chaos(options: {
  seed: number;
  kills: number;
  maxDelayMs?: number;
  /** Share of attempts run by the runtime server rather than `hangar run` (default 0.5). */
  serverShare?: number;
  /** Source files at the start (default 200). */
  syncFiles?: number;
  keep?: boolean;
  log?: (s: string) => void;
}): Promise<ChaosResult> {
  const started = performance.now();
  if (!existsSync(SERVER_BIN)) throw new Error(`${SERVER_BIN} is missing: run npm run build first`);
  const random = prng(options.seed);
  const ws = tempWorkspace({});
  const effects = join(ws.root, 'effects.log');
  const marker = join(ws.root, 'marker.txt');
  ws.write(
    'hangar.json',
    JSON.stringify({ executor: 'isolated', parallelism: 4, xcom: { fileThreshold: 1024 } }),
  );
  ws.write(`dags/${DAG_ID}.ts`, chaosDag(effects, marker, undefined, { sync: true }));
  const sync = await startSync(ws.root, random, options.syncFiles ?? 200);
  const env = { HANGAR_XCOM_KEYS: `chaos:${randomBytes(32).toString('base64')}`, ...sync.env };
  const violations: string[] = [];
  const trigger = (): string => {
    const trig = cli(ws, env, ['trigger', DAG_ID, '--json']);
    if (trig.status !== 0) throw new Error(`trigger failed: ${trig.stderr}`);
    return (JSON.parse(trig.stdout) as { run_id: string }).run_id;
  };
  let lastGroup: number | undefined;
  // Interrupted (Ctrl-C): no runtime or sshd outlives the harness.
  const interrupted = (signal: NodeJS.Signals) => {
    killGroup(lastGroup);
    sync.kill();
    if (!options.keep) ws.remove();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  try {
    const runIds = [trigger()];
    let runId = runIds[0]!;
    let killedMidRun = 0;
    let killedCli = 0;
    let killedServer = 0;
    let killedMidSync = 0;
    let syncFilesCheckedAtKills = 0;
    // A SIGKILL counts only when it lands while the run is going: a run that ends before its
    // delay is a run that ended by itself, and the next run is killed instead. On a fast machine
    // more runs end by themselves; the number of kills stays what was asked (attempts are capped).
    const maxAttempts = options.kills * 8;
    for (let attempt = 0, k = 0; k < options.kills && attempt < maxAttempts; attempt++) {
      const delay = Math.floor(random() * (options.maxDelayMs ?? 2500));
      const by = random() < (options.serverShare ?? 0.5) ? 'server' : 'cli';
      // One attempt in four aims at the sync: killed 0-400 ms after its task is seen running
      // (unless this run's sync is already done); the others at `delay` ms after the start.
      const before = await syncState(ws.root, runId);
      const aimed = random() < 0.25 && before.state !== 'success';
      const after = Math.floor(random() * 400);
      const killWhen = aimed
        ? (signal: AbortSignal) =>
            whenSyncRuns(ws.root, runId, before.try, signal).then(() => sleep(after, signal))
        : (signal: AbortSignal) => sleep(delay, signal);
      const moment = aimed ? `${after} ms into the sync` : `${delay} ms`;
      const t0 = performance.now();
      const a =
        by === 'server'
          ? await serverAttempt(ws, env, runId, killWhen)
          : await cliAttempt(ws, env, runId, killWhen);
      lastGroup = a.pgid;
      const t1 = performance.now();
      if (a.problem !== undefined) violations.push(a.problem);
      // The killed runtime's task workers end with it (they exit when its IPC channel closes).
      if (!(await groupGone(a.pgid)))
        violations.push(
          `after ${by} attempt ${attempt + 1}, processes of the killed runtime were still alive 20 s later`,
        );
      if (!a.ended) {
        killedMidRun++;
        k++;
        if (by === 'server') killedServer++;
        else killedCli++;
        // What must hold at any instant, checked before the resume.
        const when = `after kill ${k} (${by}, ${moment})`;
        const afterKill = await syncState(ws.root, runId);
        // A try of the sync this attempt started was running (not one the previous kill left).
        if (afterKill.state === 'running' && afterKill.try > before.try) killedMidSync++;
        syncFilesCheckedAtKills += await checkSync(ws.root, sync, violations, { when, final: false });
        await checkXComFiles(ws, violations, when);
      }
      const timing = `(attempt ${Math.round(t1 - t0)} ms, checks ${Math.round(performance.now() - t1)} ms)`;
      options.log?.(
        a.ended
          ? `run ${runIds.length} ended by itself (${by}) before ${moment}: the next run starts ${timing}`
          : `kill ${k}/${options.kills} of the ${by === 'server' ? 'runtime server' : 'CLI'} after ${moment} ${timing}`,
      );
      if (a.ended) {
        // New and changed source files for the next run's sync (nothing runs now).
        sync.change(random);
        runId = trigger();
        runIds.push(runId);
        rmSync(marker, { force: true });
      }
    }
    // The last resume runs to the end.
    const last = cli(ws, env, ['run', DAG_ID, '--resume', runId, '-o', 'plain']);
    if (last.status !== 0)
      violations.push(
        `the final resume exited ${last.status}: ${last.stdout.slice(-2000)}${last.stderr.slice(-2000)}`,
      );
    // Files no XCom refers to any more (a kill between a file's write and its row) are what sweep is for.
    cli(ws, env, ['xcom', 'sweep', '--min-age', '0s']);
    let tries = 0;
    let orphanedTries = 0;
    let logsChecked = 0;
    const expected = { sync: true };
    for (const id of runIds) {
      const r = await check(ws, id, violations, expected);
      tries += r.tries;
      orphanedTries += r.orphanedTries;
      logsChecked += await checkLogs(ws, id, effects, violations, expected);
    }
    await checkFiles(ws, violations);
    checkEffects(effects, runIds, violations);
    const syncFilesCheckedAtEnd = await checkSync(ws.root, sync, violations, {
      when: 'after the last resume',
      final: true,
    });
    return {
      seed: options.seed,
      kills: options.kills,
      killedMidRun,
      killedCli,
      killedServer,
      killedMidSync,
      runs: runIds.length,
      tries,
      orphanedTries,
      logsChecked,
      syncFilesCheckedAtKills,
      syncFilesCheckedAtEnd,
      syncLeftovers: sync.leftovers(),
      violations,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
    killGroup(lastGroup);
    await sync.stop();
    if (!options.keep) ws.remove();
  }
}

// ------------------------------------------------------------------ the SFTP sync

/** What the DAG's transform (`whitespace_to_underscore`) makes of a source file: every `\s` becomes `_`. */
export function transformed(source: Buffer): Buffer {
  return Buffer.from(source.toString('utf8').replace(/\s/g, '_'), 'utf8');
}

interface SyncSetup {
  readonly src: string;
  readonly dst: string;
  /** HANGAR_CONN_CHAOS_SRC / HANGAR_CONN_CHAOS_DST. */
  readonly env: Record<string, string>;
  /** Adds and rewrites source files (each with a newer mtime than any before). */
  change(random: () => number): void;
  /** Pipeline-internal files left at the destination. */
  leftovers(): number;
  stop(): Promise<void>;
  /** At once, from a signal handler: SIGKILL both sshd listeners. */
  kill(): void;
}

function connectionUri(server: SshdServer, root: string): string {
  const q = new URLSearchParams({
    fingerprint: server.hostKeyFingerprint,
    private_key_file: server.privateKeyFile,
  });
  const path = root.split('/').map(encodeURIComponent).join('/');
  return `sftp://${encodeURIComponent(server.username)}@${server.host}:${server.port}${path}?${q.toString()}`;
}

/** Text with spaces, tabs, newlines, Unicode spaces and multi-byte characters (split across 4 KiB chunks). */
function sourceText(random: () => number, size: number): string {
  const words = ['alpha', 'beta', 'gamma', 'délta', 'εψιλον', '日本語', 'zeta', 'ηta', '🚀', 'theta'];
  const spaces = [' ', ' ', ' ', '\t', '\n', '\r\n', '\u00a0', '\u2003', '\u3000', '  '];
  let s = '';
  while (Buffer.byteLength(s) < size) {
    s += words[Math.floor(random() * words.length)]! + spaces[Math.floor(random() * spaces.length)]!;
  }
  return s;
}

/** Two OpenSSH servers on loopback (the source's and the destination's), serving folders of the workspace. */
async function startSync(root: string, random: () => number, files: number): Promise<SyncSetup> {
  const src = join(root, 'sftp', 'in');
  const dst = join(root, 'sftp', 'out');
  mkdirSync(src, { recursive: true });
  mkdirSync(dst, { recursive: true });
  const servers: SshdServer[] = [];
  try {
    servers.push(await startSshd(), await startSshd());
  } catch (err) {
    for (const s of servers) await s.stop();
    throw err;
  }
  // mtimes in whole seconds (what SFTP reports), from ten days ago: three files share each second,
  // so the cursor's (mtime, name) order is exercised; every change gets a newer second.
  let clock = Math.floor(Date.now() / 1000) - 10 * 86_400;
  let next = 0;
  const write = (id: string): void => {
    const p = join(src, id);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, sourceText(random, 512 + Math.floor(random() * 16 * 1024)));
    utimesSync(p, clock, clock);
  };
  const add = (): void => {
    const n = next++;
    write(`d${n % 7}/f${String(n).padStart(5, '0')}.txt`);
    if (n % 3 === 2) clock++;
  };
  for (let i = 0; i < files; i++) add();
  clock++;
  return {
    src,
    dst,
    env: {
      HANGAR_CONN_CHAOS_SRC: connectionUri(servers[0]!, src),
      HANGAR_CONN_CHAOS_DST: connectionUri(servers[1]!, dst),
    },
    change(r) {
      const added = 10 + Math.floor(r() * 20);
      for (let i = 0; i < added; i++) add();
      clock++;
      const existing = listFiles(src);
      const changed = 120 + Math.floor(r() * 120);
      for (let i = 0; i < changed; i++) {
        write(existing[Math.floor(r() * existing.length)]!);
        clock++;
      }
    },
    leftovers() {
      return listFiles(dst, true).filter((id) => isInternalName(basename(id))).length;
    },
    async stop() {
      for (const s of servers) await s.stop();
    },
    kill() {
      for (const s of servers)
        try {
          if (s.pid !== undefined) process.kill(s.pid, 'SIGKILL');
          rmSync(s.dir, { recursive: true, force: true });
        } catch {
          // gone
        }
    },
  };
}

/** Relative paths (with `/`) of the files under dir; pipeline-internal names only with `internal`. */
function listFiles(dir: string, internal = false): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) walk(r);
      else if (internal || !isInternalName(e.name)) out.push(r);
    }
  };
  if (existsSync(dir)) walk('');
  return out.sort();
}

/** The state and try number of the run's sync task. */
async function syncState(root: string, runId: string): Promise<{ state: string | null; try: number }> {
  const db = await openWorkspaceStore(root);
  try {
    const ti = await db.sql.get<{ state: string | null; try_number: number }>(
      "SELECT state, try_number FROM task_instances WHERE dag_id = ? AND run_id = ? AND task_id = 'sync'",
      DAG_ID,
      runId,
    );
    return { state: ti?.state ?? null, try: Number(ti?.try_number ?? 0) };
  } finally {
    await db.close();
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        reject(new Error('the attempt ended'));
      },
      { once: true },
    );
  });
}

/**
 * Resolves once a try of the run's sync task after `afterTry` is running (polled in the store
 * every 20 ms; a try left `running` by the last kill is not one), or after 15 s.
 */
async function whenSyncRuns(
  root: string,
  runId: string,
  afterTry: number,
  signal: AbortSignal,
): Promise<void> {
  const db = await openWorkspaceStore(root);
  try {
    const end = Date.now() + 15_000;
    while (Date.now() < end) {
      const ti = await db.sql.get<{ state: string | null; try_number: number }>(
        "SELECT state, try_number FROM task_instances WHERE dag_id = ? AND run_id = ? AND task_id = 'sync'",
        DAG_ID,
        runId,
      );
      if (ti?.state === 'running' && Number(ti.try_number) > afterTry) return;
      await sleep(20, signal);
    }
  } finally {
    await db.close();
  }
}

/**
 * The sync's invariants. At any instant (`final: false`): the cursor stored in the store is never
 * ahead of a file that is not committed at the destination — every source file at or before the
 * cursor (mtime, then name) is at the destination, equal byte for byte to what the transform makes
 * of it. After the last resume (`final: true`) also: every source file is there and equal, the
 * cursor is at the last source file, and the destination holds no file the source does not.
 * Returns how many destination files were compared.
 */
export async function checkSync(
  root: string,
  sync: Pick<SyncSetup, 'src' | 'dst'>,
  violations: string[],
  o: { when: string; final: boolean },
): Promise<number> {
  const db = await openWorkspaceStore(root);
  let cursor: { mtimeMs: number; id: string } | null;
  try {
    // Read first: files are compared with the cursor as it was (it only moves over committed files).
    const row = await db.sql.get<{ mtime_ms: number; point_id: string }>(
      'SELECT mtime_ms, point_id FROM sync_cursors WHERE pipeline_id = ?',
      SYNC_PIPELINE,
    );
    cursor = row === undefined ? null : { mtimeMs: Number(row.mtime_ms), id: row.point_id };
  } finally {
    await db.close();
  }
  const points = listFiles(sync.src).map((id) => ({
    id,
    mtimeMs: Math.floor(statSync(join(sync.src, id)).mtimeMs / 1000) * 1000,
  }));
  const cmp = (a: { mtimeMs: number; id: string }, b: { mtimeMs: number; id: string }) =>
    a.mtimeMs !== b.mtimeMs ? a.mtimeMs - b.mtimeMs : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
  points.sort(cmp);
  const fmt = (c: { mtimeMs: number; id: string } | null) =>
    c === null ? '(none)' : `(${new Date(c.mtimeMs).toISOString()}, ${c.id})`;
  let compared = 0;
  for (const p of points) {
    const covered = cursor !== null && cmp(p, cursor) <= 0;
    if (!covered && !o.final) continue;
    const at = join(sync.dst, p.id);
    const what = covered ? `the cursor ${fmt(cursor)} is past "${p.id}" ${fmt(p)}, but` : `"${p.id}":`;
    compared++;
    if (!existsSync(at)) {
      violations.push(`${o.when}: ${what} the destination has no such file`);
      continue;
    }
    if (!readFileSync(at).equals(transformed(readFileSync(join(sync.src, p.id)))))
      violations.push(`${o.when}: ${what} the destination's file is not the transformed source`);
  }
  if (o.final) {
    const last = points.at(-1) ?? null;
    if (last !== null && (cursor === null || cmp(cursor, last) !== 0))
      violations.push(`${o.when}: the cursor is at ${fmt(cursor)}, not at the last source file ${fmt(last)}`);
    const source = new Set(points.map((p) => p.id));
    for (const id of listFiles(sync.dst))
      if (!source.has(id))
        violations.push(`${o.when}: the destination has "${id}", which the source never had`);
    if (points.length === 0)
      violations.push(`${o.when}: the source has no files (the harness tests nothing there)`);
  }
  return compared;
}

/** The invariants, read straight from the store and the workspace's files. */
export async function check(
  ws: TempWorkspace,
  runId: string,
  violations: string[],
  o: { sync?: boolean } = {},
): Promise<{ runState: string; tries: number; orphanedTries: number }> {
  const db = await openWorkspaceStore(ws.root);
  try {
    const run = await db.sql.get<{ state: string }>(
      'SELECT state FROM dag_runs WHERE dag_id = ? AND run_id = ?',
      DAG_ID,
      runId,
    );
    const runState = run?.state ?? 'missing';
    if (runState !== 'success') violations.push(`run ${runId} ended ${runState}, not success`);
    const tis = await db.sql.all<{
      task_id: string;
      map_index: number;
      state: string | null;
      try_number: number;
      max_tries: number;
    }>(
      'SELECT task_id, map_index, state, try_number, max_tries FROM task_instances WHERE dag_id = ? AND run_id = ?',
      DAG_ID,
      runId,
    );
    for (const ti of tis) {
      if (ti.state !== 'success')
        violations.push(`task ${ti.task_id}[${ti.map_index}] is ${ti.state}, not success`);
    }
    const expected = [
      'list',
      'flaky',
      'big',
      'secret',
      'make_marker',
      'wait_marker',
      'report',
      ...[0, 1, 2, 3, 4].map((i) => `square[${i}]`),
      ...(o.sync ? ['health_check', 'sync'] : []),
    ];
    const have = new Set(tis.map((t) => (t.map_index >= 0 ? `${t.task_id}[${t.map_index}]` : t.task_id)));
    for (const e of expected) if (!have.has(e)) violations.push(`no task instance ${e}`);
    const tries = await db.sql.all<{
      task_id: string;
      map_index: number;
      try_number: number;
      state: string;
      log_path: string | null;
      error: string | null;
    }>(
      'SELECT task_id, map_index, try_number, state, log_path, error FROM task_tries WHERE dag_id = ? AND run_id = ?',
      DAG_ID,
      runId,
    );
    let orphaned = 0;
    const seen = new Set<string>();
    for (const t of tries) {
      const k = `${t.task_id}[${t.map_index}]#${t.try_number}`;
      if (seen.has(k)) violations.push(`try ${k} has two records`);
      seen.add(k);
      if (t.state === 'running' || t.state === 'queued') violations.push(`try ${k} is still ${t.state}`);
      if (/is gone|stopped before it ended/.test(t.error ?? '')) orphaned++;
    }
    for (const ti of tis) {
      for (let n = 1; n <= ti.try_number; n++)
        if (!seen.has(`${ti.task_id}[${ti.map_index}]#${n}`))
          violations.push(`try ${ti.task_id}[${ti.map_index}]#${n} has no record`);
    }
    return { runState, tries: tries.length, orphanedTries: orphaned };
  } finally {
    await db.close();
  }
}

/** The files the file backend wrote under `.hangar/xcom`, and the rows that refer to one (with the file's path). */
async function xcomFiles(ws: TempWorkspace): Promise<{
  files: Set<string>;
  rows: { task_id: string; key: string; chain: string; path: string | null }[];
}> {
  const db = await openWorkspaceStore(ws.root);
  try {
    const xcomDir = join(ws.root, '.hangar', 'xcom');
    const files = new Set<string>();
    const walk = (dir: string) => {
      if (!existsSync(dir)) return;
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (!e.name.endsWith('.tmp')) files.add(p);
      }
    };
    walk(xcomDir);
    const rows = await db.sql.all<{ task_id: string; key: string; chain: string; value: Uint8Array }>(
      'SELECT task_id, key, chain, value FROM xcom WHERE dag_id = ?',
      DAG_ID,
    );
    return {
      files,
      rows: rows.map((r) => {
        const m = r.chain.includes('file')
          ? /"(?:filepath|path|file)"\s*:\s*"([^"]+)"/.exec(Buffer.from(r.value).toString('utf8'))
          : null;
        const path = m ? (m[1]!.startsWith('/') ? m[1]! : join(xcomDir, m[1]!)) : null;
        return { task_id: r.task_id, key: r.key, chain: r.chain, path };
      }),
    };
  } finally {
    await db.close();
  }
}

/** At any instant: every XCom row that refers to a file has it (the file is written before the row). */
export async function checkXComFiles(ws: TempWorkspace, violations: string[], when: string): Promise<void> {
  const { rows } = await xcomFiles(ws);
  for (const r of rows)
    if (r.path !== null && !existsSync(r.path))
      violations.push(`${when}: XCom ${r.task_id}/${r.key} refers to ${r.path}, which is missing`);
}

/** Every XCom that refers to a file has it; every file is referred to by an XCom (after the sweep). */
export async function checkFiles(ws: TempWorkspace, violations: string[]): Promise<void> {
  const { files, rows } = await xcomFiles(ws);
  const referenced = new Set<string>();
  for (const r of rows) {
    if (r.path === null) continue;
    referenced.add(r.path);
    if (!existsSync(r.path))
      violations.push(`XCom ${r.task_id}/${r.key} refers to ${r.path}, which is missing`);
  }
  for (const f of files)
    if (referenced.size > 0 && !referenced.has(f)) violations.push(`file ${f} has no XCom row after a sweep`);
  if (rows.filter((r) => r.chain.includes('file')).length === 0)
    violations.push('no XCom went through the file backend (the harness tests nothing there)');
  if (!rows.some((r) => r.chain.includes('aes')))
    violations.push('no XCom was encrypted (the harness tests nothing there)');
}

/**
 * The log invariant, as Hangar promises it (src/runtime/executor/logger.ts: a try's log file is
 * created at the first line its body writes, and every line is written synchronously, so a crash
 * loses nothing already logged). Every try record has a log path. A try whose body ran (its side
 * effect is in effects.log, appended right after the body's first log line) has its log file with
 * that line — killed or not. A try that ended by itself has every line its body logged: a success
 * the first and the last, flaky's planned failure the line before the throw; the sync tasks' success
 * the pipeline's own lines (health checks passed; the sync's summary). Returns the tries whose log
 * was checked for a line.
 */
export async function checkLogs(
  ws: TempWorkspace,
  runId: string,
  effects: string,
  violations: string[],
  o: { sync?: boolean } = {},
): Promise<number> {
  const ran = new Set(
    (existsSync(effects) ? readFileSync(effects, 'utf8') : '')
      .split('\n')
      .filter((l) => l.startsWith(runId + '|'))
      .map((l) => l.slice(runId.length + 1)),
  );
  const db = await openWorkspaceStore(ws.root);
  let tries: {
    task_id: string;
    map_index: number;
    try_number: number;
    state: string;
    log_path: string | null;
    error: string | null;
  }[];
  try {
    tries = await db.sql.all(
      'SELECT task_id, map_index, try_number, state, log_path, error FROM task_tries WHERE dag_id = ? AND run_id = ?',
      DAG_ID,
      runId,
    );
  } finally {
    await db.close();
  }
  let checked = 0;
  for (const t of tries) {
    const k = `${t.task_id}[${t.map_index}]#${t.try_number}`;
    const where = `run ${runId}: try ${k}`;
    if (!t.log_path) {
      violations.push(`${where} has no log path`);
      continue;
    }
    const text = existsSync(t.log_path) ? readFileSync(t.log_path, 'utf8') : null;
    const orphan = /is gone|stopped before it ended/.test(t.error ?? '');
    const need: string[] = [];
    if (t.task_id === 'health_check' || t.task_id === 'sync') {
      if (!o.sync) continue;
      if (t.state === 'success') {
        need.push('health checks passed');
        if (t.task_id === 'sync') need.push(`sync ${SYNC_PIPELINE}: `);
      }
    } else {
      if (ran.has(`${t.task_id}|${t.map_index}|${t.try_number}`)) need.push(`${LOG_BEGIN} ${k}`);
      if (t.state === 'success') need.push(`${LOG_BEGIN} ${k}`, `${LOG_END} ${k}`);
      else if (t.state === 'failed' && !orphan && t.task_id === 'flaky' && t.try_number === 1)
        need.push(`${LOG_FAILING} ${k}`);
    }
    if (need.length === 0) continue;
    checked++;
    if (text === null) {
      violations.push(
        `${where} (${t.state}${orphan ? ', settled after a kill' : ''}) has no log file ${t.log_path}, though its body logged "${need[0]}"`,
      );
      continue;
    }
    for (const line of new Set(need))
      if (!text.includes(line))
        violations.push(
          `${where} (${t.state}${orphan ? ', settled after a kill' : ''}): its log ${t.log_path} lacks "${line}"`,
        );
  }
  return checked;
}

/**
 * Each task's side effect happened at least once in every run (each mapped index too), and no try ran
 * twice (the store's guarded claim promises it). The sensor pokes under one try many times, so it is
 * only counted, not checked for repeats.
 */
export function checkEffects(effects: string, runIds: readonly string[], violations: string[]): void {
  const lines = readFileSync(effects, 'utf8').split('\n').filter(Boolean);
  const seen = new Map<string, number>();
  for (const l of lines) seen.set(l, (seen.get(l) ?? 0) + 1);
  for (const [l, n] of seen) {
    if (n > 1 && !l.split('|')[1]!.startsWith('wait_marker')) violations.push(`a try ran ${n} times: ${l}`);
  }
  const tasks = [
    'list',
    'flaky',
    'big',
    'secret',
    'make_marker',
    'wait_marker',
    'report',
    ...[0, 1, 2, 3, 4].map((i) => `square|${i}`),
  ];
  for (const run of runIds) {
    const ofRun = lines.filter((l) => l.startsWith(run + '|')).map((l) => l.split('|'));
    for (const t of tasks) {
      const [task, index] = t.includes('|') ? t.split('|') : [t, '-1'];
      if (!ofRun.some((p) => p[1] === task && p[2] === index))
        violations.push(
          `run ${run}: the side effect of ${t.replace('|', '[')}${t.includes('|') ? ']' : ''} never happened`,
        );
    }
  }
}
