import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  assetRows,
  checkKeyId,
  checkKeyMaterial,
  configFromSettings,
  dagDescription,
  dagTooltip,
  diagnosticsByFile,
  formatLocal,
  lensesForFile,
  logRefMatches,
  logUriParts,
  nextKeyId,
  parseDateInput,
  parseLogQuery,
  schedulerStatus,
  taskKindIcon,
} from '../../src/vscode/dags-model.ts';
import type { DagListResult } from '../../src/protocol/runtime.ts';

describe('DAGs tree, diagnostics and CodeLens', () => {
  test('a DAG scheduled on assets: its description says so, and its asset rows say which tasks feed it and which DAGs it feeds', () => {
    const d = {
      dagId: 'report', file: '/w/dags/r.ts', description: null, schedule: 's3://b/orders & s3://b/customers', timezone: 'UTC', isPaused: false, tags: [], position: null, tasks: [], nextRun: null,
      assets: {
        consumes: [{ uri: 's3://b/orders', producers: ['producer.load'] }, { uri: 's3://b/customers', producers: [] }],
        produces: [{ uri: 's3://b/report', tasks: ['publish'], consumers: ['mail'] }],
      },
    };
    assert.equal(dagDescription(d), '0 tasks · on assets s3://b/orders & s3://b/customers');
    assert.match(dagTooltip(d), /Scheduled on assets: `s3:\/\/b\/orders & s3:\/\/b\/customers`/);
    assert.deepEqual(
      assetRows(d).map((r) => [r.label, r.description]),
      [
        ['← s3://b/orders', 'updated by producer.load'],
        ['← s3://b/customers', 'no task in this workspace updates it'],
        ['→ s3://b/report', 'by publish · schedules mail'],
      ],
    );
    assert.deepEqual(assetRows({ ...d, assets: undefined }), [], 'a runtime without assets: no rows');
  });

  test('a DAG shows paused, or its next run in its own zone; the tooltip gives local and UTC', () => {
    const d = {
      dagId: 'zoned', file: '/w/dags/z.ts', description: null, schedule: '@daily', timezone: 'Europe/Amsterdam', isPaused: false, tags: ['etl'], position: null, tasks: [],
      nextRun: { logicalDate: '2024-03-30T23:00:00.000Z', dataIntervalStart: '2024-03-30T23:00:00.000Z', dataIntervalEnd: '2024-03-31T22:00:00.000Z', runAfter: '2024-03-31T22:00:00.000Z' },
    };
    assert.equal(dagDescription(d), '0 tasks · @daily · next 2024-04-01 00:00 GMT+2 · #etl');
    assert.equal(dagDescription({ ...d, isPaused: true }), '0 tasks · @daily · paused · #etl');
    assert.match(dagTooltip(d), /Next run: logical date 2024-03-31 00:00 GMT\+1 \(2024-03-30 23:00 UTC\), data interval .* → 2024-04-01 00:00 GMT\+2 \(2024-03-31 22:00 UTC\)/);
    const parsed = dagTooltip(d, { file: d.file, compileMs: 118.2, importMs: 1234.5, totalMs: 1352.7, parsed: false, parsedAt: '2024-03-30T12:00:00.000Z' });
    assert.match(parsed, /Last parsed at 2024-03-30 13:00 GMT\+1, in 1\.35 s \(compile 118 ms, import 1\.23 s\)/);
    assert.match(dagTooltip(d, { file: d.file, compileMs: null, importMs: 9, totalMs: 9, parsed: true, parsedAt: '2024-03-30T12:00:00.000Z' }), /in 9 ms \(compile cached, import 9 ms\)/);
    assert.equal(formatLocal('2024-01-01T00:00:00Z', 'UTC+05:30'), '2024-01-01 05:30 GMT+5:30');
    assert.equal(formatLocal('2024-01-01T00:00:00Z', 'Not/AZone'), '2024-01-01T00:00:00Z');
    assert.match(schedulerStatus(true).text, /Scheduler on/);
    assert.match(schedulerStatus(false).text, /Scheduler off/);
  });

  test('load errors become diagnostics per file at 0-based positions, without the position prefix', () => {
    const d = diagnosticsByFile([
      { file: '/w/dags/a.ts', line: 5, column: 14, message: '/w/dags/a.ts:5:14: Unexpected ";"', dagId: null },
      { file: '/w/dags/a.ts', line: null, column: null, message: 'Cycle: a → b → a', dagId: 'x' },
      { file: '/w/dags/b.ts', line: 2, column: 1, message: 'duplicate DAG id "x"', dagId: 'x' },
    ]);
    assert.deepEqual(d.get('/w/dags/a.ts'), [
      { line: 4, column: 13, message: 'Unexpected ";"' },
      { line: 0, column: 0, message: 'Cycle: a → b → a' },
    ]);
    assert.equal(d.get('/w/dags/b.ts')!.length, 1);
  });

  test('CodeLenses go above each DAG defined in the file', () => {
    const list: DagListResult = {
      dags: [
        { dagId: 'b', file: '/w/dags/x.ts', description: null, schedule: null, timezone: 'UTC', isPaused: false, nextRun: null, tags: [], position: { file: '/w/dags/x.ts', line: 30, column: 1 }, tasks: [] },
        { dagId: 'a', file: '/w/dags/x.ts', description: null, schedule: null, timezone: 'UTC', isPaused: false, nextRun: null, tags: [], position: { file: '/w/dags/x.ts', line: 3, column: 1 }, tasks: [] },
        { dagId: 'c', file: '/w/dags/y.ts', description: null, schedule: null, timezone: 'UTC', isPaused: false, nextRun: null, tags: [], position: null, tasks: [] },
      ],
      errors: [],
      files: [],
      ms: 1,
      timings: [],
    };
    assert.deepEqual(lensesForFile(list, '/w/dags/x.ts'), [
      { dagId: 'a', line: 2 },
      { dagId: 'b', line: 29 },
    ]);
    assert.deepEqual(lensesForFile(list, '/w/dags/y.ts'), [{ dagId: 'c', line: 0 }]);
    assert.deepEqual(lensesForFile(undefined, '/w/dags/y.ts'), []);
  });

  test('task kinds have icons; mapped tasks show layers', () => {
    assert.equal(taskKindIcon({ kind: 'bash', mapped: false }), 'terminal');
    assert.equal(taskKindIcon({ kind: 'sensor', mapped: false }), 'eye');
    assert.equal(taskKindIcon({ kind: 'python', mapped: true }), 'layers');
    assert.equal(taskKindIcon({ kind: 'something-new', mapped: false }), 'symbol-event');
  });
});

describe('settings', () => {
  test('only settings that are set override hangar.json', () => {
    const s: Record<string, unknown> = { dagsFolder: ' pipelines ', store: '', parallelism: 4.7, executor: 'in-process', 'xcom.backend': 'compressed', 'xcom.compressionThreshold': 512, 'xcom.fileThreshold': null };
    assert.deepEqual(
      configFromSettings((k) => s[k]),
      { dagsFolder: 'pipelines', parallelism: 4, executor: 'in-process', xcom: { backend: 'compressed', compression: { threshold: 512 } } },
    );
    assert.deepEqual(
      configFromSettings(() => undefined),
      {},
    );
    assert.deepEqual(
      configFromSettings((k) => (k === 'executor' ? 'threads' : undefined)),
      {},
      'an unknown executor is ignored (the manifest enum prevents it)',
    );
  });
});

describe('log documents', () => {
  test('the address round-trips and names the tab after the task', () => {
    const ref = { dagId: 'etl', runId: 'manual__2024-01-01T00:00:00+00:00', taskId: 'load', mapIndex: 3, tryNumber: 2 };
    const { path, query } = logUriParts(ref);
    assert.equal(path, '/etl/manual__2024-01-01T00:00:00+00:00/load[3] try 2.log');
    assert.deepEqual(parseLogQuery(query), ref);
    assert.deepEqual(parseLogQuery(logUriParts({ ...ref, tryNumber: undefined }).query), { ...ref, tryNumber: undefined });
  });

  test('bad addresses are refused with what is missing', () => {
    assert.throws(() => parseLogQuery('dag=a&run=b'), /needs dag, run, task and map/);
    assert.throws(() => parseLogQuery('dag=a&run=b&task=c&map=-1&try=0'), /try "0" is not a whole number ≥ 1/);
  });

  test('a document without a try follows every try of its task; with one, only that try', () => {
    const e = { dagId: 'etl', runId: 'r', taskId: 't', mapIndex: -1, tryNumber: 2 };
    assert.equal(logRefMatches({ dagId: 'etl', runId: 'r', taskId: 't', mapIndex: -1 }, e), true);
    assert.equal(logRefMatches({ dagId: 'etl', runId: 'r', taskId: 't', mapIndex: -1, tryNumber: 1 }, e), false);
    assert.equal(logRefMatches({ dagId: 'etl', runId: 'r', taskId: 't', mapIndex: 0 }, e), false);
  });
});

describe('command input', () => {

  test('backfill dates', () => {
    assert.equal(parseDateInput('2024-01-31', 'From date'), '2024-01-31T00:00:00.000Z');
    assert.equal(parseDateInput('2024-01-31 06:30', 'To date'), '2024-01-31T06:30:00.000Z');
    assert.equal(parseDateInput('2024-01-31T06:30:00+02:00', 'To date'), '2024-01-31T04:30:00.000Z');
    assert.throws(() => parseDateInput('31/01/2024', 'From date'), /From date: "31\/01\/2024" is not a date like 2024-01-31/);
    assert.throws(() => parseDateInput('2024-02-31x', 'To date'), /To date/);
  });

  test('XCom keys: 32 bytes of base64, valid unique ids, next rotation id', () => {
    assert.equal(checkKeyMaterial(Buffer.alloc(32, 7).toString('base64')), undefined);
    assert.match(checkKeyMaterial(Buffer.alloc(16).toString('base64'))!, /must be 32 bytes; this one decodes to 16/);
    assert.match(checkKeyMaterial('not base64!')!, /base64/);
    assert.equal(checkKeyId('key-1', []), undefined);
    assert.match(checkKeyId('key 1', [])!, /1 to 64 of/);
    assert.match(checkKeyId('key-1', ['key-1'])!, /already a key "key-1"/);
    assert.equal(nextKeyId(['key-1', 'key-7', 'other']), 'key-8');
    assert.equal(nextKeyId([]), 'key-1');
  });
});
