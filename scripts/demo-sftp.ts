/**
 * `npm run demo:sftp`: the SFTP sync example (examples/dags/sftp_sync.ts) without servers of your own.
 *
 * As the seed's docker-compose starts two SFTP containers, this starts two throwaway OpenSSH servers
 * on 127.0.0.1 (scripts/lib/sshd.ts, the tests' harness: host and user keys, config and logs in a
 * temporary folder), fills the source with a few CSV and JSON files (some nested), sets
 * HANGAR_CONN_SFTP_SRC / HANGAR_CONN_SFTP_DST with the servers' pinned host key fingerprints, and runs
 * `hangar run sftp_sync` in the examples workspace twice: the first run moves every file through the
 * whitespace-to-underscore transform, the second finds nothing new. Then it stops the servers (on
 * Ctrl+C too) and removes their keys; the source and destination folders stay for you to look at.
 *
 *   node scripts/demo-sftp.ts [--keep] [--workspace DIR] [--dir DIR]
 *
 *   --keep           keep the servers up after the two runs, print the commands to run the DAG
 *                    yourself, and stop them on Ctrl+C
 *   --workspace DIR  the Hangar workspace holding sftp_sync (default: examples/)
 *   --dir DIR        an empty or new folder for the demo (default: a new one in the OS temp folder)
 *
 * Exit status: 0 when both runs did what they should, 1 when not (or sshd is missing), 130 on Ctrl+C.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startSshd } from './lib/sshd.ts';
import type { SshdServer } from './lib/sshd.ts';
import { SYSTEM_DEPS, missingPackages, plan } from './system-deps.ts';

const ROOT = resolve(import.meta.dirname, '..');
const HANGAR = join(ROOT, 'bin', 'hangar.js');
const DAG = 'sftp_sync';

/** The seed's source volume held a handful of CSV and JSON exports; these are of that kind. */
const SAMPLE_FILES: Readonly<Record<string, string>> = {
  'customers.csv': 'id,name,city\n1,Ada Lovelace,London\n2,Grace Hopper,New York\n3,Alan Turing,Wilmslow\n',
  'products.json':
    JSON.stringify(
      [
        { sku: 'A-100', name: 'Paper cup', price: 0.25 },
        { sku: 'B-200', name: 'Coffee beans 1 kg', price: 18.5 },
      ],
      null,
      2,
    ) + '\n',
  'orders/2024-01/orders.csv': 'order_id,customer_id,total\n1001,1,12.50\n1002,3,7.25\n',
  'orders/2024-02/orders.csv': 'order_id,customer_id,total\n1003,2,19.00\n',
  'events/2024/03/page views.json':
    JSON.stringify({ day: '2024-03-01', views: [{ page: '/home page', count: 42 }] }, null, 2) + '\n',
};

/** What the DAG's transform does to a file's content (the seed's: every whitespace character becomes `_`). */
const transformed = (text: string): string => text.replace(/\s/g, '_');

interface RunRow {
  run_id: string;
  state: string;
}

interface Summary {
  filesSynced: number;
  filesSkipped: number;
  filesFailed: number;
  bytesMoved: number;
  cursorAfter: { mtimeMs: number; id: string } | null;
}

const { values } = parseArgs({
  options: {
    keep: { type: 'boolean', default: false },
    workspace: { type: 'string', default: join(ROOT, 'examples') },
    dir: { type: 'string' },
  },
});
const workspace = resolve(values.workspace!);
const shownWorkspace = relative(process.cwd(), workspace) || '.';

// sshd and ssh-keygen come from Debian's openssh-server and openssh-client.
const needed = SYSTEM_DEPS.filter((d) => d.pkg === 'openssh-server' || d.pkg === 'openssh-client');
const missing = needed.filter((d) => missingPackages().includes(d.pkg));
const p = plan(
  missing.map((d) => d.pkg),
  false,
);
if (p.action === 'stop') {
  const what = missing.map((d) => `${d.program} (${d.pkg})`).join(' and ');
  console.error(
    `The demo starts OpenSSH servers, but ${what} is not installed. Install it with:\n\n  ${p.command}\n`,
  );
  process.exit(1);
}
if (!existsSync(join(ROOT, 'dist', 'runtime', 'cli.mjs'))) {
  console.error('The hangar CLI is not built yet: run `npm run build` first.');
  process.exit(1);
}
if (!existsSync(join(workspace, 'dags', `${DAG}.ts`))) {
  console.error(`No dags/${DAG}.ts in the workspace ${workspace} (--workspace).`);
  process.exit(1);
}

const dir = values.dir
  ? resolve(values.dir)
  : join(tmpdir(), `hangar-sftp-demo-${process.pid}-${Date.now().toString(36)}`);
if (existsSync(dir) && (await readdir(dir)).length > 0) {
  console.error(`--dir ${dir} is not empty: give a new or empty folder.`);
  process.exit(1);
}
const sourceDir = join(dir, 'source');
const destinationDir = join(dir, 'destination');
const serversDir = join(dir, 'servers');

const servers: SshdServer[] = [];
let hangarChild: ReturnType<typeof spawn> | undefined;
let stopping: Promise<void> | undefined;

/** Stops the servers and removes their keys and config; the data folders stay. */
async function stopServers(): Promise<void> {
  stopping ??= (async () => {
    for (const s of servers) await s.stop();
    servers.length = 0;
    await rm(serversDir, { recursive: true, force: true });
  })();
  await stopping;
}

async function interrupted(signal: NodeJS.Signals): Promise<void> {
  console.log(`\n${signal}: stopping the SFTP servers…`);
  if (hangarChild && hangarChild.exitCode === null && hangarChild.signalCode === null) {
    // hangar stops its run on SIGINT (finish it later with `hangar run --resume`).
    const child = hangarChild;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGINT');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }
  await stopServers();
  console.log('Stopped: nothing of the demo is left running.');
  process.exit(130);
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
  process.once(signal, (s) => void interrupted(s));
// Last resort (an exception we did not expect): no listener outlives the script.
process.once('exit', () => {
  for (const s of servers) {
    try {
      if (s.pid !== undefined) process.kill(s.pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

function connectionUri(server: SshdServer, root: string): string {
  const q = new URLSearchParams({
    fingerprint: server.hostKeyFingerprint,
    private_key_file: server.privateKeyFile,
  });
  const path = root.split('/').map(encodeURIComponent).join('/');
  return `sftp://${encodeURIComponent(server.username)}@${server.host}:${server.port}${path}?${q.toString()}`;
}

/** Runs the real `hangar` CLI; its output goes to the terminal unless captured. */
function hangar(
  args: string[],
  env: NodeJS.ProcessEnv,
  capture = false,
): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [HANGAR, ...args], {
      env,
      stdio: ['ignore', capture ? 'pipe' : 'inherit', 'inherit'],
    });
    hangarChild = child;
    let stdout = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => {
      hangarChild = undefined;
      resolvePromise({ code, stdout });
    });
  });
}

async function lastManualRun(env: NodeJS.ProcessEnv): Promise<RunRow> {
  const r = await hangar(
    ['runs', '--dag', DAG, '--run-type', 'manual', '--limit', '1', '-o', 'json', '--workspace', workspace],
    env,
    true,
  );
  const rows = JSON.parse(r.stdout) as RunRow[];
  if (r.code !== 0 || rows.length === 0) throw new Error(`hangar runs found no run of ${DAG}`);
  return rows[0]!;
}

async function syncSummary(runId: string, env: NodeJS.ProcessEnv): Promise<Summary> {
  const r = await hangar(
    ['xcom', 'get', '--dag', DAG, '--run', runId, '--task', 'sync', '-o', 'json', '--workspace', workspace],
    env,
    true,
  );
  if (r.code !== 0) throw new Error(`hangar xcom get found no summary for ${runId}`);
  return (JSON.parse(r.stdout) as { value: Summary }).value;
}

async function listFiles(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(root, r)));
    else out.push(r);
  }
  return out.sort();
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

async function main(): Promise<number> {
  await mkdir(sourceDir, { recursive: true });
  await mkdir(destinationDir, { recursive: true });
  await mkdir(serversDir, { recursive: true });
  for (const [rel, text] of Object.entries(SAMPLE_FILES)) {
    await mkdir(join(sourceDir, rel, '..'), { recursive: true });
    await writeFile(join(sourceDir, rel), text);
  }

  console.log(`Starting two OpenSSH servers on 127.0.0.1 (keys and config in ${serversDir})…`);
  servers.push(await startSshd({ parentDir: serversDir, passwordAuthentication: false }));
  servers.push(await startSshd({ parentDir: serversDir, passwordAuthentication: false }));
  const [src, dst] = servers as [SshdServer, SshdServer];
  console.log(
    `  source       ${src.host}:${src.port}  host key ${src.hostKeyFingerprint}  (sshd pid ${src.pid})`,
  );
  console.log(
    `  destination  ${dst.host}:${dst.port}  host key ${dst.hostKeyFingerprint}  (sshd pid ${dst.pid})`,
  );
  console.log(`\nSample files in the source, ${sourceDir}:`);
  for (const f of await listFiles(sourceDir)) console.log(`  ${f}`);

  const conn = {
    HANGAR_CONN_SFTP_SRC: connectionUri(src, sourceDir),
    HANGAR_CONN_SFTP_DST: connectionUri(dst, destinationDir),
  };
  const env = { ...process.env, ...conn };
  const runCommand = `npx hangar run ${DAG} --workspace ${shownWorkspace}`;

  console.log(`\n$ ${runCommand}`);
  const first = await hangar(['run', DAG, '--workspace', workspace], env);
  if (first.code !== 0) {
    console.error(
      `\nThe first run failed (exit ${first.code}); its logs: npx hangar logs RUN_ID sync --dag ${DAG} --workspace ${shownWorkspace}`,
    );
    return 1;
  }
  const run1 = await lastManualRun(env);
  const s1 = await syncSummary(run1.run_id, env);
  const landed = await listFiles(destinationDir);
  console.log(
    `\nRun ${run1.run_id}: ${plural(s1.filesSynced, 'file')} synced (${s1.bytesMoved} bytes), ${s1.filesFailed} failed.`,
  );
  console.log(`The files landed in ${destinationDir}:`);
  for (const f of landed) console.log(`  ${f}`);
  const expected = Object.keys(SAMPLE_FILES).sort();
  let ok = JSON.stringify(landed) === JSON.stringify(expected);
  for (const [rel, text] of Object.entries(SAMPLE_FILES)) {
    const got = existsSync(join(destinationDir, rel))
      ? await readFile(join(destinationDir, rel), 'utf8')
      : undefined;
    if (got !== transformed(text)) ok = false;
  }
  const example = 'customers.csv';
  console.log(`\nThe transform turned every whitespace character into "_"; ${example}:`);
  console.log(`  source:      ${JSON.stringify(SAMPLE_FILES[example])}`);
  console.log(
    `  destination: ${JSON.stringify(await readFile(join(destinationDir, example), 'utf8').catch(() => '(missing)'))}`,
  );
  if (!ok || s1.filesSynced !== expected.length) {
    console.error(
      `\nExpected the ${expected.length} sample files, transformed, at the destination; see the run's logs above.`,
    );
    return 1;
  }

  console.log(`\nAgain, with nothing new at the source:\n$ ${runCommand}`);
  const second = await hangar(['run', DAG, '--workspace', workspace], env);
  if (second.code !== 0) {
    console.error(`\nThe second run failed (exit ${second.code}).`);
    return 1;
  }
  const run2 = await lastManualRun(env);
  const s2 = await syncSummary(run2.run_id, env);
  console.log(
    `\nRun ${run2.run_id}: ${plural(s2.filesSynced, 'file')} synced, ${s2.bytesMoved} bytes moved: the pipeline's cursor ` +
      `(${s2.cursorAfter ? `mtime ${new Date(s2.cursorAfter.mtimeMs).toISOString()}, "${s2.cursorAfter.id}"` : 'none'}) ` +
      `is kept in the workspace's store, so files already sent are not sent again.`,
  );
  if (s2.filesSynced !== 0 || run2.run_id === run1.run_id) {
    console.error('\nThe second run should have synced nothing.');
    return 1;
  }

  console.log(`\nSource and destination stay in ${dir} (delete it when done).`);
  console.log(`Run the demo again (fresh servers, new sample files): npm run demo:sftp`);
  if (!values.keep) {
    console.log('Keep the servers up to add files and run the DAG yourself: npm run demo:sftp -- --keep');
    return 0;
  }
  console.log('\nThe servers stay up. In another terminal:\n');
  for (const [k, v] of Object.entries(conn)) console.log(`  export ${k}='${v}'`);
  console.log(`  echo 'a new file' > '${join(sourceDir, 'new file.txt')}'`);
  console.log(`  ${runCommand}      # syncs only the new file`);
  console.log('\nPress Ctrl+C to stop the servers.');
  await new Promise<never>(() => setInterval(() => undefined, 1 << 30));
  return 0;
}

let status: number;
try {
  status = await main();
} catch (err) {
  console.error(`\nThe demo failed: ${(err as Error).message}`);
  status = 1;
}
await stopServers();
console.log('SFTP servers stopped.');
process.exit(status);
