/**
 * XCom backend benchmark (`hangar bench xcom`): sizes × the seed's data types ×
 * every backend; serialize/deserialize medians, stored size and ratio, and each
 * backend's round-trip throughput as a ratio of a floor measured in the same run
 * on the same bytes (raw JSON + zlib, JSON + AES-GCM, JSON + fs write/read).
 *
 *   npx node bench/xcom.bench.ts            # full run, table + JSON in $HANGAR_BENCH_OUT (default: tmpdir/hangar-xcom-bench.json)
 *   HANGAR_BENCH_QUICK=1 npx node bench/xcom.bench.ts
 *   npx node bench/xcom.bench.ts --quick --json
 *   npx node bench/xcom.bench.ts --sizes=1048576,4194304,16777216 --backends=compressed,encrypted,file --no-memory
 */
import { Buffer } from 'node:buffer';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { fork } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile, open } from 'node:fs/promises';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { createXComBackend, Keyring, BACKEND_NAMES } from '../src/runtime/xcom/index.ts';
import type { HangarXComBackend, XComLocation } from '../src/runtime/xcom/index.ts';
import { workerExecArgv } from '../src/runtime/executor/isolated.ts';

export const DATA_TYPES = ['small', 'medium', 'large', 'repetitive', 'sensitive', 'random'] as const;
export type DataType = (typeof DATA_TYPES)[number];

export interface XComBenchOptions {
  /** Fewer sizes and repetitions (also HANGAR_BENCH_QUICK=1). */
  readonly quick?: boolean;
  /** Serialized sizes in bytes (default 100 B … 16 MiB). */
  readonly sizes?: readonly number[];
  readonly dataTypes?: readonly DataType[];
  readonly backends?: readonly string[];
  /** Repetitions per cell, backend and floor alternating; medians are reported (default: at least 9, 7 at ≥ 4 MiB, more for fast cells up to 41 so each cell takes ~250 ms; quick 3). */
  readonly repeat?: number;
  /** Run the 100 MiB file-backend memory check in a child process (default true unless quick). */
  readonly memoryCheck?: boolean;
  /** Compression algorithm of the compressed and hybrid backends (default gzip). */
  readonly algorithm?: 'gzip' | 'zstd' | 'brotli';
  /** Stops the run between cells (checked before each backend × data type × size); the run rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

export interface XComBenchRow {
  readonly backend: string;
  readonly dataType: DataType;
  readonly size: number;
  readonly chain: readonly string[];
  readonly serializeMs: number;
  readonly deserializeMs: number;
  readonly storedBytes: number;
  /** storedBytes / serialized size. */
  readonly ratio: number;
  readonly floor: { readonly name: string; readonly serializeMs: number; readonly deserializeMs: number };
  /** Backend round-trip throughput ÷ floor round-trip throughput (1 = as fast as the floor). */
  readonly vsFloor: number;
}

export interface XComBenchResults {
  readonly meta: { readonly node: string; readonly cpus: number; readonly quick: boolean; readonly date: string; readonly algorithm: string };
  readonly rows: readonly XComBenchRow[];
  readonly targets: readonly { readonly name: string; readonly target: number; readonly worst: number | null; readonly ok: boolean }[];
  readonly memory?: {
    readonly valueBytes: number;
    readonly baselineRss: number;
    readonly peakRss: number;
    readonly peakOverValue: number;
    readonly ok: boolean;
    readonly kind: string;
    readonly phases: { readonly push: PhaseResult; readonly pull: PhaseResult };
  }[];
}

export type XComBenchProgress = (done: number, total: number, label: string) => void;

type MemoryKind = 'bytes' | 'string' | 'structured';

const KiB = 1024;
const MiB = 1024 * 1024;
const FULL_SIZES = [100, KiB, 10 * KiB, 100 * KiB, MiB, 4 * MiB, 16 * MiB];
const QUICK_SIZES = [100, 10 * KiB, MiB];
/** Time aimed at per cell (floor and backend together) when choosing its repetitions, and their cap. */
const CELL_BUDGET_MS = 250;
const MAX_REPS = 41;

/** A value of the given type whose serialized JSON is about `size` bytes. */
export function makeData(type: DataType, size: number): unknown {
  switch (type) {
    case 'small':
      return { env: 'dev', retries: 3, debug: false, owner: 'data-eng', tags: ['x'.repeat(Math.max(0, size - 70))] };
    case 'medium':
    case 'large': {
      const rows: unknown[] = [];
      let n = 2;
      for (let i = 0; n < size; i++) {
        const r = {
          symbol: `STOCK_${String(i % 10000).padStart(4, '0')}`,
          price: Math.round(Math.random() * 99000 + 1000) / 100,
          volume: Math.floor(Math.random() * 100000),
          timestamp: new Date(1705312800000 + i * 997).toISOString(),
          metadata: { exchange: i % 2 ? 'NYSE' : 'NASDAQ', sector: ['tech', 'energy', 'health'][i % 3] },
        };
        n += JSON.stringify(r).length + 1;
        rows.push(r);
      }
      return type === 'medium' ? { records: rows, count: rows.length } : rows;
    }
    case 'repetitive':
      return { data: 'the quick brown fox '.repeat(Math.max(1, Math.ceil((size - 12) / 20))).slice(0, Math.max(1, size - 12)) };
    case 'sensitive':
      return { username: 'svc_etl', password: 'hunter2', api_key: 'AKIA' + randomBytes(8).toString('hex'), token: randomBytes(Math.max(8, Math.floor((size - 80) / 2))).toString('hex') };
    case 'random':
      return randomBytes(size);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const ms = (t0: bigint) => Number(process.hrtime.bigint() - t0) / 1e6;

const gzipP = promisify(zlib.gzip);
const gunzipP = promisify(zlib.gunzip);
const zz = zlib as unknown as Record<string, (...a: unknown[]) => void>;
const zstdP = zz.zstdCompress ? (promisify(zz.zstdCompress) as (b: Buffer) => Promise<Buffer>) : undefined;
const unzstdP = zz.zstdDecompress ? (promisify(zz.zstdDecompress) as (b: Buffer) => Promise<Buffer>) : undefined;
const brotliP = promisify(zlib.brotliCompress);
const unbrotliP = promisify(zlib.brotliDecompress);

type Floor = 'json' | 'compress' | 'aes' | 'fs';
const FLOOR_OF: Record<string, Floor> = { database: 'json', file: 'fs', compressed: 'compress', encrypted: 'aes', hybrid: 'compress', s3: 'fs' };

const ser = (v: unknown): Buffer => (Buffer.isBuffer(v) ? v : Buffer.from(JSON.stringify(v), 'utf8'));
const de = (b: Buffer, like: unknown): unknown => (Buffer.isBuffer(like) ? b : JSON.parse(b.toString('utf8')));

async function floorOnce(kind: Floor, v: unknown, dir: string, key: Buffer, alg: string): Promise<[number, number]> {
  let t = process.hrtime.bigint();
  const b = ser(v);
  let stored: Buffer = b;
  if (kind === 'compress') {
    stored = alg === 'zstd' ? await zstdP!(b) : alg === 'brotli' ? await brotliP(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } }) : await gzipP(b, { level: 6 });
    if (stored.byteLength >= b.byteLength) stored = b;
  } else if (kind === 'aes') {
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', key, iv);
    stored = Buffer.concat([c.update(b), c.final(), c.getAuthTag(), iv]);
  } else if (kind === 'fs') {
    const fh = await open(join(dir, 'floor.bin'), 'w');
    await fh.writeFile(b);
    await fh.sync();
    await fh.close();
  }
  const s = ms(t);
  t = process.hrtime.bigint();
  let back: Buffer = stored;
  if (kind === 'compress' && stored !== b) back = alg === 'zstd' ? await unzstdP!(stored) : alg === 'brotli' ? await unbrotliP(stored) : await gunzipP(stored);
  else if (kind === 'aes') {
    const n = stored.byteLength;
    const d = createDecipheriv('aes-256-gcm', key, stored.subarray(n - 12));
    d.setAuthTag(stored.subarray(n - 28, n - 12));
    back = Buffer.concat([d.update(stored.subarray(0, n - 28)), d.final()]);
  } else if (kind === 'fs') back = await readFile(join(dir, 'floor.bin'));
  de(back, v);
  return [s, ms(t)];
}

/** Runs the benchmark; onProgress is called after every cell. */
export async function runXComBench(options: XComBenchOptions = {}, onProgress?: XComBenchProgress): Promise<XComBenchResults> {
  const quick = options.quick ?? process.env.HANGAR_BENCH_QUICK === '1';
  const sizes = options.sizes ?? (quick ? QUICK_SIZES : FULL_SIZES);
  const types = options.dataTypes ?? DATA_TYPES;
  const names = options.backends ?? BACKEND_NAMES;
  const alg = options.algorithm ?? 'gzip';
  const root = mkdtempSync(join(tmpdir(), 'hangar-xcom-bench-'));
  const key = randomBytes(32);
  const keyring = new Keyring([{ id: 'bench', key }]);
  const backends = new Map<string, HangarXComBackend>();
  for (const n of names) {
    backends.set(
      n,
      createXComBackend(
        { backend: n, compression: { algorithm: alg }, objectStore: { url: 'file://' + join(root, 'bucket') } },
        { workspaceRoot: root, xcomRoot: join(root, 'xcom'), keyring, env: {} },
      ),
    );
  }
  const rows: XComBenchRow[] = [];
  const cells: [DataType, number][] = [];
  for (const size of sizes) for (const t of types) if (t !== 'small' || size <= KiB) cells.push([t, size]);
  const total = cells.length * names.length;
  let done = 0;
  try {
    for (const [type, size] of cells) {
      const value = makeData(type, size);
      const baseReps = options.repeat ?? (quick ? 3 : size >= 4 * MiB ? 7 : 9);
      for (const name of names) {
        options.signal?.throwIfAborted();
        const b = backends.get(name)!;
        const fk = FLOOR_OF[name] ?? 'json';
        const loc: XComLocation = { dagId: 'bench', runId: 'r', taskId: type, mapIndex: -1, key: `v${size}` };
        const opts = name === 'encrypted' ? { sensitive: true } : {};
        const s: number[] = [];
        const d: number[] = [];
        const fsr: number[] = [];
        const fdr: number[] = [];
        const warm = process.hrtime.bigint();
        await floorOnce(fk, value, root, key, alg); // warm-up
        let last = await b.serialize(loc, value, opts);
        await b.deserialize(loc, last.data);
        await b.purge(loc, last.data);
        // Cells of a few milliseconds get more repetitions (up to MAX_REPS, about CELL_BUDGET_MS in all): with
        // 9, one busy moment on a shared machine moved a 1 MiB cell's median by 20%.
        const reps = options.repeat !== undefined || quick ? baseReps : Math.min(MAX_REPS, Math.max(baseReps, Math.ceil(CELL_BUDGET_MS / Math.max(0.01, ms(warm)))));
        // Backend and floor alternate, so both see the same machine state (other load, CPU frequency, GC).
        for (let r = 0; r < reps; r++) {
          const [fa, fb] = await floorOnce(fk, value, root, key, alg);
          fsr.push(fa);
          fdr.push(fb);
          let t = process.hrtime.bigint();
          last = await b.serialize(loc, value, opts);
          s.push(ms(t));
          t = process.hrtime.bigint();
          await b.deserialize(loc, last.data);
          d.push(ms(t));
          if (r < reps - 1) await b.purge(loc, last.data);
        }
        const floors = new Map<Floor, [number, number]>([[fk, [median(fsr), median(fdr)]]]);
        await b.purge(loc, last.data);
        const [fs, fd] = floors.get(fk)!;
        const row: XComBenchRow = {
          backend: name,
          dataType: type,
          size: last.sizeOriginal,
          chain: last.chain,
          serializeMs: round(median(s)),
          deserializeMs: round(median(d)),
          storedBytes: last.sizeStored,
          ratio: round(last.sizeStored / Math.max(1, last.sizeOriginal), 4),
          floor: { name: fk === 'compress' ? `json+${alg}` : fk === 'aes' ? 'json+aes-256-gcm' : fk === 'fs' ? 'json+fs write/fsync/read' : 'json', serializeMs: round(fs), deserializeMs: round(fd) },
          vsFloor: round((fs + fd) / (median(s) + median(d)), 3),
        };
        rows.push(row);
        onProgress?.(++done, total, `${name} ${type} ${fmtSize(size)}`);
      }
    }
  } finally {
    for (const b of backends.values()) b.close();
    rmSync(root, { recursive: true, force: true });
  }
  const big = rows.filter((r) => r.size >= MiB);
  const worst = (backend: string, filter: (r: XComBenchRow) => boolean = () => true) => {
    const xs = big.filter((r) => r.backend === backend && filter(r)).map((r) => r.vsFloor);
    return xs.length ? Math.min(...xs) : null;
  };
  const targets = [
    { name: `compressed ≥ 0.8 of raw ${alg} (≥ 1 MiB)`, target: 0.8, worst: worst('compressed') },
    { name: 'encrypted ≥ 0.8 of raw AES-GCM + serialization (≥ 1 MiB)', target: 0.8, worst: worst('encrypted') },
    { name: 'file write+read ≥ 0.5 of serialization + fs write/read (≥ 1 MiB)', target: 0.5, worst: worst('file') },
  ].map((t) => ({ ...t, ok: t.worst === null || t.worst >= t.target }));
  options.signal?.throwIfAborted();
  const memory = (options.memoryCheck ?? !quick) ? [await memoryCheck('bytes'), await memoryCheck('string'), await memoryCheck('structured')] : undefined;
  return {
    meta: { node: process.version, cpus: cpus().length, quick, date: new Date().toISOString(), algorithm: alg },
    rows,
    targets,
    ...(memory ? { memory } : {}),
  };
}

function round(x: number, d = 3): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

function fmtSize(n: number): string {
  return n >= MiB ? `${+(n / MiB).toFixed(1)} MiB` : n >= KiB ? `${+(n / KiB).toFixed(1)} KiB` : `${n} B`;
}

/**
 * A 100 MiB value through the file backend, as tasks use it: pushed in one process
 * (the value alive, serialized and written), pulled in another (read and decoded,
 * the result alive). Each phase's peak is the process's maximum resident set size
 * during the phase (sampled every millisecond and at its end), node itself and the value included.
 */
async function memoryCheck(kind: MemoryKind): Promise<NonNullable<XComBenchResults['memory']>[number]> {
  const dir = mkdtempSync(join(tmpdir(), 'hangar-xcom-mem-'));
  try {
    const push = await memoryPhase(`push:${kind}:${dir}`);
    const pull = await memoryPhase(`pull:${kind}:${dir}`);
    const peakRss = Math.max(push.peakRss, pull.peakRss);
    return {
      kind,
      valueBytes: push.valueBytes,
      baselineRss: push.baselineRss,
      peakRss,
      peakOverValue: round(peakRss / push.valueBytes, 2),
      ok: peakRss < 3 * push.valueBytes,
      phases: { push, pull },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

interface PhaseResult {
  readonly valueBytes: number;
  readonly baselineRss: number;
  readonly peakRss: number;
  readonly peakOverValue: number;
  readonly ms: number;
  /** Heap growth of building the value (push) or of the decoded result (pull). */
  readonly valueHeapBytes: number;
}

function memoryPhase(spec: string): Promise<PhaseResult> {
  const self = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    // The child is chosen by an environment variable, so this works from the bundled CLI too (self is then the bundle).
    const child = fork(self, [], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // As a worker process runs a task (the same V8 flags).
      execArgv: workerExecArgv(),
      env: { ...process.env, HANGAR_XCOM_MEMORY_CHILD: spec },
    });
    let answered = false;
    child.once('message', (m) => {
      answered = true;
      resolve(m as PhaseResult);
    });
    child.once('error', reject);
    child.once('exit', (code) => !answered && reject(new Error(`memory check (${spec.split(':').slice(0, 2).join(' ')}) exited with ${code} without a result`)));
  });
}

function memoryValue(kind: MemoryKind, size: number): unknown {
  if (kind === 'bytes') return randomBytes(size);
  if (kind === 'string') {
    const v = 'x'.repeat(size - 2);
    v.indexOf('y'); // flattens it: a plain 100 MiB string, as a task would hold
    return v;
  }
  // Records of about 150 bytes of JSON each, built without temporary strings.
  const one = JSON.stringify({ symbol: 'STOCK_0000', price: 123.45, volume: 12345, timestamp: '2024-01-15T10:00:00.000Z', metadata: { exchange: 'NYSE', sector: 'tech' } }).length + 1;
  const sectors = ['tech', 'energy', 'health'];
  return Array.from({ length: Math.floor(size / one) }, (_, i) => ({
    symbol: `STOCK_${String(i % 10000).padStart(4, '0')}`,
    price: 100 + (i % 9000) / 100,
    volume: 10000 + (i % 89999),
    timestamp: new Date(1705312800000 + i * 1000).toISOString(),
    metadata: { exchange: i % 2 ? 'NYSE' : 'NASDAQ', sector: sectors[i % 3]! },
  }));
}

async function memoryChild(spec: string): Promise<void> {
  const [phase, kind, ...rest] = spec.split(':');
  const dir = rest.join(':');
  const size = 100 * MiB;
  const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
  const b = createXComBackend({ backend: 'file' }, { workspaceRoot: dir, xcomRoot: join(dir, 'xcom'), env: {} });
  const loc: XComLocation = { dagId: 'mem', runId: 'r', taskId: 't', mapIndex: -1, key: 'big' };
  // Peak resident set size during the phase, sampled (every await lets the sampler run) and at its end.
  let peak = 0;
  const sample = () => (peak = Math.max(peak, process.memoryUsage().rss));
  let timer: NodeJS.Timeout | undefined;
  const startSampling = () => {
    peak = process.memoryUsage().rss;
    timer = setInterval(sample, 1);
  };
  const maxRss = () => {
    clearInterval(timer);
    return sample();
  };
  gc();
  const heap0 = process.memoryUsage().heapUsed + process.memoryUsage().external;
  if (phase === 'push') {
    const value = memoryValue(kind as MemoryKind, size);
    gc();
    gc();
    const heap1 = process.memoryUsage().heapUsed + process.memoryUsage().external;
    const baselineRss = process.memoryUsage().rss;
    startSampling();
    const t = process.hrtime.bigint();
    const stored = await b.serialize(loc, value);
    const elapsed = ms(t);
    const peakRss = maxRss();
    writeFileSync(join(dir, 'envelope.bin'), stored.data);
    writeFileSync(join(dir, 'meta.json'), JSON.stringify({ kind, length: (value as { length: number }).length }));
    process.send!({ valueBytes: stored.sizeOriginal, baselineRss, peakRss, peakOverValue: round(peakRss / stored.sizeOriginal, 2), ms: round(elapsed, 1), valueHeapBytes: heap1 - heap0 } satisfies PhaseResult);
  } else {
    const data = await readFile(join(dir, 'envelope.bin'));
    const meta = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8')) as { length: number };
    gc();
    const baselineRss = process.memoryUsage().rss;
    startSampling();
    const t = process.hrtime.bigint();
    const back = await b.deserialize(loc, data);
    const elapsed = ms(t);
    const peakRss = maxRss();
    if ((back as { length: number }).length !== meta.length) throw new Error('memory check: the value changed');
    gc();
    const heap1 = process.memoryUsage().heapUsed + process.memoryUsage().external;
    const valueBytes = (JSON.parse((await readFile(join(dir, 'envelope.bin'))).toString('utf8', 8, 8 + data.readUInt32BE(4))) as { size_original: number }).size_original;
    process.send!({ valueBytes, baselineRss, peakRss, peakOverValue: round(peakRss / valueBytes, 2), ms: round(elapsed, 1), valueHeapBytes: heap1 - heap0 } satisfies PhaseResult);
  }
}

export function formatXComBenchTable(res: XComBenchResults): string {
  const lines: string[] = [];
  const pad = (s: string, n: number) => s.padEnd(n);
  lines.push(`${pad('size', 9)}${pad('type', 11)}${pad('backend', 11)}${pad('chain', 30)}${'ser ms'.padStart(9)}${'de ms'.padStart(9)}${'stored'.padStart(11)}${'ratio'.padStart(8)}  ${pad('floor', 26)}${'vs floor'.padStart(9)}`);
  for (const r of res.rows) {
    lines.push(
      `${pad(fmtSize(r.size), 9)}${pad(r.dataType, 11)}${pad(r.backend, 11)}${pad(r.chain.join('+'), 30)}${r.serializeMs.toFixed(2).padStart(9)}${r.deserializeMs.toFixed(2).padStart(9)}${fmtSize(r.storedBytes).padStart(11)}${r.ratio.toFixed(3).padStart(8)}  ${pad(r.floor.name, 26)}${r.vsFloor.toFixed(2).padStart(9)}`,
    );
  }
  lines.push('');
  for (const t of res.targets) lines.push(`${t.ok ? 'OK  ' : 'MISS'} ${t.name}: worst ${t.worst ?? 'n/a'}`);
  for (const m of res.memory ?? []) {
    const p = m.phases;
    lines.push(
      `${m.ok ? 'OK  ' : 'MISS'} 100 MiB ${m.kind} value through the file backend: peak RSS ${m.peakOverValue}× the serialized value ` +
        `(push ${fmtSize(p.push.peakRss)} = ${p.push.peakOverValue}×, value on the heap ${fmtSize(p.push.valueHeapBytes)}; ` +
        `pull ${fmtSize(p.pull.peakRss)} = ${p.pull.peakOverValue}×, result on the heap ${fmtSize(p.pull.valueHeapBytes)}; node's own baseline included)`,
    );
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick') || process.env.HANGAR_BENCH_QUICK === '1';
  const algArg = args.find((a) => a.startsWith('--algorithm='))?.split('=')[1] as XComBenchOptions['algorithm'];
  const list = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1]?.split(',');
  const sizes = list('sizes')?.map(Number);
  const repeat = list('repeat')?.map(Number)[0];
  const res = await runXComBench({ quick, algorithm: algArg, sizes, backends: list('backends'), repeat, memoryCheck: args.includes('--no-memory') ? false : undefined }, (d, t, l) => process.stderr.write(`\r[${d}/${t}] ${l}`.padEnd(60)));
  process.stderr.write('\n');
  if (args.includes('--json')) process.stdout.write(JSON.stringify(res, null, 2) + '\n');
  else {
    console.log(formatXComBenchTable(res));
    const out = process.env.HANGAR_BENCH_OUT ?? join(tmpdir(), 'hangar-xcom-bench.json');
    writeFileSync(out, JSON.stringify(res, null, 2));
    console.log(`\nJSON: ${out}`);
  }
}

const memoryChildKind = process.env.HANGAR_XCOM_MEMORY_CHILD;
if (memoryChildKind && process.send) {
  memoryChild(memoryChildKind).then(
    () => process.disconnect(),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
} else if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && /xcom\.bench\.ts$/.test(process.argv[1])) {
  // Run directly (not when bundled into the CLI, where import.meta.url is the bundle's).
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}


