/**
 * Sync pipeline benchmark: SFTP → SFTP on loopback (a real OpenSSH sshd), with
 * the floor measured in the same run:
 *   - OpenSSH `sftp -b` moving the same bytes (get to local disk, then put);
 *   - Debian's `rclone sync` between the same two SFTP remotes.
 *
 *   npx node bench/sync.bench.ts
 *   HANGAR_SYNC_BENCH_BIG_MIB=256 HANGAR_SYNC_BENCH_FILES=2000 HANGAR_SYNC_BENCH_RUNS=3 npx node bench/sync.bench.ts
 *
 * Knobs (env): HANGAR_SYNC_BENCH_BIG_MIB (1024), HANGAR_SYNC_BENCH_FILES (10000),
 * HANGAR_SYNC_BENCH_FILE_KIB (4), HANGAR_SYNC_BENCH_RUNS (3),
 * HANGAR_SYNC_BENCH_CHUNK_KIB (256), HANGAR_SYNC_BENCH_CONCURRENCY (8).
 * Each Hangar run happens in a child process (an esbuild bundle, as the
 * runtime ships, started with a task worker's V8 flags — 16 MiB semi-spaces,
 * --expose-gc unless the row says otherwise) so its peak RSS is its own. rclone runs with its defaults (which run md5sum on
 * the server per file; skipped for trees over 2,000 files, it takes ~0.15 s per
 * file) and with --sftp-disable-hashcheck, the fastest floor we compare to.
 */
import { execFile, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomFillSync } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { workerExecArgv } from '../src/runtime/executor/isolated.ts';

const execFileP = promisify(execFile);
const here = fileURLToPath(import.meta.url);

interface WorkerJob {
  host: string;
  port: number;
  username: string;
  privateKeyFile: string;
  knownHostsFile: string;
  srcRoot: string;
  dstRoot: string;
  dbFile: string;
  chunkSize: number;
  concurrency: number;
  transform: 'none' | 'mask';
}

interface WorkerResult {
  ms: number;
  maxRssMiB: number;
  filesSynced: number;
  bytesMoved: number;
}

async function worker(job: WorkerJob): Promise<void> {
  const { readFileSync } = await import('node:fs');
  const { Store } = await import('../src/runtime/store/store.ts');
  const { SyncStateMachine } = await import('../src/runtime/sync/state.ts');
  const { SftpDestination, SftpSource } = await import('../src/runtime/sync/sftp.ts');
  const { runSync } = await import('../src/runtime/sync/pipeline.ts');
  const { maskToken } = await import('../src/runtime/sync/transform.ts');
  const store = await Store.open(job.dbFile);
  const connection = {
    host: job.host,
    port: job.port,
    username: job.username,
    privateKey: readFileSync(job.privateKeyFile),
    hostKey: { knownHostsFile: job.knownHostsFile },
  };
  const t = performance.now();
  const summary = await runSync({
    pipelineId: 'bench',
    source: new SftpSource({ connection, root: job.srcRoot }),
    destination: new SftpDestination({ connection, root: job.dstRoot }),
    state: new SyncStateMachine(store.sync),
    chunkSize: job.chunkSize,
    concurrency: job.concurrency,
    transformers: job.transform === 'mask' ? [maskToken('password')] : [],
  });
  const ms = performance.now() - t;
  if (summary.filesFailed > 0) throw new Error(`bench run failed: ${JSON.stringify(summary.failures.slice(0, 3))}`);
  const result: WorkerResult = {
    ms,
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
    filesSynced: summary.filesSynced,
    bytesMoved: summary.bytesMoved,
  };
  process.stdout.write(JSON.stringify(result) + '\n');
  await store.close();
}

const HANGAR = 'hangar sync (sftp→sftp)';
const OPENSSH = 'openssh sftp get+put (floor)';
const RCLONE_FAST = 'rclone sync --sftp-disable-hashcheck';

function envInt(name: string, dflt: number): number {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got "${v}"`);
  return n;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * The runtime ships as an esbuild bundle (packages external), so the worker
 * runs as one too: type stripping alone costs ~38 MiB of RSS.
 */
async function bundleWorker(): Promise<string> {
  const esbuild = await import('esbuild');
  const outfile = join(dirname(here), '..', 'node_modules', '.cache', 'hangar-bench', 'sync-bench.mjs');
  await esbuild.build({
    entryPoints: [here],
    outfile,
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    packages: 'external',
    logLevel: 'warning',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
  return outfile;
}

async function runChild(script: string, job: WorkerJob, exposeGc: boolean): Promise<WorkerResult> {
  return await new Promise((resolve, reject) => {
    // The flags a task's worker process runs with (src/runtime/executor/isolated.ts), less --expose-gc when asked.
    const flags = workerExecArgv().filter((f) => exposeGc || f !== '--expose-gc');
    const args = [...flags, script, '--worker', JSON.stringify(job)];
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('close', (code) => {
      if (code !== 0) reject(new Error(`worker exited with ${code}`));
      else resolve(JSON.parse(out.trim().split('\n').pop()!) as WorkerResult);
    });
  });
}

async function timed(cmd: string, args: string[], env?: NodeJS.ProcessEnv): Promise<number> {
  const t = performance.now();
  await execFileP(cmd, args, { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
  return performance.now() - t;
}

async function main(): Promise<void> {
  const { startSshd } = await import('../test/helpers/sshd.ts');
  const bigMiB = envInt('HANGAR_SYNC_BENCH_BIG_MIB', 1024);
  const files = envInt('HANGAR_SYNC_BENCH_FILES', 10_000);
  const fileKiB = envInt('HANGAR_SYNC_BENCH_FILE_KIB', 4);
  const runs = envInt('HANGAR_SYNC_BENCH_RUNS', 3);
  const chunkSize = envInt('HANGAR_SYNC_BENCH_CHUNK_KIB', 256) * 1024;
  const concurrency = envInt('HANGAR_SYNC_BENCH_CONCURRENCY', 8);

  const server = await startSshd();
  const dir = await mkdtemp(join(tmpdir(), 'hangar-sync-bench-'));
  try {
    const bigSrc = join(dir, 'big-src');
    const treeSrc = join(dir, 'tree-src');
    const local = join(dir, 'local');
    await mkdir(bigSrc);
    await mkdir(treeSrc);
    await mkdir(local);
    process.stderr.write(`generating ${bigMiB} MiB file and ${files} files of ${fileKiB} KiB...\n`);
    await new Promise<void>((resolve, reject) => {
      const ws = createWriteStream(join(bigSrc, 'big.bin'));
      const block = Buffer.alloc(1024 * 1024);
      let i = 0;
      const write = (): void => {
        while (i < bigMiB) {
          randomFillSync(block);
          i++;
          if (!ws.write(Buffer.from(block))) {
            ws.once('drain', write);
            return;
          }
        }
        ws.end();
      };
      ws.on('finish', resolve);
      ws.on('error', reject);
      write();
    });
    const perDir = 100;
    for (let d = 0; d * perDir < files; d++) {
      const sub = join(treeSrc, `d${String(d).padStart(3, '0')}`);
      await mkdir(sub);
      const n = Math.min(perDir, files - d * perDir);
      await Promise.all(
        Array.from({ length: n }, (_, k) => writeFile(join(sub, `f${String(k).padStart(3, '0')}.dat`), randomFillSync(Buffer.alloc(fileKiB * 1024)))),
      );
    }

    const sftpArgs = [
      '-q',
      '-i', server.privateKeyFile,
      '-o', `UserKnownHostsFile=${server.knownHostsFile}`,
      '-o', 'StrictHostKeyChecking=yes',
      '-o', 'BatchMode=yes',
      '-P', String(server.port),
    ];
    const target = `${server.username}@${server.host}`;
    const sftpBatch = async (lines: string[]): Promise<number> => {
      const batch = join(dir, 'batch.txt');
      await writeFile(batch, lines.join('\n') + '\n');
      return await timed('sftp', [...sftpArgs, '-b', batch, target]);
    };
    const rcloneConf = join(dir, 'rclone.conf');
    await writeFile(rcloneConf, '');
    const rcloneEnv: NodeJS.ProcessEnv = {};
    for (const name of ['SRC', 'DST']) {
      Object.assign(rcloneEnv, {
        [`RCLONE_CONFIG_${name}_TYPE`]: 'sftp',
        [`RCLONE_CONFIG_${name}_HOST`]: server.host,
        [`RCLONE_CONFIG_${name}_PORT`]: String(server.port),
        [`RCLONE_CONFIG_${name}_USER`]: server.username,
        [`RCLONE_CONFIG_${name}_KEY_FILE`]: server.privateKeyFile,
        [`RCLONE_CONFIG_${name}_KNOWN_HOSTS_FILE`]: server.knownHostsFile,
      });
    }
    const rclone = (src: string, dst: string, extra: string[]): Promise<number> =>
      timed('rclone', ['sync', `SRC:${src}`, `DST:${dst}`, '--config', rcloneConf, ...extra], rcloneEnv);
    const workerScript = await bundleWorker();

    type Row = { case: string; tool: string; runs: number[]; rss?: number[] };
    const rows: Row[] = [];
    const row = (c: string, tool: string): Row => {
      const r: Row = { case: c, tool, runs: [] };
      rows.push(r);
      return r;
    };

    const cases = [
      { name: `big: 1 file of ${bigMiB} MiB`, src: bigSrc, bytes: bigMiB * 1024 * 1024, tree: false },
      { name: `tree: ${files} files of ${fileKiB} KiB`, src: treeSrc, bytes: files * fileKiB * 1024, tree: true },
    ];
    for (const c of cases) {
      const variants: [Row, 'none' | 'mask', boolean][] = [[row(c.name, HANGAR), 'none', true]];
      if (!c.tree) {
        variants.push([row(c.name, 'hangar sync, without --expose-gc'), 'none', false]);
        variants.push([row(c.name, 'hangar sync + maskToken transform'), 'mask', true]);
      }
      for (const [r] of variants) r.rss = [];
      const get = row(c.name, 'openssh sftp get');
      const put = row(c.name, 'openssh sftp put');
      const getPut = row(c.name, OPENSSH);
      const rcDefault = c.tree && files > 2000 ? null : row(c.name, 'rclone sync (defaults: md5sum check)');
      const rcFast = row(c.name, RCLONE_FAST);
      for (let i = 0; i < runs; i++) {
        process.stderr.write(`${c.name}: run ${i + 1}/${runs}\n`);
        for (const [r, transform, exposeGc] of variants) {
          const dst = join(dir, 'dst-hangar');
          await rm(dst, { recursive: true, force: true });
          await mkdir(dst);
          const dbFile = join(dir, `bench-${Date.now()}.sqlite`);
          const res = await runChild(workerScript, {
            host: server.host,
            port: server.port,
            username: server.username,
            privateKeyFile: server.privateKeyFile,
            knownHostsFile: server.knownHostsFile,
            srcRoot: c.src,
            dstRoot: dst,
            dbFile,
            chunkSize,
            concurrency,
            transform,
          }, exposeGc);
          if (res.filesSynced !== (c.tree ? files : 1)) throw new Error(`hangar synced ${res.filesSynced} files`);
          r.runs.push(res.ms);
          r.rss!.push(res.maxRssMiB);
          await rm(dbFile, { force: true });
        }
        await rm(join(dir, 'dst-sftp'), { recursive: true, force: true });
        await mkdir(join(dir, 'dst-sftp'));
        await rm(local, { recursive: true, force: true });
        await mkdir(local);
        const base = c.tree ? '' : '/big.bin';
        const g = await sftpBatch([`get -r ${c.src}${base} ${local}/`]);
        const localPath = c.tree ? join(local, 'tree-src') : join(local, 'big.bin');
        const p = await sftpBatch([`put -r ${localPath} ${join(dir, 'dst-sftp')}/`]);
        get.runs.push(g);
        put.runs.push(p);
        getPut.runs.push(g + p);
        for (const [r, extra] of [[rcDefault, []], [rcFast, ['--sftp-disable-hashcheck']]] as [Row | null, string[]][]) {
          if (r === null) continue;
          await rm(join(dir, 'dst-rclone'), { recursive: true, force: true });
          await mkdir(join(dir, 'dst-rclone'));
          r.runs.push(await rclone(c.src, join(dir, 'dst-rclone'), extra));
        }
      }
    }

    const out = rows.map((r) => {
      const c = cases.find((x) => x.name === r.case)!;
      const ms = median(r.runs);
      return {
        case: r.case,
        tool: r.tool,
        medianSeconds: +(ms / 1000).toFixed(3),
        mbPerSecond: +(c.bytes / 1e6 / (ms / 1000)).toFixed(1),
        ...(c.tree ? { filesPerSecond: Math.round(files / (ms / 1000)) } : {}),
        ...(r.rss ? { peakRssMiB: +Math.max(...r.rss).toFixed(1) } : {}),
        runsSeconds: r.runs.map((x) => +(x / 1000).toFixed(3)),
      };
    });
    const m = (c: string, tool: string): number => median(rows.find((r) => r.case === c && r.tool === tool)!.runs);
    const big = cases[0]!.name;
    const tree = cases[1]!.name;
    const ratios = {
      bigThroughputVsOpenSshGetPut: +(m(big, OPENSSH) / m(big, HANGAR)).toFixed(2),
      bigThroughputVsSlowerOpenSshLeg: +(Math.max(m(big, 'openssh sftp get'), m(big, 'openssh sftp put')) / m(big, HANGAR)).toFixed(2),
      bigThroughputVsRcloneNoHashcheck: +(m(big, RCLONE_FAST) / m(big, HANGAR)).toFixed(2),
      bigMaskThroughputVsOpenSshGetPut: +(m(big, OPENSSH) / m(big, 'hangar sync + maskToken transform')).toFixed(2),
      treeSpeedVsRcloneNoHashcheck: +(m(tree, RCLONE_FAST) / m(tree, HANGAR)).toFixed(2),
      treeSpeedVsOpenSshGetPut: +(m(tree, OPENSSH) / m(tree, HANGAR)).toFixed(2),
    };
    const peak = Math.max(...rows.find((r) => r.case === big && r.tool === HANGAR)!.rss!);
    const targets = {
      bigAtLeast07OfOpenSsh: ratios.bigThroughputVsOpenSshGetPut >= 0.7,
      bigPeakRssUnder150MiB: peak < 150,
      treeNoSlowerThanRclone: ratios.treeSpeedVsRcloneNoHashcheck >= 1,
    };

    const header = ['case', 'tool', 'median s', 'MB/s', 'files/s', 'peak RSS MiB'];
    const table = out.map((o) => [
      o.case,
      o.tool,
      o.medianSeconds.toFixed(2),
      o.mbPerSecond.toFixed(1),
      'filesPerSecond' in o ? String(o.filesPerSecond) : '',
      'peakRssMiB' in o ? String(o.peakRssMiB) : '',
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
    const line = (cells: string[]): string => '| ' + cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ') + ' |';
    console.log(line(header));
    console.log('|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|');
    for (const r of table) console.log(line(r));
    console.log('');
    console.log('ratios (>1 means Hangar is faster):', JSON.stringify(ratios));
    console.log('targets:', JSON.stringify(targets));
    console.log(
      JSON.stringify({ bench: 'sync', runs, chunkSize, concurrency, bigMiB, files, fileKiB, results: out, ratios, targets }, null, 2),
    );
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--worker') {
  await worker(JSON.parse(process.argv[3]!) as WorkerJob);
} else {
  await main();
}
