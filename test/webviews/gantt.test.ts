/**
 * The Gantt panel without a browser: its message validation, the server's
 * shaping of tries into segments (queued/running, retry and reschedule waits,
 * a sensor's reschedule pokes), the critical path, and the webview's helpers
 * (time axis, task-duration series with its median and middle half).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkResult, parseHostMessage, parseWebviewMessage } from '../../src/protocol/webviews/gantt.ts';
import { criticalPathOf, shapeGantt } from '../../src/runtime/server/gantt.ts';
import type { GanttPoke, GanttTi, GanttTry } from '../../src/runtime/server/gantt.ts';
import { shapeGrid } from '../../src/runtime/server/grid.ts';
import { GRID_STATES } from '../../src/protocol/webviews/grid-values.ts';
import { durationSeries, formatSeconds, niceStep, quantile, segmentTitle, timeRange, timeTicks } from '../../webview/gantt/format.ts';

const T = Date.parse('2024-01-01T00:00:00.000Z');
const at = (s: number) => new Date(T + s * 1000).toISOString();
const RUN = { dag_id: 'd', run_id: 'r', run_type: 'manual' as const, state: 'success' as const, logical_date: at(0), queued_at: at(0), start_date: at(0), end_date: at(60) };
const ti = (task_id: string, start: number | null, end: number | null, o: Partial<GanttTi> = {}): GanttTi => ({ task_id, map_index: -1, state: 'success', try_number: 1, start_date: start === null ? null : at(start), end_date: end === null ? null : at(end), ...o });
const tr = (task_id: string, try_number: number, state: GanttTry['state'], start: number, end: number | null, running: number | null = null, map_index = -1): GanttTry => ({ task_id, map_index, try_number, state, start_date: at(start), end_date: end === null ? null : at(end), running_at: running === null ? null : at(running) });

describe('Gantt protocol', () => {
  test('accepts the webview\'s requests and refuses malformed ones by name', () => {
    for (const [method, params] of [
      ['gantt', { dagId: 'd', runId: 'r' }],
      ['runs', { dagId: 'd' }],
      ['durations', { dagId: 'd', limit: 25 }],
      ['openGrid', { dagId: 'd', runId: 'r', taskId: 't', mapIndex: 2 }],
    ] as const) {
      const r = parseWebviewMessage({ type: 'request', id: 1, method, params });
      assert.ok(r.ok, `${method}: ${!r.ok ? r.error : ''}`);
    }
    const bad = (method: string, params: unknown) => {
      const r = parseWebviewMessage({ type: 'request', id: 1, method, params });
      return r.ok ? '' : r.error;
    };
    assert.equal(bad('gantt', { dagId: 'd' }), 'gantt: needs a non-empty runId');
    assert.equal(bad('durations', { dagId: 'd', limit: 0 }), 'durations: "limit" must be a whole number from 1 to 1000');
    assert.equal(bad('openGrid', { dagId: 'd', runId: 'r', taskId: 't', mapIndex: -5 }), 'openGrid: "mapIndex" must be a whole number ≥ -1');
    assert.equal(bad('runs', { dagId: 'd', x: 1 }), 'runs: params has an unknown field "x"');
    assert.deepEqual(parseHostMessage({ type: 'init', target: { dagId: 'd', view: 'duration' } }), { ok: true, value: { type: 'init', target: { dagId: 'd', view: 'duration' } } });
    assert.deepEqual(parseHostMessage({ type: 'init', target: { dagId: 'd', view: 'pie' } }), { ok: false, error: 'init: target.view must be "gantt" or "duration"' });
  });

  test('checks a Gantt result before it is drawn', () => {
    const g = shapeGantt(RUN, [{ taskId: 'a', upstream: [] }], { tis: [ti('a', 0, 1)], tries: [tr('a', 1, 'success', 0, 1)], pokes: [] }, T);
    assert.equal(checkResult('gantt', g), undefined);
    assert.equal(checkResult('gantt', { ...g, segments: [{ ...g.segments[0], row: 5 }] }), 'a segment names no row');
    assert.equal(checkResult('gantt', { ...g, segments: [{ ...g.segments[0], kind: 'nap' }] }), 'a segment lacks its kind, try or times');
  });
});

describe('Gantt shaping (server side)', () => {
  const tasks = [
    { taskId: 'a', upstream: [] },
    { taskId: 'b', upstream: ['a'] },
    { taskId: 'c', upstream: ['a'] },
    { taskId: 'd', upstream: ['b', 'c'] },
  ];

  test('a try is queued until it runs (running_at), a retry\'s delay is a wait of its own', () => {
    const g = shapeGantt(RUN, tasks, { tis: [ti('b', 2, 12, { try_number: 2 })], tries: [tr('b', 1, 'failed', 2, 4, 3), tr('b', 2, 'success', 9, 12, 9.5)], pokes: [] }, T);
    assert.deepEqual(
      g.segments.map((s) => [s.kind, s.tryNumber, s.state, (s.startMs - T) / 1000, ((s.endMs ?? 0) - T) / 1000]),
      [
        ['queued', 1, 'failed', 2, 3],
        ['running', 1, 'failed', 3, 4],
        ['retry', 2, 'failed', 4, 9],
        ['queued', 2, 'success', 9, 9.5],
        ['running', 2, 'success', 9.5, 12],
      ],
    );
  });

  test('in-process tries (no running_at) run from their claim; a running try runs to now; one still queued is queued', () => {
    const g = shapeGantt(RUN, tasks, { tis: [ti('a', 0, 1), ti('b', 1, null, { state: 'running' }), ti('c', 1, null, { state: 'queued' })], tries: [tr('a', 1, 'success', 0, 1), tr('b', 1, 'running', 1, null), tr('c', 1, 'queued', 1, null)], pokes: [] }, T + 5000);
    assert.deepEqual(g.segments.map((s) => [g.rows[s.row]!.taskId, s.kind, s.endMs]), [
      ['a', 'running', T + 1000],
      ['b', 'running', null],
      ['c', 'queued', null],
    ]);
  });

  test('a sensor in reschedule mode: each poke runs on its own, with the reschedule waits between', () => {
    const pokes: GanttPoke[] = [0, 10, 20].map((s) => ({ task_id: 's', map_index: -1, try_number: 1, poked_at_ms: T + s * 1000, duration_ms: 500 }));
    const g = shapeGantt(RUN, [{ taskId: 's', upstream: [] }], { tis: [ti('s', 20, 20.5)], tries: [tr('s', 1, 'success', 20, 20.5)], pokes }, T + 30_000);
    assert.deepEqual(
      g.segments.map((s) => [s.kind, s.state, (s.startMs - T) / 1000, ((s.endMs ?? 0) - T) / 1000]),
      [
        ['running', 'up_for_reschedule', 0, 0.5],
        ['reschedule', 'up_for_reschedule', 0.5, 10],
        ['running', 'up_for_reschedule', 10, 10.5],
        ['reschedule', 'up_for_reschedule', 10.5, 20],
        ['running', 'success', 20, 20.5],
      ],
    );
  });

  test('the critical path: back from the instance that ended last through the upstream that ended last', () => {
    const tis = [ti('a', 0, 1), ti('b', 1, 9), ti('c', 1, 3), ti('d', 9, 10)];
    assert.deepEqual(criticalPathOf(tis, tasks, T).map((c) => c.taskId), ['a', 'b', 'd']);
    // A mapped upstream: the map index that ended last is the one waited for.
    const mapped = [ti('a', 0, 1), ti('b', 1, 2, { map_index: 0 }), ti('b', 1, 8, { map_index: 1 }), ti('c', 1, 3), ti('d', 8, 9)];
    assert.deepEqual(criticalPathOf(mapped, tasks, T), [
      { taskId: 'a', mapIndex: -1 },
      { taskId: 'b', mapIndex: 1 },
      { taskId: 'd', mapIndex: -1 },
    ]);
    // Never started: not on it; still running: ends now.
    assert.deepEqual(criticalPathOf([ti('a', 0, 1), ti('b', 1, null, { state: 'running' }), ti('c', 1, 3), ti('d', null, null, { state: null })], tasks, T + 20_000).map((c) => c.taskId), ['a', 'b']);
    const g = shapeGantt(RUN, tasks, { tis, tries: [], pokes: [] }, T);
    assert.deepEqual(g.rows.map((r) => [r.taskId, r.critical]), [['a', true], ['b', true], ['c', false], ['d', true]]);
  });

  test('1,000 tries shape in one pass', () => {
    const tis: GanttTi[] = [];
    const tries: GanttTry[] = [];
    for (let i = 0; i < 500; i++) {
      tis.push(ti(`t${i}`, i, i + 2, { try_number: 2 }));
      tries.push(tr(`t${i}`, 1, 'failed', i, i + 0.5, i + 0.1), tr(`t${i}`, 2, 'success', i + 1, i + 2, i + 1.2));
    }
    const g = shapeGantt(RUN, tis.map((t, i) => ({ taskId: t.task_id, upstream: i ? [`t${i - 1}`] : [] })), { tis, tries, pokes: [] }, T);
    assert.equal(g.segments.length, 500 * 5);
    assert.equal(g.criticalPath.length, 500);
  });
});

describe('Gantt helpers (webview side)', () => {
  test('time axis: range over the segments, round ticks', () => {
    const g = shapeGantt(RUN, null, { tis: [ti('a', 0, 1), ti('b', 1, null, { state: 'running' })], tries: [tr('a', 1, 'success', 0, 1), tr('b', 1, 'running', 1, null)], pokes: [] }, T + 7000);
    assert.deepEqual(timeRange(g), [T, T + 7000]);
    assert.deepEqual(timeTicks(7), [0, 2, 4, 6]);
    assert.deepEqual(timeTicks(10, 5), [0, 2, 4, 6, 8, 10]);
    assert.equal(niceStep(95, 5), 20);
    assert.equal(formatSeconds(125), '2m 05s');
    assert.equal(segmentTitle(g, g.segments[1]!), 'b · try 1\nrunning (running): 6.0s so far\nfrom 00:00:01.000 UTC');
  });

  test('task duration: a line per task, the median and middle half per run', () => {
    const c = (s: string) => GRID_STATES.indexOf(s as never);
    const tasks = ['a', 'b', 'c', 'd'].map((taskId) => ({ taskId, kind: 'task', mapped: false }));
    const durations = [[1, 2], [2, 4], [3, 6], [4, null]];
    const cells: [number, string, number, number, number, number | null, null, null][] = [];
    durations.forEach((ds, t) => ds.forEach((d, col) => d !== null && cells.push([col, tasks[t]!.taskId, -1, c('success'), 1, d, null, null])));
    const runs = ['r1', 'r2'].map((runId) => ({ runId, runType: 'manual' as const, state: 'success' as const, logicalDate: at(0), queuedAt: at(0), startDate: null, endDate: null }));
    const g = shapeGrid('d', tasks, { runs, totalRuns: 2, cells }, { limit: 25, offset: 0, expand: [], nowMs: T });
    const d = durationSeries(g);
    assert.deepEqual(d.lines.map((l) => [l.taskId, l.values]), [['a', [1, 2]], ['b', [2, 4]], ['c', [3, 6]], ['d', [4, null]]]);
    assert.deepEqual(d.median, [2.5, 4]);
    assert.deepEqual(d.p25, [1.75, 3]);
    assert.deepEqual(d.p75, [3.25, 5]);
    assert.equal(d.max, 6);
    assert.equal(quantile([], 0.5), NaN);
  });
});
