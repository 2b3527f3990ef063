/**
 * The sensor panel without a browser: its message validation (both sides, and
 * the results the webview draws), and the pure helpers of its charts
 * (durations, time range with deadlines, ticks, interval axis).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkResult, parseHostMessage, parseTarget, parseWebviewMessage } from '../../src/protocol/webviews/sensors.ts';
import type { SensorDetail, SensorInstanceSummary } from '../../src/protocol/webviews/sensors.ts';
import { formatMs, formatPokeMs, formatRate, intervalAxisMax, intervalPokeCount, niceStep, stateWord, ticks, timelineRange } from '../../webview/sensors/format.ts';

const KEY = { dagId: 'd', runId: 'r', taskId: 's', mapIndex: -1 };
const T0 = Date.UTC(2024, 0, 15, 6);

function instance(over: Partial<SensorInstanceSummary> = {}): SensorInstanceSummary {
  return {
    ...KEY,
    mode: 'poke',
    sensorType: 'custom',
    strategy: 'exponential',
    taskState: 'success',
    outcome: 'success',
    live: false,
    pokes: 3,
    firstPokeMs: T0,
    endedMs: T0 + 3000,
    waitMs: 3000,
    lastResult: 'done',
    lastPokeMs: T0 + 3000,
    breaker: 'closed',
    logicalDate: new Date(T0).toISOString(),
    ...over,
  };
}

function detail(over: Partial<SensorDetail> = {}): SensorDetail {
  return {
    instance: instance(),
    pokes: [
      { pokeNumber: 1, tryNumber: 1, mode: 'poke', atMs: T0, durationMs: 0.4, result: 'not_yet', error: null, nextIntervalMs: 1000, strategy: 'exponential' },
      { pokeNumber: 2, tryNumber: 1, mode: 'poke', atMs: T0 + 1000, durationMs: 0.3, result: 'not_yet', error: null, nextIntervalMs: 2000, strategy: 'exponential' },
      { pokeNumber: 3, tryNumber: 1, mode: 'poke', atMs: T0 + 3000, durationMs: 0.5, result: 'done', error: null, nextIntervalMs: null, strategy: 'exponential' },
    ],
    totalPokes: 3,
    strategyText: 'exponential: from 1s, ×2 per poke, at most 4s',
    curve: [1000, 2000, 4000, 4000].map((b, i) => ({ poke: i + 1, baseMs: b, minMs: b, maxMs: b })),
    planned: [],
    timeoutMs: 10_000,
    timeoutDeadlineMs: T0 + 10_000,
    sla: [{ level: 'warn', deadlineMs: T0 + 6000, missedMs: null }],
    slaRelativeTo: 'run_start',
    breaker: { state: 'closed', consecutiveErrors: 0, openUntilMs: null, lastError: null, openedCount: 0, threshold: null, coolDownMs: null, whenOpen: null },
    stats: { instances: 1, waiting: 0, successes: 1, timeouts: 0, failures: 0, skipped: 0, successRate: 1, timeoutRate: 0, avgWaitMs: 3000, p95WaitMs: 3000, pokes: 3, pokeErrors: 0, pokesPerSuccess: 3, avgPokeMs: 0.4, slaMisses: 0 },
    note: null,
    nowMs: T0 + 60_000,
    ...over,
  };
}

describe('sensor panel messages', () => {
  test('the host accepts well-formed messages and keeps only known fields', () => {
    assert.deepEqual(parseWebviewMessage({ type: 'ready' }), { ok: true, value: { type: 'ready' } });
    assert.deepEqual(parseWebviewMessage({ type: 'request', id: 1, method: 'instances', params: { liveOnly: false, dagId: 'd' } }), {
      ok: true,
      value: { type: 'request', id: 1, method: 'instances', params: { liveOnly: false, dagId: 'd' } },
    });
    assert.deepEqual(parseWebviewMessage({ type: 'request', id: 2, method: 'detail', params: KEY }), { ok: true, value: { type: 'request', id: 2, method: 'detail', params: KEY } });
    assert.equal(parseWebviewMessage({ type: 'request', id: 3, method: 'openLog', params: { ...KEY, mapIndex: 4 } }).ok, true);
    assert.equal(parseWebviewMessage({ type: 'request', id: 4, method: 'dags', params: {} }).ok, true);
  });

  test('the host rejects malformed messages with a reason', () => {
    const bad: [unknown, RegExp][] = [
      [null, /must be an object/],
      ['ready', /must be an object/],
      [{ type: 'eval', code: 'alert(1)' }, /unknown message type "eval"/],
      [{ type: 'request', id: 1.5, method: 'detail', params: KEY }, /whole-number id/],
      [{ type: 'request', id: 1, method: 'dropTables', params: {} }, /unknown method "dropTables"/],
      [{ type: 'request', id: 1, method: 'instances', params: {} }, /"liveOnly" must be true or false/],
      [{ type: 'request', id: 1, method: 'instances', params: { liveOnly: true, dagId: '' } }, /"dagId" must be a non-empty string/],
      [{ type: 'request', id: 1, method: 'instances', params: { liveOnly: true, sql: '1' } }, /unknown field "sql"/],
      [{ type: 'request', id: 1, method: 'instances', params: 'all' }, /params must be an object/],
      [{ type: 'request', id: 1, method: 'detail', params: { ...KEY, taskId: '' } }, /non-empty dagId, runId and taskId/],
      [{ type: 'request', id: 1, method: 'detail', params: { ...KEY, runId: 'x'.repeat(5000) } }, /non-empty dagId, runId and taskId/],
      [{ type: 'request', id: 1, method: 'detail', params: { ...KEY, mapIndex: -2 } }, /mapIndex/],
      [{ type: 'request', id: 1, method: 'detail', params: { ...KEY, mapIndex: '0' } }, /mapIndex/],
      [{ type: 'request', id: 1, method: 'openLog', params: { ...KEY, path: '/etc/passwd' } }, /unknown field "path"/],
      [{ type: 'request', id: 1, method: 'dags', params: { all: true } }, /params must be \{\}/],
    ];
    for (const [m, re] of bad) {
      const r = parseWebviewMessage(m);
      assert.equal(r.ok, false, JSON.stringify(m));
      if (!r.ok) assert.match(r.error, re, JSON.stringify(m));
    }
  });

  test('the webview accepts host messages and rejects malformed ones', () => {
    assert.deepEqual(parseHostMessage({ type: 'init', target: null }), { ok: true, value: { type: 'init', target: null } });
    assert.deepEqual(parseHostMessage({ type: 'init', target: KEY }), { ok: true, value: { type: 'init', target: KEY } });
    assert.deepEqual(parseHostMessage({ type: 'changed', dagId: 'd', runId: 'r' }), { ok: true, value: { type: 'changed', dagId: 'd', runId: 'r' } });
    assert.equal(parseHostMessage({ type: 'response', id: 1, ok: true, result: {} }).ok, true);
    assert.equal(parseHostMessage({ type: 'response', id: 1, ok: false, error: 'x' }).ok, true);
    for (const m of [
      { type: 'response', id: 1, ok: false },
      { type: 'response', id: -1, ok: true, result: {} },
      { type: 'init', target: { taskId: 's' } },
      { type: 'init', target: { dagId: 'd', runId: 'r', mapIndex: 'x' } },
      { type: 'init', target: { dagId: 'd', html: '<img>' } },
      { type: 'init' },
      { type: 'changed', dagId: 'd' },
      { type: 'script', src: 'x' },
      42,
    ]) {
      assert.equal(parseHostMessage(m).ok, false, JSON.stringify(m));
    }
    assert.throws(() => parseTarget({ runId: 'r' }), /a runId needs its dagId/);
  });

  test('results are checked before they are drawn', () => {
    assert.equal(checkResult('detail', detail()), undefined);
    assert.equal(checkResult('instances', { instances: [instance()], nowMs: T0 }), undefined);
    assert.equal(checkResult('dags', { dagIds: ['a'] }), undefined);
    assert.equal(checkResult('openLog', { opened: true }), undefined);
    const broken: [Parameters<typeof checkResult>[0], unknown, RegExp][] = [
      ['instances', { instances: 'x', nowMs: 1 }, /lacks instances/],
      ['instances', { instances: [{ ...instance(), mapIndex: 'a' }], nowMs: 1 }, /lacks its dagId/],
      ['instances', { instances: [{ ...instance(), firstPokeMs: 'yesterday' }], nowMs: 1 }, /not a number/],
      ['detail', { ...detail(), pokes: [{ ...detail().pokes[0], atMs: Infinity }] }, /a poke lacks/],
      ['detail', { ...detail(), curve: [{ poke: 1, baseMs: '1s', minMs: 1, maxMs: 1 }] }, /curve point/],
      ['detail', { ...detail(), planned: [{ pokeNumber: 0, atMs: 1, intervalMs: 1 }] }, /planned poke/],
      ['detail', { ...detail(), sla: [{ level: 'warn', deadlineMs: null, missedMs: null }] }, /SLA deadline/],
      ['detail', { ...detail(), breaker: null }, /breaker/],
      ['detail', { ...detail(), instance: null }, /instance is not an object/],
      ['detail', [], /not an object/],
      ['dags', { dagIds: [1] }, /lacks dagIds/],
    ];
    for (const [method, r, re] of broken) assert.match(checkResult(method, r) ?? '', re, `${method} ${JSON.stringify(r).slice(0, 80)}`);
  });
});

describe('sensor panel formatting and chart geometry', () => {
  test('durations, rates, states', () => {
    assert.deepEqual([formatMs(0), formatMs(999), formatMs(1500), formatMs(1250), formatMs(12_400), formatMs(90_000), formatMs(3_600_000), formatMs(7 * 86_400_000 + 3_600_000), formatMs(null), formatMs(-2000)], ['0ms', '999ms', '1.5s', '1.25s', '12s', '1m30s', '1h', '7d1h', '—', '−2s']);
    assert.equal(formatPokeMs(0.42), '0.4ms');
    assert.deepEqual([formatRate(1), formatRate(0.953), formatRate(null)], ['100%', '95.3%', '—']);
    assert.equal(stateWord(instance()), 'success');
    assert.equal(stateWord(instance({ outcome: null, live: true, taskState: 'up_for_reschedule' })), 'waiting (rescheduled)');
    assert.equal(stateWord(instance({ outcome: null, live: true, taskState: 'running' })), 'poking');
    assert.equal(stateWord(instance({ outcome: null, live: true, taskState: 'queued', pokes: 0 })), 'queued');
  });

  test('ticks land on nice steps', () => {
    assert.equal(niceStep(3000, 6), 500);
    assert.equal(niceStep(10 * 60_000, 6), 120_000);
    assert.equal(niceStep(7 * 86_400_000, 6), 2 * 86_400_000);
    assert.deepEqual(ticks(0, 3000, 1000), [0, 1000, 2000, 3000]);
    assert.deepEqual(ticks(-250, 600, 500), [0, 500]);
  });

  test('the timeline takes in near deadlines and marks far ones off the chart', () => {
    const near = timelineRange(detail())!;
    assert.equal(near.start, T0);
    assert.ok(near.end >= T0 + 10_000 && near.end < T0 + 11_000, `end ${near.end - T0}`);
    assert.deepEqual(near.deadlines.map((m) => [m.kind, m.atMs - T0, m.offChart]), [['timeout', 10_000, null], ['sla', 6000, null]]);

    // A 7-day timeout beside 3 s of pokes: off the chart, the pokes keep the width.
    const far = timelineRange(detail({ timeoutDeadlineMs: T0 + 7 * 86_400_000, sla: [{ level: 'page', deadlineMs: T0 - 86_400_000, missedMs: T0 }] }))!;
    assert.ok(far.end < T0 + 4000);
    assert.deepEqual(far.deadlines.map((m) => [m.label, m.offChart, m.missed]), [['timeout', 'after', false], ['SLA page', 'before', true]]);

    // Live: up to now and the planned pokes.
    const live = timelineRange(detail({ instance: instance({ outcome: null, live: true }), timeoutDeadlineMs: null, sla: [], nowMs: T0 + 2500, planned: [{ pokeNumber: 4, atMs: T0 + 7000, intervalMs: 4000 }] }))!;
    assert.ok(live.end >= T0 + 7000 && live.end < T0 + 7500);
    assert.equal(timelineRange(detail({ instance: instance({ firstPokeMs: null }), pokes: [] })), null);
  });

  test('the interval axis holds the curve, the chosen and the planned intervals', () => {
    const d = detail();
    assert.equal(intervalAxisMax(d), 5000);
    assert.equal(intervalPokeCount(d), 4);
    assert.equal(intervalAxisMax(detail({ curve: [], pokes: [], planned: [] })), 1000);
    assert.equal(intervalPokeCount(detail({ planned: [{ pokeNumber: 9, atMs: 0, intervalMs: 30_000 }] })), 9);
    assert.equal(intervalAxisMax(detail({ planned: [{ pokeNumber: 9, atMs: 0, intervalMs: 30_000 }] })), 40_000);
  });
});
