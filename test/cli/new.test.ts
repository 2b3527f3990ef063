/**
 * `hangar new NAME [--template T] [--force]` (src/runtime/cli/new.ts over src/runtime/new-dag.ts):
 * every template makes a DAG file that loads (`hangar list --json`) with the expected tasks, and
 * runs to success where it needs no server; the errors name the bad character or the path.
 * Runs the built CLI (`npm run build` first).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hangar } from '../helpers/cli.ts';
import { tempWorkspace } from '../helpers/workspace.ts';
import type { TempWorkspace } from '../helpers/workspace.ts';
import {
  configuredDagsFolder,
  dagIdProblem,
  dagVariableName,
  DAG_TEMPLATES,
  renderDagTemplate,
} from '../../src/runtime/new-dag.ts';
import { validateId } from '../../src/runtime/dag/dag.ts';
import { loadConfig } from '../../src/runtime/config.ts';

interface NewJson {
  file: string;
  dag_id: string;
  template: string;
  line: number;
  column: number;
  overwritten: boolean;
}
interface ListJson {
  dags: {
    dag_id: string;
    fileloc: string;
    tasks: { task_id: string; upstream_task_ids: string[]; trigger_rule: string; mapped: boolean }[];
  }[];
  import_errors: unknown[];
}
interface RunJson {
  run: { state: string };
  task_instances: { task_id: string; map_index: number; state: string }[];
}

function cli(ws: TempWorkspace, args: string[]) {
  return hangar([...args, '--workspace', ws.root]);
}

function newDag(ws: TempWorkspace, name: string, template?: string): NewJson {
  const r = cli(ws, ['new', name, ...(template ? ['--template', template] : []), '--json']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  return JSON.parse(r.stdout) as NewJson;
}

/** The text of the file from (line, column), 1-based: where an editor puts the cursor. */
function at(made: NewJson): string {
  const lines = readFileSync(made.file, 'utf8').split('\n');
  return lines[made.line - 1]!.slice(made.column - 1);
}

function run(ws: TempWorkspace, dagId: string): Record<string, string> {
  const r = cli(ws, ['run', dagId, '--date', '2024-02-01', '--json']);
  const out = JSON.parse(r.stdout) as RunJson;
  assert.equal(r.code, 0, `${dagId}: ${r.stderr}\n${r.stdout.slice(0, 2000)}`);
  assert.equal(out.run.state, 'success');
  return Object.fromEntries(
    out.task_instances.map((t) => [t.map_index >= 0 ? `${t.task_id}[${t.map_index}]` : t.task_id, t.state]),
  );
}

test(
  'hangar new: every template makes a DAG file that loads with its tasks; those needing no server run to success',
  { timeout: 600_000 },
  async () => {
    const ws = tempWorkspace();
    try {
      const made = {
        etl: newDag(ws, 'daily_sales'), // the default template
        sensor: newDag(ws, 'wait-then-process', 'sensor'),
        mapping: newDag(ws, 'fan.out', 'mapping'),
        branching: newDag(ws, '2024_branches', 'branching'),
        'sftp-sync': newDag(ws, 'sync_partner', 'sftp-sync'),
      };
      assert.deepEqual(
        Object.keys(made),
        DAG_TEMPLATES.map((t) => t.name),
        'every template is tried',
      );
      assert.deepEqual(
        { ...made.etl, file: undefined },
        {
          file: undefined,
          dag_id: 'daily_sales',
          template: 'etl',
          line: made.etl.line,
          column: made.etl.column,
          overwritten: false,
        },
      );
      assert.equal(
        made.etl.file,
        join(ws.root, 'dags', 'daily_sales.ts'),
        'the file lands in the DAG folder as NAME.ts',
      );
      for (const m of Object.values(made)) {
        assert.equal(existsSync(m.file), true);
        const text = readFileSync(m.file, 'utf8');
        assert.doesNotMatch(text, /cursor\*\/|newDag|new_dag/, `${m.template}: no placeholder is left`);
        assert.match(text, new RegExp(`id: '${m.dag_id.replace('.', '\\.')}'`));
      }
      // The cursor goes to the first statement of the first task's body.
      assert.match(at(made.etl), /^ctx\.log\.info\(`extracting/);
      assert.match(at(made.sensor), /^const path = join\(ctx\.workspace/);
      assert.match(at(made.mapping), /^ctx\.log\.info\(`listing/);
      assert.match(at(made.branching), /^const firstOfMonth/);
      assert.match(at(made['sftp-sync']), /^ctx\.log\.info\($/);
      // The DAG's variable is the id in camelCase, a valid identifier whatever the id.
      assert.match(readFileSync(made.sensor.file, 'utf8'), /export const waitThenProcess = dag\(/);
      assert.match(readFileSync(made.branching.file, 'utf8'), /export const dag2024Branches = dag\(/);

      const r = cli(ws, ['list', '--json']);
      assert.equal(r.code, 0, r.stderr);
      const list = JSON.parse(r.stdout) as ListJson;
      assert.deepEqual(list.import_errors, []);
      const tasks = (id: string) => {
        const d = list.dags.find((x) => x.dag_id === id);
        assert.ok(d, `hangar list shows ${id}`);
        return Object.fromEntries(d.tasks.map((t) => [t.task_id, t.upstream_task_ids.join(',')]));
      };
      assert.deepEqual(tasks('daily_sales'), { extract: '', transform: 'extract', load: 'transform' });
      assert.deepEqual(tasks('wait-then-process'), { wait_for_input: '', process: 'wait_for_input' });
      assert.deepEqual(tasks('fan.out'), {
        list_files: '',
        process_file: 'list_files',
        summarize: 'process_file',
      });
      assert.equal(
        list.dags.find((d) => d.dag_id === 'fan.out')!.tasks.find((t) => t.task_id === 'process_file')!
          .mapped,
        true,
      );
      assert.deepEqual(tasks('2024_branches'), {
        choose_path: '',
        full_refresh: 'choose_path',
        incremental_load: 'choose_path',
        join: 'full_refresh,incremental_load',
      });
      // A join after a branch needs a trigger rule that lets the skipped path through: Airflow's own
      // example (airflow/example_dags/example_branch_operator.py, `join` with
      // TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS; docs core-concepts/dags.rst "Branching").
      assert.equal(
        list.dags.find((d) => d.dag_id === '2024_branches')!.tasks.find((t) => t.task_id === 'join')!
          .trigger_rule,
        'none_failed_min_one_success',
      );
      assert.deepEqual(tasks('sync_partner'), { health_check: '', sync: 'health_check', report: 'sync' });

      assert.deepEqual(run(ws, 'daily_sales'), { extract: 'success', transform: 'success', load: 'success' });
      assert.deepEqual(run(ws, 'fan.out'), {
        list_files: 'success',
        'process_file[0]': 'success',
        'process_file[1]': 'success',
        'process_file[2]': 'success',
        summarize: 'success',
      });
      const xcom = cli(ws, [
        'xcom',
        'get',
        '--dag',
        'fan.out',
        '--run',
        'manual__2024-02-01T00:00:00+00:00',
        '--task',
        'summarize',
        '--json',
      ]);
      assert.equal(xcom.code, 0, xcom.stderr);
      assert.deepEqual(
        (JSON.parse(xcom.stdout) as { value: unknown }).value,
        { files: 3, rows: 350 },
        'the fan-in got every mapped value',
      );
      // 2024-02-01 is the first of the month: the full refresh runs, the incremental path is skipped, the join runs.
      assert.deepEqual(run(ws, '2024_branches'), {
        choose_path: 'success',
        full_refresh: 'success',
        incremental_load: 'skipped',
        join: 'success',
      });
      // The sensor's file is there: its first poke succeeds.
      mkdirSync(join(ws.root, 'incoming'));
      writeFileSync(join(ws.root, 'incoming', '2024-02-01.csv'), 'id,amount\n1,30\n');
      assert.deepEqual(run(ws, 'wait-then-process'), { wait_for_input: 'success', process: 'success' });
    } finally {
      ws.remove();
    }
  },
);

test('hangar new: the DAG folder of hangar.json; an existing file is refused unless --force; bad names and templates', () => {
  const ws = tempWorkspace({}, { dagsFolder: 'flows' });
  try {
    const made = newDag(ws, 'etl');
    assert.equal(made.file, join(ws.root, 'flows', 'etl.ts'), 'hangar.json dagsFolder, created when missing');
    writeFileSync(made.file, '// mine\n');

    const again = cli(ws, ['new', 'etl']);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, `hangar: ${made.file} already exists (use --force to replace it)\n`);
    assert.equal(readFileSync(made.file, 'utf8'), '// mine\n', 'the file is left alone');
    const json = cli(ws, ['new', 'etl', '--json']);
    assert.deepEqual(JSON.parse(json.stderr), {
      error: {
        code: 'error',
        message: `${made.file} already exists (use --force to replace it)`,
        exit_code: 1,
        dag_id: 'etl',
        files: [made.file],
      },
    });

    const forced = JSON.parse(
      cli(ws, ['new', 'etl', '--template', 'branching', '--force', '--json']).stdout,
    ) as NewJson;
    assert.equal(forced.overwritten, true);
    assert.equal(forced.template, 'branching');
    assert.match(readFileSync(made.file, 'utf8'), /branch: true/);

    const bad = (args: string[], message: string) => {
      const r = cli(ws, ['new', ...args]);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stderr.split('\n')[0], `hangar: ${message}`);
    };
    const rule = "use letters, digits, '_', '-' and '.' (at most 250 characters, no path separators)";
    bad(['my dag'], `invalid DAG id "my dag": a space at position 3 is not allowed; ${rule}`);
    bad(
      ['../evil'],
      `invalid DAG id "../evil": '/' (a path separator) at position 3 is not allowed; ${rule}`,
    );
    bad(['.hidden'], `invalid DAG id ".hidden": it cannot start with '.'; ${rule}`);
    bad(['sales€'], `invalid DAG id "sales€": '€' at position 6 is not allowed; ${rule}`);
    bad(
      ['x', '--template', 'cron'],
      'unknown template "cron": use one of etl, sensor, mapping, branching, sftp-sync',
    );
    bad([], 'missing the DAG id (hangar new NAME)');
    bad(['a', 'b'], 'hangar new takes one name, not 2 (a b)');
    assert.equal(existsSync(join(ws.root, 'flows', 'x.ts')), false);

    const completion = hangar(['__complete', '--', 'new', 'x', '--template', ''], { cwd: ws.root });
    assert.deepEqual(
      completion.stdout.trim().split('\n'),
      ['etl', 'sensor', 'mapping', 'branching', 'sftp-sync'],
      'completion of --template values',
    );
    assert.match(
      hangar(['new', '--help']).stdout,
      /^Usage:\n {2}hangar new NAME \[--template T\] \[--force\]\n/,
    );

    const plain = cli(ws, ['new', 'report', '-o', 'plain']);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(
      plain.stdout,
      new RegExp(
        `^Created .*report\\.ts \\(DAG report, template etl\\)\\nThe first task's body: .*report\\.ts:\\d+:\\d+\\nNext: hangar run report`,
      ),
    );
  } finally {
    ws.remove();
  }
});

test('hangar new: names follow the rule of dag({ id }) exactly (validateId), said with the bad character', () => {
  const names = [
    'etl',
    'a',
    '_x',
    '0',
    'a.b-c_d',
    'x'.repeat(250),
    'x'.repeat(251),
    '',
    '.',
    '..',
    '.a',
    '-a',
    'a b',
    'a/b',
    'a\\b',
    'é',
    'a\tb',
    'a:b',
  ];
  for (const name of names) {
    let valid = true;
    try {
      validateId('DAG', name);
    } catch {
      valid = false;
    }
    assert.equal(dagIdProblem(name) === undefined, valid, JSON.stringify(name));
  }
  assert.match(dagIdProblem('a\tb')!, /'\\t' at position 2/);
});

test('hangar new: the DAG variable is a fresh identifier; the marker gives the cursor position', () => {
  const text =
    "import { dag } from 'hangar';\nexport const newDag = dag({ id: 'new_dag' });\nnewDag.task('extract', async (ctx) => {\n  /*cursor*/return ctx.ds;\n});\n";
  assert.equal(dagVariableName('daily-sales.v2', text), 'dailySalesV2');
  assert.equal(dagVariableName('extract', text), 'extractDag', 'a name the template uses');
  assert.equal(dagVariableName('dag', text), 'dagDag');
  assert.equal(dagVariableName('new', text), 'newDag', 'a reserved word');
  assert.equal(dagVariableName('_', text), 'dagDag', 'no letters: dag, taken by the import');
  const r = renderDagTemplate(text, 'my.etl');
  assert.equal(
    r.text,
    "import { dag } from 'hangar';\nexport const myEtl = dag({ id: 'my.etl' });\nmyEtl.task('extract', async (ctx) => {\n  return ctx.ds;\n});\n",
  );
  assert.deepEqual([r.line, r.column], [4, 3]);
  assert.throws(
    () => renderDagTemplate('no marker', 'x', 'broken'),
    /DAG template broken must hold exactly one \/\*cursor\*\/ marker/,
  );
});

test('New DAG in the editor: the DAG folder is the setting, else hangar.json dagsFolder, else dags (as loadConfig)', () => {
  const ws = tempWorkspace({}, { dagsFolder: 'flows' });
  try {
    assert.equal(configuredDagsFolder(ws.root), loadConfig(ws.root).dagsFolder);
    assert.equal(configuredDagsFolder(ws.root), join(ws.root, 'flows'));
    assert.equal(
      configuredDagsFolder(ws.root, ' pipelines '),
      join(ws.root, 'pipelines'),
      'the hangar.dagsFolder setting wins',
    );
    assert.equal(configuredDagsFolder(ws.root, ''), join(ws.root, 'flows'), 'an empty setting is no setting');
    ws.write('hangar.json', '{}');
    assert.equal(configuredDagsFolder(ws.root), loadConfig(ws.root).dagsFolder);
    assert.equal(configuredDagsFolder(ws.root), join(ws.root, 'dags'));
    writeFileSync(join(ws.root, 'hangar.json'), '{ "dagsFolder": ');
    assert.throws(
      () => configuredDagsFolder(ws.root),
      new RegExp(`^Error: ${join(ws.root, 'hangar.json').replace(/[.]/g, '\\.')}: not valid JSON`),
    );
  } finally {
    ws.remove();
  }
});
