/**
 * Power loss: copies of a workspace's `.hangar/` (the SQLite store with its `-wal` and `-shm` files,
 * the XCom files, the logs) taken at random instants (a seeded PRNG) while `hangar run` and its task
 * workers are writing — the files a machine boots with after losing power — each restored in place,
 * checked with `PRAGMA integrity_check`, resumed with `hangar run --resume`, and held to the chaos
 * harness's invariants (harness.ts: check, checkFiles, checkEffects).
 *
 *   node_modules/.bin/node test/chaos/power-loss.ts [--seed N] [--count N] [--max-gap-ms N] [--keep]
 *
 * The short form (a few snapshots) runs in `npm test` (test/chaos/power-loss.test.ts).
 *
 * How a snapshot is of one instant. The store is several files that change together: a commit
 * appends frames to `hangar.db-wal` and bumps the index in `hangar.db-shm`; a checkpoint copies
 * frames into `hangar.db` and then starts the WAL over. Copying the files one after the other
 * while they change can pair a `hangar.db` from after a checkpoint with a WAL from before it (or
 * the reverse), a state no crash ever leaves — in whatever order they are copied. No
 * filesystem-level snapshot is available here, so every process that writes is frozen instead:
 * `hangar run` is started in a process group of its own (its task workers and parse children are
 * forked into it), the group gets SIGSTOP, the copy waits until /proc shows every member stopped,
 * copies the files raw (as the OS has them: its page cache, which is what a disk holds once the
 * OS has flushed it; what SQLite had not yet handed to the OS is lost, as in a crash), then SIGCONT.
 * The task side-effect log (`effects.log`) and the sensor's marker, outside `.hangar/`, are
 * copied in the same instant.
 *
 * What is not simulated: losing writes the OS had accepted but not yet put on the disk. With
 * `synchronous = NORMAL` in WAL mode SQLite syncs the WAL only at checkpoints, so such a loss can
 * take back the last commits (never corrupt the file); a try that had started could then run again.
 */
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DatabaseSync } from 'node:sqlite';
import { HANGAR_BIN } from '../helpers/cli.ts';
import { tempWorkspace } from '../helpers/workspace.ts';
import type { TempWorkspace } from '../helpers/workspace.ts';
import { chaosDag, check, checkEffects, checkFiles, DAG_ID, prng } from './harness.ts';

export interface PowerLossResult {
  readonly seed: number;
  /** Snapshots taken and checked. */
  readonly snapshots: number;
  /** Runs started while snapshots were taken. */
  readonly runs: number;
  /** Snapshots in which a try was running or queued (the resume had tries to settle). */
  readonly midTry: number;
  /** Snapshots whose WAL held frames not yet checkpointed into hangar.db. */
  readonly withWal: number;
  /** Runs resumed on the copies. */
  readonly resumed: number;
  readonly violations: string[];
  readonly seconds: number;
}

/** The processes of a process group, with their state letter (from /proc/PID/stat). */
function groupMembers(pgid: number): { pid: number; state: string }[] {
  const out: { pid: number; state: string }[] = [];
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
    if (Number(fields[2]) === pgid) out.push({ pid: Number(name), state: fields[0]! });
  }
  return out;
}

/** SIGSTOPs the group and waits until every member is stopped (or gone). False when the group has ended. */
async function freeze(pgid: number): Promise<boolean> {
  try {
    process.kill(-pgid, 'SIGSTOP');
  } catch {
    return false;
  }
  for (let i = 0; i < 5000; i++) {
    const members = groupMembers(pgid);
    if (members.length === 0) return false;
    if (members.every((m) => m.state === 'T' || m.state === 't' || m.state === 'Z')) return true;
    await new Promise((r) => setTimeout(r, 1));
  }
  throw new Error(`process group ${pgid} did not stop within 5 s`);
}

function thaw(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGCONT');
  } catch {
    // ended
  }
}

function killGroup(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    // ended
  }
}

/** What a snapshot holds besides `.hangar/`: the side-effect log and the sensor's marker. */
const OUTSIDE = ['effects.log', 'marker.txt'];

/** Copies the frozen workspace's files raw into dir. */
function copySnapshot(root: string, dir: string): void {
  cpSync(join(root, '.hangar'), join(dir, '.hangar'), { recursive: true });
  for (const f of OUTSIDE) if (existsSync(join(root, f))) cpSync(join(root, f), join(dir, f));
}

/** Puts a snapshot back in place of the workspace's files (the same paths, as after a reboot). */
function restoreSnapshot(dir: string, root: string): void {
  rmSync(join(root, '.hangar'), { recursive: true, force: true });
  for (const f of OUTSIDE) rmSync(join(root, f), { force: true });
  cpSync(join(dir, '.hangar'), join(root, '.hangar'), { recursive: true });
  for (const f of OUTSIDE) if (existsSync(join(dir, f))) cpSync(join(dir, f), join(root, f));
}

export async function powerLoss(options: {
  seed: number;
  count: number;
  /** Most time between two snapshots of a run (default 600 ms). */
  maxGapMs?: number;
  keep?: boolean;
  log?: (s: string) => void;
}): Promise<PowerLossResult> {
  const started = performance.now();
  const random = prng(options.seed);
  // SQLite whatever HANGAR_TEST_STORE says: power loss is about the embedded store's files
  // (hangar.db, -wal, -shm) on the workspace's disk; a PostgreSQL server's files are its own.
  const ws: TempWorkspace = tempWorkspace({}, undefined, { store: 'sqlite' });
  const snapshots = mkdtempSync(join(tmpdir(), 'hangar-power-loss-'));
  const effects = join(ws.root, 'effects.log');
  const marker = join(ws.root, 'marker.txt');
  ws.write(
    'hangar.json',
    JSON.stringify({ executor: 'isolated', parallelism: 4, xcom: { fileThreshold: 1024 } }),
  );
  ws.write(`dags/${DAG_ID}.ts`, chaosDag(effects, marker));
  const env = {
    ...process.env,
    HANGAR_XCOM_KEYS: `chaos:${randomBytes(32).toString('base64')}`,
    NO_COLOR: '1',
  };
  const cli = (args: string[]) =>
    spawnSync(process.execPath, [HANGAR_BIN, ...args, '--workspace', ws.root], {
      env,
      encoding: 'utf8',
      timeout: 300_000,
    });
  const trigger = (): string => {
    const r = cli(['trigger', DAG_ID, '--json']);
    if (r.status !== 0) throw new Error(`trigger failed: ${r.stderr}`);
    return (JSON.parse(r.stdout) as { run_id: string }).run_id;
  };
  const violations: string[] = [];
  let child: ChildProcess | undefined;
  let runs = 0;
  try {
    // 1. Runs go, one after the other; snapshots are taken while each goes.
    let taken = 0;
    while (taken < options.count) {
      const runId = trigger();
      runs++;
      rmSync(marker, { force: true });
      child = spawn(
        process.execPath,
        [HANGAR_BIN, 'run', DAG_ID, '--resume', runId, '--workspace', ws.root, '-o', 'plain'],
        {
          env,
          stdio: 'ignore',
          detached: true, // a process group of its own: its workers are forked into it
        },
      );
      const pgid = child.pid!;
      let exited = false;
      const exit = new Promise<number | null>((resolve) =>
        child!.once('exit', (code) => {
          exited = true;
          resolve(code);
        }),
      );
      // Snapshots start once the run is writing: its first task has run (before that the runtime starts up).
      while (!exited && !(existsSync(effects) && readFileSync(effects, 'utf8').includes(`${runId}|`))) {
        await Promise.race([exit, new Promise((r) => setTimeout(r, 10))]);
      }
      while (taken < options.count) {
        const gap = Math.floor(random() * (options.maxGapMs ?? 600));
        await Promise.race([exit, new Promise((r) => setTimeout(r, gap))]);
        if (exited || !(await freeze(pgid))) break;
        try {
          copySnapshot(ws.root, join(snapshots, String(taken)));
        } finally {
          thaw(pgid);
        }
        taken++;
        options.log?.(`snapshot ${taken}/${options.count}: run ${runs}, ${gap} ms after the last`);
      }
      if (!exited) killGroup(pgid);
      const code = await exit;
      if (taken < options.count && code !== 0)
        violations.push(`run ${runId} exited ${code} with no fault injected`);
    }
    child = undefined;
    // 2. Each snapshot, restored in place: it opens, is intact, and resumes to the invariants.
    let midTry = 0;
    let withWal = 0;
    let resumed = 0;
    for (let i = 0; i < taken; i++) {
      restoreSnapshot(join(snapshots, String(i)), ws.root);
      const file = join(ws.root, '.hangar', 'hangar.db');
      const wal = `${file}-wal`;
      if (existsSync(wal) && readFileSync(wal).byteLength > 32) withWal++;
      const before = violations.length;
      let pending: { run_id: string; state: string }[] = [];
      let all: string[] = [];
      let inFlight = 0;
      {
        // Opening recovers the WAL as a boot would; then the whole file is checked.
        const db = new DatabaseSync(file);
        try {
          const rows = db.prepare('PRAGMA integrity_check').all() as { integrity_check: string }[];
          const verdict = rows.map((r) => r.integrity_check).join('; ');
          if (verdict !== 'ok') violations.push(`snapshot ${i}: integrity_check says ${verdict}`);
          const fk = db.prepare('PRAGMA foreign_key_check').all();
          if (fk.length) violations.push(`snapshot ${i}: foreign_key_check lists ${fk.length} rows`);
          all = (
            db.prepare('SELECT run_id FROM dag_runs WHERE dag_id = ? ORDER BY run_id').all(DAG_ID) as {
              run_id: string;
            }[]
          ).map((r) => r.run_id);
          pending = db
            .prepare(
              "SELECT run_id, state FROM dag_runs WHERE dag_id = ? AND state NOT IN ('success', 'failed')",
            )
            .all(DAG_ID) as typeof pending;
          inFlight = Number(
            (
              db
                .prepare("SELECT COUNT(*) AS n FROM task_instances WHERE state IN ('running', 'queued')")
                .get() as { n: number }
            ).n,
          );
        } finally {
          db.close();
        }
      }
      if (inFlight > 0) midTry++;
      for (const p of pending) {
        const r = cli(['run', DAG_ID, '--resume', p.run_id, '-o', 'plain']);
        resumed++;
        if (r.status !== 0)
          violations.push(
            `snapshot ${i}: the resume of ${p.run_id} exited ${r.status}: ${(r.stdout + r.stderr).slice(-1500)}`,
          );
      }
      cli(['xcom', 'sweep', '--min-age', '0s']);
      const found: string[] = [];
      for (const id of all) await check(ws, id, found);
      await checkFiles(ws, found);
      if (existsSync(effects)) checkEffects(effects, all, found);
      else if (all.length) found.push('no effects.log in the snapshot');
      for (const v of found) violations.push(`snapshot ${i}: ${v}`);
      options.log?.(
        `snapshot ${i}: ${all.length} runs, ${pending.length} resumed, ${inFlight} tries in flight, ${violations.length - before} violations`,
      );
    }
    return {
      seed: options.seed,
      snapshots: taken,
      runs,
      midTry,
      withWal,
      resumed,
      violations,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    if (child?.pid && child.exitCode === null) killGroup(child.pid);
    if (!options.keep) {
      ws.remove();
      rmSync(snapshots, { recursive: true, force: true });
    } else options.log?.(`kept: ${ws.root} (workspace), ${snapshots} (snapshots)`);
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string' },
      count: { type: 'string' },
      'max-gap-ms': { type: 'string' },
      keep: { type: 'boolean' },
      quiet: { type: 'boolean' },
    },
  });
  const seed = Number(values.seed ?? Date.now() % 100_000);
  console.log(`power loss: seed ${seed}`);
  const r = await powerLoss({
    seed,
    count: Number(values.count ?? 50),
    maxGapMs: values['max-gap-ms'] ? Number(values['max-gap-ms']) : undefined,
    keep: values.keep,
    log: values.quiet ? undefined : (s) => console.log(s),
  });
  console.log(
    `seed ${r.seed}: ${r.snapshots} snapshots over ${r.runs} runs (${r.withWal} with WAL frames, ${r.midTry} with tries in flight), ${r.resumed} runs resumed, ${r.violations.length} violations, ${r.seconds.toFixed(1)} s`,
  );
  for (const v of r.violations) console.log(`  violation: ${v}`);
  console.log(JSON.stringify(r));
  process.exit(r.violations.length ? 1 : 0);
}
