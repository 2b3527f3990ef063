// The vscode-free half of "Render templates": document addresses, CodeLens places, the date
// quick pick's choices and the document text (Airflow's `# property:` blocks of `tasks render`).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  dateChoices,
  parseRenderDocQuery,
  renderDocParts,
  renderLensesForFile,
  renderedText,
} from '../../src/vscode/render-doc-model.ts';
import type { DagListResult, RunInfo, TaskInfo, TaskRenderResult } from '../../src/protocol/runtime.ts';

const task = (taskId: string, line: number, templated: boolean, file = '/w/dags/a.ts'): TaskInfo => ({
  taskId,
  kind: 'typescript',
  upstream: [],
  downstream: [],
  mapped: false,
  retries: 0,
  position: { file, line, column: 3 },
  ...(templated ? { templated: true } : {}),
});

test('render documents: the address round-trips; the tab names the task and the date or run', () => {
  for (const t of [
    { dagId: 'd', taskId: 'g.t' },
    { dagId: 'd', taskId: 't', logicalDate: '2024-01-02T00:00:00.000Z' },
    { dagId: 'd/x', taskId: 't', runId: 'manual__2024-01-02T00:00:00+00:00' },
  ]) {
    const { path, query } = renderDocParts(t);
    assert.deepEqual(parseRenderDocQuery(query), t);
    assert.equal(path.split('/').length, 3, `${path}: /DAG/TASK (WHEN).rendered, slashes in ids replaced`);
  }
  assert.equal(renderDocParts({ dagId: 'd', taskId: 't' }).path, '/d/t (next).rendered');
  assert.throws(() => parseRenderDocQuery('dag=d'), /needs dag and task/);
});

test('render CodeLenses: one per task with templated fields defined in the file, by line', () => {
  const list = {
    dags: [
      {
        dagId: 'a',
        tasks: [
          task('late', 20, true),
          task('plain', 5, false),
          task('early', 9, true),
          task('elsewhere', 3, true, '/w/dags/b.ts'),
        ],
      },
    ],
    errors: [],
  } as unknown as DagListResult;
  assert.deepEqual(renderLensesForFile(list, '/w/dags/a.ts'), [
    { dagId: 'a', taskId: 'early', line: 8 },
    { dagId: 'a', taskId: 'late', line: 19 },
  ]);
  assert.deepEqual(renderLensesForFile(undefined, '/w/dags/a.ts'), []);
});

test('render date choices: next scheduled first, then the DAG’s runs by logical date (newest first), then "Enter a date…"', () => {
  const run = (runId: string, logicalDate: string, dagId = 'a'): RunInfo => ({
    dagId,
    runId,
    runType: 'manual',
    state: 'success',
    logicalDate,
    queuedAt: logicalDate,
    startDate: null,
    endDate: null,
    conf: {},
  });
  const choices = dateChoices('a', [
    run('r1', '2024-01-05T00:00:00.000Z'),
    run('r2', '2024-03-01T00:00:00.000Z'),
    run('other', '2024-09-01T00:00:00.000Z', 'b'),
    run('r3', '2024-02-01T00:00:00.000Z'),
  ]);
  assert.deepEqual(
    choices.map((c) => [c.kind, c.kind === 'run' ? c.runId : c.label]),
    [
      ['next', 'Next scheduled run'],
      ['run', 'r2'],
      ['run', 'r3'],
      ['run', 'r1'],
      ['enter', 'Enter a date…'],
    ],
  );
});

test('render document text: each field with its template and rendered value, map indexes, notes', () => {
  const r: TaskRenderResult = {
    dagId: 'd',
    taskId: 't',
    source: 'date',
    runId: 'manual__2024-05-01T00:00:00+00:00',
    logicalDate: '2024-05-01T00:00:00.000Z',
    dataIntervalStart: '2024-05-01T00:00:00.000Z',
    dataIntervalEnd: '2024-05-01T00:00:00.000Z',
    conf: { region: 'us' },
    fields: [
      { field: 'inputs.url', mapIndex: -1, template: 'x://{{ conn.c.password }}', rendered: 'x://***' },
      { field: 'inputs.obj', mapIndex: 1, template: { a: '{{ ds }}' }, rendered: { a: '2024-05-01' } },
    ],
    mapped: true,
    mapNote: null,
    xcomInputs: [{ name: 'src', taskId: 'up', key: 'return_value' }],
  };
  const text = renderedText(r);
  assert.match(
    text,
    /^# d\.t: rendered templates\n# logical date 2024-05-01T00:00:00\.000Z \(the date chosen\)/,
  );
  assert.match(text, /conf \{"region":"us"\}/);
  assert.match(text, /# inputs\.url\n# {3}template: x:\/\/\{\{ conn\.c\.password \}\}\n# -+\nx:\/\/\*\*\*\n/);
  assert.match(text, /# inputs\.obj \[map index 1\]/);
  assert.match(text, /\{\n {2}"a": "2024-05-01"\n\}/);
  assert.match(text, /# input src: the XCom "return_value" of task "up"/);
  assert.match(
    renderedText({ ...r, fields: [], mapNote: 'cannot be known before "up" runs' }),
    /t has no templated fields known yet\.\n\n# note: cannot be known before "up" runs/,
  );
});
