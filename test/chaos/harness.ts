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
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { HANGAR_BIN } from '../helpers/cli.ts';
import { openWorkspaceStore } from '../helpers/store.ts';
import { tempWorkspace } from '../helpers/workspace.ts';
import type { TempWorkspace } from '../helpers/workspace.ts';

export const DAG_ID = 'chaos';

/**
 * The DAG under test: every task records each of its executions (the side effect) in effects.log.
 * With `gate`, make_marker writes `${gate}.held` and waits for the file `gate` before going on (the
 * disk tests fill the store's disk at that moment: test/chaos/disk.test.ts).
 */
export function chaosDag(effects: string, marker: string, gate?: string): string {
  return `import { dag, sensor } from 'hangar';
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
// One line per execution of a task body: run, task, map index, try — a try must never run twice.
const effect = (ctx: { runId: string; taskId: string; mapIndex: number; tryNumber: number }) =>
  appendFileSync(${JSON.stringify(effects)}, [ctx.runId, ctx.taskId, ctx.mapIndex, ctx.tryNumber].join('|') + '\\n');
export const d = dag({ id: '${DAG_ID}', defaultArgs: { retries: 20, retryDelay: 0 } });
const list = d.task('list', async (ctx) => { effect(ctx); await new Promise((r) => setTimeout(r, 40)); return [1, 2, 3, 4, 5]; });
// Fails its first try on purpose: retries must survive kills.
const flaky = d.task('flaky', async (ctx) => {
  effect(ctx);
  await new Promise((r) => setTimeout(r, 60));
  if (ctx.tryNumber === 1) throw new Error('first try fails');
  return 'ok';
});
const mapped = d.task('square', { expand: { n: list } }, async (ctx, { n }) => {
  effect(ctx);
  await new Promise((r) => setTimeout(r, 30 + 20 * n));
  return n * n;
});
// A large value: offloaded to a file by the file backend.
const big = d.task('big', { inputs: { squares: mapped }, xcomBackend: 'file' }, async (ctx, { squares }) => {
  effect(ctx);
  return { squares, padding: 'x'.repeat(64 * 1024) };
});
// A sensitive value: encrypted.
const secret = d.task('secret', { xcomBackend: 'encrypted', sensitive: true }, async (ctx) => {
  effect(ctx);
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
});
const wait = sensor(d, 'wait_marker', { mode: 'reschedule', pokeInterval: 0.1, timeout: '5m' }, async (ctx) => {
  effect(ctx);
  return existsSync(${JSON.stringify(marker)});
});
make.before(wait);
d.task('report', { inputs: { b: big, s: secret, f: flaky } }, async (ctx, { b, s, f }) => {
  effect(ctx);
  return { n: b.squares.length, secretLength: String(s.password).length, f };
}).after(wait);
`;
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
  /** Runs taken through the kills, each checked. */
  readonly runs: number;
  readonly tries: number;
  readonly orphanedTries: number;
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

/** Runs the harness on a fresh workspace; the workspace is removed unless `keep`. */
export async function chaos(options: {
  seed: number;
  kills: number;
  maxDelayMs?: number;
  keep?: boolean;
  log?: (s: string) => void;
}): Promise<ChaosResult> {
  const started = performance.now();
  const random = prng(options.seed);
  const ws = tempWorkspace({});
  const effects = join(ws.root, 'effects.log');
  const marker = join(ws.root, 'marker.txt');
  ws.write(
    'hangar.json',
    JSON.stringify({ executor: 'isolated', parallelism: 4, xcom: { fileThreshold: 1024 } }),
  );
  ws.write(`dags/${DAG_ID}.ts`, chaosDag(effects, marker));
  const env = { HANGAR_XCOM_KEYS: `chaos:${randomBytes(32).toString('base64')}` };
  const violations: string[] = [];
  const trigger = (): string => {
    const trig = cli(ws, env, ['trigger', DAG_ID, '--json']);
    if (trig.status !== 0) throw new Error(`trigger failed: ${trig.stderr}`);
    return (JSON.parse(trig.stdout) as { run_id: string }).run_id;
  };
  try {
    const runIds = [trigger()];
    let runId = runIds[0]!;
    let killedMidRun = 0;
    // A SIGKILL counts only when it lands while the run is going: a run that ends before its
    // delay is a run that ended by itself, and the next run is killed instead. On a fast machine
    // more runs end by themselves; the number of kills stays what was asked (attempts are capped).
    const maxAttempts = options.kills * 8;
    for (let attempt = 0, k = 0; k < options.kills && attempt < maxAttempts; attempt++) {
      const delay = Math.floor(random() * (options.maxDelayMs ?? 2500));
      const child = spawn(
        process.execPath,
        [HANGAR_BIN, 'run', DAG_ID, '--resume', runId, '--workspace', ws.root, '-o', 'plain'],
        { env: { ...process.env, ...env, NO_COLOR: '1' }, stdio: 'ignore' },
      );
      const ended = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          resolve(false);
        }, delay);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve(true);
        });
      });
      if (!ended) {
        killedMidRun++;
        k++;
        await new Promise((r) => child.once('exit', r));
      }
      options.log?.(
        ended
          ? `run ${runIds.length} ended by itself before ${delay} ms: the next run starts`
          : `kill ${k}/${options.kills} after ${delay} ms`,
      );
      if (ended) {
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
    for (const id of runIds) {
      const r = await check(ws, id, violations);
      tries += r.tries;
      orphanedTries += r.orphanedTries;
    }
    await checkFiles(ws, violations);
    checkEffects(effects, runIds, violations);
    return {
      seed: options.seed,
      kills: options.kills,
      killedMidRun,
      runs: runIds.length,
      tries,
      orphanedTries,
      violations,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    if (!options.keep) ws.remove();
  }
}

/** The invariants, read straight from the store and the workspace's files. */
export async function check(
  ws: TempWorkspace,
  runId: string,
  violations: string[],
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

/** Every XCom that refers to a file has it; every file is referred to by an XCom (after the sweep). */
export async function checkFiles(ws: TempWorkspace, violations: string[]): Promise<void> {
  const db = await openWorkspaceStore(ws.root);
  try {
    const xcomDir = join(ws.root, '.hangar', 'xcom');
    const files = new Set<string>();
    const walk = (dir: string) => {
      if (!existsSync(dir)) return;
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (!e.name.endsWith('.tmp') && statSync(p).size >= 0) files.add(p);
      }
    };
    walk(xcomDir);
    const rows = await db.sql.all<{ task_id: string; key: string; chain: string; value: Uint8Array }>(
      'SELECT task_id, key, chain, value FROM xcom WHERE dag_id = ?',
      DAG_ID,
    );
    const referenced = new Set<string>();
    for (const r of rows) {
      if (!r.chain.includes('file')) continue;
      const text = Buffer.from(r.value).toString('utf8');
      const m = /"(?:filepath|path|file)"\s*:\s*"([^"]+)"/.exec(text);
      if (!m) continue;
      const p = m[1]!.startsWith('/') ? m[1]! : join(xcomDir, m[1]!);
      referenced.add(p);
      if (!existsSync(p)) violations.push(`XCom ${r.task_id}/${r.key} refers to ${p}, which is missing`);
    }
    for (const f of files)
      if (referenced.size > 0 && !referenced.has(f))
        violations.push(`file ${f} has no XCom row after a sweep`);
    if (rows.filter((r) => r.chain.includes('file')).length === 0)
      violations.push('no XCom went through the file backend (the harness tests nothing there)');
    if (!rows.some((r) => r.chain.includes('aes')))
      violations.push('no XCom was encrypted (the harness tests nothing there)');
  } finally {
    await db.close();
  }
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
