import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RunsModel, endOfRunMessage, formatDuration, runRow, stateIcon, taskInstanceRow } from '../../src/vscode/runs-model.ts';
import type { RunInfo, TaskInstanceInfo } from '../../src/protocol/runtime.ts';

function run(over: Partial<RunInfo> = {}): RunInfo {
  return { dagId: 'etl', runId: 'manual__1', runType: 'manual', state: 'queued', logicalDate: '2024-01-01T00:00:00.000Z', queuedAt: '2024-01-01T00:00:00.000Z', startDate: null, endDate: null, conf: {}, ...over };
}
function ti(taskId: string, over: Partial<TaskInstanceInfo> = {}): TaskInstanceInfo {
  return { dagId: 'etl', runId: 'manual__1', taskId, mapIndex: -1, state: null, tryNumber: 0, maxTries: 1, operator: 'python', startDate: null, endDate: null, duration: null, error: null, nextTryAt: null, ...over };
}

describe('RunsModel', () => {
  test('applies run and task notifications in place and says what to refresh', () => {
    const m = new RunsModel();
    m.setRuns([run()]);
    assert.deepEqual(m.applyTask({ dagId: 'etl', runId: 'manual__1', taskId: 'a', mapIndex: -1, state: 'running', tryNumber: 1 }), { kind: 'run', key: 'etl\u0000manual__1' });
    m.setTasks('etl', 'manual__1', [ti('a'), ti('b')]);
    const now = new Date('2024-01-01T00:00:05.000Z');
    assert.deepEqual(m.applyTask({ dagId: 'etl', runId: 'manual__1', taskId: 'a', mapIndex: -1, state: 'running', tryNumber: 1 }, now).kind, 'run');
    m.applyTask({ dagId: 'etl', runId: 'manual__1', taskId: 'a', mapIndex: -1, state: 'success', tryNumber: 1, duration: 1.25 }, now);
    const a = m.get('etl', 'manual__1')!.tasks![0]!;
    assert.equal(a.state, 'success');
    assert.equal(a.duration, 1.25);
    assert.equal(a.tryNumber, 1);
    assert.deepEqual(m.applyRun({ dagId: 'etl', runId: 'manual__1', state: 'running' }, now), { kind: 'run', key: 'etl\u0000manual__1' });
    assert.deepEqual(m.applyRun({ dagId: 'etl', runId: 'manual__1', state: 'running' }, now), { kind: 'none' }, 'no change, no refresh');
    assert.deepEqual(m.counts(), { running: 1, failed: 0 });
    m.applyRun({ dagId: 'etl', runId: 'manual__1', state: 'failed' }, now);
    assert.deepEqual(m.counts(), { running: 0, failed: 1 });
  });

  test('an unknown run asks for the list again; a new run goes first', () => {
    const m = new RunsModel();
    m.setRuns([run()]);
    assert.deepEqual(m.applyRun({ dagId: 'etl', runId: 'other', state: 'running' }), { kind: 'root' });
    assert.deepEqual(m.addRun(run({ runId: 'manual__2' })), { kind: 'root' });
    assert.deepEqual(
      m.list().map((e) => e.run.runId),
      ['manual__2', 'manual__1'],
    );
  });

  test('expanded instances of a mapped task replace its placeholder and keep their order', () => {
    const m = new RunsModel();
    m.setRuns([run()]);
    m.setTasks('etl', 'manual__1', [ti('fan'), ti('after')]);
    for (const i of [0, 1, 2]) m.applyTask({ dagId: 'etl', runId: 'manual__1', taskId: 'fan', mapIndex: i, state: 'queued', tryNumber: 1 });
    assert.deepEqual(
      m.get('etl', 'manual__1')!.tasks!.map((t) => `${t.taskId}[${t.mapIndex}]`),
      ['fan[0]', 'fan[1]', 'fan[2]', 'after[-1]'],
    );
  });

  test('setRuns keeps fetched task instances and active runs that fell off the page', () => {
    const m = new RunsModel();
    m.setRuns([run({ state: 'running' })]);
    m.setTasks('etl', 'manual__1', [ti('a')]);
    m.setRuns([run({ runId: 'manual__2' })]);
    assert.deepEqual(
      m.list().map((e) => e.run.runId),
      ['manual__2', 'manual__1'],
    );
    m.setRuns([run({ state: 'success' })]);
    assert.equal(m.get('etl', 'manual__1')!.tasks!.length, 1);
  });
});

describe('rows and messages', () => {
  test('a task instance row shows state, try and duration, and the map index in the label', () => {
    assert.deepEqual(taskInstanceRow(ti('load', { state: 'success', tryNumber: 2, maxTries: 3, duration: 0.3561 })).description, 'success · try 2/3 · 0.36 s');
    assert.equal(taskInstanceRow(ti('fan', { mapIndex: 4, state: 'upstream_failed' })).label, 'fan [4]');
    assert.equal(taskInstanceRow(ti('fan', { mapIndex: 4, state: 'upstream_failed' })).description, 'upstream failed');
    const running = taskInstanceRow(ti('x', { state: 'running', tryNumber: 1, startDate: '2024-01-01T00:00:00.000Z' }), Date.parse('2024-01-01T00:00:12.000Z'));
    assert.equal(running.description, 'running · try 1 · 12.0 s');
    assert.match(taskInstanceRow(ti('x', { state: 'failed', tryNumber: 1, error: 'Error: boom' })).tooltip, /Error: Error: boom/);
  });

  test('run rows, icons and durations', () => {
    assert.equal(runRow(run({ state: 'success', startDate: '2024-01-01T00:00:00.000Z', endDate: '2024-01-01T00:01:05.000Z' })).description, 'success · 2024-01-01 00:00:00 · 1 min 05 s');
    assert.deepEqual(stateIcon('success'), { id: 'pass', color: 'testing.iconPassed' });
    assert.deepEqual(stateIcon('running'), { id: 'sync~spin', color: 'charts.blue' });
    assert.deepEqual(stateIcon(null), { id: 'circle-large-outline' });
    assert.equal(formatDuration(3725), '1 h 02 min');
    assert.equal(formatDuration(null), '');
    assert.equal(formatDuration(-1), '');
  });

  test('the end-of-run message names the failed task and offers its log', () => {
    const failed = endOfRunMessage(run({ state: 'failed' }), [ti('a', { state: 'success' }), ti('b', { state: 'failed', error: 'Error: boom\n    at x' }), ti('c', { state: 'upstream_failed' })]);
    assert.equal(failed.ok, false);
    assert.equal(failed.failedTask?.taskId, 'b');
    assert.equal(failed.message, 'Hangar: run manual__1 of etl failed: task b failed: Error: boom; 1 downstream not run.');
    const ok = endOfRunMessage(run({ state: 'success' }), [ti('a', { state: 'success' })]);
    assert.deepEqual(ok, { ok: true, message: 'Hangar: run manual__1 of etl succeeded (1 task).' });
    assert.match(endOfRunMessage(run({ state: 'failed' }), [ti('a', { state: 'success' })]).message, /no task failed \(the run was stopped\)/);
  });
});
