/**
 * The XCom benchmarks panel without a browser: its message validation (both
 * sides, and saved files), the chart data (scales, ticks, size classes, series,
 * bars, comparison), and `bench/xcom` through the runtime service with a tiny
 * configuration — progress notifications, the result's shape and values against
 * what was really measured, cancellation, one run at a time.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  BENCH_BACKENDS,
  BENCH_CANCELLED,
  BENCH_DATA_TYPES,
  SAVED_FILE_RE,
  checkResult,
  parseBenchResults,
  parseHostMessage,
  parseWebviewMessage,
  savedFileName,
  savedRunOf,
} from '../../src/protocol/webviews/xcom-bench.ts';
import type { BenchProgress, BenchResults, BenchRow } from '../../src/protocol/webviews/xcom-bench.ts';
import {
  MIN_MS,
  byteDomain,
  byteTicks,
  changes,
  classOf,
  formatBytes,
  formatChange,
  formatMs,
  formatMsTick,
  linearScale,
  logDomain,
  logScale,
  logTicks,
  matchRows,
  niceTicks,
  sizeClasses,
  storedGroups,
  throughputBars,
  timeSeries,
  verdict,
} from '../../webview/xcom-bench/charts.ts';
import { BACKEND_NAMES } from '../../src/runtime/xcom/index.ts';
import { DATA_TYPES } from '../../bench/xcom.bench.ts';
import { RuntimeService } from '../../src/runtime/server/service.ts';
import { InvalidParamsError } from '../../src/runtime/server/validate.ts';

function row(backend: string, dataType: string, size: number, over: Partial<BenchRow> = {}): BenchRow {
  return {
    backend,
    dataType,
    size,
    chain: ['json'],
    serializeMs: 1,
    deserializeMs: 1,
    storedBytes: size,
    ratio: 1,
    floor: { name: 'json', serializeMs: 1, deserializeMs: 1 },
    vsFloor: 1,
    ...over,
  };
}
function results(rows: BenchRow[], over: Partial<BenchResults> = {}): BenchResults {
  return {
    meta: { node: 'v24.0.0', cpus: 2, quick: true, date: '2025-01-02T03:04:05.000Z', algorithm: 'gzip' },
    rows,
    targets: [{ name: 'compressed ≥ 0.8 of raw gzip (≥ 1 MiB)', backend: 'compressed', target: 0.8, worst: 0.9, ok: true }],
    ...over,
  };
}

describe('XCom benchmarks messages', () => {
  test('the protocol names the runtime’s backends and the benchmark’s data types', () => {
    assert.deepEqual([...BENCH_BACKENDS], [...BACKEND_NAMES]);
    assert.deepEqual([...BENCH_DATA_TYPES], [...DATA_TYPES]);
  });

  test('the host accepts well-formed requests', () => {
    const ok = [
      { type: 'ready' },
      { type: 'request', id: 1, method: 'run', params: { quick: true, algorithm: 'gzip', backends: ['database', 'file'] } },
      { type: 'request', id: 2, method: 'cancel', params: {} },
      { type: 'request', id: 3, method: 'list', params: {} },
      { type: 'request', id: 4, method: 'load', params: { file: 'xcom-2025-01-02T03-04-05Z.json' } },
      { type: 'request', id: 5, method: 'save', params: { results: results([row('file', 'large', 1024)]), saveAs: false } },
    ];
    for (const m of ok) assert.equal(parseWebviewMessage(m).ok, true, JSON.stringify(m));
    const r = parseWebviewMessage({ type: 'request', id: 1, method: 'run', params: { quick: false, algorithm: 'zstd', backends: ['s3'], extra: 1 } });
    assert.deepEqual(r, { ok: true, value: { type: 'request', id: 1, method: 'run', params: { quick: false, algorithm: 'zstd', backends: ['s3'] } } });
  });

  test('the host rejects malformed messages with a reason', () => {
    const run = (params: unknown) => ({ type: 'request', id: 1, method: 'run', params });
    const bad: [unknown, RegExp][] = [
      [null, /must be an object/],
      [[], /must be an object/],
      [{ type: 'eval', code: '1' }, /unknown message type "eval"/],
      [{ type: 'request', id: 1.5, method: 'list', params: {} }, /whole-number id/],
      [{ type: 'request', id: 1, method: 'rm', params: {} }, /unknown method "rm"/],
      [run({ quick: 'yes', algorithm: 'gzip', backends: ['file'] }), /quick/],
      [run({ quick: true, algorithm: 'lz4', backends: ['file'] }), /algorithm/],
      [run({ quick: true, algorithm: 'gzip', backends: [] }), /non-empty/],
      [run({ quick: true, algorithm: 'gzip', backends: ['file', 'file'] }), /distinct/],
      [run({ quick: true, algorithm: 'gzip', backends: ['redis'] }), /among/],
      [{ type: 'request', id: 1, method: 'load', params: { file: '../../etc/passwd' } }, /not a path/],
      [{ type: 'request', id: 1, method: 'load', params: { file: 'xcom-a/b.json' } }, /not a path/],
      [{ type: 'request', id: 1, method: 'open', params: { file: 'notes.json' } }, /not a path/],
      [{ type: 'request', id: 1, method: 'cancel', params: { force: true } }, /params must be \{\}/],
      [{ type: 'request', id: 1, method: 'save', params: { results: results([]), saveAs: 'x' } }, /saveAs/],
      [{ type: 'request', id: 1, method: 'save', params: { results: { meta: {} }, saveAs: false } }, /meta needs/],
      [{ type: 'request', id: 1, method: 'save', params: { results: results([row('file', 'large', 0)]), saveAs: false } }, /size must be/],
      [{ type: 'request', id: 1, method: 'save', params: { results: results([row('file', 'large', 10, { serializeMs: -1 })]), saveAs: false } }, /serializeMs/],
      [{ type: 'request', id: 1, method: 'save', params: { results: results([row('file', 'large', 10, { vsFloor: Number.NaN })]), saveAs: false } }, /vsFloor/],
    ];
    for (const [m, re] of bad) {
      const r = parseWebviewMessage(m);
      assert.equal(r.ok, false, JSON.stringify(m));
      if (!r.ok) assert.match(r.error, re, JSON.stringify(m));
    }
  });

  test('the webview accepts host messages and rejects malformed ones and results', () => {
    const res = results([row('file', 'large', 2048)]);
    assert.deepEqual(parseHostMessage({ type: 'init', running: null, latest: null }), { ok: true, value: { type: 'init', running: null, latest: null } });
    assert.equal(parseHostMessage({ type: 'init', running: { done: 1, total: 4, label: 'x' }, latest: { seq: 1, results: res } }).ok, true);
    assert.equal(parseHostMessage({ type: 'progress', done: 3, total: 96, label: 'file large 1 MiB' }).ok, true);
    assert.equal(parseHostMessage({ type: 'runDone', seq: 2, results: res }).ok, true);
    assert.equal(parseHostMessage({ type: 'runFailed', error: 'x', cancelled: true }).ok, true);
    assert.equal(parseHostMessage({ type: 'progress', done: 5, total: 4, label: 'x' }).ok, false);
    assert.equal(parseHostMessage({ type: 'runDone', seq: 0, results: res }).ok, false);
    assert.equal(parseHostMessage({ type: 'runDone', seq: 1, results: { ...res, rows: 'many' } }).ok, false);
    assert.equal(parseHostMessage({ type: 'runFailed', error: 'x' }).ok, false);
    assert.equal(parseHostMessage({ type: 'html', html: '<script>' }).ok, false);
    assert.equal(parseHostMessage({ type: 'response', id: 1, ok: false }).ok, false);
    assert.deepEqual(checkResult('cancel', { cancelled: true }), { ok: true, value: { cancelled: true } });
    assert.equal(checkResult('list', { runs: [{ file: '../x.json', date: 'd', quick: true, algorithm: 'gzip', rows: 1, missed: 0 }] }).ok, false);
    assert.equal(checkResult('load', { results: { ...res, targets: [{ name: 'x', target: -1, worst: null, ok: true }] } }).ok, false);
    assert.equal(checkResult('run', {}).ok, false);
  });

  test('saved files: names, the CLI’s --json output (targets without a backend), files that are not results', () => {
    const name = savedFileName(new Date('2025-01-02T03:04:05.678Z'));
    assert.equal(name, 'xcom-2025-01-02T03-04-05Z.json');
    assert.match(name, SAVED_FILE_RE);
    const cli = { ...results([row('compressed', 'large', 1 << 20)]), targets: [{ name: 'file write+read ≥ 0.5 of serialization + fs write/read (≥ 1 MiB)', target: 0.5, worst: 0.4, ok: false }], memory: [{ kind: 'bytes' }] };
    const parsed = parseBenchResults(cli);
    assert.ok(parsed.ok);
    if (parsed.ok) {
      assert.equal(parsed.value.targets[0]!.backend, 'file');
      assert.equal('memory' in parsed.value, false, 'extra fields are dropped');
    }
    assert.deepEqual(savedRunOf(name, cli), { file: name, date: '2025-01-02T03:04:05.000Z', quick: true, algorithm: 'gzip', rows: 1, missed: 1 });
    assert.throws(() => savedRunOf(name, { hello: 'world' }), /meta must be an object/);
  });
});

describe('XCom benchmarks chart data', () => {
  test('formatting', () => {
    assert.equal(formatBytes(100), '100 B');
    assert.equal(formatBytes(10240), '10 KiB');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(16 * 1024 * 1024), '16 MiB');
    assert.equal(formatMs(0.0042), '4 µs');
    assert.equal(formatMs(1.234), '1.23 ms');
    assert.equal(formatMs(42.19), '42.2 ms');
    assert.equal(formatMs(2500), '2.50 s');
    assert.equal(formatMsTick(0.01), '10 µs');
    assert.equal(formatMsTick(1), '1 ms');
    assert.equal(formatMsTick(100), '100 ms');
    assert.equal(formatMsTick(2000), '2 s');
    assert.equal(formatChange(12, 10), '+20%');
    assert.equal(formatChange(7, 10), '−30%');
    assert.equal(formatChange(10.01, 10), '+0.1%');
    assert.equal(formatChange(10, 10), '±0%');
    assert.equal(formatChange(1, undefined), '—');
    assert.equal(verdict(-0.3), 'faster');
    assert.equal(verdict(0.1), 'same');
    assert.equal(verdict(0.5), 'slower');
  });

  test('scales and ticks', () => {
    const l = linearScale(0, 2, 100, 0);
    assert.equal(l(0), 100);
    assert.equal(l(1), 50);
    const g = logScale(1, 1000, 0, 300);
    assert.equal(g(1), 0);
    assert.ok(Math.abs(g(10) - 100) < 1e-9);
    assert.ok(Math.abs(g(1000) - 300) < 1e-9);
    assert.equal(g(0), 0, 'non-positive values sit at the low end');
    assert.deepEqual(logDomain(0.0042, 37), [0.001, 100]);
    assert.deepEqual(logDomain(5, 5), [1, 10]);
    assert.deepEqual(logTicks(0.001, 100), [0.001, 0.01, 0.1, 1, 10, 100]);
    assert.deepEqual(logTicks(1, 10), [1, 2, 5, 10]);
    assert.deepEqual(byteDomain(99, 1048686), [100, 1024 * 1024]);
    assert.deepEqual(byteDomain(50, 2 * 1024 * 1024), [10, 10 * 1024 * 1024]);
    assert.deepEqual(byteTicks(100, 1024 * 1024), [100, 1024, 10240, 102400, 1024 * 1024]);
    assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
    assert.deepEqual(niceTicks(0, 2.3), [0, 0.5, 1, 1.5, 2, 2.5]);
    assert.deepEqual(niceTicks(0, 0), [0]);
  });

  test('size classes group the sizes measured for one requested size', () => {
    // Serialized sizes of the quick run (they vary by data type around 100 B, 10 KiB and 1 MiB).
    const sizes = [100, 165, 143, 99, 107, 10396, 10370, 10239, 10247, 10240, 1048686, 1048632, 1048575, 1048583, 1048576];
    const classes = sizeClasses(sizes);
    assert.deepEqual(
      classes.map((c) => [c.label, c.nominal, c.min, c.max]),
      [
        ['100 B', 100, 99, 165],
        ['10 KiB', 10240, 10239, 10396],
        ['1 MiB', 1048576, 1048575, 1048686],
      ],
    );
    assert.equal(classOf(classes, 143)!.label, '100 B');
    assert.equal(classOf(classes, 5000), undefined);
    assert.deepEqual(sizeClasses([3000, 4 * 1024 * 1024]).map((c) => c.label), ['2.93 KiB', '4 MiB']);
  });

  test('series and bars of the three charts', () => {
    const r = results([
      row('database', 'medium', 1_048_686, { serializeMs: 5, deserializeMs: 4, vsFloor: 0.9 }),
      row('database', 'medium', 165, { serializeMs: 0, deserializeMs: 0.01 }),
      row('compressed', 'medium', 1_048_600, { serializeMs: 18, deserializeMs: 6, storedBytes: 131_000, ratio: 0.125, vsFloor: 0.92 }),
      row('compressed', 'random', 1_048_576, { chain: ['bytes'], serializeMs: 0.9, vsFloor: 40.2 }),
      row('compressed', 'medium', 170, { serializeMs: 0.05 }),
    ]);
    const ser = timeSeries(r, 'medium', 'serialize');
    assert.deepEqual(ser.map((s) => s.backend), ['database', 'compressed']);
    assert.deepEqual(ser[0]!.points.map((p) => [p.x, p.y]), [[165, MIN_MS], [1_048_686, 5]], 'ordered by size; a 0 ms median drawn at the axis floor');
    assert.deepEqual(timeSeries(r, 'medium', 'deserialize')[1]!.points.map((p) => p.y), [1, 6]);
    const mib = sizeClasses(r.rows.map((x) => x.size)).at(-1)!;
    const stored = storedGroups(r, mib, 'ratio', BENCH_DATA_TYPES);
    assert.deepEqual(stored.map((g) => [g.dataType, g.bars.map((b) => [b.backend, b.value])]), [
      ['medium', [['database', 1], ['compressed', 0.125]]],
      ['random', [['compressed', 1]]],
    ]);
    assert.deepEqual(storedGroups(r, mib, 'stored', BENCH_DATA_TYPES)[0]!.bars.map((b) => b.value), [1_048_686, 131_000]);
    const worst = throughputBars(r, mib, 'worst');
    assert.deepEqual(worst.map((b) => [b.backend, b.value, b.row.dataType, b.target]), [
      ['database', 0.9, 'medium', undefined],
      ['compressed', 0.92, 'medium', 0.8],
    ]);
    assert.deepEqual(worst[1]!.dots.map((d) => [d.dataType, d.value]), [['medium', 0.92], ['random', 40.2]]);
    assert.deepEqual(throughputBars(r, mib, 'random').map((b) => [b.backend, b.value]), [['compressed', 40.2]]);
  });

  test('comparison pairs cells by backend, data type and nearest size, and measures the change', () => {
    const before = results([row('file', 'large', 1_048_632, { serializeMs: 10, deserializeMs: 4, vsFloor: 0.5 }), row('file', 'large', 143), row('s3', 'large', 1_048_632)]);
    const now = results([row('file', 'large', 1_048_700, { serializeMs: 5, deserializeMs: 4, storedBytes: 1_048_700, vsFloor: 0.62 }), row('file', 'large', 140), row('file', 'large', 10_370), row('hybrid', 'large', 143)]);
    const m = matchRows(now.rows, before.rows);
    assert.equal(m.get(now.rows[0]!), before.rows[0]);
    assert.equal(m.get(now.rows[1]!), before.rows[1]);
    assert.equal(m.has(now.rows[2]!), false, '10 KiB has no earlier cell');
    assert.equal(m.has(now.rows[3]!), false, 'another backend');
    const c = changes(now, before);
    assert.equal(c.length, 2);
    assert.equal(c[0]!.serialize, -0.5);
    assert.equal(c[0]!.deserialize, 0);
    assert.equal(c[0]!.vsFloor, 0.12);
    assert.ok(Math.abs(c[0]!.stored - (1_048_700 - 1_048_632) / 1_048_632) < 1e-12);
  });
});

describe('bench/xcom in the runtime service', () => {
  const TINY = { quick: true, sizes: [256, 8192], backends: ['database', 'compressed'], dataTypes: ['repetitive', 'random'], repeat: 1 };

  test('runs the benchmark with progress notifications; the result is what was measured', async () => {
    const events: BenchProgress[] = [];
    const other: string[] = [];
    const s = new RuntimeService((method, params) => (method === 'bench/progress' ? events.push(params as BenchProgress) : other.push(method)));
    const res = (await s.handle('bench/xcom', TINY)) as BenchResults;
    await s.shutdown();
    assert.deepEqual(other, []);
    const total = 2 * 2 * 2;
    assert.equal(events.length, total);
    assert.deepEqual(events.map((e) => e.done), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.ok(events.every((e) => e.total === total));
    assert.match(events[0]!.label, /^(database|compressed) (repetitive|random) /);
    assert.equal(res.meta.quick, true);
    assert.equal(res.meta.algorithm, 'gzip');
    assert.equal(res.meta.node, process.version);
    assert.ok(!Number.isNaN(Date.parse(res.meta.date)));
    assert.equal(res.rows.length, total);
    assert.deepEqual(parseBenchResults(res), { ok: true, value: res }, 'the runtime answers what the panel accepts');
    for (const r of res.rows) {
      assert.ok(r.serializeMs >= 0 && r.deserializeMs >= 0 && r.floor.serializeMs >= 0, JSON.stringify(r));
      assert.ok(Math.abs(r.ratio - r.storedBytes / r.size) < 1e-3, `ratio is stored ÷ serialized: ${JSON.stringify(r)}`);
      const floor = r.floor.serializeMs + r.floor.deserializeMs;
      const own = r.serializeMs + r.deserializeMs;
      // The times are rounded to 3 decimals (±0.0005 ms each, ±0.001 per sum of two), and so is vsFloor
      // (±0.0005): it must lie within what the rounded times allow, plus its own rounding.
      if (own > 0.01 && floor > 0.01) {
        const lo = (floor - 0.001) / (own + 0.001);
        const hi = (floor + 0.001) / (own - 0.001);
        assert.ok(r.vsFloor >= lo - 0.0005 && r.vsFloor <= hi + 0.0005, `vsFloor is the floor's time ÷ the backend's: ${JSON.stringify(r)}`);
      }
    }
    const cell = (backend: string, dataType: string, approx: number) => res.rows.find((r) => r.backend === backend && r.dataType === dataType && Math.abs(Math.log(r.size / approx)) < 0.2)!;
    // Real measurements: repeated text compresses to a fraction; random bytes are stored as they are (the backend skips compressing them).
    assert.ok(cell('compressed', 'repetitive', 8192).ratio < 0.2, JSON.stringify(cell('compressed', 'repetitive', 8192)));
    assert.ok(cell('compressed', 'repetitive', 8192).chain.includes('gzip'));
    assert.ok(cell('compressed', 'random', 8192).ratio >= 0.99);
    assert.equal(cell('database', 'repetitive', 8192).ratio, 1);
    assert.equal(cell('database', 'random', 256).size, 256);
    // Chart data from a real result: one series per backend with a point per size.
    const series = timeSeries(res, 'repetitive', 'serialize');
    assert.deepEqual(series.map((x) => [x.backend, x.points.length]), [['database', 2], ['compressed', 2]]);
    assert.deepEqual(sizeClasses(res.rows.map((r) => r.size)).map((c) => c.nominal), [256, 8192]);
  });

  test('cancel stops a run between cells; one run at a time; params are checked', async () => {
    const events: BenchProgress[] = [];
    const s: RuntimeService = new RuntimeService((method, params) => {
      if (method !== 'bench/progress') return;
      events.push(params as BenchProgress);
      if (events.length === 2) void s.handle('bench/cancel', {});
    });
    const big = { quick: true, sizes: [1024, 65536, 262144], backends: ['database', 'file', 'compressed'], repeat: 1 };
    const first = s.handle('bench/xcom', big);
    await assert.rejects(s.handle('bench/xcom', TINY), /already running/);
    await assert.rejects(first, new RegExp(BENCH_CANCELLED));
    assert.equal(events.length, 2, 'no cell after the cancel');
    assert.ok(events[0]!.total > 2);
    assert.deepEqual(await s.handle('bench/cancel', {}), { cancelled: false });
    const again = (await s.handle('bench/xcom', { ...TINY, backends: ['database'], dataTypes: ['random'], sizes: [64] })) as BenchResults;
    assert.equal(again.rows.length, 1, 'a new run starts after a cancelled one');
    for (const bad of [{ backends: ['redis'] }, { sizes: [1e12] }, { sizes: [] }, { dataTypes: ['huge'] }, { algorithm: 'lz4' }, { repeat: 0 }, { quick: 'yes' }]) {
      await assert.rejects(s.handle('bench/xcom', bad), InvalidParamsError, JSON.stringify(bad));
    }
    await s.shutdown();
  });
});
