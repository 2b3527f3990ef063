/**
 * `npm run demo:sftp` (scripts/demo-sftp.ts) end to end: two real sshd servers, the real CLI running
 * examples/dags/sftp_sync.ts twice, and nothing left running afterwards — after a normal exit and
 * after Ctrl+C (SIGINT to the script alone, so the script has to stop the servers itself).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hangar } from '../helpers/cli.ts';
import { tempWorkspace } from '../helpers/workspace.ts';
import type { TempWorkspace } from '../helpers/workspace.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const DEMO = join(ROOT, 'scripts', 'demo-sftp.ts');
const DAG = 'sftp_sync';

interface Demo {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the demo; `onOutput` sees stdout as it grows (to send Ctrl+C at the right moment). */
function runDemo(
  args: string[],
  onOutput?: (stdout: string, pid: number) => void,
  env: NodeJS.ProcessEnv = {},
): Promise<Demo> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DEMO, ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      onOutput?.(stdout, child.pid!);
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Running, that is: the process exists and is not a zombie waiting to be reaped. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Live processes whose command line mentions `text` (sshd's is `/usr/sbin/sshd -D -e -f DIR/…/sshd_config`). */
function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replace(/\0/g, ' ');
    } catch {
      continue;
    }
    if (cmdline.includes(text) && alive(Number(entry))) found.push(`${entry}: ${cmdline}`);
  }
  return found;
}

const sshdPids = (stdout: string): number[] =>
  [...stdout.matchAll(/\(sshd pid (\d+)\)/g)].map((m) => Number(m[1]));

async function filesUnder(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await filesUnder(root, r)));
    else out.push(r);
  }
  return out.sort();
}

function assertNothingLeft(demoDir: string, pids: number[], output: string): void {
  assert.equal(pids.length, 2, `the demo names its two sshd processes\n${output}`);
  for (const pid of pids) assert.equal(alive(pid), false, `sshd ${pid} was stopped`);
  assert.deepEqual(processesMentioning(demoDir), [], 'no process of the demo is left');
  assert.equal(existsSync(join(demoDir, 'servers')), false, "the servers' keys and config were removed");
}

let dir: string;
let ws: TempWorkspace;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hangar-sftp-demo-test-'));
  ws = tempWorkspace();
  // The examples workspace's settings and DAG, in a workspace of the suite's store.
  ws.write('hangar.json', readFileSync(join(ROOT, 'examples', 'hangar.json'), 'utf8'));
  ws.write(`dags/${DAG}.ts`, readFileSync(join(ROOT, 'examples', 'dags', `${DAG}.ts`), 'utf8'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
  ws.remove();
});

describe('npm run demo:sftp', () => {
  it('syncs the sample files through two throwaway sshd servers, a second run syncs nothing, and it stops them', async () => {
    const demoDir = join(dir, 'run');
    const r = await runDemo(['--workspace', ws.root, '--dir', demoDir]);
    const output = r.stdout + r.stderr;
    assert.equal(r.code, 0, output);

    // The destination holds every source file, transformed, and nothing else (no temporary or backup files).
    const source = join(demoDir, 'source');
    const destination = join(demoDir, 'destination');
    const files = await filesUnder(source);
    assert.ok(files.length >= 3, `a few sample files: ${files.join(', ')}`);
    assert.ok(
      files.some((f) => f.includes('/')),
      'some nested',
    );
    assert.ok(files.some((f) => f.endsWith('.csv')) && files.some((f) => f.endsWith('.json')));
    assert.deepEqual(await filesUnder(destination), files);
    for (const f of files) {
      const text = await readFile(join(source, f), 'utf8');
      assert.match(text, /\s/, `${f} has whitespace for the transform to show`);
      assert.equal(
        await readFile(join(destination, f), 'utf8'),
        text.replace(/\s/g, '_'),
        `${f} transformed`,
      );
    }
    assert.match(r.stdout, new RegExp(`landed in ${destination.replace(/[/.]/g, '\\$&')}`));

    // Two manual runs in the workspace's store: the first moved every file, the second none.
    const runs = hangar(['runs', '--dag', DAG, '-o', 'json', '--workspace', ws.root]);
    assert.equal(runs.code, 0, runs.stderr);
    const rows = (JSON.parse(runs.stdout) as { run_id: string; state: string }[]).reverse();
    assert.deepEqual(
      rows.map((x) => x.state),
      ['success', 'success'],
    );
    const synced = rows.map((row) => {
      const x = hangar([
        'xcom',
        'get',
        '--dag',
        DAG,
        '--run',
        row.run_id,
        '--task',
        'sync',
        '-o',
        'json',
        '--workspace',
        ws.root,
      ]);
      assert.equal(x.code, 0, x.stderr);
      return (JSON.parse(x.stdout) as { value: { filesSynced: number; bytesMoved: number } }).value;
    });
    assert.equal(synced[0]!.filesSynced, files.length);
    assert.equal(synced[1]!.filesSynced, 0, 'the second run syncs nothing new');
    assert.equal(synced[1]!.bytesMoved, 0);
    assert.match(r.stdout, /0 files synced, 0 bytes moved/);
    assert.match(r.stdout, /npm run demo:sftp/, 'says how to run it again');

    assertNothingLeft(demoDir, sshdPids(r.stdout), output);
  });

  it('without OpenSSH on the PATH it stops at once with the one apt-get command (scripts/system-deps.ts)', async () => {
    const demoDir = join(dir, 'no-ssh');
    // sshd is also looked for in /usr/sbin; the client programs only on the PATH.
    const r = await runDemo(['--workspace', ws.root, '--dir', demoDir], undefined, { PATH: '/nonexistent' });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /sftp \(openssh-client\) is not installed/);
    assert.match(r.stderr, /^ {2}sudo apt-get install -y openssh-client$/m);
    assert.equal(existsSync(demoDir), false, 'nothing was created');
  });

  it('with --keep the servers stay up until Ctrl+C, which stops them', async () => {
    const demoDir = join(dir, 'keep');
    let pidsWhileUp: number[] = [];
    let upBeforeCtrlC: boolean[] = [];
    let sent = false;
    const r = await runDemo(['--workspace', ws.root, '--dir', demoDir, '--keep'], (stdout, pid) => {
      if (sent || !stdout.includes('Press Ctrl+C')) return;
      sent = true;
      pidsWhileUp = sshdPids(stdout);
      upBeforeCtrlC = pidsWhileUp.map(alive);
      process.kill(pid, 'SIGINT');
    });
    const output = r.stdout + r.stderr;
    assert.ok(sent, `the demo waited for Ctrl+C\n${output}`);
    assert.deepEqual(upBeforeCtrlC, [true, true], 'both servers were up while it waited');
    assert.match(r.stdout, /export HANGAR_CONN_SFTP_SRC='sftp:\/\/[^']+fingerprint=SHA256%3A/);
    assert.match(r.stdout, /export HANGAR_CONN_SFTP_DST='sftp:\/\//);
    assert.equal(r.code, 130, output);
    assertNothingLeft(demoDir, pidsWhileUp, output);
  });
});
