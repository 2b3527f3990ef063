/**
 * The grid view without a browser: its message validation (both sides, and the
 * grid result the webview draws), the server's shaping of the one query's rows
 * into the compact grid (mapped summaries, expanded map indexes, removed
 * tasks), and the webview's pure helpers (durations, the window of cells to
 * draw, keyboard moves).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkResult, parseHostMessage, parseWebviewMessage } from '../../src/protocol/webviews/grid.ts';
import { GRID_STATES, MAPPED_PRIORITY, NO_TI, gridProblem, stateCode, summaryState } from '../../src/protocol/webviews/grid-values.ts';
import type { GridRun } from '../../src/protocol/webviews/grid-values.ts';
import { roundDuration, shapeGrid } from '../../src/runtime/server/grid.ts';
import type { GridCellRow } from '../../src/runtime/server/grid.ts';
import { cellTitle, countsText, formatDuration, moveFocus, runBars, runDuration, visibleRange } from '../../webview/grid/format.ts';

const KEY = { dagId: 'd', runId: 'r1', taskId: 't', mapIndex: -1 };
const req = (method: string, params: unknown) => ({ type: 'request', id: 1, method, params });
const c = (s: string) => GRID_STATES.indexOf(s as never);

describe('grid protocol', () => {
  test('accepts each request the webview makes', () => {
    for (const [method, params] of [
      ['grid', { dagId: 'd', limit: 25, offset: 0, expand: ['m'] }],
      ['dags', {}],
      ['tries', KEY],
      ['log', { ...KEY, tryNumber: 2 }],
      ['log', KEY],
      ['clear', { ...KEY, downstream: true, upstream: false }],
      ['mark', { ...KEY, mapIndex: 3, state: 'failed' }],
      ['openXComs', KEY],
      ['openLog', KEY],
      ['openGantt', { dagId: 'd', runId: 'r1' }],
    ] as const) {
      const r = parseWebviewMessage(req(method, params));
      assert.ok(r.ok, `${method}: ${!r.ok ? r.error : ''}`);
      assert.deepEqual(r.ok && r.value.type === 'request' && r.value.params, params);
    }
    assert.deepEqual(parseWebviewMessage({ type: 'ready' }), { ok: true, value: { type: 'ready' } });
  });

  test('refuses malformed requests with the reason', () => {
    const bad = (m: unknown) => {
      const r = parseWebviewMessage(m);
      assert.equal(r.ok, false);
      return !r.ok ? r.error : '';
    };
    assert.equal(bad(req('grid', { dagId: 'd', limit: 0, offset: 0, expand: [] })), 'grid: "limit" must be a whole number from 1 to 1000');
    assert.equal(bad(req('grid', { dagId: 'd', limit: 5000, offset: 0, expand: [] })), 'grid: "limit" must be a whole number from 1 to 1000');
    assert.equal(bad(req('grid', { dagId: 'd', limit: 25, offset: -1, expand: [] })), 'grid: "offset" must be a whole number ≥ 0');
    assert.equal(bad(req('grid', { dagId: 'd', limit: 25, offset: 0, expand: [1] })), 'grid: "expand" must be a list of at most 200 task ids');
    assert.equal(bad(req('grid', { dagId: 'd', limit: 25, offset: 0, expand: [], sql: 'x' })), 'grid: params has an unknown field "sql"');
    assert.equal(bad(req('tries', { ...KEY, mapIndex: -2 })), 'tries: "mapIndex" must be a whole number ≥ -1');
    assert.equal(bad(req('log', { ...KEY, tryNumber: 0 })), 'log: "tryNumber" must be a whole number ≥ 1');
    assert.equal(bad(req('clear', { ...KEY, downstream: 'yes', upstream: false })), 'clear: "downstream" and "upstream" must be true or false');
    assert.equal(bad(req('mark', { ...KEY, state: 'skipped' })), 'mark: "state" must be "success" or "failed"');
    assert.equal(bad(req('openXComs', { ...KEY, taskId: '' })), 'openXComs: needs non-empty dagId, runId and taskId');
    assert.equal(bad(req('drop', {})), 'unknown method "drop"');
    assert.equal(bad({ type: 'request', id: 1.5, method: 'dags', params: {} }), 'a request needs a whole-number id');
  });

  test('checks host messages: init, changed, log lines, responses', () => {
    assert.deepEqual(parseHostMessage({ type: 'init', target: { dagId: 'd', cell: KEY } }), { ok: true, value: { type: 'init', target: { dagId: 'd', cell: KEY } } });
    assert.deepEqual(parseHostMessage({ type: 'init', target: null }), { ok: true, value: { type: 'init', target: null } });
    const other = parseHostMessage({ type: 'init', target: { dagId: 'e', cell: KEY } });
    assert.deepEqual(other, { ok: false, error: 'init: target.cell is of another DAG' });
    assert.deepEqual(parseHostMessage({ type: 'changed', dagId: 'd', runId: 'r' }), { ok: true, value: { type: 'changed', dagId: 'd', runId: 'r' } });
    const line = { type: 'logLine', ...KEY, tryNumber: 1, line: 'hello' };
    assert.deepEqual(parseHostMessage(line), { ok: true, value: line });
    assert.deepEqual(parseHostMessage({ ...line, tryNumber: 0 }), { ok: false, error: 'logLine: "tryNumber" must be a whole number ≥ 1' });
    assert.deepEqual(parseHostMessage({ type: 'response', id: 3, ok: false, error: 'no' }), { ok: true, value: { type: 'response', id: 3, ok: false, error: 'no' } });
    assert.equal(parseHostMessage({ type: 'boom' }).ok, false);
  });

  test('checks results before they are drawn', () => {
    const g = shapeGrid('d', [{ taskId: 't', kind: 'task', mapped: false }], page(row('r1', '2024-01-01', 't', -1, 'success')), { limit: 25, offset: 0, expand: [], nowMs: 0 });
    assert.equal(checkResult('grid', g), undefined);
    assert.equal(gridProblem({ ...g, states: [] }), "the grid's states do not have one entry per cell (1)");
    assert.equal(gridProblem({ ...g, states: [99] }), 'a cell has an unknown state code');
    assert.equal(gridProblem({ ...g, runs: [{ runId: 'r1' }] }), 'a run lacks its runId, state, type or logical date');
    assert.equal(checkResult('tries', [{ tryNumber: 1, state: 'success', startDate: null, endDate: null, error: null }]), undefined);
    assert.equal(checkResult('tries', [{ tryNumber: 'one' }]), 'tries: a try lacks its number, state or dates');
    assert.equal(checkResult('log', { tryNumber: 1, text: '', running: false, logPath: null }), undefined);
    assert.equal(checkResult('mark', { marked: -1 }), 'mark: the result lacks "marked"');
  });
});

interface Ti {
  runId: string;
  day: string;
  taskId: string | null;
  mapIndex: number;
  state: string | null;
  tries: number;
  duration: number | null;
  start: string | null;
  end: string | null;
}
function row(runId: string, day: string, taskId: string | null, mapIndex: number, state: string | null, o: { tries?: number; duration?: number | null; start?: string | null; end?: string | null } = {}): Ti {
  return { runId, day, taskId, mapIndex, state, tries: o.tries ?? 1, duration: o.duration === undefined ? 1.5 : o.duration, start: o.start ?? null, end: o.end ?? null };
}
/** What queryGrid answers for these task instances (runs in order of appearance = oldest first). */
function page(...tis: Ti[]): { runs: GridRun[]; totalRuns: number; cells: GridCellRow[] } {
  const runs: GridRun[] = [];
  const cells: GridCellRow[] = [];
  for (const t of tis) {
    let col = runs.findIndex((r) => r.runId === t.runId);
    if (col < 0) {
      col = runs.length;
      runs.push({ runId: t.runId, runType: 'manual', state: 'success', logicalDate: `${t.day}T00:00:00.000Z`, queuedAt: `${t.day}T00:00:00.000Z`, startDate: `${t.day}T00:00:01.000Z`, endDate: `${t.day}T00:01:00.000Z` });
    }
    if (t.taskId === null) continue;
    const ms = (x: string | null) => (x === null ? null : Date.parse(x));
    cells.push([col, t.taskId, t.mapIndex, stateCode(t.state as never), t.tries, t.duration, t.mapIndex >= 0 || t.state === 'running' ? ms(t.start) : null, t.mapIndex >= 0 ? ms(t.end) : null]);
  }
  return { runs, totalRuns: runs.length, cells };
}

describe('grid shaping (server side)', () => {
  const tasks = [
    { taskId: 'a', kind: 'task', mapped: false },
    { taskId: 'm', kind: 'task', mapped: true },
    { taskId: 'z', kind: 'bash', mapped: false },
  ];

  test('rows in the DAG\'s order, runs as given (oldest first), a cell per task and run, NO_TI where a run has no instance', () => {
    const g = shapeGrid('d', tasks, page(row('r1', '2024-01-01', 'a', -1, 'success'), row('r2', '2024-01-02', 'a', -1, 'failed', { tries: 2 }), row('r2', '2024-01-02', 'z', -1, null, { tries: 0, duration: null })), { limit: 25, offset: 0, expand: [], nowMs: 0 });
    assert.deepEqual(g.runs.map((r) => r.runId), ['r1', 'r2']);
    assert.deepEqual(g.rows.map((r) => r.taskId), ['a', 'm', 'z']);
    assert.deepEqual(g.states, [c('success'), c('failed'), NO_TI, NO_TI, NO_TI, c('none')]);
    assert.deepEqual(g.tries, [1, 2, 0, 0, 0, 0]);
    assert.deepEqual(g.durations, [1.5, 1.5, null, null, null, null]);
    assert.equal(g.totalRuns, 2);
  });

  test('a mapped task: one summary cell (Airflow\'s priority), counts per state, first start → last end; expanded per map index', () => {
    const rows = [
      row('r1', '2024-01-01', 'm', 0, 'success', { start: '2024-01-01T00:00:00.000Z', end: '2024-01-01T00:00:02.000Z' }),
      row('r1', '2024-01-01', 'm', 1, 'failed', { tries: 3, start: '2024-01-01T00:00:01.000Z', end: '2024-01-01T00:00:05.000Z' }),
      row('r1', '2024-01-01', 'm', 2, 'running', { start: '2024-01-01T00:00:01.000Z', end: null, duration: null }),
    ];
    const now = Date.parse('2024-01-01T00:00:11.000Z');
    const g = shapeGrid('d', tasks, page(...rows), { limit: 25, offset: 0, expand: [], nowMs: now });
    assert.equal(g.states[1], c('failed'), 'failed outranks running and success');
    assert.equal(g.tries[1], 3);
    assert.equal(g.durations[1], 11, 'still running: first start → now');
    assert.deepEqual(g.counts, [{ cell: 1, counts: GRID_STATES.map((s) => (s === 'success' || s === 'failed' || s === 'running' ? 1 : 0)) }]);
    assert.deepEqual(g.mapCounts, { m: 3 });
    const x = shapeGrid('d', tasks, page(...rows), { limit: 25, offset: 0, expand: ['m'], nowMs: now });
    assert.deepEqual(x.rows.map((r) => [r.taskId, r.mapIndex]), [['a', null], ['m', null], ['m', 0], ['m', 1], ['m', 2], ['z', null]]);
    assert.deepEqual(x.states.slice(2, 5), [c('success'), c('failed'), c('running')]);
    assert.deepEqual(x.durations.slice(2, 5), [1.5, 1.5, 10], 'a running map index: its try so far');
  });

  test('a run with no task instances yet is a column of NO_TI; tasks not in the DAG come last as "removed"', () => {
    const g = shapeGrid('d', tasks, page(row('r1', '2024-01-01', 'gone', -1, 'success'), row('r2', '2024-01-02', null, -1, null)), { limit: 25, offset: 0, expand: [], nowMs: 0 });
    assert.deepEqual(g.rows.map((r) => [r.taskId, r.kind]), [['a', 'task'], ['m', 'task'], ['z', 'bash'], ['gone', 'removed']]);
    assert.deepEqual(g.states.slice(6), [c('success'), NO_TI]);
    const unloaded = shapeGrid('d', null, page(row('r1', '2024-01-01', 'x', 0, 'success')), { limit: 25, offset: 0, expand: [], nowMs: 0 });
    assert.deepEqual(unloaded.rows, [{ taskId: 'x', mapIndex: null, kind: 'task', mapped: true }], 'the DAG not loaded: rows from its runs');
  });

  test('summary priority is Airflow\'s (airflow/www/utils.py get_mapped_summary) and durations are truncated like its grid', () => {
    assert.deepEqual(MAPPED_PRIORITY.slice(0, 4), ['failed', 'upstream_failed', 'up_for_retry', 'up_for_reschedule']);
    assert.equal(summaryState([c('success'), c('skipped')]), c('success'));
    assert.equal(summaryState([c('success'), stateCode(null)]), c('none'), 'a map index not started yet outranks success');
    assert.equal(summaryState([c('running'), c('queued')]), c('queued'));
    assert.equal(summaryState([]), NO_TI);
    assert.equal(roundDuration(3.14159), 3.142);
    assert.equal(roundDuration(12.6), 13);
  });

  test('365 runs × 200 tasks shape in one pass into flat arrays', () => {
    const many = Array.from({ length: 200 }, (_, i) => ({ taskId: `t${i}`, kind: 'task', mapped: false }));
    const rows: Ti[] = [];
    for (let r = 0; r < 365; r++) for (const t of many) rows.push(row(`r${r}`, new Date(Date.UTC(2024, 0, 1 + r)).toISOString().slice(0, 10), t.taskId, -1, 'success'));
    const g = shapeGrid('d', many, page(...rows), { limit: 365, offset: 0, expand: [], nowMs: 0 });
    assert.equal(g.states.length, 73_000);
    assert.equal(checkResult('grid', g), undefined);
    assert.ok(g.states.every((s) => s === c('success')));
  });
});

describe('grid helpers (webview side)', () => {
  test('durations read as people write them', () => {
    assert.deepEqual([0.25, 4.26, 42.4, 125, 3725, 90_000, null].map(formatDuration), ['250ms', '4.3s', '42s', '2m 05s', '1h 02m', '1d 1h', '—']);
  });

  test('a run\'s duration runs to now while it goes; bars are scaled to the longest run', () => {
    const run = (startDate: string | null, endDate: string | null): GridRun => ({ runId: 'r', runType: 'manual', state: 'success', logicalDate: '2024-01-01T00:00:00Z', queuedAt: '2024-01-01T00:00:00Z', startDate, endDate });
    const now = Date.parse('2024-01-01T00:01:00Z');
    assert.equal(runDuration(run('2024-01-01T00:00:00Z', '2024-01-01T00:00:30Z'), now), 30);
    assert.equal(runDuration(run('2024-01-01T00:00:00Z', null), now), 60);
    assert.equal(runDuration(run(null, null), now), null);
    assert.deepEqual(runBars([run('2024-01-01T00:00:00Z', '2024-01-01T00:00:30Z'), run('2024-01-01T00:00:00Z', null), run(null, null)], now, 30), [15, 30, 2]);
  });

  test('only the cells in view (and a few more) are drawn', () => {
    assert.deepEqual(visibleRange(0, 400, 22, 200), [0, 23]);
    assert.deepEqual(visibleRange(22 * 100, 400, 22, 200), [96, 123]);
    assert.deepEqual(visibleRange(22 * 195, 400, 22, 200), [191, 200]);
    assert.deepEqual(visibleRange(0, 400, 22, 0), [0, 0]);
  });

  test('keys move the focus within the grid', () => {
    const p = { row: 5, col: 5 };
    assert.deepEqual(moveFocus(p, 'ArrowLeft', false, 10, 10, 3), { row: 5, col: 4 });
    assert.deepEqual(moveFocus(p, 'ArrowDown', false, 10, 10, 3), { row: 6, col: 5 });
    assert.deepEqual(moveFocus({ row: 0, col: 0 }, 'ArrowUp', false, 10, 10, 3), { row: 0, col: 0 });
    assert.deepEqual(moveFocus(p, 'End', false, 10, 10, 3), { row: 5, col: 9 });
    assert.deepEqual(moveFocus(p, 'Home', true, 10, 10, 3), { row: 0, col: 0 });
    assert.deepEqual(moveFocus(p, 'End', true, 10, 10, 3), { row: 9, col: 9 });
    assert.deepEqual(moveFocus(p, 'PageDown', false, 10, 10, 3), { row: 8, col: 5 });
    assert.deepEqual(moveFocus(p, 'PageDown', false, 10, 10, 30), { row: 9, col: 5 });
    assert.equal(moveFocus(p, 'a', false, 10, 10, 3), null);
    assert.equal(moveFocus(p, 'ArrowUp', false, 0, 0, 3), null);
  });

  test('hover texts name the task, run, state, duration, try and map index counts', () => {
    const g = shapeGrid('d', [{ taskId: 'm', kind: 'task', mapped: true }], page(row('r1', '2024-01-01', 'm', 0, 'success', { tries: 2 }), row('r1', '2024-01-01', 'm', 1, 'failed')), { limit: 25, offset: 0, expand: [], nowMs: 0 });
    const counts = g.counts[0]!.counts;
    assert.equal(countsText(counts), '1 success · 1 failed');
    assert.equal(cellTitle(g, 0, 0, counts), 'm · r1\nstate: failed\nduration: —\ntry: 2\nmap indexes: 1 success · 1 failed');
  });
});
