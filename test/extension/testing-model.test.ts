// The Test Explorer's tree (src/vscode/testing-model.ts): built from the runtime server's DAG list.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DagListResult } from '../../src/protocol/runtime.ts';
import { loadTestId, parseTestId, taskTestId, testOutput, testTree } from '../../src/vscode/testing-model.ts';

const task = (taskId: string, line: number) => ({
  taskId,
  kind: 'typescript',
  upstream: [],
  downstream: [],
  mapped: false,
  retries: 0,
  position: { file: '/w/dags/etl.ts', line, column: 3 },
});

const list: DagListResult = {
  dags: [
    {
      dagId: 'etl',
      file: '/w/dags/etl.ts',
      description: null,
      schedule: null,
      timezone: 'UTC',
      isPaused: false,
      nextRun: null,
      tags: [],
      position: { file: '/w/dags/etl.ts', line: 2, column: 1 },
      tasks: [task('extract', 5), task('load', 9)],
    },
  ],
  errors: [
    {
      file: '/w/dags/broken.ts',
      line: 4,
      column: 7,
      message: '/w/dags/broken.ts:4:7: Error: nope',
      dagId: null,
    },
  ],
  files: ['/w/dags/etl.ts', '/w/dags/broken.ts'],
  ms: 1,
  timings: [],
};

test('every DAG file gets a "DAG loads" test; a loaded file its DAGs and their tasks, in order', () => {
  const tree = testTree(list);
  assert.deepEqual(
    tree.map((f) => f.file),
    ['/w/dags/broken.ts', '/w/dags/etl.ts'],
  );
  const [broken, etl] = tree;
  assert.equal(broken!.loadId, loadTestId('/w/dags/broken.ts'));
  assert.deepEqual(broken!.dags, []);
  assert.equal(broken!.errors[0]!.line, 4);
  assert.deepEqual(etl!.errors, []);
  assert.deepEqual(
    etl!.dags[0]!.tasks.map((t) => [t.id, t.position?.line]),
    [
      [taskTestId('etl', 'extract'), 5],
      [taskTestId('etl', 'load'), 9],
    ],
  );
});

test('test ids say what they test', () => {
  assert.deepEqual(parseTestId(taskTestId('etl', 'load')), { kind: 'task', dagId: 'etl', taskId: 'load' });
  assert.deepEqual(parseTestId(loadTestId('/w/dags/a.ts')), { kind: 'load', file: '/w/dags/a.ts' });
  assert.equal(parseTestId('something else'), undefined);
  assert.equal(parseTestId('task:etl'), undefined);
  for (const id of [taskTestId('etl', 'load'), loadTestId('/w/dags/a.ts')])
    assert.ok(!id.includes('\u0000'), 'VS Code refuses \\0 in test ids');
});

test('output for the Test Results terminal has CRLF line ends', () => {
  assert.equal(testOutput('a\nb'), 'a\r\nb\r\n');
  assert.equal(testOutput('a\r\n'), 'a\r\n');
  assert.equal(testOutput(''), '');
});
