import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { dag, DagDefinitionError } from '../../src/runtime/dag/index.ts';
import { durationMs } from '../../src/runtime/dag/duration.ts';
import { manualDataInterval, parseSchedule, scheduledDataInterval } from '../../src/runtime/dag/schedule.ts';
import { tempWorkspace } from '../helpers/workspace.ts';

test('authoring: TaskFlow inputs create dependencies; chain fans out and in', () => {
  const d = dag({ id: 'shapes', defaultArgs: { retries: 2, retryDelay: '30s' } });
  const a = d.task('a', async () => 1);
  const b = d.task('b', { inputs: { x: a } }, async (_c, { x }) => x + 1);
  const c1 = d.task('c1', async () => 'c1');
  const c2 = d.task('c2', { retries: 0 }, async () => 'c2');
  const e = d.task('e', async () => null);
  d.chain(b, [c1, c2], e);
  const f = d.task('f', async () => 0);
  e.before(f);
  d.validate();
  assert.deepEqual([...d.tasks.get('b')!.upstream], ['a']);
  assert.deepEqual([...d.tasks.get('b')!.downstream].sort(), ['c1', 'c2']);
  assert.deepEqual([...d.tasks.get('e')!.upstream].sort(), ['c1', 'c2']);
  assert.deepEqual(d.topologicalOrder(), ['a', 'b', 'c1', 'c2', 'e', 'f']);
  assert.equal(d.tasks.get('a')!.retries, 2, 'defaultArgs apply');
  assert.equal(d.tasks.get('c2')!.retries, 0, 'a task overrides defaultArgs');
  assert.equal(d.tasks.get('a')!.retryDelayMs, 30_000);
  assert.equal(a.output.taskId, 'a');
  assert.equal(a.output.key, 'return_value');
  assert.equal(a.xcom('k').key, 'k');
  assert.equal(d.tasks.get('a')!.triggerRule, 'all_success');
});

test('authoring: XCom references to other keys create the dependency too', () => {
  const d = dag({ id: 'keys' });
  const a = d.task('a', async (ctx) => {
    await ctx.xcom.push('rows', [1, 2]);
  });
  d.task('b', { inputs: { rows: a.xcom<number[]>('rows') } }, async (_c, { rows }) => rows.length);
  d.validate();
  assert.deepEqual([...d.tasks.get('b')!.upstream], ['a']);
});

test('authoring: bad arguments are rejected with the DAG and task named', () => {
  const d = dag({ id: 'bad' });
  assert.throws(() => d.task('t', { triggerRule: 'sometimes' as never }, async () => 1), /task "t" of DAG "bad": unknown trigger rule "sometimes"/);
  assert.throws(() => d.task('r', { retries: -1 }, async () => 1), /retries must be a whole number/);
  assert.throws(() => d.task('x', {} as never), DagDefinitionError);
  assert.throws(() => d.task('y', { retryDelay: 'soon' }, async () => 1), /"soon" is not a duration/);
  assert.throws(() => dag({ id: 'c', schedule: '61 * * * *' }), /DAG "c": cron expression "61 \* \* \* \*" is not valid: Constraint error, got value 61 expected range 0-59/);
});

test('durations: seconds or unit strings', () => {
  assert.equal(durationMs(1.5, 'x'), 1500);
  assert.equal(durationMs('1h30m', 'x'), 5_400_000);
  assert.equal(durationMs('250ms', 'x'), 250);
  assert.throws(() => durationMs(-1, 'x'));
});

test('cron: next and previous ticks', () => {
  const at = (iso: string) => new Date(iso);
  const c = parseSchedule('*/15 9-17 * * mon-fri');
  assert.equal(scheduledDataInterval(c, at('2024-01-12T17:45:00Z')).end.toISOString(), '2024-01-15T09:00:00.000Z', 'Friday evening → Monday 9:00');
  assert.equal(manualDataInterval(c, at('2024-01-15T09:00:00Z')).start.toISOString(), '2024-01-12T17:45:00.000Z');
  const monthly = parseSchedule('0 0 1 * *');
  assert.equal(manualDataInterval(monthly, at('2024-01-31T12:00:00Z')).end.toISOString(), '2024-01-01T00:00:00.000Z');
  assert.equal(manualDataInterval(monthly, at('2024-03-01T00:00:00Z')).start.toISOString(), '2024-02-01T00:00:00.000Z');
  // Both day fields restricted: either may match (POSIX cron, croniter's day_or default).
  const either = parseSchedule('0 0 13 * 5');
  assert.equal(scheduledDataInterval(either, at('2024-09-01T00:00:00Z')).start.toISOString(), '2024-09-06T00:00:00.000Z');
});

test('TypeScript checks the type of the data passed between tasks', () => {
  const ws = tempWorkspace({
    'dags/typed.ts': `import { dag } from 'hangar';
export const d = dag({ id: 'typed' });
const extract = d.task('extract', async () => ({ rows: [1, 2, 3] }));
d.task('ok', { inputs: { data: extract } }, async (_ctx, { data }) => data.rows.length);
d.task('wrong', { inputs: { data: extract } }, async (_ctx, { data }) => data.rows.toUpperCase());
`,
  });
  try {
    ws.write(
      'tsconfig.json',
      JSON.stringify({
        compilerOptions: { strict: true, noEmit: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2023', skipLibCheck: true, allowImportingTsExtensions: true, types: ['node'], typeRoots: [join(process.cwd(), 'node_modules', '@types')], paths: { hangar: [join(process.cwd(), 'src/runtime/dag/index.ts')] } },
        include: ['dags/**/*.ts'],
      }),
    );
    const r = spawnSync(process.execPath, [join(process.cwd(), 'node_modules/typescript/bin/tsc'), '-p', ws.root], { encoding: 'utf8' });
    const diagnostics = r.stdout.trim().split('\n').filter(Boolean);
    assert.equal(diagnostics.length, 1, r.stdout);
    assert.match(diagnostics[0]!, /typed\.ts\(5,\d+\): error TS2339: Property 'toUpperCase' does not exist on type 'number\[\]'/);
  } finally {
    ws.remove();
  }
});
