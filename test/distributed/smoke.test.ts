import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDeployment } from './deployment.ts';

const DAG = `import { dag } from 'hangar';
export const d = dag({ id: 'hello', schedule: null, startDate: '2024-01-01' });
const a = d.task('a', async (ctx) => { ctx.log.info('hello from ' + process.pid); return 21; });
const b = d.task('b', async (ctx) => (await ctx.xcom.pull<number>('a'))! * 2);
a.before(b);
`;

test('smoke: a run through two workers', { timeout: 120_000 }, async () => {
  const dep = await startDeployment({ dags: { 'hello.ts': DAG } });
  try {
    await dep.startWorker('w1');
    await dep.startWorker('w2');
    const r = await dep.hangar(['run', 'hello', '--workspace', dep.schedulerRoot]);
    console.log(r.out);
    for (const w of dep.workers) console.log(w.lines.join('\n'));
    assert.equal(r.code, 0);
    const logs = await dep.hangar([
      'logs',
      r.out.match(/manual__\S+/)![0],
      'a',
      '--workspace',
      dep.schedulerRoot,
    ]);
    console.log(logs.out);
  } finally {
    await dep.close();
  }
});
