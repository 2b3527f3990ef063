// Tests of dags/etl.ts with hangar/testing, run by Node's own runner from this folder:
//   node --test tests/*.test.ts
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { testDag } from 'hangar/testing';
import type { DagTest } from 'hangar/testing';

let t: DagTest;
before(async () => {
  t = await testDag(new URL('../dags/etl.ts', import.meta.url).pathname, { date: '2024-03-01' });
});
after(() => t.close());

test('the whole DAG runs and loads the total', async () => {
  const run = await t.runDag({ conf: { scale: 2 } });
  assert.equal(run.state, 'success');
  assert.deepEqual(run.states, { extract: 'success', transform: 'success', load: 'success' });
  await t.expectXCom('transform', [2, 8, 18, 32]);
  assert.deepEqual(await t.xcom('load'), { target: 'report_20240301.json', total: 60 });
  assert.match(await t.logs('load'), /Writing 60 to report_20240301\.json/);
});

test('transform alone, on given upstream values', async () => {
  const r = await t.runTask('transform', { xcoms: { extract: [5, 6] } });
  assert.equal(r.taskState, 'success');
  assert.deepEqual(r.value, [25, 36]);
});

test('transform fails on a negative number, at the line that throws', async () => {
  const r = await t.runTask('transform', { xcoms: { extract: [1, -2] } });
  assert.equal(r.taskState, 'failed');
  assert.match(r.error ?? '', /negative input -2/);
  assert.match(r.error ?? '', /dags\/etl\.ts:32:/);
});

test('report_date is a date param: a day that exists is logged, one that does not is refused before the run', async () => {
  const run = await t.runDag({ conf: { report_date: '2024-02-29' }, date: '2024-03-02' });
  assert.equal(run.state, 'success');
  assert.match(await t.logs('extract'), /Extracting for 2024-02-29/);
  await assert.rejects(
    t.runDag({ conf: { report_date: '2024-02-30' }, date: '2024-03-03' }),
    /param "report_date" \(from the run's conf\) "2024-02-30" is not a "date"/,
  );
});
