/**
 * The store's disk failing under a run, on real small filesystems (tmpfs mounts: root needed).
 *
 * 1. `.hangar/` on a tmpfs that fills up mid-run (ENOSPC): the runtime says so in one line naming the
 *    store's file, stops (no new tries, no state it could not commit reported), and once the space is
 *    back a resume finishes the run with the chaos invariants (test/chaos/harness.ts).
 * 2. A task's log folder, or the XCom folder, on a read-only tmpfs: the try fails naming the file, the
 *    other task and the store are untouched, and the retry succeeds once the folder is writable.
 *
 * SQLite only, whatever HANGAR_TEST_STORE says (tempWorkspace's `{ store: 'sqlite' }`): these are
 * about the embedded store's files on the workspace's disk; a PostgreSQL server's disk is its own.
 *
 * Read-only mid-run is not done with `mount -o remount,ro`: Linux refuses to remount a filesystem
 * read-only while a file on it is open for writing (the store is), with "mount point is busy"; so the
 * read-only cases are folders that are read-only from the start (2), and mid-run is a full disk (1).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { HANGAR_BIN } from '../helpers/cli.ts';
import { tempWorkspace } from '../helpers/workspace.ts';
import type { TempWorkspace } from '../helpers/workspace.ts';
import { chaosDag, check, checkEffects, checkFiles, DAG_ID } from './harness.ts';
import { fillDisk, Mounts } from './mounts.ts';

const mounts = new Mounts();
const workspaces: TempWorkspace[] = [];
const children: ChildProcess[] = [];
// Unmounted even when a test fails (a mount left behind would outlive the test run); a run a failed
// assertion left waiting at its gate is stopped first, with its task workers (its process group).
after(async () => {
  for (const c of children) {
    if (c.exitCode !== null || c.signalCode !== null) continue;
    const gone = new Promise((r) => c.once('close', r));
    try {
      process.kill(-c.pid!, 'SIGKILL');
    } catch {
      // ended
    }
    await gone;
  }
  mounts.unmountAll();
  for (const ws of workspaces) ws.remove();
});

function cli(ws: TempWorkspace, env: NodeJS.ProcessEnv, args: string[]) {
  return spawnSync(process.execPath, [HANGAR_BIN, ...args, '--workspace', ws.root], {
    env: { ...process.env, ...env, NO_COLOR: '1' },
    encoding: 'utf8',
    timeout: 300_000,
  });
}

/** Starts a command; resolves its exit with all it printed. */
function start(ws: TempWorkspace, env: NodeJS.ProcessEnv, args: string[]) {
  const child = spawn(process.execPath, [HANGAR_BIN, ...args, '--workspace', ws.root], {
    env: { ...process.env, ...env, NO_COLOR: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // a process group of its own, so that `after` can stop it with its workers
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exit = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) =>
    child.once('close', (code) => resolve({ code, stdout, stderr })),
  );
  let ended = false;
  void exit.then(() => (ended = true));
  return { child, exit, ended: () => ended, output: () => stdout + stderr };
}

/** Waits until a file exists; fails if the process ended first. */
async function waitForFile(
  file: string,
  proc: { ended: () => boolean; output: () => string },
): Promise<void> {
  while (!existsSync(file)) {
    if (proc.ended()) assert.fail(`the run ended before ${file} appeared:\n${proc.output().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function integrity(file: string): string {
  const db = new DatabaseSync(file);
  try {
    return (db.prepare('PRAGMA integrity_check').all() as { integrity_check: string }[])
      .map((r) => r.integrity_check)
      .join('; ');
  } finally {
    db.close();
  }
}

test(
  'disk full (ENOSPC) mid-run: one clear message naming the store, no new tries, nothing uncommitted reported; the resume finishes with the chaos invariants',
  { timeout: 600_000 },
  async () => {
    const ws = tempWorkspace({}, undefined, { store: 'sqlite' });
    workspaces.push(ws);
    const hangarDir = join(ws.root, '.hangar');
    mounts.tmpfs(hangarDir, '24m');
    const effects = join(ws.root, 'effects.log');
    const marker = join(ws.root, 'marker.txt');
    const gate = join(ws.root, 'gate');
    ws.write(
      'hangar.json',
      JSON.stringify({ executor: 'isolated', parallelism: 4, xcom: { fileThreshold: 1024 } }),
    );
    ws.write(`dags/${DAG_ID}.ts`, chaosDag(effects, marker, gate));
    const env = { HANGAR_XCOM_KEYS: `chaos:${randomBytes(32).toString('base64')}` };
    const trig = cli(ws, env, ['trigger', DAG_ID, '--json']);
    assert.equal(trig.status, 0, trig.stderr);
    const runId = (JSON.parse(trig.stdout) as { run_id: string }).run_id;

    const run = start(ws, env, ['run', DAG_ID, '--resume', runId, '-o', 'plain']);
    // make_marker has started and waits at the gate: the run is under way (the sensor pokes, a task runs).
    await waitForFile(`${gate}.held`, run);
    const store = join(hangarDir, 'hangar.db');
    // The WAL is emptied first, so that the next commit needs new space on the disk rather than
    // reusing the WAL's old frames (which would put the failure off to a later, unknown write).
    {
      const db = new DatabaseSync(store);
      try {
        for (let i = 0; ; i++) {
          const r = db.prepare('PRAGMA wal_checkpoint(TRUNCATE)').get() as { busy: number };
          if (r.busy === 0) break;
          if (i > 200) assert.fail('the WAL could not be checkpointed (busy)');
          await new Promise((res) => setTimeout(res, 10));
        }
      } finally {
        db.close();
      }
    }
    const filler = join(hangarDir, 'filler');
    fillDisk(filler);
    writeFileSync(gate, 'go');
    const ended = await run.exit;

    // One clear message: the store's path and ENOSPC, on one line, no stack.
    assert.equal(ended.code, 1, ended.stdout + ended.stderr);
    const lines = ended.stderr.split('\n').filter((l) => /ENOSPC/.test(l));
    assert.equal(lines.length, 1, `one line says ENOSPC:\n${ended.stderr}`);
    assert.match(
      lines[0]!,
      new RegExp(
        `^hangar: The store ${store.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} cannot be written: its disk is full \\(ENOSPC\\)`,
      ),
    );
    assert.match(
      lines[0]!,
      new RegExp(`hangar run ${DAG_ID} --resume '${runId.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}'`),
    );
    assert.doesNotMatch(ended.stderr + ended.stdout, /^\s+at /m, 'no stack trace');

    rmSync(filler);
    assert.equal(integrity(store), 'ok');
    {
      // Nothing reported that the store does not hold; no task failed for want of space; the run is left to resume.
      const db = new DatabaseSync(store);
      try {
        const state = (
          db.prepare('SELECT state FROM dag_runs WHERE dag_id = ? AND run_id = ?').get(DAG_ID, runId) as {
            state: string;
          }
        ).state;
        assert.equal(state, 'running', 'the run is left for a resume, not failed');
        const tis = db
          .prepare(
            'SELECT task_id, map_index, state, try_number FROM task_instances WHERE dag_id = ? AND run_id = ?',
          )
          .all(DAG_ID, runId) as {
          task_id: string;
          map_index: number;
          state: string | null;
          try_number: number;
        }[];
        const byName = new Map(
          tis.map((t) => [t.map_index >= 0 ? `${t.task_id}[${t.map_index}]` : t.task_id, t]),
        );
        for (const t of tis)
          assert.ok(t.state !== 'failed' && t.state !== 'upstream_failed', `${t.task_id} is ${t.state}`);
        // Tasks after the gate were never claimed: the runtime started no try once the disk was full.
        assert.equal(byName.get('report')!.try_number, 0, 'report was never claimed');
        for (const m of ended.stdout.matchAll(
          /^\s+\d\d:\d\d:\d\d\.\d+\s+(\S+)\s+(success|failed|skipped|upstream_failed|up_for_retry)\b/gm,
        )) {
          const ti = byName.get(m[1]!);
          assert.ok(ti, `reported ${m[1]} is in the store`);
          if (m[2] === 'success')
            assert.equal(ti.state, 'success', `${m[1]} was reported success; the store has ${ti.state}`);
          else assert.notEqual(ti.state, null, `${m[1]} was reported ${m[2]}; the store has no state`);
        }
        assert.notEqual(
          byName.get('make_marker')!.state,
          'success',
          'make_marker ended after the disk filled: not recorded',
        );
        assert.doesNotMatch(ended.stdout, /make_marker\s+success/, 'make_marker was not reported success');
      } finally {
        db.close();
      }
    }

    // Space is back: the resume finishes the run, and every chaos invariant holds.
    const resumed = cli(ws, env, ['run', DAG_ID, '--resume', runId, '-o', 'plain']);
    assert.equal(resumed.status, 0, resumed.stdout + resumed.stderr);
    cli(ws, env, ['xcom', 'sweep', '--min-age', '0s']);
    const violations: string[] = [];
    await check(ws, runId, violations);
    await checkFiles(ws, violations);
    checkEffects(effects, [runId], violations);
    assert.deepEqual(violations, []);
    assert.equal(integrity(store), 'ok');
  },
);

const UNWRITABLE_DAG = (gate: string) => `import { dag } from 'hangar';
import { existsSync, writeFileSync } from 'node:fs';
// Tries after the first wait for the test to make the folders writable again.
const held = async (ctx: { taskId: string; tryNumber: number }) => {
  if (ctx.tryNumber === 1) return;
  writeFileSync(${JSON.stringify(gate)} + '.' + ctx.taskId, String(ctx.tryNumber));
  while (!existsSync(${JSON.stringify(gate)})) await new Promise((r) => setTimeout(r, 20));
};
export const d = dag({ id: 'unwritable', defaultArgs: { retries: 1, retryDelay: 0 } });
// Prints: its log file is written.
d.task('talks', async (ctx) => {
  await held(ctx);
  console.log('hello from talks, try', ctx.tryNumber);
  return 1;
});
// Prints nothing, returns a value the file backend offloads.
d.task('offloads', { xcomBackend: 'file' }, async (ctx) => {
  await held(ctx);
  return { padding: 'x'.repeat(8 * 1024) };
});
// Neither: nothing on those folders.
d.task('quiet', async () => 'fine');
`;

test(
  'a log folder and the XCom folder that cannot be written: the try fails naming the file, nothing else is damaged, the retry succeeds once writable',
  { timeout: 600_000 },
  async () => {
    const ws = tempWorkspace({}, undefined, { store: 'sqlite' });
    workspaces.push(ws);
    const logs = join(ws.root, '.hangar', 'logs');
    const xcom = join(ws.root, '.hangar', 'xcom');
    mounts.tmpfs(logs, '4m', true);
    mounts.tmpfs(xcom, '4m', true);
    const gate = join(ws.root, 'gate');
    ws.write(
      'hangar.json',
      JSON.stringify({ executor: 'isolated', parallelism: 4, xcom: { fileThreshold: 1024 } }),
    );
    ws.write('dags/unwritable.ts', UNWRITABLE_DAG(gate));
    const run = start(ws, {}, ['run', 'unwritable', '-o', 'plain']);
    // Both retries have started (so both first tries have ended and been recorded).
    await waitForFile(`${gate}.talks`, run);
    await waitForFile(`${gate}.offloads`, run);
    const store = join(ws.root, '.hangar', 'hangar.db');
    const firstTries = () => {
      const db = new DatabaseSync(store);
      try {
        return db
          .prepare(
            "SELECT task_id, state, error FROM task_tries WHERE dag_id = 'unwritable' AND try_number = 1",
          )
          .all() as {
          task_id: string;
          state: string;
          error: string | null;
        }[];
      } finally {
        db.close();
      }
    };
    // `quiet` ends on its own time: the retries of the others may start before its end is recorded.
    let tries = new Map(firstTries().map((t) => [t.task_id, t]));
    for (let i = 0; i < 600 && ['running', 'queued', undefined].includes(tries.get('quiet')?.state); i++) {
      await new Promise((r) => setTimeout(r, 50));
      tries = new Map(firstTries().map((t) => [t.task_id, t]));
    }
    const talks = tries.get('talks')!;
    assert.equal(talks.state, 'failed');
    assert.match(
      talks.error!,
      /^The try failed: its log file \/\S+\/\.hangar\/logs\/dag_id=unwritable\/\S+\/task_id=talks\/attempt=1\.log cannot be written \(EROFS: read-only file system/,
    );
    const offloads = tries.get('offloads')!;
    assert.equal(offloads.state, 'failed');
    assert.match(
      offloads.error!,
      /could not be written to the XCom directory \(EROFS: read-only file system, (mkdir|open) '[^']*\/\.hangar\/xcom\//,
    );
    assert.equal(tries.get('quiet')!.state, 'success', 'the task that writes neither folder is untouched');

    mounts.remount(logs, 'rw');
    mounts.remount(xcom, 'rw');
    writeFileSync(gate, 'go');
    const ended = await run.exit;
    assert.equal(ended.code, 0, ended.stdout + ended.stderr);
    assert.equal(integrity(store), 'ok');
    const db = new DatabaseSync(store);
    try {
      const tis = db
        .prepare(
          "SELECT task_id, state, try_number FROM task_instances WHERE dag_id = 'unwritable' ORDER BY task_id",
        )
        .all();
      assert.deepEqual(
        tis.map((t) => ({ ...t })),
        [
          { task_id: 'offloads', state: 'success', try_number: 2 },
          { task_id: 'quiet', state: 'success', try_number: 1 },
          { task_id: 'talks', state: 'success', try_number: 2 },
        ],
      );
    } finally {
      db.close();
    }
    const log2 = spawnSync('sh', ['-c', `cat ${logs}/dag_id=unwritable/*/task_id=talks/attempt=2.log`], {
      encoding: 'utf8',
    }).stdout;
    assert.match(log2, /hello from talks, try 2/);
    const xcomFiles = spawnSync('sh', ['-c', `find ${xcom} -type f`], { encoding: 'utf8' })
      .stdout.trim()
      .split('\n')
      .filter(Boolean);
    assert.equal(xcomFiles.length, 1, `one XCom file: ${xcomFiles.join(', ')}`);
    assert.ok(readFileSync(xcomFiles[0]!).byteLength > 8 * 1024);
  },
);
