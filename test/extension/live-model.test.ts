/**
 * Live structure, the extension's side without vscode (src/vscode/live-model.ts): the list the trees,
 * the graph and the Problems panel show is the saved dag/list with each parsed buffer in place of its
 * file's part; a slow file keeps its saved part and says why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyLive, liveAction, liveTooltip } from '../../src/vscode/live-model.ts';
import type { LiveFileState } from '../../src/vscode/live-model.ts';
import type { DagInfo, DagListResult, DagParseBufferResult, LoadError } from '../../src/protocol/runtime.ts';

const dag = (dagId: string, file: string, tasks: string[], line = 2): DagInfo => ({
  dagId,
  file,
  description: null,
  schedule: null,
  timezone: 'UTC',
  isPaused: false,
  nextRun: null,
  tags: [],
  position: { file, line, column: 1 },
  tasks: tasks.map((taskId) => ({
    taskId,
    kind: 'typescript',
    upstream: [],
    downstream: [],
    mapped: false,
    retries: 0,
    position: null,
    group: null,
  })),
});
const err = (file: string, line: number, message: string): LoadError => ({
  file,
  line,
  column: 1,
  message: `${file}:${line}:1: ${message}`,
  dagId: null,
});

const saved: DagListResult = {
  dags: [dag('a', '/w/dags/a.ts', ['x']), dag('b', '/w/dags/b.ts', ['y'])],
  errors: [err('/w/dags/c.ts', 3, 'Unexpected ";"'), err('/w/dags/a.ts', 9, 'old error of a')],
  warnings: [err('/w/dags/a.ts', 4, 'slow')],
  files: ['/w/dags/a.ts', '/w/dags/b.ts', '/w/dags/c.ts'],
  ms: 5,
  timings: [],
};
const parsed = (file: string, dags: DagInfo[], errors: LoadError[] = []): LiveFileState => ({
  kind: 'parsed',
  version: 2,
  result: {
    file,
    status: 'parsed',
    dags,
    errors,
    warnings: [],
    compileMs: 1,
    importMs: 1,
    totalMs: 2,
    lastMs: 2,
  } satisfies DagParseBufferResult,
});

test('no buffers: the saved list as it is', () => {
  const l = applyLive(saved, new Map());
  assert.deepEqual(l.dags, saved.dags);
  assert.deepEqual(l.errors, saved.errors);
  assert.equal(l.unsaved.size, 0);
});

test("a parsed buffer replaces its file's DAGs, errors and warnings; other files are kept; DAGs stay sorted", () => {
  const l = applyLive(
    saved,
    new Map([
      [
        '/w/dags/a.ts',
        parsed('/w/dags/a.ts', [
          dag('a', '/w/dags/a.ts', ['x', 'typed']),
          dag('0new', '/w/dags/a.ts', ['t']),
        ]),
      ],
    ]),
  );
  assert.deepEqual(
    l.dags.map((d) => [d.dagId, d.tasks.map((t) => t.taskId)]),
    [
      ['0new', ['t']],
      ['a', ['x', 'typed']],
      ['b', ['y']],
    ],
  );
  assert.deepEqual(
    l.errors.map((e) => e.file),
    ['/w/dags/c.ts'],
    "the file's saved error is gone with the saved structure",
  );
  assert.deepEqual(l.warnings, []);
  assert.deepEqual([...l.unsaved].sort(), ['0new', 'a']);
  assert.match(liveTooltip('a', '/w/dags/a.ts', l)!, /\(unsaved\)/);
  assert.equal(liveTooltip('b', '/w/dags/b.ts', l), undefined);
});

test("a buffer with a syntax error: the error at its line in place of the file's; the tree keeps the last structure that loaded", () => {
  const e = err('/w/dags/a.ts', 5, 'Unexpected ";"');
  // No buffer of the file loaded yet: the saved DAG stays (not marked unsaved).
  const first = applyLive(saved, new Map([['/w/dags/a.ts', parsed('/w/dags/a.ts', [], [e])]]));
  assert.deepEqual(
    first.dags.map((d) => [d.dagId, d.tasks.length]),
    [
      ['a', 1],
      ['b', 1],
    ],
  );
  assert.equal(first.unsaved.size, 0);
  assert.deepEqual(
    first.errors.map((x) => [x.file, x.line]),
    [
      ['/w/dags/c.ts', 3],
      ['/w/dags/a.ts', 5],
    ],
  );
  // A buffer that loaded before: its structure stays while the new one fails.
  const good = [dag('a', '/w/dags/a.ts', ['x', 'typed'])];
  const state: LiveFileState = {
    ...(parsed('/w/dags/a.ts', [], [e]) as Extract<LiveFileState, { kind: 'parsed' }>),
    good,
  };
  const l = applyLive(saved, new Map([['/w/dags/a.ts', state]]));
  assert.deepEqual(
    l.dags.map((d) => [d.dagId, d.tasks.map((t) => t.taskId)]),
    [
      ['a', ['x', 'typed']],
      ['b', ['y']],
    ],
  );
  assert.ok(l.unsaved.has('a'));
  assert.deepEqual(
    l.errors.map((x) => [x.file, x.line]),
    [
      ['/w/dags/c.ts', 3],
      ['/w/dags/a.ts', 5],
    ],
  );
});

test('a buffer defining a DAG id another file has: the other keeps it, the buffer gets the error (as on save)', () => {
  const l = applyLive(
    saved,
    new Map([['/w/dags/a.ts', parsed('/w/dags/a.ts', [dag('b', '/w/dags/a.ts', ['z'], 7)])]]),
  );
  assert.deepEqual(
    l.dags.map((d) => [d.dagId, d.file]),
    [['b', '/w/dags/b.ts']],
  );
  assert.match(
    l.errors.at(-1)!.message,
    /a\.ts:7:1: duplicate DAG id "b": also defined in \/w\/dags\/b\.ts:2:1/,
  );
  assert.equal(l.errors.at(-1)!.line, 7);
});

test('a slow file keeps its saved structure, and the tooltip says it is parsed on save only', () => {
  const l = applyLive(
    saved,
    new Map([
      ['/w/dags/b.ts', { kind: 'slow', version: 3, lastMs: 1500, limitMs: 1000 } satisfies LiveFileState],
    ]),
  );
  assert.deepEqual(l.dags, saved.dags);
  assert.equal(
    liveTooltip('b', '/w/dags/b.ts', l),
    "Not re-parsed while you type: the file's last parse took 1.50 s, more than 1.00 s (`hangar.liveStructure.slowMs`); it is parsed when saved",
  );
});

test('which change parses: a dirty DAG file buffer in a trusted workspace with the setting on; else back to the saved state', () => {
  const base = { isDirty: true, isTrusted: true, enabled: true, isDagFile: true };
  assert.equal(liveAction(base), 'parse');
  assert.equal(liveAction({ ...base, isDirty: false }), 'saved', 'undo back to the saved text, or a revert');
  assert.equal(liveAction({ ...base, isTrusted: false }), 'saved', 'Restricted Mode: nothing is compiled');
  assert.equal(liveAction({ ...base, enabled: false }), 'saved');
  assert.equal(liveAction({ ...base, isDagFile: false }), 'ignore');
});
