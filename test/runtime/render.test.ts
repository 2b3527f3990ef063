/**
 * `renderTask`: a task's templated fields as its try would render them, before it runs —
 * Airflow's `airflow tasks render` (airflow/cli/commands/task_command.py task_render: the task
 * instance of a run, or one built in memory for a logical date, then render_template_fields)
 * and the Rendered Template view, whose values are redacted by the secrets masker
 * (airflow/models/renderedtifields.py serialize_rendered_field → redact).
 * Runs on the suite's store (SQLite, or PostgreSQL with HANGAR_TEST_STORE=postgres).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Runtime } from '../../src/runtime/runtime.ts';
import { FakeClock } from '../../src/runtime/scheduler/clock.ts';
import { RenderError, renderTask, templatedFields } from '../../src/runtime/render.ts';
import { maskSecrets } from '../../src/runtime/executor/logger.ts';
import { RuntimeService } from '../../src/runtime/server/service.ts';
import type { DagListResult, TaskRenderFailure, TaskRenderResult } from '../../src/protocol/runtime.ts';
import { tempWorkspace } from '../helpers/workspace.ts';

const PASSWORD = 'pw-Xq81-secret';
const TOKEN = 'tok-99-abcdef';
const DAG = `import { dag, fileSensor, param } from 'hangar';
export const d = dag({
  id: 'render_me',
  schedule: '@daily',
  startDate: '2024-01-01',
  params: { region: 'eu', rows: param(10, { type: 'integer', minimum: 1 }) },
});
d.bash('report', 'echo {{ ds }} {{ params.region }} rows={{ params.rows }} to {{ var.value.bucket }} next {{ macros.ds_add(ds, 1) }}');
const load = d.task(
  'load',
  {
    inputs: {
      url: 'postgres://{{ conn.warehouse.login }}:{{ conn.warehouse.password }}@{{ conn.warehouse.host }}/{{ ds_nodash }}',
      headers: { auth: 'Bearer {{ var.value.api_token }}', day: '{{ ds }}' },
      n: 5,
    },
  },
  async (_ctx, i) => i,
);
const plain = d.task('plain', async () => [1, 2]);
d.task('broken', { inputs: { ok: '{{ ds }}', x: 'a {{ params.nope.deeper }} b' } }, async () => 1);
d.task('fan', { expand: { item: ['a-{{ ds }}', 'b-{{ params.region }}'] } }, async (_ctx, i) => i);
fileSensor(d, 'wait', { path: '/data/{{ params.region }}/{{ ds_nodash }}.csv' });
d.task('per', { inputs: { src: load }, expand: { part: plain } }, async () => 1);
`;

async function open() {
  const ws = tempWorkspace(
    { 'dags/render.ts': DAG },
    { connections: { warehouse: `postgres://etl:${PASSWORD}@db.example.com:5432/dw` } },
  );
  // 2024-03-10 12:00 UTC: the next scheduled run of a @daily DAG without catchup is the interval 03-09 → 03-10.
  const clock = new FakeClock(Date.UTC(2024, 2, 10, 12));
  const rt = await Runtime.open(ws.root, { clock, config: { executor: 'in-process' } });
  const bag = await rt.loadDags();
  assert.deepEqual(bag.errors, []);
  await rt.store.variables.set('bucket', 's3://reports', null);
  await rt.store.variables.set('api_token', TOKEN, null);
  return { ws, rt, close: async () => (await rt.close(), ws.remove()) };
}

const value = (r: Awaited<ReturnType<typeof renderTask>>, field: string, mapIndex = -1) =>
  r.fields.find((f) => f.field === field && f.mapIndex === mapIndex)?.rendered;

test('render: the next scheduled run by default; ds, params, var, macros and a connection resolved; secrets masked', async () => {
  const { rt, close } = await open();
  try {
    const r = await renderTask(rt, 'render_me', 'report');
    assert.equal(r.source, 'next');
    assert.equal(r.logicalDate, '2024-03-09T00:00:00.000Z');
    assert.equal(r.dataIntervalEnd, '2024-03-10T00:00:00.000Z');
    assert.equal(r.runId, 'scheduled__2024-03-09T00:00:00+00:00');
    assert.equal(value(r, 'command'), 'echo 2024-03-09 eu rows=10 to s3://reports next 2024-03-10');

    const load = await renderTask(rt, 'render_me', 'load', { logicalDate: new Date('2024-05-01T00:00:00Z') });
    assert.equal(load.source, 'date');
    assert.equal(load.runId, 'manual__2024-05-01T00:00:00+00:00');
    // The connection's password and the secret-looking variable are masked; the rest is rendered.
    assert.equal(value(load, 'inputs.url'), 'postgres://etl:***@db.example.com/20240501');
    assert.deepEqual(value(load, 'inputs.headers'), { auth: 'Bearer ***', day: '2024-05-01' });
    assert.ok(
      !JSON.stringify(load).includes(PASSWORD) && !JSON.stringify(load).includes(TOKEN),
      'no secret in the result',
    );
    // A number input holds no text: not a templated field.
    assert.deepEqual(
      load.fields.map((f) => f.field),
      ['inputs.url', 'inputs.headers'],
    );
    assert.deepEqual(templatedFields(rt.getDag('render_me').tasks.get('plain')!), []);
    // A file sensor's path, as each poke renders it.
    assert.equal(
      value(
        await renderTask(rt, 'render_me', 'wait', { logicalDate: new Date('2024-05-01T00:00:00Z') }),
        'target',
      ),
      '/data/eu/20240501.csv',
    );
  } finally {
    await close();
  }
});

test('render: --conf over the DAG params; a conf the params refuse; unknown DAG and task', async () => {
  const { rt, close } = await open();
  try {
    const r = await renderTask(rt, 'render_me', 'report', { conf: { region: 'us', rows: 3 } });
    assert.equal(value(r, 'command'), 'echo 2024-03-09 us rows=3 to s3://reports next 2024-03-10');
    await assert.rejects(renderTask(rt, 'render_me', 'report', { conf: { rows: 0 } }), (err: unknown) => {
      assert.ok(err instanceof RenderError);
      assert.equal(err.code, 'invalid_params');
      assert.match(err.message, /param "rows"/);
      return true;
    });
    await assert.rejects(
      renderTask(rt, 'nope', 'report'),
      (err: unknown) =>
        err instanceof RenderError && err.code === 'not_found' && /No DAG "nope"/.test(err.message),
    );
    await assert.rejects(
      renderTask(rt, 'render_me', 'nope'),
      (err: unknown) =>
        err instanceof RenderError &&
        err.code === 'not_found' &&
        /has no task "nope".*report/.test(err.message),
    );
  } finally {
    await close();
  }
});

test('render: a template error names the DAG, task and field, at the string literal in the .ts file', async () => {
  const { ws, rt, close } = await open();
  try {
    const file = join(ws.dags, 'render.ts');
    const offset = DAG.indexOf("'a {{ params.nope.deeper }} b'");
    const before = DAG.slice(0, offset).split('\n');
    const at = `${file}:${before.length}:${before.at(-1)!.length + 1}`;
    await assert.rejects(renderTask(rt, 'render_me', 'broken'), (err: unknown) => {
      assert.ok(err instanceof RenderError);
      assert.equal(err.code, 'template_error');
      assert.equal(err.field, 'inputs.x');
      assert.equal(`${err.position!.file}:${err.position!.line}:${err.position!.column}`, at);
      assert.ok(
        err.message.startsWith(`${at}: DAG "render_me", task "broken", field "inputs.x": `),
        err.message,
      );
      assert.match(err.message, /unknown attribute "nope"/);
      return true;
    });
  } finally {
    await close();
  }
});

test("render: --run renders with that run's logical date and conf", async () => {
  const { rt, close } = await open();
  try {
    const run = await rt.triggerRun('render_me', {
      logicalDate: new Date('2024-02-01T00:00:00Z'),
      conf: { region: 'apac' },
    });
    const r = await renderTask(rt, 'render_me', 'report', { runId: run.run_id });
    assert.equal(r.source, 'run');
    assert.equal(r.runId, run.run_id);
    assert.deepEqual(r.conf, { region: 'apac' });
    assert.equal(value(r, 'command'), 'echo 2024-02-01 apac rows=10 to s3://reports next 2024-02-02');
    await assert.rejects(
      renderTask(rt, 'render_me', 'report', { runId: 'nope' }),
      (err: unknown) =>
        err instanceof RenderError && err.code === 'not_found' && /has no run "nope"/.test(err.message),
    );
    await assert.rejects(
      renderTask(rt, 'render_me', 'report', { runId: run.run_id, conf: {} }),
      (err: unknown) => err instanceof RenderError && err.code === 'usage',
    );
  } finally {
    await close();
  }
});

test('render: a mapped task per map index when its list is known; an XCom list cannot be known before its upstream runs', async () => {
  const { rt, close } = await open();
  try {
    const fan = await renderTask(rt, 'render_me', 'fan', { logicalDate: new Date('2024-06-01T00:00:00Z') });
    assert.equal(fan.mapped, true);
    assert.equal(fan.mapNote, null);
    assert.deepEqual(
      fan.fields.map((f) => [f.field, f.mapIndex, f.template, f.rendered]),
      [
        ['expand.item', 0, 'a-{{ ds }}', 'a-2024-06-01'],
        ['expand.item', 1, 'b-{{ params.region }}', 'b-eu'],
      ],
    );
    const per = await renderTask(rt, 'render_me', 'per');
    assert.equal(per.fields.length, 0);
    assert.match(per.mapNote ?? '', /cannot be known before "plain" runs/);
    assert.deepEqual(per.xcomInputs, [{ name: 'src', taskId: 'load', key: 'return_value' }]);
    // In a past run where its upstream ran, the list is that run's XCom: one entry per map index.
    const past = await rt.testTask('render_me', 'plain', new Date('2024-02-01T00:00:00Z'));
    const known = await renderTask(rt, 'render_me', 'per', { runId: past.run_id });
    assert.equal(known.mapNote, null);
    assert.deepEqual(
      known.fields.map((f) => [f.field, f.mapIndex, f.rendered]),
      [
        ['expand.part', 0, 1],
        ['expand.part', 1, 2],
      ],
    );
  } finally {
    await close();
  }
});

test('task/render (the runtime server): the result or the template failure with its position; dag/list says which tasks are templated', async () => {
  const ws = tempWorkspace(
    { 'dags/render.ts': DAG },
    { connections: { warehouse: `postgres://etl:${PASSWORD}@db.example.com:5432/dw` } },
  );
  const setup = await Runtime.open(ws.root);
  await setup.store.variables.set('api_token', TOKEN, null);
  await setup.close();
  const s = new RuntimeService(() => {});
  try {
    await s.handle('runtime/initialize', { workspace: ws.root, config: {} });
    const list = (await s.handle('dag/list', {})) as DagListResult;
    const tasks = list.dags.find((d) => d.dagId === 'render_me')!.tasks;
    assert.deepEqual(
      tasks
        .filter((t) => t.templated)
        .map((t) => t.taskId)
        .sort(),
      ['broken', 'fan', 'load', 'report', 'wait'],
    );
    const ok = (await s.handle('task/render', {
      dagId: 'render_me',
      taskId: 'load',
      logicalDate: '2024-05-01T00:00:00Z',
    })) as { result: TaskRenderResult; failure: null };
    assert.equal(ok.failure, null);
    assert.equal(
      ok.result.fields.find((f) => f.field === 'inputs.url')?.rendered,
      'postgres://etl:***@db.example.com/20240501',
    );
    assert.deepEqual(ok.result.fields.find((f) => f.field === 'inputs.headers')?.rendered, {
      auth: 'Bearer ***',
      day: '2024-05-01',
    });
    const bad = (await s.handle('task/render', { dagId: 'render_me', taskId: 'broken' })) as {
      result: null;
      failure: TaskRenderFailure;
    };
    assert.equal(bad.result, null);
    assert.equal(bad.failure.code, 'template_error');
    assert.equal(bad.failure.field, 'inputs.x');
    assert.equal(bad.failure.position?.file, join(ws.dags, 'render.ts'));
    await assert.rejects(
      s.handle('task/render', { dagId: 'render_me', taskId: 'nope' }),
      /has no task "nope"/,
    );
    await assert.rejects(
      s.handle('task/render', { dagId: 'render_me', taskId: 'load', logicalDate: 'soon' }),
      /"logicalDate" must be an ISO date/,
    );
  } finally {
    await s.handle('runtime/shutdown', {});
    ws.remove();
  }
});

test('render: what the run then gets is what was rendered (the same context and engine), `conn` included', async () => {
  const { rt, close } = await open();
  try {
    const date = new Date('2024-05-01T00:00:00Z');
    const shown = await renderTask(rt, 'render_me', 'load', { logicalDate: date });
    const run = await rt.testTask('render_me', 'load', date);
    const ti = await rt.store.tasks.get('render_me', run.run_id, 'load');
    assert.equal(ti?.state, 'success', ti?.error ?? '');
    const row = (await rt.store.xcoms.get('render_me', run.run_id, 'load', 'return_value', -1))!;
    const got = (await rt.backend.deserialize(
      { dagId: 'render_me', runId: run.run_id, taskId: 'load', mapIndex: -1, key: 'return_value' },
      row.value,
    )) as Record<string, unknown>;
    // The task received the password itself; the render showed it masked, and everything else alike.
    assert.equal(got.url, `postgres://etl:${PASSWORD}@db.example.com/20240501`);
    assert.equal(maskSecrets(String(got.url)), value(shown, 'inputs.url'));
    assert.deepEqual(
      { ...(got.headers as object), auth: maskSecrets((got.headers as { auth: string }).auth) },
      value(shown, 'inputs.headers'),
    );
  } finally {
    await close();
  }
});
