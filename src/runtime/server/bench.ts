/**
 * The runtime side of the XCom benchmarks panel: `bench/xcom` runs the
 * benchmark of `hangar bench xcom` (bench/xcom.bench.ts, the same code and
 * measurements) in the runtime server, one run at a time, reporting every
 * measured cell as a `bench/progress` notification; `bench/cancel` stops it
 * between cells. It works in a temporary directory of its own and never touches
 * the workspace's store.
 *
 * The 100 MiB memory check of the full CLI run is left out: it forks the
 * process's own entry point, which here is the runtime server.
 */
import { runXComBench } from '../../../bench/xcom.bench.ts';
import type { DataType } from '../../../bench/xcom.bench.ts';
import { BACKEND_NAMES } from '../xcom/index.ts';
import { BENCH_ALGORITHMS, BENCH_CANCELLED, BENCH_DATA_TYPES, MAX_BENCH_SIZE, checkBenchResults } from '../../protocol/webviews/xcom-bench.ts';
import type { BenchProgress, BenchResults } from '../../protocol/webviews/xcom-bench.ts';
import { InvalidParamsError, oneOf, optBool, optInt } from './validate.ts';
import type { Params } from './validate.ts';

function subset(method: string, p: Params, name: string, allowed: readonly string[]): string[] | undefined {
  const v = p[name];
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length === 0 || v.some((x) => typeof x !== 'string' || !allowed.includes(x)) || new Set(v).size !== v.length) {
    throw new InvalidParamsError(`${method}: "${name}" must be a non-empty list of distinct values among ${allowed.join(', ')}`);
  }
  return v as string[];
}

function sizes(method: string, p: Params): number[] | undefined {
  const v = p.sizes;
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length === 0 || v.length > 16 || v.some((x) => typeof x !== 'number' || !Number.isInteger(x) || x < 16 || x > MAX_BENCH_SIZE)) {
    throw new InvalidParamsError(`${method}: "sizes" must be a list of 1 to 16 whole numbers of bytes from 16 to ${MAX_BENCH_SIZE}`);
  }
  return v as number[];
}

export class BenchService {
  private readonly notify: (method: string, params: unknown) => void;
  private running: AbortController | undefined;

  constructor(notify: (method: string, params: unknown) => void) {
    this.notify = notify;
  }

  get isRunning(): boolean {
    return this.running !== undefined;
  }

  /** `bench/xcom`: runs the benchmark; answers with the results once every cell is measured. */
  async xcom(method: string, p: Params): Promise<BenchResults> {
    const quick = optBool(method, p, 'quick') ?? false;
    const algorithm = p.algorithm === undefined ? 'gzip' : oneOf(method, p, 'algorithm', BENCH_ALGORITHMS);
    const backends = subset(method, p, 'backends', BACKEND_NAMES);
    const dataTypes = subset(method, p, 'dataTypes', BENCH_DATA_TYPES) as DataType[] | undefined;
    const repeat = optInt(method, p, 'repeat', 1, 50);
    const valueSizes = sizes(method, p);
    if (this.running) throw new Error(`${method}: a benchmark is already running; wait for it or cancel it`);
    const ctl = new AbortController();
    this.running = ctl;
    try {
      const res = await runXComBench(
        { quick, algorithm, backends, dataTypes, repeat, sizes: valueSizes, memoryCheck: false, signal: ctl.signal },
        (done, total, label) => this.notify('bench/progress', { done, total, label } satisfies BenchProgress),
      );
      // The runtime's result, checked as any reader checks it (and the target's backend named).
      return checkBenchResults(JSON.parse(JSON.stringify(res)) as unknown);
    } catch (err) {
      if (ctl.signal.aborted) throw new Error(BENCH_CANCELLED);
      throw err;
    } finally {
      this.running = undefined;
    }
  }

  /** `bench/cancel`: stops the run under way (between cells). */
  cancel(): { cancelled: boolean } {
    const ctl = this.running;
    if (!ctl) return { cancelled: false };
    ctl.abort(new Error(BENCH_CANCELLED));
    return { cancelled: true };
  }
}
