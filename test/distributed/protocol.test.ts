import { test } from 'node:test';
import assert from 'node:assert/strict';
import { newCallbackId, parseJob, parseLogLines, parseTryNews, tryJobId } from '../../src/runtime/distributed/protocol.ts';

const JOB = {
  kind: 'try',
  version: '0.1.0',
  bundleHash: 'a'.repeat(64),
  dagFile: '/repo/dags/etl.ts',
  dagId: 'etl',
  runId: 'manual__2024-01-01T00:00:00+00:00',
  run: {
    run_id: 'manual__2024-01-01T00:00:00+00:00',
    run_type: 'manual',
    logical_date: '2024-01-01T00:00:00.000Z',
    data_interval_start: '2024-01-01T00:00:00.000Z',
    data_interval_end: '2024-01-01T00:00:00.000Z',
    conf: '{}',
  },
  taskId: 'load',
  mapIndex: -1,
  tryNumber: 1,
  maxTries: 2,
  timeoutMs: null,
  logKey: 'dag_id=etl/run_id=manual__2024-01-01T00%3a00%3a00+00%3a00/task_id=load/attempt=1.log',
};

test('worker jobs are checked at the boundary: ids that would name a path, a bad hash, a bad kind are refused naming the field', () => {
  assert.deepEqual(parseJob(JOB), JOB);
  for (const [field, value, message] of [
    ['taskId', '../../etc', /job field taskId is not a DAG or task id/],
    ['dagId', 'a/b', /job field dagId is not a DAG or task id/],
    ['bundleHash', 'zz', /job field bundleHash must be a sha256 in hex/],
    ['tryNumber', 0, /job field tryNumber must be a whole number ≥ 1/],
    ['kind', 'shell', /job kind must be "try" or "callback", not "shell"/],
    ['run', undefined, /job field run must be an object/],
    ['run', { ...JOB.run, conf: {} }, /job field run\.conf must be a string/],
    ['run', { ...JOB.run, run_id: 'other' }, /job field run\.run_id must be the job's runId/],
  ] as const) {
    assert.throws(() => parseJob({ ...JOB, [field]: value }), message, field);
  }
  // A job of another version passes with its key alone: the worker refuses it naming both versions.
  const { run: _run, ...older } = { ...JOB, version: '0.0.1-other' };
  assert.deepEqual(parseJob(older), older);
  // A job id is the try's identity: the same try, the same id; BullMQ ids may not hold ':'.
  const key = { dag_id: 'etl', run_id: JOB.runId, task_id: 'load', map_index: -1, try_number: 1 };
  assert.equal(tryJobId(key), tryJobId({ ...key }));
  assert.notEqual(tryJobId(key), tryJobId({ ...key, try_number: 2 }));
  assert.doesNotMatch(tryJobId(key), /:/);
});

test('callback jobs are checked too: their id names their record in the store and nothing else', () => {
  const cb = {
    kind: 'callback',
    id: newCallbackId(),
    version: JOB.version,
    bundleHash: JOB.bundleHash,
    dagFile: JOB.dagFile,
    dagId: 'etl',
    taskId: 'load',
    name: 'onFailure',
    context: { dag_id: 'etl' },
    timeoutMs: 60_000,
    logKey: null,
  };
  assert.deepEqual(parseJob(cb), cb);
  assert.match(cb.id, /^callback-[0-9a-f]{32}$/);
  assert.notEqual(newCallbackId(), cb.id);
  for (const [field, value, message] of [
    ['id', undefined, /job field id must be a non-empty string/],
    ['id', 'callback-../../x', /job field id is not a callback id/],
    ['id', tryJobId({ dag_id: 'etl', run_id: 'r', task_id: 'load', map_index: -1, try_number: 1 }), /job field id is not a callback id/],
    ['name', 'onEverything', /job field name must be a callback name/],
    ['taskId', '../x', /job field taskId is not a DAG or task id/],
    ['context', null, /job field context must be an object/],
  ] as const) {
    assert.throws(() => parseJob({ ...cb, [field]: value }), message, field);
  }
});

test("a worker's news of a try is checked as received: a start with its pid and host, an end; anything else is ignored", () => {
  assert.deepEqual(parseTryNews('{"job":"j","started":{"pid":7,"hostname":"w1"}}'), {
    job: 'j',
    started: { pid: 7, hostname: 'w1' },
  });
  assert.deepEqual(parseTryNews('{"job":"j","ended":true}'), { job: 'j', ended: true });
  // An outcome is never taken from the channel (the store holds it): such a message is not news.
  for (const text of [
    'not json',
    '{"started":{"pid":7,"hostname":"w1"}}',
    '{"job":"j","started":{"pid":"7","hostname":"w1"}}',
    '{"job":"j","outcome":{"ok":true,"pid":1},"ran":true}',
    '{"job":"j","ended":"yes"}',
  ])
    assert.equal(parseTryNews(text), undefined, text);
});

test("a worker's published log lines are checked as received: a job id and a list of strings; anything else is ignored", () => {
  assert.deepEqual(parseLogLines(JSON.stringify({ job: 'j', lines: ['a', 'b'] })), {
    job: 'j',
    lines: ['a', 'b'],
  });
  assert.deepEqual(parseLogLines(JSON.stringify({ job: 'j', lines: [] })), { job: 'j', lines: [] });
  for (const bad of [
    'not json',
    'null',
    '[]',
    '{"job":"j","line":"a"}',
    '{"job":1,"lines":["a"]}',
    '{"job":"j","lines":["a",2]}',
    '{"job":"j","lines":"a"}',
  ])
    assert.equal(parseLogLines(bad), undefined, bad);
});
