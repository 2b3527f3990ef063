/**
 * `hangar render DAG TASK`: Airflow's `airflow tasks render` (airflow/cli/commands/task_command.py
 * task_render: the templated fields of a task instance, for a logical date or a run id), through
 * the real CLI — table and JSON output, secrets masked, and one error document per failure with a
 * stable code. The JSON shape is validated against docs/cli-schema/render.json in schema.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { tempWorkspace } from '../helpers/workspace.ts';
import { hangar } from '../helpers/cli.ts';

const PASSWORD = 'cli-Pw-77-secret';
const DAG = `import { dag, param } from 'hangar';
export const d = dag({ id: 'rend', schedule: '@daily', startDate: '2024-01-01', params: { n: param(2, { type: 'integer', minimum: 1 }) } });
d.bash('say', 'echo {{ ds }} n={{ params.n }} as {{ conn.db.login }}:{{ conn.db.password }}');
d.task('bad', { inputs: { q: 'x {{ nope }}' } }, async () => 1);
`;

test(
  'hangar render: table and JSON for a date and --conf; secrets masked; errors with stable codes',
  { timeout: 120_000 },
  () => {
    const ws = tempWorkspace(
      { 'dags/rend.ts': DAG },
      { connections: { db: `postgres://app:${PASSWORD}@localhost/x` } },
    );
    try {
      const args = (...a: string[]) => [...a, '--workspace', ws.root];
      const table = hangar(args('render', 'rend', 'say', '--date', '2024-03-01', '--conf', '{"n": 5}'));
      assert.equal(table.code, 0, table.stderr);
      assert.match(table.stdout, /rend\.say rendered for 2024-03-01T00:00:00\.000Z \(the given date\)/);
      assert.match(table.stdout, /command +echo 2024-03-01 n=5 as app:\*\*\*/);
      assert.ok(!table.stdout.includes(PASSWORD));

      const json = hangar(args('render', 'rend', 'say', '--date', '2024-03-01', '--json'));
      assert.equal(json.code, 0, json.stderr);
      const doc = JSON.parse(json.stdout) as {
        source: string;
        run_id: string;
        fields: { field: string; map_index: number; rendered: unknown }[];
      };
      assert.equal(doc.source, 'date');
      assert.equal(doc.run_id, 'manual__2024-03-01T00:00:00+00:00');
      assert.deepEqual(doc.fields, [
        {
          field: 'command',
          map_index: -1,
          template: 'echo {{ ds }} n={{ params.n }} as {{ conn.db.login }}:{{ conn.db.password }}',
          rendered: 'echo 2024-03-01 n=2 as app:***',
        },
      ]);

      const error = (a: string[], exit: number, code: string) => {
        const r = hangar(args(...a, '--json'));
        assert.equal(r.code, exit, r.stderr);
        assert.equal(r.stdout, '');
        const e = (JSON.parse(r.stderr) as { error: Record<string, unknown> }).error;
        assert.equal(e.code, code, r.stderr);
        assert.equal(e.exit_code, exit);
        return e;
      };
      const at = `${join(ws.dags, 'rend.ts')}:4:30`;
      const tmpl = error(['render', 'rend', 'bad'], 1, 'template_error');
      assert.deepEqual([tmpl.dag_id, tmpl.task_id, tmpl.field], ['rend', 'bad', 'inputs.q']);
      assert.deepEqual(tmpl.position, { file: join(ws.dags, 'rend.ts'), line: 4, column: 30 });
      assert.match(
        String(tmpl.message),
        new RegExp(
          `^${at.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: DAG "rend", task "bad", field "inputs.q": unknown template variable "nope"`,
        ),
      );
      assert.match(String(error(['render', 'rend', 'nope'], 3, 'not_found').message), /has no task "nope"/);
      assert.equal(error(['render', 'nodag', 'say'], 3, 'not_found').dag_id, 'nodag');
      assert.match(
        String(error(['render', 'rend', 'say', '--date', 'yesterday'], 2, 'usage').message),
        /--date "yesterday" is not a date/,
      );
      assert.match(
        String(error(['render', 'rend', 'say', '--conf', '{n:'], 2, 'usage').message),
        /--conf is not valid JSON/,
      );
      assert.match(
        String(error(['render', 'rend', 'say', '--conf', '{"n": 0}'], 2, 'invalid_params').message),
        /param "n"/,
      );
      error(['render', 'rend', 'say', '--run', 'r1', '--date', '2024-01-01'], 2, 'usage');
      assert.match(
        String(error(['render', 'rend', 'say', '--run', 'r1'], 3, 'not_found').message),
        /has no run "r1"/,
      );

      const help = hangar(['render', '--help']);
      assert.equal(help.code, 0);
      assert.match(help.stdout, /hangar render DAG TASK \[--date D\] \[--run RUN_ID\] \[--conf JSON\]/);
    } finally {
      ws.remove();
    }
  },
);
